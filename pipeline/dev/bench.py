"""`make bench` / `python -m pipeline.dev.bench`: what one month costs on this machine, per engine.

A benchmark, not a test: it prints figures and checks nothing but that the engines agree.

1. Writes a synthetic month of `--rows` rows (`--dataset`, yellow by default); without `--rows`, a
   real-size month of the dataset (REAL_MONTH_ROWS).
2. The DuckDB engine (the default): the whole local month as a fresh process, start to exit
   (`python -m pipeline local --source FILE`, timed by `pipeline.dev.timed`: wall seconds and the
   process's peak RSS); the same job written by hand in DuckDB (`pipeline.dev.handwritten`, the
   yardstick: best of 3 fresh processes); then the same steps in this process, each timed, with
   the month's file served on loopback HTTP so ingest takes its real download path; then the
   DuckDB engine's transform alone on the ingested file (`pipeline.local.duckdb_transform`, the
   median of 3). The headlines: the fresh-process month over the job by hand (issue 21's
   target: 1.3x) and over the transform alone.
3. The Spark engine (`--no-spark` skips it): the SparkSession's start (the JVM, reported on its
   own line and counted in the month), each step, then the same month again on the warm session,
   which is what each further month of a range costs; then the transform under each alternative
   in TUNINGS (warm session), so what each of the Spark transform's choices buys is measured in
   the same run. Its transform over the DuckDB reference, first and warm; both engines' counts
   must agree.
4. Ingests files of growing size (`--ingest-mb`, default the month and 500 MB) in fresh
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
import shutil
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

from pipeline.contract.datasets import YELLOW, Dataset, get_dataset
from pipeline.contract.errors import InvalidInput, MissingInput
from pipeline.contract.layout import RAW, RunKeys
from pipeline.contract.months import Month
from pipeline.contract.sql import Engine
from pipeline.contract.steps import Step
from pipeline.dev import synthetic
from pipeline.dev.demo import DEMO_MONTH, serve_folder
from pipeline.jobs import transform
from pipeline.jobs.context import StepContext
from pipeline.jobs.published import published_run
from pipeline.local import duckdb_transform
from pipeline.local.runner import LocalPipeline, Observer, StepRun
from pipeline.storage.lake import LocalLake

# A real month's rows per dataset, from TLC's file metadata: yellow 2024-03 3,582,628, green
# 2024 53-61 thousand, fhv 2024-01 1,290,116, fhvhv 2023-01 18,479,031 (18-24M a month).
REAL_MONTH_ROWS = {"yellow": 3_500_000, "green": 60_000, "fhv": 1_300_000, "fhvhv": 20_000_000}
DEFAULT_DATASET = "yellow"
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


# What each transform has finished at each of its progress reports, in order (its profile).
TRANSFORM_PHASES = {
    Engine.SPARK: ("read+tag+count+write processed", "read+tag+write quarantine"),
    Engine.DUCKDB: (
        "read+tag+write processed",
        "read+tag+write quarantine",
        "count what was written",
    ),
}
SPARK_ROW = "Spark: "  # the Spark engine's rows begin with it
MONTH_PROCESS = "DuckDB: whole month, fresh process (start to exit)"
REFERENCE = f"DuckDB: transform alone (median of {REFERENCE_RUNS})"


class _StepMeter(Observer):
    """Measures each step the runner walks (same timing the runner reports); for the transform,
    also the time between its progress reports: where its seconds go.
    """

    def __init__(self, engine: Engine, prefix: str = "") -> None:
        self.rows: list[Row] = []
        self.phases = TRANSFORM_PHASES[engine]
        self.prefix = prefix
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
        if run.step.job == "transform_trips" and len(self._marks) == len(self.phases):
            edges = [self._started, *self._marks]
            note = ", ".join(f"{phase} {end - start:.1f}s" for phase, start, end
                             in zip(self.phases, edges, edges[1:]))  # fmt: skip
        self.rows.append(Row(self.prefix + run.step.state, run.seconds, rows, peak, note))


def fresh_process(command: list[str], what: str) -> dict[str, Any]:
    """`command` as a fresh process, timed by `pipeline.dev.timed`: {"seconds", "peak_rss"}.

    Each starts on a disk with nothing left to write back (`os.sync`): otherwise a process pays
    for the flush of what ran before it (the synthetic month just generated, the previous run's
    lake and warehouse; on this VM's disk up to a second for an 825 MB file)."""
    os.sync()
    # Our own interpreter and modules, arguments we built: no untrusted input.
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pipeline.dev.timed", "--", *command],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def month_process(workdir: Path, dataset: Dataset, month: Month, file: Path) -> Row:
    """The whole local month on the default engine as a fresh process, start to exit."""
    command = [sys.executable, "-m", "pipeline", "local", "--dataset", dataset.name,
               "--year", str(month.year), "--month", str(month.month), "--source", str(file),
               "--workdir", str(workdir / "duckdb-process"), "--quiet"]  # fmt: skip
    figures = fresh_process(command, "the local month")
    note = "python -m pipeline local --source FILE: ingest, transform, audit, publish"
    return Row(MONTH_PROCESS, figures["seconds"], None, figures["peak_rss"], note)


HANDWRITTEN_RUNS = 3
HANDWRITTEN = f"DuckDB: the same job by hand (best of {HANDWRITTEN_RUNS}, fresh processes)"


def handwritten_job(workdir: Path, dataset: Dataset, month: Month, file: Path) -> Row:
    """The contract's job written by hand in DuckDB (`pipeline.dev.handwritten`): the yardstick
    of issue 21, each run a fresh process, the best of HANDWRITTEN_RUNS."""
    command = [sys.executable, "-m", "pipeline.dev.handwritten", str(file),
               str(workdir / "handwritten"), dataset.name, str(month)]  # fmt: skip
    runs = [fresh_process(command, "the hand-written job") for _ in range(HANDWRITTEN_RUNS)]
    best = min(runs, key=lambda figures: figures["seconds"])
    return Row(HANDWRITTEN, best["seconds"], None, best["peak_rss"],
               "read, columns, rules, flags, parts, quarantine, table: no guarantees")  # fmt: skip


def run_duckdb(
    workdir: Path, dataset: Dataset, file: Path, month: Month
) -> tuple[list[Row], dict[str, Any]]:
    """The DuckDB engine: the fresh-process month, its steps in this process, then the transform
    alone (the reference): (rows, counts)."""
    process = month_process(workdir, dataset, month, file)
    meter = _StepMeter(Engine.DUCKDB, "DuckDB: ")
    pipeline = LocalPipeline(workdir / "duckdb", engine=Engine.DUCKDB, observer=meter)
    with serve_folder(file.parent) as base_url:
        pipeline.run_month(dataset, month, source=f"{base_url}/{file.name}")
    counts = pipeline.published_counts(dataset, month) or {}
    steps = Row("DuckDB: the steps in one process", sum(r.seconds for r in meter.rows),
                None, max(r.peak_rss or 0 for r in meter.rows))  # fmt: skip
    reference = run_reference(workdir, dataset, month)
    handwritten = handwritten_job(workdir, dataset, month, file)
    process.rows = steps.rows = handwritten.rows = reference.rows
    return [process, handwritten, *meter.rows, steps, reference], counts


def run_spark(
    workdir: Path, dataset: Dataset, file: Path, month: Month, *, tune: bool = True
) -> tuple[list[Row], list[Row], list[Row], dict[str, Any]]:
    """JVM start, the local pipeline's steps on the Spark engine on `file` served over loopback
    HTTP, then the same month again on the same session, then the transform under each of
    TUNINGS: (first run with JVM start, second run, tunings, counts).

    The first run is what one month costs in a fresh process (Glue starts a JVM per job run);
    the second is what each further month of a range or backfill costs once the JIT and Spark's
    code generation are warm.
    """
    meter = _StepMeter(Engine.SPARK, SPARK_ROW)
    pipeline = LocalPipeline(workdir / "spark", engine=Engine.SPARK, observer=meter)
    try:
        with measured() as jvm:
            spark = pipeline.spark
            spark.range(1).count()  # the session answers: its JVM and executors are up
        with serve_folder(file.parent) as base_url:
            for _ in range(2):
                pipeline.run_month(dataset, month, source=f"{base_url}/{file.name}")
        counts = pipeline.published_counts(dataset, month) or {}
        tunings = run_tunings(workdir, dataset, month, spark) if tune else []
    finally:
        pipeline.close()
    start = Row(f"{SPARK_ROW}JVM start (SparkSession)", jvm["seconds"], None, int(jvm["peak_rss"]))
    steps = len(meter.rows) // 2
    second = meter.rows[steps:]
    for row in second:
        row.what += " (again)"
    first = [start, *meter.rows[:steps]]
    total = Row(f"{SPARK_ROW}whole month (JVM start + steps)", sum(row.seconds for row in first),
                None, max(row.peak_rss or 0 for row in first))  # fmt: skip
    return [*first, total], second, tunings, counts


# The run id of the transforms the bench runs by themselves (the reference, the tunings).
BENCH_RUN = "bench"


def _ingested(workdir: Path, dataset: Dataset, month: Month, name: str) -> LocalLake:
    """A lake of its own holding a hard link to the raw file the DuckDB run ingested."""
    ingested = LocalLake(workdir / "duckdb" / "lake")
    published = published_run(ingested, dataset, month)
    if published is None:
        raise MissingInput(f"the DuckDB run published no {dataset.name} {month} to measure")
    raw = ingested.path(RAW, published.raw_key)
    lake = LocalLake(workdir / name / "lake")
    target = lake.path(RAW, RunKeys(dataset, month, BENCH_RUN).raw_key)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        os.link(raw, target)
    return lake


def run_reference(workdir: Path, dataset: Dataset, month: Month) -> Row:
    """The DuckDB engine's transform alone on the ingested raw file: the median of
    REFERENCE_RUNS runs (DuckDB's time varies by tens of percent from run to run here)."""
    lake = _ingested(workdir, dataset, month, "reference")
    runs = []
    for _ in range(REFERENCE_RUNS):
        with measured() as figures:
            counts = duckdb_transform.transform(StepContext(dataset, month, lake, run_id=BENCH_RUN))
        runs.append((figures["seconds"], int(figures["peak_rss"]), counts))
    seconds, peak, counts = sorted(runs, key=lambda item: item[0])[len(runs) // 2]
    return Row(REFERENCE, seconds, counts.rows_in, peak)


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
    Tuning("one-scan cache (before): both writes from the cached rows", _shipped_but(cache=True)),
    Tuning("compressed one-scan cache", _shipped_but(cache=True, cache_compressed=True)),
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


def run_tunings(workdir: Path, dataset: Dataset, month: Month, spark: Any) -> list[Row]:
    """The Spark transform of the ingested month under each of TUNINGS, on the warm session."""
    lake = _ingested(workdir, dataset, month, "tuning")
    rows = []
    shipped = None
    for tuning in TUNINGS:
        with tuned(spark, tuning), measured() as figures:
            context = StepContext(dataset, month, lake, run_id=BENCH_RUN, spark=spark)
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


def compile_package() -> None:
    """Byte-compile the package once, as the first import on a user's machine does: with
    PYTHONDONTWRITEBYTECODE set (this machine sets it), every timed fresh process would compile
    the modules it imports again (~60 ms of `local`'s start, ~20 ms of the job by hand's)."""
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parents[1]), quiet=1)


def machine() -> str:
    memory = psutil.virtual_memory().total / 1024**3
    return f"{os.cpu_count()} cores, {memory:.0f} GiB, Python {sys.version.split()[0]}"


def run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    workdir = Path(args.workdir)
    dataset = get_dataset(args.dataset)
    month = DEMO_MONTH
    source = workdir / "source" / dataset.file_name(month)
    console.print(f"[bold]tlc-elt bench[/bold]: {dataset.name} {args.rows:,} rows, {machine()}")
    with measured() as generated:
        synthetic.write_month(source, dataset, month, args.rows, seed=args.seed)
    console.print(
        f"synthetic month written in {generated['seconds']:.1f}s "
        f"({source.stat().st_size / MB:,.0f} MB, not counted below)"
    )

    duckdb_rows, duckdb_counts = run_duckdb(workdir, dataset, source, month)
    process = next(row for row in duckdb_rows if row.what == MONTH_PROCESS)
    reference = next(row for row in duckdb_rows if row.what == REFERENCE)
    handwritten = next(row for row in duckdb_rows if row.what == HANDWRITTEN)
    ratios = {
        "month_process": process.seconds / reference.seconds,
        "month_vs_handwritten": process.seconds / handwritten.seconds,
    }
    process.note = (
        f"{ratios['month_vs_handwritten']:.2f}x the job by hand (target 1.3x), "
        f"{ratios['month_process']:.1f}x the transform alone"
    )
    report(console, f"DuckDB engine (the default): {dataset.name} {month}, {args.rows:,} rows",
           duckdb_rows)  # fmt: skip

    spark_rows: list[Row] = []
    tunings: list[Row] = []
    agree = True
    if not args.no_spark:
        first, again, tunings, spark_counts = run_spark(
            workdir, dataset, source, month, tune=not args.no_tuning
        )
        for label, rows in (("spark_first", first), ("spark_again", again)):
            transform_row = next(row for row in rows if "TransformTrips" in row.what)
            ratios[label] = transform_row.seconds / reference.seconds
            transform_row.note = (
                f"{ratios[label]:.1f}x the DuckDB transform; " + transform_row.note
            ).rstrip("; ")
        spark_rows = [*first, *again]
        report(console, f"Spark engine (what Glue runs): {dataset.name} {month}, "
               f"{args.rows:,} rows, then the same month again", spark_rows)  # fmt: skip
        agree = {k: v for k, v in spark_counts.items() if k != "part_files"} == {
            k: v for k, v in duckdb_counts.items() if k != "part_files"
        }
        console.print(
            "counts: Spark and DuckDB "
            + ("agree" if agree else f"[red]DIFFER[/red]: {spark_counts} vs {duckdb_counts}")
        )
    if tunings:
        report(console, "Spark transform tunings, warm session, same file", tunings)
    scaling = [] if args.no_ingest_scaling else ingest_scaling(workdir, source, args.ingest_mb)
    if scaling:
        report(console, "ingest peak RSS by file size (fresh process each)", scaling)
    figures = {
        "machine": machine(),
        "dataset": dataset.name,
        "rows": args.rows,
        "steps": [asdict(row) for row in [*duckdb_rows, *spark_rows, *scaling]],
        "tunings": [asdict(row) for row in tunings],
        "ratios": ratios,
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


RATIO_TEXT = {
    "month_process": "DuckDB whole month as a fresh process / DuckDB transform alone",
    "month_vs_handwritten": "DuckDB whole month as a fresh process / the same job by hand "
    "(target 1.3x)",
    "spark_first": "Spark transform, first month (fresh JVM) / DuckDB transform",
    "spark_again": "Spark transform, again (warm session) / DuckDB transform",
}


def _keep_only_figures(run_dir: Path) -> None:
    """A finished run's month, lakes and warehouses go once its figures are read (an HVFHV run
    leaves 8 GB otherwise, 25 GB for `BENCH_RUNS=3`); its bench.json stays."""
    for entry in run_dir.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        elif entry.name != "bench.json":
            entry.unlink()


def run_repeated(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """`--runs N`: the whole benchmark N times, each in a fresh process (a cold JVM each time),
    then the median of every figure: this machine's run-to-run spread is tens of percent.
    """
    workdir = Path(args.workdir)
    results = []
    for index in range(1, args.runs + 1):
        child_dir = workdir / f"run-{index}"
        child = [sys.executable, "-m", "pipeline.dev.bench", "--rows", str(args.rows),
                 "--dataset", args.dataset, "--seed", str(args.seed), "--workdir", str(child_dir),
                 "--json", "--ingest-mb", *map(str, args.ingest_mb)]  # fmt: skip
        for flag in ("no_tuning", "no_ingest_scaling", "no_spark"):
            if getattr(args, flag):
                child.append("--" + flag.replace("_", "-"))
        console.print(f"run {index} of {args.runs} ({child_dir})")
        # Our own interpreter and module, arguments we built: no untrusted input.
        done = subprocess.run(child, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"bench run {index} failed: {done.stderr.strip()[-2000:]}")
        results.append(json.loads((child_dir / "bench.json").read_text()))
        _keep_only_figures(child_dir)
    steps = _median_rows([result["steps"] for result in results])
    tunings = (
        _median_rows([result["tunings"] for result in results]) if results[0]["tunings"] else []
    )
    ratios = {
        label: statistics.median(result["ratios"][label] for result in results)
        for label in results[0]["ratios"]
    }
    report(console, f"{args.dataset} {DEMO_MONTH}, {args.rows:,} rows: median of {args.runs} runs",
           steps)  # fmt: skip
    for label, value in ratios.items():
        each = ", ".join(f"{result['ratios'][label]:.2f}x" for result in results)
        console.print(f"{RATIO_TEXT[label]}: {value:.2f}x (median; runs {each})")
    if tunings:
        report(console, f"Spark transform tunings, median of {args.runs} runs", tunings)
    figures = {
        "machine": machine(),
        "dataset": args.dataset,
        "rows": args.rows,
        "runs": args.runs,
        "steps": [asdict(row) for row in steps],
        "tunings": [asdict(row) for row in tunings],
        "ratios": ratios,
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
        "--rows", type=int, default=None,
        help="rows in the synthetic month (default: a real month of the dataset)",
    )  # fmt: skip
    parser.add_argument("--dataset", default=DEFAULT_DATASET, help="the synthetic month's dataset")
    parser.add_argument("--seed", type=int, default=20240901)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--ingest-mb", type=int, nargs="*", default=[500],
                        help="sizes of the extra files ingest is measured on (MB)")  # fmt: skip
    parser.add_argument("--no-spark", action="store_true", help="skip step 3 (the Spark engine)")
    parser.add_argument("--no-tuning", action="store_true", help="skip step 3's tunings")
    parser.add_argument("--no-ingest-scaling", action="store_true", help="skip step 4")
    parser.add_argument("--json", action="store_true", help="also write <workdir>/bench.json")
    parser.add_argument("--runs", type=int, default=1,
                        help="repeat in fresh processes and print the medians")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        get_dataset(args.dataset)
    except InvalidInput as error:
        parser.error(str(error))
    if args.rows is None:
        args.rows = REAL_MONTH_ROWS[args.dataset]
    if args.rows < 1:
        parser.error(f"--rows {args.rows}: give at least 1 row")
    if args.runs < 1:
        parser.error(f"--runs {args.runs}: give at least 1 run")
    # Wide enough for the tables when the figures go to a file or a pipe.
    console = Console() if sys.stdout.isatty() else Console(width=140)
    compile_package()
    (run if args.runs == 1 else run_repeated)(args, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
