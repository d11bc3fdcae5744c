"""RedshiftDataApiWarehouse's Data API handling with botocore's Stubber: polling, deadline,
verify results, settings, and the boto3-too-old check. (The load itself, which writes a COPY
manifest to S3, is in tests/integration/test_redshift_load.py.)"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import botocore
import botocore.session
import pytest
from botocore.stub import Stubber

from pipeline.contract.datasets import GREEN, YELLOW
from pipeline.contract.errors import InvalidInput, PipelineError, StatementFailed
from pipeline.contract.layout import RunKeys
from pipeline.contract.ledger import LedgerRow
from pipeline.contract.months import Month
from pipeline.storage.lake import LocalLake
from pipeline.warehouse.base import MonthCount
from pipeline.warehouse.redshift import (
    BatchPart,
    NoAccess,
    Polling,
    RedshiftDataApiWarehouse,
    catalog_columns_sql,
    clean_view_columns,
    count_check_sql,
    publish_batch,
    require_workgroup_support,
    run_check_sql,
    schema_batch,
    schema_state_sql,
)

WORKGROUP, DATABASE = "tlc-elt-dev", "dev"
ROLE = "arn:aws:iam::123456789012:role/tlc-elt-dev-redshift-copy"
STATEMENT = "8f4a2c1e-5b6d-4e7f-9a0b-1c2d3e4f5a6b"
CREATED = datetime(2024, 11, 5, 12, 0, tzinfo=UTC)
CLEAN = (
    "SUM(CASE WHEN NOT flag_non_positive_distance AND NOT flag_non_positive_fare AND "
    "NOT flag_non_positive_total THEN 1 ELSE 0 END)"
)
VERIFY_SQL = (
    f"SELECT source_month, COUNT(*) AS row_count, {CLEAN} AS clean_count FROM yellow_trips "
    "GROUP BY source_month ORDER BY source_month DESC"
)
COLUMNS_SQL = (
    "SELECT c.relname AS table_name, a.attname AS column_name FROM pg_catalog.pg_attribute a "
    "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND c.relname IN ('yellow_trips') "
    "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum"
)


def data_api_client():
    return boto3.client(
        "redshift-data",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def stubbed():
    client = data_api_client()
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def make_warehouse(client, time: FakeTime, polling: Polling | None = None):
    return RedshiftDataApiWarehouse(
        WORKGROUP, DATABASE, ROLE, client=client, polling=polling, sleep=time.sleep,
        clock=time.clock,
    )  # fmt: skip


def expect_verify(stubber, sql=VERIFY_SQL, name="tlc-elt-verify-yellow"):
    stubber.add_response(
        "execute_statement",
        {"Id": STATEMENT, "CreatedAt": CREATED, "WorkgroupName": WORKGROUP, "Database": DATABASE},
        {"WorkgroupName": WORKGROUP, "Database": DATABASE, "Sql": sql, "StatementName": name},
    )


def expect_status(stubber, status, **extra):
    stubber.add_response(
        "describe_statement", {"Id": STATEMENT, "Status": status, **extra}, {"Id": STATEMENT}
    )


def expect_columns(stubber, columns, dataset="yellow"):
    """The table's columns, read before a verify or a load (none: no table yet)."""
    expect_verify(stubber, COLUMNS_SQL.replace("yellow", dataset), f"tlc-elt-columns-{dataset}")
    expect_status(stubber, "FINISHED", HasResultSet=True, ResultRows=len(columns))
    stubber.add_response(
        "get_statement_result",
        {
            "Records": [
                [{"stringValue": f"{dataset}_trips"}, {"stringValue": name}] for name in columns
            ],
            "TotalNumRows": len(columns),
        },
        {"Id": STATEMENT},
    )


def record(day: str, rows: int, clean: int | None = None) -> list[dict]:
    clean_field = {"isNull": True} if clean is None else {"longValue": clean}
    return [{"stringValue": day}, {"longValue": rows}, clean_field]


def test_month_counts_reads_every_page_of_typed_records(stubbed):
    client, stubber = stubbed
    expect_columns(stubber, YELLOW.column_names)
    expect_verify(stubber)
    expect_status(stubber, "FINISHED", HasResultSet=True, ResultRows=3)
    stubber.add_response(
        "get_statement_result",
        {"Records": [record("2024-11-01", 3_646_369, 3_500_000),
                     record("2024-10-01", 3_833_771, 3_700_001)],
         "TotalNumRows": 3, "NextToken": "page-2"},
        {"Id": STATEMENT},
    )  # fmt: skip
    stubber.add_response(
        "get_statement_result",
        {"Records": [record("2024-09-01", 3_633_030, 3_633_030)], "TotalNumRows": 3},
        {"Id": STATEMENT, "NextToken": "page-2"},
    )

    counts = make_warehouse(client, FakeTime()).month_counts(YELLOW)

    assert counts == [
        MonthCount(Month(2024, 11), 3_646_369, 3_500_000),
        MonthCount(Month(2024, 10), 3_833_771, 3_700_001),
        MonthCount(Month(2024, 9), 3_633_030, 3_633_030),
    ]


def test_month_counts_of_a_first_version_table_count_no_clean_rows(stubbed):
    """A table the first version made (no flags yet, no load since): rows only, no failure."""
    client, stubber = stubbed
    flags = {flag.name for flag in YELLOW.flags}
    expect_columns(stubber, [name for name in YELLOW.column_names if name not in flags])
    expect_verify(stubber, VERIFY_SQL.replace(CLEAN, "NULL"))
    expect_status(stubber, "FINISHED", HasResultSet=True, ResultRows=1)
    stubber.add_response(
        "get_statement_result", {"Records": [record("2024-09-01", 7)]}, {"Id": STATEMENT}
    )

    counts = make_warehouse(client, FakeTime()).month_counts(YELLOW)

    assert counts == [MonthCount(Month(2024, 9), 7, None)]


def test_month_counts_limit_is_in_the_query(stubbed):
    client, stubber = stubbed
    expect_columns(stubber, GREEN.column_names, "green")
    expect_verify(
        stubber, VERIFY_SQL.replace("yellow", "green") + " LIMIT 10", "tlc-elt-verify-green"
    )
    expect_status(stubber, "FINISHED", HasResultSet=True)
    stubber.add_response("get_statement_result", {"Records": []}, {"Id": STATEMENT})

    assert make_warehouse(client, FakeTime()).month_counts(GREEN, limit=10) == []


def test_month_counts_before_any_load_is_empty_and_needs_no_copy_role(stubbed):
    client, stubber = stubbed
    expect_columns(stubber, [])  # no table: the verify query is not even sent
    verify_only = RedshiftDataApiWarehouse(WORKGROUP, DATABASE, client=client)

    assert verify_only.month_counts(YELLOW) == []


def test_loading_without_a_copy_role_is_refused_before_any_call(stubbed, tmp_path):
    client, _ = stubbed  # nothing queued: a Data API call would fail the test
    verify_only = RedshiftDataApiWarehouse(WORKGROUP, DATABASE, client=client)

    with pytest.raises(InvalidInput, match="copy role ARN"):
        verify_only.publish_month(
            YELLOW, Month(2024, 9), LocalLake(tmp_path), RunKeys(YELLOW, Month(2024, 9), RUN), ROW
        )


def test_month_counts_other_failures_raise_with_the_error(stubbed):
    client, stubber = stubbed
    expect_columns(stubber, YELLOW.column_names)
    expect_verify(stubber)
    expect_status(stubber, "FAILED", Error="ERROR: permission denied for relation yellow_trips")

    with pytest.raises(StatementFailed, match="permission denied"):
        make_warehouse(client, FakeTime()).month_counts(YELLOW)


def test_polling_backs_off_from_1s_doubling_to_10s(stubbed):
    client, stubber = stubbed
    expect_columns(stubber, YELLOW.column_names)
    expect_verify(stubber)
    for status in ("SUBMITTED", "PICKED", "STARTED", "STARTED", "STARTED", "STARTED"):
        expect_status(stubber, status)
    expect_status(stubber, "FINISHED", HasResultSet=True)
    stubber.add_response("get_statement_result", {"Records": []}, {"Id": STATEMENT})
    time = FakeTime()

    make_warehouse(client, time).month_counts(YELLOW)

    assert time.sleeps == [1, 2, 4, 8, 10, 10]


def test_the_deadline_cancels_the_statement(stubbed):
    client, stubber = stubbed
    expect_columns(stubber, YELLOW.column_names)
    expect_verify(stubber)
    for _ in range(6):
        expect_status(stubber, "STARTED")
    stubber.add_response("cancel_statement", {"Status": True}, {"Id": STATEMENT})
    time = FakeTime()
    warehouse = make_warehouse(client, time, Polling(deadline=25))

    with pytest.raises(StatementFailed, match=r"did not finish within 25 s: cancelled"):
        warehouse.month_counts(YELLOW)
    assert time.sleeps == [1, 2, 4, 8, 10]


def test_a_refused_request_is_a_statement_failure(stubbed):
    client, stubber = stubbed
    stubber.add_client_error(
        "execute_statement",
        service_error_code="ActiveStatementsExceededException",
        service_message="Active statements exceeded the allowed quota.",
    )

    with pytest.raises(StatementFailed, match="Active statements exceeded"):
        make_warehouse(client, FakeTime()).month_counts(YELLOW)


def test_a_status_read_refused_while_polling_is_a_statement_failure_naming_it(stubbed):
    client, stubber = stubbed
    expect_columns(stubber, YELLOW.column_names)
    expect_verify(stubber)
    expect_status(stubber, "STARTED")
    stubber.add_client_error(
        "describe_statement",
        service_error_code="ThrottlingException",
        service_message="Rate exceeded",
        expected_params={"Id": STATEMENT},
    )
    time = FakeTime()

    with pytest.raises(StatementFailed) as raised:
        make_warehouse(client, time).month_counts(YELLOW)

    message = str(raised.value)
    assert message.startswith(
        f"reading the status of tlc-elt-verify-yellow ({STATEMENT}) failed: "
        "ThrottlingException: Rate exceeded; the statement may still be running"
    )
    assert f"describe-statement --id {STATEMENT}" in message
    assert time.sleeps == [1]  # it failed on the second poll, after one wait


RUN = "yellow-2024-09-manual-20241105T120000Z"
ROW = LedgerRow(
    dataset="yellow", source_month="2024-09-01", run_id=RUN,
    published_at="2024-11-05 12:00:00", engine="glue-spark",
    source="https://d37ci6vzurychx.cloudfront.net/trip-data/yellow_tripdata_2024-09.parquet",
    source_bytes=1000, source_sha256="ab" * 32, rows_in=6, rows_loaded=5, rows_quarantined=1,
    forced=False, findings="[]",
)  # fmt: skip
# Before anything else: the LOCK that serialises two publishes of the table, then the run check,
# then the ledger row counting what the month held before the delete.
HEAD = [BatchPart.LOCK, BatchPart.RUN_CHECK, BatchPart.LEDGER_ROW, BatchPart.DELETE_MONTH]


def test_a_publish_without_part_files_locks_records_deletes_and_checks_for_zero():
    statements = publish_batch(YELLOW, Month(2024, 9), None, ROLE, 0, ROW)

    assert [s.part for s in statements] == [*HEAD, BatchPart.COUNT_CHECK]
    assert statements[-1].sql.endswith("HAVING COUNT(*) <> 0")


def test_the_publish_batch_locks_first_then_checks_the_run_then_writes_the_ledger_row():
    manifest = "s3://processed/yellow/_runs/year=2024/month=09/r1/_copy.manifest"
    statements = publish_batch(YELLOW, Month(2024, 9), manifest, ROLE, 5, ROW)
    by_part = {s.part: s.sql for s in statements}

    assert [s.part for s in statements] == [
        *HEAD, BatchPart.STAGE, BatchPart.COPY, BatchPart.INSERT, BatchPart.COUNT_CHECK,
    ]  # fmt: skip
    assert statements[0].sql == "LOCK yellow_trips, tlc_elt_loads"
    assert by_part[BatchPart.RUN_CHECK] == run_check_sql(YELLOW, Month(2024, 9), RUN)
    ledger_row = by_part[BatchPart.LEDGER_ROW]
    assert ledger_row.startswith("INSERT INTO tlc_elt_loads (dataset, source_month, run_id, ")
    # rows_replaced: the month's rows now, counted in the transaction before its delete.
    assert (
        "5, 1, (SELECT COUNT(*) FROM yellow_trips WHERE source_month = '2024-09-01'), false, "
        "'[]')" in ledger_row
    )
    names = ", ".join(YELLOW.column_names)
    assert by_part[BatchPart.STAGE].startswith("CREATE TEMP TABLE stage_yellow_trips (vendor_id")
    assert by_part[BatchPart.COPY].startswith(f"COPY stage_yellow_trips FROM '{manifest}'")
    assert by_part[BatchPart.INSERT] == (
        f"INSERT INTO yellow_trips ({names}) SELECT {names} FROM stage_yellow_trips"
    )
    # Concurrent months touch only rows: no statement that changes the catalog.
    assert not [s for s in statements if s.sql.startswith(("CREATE TABLE", "ALTER", "CREATE OR"))]


def test_the_run_check_fails_only_when_the_run_is_the_months_newest_ledger_row():
    sql = run_check_sql(YELLOW, Month(2024, 9), RUN)

    assert sql == (
        f"SELECT CAST('already published: run {RUN} is yellow 2024-09 as published, ledger rows "
        "' || CAST(COUNT(*) AS VARCHAR) AS INTEGER) FROM tlc_elt_loads WHERE dataset = 'yellow' "
        f"AND source_month = '2024-09-01' AND run_id = '{RUN}' AND published_at = (SELECT "
        "MAX(published_at) FROM tlc_elt_loads WHERE dataset = 'yellow' AND source_month = "
        "'2024-09-01') HAVING COUNT(*) > 0"
    )


GRANTS = [
    "GRANT SELECT ON yellow_trips, yellow_trips_clean TO ROLE tlc_reader",
    "GRANT ALL ON yellow_trips, yellow_trips_clean TO ROLE tlc_loader",
]


def test_the_schema_step_creates_the_table_and_view_and_grants_both_roles():
    statements = schema_batch(YELLOW, ())

    assert [s.part for s in statements] == [
        BatchPart.CREATE_TABLE, BatchPart.CLEAN_VIEW, BatchPart.GRANT, BatchPart.GRANT,
    ]  # fmt: skip
    assert [s.sql for s in statements[2:]] == GRANTS


def test_the_schema_step_brings_a_first_version_table_to_the_new_columns():
    new = {"pickup_longitude", "pickup_latitude", "dropoff_longitude", "dropoff_latitude"}
    new |= {flag.name for flag in YELLOW.flags}
    first_version = tuple(name for name in YELLOW.column_names if name not in new)
    statements = schema_batch(YELLOW, first_version)
    added = [s.sql for s in statements if s.part is BatchPart.ADD_COLUMN]

    assert BatchPart.CREATE_TABLE not in {s.part for s in statements}
    assert added == [
        "ALTER TABLE yellow_trips ADD COLUMN pickup_longitude DOUBLE PRECISION",
        "ALTER TABLE yellow_trips ADD COLUMN pickup_latitude DOUBLE PRECISION",
        "ALTER TABLE yellow_trips ADD COLUMN dropoff_longitude DOUBLE PRECISION",
        "ALTER TABLE yellow_trips ADD COLUMN dropoff_latitude DOUBLE PRECISION",
        *(
            f"ALTER TABLE yellow_trips ADD COLUMN {flag.name} BOOLEAN NOT NULL DEFAULT false"
            for flag in YELLOW.flags
        ),
    ]
    assert [s.part for s in statements][-3:] == [
        BatchPart.CLEAN_VIEW, BatchPart.GRANT, BatchPart.GRANT,
    ]  # fmt: skip


def test_a_missing_ledger_is_created_and_granted_by_the_schema_step():
    view = clean_view_columns(YELLOW)
    statements = schema_batch(YELLOW, YELLOW.column_names, view, ())

    assert [s.part for s in statements] == [BatchPart.CREATE_LEDGER, BatchPart.GRANT,
                                            BatchPart.GRANT]  # fmt: skip
    assert statements[0].sql.startswith("CREATE TABLE IF NOT EXISTS tlc_elt_loads (\n")
    assert statements[0].sql.endswith("  findings VARCHAR(65535)\n)")
    assert [s.sql for s in statements[1:]] == [
        "GRANT SELECT ON tlc_elt_loads TO ROLE tlc_reader",
        "GRANT ALL ON tlc_elt_loads TO ROLE tlc_loader",
    ]


def test_a_current_table_and_view_need_no_schema_step_a_stale_view_is_replaced():
    view = clean_view_columns(YELLOW)
    assert schema_batch(YELLOW, YELLOW.column_names, view) == []
    stale = schema_batch(YELLOW, YELLOW.column_names, view[:-1])
    assert [s.part for s in stale] == [BatchPart.CLEAN_VIEW, BatchPart.GRANT, BatchPart.GRANT]
    missing = schema_batch(YELLOW, YELLOW.column_names, ())
    assert [s.part for s in missing] == [BatchPart.CLEAN_VIEW, BatchPart.GRANT, BatchPart.GRANT]


def test_the_clean_view_is_every_column_but_the_flags_of_the_unflagged_rows():
    view = {s.part: s.sql for s in schema_batch(YELLOW, ())}
    sql = view[BatchPart.CLEAN_VIEW]

    assert sql.startswith("CREATE OR REPLACE VIEW yellow_trips_clean AS SELECT vendor_id, ")
    assert "source_month FROM yellow_trips WHERE NOT flag_non_positive_distance AND" in sql
    assert "flag_non_positive_fare," not in sql


def test_green_table_ddl_follows_its_dataset():
    create = schema_batch(GREEN, ())[0].sql

    assert create.startswith("CREATE TABLE IF NOT EXISTS green_trips (\n  vendor_id INTEGER,")
    assert "  ehail_fee DOUBLE PRECISION,\n  trip_type INTEGER,\n  source_month DATE,\n" in create
    assert "  flag_non_positive_total BOOLEAN NOT NULL\n)" in create
    assert "airport_fee" not in create


def test_count_check_is_not_a_constant():
    # A constant CAST('text' AS INTEGER) could be folded, and fail, before HAVING filters it out.
    sql = count_check_sql(YELLOW, Month(2024, 9), 42)

    assert "|| CAST(COUNT(*) AS VARCHAR)" in sql
    assert "expected 42 rows" in sql


@pytest.mark.parametrize(
    ("workgroup", "database", "role"),
    [("", DATABASE, ROLE), (WORKGROUP, " ", ROLE), (WORKGROUP, DATABASE, "tlc-elt-copy-role")],
)
def test_settings_are_checked_before_a_client_is_made(monkeypatch, workgroup, database, role):
    def no_client(*args, **kwargs):
        raise AssertionError("a client was created before the settings were checked")

    monkeypatch.setattr(boto3, "client", no_client)
    with pytest.raises(InvalidInput):
        RedshiftDataApiWarehouse(workgroup, database, role)


def old_botocore_client(tmp_path: Path):
    """A redshift-data client from the service model as it was before June 2022."""
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    model = loader.load_service_model("redshift-data", "service-2")
    for shape in ("BatchExecuteStatementInput", "ExecuteStatementInput"):
        model["shapes"][shape]["members"].pop("WorkgroupName")
    folder = tmp_path / "redshift-data" / model["metadata"]["apiVersion"]
    folder.mkdir(parents=True)
    (folder / "service-2.json.gz").write_bytes(gzip.compress(json.dumps(model).encode()))
    loader.search_paths.insert(0, str(tmp_path))
    return session.create_client(
        "redshift-data", region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


def test_a_botocore_without_workgroup_names_the_upgrade(tmp_path):
    client = old_botocore_client(tmp_path)

    with pytest.raises(PipelineError, match="--additional-python-modules") as raised:
        RedshiftDataApiWarehouse(WORKGROUP, DATABASE, ROLE, client=client)
    assert botocore.__version__ in str(raised.value)
    require_workgroup_support(data_api_client())  # today's botocore passes


def test_a_result_read_refused_is_a_statement_failure_naming_it(stubbed):
    client, stubber = stubbed
    expect_columns(stubber, YELLOW.column_names)
    expect_verify(stubber)
    expect_status(stubber, "FINISHED", HasResultSet=True)
    stubber.add_response(
        "get_statement_result",
        {"Records": [[{"stringValue": "2024-09-01"}, {"longValue": 7}]], "NextToken": "page-2"},
        {"Id": STATEMENT},
    )
    stubber.add_client_error(
        "get_statement_result",
        service_error_code="ResourceNotFoundException",
        service_message="Query has expired",
        expected_params={"Id": STATEMENT, "NextToken": "page-2"},
    )

    with pytest.raises(StatementFailed) as raised:
        make_warehouse(client, FakeTime()).month_counts(YELLOW)

    message = str(raised.value)
    assert f"reading the result of statement {STATEMENT} failed" in message
    assert "ResourceNotFoundException: Query has expired" in message
    stubber.assert_no_pending_responses()


def test_column_lookups_read_the_catalog_not_information_schema():
    """information_schema.columns hides a table the user reads only through a database role:
    the reader would see "nothing loaded" where there are months it may not read."""
    assert "information_schema" not in COLUMNS_SQL
    assert "information_schema" not in schema_state_sql(YELLOW)
    assert schema_state_sql(YELLOW) == catalog_columns_sql(
        ["yellow_trips", "yellow_trips_clean", "tlc_elt_loads", "tlc_elt_profiles"]
    )


def test_verify_without_the_right_to_read_says_no_access_not_nothing_loaded(stubbed):
    client, stubber = stubbed
    expect_columns(stubber, YELLOW.column_names)  # the catalog lists it, whoever asks
    expect_verify(stubber)
    expect_status(stubber, "FAILED", Error="ERROR: permission denied for relation yellow_trips")

    with pytest.raises(NoAccess) as refused:
        make_warehouse(client, FakeTime()).month_counts(YELLOW)
    message = str(refused.value)
    assert message.startswith("no access: yellow_trips exists in dev, but this identity may not")
    assert "reader role (readerRoleArn)" in message
    assert "RedshiftDbRoles=tlc_reader" in message


def test_the_months_profile_rows_are_written_in_the_publish_transaction_replacing_the_runs():
    rows = [{"dataset": "yellow", "source_month": "2024-09", "run_id": RUN,
             "column_name": "fare_amount", "null_count": 3, "min_value": "0.0",
             "max_value": "90.5", "sum_value": 1234.5, "rows_profiled": 5}]  # fmt: skip
    statements = publish_batch(YELLOW, Month(2024, 9), None, ROLE, 5, ROW, rows)

    assert [s.part for s in statements][-2:] == [BatchPart.PROFILE, BatchPart.PROFILE]
    delete, insert = (s.sql for s in statements[-2:])
    assert delete == (
        "DELETE FROM tlc_elt_profiles WHERE dataset = 'yellow' AND source_month = "
        f"CAST('2024-09-01' AS DATE) AND run_id = '{RUN}'"
    )
    assert insert.startswith(
        "INSERT INTO tlc_elt_profiles (dataset, source_month, run_id, column_name, null_count, "
        "min_value, max_value, sum_value, rows_profiled) VALUES\n"
    )
    assert insert.endswith(
        f"('yellow', CAST('2024-09-01' AS DATE), '{RUN}', 'fare_amount', 3, '0.0', '90.5', "
        "1234.5, 5)"
    )
    # No profile (counts written before profiles existed): nothing about it in the batch.
    without = publish_batch(YELLOW, Month(2024, 9), None, ROLE, 5, ROW)
    assert BatchPart.PROFILE not in [s.part for s in without]


def test_the_schema_step_makes_a_missing_profiles_table_and_grants_it():
    statements = schema_batch(YELLOW, YELLOW.column_names, clean_view_columns(YELLOW),
                              profile_columns=())  # fmt: skip
    sqls = [s.sql for s in statements]
    assert sqls[0].startswith("CREATE TABLE IF NOT EXISTS tlc_elt_profiles (\n  dataset VARCHAR")
    assert "GRANT SELECT ON tlc_elt_profiles TO ROLE tlc_reader" in sqls
    assert "GRANT ALL ON tlc_elt_profiles TO ROLE tlc_loader" in sqls


def test_a_read_query_gives_rows_named_by_the_result_metadata_across_pages(stubbed):
    client, stubber = stubbed
    sql = "SELECT dataset, source_month, trips, revenue FROM x"
    expect_verify(stubber, sql, "tlc-elt-read")
    expect_status(stubber, "FINISHED", HasResultSet=True, ResultRows=2)
    metadata = [{"name": name} for name in ("dataset", "source_month", "trips", "revenue")]
    first = [{"stringValue": "yellow"}, {"stringValue": "2024-09-01"}, {"longValue": 7},
             {"doubleValue": 120.5}]  # fmt: skip
    second = [{"stringValue": "fhv"}, {"stringValue": "2024-09-01"}, {"longValue": 3},
              {"isNull": True}]  # fmt: skip
    stubber.add_response("get_statement_result",
                         {"Records": [first], "ColumnMetadata": metadata, "NextToken": "t"},
                         {"Id": STATEMENT})  # fmt: skip
    stubber.add_response("get_statement_result", {"Records": [second]},
                         {"Id": STATEMENT, "NextToken": "t"})  # fmt: skip

    rows = make_warehouse(client, FakeTime()).rows(sql)

    assert rows == [
        {"dataset": "yellow", "source_month": "2024-09-01", "trips": 7, "revenue": 120.5},
        {"dataset": "fhv", "source_month": "2024-09-01", "trips": 3, "revenue": None},
    ]


def test_a_read_query_without_the_right_to_read_says_no_access(stubbed):
    client, stubber = stubbed
    expect_verify(stubber, "SELECT 1 FROM tlc_elt_loads", "tlc-elt-read")
    expect_status(stubber, "FAILED", Error="ERROR: permission denied for relation tlc_elt_loads")

    with pytest.raises(NoAccess, match=r"no access: .*reader role"):
        make_warehouse(client, FakeTime()).rows("SELECT 1 FROM tlc_elt_loads")
