"""A month's Redshift load end to end: moto S3 holds the processed zone, botocore's Stubber
plays the Data API (moto's redshift-data has no batch call and never finishes a statement).
The stubs assert the exact requests, including every SQL statement of the batch."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pipeline.contract import ledger as ledger_contract
from pipeline.contract.datasets import YELLOW
from pipeline.contract.errors import CountMismatch, InvalidInput, MissingInput, StatementFailed
from pipeline.contract.layout import PROCESSED, RunKeys
from pipeline.contract.ledger import LedgerRow
from pipeline.contract.months import Month
from pipeline.storage.lake import LocalLake, S3Lake
from pipeline.warehouse.redshift import (
    Polling,
    RedshiftDataApiWarehouse,
    Retries,
    catalog_columns_sql,
    clean_view_columns,
    ledger_row_sql,
    publish_batch,
    run_check_sql,
    schema_batch,
)

SEPT = Month(2024, 9)
PROCESSED_BUCKET = "tlc-elt-dev-processed"  # conftest.s3_lake's
WORKGROUP, DATABASE = "tlc-elt-dev", "dev"
ROLE = "arn:aws:iam::123456789012:role/tlc-elt-dev-redshift-copy"
BATCH = "d9b6c0c9-0747-4bf4-b142-e8883122f766"
CREATED = datetime(2024, 11, 5, 12, 0, tzinfo=UTC)
RUN = "yellow-2024-09-manual-20241105T120000Z"
KEYS = RunKeys(YELLOW, SEPT, RUN)
PREFIX = f"yellow/_runs/year=2024/month=09/{RUN}/"
ROW = LedgerRow(
    dataset="yellow", source_month="2024-09-01", run_id=RUN,
    published_at="2024-11-05 12:00:00", engine="glue-spark",
    source="https://d37ci6vzurychx.cloudfront.net/trip-data/yellow_tripdata_2024-09.parquet",
    source_bytes=51234567, source_sha256="ab" * 32, rows_in=1239, rows_loaded=1234,
    rows_quarantined=5, forced=False, findings="[]",
)  # fmt: skip
PARTS = {
    f"{PREFIX}part-00000-a1.snappy.parquet": 1200,
    f"{PREFIX}part-00001-a1.snappy.parquet": 345,
}

COLUMNS = """  vendor_id INTEGER,
  pickup_datetime TIMESTAMP,
  dropoff_datetime TIMESTAMP,
  passenger_count INTEGER,
  trip_distance DOUBLE PRECISION,
  pickup_location_id INTEGER,
  dropoff_location_id INTEGER,
  payment_type INTEGER,
  fare_amount DOUBLE PRECISION,
  tip_amount DOUBLE PRECISION,
  total_amount DOUBLE PRECISION,
  ratecode_id INTEGER,
  store_and_fwd_flag VARCHAR(64),
  extra DOUBLE PRECISION,
  mta_tax DOUBLE PRECISION,
  tolls_amount DOUBLE PRECISION,
  improvement_surcharge DOUBLE PRECISION,
  congestion_surcharge DOUBLE PRECISION,
  airport_fee DOUBLE PRECISION,
  cbd_congestion_fee DOUBLE PRECISION,
  pickup_longitude DOUBLE PRECISION,
  pickup_latitude DOUBLE PRECISION,
  dropoff_longitude DOUBLE PRECISION,
  dropoff_latitude DOUBLE PRECISION,
  source_month DATE,
  flag_non_positive_distance BOOLEAN NOT NULL,
  flag_non_positive_fare BOOLEAN NOT NULL,
  flag_non_positive_total BOOLEAN NOT NULL"""
NAMES = (
    "vendor_id, pickup_datetime, dropoff_datetime, passenger_count, trip_distance, "
    "pickup_location_id, dropoff_location_id, payment_type, fare_amount, tip_amount, "
    "total_amount, ratecode_id, store_and_fwd_flag, extra, mta_tax, tolls_amount, "
    "improvement_surcharge, congestion_surcharge, airport_fee, cbd_congestion_fee, "
    "pickup_longitude, pickup_latitude, dropoff_longitude, dropoff_latitude, source_month"
)
FLAGS = "flag_non_positive_distance, flag_non_positive_fare, flag_non_positive_total"
# The schema step on an empty warehouse: the table, its view, the grants to both roles.
SCHEMA_SQLS = [
    f"CREATE TABLE IF NOT EXISTS yellow_trips (\n{COLUMNS}\n) "
    "DISTSTYLE AUTO SORTKEY (source_month, pickup_datetime)",
    f"CREATE OR REPLACE VIEW yellow_trips_clean AS SELECT {NAMES} FROM yellow_trips "
    "WHERE NOT flag_non_positive_distance AND NOT flag_non_positive_fare AND "
    "NOT flag_non_positive_total",
    "GRANT SELECT ON yellow_trips, yellow_trips_clean TO ROLE tlc_reader",
    "GRANT ALL ON yellow_trips, yellow_trips_clean TO ROLE tlc_loader",
]
# The batch for yellow 2024-09 with 1,234 rows loaded into a table that is current: the lock,
# the run check, the ledger row (rows_replaced counted before the delete), then the month.
YELLOW_2024_09_SQLS = [
    "LOCK yellow_trips, tlc_elt_loads",
    run_check_sql(YELLOW, SEPT, RUN),
    "INSERT INTO tlc_elt_loads (dataset, source_month, run_id, published_at, engine, source, "
    "source_bytes, source_sha256, rows_in, rows_loaded, rows_quarantined, rows_replaced, forced, "
    f"findings) VALUES ('yellow', CAST('2024-09-01' AS DATE), '{RUN}', "
    "CAST('2024-11-05 12:00:00' AS TIMESTAMP), 'glue-spark', "
    "'https://d37ci6vzurychx.cloudfront.net/trip-data/yellow_tripdata_2024-09.parquet', "
    f"51234567, '{'ab' * 32}', 1239, 1234, 5, "
    "(SELECT COUNT(*) FROM yellow_trips WHERE source_month = '2024-09-01'), false, '[]')",
    "DELETE FROM yellow_trips WHERE source_month = '2024-09-01'",
    "CREATE TEMP TABLE stage_yellow_trips ("
    + ", ".join(line.strip().removesuffix(" NOT NULL") for line in COLUMNS.split(",\n"))
    + ")",
    "COPY stage_yellow_trips FROM "
    f"'s3://tlc-elt-dev-processed/{PREFIX}_copy.manifest' "
    "IAM_ROLE 'arn:aws:iam::123456789012:role/tlc-elt-dev-redshift-copy' "
    "FORMAT AS PARQUET MANIFEST",
    f"INSERT INTO yellow_trips ({NAMES}, {FLAGS}) SELECT {NAMES}, {FLAGS} FROM stage_yellow_trips",
    "SELECT CAST('count mismatch for yellow_trips 2024-09: expected 1234 rows, found ' || "
    "CAST(COUNT(*) AS VARCHAR) AS INTEGER) FROM yellow_trips "
    "WHERE source_month = '2024-09-01' HAVING COUNT(*) <> 1234",
]
STATE_SQL = (
    "SELECT c.relname AS table_name, a.attname AS column_name FROM pg_catalog.pg_attribute a "
    "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND c.relname IN ('yellow_trips', 'yellow_trips_clean', "
    "'tlc_elt_loads', 'tlc_elt_profiles') "
    "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum"
)
STATE_QUERY = "8f4a2c1e-5b6d-4e7f-9a0b-1c2d3e4f5a6b"
SCHEMA = "5e0c1d2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a"
# What Redshift says when a transaction loses to a concurrent one (ERROR 1023).
SERIALIZABLE = (
    "ERROR: 1023 DETAIL: Serializable isolation violation on table - 106893, transactions "
    "forming the cycle are: 2317071, 2317070 (pid:1073987671)"
)
CURRENT = (YELLOW.column_names, clean_view_columns(YELLOW))
LEDGER_NAMES = (
    "dataset", "source_month", "run_id", "published_at", "engine", "source", "source_bytes",
    "source_sha256", "rows_in", "rows_loaded", "rows_quarantined", "rows_replaced", "forced",
    "findings",
)  # fmt: skip
PROFILE_NAMES = ledger_contract.PROFILE_NAMES
LEDGER_SQLS = [
    "CREATE TABLE IF NOT EXISTS tlc_elt_loads (\n"
    + ",\n".join(
        f"  {name} {kind}" for name, kind in (
            ("dataset", "VARCHAR(64) NOT NULL"), ("source_month", "DATE NOT NULL"),
            ("run_id", "VARCHAR(65535) NOT NULL"), ("published_at", "TIMESTAMP NOT NULL"),
            ("engine", "VARCHAR(64) NOT NULL"), ("source", "VARCHAR(65535) NOT NULL"),
            ("source_bytes", "BIGINT NOT NULL"), ("source_sha256", "VARCHAR(64) NOT NULL"),
            ("rows_in", "BIGINT NOT NULL"), ("rows_loaded", "BIGINT NOT NULL"),
            ("rows_quarantined", "BIGINT NOT NULL"), ("rows_replaced", "BIGINT NOT NULL"),
            ("forced", "BOOLEAN NOT NULL"), ("findings", "VARCHAR(65535)"),
        )
    )
    + "\n)",
    "GRANT SELECT ON tlc_elt_loads TO ROLE tlc_reader",
    "GRANT ALL ON tlc_elt_loads TO ROLE tlc_loader",
]  # fmt: skip


@pytest.fixture
def lake(s3_lake):
    return s3_lake


def write_transform_output(lake: S3Lake, parts: dict[str, int], rows_loaded: int) -> None:
    """The run's candidate as transform leaves it: its parts and counts under the run's keys."""
    for key, size in parts.items():
        lake.write_bytes(PROCESSED, key, b"P" * size)
    counts = {"dataset": "yellow", "month": "2024-09", "rows_in": rows_loaded + 5,
              "rows_loaded": rows_loaded, "rows_quarantined": 5, "rejected": {},
              "part_files": sorted(parts)}  # fmt: skip
    lake.write_bytes(PROCESSED, KEYS.counts_key, json.dumps(counts).encode())


def expect_state(
    stubber, table=CURRENT[0], view=CURRENT[1], ledger=LEDGER_NAMES, profiles=PROFILE_NAMES
) -> None:
    """The table's, view's and ledger's columns, read before the schema step (none: not there)."""
    stubber.add_response(
        "execute_statement",
        {"Id": STATE_QUERY, "CreatedAt": CREATED, "WorkgroupName": WORKGROUP,
         "Database": DATABASE},
        {"WorkgroupName": WORKGROUP, "Database": DATABASE, "Sql": STATE_SQL,
         "StatementName": "tlc-elt-schema-state-yellow"},
    )  # fmt: skip
    stubber.add_response(
        "describe_statement",
        {"Id": STATE_QUERY, "Status": "FINISHED", "HasResultSet": True},
        {"Id": STATE_QUERY},
    )
    rows = [("yellow_trips", name) for name in table]
    rows += [("yellow_trips_clean", name) for name in view]
    rows += [("tlc_elt_loads", name) for name in ledger]
    rows += [("tlc_elt_profiles", name) for name in profiles]
    stubber.add_response(
        "get_statement_result",
        {"Records": [[{"stringValue": t}, {"stringValue": c}] for t, c in rows]},
        {"Id": STATE_QUERY},
    )


def expect_schema(stubber, sqls, status="FINISHED", error=None) -> None:
    stubber.add_response(
        "batch_execute_statement",
        {"Id": SCHEMA, "CreatedAt": CREATED, "WorkgroupName": WORKGROUP, "Database": DATABASE},
        {"WorkgroupName": WORKGROUP, "Database": DATABASE, "Sqls": sqls,
         "StatementName": "tlc-elt-schema-yellow"},
    )  # fmt: skip
    subs = [{"Id": f"{SCHEMA}:{i}", "Status": status} for i in range(1, len(sqls) + 1)]
    response = {"Id": SCHEMA, "Status": status, "SubStatements": subs}
    if error:
        subs[0]["Error"] = response["Error"] = error
    stubber.add_response("describe_statement", response, {"Id": SCHEMA})


def expect_month_batch(stubber, sqls) -> None:
    stubber.add_response(
        "batch_execute_statement",
        {"Id": BATCH, "CreatedAt": CREATED, "WorkgroupName": WORKGROUP, "Database": DATABASE},
        {"WorkgroupName": WORKGROUP, "Database": DATABASE, "Sqls": sqls,
         "StatementName": "tlc-elt-load-yellow-2024-09"},
    )  # fmt: skip


def expect_batch(stubber, sqls) -> None:
    """A load into a current table: the state read, no schema step, the month batch."""
    expect_state(stubber)
    expect_month_batch(stubber, sqls)


def sub_statements(statuses, rows=(), errors=None):
    subs = []
    for position, status in enumerate(statuses, 1):
        sub = {"Id": f"{BATCH}:{position}", "Status": status}
        if position <= len(rows):
            sub["ResultRows"] = rows[position - 1]
        if errors and position in errors:
            sub["Error"] = errors[position]
        subs.append(sub)
    return subs


def expect_described(stubber, status, subs, error=None) -> None:
    response = {"Id": BATCH, "Status": status, "SubStatements": subs}
    if error:
        response["Error"] = error
    stubber.add_response("describe_statement", response, {"Id": BATCH})


def warehouse(client, sleeps=None, retries=None):
    record = sleeps.append if sleeps is not None else lambda seconds: None
    return RedshiftDataApiWarehouse(
        WORKGROUP, DATABASE, ROLE, client=client, polling=Polling(), sleep=record,
        retries=retries, draw=lambda: 1.0,
    )  # fmt: skip


def publish(client, lake, sleeps=None, retries=None, keys=KEYS):
    return warehouse(client, sleeps, retries).publish_month(YELLOW, SEPT, lake, keys, ROW)


def test_a_month_loads_in_one_batch_from_an_explicit_manifest(lake, data_api):
    client, stubber = data_api
    write_transform_output(lake, PARTS, 1234)
    expect_batch(stubber, YELLOW_2024_09_SQLS)
    expect_described(
        stubber, "STARTED", sub_statements(["FINISHED"] * 4 + ["STARTED"] + ["SUBMITTED"] * 3)
    )
    rows = (0, 0, 1, 1180, 0, 1234, 1234, 0)
    expect_described(stubber, "FINISHED", sub_statements(["FINISHED"] * 8, rows=rows))
    sleeps: list[float] = []

    result = publish(client, lake, sleeps)

    assert (result.rows_deleted, result.rows_inserted, result.expected_rows) == (1180, 1234, 1234)
    assert result.part_files == tuple(sorted(PARTS))
    assert sleeps == [1]
    manifest = json.loads(lake.read_bytes(PROCESSED, KEYS.copy_manifest_key))
    assert manifest == {
        "entries": [
            {"url": f"s3://{PROCESSED_BUCKET}/{PREFIX}part-00000-a1.snappy.parquet",
             "mandatory": True, "meta": {"content_length": 1200}},
            {"url": f"s3://{PROCESSED_BUCKET}/{PREFIX}part-00001-a1.snappy.parquet",
             "mandatory": True, "meta": {"content_length": 345}},
        ]
    }  # fmt: skip


def test_a_failed_copy_is_a_statement_failure_naming_the_step(lake, data_api):
    client, stubber = data_api
    write_transform_output(lake, PARTS, 1234)
    expect_batch(stubber, YELLOW_2024_09_SQLS)
    error = "ERROR: Spectrum Scan Error. File has an invalid version number"
    expect_described(
        stubber, "FAILED",
        sub_statements(["FINISHED"] * 5 + ["FAILED", "ABORTED", "ABORTED"], errors={6: error}),
        error=error,
    )  # fmt: skip

    with pytest.raises(StatementFailed, match=r"the copy statement failed \(ERROR: Spectrum"):
        publish(client, lake)


def test_a_failed_count_check_is_a_count_mismatch_with_both_numbers(lake, data_api):
    client, stubber = data_api
    write_transform_output(lake, PARTS, 1234)
    expect_batch(stubber, YELLOW_2024_09_SQLS)
    error = (
        'ERROR: invalid input syntax for integer: "count mismatch for yellow_trips 2024-09: '
        'expected 1234 rows, found 1200"'
    )
    expect_described(
        stubber, "FAILED",
        sub_statements(["FINISHED"] * 7 + ["FAILED"], rows=(0, 0, 1, 0, 0, 1200, 1200),
                       errors={8: error}),
        error=error,
    )  # fmt: skip

    with pytest.raises(CountMismatch, match=r"wrote 1234 rows .* inserted 1200; rolled back"):
        publish(client, lake)


def test_a_count_check_error_without_numbers_uses_copys_row_count(lake, data_api):
    client, stubber = data_api
    write_transform_output(lake, PARTS, 1234)
    expect_batch(stubber, YELLOW_2024_09_SQLS)
    error = "ERROR: Invalid digit, Value 'c', Pos 0, Type: Integer"
    expect_described(
        stubber, "FAILED",
        sub_statements(["FINISHED"] * 7 + ["FAILED"], rows=(0, 0, 1, 0, 0, 1199, 1199),
                       errors={8: error}),
    )  # fmt: skip

    with pytest.raises(CountMismatch, match=r"wrote 1234 rows .* inserted 1199"):
        publish(client, lake)


def test_an_aborted_batch_is_a_statement_failure(lake, data_api):
    client, stubber = data_api
    write_transform_output(lake, PARTS, 1234)
    expect_batch(stubber, YELLOW_2024_09_SQLS)
    expect_described(stubber, "ABORTED", sub_statements(["FINISHED"] * 5 + ["ABORTED"] * 3))

    with pytest.raises(StatementFailed, match="the copy statement aborted"):
        publish(client, lake)


def test_a_month_without_loadable_rows_sends_no_copy(lake, data_api):
    client, stubber = data_api
    write_transform_output(lake, {}, 0)
    empty = [*YELLOW_2024_09_SQLS[:4], YELLOW_2024_09_SQLS[-1].replace("1234", "0")]
    expect_batch(stubber, empty)
    expect_described(stubber, "FINISHED", sub_statements(["FINISHED"] * 5, rows=(0, 0, 1, 52, 0)))

    result = publish(client, lake)

    assert (result.rows_deleted, result.rows_inserted, result.part_files) == (52, 0, ())
    assert not lake.exists(PROCESSED, KEYS.copy_manifest_key)


def test_missing_transform_output_fails_before_any_call(lake, data_api):
    client, _ = data_api  # no responses queued: any Data API call would fail the test

    with pytest.raises(MissingInput, match="no transform output for run"):
        publish(client, lake)


def test_a_listed_part_file_missing_from_s3_fails_before_any_call(lake, data_api):
    client, _ = data_api
    write_transform_output(lake, PARTS, 1234)
    lake.s3.delete_object(Bucket=PROCESSED_BUCKET, Key=f"{PREFIX}part-00001-a1.snappy.parquet")

    with pytest.raises(MissingInput, match=r"part-00001-a1\.snappy\.parquet"):
        publish(client, lake)
    assert not lake.exists(PROCESSED, KEYS.copy_manifest_key)


def test_counts_for_another_month_are_refused(lake, data_api):
    client, _ = data_api
    write_transform_output(lake, PARTS, 1234)
    counts = json.loads(lake.read_bytes(PROCESSED, KEYS.counts_key))
    counts["month"] = "2024-08"
    lake.write_bytes(PROCESSED, KEYS.counts_key, json.dumps(counts).encode())

    with pytest.raises(MissingInput, match="not yellow 2024-09"):
        publish(client, lake)


def test_a_local_lake_cannot_feed_redshift(tmp_path, data_api):
    client, _ = data_api
    local = LocalLake(tmp_path)
    local.write_bytes(PROCESSED, f"{PREFIX}part-00000-a1.snappy.parquet", b"P")
    counts = {"dataset": "yellow", "month": "2024-09", "rows_loaded": 1,
              "part_files": [f"{PREFIX}part-00000-a1.snappy.parquet"]}  # fmt: skip
    local.write_bytes(PROCESSED, KEYS.counts_key, json.dumps(counts).encode())

    with pytest.raises(InvalidInput, match="an S3 lake"):
        publish(client, local)


def test_the_batch_builders_give_the_readme_sql():
    manifest = f"s3://{PROCESSED_BUCKET}/{KEYS.copy_manifest_key}"

    batch = publish_batch(YELLOW, SEPT, manifest, ROLE, 1234, ROW)
    assert [s.sql for s in batch] == YELLOW_2024_09_SQLS
    assert YELLOW_2024_09_SQLS[2] == ledger_row_sql(YELLOW, SEPT, ROW)
    assert [s.sql for s in schema_batch(YELLOW, ())] == SCHEMA_SQLS


def test_a_first_version_table_gains_the_new_columns_in_the_schema_step(lake, data_api):
    """The table the first version made has no coordinates nor flags: the schema step adds them
    (flags false on the old rows, which passed every first-version rule) and makes the view
    and the grants, before the month's batch."""
    client, stubber = data_api
    write_transform_output(lake, PARTS, 1234)
    new = ("pickup_longitude", "pickup_latitude", "dropoff_longitude", "dropoff_latitude")
    flags = FLAGS.split(", ")
    first_version = [name for name in YELLOW.column_names if name not in (*new, *flags)]
    added = [f"ALTER TABLE yellow_trips ADD COLUMN {name} DOUBLE PRECISION" for name in new]
    added += [
        f"ALTER TABLE yellow_trips ADD COLUMN {f} BOOLEAN NOT NULL DEFAULT false" for f in flags
    ]
    expect_state(stubber, first_version, ())
    expect_schema(stubber, [*added, *SCHEMA_SQLS[1:]])
    expect_month_batch(stubber, YELLOW_2024_09_SQLS)
    expect_described(stubber, "FINISHED", sub_statements(["FINISHED"] * 8))

    result = publish(client, lake)

    assert result.rows_inserted == 1234


def test_the_first_load_into_an_empty_warehouse_makes_the_table_with_its_grants(lake, data_api):
    client, stubber = data_api
    write_transform_output(lake, PARTS, 1234)
    expect_state(stubber, (), (), ())
    expect_schema(stubber, SCHEMA_SQLS + LEDGER_SQLS)
    expect_month_batch(stubber, YELLOW_2024_09_SQLS)
    expect_described(stubber, "FINISHED", sub_statements(["FINISHED"] * 8))

    assert publish(client, lake).rows_inserted == 1234


def test_concurrent_first_loads_retry_the_schema_step_and_the_month_batch(lake, data_api):
    """A backfill's months start together on an empty warehouse: this load's CREATE loses to
    the other's (ERROR 1023), waits, finds the table made and skips the schema step; its month
    batch then loses once to the other month's DELETE/INSERT and succeeds on the retry."""
    client, stubber = data_api
    write_transform_output(lake, PARTS, 1234)
    expect_state(stubber, (), (), ())
    expect_schema(stubber, SCHEMA_SQLS + LEDGER_SQLS, "FAILED", SERIALIZABLE)
    expect_state(stubber)  # the other load made the table and view: nothing to do
    expect_month_batch(stubber, YELLOW_2024_09_SQLS)
    expect_described(
        stubber, "FAILED",
        sub_statements(["FINISHED"] * 4 + ["FAILED"] + ["ABORTED"] * 3,
                       errors={5: SERIALIZABLE}),
        error=SERIALIZABLE,
    )  # fmt: skip
    expect_month_batch(stubber, YELLOW_2024_09_SQLS)
    expect_described(stubber, "FINISHED", sub_statements(["FINISHED"] * 8, rows=(0, 0, 1, 7)))
    sleeps: list[float] = []

    result = publish(client, lake, sleeps)

    assert (result.rows_deleted, result.rows_inserted) == (7, 1234)
    assert sleeps == [5.0, 5.0]  # one backoff per retried step (jitter drawn at its maximum)


def test_a_busy_data_api_is_retried_too(lake, data_api):
    client, stubber = data_api
    write_transform_output(lake, PARTS, 1234)
    expect_state(stubber)
    stubber.add_client_error(
        "batch_execute_statement",
        service_error_code="ActiveStatementsExceededException",
        service_message="Active statements exceeded the allowed quota.",
    )
    expect_month_batch(stubber, YELLOW_2024_09_SQLS)
    expect_described(stubber, "FINISHED", sub_statements(["FINISHED"] * 8))
    sleeps: list[float] = []

    publish(client, lake, sleeps)

    assert sleeps == [5.0]


def test_retries_are_bounded_and_the_failure_says_so(lake, data_api):
    client, stubber = data_api
    write_transform_output(lake, PARTS, 1234)
    expect_state(stubber)
    for _ in range(3):
        expect_month_batch(stubber, YELLOW_2024_09_SQLS)
        expect_described(
            stubber, "FAILED",
            sub_statements(["FAILED"] + ["ABORTED"] * 7, errors={1: SERIALIZABLE}),
            error=SERIALIZABLE,
        )  # fmt: skip
    sleeps: list[float] = []

    with pytest.raises(StatementFailed) as failed:
        publish(client, lake, sleeps, Retries(attempts=3))

    message = str(failed.value)
    assert "the lock statement failed (ERROR: 1023 DETAIL: Serializable" in message
    assert "still lost to concurrent transactions after 3 attempts" in message
    assert sleeps == [5.0, 10.0]


def test_a_publish_repeated_after_its_commit_is_recognised_and_changes_nothing(lake, data_api):
    """The Glue run timed out while its batch committed, and the month is published again with
    the same run id: the run check fails that batch (rolled back whole), and the result says so
    instead of failing, with no retry."""
    client, stubber = data_api
    write_transform_output(lake, PARTS, 1234)
    expect_batch(stubber, YELLOW_2024_09_SQLS)
    error = (
        'ERROR: invalid input syntax for integer: "already published: run '
        f'{RUN} is yellow 2024-09 as published, ledger rows 1"'
    )
    expect_described(
        stubber, "FAILED", sub_statements(["FINISHED", "FAILED"] + ["ABORTED"] * 6,
                                          errors={2: error}), error=error,
    )  # fmt: skip
    sleeps: list[float] = []

    result = publish(client, lake, sleeps)

    assert result.already_published
    assert (result.rows_deleted, result.rows_inserted, result.expected_rows) == (None, 0, 1234)
    assert result.figures()["already_published"] is True
    assert sleeps == []


def test_another_failure_of_the_run_check_is_not_taken_for_a_repeat(lake, data_api):
    client, stubber = data_api
    write_transform_output(lake, PARTS, 1234)
    expect_batch(stubber, YELLOW_2024_09_SQLS)
    error = "ERROR: permission denied for relation tlc_elt_loads"
    expect_described(
        stubber, "FAILED", sub_statements(["FINISHED", "FAILED"] + ["ABORTED"] * 6,
                                          errors={2: error}), error=error,
    )  # fmt: skip

    with pytest.raises(StatementFailed, match="the ledger check statement failed"):
        publish(client, lake)


def test_a_warehouse_made_before_the_ledger_gets_it_with_its_grants_first(lake, data_api):
    """Upgrade: the tables are current but `tlc_elt_loads` does not exist yet."""
    client, stubber = data_api
    write_transform_output(lake, PARTS, 1234)
    expect_state(stubber, ledger=())
    expect_schema(stubber, LEDGER_SQLS)
    expect_month_batch(stubber, YELLOW_2024_09_SQLS)
    expect_described(stubber, "FINISHED", sub_statements(["FINISHED"] * 8))

    assert publish(client, lake).rows_inserted == 1234


LEDGER_QUERY = "2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091"


def _expect_statement(stubber, sql, name, records, statement_id=LEDGER_QUERY) -> None:
    stubber.add_response(
        "execute_statement",
        {"Id": statement_id, "CreatedAt": CREATED, "WorkgroupName": WORKGROUP,
         "Database": DATABASE},
        {"WorkgroupName": WORKGROUP, "Database": DATABASE, "Sql": sql, "StatementName": name},
    )  # fmt: skip
    stubber.add_response(
        "describe_statement",
        {"Id": statement_id, "Status": "FINISHED", "HasResultSet": True},
        {"Id": statement_id},
    )
    stubber.add_response("get_statement_result", {"Records": records}, {"Id": statement_id})


def test_the_ledger_reads_back_as_entries_newest_first(data_api):
    client, stubber = data_api
    columns_sql = catalog_columns_sql(["tlc_elt_loads"])
    _expect_statement(stubber, columns_sql, "tlc-elt-ledger-columns",
                      [[{"stringValue": "tlc_elt_loads"}, {"stringValue": name}]
                       for name in LEDGER_NAMES])  # fmt: skip
    record = [
        {"stringValue": "yellow"}, {"stringValue": "2024-09-01"}, {"stringValue": RUN},
        {"stringValue": "2024-11-05 12:00:00"}, {"stringValue": "glue-spark"},
        {"stringValue": ROW.source}, {"longValue": 51234567}, {"stringValue": "ab" * 32},
        {"longValue": 1239}, {"longValue": 1234}, {"longValue": 5}, {"longValue": 1180},
        {"booleanValue": True}, {"stringValue": '[{"rule": "quarantine_share"}]'},
    ]  # fmt: skip
    select = (
        f"SELECT {', '.join(LEDGER_NAMES)} FROM tlc_elt_loads WHERE dataset = 'yellow' "
        "ORDER BY published_at DESC, run_id DESC"
    )
    _expect_statement(stubber, select, "tlc-elt-ledger", [record])

    (entry,) = warehouse(client).ledger(YELLOW)

    assert (entry.dataset, entry.month, entry.run_id) == ("yellow", SEPT, RUN)
    assert (entry.rows_loaded, entry.rows_quarantined, entry.rows_replaced) == (1234, 5, 1180)
    assert entry.forced is True
    assert entry.findings == '[{"rule": "quarantine_share"}]'


def test_no_ledger_yet_reads_as_empty(data_api):
    client, stubber = data_api
    _expect_statement(stubber, catalog_columns_sql(["tlc_elt_loads"]), "tlc-elt-ledger-columns", [])

    assert warehouse(client).ledger() == []
