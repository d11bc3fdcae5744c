"""The AuditMonth step: judge the run's candidate, record the verdict, refuse or pass.

Reads the candidate's counts, the month as published now and the dataset's published history
from the lake (`pipeline.jobs.published`), runs the contract's pure `audit`, and writes the
verdict beside the candidate (`RunKeys.audit_key`), where the state machine and the publish
step read it. A refused candidate raises MonthRefused (the local run exits 3; the Glue script
ends the run cleanly and the state machine fails the execution with `MonthRefused`, reading
the verdict). Nothing is published or removed here. Python 3.9 (Glue Python Shell).
"""

from __future__ import annotations

from typing import Any

from pipeline.contract import layout
from pipeline.contract.audit import HISTORY_MONTHS, AuditResult, audit, refusal_lines
from pipeline.contract.errors import MissingInput, MonthRefused
from pipeline.jobs.context import StepContext
from pipeline.jobs.published import published_counts, published_history, run_counts


def run_step(ctx: StepContext) -> dict[str, Any]:
    result = judge(ctx)
    if result.refused:
        raise MonthRefused(result, refusal_lines(result))
    return figures(result)


def judge(ctx: StepContext) -> AuditResult:
    """The verdict on the run's candidate, written to `audit_key` before it is returned."""
    keys = ctx.keys
    counts = run_counts(ctx.lake, keys)
    published = published_counts(ctx.lake, ctx.dataset, ctx.month)
    if published is not None and published.run_id == ctx.run_id:
        published = None  # auditing the published run again (a rollback): nothing to replace
    result = audit(
        ctx.dataset.name,
        ctx.month,
        ctx.run_id,
        counts,
        published,
        published_history(ctx.lake, ctx.dataset, ctx.month, HISTORY_MONTHS),
        ctx.thresholds,
        force=ctx.force_publish,
    )
    ctx.lake.write_bytes(layout.PROCESSED, keys.audit_key, result.to_json().encode())
    if result.refused and ctx.metrics is not None:
        ctx.metrics.month_refused(ctx.dataset.name)
    return result


def read_verdict(lake: Any, keys: layout.RunKeys) -> AuditResult | None:
    try:
        return AuditResult.from_json(lake.read_bytes(layout.PROCESSED, keys.audit_key))
    except MissingInput:
        return None


def figures(result: AuditResult) -> dict[str, Any]:
    return {
        "verdict": result.verdict,
        "refusals": len(result.refusals),
        "warnings": len(result.warnings),
        "findings": [f.to_json() for f in result.findings],
    }
