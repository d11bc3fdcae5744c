"""The catalog switch in moto's Glue: publish points a month's trips and quarantine partitions
at the run's prefixes (from a legacy month folder, from a previous run), copies the table's
storage descriptor, and repeating it changes nothing."""

from __future__ import annotations

import boto3
import pytest
from glue_tables import BUCKET, DATABASE, create_tables
from moto import mock_aws

from pipeline.contract.datasets import GREEN, YELLOW
from pipeline.contract.errors import InvalidInput
from pipeline.contract.layout import PROCESSED, RunKeys
from pipeline.contract.months import Month
from pipeline.storage.catalog import CREATED, CURRENT, UPDATED, CatalogFailed, GlueCatalog
from pipeline.storage.lake import S3Lake

SEPT = Month(2024, 9)
FIRST, SECOND = "yellow-2024-09-manual-20241105T120000Z", "yellow-2024-09-scheduled"


@pytest.fixture
def glue(monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("glue", region_name="us-east-1")
        create_tables(client)
        yield client


def location(glue, table: str, values=("2024", "09")) -> str:
    found = glue.get_partition(DatabaseName=DATABASE, TableName=table, PartitionValues=list(values))
    return found["Partition"]["StorageDescriptor"]["Location"]


def test_a_first_publish_creates_both_partitions_at_the_runs_prefixes(glue):
    keys = RunKeys(YELLOW, SEPT, FIRST)
    lake = S3Lake("raw-bucket", BUCKET, s3=object())

    done = GlueCatalog(DATABASE, client=glue).publish_month(YELLOW, SEPT, keys)

    assert done == {"yellow_trips": CREATED, "yellow_quarantine": CREATED}
    assert location(glue, "yellow_trips") == lake.uri(PROCESSED, keys.processed_prefix)
    assert location(glue, "yellow_quarantine") == lake.uri(PROCESSED, keys.quarantine_prefix)
    assert location(glue, "yellow_trips") == (
        f"s3://{BUCKET}/yellow/_runs/year=2024/month=09/{FIRST}/"
    )
    partition = glue.get_partition(
        DatabaseName=DATABASE, TableName="yellow_quarantine", PartitionValues=["2024", "09"]
    )["Partition"]
    table = glue.get_table(DatabaseName=DATABASE, Name="yellow_quarantine")["Table"]
    # The partition reads with the table's schema and formats.
    for key in ("Columns", "InputFormat", "OutputFormat", "SerdeInfo"):
        assert partition["StorageDescriptor"][key] == table["StorageDescriptor"][key]
    assert partition["StorageDescriptor"]["Columns"][-1]["Name"] == "reject_reason"


def test_a_legacy_month_switches_to_the_run_then_to_the_next_run(glue):
    legacy = RunKeys(YELLOW, SEPT, None)
    catalog = GlueCatalog(DATABASE, client=glue)
    catalog.publish_month(YELLOW, SEPT, legacy)  # what the adopt Lambda registers
    assert location(glue, "yellow_trips") == f"s3://{BUCKET}/yellow/year=2024/month=09/"
    assert location(glue, "yellow_quarantine") == (
        f"s3://{BUCKET}/quarantine/yellow/year=2024/month=09/"
    )

    first = catalog.publish_month(YELLOW, SEPT, RunKeys(YELLOW, SEPT, FIRST))
    assert first == {"yellow_trips": UPDATED, "yellow_quarantine": UPDATED}
    assert location(glue, "yellow_trips").endswith(f"/_runs/year=2024/month=09/{FIRST}/")

    second = catalog.publish_month(YELLOW, SEPT, RunKeys(YELLOW, SEPT, SECOND))
    assert second == {"yellow_trips": UPDATED, "yellow_quarantine": UPDATED}
    assert location(glue, "yellow_quarantine") == (
        f"s3://{BUCKET}/quarantine/yellow/_runs/year=2024/month=09/{SECOND}/"
    )
    partitions = glue.get_partitions(DatabaseName=DATABASE, TableName="yellow_trips")
    assert len(partitions["Partitions"]) == 1  # moved, never a second partition of the month


def test_publishing_again_changes_nothing(glue):
    catalog = GlueCatalog(DATABASE, client=glue)
    keys = RunKeys(YELLOW, SEPT, FIRST)
    catalog.publish_month(YELLOW, SEPT, keys)

    assert catalog.publish_month(YELLOW, SEPT, keys) == {
        "yellow_trips": CURRENT, "yellow_quarantine": CURRENT,
    }  # fmt: skip


def test_other_months_are_untouched(glue):
    catalog = GlueCatalog(DATABASE, client=glue)
    catalog.publish_month(YELLOW, Month(2024, 8), RunKeys(YELLOW, Month(2024, 8), "aug-run"))
    catalog.publish_month(YELLOW, SEPT, RunKeys(YELLOW, SEPT, FIRST))

    assert location(glue, "yellow_trips", ("2024", "08")).endswith("/aug-run/")


def test_a_missing_table_fails_naming_it_and_what_to_do(glue):
    with pytest.raises(CatalogFailed, match=r"GetTable on tlc_elt_test\.green_trips failed .*"
                                            r"publish the month again"):  # fmt: skip
        GlueCatalog(DATABASE, client=glue).publish_month(GREEN, SEPT, RunKeys(GREEN, SEPT, "r1"))


def test_keys_of_another_month_are_refused_before_any_call():
    with pytest.raises(InvalidInput, match="run keys"):
        GlueCatalog(DATABASE, client=object()).publish_month(
            YELLOW, SEPT, RunKeys(YELLOW, Month(2024, 8), FIRST)
        )
