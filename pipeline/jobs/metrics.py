"""Put a published month's metrics to CloudWatch (`pipeline.contract.metrics`).

The publish step calls `put_month_metrics` once the month is the published one, the audit step
`put_refusal` when it refuses one, both through `CloudWatchMetrics` in their context (AWS only;
a local run has none). The client is the caller's (boto3's `cloudwatch`, made for
the stack's region), so this module imports no AWS library and runs in Glue Python Shell (3.9).
The job's role may put metrics only into the stack's namespace (`components.iam`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pipeline.contract.metrics import month_metric_data, refused_metric_data


def put_month_metrics(
    cloudwatch: Any,
    namespace: str,
    dataset: str,
    *,
    rows_loaded: int,
    rows_quarantined: int,
    warnings: int,
    now: datetime | None = None,
) -> list[dict]:
    """One PutMetricData call (4 data points, well under its limit of 1000); returns them."""
    data = month_metric_data(
        dataset, rows_loaded, rows_quarantined, warnings, now or datetime.now(timezone.utc)
    )
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)
    return data


def put_refusal(cloudwatch: Any, namespace: str, dataset: str, now: datetime | None = None) -> dict:
    """One `MonthsRefused` data point: the dashboard's refused executions (the audit step calls
    it when it refuses a month; wired with the audit of issue 18)."""
    point = refused_metric_data(dataset, now or datetime.now(timezone.utc))
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=[point])
    return point


class CloudWatchMetrics:
    """What the steps tell CloudWatch, into one stack's namespace (`metric_namespace`)."""

    def __init__(self, cloudwatch: Any, namespace: str) -> None:
        self.cloudwatch, self.namespace = cloudwatch, namespace

    def month_published(
        self, dataset: str, *, rows_loaded: int, rows_quarantined: int, warnings: int
    ) -> list[dict]:
        return put_month_metrics(
            self.cloudwatch, self.namespace, dataset, rows_loaded=rows_loaded,
            rows_quarantined=rows_quarantined, warnings=warnings,
        )  # fmt: skip

    def month_refused(self, dataset: str) -> dict:
        return put_refusal(self.cloudwatch, self.namespace, dataset)
