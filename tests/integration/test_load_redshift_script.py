"""scripts/load_redshift.py as Glue runs it (the PublishMonth step): arguments in, figures out.

S3 and Glue are moto; the Data API is botocore's Stubber (moto's has no batch call)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber
from glue_tables import create_tables
from moto import mock_aws

from pipeline.contract.audit import REFUSE, AuditResult, Finding
from pipeline.contract.datasets import YELLOW
from pipeline.contract.errors import InvalidInput, MonthRefused
from pipeline.contract.ingest_record import IngestRecord
from pipeline.contract.layout import RunKeys, published_key, taxi_zones_key
from pipeline.contract.months import Month
from pipeline.contract.publication import Publication
from pipeline.contract.zones import ZONE_LOOKUP

PROCESSED_BUCKET = "tlc-elt-dev-processed"
RUN = "yellow-2024-09-manual-20241105T120000Z"
KEYS = RunKeys(YELLOW, Month(2024, 9), RUN)
PART = f"{KEYS.processed_prefix}part-00000-z.snappy.parquet"
BATCH = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
GLUE_DATABASE = "tlc_elt_test"  # glue_tables' database
ARGV = [
    "load_redshift.py",
    "--JOB_ID", "j_0123",  # Glue's own arguments come along and are ignored
    "--dataset", "yellow", "--year", "2024", "--month", "9", "--run_id", RUN,
    "--raw_bucket", "tlc-elt-dev-raw", "--processed_bucket", "tlc-elt-dev-processed",
    "--workgroup", "tlc-elt-dev", "--database", "dev",
    "--copy_role_arn", "arn:aws:iam::123456789012:role/tlc-elt-dev-redshift-copy",
    "--glue_database", GLUE_DATABASE,
]  # fmt: skip


@pytest.fixture(scope="module")
def script(glue_script):
    return glue_script("load_redshift")


@pytest.fixture
def aws(monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="tlc-elt-dev-raw")
        s3.create_bucket(Bucket="tlc-elt-dev-processed")
        create_tables(boto3.client("glue"), bucket=PROCESSED_BUCKET)
        yield s3


def write_candidate(s3, findings=(), forced=False) -> None:
    """The run as ingest, transform and the audit leave it."""
    s3.put_object(Bucket=PROCESSED_BUCKET, Key=PART, Body=b"P" * 10)
    counts = {"dataset": "yellow", "month": "2024-09", "rows_in": 8, "rows_loaded": 7,
              "rows_quarantined": 1, "part_files": [PART]}  # fmt: skip
    s3.put_object(Bucket=PROCESSED_BUCKET, Key=KEYS.counts_key, Body=json.dumps(counts).encode())
    verdict = AuditResult("yellow", "2024-09", RUN, tuple(findings), forced)
    s3.put_object(Bucket=PROCESSED_BUCKET, Key=KEYS.audit_key, Body=verdict.to_json().encode())
    record = IngestRecord("https://example.test/yellow_tripdata_2024-09.parquet?sig=x", 1000,
                          '"etag"', None, 8, 1, "ab" * 32)  # fmt: skip
    s3.put_object(Bucket="tlc-elt-dev-raw", Key=KEYS.ingest_record_key, Body=record.to_json())


def test_arguments_fall_back_to_argparse_outside_glue(script):
    options = script.parse_arguments(ARGV)

    assert options["dataset"] == "yellow"
    assert options["month"] == "9"
    assert options["copy_role_arn"].endswith(":role/tlc-elt-dev-redshift-copy")


def test_a_missing_argument_is_refused(script):
    with pytest.raises(SystemExit):
        script.parse_arguments([a for a in ARGV if a not in ("--workgroup", "tlc-elt-dev")])


def test_an_invalid_month_is_refused_before_any_client_exists(script, monkeypatch):
    def no_client(*args, **kwargs):
        raise AssertionError("a client was created before the month was checked")

    monkeypatch.setattr(boto3, "client", no_client)
    options = script.parse_arguments(ARGV)
    options["month"] = "13"

    with pytest.raises(InvalidInput, match="month"):
        script.build_context(options)


def test_main_publishes_the_run_and_prints_its_figures(script, aws, monkeypatch, capsys):
    write_candidate(aws)
    aws.put_object(Bucket=PROCESSED_BUCKET, Key=taxi_zones_key(), Body=ZONE_LOOKUP.read_bytes())
    data_api = boto3.client("redshift-data")
    stubber = Stubber(data_api)
    stubber.add_response(  # the zones' version table: none yet, a first load
        "execute_statement",
        {"Id": "reference"},
        {"WorkgroupName": "tlc-elt-dev", "Database": "dev", "Sql": ANY,
         "StatementName": "tlc-elt-reference-columns"},
    )  # fmt: skip
    stubber.add_response("describe_statement", {"Id": "reference", "Status": "FINISHED"},
                         {"Id": "reference"})  # fmt: skip
    stubber.add_response(
        "batch_execute_statement",
        {"Id": "zones", "CreatedAt": datetime(2024, 11, 5, tzinfo=UTC)},
        {"WorkgroupName": "tlc-elt-dev", "Database": "dev", "Sqls": ANY,
         "StatementName": "tlc-elt-taxi-zones"},
    )  # fmt: skip
    stubber.add_response("describe_statement", {"Id": "zones", "Status": "FINISHED"},
                         {"Id": "zones"})  # fmt: skip
    stubber.add_response(  # the table's, view's and ledger's columns: none yet, a first load
        "execute_statement",
        {"Id": "columns"},
        {"WorkgroupName": "tlc-elt-dev", "Database": "dev", "Sql": ANY,
         "StatementName": "tlc-elt-schema-state-yellow"},
    )  # fmt: skip
    stubber.add_response("describe_statement", {"Id": "columns", "Status": "FINISHED"},
                         {"Id": "columns"})  # fmt: skip
    stubber.add_response(  # so the schema step makes the table, view and ledger, and grants
        "batch_execute_statement",
        {"Id": "schema", "CreatedAt": datetime(2024, 11, 5, tzinfo=UTC)},
        {"WorkgroupName": "tlc-elt-dev", "Database": "dev", "Sqls": ANY,
         "StatementName": "tlc-elt-schema-yellow"},
    )  # fmt: skip
    stubber.add_response("describe_statement", {"Id": "schema", "Status": "FINISHED"},
                         {"Id": "schema"})  # fmt: skip
    stubber.add_response(
        "batch_execute_statement",
        {"Id": BATCH, "CreatedAt": datetime(2024, 11, 5, tzinfo=UTC)},
        {"WorkgroupName": "tlc-elt-dev", "Database": "dev", "Sqls": ANY,
         "StatementName": "tlc-elt-load-yellow-2024-09"},
    )  # fmt: skip
    subs = [{"Id": f"{BATCH}:{i}", "Status": "FINISHED", "ResultRows": 0} for i in range(1, 9)]
    stubber.add_response(
        "describe_statement",
        {"Id": BATCH, "Status": "FINISHED", "SubStatements": subs},
        {"Id": BATCH},
    )
    real_client = boto3.client
    monkeypatch.setattr(
        boto3,
        "client",
        lambda name, **kw: data_api if name == "redshift-data" else real_client(name, **kw),
    )

    with stubber:
        figures = script.main([*ARGV, "--metrics_namespace", "tlc-elt/dev"])

    stubber.assert_no_pending_responses()
    assert json.loads(capsys.readouterr().out) == figures
    assert (figures["month"], figures["rows_inserted"], figures["rows_deleted"]) == (
        "2024-09",
        7,
        0,
    )
    assert (figures["run_id"], figures["verdict"], figures["already_published"]) == (
        RUN, "passed", False,
    )  # fmt: skip
    assert (figures["taxi_zones"], figures["zones"]) == ("refreshed", 265)
    manifest = aws.get_object(Bucket=PROCESSED_BUCKET, Key=KEYS.copy_manifest_key)
    entries = json.loads(manifest["Body"].read())["entries"]
    assert [entry["meta"]["content_length"] for entry in entries] == [10]
    pointer = aws.get_object(Bucket=PROCESSED_BUCKET, Key=published_key(YELLOW, KEYS.month))
    publication = Publication.from_json(pointer["Body"].read())
    assert (publication.run_id, publication.engine) == (RUN, "glue-spark")
    assert publication.source == "https://example.test/yellow_tripdata_2024-09.parquet"
    partition = boto3.client("glue").get_partition(
        DatabaseName=GLUE_DATABASE, TableName="yellow_trips", PartitionValues=["2024", "09"]
    )["Partition"]
    assert partition["StorageDescriptor"]["Location"] == (
        f"s3://{PROCESSED_BUCKET}/{KEYS.processed_prefix}"
    )
    # The month's metrics, in the stack's namespace, per dataset (moto's CloudWatch).
    metrics = boto3.client("cloudwatch").list_metrics(Namespace="tlc-elt/dev")["Metrics"]
    assert {(m["MetricName"], m["Dimensions"][0]["Value"]) for m in metrics} == {
        ("RowsLoaded", "yellow"), ("RowsQuarantined", "yellow"), ("QuarantineShare", "yellow"),
        ("AuditWarnings", "yellow"),
    }  # fmt: skip


def test_a_refused_verdict_publishes_nothing(script, aws, monkeypatch):
    refusal = Finding("no_loadable_rows", REFUSE, "no loadable row", {"rows_in": 8})
    write_candidate(aws, findings=(refusal,))
    data_api = boto3.client("redshift-data")
    real_client = boto3.client
    monkeypatch.setattr(
        boto3,
        "client",
        lambda name, **kw: data_api if name == "redshift-data" else real_client(name, **kw),
    )

    with Stubber(data_api), pytest.raises(MonthRefused, match="refused: yellow 2024-09"):
        script.main(ARGV)  # no Data API call is queued: any would fail the test

    listed = aws.list_objects_v2(Bucket=PROCESSED_BUCKET, Prefix="yellow/year=2024/")
    assert listed["KeyCount"] == 0  # no pointer
    partitions = boto3.client("glue").get_partitions(
        DatabaseName=GLUE_DATABASE, TableName="yellow_trips"
    )
    assert partitions["Partitions"] == []


def test_a_bad_run_id_is_refused_before_any_client_exists(script, monkeypatch):
    def no_client(*args, **kwargs):
        raise AssertionError("a client was created before the run id was checked")

    monkeypatch.setattr(boto3, "client", no_client)
    options = script.parse_arguments(ARGV)
    options["run_id"] = "../other"

    with pytest.raises(InvalidInput, match="run id"):
        script.build_context(options)


def test_both_clients_are_made_for_the_stacks_region(script, monkeypatch):
    """--region reaches the Data API and S3 clients; the environment's region is not used."""
    made = []
    real_client = boto3.client

    def record(service, **kwargs):
        made.append((service, kwargs.get("region_name")))
        return real_client(service, **kwargs)

    monkeypatch.setattr(boto3, "client", record)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)

    context = script.build_context(script.parse_arguments([*ARGV, "--region", "eu-west-1"]))

    assert made == [("redshift-data", "eu-west-1"), ("glue", "eu-west-1"), ("s3", "eu-west-1")]
    assert context.catalog.client.meta.region_name == "eu-west-1"
    assert (context.run_id, context.engine) == (RUN, "glue-spark")
    assert context.warehouse.client.meta.region_name == "eu-west-1"
    assert context.lake.s3.meta.region_name == "eu-west-1"
