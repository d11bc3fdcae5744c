"""`python -m pipeline demo`: a synthetic month through the real pipeline, offline.

The month is written in TLC's schema with realistic dirty rows, served on loopback HTTP so
ingest takes its real download path (streaming, retries, parquet checks), then transformed with
local Spark and loaded into DuckDB. Ends with the month's row-rule counts and the verify table.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from rich.console import Console

from pipeline.datasets import YELLOW
from pipeline.errors import InvalidInput
from pipeline.local import LocalPipeline
from pipeline.months import Month

DEMO_MONTH = Month(2024, 1)
# About a minute end to end on 2 cores, JVM start included; --rows 3500000 is a real month.
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


def run_demo_command(args: argparse.Namespace, console: Console) -> int:
    from pipeline import synthetic
    from pipeline.cli import local_verify_rows
    from pipeline.progress import ConsoleObserver
    from pipeline.render import quality_table, verify_table

    rows = DEFAULT_ROWS if args.rows is None else args.rows
    if rows < 1:
        raise InvalidInput("--rows", rows, "a whole number of rows, at least 1")
    workdir = Path(args.workdir)
    source_dir = workdir / "source"
    source_dir.mkdir(parents=True, exist_ok=True)
    file = source_dir / YELLOW.file_name(DEMO_MONTH)
    if not args.quiet:
        console.print(f"Writing a synthetic {YELLOW.name} {DEMO_MONTH} of {rows:,} rows to {file}")
    summary = synthetic.write_month(file, YELLOW, DEMO_MONTH, rows, seed=args.seed)

    observer = ConsoleObserver(console, quiet=args.quiet)
    pipeline = LocalPipeline(workdir, observer=observer)
    try:
        with serve_folder(source_dir) as base_url:
            url = f"{base_url}/{file.name}"
            if not args.quiet:
                console.print(f"Serving it at {url}; running the pipeline in {workdir}")
            run = pipeline.run_month(YELLOW, DEMO_MONTH, source=url)
        counts = pipeline.transform_counts(YELLOW, DEMO_MONTH)
    finally:
        observer.close()
        pipeline.close()

    if counts is not None:
        console.print(quality_table(counts))
    verify_rows, title = local_verify_rows(workdir, YELLOW)
    console.print(verify_table(title, verify_rows))
    expected = synthetic.expected_counts(summary)
    matches = counts is not None and all(counts[key] == value for key, value in expected.items())
    verdict = "match what the generator planted" if matches else "DIFFER from the generator's"
    console.print(f"Synthetic month: counts {verdict} · pipeline {run.seconds:.1f}s")
    return 0 if matches else 1
