"""The trigger Lambda: start the monthly state machine for one dataset-month, at most once.

`start` (the default action). EventBridge Scheduler invokes it monthly with `{"dataset": "yellow",
"scheduledTime": "<aws.scheduler.scheduled-time>"}`; the month is the scheduled time (UTC) minus the
publication lag, `pipeline.contract.months.scheduled_month`. An explicit `{"year": "2024", "month":
"09"[, "dataset": "green"]}` overrides the month. The execution is named for the dataset-month
alone, `yellow-2024-09-scheduled` (`pipeline.contract.executions`): a second trigger for the same
month (a Scheduler or Lambda retry, the override sent again, on any day) collides with that name,
and Step Functions' ExecutionAlreadyExists counts as success, so the month never runs twice from
here. Step Functions holds a Standard execution's name for 90 days; the schedule asks for each month
once, so only an override sent more than 90 days later could start that month again. A deliberate
re-run goes through the CLI (`python -m pipeline start`), whose `manual-<timestamp>` names never
collide.

`freshness` (a daily schedule, `components.monitoring`): `{"action": "freshness", "namespace":
"tlc-elt/prod", "datasets": ["yellow"]}` -> per dataset, the days since its last publish (the
days with a `RowsLoaded` data point, `pipeline.contract.metrics`), put as `DaysSinceLastPublish`,
which the missing-data alarm watches: a CloudWatch alarm sees at most 7 days, a month is longer.

`expand` (the backfill machine's first state): `{"from": "2024-01", "to": "2024-06"}` or
`{"months": ["2024-01", {"year": "2024", "month": "03"}]}` (optionally `"forcePublish": true`)
-> the validated months, each with the name of its child execution and the forcePublish flag
(false unless given) its monthly input passes on.

Validation happens before any call to AWS. Packaged with exactly the `pipeline` modules it
imports (see components.artifacts); Python 3.9 syntax like the rest of the pipeline.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from pipeline.contract.datasets import DEFAULT_DATASET, Dataset, get_dataset
from pipeline.contract.errors import InvalidInput, PipelineError
from pipeline.contract.executions import FORCE_PUBLISH, Trigger, execution_name, month_input
from pipeline.contract.metrics import (
    NAMESPACE_ROOT,
    days_since_publish,
    freshness_metric_data,
    publishes_query,
)
from pipeline.contract.months import Month, month_range, scheduled_month, validate_month

STATE_MACHINE_ARN_ENV = "STATE_MACHINE_ARN"
START, EXPAND, FRESHNESS = "start", "expand", "freshness"
START_KEYS = ("action", "dataset", "year", "month", "scheduledTime")
EXPAND_KEYS = ("action", "input", "startedAt")
BACKFILL_KEYS = ("from", "to", "months", "dataset", FORCE_PUBLISH)
FRESHNESS_KEYS = ("action", "namespace", "datasets")

# ISO 8601 as Scheduler (`2024-11-05T06:00:00Z`) and Step Functions (`...T06:00:00.123Z`) write it.
_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|([+-])(\d{2}):?(\d{2}))$"
)


@dataclass(frozen=True)
class PlannedRun:
    """The execution a trigger asks for: its deterministic name and the machine's input."""

    name: str
    input: dict[str, str]


def parse_timestamp(what: str, value: object) -> datetime:
    match = _TIMESTAMP.match(str(value))
    if not match:
        raise InvalidInput(what, value, "an ISO 8601 UTC time such as 2024-11-05T06:00:00Z")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    offset = timedelta(0)
    if match.group(7) != "Z":
        sign = -1 if match.group(8) == "-" else 1
        offset = sign * timedelta(hours=int(match.group(9)), minutes=int(match.group(10)))
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=timezone(offset))
    except ValueError:
        raise InvalidInput(what, value, "a real date and time") from None
    return moment.astimezone(timezone.utc)


def _check_keys(what: str, event: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(event) - set(allowed))
    if unknown:
        raise InvalidInput(f"{what} key", unknown[0], f"one of {', '.join(allowed)}")


def plan_start(event: Mapping[str, Any], now: datetime) -> PlannedRun:
    """Which month to start and under which name; raises InvalidInput for a bad event."""
    _check_keys("trigger event", event, START_KEYS)
    dataset = get_dataset(event.get("dataset", DEFAULT_DATASET))
    when = now
    if "scheduledTime" in event:
        when = parse_timestamp("scheduledTime", event["scheduledTime"])
    if ("year" in event) != ("month" in event):
        given = {key: event[key] for key in ("year", "month") if key in event}
        raise InvalidInput("trigger override", given, "give both year and month, or neither")
    if "year" in event:
        month = validate_month(event["year"], event["month"], first=dataset.first_month, now=now)
    else:
        month = scheduled_month(when)
        validate_month(month.year, month.month, first=dataset.first_month, now=now)
    name = execution_name(dataset.name, month, Trigger.SCHEDULED)
    return PlannedRun(name=name, input=month_input(dataset, month))


def start(event: Mapping[str, Any], *, sfn: Any, state_machine_arn: str, now: datetime) -> dict:
    """Start the planned run; an execution that already has its name means it was started."""
    planned = plan_start(event, now)
    try:
        response = sfn.start_execution(
            stateMachineArn=state_machine_arn, name=planned.name, input=json.dumps(planned.input)
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        return {"status": "already-started", "name": planned.name, "input": planned.input}
    return {
        "status": "started",
        "name": planned.name,
        "input": planned.input,
        "executionArn": response["executionArn"],
    }


def _listed_month(item: object, dataset: Dataset, now: datetime) -> tuple[Dataset, Month]:
    if isinstance(item, Mapping):
        _check_keys("backfill month", item, ("year", "month", "dataset"))
        chosen = get_dataset(item.get("dataset", dataset.name))
        if "year" not in item or "month" not in item:
            raise InvalidInput("backfill month", dict(item), 'an object with "year" and "month"')
        month = validate_month(item["year"], item["month"], first=chosen.first_month, now=now)
        return chosen, month
    month = Month.parse(str(item))
    return dataset, validate_month(month.year, month.month, first=dataset.first_month, now=now)


def backfill_months(request: object, now: datetime) -> list[tuple[Dataset, Month]]:
    """The backfill's months in order, each once; a range or a list, validated."""
    if not isinstance(request, Mapping):
        raise InvalidInput("backfill input", request, "a JSON object")
    _check_keys("backfill input", request, BACKFILL_KEYS)
    dataset = get_dataset(request.get("dataset", DEFAULT_DATASET))
    if "months" in request:
        if not isinstance(request["months"], list) or not request["months"]:
            raise InvalidInput("backfill months", request["months"], "a non-empty list")
        listed = [_listed_month(item, dataset, now) for item in request["months"]]
        unique = {(month, chosen.name): (chosen, month) for chosen, month in listed}
        months = [unique[key] for key in sorted(unique)]
        month_range(months[0][1], months[-1][1])  # the same span limit as a range
        return months
    if "from" not in request or "to" not in request:
        raise InvalidInput(
            "backfill input", dict(request), 'give "from" and "to" (YYYY-MM) or a "months" list'
        )
    first, last = Month.parse(request["from"]), Month.parse(request["to"])
    for month in (first, last):
        validate_month(month.year, month.month, first=dataset.first_month, now=now)
    return [(dataset, month) for month in month_range(first, last)]


def force_publish(request: Mapping[str, Any]) -> bool:
    """The backfill input's `forcePublish`: a JSON boolean, false when absent."""
    value = request.get(FORCE_PUBLISH, False)
    if not isinstance(value, bool):
        raise InvalidInput(FORCE_PUBLISH, value, "true or false (a JSON boolean)")
    return value


def expand(event: Mapping[str, Any], now: datetime) -> dict:
    """The backfill's Map items: each month's machine input plus its execution's name."""
    _check_keys("expand event", event, EXPAND_KEYS)
    started = now
    if "startedAt" in event:
        started = parse_timestamp("startedAt", event["startedAt"])
    request = event.get("input")
    months = backfill_months(request, now)
    forced = force_publish(request)  # a Mapping: backfill_months checked it
    items = []
    for dataset, month in months:
        name = execution_name(dataset.name, month, Trigger.BACKFILL, started)
        items.append({**month_input(dataset, month), FORCE_PUBLISH: forced, "name": name})
    return {"months": items}


def freshness(event: Mapping[str, Any], *, cloudwatch: Any, now: datetime) -> dict:
    """Put each dataset's days since its last publish; validated before any call."""
    _check_keys("freshness event", event, FRESHNESS_KEYS)
    namespace = str(event.get("namespace", ""))
    if not namespace.startswith(f"{NAMESPACE_ROOT}/"):
        raise InvalidInput("namespace", namespace, f"{NAMESPACE_ROOT}/<stack>")
    datasets = [get_dataset(name).name for name in event.get("datasets") or ()]
    if not datasets:
        raise InvalidInput("datasets", event.get("datasets"), "a non-empty list of datasets")
    days = {}
    for dataset in datasets:
        answer = cloudwatch.get_metric_data(**publishes_query(dataset, namespace, now))
        (series,) = answer["MetricDataResults"]
        published = [at for at, count in zip(series["Timestamps"], series["Values"]) if count]
        days[dataset] = days_since_publish(published, now)
    data = [freshness_metric_data(dataset, value, now) for dataset, value in days.items()]
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)
    return {"daysSinceLastPublish": days}


def handler(event: Any, context: Any = None) -> dict:
    if not isinstance(event, Mapping):
        raise InvalidInput("trigger event", event, "a JSON object")
    action = event.get("action", START)
    now = datetime.now(timezone.utc)
    if action == EXPAND:
        result = expand(event, now)
    elif action == START:
        arn = os.environ.get(STATE_MACHINE_ARN_ENV)
        if not arn:
            raise PipelineError(f"{STATE_MACHINE_ARN_ENV} is not set: the stack sets it")
        import boto3  # the Lambda runtime provides it; imported here so tests pass their own

        result = start(event, sfn=boto3.client("stepfunctions"), state_machine_arn=arn, now=now)
    elif action == FRESHNESS:
        import boto3

        result = freshness(event, cloudwatch=boto3.client("cloudwatch"), now=now)
    else:
        raise InvalidInput("action", action, f"{START}, {EXPAND} or {FRESHNESS}")
    print(json.dumps({"action": action, **result}))  # one line per invocation in the log
    return result
