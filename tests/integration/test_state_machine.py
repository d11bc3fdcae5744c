"""The monthly state machine, executed: moto's Step Functions interpreter runs the ASL that
components.asl builds, against moto's Glue and SNS.

Proves: the three jobs run in the step list's order with the input as arguments; the dataset
defaults to yellow; a failing job publishes an alert naming the step and error, then the
execution fails and later steps never start; bad input fails before any job runs. The backfill
machine is only parsed here (moto cannot run `states:startExecution.sync:2`); its structure is
tested in tests/unit/test_asl.py.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws
from moto.glue import models as glue_models
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_glue,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from components import asl
from pipeline.steps import STEPS

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/state-machine"
PREFIX = "tlc-elt-test"
_TEST_NUMBERS = itertools.count()
FAILING_JOBS: set[str] = set()  # Glue job names whose runs end FAILED (fault injection)


def _patch_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two gaps in moto 5.2.5's Step Functions interpreter, and one injected fault.

    1. Its Glue `.sync` integration declares only the Sync pattern, then calls
       `callback_endpoint.interrupt_all()` on an endpoint that exists only for
       WaitForTaskToken, and crashes; declaring WaitForTaskToken too creates the endpoint.
    2. It keeps `$$.Execution.StartTime` as a datetime, where Step Functions gives an ISO 8601
       string (`2024-11-05T06:00:00.123Z`); the monthly machine splits that string to know
       today's date, so it is given the string AWS would give.
    3. moto's Glue job runs always succeed; runs of the jobs in FAILING_JOBS end FAILED.
    """
    monkeypatch.setattr(
        state_task_service_glue,
        "_SUPPORTED_INTEGRATION_PATTERNS",
        {ResourceCondition.Sync, ResourceCondition.WaitForTaskToken},
    )
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
    create_run = glue_models.FakeJobRun.__init__

    def maybe_failing(run, *args, **kwargs):
        create_run(run, *args, **kwargs)
        if run.job_name in FAILING_JOBS:
            run._transitions = [("STARTING", "RUNNING"), ("RUNNING", "FAILED")]

    monkeypatch.setattr(glue_models.FakeJobRun, "__init__", maybe_failing)


@dataclass
class Pipeline:
    """One monthly machine over its own three Glue jobs, in the shared moto account."""

    sfn: object
    glue: object
    sqs: object
    queue_url: str
    topic_arn: str
    job_names: dict[str, str]
    state_machine_arn: str = ""

    def run(self, machine_input: dict) -> dict:
        """Start an execution and wait for it to end; the deadline only guards against a hang."""
        arn = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, input=json.dumps(machine_input)
        )["executionArn"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.05)
        raise AssertionError(f"execution {arn} still running after 60 s")

    def started_jobs(self, execution_arn: str) -> list[tuple[str, dict]]:
        """(job name, arguments) of every Glue task the execution scheduled, in order."""
        events = self.sfn.get_execution_history(executionArn=execution_arn)["events"]
        scheduled = [
            json.loads(event["taskScheduledEventDetails"]["parameters"])
            for event in events
            if event["type"] == "TaskScheduled"
            and event["taskScheduledEventDetails"]["resourceType"] == "glue"
        ]
        return [(task["JobName"], task["Arguments"]) for task in scheduled]

    def job_runs(self) -> dict[str, list[dict]]:
        return {
            job: self.glue.get_job_runs(JobName=name)["JobRuns"]
            for job, name in self.job_names.items()
        }

    def alerts(self) -> list[dict]:
        received = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in received.get("Messages", [])]


@dataclass(frozen=True)
class Clients:
    sfn: object
    glue: object
    sns: object
    sqs: object


@pytest.fixture(scope="module")
def clients() -> Iterator[Clients]:
    """One moto account for the module (starting moto and its clients is the slow part)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _patch_moto(monkeypatch)
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            yield Clients(
                *(boto3.client(name, region_name=REGION)
                  for name in ("stepfunctions", "glue", "sns", "sqs"))
            )  # fmt: skip


@pytest.fixture
def pipeline(clients) -> Iterator[Pipeline]:
    """Fresh jobs, topic, inbox and machine per test, so runs and alerts are the test's own."""
    FAILING_JOBS.clear()
    run_id = f"t{next(_TEST_NUMBERS)}"
    topic_arn = clients.sns.create_topic(Name=f"{PREFIX}-{run_id}-alerts")["TopicArn"]
    queue_url = clients.sqs.create_queue(QueueName=f"{run_id}-inbox")["QueueUrl"]
    queue = clients.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    clients.sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue["Attributes"]["QueueArn"]
    )
    job_names = {step.job: f"{PREFIX}-{run_id}-{step.job}" for step in STEPS}
    for name in job_names.values():
        clients.glue.create_job(
            Name=name,
            Role=ROLE,
            Command={"Name": "pythonshell", "ScriptLocation": f"s3://scripts/{name}.py"},
            ExecutionProperty={"MaxConcurrentRuns": 3},
        )
    definition = asl.monthly_definition(
        job_names, topic_arn, stack_prefix=PREFIX, task_timeout_seconds=3600
    )
    machine = clients.sfn.create_state_machine(
        name=f"{PREFIX}-{run_id}-monthly", definition=json.dumps(definition), roleArn=ROLE
    )
    yield Pipeline(
        clients.sfn, clients.glue, clients.sqs, queue_url, topic_arn, job_names,
        machine["stateMachineArn"],
    )  # fmt: skip
    FAILING_JOBS.clear()


def test_success_runs_the_three_jobs_in_order_with_the_month(pipeline):
    execution = pipeline.run({"year": "2024", "month": "09"})
    assert execution["status"] == "SUCCEEDED"
    arguments = {"--dataset": "yellow", "--year": "2024", "--month": "09"}
    assert pipeline.started_jobs(execution["executionArn"]) == [
        (pipeline.job_names[step.job], arguments) for step in STEPS
    ]
    for runs in pipeline.job_runs().values():
        ((run),) = runs
        assert (run["JobRunState"], run["Arguments"]) == ("SUCCEEDED", arguments)
    output = json.loads(execution["output"])
    assert set(output["steps"]) == {step.state for step in STEPS}
    for result in output["steps"].values():
        assert set(result) == {"JobRunId", "JobRunState", "ExecutionTime"}
        assert result["JobRunState"] == "SUCCEEDED"
    assert pipeline.alerts() == []


def test_an_explicit_dataset_reaches_every_job(pipeline):
    execution = pipeline.run({"year": "2023", "month": "12", "dataset": "green"})
    assert execution["status"] == "SUCCEEDED"
    for _, arguments in pipeline.started_jobs(execution["executionArn"]):
        assert arguments == {"--dataset": "green", "--year": "2023", "--month": "12"}


def test_a_failing_job_alerts_with_the_step_and_error_then_fails(pipeline):
    failing = STEPS[1]
    FAILING_JOBS.add(pipeline.job_names[failing.job])
    execution = pipeline.run({"year": "2024", "month": "09", "dataset": "yellow"})
    assert execution["status"] == "FAILED"
    assert execution["error"] == f"{failing.state}Failed"
    assert execution["cause"] == f"{failing.state} failed for yellow 2024-09: States.TaskFailed"
    started = [name for name, _ in pipeline.started_jobs(execution["executionArn"])]
    assert started == [pipeline.job_names[STEPS[0].job], pipeline.job_names[failing.job]]
    assert pipeline.job_runs()[STEPS[2].job] == []
    (alert,) = pipeline.alerts()
    assert alert["Subject"] == f"{PREFIX}: yellow 2024-09 failed at {failing.state}"
    message = json.loads(alert["Message"])
    assert message["step"] == failing.state
    assert message["job"] == pipeline.job_names[failing.job]
    assert message["error"] == "States.TaskFailed"
    assert (message["dataset"], message["year"], message["month"]) == ("yellow", "2024", "09")
    failed_run = json.loads(message["details"]["Cause"])
    assert failed_run["JobRunState"] == "FAILED"


def test_a_glue_error_before_the_run_is_caught_and_alerted(pipeline):
    pipeline.glue.delete_job(JobName=pipeline.job_names[STEPS[0].job])
    execution = pipeline.run({"year": "2024", "month": "09"})
    assert execution["status"] == "FAILED"
    assert execution["error"] == f"{STEPS[0].state}Failed"
    (alert,) = pipeline.alerts()
    assert json.loads(alert["Message"])["error"] == "Glue.EntityNotFoundException"


@pytest.mark.parametrize(
    "machine_input",
    [
        {"year": "2024", "month": "13"},
        {"year": "2024", "month": "00"},
        {"year": "2024"},
        {"month": "09"},
        {"year": 2024, "month": "09"},
        {"year": "2024", "month": "09", "dataset": "blue"},
        {"year": "2008", "month": "12"},
        {"year": "2013", "month": "07", "dataset": "green"},
        {"year": str(datetime.now(UTC).year + 1), "month": "01"},
        {"year": "24", "month": "09"},
    ],
)
def test_bad_input_fails_before_any_job_runs(pipeline, machine_input):
    execution = pipeline.run(machine_input)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "InvalidInput"
    assert all(runs == [] for runs in pipeline.job_runs().values())
    assert pipeline.alerts() == []


def test_the_current_month_is_accepted(pipeline):
    now = datetime.now(UTC)
    execution = pipeline.run({"year": f"{now.year}", "month": f"{now.month:02d}"})
    assert execution["status"] == "SUCCEEDED"


def test_the_backfill_definition_parses_as_asl(pipeline):
    definition = asl.backfill_definition(
        pipeline.state_machine_arn,
        "arn:aws:lambda:us-east-1:123456789012:function:tlc-elt-test-trigger",
        pipeline.topic_arn,
        stack_prefix=PREFIX,
        max_concurrency=2,
    )
    created = pipeline.sfn.create_state_machine(
        name=f"{PREFIX}-backfill", definition=json.dumps(definition), roleArn=ROLE
    )
    assert created["stateMachineArn"].endswith(f":stateMachine:{PREFIX}-backfill")
