"""Monitoring: a CloudWatch dashboard of the pipeline and its data, and the data alarms.

The dashboard shows the monthly machine's executions (started, succeeded, failed, and the months
the audit refused), how long executions and each step take, and per dataset the metrics of
`pipeline.contract.metrics` (rows loaded and quarantined, quarantine share, audit warnings, days
since the last publish). Alarms notify the stack's alerts topic when a month publishes with
warnings, and when a scheduled dataset has gone longer than its schedule allows without a publish
(`DaysSinceLastPublish`, put daily by the trigger Lambda's freshness check, because an alarm sees
at most 7 days). `dashboard_body` and `alarm_specs` are pure: tests compare them whole.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components import iam
from components.account import current_account
from pipeline.contract.datasets import DATASETS
from pipeline.contract.metrics import (
    DATASET_DIMENSION,
    FRESHNESS_METRIC,
    MISSING_AFTER_DAYS,
    REFUSED_METRIC,
    MonthMetric,
)
from pipeline.contract.steps import STEPS

TYPE = "tlc-elt:monitoring:Monitoring"
DAY = 86400
# The freshness check runs daily, at an hour no monthly schedule uses.
FRESHNESS_CRON = "cron(30 7 * * ? *)"
WIDTH, HALF, THIRD = 24, 12, 8


@dataclass(frozen=True)
class AlarmSpec:
    key: str
    description: str
    metric_name: str
    dataset: str
    threshold: float
    period: int
    statistic: str = "Maximum"
    comparison_operator: str = "GreaterThanThreshold"
    evaluation_periods: int = 1
    treat_missing_data: str = "notBreaching"


def alarm_specs(scheduled_datasets: Sequence[str], schedule_enabled: bool) -> list[AlarmSpec]:
    """Warnings: any dataset's month published with audit warnings. Missing: a scheduled
    dataset without a publish for MISSING_AFTER_DAYS (only while the schedule runs; a day the
    check did not run is not a breach, the trigger's error alarm covers a failing check)."""
    specs = [
        AlarmSpec(f"{name}-warnings",
                  f"a month of {name} was published with audit warnings: see the report",
                  MonthMetric.AUDIT_WARNINGS.value, name, 0, 300)
        for name in DATASETS
    ]  # fmt: skip
    if schedule_enabled:
        specs += [
            AlarmSpec(f"{name}-missing",
                      f"{name} is scheduled monthly but published no month for more than "
                      f"{MISSING_AFTER_DAYS} days",
                      FRESHNESS_METRIC, name, MISSING_AFTER_DAYS, DAY)
            for name in scheduled_datasets
        ]  # fmt: skip
    return specs


def _dataset_metric(namespace: str, metric: str, stat: str) -> list[list[Any]]:
    return [[namespace, metric, DATASET_DIMENSION, name, {"stat": stat, "label": name}]
            for name in DATASETS]  # fmt: skip


def _widget(x: int, y: int, w: int, h: int, **properties: Any) -> dict[str, Any]:
    kind = properties.pop("type", "metric")
    return {"type": kind, "x": x, "y": y, "width": w, "height": h, "properties": properties}


def dashboard_body(
    region: str,
    namespace: str,
    monthly_machine_arn: str,
    monthly_log_group: str,
    alarm_arns: Sequence[str],
) -> dict[str, Any]:
    """The dashboard's JSON body (CloudWatch's dashboard body structure)."""
    machine = ["StateMachineArn", monthly_machine_arn]
    states = " ".join(f'"{step.state}"' for step in STEPS)
    executions = [["AWS/States", metric, *machine, {"stat": "Sum", "label": label}]
                  for metric, label in (("ExecutionsStarted", "started"),
                                        ("ExecutionsSucceeded", "succeeded"),
                                        ("ExecutionsFailed", "failed"),
                                        ("ExecutionsTimedOut", "timed out"))]  # fmt: skip
    refused = _dataset_metric(namespace, REFUSED_METRIC, "Sum")
    per_dataset = dict(region=region, period=DAY, view="timeSeries", stacked=False)
    widgets = [
        _widget(0, 0, WIDTH, 2, type="text", markdown=(
            "# tlc-elt: the pipeline and its data\nExecutions of the monthly machine, its steps, "
            "and per dataset what each published month loaded, quarantined and warned about. "
            "The data report (`make report`) shows the months themselves.")),
        _widget(0, 2, HALF, 6, title="Monthly executions", region=region, period=DAY,
                stat="Sum", view="timeSeries", metrics=executions),
        _widget(HALF, 2, HALF, 6, title="Months refused by the audit", region=region,
                period=DAY, stat="Sum", view="bar", metrics=refused),
        _widget(0, 8, HALF, 6, title="Execution time (ms)", region=region, period=DAY,
                view="timeSeries", metrics=[
                    ["AWS/States", "ExecutionTime", *machine, {"stat": "Average"}],
                    ["AWS/States", "ExecutionTime", *machine, {"stat": "Maximum"}]]),
        # Step Functions has no per-state metric: each step's time comes from the execution
        # log (every event at executionLogLevel ALL, failures only at ERROR).
        _widget(HALF, 8, HALF, 6, type="log", title="Step durations (s), from the execution log",
                region=region, view="table", query=(
                    f"SOURCE '{monthly_log_group}' | "
                    "fields details.name as step, execution_arn, event_timestamp "
                    "| filter type in ['TaskStateEntered', 'TaskStateExited'] "
                    f"and details.name in [{states.replace(' ', ', ')}] "
                    "| stats (max(event_timestamp) - min(event_timestamp)) / 1000 as seconds "
                    "by execution_arn, step | sort execution_arn desc | limit 60")),
    ]  # fmt: skip
    rows = [(MonthMetric.ROWS_LOADED, "Rows loaded", "Maximum"),
            (MonthMetric.ROWS_QUARANTINED, "Rows quarantined", "Maximum"),
            (MonthMetric.QUARANTINE_SHARE, "Quarantine share (%)", "Maximum"),
            (MonthMetric.AUDIT_WARNINGS, "Audit warnings", "Sum")]  # fmt: skip
    for i, (metric, title, stat) in enumerate(rows):
        widgets.append(_widget((i % 2) * HALF, 14 + (i // 2) * 6, HALF, 6, title=title,
                               metrics=_dataset_metric(namespace, metric.value, stat),
                               **per_dataset))  # fmt: skip
    widgets.append(_widget(0, 26, HALF, 6, title="Days since the last publish",
                           metrics=_dataset_metric(namespace, FRESHNESS_METRIC, "Maximum"),
                           annotations={"horizontal": [{"label": "missing",
                                                        "value": MISSING_AFTER_DAYS}]},
                           **per_dataset))  # fmt: skip
    widgets.append(_widget(HALF, 26, HALF, 6, type="alarm", title="Alarms",
                           alarms=sorted(alarm_arns)))  # fmt: skip
    return {"start": "-P400D", "periodOverride": "inherit", "widgets": widgets}


@dataclass
class MonitoringArgs:
    prefix: str
    namespace: str  # pipeline.contract.metrics.metric_namespace(stack)
    alerts_topic_arn: pulumi.Input[str]
    monthly_machine_arn: pulumi.Input[str]
    monthly_log_group: pulumi.Input[str]
    trigger_function_arn: pulumi.Input[str]
    trigger_role_name: pulumi.Input[str]
    scheduler_role_arn: pulumi.Input[str]
    scheduled_datasets: Sequence[str]
    schedule_enabled: bool
    schedule_timezone: str = "UTC"
    # Other components' alarms, shown on the dashboard beside this one's.
    alarms: dict[str, aws.cloudwatch.MetricAlarm] = field(default_factory=dict)


class Monitoring(pulumi.ComponentResource):
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    dashboard: aws.cloudwatch.Dashboard
    freshness_schedule: aws.scheduler.Schedule
    freshness_policy: aws.iam.RolePolicy

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        self._name, self._args = name, args
        self._freshness_check()
        self.alarms = {spec.key: self._alarm(spec) for spec in
                       alarm_specs(args.scheduled_datasets, args.schedule_enabled)}  # fmt: skip
        arns = [alarm.arn for alarm in [*args.alarms.values(), *self.alarms.values()]]
        region = current_account(self).apply(lambda account: account.region)
        body = pulumi.Output.all(
            region, args.monthly_machine_arn, args.monthly_log_group, *arns
        ).apply(lambda v: json.dumps(dashboard_body(v[0], args.namespace, v[1], v[2], v[3:])))
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard", dashboard_name=args.prefix, dashboard_body=body,
            opts=pulumi.ResourceOptions(parent=self),
        )  # fmt: skip
        self.register_outputs({"dashboardName": self.dashboard.dashboard_name})

    def _freshness_check(self) -> None:
        args = self._args
        self.freshness_policy = aws.iam.RolePolicy(
            f"{self._name}-freshness-policy",
            role=args.trigger_role_name,
            policy=json.dumps(iam.freshness_check_policy(args.namespace)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        check = {"action": "freshness", "namespace": args.namespace,
                 "datasets": list(args.scheduled_datasets)}  # fmt: skip
        self.freshness_schedule = aws.scheduler.Schedule(
            f"{self._name}-freshness-schedule",
            name=f"{args.prefix}-freshness",
            description="Puts the days since each scheduled dataset's last publish",
            schedule_expression=FRESHNESS_CRON,
            schedule_expression_timezone=args.schedule_timezone,
            state="ENABLED" if args.schedule_enabled else "DISABLED",
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=args.trigger_function_arn, role_arn=args.scheduler_role_arn,
                input=json.dumps(check),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.freshness_policy]),
        )  # fmt: skip

    def _alarm(self, spec: AlarmSpec) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-{spec.key}-alarm",
            name=f"{self._args.prefix}-{spec.key}",
            alarm_description=spec.description,
            namespace=self._args.namespace,
            metric_name=spec.metric_name,
            dimensions={DATASET_DIMENSION: spec.dataset},
            statistic=spec.statistic,
            comparison_operator=spec.comparison_operator,
            threshold=spec.threshold,
            period=spec.period,
            evaluation_periods=spec.evaluation_periods,
            treat_missing_data=spec.treat_missing_data,
            alarm_actions=[self._args.alerts_topic_arn],
            opts=pulumi.ResourceOptions(parent=self),
        )
