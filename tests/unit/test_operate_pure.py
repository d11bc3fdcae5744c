"""operate's pure parts: where Glue logs live, how AWS failures read, what counts as no counts."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from pipeline.contract import layout
from pipeline.contract.datasets import get_dataset
from pipeline.contract.errors import MissingInput
from pipeline.contract.months import Month
from pipeline.contract.steps import STEPS, step_named
from pipeline.ops.aws import AwsCallFailed, aws_call
from pipeline.ops.logs import glue_log_groups
from pipeline.storage.lake import S3Lake
from pipeline.warehouse.base import read_transform_counts

INGEST, TRANSFORM = step_named("ingest_raw"), step_named("transform_trips")


def test_python_shell_and_spark_jobs_log_to_their_own_groups():
    assert glue_log_groups(INGEST, None) == [
        "/aws-glue/python-jobs/output",
        "/aws-glue/python-jobs/error",
    ]
    assert glue_log_groups(TRANSFORM, {"LogGroupName": "/aws-glue/jobs"}) == [
        "/aws-glue/jobs/output",
        "/aws-glue/jobs/error",
        "/aws-glue/jobs/logs-v2",
    ]


def test_a_security_configuration_log_group_is_searched_too():
    groups = glue_log_groups(INGEST, {"LogGroupName": "/aws-glue/jobs-tlc-secure/"})
    assert groups[-2:] == ["/aws-glue/jobs-tlc-secure/output", "/aws-glue/jobs-tlc-secure/error"]


def test_every_step_kind_has_log_groups():
    assert all(glue_log_groups(step, None) for step in STEPS)


def raise_in_aws_call(error: Exception) -> str:
    with pytest.raises(AwsCallFailed) as caught, aws_call("starting x"):
        raise error
    return str(caught.value)


def test_aws_failures_say_what_was_being_done_and_what_to_check():
    assert "no AWS credentials found" in raise_in_aws_call(NoCredentialsError())
    assert "--region" in raise_in_aws_call(NoRegionError())
    refused = ClientError(
        {"Error": {"Code": "StateMachineDoesNotExist", "Message": "State Machine Does Not Exist"}},
        "StartExecution",
    )
    message = raise_in_aws_call(refused)
    assert message.startswith("starting x: StateMachineDoesNotExist: State Machine Does Not Exist")
    assert "--region" in message


def test_the_error_code_is_kept_for_callers():
    refused = ClientError({"Error": {"Code": "ExecutionAlreadyExists"}}, "StartExecution")
    with pytest.raises(AwsCallFailed) as caught, aws_call("starting x"):
        raise refused
    assert caught.value.code == "ExecutionAlreadyExists"


def counts_request(month: Month) -> dict:
    return {"Bucket": "processed", "Key": layout.counts_key(get_dataset("yellow"), month)}


def test_transform_counts_on_s3_missing_is_none_refused_is_raised_foreign_is_refused():
    s3 = boto3.client("s3", region_name="us-east-1")
    lake = S3Lake("raw", "processed", s3=s3)
    yellow = get_dataset("yellow")

    def body(month: str) -> dict:
        data = json.dumps({"dataset": "yellow", "month": month, "rows_loaded": 5}).encode()
        return {"Body": StreamingBody(io.BytesIO(data), len(data))}

    with Stubber(s3) as stub:
        stub.add_response("get_object", body("2024-09"), counts_request(Month(2024, 9)))
        stub.add_client_error("get_object", "NoSuchKey", http_status_code=404)
        stub.add_client_error("get_object", "AccessDenied", http_status_code=403)
        stub.add_response("get_object", body("2024-05"), counts_request(Month(2024, 6)))

        assert read_transform_counts(yellow, Month(2024, 9), lake)["rows_loaded"] == 5
        assert read_transform_counts(yellow, Month(2024, 8), lake) is None
        with pytest.raises(ClientError, match="AccessDenied"):
            read_transform_counts(yellow, Month(2024, 7), lake)
        with pytest.raises(
            MissingInput, match="holds counts for yellow 2024-05, not yellow 2024-06"
        ):
            read_transform_counts(yellow, Month(2024, 6), lake)
