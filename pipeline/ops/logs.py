"""`logs` on a stack: each step's Glue job runs of an execution and the tail of their logs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.contract.errors import InvalidInput
from pipeline.contract.steps import GLUE_LOG_PREFIXES, GLUE_LOG_STREAMS, STEPS, Step
from pipeline.ops.aws import Progress, Runtime, aws_call
from pipeline.ops.history import ExecutionView, HistoryReader
from pipeline.ops.runs import describe, execution_of
from pipeline.ops.stack import StackTarget, region_of_arn
from pipeline.storage.aws import error_code

LOG_TAIL_LINES = 50
# The job argument that moves a Spark job's continuous logs to groups of its own.
CUSTOM_LOG_PREFIX = "--custom-logGroup-prefix"
# A Spark run with continuous logging writes one stream per executor: show the first few.
MAX_LOG_STREAMS = 8


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


def glue_log_groups(
    step: Step, job_run: dict[str, Any] | None, job: dict[str, Any] | None = None
) -> list[str]:
    """Where Glue writes a run's logs; stream name = run id (Spark executors: run id + suffix).

    Glue's own groups (`Step.log_groups`), unless the job sets `--custom-logGroup-prefix` (the
    stack's Spark job does, components.etl): with continuous logging its output and errors then
    go to `<prefix>/output` and `<prefix>/error` instead
    (https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging-enable.html). The
    run's arguments override the job's defaults, as in Glue. A security configuration moves
    them under the run's LogGroupName, which is read as well.
    """
    arguments = {
        **((job or {}).get("DefaultArguments") or {}),
        **((job_run or {}).get("Arguments") or {}),
    }
    prefix = (arguments.get(CUSTOM_LOG_PREFIX) or "").rstrip("/")
    if prefix:
        own = [f"{prefix}/{stream}" for stream in GLUE_LOG_STREAMS]
        glue_streams = {f"{GLUE_LOG_PREFIXES[step.kind]}/{stream}" for stream in GLUE_LOG_STREAMS}
        groups = own + [group for group in step.log_groups if group not in glue_streams]
    else:
        groups = list(step.log_groups)
    custom = ((job_run or {}).get("LogGroupName") or "").rstrip("/")
    if custom and custom not in GLUE_LOG_PREFIXES.values():
        groups += [f"{custom}/{stream}" for stream in GLUE_LOG_STREAMS]
    return groups


def _job_run(glue: Any, job_name: str | None, run_id: str) -> dict[str, Any] | None:
    if not job_name:
        return None
    try:
        return glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]
    except (ClientError, BotoCoreError):
        return None  # the logs may still be readable; the table just lacks the run's state


def _job(glue: Any, job_name: str | None) -> dict[str, Any] | None:
    """The job's definition, for its default arguments (where its logs go)."""
    if not job_name:
        return None
    try:
        return glue.get_job(JobName=job_name)["Job"]
    except (ClientError, BotoCoreError):
        return None


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
        if error_code(error) == "ResourceNotFoundException":
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
    job = _job(glue, job_name)
    streams = []
    with aws_call(f"reading CloudWatch logs of {step.state} ({run_id})"):
        for group in glue_log_groups(step, job_run, job):
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
    sfn, arn = execution_of(target, execution_arn, runtime)
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
