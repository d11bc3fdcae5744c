"""The metrics' definitions: a month's data points, the freshness arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.contract.metrics import (
    FRESHNESS_HORIZON_DAYS,
    days_since_publish,
    metric_namespace,
    month_metric_data,
)

AT = datetime(2025, 3, 5, 7, tzinfo=UTC)


def test_a_months_data_points_name_the_dataset_and_their_units():
    data = month_metric_data("yellow", 3_000, 1_000, 1, AT)
    assert [(d["MetricName"], d["Value"], d["Unit"]) for d in data] == [
        ("RowsLoaded", 3000.0, "Count"), ("RowsQuarantined", 1000.0, "Count"),
        ("QuarantineShare", 25.0, "Percent"), ("AuditWarnings", 1.0, "Count"),
    ]  # fmt: skip
    assert all(d["Dimensions"] == [{"Name": "Dataset", "Value": "yellow"}] for d in data)
    assert month_metric_data("green", 0, 0, 0, AT)[2]["Value"] == 0.0  # no rows, no division
    assert metric_namespace("prod") == "tlc-elt/prod"


def test_days_since_the_latest_publish_within_the_horizon():
    assert days_since_publish([AT - timedelta(days=40), AT - timedelta(hours=36)], AT) == 1.5
    assert days_since_publish([], AT) == FRESHNESS_HORIZON_DAYS
    too_old = AT - timedelta(days=FRESHNESS_HORIZON_DAYS + 1)
    assert days_since_publish([too_old], AT) == FRESHNESS_HORIZON_DAYS
