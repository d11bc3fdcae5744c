"""Run the pipeline on this machine: the same step list, the same step functions, a local lake.

`--workdir` (default `.local/`) holds `lake/raw/` and `lake/processed/`, mirroring the two buckets
key for key, and `warehouse.duckdb`, the warehouse. One SparkSession serves every month of a run.
Nothing is created before it is written: a run refused at ingest leaves the workdir as it was.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pipeline.contract import layout
from pipeline.contract.datasets import Dataset
from pipeline.contract.errors import InvalidInput
from pipeline.contract.months import Month
from pipeline.contract.steps import SPARK, STEPS, Step, step_named
from pipeline.contract.zones import ZONE_LOOKUP
from pipeline.jobs.context import StepContext
from pipeline.jobs.entries import entry_for
from pipeline.storage.lake import LocalLake
from pipeline.warehouse.base import VerifyReport, check_months, read_transform_counts

DEFAULT_WORKDIR = Path(".local")
WAREHOUSE_FILE = "warehouse.duckdb"
LOAD_JOB = step_named("load_redshift").job  # fails at import if the step is renamed


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


class LocalPipeline:
    """The lake folder, the DuckDB warehouse and one lazily started SparkSession for all months."""

    def __init__(
        self,
        workdir: Path = DEFAULT_WORKDIR,
        *,
        spark_factory: Callable[[], Any] | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.lake = LocalLake(self.workdir / "lake")
        self.warehouse_path = self.workdir / WAREHOUSE_FILE
        self._spark_factory = spark_factory
        self._spark: Any = None
        self._warehouse: Any = None
        self.observer = observer or Observer()

    @property
    def spark(self) -> Any:
        if self._spark is None:
            if self._spark_factory is None:
                from pipeline.local.spark import local_session

                self._spark_factory = local_session
            self._spark = self._spark_factory()
        return self._spark

    @property
    def warehouse(self) -> Any:
        if self._warehouse is None:
            from pipeline.warehouse.duckdb import DuckDBWarehouse

            self._warehouse = DuckDBWarehouse(self.warehouse_path)
        return self._warehouse

    def run_month(self, dataset: Dataset, month: Month, source: str | None = None) -> MonthRun:
        """Walk STEPS in order for one month; the first failure stops the month."""
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
                # Only the Spark step pays for the JVM; later months reuse the session.
                spark=self.spark if step.kind == SPARK else None,
                progress=self.observer.progress,
            )
            self.observer.step_started(step, dataset, month)
            started = time.perf_counter()
            figures = entry_for(step.job)(context)
            run = StepRun(step, time.perf_counter() - started, figures)
            result.steps.append(run)
            self.observer.step_finished(run)
        return result

    def run_months(
        self, dataset: Dataset, months: list[Month], source: str | None = None
    ) -> list[MonthRun]:
        return [self.run_month(dataset, month, source) for month in months]

    def month_counts(self, dataset: Dataset) -> list[Any]:
        return self.warehouse.month_counts(dataset)

    def transform_counts(self, dataset: Dataset, month: Month) -> dict[str, Any] | None:
        return read_transform_counts(dataset, month, self.lake)

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
