"""Reading an execution's history: each step's state, attempts, Glue runs and the real error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from pipeline.contract.steps import STEPS
from pipeline.ops.history import (
    ChildRuns,
    HistoryReader,
    StepStatus,
    child_runs,
    glue_error_message,
    read_steps,
    view_execution,
)

T0 = datetime(2024, 11, 1, 12, 0, tzinfo=UTC)
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:tlc-monthly:yellow-2024-09-manual-x"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:tlc-monthly"
GLUE = {"resourceType": "glue", "resource": "startJobRun.sync"}


class History:
    """Builds events with the shapes Step Functions records (ids, timestamps, *EventDetails)."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def add(self, kind: str, details_key: str | None = None, **details) -> History:
        event = {
            "id": len(self.events) + 1,
            "previousEventId": len(self.events),
            "type": kind,
            "timestamp": T0 + timedelta(seconds=10 * len(self.events)),
        }
        if details_key:
            event[details_key] = details
        self.events.append(event)
        return self

    def started(self, payload: dict) -> History:
        return self.add(
            "ExecutionStarted", "executionStartedEventDetails", input=json.dumps(payload)
        )

    def enter(self, state: str, kind: str = "Task") -> History:
        return self.add(f"{kind}StateEntered", "stateEnteredEventDetails", name=state, input="{}")

    def exit(self, state: str, kind: str = "Task") -> History:
        return self.add(f"{kind}StateExited", "stateExitedEventDetails", name=state, output="{}")

    def glue_attempt(self, job: str, run_id: str, state: str, error: str | None = None):
        params = json.dumps({"JobName": job, "Arguments": {"--year": "2024"}})
        self.add("TaskScheduled", "taskScheduledEventDetails", **GLUE, parameters=params)
        self.add("TaskStarted", "taskStartedEventDetails", **GLUE)
        submitted = json.dumps({"JobRunId": run_id, "JobName": job})
        self.add("TaskSubmitted", "taskSubmittedEventDetails", **GLUE, output=submitted)
        run = {"Id": run_id, "JobName": job, "JobRunState": state, "ExecutionTime": 61}
        if error:
            run["ErrorMessage"] = error
            cause = json.dumps(run)
            return self.add(
                "TaskFailed",
                "taskFailedEventDetails",
                **GLUE,
                error="States.TaskFailed",
                cause=cause,
            )
        return self.add(
            "TaskSucceeded", "taskSucceededEventDetails", **GLUE, output=json.dumps(run)
        )

    def step(self, state: str, run_id: str) -> History:
        self.enter(state)
        self.glue_attempt(f"tlc-dev-{state}", run_id, "SUCCEEDED")
        return self.exit(state)


def by_state(steps):
    return {step.state: step for step in steps}


def test_state_names_are_the_step_list():
    steps = read_steps([])
    assert [s.state for s in steps] == [step.state for step in STEPS]
    assert all(s.status is StepStatus.PENDING for s in steps)


def test_a_successful_run_has_every_step_succeeded_with_its_glue_run():
    history = History().started({"year": "2024", "month": "09"})
    for number, step in enumerate(STEPS):
        history.step(step.state, f"jr_{number}")
    history.add("ExecutionSucceeded", "executionSucceededEventDetails", output="{}")

    steps = read_steps(history.events)

    assert [s.status for s in steps] == [StepStatus.SUCCEEDED] * len(STEPS)
    assert [s.job_runs for s in steps] == [[f"jr_{n}"] for n in range(len(STEPS))]
    assert steps[0].job_name == "tlc-dev-IngestRaw"
    assert steps[0].attempts == 1
    assert steps[0].seconds(T0) == pytest.approx(50.0)  # entered at event 2, exited at event 7


def failed_transform_history() -> History:
    """Ingest succeeds; transform fails, is retried, fails again, is caught -> NotifyFailure."""
    history = History().started({"year": "2024", "month": "09", "dataset": "yellow"})
    history.step("IngestRaw", "jr_ingest")
    history.enter("TransformTrips")
    history.glue_attempt("tlc-dev-transform", "jr_t1", "FAILED", "Spark ran out of memory")
    history.glue_attempt(
        "tlc-dev-transform", "jr_t2", "FAILED", "MissingColumn: file lacks tpep_pickup_datetime"
    )
    history.exit("TransformTrips")  # the Catch sends it to NotifyFailure
    history.enter("NotifyFailure")
    history.add(
        "TaskScheduled", "taskScheduledEventDetails", resourceType="sns", resource="publish"
    )
    history.add(
        "TaskSucceeded", "taskSucceededEventDetails", resourceType="sns", resource="publish"
    )
    history.exit("NotifyFailure")
    history.enter("Failed", kind="Fail")
    history.add(
        "ExecutionFailed", "executionFailedEventDetails", error="PipelineFailed", cause="see step"
    )
    return history


def test_a_caught_failure_marks_the_step_failed_with_glue_error_and_every_attempt():
    steps = by_state(read_steps(failed_transform_history().events))

    transform = steps["TransformTrips"]
    assert transform.status is StepStatus.FAILED
    assert transform.attempts == 2
    assert transform.job_runs == ["jr_t1", "jr_t2"]
    assert transform.error == "States.TaskFailed"
    assert "MissingColumn: file lacks tpep_pickup_datetime" in transform.reason
    assert "jr_t2" in transform.reason
    assert steps["IngestRaw"].status is StepStatus.SUCCEEDED
    assert steps["AuditMonth"].status is StepStatus.PENDING
    assert steps["PublishMonth"].status is StepStatus.PENDING


def test_the_execution_view_names_the_failing_step_and_its_error():
    events = failed_transform_history().events
    description = {
        "executionArn": EXECUTION,
        "name": "yellow-2024-09-manual-x",
        "stateMachineArn": MACHINE,
        "status": "FAILED",
        "startDate": T0,
        "stopDate": T0 + timedelta(minutes=5),
        "error": "PipelineFailed",
        "cause": "see step",
    }
    view = view_execution(description, events)

    assert view.finished
    assert not view.ok
    assert view.failing_step.state == "TransformTrips"
    assert view.failure.startswith("TransformTrips failed: States.TaskFailed")
    assert "MissingColumn" in view.failure
    assert view.input == {"year": "2024", "month": "09", "dataset": "yellow"}  # from history
    assert view.elapsed(T0 + timedelta(days=1)) == 300.0
    as_json = json.loads(json.dumps(view.to_json(T0)))
    assert as_json["steps"][1]["status"] == "failed"
    assert as_json["failure"] == view.failure


def test_a_retry_that_succeeds_leaves_the_step_succeeded():
    history = History().enter("IngestRaw")
    history.glue_attempt("ingest", "jr_1", "FAILED", "SourceUnavailable: 503")
    history.glue_attempt("ingest", "jr_2", "SUCCEEDED")
    history.exit("IngestRaw")

    ingest = read_steps(history.events)[0]

    assert ingest.status is StepStatus.SUCCEEDED
    assert (ingest.attempts, ingest.job_runs) == (2, ["jr_1", "jr_2"])


def test_a_running_execution_shows_its_current_step():
    history = History().started({}).step("IngestRaw", "jr_1").enter("TransformTrips")
    history.add("TaskScheduled", "taskScheduledEventDetails", **GLUE, parameters="{}")
    description = {
        "executionArn": EXECUTION,
        "name": "n",
        "stateMachineArn": MACHINE,
        "status": "RUNNING",
        "startDate": T0,
    }

    view = view_execution(description, history.events)

    assert not view.finished
    assert view.current_step.state == "TransformTrips"
    assert view.failure is None
    assert view.elapsed(T0 + timedelta(seconds=90)) == 90.0


def test_a_timeout_inside_a_step_fails_that_step_with_the_timeout():
    history = History().enter("PublishMonth")
    history.add("TaskScheduled", "taskScheduledEventDetails", **GLUE, parameters="{}")
    history.add(
        "ExecutionTimedOut", "executionTimedOutEventDetails", error="States.Timeout", cause="2h"
    )

    load = read_steps(history.events)[3]

    assert load.status is StepStatus.FAILED
    assert (load.error, load.reason) == ("States.Timeout", "2h")


def test_events_in_any_order_give_the_same_steps():
    events = failed_transform_history().events
    assert read_steps(list(reversed(events))) == read_steps(events)


def test_glue_error_message_only_for_job_run_causes():
    run = {"Id": "jr_9", "JobRunState": "TIMEOUT"}
    assert glue_error_message(json.dumps(run)) == "Glue job run jr_9 TIMEOUT: no error message"
    assert glue_error_message("plain text cause") is None
    assert glue_error_message(json.dumps({"errorMessage": "lambda"})) is None
    assert glue_error_message(None) is None


def test_child_runs_count_only_step_functions_tasks():
    history = History().enter("Months", kind="Map")
    states = {"resourceType": "states", "resource": "startExecution.sync:2"}
    for _ in range(3):
        history.add("TaskScheduled", "taskScheduledEventDetails", **states, parameters="{}")
    history.add("TaskSucceeded", "taskSucceededEventDetails", **states, output="{}")
    history.add("TaskFailed", "taskFailedEventDetails", **states, error="States.TaskFailed")
    history.add("TaskScheduled", "taskScheduledEventDetails", **GLUE, parameters="{}")

    assert child_runs(history.events) == ChildRuns(started=3, succeeded=1, failed=1)
    assert child_runs(history.events).running == 1
    assert child_runs(History().step("IngestRaw", "jr").events) is None


# ------------------------------------------------------------------ reading history


def event(number: int) -> dict:
    return {"id": number, "type": "TaskStarted", "timestamp": T0, "previousEventId": number - 1}


def test_history_reader_pages_newest_first_and_stops_at_known_events():
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    reader = HistoryReader(sfn, EXECUTION)
    newest_first = {"executionArn": EXECUTION, "reverseOrder": True}
    with Stubber(sfn) as stub:
        stub.add_response(
            "get_execution_history",
            {"events": [event(3), event(2)], "nextToken": "page2"},
            newest_first,
        )
        stub.add_response(
            "get_execution_history",
            {"events": [event(1)]},
            {**newest_first, "nextToken": "page2"},
        )
        # The second refresh: one page reaches known events, so page 2 is never asked for.
        stub.add_response(
            "get_execution_history",
            {"events": [event(5), event(4), event(3)], "nextToken": "more"},
            newest_first,
        )
        assert [e["id"] for e in reader.refresh()] == [1, 2, 3]
        assert [e["id"] for e in reader.refresh()] == [1, 2, 3, 4, 5]
        stub.assert_no_pending_responses()


def test_a_refused_execution_carries_the_audits_findings_from_its_recorded_failure():
    findings = [{"rule": "shrinks_published", "severity": "refuse", "message": "20.0% fewer"}]
    history = History().started({"year": "2024", "month": "09"})
    for number, step in enumerate(STEPS[:3]):
        history.step(step.state, f"jr_{number}")
    history.enter("MonthRefusedRecorded", kind="Pass")
    failure = {"name": "MonthRefused", "step": "AuditMonth", "findings": findings}
    history.add("PassStateExited", "stateExitedEventDetails", name="MonthRefusedRecorded",
                output=json.dumps({"year": "2024", "failure": failure}))  # fmt: skip
    history.add("ExecutionFailed", "executionFailedEventDetails", error="MonthRefused",
                cause="AuditMonth refused yellow 2024-09")  # fmt: skip
    description = {"executionArn": EXECUTION, "stateMachineArn": MACHINE, "status": "FAILED",
                   "startDate": T0}  # fmt: skip

    view = view_execution(description, history.events)

    assert view.refused
    assert view.findings == findings
    assert view.failure == "refused: AuditMonth refused yellow 2024-09"
    assert view.finding_lines == ["refuse: shrinks_published: 20.0% fewer"]
    assert [s.status for s in view.steps] == [StepStatus.SUCCEEDED] * 3 + [StepStatus.PENDING]


def test_a_failed_step_is_not_a_refusal():
    view = view_execution(
        {"executionArn": EXECUTION, "stateMachineArn": MACHINE, "status": "FAILED",
         "startDate": T0},
        failed_transform_history().events,
    )  # fmt: skip
    assert not view.refused
    assert view.findings == []
