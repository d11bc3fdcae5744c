"""`months`: what each month holds, one line per dataset and month, from the ledger.

The newest publish of each month (what readers see), with the rows it loaded and quarantined,
when it was published, the rows it replaced and the change, whether it was forced, and the
audit's findings. Rows come from `Warehouse.rows(ledger_sql())`, locally or on a stack.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pipeline.report.data import findings_list, month_text, time_text


def month_lines(ledger_rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each (dataset, month)'s newest publish, by dataset then month (newest month first)."""
    latest: dict[tuple[str, str], Mapping[str, Any]] = {}
    publishes: dict[tuple[str, str], int] = {}
    for row in sorted(ledger_rows, key=lambda row: time_text(row["published_at"])):
        key = (str(row["dataset"]), month_text(row["source_month"]))
        latest[key] = row
        publishes[key] = publishes.get(key, 0) + 1
    lines = []
    for (dataset, month), row in sorted(latest.items(), key=lambda item: (item[0][0], item[0][1])):
        loaded, before = int(row["rows_loaded"]), int(row["rows_replaced"])
        findings = findings_list(row["findings"])
        lines.append({
            "dataset": dataset, "month": month, "rows_loaded": loaded,
            "rows_quarantined": int(row["rows_quarantined"]),
            "published_at": time_text(row["published_at"]), "run_id": row["run_id"],
            "rows_before": before, "change": loaded - before, "forced": bool(row["forced"]),
            "publishes": publishes[(dataset, month)],
            "findings": [f"{f['severity']}: {f['rule']}" for f in findings],
        })  # fmt: skip
    return lines
