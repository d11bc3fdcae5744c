"""AWS failures in the commands on a stack: one line saying what was being done, and its code."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

from pipeline.ops.aws import AwsCallFailed, aws_call


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
