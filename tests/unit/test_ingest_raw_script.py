"""scripts/ingest_raw.py: Glue arguments in, validated before anything touches S3."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from pipeline.contract.datasets import GREEN
from pipeline.contract.errors import InvalidInput
from pipeline.contract.months import Month

GOOD = {
    "dataset": "yellow",
    "year": "2024",
    "month": "09",
    "run_id": "yellow-2024-09-manual-20241105T120000Z",
    "raw_bucket": "tlc-elt-raw-dev",
    "processed_bucket": "tlc-elt-processed-dev",
}


@pytest.fixture(scope="module")
def script(glue_script):
    return glue_script("ingest_raw")


@pytest.fixture
def silent_s3():
    """An S3 client that fails the test on any call: validation must come first."""
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client):
        yield client


def argv(**overrides: str) -> list[str]:
    values = {**GOOD, **overrides}
    return ["ingest_raw.py"] + [part for name, v in values.items() for part in (f"--{name}", v)]


def test_arguments_without_glue_fall_back_to_argparse_and_ignore_glue_extras(script):
    parsed = script.parse_arguments([*argv(source="https://x/y.parquet"), "--JOB_ID", "j_1"])
    assert parsed == {**GOOD, "source": "https://x/y.parquet", "force": "", "region": ""}


def test_missing_required_argument_stops_the_job(script):
    with pytest.raises(SystemExit):
        script.parse_arguments(["ingest_raw.py", "--dataset", "yellow"])


def test_context_from_good_arguments(script, silent_s3):
    context = script.build_context({**GOOD, "dataset": "green", "source": ""}, s3=silent_s3)

    assert (context.dataset, context.month, context.source) == (GREEN, Month(2024, 9), None)
    assert context.run_id == GOOD["run_id"]
    assert context.lake.uri("raw", "k") == "s3://tlc-elt-raw-dev/k"


@pytest.mark.parametrize(
    ("override", "names"),
    [
        ({"dataset": "purple"}, "invalid dataset 'purple': one of fhv, fhvhv, green, yellow"),
        ({"month": "13"}, "invalid month '13'"),
        ({"year": "2008"}, "invalid year '2008'"),
        ({"dataset": "green", "year": "2013", "month": "7"}, "this dataset starts in 2013-08"),
        ({"year": str(datetime.now(UTC).year + 1)}, "invalid year"),
        ({"raw_bucket": "Not_A_Bucket"}, "invalid raw_bucket 'Not_A_Bucket'"),
        ({"force": "maybe"}, "invalid force 'maybe': true or false"),
        ({"run_id": "a/b"}, "invalid run id 'a/b'"),
    ],
)
def test_bad_arguments_fail_typed_before_any_s3_call(script, silent_s3, override, names):
    with pytest.raises(InvalidInput) as refused:
        script.main(argv(**override), s3=silent_s3)
    assert names in str(refused.value)


def test_force_flag(script):
    assert script.ingest_options({"force": "true"}).force is True
    assert script.ingest_options({"force": "false"}).force is False
    assert script.ingest_options({}).force is False


class RecordedClients:
    """boto3.client as the scripts call it: records (service, region_name), returns a stub."""

    def __init__(self) -> None:
        self.made: list[tuple[str, str | None]] = []

    def __call__(self, service: str, **kwargs):
        self.made.append((service, kwargs.get("region_name")))
        return boto3.session.Session().client(
            service, region_name=kwargs.get("region_name") or "us-east-1",
            aws_access_key_id="x", aws_secret_access_key="x",
        )  # fmt: skip


def test_the_stacks_region_argument_makes_the_s3_client(script, monkeypatch):
    """--region (the stack passes its own) reaches the client, whatever the environment says."""
    clients = RecordedClients()
    monkeypatch.setattr(boto3, "client", clients)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    parsed = script.parse_arguments(argv(region="eu-central-1"))

    context = script.build_context(parsed)

    assert clients.made == [("s3", "eu-central-1")]
    assert context.lake.s3.meta.region_name == "eu-central-1"


def test_a_bad_region_is_refused_before_any_client(script, monkeypatch):
    clients = RecordedClients()
    monkeypatch.setattr(boto3, "client", clients)
    with pytest.raises(InvalidInput, match="invalid region 'Europe': an AWS region name"):
        script.build_context({**GOOD, "region": "Europe"})
    assert clients.made == []
