"""`make bench` / `python -m pipeline.bench`: what one month costs on this machine.

A benchmark, not a test: it prints figures and checks nothing but that the runs agree.

1. Writes a synthetic yellow month of `--rows` rows (3,500,000 is a real month) and serves it on
   loopback HTTP, so ingest takes its real download path.
2. Starts the SparkSession (JVM start, reported on its own line and counted in the total), then
   walks the local pipeline's steps, recording per step wall seconds, rows/s and the peak RSS of
   this process and its children (the JVM is one) while the step ran.
3. Transforms the same raw file with DuckDB SQL (`pipeline.duckdb_transform`) as a reference and
   prints Spark's time over it; both runs' counts must agree.
4. Ingests files of growing size (`--ingest-mb`, default the month and 500 MB) in fresh
   processes, as Glue Python Shell runs ingest alone, and prints each one's peak RSS: it must not
   grow with the file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

from pipeline import duckdb_transform, synthetic
from pipeline.datasets import YELLOW
from pipeline.demo import DEMO_MONTH, serve_folder
from pipeline.lake import LocalLake
from pipeline.layout import RAW, raw_key
from pipeline.local import LocalPipeline, Observer, StepRun
from pipeline.months import Month
from pipeline.steps import Step

DEFAULT_ROWS = 3_500_000
DEFAULT_WORKDIR = Path(".local/bench")
MB = 1024 * 1024
SAMPLE_SECONDS = 0.02
# The rows a step's rate is counted in: what it read.
ROWS_FIGURE = {"ingest_raw": "rows", "transform_trips": "rows_in", "load_redshift": "rows_inserted"}


def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of `process` and every child (Spark's JVM is a child of Python)."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:  # a child that ended between listing and reading
            continue
    return total


class PeakRss:
    """Samples the process tree's RSS in a thread while a block runs; `.peak` is the maximum."""

    def __init__(self, interval: float = SAMPLE_SECONDS) -> None:
        self.interval = interval
        self.peak = 0
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, tree_rss(self._process))
            if self._stop.wait(self.interval):
                return

    def start(self) -> None:
        self.peak = tree_rss(self._process)
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, name="bench-rss", daemon=True)
        self._thread.start()

    def stop(self) -> int:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, tree_rss(self._process))
        return self.peak


@contextmanager
def measured() -> Iterator[dict[str, float]]:
    """{'seconds', 'peak_rss'} of the block, filled in when it ends."""
    sampler = PeakRss()
    figures: dict[str, float] = {}
    sampler.start()
    started = time.perf_counter()
    try:
        yield figures
    finally:
        figures["seconds"] = time.perf_counter() - started
        figures["peak_rss"] = sampler.stop()


@dataclass
class Row:
    """One line of the report."""

    what: str
    seconds: float
    rows: int | None
    peak_rss: int | None
    note: str = ""

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.rows and self.seconds else None


class _StepMeter(Observer):
    """Measures each step the runner walks (same timing the runner reports)."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self._sampler = PeakRss()

    def step_started(self, step: Step, dataset: Any, month: Month) -> None:
        self._sampler.start()

    def step_finished(self, run: StepRun) -> None:
        peak = self._sampler.stop()
        rows = run.figures.get(ROWS_FIGURE.get(run.step.job, ""), None)
        self.rows.append(Row(run.step.state, run.seconds, rows, peak))


def run_pipeline(
    workdir: Path, file: Path, month: Month
) -> tuple[list[Row], list[Row], dict[str, Any]]:
    """JVM start, the local pipeline's steps on `file` served over loopback HTTP, then the same
    month again on the same session: (first run with JVM start, second run, counts).

    The first run is what one month costs in a fresh process (Glue starts a JVM per job run);
    the second is what each further month of a range or backfill costs once the JIT and Spark's
    code generation are warm.
    """
    meter = _StepMeter()
    pipeline = LocalPipeline(workdir / "run", observer=meter)
    try:
        with measured() as jvm:
            spark = pipeline.spark
            spark.range(1).count()  # the session answers: its JVM and executors are up
        with serve_folder(file.parent) as base_url:
            for _ in range(2):
                pipeline.run_month(YELLOW, month, source=f"{base_url}/{file.name}")
        counts = pipeline.transform_counts(YELLOW, month) or {}
    finally:
        pipeline.close()
    start = Row("JVM start (SparkSession)", jvm["seconds"], None, int(jvm["peak_rss"]))
    steps = len(meter.rows) // 2
    second = meter.rows[steps:]
    for row in second:
        row.what += " (again)"
    return [start, *meter.rows[:steps]], second, counts


def run_reference(workdir: Path, month: Month) -> tuple[Row, dict[str, Any]]:
    """DuckDB's transform of the same raw file the pipeline ingested."""
    raw = LocalLake(workdir / "run" / "lake").uri(RAW, raw_key(YELLOW, month))
    with measured() as figures:
        run = duckdb_transform.transform_month(YELLOW, month, raw, workdir / "duckdb")
    row = Row("DuckDB reference transform", figures["seconds"], run.rows_in,
              int(figures["peak_rss"]))  # fmt: skip
    return row, duckdb_transform.counts_of(run)


def ingest_scaling(workdir: Path, month_file: Path, sizes_mb: list[int]) -> list[Row]:
    """Peak RSS of ingest in a fresh process, for the month's file and payload files of sizes_mb."""
    files = [month_file]
    for megabytes in sizes_mb:
        payload = workdir / "payload" / f"{megabytes}mb.parquet"
        synthetic.write_payload_file(payload, YELLOW, megabytes)
        files.append(payload)
    rows = []
    for file in files:
        with serve_folder(file.parent) as base_url:
            # Our own interpreter and module, arguments we built: no untrusted input.
            done = subprocess.run(  # noqa: S603
                [sys.executable, "-m", "pipeline.ingest_probe", f"{base_url}/{file.name}",
                 str(workdir / "probe")],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"ingest probe of {file} failed: {done.stderr.strip()}")
        probe = json.loads(done.stdout)
        size = probe["bytes"] / MB
        speed = f"{size / probe['seconds']:,.0f} MB/s"
        rows.append(Row(f"ingest alone, {size:,.0f} MB file", probe["seconds"], None,
                        probe["peak_rss"], note=speed))  # fmt: skip
    return rows


def _mb(value: int | None) -> str:
    return "" if value is None else f"{value / MB:,.0f} MB"


def report(console: Console, title: str, rows: list[Row]) -> None:
    table = Table(title=title)
    for header in ("", "seconds", "rows/s", "peak RSS", "note"):
        table.add_column(header, justify="left" if header in ("", "note") else "right")
    for row in rows:
        rate = row.rows_per_second
        table.add_row(row.what, f"{row.seconds:.2f}", "" if rate is None else f"{rate:,.0f}",
                      _mb(row.peak_rss), row.note)  # fmt: skip
    console.print(table)


def machine() -> str:
    memory = psutil.virtual_memory().total / 1024**3
    return f"{os.cpu_count()} cores, {memory:.0f} GiB, Python {sys.version.split()[0]}"


def run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    workdir = Path(args.workdir)
    month = DEMO_MONTH
    source = workdir / "source" / YELLOW.file_name(month)
    console.print(f"[bold]tlc-elt bench[/bold]: {args.rows:,} rows, {machine()}")
    with measured() as generated:
        synthetic.write_month(source, YELLOW, month, args.rows, seed=args.seed)
    console.print(
        f"synthetic month written in {generated['seconds']:.1f}s "
        f"({source.stat().st_size / MB:,.0f} MB, not counted below)"
    )

    steps, again, spark_counts = run_pipeline(workdir, source, month)
    reference, reference_counts = run_reference(workdir, month)
    ratios = {}
    for label, rows in (("first", steps), ("again", again)):
        transform = next(row for row in rows if row.what.startswith("TransformTrips"))
        ratios[label] = transform.seconds / reference.seconds
    reference.note = "Spark: {first:.1f}x first, {again:.1f}x again".format(**ratios)
    total = Row("whole month (JVM start + steps)", sum(row.seconds for row in steps),
                args.rows, max(row.peak_rss or 0 for row in steps))  # fmt: skip
    agree = all(spark_counts.get(key) == value for key, value in reference_counts.items())
    title = f"yellow {month}, {args.rows:,} rows: one month, then the same month again"
    report(console, title, [*steps, total, *again, reference])
    console.print(
        "counts: Spark and DuckDB "
        + ("agree" if agree else f"[red]DIFFER[/red]: {spark_counts} vs {reference_counts}")
    )

    scaling = [] if args.no_ingest_scaling else ingest_scaling(workdir, source, args.ingest_mb)
    if scaling:
        report(console, "ingest peak RSS by file size (fresh process each)", scaling)
    figures = {
        "machine": machine(),
        "rows": args.rows,
        "steps": [asdict(row) for row in [*steps, total, *again, reference, *scaling]],
        "transform_over_duckdb": ratios,
        "counts_agree": agree,
    }
    if args.json:
        (workdir / "bench.json").write_text(json.dumps(figures, indent=2))
        console.print(f"figures written to {workdir / 'bench.json'}")
    if not agree:
        raise SystemExit(1)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--rows", type=int, default=DEFAULT_ROWS, help="rows in the synthetic month"
    )
    parser.add_argument("--seed", type=int, default=20240901)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--ingest-mb", type=int, nargs="*", default=[500],
                        help="sizes of the extra files ingest is measured on (MB)")  # fmt: skip
    parser.add_argument("--no-ingest-scaling", action="store_true", help="skip step 4")
    parser.add_argument("--json", action="store_true", help="also write <workdir>/bench.json")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error(f"--rows {args.rows}: give at least 1 row")
    run(args, Console())
    return 0


if __name__ == "__main__":
    sys.exit(main())
