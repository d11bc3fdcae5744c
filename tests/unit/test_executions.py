"""Naming and input of executions: one scheduled run per dataset-month, manual and backfill runs
named by their start time in UTC, the machines' input."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline.contract.datasets import get_dataset
from pipeline.contract.executions import (
    Trigger,
    backfill_execution_name,
    backfill_input,
    execution_name,
    month_input,
)
from pipeline.contract.months import Month

T0 = datetime(2024, 11, 1, 12, 0, tzinfo=UTC)

# ------------------------------------------------------------------ names and inputs

# Step Functions: 1-80 characters, none of whitespace, brackets, wildcards, "#%\^|~`$&,;:/.
VALID_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,80}$")


def test_manual_names_are_readable_and_unique_per_second():
    name = execution_name("yellow", Month(2024, 9), Trigger.MANUAL, T0)
    assert name == "yellow-2024-09-manual-20241101T120000Z"
    later = execution_name("yellow", Month(2024, 9), "manual", T0 + timedelta(seconds=1))
    assert later != name
    assert VALID_NAME.match(name)


def test_the_triggers_name_is_one_per_dataset_month_whenever_it_comes():
    first = execution_name("yellow", Month(2024, 9), Trigger.SCHEDULED, T0)
    assert first == "yellow-2024-09-scheduled"
    assert VALID_NAME.match(first)
    for later in (timedelta(hours=3), timedelta(days=1), timedelta(days=40)):
        assert execution_name("yellow", Month(2024, 9), Trigger.SCHEDULED, T0 + later) == first
    assert execution_name("yellow", Month(2024, 9), Trigger.SCHEDULED) == first
    # Another month or dataset is another run; a manual start never takes the trigger's name.
    assert execution_name("yellow", Month(2024, 10), Trigger.SCHEDULED) != first
    assert execution_name("green", Month(2024, 9), Trigger.SCHEDULED) != first
    assert first != execution_name("yellow", Month(2024, 9), Trigger.MANUAL, T0)


def test_manual_and_backfill_names_need_the_start_time():
    for trigger in (Trigger.MANUAL, Trigger.BACKFILL):
        with pytest.raises(ValueError, match="start time"):
            execution_name("yellow", Month(2024, 9), trigger)


def test_names_are_in_utc_whatever_the_time_zone_given():
    new_york = T0.astimezone(timezone(timedelta(hours=-4)))
    naive_utc = T0.replace(tzinfo=None)
    expected = execution_name("yellow", Month(2024, 9), Trigger.MANUAL, T0)
    assert execution_name("yellow", Month(2024, 9), Trigger.MANUAL, new_york) == expected
    assert execution_name("yellow", Month(2024, 9), Trigger.MANUAL, naive_utc) == expected


def test_an_unknown_trigger_is_refused():
    with pytest.raises(ValueError, match="nightly"):
        execution_name("yellow", Month(2024, 9), "nightly", T0)


def test_backfill_name_and_input_name_the_range():
    yellow = get_dataset("yellow")
    months = list(Month(2024, 1).until(Month(2024, 3)))

    name = backfill_execution_name("yellow", months[0], months[-1], T0)

    assert VALID_NAME.match(name)
    assert name == "yellow-2024-01-to-2024-03-backfill-20241101T120000Z"
    assert backfill_input(yellow, months) == {
        "from": "2024-01",
        "to": "2024-03",
        "dataset": "yellow",
    }
    assert month_input(yellow, months[0]) == {"year": "2024", "month": "01", "dataset": "yellow"}


def test_force_publish_is_in_the_input_only_when_asked():
    yellow, month = get_dataset("yellow"), Month(2024, 1)
    assert month_input(yellow, month, force_publish=True) == {
        "year": "2024", "month": "01", "dataset": "yellow", "forcePublish": True,
    }  # fmt: skip
    assert "forcePublish" not in month_input(yellow, month)
    assert backfill_input(yellow, [month], force_publish=True)["forcePublish"] is True
    assert "forcePublish" not in backfill_input(yellow, [month])
