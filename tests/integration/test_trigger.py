"""The trigger Lambda against moto's Step Functions: which month it starts (year boundaries
included), the explicit override, refusing bad input before any call, one run per dataset-month
however often and on whichever day it is triggered, and the backfill's `expand` action."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from functions import trigger
from pipeline.contract.errors import InvalidInput, PipelineError

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/state-machine"
NOW = datetime(2025, 3, 10, 8, 30, tzinfo=UTC)
# Step Functions execution names: 1-80 characters, no spaces, brackets, wildcards or :/\\ etc.
_EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


@pytest.fixture
def sfn() -> Iterator[object]:
    with mock_aws():
        yield boto3.client("stepfunctions", region_name=REGION)


@pytest.fixture
def machine(sfn) -> str:
    definition = {"StartAt": "Run", "States": {"Run": {"Type": "Pass", "End": True}}}
    return sfn.create_state_machine(
        name="tlc-elt-test-monthly", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]


def executions(sfn, machine: str) -> list[dict]:
    found = sfn.list_executions(stateMachineArn=machine)["executions"]
    return [sfn.describe_execution(executionArn=e["executionArn"]) for e in found]


def start(sfn, machine: str, event: dict, now: datetime = NOW) -> dict:
    return trigger.start(event, sfn=sfn, state_machine_arn=machine, now=now)


@pytest.mark.parametrize(
    ("scheduled", "year", "month"),
    [
        ("2025-01-05T06:00:00Z", "2024", "11"),  # January: two months back is last November
        ("2025-02-05T06:00:00Z", "2024", "12"),  # February: last December
        ("2025-03-05T06:00:00Z", "2025", "01"),
        ("2024-12-05T06:00:00Z", "2024", "10"),
        ("2025-03-01T00:30:00+01:00", "2024", "12"),  # still February in UTC
    ],
)
def test_the_schedule_starts_two_months_back_in_utc(sfn, machine, scheduled, year, month):
    result = start(sfn, machine, {"dataset": "yellow", "scheduledTime": scheduled})
    assert result["status"] == "started"
    (execution,) = executions(sfn, machine)
    assert json.loads(execution["input"]) == {"year": year, "month": month, "dataset": "yellow"}
    assert execution["name"] == f"yellow-{year}-{month}-scheduled"
    assert execution["executionArn"] == result["executionArn"]


def test_without_a_scheduled_time_the_month_is_now_minus_two(sfn, machine):
    start(sfn, machine, {}, now=datetime(2026, 2, 1, 0, 0, tzinfo=UTC))
    (execution,) = executions(sfn, machine)
    assert json.loads(execution["input"]) == {"year": "2025", "month": "12", "dataset": "yellow"}
    assert execution["name"] == "yellow-2025-12-scheduled"


def test_an_explicit_month_overrides_the_schedule(sfn, machine):
    start(sfn, machine, {"year": "2024", "month": "9", "dataset": "green"})
    (execution,) = executions(sfn, machine)
    assert json.loads(execution["input"]) == {"year": "2024", "month": "09", "dataset": "green"}
    assert execution["name"] == "green-2024-09-scheduled"


@pytest.mark.parametrize(
    ("event", "named"),
    [
        ({"year": "2024", "month": "13"}, "month"),
        ({"year": "2025", "month": "04"}, "a month not in the future"),
        ({"year": "2008", "month": "12"}, "year"),
        ({"year": "2013", "month": "07", "dataset": "green"}, "this dataset starts in 2013-08"),
        ({"year": "2024"}, "give both year and month"),
        ({"dataset": "blue"}, "dataset"),
        ({"scheduledTime": "next tuesday"}, "scheduledTime"),
        ({"scheduledTime": "2025-02-30T06:00:00Z"}, "a real date"),
        ({"month": "09", "yaer": "2024"}, "trigger event key"),
    ],
)
def test_bad_input_is_refused_before_anything_starts(sfn, machine, event, named):
    with pytest.raises(InvalidInput, match=named):
        start(sfn, machine, event)
    assert executions(sfn, machine) == []


def test_a_repeated_trigger_starts_one_run(sfn, machine):
    event = {"dataset": "yellow", "scheduledTime": "2025-03-05T06:00:00Z"}
    first = start(sfn, machine, event)
    # Delivered again while the run is going: Step Functions hands back the same execution.
    again = start(sfn, machine, event)
    assert again["executionArn"] == first["executionArn"]
    sfn.stop_execution(executionArn=first["executionArn"])
    # Delivered again after the run ended: the name is taken, and that counts as done.
    late = start(sfn, machine, event)
    assert late == {"status": "already-started", "name": first["name"], "input": first["input"]}
    assert len(executions(sfn, machine)) == 1


def test_an_override_repeated_on_another_day_starts_no_second_run(sfn, machine):
    event = {"year": "2025", "month": "01", "dataset": "green"}
    first = start(sfn, machine, event, now=NOW)
    assert first["status"] == "started"
    sfn.stop_execution(executionArn=first["executionArn"])
    for later in (datetime(2025, 3, 11, 9, 0, tzinfo=UTC), datetime(2025, 4, 2, 7, tzinfo=UTC)):
        again = start(sfn, machine, event, now=later)
        assert again == {
            "status": "already-started",
            "name": first["name"],
            "input": first["input"],
        }
    assert len(executions(sfn, machine)) == 1


def test_the_schedule_and_an_override_for_the_same_month_are_one_run(sfn, machine):
    """Scheduler asked for 2025-01 on March 5th; someone sends the override a week later."""
    scheduled = start(sfn, machine, {"dataset": "yellow", "scheduledTime": "2025-03-05T06:00:00Z"})
    override = start(sfn, machine, {"year": "2025", "month": "1"})
    assert override["name"] == scheduled["name"] == "yellow-2025-01-scheduled"
    assert override.get("executionArn", scheduled["executionArn"]) == scheduled["executionArn"]
    (execution,) = executions(sfn, machine)
    assert json.loads(execution["input"]) == {"year": "2025", "month": "01", "dataset": "yellow"}


def test_a_deliberate_rerun_under_another_name_still_runs(sfn, machine):
    first = start(sfn, machine, {"year": "2025", "month": "01"})
    sfn.stop_execution(executionArn=first["executionArn"])
    # The CLI starts re-runs as `manual-<timestamp>`: never the trigger's name.
    sfn.start_execution(
        stateMachineArn=machine,
        name="yellow-2025-01-manual-20250310T090000Z",
        input=json.dumps(first["input"]),
    )
    assert len(executions(sfn, machine)) == 2


def test_the_handler_reads_the_machine_from_its_environment(sfn, machine, monkeypatch):
    monkeypatch.setenv(trigger.STATE_MACHINE_ARN_ENV, machine)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    result = trigger.handler({"year": "2024", "month": "01"})
    assert result["status"] == "started"
    assert [json.loads(e["input"])["month"] for e in executions(sfn, machine)] == ["01"]
    monkeypatch.delenv(trigger.STATE_MACHINE_ARN_ENV)
    with pytest.raises(PipelineError, match="STATE_MACHINE_ARN is not set"):
        trigger.handler({"year": "2024", "month": "02"})
    with pytest.raises(InvalidInput, match="action"):
        trigger.handler({"action": "stop"})


def expand(backfill_input: object, started: str = "2025-03-10T09:15:42.123Z") -> list[dict]:
    event = {"action": "expand", "input": backfill_input, "startedAt": started}
    return trigger.expand(event, NOW)["months"]


def test_expand_turns_a_range_into_named_months_across_the_year():
    months = expand({"from": "2024-11", "to": "2025-02", "dataset": "green"})
    assert [(m["year"], m["month"], m["dataset"]) for m in months] == [
        ("2024", "11", "green"), ("2024", "12", "green"),
        ("2025", "01", "green"), ("2025", "02", "green"),
    ]  # fmt: skip
    assert months[0]["name"] == "green-2024-11-backfill-20250310T091542Z"
    assert all(_EXECUTION_NAME.match(m["name"]) for m in months)
    assert len({m["name"] for m in months}) == len(months)


def test_expand_takes_a_list_in_any_form_and_order_once_each():
    months = expand({"months": ["2024-03", {"year": "2024", "month": "1"}, "2024-03"]})
    assert [(m["year"], m["month"], m["dataset"]) for m in months] == [
        ("2024", "01", "yellow"),
        ("2024", "03", "yellow"),
    ]


def test_expand_reads_what_the_cli_sends():
    """`python -m pipeline backfill` sends from/to and the months (pipeline.contract.executions)."""
    from pipeline.contract.datasets import get_dataset
    from pipeline.contract.executions import backfill_input
    from pipeline.contract.months import Month

    sent = backfill_input(get_dataset("yellow"), [Month(2024, 1), Month(2024, 2)])
    assert [m["month"] for m in expand(sent)] == ["01", "02"]


def test_expand_passes_force_publish_to_every_month_false_unless_given():
    assert {m["forcePublish"] for m in expand({"from": "2024-01", "to": "2024-02"})} == {False}
    forced = expand({"from": "2024-01", "to": "2024-02", "forcePublish": True})
    assert [(m["month"], m["forcePublish"]) for m in forced] == [("01", True), ("02", True)]


@pytest.mark.parametrize(
    ("backfill_input", "named"),
    [
        ({"from": "2024-01", "to": "2024-02", "forcePublish": "true"}, "forcePublish"),
        ({"from": "2024-06", "to": "2024-01"}, "must not be after"),
        ({"from": "2005-01", "to": "2005-03"}, "year"),
        ({"from": "2025-01", "to": "2025-06"}, "not in the future"),
        ({"from": "2024-01"}, '"from" and "to"'),
        ({"months": []}, "non-empty"),
        ({"months": ["2024/01"]}, "YYYY-MM"),
        ({"from": "2000-01", "to": "2024-12", "dataset": "yellow"}, "year"),
        ({"from": "2009-01", "to": "2029-01"}, "year"),
        ({"months": ["2024-01", "2025-04"]}, "not in the future"),
        ({"from": "2024-01", "to": "2024-02", "dataset": "blue"}, "dataset"),
        (["2024-01"], "a JSON object"),
    ],
)
def test_expand_refuses_bad_backfills(backfill_input, named):
    with pytest.raises(InvalidInput, match=named):
        expand(backfill_input)
