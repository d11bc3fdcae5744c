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

import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from pipeline.contract.datasets import ColumnType, Dataset
from pipeline.contract.errors import InvalidInput, MissingInput
from pipeline.contract.layout import PROCESSED, counts_key, is_part_file, processed_prefix
from pipeline.contract.months import Month
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
    """One row of the verify query: rows per `source_month`."""

    month: Month
    rows: int


@dataclass(frozen=True)
class MonthCheck:
    """One row of `verify`: a month's rows in the warehouse against what transform wrote."""

    month: str  # YYYY-MM
    rows: int
    expected: int | None = None  # rows transform wrote (its counts JSON), when readable
    quarantined: int | None = None

    @property
    def check(self) -> str:
        if self.expected is None:
            return ""
        return "ok" if self.expected == self.rows else "MISMATCH"

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"month": self.month, "rows": self.rows}
        if self.expected is not None:
            row.update(expected=self.expected, quarantined=self.quarantined, status=self.check)
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
        if found is None:
            checked.append(MonthCheck(str(count.month), int(count.rows)))
        else:
            expected, quarantined = int(found["rows_loaded"]), int(found["rows_quarantined"])
            checked.append(MonthCheck(str(count.month), int(count.rows), expected, quarantined))
    return checked


class Warehouse(Protocol):
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


def create_table_sql(dataset: Dataset, dialect: Dialect) -> str:
    """The table from the dataset spec; on Redshift, sorted for month-at-a-time deletes/reads."""
    columns = ",\n".join(
        f"  {name} {dialect.type_name(column_type)}" for name, column_type in dataset.table_columns
    )
    sql = f"CREATE TABLE IF NOT EXISTS {dataset.table} (\n{columns}\n)"
    if dialect is Dialect.REDSHIFT:
        sql += f" DISTSTYLE AUTO SORTKEY ({dataset.month_column}, {dataset.pickup_column})"
    return sql


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


def month_counts_sql(dataset: Dataset, limit: int | None = None) -> str:
    """The original's verify query, grouped on source_month instead of the pickup month."""
    sql = (
        f"SELECT {dataset.month_column}, COUNT(*) AS row_count FROM {dataset.table} "
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
