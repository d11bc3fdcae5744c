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
    assert parsed == {**GOOD, "source": "https://x/y.parquet", "force": ""}


def test_missing_required_argument_stops_the_job(script):
    with pytest.raises(SystemExit):
        script.parse_arguments(["ingest_raw.py", "--dataset", "yellow"])


def test_context_from_good_arguments(script, silent_s3):
    context = script.build_context({**GOOD, "dataset": "green", "source": ""}, s3=silent_s3)

    assert (context.dataset, context.month, context.source) == (GREEN, Month(2024, 9), None)
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
