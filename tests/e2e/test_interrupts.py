"""Ctrl-C and kill with real processes: `python -m pipeline local` interrupted inside the DuckDB
transform, inside the load and on the Spark engine ends with exit 130 and one `error:` line (no
traceback, no py4j or JVM log); a Spark run's JVM ends with its Python process, interrupted or
killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.cli.main import EXIT_INTERRUPTED
from pipeline.contract.datasets import YELLOW
from pipeline.contract.months import Month
from pipeline.dev import synthetic

ROOT = Path(__file__).resolve().parents[2]
MONTH = Month(2024, 1)
# Big enough that the DuckDB transform and the load each take a second or more on 2 cores.
ROWS = 3_000_000
WAIT_SECONDS = 120


@pytest.fixture(scope="module")
def big_month(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("interrupts") / YELLOW.file_name(MONTH)
    synthetic.write_month(source, YELLOW, MONTH, ROWS, seed=9)
    return source


def local_process(source: Path, workdir: Path, *extra: str) -> subprocess.Popen:
    # Ctrl-C's default disposition: a shell's background job would ignore SIGINT.
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "local", "--year", "2024", "--month", "1",
         "--source", str(source), "--workdir", str(workdir), *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "1000"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip


def wait_for_line(process: subprocess.Popen, text: str) -> None:
    """Read stdout until a line holds `text` (off a terminal, a step prints its line as it ends)."""
    assert process.stdout is not None
    for line in process.stdout:
        if text in line:
            return
    raise AssertionError(f"the run ended before {text!r}: {process.communicate()}")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def assert_one_interrupted_line(process: subprocess.Popen, workdir: Path) -> None:
    _, err = process.communicate(timeout=WAIT_SECONDS)
    assert process.returncode == EXIT_INTERRUPTED, err
    assert err == (
        f"error: interrupted: the local run in {workdir} stopped before the month was done; "
        "run the same command again (every step replaces its month)\n"
    )


@pytest.mark.parametrize(
    ("after", "inside"),
    [("IngestRaw", "the DuckDB transform"), ("TransformTrips", "the load")],
)
def test_ctrl_c_inside_duckdb_work_is_exit_130_and_one_line(tmp_path, big_month, after, inside):
    workdir = tmp_path / "work"
    process = local_process(big_month, workdir)
    wait_for_line(process, f"yellow 2024-01 {after}")
    process.send_signal(signal.SIGINT)  # the next step (the transform, or the load) is running
    assert_one_interrupted_line(process, workdir)
    assert not (workdir / "run.lock").exists()  # released on the way out


def _wait_for_jvm(process: subprocess.Popen) -> int:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        jvms = [pid for pid in children(process.pid) if "java" in _command(pid)]
        if jvms:
            return jvms[0]
        time.sleep(0.1)
    raise AssertionError("no JVM was started")


def _wait_for_spark_write(workdir: Path, process: subprocess.Popen) -> None:
    """Until a Spark job writes the month's parts (its `_temporary` folder appears)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not list((workdir / "lake" / "processed").rglob("_temporary")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no Spark write started"
        time.sleep(0.05)


def _command(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.spark
@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
def test_a_spark_run_interrupted_or_killed_takes_its_jvm_with_it(tmp_path, big_month, how):
    workdir = tmp_path / "work"
    process = local_process(big_month, workdir, "--engine", "spark")
    wait_for_line(process, "yellow 2024-01 IngestRaw")
    jvm = _wait_for_jvm(process)
    _wait_for_spark_write(workdir, process)  # inside a Spark job, past the session's start
    assert process.poll() is None, "the transform ended before it could be interrupted"
    if how == "ctrl-c":
        process.send_signal(signal.SIGINT)
        assert_one_interrupted_line(process, workdir)
    else:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=WAIT_SECONDS)
    assert _gone_within(jvm, 30), f"the JVM {jvm} outlived its Python process ({how})"
