"""One run per workdir: a lock file in the workdir, held with `flock` for the whole run.

`<workdir>/run.lock` holds who runs (pid, command, dataset, months, engine, start time) as JSON;
the lock itself is an exclusive `fcntl.flock` on that file, which the kernel releases when the
holding process ends however it ends (a crash, `kill -9`). So:
- a second run on the same workdir is refused at once, before it writes anything, with a
  `WorkdirBusy` naming the running one (from the JSON);
- a lock file left by a run that was killed is not held by anyone: the next run takes it over
  and says whose it was (`Lock.took_over`);
- on release the file is removed, and so are the folders created only to hold it, so a run
  refused at ingest still leaves the workdir as it was.

Linux and macOS (`fcntl.flock`), on a local file system: the workdir is this machine's.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.contract.errors import InvalidInput, PipelineError

LOCK_FILE = "run.lock"
# How long a refused run waits for the holder's JSON when it catches the holder between taking
# the lock and writing who it is (a few milliseconds in practice).
READ_HOLDER_SECONDS = 1.0


class WorkdirBusy(PipelineError):
    """Another run holds the workdir; nothing was run or written."""


def describe(holder: dict[str, Any] | None) -> str:
    """`pid 123, local yellow 2024-01 (engine duckdb, started 2026-...Z)`, from a lock's JSON."""
    if not holder:
        return "a run that did not say who it is"
    months = holder.get("months") or []
    span = months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}" if months else "?"
    return (
        f"pid {holder.get('pid', '?')}, {holder.get('command', 'run')} "
        f"{holder.get('dataset', '?')} {span} "
        f"(engine {holder.get('engine', '?')}, started {holder.get('started', '?')})"
    )


def holder_record(command: str, dataset: str, months: list[str], engine: str) -> dict[str, Any]:
    """What this process writes into the lock file it holds."""
    return {
        "pid": os.getpid(),
        "command": command,
        "dataset": dataset,
        "months": months,
        "engine": engine,
        "started": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _parse(data: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(data)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _read(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _make_folders(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; return those created, deepest first."""
    missing = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir()
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first
        try:
            folder.rmdir()
        except OSError:  # not empty (the run wrote there), or already gone
            return


@dataclass
class Lock:
    """A held workdir lock; `release()` (or the end of a `with` block) gives it up."""

    path: Path
    fd: int | None
    created: list[Path]  # folders made to hold the lock file, deepest first
    took_over: dict[str, Any] | None  # the JSON of a lock left by a run that ended without release

    def release(self) -> None:
        if self.fd is None:
            return
        # Unlinked while still held: whoever opened the old file then finds it is no longer the
        # one at the path, and starts again on a new one (see `acquire`).
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self.fd)  # releases the flock
        self.fd = None
        _remove_empty(self.created)

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(workdir: Path, holder: dict[str, Any]) -> Lock:
    """Hold `workdir` for this process, or raise WorkdirBusy naming who holds it.

    Refusing writes nothing: the lock file is only opened (it exists, since someone holds it).
    """
    workdir = Path(workdir)
    path = workdir / LOCK_FILE
    try:
        created = _make_folders(workdir)
    except OSError as error:
        raise unusable_workdir(workdir, error) from None
    try:
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as error:
                raise unusable_workdir(workdir, error) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                running = _running_holder(fd)
                os.close(fd)
                raise WorkdirBusy(
                    f"{workdir} is in use by another run: {describe(running)}; wait for it to "
                    "end, or give another --workdir (nothing was run or written)"
                ) from None
            except BaseException:
                os.close(fd)
                raise
            if _is_current(fd, path):
                break
            os.close(fd)  # the holder released (and unlinked) it meanwhile: take the new one
        previous = _read(fd)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(holder).encode())
        os.fsync(fd)
    except BaseException:
        _remove_empty(created)
        raise
    took_over = (_parse(previous) or {"pid": "?"}) if previous.strip() else None
    return Lock(path, fd, created, took_over)


def unusable_workdir(workdir: Path, error: OSError) -> Exception:
    """The lock is a run's first write: a workdir it cannot be made in is bad input (nothing
    ran). A full disk is the machine's state, not the path's: returned as it is (exit 1)."""
    if error.errno == errno.ENOSPC:
        return error
    if error.errno in (errno.ENOTDIR, errno.EEXIST) or (workdir.exists() and not workdir.is_dir()):
        return InvalidInput("--workdir", str(workdir), "not a directory (a file is in the way); "
                            "give a folder, or a path where one can be created")  # fmt: skip
    return InvalidInput("--workdir", str(workdir), f"cannot be written ({error.strerror}); "
                        "give a folder you can write to")  # fmt: skip


def _is_current(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _running_holder(fd: int) -> dict[str, Any] | None:
    """The holder's JSON; it may be a moment from being written when the holder just started."""
    deadline = time.monotonic() + READ_HOLDER_SECONDS
    while True:
        parsed = _parse(_read(fd))
        if parsed is not None or time.monotonic() > deadline:
            return parsed
        time.sleep(0.02)
