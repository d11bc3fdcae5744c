"""Each step's job code, by the step's job name: what the local runner calls for a step.

The Glue scripts import their own job module directly (so each ships only what it runs); this
table is for the runner, which walks `pipeline.contract.steps.STEPS`. A test checks that every
step has exactly one entry here, and that its script calls the same function.
"""

from __future__ import annotations

from typing import Any, Callable

from pipeline.jobs import audit, ingest, publish, transform
from pipeline.jobs.context import StepContext

Entry = Callable[[StepContext], "dict[str, Any]"]

ENTRIES: dict[str, Entry] = {
    "ingest_raw": ingest.run_step,
    "transform_trips": transform.run_step,
    "audit_month": audit.run_step,
    "load_redshift": publish.run_step,
}


def entry_for(job: str) -> Entry:
    try:
        return ENTRIES[job]
    except KeyError:
        raise KeyError(f"no job code for step {job!r}; known: {', '.join(ENTRIES)}") from None
