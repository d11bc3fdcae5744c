"""`python -m pipeline`: run months here, or start, watch and verify them on a deployed stack.

Parses arguments and calls the module that does the work. An operator's mistake or the
machine's state (`PipelineError`, a usage error, Ctrl-C, a full disk, a workdir that cannot be
written) ends in one `error:` line, or `{"error", "exit"}` under `--json`, with the exit code
of `pipeline.cli.errors` (0 ok, 1 failed, 2 bad input, 3 refused by the audit, 130
interrupted); only a bug prints a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator

from rich.console import Console

from pipeline.cli import local
from pipeline.cli.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REFUSED,
    Ending,
    InterruptWatch,
    Parser,
    ending_of,
    report,
    wants_json,
)

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REFUSED",
    "build_parser",
    "main",
]


def build_parser() -> argparse.ArgumentParser:
    from pipeline.cli import stack

    parser = Parser(
        prog="python -m pipeline", description="tlc-elt: NYC TLC trips, month by month."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    local.add_parsers(commands)
    stack.add_parsers(commands)
    return parser


def _is_interrupt_record(record: logging.LogRecord) -> bool:
    kind = record.exc_info[0] if record.exc_info else None
    return not (kind is not None and issubclass(kind, KeyboardInterrupt))


@contextlib.contextmanager
def _one_interrupt_line() -> Iterator[None]:
    """py4j logs a KeyboardInterrupt inside a call with its traceback, on the root logger; the
    command reports the interrupt once, in its own line."""
    root = logging.getLogger()
    root.addFilter(_is_interrupt_record)
    try:
        yield
    finally:
        root.removeFilter(_is_interrupt_record)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    console = Console(stderr=False, quiet=False)
    errors = Console(stderr=True)
    args: argparse.Namespace | None = None
    with InterruptWatch() as interrupts, _one_interrupt_line():
        try:
            args = build_parser().parse_args(argv)
            if args.command in local.COMMANDS:
                return local.run(args, console)
            from pipeline.cli import stack  # boto3 is imported only for the commands on a stack

            return stack.run(args, console)
        except BaseException as error:  # each ending is decided below
            if isinstance(error, SystemExit):  # --help, --version
                raise
            ending = _ending(error, args, interrupted=interrupts.seen())
            if ending is None:
                raise
            return report(ending, as_json=wants_json(argv), errors=errors)


def _ending(
    error: BaseException, args: argparse.Namespace | None, *, interrupted: bool
) -> Ending | None:
    if interrupted or isinstance(error, KeyboardInterrupt):
        return Ending(_interrupted_message(args, error), EXIT_INTERRUPTED)
    return ending_of(error, args)


def _interrupted_message(args: argparse.Namespace | None, error: BaseException) -> str:
    if args is not None and args.command in local.COMMANDS:
        return local.interrupted_message(args)
    from pipeline.cli.stack import interrupted_message

    interrupt = error if isinstance(error, KeyboardInterrupt) else KeyboardInterrupt()
    return interrupted_message(args or argparse.Namespace(), interrupt)


if __name__ == "__main__":
    sys.exit(main())
