"""scripts/transform_trips.py: Glue arguments in, validated before S3 or Spark is touched."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from pipeline.contract.datasets import GREEN
from pipeline.contract.errors import InvalidInput
from pipeline.contract.months import Month
from pipeline.storage.lake import S3Lake

GOOD = {
    "dataset": "green",
    "year": "2024",
    "month": "9",
    "run_id": "yellow-2024-09-manual-20241105T120000Z",
    "raw_bucket": "tlc-elt-raw-dev",
    "processed_bucket": "tlc-elt-processed-dev",
}


@pytest.fixture(scope="module")
def script(glue_script):
    return glue_script("transform_trips")


@pytest.fixture
def silent_s3():
    """An S3 client that fails the test on any call."""
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client):
        yield client


def argv(**overrides: str) -> list[str]:
    values = {**GOOD, **overrides}
    return ["transform_trips.py"] + [p for name, v in values.items() for p in (f"--{name}", v)]


def test_arguments_fall_back_to_argparse_and_ignore_glue_extras(script):
    parsed = script.parse_arguments([*argv(), "--JOB_ID", "j_1", "--TempDir", "s3://t/"])
    assert parsed == {**GOOD, "region": ""}  # --region is optional: the stack passes it


def test_missing_argument_stops_the_job(script):
    with pytest.raises(SystemExit):
        script.parse_arguments(["transform_trips.py", "--dataset", "yellow"])


def test_context_carries_the_month_the_lake_and_the_given_session(script, silent_s3):
    session = object()  # run_step is not called here: any object stands for the session
    context = script.build_context(GOOD, session, s3=silent_s3)
    assert (context.dataset, context.month) == (GREEN, Month(2024, 9))
    assert context.spark is session
    assert context.run_id == GOOD["run_id"]
    assert isinstance(context.lake, S3Lake)
    assert context.lake.uri("raw", "k") == "s3://tlc-elt-raw-dev/k"
    assert context.lake.uri("processed", "k") == "s3://tlc-elt-processed-dev/k"


@pytest.mark.parametrize(
    ("override", "what"),
    [({"month": "13"}, "month"), ({"year": "2008"}, "year"), ({"dataset": "blue"}, "dataset"),
     ({"dataset": "green", "year": "2013", "month": "7"}, "month"), ({"run_id": ""}, "run id")],
)  # fmt: skip
def test_bad_input_fails_before_spark_starts(script, silent_s3, override, what):
    # No session given: reaching glue_spark_session() would raise ImportError (no awsglue here).
    with pytest.raises(InvalidInput) as failure:
        script.build_context({**GOOD, **override}, None, s3=silent_s3)
    assert failure.value.what == what


def test_without_a_session_outside_glue_the_job_needs_awsglue(script, silent_s3):
    with pytest.raises(ImportError, match="awsglue"):
        script.build_context(GOOD, None, s3=silent_s3)
