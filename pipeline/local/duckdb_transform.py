"""The month's transform on DuckDB: the local engine, from the same SQL as the Spark transform.

Same input (the raw file in the lake), same SQL (`pipeline.contract.normalise`: the contract's
columns, the integrity rules, the flags, the counts), same outputs: processed `part-*.parquet`
files, quarantine parts with `reject_reason`, and the counts JSON, under the lake keys of
`pipeline.contract.layout`. So the load, `verify` and the Glue catalog see no difference between
a month transformed here and one transformed by Glue (`tests/integration/test_engines.py` holds
the two engines to identical rows and counts). Local lakes only: DuckDB reads and writes the
lake's folder.

The tagged rows are a view, not a table: each of the two writes scans the file (reading only the
columns it needs), so a month streams through in a few hundred MB whatever its size. The counts
are then taken from what was written, not from a third scan of the file: the parts and the
quarantine parts read back (they hold the table's columns, the flags among them, and
`reject_reason`), and the unmapped values from each text column's distinct values
(`normalise.unmapped_by_value`). So they describe exactly the rows written, and cost a 3.5M-row
yellow month 0.16 s instead of 0.39 s, a 20M-row HVFHV month 1.2 s instead of 5 s
(`docs/BENCHMARKS.md`). The written rows must add up to the raw file's footer, and the raw file
must be the same file after the writes as before, or the transform fails before the counts JSON
is written (so audit and publish refuse the run); the local runner's workdir lock keeps ingest
from replacing the raw file meanwhile.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pipeline.contract import layout
from pipeline.contract.counts import (
    TransformCounts,
    check_written,
    needs_other_months,
    other_months_from,
    other_months_sql,
    written_expressions,
)
from pipeline.contract.errors import MissingInput, WriteMismatch
from pipeline.contract.normalise import (
    Normalisation,
    check_distinct_columns,
    normalisation,
    tagging,
    unmapped_by_value,
)
from pipeline.contract.rules import REJECT_REASON
from pipeline.contract.sql import Engine
from pipeline.contract.types import SourceType
from pipeline.jobs.context import StepContext
from pipeline.jobs.transform import (
    COMPRESSION,
    clear_candidate,
    part_keys,
    step_figures,
    write_counts,
)
from pipeline.warehouse.duckdb import DuckDBSettings, literal_path

ENGINE = Engine.DUCKDB
# About ROWS_PER_PART_FILE rows of the Spark transform's parts.
PART_FILE_BYTES = "100MB"
# Row groups of 4 x DuckDB's own 122,880 rows. With DuckDB's default (122,880 rows) the DuckDB
# warehouse's load of the parts took 1.2-1.5 s longer on a 3.5M-row month: its bulk insert
# writes large row groups straight into the database file, small ones again at the commit's
# checkpoint. Larger groups (1M rows, as TLC's files) load no faster and cost the transform
# ~0.25 s more to write (`docs/BENCHMARKS.md`).
ROW_GROUP_ROWS = 491_520

_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
             "UINTEGER", "UBIGINT", "UHUGEINT"}  # fmt: skip


def source_type(duckdb_type: str) -> SourceType:
    """What a DuckDB column of the file holds, in the contract's engine-neutral terms."""
    name = duckdb_type.upper()
    if name in _INTEGERS:
        return SourceType.INTEGER
    if name in ("FLOAT", "DOUBLE", "REAL") or name.startswith("DECIMAL"):
        return SourceType.DOUBLE
    if name == "VARCHAR":
        return SourceType.STRING
    if name == "TIMESTAMP WITH TIME ZONE":
        return SourceType.TIMESTAMP_ZONED
    if name.startswith("TIMESTAMP"):  # TIMESTAMP, TIMESTAMP_S, _MS, _NS
        return SourceType.TIMESTAMP
    if name == "DATE":
        return SourceType.DATE
    if name == "BOOLEAN":
        return SourceType.BOOLEAN
    return SourceType.OTHER


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(settings: DuckDBSettings | None = None) -> Any:
    """An in-memory DuckDB: UTC session zone, no progress bar, the memory limit and spill folder."""
    import duckdb

    connection = duckdb.connect()
    (settings or DuckDBSettings()).apply(connection)
    return connection


def plan_for(connection: Any, ctx: StepContext, source: str) -> tuple[Normalisation, int]:
    """The file's normalisation and its rows (the footer's count)."""
    import pyarrow.parquet as pq

    # DuckDB renames a second name that differs only in case (`airport_fee_1`): the footer's
    # own names decide, as on Spark.
    metadata = pq.read_metadata(source)
    check_distinct_columns(source, tuple(metadata.schema.to_arrow_schema().names))
    described = connection.execute(f"DESCRIBE SELECT * FROM {read_raw(source)}").fetchall()
    types = {row[0]: source_type(row[1]) for row in described}
    return normalisation(ctx.dataset, ctx.month, types, ENGINE, source=source), metadata.num_rows


def read_raw(path: str) -> str:
    # The raw key holds `year=YYYY/month=MM/`: not columns of the file. The path is read
    # literally (a workdir named `w[1]` is not a pattern).
    return f"read_parquet({_literal(literal_path(path))}, hive_partitioning = false)"


def _copy(connection: Any, query: str, folder: str) -> int:
    """Write the rows of `query` as part files in `folder`; the rows written."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    return connection.execute(
        f"COPY ({query}) TO {_literal(folder)} (FORMAT parquet, COMPRESSION {COMPRESSION}, "
        f"FILENAME_PATTERN 'part-{{i}}', ROW_GROUP_SIZE {ROW_GROUP_ROWS}, "
        f"PER_THREAD_OUTPUT true, FILE_SIZE_BYTES '{PART_FILE_BYTES}', OVERWRITE_OR_IGNORE true)"
    ).fetchone()[0]


def _parts(ctx: StepContext, prefix: str) -> str:
    uris = ", ".join(_literal(literal_path(ctx.lake.uri(layout.PROCESSED, key)))
                     for key in part_keys(ctx.lake, prefix))  # fmt: skip
    return f"read_parquet([{uris}], hive_partitioning = false)"


def _written(ctx: StepContext, quarantined: bool) -> str:
    """The rows as written, as the tagged rows were: the parts (`reject_reason` null) and the
    quarantine's parts (each with its reason)."""
    reason = ENGINE.quote(REJECT_REASON)
    loaded = (
        f"SELECT *, CAST(NULL AS VARCHAR) AS {reason} FROM {_parts(ctx, ctx.keys.processed_prefix)}"
    )
    if not quarantined:
        return f"({loaded})"
    return f"({loaded} UNION ALL BY NAME SELECT * FROM {_parts(ctx, ctx.keys.quarantine_prefix)})"


def _identity(path: str) -> tuple[int, int, int]:
    facts = os.stat(path)
    return facts.st_ino, facts.st_size, facts.st_mtime_ns


def transform(ctx: StepContext, settings: DuckDBSettings | None = None) -> TransformCounts:
    """The run's raw file -> its processed parts, quarantine parts and counts JSON (all under
    the run's keys: nothing published is touched)."""
    dataset, month, lake, keys = ctx.dataset, ctx.month, ctx.lake, ctx.keys
    source = lake.uri(layout.RAW, keys.raw_key)
    if not lake.exists(layout.RAW, keys.raw_key):
        raise MissingInput(f"{source} does not exist: ingest {dataset.name} {month} first")
    connection = connect(settings)
    try:
        raw_file = _identity(source)
        # Reads only the footer: a missing required column fails here, before any write.
        plan, rows_in = plan_for(connection, ctx, source)
        clear_candidate(lake, keys)
        normalised = f"SELECT {', '.join(plan.select_list(ENGINE))} FROM {read_raw(source)}"
        connection.execute(
            f"CREATE TEMP VIEW tagged AS SELECT {', '.join(tagging(dataset, month, ENGINE))} "
            f"FROM ({normalised})"
        )
        table = ", ".join(ENGINE.quote(name) for name, _ in dataset.table_columns)
        reason = ENGINE.quote(REJECT_REASON)
        processed = lake.uri(layout.PROCESSED, keys.processed_prefix)
        loaded = _copy(connection, f"SELECT {table} FROM tagged WHERE {reason} IS NULL", processed)
        ctx.report("rows written", loaded, rows_in)
        quarantine = lake.uri(layout.PROCESSED, keys.quarantine_prefix)
        quarantined = _copy(
            connection,
            f"SELECT {table}, {reason} FROM tagged WHERE {reason} IS NOT NULL",
            quarantine,
        )
        if not quarantined:  # DuckDB writes an empty part for no rows: a month without any
            lake.delete_prefix(layout.PROCESSED, keys.quarantine_prefix)
        ctx.report("rows written", loaded + quarantined, rows_in)
        expressions = written_expressions(dataset, ENGINE)
        written = _written(ctx, bool(quarantined))
        row = connection.execute(
            f"SELECT {', '.join(sql for _, sql in expressions)} FROM {written}"
        ).fetchone()
        values = {key: value for (key, _), value in zip(expressions, row)}
        unmapped_keys, unmapped_sql = unmapped_by_value(plan, ENGINE, read_raw(source))
        if unmapped_keys:
            values.update(zip(unmapped_keys, connection.execute(unmapped_sql).fetchone()))
        # What was read back is what the two writes reported, and adds up to the raw file,
        # which is still the file the transform started from.
        check_written(loaded, values["rows_loaded"], "loadable rows", processed)
        check_written(
            quarantined, values["rows_in"] - values["rows_loaded"], "the quarantine", quarantine
        )
        check_written(
            loaded + quarantined, rows_in, "the month's rows", f"{processed} and {quarantine}"
        )
        if _identity(source) != raw_file:
            raise WriteMismatch(
                f"{source} was replaced during the transform; no counts were written: run the "
                "month again"
            )
        others = {}
        if needs_other_months(values):
            sql = other_months_sql(dataset, ENGINE, _parts(ctx, keys.quarantine_prefix))
            others = other_months_from(connection.execute(sql).fetchall())
        ctx.report("rows counted", rows_in, rows_in)
    finally:
        connection.close()
    return write_counts(ctx, values, plan, others)


def run_step(ctx: StepContext, settings: DuckDBSettings | None = None) -> dict[str, Any]:
    """The TransformTrips step on DuckDB (what `local --engine duckdb` runs)."""
    counts = transform(ctx, settings)
    return step_figures(counts, len(part_keys(ctx.lake, ctx.keys.quarantine_prefix)))
