"""What a Step Functions execution did, read from its history: each pipeline step's state and error.

The state machine has one Task state per `pipeline.contract.steps.STEPS` entry, named by
`Step.state`; the history events between a state's `TaskStateEntered` and `TaskStateExited`
belong to it. Glue `.sync` tasks record the job run's id in `TaskSubmitted` (`{"JobRunId": ...}`)
and the whole job run (`{"Id", "JobRunState", "ErrorMessage", ...}`) as `TaskSucceeded` output or
as `TaskFailed` cause, which is where the step's real error message is.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline.contract.errors import MonthRefused
from pipeline.contract.steps import STEPS

STEP_STATES: tuple[str, ...] = tuple(step.state for step in STEPS)
RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
# Statuses after which an execution never changes again (PENDING_REDRIVE may still run).
FINAL_STATUSES = frozenset({SUCCEEDED, "FAILED", "TIMED_OUT", "ABORTED"})

# Events that end a task attempt without success, and where each keeps its error and cause.
_ATTEMPT_FAILURES: Mapping[str, str] = {
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails",
    "TaskSubmitFailed": "taskSubmitFailedEventDetails",
}
_EXECUTION_ENDS: Mapping[str, str] = {
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
}
# Step Functions' own integration (the backfill's per-month child executions).
_CHILD_RESOURCE_TYPE = "states"
# The error an execution fails with when the audit refused its month (components.asl).
REFUSED = MonthRefused.__name__


class StepStatus(str, enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass
class StepView:
    """One pipeline step within one execution."""

    state: str
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    entered: datetime | None = None
    exited: datetime | None = None
    error: str | None = None
    cause: str | None = None
    job_name: str | None = None
    job_runs: list[str] = field(default_factory=list)
    _last_attempt_failed: bool = field(default=False, init=False, repr=False)

    @property
    def reason(self) -> str | None:
        """The failure in words: Glue's ErrorMessage when the cause is a job run, else the cause."""
        return glue_error_message(self.cause) or self.cause or self.error

    def seconds(self, now: datetime) -> float | None:
        if self.entered is None:
            return None
        return max(0.0, ((self.exited or now) - self.entered).total_seconds())

    def to_json(self, now: datetime) -> dict[str, Any]:
        seconds = self.seconds(now)
        return {
            "state": self.state,
            "status": self.status.value,
            "attempts": self.attempts,
            "seconds": None if seconds is None else round(seconds, 1),
            "error": self.error,
            "reason": self.reason if self.status is StepStatus.FAILED or self.error else None,
            "job_name": self.job_name,
            "job_runs": list(self.job_runs),
        }


@dataclass(frozen=True)
class ChildRuns:
    """The child executions a backfill's Map started, by outcome (retried attempts included)."""

    started: int = 0
    succeeded: int = 0
    failed: int = 0

    @property
    def running(self) -> int:
        return max(0, self.started - self.succeeded - self.failed)

    def to_json(self) -> dict[str, int]:
        return {
            "started": self.started,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "running": self.running,
        }


def glue_error_message(cause: str | None) -> str | None:
    """A Glue `.sync` failure's cause is the job run as JSON; its ErrorMessage says what broke."""
    run = _json_object(cause)
    if run is None or "JobRunState" not in run:
        return None
    message = run.get("ErrorMessage") or "no error message"
    return f"Glue job run {run.get('Id', '?')} {run['JobRunState']}: {message}"


def _json_object(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _details(event: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    return event.get(key) or {}


def _job_run_id(payload: str | None) -> str | None:
    """`{"JobRunId": ...}` from StartJobRun, or `{"Id": ...}` from the GetJobRun of `.sync`."""
    data = _json_object(payload)
    if data is None:
        return None
    value = data.get("JobRunId") or (data.get("Id") if "JobRunState" in data else None)
    return value if isinstance(value, str) else None


def _note_job_run(step: StepView, payload: str | None) -> None:
    run_id = _job_run_id(payload)
    if run_id and run_id not in step.job_runs:
        step.job_runs.append(run_id)


def _scheduled(step: StepView, event: Mapping[str, Any]) -> None:
    step.attempts += 1
    details = _details(event, "taskScheduledEventDetails")
    parameters = _json_object(details.get("parameters"))
    if parameters and isinstance(parameters.get("JobName"), str):
        step.job_name = parameters["JobName"]


def _attempt_failed(step: StepView, details: Mapping[str, Any]) -> None:
    step.error = details.get("error")
    step.cause = details.get("cause")
    step._last_attempt_failed = True
    _note_job_run(step, step.cause)


def _apply(step: StepView, event: Mapping[str, Any]) -> None:
    """One task event within the step's Entered..Exited span."""
    kind = event["type"]
    if kind == "TaskScheduled":
        _scheduled(step, event)
    elif kind == "TaskSubmitted":
        _note_job_run(step, _details(event, "taskSubmittedEventDetails").get("output"))
    elif kind == "TaskSucceeded":
        step._last_attempt_failed = False
        _note_job_run(step, _details(event, "taskSucceededEventDetails").get("output"))
    elif kind in _ATTEMPT_FAILURES:
        _attempt_failed(step, _details(event, _ATTEMPT_FAILURES[kind]))


def read_steps(
    events: Iterable[Mapping[str, Any]], states: Sequence[str] = STEP_STATES
) -> list[StepView]:
    """Each named state's view, in `states` order, from an execution's history (any order)."""
    steps = {name: StepView(name) for name in states}
    current: StepView | None = None
    for event in sorted(events, key=lambda e: e["id"]):
        kind = event["type"]
        if kind.endswith("StateEntered"):
            name = _details(event, "stateEnteredEventDetails").get("name")
            current = steps.get(name)
            if current is not None:
                current.status, current.entered = StepStatus.RUNNING, event["timestamp"]
        elif kind.endswith("StateExited"):
            if current is not None:
                current.exited = event["timestamp"]
                failed = current._last_attempt_failed
                current.status = StepStatus.FAILED if failed else StepStatus.SUCCEEDED
            current = None
        elif kind in _EXECUTION_ENDS and current is not None:
            # The execution stopped inside the step (timeout, abort, an uncaught error).
            current.status, current.exited = StepStatus.FAILED, event["timestamp"]
            if current.error is None:
                details = _details(event, _EXECUTION_ENDS[kind])
                current.error = details.get("error") or kind
                current.cause = details.get("cause")
        elif current is not None:
            _apply(current, event)
    return [steps[name] for name in states]


def execution_end(events: Iterable[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    """The (error, cause) the execution ended with, if it ended unsuccessfully."""
    for event in events:
        key = _EXECUTION_ENDS.get(event["type"])
        if key:
            details = _details(event, key)
            return details.get("error") or event["type"], details.get("cause")
    return None, None


def child_runs(events: Iterable[Mapping[str, Any]]) -> ChildRuns | None:
    """Child executions started by `states:startExecution` tasks, by outcome; None if none."""
    started = succeeded = failed = 0
    for event in events:
        kind = event["type"]
        if kind == "TaskScheduled":
            key = "taskScheduledEventDetails"
        elif kind == "TaskSucceeded":
            key = "taskSucceededEventDetails"
        elif kind in _ATTEMPT_FAILURES:
            key = _ATTEMPT_FAILURES[kind]
        else:
            continue
        if _details(event, key).get("resourceType") != _CHILD_RESOURCE_TYPE:
            continue
        if kind == "TaskScheduled":
            started += 1
        elif kind == "TaskSucceeded":
            succeeded += 1
        else:
            failed += 1
    return ChildRuns(started, succeeded, failed) if started else None


def refusal_findings(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The audit's findings of a refused execution: the state machine records them in
    `$.failure` (name MonthRefused) before it alerts; [] when the month was not refused."""
    for event in events:
        if not event["type"].endswith("StateExited"):
            continue
        output = _json_object(_details(event, "stateExitedEventDetails").get("output"))
        failure = (output or {}).get("failure")
        if isinstance(failure, dict) and failure.get("name") == REFUSED:
            findings = failure.get("findings")
            return (
                [f for f in findings if isinstance(f, dict)] if isinstance(findings, list) else []
            )
    return []


@dataclass
class ExecutionView:
    """An execution as `describe_execution` and its history show it."""

    arn: str
    name: str
    state_machine_arn: str
    status: str
    started: datetime
    stopped: datetime | None = None
    input: dict[str, Any] = field(default_factory=dict)
    steps: list[StepView] = field(default_factory=list)
    error: str | None = None
    cause: str | None = None
    children: ChildRuns | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)  # a refused month's

    @property
    def refused(self) -> bool:
        """The audit refused the month: nothing was published (not a broken step)."""
        return self.status == "FAILED" and self.error == REFUSED

    @property
    def finding_lines(self) -> list[str]:
        """One line per finding of a refused month: `refuse: quarantine_share: ...`."""
        return [
            f"{f.get('severity', '?')}: {f.get('rule', '?')}: {f.get('message', '')}"
            for f in self.findings
        ]

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def ok(self) -> bool:
        return self.status == SUCCEEDED

    @property
    def current_step(self) -> StepView | None:
        running = [step for step in self.steps if step.status is StepStatus.RUNNING]
        return running[-1] if running else None

    @property
    def failing_step(self) -> StepView | None:
        failed = [step for step in self.steps if step.status is StepStatus.FAILED]
        return failed[0] if failed else None

    def elapsed(self, now: datetime) -> float:
        return max(0.0, ((self.stopped or now) - self.started).total_seconds())

    @property
    def failure(self) -> str | None:
        """One line naming the failing step and its error; None unless the execution failed."""
        if not self.finished or self.ok:
            return None
        if self.refused:
            return _join("refused", self.cause)
        step = self.failing_step
        if self.status == "FAILED" and step is not None:
            return _join(f"{step.state} failed", step.error or "error", step.reason)
        where = f"execution {self.status}" + (f" during {step.state}" if step else "")
        return _join(where, self.error, glue_error_message(self.cause) or self.cause)

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "execution_arn": self.arn,
            "name": self.name,
            "state_machine_arn": self.state_machine_arn,
            "status": self.status,
            "started": self.started.isoformat(),
            "stopped": self.stopped.isoformat() if self.stopped else None,
            "seconds": round(self.elapsed(now), 1),
            "input": self.input,
            "steps": [step.to_json(now) for step in self.steps],
            "error": self.error,
            "cause": self.cause,
            "failure": self.failure,
            "refused": self.refused,
            "findings": self.findings,
            "children": self.children.to_json() if self.children else None,
        }


def _join(*parts: str | None) -> str:
    """`a: b: c`, skipping empty parts and a part that repeats the one before it."""
    kept: list[str] = []
    for part in parts:
        if part and (not kept or kept[-1] != part):
            kept.append(part)
    return ": ".join(kept)


class HistoryReader:
    """An execution's history events, fetched newest first and only as far back as needed.

    Each `refresh()` pages `get_execution_history(reverseOrder=True)` until a page reaches an
    event it already holds, so polling a long execution costs one call per poll, not its
    whole history. Pages that ignore the order (or hold old events) are merged by event id.
    """

    def __init__(self, sfn: Any, execution_arn: str) -> None:
        self.sfn = sfn
        self.execution_arn = execution_arn
        self._events: dict[int, dict[str, Any]] = {}

    @property
    def events(self) -> list[dict[str, Any]]:
        return [self._events[key] for key in sorted(self._events)]

    def refresh(self) -> list[dict[str, Any]]:
        paginator = self.sfn.get_paginator("get_execution_history")
        pages = paginator.paginate(executionArn=self.execution_arn, reverseOrder=True)
        for page in pages:
            reached_known = False
            for event in page.get("events", []):
                if event["id"] in self._events:
                    reached_known = True
                else:
                    self._events[event["id"]] = event
            if reached_known:
                break
        return self.events


def _execution_input(
    description: Mapping[str, Any], events: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """`describe_execution` has the input; a `list_executions` item only has it in the history."""
    if description.get("input") is not None:
        return _json_object(description["input"]) or {}
    for event in events:
        if event["type"] == "ExecutionStarted":
            return _json_object(_details(event, "executionStartedEventDetails").get("input")) or {}
    return {}


def view_execution(
    description: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    states: Sequence[str] = STEP_STATES,
) -> ExecutionView:
    """Combine `describe_execution` (or a `list_executions` item) with the history."""
    error, cause = description.get("error"), description.get("cause")
    if error is None and cause is None:
        error, cause = execution_end(events)
    return ExecutionView(
        arn=description["executionArn"],
        name=description.get("name") or description["executionArn"].rsplit(":", 1)[-1],
        state_machine_arn=description["stateMachineArn"],
        status=description["status"],
        started=description["startDate"],
        stopped=description.get("stopDate"),
        input=_execution_input(description, events),
        steps=read_steps(events, states),
        error=error,
        cause=cause,
        children=child_runs(events),
        findings=refusal_findings(events) if error == REFUSED else [],
    )
