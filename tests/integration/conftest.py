"""moto's Step Functions, patched where moto 5.2.5 differs from AWS, so it runs our real ASL.

Used by the tests that execute `components.asl`'s machines (test_state_machine, test_operate)
through the `moto_runs_asl` fixture; the patches last for the requesting module.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
    state_task_service_glue,
    state_task_service_sfn,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker


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
