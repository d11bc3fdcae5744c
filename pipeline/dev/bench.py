"""`make bench` / `python -m pipeline.dev.bench`: what one month costs on this machine.

A benchmark, not a test: it prints figures and checks nothing but that the runs agree.

1. Writes a synthetic yellow month of `--rows` rows (3,500,000 is a real month) and serves it on
   loopback HTTP, so ingest takes its real download path.
2. Starts the SparkSession (JVM start, reported on its own line and counted in the total), then
   walks the local pipeline's steps, recording per step wall seconds, rows/s and the peak RSS of
   this process and its children (the JVM is one) while the step ran; then the same month again
   on the same session, which is what each further month of a range costs.
3. Transforms the same raw file under each alternative in TUNINGS (warm session), so what each
   of transform's choices buys is measured in the same run.
4. Transforms the same raw file with DuckDB SQL (`pipeline.local.duckdb_transform`) as a reference
and
   prints Spark's time over it; both runs' counts must agree.
5. Ingests files of growing size (`--ingest-mb`, default the month and 500 MB) in fresh
   processes, as Glue Python Shell runs ingest alone, and prints each one's peak RSS: it must not
   grow with the file.

`--runs N` (N > 1; `make bench` uses 3) repeats all of it in fresh processes and prints each
figure's median with its spread: on this kind of 2-core virtual machine the same run varies by
tens of percent from one to the next.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

from pipeline.contract.datasets import YELLOW
from pipeline.contract.layout import RAW, raw_key
from pipeline.contract.months import Month
from pipeline.contract.sql import Engine
from pipeline.contract.steps import Step
from pipeline.dev import synthetic
from pipeline.dev.demo import DEMO_MONTH, serve_folder
from pipeline.jobs import transform
from pipeline.jobs.context import StepContext
from pipeline.local import duckdb_transform
from pipeline.local.runner import LocalPipeline, Observer, StepRun
from pipeline.storage.lake import LocalLake

DEFAULT_ROWS = 3_500_000
DEFAULT_WORKDIR = Path(".local/bench")
MB = 1024 * 1024
SAMPLE_SECONDS = 0.02
REFERENCE_RUNS = 3
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


# What the transform has finished at each of its progress reports, in order (its profile).
TRANSFORM_PHASES = ("read+tag+cache+count+write processed", "write quarantine")


class _StepMeter(Observer):
    """Measures each step the runner walks (same timing the runner reports); for the transform,
    also the time between its progress reports: where its seconds go.
    """

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self._sampler = PeakRss()
        self._started = 0.0
        self._marks: list[float] = []

    def step_started(self, step: Step, dataset: Any, month: Month) -> None:
        self._marks = []
        self._started = time.perf_counter()
        self._sampler.start()

    def progress(self, what: str, done: int, total: int | None) -> None:
        if what.startswith("rows "):  # the transform's reports; ingest's are per chunk
            self._marks.append(time.perf_counter())

    def step_finished(self, run: StepRun) -> None:
        peak = self._sampler.stop()
        rows = run.figures.get(ROWS_FIGURE.get(run.step.job, ""), None)
        note = ""
        if run.step.job == "transform_trips" and len(self._marks) == len(TRANSFORM_PHASES):
            edges = [self._started, *self._marks]
            note = ", ".join(f"{phase} {end - start:.1f}s" for phase, start, end
                             in zip(TRANSFORM_PHASES, edges, edges[1:]))  # fmt: skip
        self.rows.append(Row(run.step.state, run.seconds, rows, peak, note))


def run_pipeline(
    workdir: Path, file: Path, month: Month, *, tune: bool = True
) -> tuple[list[Row], list[Row], list[Row], dict[str, Any]]:
    """JVM start, the local pipeline's steps on `file` served over loopback HTTP, then the same
    month again on the same session, then the transform under each of TUNINGS:
    (first run with JVM start, second run, tunings, counts).

    The first run is what one month costs in a fresh process (Glue starts a JVM per job run);
    the second is what each further month of a range or backfill costs once the JIT and Spark's
    code generation are warm.
    """
    meter = _StepMeter()
    pipeline = LocalPipeline(workdir / "run", engine=Engine.SPARK, observer=meter)
    try:
        with measured() as jvm:
            spark = pipeline.spark
            spark.range(1).count()  # the session answers: its JVM and executors are up
        with serve_folder(file.parent) as base_url:
            for _ in range(2):
                pipeline.run_month(YELLOW, month, source=f"{base_url}/{file.name}")
        counts = pipeline.transform_counts(YELLOW, month) or {}
        tunings = run_tunings(workdir, month, spark) if tune else []
    finally:
        pipeline.close()
    start = Row("JVM start (SparkSession)", jvm["seconds"], None, int(jvm["peak_rss"]))
    steps = len(meter.rows) // 2
    second = meter.rows[steps:]
    for row in second:
        row.what += " (again)"
    return [start, *meter.rows[:steps]], second, tunings, counts


def run_reference(workdir: Path, month: Month) -> tuple[Row, dict[str, Any]]:
    """The DuckDB engine's transform of the same raw file the pipeline ingested: the median of
    3 runs (DuckDB's time varies by a second or more from run to run here; Spark's is reported
    per run). Its lake holds a hard link to the ingested file."""
    raw = LocalLake(workdir / "run" / "lake").path(RAW, raw_key(YELLOW, month))
    lake = LocalLake(workdir / "duckdb" / "lake")
    target = lake.path(RAW, raw_key(YELLOW, month))
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        os.link(raw, target)
    runs = []
    for _ in range(REFERENCE_RUNS):
        with measured() as figures:
            counts = duckdb_transform.transform(StepContext(YELLOW, month, lake))
        runs.append((figures["seconds"], int(figures["peak_rss"]), counts))
    seconds, peak, counts = sorted(runs, key=lambda item: item[0])[len(runs) // 2]
    row = Row(f"DuckDB reference transform (median of {REFERENCE_RUNS})", seconds, counts.rows_in,
              peak)  # fmt: skip
    shared = {
        key: value for key, value in dataclasses.asdict(counts).items() if key != "part_files"
    }
    return row, shared


def _shipped_but(**changes: Any) -> transform.TransformOptions:
    return dataclasses.replace(transform.SHIPPED, **changes)


@dataclass(frozen=True)
class Tuning:
    """One alternative to what transform ships with: its options and Spark settings."""

    what: str
    options: transform.TransformOptions = transform.SHIPPED
    conf: dict[str, str] = field(default_factory=dict)


# Each is measured on the warm session, on the same raw file, in the same run.
TUNINGS: tuple[Tuning, ...] = (
    Tuning("as shipped"),
    Tuning("a counting job before the writes (before)", _shipped_but(count_while_writing=False)),
    Tuning("one part file (before: coalesce(1))",
           _shipped_but(min_rows_per_part_file=sys.maxsize, rows_per_part_file=sys.maxsize)),
    Tuning("no cache: a scan for the counts and each write", _shipped_but(cache=False)),
    Tuning("compressed cache", _shipped_but(cache_compressed=True)),
    Tuning("zstd instead of snappy", _shipped_but(compression="zstd")),
    Tuning("row-based parquet reader", conf={"spark.sql.parquet.enableVectorizedReader": "false"}),
    Tuning("as shipped, again (the noise)"),
)  # fmt: skip


@contextmanager
def tuned(spark: Any, tuning: Tuning) -> Iterator[None]:
    """The tuning's Spark settings for the block (its options are passed to the transform)."""
    saved_conf = {key: spark.conf.get(key, None) for key in tuning.conf}
    try:
        for key, value in tuning.conf.items():
            spark.conf.set(key, value)
        yield
    finally:
        for key, value in saved_conf.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def run_tunings(workdir: Path, month: Month, spark: Any) -> list[Row]:
    """The transform of the ingested month under each of TUNINGS, on the warm session."""
    lake = LocalLake(workdir / "tuning" / "lake")
    raw = LocalLake(workdir / "run" / "lake").path(RAW, raw_key(YELLOW, month))
    target = lake.path(RAW, raw_key(YELLOW, month))
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        os.link(raw, target)
    rows = []
    shipped = None
    for tuning in TUNINGS:
        with tuned(spark, tuning), measured() as figures:
            context = StepContext(YELLOW, month, lake, spark=spark)
            result = transform.transform_month(context, tuning.options)
        shipped = shipped or figures["seconds"]
        change = figures["seconds"] / shipped - 1
        rows.append(Row(tuning.what, figures["seconds"], result["rows_in"],
                        int(figures["peak_rss"]), f"{change:+.0%} vs as shipped, "
                        f"{result['part_files']} part file(s)"))  # fmt: skip
    return rows


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
                [sys.executable, "-m", "pipeline.dev.ingest_probe", f"{base_url}/{file.name}",
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

    steps, again, tunings, spark_counts = run_pipeline(
        workdir, source, month, tune=not args.no_tuning
    )
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

    if tunings:
        report(console, "transform tunings, warm session, same file", tunings)
    scaling = [] if args.no_ingest_scaling else ingest_scaling(workdir, source, args.ingest_mb)
    if scaling:
        report(console, "ingest peak RSS by file size (fresh process each)", scaling)
    figures = {
        "machine": machine(),
        "rows": args.rows,
        "steps": [asdict(row) for row in [*steps, total, *again, reference, *scaling]],
        "tunings": [asdict(row) for row in tunings],
        "transform_over_duckdb": ratios,
        "counts_agree": agree,
    }
    if args.json:
        (workdir / "bench.json").write_text(json.dumps(figures, indent=2))
        console.print(f"figures written to {workdir / 'bench.json'}")
    if not agree:
        raise SystemExit(1)
    return figures


def _median_rows(runs: list[list[dict[str, Any]]]) -> list[Row]:
    """Per row name (in the first run's order): the median run's figures, with the spread."""
    rows = []
    for first in runs[0]:
        seen = [row for run in runs for row in run if row["what"] == first["what"]]
        seconds = sorted(row["seconds"] for row in seen)
        peaks = sorted(row["peak_rss"] or 0 for row in seen)
        median = statistics.median(seconds)
        spread = f"{seconds[0]:.2f}-{seconds[-1]:.2f}s over {len(seen)} runs"
        rows.append(Row(first["what"], median, first["rows"], int(statistics.median(peaks)) or None,
                        spread))  # fmt: skip
    return rows


def run_repeated(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """`--runs N`: the whole benchmark N times, each in a fresh process (a cold JVM each time),
    then the median of every figure: this machine's run-to-run spread is tens of percent.
    """
    workdir = Path(args.workdir)
    results = []
    for index in range(1, args.runs + 1):
        child_dir = workdir / f"run-{index}"
        child = [sys.executable, "-m", "pipeline.dev.bench", "--rows", str(args.rows),
                 "--seed", str(args.seed), "--workdir", str(child_dir), "--json",
                 "--ingest-mb", *map(str, args.ingest_mb)]  # fmt: skip
        child += ["--no-tuning"] * args.no_tuning + ["--no-ingest-scaling"] * args.no_ingest_scaling
        console.print(f"run {index} of {args.runs} ({child_dir})")
        # Our own interpreter and module, arguments we built: no untrusted input.
        done = subprocess.run(child, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"bench run {index} failed: {done.stderr.strip()[-2000:]}")
        results.append(json.loads((child_dir / "bench.json").read_text()))
    steps = _median_rows([result["steps"] for result in results])
    tunings = (
        _median_rows([result["tunings"] for result in results]) if results[0]["tunings"] else []
    )
    ratios = {label: statistics.median(r["transform_over_duckdb"][label] for r in results)
              for label in ("first", "again")}  # fmt: skip
    report(console, f"yellow {DEMO_MONTH}, {args.rows:,} rows: median of {args.runs} runs", steps)
    console.print("Spark over DuckDB, median of the runs' ratios: "
                  "{first:.1f}x first month, {again:.1f}x again".format(**ratios))  # fmt: skip
    if tunings:
        report(console, f"transform tunings, median of {args.runs} runs", tunings)
    figures = {
        "machine": machine(),
        "rows": args.rows,
        "runs": args.runs,
        "steps": [asdict(row) for row in steps],
        "tunings": [asdict(row) for row in tunings],
        "transform_over_duckdb": ratios,
        "counts_agree": all(result["counts_agree"] for result in results),
    }
    if args.json:
        (workdir / "bench.json").write_text(json.dumps(figures, indent=2))
        console.print(f"figures written to {workdir / 'bench.json'}")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.dev.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--rows", type=int, default=DEFAULT_ROWS, help="rows in the synthetic month"
    )
    parser.add_argument("--seed", type=int, default=20240901)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--ingest-mb", type=int, nargs="*", default=[500],
                        help="sizes of the extra files ingest is measured on (MB)")  # fmt: skip
    parser.add_argument("--no-tuning", action="store_true", help="skip step 3")
    parser.add_argument("--no-ingest-scaling", action="store_true", help="skip step 5")
    parser.add_argument("--json", action="store_true", help="also write <workdir>/bench.json")
    parser.add_argument("--runs", type=int, default=1,
                        help="repeat in fresh processes and print the medians")  # fmt: skip
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error(f"--rows {args.rows}: give at least 1 row")
    if args.runs < 1:
        parser.error(f"--runs {args.runs}: give at least 1 run")
    # Wide enough for the tables when the figures go to a file or a pipe.
    console = Console() if sys.stdout.isatty() else Console(width=120)
    (run if args.runs == 1 else run_repeated)(args, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
