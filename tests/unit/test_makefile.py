"""The Makefile: the targets ARCHITECTURE.md names, each with a help line; a missing variable stops
a target with an example (its `need-VAR` prerequisites come before setup)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ("setup", "test", "test-fast", "lint", "demo", "local", "preview", "up", "destroy",
           "run", "status", "verify", "backfill", "logs", "bench")  # fmt: skip


def make(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("YEAR", "MONTH", "FROM", "TO")}
    return subprocess.run(["make", "-s", "-C", str(ROOT), *args], capture_output=True, text=True,
                          env=env, check=False, timeout=60)  # fmt: skip


def test_help_lists_every_target_with_one_line():
    listed = dict(re.findall(r"^  ([a-z-]+)\s+(.+)$", make("help").stdout, re.MULTILINE))
    assert set(TARGETS) <= set(listed), set(TARGETS) - set(listed)
    assert all(listed[target].strip() for target in TARGETS)


@pytest.mark.parametrize(
    ("args", "missing", "example"),
    [
        (["local"], "YEAR", "make local YEAR=2024 MONTH=09"),
        (["local", "YEAR=2024"], "MONTH", "make local YEAR=2024 MONTH=09"),
        (["run", "MONTH=09"], "YEAR", "make run YEAR=2024 MONTH=09"),
        (["backfill", "FROM=2024-01"], "TO", "make backfill FROM=2024-01 TO=2024-06"),
    ],
)
def test_a_missing_variable_stops_the_target_with_an_example(args, missing, example):
    done = make("--no-print-directory", *args)
    assert done.returncode == 2
    assert f"{missing} is not set; e.g. {example}" in done.stderr
