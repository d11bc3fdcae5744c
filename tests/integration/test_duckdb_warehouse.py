"""DuckDBWarehouse against real parquet part files in a LocalLake: idempotent, atomic, checked.

Part files are written with pyarrow in the transform contract's schema (no Spark needed).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pipeline.warehouse.duckdb as duckdb_warehouse
from pipeline.contract.datasets import GREEN, YELLOW, ColumnType, Dataset
from pipeline.contract.errors import CountMismatch, MissingInput, StatementFailed, WarehouseBusy
from pipeline.contract.ingest_record import IngestRecord
from pipeline.contract.layout import PROCESSED, RunKeys, is_part_file
from pipeline.contract.ledger import LedgerRow
from pipeline.contract.months import Month
from pipeline.jobs.audit import judge
from pipeline.jobs.context import StepContext
from pipeline.jobs.publish import run_step
from pipeline.local.runner import publish_zone_lookup
from pipeline.storage.arrow import processed_schema
from pipeline.storage.lake import LocalLake
from pipeline.warehouse.base import MonthCount
from pipeline.warehouse.duckdb import DuckDBWarehouse

ROOT = Path(__file__).resolve().parents[2]
SEPT, OCT, NOV = Month(2024, 9), Month(2024, 10), Month(2024, 11)


def trip_rows(dataset: Dataset, month: Month, n: int, seed: int = 0) -> list[dict]:
    """n distinct rows of `month`; the first pickup is the month's first second (a boundary)."""
    rows = []
    for i in range(n):
        pickup = datetime(month.year, month.month, 1) + timedelta(minutes=37 * i + seed)
        row = {name: None for name in dataset.column_names}
        row.update(
            vendor_id=1 + i % 2,
            pickup_datetime=pickup,
            dropoff_datetime=pickup + timedelta(minutes=12),
            passenger_count=1 + i % 4,
            trip_distance=1.5 + i + seed,
            pickup_location_id=100 + i,
            dropoff_location_id=200 + i,
            payment_type=1,
            fare_amount=10.0 + i,
            tip_amount=2.0,
            total_amount=12.0 + i,
            store_and_fwd_flag="N",
            source_month=month.first_day,
        )
        row.update(dict.fromkeys((flag.name for flag in dataset.flags), False))
        rows.append(row)
    return rows


def write_month(
    lake: LocalLake,
    dataset: Dataset,
    month: Month,
    rows: list[dict],
    *,
    parts: int = 2,
    rows_loaded: int | None = None,
    timestamp: pa.DataType | None = None,
) -> list[str]:
    """What transform leaves: part files (rows split across them) and the counts JSON, under a
    new run of the month (the one `publish` loads next)."""
    run = RunKeys(dataset, month, f"test-{next(_RUNS)}")
    _LATEST[(dataset.name, month)] = run
    prefix = run.processed_prefix
    schema = processed_schema(dataset, timestamp)
    keys = []
    for index in range(parts):
        chunk = rows[index::parts]
        key = f"{prefix}part-{index:05d}-test.snappy.parquet"
        path = lake.path(PROCESSED, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(chunk, schema=schema), path)
        keys.append(key)
    counts = {
        "dataset": dataset.name,
        "month": str(month),
        "rows_in": len(rows),
        "rows_loaded": len(rows) if rows_loaded is None else rows_loaded,
        "rows_quarantined": 0,
        "rejected": {},
        "part_files": keys,
    }
    lake.write_bytes(PROCESSED, run.counts_key, json.dumps(counts).encode())
    return keys


_RUNS = itertools.count(1)
_LATEST: dict[tuple[str, Month], RunKeys] = {}
_PUBLISHES = itertools.count(1)


def ledger_row(keys: RunKeys, run_id: str | None = None) -> LedgerRow:
    return LedgerRow(
        dataset=keys.dataset.name, source_month=keys.month.first_day.isoformat(),
        run_id=run_id or keys.run_id, published_at="2024-11-01 12:00:00", engine="duckdb",
        source="/data/x.parquet", source_bytes=10, source_sha256="ab" * 32, rows_in=3,
        rows_loaded=3, rows_quarantined=0, forced=False, findings="[]",
    )  # fmt: skip


def publish(warehouse: DuckDBWarehouse, dataset: Dataset, month: Month, lake: LocalLake):
    """Publish the month's latest run written by `write_month`, each call as a publish of its
    own (a ledger run id of its own), so a second call replaces the month again."""
    keys = _LATEST[(dataset.name, month)]
    row = ledger_row(keys, f"{keys.run_id}-p{next(_PUBLISHES)}")
    return warehouse.publish_month(dataset, month, lake, keys, row)


def table_rows(path: Path, dataset: Dataset = YELLOW) -> list[tuple]:
    """The whole table, sorted: compared whole, not by counts."""
    with duckdb.connect(str(path)) as connection:
        return sorted(
            connection.execute(f"SELECT * FROM {dataset.table}").fetchall(),
            key=lambda row: tuple((value is None, str(value)) for value in row),
        )


def as_tuples(dataset: Dataset, rows: list[dict]) -> list[tuple]:
    return sorted(
        (tuple(row[name] for name in dataset.column_names) for row in rows),
        key=lambda row: tuple((value is None, str(value)) for value in row),
    )


@pytest.fixture
def lake(tmp_path: Path) -> LocalLake:
    return LocalLake(tmp_path / "lake")


@pytest.fixture
def warehouse(tmp_path: Path) -> DuckDBWarehouse:
    return DuckDBWarehouse(tmp_path / "warehouse.duckdb")


def test_load_inserts_the_part_files_rows_with_the_contract_types(lake, warehouse):
    rows = trip_rows(YELLOW, SEPT, 7)
    keys = write_month(lake, YELLOW, SEPT, rows)

    result = publish(warehouse, YELLOW, SEPT, lake)

    assert table_rows(warehouse.path) == as_tuples(YELLOW, rows)
    assert (result.rows_deleted, result.rows_inserted, result.expected_rows) == (0, 7, 7)
    assert result.part_files == tuple(keys)
    with duckdb.connect(str(warehouse.path)) as connection:
        described = connection.execute(f"DESCRIBE {YELLOW.table}").fetchall()
    assert {row[0]: row[1] for row in described} == {
        name: kind.duckdb for name, kind in YELLOW.table_columns
    }


def test_reloading_a_month_gives_the_same_table(lake, warehouse):
    write_month(lake, YELLOW, SEPT, trip_rows(YELLOW, SEPT, 6))
    publish(warehouse, YELLOW, SEPT, lake)
    once = table_rows(warehouse.path)

    second = publish(warehouse, YELLOW, SEPT, lake)
    publish(warehouse, YELLOW, SEPT, lake)

    assert table_rows(warehouse.path) == once
    assert (second.rows_deleted, second.rows_inserted) == (6, 6)


def test_rows_are_replaced_by_source_month_not_pickup_month(lake, warehouse):
    # The original deleted by pickup month, so a row whose pickup lay outside the file's month
    # survived the delete and came back with every COPY. Keyed on source_month, it cannot.
    rows = trip_rows(YELLOW, SEPT, 3)
    rows[0]["pickup_datetime"] = datetime(2024, 8, 31, 23, 59, 59)
    write_month(lake, YELLOW, SEPT, rows)

    for _ in range(3):
        publish(warehouse, YELLOW, SEPT, lake)

    assert table_rows(warehouse.path) == as_tuples(YELLOW, rows)


def test_months_in_any_order_give_the_same_table(lake, warehouse, tmp_path):
    write_month(lake, YELLOW, SEPT, trip_rows(YELLOW, SEPT, 5))
    write_month(lake, YELLOW, OCT, trip_rows(YELLOW, OCT, 4, seed=3))
    other = DuckDBWarehouse(tmp_path / "other.duckdb")

    for month in (SEPT, OCT, SEPT):
        publish(warehouse, YELLOW, month, lake)
    for month in (OCT, SEPT):
        publish(other, YELLOW, month, lake)

    assert table_rows(warehouse.path) == table_rows(other.path)
    assert warehouse.month_counts(YELLOW) == [MonthCount(OCT, 4, 4), MonthCount(SEPT, 5, 5)]


def test_a_rerun_with_new_output_replaces_only_that_month(lake, warehouse):
    october = trip_rows(YELLOW, OCT, 4, seed=3)
    write_month(lake, YELLOW, SEPT, trip_rows(YELLOW, SEPT, 8))
    write_month(lake, YELLOW, OCT, october)
    publish(warehouse, YELLOW, SEPT, lake)
    publish(warehouse, YELLOW, OCT, lake)

    september_again = trip_rows(YELLOW, SEPT, 3, seed=11)
    write_month(lake, YELLOW, SEPT, september_again, parts=1)
    result = publish(warehouse, YELLOW, SEPT, lake)

    assert table_rows(warehouse.path) == as_tuples(YELLOW, september_again + october)
    assert (result.rows_deleted, result.rows_inserted) == (8, 3)


def test_a_month_with_no_loadable_rows_becomes_empty(lake, warehouse):
    write_month(lake, YELLOW, SEPT, trip_rows(YELLOW, SEPT, 4))
    write_month(lake, YELLOW, OCT, trip_rows(YELLOW, OCT, 2))
    publish(warehouse, YELLOW, SEPT, lake)
    publish(warehouse, YELLOW, OCT, lake)

    write_month(lake, YELLOW, SEPT, [], parts=0)
    result = publish(warehouse, YELLOW, SEPT, lake)

    assert (result.rows_deleted, result.rows_inserted, result.part_files) == (4, 0, ())
    assert warehouse.month_counts(YELLOW) == [MonthCount(OCT, 2, 2)]


def test_count_mismatch_rolls_back_and_names_both_numbers(lake, warehouse):
    previous = trip_rows(YELLOW, SEPT, 5)
    write_month(lake, YELLOW, SEPT, previous)
    publish(warehouse, YELLOW, SEPT, lake)

    write_month(lake, YELLOW, SEPT, trip_rows(YELLOW, SEPT, 3, seed=9), rows_loaded=4)
    with pytest.raises(CountMismatch, match=r"wrote 4 rows .* inserted 3"):
        publish(warehouse, YELLOW, SEPT, lake)

    assert table_rows(warehouse.path) == as_tuples(YELLOW, previous)


def test_a_failure_after_the_delete_keeps_the_previous_rows(lake, warehouse, monkeypatch):
    previous = trip_rows(YELLOW, SEPT, 5)
    write_month(lake, YELLOW, SEPT, previous)
    publish(warehouse, YELLOW, SEPT, lake)
    write_month(lake, YELLOW, SEPT, trip_rows(YELLOW, SEPT, 6, seed=4))

    # Replace the insert with a statement that fails, reporting how many rows of the month
    # exist at that moment: 0 proves the delete had run inside the transaction.
    def failing_insert(dataset, files):
        return (
            "SELECT error('injected failure; rows of the month now: ' || CAST((SELECT COUNT(*) "
            f"FROM {dataset.table} WHERE source_month = DATE '2024-09-01') AS VARCHAR))"
        )

    monkeypatch.setattr(duckdb_warehouse, "insert_sql", failing_insert)
    with pytest.raises(StatementFailed, match="rows of the month now: 0"):
        publish(warehouse, YELLOW, SEPT, lake)

    assert table_rows(warehouse.path) == as_tuples(YELLOW, previous)


def test_an_unreadable_part_file_keeps_the_previous_rows(lake, warehouse):
    previous = trip_rows(YELLOW, SEPT, 5)
    write_month(lake, YELLOW, SEPT, previous)
    publish(warehouse, YELLOW, SEPT, lake)
    keys = write_month(lake, YELLOW, SEPT, trip_rows(YELLOW, SEPT, 6, seed=4))
    lake.path(PROCESSED, keys[-1]).write_bytes(b"PAR1 truncated by a failed writer PAR1")

    with pytest.raises(StatementFailed, match="failed and was rolled back"):
        publish(warehouse, YELLOW, SEPT, lake)

    assert table_rows(warehouse.path) == as_tuples(YELLOW, previous)


def test_part_files_with_columns_out_of_order_are_refused(lake, warehouse):
    write_month(lake, YELLOW, SEPT, trip_rows(YELLOW, SEPT, 2), parts=1)
    counts_key = _LATEST[("yellow", SEPT)].counts_key
    key = json.loads(lake.read_bytes(PROCESSED, counts_key))["part_files"][0]
    path = lake.path(PROCESSED, key)
    table = pq.read_table(path)
    pq.write_table(table.select(list(reversed(table.column_names))), path)

    with pytest.raises(StatementFailed, match="by position"):
        publish(warehouse, YELLOW, SEPT, lake)


def test_missing_transform_output_is_reported_before_anything_changes(lake, warehouse):
    _LATEST[("yellow", NOV)] = RunKeys(YELLOW, NOV, "never-transformed")
    with pytest.raises(MissingInput, match="no transform output for run never-transformed"):
        publish(warehouse, YELLOW, NOV, lake)
    assert not warehouse.path.exists()


def test_a_listed_part_file_that_is_gone_is_missing_input(lake, warehouse):
    keys = write_month(lake, YELLOW, SEPT, trip_rows(YELLOW, SEPT, 4))
    lake.path(PROCESSED, keys[0]).unlink()

    with pytest.raises(MissingInput, match=keys[0]):
        publish(warehouse, YELLOW, SEPT, lake)


def test_month_counts_newest_first_with_limit_and_datasets_apart(lake, warehouse):
    assert warehouse.month_counts(YELLOW) == []
    for month, n in ((SEPT, 3), (NOV, 1), (OCT, 2)):
        write_month(lake, YELLOW, month, trip_rows(YELLOW, month, n))
        publish(warehouse, YELLOW, month, lake)
    write_month(lake, GREEN, SEPT, trip_rows(GREEN, SEPT, 6))
    publish(warehouse, GREEN, SEPT, lake)

    assert warehouse.month_counts(YELLOW) == [
        MonthCount(NOV, 1, 1),
        MonthCount(OCT, 2, 2),
        MonthCount(SEPT, 3, 3),
    ]
    assert warehouse.month_counts(YELLOW, limit=2) == [MonthCount(NOV, 1, 1), MonthCount(OCT, 2, 2)]
    assert warehouse.month_counts(GREEN) == [MonthCount(SEPT, 6, 6)]


def test_the_publish_step_returns_json_safe_figures_and_a_repeat_changes_nothing(lake, warehouse):
    keys = write_month(lake, YELLOW, SEPT, trip_rows(YELLOW, SEPT, 3))
    run = _LATEST[("yellow", SEPT)]
    record = IngestRecord("https://x/yellow.parquet?sig=1", 10, None, None, 3, 1, "ab" * 32)
    lake.write_bytes("raw", run.ingest_record_key, record.to_json())
    publish_zone_lookup(lake)
    context = StepContext(
        dataset=YELLOW, month=SEPT, lake=lake, run_id=run.run_id, warehouse=warehouse,
        engine="duckdb",
    )  # fmt: skip
    judge(context)

    figures = run_step(context)

    assert json.loads(json.dumps(figures)) == figures
    assert {k: figures[k] for k in figures if k != "seconds"} == {
        "dataset": "yellow",
        "month": "2024-09",
        "already_published": False,
        "rows_deleted": 0,
        "rows_inserted": 3,
        "expected_rows": 3,
        "part_files": keys,
        "taxi_zones": "refreshed",
        "zones": 265,
        "run_id": run.run_id,
        "verdict": "passed",
        "previous_run": None,
        "runs_removed": [],
    }
    (entry,) = warehouse.ledger(YELLOW)
    assert (entry.run_id, entry.source, entry.rows_loaded, entry.rows_replaced) == (
        run.run_id, "https://x/yellow.parquet", 3, 0,
    )  # fmt: skip
    again = run_step(context)
    assert (again["taxi_zones"], again["already_published"]) == ("current", True)
    assert len(warehouse.ledger(YELLOW)) == 1
    assert table_rows(warehouse.path) == as_tuples(YELLOW, trip_rows(YELLOW, SEPT, 3))


_LOAD_IN_ANOTHER_ZONE = """
import sys
from pipeline.warehouse.duckdb import DuckDBWarehouse
from pipeline.contract.datasets import YELLOW
from pipeline.storage.lake import LocalLake
from pipeline.contract.months import Month
from pipeline.contract.layout import RunKeys
from pipeline.contract.ledger import LedgerRow
keys = RunKeys(YELLOW, Month(2024, 9), sys.argv[3])
row = LedgerRow("yellow", "2024-09-01", keys.run_id, "2024-11-01 12:00:00", "duckdb", "x", 1,
                "ab", 3, 3, 0, False, "[]")
DuckDBWarehouse(sys.argv[2]).publish_month(YELLOW, keys.month, LocalLake(sys.argv[1]), keys, row)
"""


def test_utc_adjusted_timestamps_load_unshifted_whatever_the_local_zone(lake, tmp_path):
    # Spark writes TimestampType as parquet timestamps adjusted to UTC; DuckDB reads those as
    # TIMESTAMPTZ and would shift them into the process's zone on the way to TIMESTAMP. The zone
    # is fixed per process, so the load runs in a child process that lives in New York.
    rows = trip_rows(YELLOW, SEPT, 3)
    aware = [
        {**row, "pickup_datetime": row["pickup_datetime"].replace(tzinfo=UTC),
         "dropoff_datetime": row["dropoff_datetime"].replace(tzinfo=UTC)}
        for row in rows
    ]  # fmt: skip
    write_month(lake, YELLOW, SEPT, aware, timestamp=pa.timestamp("us", tz="UTC"))
    path = tmp_path / "warehouse.duckdb"
    env = {**os.environ, "TZ": "America/New_York", "PYTHONPATH": str(ROOT)}

    subprocess.run(
        [sys.executable, "-c", _LOAD_IN_ANOTHER_ZONE, str(lake.root), str(path),
         _LATEST[("yellow", SEPT)].run_id],
        env=env, check=True, cwd=ROOT,
    )  # fmt: skip

    assert table_rows(path) == as_tuples(YELLOW, rows)
    assert table_rows(path)[0][1] == datetime(2024, 9, 1, 0, 0)
    assert table_rows(path)[0][YELLOW.column_names.index("source_month")] == date(2024, 9, 1)


def test_part_files_as_spark_writes_them_load_unchanged(spark, lake, warehouse):
    # Spark's own output: TimestampType (UTC-adjusted parquet), part names with a UUID, and
    # _SUCCESS/.crc files beside them, under the lake's year=/month= folders.
    from pyspark.sql import types as T

    spark_types = {
        ColumnType.INTEGER: T.IntegerType(),
        ColumnType.DOUBLE: T.DoubleType(),
        ColumnType.TIMESTAMP: T.TimestampType(),
        ColumnType.STRING: T.StringType(),
        ColumnType.DATE: T.DateType(),
        ColumnType.BOOLEAN: T.BooleanType(),
    }
    schema = T.StructType(
        [T.StructField(name, spark_types[kind]) for name, kind in YELLOW.table_columns]
    )
    rows = trip_rows(YELLOW, SEPT, 6)
    frame = spark.createDataFrame([tuple(r[n] for n in YELLOW.column_names) for r in rows], schema)
    run = _LATEST[("yellow", SEPT)] = RunKeys(YELLOW, SEPT, "spark-run")
    prefix = run.processed_prefix
    frame.repartition(2).write.mode("overwrite").parquet(str(lake.path(PROCESSED, prefix)))
    parts = [obj.key for obj in lake.list(PROCESSED, prefix) if is_part_file(obj.key)]
    counts = {"dataset": "yellow", "month": "2024-09", "rows_loaded": 6, "part_files": parts}
    lake.write_bytes(PROCESSED, run.counts_key, json.dumps(counts).encode())

    publish(warehouse, YELLOW, SEPT, lake)

    assert table_rows(warehouse.path) == as_tuples(YELLOW, rows)


def test_a_warehouse_locked_by_another_process_is_a_clear_error(lake, tmp_path):
    path = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
         "sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseBusy, match=r"is open in another process \(.*PID \d+"):
            DuckDBWarehouse(path).check_writable()
        # verify opens it read-only: a writer holding it still keeps verify out, as DuckDB says
        with pytest.raises(WarehouseBusy, match="close it"):
            DuckDBWarehouse(path).month_counts(YELLOW)
    finally:
        holder.communicate("")


FIRST_VERSION_DDL = """CREATE TABLE yellow_trips (
  vendor_id INTEGER, pickup_datetime TIMESTAMP, dropoff_datetime TIMESTAMP,
  passenger_count INTEGER, trip_distance DOUBLE, pickup_location_id INTEGER,
  dropoff_location_id INTEGER, payment_type INTEGER, fare_amount DOUBLE, tip_amount DOUBLE,
  total_amount DOUBLE, ratecode_id INTEGER, store_and_fwd_flag VARCHAR, extra DOUBLE,
  mta_tax DOUBLE, tolls_amount DOUBLE, improvement_surcharge DOUBLE,
  congestion_surcharge DOUBLE, airport_fee DOUBLE, cbd_congestion_fee DOUBLE,
  source_month DATE
)"""


def test_a_first_version_table_gains_the_new_columns_and_view_keeping_every_row(lake, warehouse):
    """A warehouse file made the old way (the first version's DDL and rows), then a month
    loaded the new way: every old row and value is kept, its flags are false, the new data
    columns are null there, and the clean view exists."""
    with duckdb.connect(str(warehouse.path)) as connection:
        connection.execute(FIRST_VERSION_DDL)
        for i in range(4):
            connection.execute(
                "INSERT INTO yellow_trips (vendor_id, pickup_datetime, dropoff_datetime, "
                "trip_distance, fare_amount, total_amount, store_and_fwd_flag, source_month) "
                "VALUES (2, TIMESTAMP '2024-08-03 10:00:00' + INTERVAL (?) MINUTE, "
                "TIMESTAMP '2024-08-03 10:30:00', ?, 9.5, 12.0, 'N', DATE '2024-08-01')",
                [i, 1.0 + i],
            )
        old = connection.execute("SELECT * FROM yellow_trips ORDER BY pickup_datetime").fetchall()
    assert [count.clean_rows for count in warehouse.month_counts(YELLOW)] == [None]

    new_rows = trip_rows(YELLOW, SEPT, 3)
    new_rows[0]["flag_non_positive_fare"] = True
    new_rows[0]["fare_amount"] = -4.0
    write_month(lake, YELLOW, SEPT, new_rows, parts=1)
    publish(warehouse, YELLOW, SEPT, lake)

    with duckdb.connect(str(warehouse.path)) as connection:
        kept = connection.execute(
            "SELECT vendor_id, pickup_datetime, dropoff_datetime, passenger_count, "
            "trip_distance, pickup_location_id, dropoff_location_id, payment_type, fare_amount, "
            "tip_amount, total_amount, ratecode_id, store_and_fwd_flag, extra, mta_tax, "
            "tolls_amount, improvement_surcharge, congestion_surcharge, airport_fee, "
            "cbd_congestion_fee, source_month FROM yellow_trips "
            "WHERE source_month = DATE '2024-08-01' ORDER BY pickup_datetime"
        ).fetchall()
        added = connection.execute(
            "SELECT DISTINCT pickup_longitude, dropoff_latitude, flag_non_positive_distance, "
            "flag_non_positive_fare, flag_non_positive_total FROM yellow_trips "
            "WHERE source_month = DATE '2024-08-01'"
        ).fetchall()
        nullable = dict(connection.execute(
            "SELECT column_name, is_nullable FROM information_schema.columns "
            "WHERE table_name = 'yellow_trips' AND column_name LIKE 'flag_%'"
        ).fetchall())  # fmt: skip
        clean = connection.execute(
            "SELECT source_month, count(*) FROM yellow_trips_clean GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert kept == old
    assert added == [(None, None, False, False, False)]
    assert set(nullable.values()) == {"NO"}
    assert clean == [(date(2024, 8, 1), 4), (date(2024, 9, 1), 2)]
    assert warehouse.month_counts(YELLOW) == [
        MonthCount(SEPT, 3, 2),
        MonthCount(Month(2024, 8), 4, 4),
    ]
