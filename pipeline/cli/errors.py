"""How a command ends: the exit-code contract, and one line for every failure an operator meets.

Exit codes (README "Running it here", docs/ARCHITECTURE.md "Command line"):

- 0 `EXIT_OK`: done, and a check found nothing wrong;
- 1 `EXIT_FAILED`: something ran and failed: a step (locally, or the execution watched), a
  check that found a difference (`verify` MISMATCH), AWS, the source or the stack unavailable,
  the workdir held by another run, no Java for the Spark engine, a full disk;
- 2 `EXIT_BAD_INPUT`: bad input, found before anything ran: a flag, a month, a mix of flags, a
  `--source` that is not a parquet file, a `--workdir` that cannot be one (`InvalidInput`, and
  argparse's own usage errors);
- 3 `EXIT_REFUSED`: the audit refused to publish the month (write-audit-publish);
- 130 `EXIT_INTERRUPTED`: Ctrl-C, whatever the engine running at the time made of it.

Every one of these prints one `error:` line on stderr (under `--json`, `{"error", "exit"}` on
stdout instead); a traceback means a bug.
"""

from __future__ import annotations

import argparse
import errno
import json
import signal
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from pipeline.contract.errors import InvalidInput, MonthRefused, PipelineError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
# Reserved for the audit's refusal (the write-audit-publish step's MonthRefused error): the
# month was computed but not published, and what readers see is unchanged.
EXIT_REFUSED = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

# A full disk and a folder this process may not write are the machine's state, not a bug.
_NO_SPACE_TEXT = "no space left on device"
_NOT_WRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


@dataclass(frozen=True)
class Ending:
    """How a command that did not finish ends: one message and its exit code."""

    message: str
    code: int
    # Lines printed as they are after the message, with no `error:` (the audit's findings).
    details: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        ending: dict[str, Any] = {"error": self.message, "exit": self.code}
        if self.details:
            ending["details"] = [line.strip() for line in self.details]
        return ending


class UsageError(Exception):
    """argparse's complaint about the command line (an unknown flag, a missing value)."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors end like every other bad input (exit 2, one line,
    JSON under --json) instead of printing the whole usage and exiting inside argparse."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def ending_of(error: BaseException, args: argparse.Namespace | None) -> Ending | None:
    """The one-line ending of an operator's mistake or the machine's state; None for a bug."""
    if isinstance(error, UsageError):
        return Ending(str(error), EXIT_BAD_INPUT)
    if isinstance(error, InvalidInput):
        return Ending(str(error), EXIT_BAD_INPUT)
    if isinstance(error, MonthRefused):  # `refused: <dataset> <month>`, then the findings
        return Ending(error.lines[0], EXIT_REFUSED, tuple(error.lines[1:]))
    if isinstance(error, PipelineError):
        return Ending(str(error), EXIT_FAILED)
    machine = _machine_state(error, getattr(args, "workdir", None))
    return None if machine is None else Ending(machine, EXIT_FAILED)


def _machine_state(error: BaseException, workdir: Path | None) -> str | None:
    """A full disk or a folder that cannot be written, anywhere in the error's chain (DuckDB
    and Spark report ENOSPC as their own exceptions, with the OS's text in the message)."""
    where = f" (--workdir {workdir})" if workdir is not None else ""
    for cause in _chain(error):
        number = getattr(cause, "errno", None) if isinstance(cause, OSError) else None
        if number == errno.ENOSPC or _NO_SPACE_TEXT in str(cause).lower():
            about = f" writing {cause.filename}" if getattr(cause, "filename", None) else ""
            detail = "" if isinstance(cause, OSError) else f": {_first_line(cause)}"
            return (
                f"no space left on device{about}{where}{detail}; free some space, or give "
                "--workdir (WORKDIR= for make) on a disk with room, then run it again"
            )
        if number in _NOT_WRITABLE:
            path = cause.filename or workdir or "a file"
            return (
                f"cannot write {path}: {cause.strerror}; give a --workdir you can write to "
                "(WORKDIR= for make)"
            )
    return None


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def wants_json(argv: list[str]) -> bool:
    """Does this command line ask for JSON? Read before parsing, so a usage error is JSON too."""
    return "--json" in argv


def report(ending: Ending, *, as_json: bool, errors: Console) -> int:
    """Print the ending (one stderr line, or JSON on stdout); return its exit code."""
    if as_json:
        print(json.dumps(ending.to_json()))
    elif ending.code == EXIT_REFUSED:  # not an error: the audit did its job
        for line in (ending.message, *ending.details):
            errors.print(line, highlight=False, soft_wrap=True, markup=False)
    else:
        # soft_wrap: one line, whole, whatever the width (for grep and CI logs).
        errors.print(f"[bold red]error:[/bold red] {ending.message}", highlight=False,
                     soft_wrap=True, markup=True)  # fmt: skip
    return ending.code


class InterruptWatch:
    """Did Ctrl-C arrive while the command ran, whatever the code running made of it?

    DuckDB turns it into `RuntimeError: Query interrupted`, py4j into a Py4JError: so the
    signal itself is watched, through `signal.set_wakeup_fd`, which the interpreter writes the
    signal's number to at the C level whichever Python handler is installed. Only in the main
    thread (where signals are delivered); elsewhere it sees only KeyboardInterrupt.
    """

    def __init__(self) -> None:
        self._pair: tuple[socket.socket, socket.socket] | None = None
        self._previous = -1
        self._seen = False

    def __enter__(self) -> InterruptWatch:
        if threading.current_thread() is threading.main_thread():
            reader, writer = socket.socketpair()
            reader.setblocking(False)
            writer.setblocking(False)
            self._pair = (reader, writer)
            self._previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        return self

    def seen(self) -> bool:
        if self._pair is not None and not self._seen:
            try:
                received = self._pair[0].recv(4096)
            except BlockingIOError:
                received = b""
            self._seen = signal.SIGINT in received
        return self._seen

    def __exit__(self, *exc: object) -> None:
        if self._pair is not None:
            signal.set_wakeup_fd(self._previous)
            for end in self._pair:
                end.close()
            self._pair = None
