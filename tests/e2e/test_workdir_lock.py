"""One run per workdir, with real processes: `python -m pipeline local` holding a workdir (stuck in
its download from a loopback server that holds the body back) refuses a second `local` and a
`demo` on it at once, naming the running one, writing nothing; a holder killed with SIGKILL leaves
a lock that the next run takes over, saying whose it was."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pipeline.cli.main import EXIT_FAILED
from pipeline.contract.datasets import YELLOW
from pipeline.contract.months import Month
from pipeline.dev import synthetic
from pipeline.jobs.source import CHUNK_SIZE
from pipeline.local.lock import LOCK_FILE

ROOT = Path(__file__).resolve().parents[2]
MONTH = Month(2024, 1)
ROWS = 3_000
WAIT_SECONDS = 60


@contextmanager
def held_back_server(file: Path, first: int = 4096) -> Iterator[tuple[str, threading.Event]]:
    """Serves `file` on loopback, sending its `first` bytes, then the rest only once the event
    is set: a download that stays in progress for as long as the test wants."""
    release = threading.Event()
    body = file.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:first])
            self.wfile.flush()
            release.wait(WAIT_SECONDS)
            with contextlib.suppress(OSError):  # the client was killed
                self.wfile.write(body[first:])

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{file.name}", release
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def pipeline_process(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", *args, "--quiet"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def run_pipeline(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=WAIT_SECONDS, check=False,
        env={**os.environ, "COLUMNS": "1000"},
    )  # fmt: skip


def wait_for_holder(workdir: Path, process: subprocess.Popen) -> dict:
    """The lock's JSON once `process` holds the workdir."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            holder = json.loads((workdir / LOCK_FILE).read_text())
        except (FileNotFoundError, ValueError):
            holder = {}
        if holder.get("pid") == process.pid:
            return holder
        time.sleep(0.05)
    raise AssertionError(f"{process.pid} never took the lock of {workdir}")


def wait_for_download(workdir: Path, process: subprocess.Popen) -> None:
    """Until the held-back download's first bytes are in its temporary `.part` file."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not list(workdir.rglob("*.part")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the download never started"
        time.sleep(0.05)


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file()}  # fmt: skip


def _local(workdir: Path, source: str) -> list[str]:
    return ["local", "--year", "2024", "--month", "1", "--source", source,
            "--workdir", str(workdir)]  # fmt: skip


def test_a_second_run_on_a_busy_workdir_is_refused_at_once_naming_the_running_one(tmp_path):
    source = tmp_path / "source" / YELLOW.file_name(MONTH)
    summary = synthetic.write_month(source, YELLOW, MONTH, ROWS, seed=3)
    workdir = tmp_path / "work"
    with held_back_server(source) as (url, release):
        first = pipeline_process(*_local(workdir, url))
        try:
            holder = wait_for_holder(workdir, first)
            assert (holder["dataset"], holder["months"]) == ("yellow", ["2024-01"])
            before = _listing(workdir)

            started = time.monotonic()
            second = run_pipeline(*_local(workdir, str(source)))
            demo = run_pipeline("demo", "--rows", "1000", "--workdir", str(workdir))
            refused_in = time.monotonic() - started

            busy = f"{workdir} is in use by another run: pid {first.pid}, local yellow 2024-01"
            for refused in (second, demo):
                err = " ".join(refused.stderr.split())
                assert refused.returncode == EXIT_FAILED, refused.stderr
                assert busy in err
                assert "nothing was run or written" in err
                assert "Traceback" not in err
            assert refused_in < WAIT_SECONDS / 2  # at once: neither waited for the first
            assert _listing(workdir) == before  # neither wrote anything
        finally:
            release.set()
            out, err = first.communicate(timeout=WAIT_SECONDS)
    assert first.returncode == 0, err
    assert not (workdir / LOCK_FILE).exists()
    assert f"{summary.expected_loaded:,}" in out  # the first run finished its month


def test_a_lock_left_by_a_killed_run_is_taken_over(tmp_path):
    source = tmp_path / "source" / YELLOW.file_name(MONTH)
    # More than ingest's first read (CHUNK_SIZE) arrives, so the download has its `.part` file.
    summary = synthetic.write_month(source, YELLOW, MONTH, 80_000, seed=4)
    assert source.stat().st_size > CHUNK_SIZE + 65536
    workdir = tmp_path / "work"
    with held_back_server(source, first=CHUNK_SIZE + 65536) as (url, _release):
        killed = pipeline_process(*_local(workdir, url))
        wait_for_holder(workdir, killed)
        wait_for_download(workdir, killed)
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=WAIT_SECONDS)
    assert killed.returncode == -signal.SIGKILL
    assert json.loads((workdir / LOCK_FILE).read_text())["pid"] == killed.pid  # left behind
    (partial,) = workdir.rglob("*.part")  # the download it was killed in

    done = run_pipeline(*_local(workdir, str(source)))
    out = " ".join(done.stdout.split())
    assert done.returncode == 0, done.stderr
    note = f"took over the lock of {workdir}, left by a run that ended without releasing it"
    assert f"{note}: pid {killed.pid}, local yellow 2024-01" in out
    assert f"removed {partial}, left by a write that never ended" in out
    assert not list(workdir.rglob("*.part"))
    assert f"{summary.expected_loaded:,}" in out
    assert not (workdir / LOCK_FILE).exists()
