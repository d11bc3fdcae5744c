"""Tables the command line prints: the verify table and a month's quality counts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text


def verify_table(title: str, rows: Iterable[dict[str, Any]]) -> Table:
    """rows (`VerifyReport.rows()`): {"month", "rows", "clean_rows"?, "expected"?,
    "quarantined"?, "expected_clean"?, "status"?}, newest first."""
    headers = ("month", "rows", "clean rows", "rows transform wrote", "clean rows it wrote",
               "quarantined", "check")  # fmt: skip
    cells = []
    for row in rows:
        status = row.get("status", "")
        style = {"ok": "green", "MISMATCH": "bold red"}.get(status, "yellow")
        cells.append(
            [str(row["month"]),
             *(_number(row.get(key))
               for key in ("rows", "clean_rows", "expected", "expected_clean", "quarantined")),
             f"[{style}]{status}[/{style}]" if status else ""]
        )  # fmt: skip
    texts = [[Text.from_markup(cell) for cell in row] for row in cells]
    table = fitted_table(title, headers, texts)
    for column in table.columns:
        column.justify = "left" if column.header in ("month", "check") else "right"
    return table


def fitted_table(title: str, headers: tuple[str, ...], rows: list[list[Text]]) -> Table:
    """A table that fits 80 columns with every header word and every cell whole: no vertical
    rules, one space either side of a cell, each column at least its longest word or cell wide
    (rich then wraps headers between words, never inside one)."""
    table = Table(
        title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1), collapse_padding=True
    )
    for index, header in enumerate(headers):
        widest_cell = max((row[index].cell_len for row in rows), default=0)
        widest_word = max(len(word) for word in header.split())
        table.add_column(header, min_width=max(widest_cell, widest_word), overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def _number(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def quality_table(counts: dict[str, Any]) -> Table:
    """Transform's counts for one month: what was quarantined and why, what was flagged, and
    the schema drift (columns the dataset does not know, values it could not map)."""
    table = Table(title=f"{counts['dataset']} {counts['month']}: row rules")
    table.add_column("")
    table.add_column("rows", justify="right")
    table.add_column("share", justify="right")
    total = max(int(counts["rows_in"]), 1)

    def add(label: str, value: int) -> None:
        table.add_row(label, f"{value:,}", f"{value / total:.3%}")

    add("rows in", int(counts["rows_in"]))
    add("quarantined (integrity rules)", int(counts["rows_quarantined"]))
    for rule, value in counts["rejected"].items():
        add(f"  {rule}", int(value))
    add("loaded", int(counts["rows_loaded"]))
    for flag, value in counts.get("flagged", {}).items():
        add(f"  flagged {flag}", int(value))
    if "rows_clean" in counts:
        add("  clean (no flag)", int(counts["rows_clean"]))
    for column, value in counts.get("unmapped_values", {}).items():
        add(f"unmapped values in {column}", int(value))
    for column, kind in counts.get("unknown_columns", {}).items():
        table.add_row(f"unknown column {column}", kind, "")
    return table


def months_table(where: str, lines: Iterable[dict[str, Any]]) -> Table:
    """`months`: a line per dataset and month (`pipeline.report.months.month_lines`)."""
    table = Table(title=f"published months in {where}")
    for name in ("dataset", "month", "loaded", "quarantined", "published", "change", "findings"):
        numeric = name in ("loaded", "quarantined", "change")
        table.add_column(name, justify="right" if numeric else "left", no_wrap=name != "findings")
    for line in lines:
        change = line["change"]
        findings = ", ".join(line["findings"])
        if line["forced"]:
            findings = f"[bold red]forced[/bold red] {findings}"
        table.add_row(
            line["dataset"], line["month"], f"{line['rows_loaded']:,}",
            f"{line['rows_quarantined']:,}", line["published_at"][:16],
            f"{change:+,}" if line["rows_before"] else "new", findings,
        )  # fmt: skip
    return table
