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
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from pipeline.contract import layout
from pipeline.contract.audit import AuditThresholds
from pipeline.contract.datasets import Dataset
from pipeline.contract.errors import InvalidInput
from pipeline.contract.months import Month
from pipeline.contract.publication import LEGACY_RUN, PREVIOUS_RUN_DAYS
from pipeline.contract.sql import Engine
from pipeline.contract.steps import SPARK, STEPS, Step, step_named
from pipeline.contract.zones import ZONE_LOOKUP
from pipeline.jobs.context import StepContext
from pipeline.jobs.entries import entry_for
from pipeline.jobs.publish import reconcile
from pipeline.jobs.published import published_counts, read_counts, read_publication
from pipeline.local import lock as workdir_lock
from pipeline.local.engines import DEFAULT_ENGINE, Entry, engine_named, transform_entry
from pipeline.storage.lake import LocalLake
from pipeline.warehouse.base import VerifyReport, check_months, latest_per_month
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


def new_run_id(now: datetime | None = None) -> str:
    """`local-20241107T101500Z-3fa2c1`: a local run's id, unique, sortable by start time."""
    moment = now or datetime.now(timezone.utc)
    return f"local-{moment.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


@dataclass
class MonthRun:
    dataset: Dataset
    month: Month
    steps: list[StepRun] = field(default_factory=list)
    run_id: str = ""

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
        thresholds: AuditThresholds | None = None,
        force_publish: bool = False,
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
        self.thresholds = thresholds or AuditThresholds()
        self.force_publish = force_publish

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

    def run_month(
        self,
        dataset: Dataset,
        month: Month,
        source: str | None = None,
        *,
        run_id: str | None = None,
    ) -> MonthRun:
        """Walk STEPS in order for one month, holding the workdir; the first failure stops it.

        The run writes its candidate under its own id (a new one by default); the audit's
        refusal (MonthRefused) stops it before publish, with nothing published changed."""
        with self.locked(dataset, [month]):
            # A reader holding the warehouse (a DuckDB shell) would fail the publish at the
            # end: fail now, before anything is written.
            self.warehouse.check_writable()
            # A publish killed between its commit and its pointer: the lake follows the ledger.
            repointed = reconcile(self.lake, self.warehouse, dataset, month)
            if repointed is not None:
                self.observer.notice(
                    f"{dataset.name} {month}: the lake now points at run {repointed}, which the "
                    "warehouse holds (a publish had stopped before pointing the lake at it)"
                )
            result = MonthRun(dataset, month, run_id=run_id or new_run_id())
            for step in STEPS:
                if step.job == LOAD_JOB:
                    publish_zone_lookup(self.lake)
                context = StepContext(
                    dataset=dataset,
                    month=month,
                    lake=self.lake,
                    run_id=result.run_id,
                    source=source,
                    warehouse=self.warehouse,
                    # Only Spark's step pays for the JVM; later months reuse the session.
                    spark=(
                        self.spark if step.kind == SPARK and self.engine is Engine.SPARK else None
                    ),
                    progress=self.observer.progress,
                    force_publish=self.force_publish,
                    thresholds=self.thresholds,
                    engine=self.engine.value,
                )
                self.observer.step_started(step, dataset, month)
                started = time.perf_counter()
                figures = self._entry(step)(context)
                run = StepRun(step, time.perf_counter() - started, figures)
                result.steps.append(run)
                self.observer.step_finished(run)
            return result

    def rollback(self, dataset: Dataset, month: Month, run_id: str | None = None) -> MonthRun:
        """Publish an earlier run of the month again (default: the run the current publication
        replaced, kept PREVIOUS_RUN_DAYS days): only the publish step runs, on that run's files
        and verdict; the ledger gets a row for it like any publish."""
        with self.locked(dataset, [month], command="rollback"):
            self.warehouse.check_writable()
            target = run_id or self._previous_run(dataset, month)
            publish_zone_lookup(self.lake)
            step = step_named(LOAD_JOB)
            context = StepContext(
                dataset=dataset, month=month, lake=self.lake, run_id=target,
                warehouse=self.warehouse, progress=self.observer.progress,
                engine=self.engine.value,
            )  # fmt: skip
            result = MonthRun(dataset, month, run_id=target)
            self.observer.step_started(step, dataset, month)
            started = time.perf_counter()
            run = StepRun(step, 0.0, entry_for(step.job)(context))
            run.seconds = time.perf_counter() - started
            result.steps.append(run)
            self.observer.step_finished(run)
            return result

    def _previous_run(self, dataset: Dataset, month: Month) -> str:
        publication = read_publication(self.lake, dataset, month)
        previous = publication.previous_run if publication is not None else None
        if previous is None or previous == LEGACY_RUN:
            raise InvalidInput(
                "rollback", f"{dataset.name} {month}",
                "a month published at least twice by this version, whose previous run is kept "
                f"{PREVIOUS_RUN_DAYS} days (give --run RUN_ID for another kept run)",
            )  # fmt: skip
        return previous

    def run_months(
        self, dataset: Dataset, months: list[Month], source: str | None = None
    ) -> list[MonthRun]:
        with self.locked(dataset, months):
            return [self.run_month(dataset, month, source) for month in months]

    def month_counts(self, dataset: Dataset) -> list[Any]:
        return self.warehouse.month_counts(dataset)

    def run_counts(self, dataset: Dataset, month: Month, run: Any) -> dict[str, Any] | None:
        """The counts of one run (a MonthRun, or anything with a `run_id`), published or not."""
        return read_counts(self.lake, layout.RunKeys(dataset, month, run.run_id))

    def published_counts(self, dataset: Dataset, month: Month) -> dict[str, Any] | None:
        published = published_counts(self.lake, dataset, month)
        return None if published is None else dict(published.counts)

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
    """`verify --workdir DIR`: rows per month in the local warehouse against what was published
    (each month's newest ledger row, and its counts in the lake). A workdir whose runs were all
    refused has a lake but no warehouse yet: nothing published, nothing to check."""
    title = f"{dataset.table} in {workdir}/{WAREHOUSE_FILE}"
    if not (Path(workdir) / WAREHOUSE_FILE).is_file():
        if (Path(workdir) / "lake").is_dir():
            return VerifyReport(title, [], dataset.name)
        raise InvalidInput(
            "--workdir", str(workdir), f"a folder with {WAREHOUSE_FILE}: run `local`"
        )
    pipeline = LocalPipeline(workdir)
    try:
        months = check_months(
            pipeline.month_counts(dataset),
            lambda month: pipeline.published_counts(dataset, month),
            latest_per_month(pipeline.warehouse.ledger(dataset)),
        )
    finally:
        pipeline.close()
    return VerifyReport(title, months, dataset.name)


class EmptyWarehouse:
    """The warehouse of a workdir whose runs were all refused: publish never created it, and it
    reads as a warehouse with no table (`months`: nothing published; `report`: the refusals)."""

    def has_table(self, name: str) -> bool:
        return False

    def rows(self, sql: str) -> list[dict[str, Any]]:
        return []


def local_reader(workdir: Path) -> tuple[Any, LocalLake]:
    """The workdir's warehouse and lake, for reading (`months`, `report`); the warehouse is
    opened read-only by each query, so a running pipeline is not disturbed."""
    from pipeline.warehouse.duckdb import DuckDBWarehouse

    lake = LocalLake(Path(workdir) / "lake")
    if (Path(workdir) / WAREHOUSE_FILE).is_file():
        return DuckDBWarehouse(Path(workdir) / WAREHOUSE_FILE), lake
    if (Path(workdir) / "lake").is_dir():
        return EmptyWarehouse(), lake
    raise InvalidInput(
        "--workdir", str(workdir), f"a folder with {WAREHOUSE_FILE}: run `local` or `demo`"
    )
