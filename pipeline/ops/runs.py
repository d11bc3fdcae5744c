"""Start a month, follow an execution, start a backfill, list recent executions."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from pipeline.contract.datasets import DEFAULT_DATASET, Dataset, get_dataset
from pipeline.contract.errors import InvalidInput, PipelineError
from pipeline.contract.executions import (
    Trigger,
    backfill_execution_name,
    backfill_input,
    execution_name,
    month_input,
)
from pipeline.contract.months import Month, month_range, validate_month
from pipeline.ops.aws import AwsCallFailed, Progress, Runtime, aws_call
from pipeline.ops.history import RUNNING, STEP_STATES, ExecutionView, HistoryReader, view_execution
from pipeline.ops.stack import StackTarget, region_of_arn

# Glue jobs take minutes: a poll every few seconds shows progress without spending API quota
# (GetExecutionHistory refills 5 calls/s per account and region).
POLL_SECONDS = 5.0
STATUS_LIMIT = 10


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
    force_publish: bool = False,
) -> Started:
    """Validate the month first, then start one execution of the monthly machine."""
    chosen = get_dataset(dataset)
    valid = validate_month(year, month, first=chosen.first_month, now=now)
    payload = month_input(chosen, valid, force_publish)
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
    force_publish: bool = False,
    runtime: Runtime | None = None,
    on_start: Callable[[Started], None] | None = None,
    on_update: Callable[[ExecutionView], None] | None = None,
    poll_seconds: float | None = None,
) -> StartResult:
    """`start --stack S --year Y --month M [--dataset D] [--wait] [--force] [--force-publish]`.

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
        force_publish=force_publish,
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
    sfn, arn = execution_of(target, execution_arn, runtime)
    return watch_execution(
        sfn, arn, sleep=runtime.sleep, poll_seconds=poll_seconds, on_update=on_update
    )


def _latest_execution_arn(sfn: Any, state_machine_arn: str) -> str:
    with aws_call(f"listing executions of {state_machine_arn}"):
        items = sfn.list_executions(stateMachineArn=state_machine_arn, maxResults=1)
    executions = items.get("executions", [])
    if not executions:
        raise NoExecutions(
            f"{state_machine_arn} has no executions yet: start one with `start --year Y --month M`"
        )
    return executions[0]["executionArn"]


def execution_of(
    target: StackTarget, execution_arn: str | None, runtime: Runtime
) -> tuple[Any, str]:
    """A Step Functions client and the execution: the one given, or the monthly machine's latest."""
    if execution_arn:
        region = target.region or region_of_arn(execution_arn)
        return runtime.aws("stepfunctions", region), execution_arn
    outputs = target.resolve(("stateMachineArn",), run=runtime.run)
    sfn = runtime.aws("stepfunctions", target.region_for(outputs))
    return sfn, _latest_execution_arn(sfn, outputs.state_machine_arn)


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
    force_publish: bool = False,
    runtime: Runtime | None = None,
) -> BackfillStarted:
    """`backfill --stack S --from YYYY-MM --to YYYY-MM [--dataset D] [--force-publish]`."""
    runtime = runtime or Runtime()
    chosen = get_dataset(dataset)
    now = runtime.now()
    months = backfill_months(chosen, first, last, now)
    outputs = target.resolve(("backfillStateMachineArn",), run=runtime.run)
    arn = outputs.backfill_state_machine_arn
    sfn = runtime.aws("stepfunctions", target.region_for(outputs))
    name = backfill_execution_name(chosen.name, months[0], months[-1], now)
    payload = backfill_input(chosen, months, force_publish)
    return BackfillStarted(_start(sfn, arn, name, payload), months)


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
