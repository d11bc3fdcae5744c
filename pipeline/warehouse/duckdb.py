"""The local warehouse: a DuckDB file (`<workdir>/warehouse.duckdb`), with Redshift's semantics.

One month's load is one transaction: create the table if missing (or bring an earlier version's
table to today's columns, keeping its rows), the `_clean` view, delete the month, insert the
part files transform listed, check the month's count, commit; any failure rolls back, so the
month's previous rows survive. DuckDB reads the processed parquet directly (`lake.uri`).

`DuckDBSettings` are what every DuckDB connection of a local run is set to (this warehouse's, and
the local DuckDB transform's): the UTC session zone, no progress bar of its own, and a memory
limit past which DuckDB spills to a temporary folder instead of exhausting the machine's memory.
The local runner points that folder inside the workdir and removes it after the run.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.contract import zones
from pipeline.contract.datasets import Dataset
from pipeline.contract.errors import CountMismatch, StatementFailed, WarehouseBusy
from pipeline.contract.layout import PROCESSED, RunKeys, is_part_file
from pipeline.contract.ledger import NAMES as LEDGER_NAMES
from pipeline.contract.ledger import TABLE as LEDGER_TABLE
from pipeline.contract.ledger import LedgerRow
from pipeline.contract.months import Month
from pipeline.contract.rules import REJECT_REASON
from pipeline.jobs.published import published_months
from pipeline.storage.lake import Lake
from pipeline.warehouse.base import (
    Dialect,
    LedgerEntry,
    LoadResult,
    MonthCount,
    ZonesResult,
    clean_view_sql,
    count_mismatch_message,
    count_month_sql,
    create_ledger_sql,
    create_profiles_sql,
    create_table_sql,
    delete_month_sql,
    has_flags,
    latest_run_sql,
    ledger_insert_sql,
    ledger_select_sql,
    migration_sql,
    month_counts_sql,
    profile_rows,
    profiles_delete_sql,
    profiles_insert_sql,
    quarantine_view_name,
    read_load_input,
    table_columns_sql,
)
from pipeline.warehouse.zones import (
    count_zones_sql,
    create_reference_sql,
    create_zones_sql,
    loaded_version_sql,
    read_zones_input,
    record_version_sql,
)

# DuckDB's own default is 80% of the machine's memory. A month streams through both the transform
# and the load (a 3.5M-row month peaks near 0.5 GB), so 2 GB binds only on months several times
# that size, which then spill to the temporary folder instead of taking the machine's memory.
DEFAULT_MEMORY_LIMIT = "2GB"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class DuckDBSettings:
    """What one DuckDB connection may use: `memory_limit` (DuckDB's syntax: '2GB', '512MB'), and
    `temp_directory`, where it spills past it (None: DuckDB's default, `.tmp` beside a database
    file, nowhere for an in-memory one)."""

    memory_limit: str = DEFAULT_MEMORY_LIMIT
    temp_directory: Path | None = None

    def apply(self, connection: Any) -> None:
        # Zoned parquet timestamps are read in UTC, keeping TLC's wall clock (as Spark's session
        # zone), and casts to TIMESTAMP happen in UTC (see `insert_sql`).
        connection.execute("SET TimeZone = 'UTC'")
        # The command line draws its own progress; DuckDB's bar would print over it.
        connection.execute("SET enable_progress_bar = false")
        connection.execute(f"SET memory_limit = {_quote(self.memory_limit)}")
        if self.temp_directory is not None:
            connection.execute(f"SET temp_directory = {_quote(str(self.temp_directory))}")


def literal_path(path: str) -> str:
    """`path` as a DuckDB file pattern matching only itself: DuckDB globs every path it reads
    (`w[1]` would match `w1`), and a one-character class (`[[]`, `[*]`, `[?]`) is literal."""
    return "".join(f"[{char}]" if char in "[*?" else char for char in path)


def parquet_source(files: list[str]) -> str:
    # The lake's keys hold `year=YYYY/month=MM/`: without hive_partitioning = false DuckDB would
    # add `year` and `month` columns that are not in the part files (nor in Redshift's COPY).
    paths = ", ".join(_quote(literal_path(f)) for f in files)
    return f"read_parquet([{paths}], hive_partitioning = false)"


def insert_sql(dataset: Dataset, files: list[str]) -> str:
    """Insert by name with explicit casts to the table's types.

    Spark writes its TimestampType as parquet timestamps adjusted to UTC, which DuckDB reads as
    TIMESTAMP WITH TIME ZONE; the cast to TIMESTAMP happens in the session time zone, which
    `_connect` pins to UTC, so wall-clock times come through unshifted (as Redshift COPY does).
    """
    names = ", ".join(dataset.column_names)
    selected = ", ".join(
        f"CAST({name} AS {Dialect.DUCKDB.type_name(column_type)})"
        for name, column_type in dataset.table_columns
    )
    return f"INSERT INTO {dataset.table} ({names}) SELECT {selected} FROM {parquet_source(files)}"


class DuckDBWarehouse:
    """A DuckDB database file; a connection per operation, so nothing stays locked between them."""

    def __init__(self, path: os.PathLike | str, settings: DuckDBSettings | None = None) -> None:
        self.path = Path(path)
        self.settings = settings or DuckDBSettings()

    def _connect(self, read_only: bool = False) -> Any:
        """A connection; read-only ones (verify, months) return None when there is no file."""
        import duckdb

        if read_only and not self.path.is_file():
            return None
        # The file (and its folder) appear when the warehouse is first used, so constructing one
        # writes nothing: a local run refused before its load leaves the workdir as it was.
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as error:  # the file is locked by another process
            raise WarehouseBusy(
                f"the warehouse {self.path} is open in another process ({_holder(error)}): close "
                "it (a DuckDB shell, a notebook, a `make sql`), then run again; nothing was "
                "changed"
            ) from None
        except duckdb.Error as error:
            raise StatementFailed(f"cannot open the warehouse {self.path}: {error}") from error
        self.settings.apply(connection)
        return connection

    def check_writable(self) -> None:
        """WarehouseBusy when another process holds the file open (a run needs it alone)."""
        if self.path.exists():
            self._connect().close()

    def publish_month(
        self, dataset: Dataset, month: Month, lake: Lake, keys: RunKeys, row: LedgerRow
    ) -> LoadResult:
        started = time.perf_counter()
        load = read_load_input(lake, keys)
        files = [lake.uri(PROCESSED, key) for key in load.keys]
        quarantine = quarantine_view_sql(dataset, lake, keys)
        profiles = profiles_insert_sql(profile_rows(load.counts, row.run_id), Dialect.DUCKDB)
        connection = self._connect()
        try:
            if files:
                _check_columns(connection, dataset, files)
            deleted, inserted, already = self._replace(
                connection, dataset, month, files, load.expected_rows, row, quarantine, profiles
            )
        finally:
            connection.close()
        return LoadResult(
            dataset=dataset.name,
            month=str(month),
            rows_deleted=deleted,
            rows_inserted=inserted,
            expected_rows=load.expected_rows,
            part_files=load.keys,
            seconds=time.perf_counter() - started,
            already_published=already,
        )

    def _replace(
        self,
        connection: Any,
        dataset: Dataset,
        month: Month,
        files: list[str],
        expected: int,
        row: LedgerRow,
        quarantine: str | None = None,
        profiles: str | None = None,
    ) -> tuple[int, int, bool]:
        import duckdb

        # An earlier version's table gains today's columns first, each change committed on its
        # own: DuckDB cannot set NOT NULL on a column added in the same transaction. Adding
        # columns keeps every row, so a load that fails after it loses nothing.
        try:
            for statement in migration_sql(dataset, _columns(connection, dataset), Dialect.DUCKDB):
                connection.execute(statement)
        except duckdb.Error as error:
            raise StatementFailed(
                f"adding today's columns to {dataset.table} failed; its rows are intact: {error}"
            ) from error
        connection.execute("BEGIN TRANSACTION")
        try:
            connection.execute(create_table_sql(dataset, Dialect.DUCKDB))
            connection.execute(create_ledger_sql(Dialect.DUCKDB))
            latest = connection.execute(latest_run_sql(dataset, month, Dialect.DUCKDB)).fetchone()
            if latest is not None and latest[0] == row.run_id:
                connection.execute("ROLLBACK")
                return 0, 0, True
            view = clean_view_sql(dataset)
            if view is not None:
                connection.execute(view)
            deleted = connection.execute(delete_month_sql(dataset, month)).fetchone()[0]
            inserted = 0
            if files:
                inserted = connection.execute(insert_sql(dataset, files)).fetchone()[0]
            found = connection.execute(count_month_sql(dataset, month)).fetchone()[0]
            if found != expected:
                raise CountMismatch(count_mismatch_message(dataset, month, expected, found))
            connection.execute(ledger_insert_sql(row, str(deleted), Dialect.DUCKDB))
            connection.execute(create_profiles_sql(Dialect.DUCKDB))
            connection.execute(profiles_delete_sql(row, Dialect.DUCKDB))
            if profiles is not None:
                connection.execute(profiles)
            if quarantine is not None:
                connection.execute(quarantine)
            connection.execute("COMMIT")
        except duckdb.Error as error:
            _rollback(connection)
            raise StatementFailed(
                f"loading {dataset.table} {month} failed and was rolled back, the month's "
                f"previous rows are intact: {error}"
            ) from error
        except BaseException:
            _rollback(connection)
            raise
        return deleted, inserted, False

    def has_table(self, name: str) -> bool:
        connection = self._connect(read_only=True)
        if connection is None:
            return False
        try:
            return _table_exists(connection, name)
        finally:
            connection.close()

    def rows(self, sql: str) -> list[dict[str, Any]]:
        """A read-only query's rows as dicts (the report's and `months`' SQL)."""
        connection = self._connect(read_only=True)
        if connection is None:
            return []
        try:
            result = connection.execute(sql)
            names = [column[0] for column in result.description]
            return [dict(zip(names, values)) for values in result.fetchall()]
        finally:
            connection.close()

    def ledger(self, dataset: Dataset | None = None, limit: int | None = None) -> list[LedgerEntry]:
        connection = self._connect(read_only=True)
        if connection is None:
            return []
        try:
            if not _table_exists(connection, LEDGER_TABLE):
                return []
            rows = connection.execute(ledger_select_sql(dataset, Dialect.DUCKDB, limit)).fetchall()
        finally:
            connection.close()
        return [_ledger_entry(dict(zip(LEDGER_NAMES, values))) for values in rows]

    def refresh_zones(self, lake: Lake) -> ZonesResult:
        """Load `taxi_zones` from the lake's lookup in one transaction, unless it is current."""
        import duckdb

        lookup = read_zones_input(lake)
        connection = self._connect()
        try:
            connection.execute(create_reference_sql())
            loaded = connection.execute(loaded_version_sql()).fetchone()
            if loaded is not None and loaded[0] == lookup.sha256:
                return ZonesResult(refreshed=False, rows=lookup.rows)
            connection.execute("BEGIN TRANSACTION")
            try:
                connection.execute(create_zones_sql(Dialect.DUCKDB))
                connection.execute(f"DELETE FROM {zones.TABLE}")
                connection.execute(_insert_zones_sql(lookup.uri))
                found = connection.execute(count_zones_sql()).fetchone()[0]
                if found != lookup.rows:
                    raise CountMismatch(
                        f"{zones.TABLE}: {lookup.uri} lists {lookup.rows} zones but {found} "
                        "were loaded; rolled back, the previous zones are intact"
                    )
                for statement in record_version_sql(lookup, datetime.now(timezone.utc)):
                    connection.execute(statement)
                connection.execute("COMMIT")
            except duckdb.Error as error:
                _rollback(connection)
                raise StatementFailed(
                    f"loading {zones.TABLE} failed and was rolled back: {error}"
                ) from error
            except BaseException:
                _rollback(connection)
                raise
        finally:
            connection.close()
        return ZonesResult(refreshed=True, rows=lookup.rows)

    def month_counts(self, dataset: Dataset, limit: int | None = None) -> list[MonthCount]:
        connection = self._connect(read_only=True)
        if connection is None:
            return []
        try:
            existing = _columns(connection, dataset)
            clean = has_flags(dataset, existing)
            sql = month_counts_sql(dataset, limit, clean=clean)
            rows = connection.execute(sql).fetchall() if existing else []
        finally:
            connection.close()
        return [
            MonthCount(Month(day.year, day.month), int(count), None if c is None else int(c))
            for day, count, c in rows
        ]


def _insert_zones_sql(uri: str) -> str:
    """TLC's CSV by its header's names, each column cast to the table's type."""
    source_names = dict(zip((name for name, _ in zones.TABLE_COLUMNS), zones.CSV_COLUMNS))
    columns = ", ".join(
        f'CAST("{source_names[name]}" AS {Dialect.DUCKDB.type_name(kind)}) AS {name}'
        for name, kind in zones.TABLE_COLUMNS
    )
    source = f"read_csv({_quote(literal_path(uri))}, header = true, all_varchar = true)"
    return f"INSERT INTO {zones.TABLE} SELECT {columns} FROM {source}"


def quarantine_view_sql(dataset: Dataset, lake: Lake, publishing: RunKeys) -> str:
    """`<dataset>_quarantine`: every published month's quarantined rows with `reject_reason`,
    read from the lake's parts (the warehouse keeps no copy), `publishing` taking its month's
    place. Made again by every publish, in its transaction, so it follows what is published."""
    runs = [
        r for r in published_months(lake, dataset, publishing.month) if r.month != publishing.month
    ]
    parts = [
        lake.uri(PROCESSED, obj.key)
        for keys in [*runs, publishing]
        for obj in lake.list(PROCESSED, keys.quarantine_prefix)
        if is_part_file(obj.key)
    ]
    view = quarantine_view_name(dataset)
    if parts:
        return f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {parquet_source(parts)}"
    columns = ", ".join(
        f"CAST(NULL AS {Dialect.DUCKDB.type_name(kind)}) AS {name}"
        for name, kind in dataset.table_columns
    )
    return (
        f"CREATE OR REPLACE VIEW {view} AS SELECT {columns}, "
        f"CAST(NULL AS VARCHAR) AS {REJECT_REASON} WHERE false"
    )


def _holder(error: Exception) -> str:
    """DuckDB's lock error names the holder: `... Conflicting lock is held in <program> (PID n)`."""
    text = str(error)
    mark = "Conflicting lock is held in "
    return text[text.index(mark) + len(mark) :].split("\n")[0].strip(". ") if mark in text else text


def _table_exists(connection: Any, table: str) -> bool:
    return bool(connection.execute(table_columns_sql(table)).fetchall())


def _ledger_entry(values: dict[str, Any]) -> LedgerEntry:
    day = values["source_month"]
    return LedgerEntry(
        dataset=values["dataset"],
        month=Month(day.year, day.month),
        run_id=values["run_id"],
        published_at=values["published_at"].isoformat(sep=" ", timespec="seconds"),
        engine=values["engine"],
        source=values["source"],
        rows_in=int(values["rows_in"]),
        rows_loaded=int(values["rows_loaded"]),
        rows_quarantined=int(values["rows_quarantined"]),
        rows_replaced=int(values["rows_replaced"]),
        forced=bool(values["forced"]),
        findings=values["findings"] or "[]",
    )


def _columns(connection: Any, dataset: Dataset) -> list[str]:
    return [row[0] for row in connection.execute(table_columns_sql(dataset.table)).fetchall()]


def _rollback(connection: Any) -> None:
    import duckdb

    # A failed COMMIT has already ended the transaction; the error that matters is being raised.
    with contextlib.suppress(duckdb.Error):
        connection.execute("ROLLBACK")


def _check_columns(connection: Any, dataset: Dataset, files: list[str]) -> None:
    """Refuse part files whose columns are not the table's, in order.

    Redshift COPY maps parquet columns by position, so a file with the right names in another
    order would load silently wrong there; failing here too keeps the two warehouses equal.
    """
    import duckdb

    try:
        described = connection.execute(f"DESCRIBE SELECT * FROM {parquet_source(files)}")
        names = tuple(row[0] for row in described.fetchall())
    except duckdb.Error as error:
        raise StatementFailed(f"cannot read the part files of {dataset.table}: {error}") from error
    if names != dataset.column_names:
        raise StatementFailed(
            f"the part files' columns {list(names)} differ from {dataset.table}'s "
            f"{list(dataset.column_names)} (Redshift COPY maps parquet columns by position)"
        )
