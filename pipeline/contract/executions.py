"""Naming and input of Step Functions executions: who started a run, and what it is called.

Shared by the trigger Lambda (scheduled runs), `python -m pipeline start`/`backfill` and the
state machines' input contract (ARCHITECTURE: "State machine input"). Standard library only.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime, timezone

from pipeline.contract.datasets import Dataset
from pipeline.contract.months import Month


class Trigger(str, enum.Enum):
    """Who started an execution; part of its name, so `status` shows it and names never clash."""

    MANUAL = "manual"  # `python -m pipeline start`: a deliberate run, a fresh name each time
    SCHEDULED = "scheduled"  # the trigger Lambda: one name per dataset-month, repeats collide
    BACKFILL = "backfill"  # `python -m pipeline backfill`, and the month runs a backfill starts


def _utc_stamp(now: datetime, fmt: str) -> str:
    # A naive datetime is taken as UTC: names must not depend on the machine's time zone.
    aware = now if now.tzinfo is not None else now.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).strftime(fmt)


def execution_name(
    dataset: str, month: Month, trigger: Trigger | str, now: datetime | None = None
) -> str:
    """`yellow-2024-09-manual-20241101T120000Z`; scheduled: `yellow-2024-09-scheduled`.

    Step Functions refuses a name already used by the same Standard machine in the last 90 days
    (ExecutionAlreadyExists). The trigger's name is the dataset-month alone, so however often
    and on whichever days the trigger is invoked for a month (a Scheduler or Lambda retry, an
    override sent again), the month starts once; the trigger counts the collision as success.
    Manual and backfill names carry the start time to the second, so a person can re-run a
    month on purpose, and they never collide with the trigger's name. `now` is needed for them.
    """
    trigger = Trigger(trigger)
    if trigger is Trigger.SCHEDULED:
        return f"{dataset}-{month}-{trigger.value}"
    if now is None:
        raise ValueError(f"a {trigger.value} execution name needs the start time")
    return f"{dataset}-{month}-{trigger.value}-{_utc_stamp(now, '%Y%m%dT%H%M%SZ')}"


def backfill_execution_name(dataset: str, first: Month, last: Month, now: datetime) -> str:
    """`yellow-2024-01-to-2024-06-backfill-20241101T120000Z`."""
    stamp = _utc_stamp(now, "%Y%m%dT%H%M%SZ")
    return f"{dataset}-{first}-to-{last}-{Trigger.BACKFILL.value}-{stamp}"


# Publish despite the audit's refusals: the optional boolean of both machines' input.
FORCE_PUBLISH = "forcePublish"


def month_input(
    dataset: Dataset, month: Month, force_publish: bool = False
) -> dict[str, str | bool]:
    """The monthly state machine's input (ARCHITECTURE: "State machine input")."""
    given: dict[str, str | bool] = {"year": month.yyyy, "month": month.mm, "dataset": dataset.name}
    if force_publish:
        given[FORCE_PUBLISH] = True
    return given


def backfill_input(
    dataset: Dataset, months: Sequence[Month], force_publish: bool = False
) -> dict[str, str | bool]:
    """The backfill machine's input: the range, which its first state expands into months.

    The machine also accepts `{"months": [...]}`; the range is what a person asked for, stays
    small for any length, and is what `status` shows. `forcePublish` reaches every month.
    """
    given: dict[str, str | bool] = {
        "from": str(months[0]), "to": str(months[-1]), "dataset": dataset.name,
    }  # fmt: skip
    if force_publish:
        given[FORCE_PUBLISH] = True
    return given
