"""The warehouse: what loading a month means, whichever engine holds the table.

`Warehouse` has two implementations with the same semantics: `DuckDBWarehouse` (local runs)
and `RedshiftDataApiWarehouse` (AWS). Loading month M of dataset D replaces exactly the rows
with `source_month = M`, in one transaction, checked against transform's count: re-running a
month, or months in any order, gives the same table, and a failure at any point leaves the
previous rows of M intact. The original deleted by pickup month and COPYed the whole file, so
every re-run duplicated out-of-month rows; and its DELETE and COPY were separate statements.

This module also reads the load's input (transform's counts JSON and part files) and builds the SQL
both engines share, all derived from `pipeline.contract.datasets`. Python 3.9 (Glue Python Shell).
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from pipeline.contract.datasets import ColumnType, Dataset
from pipeline.contract.errors import InvalidInput, MissingInput
from pipeline.contract.layout import PROCESSED, counts_key, is_part_file, processed_prefix
from pipeline.contract.months import Month
from pipeline.contract.rules import clean_sql
from pipeline.storage.lake import Lake, ObjectInfo


@dataclass(frozen=True)
class LoadResult:
    """What one month's load did. `rows_deleted` is None when the engine cannot tell."""

    dataset: str
    month: str
    rows_deleted: int | None
    rows_inserted: int
    expected_rows: int
    part_files: tuple[str, ...]
    seconds: float

    def figures(self) -> dict[str, Any]:
        """JSON-safe, for the step's result and the state machine's output."""
        return {
            "dataset": self.dataset,
            "month": self.month,
            "rows_deleted": self.rows_deleted,
            "rows_inserted": self.rows_inserted,
            "expected_rows": self.expected_rows,
            "part_files": list(self.part_files),
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, order=True)
class MonthCount:
    """One row of the verify query: rows per `source_month`, and those with no flag set."""

    month: Month
    rows: int
    clean_rows: int | None = None  # None: the table predates the flags


@dataclass(frozen=True)
class MonthCheck:
    """One row of `verify`: a month's rows in the warehouse against what transform wrote."""

    month: str  # YYYY-MM
    rows: int
    clean_rows: int | None = None
    expected: int | None = None  # rows transform wrote (its counts JSON), when readable
    quarantined: int | None = None
    expected_clean: int | None = None  # its rows_clean (counts of the first version lack it)

    @property
    def check(self) -> str:
        """ok when the rows, and the clean rows where both sides know them, are transform's."""
        if self.expected is None:
            return ""
        clean_known = self.expected_clean is not None and self.clean_rows is not None
        same_clean = not clean_known or self.expected_clean == self.clean_rows
        return "ok" if self.expected == self.rows and same_clean else "MISMATCH"

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"month": self.month, "rows": self.rows}
        if self.clean_rows is not None:
            row["clean_rows"] = self.clean_rows
        if self.expected is not None:
            row.update(expected=self.expected, quarantined=self.quarantined)
            if self.expected_clean is not None:
                row["expected_clean"] = self.expected_clean
            row["status"] = self.check
        return row


@dataclass(frozen=True)
class VerifyReport:
    """What `verify` found, local or on a stack: a row per month, newest first."""

    title: str
    months: list[MonthCheck]

    @property
    def ok(self) -> bool:
        return all(row.check != "MISMATCH" for row in self.months)

    def rows(self) -> list[dict[str, Any]]:
        return [row.to_json() for row in self.months]


CountsReader = Callable[[Month], "dict[str, Any] | None"]


def check_months(
    counts: Iterable[MonthCount], transform_counts: CountsReader | None
) -> list[MonthCheck]:
    """Join the warehouse's rows per month with transform's counts (when it can read them)."""
    checked = []
    for count in counts:
        found = transform_counts(count.month) if transform_counts is not None else None
        month = MonthCheck(str(count.month), int(count.rows), count.clean_rows)
        if found is not None:
            clean = found.get("rows_clean")
            month = dataclasses.replace(
                month,
                expected=int(found["rows_loaded"]),
                quarantined=int(found["rows_quarantined"]),
                expected_clean=None if clean is None else int(clean),
            )
        checked.append(month)
    return checked


@dataclass(frozen=True)
class ZonesResult:
    """What a load's `refresh_zones` did (`pipeline.warehouse.zones`)."""

    refreshed: bool  # False: the warehouse already held this lookup
    rows: int

    def figures(self) -> dict[str, Any]:
        return {"taxi_zones": "refreshed" if self.refreshed else "current", "zones": self.rows}


class Warehouse(Protocol):
    def refresh_zones(self, lake: Lake) -> ZonesResult:
        """Load `taxi_zones` from the lake's zone lookup, unless the warehouse holds it already."""
        ...

    def replace_month(self, dataset: Dataset, month: Month, lake: Lake) -> LoadResult:
        """Replace the rows of `month` with transform's part files, in one checked transaction."""
        ...

    def month_counts(self, dataset: Dataset, limit: int | None = None) -> list[MonthCount]:
        """Rows per source_month, newest first (the original's verify query, on source_month)."""
        ...


@dataclass(frozen=True)
class LoadInput:
    """What transform left for the load: the row count it wrote and the part files holding them."""

    expected_rows: int
    part_files: tuple[ObjectInfo, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(part.key for part in self.part_files)


def read_transform_counts(dataset: Dataset, month: Month, lake: Lake) -> dict[str, Any] | None:
    """Transform's counts JSON for the month, or None when transform has not written one.

    The one reader of that file (the load, local runs, `verify` on a stack). A refused read is
    raised, not taken for "none", so a missing permission is not mistaken for a month never
    transformed; a file that is not the counts of this month is a `MissingInput`.
    """
    key = counts_key(dataset, month)
    uri = lake.uri(PROCESSED, key)
    try:
        data = lake.read_bytes(PROCESSED, key)
    except MissingInput:
        return None
    try:
        counts = json.loads(data)
    except ValueError as error:
        raise MissingInput(f"{uri} is not JSON ({error}); run transform again") from None
    if not isinstance(counts, dict):
        raise MissingInput(f"{uri} is not a JSON object; run transform again")
    if counts.get("dataset") != dataset.name or counts.get("month") != str(month):
        raise MissingInput(
            f"{uri} holds counts for {counts.get('dataset')} "
            f"{counts.get('month')}, not {dataset.name} {month}; run transform for {month} again"
        )
    return counts


def read_load_input(dataset: Dataset, month: Month, lake: Lake) -> LoadInput:
    """Read and check transform's counts JSON and part files; raises before any side effect."""
    counts = read_transform_counts(dataset, month, lake)
    uri = lake.uri(PROCESSED, counts_key(dataset, month))
    if counts is None:
        raise MissingInput(
            f"no transform output for {dataset.name} {month}: {uri} does not exist; "
            "run transform first"
        )
    rows, parts = counts.get("rows_loaded"), counts.get("part_files")
    valid_rows = isinstance(rows, int) and not isinstance(rows, bool) and rows >= 0
    valid_parts = isinstance(parts, list) and all(isinstance(p, str) for p in parts)
    if not (valid_rows and valid_parts):
        raise MissingInput(
            f"{uri} lacks a valid rows_loaded (a count >= 0) or part_files (a list of keys); "
            "run transform again"
        )
    return LoadInput(rows, _find_part_files(dataset, month, lake, counts))


def _find_part_files(
    dataset: Dataset, month: Month, lake: Lake, counts: dict[str, Any]
) -> tuple[ObjectInfo, ...]:
    prefix = processed_prefix(dataset, month)
    present = {obj.key: obj for obj in lake.list(PROCESSED, prefix)}
    found = []
    for key in counts["part_files"]:
        if not (key.startswith(prefix) and is_part_file(key)):
            raise MissingInput(
                f"counts JSON lists {key!r}, which is not a part-*.parquet file under "
                f"{lake.uri(PROCESSED, prefix)}; run transform again"
            )
        if key not in present:
            raise MissingInput(
                f"part file {lake.uri(PROCESSED, key)} listed by transform's counts is missing; "
                "run transform again"
            )
        found.append(present[key])
    return tuple(found)


class Dialect(enum.Enum):
    REDSHIFT = "redshift"
    DUCKDB = "duckdb"

    def type_name(self, column_type: ColumnType) -> str:
        return column_type.redshift if self is Dialect.REDSHIFT else column_type.duckdb


def _column_sql(name: str, column_type: ColumnType, dialect: Dialect) -> str:
    sql = f"{name} {dialect.type_name(column_type)}"
    # Flags are NOT NULL: a row is flagged or it is not (rules.Flag.broken is never null).
    return sql + " NOT NULL" if column_type is ColumnType.BOOLEAN else sql


def create_table_sql(dataset: Dataset, dialect: Dialect) -> str:
    """The table from the dataset spec; on Redshift, sorted for month-at-a-time deletes/reads."""
    columns = ",\n".join(
        f"  {_column_sql(name, column_type, dialect)}"
        for name, column_type in dataset.table_columns
    )
    sql = f"CREATE TABLE IF NOT EXISTS {dataset.table} (\n{columns}\n)"
    if dialect is Dialect.REDSHIFT:
        sql += f" DISTSTYLE AUTO SORTKEY ({dataset.month_column}, {dataset.pickup_column})"
    return sql


def table_columns_sql(table: str) -> str:
    """The columns a table has now (none when it does not exist), in both warehouses."""
    return (
        "SELECT column_name FROM information_schema.columns "
        f"WHERE table_schema = current_schema() AND table_name = '{table}'"
    )


def migration_sql(dataset: Dataset, existing: Iterable[str], dialect: Dialect) -> list[str]:
    """What brings a table made by an earlier version to the dataset's columns, keeping its rows.

    Columns are added, never dropped or retyped. Every row an earlier version loaded passed
    every rule it had, the plausibility checks among them, so a new flag is false on it; a new
    data column is null there (those files were loaded before it was read). DuckDB cannot add a
    column with a constraint, so it adds the default and sets NOT NULL after.
    """
    have = {name.lower() for name in existing}
    if not have:
        return []  # no table yet: create_table_sql makes it whole
    statements = []
    for name, column_type in dataset.table_columns:
        if name in have:
            continue
        add = f"ALTER TABLE {dataset.table} ADD COLUMN {name} {dialect.type_name(column_type)}"
        if column_type is not ColumnType.BOOLEAN:
            statements.append(add)
        elif dialect is Dialect.REDSHIFT:
            statements.append(f"{add} NOT NULL DEFAULT false")
        else:
            statements.append(f"{add} DEFAULT false")
            statements.append(f"ALTER TABLE {dataset.table} ALTER COLUMN {name} SET NOT NULL")
    return statements


def has_flags(dataset: Dataset, existing: Iterable[str]) -> bool:
    """Whether a table with `existing` columns has every flag (an unmigrated one does not)."""
    have = {name.lower() for name in existing}
    return all(flag.name in have for flag in dataset.flags)


def clean_view_sql(dataset: Dataset) -> str | None:
    """`<table>_clean`: the rows with no flag set, every column but the flags (all false there).

    For yellow and green these are exactly the rows the first version loaded. The column list
    is explicit, so a later column added to the table changes the view only when its own SQL
    changes (Redshift's CREATE OR REPLACE VIEW keeps the columns it had).
    """
    if not dataset.flags:
        return None
    flags = {flag.name for flag in dataset.flags}
    columns = ", ".join(name for name, _ in dataset.table_columns if name not in flags)
    return (
        f"CREATE OR REPLACE VIEW {dataset.clean_table} AS SELECT {columns} "
        f"FROM {dataset.table} WHERE {clean_sql(dataset)}"
    )


def month_literal(month: Month) -> str:
    """The `source_month` value of a month, as a SQL literal both engines compare to a DATE."""
    return f"'{month.first_day.isoformat()}'"


def delete_month_sql(dataset: Dataset, month: Month) -> str:
    return f"DELETE FROM {dataset.table} WHERE {dataset.month_column} = {month_literal(month)}"


def count_month_sql(dataset: Dataset, month: Month) -> str:
    return (
        f"SELECT COUNT(*) FROM {dataset.table} "
        f"WHERE {dataset.month_column} = {month_literal(month)}"
    )


def month_counts_sql(dataset: Dataset, limit: int | None = None, *, clean: bool = True) -> str:
    """The original's verify query, grouped on source_month instead of the pickup month, with
    the month's clean rows (those the `_clean` view holds; NULL for a table without flags)."""
    clean_rows = f"SUM(CASE WHEN {clean_sql(dataset)} THEN 1 ELSE 0 END)" if clean else "NULL"
    sql = (
        f"SELECT {dataset.month_column}, COUNT(*) AS row_count, {clean_rows} AS clean_count "
        f"FROM {dataset.table} "
        f"GROUP BY {dataset.month_column} ORDER BY {dataset.month_column} DESC"
    )
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInput("limit", limit, "a whole number of months >= 1, or none")
        sql += f" LIMIT {limit}"
    return sql


def count_mismatch_message(dataset: Dataset, month: Month, expected: int, found: int) -> str:
    return (
        f"{dataset.table} {month}: transform wrote {expected} rows (counts JSON rows_loaded) but "
        f"the load inserted {found}; rolled back, the month's previous rows are intact"
    )
