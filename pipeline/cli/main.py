"""`python -m pipeline`: run months here, or start, watch and verify them on a deployed stack.

Parses arguments and calls the module that does the work. Expected failures (`PipelineError`)
print one line, with no traceback. Exit codes:

- 0: done (a check found nothing wrong);
- 1: something ran and failed: a step failed (locally, or the execution watched), a check found
  a difference (`verify` MISMATCH), or AWS, the source or the stack could not be used (a refused
  AWS call, no Pulumi CLI or stack, an unpublished month): any `PipelineError` but bad input;
- 2: bad input (`InvalidInput`: a bad month, flag or combination of flags), found before any
  side effect; argparse's own usage errors exit 2 too;
- 3: refused by the audit (`MonthRefused`): a `refused: <dataset> <month>` line and a line per
  finding; nothing was published, the published month is intact;
- 130: interrupted (Ctrl-C); an execution already started keeps running in AWS, and the
  message gives the `watch` command that follows it again.
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from pipeline.cli import local
from pipeline.contract.errors import InvalidInput, MonthRefused, PipelineError

EXIT_FAILED = 1  # a step failed, a check found a difference, AWS or the stack unavailable
EXIT_BAD_INPUT = 2  # `InvalidInput`: nothing ran (a bad month, flag or mix of flags)
EXIT_REFUSED = 3  # `MonthRefused`: the audit refused the month; nothing was published
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


def build_parser() -> argparse.ArgumentParser:
    from pipeline.cli import stack

    parser = argparse.ArgumentParser(
        prog="python -m pipeline", description="tlc-elt: NYC TLC trips, month by month."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    local.add_parsers(commands)
    stack.add_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console(stderr=False, quiet=False)
    errors = Console(stderr=True)
    try:
        if args.command in local.COMMANDS:
            return local.run(args, console)
        from pipeline.cli import stack  # boto3 is imported only for the commands on a stack

        return stack.run(args, console)
    except MonthRefused as refused:
        for line in refused.lines:
            errors.print(line, highlight=False, soft_wrap=True, markup=False)
        return EXIT_REFUSED
    except PipelineError as error:
        # soft_wrap: one line, whole, whatever the width (for grep and CI logs).
        errors.print(f"[bold red]error:[/bold red] {error}", highlight=False, soft_wrap=True)
        return EXIT_BAD_INPUT if isinstance(error, InvalidInput) else EXIT_FAILED
    except KeyboardInterrupt as interrupt:
        from pipeline.cli.stack import interrupted_message

        errors.print(interrupted_message(args, interrupt), highlight=False, soft_wrap=True)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
