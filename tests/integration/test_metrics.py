"""The pipeline's CloudWatch metrics against moto: a published month's four metrics in the
stack's namespace per dataset, and the daily freshness check (the trigger Lambda's `freshness`
action) turning the days with a publish into `DaysSinceLastPublish`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from functions import trigger
from pipeline.contract.errors import InvalidInput
from pipeline.contract.metrics import (
    DATASET_DIMENSION,
    FRESHNESS_HORIZON_DAYS,
    FRESHNESS_METRIC,
    MonthMetric,
    metric_namespace,
)
from pipeline.jobs.metrics import put_month_metrics, put_refusal

REGION = "us-east-1"
NAMESPACE = metric_namespace("dev")
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def cloudwatch() -> Iterator[object]:
    with mock_aws():
        yield boto3.client("cloudwatch", region_name=REGION)


def stored(cloudwatch, metric: str, dataset: str, unit: str | None = None) -> list[float]:
    answer = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE, MetricName=metric,
        Dimensions=[{"Name": DATASET_DIMENSION, "Value": dataset}],
        StartTime=NOW - timedelta(days=20), EndTime=NOW + timedelta(minutes=5),
        Period=60, Statistics=["Maximum"], **({"Unit": unit} if unit else {}),
    )  # fmt: skip
    return [point["Maximum"] for point in answer["Datapoints"]]


def test_a_published_month_puts_its_four_metrics_per_dataset(cloudwatch):
    put_month_metrics(cloudwatch, NAMESPACE, "green", rows_loaded=57_000, rows_quarantined=3_000,
                      warnings=2, now=NOW)  # fmt: skip
    assert stored(cloudwatch, "RowsLoaded", "green") == [57_000.0]
    assert stored(cloudwatch, "RowsQuarantined", "green") == [3_000.0]
    assert stored(cloudwatch, "QuarantineShare", "green", "Percent") == [5.0]
    assert stored(cloudwatch, "AuditWarnings", "green") == [2.0]
    assert stored(cloudwatch, "RowsLoaded", "yellow") == []
    listed = cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]
    assert {m["MetricName"] for m in listed} == {metric.value for metric in MonthMetric}


def test_a_refusal_puts_one_data_point(cloudwatch):
    put_refusal(cloudwatch, NAMESPACE, "fhv", now=NOW)
    assert stored(cloudwatch, "MonthsRefused", "fhv") == [1.0]


def test_freshness_puts_the_days_since_each_datasets_last_publish(cloudwatch):
    put_month_metrics(cloudwatch, NAMESPACE, "yellow", rows_loaded=10, rows_quarantined=0,
                      warnings=0, now=NOW - timedelta(days=12))  # fmt: skip
    event = {"action": "freshness", "namespace": NAMESPACE, "datasets": ["yellow", "fhvhv"]}
    result = trigger.freshness(event, cloudwatch=cloudwatch, now=NOW)
    days = result["daysSinceLastPublish"]
    # GetMetricData answers in whole days: the publish's day started up to a day earlier
    assert 12 <= days["yellow"] < 13
    assert days["fhvhv"] == FRESHNESS_HORIZON_DAYS  # nothing published in the horizon
    assert stored(cloudwatch, FRESHNESS_METRIC, "fhvhv") == [float(FRESHNESS_HORIZON_DAYS)]
    assert stored(cloudwatch, FRESHNESS_METRIC, "yellow") == [days["yellow"]]


@pytest.mark.parametrize(
    ("event", "what"),
    [
        ({"action": "freshness", "namespace": "other/dev", "datasets": ["yellow"]}, "namespace"),
        ({"action": "freshness", "namespace": NAMESPACE, "datasets": []}, "datasets"),
        ({"action": "freshness", "namespace": NAMESPACE, "datasets": ["taxi"]}, "dataset"),
        ({"action": "freshness", "namespace": NAMESPACE, "datasets": ["yellow"], "x": 1},
         "freshness event key"),
    ],
)  # fmt: skip
def test_a_bad_freshness_event_is_refused_before_any_call(event, what):
    class NoCalls:
        def __getattr__(self, name):
            raise AssertionError(f"called {name}")

    with pytest.raises(InvalidInput, match=f"invalid {what}"):
        trigger.freshness(event, cloudwatch=NoCalls(), now=NOW)
