"""The load step: replace the month in the warehouse with transform's output, count-checked.

The warehouse (`ctx.warehouse`) is DuckDB locally and Redshift in AWS; both give the step the
same guarantee (see `pipeline.warehouse`): one transaction per month, re-runs are harmless.
The step reports no progress of its own: the load is one transaction with nothing in between.
"""

from __future__ import annotations

from typing import Any

from pipeline.contract.errors import InvalidInput
from pipeline.jobs.context import StepContext


def run_step(ctx: StepContext) -> dict[str, Any]:
    """`taxi_zones` first (a no-op unless the lookup changed), then the month."""
    if ctx.warehouse is None:
        raise InvalidInput("warehouse", None, "the load step needs a Warehouse in its context")
    zones = ctx.warehouse.refresh_zones(ctx.lake)
    return {**ctx.warehouse.replace_month(ctx.dataset, ctx.month, ctx.lake).figures(),
            **zones.figures()}  # fmt: skip
