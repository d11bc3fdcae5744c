"""Shared AWS stand-ins for the integration tests.

moto's Step Functions, patched where moto 5.2.5 differs from AWS, so it runs our real ASL: used
by the tests that execute `components.asl`'s machines (test_state_machine, test_operate) through
the `moto_runs_asl` fixture; the patches last for the requesting module. And the Redshift load's
two sides: a moto S3 lake (`s3_lake`) and the Data API under botocore's Stubber (`data_api`;
moto's redshift-data has no batch call and never finishes a statement).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk,
    state_task_service_callback,
    state_task_service_glue,
    state_task_service_sfn,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from pipeline.storage.lake import S3Lake

RAW_BUCKET, PROCESSED_BUCKET = "tlc-elt-dev-raw", "tlc-elt-dev-processed"


def patch_moto_step_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixes; with them moto runs `asl.monthly_definition` and `asl.backfill_definition`.

    1. Its Glue `.sync` integration declares only the Sync pattern, then calls
       `callback_endpoint.interrupt_all()` on an endpoint that exists only for
       WaitForTaskToken, and crashes; declaring WaitForTaskToken too creates the endpoint.
       (It then polls GetJobRun, as Step Functions does.) It polls every 0.5 s and a moto job
       run advances one state per poll, so it is told to poll every 0.01 s.
    2. It keeps `$$.Execution.StartTime` as a datetime, where Step Functions gives an ISO 8601
       string (`2024-11-05T06:00:00.123Z`); the monthly machine splits that string to know
       today's date, so it is given the string AWS would give.
    3. `states:startExecution.sync:2` skips the parameter/response normalisation it leaves as
       no-ops: it calls boto3 with `StateMachineArn`/`Name`/`Input` (botocore's members are
       `stateMachineArn`/...) and hands the task `executionArn`/`status` where Step Functions
       gives `ExecutionArn`/`Status`. Keys are re-cased at that one boundary.
    4. Its AWS SDK integration hands `s3:getObject`'s Body on as botocore's stream, where Step
       Functions gives the object's text (the monthly machine reads the audit's verdict so:
       https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html);
       the stream is read into text there.
    """
    monkeypatch.setattr(
        state_task_service_glue,
        "_SUPPORTED_INTEGRATION_PATTERNS",
        {ResourceCondition.Sync, ResourceCondition.WaitForTaskToken},
    )
    monkeypatch.setattr(state_task_service_callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", 0.01)
    build_environment = ExecutionWorker._get_evaluation_environment

    def with_iso_start_time(worker):
        environment = build_environment(worker)
        execution = environment.states.context_object.context_object_data["Execution"]
        started = execution["StartTime"]
        if isinstance(started, datetime):
            utc = started.astimezone(UTC)
            execution["StartTime"] = utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc:%f}"[:3] + "Z"
        return environment

    monkeypatch.setattr(ExecutionWorker, "_get_evaluation_environment", with_iso_start_time)
    _patch_start_execution(monkeypatch)
    _patch_sdk_body(monkeypatch)


def _patch_sdk_body(monkeypatch: pytest.MonkeyPatch) -> None:
    service = state_task_service_aws_sdk.StateTaskServiceAwsSdk
    evaluate = service._eval_service_task

    def with_text_body(task, env, *args, **kwargs):
        evaluate(task, env, *args, **kwargs)
        response = env.stack[-1]
        if isinstance(response, dict) and hasattr(response.get("Body"), "read"):
            response["Body"] = response["Body"].read().decode()

    monkeypatch.setattr(service, "_eval_service_task", with_text_body)


def _patch_start_execution(monkeypatch: pytest.MonkeyPatch) -> None:
    service = state_task_service_sfn.StateTaskServiceSfn
    normalise_parameters = service._normalise_parameters

    def to_boto3(task, parameters, boto_service_name=None, service_action_name=None):
        normalise_parameters(task, parameters, boto_service_name, service_action_name)
        for key in list(parameters):
            parameters[key[:1].lower() + key[1:]] = parameters.pop(key)

    def from_boto3(task, response, boto_service_name=None, service_action_name=None):
        if isinstance(response, dict):
            for key in list(response):
                response[key[:1].upper() + key[1:]] = response.pop(key)

    monkeypatch.setattr(service, "_normalise_parameters", to_boto3)
    monkeypatch.setattr(service, "_normalise_response", from_boto3)


@pytest.fixture(scope="module")
def moto_runs_asl() -> Iterator[pytest.MonkeyPatch]:
    """moto patched for the module (see `patch_moto_step_functions`); yields the monkeypatch,
    so a module can add its own stand-ins that are undone with the fixes."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        patch_moto_step_functions(monkeypatch)
        yield monkeypatch


@pytest.fixture
def s3_lake(monkeypatch) -> Iterator[S3Lake]:
    """The stack's two lake buckets in moto (RAW_BUCKET, PROCESSED_BUCKET), empty."""
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in (RAW_BUCKET, PROCESSED_BUCKET):
            s3.create_bucket(Bucket=bucket)
        yield S3Lake(RAW_BUCKET, PROCESSED_BUCKET, s3=s3)


@pytest.fixture
def data_api():
    """A redshift-data client and its Stubber; every queued response must be used."""
    client = boto3.client(
        "redshift-data", region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()
