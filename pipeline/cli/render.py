"""Tables the command line prints: the verify table and a month's quality counts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.table import Table


def verify_table(title: str, rows: Iterable[dict[str, Any]]) -> Table:
    """rows: {"month", "rows", "expected"?, "quarantined"?, "status"?}, newest first."""
    table = Table(title=title)
    table.add_column("month")
    table.add_column("rows in warehouse", justify="right")
    table.add_column("rows transform wrote", justify="right")
    table.add_column("quarantined", justify="right")
    table.add_column("check")
    for row in rows:
        expected = row.get("expected")
        status = row.get("status", "")
        style = {"ok": "green", "MISMATCH": "bold red"}.get(status, "yellow")
        table.add_row(
            str(row["month"]),
            f"{row['rows']:,}",
            "" if expected is None else f"{expected:,}",
            "" if row.get("quarantined") is None else f"{row['quarantined']:,}",
            f"[{style}]{status}[/{style}]" if status else "",
        )
    return table


def quality_table(counts: dict[str, Any]) -> Table:
    """Transform's counts for one month: rows in, loaded, and each rule's rejections."""
    table = Table(title=f"{counts['dataset']} {counts['month']}: row rules")
    table.add_column("")
    table.add_column("rows", justify="right")
    table.add_column("share", justify="right")
    total = max(int(counts["rows_in"]), 1)

    def add(label: str, value: int) -> None:
        table.add_row(label, f"{value:,}", f"{value / total:.3%}")

    add("rows in", int(counts["rows_in"]))
    add("loaded", int(counts["rows_loaded"]))
    add("quarantined", int(counts["rows_quarantined"]))
    for rule, value in counts["rejected"].items():
        add(f"  {rule}", int(value))
    return table


def compare_counts(
    warehouse_rows: list[tuple[str, int]], transform_counts: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """Join the warehouse's per-month rows with transform's counts; flag any difference."""
    rows = []
    for month, count in warehouse_rows:
        counts = transform_counts.get(month)
        row: dict[str, Any] = {"month": month, "rows": count}
        if counts is not None:
            row["expected"] = int(counts["rows_loaded"])
            row["quarantined"] = int(counts["rows_quarantined"])
            row["status"] = "ok" if row["expected"] == count else "MISMATCH"
        rows.append(row)
    return rows
