"""Run a command as a fresh process and print its wall seconds and peak RSS as JSON: the bench's
stopwatch for the whole local month, start to exit.

`python -m pipeline.dev.timed -- CMD [ARG ...]` prints `{"seconds", "peak_rss", "returncode"}`
on its last line (the command's own output goes to this process's stderr). The peak RSS is the
kernel's `ru_maxrss` of the command (`wait4`): Linux carries a parent's high-water mark over to a
child across fork and exec, so the command is forked from this small launcher (standard library
only, ~10 MB), never from the benchmark process, whose size would be reported instead.
Linux and macOS.
"""

from __future__ import annotations

import json
import os
import sys
import time


def run(command: list[str]) -> dict[str, float | int]:
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: its output to stderr, so stdout carries only the figures
        try:
            os.dup2(2, 1)
            # The command is the bench's own (our interpreter and modules): no untrusted input.
            os.execvp(command[0], command)  # noqa: S606
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    # ru_maxrss: kilobytes on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return {
        "seconds": seconds,
        "peak_rss": usage.ru_maxrss * scale,
        "returncode": os.waitstatus_to_exitcode(status),
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: python -m pipeline.dev.timed -- CMD [ARG ...]", file=sys.stderr)
        return 2
    figures = run(argv)
    print(json.dumps(figures))
    return 0 if figures["returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
