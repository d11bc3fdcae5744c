"""The pipeline's own CloudWatch metrics: names, namespace, dimension, and the requests that put
them. One definition for the publish step that puts a month's metrics, the freshness check that
puts how long each scheduled dataset has gone without a publish, the dashboard and the alarms
(`components.monitoring`) and the IAM condition on the namespace (`components.iam`).
Standard library only: the trigger Lambda and the Pulumi program import it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta

NAMESPACE_ROOT = "tlc-elt"
DATASET_DIMENSION = "Dataset"
# A month is scheduled once a month; it may come a few days late (TLC, retries, job timeouts)
# before it counts as missing: the freshness alarm fires past this many days without a publish.
MISSING_AFTER_DAYS = 35
# How far back the freshness check looks for a publish; a dataset with none in this span is
# reported at this age (CloudWatch keeps daily data points for 455 days).
FRESHNESS_HORIZON_DAYS = 62


class MonthMetric(str, enum.Enum):
    """Put by the publish step, once per published month (dimension: Dataset)."""

    ROWS_LOADED = "RowsLoaded"
    ROWS_QUARANTINED = "RowsQuarantined"
    QUARANTINE_SHARE = "QuarantineShare"  # percent of the month's rows
    AUDIT_WARNINGS = "AuditWarnings"


FRESHNESS_METRIC = "DaysSinceLastPublish"  # put daily by the freshness check, per dataset
_UNITS = {
    MonthMetric.ROWS_LOADED: "Count",
    MonthMetric.ROWS_QUARANTINED: "Count",
    MonthMetric.QUARANTINE_SHARE: "Percent",
    MonthMetric.AUDIT_WARNINGS: "Count",
}


def metric_namespace(stack: str) -> str:
    """`tlc-elt/<stack>`: each stack's metrics apart, and the IAM condition's value."""
    return f"{NAMESPACE_ROOT}/{stack}"


def _dimensions(dataset: str) -> list[dict[str, str]]:
    return [{"Name": DATASET_DIMENSION, "Value": dataset}]


def month_metric_data(
    dataset: str,
    rows_loaded: int,
    rows_quarantined: int,
    warnings: int,
    at: datetime,
) -> list[dict]:
    """PutMetricData's `MetricData` for one published month."""
    rows = rows_loaded + rows_quarantined
    values = {
        MonthMetric.ROWS_LOADED: rows_loaded,
        MonthMetric.ROWS_QUARANTINED: rows_quarantined,
        MonthMetric.QUARANTINE_SHARE: 100.0 * rows_quarantined / rows if rows else 0.0,
        MonthMetric.AUDIT_WARNINGS: warnings,
    }
    return [
        {"MetricName": metric.value, "Dimensions": _dimensions(dataset), "Timestamp": at,
         "Value": float(value), "Unit": _UNITS[metric]}
        for metric, value in values.items()
    ]  # fmt: skip


def days_since_publish(publishes: Iterable[datetime], now: datetime) -> float:
    """Whole and partial days from the latest publish to now; the horizon when there is none
    (or none within it)."""
    horizon = timedelta(days=FRESHNESS_HORIZON_DAYS)
    recent = [moment for moment in publishes if now - moment <= horizon]
    if not recent:
        return float(FRESHNESS_HORIZON_DAYS)
    return round((now - max(recent)) / timedelta(days=1), 2)


def freshness_metric_data(dataset: str, days: float, at: datetime) -> dict:
    return {"MetricName": FRESHNESS_METRIC, "Dimensions": _dimensions(dataset), "Timestamp": at,
            "Value": days, "Unit": "None"}  # fmt: skip


def publishes_query(dataset: str, namespace: str, now: datetime) -> dict:
    """GetMetricData's request for the days with a publish (RowsLoaded's sample count per day)
    over the horizon."""
    return {
        "MetricDataQueries": [{
            "Id": "publishes",
            "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": MonthMetric.ROWS_LOADED.value,
                           "Dimensions": _dimensions(dataset)},
                "Period": 86400,
                "Stat": "SampleCount",
            },
        }],
        "StartTime": now - timedelta(days=FRESHNESS_HORIZON_DAYS),
        "EndTime": now,
    }  # fmt: skip


REFUSED_METRIC = "MonthsRefused"  # put by the audit step when it refuses a month, per dataset


def refused_metric_data(dataset: str, at: datetime) -> dict:
    return {"MetricName": REFUSED_METRIC, "Dimensions": _dimensions(dataset), "Timestamp": at,
            "Value": 1.0, "Unit": "Count"}  # fmt: skip
