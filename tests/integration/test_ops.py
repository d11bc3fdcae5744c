"""Operating a deployed stack, against moto's Step Functions (which runs the state machine),
Glue, CloudWatch Logs and S3, with the `pulumi` CLI faked at its subprocess boundary."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.glue import models as glue_models

from components import asl, etl
from pipeline.cli import main as cli
from pipeline.contract import layout
from pipeline.contract.audit import REFUSE, AuditResult, Finding
from pipeline.contract.datasets import DATASETS, get_dataset
from pipeline.contract.errors import InvalidInput
from pipeline.contract.executions import Trigger, execution_name
from pipeline.contract.months import Month
from pipeline.contract.steps import SPARK, STEPS
from pipeline.ops import aws as ops_aws
from pipeline.ops import logs as ops_logs
from pipeline.ops import runs
from pipeline.ops import verify as ops_verify
from pipeline.ops.aws import Runtime
from pipeline.ops.history import StepStatus
from pipeline.ops.runs import ExecutionExists, MonthAlreadyRunning, NoExecutions
from pipeline.ops.stack import StackOutputs, StackTarget, StackUnavailable
from pipeline.warehouse.base import Dialect, ledger_select_sql, month_counts_sql
from pipeline.warehouse.redshift import catalog_columns_sql

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/tlc-elt-dev-states"
PREFIX = "tlc-elt-dev"
STACK = StackTarget(stack="dev")


PROCESSED = "tlc-elt-dev-processed"
# The findings the audit job's stand-in writes (none: a passed verdict).
REFUSALS: list[Finding] = []


def _audit_writes_its_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's Glue runs do nothing: an audit job's run writes the verdict the audit job would
    for its run id (refused with REFUSALS, else passed), which the machine then reads."""
    create_run = glue_models.FakeJobRun.__init__

    def with_verdict(run, *args, **kwargs):
        create_run(run, *args, **kwargs)
        if not run.job_name.endswith("audit_month"):
            return
        given = {key.lstrip("-"): value for key, value in (run.arguments or {}).items()}
        month = Month(int(given["year"]), int(given["month"]))
        verdict = AuditResult(given["dataset"], str(month), given["run_id"], tuple(REFUSALS))
        key = layout.RunKeys(get_dataset(given["dataset"]), month, given["run_id"]).audit_key
        client("s3").put_object(Bucket=PROCESSED, Key=key, Body=verdict.to_json().encode())

    monkeypatch.setattr(glue_models.FakeJobRun, "__init__", with_verdict)


@pytest.fixture
def aws(moto_runs_asl):
    """moto running the ASL we deploy (conftest's fixes let it run `asl.monthly_definition`),
    with the processed bucket the audit's verdicts are read from."""
    with pytest.MonkeyPatch.context() as patch:
        _audit_writes_its_verdict(patch)
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            client("s3").create_bucket(
                Bucket=PROCESSED, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
            yield
    REFUSALS.clear()


def client(service: str, region: str | None = None):
    return boto3.client(service, region_name=region or REGION)


def job_name(step) -> str:
    return f"{PREFIX}-{step.job}"


def monthly_definition(topic_arn: str) -> dict:
    """The monthly machine the stack deploys (components.orchestration builds it the same way)."""
    return asl.monthly_definition(
        {step.job: job_name(step) for step in STEPS},
        topic_arn,
        stack_prefix=PREFIX,
        sizing={name: asl.Sizing(2, 45) for name in DATASETS},
        spark_worker_type="G.1X",
        processed_bucket=PROCESSED,
    )


# The real backfill machine's first state is a Lambda (moto runs Lambdas only in Docker;
# test_state_machine runs it with the trigger's code): a stand-in receives the input.
BACKFILL_DEFINITION = {
    "StartAt": "ExpandMonths",
    "States": {"ExpandMonths": {"Type": "Pass", "End": True}},
}


def spark_log_prefix(step) -> str:
    return etl.job_log_prefix(PREFIX, step.job)


class Pulumi:
    """`pulumi stack output --json --stack dev` for the deployed test stack."""

    def __init__(self, outputs: dict) -> None:
        self.outputs = outputs
        self.calls: list[list[str]] = []

    def __call__(self, command, **kwargs):
        self.calls.append(list(command))
        return subprocess.CompletedProcess(command, 0, json.dumps(self.outputs), "")


def deploy(missing_jobs: tuple[str, ...] = ()) -> dict:
    """What `pulumi up` would create, minus Redshift; returns the stack outputs."""
    glue = client("glue")
    for step in STEPS:
        if step.job not in missing_jobs:
            # The Spark job logs where the stack's GlueEtl sends it: groups of its own prefix.
            logging = etl.continuous_logging_arguments(spark_log_prefix(step))
            glue.create_job(
                Name=job_name(step),
                Role=ROLE,
                Command={"Name": step.kind, "ScriptLocation": f"s3://scripts/{step.script}"},
                DefaultArguments=logging if step.kind == SPARK else {},
            )
    topic = client("sns").create_topic(Name="tlc-elt-dev-alerts")["TopicArn"]
    sfn = client("stepfunctions")
    monthly = sfn.create_state_machine(
        name="tlc-elt-dev-monthly", definition=json.dumps(monthly_definition(topic)), roleArn=ROLE
    )["stateMachineArn"]
    backfill = sfn.create_state_machine(
        name="tlc-elt-dev-backfill", definition=json.dumps(BACKFILL_DEFINITION), roleArn=ROLE
    )["stateMachineArn"]
    return {
        "stateMachineArn": monthly,
        "backfillStateMachineArn": backfill,
        "alertsTopicArn": topic,
        "workgroupName": "tlc-elt-dev",
        "databaseName": "tlc",
        "processedBucket": "tlc-elt-dev-processed",
        "rawBucket": "tlc-elt-dev-raw",
    }


class Clock:
    """A UTC clock that ticks one second per reading, so every start gets its own name."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current


class Sleeps:
    """Counts the polls; waits a moment for moto's executor thread to make progress."""

    def __init__(self) -> None:
        self.requested: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.requested.append(seconds)
        time.sleep(0.02)


def runtime(pulumi, now=None, sleep=None) -> Runtime:
    return Runtime(
        run=pulumi,
        client=lambda service, region: client(service, region),
        now=now or Clock(datetime(2025, 3, 1, tzinfo=UTC)),
        sleep=sleep or Sleeps(),
    )


# ---------------------------------------------------------------- start --wait


def test_start_and_wait_reports_every_step_succeeded(aws):
    pulumi = Pulumi(deploy())
    sleeps, seen = Sleeps(), []

    result = runs.start(
        STACK,
        "2024",
        "9",
        "yellow",
        wait=True,
        runtime=runtime(pulumi, sleep=sleeps),
        on_update=seen.append,
        poll_seconds=7,
    )

    assert result.ok
    assert result.final.status == "SUCCEEDED"
    assert [s.status for s in result.final.steps] == [StepStatus.SUCCEEDED] * len(STEPS)
    assert all(len(s.job_runs) == 1 and s.job_runs[0].startswith("jr_") for s in result.final.steps)
    assert [s.job_name for s in result.final.steps] == [job_name(step) for step in STEPS]
    assert result.started.name == "yellow-2024-09-manual-20250301T000001Z"
    assert result.started.input == {"year": "2024", "month": "09", "dataset": "yellow"}
    described = client("stepfunctions").describe_execution(
        executionArn=result.started.execution_arn
    )
    assert json.loads(described["input"]) == result.started.input
    assert seen[-1] is result.final  # the display saw the final state
    assert set(sleeps.requested) <= {7}
    assert pulumi.calls == [["pulumi", "stack", "output", "--json", "--stack", "dev"]]


def test_start_and_wait_on_a_failing_step_returns_the_step_and_its_error(aws):
    pulumi = Pulumi(deploy(missing_jobs=("load_redshift",)))

    result = runs.start(STACK, "2024", "09", "yellow", wait=True, runtime=runtime(pulumi))

    assert not result.ok
    final = result.final
    assert final.status == "FAILED"
    assert final.failing_step.state == "PublishMonth"
    assert final.failure.startswith("PublishMonth failed: Glue.EntityNotFoundException")
    assert "tlc-elt-dev-load_redshift" in final.failure
    assert [s.status for s in final.steps[:3]] == [StepStatus.SUCCEEDED] * 3
    # What the deployed machine ends with: its Fail state's error and cause, after the alert.
    assert final.error == "PublishMonthFailed"
    assert final.cause == "PublishMonth failed for yellow 2024-09: Glue.EntityNotFoundException"
    assert not final.refused


def test_a_refused_month_reads_as_refused_with_the_audits_findings(aws):
    REFUSALS.append(
        Finding("quarantine_share", REFUSE, "9 of 10 rows quarantined (90.0%), above the 5.0% "
                "allowed; raise --max-quarantine-share or pass --force-publish")
    )  # fmt: skip
    pulumi = Pulumi(deploy())

    result = runs.start(STACK, "2024", "09", "yellow", wait=True, runtime=runtime(pulumi))

    final = result.final
    assert not result.ok
    assert final.refused
    assert final.error == "MonthRefused"
    assert [s.status for s in final.steps] == [StepStatus.SUCCEEDED] * 3 + [StepStatus.PENDING]
    assert final.failure.startswith("refused: AuditMonth refused yellow 2024-09")
    assert final.finding_lines == [
        "refuse: quarantine_share: 9 of 10 rows quarantined (90.0%), above the 5.0% allowed; "
        "raise --max-quarantine-share or pass --force-publish"
    ]
    shown = json.loads(json.dumps(final.to_json(datetime.now(UTC))))
    assert shown["refused"] is True
    assert shown["findings"][0]["rule"] == "quarantine_share"


def test_force_publish_is_in_the_execution_input(aws):
    pulumi = Pulumi(deploy())
    run = runtime(pulumi)

    result = runs.start(STACK, "2024", "09", "yellow", force_publish=True, runtime=run)
    backfilling = runs.backfill(STACK, "2024-01", "2024-02", "yellow", force_publish=True,
                                runtime=run)  # fmt: skip

    assert result.started.input == {
        "year": "2024", "month": "09", "dataset": "yellow", "forcePublish": True,
    }  # fmt: skip
    assert backfilling.started.input["forcePublish"] is True


def test_start_without_wait_returns_at_once(aws):
    outputs = deploy()
    target = StackTarget(given=StackOutputs(state_machine_arn=outputs["stateMachineArn"]))

    result = runs.start(target, 2024, 9, "yellow", runtime=runtime(pulumi=None))

    assert result.final is None
    assert result.ok
    assert result.started.state_machine_arn == outputs["stateMachineArn"]


def test_bad_month_or_dataset_is_refused_before_anything_runs(aws):
    pulumi = Pulumi(deploy())
    for year, month, dataset in [
        ("2024", "13", "yellow"),
        ("2008", "1", "yellow"),
        ("2025", "4", "yellow"),
        ("2024", "9", "blue"),
    ]:
        with pytest.raises(InvalidInput):
            runs.start(STACK, year, month, dataset, runtime=runtime(pulumi))
    assert pulumi.calls == []
    machine = pulumi.outputs["stateMachineArn"]
    assert client("stepfunctions").list_executions(stateMachineArn=machine)["executions"] == []


def test_a_name_already_used_is_a_clear_error(aws):
    pulumi = Pulumi(deploy())
    frozen = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    still = runtime(pulumi, now=lambda: frozen)
    first = runs.start(STACK, "2024", "09", "yellow", runtime=still, wait=True)
    assert first.ok
    # Step Functions treats the same name and input as a retry while the first runs, and
    # refuses the name once it has ended.
    with pytest.raises(ExecutionExists, match="yellow-2024-09-manual-20250301T080000Z"):
        runs.start(STACK, "2024", "09", "yellow", runtime=still)


def test_the_same_month_running_already_is_refused_unless_forced():
    with mock_aws():  # without the executor, executions stay RUNNING
        pulumi = Pulumi(deploy())
        clock = runtime(pulumi)
        first = runs.start(STACK, "2024", "09", "yellow", runtime=clock)
        runs.start(STACK, "2024", "10", "yellow", runtime=clock)  # another month is fine

        with pytest.raises(MonthAlreadyRunning, match=first.started.execution_arn):
            runs.start(STACK, "2024", "9", "yellow", runtime=clock)
        forced = runs.start(STACK, "2024", "09", "yellow", runtime=clock, allow_concurrent=True)
        assert forced.started.name != first.started.name


def test_a_scheduled_run_without_dataset_blocks_only_the_default_dataset():
    with mock_aws():  # without the executor, executions stay RUNNING
        pulumi = Pulumi(deploy())
        scheduled = client("stepfunctions").start_execution(
            stateMachineArn=pulumi.outputs["stateMachineArn"],
            name=execution_name("yellow", Month(2024, 9), Trigger.SCHEDULED),
            input=json.dumps({"year": "2024", "month": "09"}),  # the original's input shape
        )
        clock = runtime(pulumi)

        runs.start(STACK, "2024", "09", "green", runtime=clock)
        with pytest.raises(MonthAlreadyRunning, match=scheduled["executionArn"]):
            runs.start(STACK, "2024", "09", "yellow", runtime=clock)


def test_missing_pulumi_names_the_flag_to_use_instead(aws):
    def no_pulumi(command, **kwargs):
        raise FileNotFoundError(command[0])

    with pytest.raises(StackUnavailable, match="--state-machine-arn"):
        runs.start(STACK, "2024", "09", "yellow", runtime=runtime(no_pulumi))


def test_an_arn_from_another_account_or_region_is_reported(aws):
    target = StackTarget(
        given=StackOutputs(
            state_machine_arn="arn:aws:states:eu-west-1:123456789012:stateMachine:not-deployed"
        )
    )
    with pytest.raises(ops_aws.AwsCallFailed, match="StateMachineDoesNotExist"):
        runs.start(target, "2024", "09", "yellow", runtime=runtime(None))


# ---------------------------------------------------------------- backfill


def test_backfill_starts_the_backfill_machine_with_the_range(aws):
    pulumi = Pulumi(deploy())

    started = runs.backfill(STACK, "2024-01", "2024-03", "yellow", runtime=runtime(pulumi))

    assert [str(m) for m in started.months] == ["2024-01", "2024-02", "2024-03"]
    assert started.started.state_machine_arn == pulumi.outputs["backfillStateMachineArn"]
    assert started.started.name.startswith("yellow-2024-01-to-2024-03-backfill-")
    sfn = client("stepfunctions")
    described = sfn.describe_execution(executionArn=started.started.execution_arn)
    assert json.loads(described["input"]) == {
        "from": "2024-01",
        "to": "2024-03",
        "dataset": "yellow",
    }


@pytest.mark.parametrize(
    ("first", "last", "complaint"),
    [
        ("2024-06", "2024-01", "must not be after"),
        ("2024-01", "2025-09", "future"),
        ("2024-1x", "2024-02", "YYYY-MM"),
    ],
)
def test_backfill_refuses_bad_ranges_before_anything_runs(aws, first, last, complaint):
    pulumi = Pulumi(deploy())
    with pytest.raises(InvalidInput, match=complaint):
        runs.backfill(STACK, first, last, "yellow", runtime=runtime(pulumi))
    assert pulumi.calls == []


# ---------------------------------------------------------------- status, watch, logs


def test_status_lists_recent_executions_newest_first_with_their_steps(aws):
    pulumi = Pulumi(deploy(missing_jobs=("transform_trips",)))
    run = runtime(pulumi)
    sfn = client("stepfunctions")
    for month in ("07", "08"):
        started = runs.start(STACK, "2024", month, "yellow", runtime=run)
        runs.watch_execution(sfn, started.started.execution_arn, sleep=Sleeps())
    backfilling = runs.backfill(STACK, "2024-01", "2024-02", "yellow", runtime=run)
    runs.watch_execution(sfn, backfilling.started.execution_arn, sleep=Sleeps())
    progress = []

    result = runs.status(STACK, limit=5, runtime=run, progress=lambda *a: progress.append(a))

    monthly, backfill = result.machines
    assert (monthly.role, backfill.role) == ("monthly", "backfill")
    assert [v.input["month"] for v in monthly.executions] == ["08", "07"]
    newest = monthly.executions[0]
    assert newest.status == "FAILED"
    assert [s.status for s in newest.steps] == [
        StepStatus.SUCCEEDED,
        StepStatus.FAILED,
        StepStatus.PENDING,
        StepStatus.PENDING,
    ]
    assert "Glue.EntityNotFoundException" in newest.failure
    [backfilled] = backfill.executions
    assert backfilled.input == {"from": "2024-01", "to": "2024-02", "dataset": "yellow"}
    assert backfilled.steps == []  # the backfill machine runs months, not the pipeline steps
    # progress counts each machine's histories: the monthly's 2, then the backfill's 1
    assert [p[1:] for p in progress if p[0] == "done"] == [(2, 2), (1, 1)]
    assert (
        json.loads(json.dumps(result.to_json()))["monthly"]["executions"][0]["status"] == "FAILED"
    )


def test_status_limit_is_checked():
    with pytest.raises(InvalidInput, match="--limit"):
        runs.status(STACK, limit=0, runtime=runtime(None))


def test_logs_of_the_latest_execution_show_each_glue_run_tail(aws):
    pulumi = Pulumi(deploy())
    run = runtime(pulumi)
    result = runs.start(STACK, "2024", "09", "yellow", wait=True, runtime=run)
    ingest_run = result.final.steps[0].job_runs[0]
    transform_run = result.final.steps[1].job_runs[0]
    logs = client("logs")
    now_ms = int(time.time() * 1000)
    write_log(
        logs, "/aws-glue/python-jobs/output", ingest_run, [f"ingest {i}" for i in range(5)], now_ms
    )
    write_log(logs, "/aws-glue/python-jobs/error", ingest_run, ["a warning"], now_ms)
    spark_logs = spark_log_prefix(STEPS[1])
    write_log(logs, f"{spark_logs}/output", transform_run, ["spark says hi"], now_ms)
    write_log(logs, f"{spark_logs}/error", transform_run, ["executor lost"], now_ms)
    write_log(logs, f"{spark_logs}/output", "jr_someone_else", ["not ours"], now_ms)
    # Glue's default group holds nothing of a job with a custom prefix: not read.
    write_log(logs, "/aws-glue/jobs/output", transform_run, ["not where it logs"], now_ms)

    found = ops_logs.logs(STACK, tail=3, runtime=run)

    assert found.execution.arn == result.started.execution_arn
    by_step = {r.step: r for r in found.runs}
    assert set(by_step) == {step.state for step in STEPS}
    ingest = by_step["IngestRaw"]
    assert (ingest.run_id, ingest.state, ingest.job_name) == (
        ingest_run,
        "SUCCEEDED",
        job_name(STEPS[0]),
    )
    output, error = ingest.streams
    assert (output.group, output.lines, output.more_before) == (
        "/aws-glue/python-jobs/output",
        ["ingest 2", "ingest 3", "ingest 4"],
        True,
    )
    assert (error.group, error.lines, error.more_before) == (
        "/aws-glue/python-jobs/error",
        ["a warning"],
        False,
    )
    transform = by_step["TransformTrips"].streams
    assert [(s.group, s.lines) for s in transform] == [
        (f"{spark_logs}/output", ["spark says hi"]),
        (f"{spark_logs}/error", ["executor lost"]),
    ]
    assert by_step["AuditMonth"].streams == by_step["PublishMonth"].streams == []


def write_log(logs, group: str, stream: str, lines: list[str], now_ms: int) -> None:
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    events = [{"timestamp": now_ms + i, "message": line} for i, line in enumerate(lines)]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def test_logs_without_any_execution_says_so(aws):
    pulumi = Pulumi(deploy())
    with pytest.raises(NoExecutions, match="no executions yet"):
        ops_logs.logs(STACK, runtime=runtime(pulumi))


def test_watch_a_given_execution_by_arn_without_the_stack(aws):
    pulumi = Pulumi(deploy())
    started = runs.start(STACK, "2024", "09", "yellow", runtime=runtime(pulumi))

    final = runs.watch(StackTarget(), started.started.execution_arn, runtime=runtime(None))

    assert final.ok
    assert final.arn == started.started.execution_arn


def test_input_the_machine_itself_rejects_is_reported_with_its_rule(aws):
    """Started by something other than this CLI (the console, an old script): the deployed
    machine's own input check fails it before any step, and watch says why."""
    pulumi = Pulumi(deploy())
    arn = client("stepfunctions").start_execution(
        stateMachineArn=pulumi.outputs["stateMachineArn"],
        input=json.dumps({"year": "2024", "month": "13"}),
    )["executionArn"]

    final = runs.watch(StackTarget(), arn, runtime=runtime(None))

    assert (final.status, final.error) == ("FAILED", "InvalidInput")
    assert final.failing_step is None
    assert [s.status for s in final.steps] == [StepStatus.PENDING] * len(STEPS)
    assert final.failure.startswith('execution FAILED: InvalidInput: expected {"year": "YYYY"')
    assert client("glue").get_job_runs(JobName=job_name(STEPS[0]))["JobRuns"] == []


def test_an_aborted_execution_is_a_failure_naming_the_abort_and_the_step(aws):
    sfn = client("stepfunctions")
    waiting = {
        "StartAt": "IngestRaw",
        "States": {"IngestRaw": {"Type": "Wait", "Seconds": 60, "End": True}},
    }
    machine = sfn.create_state_machine(name="slow", definition=json.dumps(waiting), roleArn=ROLE)
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")[
        "executionArn"
    ]

    def history_has(kind: str) -> bool:
        for _ in range(200):  # moto records events from its executor thread
            events = sfn.get_execution_history(executionArn=arn)["events"]
            if any(event["type"] == kind for event in events):
                return True
            time.sleep(0.01)
        return False

    def stop_on_first_poll(seconds):
        assert history_has("WaitStateEntered")
        sfn.stop_execution(executionArn=arn, error="Operator", cause="wrong month")
        assert history_has("ExecutionAborted")

    final = runs.watch_execution(sfn, arn, sleep=stop_on_first_poll)

    assert final.status == "ABORTED"
    assert not final.ok
    # moto drops stop_execution's error and cause; AWS keeps them and they follow here.
    assert final.failure.startswith("execution ABORTED during IngestRaw")


# ---------------------------------------------------------------- verify (Data API)


def stub_columns_query(stub: Stubber) -> None:
    """The table's columns, read first: today's (so the verify query counts clean rows)."""
    yellow = get_dataset("yellow")
    stub.add_response(
        "execute_statement",
        {"Id": "stmt-0"},
        {"WorkgroupName": "tlc-elt-dev", "Database": "tlc",
         "StatementName": "tlc-elt-columns-yellow", "Sql": catalog_columns_sql([yellow.table])},
    )  # fmt: skip
    stub.add_response(
        "describe_statement",
        {"Id": "stmt-0", "Status": "FINISHED", "HasResultSet": True},
        {"Id": "stmt-0"},
    )
    stub.add_response(
        "get_statement_result",
        {
            "Records": [
                [{"stringValue": yellow.table}, {"stringValue": name}]
                for name in yellow.column_names
            ]
        },
        {"Id": "stmt-0"},
    )


LEDGER_NAMES = (
    "dataset", "source_month", "run_id", "published_at", "engine", "source", "source_bytes",
    "source_sha256", "rows_in", "rows_loaded", "rows_quarantined", "rows_replaced", "forced",
    "findings",
)  # fmt: skip


def ledger_record(month: str, run_id: str, published_at: str, loaded: int, quarantined: int):
    return [
        {"stringValue": "yellow"}, {"stringValue": f"{month}-01"}, {"stringValue": run_id},
        {"stringValue": published_at}, {"stringValue": "glue-spark"}, {"stringValue": "s"},
        {"longValue": 1}, {"stringValue": "x"}, {"longValue": loaded + quarantined},
        {"longValue": loaded}, {"longValue": quarantined}, {"longValue": 0},
        {"booleanValue": False}, {"stringValue": "[]"},
    ]  # fmt: skip


def stub_ledger(stub: Stubber, records: list | None) -> None:
    """The ledger's columns (none: no ledger yet), then its rows, newest first."""
    stub.add_response(
        "execute_statement",
        {"Id": "stmt-2"},
        {"WorkgroupName": "tlc-elt-dev", "Database": "tlc",
         "StatementName": "tlc-elt-ledger-columns",
         "Sql": catalog_columns_sql(["tlc_elt_loads"])},
    )  # fmt: skip
    stub.add_response(
        "describe_statement",
        {"Id": "stmt-2", "Status": "FINISHED", "HasResultSet": True},
        {"Id": "stmt-2"},
    )
    names = LEDGER_NAMES if records is not None else ()
    stub.add_response(
        "get_statement_result",
        {"Records": [[{"stringValue": "tlc_elt_loads"}, {"stringValue": name}] for name in names]},
        {"Id": "stmt-2"},
    )
    if records is None:
        return
    stub.add_response(
        "execute_statement",
        {"Id": "stmt-3"},
        {"WorkgroupName": "tlc-elt-dev", "Database": "tlc", "StatementName": "tlc-elt-ledger",
         "Sql": ledger_select_sql(get_dataset("yellow"), Dialect.REDSHIFT)},
    )  # fmt: skip
    stub.add_response(
        "describe_statement",
        {"Id": "stmt-3", "Status": "FINISHED", "HasResultSet": True},
        {"Id": "stmt-3"},
    )
    stub.add_response("get_statement_result", {"Records": records}, {"Id": "stmt-3"})


def stub_verify_query(
    stub: Stubber, rows: list[tuple[str, int, int]], ledger: list | None = None
) -> None:
    """The Data API as it answers the verify query (submitted, running once, then finished),
    then the ledger (None: a warehouse without one)."""
    stub_columns_query(stub)
    stub.add_response(
        "execute_statement",
        {"Id": "stmt-1"},
        {
            "WorkgroupName": "tlc-elt-dev",
            "Database": "tlc",
            "StatementName": "tlc-elt-verify-yellow",
            "Sql": month_counts_sql(get_dataset("yellow")),
        },
    )
    stub.add_response("describe_statement", {"Id": "stmt-1", "Status": "STARTED"}, {"Id": "stmt-1"})
    stub.add_response(
        "describe_statement",
        {"Id": "stmt-1", "Status": "FINISHED", "HasResultSet": True, "ResultRows": len(rows)},
        {"Id": "stmt-1"},
    )
    records = [
        [{"stringValue": day}, {"longValue": count}, {"longValue": clean}]
        for day, count, clean in rows
    ]
    stub.add_response(
        "get_statement_result",
        {"Records": records, "TotalNumRows": len(rows)},
        {"Id": "stmt-1"},
    )
    stub_ledger(stub, ledger)


def put_counts(
    s3, bucket: str, month: Month, rows_loaded: int, quarantined: int, clean: int | None = None
) -> None:
    counts = {
        "dataset": "yellow",
        "month": str(month),
        "rows_in": rows_loaded + quarantined,
        "rows_loaded": rows_loaded,
        "rows_quarantined": quarantined,
        "rejected": {},
        "part_files": [],
    }
    if clean is not None:  # counts written by the first version have no rows_clean
        counts["rows_clean"] = clean
    # A legacy month's counts (published before runs): in its month folder.
    key = layout.RunKeys(get_dataset("yellow"), month, None).counts_key
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(counts).encode())


def test_verify_checks_months_against_the_ledger_and_legacy_months_against_the_lake(aws):
    outputs = deploy()
    s3 = client("s3")  # the processed bucket: the fixture's
    put_counts(s3, outputs["processedBucket"], Month(2024, 10), 80, 1, clean=75)
    put_counts(s3, outputs["processedBucket"], Month(2024, 9), 100, 3, clean=97)
    put_counts(s3, outputs["processedBucket"], Month(2024, 8), 49, 0)
    data_api = client("redshift-data")
    sleeps = Sleeps()
    run = Runtime(
        run=Pulumi(outputs),
        client=lambda service, region: data_api if service == "redshift-data" else client(service),
        sleep=sleeps,
    )
    ledger = [  # newest first: November's latest publish is r2 (r1 was replaced)
        ledger_record("2024-11", "r2", "2024-12-05 06:10:00", 120, 2),
        ledger_record("2024-11", "r1", "2024-12-04 06:10:00", 90, 2),
    ]
    with Stubber(data_api) as stub:
        stub_verify_query(
            stub,
            [("2024-11-01", 120, 118), ("2024-10-01", 80, 75), ("2024-09-01", 100, 96),
             ("2024-08-01", 50, 50), ("2024-07-01", 7, 7)],
            ledger,
        )  # fmt: skip

        result = ops_verify.verify(STACK, "yellow", runtime=run)

        stub.assert_no_pending_responses()
    assert [{k: v for k, v in row.items() if k != "dataset"} for row in result.rows()] == [
        # Published by a run: its newest ledger row says what the month holds.
        {"month": "2024-11", "rows": 120, "clean_rows": 118, "expected": 120, "quarantined": 2,
         "status": "ok", "run_id": "r2", "published_at": "2024-12-05 06:10:00"},
        {"month": "2024-10", "rows": 80, "clean_rows": 75, "expected": 80, "quarantined": 1,
         "expected_clean": 75, "status": "ok"},
        # The rows match, the clean rows do not: a mismatch all the same.
        {"month": "2024-09", "rows": 100, "clean_rows": 96, "expected": 100, "quarantined": 3,
         "expected_clean": 97, "status": "MISMATCH"},
        # Counts of the first version (no rows_clean): the rows alone are checked.
        {"month": "2024-08", "rows": 50, "clean_rows": 50, "expected": 49, "quarantined": 0,
         "status": "MISMATCH"},
        {"month": "2024-07", "rows": 7, "clean_rows": 7},  # no counts JSON: nothing to compare
    ]  # fmt: skip
    assert {row["dataset"] for row in result.rows()} == {"yellow"}
    assert not result.ok
    assert "tlc-elt-dev" in result.title
    assert len(sleeps.requested) == 1  # polled once more after STARTED, through the runtime


def test_verify_with_workgroup_and_database_flags_needs_no_stack():
    data_api = boto3.client("redshift-data", region_name=REGION)
    target = StackTarget(given=StackOutputs(workgroup_name="tlc-elt-dev", database_name="tlc"))
    run = Runtime(run=None, client=lambda service, region: data_api, sleep=Sleeps())
    with Stubber(data_api) as stub:
        stub_verify_query(stub, [("2024-09-01", 100, 98)])  # and no ledger yet

        result = ops_verify.verify(target, "yellow", runtime=run)

    assert result.rows() == [
        {"dataset": "yellow", "month": "2024-09", "rows": 100, "clean_rows": 98}
    ]
    assert result.ok


def test_verify_without_a_workgroup_names_the_flags():
    with pytest.raises(StackUnavailable, match="--workgroup and --database"):
        ops_verify.verify(StackTarget(), "yellow", runtime=Runtime(run=None))


# ---------------------------------------------------------------- the command line


@pytest.fixture
def wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps at the terminal width; keep lines whole


def test_cli_start_wait_prints_each_step_and_exits_non_zero_on_failure(
    aws, wide, monkeypatch, capsys
):
    outputs = deploy(missing_jobs=("transform_trips",))
    monkeypatch.setattr(runs, "POLL_SECONDS", 0.02)
    argv = ["start", "--state-machine-arn", outputs["stateMachineArn"], "--year", "2024"]

    code = cli.main([*argv, "--month", "9", "--wait"])

    out, err = capsys.readouterr()
    assert code == 1
    assert "started yellow-2024-09-manual-" in out
    assert "✓ IngestRaw succeeded" in out  # not a terminal: a line per step change
    assert "TransformTrips failed: Glue.EntityNotFoundException" in err


class InterruptOnSleep:
    """Ctrl-C where the watch loop spends its time: in the sleep between two polls."""

    def __init__(self) -> None:
        self.polls = 0
        self.pulumi: Pulumi | None = None  # the `pulumi` subprocess the commands run

    def __call__(self, seconds: float) -> None:
        self.polls += 1
        raise KeyboardInterrupt


@pytest.fixture
def interrupt_on_sleep(monkeypatch) -> InterruptOnSleep:
    """Every command's default `Runtime` sleeps by pressing Ctrl-C."""
    sleep, real = InterruptOnSleep(), ops_aws.Runtime
    for module in (runs, ops_verify, ops_logs):
        monkeypatch.setattr(module, "Runtime", lambda: real(run=sleep.pulumi, sleep=sleep))
    return sleep


def only_execution(machine: str) -> dict:
    sfn = client("stepfunctions")
    [item] = sfn.list_executions(stateMachineArn=machine)["executions"]
    return sfn.describe_execution(executionArn=item["executionArn"])


def test_ctrl_c_during_start_wait_says_the_run_goes_on_and_how_to_follow_it(
    wide, interrupt_on_sleep, capsys
):
    with mock_aws():  # without the executor the execution stays RUNNING, as a Glue job would
        pulumi = Pulumi(deploy())
        machine = pulumi.outputs["stateMachineArn"]
        argv = ["start", "--state-machine-arn", machine, "--year", "2024", "--month", "9"]

        code = cli.main([*argv, "--wait", "--region", REGION])

        _, err = capsys.readouterr()
        execution = only_execution(machine)
    assert code == 130
    assert interrupt_on_sleep.polls == 1
    assert execution["status"] == "RUNNING"
    arn = execution["executionArn"]
    assert f"stopped following {execution['name']}; it keeps running in AWS" in err
    assert (
        f"python -m pipeline watch --state-machine-arn {machine} --execution-arn {arn} "
        f"--region {REGION}" in err
    )


def test_ctrl_c_during_watch_of_a_stack_names_the_stack_in_the_command(
    wide, interrupt_on_sleep, capsys
):
    with mock_aws():
        pulumi = interrupt_on_sleep.pulumi = Pulumi(deploy())
        started = runs.start(STACK, "2024", "09", "yellow", runtime=runtime(pulumi))
        arn = started.started.execution_arn

        code = cli.main(["watch", "--stack", "dev", "--quiet"])

        _, err = capsys.readouterr()
    assert code == 130
    assert interrupt_on_sleep.polls == 1
    assert err.strip().endswith(
        f"it keeps running in AWS. Follow it again with: "
        f"python -m pipeline watch --stack dev --execution-arn {arn}"
    )


def test_cli_start_quiet_prints_only_the_execution_arn(aws, capsys):
    outputs = deploy()
    argv = ["start", "--state-machine-arn", outputs["stateMachineArn"], "--quiet"]

    code = cli.main([*argv, "--year", "2024", "--month", "9"])

    out, _ = capsys.readouterr()
    assert code == 0
    assert out.strip().startswith(
        outputs["stateMachineArn"].replace(":stateMachine:", ":execution:")
    )
    assert len(out.strip().splitlines()) == 1


def test_cli_status_json_is_machine_readable(aws, monkeypatch, capsys):
    outputs = deploy()
    machine = outputs["stateMachineArn"]
    monkeypatch.setattr(runs, "POLL_SECONDS", 0.02)
    argv = ["start", "--state-machine-arn", machine, "--year", "2024", "--month", "9"]
    assert cli.main([*argv, "--quiet", "--wait"]) == 0
    capsys.readouterr()

    code = cli.main(["status", "--state-machine-arn", machine, "--json"])

    out, _ = capsys.readouterr()
    assert code == 0
    listed = json.loads(out)
    assert set(listed) == {"monthly"}  # no backfill ARN given, no stack read
    [execution] = listed["monthly"]["executions"]
    assert execution["input"] == {"year": "2024", "month": "09", "dataset": "yellow"}
    assert [s["state"] for s in execution["steps"]] == [step.state for step in STEPS]
    assert {s["status"] for s in execution["steps"]} == {"succeeded"}


def test_cli_without_pulumi_says_which_flag_to_use(wide, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `pulumi` anywhere

    code = cli.main(["status", "--stack", "dev"])

    _, err = capsys.readouterr()
    assert code == 1
    assert "Pulumi CLI (`pulumi`) is not installed" in err
    assert "--state-machine-arn" in err
