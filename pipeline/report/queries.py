"""Where the report's rows come from: one set of SQL for both warehouses, and the lake.

`collect` reads the ledger (`tlc_elt_loads`), the profiles (`tlc_elt_profiles`), trips and
revenue per month and trips per borough from the warehouse (`Warehouse.rows`: DuckDB locally,
Redshift through the Data API on a stack, the same SQL text), and from the lake what only the
lake has: each published month's counts (its pointer: quarantine per rule, flags) and the runs
the audit refused (their `_audit.json`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pipeline.contract.layout as layout
import pipeline.contract.ledger as ledger
import pipeline.contract.zones as zones
from pipeline.contract.audit import AuditResult
from pipeline.contract.datasets import DATASETS, Dataset
from pipeline.contract.months import Month
from pipeline.contract.rules import clean_sql
from pipeline.jobs.published import read_publication
from pipeline.report.data import ReportData

# Each month's newest publish: the run readers see.
_LATEST = (
    f"SELECT dataset, source_month, run_id FROM (SELECT dataset, source_month, run_id, "
    f"ROW_NUMBER() OVER (PARTITION BY dataset, source_month ORDER BY published_at DESC) AS n "
    f"FROM {ledger.TABLE}) latest WHERE n = 1"
)


def ledger_sql() -> str:
    return f"SELECT {', '.join(ledger.NAMES)} FROM {ledger.TABLE} ORDER BY published_at DESC"


def profiles_sql() -> str:
    """The profile of each month's newest publish, in the report's names."""
    return (
        'SELECT p.dataset, p.source_month, p.run_id, p.column_name AS "column", p.null_count, '
        'p.min_value AS "min", p.max_value AS "max", p.sum_value AS "sum", '
        f"p.rows_profiled AS rows FROM {ledger.PROFILES_TABLE} p JOIN ({_LATEST}) l "
        "ON p.dataset = l.dataset AND p.source_month = l.source_month AND p.run_id = l.run_id"
    )


def revenue_sql(dataset: Dataset) -> str:
    """Trips (the `_clean` view's rows) and revenue (summed over the whole table, where TLC's
    reversals net out) per month."""
    trips = (
        f"SUM(CASE WHEN {clean_sql(dataset)} THEN 1 ELSE 0 END)" if dataset.flags else "COUNT(*)"
    )
    revenue = f"SUM({dataset.revenue_column})" if dataset.revenue_column else "NULL"
    return (
        f"SELECT '{dataset.name}' AS dataset, {dataset.month_column} AS source_month, "
        f"{trips} AS trips, {revenue} AS revenue FROM {dataset.table} "
        f"GROUP BY {dataset.month_column}"
    )


def boroughs_sql(dataset: Dataset) -> str:
    """Trips per pickup borough in the dataset's latest month."""
    month = dataset.month_column
    return (
        f"SELECT '{dataset.name}' AS dataset, t.{month} AS source_month, "
        f"COALESCE(z.borough, 'Unknown') AS borough, COUNT(*) AS trips "
        f"FROM {dataset.table} t LEFT JOIN {zones.TABLE} z "
        f"ON z.location_id = t.pickup_location_id "
        f"WHERE t.{month} = (SELECT MAX({month}) FROM {dataset.table}) "
        f"GROUP BY t.{month}, COALESCE(z.borough, 'Unknown')"
    )


def _month_of(value: Any) -> Month:
    return Month.parse(str(value)[:7])


def published_counts(lake: Any, ledger_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The counts of each month's newest publish, from its pointer in the lake."""
    rows, seen = [], set()
    for row in ledger_rows:  # newest first
        dataset, month = DATASETS.get(row["dataset"]), _month_of(row["source_month"])
        if dataset is None or (dataset.name, month) in seen:
            continue
        seen.add((dataset.name, month))
        publication = read_publication(lake, dataset, month)
        if publication is None:
            continue
        counts = publication.counts
        rows.append({
            "dataset": dataset.name, "source_month": str(month),
            "rows_loaded": counts.get("rows_loaded", 0),
            "rows_quarantined": counts.get("rows_quarantined", 0),
            "rows_clean": counts.get("rows_clean", counts.get("rows_loaded", 0)),
            "flagged": counts.get("flagged", {}), "rejected": counts.get("rejected", {}),
        })  # fmt: skip
    return rows


def refused_runs(lake: Any, datasets: list[Dataset]) -> list[dict[str, Any]]:
    """Every kept run whose audit refused it (they stay UNPUBLISHED_RUN_DAYS days at least)."""
    found = []
    for dataset in datasets:
        prefix = f"{layout.dataset_prefix(dataset)}{layout.RUNS}/"
        for obj in lake.list(layout.PROCESSED, prefix):
            if not obj.key.endswith("/_audit.json"):
                continue
            verdict = AuditResult.from_json(lake.read_bytes(layout.PROCESSED, obj.key))
            if not verdict.refused:
                continue
            at = datetime.fromtimestamp(obj.modified, timezone.utc) if obj.modified else ""
            found.append({
                "dataset": verdict.dataset, "month": verdict.month, "run_id": verdict.run_id,
                "at": at, "findings": [f.to_json() for f in verdict.findings],
            })  # fmt: skip
    return found


def collect(warehouse: Any, lake: Any, now: datetime | None = None) -> ReportData:
    """Everything the report shows, from a warehouse (`rows`, `has_table`) and its lake."""
    tables = {name for name in (ledger.TABLE, ledger.PROFILES_TABLE) if warehouse.has_table(name)}
    ledger_rows = warehouse.rows(ledger_sql()) if ledger.TABLE in tables else []
    datasets = [d for d in DATASETS.values() if warehouse.has_table(d.table)]
    revenue, boroughs = [], []
    for dataset in datasets:
        revenue += warehouse.rows(revenue_sql(dataset))
        if warehouse.has_table(zones.TABLE):
            boroughs += warehouse.rows(boroughs_sql(dataset))
    return ReportData.from_rows(
        ledger=ledger_rows,
        refused=refused_runs(lake, list(DATASETS.values())),
        counts=published_counts(lake, ledger_rows),
        profiles=warehouse.rows(profiles_sql()) if ledger.PROFILES_TABLE in tables else [],
        revenue=revenue,
        boroughs=boroughs,
        generated_at=(now or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC"),
    )
