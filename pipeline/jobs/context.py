"""What a step receives: built by a Glue script from its arguments, or by the local runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pipeline.contract.audit import AuditThresholds
from pipeline.contract.datasets import Dataset
from pipeline.contract.layout import RunKeys
from pipeline.contract.months import Month

# (what, done, total): a step's progress, e.g. ("downloading", 4_194_304, 60_000_000).
Progress = Callable[[str, int, "int | None"], None]


@dataclass
class StepContext:
    """`lake` is a `pipeline.storage.lake.Lake`; `warehouse` a `pipeline.warehouse.base.Warehouse`
    (publish only); `spark` a SparkSession (transform only); `progress` receives updates.

    `run_id` names the run whose candidate every step reads and writes (the execution's name,
    or a local run's id); `force_publish` and `thresholds` are the audit's; `engine` is what
    the ledger records as having transformed the month; `catalog` (AWS only) is the Glue Data
    Catalog whose month partitions publish moves (`pipeline.storage.catalog`); `metrics` (AWS
    only) what publish and a refusal tell CloudWatch."""

    dataset: Dataset
    month: Month
    lake: Any
    run_id: str = ""
    source: str | None = None
    warehouse: Any = None
    spark: Any = None
    progress: Progress | None = None
    force_publish: bool = False
    thresholds: AuditThresholds = field(default_factory=AuditThresholds)
    engine: str = ""
    catalog: Any = None
    metrics: Any = None  # `pipeline.jobs.metrics.CloudWatchMetrics` on a stack, else None

    @property
    def keys(self) -> RunKeys:
        """The run's keys in the lake (InvalidInput for a run id that cannot be one)."""
        return RunKeys(self.dataset, self.month, self.run_id)

    def report(self, what: str, done: int, total: int | None = None) -> None:
        if self.progress is not None:
            self.progress(what, done, total)
