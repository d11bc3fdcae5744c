"""What a step receives: built by a Glue script from its arguments, or by the local runner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from pipeline.contract.datasets import Dataset
from pipeline.contract.months import Month

# (what, done, total): a step's progress, e.g. ("downloading", 4_194_304, 60_000_000).
Progress = Callable[[str, int, "int | None"], None]


@dataclass
class StepContext:
    """`lake` is a `pipeline.storage.lake.Lake`; `warehouse` a `pipeline.warehouse.base.Warehouse`
    (load only); `spark` a SparkSession (transform only); `progress` receives updates."""

    dataset: Dataset
    month: Month
    lake: Any
    source: str | None = None
    warehouse: Any = None
    spark: Any = None
    progress: Progress | None = None

    def report(self, what: str, done: int, total: int | None = None) -> None:
        if self.progress is not None:
            self.progress(what, done, total)
