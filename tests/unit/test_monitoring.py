"""The dashboard body, whole, and the data alarms (pure builders of components.monitoring)."""

from __future__ import annotations

import json

from components.monitoring import AlarmSpec, alarm_specs, dashboard_body
from pipeline.contract.steps import STEPS

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:tlc-elt-prod-monthly"
LOGS = "/aws/vendedlogs/states/tlc-elt-prod-monthly"
ALARM = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:tlc-elt-prod-"
ALARMS = [f"{ALARM}yellow-missing", f"{ALARM}monthly-failed"]
NS = "tlc-elt/prod"
BODY = dashboard_body("us-east-1", NS, MACHINE, LOGS, ALARMS)


def per_dataset(metric: str, stat: str) -> list[list]:
    return [[NS, metric, "Dataset", d, {"stat": stat, "label": d}]
            for d in ("yellow", "green", "fhv", "fhvhv")]  # fmt: skip


def test_the_dashboard_layout_whole():
    layout = [(w["type"], w["properties"].get("title"), w["x"], w["y"], w["width"], w["height"])
              for w in BODY["widgets"]]  # fmt: skip
    assert layout == [
        ("text", None, 0, 0, 24, 2),
        ("metric", "Monthly executions", 0, 2, 12, 6),
        ("metric", "Months refused by the audit", 12, 2, 12, 6),
        ("metric", "Execution time (ms)", 0, 8, 12, 6),
        ("log", "Step durations (s), from the execution log", 12, 8, 12, 6),
        ("metric", "Rows loaded", 0, 14, 12, 6),
        ("metric", "Rows quarantined", 12, 14, 12, 6),
        ("metric", "Quarantine share (%)", 0, 20, 12, 6),
        ("metric", "Audit warnings", 12, 20, 12, 6),
        ("metric", "Days since the last publish", 0, 26, 12, 6),
        ("alarm", "Alarms", 12, 26, 12, 6),
    ]
    assert (BODY["start"], BODY["periodOverride"]) == ("-P400D", "inherit")
    assert len(json.dumps(BODY)) < 100_000


def test_every_metric_on_the_dashboard():
    metrics = {w["properties"]["title"]: w["properties"]["metrics"]
               for w in BODY["widgets"] if w["type"] == "metric"}  # fmt: skip
    machine = ["StateMachineArn", MACHINE]
    assert metrics == {
        "Monthly executions": [
            ["AWS/States", "ExecutionsStarted", *machine, {"stat": "Sum", "label": "started"}],
            ["AWS/States", "ExecutionsSucceeded", *machine, {"stat": "Sum", "label": "succeeded"}],
            ["AWS/States", "ExecutionsFailed", *machine, {"stat": "Sum", "label": "failed"}],
            ["AWS/States", "ExecutionsTimedOut", *machine, {"stat": "Sum", "label": "timed out"}],
        ],
        "Months refused by the audit": per_dataset("MonthsRefused", "Sum"),
        "Execution time (ms)": [["AWS/States", "ExecutionTime", *machine, {"stat": "Average"}],
                                ["AWS/States", "ExecutionTime", *machine, {"stat": "Maximum"}]],
        "Rows loaded": per_dataset("RowsLoaded", "Maximum"),
        "Rows quarantined": per_dataset("RowsQuarantined", "Maximum"),
        "Quarantine share (%)": per_dataset("QuarantineShare", "Maximum"),
        "Audit warnings": per_dataset("AuditWarnings", "Sum"),
        "Days since the last publish": per_dataset("DaysSinceLastPublish", "Maximum"),
    }  # fmt: skip
    for widget in BODY["widgets"]:
        if widget["type"] in ("metric", "log"):
            assert widget["properties"]["region"] == "us-east-1"
    freshness = BODY["widgets"][9]["properties"]
    assert freshness["annotations"] == {"horizontal": [{"label": "missing", "value": 35}]}


def test_step_durations_query_the_monthly_log_for_every_step_and_alarms_are_listed():
    log = BODY["widgets"][4]["properties"]
    assert log["query"].startswith(f"SOURCE '{LOGS}' | ")
    names = ", ".join(f'"{step.state}"' for step in STEPS)
    assert f"details.name in [{names}]" in log["query"]
    assert BODY["widgets"][10]["properties"]["alarms"] == sorted(ALARMS)


def test_warnings_alarm_per_dataset_and_missing_only_for_scheduled_datasets_when_enabled():
    specs = alarm_specs(["yellow", "fhvhv"], schedule_enabled=True)
    assert [(s.key, s.metric_name, s.threshold, s.period) for s in specs] == [
        ("yellow-warnings", "AuditWarnings", 0, 300),
        ("green-warnings", "AuditWarnings", 0, 300),
        ("fhv-warnings", "AuditWarnings", 0, 300),
        ("fhvhv-warnings", "AuditWarnings", 0, 300),
        ("yellow-missing", "DaysSinceLastPublish", 35, 86400),
        ("fhvhv-missing", "DaysSinceLastPublish", 35, 86400),
    ]
    assert all(s.comparison_operator == "GreaterThanThreshold" for s in specs)
    assert [s.key for s in alarm_specs(["yellow"], schedule_enabled=False)] == [
        "yellow-warnings",
        "green-warnings",
        "fhv-warnings",
        "fhvhv-warnings",
    ]
    assert isinstance(specs[0], AlarmSpec)
