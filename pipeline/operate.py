"""Operating a deployed stack: start a month, watch it, list executions, backfill, verify, logs.

Each command is a function of plain typed arguments, a `StackTarget` (which stack, or names
given as flags) and a `Runtime` (subprocess, AWS clients, clock, sleep), returning a record.
The command line only parses arguments, calls one of these and renders the record (see the
`render_*` functions and `WatchDisplay` in `pipeline.operate_cli`); tests replace the runtime.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from pipeline import layout
from pipeline.datasets import DEFAULT_DATASET, Dataset, get_dataset
from pipeline.errors import InvalidInput, PipelineError
from pipeline.executions import (
    RUNNING,
    STEP_STATES,
    ExecutionView,
    HistoryReader,
    Trigger,
    backfill_execution_name,
    backfill_input,
    execution_name,
    month_input,
    view_execution,
)
from pipeline.months import Month, month_range, validate_month
from pipeline.stack import Run, StackOutputs, StackTarget, region_of_arn
from pipeline.steps import PYTHON_SHELL, STEPS, Step

# Glue jobs take minutes: a poll every few seconds shows progress without spending API quota
# (GetExecutionHistory refills 5 calls/s per account and region).
POLL_SECONDS = 5.0
STATUS_LIMIT = 10
LOG_TAIL_LINES = 50
# A Spark run with continuous logging writes one stream per executor: show the first few.
MAX_LOG_STREAMS = 8

Progress = Callable[[str, int, "int | None"], None]


class AwsCallFailed(PipelineError):
    """An AWS call was refused or could not be made (credentials, region, permissions, names)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class ExecutionExists(PipelineError):
    """Step Functions already has an execution of that name (names are unique for 90 days)."""


class MonthAlreadyRunning(PipelineError):
    """The same dataset and month is already being loaded by a running execution."""


class NoExecutions(PipelineError):
    """The state machine has never been started, so there is nothing to show."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while following an execution: this process stops, the execution keeps running.

    A `KeyboardInterrupt`, so anything that handles Ctrl-C still does; it carries the
    execution's ARN so the command line can say how to follow it again.
    """

    def __init__(self, execution_arn: str) -> None:
        super().__init__(execution_arn)
        self.execution_arn = execution_arn


@contextmanager
def following(execution_arn: str) -> Iterator[None]:
    """Ctrl-C in the block becomes `Interrupted(execution_arn)`."""
    try:
        yield
    except Interrupted:
        raise
    except KeyboardInterrupt:
        raise Interrupted(execution_arn) from None


def _boto3_client(service: str, region: str | None) -> Any:
    import boto3

    return boto3.client(service, region_name=region)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Runtime:
    """What the commands touch outside this process; tests replace any part of it."""

    run: Run = subprocess.run
    client: Callable[[str, str | None], Any] = _boto3_client
    now: Callable[[], datetime] = _utc_now
    sleep: Callable[[float], None] = time.sleep

    def aws(self, service: str, region: str | None) -> Any:
        """A client for `service`; a missing region or a bad profile is a clear error here."""
        with aws_call(f"connecting to {service}"):
            return self.client(service, region)


_HINTS = {
    "StateMachineDoesNotExist": " (is the stack deployed, and is --region the stack's region?)",
    "ExecutionDoesNotExist": " (check the ARN and --region)",
    "AccessDeniedException": " (your AWS identity lacks this permission on the stack)",
    "ResourceNotFoundException": " (check the name and --region)",
    "ValidationException": " (check the names given as flags)",
}


@contextmanager
def aws_call(what: str) -> Iterator[None]:
    """Turn botocore's failures into one message saying what was being done and what to check."""
    try:
        yield
    except NoCredentialsError:
        raise AwsCallFailed(
            f"{what}: no AWS credentials found (set AWS_PROFILE, or run `aws sso login` / "
            f"`aws configure`)"
        ) from None
    except NoRegionError:
        raise AwsCallFailed(
            f"{what}: no AWS region: pass --region or set AWS_DEFAULT_REGION"
        ) from None
    except ClientError as error:
        info = error.response.get("Error", {})
        code, message = info.get("Code", "error"), info.get("Message", str(error))
        hint = _HINTS.get(code, "")
        raise AwsCallFailed(f"{what}: {code}: {message}{hint}", code) from None
    except BotoCoreError as error:
        raise AwsCallFailed(f"{what}: {error}") from None


def _error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


# ---------------------------------------------------------------- start, watch


@dataclass(frozen=True)
class Started:
    """An execution this command started."""

    execution_arn: str
    name: str
    state_machine_arn: str
    input: dict[str, Any]
    start_date: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "execution_arn": self.execution_arn,
            "name": self.name,
            "state_machine_arn": self.state_machine_arn,
            "input": self.input,
            "start_date": self.start_date.isoformat(),
        }


@dataclass(frozen=True)
class StartResult:
    started: Started
    final: ExecutionView | None = None  # set when the command waited for the end

    @property
    def ok(self) -> bool:
        return self.final is None or self.final.ok


def _start(sfn: Any, state_machine_arn: str, name: str, payload: dict[str, Any]) -> Started:
    try:
        with aws_call(f"starting {name} on {state_machine_arn}"):
            response = sfn.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload)
            )
    except AwsCallFailed as error:
        if error.code != "ExecutionAlreadyExists":
            raise
        raise ExecutionExists(
            f"an execution named {name!r} already exists on {state_machine_arn} (started in "
            f"this same second): see `status`, or start again"
        ) from None
    return Started(
        response["executionArn"], name, state_machine_arn, payload, response["startDate"]
    )


def running_same_input(sfn: Any, state_machine_arn: str, payload: dict[str, Any]) -> str | None:
    """The ARN of a RUNNING execution with the same dataset/year/month input, if any.

    Two runs of one month at once would write the same processed prefix concurrently; the
    load's count check would catch the mix, but refusing up front is clearer.
    """
    wanted = {key: str(payload[key]) for key in ("dataset", "year", "month")}
    with aws_call(f"listing running executions of {state_machine_arn}"):
        pages = sfn.get_paginator("list_executions").paginate(
            stateMachineArn=state_machine_arn, statusFilter=RUNNING
        )
        for page in pages:
            for item in page.get("executions", []):
                description = sfn.describe_execution(executionArn=item["executionArn"])
                given = json.loads(description.get("input") or "{}")
                if not isinstance(given, dict):
                    continue
                given.setdefault("dataset", DEFAULT_DATASET)  # the machine's own default
                if {key: str(given.get(key)) for key in wanted} == wanted:
                    return item["executionArn"]
    return None


def start_month(
    sfn: Any,
    state_machine_arn: str,
    year: object,
    month: object,
    dataset: str,
    *,
    now: datetime,
    allow_concurrent: bool = False,
) -> Started:
    """Validate the month first, then start one execution of the monthly machine."""
    chosen = get_dataset(dataset)
    valid = validate_month(year, month, first=chosen.first_month, now=now)
    payload = month_input(chosen, valid)
    if not allow_concurrent:
        running = running_same_input(sfn, state_machine_arn, payload)
        if running:
            raise MonthAlreadyRunning(
                f"{chosen.name} {valid} is already running: {running}; watch it with `status`, "
                f"or pass --force to start another run anyway"
            )
    name = execution_name(chosen.name, valid, Trigger.MANUAL, now)
    return _start(sfn, state_machine_arn, name, payload)


def describe(sfn: Any, history: HistoryReader) -> ExecutionView:
    """The execution now: `describe_execution` first, so the history read after it is as new."""
    with aws_call(f"reading execution {history.execution_arn}"):
        description = sfn.describe_execution(executionArn=history.execution_arn)
        events = history.refresh()
    return view_execution(description, events)


def watch_execution(
    sfn: Any,
    execution_arn: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float | None = None,
    on_update: Callable[[ExecutionView], None] | None = None,
) -> ExecutionView:
    """Poll until the execution ends; `on_update` sees every poll. Returns the final view.

    The view's `ok` is False for FAILED, TIMED_OUT and ABORTED, and `failure` names the
    failing step and its error: the command line exits non-zero on it.
    """
    history = HistoryReader(sfn, execution_arn)
    with following(execution_arn):
        while True:
            view = describe(sfn, history)
            if on_update is not None:
                on_update(view)
            if view.finished:
                return view
            sleep(POLL_SECONDS if poll_seconds is None else poll_seconds)


def start(
    target: StackTarget,
    year: object,
    month: object,
    dataset: str,
    *,
    wait: bool = False,
    allow_concurrent: bool = False,
    runtime: Runtime | None = None,
    on_start: Callable[[Started], None] | None = None,
    on_update: Callable[[ExecutionView], None] | None = None,
    poll_seconds: float | None = None,
) -> StartResult:
    """`start --stack S --year Y --month M [--dataset D] [--wait] [--force]`.

    Ctrl-C once the execution has started raises `Interrupted` with its ARN.
    """
    runtime = runtime or Runtime()
    chosen, now = get_dataset(dataset), runtime.now()
    validate_month(year, month, first=chosen.first_month, now=now)
    outputs = target.resolve(("stateMachineArn",), run=runtime.run)
    sfn = runtime.aws("stepfunctions", target.region_for(outputs))
    started = start_month(
        sfn,
        outputs.state_machine_arn,
        year,
        month,
        chosen.name,
        now=now,
        allow_concurrent=allow_concurrent,
    )
    # From here on the execution runs in AWS whatever this process does.
    with following(started.execution_arn):
        if on_start is not None:
            on_start(started)
        if not wait:
            return StartResult(started)
        final = watch_execution(
            sfn,
            started.execution_arn,
            sleep=runtime.sleep,
            poll_seconds=poll_seconds,
            on_update=on_update,
        )
    return StartResult(started, final)


def watch(
    target: StackTarget,
    execution_arn: str | None = None,
    *,
    runtime: Runtime | None = None,
    on_update: Callable[[ExecutionView], None] | None = None,
    poll_seconds: float | None = None,
) -> ExecutionView:
    """Follow an execution (default: the monthly machine's latest) until it ends.

    Ctrl-C while following raises `Interrupted` with the execution's ARN.
    """
    runtime = runtime or Runtime()
    sfn, arn = _execution(target, execution_arn, runtime)
    return watch_execution(
        sfn, arn, sleep=runtime.sleep, poll_seconds=poll_seconds, on_update=on_update
    )


# ---------------------------------------------------------------- backfill


@dataclass(frozen=True)
class BackfillStarted:
    started: Started
    months: list[Month]

    def to_json(self) -> dict[str, Any]:
        return {**self.started.to_json(), "months": [str(month) for month in self.months]}


def backfill_months(
    dataset: Dataset, first: Month | str, last: Month | str, now: datetime
) -> list[Month]:
    """Both ends validated like a single month (not before the dataset, not in the future)."""
    bounds = [m if isinstance(m, Month) else Month.parse(m) for m in (first, last)]
    valid = [validate_month(m.year, m.month, first=dataset.first_month, now=now) for m in bounds]
    return month_range(valid[0], valid[1])


def backfill(
    target: StackTarget,
    first: Month | str,
    last: Month | str,
    dataset: str,
    *,
    runtime: Runtime | None = None,
) -> BackfillStarted:
    """`backfill --stack S --from YYYY-MM --to YYYY-MM [--dataset D]`."""
    runtime = runtime or Runtime()
    chosen = get_dataset(dataset)
    now = runtime.now()
    months = backfill_months(chosen, first, last, now)
    outputs = target.resolve(("backfillStateMachineArn",), run=runtime.run)
    arn = outputs.backfill_state_machine_arn
    sfn = runtime.aws("stepfunctions", target.region_for(outputs))
    name = backfill_execution_name(chosen.name, months[0], months[-1], now)
    return BackfillStarted(_start(sfn, arn, name, backfill_input(chosen, months)), months)


# ---------------------------------------------------------------- status


@dataclass(frozen=True)
class MachineExecutions:
    """One state machine's most recent executions, newest first."""

    role: str  # "monthly" or "backfill"
    state_machine_arn: str
    executions: list[ExecutionView]


@dataclass(frozen=True)
class StatusResult:
    machines: list[MachineExecutions]
    now: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            machine.role: {
                "state_machine_arn": machine.state_machine_arn,
                "executions": [view.to_json(self.now) for view in machine.executions],
            }
            for machine in self.machines
        }


def recent_executions(
    sfn: Any,
    state_machine_arn: str,
    *,
    limit: int,
    states: Sequence[str] = STEP_STATES,
    progress: Progress | None = None,
) -> list[ExecutionView]:
    """The newest `limit` executions, each with its `states` (steps) read from its history."""
    with aws_call(f"listing executions of {state_machine_arn}"):
        items = sfn.list_executions(stateMachineArn=state_machine_arn, maxResults=limit)
    items = items.get("executions", [])[:limit]
    views = []
    for done, item in enumerate(items):
        if progress is not None:
            progress(f"reading {item['name']}", done, len(items))
        history = HistoryReader(sfn, item["executionArn"])
        with aws_call(f"reading the history of {item['executionArn']}"):
            views.append(view_execution(item, history.refresh(), states))
    if progress is not None:
        progress("done", len(items), len(items))
    return views


def status(
    target: StackTarget,
    *,
    limit: int = STATUS_LIMIT,
    runtime: Runtime | None = None,
    progress: Progress | None = None,
) -> StatusResult:
    """`status --stack S [--limit N] [--json]`: the monthly machine's, then the backfill's."""
    runtime = runtime or Runtime()
    if not 1 <= limit <= 1000:
        raise InvalidInput("--limit", limit, "from 1 to 1000 executions")
    outputs = target.resolve(("stateMachineArn",), run=runtime.run)
    sfn = runtime.aws("stepfunctions", target.region_for(outputs))
    # The backfill machine has no pipeline steps: its executions show their child runs.
    machines = [("monthly", outputs.state_machine_arn, STEP_STATES)]
    if outputs.backfill_state_machine_arn:
        machines.append(("backfill", outputs.backfill_state_machine_arn, ()))
    listed = [
        MachineExecutions(
            role, arn, recent_executions(sfn, arn, limit=limit, states=states, progress=progress)
        )
        for role, arn, states in machines
    ]
    return StatusResult(listed, runtime.now())


# ---------------------------------------------------------------- verify


@dataclass(frozen=True)
class MonthRows:
    month: str  # YYYY-MM
    rows: int
    expected: int | None = None  # rows transform wrote (its counts JSON), when readable
    quarantined: int | None = None

    @property
    def check(self) -> str:
        if self.expected is None:
            return ""
        return "ok" if self.expected == self.rows else "MISMATCH"

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"month": self.month, "rows": self.rows}
        if self.expected is not None:
            row.update(expected=self.expected, quarantined=self.quarantined, status=self.check)
        return row


@dataclass(frozen=True)
class VerifyResult:
    dataset: str
    table: str
    workgroup: str
    database: str
    months: list[MonthRows]

    @property
    def title(self) -> str:
        return f"{self.table} in Redshift workgroup {self.workgroup}, database {self.database}"

    @property
    def ok(self) -> bool:
        return all(row.check != "MISMATCH" for row in self.months)

    def rows(self) -> list[dict[str, Any]]:
        return [row.to_json() for row in self.months]


def transform_counts(s3: Any, bucket: str, dataset: Dataset, month: Month) -> dict | None:
    """Transform's counts JSON for the month, or None when there is none (or it is not JSON).

    A refused read is not "none": it is raised, so a missing permission is not mistaken for
    a month that was never transformed.
    """
    key = layout.counts_key(dataset, month)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if _error_code(error) in ("NoSuchKey", "404"):
            return None
        raise
    try:
        return json.loads(body)
    except ValueError:
        return None


def month_counts(warehouse: Any, dataset: Dataset) -> list[tuple[str, int]]:
    """The original's verify query, per source_month, through the warehouse interface."""
    return [(str(count.month), int(count.rows)) for count in warehouse.month_counts(dataset)]


def redshift_warehouse(
    client: Any, workgroup: str, database: str, sleep: Callable[[float], None]
) -> Any:
    """The load's own Data API warehouse, without a COPY role: verify only reads."""
    from pipeline.redshift import RedshiftDataApiWarehouse

    return RedshiftDataApiWarehouse(workgroup, database, client=client, sleep=sleep)


WarehouseFactory = Callable[[Any, str, str, Callable[[float], None]], Any]


def verify(
    target: StackTarget,
    dataset: str,
    *,
    runtime: Runtime | None = None,
    progress: Progress | None = None,
    warehouse_factory: WarehouseFactory = redshift_warehouse,
) -> VerifyResult:
    """`verify --stack S [--workgroup W --database D] [--processed-bucket B] [--json]`.

    Rows per month from the original's verify query through the Data API; where the
    processed bucket is known, each month is checked against the rows transform wrote.
    """
    runtime = runtime or Runtime()
    chosen = get_dataset(dataset)
    outputs = target.resolve(("workgroupName", "databaseName"), run=runtime.run)
    region = target.region_for(outputs)
    client = runtime.aws("redshift-data", region)
    warehouse = warehouse_factory(
        client, outputs.workgroup_name, outputs.database_name, runtime.sleep
    )
    if progress is not None:
        progress(f"counting {chosen.table} per month", 0, None)
    with aws_call(f"counting rows in {chosen.table} ({outputs.workgroup_name})"):
        counts = month_counts(warehouse, chosen)
    rows = _with_transform_counts(counts, chosen, outputs, runtime, region, progress)
    return VerifyResult(
        chosen.name, chosen.table, outputs.workgroup_name, outputs.database_name, rows
    )


def _with_transform_counts(
    counts: list[tuple[str, int]],
    dataset: Dataset,
    outputs: StackOutputs,
    runtime: Runtime,
    region: str | None,
    progress: Progress | None,
) -> list[MonthRows]:
    if not outputs.processed_bucket:
        return [MonthRows(month, rows) for month, rows in counts]
    s3 = runtime.aws("s3", region)
    result = []
    for done, (month, rows) in enumerate(counts):
        if progress is not None:
            progress(f"reading transform's counts for {month}", done, len(counts))
        with aws_call(f"reading transform's counts from s3://{outputs.processed_bucket}"):
            found = transform_counts(s3, outputs.processed_bucket, dataset, Month.parse(month))
        if found is None:
            result.append(MonthRows(month, rows))
        else:
            loaded, quarantined = int(found["rows_loaded"]), int(found["rows_quarantined"])
            result.append(MonthRows(month, rows, loaded, quarantined))
    return result


# ---------------------------------------------------------------- logs


@dataclass(frozen=True)
class LogStream:
    group: str
    stream: str
    lines: list[str]
    more_before: bool  # the tail filled its limit: earlier lines may exist


@dataclass(frozen=True)
class JobRunLogs:
    step: str
    job_name: str | None
    run_id: str
    state: str | None  # Glue's JobRunState, when readable
    error: str | None  # Glue's ErrorMessage
    seconds: int | None  # Glue's ExecutionTime
    streams: list[LogStream] = field(default_factory=list)


@dataclass(frozen=True)
class LogsResult:
    execution: ExecutionView
    runs: list[JobRunLogs]


def _latest_execution_arn(sfn: Any, state_machine_arn: str) -> str:
    with aws_call(f"listing executions of {state_machine_arn}"):
        items = sfn.list_executions(stateMachineArn=state_machine_arn, maxResults=1)
    executions = items.get("executions", [])
    if not executions:
        raise NoExecutions(
            f"{state_machine_arn} has no executions yet: start one with `start --year Y --month M`"
        )
    return executions[0]["executionArn"]


def _execution(target: StackTarget, execution_arn: str | None, runtime: Runtime) -> tuple[Any, str]:
    """A Step Functions client and the execution: the one given, or the monthly machine's latest."""
    if execution_arn:
        region = target.region or region_of_arn(execution_arn)
        return runtime.aws("stepfunctions", region), execution_arn
    outputs = target.resolve(("stateMachineArn",), run=runtime.run)
    sfn = runtime.aws("stepfunctions", target.region_for(outputs))
    return sfn, _latest_execution_arn(sfn, outputs.state_machine_arn)


def glue_log_groups(step: Step, job_run: dict[str, Any] | None) -> list[str]:
    """Where Glue writes a run's logs: stream name = run id (Spark executors: run id + suffix).

    Python shell jobs write to /aws-glue/python-jobs/{output,error}; Spark jobs to
    /aws-glue/jobs/{output,error}, and with continuous logging to /aws-glue/jobs/logs-v2.
    A security configuration moves them under the run's LogGroupName.
    """
    base = "/aws-glue/python-jobs" if step.kind == PYTHON_SHELL else "/aws-glue/jobs"
    groups = [f"{base}/output", f"{base}/error"]
    if step.kind != PYTHON_SHELL:
        groups.append("/aws-glue/jobs/logs-v2")
    custom = (job_run or {}).get("LogGroupName")
    if custom and custom.rstrip("/") not in ("/aws-glue/jobs", "/aws-glue/python-jobs"):
        groups += [f"{custom.rstrip('/')}/output", f"{custom.rstrip('/')}/error"]
    return groups


def _job_run(glue: Any, job_name: str | None, run_id: str) -> dict[str, Any] | None:
    if not job_name:
        return None
    try:
        return glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]
    except (ClientError, BotoCoreError):
        return None  # the logs may still be readable; the table just lacks the run's state


def _streams(logs: Any, group: str, run_id: str) -> list[str]:
    names: list[str] = []
    try:
        pages = logs.get_paginator("describe_log_streams").paginate(
            logGroupName=group, logStreamNamePrefix=run_id
        )
        for page in pages:
            names += [stream["logStreamName"] for stream in page.get("logStreams", [])]
            if len(names) >= MAX_LOG_STREAMS:
                break
    except ClientError as error:
        if _error_code(error) == "ResourceNotFoundException":
            return []  # the group exists only once some job wrote to it
        raise
    return sorted(names)[:MAX_LOG_STREAMS]


def _tail(logs: Any, group: str, stream: str, lines: int) -> LogStream:
    response = logs.get_log_events(
        logGroupName=group, logStreamName=stream, startFromHead=False, limit=lines
    )
    events = sorted(response.get("events", []), key=lambda event: event["timestamp"])
    text = [event["message"].rstrip("\n") for event in events]
    return LogStream(group, stream, text, more_before=len(events) >= lines)


def run_logs(
    glue: Any, logs: Any, step: Step, job_name: str | None, run_id: str, tail: int
) -> JobRunLogs:
    job_run = _job_run(glue, job_name, run_id)
    streams = []
    with aws_call(f"reading CloudWatch logs of {step.state} ({run_id})"):
        for group in glue_log_groups(step, job_run):
            for stream in _streams(logs, group, run_id):
                streams.append(_tail(logs, group, stream, tail))
    run = job_run or {}
    return JobRunLogs(
        step.state,
        job_name,
        run_id,
        run.get("JobRunState"),
        run.get("ErrorMessage"),
        run.get("ExecutionTime"),
        streams,
    )


def logs(
    target: StackTarget,
    execution_arn: str | None = None,
    *,
    tail: int = LOG_TAIL_LINES,
    runtime: Runtime | None = None,
    progress: Progress | None = None,
) -> LogsResult:
    """`logs --stack S [--execution-arn A] [--tail N]`: each step's Glue runs and their logs."""
    runtime = runtime or Runtime()
    if not 1 <= tail <= 10000:
        raise InvalidInput("--tail", tail, "from 1 to 10000 lines")
    sfn, arn = _execution(target, execution_arn, runtime)
    view = describe(sfn, HistoryReader(sfn, arn))
    region = target.region or region_of_arn(arn)
    glue, cloudwatch = runtime.aws("glue", region), runtime.aws("logs", region)
    wanted = [
        (step, viewed, run_id)
        for step, viewed in zip(STEPS, view.steps)
        for run_id in viewed.job_runs
    ]
    runs = []
    for done, (step, viewed, run_id) in enumerate(wanted):
        if progress is not None:
            progress(f"reading logs of {step.state} ({run_id})", done, len(wanted))
        runs.append(run_logs(glue, cloudwatch, step, viewed.job_name, run_id, tail))
    return LogsResult(view, runs)
