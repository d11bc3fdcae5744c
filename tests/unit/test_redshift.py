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
from pipeline.contract.months import Month
from pipeline.storage.lake import LocalLake
from pipeline.warehouse.base import MonthCount
from pipeline.warehouse.redshift import (
    BatchPart,
    Polling,
    RedshiftDataApiWarehouse,
    count_check_sql,
    load_batch,
    require_workgroup_support,
)

WORKGROUP, DATABASE = "tlc-elt-dev", "dev"
ROLE = "arn:aws:iam::123456789012:role/tlc-elt-dev-redshift-copy"
STATEMENT = "8f4a2c1e-5b6d-4e7f-9a0b-1c2d3e4f5a6b"
CREATED = datetime(2024, 11, 5, 12, 0, tzinfo=UTC)
VERIFY_SQL = (
    "SELECT source_month, COUNT(*) AS row_count FROM yellow_trips "
    "GROUP BY source_month ORDER BY source_month DESC"
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


def record(day: str, rows: int) -> list[dict]:
    return [{"stringValue": day}, {"longValue": rows}]


def test_month_counts_reads_every_page_of_typed_records(stubbed):
    client, stubber = stubbed
    expect_verify(stubber)
    expect_status(stubber, "FINISHED", HasResultSet=True, ResultRows=3)
    stubber.add_response(
        "get_statement_result",
        {"Records": [record("2024-11-01", 3_646_369), record("2024-10-01", 3_833_771)],
         "TotalNumRows": 3, "NextToken": "page-2"},
        {"Id": STATEMENT},
    )  # fmt: skip
    stubber.add_response(
        "get_statement_result",
        {"Records": [record("2024-09-01", 3_633_030)], "TotalNumRows": 3},
        {"Id": STATEMENT, "NextToken": "page-2"},
    )

    counts = make_warehouse(client, FakeTime()).month_counts(YELLOW)

    assert counts == [
        MonthCount(Month(2024, 11), 3_646_369),
        MonthCount(Month(2024, 10), 3_833_771),
        MonthCount(Month(2024, 9), 3_633_030),
    ]


def test_month_counts_limit_is_in_the_query(stubbed):
    client, stubber = stubbed
    expect_verify(
        stubber, VERIFY_SQL.replace("yellow", "green") + " LIMIT 10", "tlc-elt-verify-green"
    )
    expect_status(stubber, "FINISHED", HasResultSet=True)
    stubber.add_response("get_statement_result", {"Records": []}, {"Id": STATEMENT})

    assert make_warehouse(client, FakeTime()).month_counts(GREEN, limit=10) == []


def test_month_counts_before_any_load_is_empty_and_needs_no_copy_role(stubbed):
    client, stubber = stubbed
    expect_verify(stubber)
    expect_status(stubber, "FAILED", Error='ERROR: relation "public.yellow_trips" does not exist')
    verify_only = RedshiftDataApiWarehouse(WORKGROUP, DATABASE, client=client)

    assert verify_only.month_counts(YELLOW) == []


def test_loading_without_a_copy_role_is_refused_before_any_call(stubbed, tmp_path):
    client, _ = stubbed  # nothing queued: a Data API call would fail the test
    verify_only = RedshiftDataApiWarehouse(WORKGROUP, DATABASE, client=client)

    with pytest.raises(InvalidInput, match="copy role ARN"):
        verify_only.replace_month(YELLOW, Month(2024, 9), LocalLake(tmp_path))


def test_month_counts_other_failures_raise_with_the_error(stubbed):
    client, stubber = stubbed
    expect_verify(stubber)
    expect_status(stubber, "FAILED", Error="ERROR: permission denied for relation yellow_trips")

    with pytest.raises(StatementFailed, match="permission denied"):
        make_warehouse(client, FakeTime()).month_counts(YELLOW)


def test_polling_backs_off_from_1s_doubling_to_10s(stubbed):
    client, stubber = stubbed
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


def test_load_batch_without_part_files_only_deletes_and_checks_for_zero():
    statements = load_batch(YELLOW, Month(2024, 9), None, ROLE, 0)

    assert [s.part for s in statements] == [
        BatchPart.CREATE_TABLE,
        BatchPart.DELETE_MONTH,
        BatchPart.COUNT_CHECK,
    ]
    assert statements[-1].sql.endswith("HAVING COUNT(*) <> 0")


def test_green_table_ddl_follows_its_dataset():
    create = load_batch(GREEN, Month(2024, 9), None, ROLE, 0)[0].sql

    assert create.startswith("CREATE TABLE IF NOT EXISTS green_trips (\n  vendor_id INTEGER,")
    assert "  ehail_fee DOUBLE PRECISION,\n  trip_type INTEGER,\n  source_month DATE\n)" in create
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
