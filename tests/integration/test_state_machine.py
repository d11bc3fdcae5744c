"""Both state machines, executed: moto's Step Functions interpreter runs the ASL that
components.asl builds, against moto's Glue and SNS, with the trigger Lambda's own code as the
backfill's `expand` step.

Monthly: the jobs run in the step list's order with the input and the run id (the execution's
name) as arguments; the dataset defaults to yellow, forcePublish to false; a failing job
publishes an alert naming the step and error, then the execution fails and later steps never
start; bad input fails before any job runs. moto's Glue runs do nothing, so each test puts the
audit's verdict (`_audit.json`) for the execution's run id in moto S3, as the audit job would:
a refused verdict fails the execution with MonthRefused and an alert listing the findings, and
PublishMonth never starts; a forced verdict publishes.
Backfill: a range runs one monthly execution per month under the names `expand` gives (with
forcePublish passed through); a failing month does not stop the others and fails the backfill
at the end; a bad range is alerted and starts nothing.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws
from moto.glue import models as glue_models
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from components import asl
from functions import trigger
from pipeline.contract.audit import REFUSE, WARN, AuditResult, AuditThresholds, Finding
from pipeline.contract.datasets import get_dataset
from pipeline.contract.layout import RunKeys
from pipeline.contract.months import Month
from pipeline.contract.steps import SPARK, STEPS

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/state-machine"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:tlc-elt-test-trigger"
PREFIX = "tlc-elt-test"
# Distinct per dataset, so a run that took another dataset's sizing is caught.
SIZING = {
    "yellow": asl.Sizing(2, 45), "green": asl.Sizing(3, 50),
    "fhv": asl.Sizing(2, 40, AuditThresholds(max_shrink=0.2)), "fhvhv": asl.Sizing(10, 120),
}  # fmt: skip
BUCKET = "tlc-elt-test-processed"
SHARE = Finding(
    "quarantine_share",
    REFUSE,
    "60,000 of 100,000 rows quarantined (60.0%), above "
    "the 5.0% allowed; raise --max-quarantine-share or pass --force-publish",
    {"rows_quarantined": 60000, "rows_in": 100000, "threshold": 0.05},
)
BAND = Finding("history_band", WARN, "40,000 loaded rows, 30% of the median", {"median": 133333})
_NAMES = itertools.count()
_TEST_NUMBERS = itertools.count()


@dataclass
class Faults:
    """Glue job runs that end FAILED: by job name, or by the month they were given; and whether
    the audit job's stand-in writes no verdict."""

    jobs: set[str] = field(default_factory=set)
    months: set[str] = field(default_factory=set)
    no_verdict: bool = False

    def fails(self, run: glue_models.FakeJobRun) -> bool:
        month = (run.arguments or {}).get("--month")
        return run.job_name in self.jobs or month in self.months


FAULTS = Faults()


def _stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two stand-ins, on top of conftest's `moto_runs_asl` fixes (patched for this module only).

    1. moto runs a `lambda:invoke` in Docker; here the invoke calls `functions.trigger.handler`
       in this process with the same payload, and a raised error becomes the error response
       the Lambda runtime would give (`FunctionError`, `errorType` = the exception's class).
    2. moto's Glue runs always succeed; the runs FAULTS names end FAILED. An audit job's run
       writes a passed verdict for its run id, as the audit job would, unless the test put one
       (or FAULTS.no_verdict).
    """
    monkeypatch.setattr(lambda_eval_utils, "_invoke_lambda_function", _invoke_trigger)
    create_run = glue_models.FakeJobRun.__init__

    def maybe_failing(run, *args, **kwargs):
        create_run(run, *args, **kwargs)
        if FAULTS.fails(run):
            run._transitions = [("STARTING", "RUNNING"), ("RUNNING", "FAILED")]
        elif run.job_name.endswith("audit_month") and not FAULTS.no_verdict:
            arguments = {key.lstrip("-"): value for key, value in (run.arguments or {}).items()}
            put_verdict(boto3.client("s3", region_name=REGION), arguments, arguments["run_id"],
                        keep=True)  # fmt: skip

    monkeypatch.setattr(glue_models.FakeJobRun, "__init__", maybe_failing)


def _invoke_trigger(parameters: dict, region: str, state_credentials: object) -> dict:
    assert parameters["FunctionName"] == FUNCTION
    event = json.loads(parameters["Payload"])
    try:
        return {"StatusCode": 200, "Payload": trigger.handler(event)}
    except Exception as error:  # the Lambda runtime reports any exception this way
        failure = {"errorType": type(error).__name__, "errorMessage": str(error)}
        return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": failure}


def put_verdict(s3, machine_input: dict, run_id: str, findings=(), forced=False, keep=False):
    """What the audit job writes for the run: its verdict beside the candidate (`keep`: not
    over a verdict the test put)."""
    dataset = machine_input.get("dataset", "yellow")
    month = Month(int(machine_input["year"]), int(machine_input["month"]))
    result = AuditResult(dataset, str(month), run_id, tuple(findings), forced)
    key = RunKeys(get_dataset(dataset), month, run_id).audit_key
    if keep and s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount"):
        return
    s3.put_object(Bucket=BUCKET, Key=key, Body=result.to_json().encode())


@dataclass
class Pipeline:
    """One monthly machine over its own Glue jobs, in the shared moto account."""

    sfn: object
    glue: object
    sqs: object
    s3: object
    queue_url: str
    topic_arn: str
    job_names: dict[str, str]
    state_machine_arn: str = ""

    def run(
        self,
        machine_input: object,
        machine_arn: str | None = None,
        *,
        findings=(),
        forced=False,
    ) -> dict:
        """Start an execution (with `findings`, the audit's verdict for it is put first) and
        wait for it to end; the deadline only guards against a hang."""
        name = f"run-{next(_NAMES)}"
        if findings:
            put_verdict(self.s3, machine_input, name, findings, forced)
        arn = self.sfn.start_execution(
            stateMachineArn=machine_arn or self.state_machine_arn, name=name,
            input=json.dumps(machine_input),
        )["executionArn"]  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.05)
        raise AssertionError(f"execution {arn} still running after 60 s")

    def scheduled_runs(self, execution_arn: str) -> list[dict]:
        """The StartJobRun parameters of every Glue task the execution scheduled, in order."""
        events = self.sfn.get_execution_history(executionArn=execution_arn)["events"]
        return [
            json.loads(event["taskScheduledEventDetails"]["parameters"])
            for event in events
            if event["type"] == "TaskScheduled"
            and event["taskScheduledEventDetails"]["resourceType"] == "glue"
        ]

    def started_jobs(self, execution_arn: str) -> list[tuple[str, dict]]:
        """(job name, arguments) of every Glue task the execution scheduled, in order."""
        return [(task["JobName"], task["Arguments"]) for task in self.scheduled_runs(execution_arn)]

    def job_runs(self) -> dict[str, list[dict]]:
        return {
            job: self.glue.get_job_runs(JobName=name)["JobRuns"]
            for job, name in self.job_names.items()
        }

    def backfill_machine(self, concurrency: int = 2) -> str:
        definition = asl.backfill_definition(
            self.state_machine_arn,
            FUNCTION,
            self.topic_arn,
            stack_prefix=PREFIX,
            max_concurrency=concurrency,
        )
        name = self.state_machine_arn.rsplit(":", 1)[1].replace("monthly", "backfill")
        return self.sfn.create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=ROLE
        )["stateMachineArn"]

    def monthly_executions(self) -> dict[str, dict]:
        """The monthly machine's executions by name, described."""
        found = self.sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]
        described = [self.sfn.describe_execution(executionArn=e["executionArn"]) for e in found]
        return {execution["name"]: execution for execution in described}

    def alerts(self) -> list[dict]:
        received = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in received.get("Messages", [])]


@dataclass(frozen=True)
class Clients:
    sfn: object
    glue: object
    sns: object
    sqs: object
    s3: object


@pytest.fixture(scope="module")
def clients(moto_runs_asl) -> Iterator[Clients]:
    """One moto account for the module (starting moto and its clients is the slow part)."""
    _stand_ins(moto_runs_asl)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        clients = Clients(
            *(boto3.client(name, region_name=REGION)
              for name in ("stepfunctions", "glue", "sns", "sqs", "s3"))
        )  # fmt: skip
        clients.s3.create_bucket(Bucket=BUCKET)
        yield clients


@pytest.fixture
def pipeline(clients) -> Iterator[Pipeline]:
    """Fresh jobs, topic, inbox and machine per test, so runs and alerts are the test's own."""
    FAULTS.jobs.clear()
    FAULTS.months.clear()
    FAULTS.no_verdict = False
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
        job_names, topic_arn, stack_prefix=PREFIX, spark_worker_type="G.1X", sizing=SIZING,
        processed_bucket=BUCKET,
    )  # fmt: skip
    machine = clients.sfn.create_state_machine(
        name=f"{PREFIX}-{run_id}-monthly", definition=json.dumps(definition), roleArn=ROLE
    )
    yield Pipeline(
        clients.sfn, clients.glue, clients.sqs, clients.s3, queue_url, topic_arn, job_names,
        machine["stateMachineArn"],
    )  # fmt: skip
    FAULTS.jobs.clear()
    FAULTS.months.clear()
    FAULTS.no_verdict = False


def expected_arguments(step, dataset: str, year: str, month: str, run_id: str, force="false"):
    """A step's Glue arguments: the month and the run id; the audit's own besides."""
    arguments = {"--dataset": dataset, "--year": year, "--month": month, "--run_id": run_id}
    if step.state == asl.AUDIT_STEP:
        thresholds = json.dumps(SIZING[dataset].audit.to_config(), sort_keys=True)
        arguments.update({"--force_publish": force, "--audit": thresholds})
    return arguments


def test_success_runs_the_jobs_in_order_with_the_month_and_the_run_id(pipeline):
    execution = pipeline.run({"year": "2024", "month": "09"})
    assert execution["status"] == "SUCCEEDED"
    run_id = execution["name"]
    expected = {
        step.job: expected_arguments(step, "yellow", "2024", "09", run_id) for step in STEPS
    }
    assert pipeline.started_jobs(execution["executionArn"]) == [
        (pipeline.job_names[step.job], expected[step.job]) for step in STEPS
    ]
    for job, runs in pipeline.job_runs().items():
        ((run),) = runs
        assert (run["JobRunState"], run["Arguments"]) == ("SUCCEEDED", expected[job])
    output = json.loads(execution["output"])
    assert set(output["steps"]) == {step.state for step in STEPS}
    assert output["audit"]["verdict"]["verdict"] == "passed"
    for result in output["steps"].values():
        assert set(result) == {"JobRunId", "JobRunState", "ExecutionTime"}
        assert result["JobRunState"] == "SUCCEEDED"
    assert pipeline.alerts() == []


@pytest.mark.parametrize("dataset", ["yellow", "fhvhv"])
def test_each_run_is_sized_for_its_dataset(pipeline, dataset):
    execution = pipeline.run({"year": "2024", "month": "03", "dataset": dataset})
    assert execution["status"] == "SUCCEEDED"
    sizing = SIZING[dataset]
    for step, run in zip(STEPS, pipeline.scheduled_runs(execution["executionArn"]), strict=True):
        assert run["Timeout"] == sizing.timeout_minutes
        if step.kind == SPARK:
            assert (run["WorkerType"], run["NumberOfWorkers"]) == ("G.1X", sizing.workers)
        else:
            assert "NumberOfWorkers" not in run


def test_an_explicit_dataset_reaches_every_job_with_its_audit_thresholds(pipeline):
    execution = pipeline.run({"year": "2023", "month": "12", "dataset": "fhv"})
    assert execution["status"] == "SUCCEEDED"
    started = pipeline.started_jobs(execution["executionArn"])
    for step, (_, arguments) in zip(STEPS, started, strict=True):
        assert arguments == expected_arguments(step, "fhv", "2023", "12", execution["name"])
    audit = dict(started)[pipeline.job_names["audit_month"]]["--audit"]
    assert json.loads(audit)["maxShrink"] == 0.2  # fhv's own, from its Pass state


def test_a_refused_month_fails_with_month_refused_and_alerts_its_findings(pipeline):
    execution = pipeline.run({"year": "2024", "month": "09"}, findings=(SHARE, BAND))
    assert execution["status"] == "FAILED"
    assert execution["error"] == "MonthRefused"
    assert execution["cause"].startswith("AuditMonth refused yellow 2024-09: nothing was published")
    started = [name for name, _ in pipeline.started_jobs(execution["executionArn"])]
    assert started == [pipeline.job_names[step.job] for step in STEPS[:3]]
    assert pipeline.job_runs()["load_redshift"] == []  # PublishMonth never started
    (alert,) = pipeline.alerts()
    assert alert["Subject"] == f"{PREFIX}: yellow 2024-09 failed at AuditMonth"
    message = json.loads(alert["Message"])
    assert (message["name"], message["error"], message["step"]) == (
        "MonthRefused", "MonthRefused", "AuditMonth",
    )  # fmt: skip
    assert message["run_id"] == execution["name"]
    assert [f["rule"] for f in message["findings"]] == ["quarantine_share", "history_band"]
    assert message["findings"][0]["message"] == SHARE.message
    assert message["findings"][0]["figures"]["rows_quarantined"] == 60000


def test_a_forced_verdict_publishes(pipeline):
    machine_input = {"year": "2024", "month": "09", "forcePublish": True}
    execution = pipeline.run(machine_input, findings=(SHARE,), forced=True)
    assert execution["status"] == "SUCCEEDED"
    started = pipeline.started_jobs(execution["executionArn"])
    assert [name for name, _ in started] == [pipeline.job_names[step.job] for step in STEPS]
    assert started[2][1]["--force_publish"] == "true"
    assert json.loads(execution["output"])["audit"]["verdict"]["verdict"] == "forced"
    assert pipeline.alerts() == []


def test_a_missing_verdict_fails_before_publish_and_is_alerted(pipeline):
    FAULTS.no_verdict = True
    execution = pipeline.run({"year": "2024", "month": "08"})
    assert execution["status"] == "FAILED"
    assert execution["error"] == f"{asl.READ_VERDICT}Failed"
    assert pipeline.job_runs()["load_redshift"] == []
    (alert,) = pipeline.alerts()
    assert json.loads(alert["Message"])["error"].lower() == "s3.nosuchkeyexception"


def test_a_failing_job_alerts_with_the_step_and_error_then_fails(pipeline):
    failing = STEPS[1]
    FAULTS.jobs.add(pipeline.job_names[failing.job])  # and every later step never starts
    execution = pipeline.run({"year": "2024", "month": "09", "dataset": "yellow"})
    assert execution["status"] == "FAILED"
    assert execution["error"] == f"{failing.state}Failed"
    assert execution["cause"] == f"{failing.state} failed for yellow 2024-09: States.TaskFailed"
    started = [name for name, _ in pipeline.started_jobs(execution["executionArn"])]
    assert started == [pipeline.job_names[STEPS[0].job], pipeline.job_names[failing.job]]
    assert all(pipeline.job_runs()[step.job] == [] for step in STEPS[2:])
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
        {"year": "2024", "month": "09", "forcePublish": "true"},
        {"year": "2024", "month": "09", "forcePublish": 1},
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


def test_a_backfill_runs_the_monthly_machine_for_each_month_of_the_range(pipeline):
    backfill = pipeline.run({"from": "2024-11", "to": "2025-01"}, pipeline.backfill_machine())
    assert backfill["status"] == "SUCCEEDED"
    months = json.loads(backfill["output"])["backfill"]["months"]
    assert [(m["year"], m["month"]) for m in months] == [
        ("2024", "11"), ("2024", "12"), ("2025", "01"),
    ]  # fmt: skip
    children = pipeline.monthly_executions()
    assert sorted(children) == sorted(m["name"] for m in months)
    for month in months:
        child = children[month["name"]]
        assert child["status"] == "SUCCEEDED"
        assert month["run"] == {"status": "SUCCEEDED", "execution": child["executionArn"]}
        sent = json.loads(child["input"])
        assert {k: sent[k] for k in ("year", "month", "dataset")} == {
            "year": month["year"], "month": month["month"], "dataset": "yellow",
        }  # fmt: skip
    # Every job ran once per month.
    for runs in pipeline.job_runs().values():
        assert sorted(run["Arguments"]["--month"] for run in runs) == ["01", "11", "12"]
    assert pipeline.alerts() == []


def test_a_failing_month_lets_the_others_finish_then_fails_the_backfill(pipeline):
    FAULTS.months.add("02")
    backfill = pipeline.run({"from": "2024-01", "to": "2024-03"}, pipeline.backfill_machine())
    assert backfill["status"] == "FAILED"
    assert backfill["error"] == asl.MONTHS_FAILED
    statuses = {
        json.loads(child["input"])["month"]: child["status"]
        for child in pipeline.monthly_executions().values()
    }
    assert statuses == {"01": "SUCCEEDED", "02": "FAILED", "03": "SUCCEEDED"}
    (alert,) = pipeline.alerts()  # the failing month's own; the backfill adds none
    assert json.loads(alert["Message"])["month"] == "02"


def test_a_bad_backfill_range_is_alerted_and_starts_nothing(pipeline):
    backfill = pipeline.run({"from": "2024-06", "to": "2024-01"}, pipeline.backfill_machine())
    assert backfill["status"] == "FAILED"
    assert backfill["error"] == f"{asl.EXPAND_MONTHS}Failed"
    assert backfill["cause"] == f"backfill failed at {asl.EXPAND_MONTHS}: InvalidInput"
    assert pipeline.monthly_executions() == {}
    (alert,) = pipeline.alerts()
    message = json.loads(alert["Message"])
    assert message["step"] == asl.EXPAND_MONTHS
    assert "the first month must not be after the last" in message["details"]["Cause"]


def test_a_forced_backfill_passes_force_publish_to_every_month(pipeline):
    backfill = pipeline.run(
        {"from": "2024-05", "to": "2024-06", "forcePublish": True}, pipeline.backfill_machine()
    )
    assert backfill["status"] == "SUCCEEDED"
    children = pipeline.monthly_executions().values()
    assert sorted(json.loads(child["input"])["month"] for child in children) == ["05", "06"]
    for child in children:
        assert json.loads(child["input"])["forcePublish"] is True
        audit = dict(pipeline.started_jobs(child["executionArn"]))[
            pipeline.job_names["audit_month"]
        ]
        assert audit["--force_publish"] == "true"
