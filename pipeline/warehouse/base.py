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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from pipeline.contract import ledger
from pipeline.contract.datasets import ColumnType, Dataset
from pipeline.contract.errors import InvalidInput, MissingInput
from pipeline.contract.layout import PROCESSED, RunKeys, is_part_file
from pipeline.contract.months import Month
from pipeline.contract.profile import MonthProfile
from pipeline.contract.rules import clean_sql
from pipeline.jobs.published import read_counts
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
    # The run was in the ledger already (a publish repeated after its commit): nothing changed.
    already_published: bool = False

    def figures(self) -> dict[str, Any]:
        """JSON-safe, for the step's result and the state machine's output."""
        return {
            "dataset": self.dataset,
            "month": self.month,
            "already_published": self.already_published,
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
    run_id: str | None = None  # the published run (the ledger's), None for a legacy month
    published_at: str | None = None

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
        if self.run_id is not None:
            row.update(run_id=self.run_id, published_at=self.published_at)
        return row


@dataclass(frozen=True)
class VerifyReport:
    """What `verify` found, local or on a stack: a row per month, newest first."""

    title: str
    months: list[MonthCheck]
    dataset: str = ""

    @property
    def ok(self) -> bool:
        return all(row.check != "MISMATCH" for row in self.months)

    def rows(self) -> list[dict[str, Any]]:
        return [{"dataset": self.dataset, **row.to_json()} for row in self.months]


CountsReader = Callable[[Month], "dict[str, Any] | None"]


@dataclass(frozen=True)
class LedgerEntry:
    """A ledger row as `verify` and `months` read it back (`pipeline.contract.ledger`)."""

    dataset: str
    month: Month
    run_id: str
    published_at: str
    engine: str
    source: str
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    rows_replaced: int
    forced: bool
    findings: str


def check_months(
    counts: Iterable[MonthCount],
    published_counts: CountsReader | None,
    ledger: dict[Month, LedgerEntry] | None = None,
) -> list[MonthCheck]:
    """Join the warehouse's rows per month with what was published: the month's latest ledger
    row, and the published counts in the lake (when it can read them); a legacy month has only
    the latter."""
    checked = []
    ledger = ledger or {}
    for count in counts:
        found = published_counts(count.month) if published_counts is not None else None
        entry = ledger.get(count.month)
        month = MonthCheck(str(count.month), int(count.rows), count.clean_rows)
        if found is not None:
            clean = found.get("rows_clean")
            month = dataclasses.replace(
                month,
                expected=int(found["rows_loaded"]),
                quarantined=int(found["rows_quarantined"]),
                expected_clean=None if clean is None else int(clean),
            )
        if entry is not None:
            # The ledger row was written with the month's rows: it is what the month must hold.
            month = dataclasses.replace(
                month,
                expected=entry.rows_loaded,
                quarantined=entry.rows_quarantined,
                run_id=entry.run_id,
                published_at=entry.published_at,
                expected_clean=month.expected_clean if found is not None else None,
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

    def publish_month(
        self, dataset: Dataset, month: Month, lake: Lake, keys: RunKeys, row: ledger.LedgerRow
    ) -> LoadResult:
        """Replace the rows of `month` with the run's part files and add its ledger row, in one
        checked transaction; a run already in the ledger changes nothing."""
        ...

    def ledger(self, dataset: Dataset | None = None) -> list[LedgerEntry]:
        """The ledger's rows (one dataset's, or all), newest publish first."""
        ...

    def month_counts(self, dataset: Dataset, limit: int | None = None) -> list[MonthCount]:
        """Rows per source_month, newest first (the original's verify query, on source_month)."""
        ...


@dataclass(frozen=True)
class LoadInput:
    """What transform left for the load: the row count it wrote and the part files holding them."""

    expected_rows: int
    part_files: tuple[ObjectInfo, ...]
    counts: dict[str, Any] = dataclasses.field(default_factory=dict)  # the run's counts JSON

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(part.key for part in self.part_files)


def read_load_input(lake: Lake, keys: RunKeys) -> LoadInput:
    """Read and check the run's counts JSON and part files; raises before any side effect."""
    counts = read_counts(lake, keys)
    uri = lake.uri(PROCESSED, keys.counts_key)
    if counts is None:
        raise MissingInput(
            f"no transform output for run {keys.run_id} of {keys.dataset.name} {keys.month}: "
            f"{uri} does not exist; run the month again"
        )
    rows, parts = counts.get("rows_loaded"), counts.get("part_files")
    valid_rows = isinstance(rows, int) and not isinstance(rows, bool) and rows >= 0
    valid_parts = isinstance(parts, list) and all(isinstance(p, str) for p in parts)
    if not (valid_rows and valid_parts):
        raise MissingInput(
            f"{uri} lacks a valid rows_loaded (a count >= 0) or part_files (a list of keys); "
            "run the month again"
        )
    return LoadInput(rows, _find_part_files(lake, keys, counts), counts)


def _find_part_files(lake: Lake, keys: RunKeys, counts: dict[str, Any]) -> tuple[ObjectInfo, ...]:
    prefix = keys.processed_prefix
    present = {obj.key: obj for obj in lake.list(PROCESSED, prefix)}
    found = []
    for key in counts["part_files"]:
        if not (key.startswith(prefix) and is_part_file(key)):
            raise MissingInput(
                f"counts JSON lists {key!r}, which is not a part-*.parquet file under "
                f"{lake.uri(PROCESSED, prefix)}; run the month again"
            )
        if key not in present:
            raise MissingInput(
                f"part file {lake.uri(PROCESSED, key)} listed by transform's counts is missing; "
                "run the month again"
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


def sql_text(text: str, dialect: Dialect) -> str:
    """A string literal. Redshift reads a backslash in a literal as an escape, DuckDB does not."""
    quoted = text.replace("'", "''")
    if dialect is Dialect.REDSHIFT:
        quoted = quoted.replace("\\", "\\\\")
    return f"'{quoted}'"


def create_ledger_sql(dialect: Dialect) -> str:
    columns = ",\n".join(
        f"  {name} {dialect.type_name(kind)}{' NOT NULL' if name != 'findings' else ''}"
        for name, kind in ledger.COLUMNS
    )
    return f"CREATE TABLE IF NOT EXISTS {ledger.TABLE} (\n{columns}\n)"


def ledger_insert_sql(row: ledger.LedgerRow, rows_replaced: str, dialect: Dialect) -> str:
    """The publish's ledger row; `rows_replaced` is SQL (a number, or a count of the month)."""

    def value(name: str) -> str:
        if name == "rows_replaced":
            return rows_replaced
        field = getattr(row, name)
        if isinstance(field, bool):
            return "true" if field else "false"
        if isinstance(field, int):
            return str(field)
        if name == "source_month":
            return f"CAST({sql_text(field, dialect)} AS DATE)"
        if name == "published_at":
            return f"CAST({sql_text(field, dialect)} AS TIMESTAMP)"
        return sql_text(str(field), dialect)

    values = ", ".join(value(name) for name in ledger.NAMES)
    return f"INSERT INTO {ledger.TABLE} ({', '.join(ledger.NAMES)}) VALUES ({values})"


def create_profiles_sql(dialect: Dialect) -> str:
    columns = ",\n".join(
        f"  {name} {dialect.type_name(kind)}" for name, kind in ledger.PROFILE_COLUMNS
    )
    return f"CREATE TABLE IF NOT EXISTS {ledger.PROFILES_TABLE} (\n{columns}\n)"


def profile_rows(counts: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
    """The month's `tlc_elt_profiles` rows from its counts' profile (none for counts written
    before profiles existed)."""
    if not counts.get("profile"):
        return []
    profile = MonthProfile.from_dict(counts["dataset"], counts["month"], counts["profile"])
    return [
        {ledger.PROFILE_ROW_KEYS[key]: value for key, value in row.items()}
        for row in profile.table_rows(run_id)
    ]


def profiles_delete_sql(row: ledger.LedgerRow, dialect: Dialect) -> str:
    """A run's profile rows, removed before they are written (a rollback publishes a run again)."""
    return (
        f"DELETE FROM {ledger.PROFILES_TABLE} WHERE dataset = {sql_text(row.dataset, dialect)} "
        f"AND source_month = CAST({sql_text(row.source_month, dialect)} AS DATE) "
        f"AND run_id = {sql_text(row.run_id, dialect)}"
    )


def profiles_insert_sql(rows: list[dict[str, Any]], dialect: Dialect) -> str | None:
    """One INSERT of the month's profile rows (None when there are none)."""
    if not rows:
        return None

    def literal(name: str, value: Any) -> str:
        if value is None:
            return "NULL"
        if name == "source_month":
            return f"CAST({sql_text(str(value) + '-01', dialect)} AS DATE)"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return repr(value)
        return sql_text(str(value), dialect)

    values = ",\n".join(
        "(" + ", ".join(literal(name, row[name]) for name in ledger.PROFILE_NAMES) + ")"
        for row in rows
    )
    return (
        f"INSERT INTO {ledger.PROFILES_TABLE} ({', '.join(ledger.PROFILE_NAMES)}) VALUES\n{values}"
    )


def latest_run_sql(dataset: Dataset, month: Month, dialect: Dialect) -> str:
    """The run the month's newest ledger row names: a publish repeated after its commit finds
    its own and changes nothing; an older run may be published again (a rollback)."""
    return (
        f"SELECT run_id FROM {ledger.TABLE} WHERE dataset = {sql_text(dataset.name, dialect)} "
        f"AND source_month = {month_literal(month)} ORDER BY published_at DESC LIMIT 1"
    )


def ledger_select_sql(dataset: Dataset | None, dialect: Dialect, limit: int | None = None) -> str:
    where = "" if dataset is None else f" WHERE dataset = {sql_text(dataset.name, dialect)}"
    sql = (
        f"SELECT {', '.join(ledger.NAMES)} FROM {ledger.TABLE}{where} "
        "ORDER BY published_at DESC, run_id DESC"
    )
    return sql + (f" LIMIT {int(limit)}" if limit else "")


def latest_per_month(entries: Iterable[LedgerEntry]) -> dict[Month, LedgerEntry]:
    """Each month's newest publish, from entries newest first."""
    latest: dict[Month, LedgerEntry] = {}
    for entry in entries:
        latest.setdefault(entry.month, entry)
    return latest


def quarantine_view_name(dataset: Dataset) -> str:
    return f"{dataset.name}_quarantine"
