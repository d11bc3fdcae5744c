"""The demo: a synthetic month through the real pipeline, offline, as a function returning a record.

The month is written in TLC's schema with realistic dirty rows, served on loopback HTTP so
ingest takes its real download path (streaming, retries, parquet checks), then transformed and
loaded into DuckDB. `python -m pipeline demo` renders the `DemoResult`: the month's row-rule
counts, the verify table, and whether the counts match what the generator planted.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

from pipeline.contract.datasets import YELLOW
from pipeline.contract.errors import InvalidInput
from pipeline.contract.months import Month
from pipeline.contract.sql import Engine
from pipeline.dev import synthetic
from pipeline.local.engines import DEFAULT_ENGINE
from pipeline.local.runner import LocalPipeline, Observer, verify_local
from pipeline.warehouse.base import VerifyReport

DEMO_MONTH = Month(2024, 1)
# A few seconds end to end on 2 cores (the Spark engine: ~20 s, most of it the JVM's start);
# --rows 3500000 is a real month.
DEFAULT_ROWS = 200_000


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 (a free port) while the block runs; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="demo-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass(frozen=True)
class DemoResult:
    counts: dict[str, Any] | None  # transform's counts JSON for the month
    verify: VerifyReport
    matches: bool  # the counts are what the generator planted
    seconds: float  # the pipeline's three steps


def run_demo(
    workdir: Path,
    rows: int = DEFAULT_ROWS,
    *,
    seed: int = 20240901,
    engine: Engine | str = DEFAULT_ENGINE,
    observer: Observer | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> DemoResult:
    """Write, serve and run the synthetic month; `say` hears what is being done, line by line.
    The whole demo holds the workdir (another run there is refused before anything is written).
    """
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise InvalidInput("--rows", rows, "a whole number of rows, at least 1")
    workdir = Path(workdir)
    pipeline = LocalPipeline(workdir, engine=engine, observer=observer)
    with pipeline.locked(YELLOW, [DEMO_MONTH], command="demo"):
        source_dir = workdir / "source"
        source_dir.mkdir(parents=True, exist_ok=True)
        file = source_dir / YELLOW.file_name(DEMO_MONTH)
        say(f"Writing a synthetic {YELLOW.name} {DEMO_MONTH} of {rows:,} rows to {file}")
        summary = synthetic.write_month(file, YELLOW, DEMO_MONTH, rows, seed=seed)
        with serve_folder(source_dir) as base_url:
            url = f"{base_url}/{file.name}"
            say(f"Serving it at {url}; running the pipeline in {workdir} "
                f"({pipeline.engine.value} engine)")  # fmt: skip
            run = pipeline.run_month(YELLOW, DEMO_MONTH, source=url)
        counts = pipeline.published_counts(YELLOW, DEMO_MONTH)
        report = verify_local(workdir, YELLOW)
    expected = synthetic.expected_counts(summary)
    matches = counts is not None and all(counts[key] == value for key, value in expected.items())
    return DemoResult(counts, report, matches, run.seconds)
