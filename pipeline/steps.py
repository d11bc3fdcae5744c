"""The pipeline's step list: the one definition both the state machine and the local runner walk.

`components.asl` builds one Task state per step (state name, Glue job, arguments) and the local
runner (`pipeline.local`) calls each step's entry function in the same order. Each Glue script
in `scripts/` builds a `StepContext` from its arguments and calls the same entry function.
Standard library only: the Pulumi program and the trigger Lambda import this module.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from pipeline.datasets import Dataset
from pipeline.months import Month

PYTHON_SHELL = "pythonshell"
SPARK = "glueetl"

# What every step's Glue job receives from the state machine input.
JOB_ARGUMENTS: tuple[str, ...] = ("dataset", "year", "month")


@dataclass(frozen=True)
class Step:
    state: str  # the Step Functions state name
    job: str  # the Glue job's suffix and `scripts/<job>.py`
    kind: str  # PYTHON_SHELL or SPARK
    entry: str  # "module:function" taking a StepContext, returning a dict of figures
    summary: str

    @property
    def script(self) -> str:
        return f"scripts/{self.job}.py"

    def function(self) -> Callable[[StepContext], dict[str, Any]]:
        module, name = self.entry.split(":")
        return getattr(importlib.import_module(module), name)


STEPS: tuple[Step, ...] = (
    Step("IngestRaw", "ingest_raw", PYTHON_SHELL, "pipeline.ingest:run_step",
         "download the month's file from TLC into the raw zone, checked"),
    Step("TransformTrips", "transform_trips", SPARK, "pipeline.transform:run_step",
         "normalise to the table contract, apply row rules, write processed + quarantine"),
    Step("LoadWarehouse", "load_redshift", PYTHON_SHELL, "pipeline.load:run_step",
         "replace the month in the warehouse in one transaction, count-checked"),
)  # fmt: skip


def step_named(job: str) -> Step:
    for step in STEPS:
        if step.job == job:
            return step
    raise KeyError(job)


@dataclass
class StepContext:
    """What a step needs, built by a Glue script from its arguments or by the local runner.

    `lake` is a `pipeline.lake.Lake`; `warehouse` a `pipeline.warehouse.Warehouse` (load only);
    `spark` a SparkSession (transform only); `progress` receives (what, done, total) updates.
    """

    dataset: Dataset
    month: Month
    lake: Any
    source: str | None = None
    warehouse: Any = None
    spark: Any = None
    progress: Callable[[str, int, int | None], None] | None = None

    def report(self, what: str, done: int, total: int | None = None) -> None:
        if self.progress is not None:
            self.progress(what, done, total)
