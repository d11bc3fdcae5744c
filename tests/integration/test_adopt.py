"""The adopt Lambda in moto: after an upgrade every month the lake publishes gets its partitions
(a legacy month its month folder, a pointer's month its run's prefixes), an existing partition
is never changed, and running it again registers nothing."""

from __future__ import annotations

import boto3
import pytest
from glue_tables import BUCKET, DATABASE, create_tables
from moto import mock_aws

from functions import adopt
from pipeline.contract.datasets import DATASETS, YELLOW
from pipeline.contract.errors import InvalidInput, PipelineError
from pipeline.contract.layout import RunKeys, published_key
from pipeline.contract.months import Month
from pipeline.contract.publication import Publication
from pipeline.storage.catalog import GlueCatalog

JULY, AUG, SEPT, OCT = Month(2024, 7), Month(2024, 8), Month(2024, 9), Month(2024, 10)


def publication(month: Month, run_id: str) -> bytes:
    return Publication(
        dataset="yellow", month=str(month), run_id=run_id, published_at="2024-11-05T12:00:00+00:00",
        engine="glue-spark", forced=False, counts={}, source="s", source_bytes=1,
        source_sha256="x",
    ).to_json()  # fmt: skip


@pytest.fixture
def aws(monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(adopt.PROCESSED_BUCKET_ENV, BUCKET)
    monkeypatch.setenv(adopt.GLUE_DATABASE_ENV, DATABASE)
    with mock_aws():
        s3, glue = boto3.client("s3"), boto3.client("glue")
        s3.create_bucket(Bucket=BUCKET)
        create_tables(glue, tuple(DATASETS.values()))
        put = lambda key, body=b"x": s3.put_object(Bucket=BUCKET, Key=key, Body=body)  # noqa: E731
        # July: published by the previous version (files in the month folder, no pointer).
        july = RunKeys(YELLOW, JULY, None)
        put(july.counts_key, b"{}")
        put(july.processed_prefix + "part-00000.parquet")
        # August: published by a run; its previous run is still there.
        put(published_key(YELLOW, AUG), publication(AUG, "r8"))
        put(RunKeys(YELLOW, AUG, "r8").counts_key, b"{}")
        put(RunKeys(YELLOW, AUG, "r8-old").counts_key, b"{}")
        # September: published by r9, whose publish already registered the partitions.
        put(published_key(YELLOW, SEPT), publication(SEPT, "r9"))
        GlueCatalog(DATABASE, client=glue).publish_month(YELLOW, SEPT, RunKeys(YELLOW, SEPT, "r9"))
        # October: only a refused candidate under _runs (no month folder): not published.
        put(RunKeys(YELLOW, OCT, "r10").counts_key, b"{}")
        yield s3, glue


def location(glue, table: str, month: Month) -> str:
    found = glue.get_partition(
        DatabaseName=DATABASE, TableName=table, PartitionValues=[month.yyyy, month.mm]
    )
    return found["Partition"]["StorageDescriptor"]["Location"]


def test_every_published_month_gets_its_partitions_and_existing_ones_stay(aws):
    _, glue = aws
    before = location(glue, "yellow_trips", SEPT)

    result = adopt.handler({})

    assert result["registered"]["yellow_trips"] == ["2024-07", "2024-08"]
    assert result["registered"]["yellow_quarantine"] == ["2024-07", "2024-08"]
    assert result["registered"]["green_trips"] == []
    assert location(glue, "yellow_trips", JULY) == f"s3://{BUCKET}/yellow/year=2024/month=07/"
    assert location(glue, "yellow_quarantine", JULY) == (
        f"s3://{BUCKET}/quarantine/yellow/year=2024/month=07/"
    )
    assert location(glue, "yellow_trips", AUG) == (
        f"s3://{BUCKET}/yellow/_runs/year=2024/month=08/r8/"
    )
    assert location(glue, "yellow_quarantine", AUG) == (
        f"s3://{BUCKET}/quarantine/yellow/_runs/year=2024/month=08/r8/"
    )
    assert location(glue, "yellow_trips", SEPT) == before
    values = {
        tuple(p["Values"])
        for p in glue.get_partitions(DatabaseName=DATABASE, TableName="yellow_trips")["Partitions"]
    }
    assert values == {("2024", "07"), ("2024", "08"), ("2024", "09")}  # no October
    partition = glue.get_partition(
        DatabaseName=DATABASE, TableName="yellow_trips", PartitionValues=["2024", "07"]
    )["Partition"]["StorageDescriptor"]
    table = glue.get_table(DatabaseName=DATABASE, Name="yellow_trips")["Table"]
    assert partition["Columns"] == table["StorageDescriptor"]["Columns"]


def test_running_it_again_registers_nothing(aws):
    adopt.handler({})

    again = adopt.handler({"datasets": ["yellow"]})

    assert again == {"registered": {"yellow_trips": [], "yellow_quarantine": []}}


def test_an_unreadable_pointer_fails_the_invocation(aws):
    s3, _ = aws
    s3.put_object(Bucket=BUCKET, Key=published_key(YELLOW, AUG), Body=b"not json")

    with pytest.raises(PipelineError, match=r"yellow/year=2024/month=08/_published\.json is not"):
        adopt.handler({})


@pytest.mark.parametrize("event", [{"datasets": ["blue"]}, {"datasets": []}, {"other": 1}, []])
def test_bad_events_are_refused_before_any_call(event):
    with pytest.raises(InvalidInput):
        adopt.handler(event)
