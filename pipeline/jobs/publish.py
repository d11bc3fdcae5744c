"""The PublishMonth step: make the run's candidate the month, for every reader at once.

In order, each step safe to repeat (a publish that failed part way is run again as it is):
1. the verdict: the audit's `_audit.json` must exist and not refuse (a forced verdict passes);
2. the warehouse: `taxi_zones` if the lookup changed, then the month replaced by the run's parts
   with its ledger row, in one transaction, count-checked (`Warehouse.publish_month`; a run
   already in the ledger is not loaded twice);
3. the lake: the month's pointer (`_published.json`) names the run, so `verify`, the next audit
   and ingest read it; in AWS the month's Glue partitions (trips and quarantine) move to the
   run's prefixes in the same step (`ctx.catalog`), so Athena reads the old month or the new one;
4. retention: the month's other runs past their time are removed (`contract.publication`).
Python 3.9 (Glue Python Shell).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import Any, Callable

from pipeline.contract import layout
from pipeline.contract.audit import findings_json, refusal_lines
from pipeline.contract.datasets import get_dataset
from pipeline.contract.errors import InvalidInput, MissingInput, MonthRefused
from pipeline.contract.ingest_record import IngestRecord
from pipeline.contract.ledger import LedgerRow, strip_query
from pipeline.contract.months import Month
from pipeline.contract.publication import (
    LEGACY_RUN,
    Publication,
    runs_to_remove,
    superseded_after,
)
from pipeline.jobs.audit import read_verdict
from pipeline.jobs.context import StepContext
from pipeline.jobs.published import read_counts, read_publication, run_counts

Clock = Callable[[], datetime]


def run_step(ctx: StepContext) -> dict[str, Any]:
    return publish(ctx)


def publish(ctx: StepContext, now: Clock = lambda: datetime.now(timezone.utc)) -> dict[str, Any]:
    if ctx.warehouse is None:
        raise InvalidInput("warehouse", None, "the publish step needs a Warehouse in its context")
    keys = ctx.keys
    verdict = read_verdict(ctx.lake, keys)
    if verdict is None:
        raise MissingInput(
            f"run {ctx.run_id} of {ctx.dataset.name} {ctx.month} has no audit verdict at "
            f"{ctx.lake.uri(layout.PROCESSED, keys.audit_key)}: audit it first"
        )
    if verdict.refused:
        raise MonthRefused(verdict, refusal_lines(verdict))
    counts = run_counts(ctx.lake, keys)
    record = _ingest_record(ctx.lake, keys)
    started = now()
    row = LedgerRow(
        dataset=ctx.dataset.name,
        source_month=ctx.month.first_day.isoformat(),
        run_id=ctx.run_id,
        published_at=started.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" "),
        engine=ctx.engine,
        source=strip_query(record.source),
        source_bytes=record.bytes,
        source_sha256=record.sha256,
        rows_in=int(counts["rows_in"]),
        rows_loaded=int(counts["rows_loaded"]),
        rows_quarantined=int(counts["rows_quarantined"]),
        forced=verdict.forced,
        findings=findings_json(verdict.findings),
    )
    zones = ctx.warehouse.refresh_zones(ctx.lake)
    load = ctx.warehouse.publish_month(ctx.dataset, ctx.month, ctx.lake, keys, row)
    publication = _point(ctx, counts, row, started)
    if ctx.catalog is not None:
        ctx.catalog.publish_month(ctx.dataset, ctx.month, keys)
    removed = remove_expired_runs(ctx.lake, publication, started)
    if ctx.metrics is not None and not load.already_published:
        ctx.metrics.month_published(
            ctx.dataset.name, rows_loaded=row.rows_loaded, rows_quarantined=row.rows_quarantined,
            warnings=len(verdict.warnings),
        )  # fmt: skip
    return {
        **load.figures(),
        **zones.figures(),
        "run_id": ctx.run_id,
        "verdict": verdict.verdict,
        "previous_run": publication.previous_run,
        "runs_removed": removed,
    }


def reconcile(
    lake: Any, warehouse: Any, dataset: Any, month: Any, now: datetime | None = None
) -> str | None:
    """Point the lake at the month the warehouse holds, if a publish stopped between its commit
    and its pointer (a killed process, a lost Glue worker): the ledger's newest run for the
    month is what readers of the warehouse see, so the lake follows it. Returns the run it
    pointed to, or None when the two already agree. Safe to call at any time."""
    entry = next((e for e in warehouse.ledger(dataset) if e.month == month), None)
    if entry is None:
        return None
    publication = read_publication(lake, dataset, month)
    if publication is not None and publication.run_id == entry.run_id:
        return None
    keys = layout.RunKeys(dataset, month, entry.run_id)
    counts = read_counts(lake, keys)
    if counts is None:  # the run's files are gone: nothing to point at
        return None
    ctx = StepContext(dataset=dataset, month=month, lake=lake, run_id=entry.run_id)
    row = LedgerRow(
        dataset=entry.dataset, source_month=month.first_day.isoformat(), run_id=entry.run_id,
        published_at=entry.published_at, engine=entry.engine, source=entry.source,
        source_bytes=0, source_sha256="", rows_in=entry.rows_in, rows_loaded=entry.rows_loaded,
        rows_quarantined=entry.rows_quarantined, forced=entry.forced, findings=entry.findings,
    )  # fmt: skip
    record = _ingest_record(lake, keys)
    row = dataclasses.replace(row, source_bytes=record.bytes, source_sha256=record.sha256)
    _point(ctx, counts, row, now or datetime.now(timezone.utc))
    return entry.run_id


def _ingest_record(lake: Any, keys: layout.RunKeys) -> IngestRecord:
    try:
        record = IngestRecord.from_json(lake.read_bytes(layout.RAW, keys.ingest_record_key))
    except MissingInput:
        record = None
    if record is None:
        raise MissingInput(
            f"run {keys.run_id} has no ingest record at "
            f"{lake.uri(layout.RAW, keys.ingest_record_key)}: ingest the month first"
        )
    return record


def _point(ctx: StepContext, counts: dict[str, Any], row: LedgerRow, now: datetime) -> Publication:
    """Write the month's pointer to the run (kept as it is when it already names the run)."""
    previous = read_publication(ctx.lake, ctx.dataset, ctx.month)
    if previous is not None and previous.run_id == ctx.run_id:
        return previous
    legacy = layout.RunKeys(ctx.dataset, ctx.month, None)
    publication = Publication(
        dataset=ctx.dataset.name,
        month=str(ctx.month),
        run_id=ctx.run_id,
        published_at=now.isoformat(timespec="seconds"),
        engine=row.engine,
        forced=row.forced,
        counts={key: value for key, value in counts.items() if key != "part_files"},
        source=row.source,
        source_bytes=row.source_bytes,
        source_sha256=row.source_sha256,
        superseded=superseded_after(
            previous, ctx.lake.exists(layout.PROCESSED, legacy.counts_key), ctx.run_id, now
        ),
    )
    ctx.lake.write_bytes(
        layout.PROCESSED, layout.published_key(ctx.dataset, ctx.month), publication.to_json()
    )
    return publication


def _runs_in_lake(lake: Any, dataset: Any, month: Any) -> dict[str, float]:
    """Each run id with files under the month's runs, and its newest write."""
    newest: dict[str, float] = {}
    for zone, prefix in (
        (layout.RAW, layout.runs_prefix(dataset, month)),
        (layout.PROCESSED, layout.runs_prefix(dataset, month)),
        (layout.PROCESSED, layout.quarantine_runs_prefix(dataset, month)),
    ):
        for obj in lake.list(zone, prefix):
            run = layout.run_id_of(dataset, month, obj.key)
            if run is not None:
                newest[run] = max(newest.get(run, 0.0), obj.modified)
    return newest


def remove_run(lake: Any, keys: layout.RunKeys) -> None:
    """Every file of a run, in both zones (a legacy run: the month folder but its pointer)."""
    if keys.run_id is not None:
        lake.delete_prefix(layout.RAW, keys.raw_prefix)
        lake.delete_prefix(layout.PROCESSED, keys.processed_prefix)
        lake.delete_prefix(layout.PROCESSED, keys.quarantine_prefix)
        return
    pointer = layout.published_key(keys.dataset, keys.month)
    for zone in layout.ZONES:
        for obj in lake.list(zone, keys.processed_prefix):
            if not (zone == layout.PROCESSED and obj.key == pointer):
                lake.delete_prefix(zone, obj.key)
    lake.delete_prefix(layout.PROCESSED, keys.quarantine_prefix)


def remove_expired_runs(lake: Any, publication: Publication, now: datetime) -> list[str]:
    """Remove the month's runs that retention no longer keeps; return their ids."""
    dataset, month = get_dataset(publication.dataset), Month.parse(publication.month)
    removed = runs_to_remove(_runs_in_lake(lake, dataset, month), publication, now)
    for run in removed:
        remove_run(lake, layout.RunKeys(dataset, month, run))
    legacy = layout.RunKeys(dataset, month, None)
    kept = {s.run_id for s in publication.superseded}
    if LEGACY_RUN not in kept and lake.exists(layout.PROCESSED, legacy.counts_key):
        remove_run(lake, legacy)
        removed.append(LEGACY_RUN)
    return removed
