"""Run the pipeline on this machine: the same step list, the same step functions, a local lake.

`--workdir` (default `.local/`) holds `lake/raw/` and `lake/processed/`, mirroring the two buckets
key for key, and `warehouse.duckdb`, the warehouse. The TransformTrips step runs on the chosen
engine (`pipeline.local.engines`): DuckDB by default, which needs no Java, or Spark, the code Glue
runs, in one lazily started SparkSession for every month of a run.

One run per workdir: a run holds the workdir's lock (`pipeline.local.lock`) from before it writes
anything until it ends, so a second run on the same workdir is refused at once. Nothing is
created before it is written: a run refused at ingest leaves the workdir as it was (the lock file
and the folders made for it go when the lock is released). DuckDB spills past its memory limit
into `<workdir>/duckdb-tmp/`, removed at the end of the run.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pipeline.contract import layout
from pipeline.contract.datasets import Dataset
from pipeline.contract.errors import InvalidInput
from pipeline.contract.months import Month
from pipeline.contract.sql import Engine
from pipeline.contract.steps import SPARK, STEPS, Step, step_named
from pipeline.contract.zones import ZONE_LOOKUP
from pipeline.jobs.context import StepContext
from pipeline.jobs.entries import entry_for
from pipeline.local import lock as workdir_lock
from pipeline.local.engines import DEFAULT_ENGINE, Entry, engine_named, transform_entry
from pipeline.storage.lake import LocalLake
from pipeline.warehouse.base import VerifyReport, check_months, read_transform_counts
from pipeline.warehouse.duckdb import DEFAULT_MEMORY_LIMIT, DuckDBSettings

DEFAULT_WORKDIR = Path(".local")
WAREHOUSE_FILE = "warehouse.duckdb"
DUCKDB_TEMP = "duckdb-tmp"
LOAD_JOB = step_named("load_redshift").job  # fails at import if the step is renamed


def _own_session() -> Any:
    """The runner's own SparkSession (the default factory): its JVM is the runner's to end."""
    from pipeline.local.spark import local_session

    return local_session()


def publish_zone_lookup(lake: LocalLake) -> None:
    """Put TLC's zone lookup where the load reads it, as `pulumi up` does in AWS (only before a
    load: a run refused earlier leaves the workdir as it was)."""
    data = ZONE_LOOKUP.read_bytes()
    key = layout.taxi_zones_key()
    if not lake.exists(layout.PROCESSED, key) or lake.read_bytes(layout.PROCESSED, key) != data:
        lake.write_bytes(layout.PROCESSED, key, data)


@dataclass
class StepRun:
    step: Step
    seconds: float
    figures: dict[str, Any]


@dataclass
class MonthRun:
    dataset: Dataset
    month: Month
    steps: list[StepRun] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(run.seconds for run in self.steps)

    def figures(self, job: str) -> dict[str, Any]:
        for run in self.steps:
            if run.step.job == job:
                return run.figures
        return {}


class Observer:
    """What the runner tells whoever watches it (the CLI draws progress from these)."""

    def step_started(self, step: Step, dataset: Dataset, month: Month) -> None: ...

    def progress(self, what: str, done: int, total: int | None) -> None: ...

    def step_finished(self, run: StepRun) -> None: ...

    def notice(self, text: str) -> None:
        """Something the person running should know that is not a step (a lock taken over)."""


class LocalPipeline:
    """The lake folder, the DuckDB warehouse, the transform engine, and for the Spark engine one
    lazily started SparkSession for all months. `memory_limit` bounds each DuckDB connection of
    the run (the DuckDB transform's, the warehouse's), in DuckDB's syntax ('2GB')."""

    def __init__(
        self,
        workdir: Path = DEFAULT_WORKDIR,
        *,
        engine: Engine | str = DEFAULT_ENGINE,
        spark_factory: Callable[[], Any] | None = None,
        observer: Observer | None = None,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
    ) -> None:
        self.engine = engine_named(engine)  # InvalidInput before anything is touched
        self.workdir = Path(workdir)
        self.lake = LocalLake(self.workdir / "lake")
        self.warehouse_path = self.workdir / WAREHOUSE_FILE
        self.duckdb_settings = DuckDBSettings(memory_limit, self.workdir / DUCKDB_TEMP)
        self._transform: Entry = transform_entry(self.engine, self.duckdb_settings)
        self._spark_factory = spark_factory
        self._spark: Any = None
        self._warehouse: Any = None
        self._lock: workdir_lock.Lock | None = None
        self.observer = observer or Observer()

    @property
    def spark(self) -> Any:
        if self._spark is None:
            if self._spark_factory is None:
                self._spark_factory = _own_session
            self._spark = self._spark_factory()
        return self._spark

    @property
    def warehouse(self) -> Any:
        if self._warehouse is None:
            from pipeline.warehouse.duckdb import DuckDBWarehouse

            self._warehouse = DuckDBWarehouse(self.warehouse_path, self.duckdb_settings)
        return self._warehouse

    def check_engine(self) -> None:
        """The Spark engine needs Java: say so (JavaMissing) before anything is written."""
        if self.engine is Engine.SPARK and self._spark is None and self._spark_factory is None:
            from pipeline.local.java import ensure_java

            ensure_java()

    @contextlib.contextmanager
    def locked(
        self, dataset: Dataset, months: list[Month], command: str = "local"
    ) -> Iterator[None]:
        """Hold the workdir for the block (WorkdirBusy, writing nothing, when another run holds
        it); re-entrant, so `run_month` inside it runs under the same lock."""
        if self._lock is not None:
            yield
            return
        self.check_engine()
        holder = workdir_lock.holder_record(
            command, dataset.name, [str(month) for month in months], self.engine.value
        )
        self._lock = workdir_lock.acquire(self.workdir, holder)
        try:
            if self._lock.took_over is not None:
                self.observer.notice(
                    f"took over the lock of {self.workdir}, left by a run that ended without "
                    f"releasing it: {workdir_lock.describe(self._lock.took_over)}"
                )
            for left in self.lake.remove_partial_writes():
                self.observer.notice(f"removed {left}, left by a write that never ended")
            yield
        except KeyboardInterrupt:
            self._end_spark()  # quietly: a JVM left to its shutdown hooks logs its aborted job
            raise
        finally:
            lock, self._lock = self._lock, None
            try:
                self.close()
                shutil.rmtree(self.duckdb_settings.temp_directory, ignore_errors=True)
            finally:
                lock.release()

    def _entry(self, step: Step) -> Entry:
        # The Spark step's code is the engine's; the other steps' are the same for every engine.
        return self._transform if step.kind == SPARK else entry_for(step.job)

    def run_month(self, dataset: Dataset, month: Month, source: str | None = None) -> MonthRun:
        """Walk STEPS in order for one month, holding the workdir; the first failure stops it."""
        with self.locked(dataset, [month]):
            result = MonthRun(dataset, month)
            for step in STEPS:
                if step.job == LOAD_JOB:
                    publish_zone_lookup(self.lake)
                context = StepContext(
                    dataset=dataset,
                    month=month,
                    lake=self.lake,
                    source=source,
                    warehouse=self.warehouse,
                    # Only Spark's step pays for the JVM; later months reuse the session.
                    spark=(
                        self.spark if step.kind == SPARK and self.engine is Engine.SPARK else None
                    ),
                    progress=self.observer.progress,
                )
                self.observer.step_started(step, dataset, month)
                started = time.perf_counter()
                figures = self._entry(step)(context)
                run = StepRun(step, time.perf_counter() - started, figures)
                result.steps.append(run)
                self.observer.step_finished(run)
            return result

    def run_months(
        self, dataset: Dataset, months: list[Month], source: str | None = None
    ) -> list[MonthRun]:
        with self.locked(dataset, months):
            return [self.run_month(dataset, month, source) for month in months]

    def month_counts(self, dataset: Dataset) -> list[Any]:
        return self.warehouse.month_counts(dataset)

    def transform_counts(self, dataset: Dataset, month: Month) -> dict[str, Any] | None:
        return read_transform_counts(dataset, month, self.lake)

    def _end_spark(self) -> None:
        # Only a session this run started itself: a factory's (a test's shared one) is left.
        if self._spark is not None and self._spark_factory is _own_session:
            from pipeline.local.spark import end_jvm

            end_jvm(self._spark)
            self._spark = None

    def close(self) -> None:
        if self._warehouse is not None and hasattr(self._warehouse, "close"):
            self._warehouse.close()


def verify_local(workdir: Path, dataset: Dataset) -> VerifyReport:
    """`verify --workdir DIR`: rows per month in the local warehouse against transform's counts."""
    if not (Path(workdir) / WAREHOUSE_FILE).is_file():
        raise InvalidInput(
            "--workdir", str(workdir), f"a folder with {WAREHOUSE_FILE}: run `local`"
        )
    pipeline = LocalPipeline(workdir)
    try:
        months = check_months(
            pipeline.month_counts(dataset), lambda month: pipeline.transform_counts(dataset, month)
        )
    finally:
        pipeline.close()
    return VerifyReport(f"{dataset.table} in {workdir}/{WAREHOUSE_FILE}", months)
