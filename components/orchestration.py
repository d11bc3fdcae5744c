"""Orchestration: the monthly and backfill state machines, the trigger, the schedule, alerts.

EventBridge Scheduler (one schedule per scheduled dataset) invokes the trigger Lambda, which starts
the monthly state machine for "now minus 2 months" under a deterministic name. The monthly machine
runs the Glue jobs of `pipeline.contract.steps` in order, reading the audit's verdict after the
AuditMonth step (a refused month fails with MonthRefused); any failure publishes to the alerts
topic and fails. The backfill machine runs the monthly one over a month range. Alarms on failed
executions, trigger errors and undeliverable triggers notify the same topic.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components import artifacts, asl, iam
from components.account import current_account
from functions.trigger import STATE_MACHINE_ARN_ENV

TYPE = "tlc-elt:orchestration:Orchestration"
LAMBDA_RUNTIME = "python3.13"
# How long past a Glue job's own timeout a step may take (queueing, start-up) before the
# state machine gives up on it.
# A trigger that still fails after Lambda's own retries goes to the dead-letter queue.
TRIGGER_RETRIES, TRIGGER_MAX_AGE_SECONDS = 2, 6 * 3600
SCHEDULE_RETRIES, SCHEDULE_MAX_AGE_SECONDS = 5, 6 * 3600
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600
ALARM_PERIOD_SECONDS = 300
# Scheduler fills this placeholder with the invocation's scheduled time.
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"


@dataclass
class OrchestrationArgs:
    prefix: str
    job_names: Mapping[str, pulumi.Input[str]]  # by pipeline.contract.steps.Step.job
    job_arns: Sequence[pulumi.Input[str]]
    sizing: Mapping[str, asl.Sizing]  # every dataset's Glue runs and audit thresholds
    processed_bucket: pulumi.Input[str]  # where the audit's verdicts are (name)
    kms_key_arn: pulumi.Input[str] | None
    spark_worker_type: str
    backfill_concurrency: int
    schedule_enabled: bool
    schedule_cron: str
    schedule_timezone: str
    scheduled_datasets: Sequence[str]
    execution_log_level: str
    log_retention_days: int
    alert_email: str | None = None


def _policy(build: Callable[..., dict], *inputs: Any) -> pulumi.Output[str]:
    """An IAM document from resolved inputs (computing a property, creating nothing)."""
    return pulumi.Output.all(*inputs).apply(lambda values: json.dumps(build(*values)))


class Orchestration(pulumi.ComponentResource):
    alerts_topic: aws.sns.Topic
    alert_subscription: aws.sns.TopicSubscription | None
    state_machine: aws.sfn.StateMachine
    backfill_state_machine: aws.sfn.StateMachine
    trigger_function: aws.lambda_.Function
    dead_letter_queue: aws.sqs.Queue
    schedules: dict[str, aws.scheduler.Schedule]
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    roles: dict[str, aws.iam.Role]
    log_groups: dict[str, aws.cloudwatch.LogGroup]

    def __init__(
        self, name: str, args: OrchestrationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        self._name, self._args = name, args
        self._account = current_account(self)
        self.roles, self.log_groups, self.alarms = {}, {}, {}
        self._alerts()
        self._monthly_machine()
        self.dead_letter_queue = aws.sqs.Queue(
            f"{name}-dead-letters",
            name=f"{args.prefix}-trigger-dead-letters",
            sqs_managed_sse_enabled=True,
            message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
            opts=self._child(),
        )
        self._trigger()
        self._backfill_machine()
        self._schedules()
        self._alarms()
        self.register_outputs(
            {
                "stateMachineArn": self.state_machine.arn,
                "backfillStateMachineArn": self.backfill_state_machine.arn,
                "alertsTopicArn": self.alerts_topic.arn,
                "triggerFunctionName": self.trigger_function.name,
            }
        )

    def _child(self, *depends_on: pulumi.Resource) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, depends_on=list(depends_on) or None)

    def _role(self, key: str, service: str, policy: pulumi.Output[str]) -> aws.iam.RolePolicy:
        """A role for one AWS service with one inline policy; returns the policy (depend on it)."""
        account_guard = service in ("states.amazonaws.com", "scheduler.amazonaws.com")
        trust = self._account.apply(
            lambda account: json.dumps(
                iam.trust_policy([service], account.account_id if account_guard else None)
            )
        )
        role = aws.iam.Role(
            f"{self._name}-{key}-role", assume_role_policy=trust, opts=self._child()
        )
        self.roles[key] = role
        return aws.iam.RolePolicy(
            f"{self._name}-{key}-policy",
            role=role.id,
            policy=policy,
            opts=pulumi.ResourceOptions(parent=role),
        )

    def _log_group(self, key: str, log_name: str) -> aws.cloudwatch.LogGroup:
        group = aws.cloudwatch.LogGroup(
            f"{self._name}-{key}-logs",
            name=log_name,
            retention_in_days=self._args.log_retention_days,
            opts=self._child(),
        )
        self.log_groups[key] = group
        return group

    def _alerts(self) -> None:
        # Not KMS-encrypted: CloudWatch alarms cannot publish to a topic under the AWS-managed
        # SNS key, and the alerts carry names and error messages, no data.
        self.alerts_topic = aws.sns.Topic(
            f"{self._name}-alerts", name=f"{self._args.prefix}-alerts", opts=self._child()
        )
        self.alert_subscription = None
        if self._args.alert_email:
            self.alert_subscription = aws.sns.TopicSubscription(
                f"{self._name}-alert-email",
                topic=self.alerts_topic.arn,
                protocol="email",
                endpoint=self._args.alert_email,
                opts=self._child(),
            )

    def _machine(
        self, key: str, definition: pulumi.Output[str], policy: aws.iam.RolePolicy
    ) -> aws.sfn.StateMachine:
        machine_name = f"{self._args.prefix}-{key}"
        logs = self._log_group(key, f"/aws/vendedlogs/states/{machine_name}")
        return aws.sfn.StateMachine(
            f"{self._name}-{key}",
            name=machine_name,
            type="STANDARD",
            role_arn=self.roles[key].arn,
            definition=definition,
            logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
                log_destination=pulumi.Output.concat(logs.arn, ":*"),
                include_execution_data=True,
                level=self._args.execution_log_level,
            ),
            tracing_configuration=aws.sfn.StateMachineTracingConfigurationArgs(enabled=True),
            # Step Functions checks at creation that the role may deliver the logs.
            opts=self._child(policy),
        )

    def _monthly_machine(self) -> None:
        args = self._args

        def policy_document(topic, bucket, kms_key_arn, account, *jobs) -> dict:
            lake = iam.Buckets(raw="", processed=bucket, scripts="", partition=account.partition,
                               kms_key_arn=kms_key_arn)  # fmt: skip
            return iam.monthly_machine_policy(jobs, topic, lake)

        policy = self._role(
            "monthly",
            "states.amazonaws.com",
            _policy(
                policy_document,
                self.alerts_topic.arn,
                args.processed_bucket,
                args.kms_key_arn,
                self._account,
                *args.job_arns,
            ),
        )
        definition = asl.monthly_definition(
            args.job_names,
            self.alerts_topic.arn,
            stack_prefix=args.prefix,
            sizing=args.sizing,
            spark_worker_type=args.spark_worker_type,
            processed_bucket=args.processed_bucket,
        )
        self.state_machine = self._machine("monthly", pulumi.Output.json_dumps(definition), policy)

    def _trigger(self) -> None:
        function_name = f"{self._args.prefix}-trigger"
        logs = self._log_group("trigger", f"/aws/lambda/{function_name}")
        policy = self._role(
            "trigger",
            "lambda.amazonaws.com",
            _policy(
                iam.trigger_function_policy,
                self.state_machine.arn,
                logs.arn,
                self.dead_letter_queue.arn,
            ),
        )
        code = {path: pulumi.StringAsset(data.decode()) for path, data in
                artifacts.trigger_files().items()}  # fmt: skip
        self.trigger_function = aws.lambda_.Function(
            f"{self._name}-trigger",
            name=function_name,
            description="Starts the monthly state machine for now - 2 months; expands backfills",
            runtime=LAMBDA_RUNTIME,
            architectures=["arm64"],
            handler=artifacts.TRIGGER_HANDLER,
            code=pulumi.AssetArchive(code),
            role=self.roles["trigger"].arn,
            timeout=30,
            memory_size=128,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={STATE_MACHINE_ARN_ENV: self.state_machine.arn}
            ),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="Text", log_group=logs.name
            ),
            opts=self._child(policy),
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{self._name}-trigger-async",
            function_name=self.trigger_function.name,
            maximum_retry_attempts=TRIGGER_RETRIES,
            maximum_event_age_in_seconds=TRIGGER_MAX_AGE_SECONDS,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                    destination=self.dead_letter_queue.arn
                )
            ),
            opts=self._child(),
        )

    def _backfill_machine(self) -> None:
        args = self._args
        policy = self._role(
            "backfill",
            "states.amazonaws.com",
            _policy(
                iam.backfill_machine_policy,
                self.state_machine.arn,
                self.trigger_function.arn,
                self.alerts_topic.arn,
                self._account,
            ),
        )
        definition = asl.backfill_definition(
            self.state_machine.arn,
            self.trigger_function.arn,
            self.alerts_topic.arn,
            stack_prefix=args.prefix,
            max_concurrency=args.backfill_concurrency,
        )
        self.backfill_state_machine = self._machine(
            "backfill", pulumi.Output.json_dumps(definition), policy
        )

    def _schedules(self) -> None:
        args = self._args
        policy = self._role(
            "scheduler",
            "scheduler.amazonaws.com",
            _policy(iam.scheduler_policy, self.trigger_function.arn, self.dead_letter_queue.arn),
        )
        self.schedules = {}
        for dataset in args.scheduled_datasets:
            trigger_input = {"dataset": dataset, "scheduledTime": SCHEDULED_TIME}
            self.schedules[dataset] = aws.scheduler.Schedule(
                f"{self._name}-{dataset}-schedule",
                name=f"{args.prefix}-{dataset}-monthly",
                description=f"Loads {dataset} for two months before each run (TLC's lag)",
                schedule_expression=args.schedule_cron,
                schedule_expression_timezone=args.schedule_timezone,
                state="ENABLED" if args.schedule_enabled else "DISABLED",
                flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
                target=aws.scheduler.ScheduleTargetArgs(
                    arn=self.trigger_function.arn,
                    role_arn=self.roles["scheduler"].arn,
                    input=json.dumps(trigger_input),
                    retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                        maximum_retry_attempts=SCHEDULE_RETRIES,
                        maximum_event_age_in_seconds=SCHEDULE_MAX_AGE_SECONDS,
                    ),
                    dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(
                        arn=self.dead_letter_queue.arn
                    ),
                ),
                opts=self._child(policy),
            )

    def _alarm(self, key: str, description: str, **metric: Any) -> None:
        self.alarms[key] = aws.cloudwatch.MetricAlarm(
            f"{self._name}-{key}-alarm",
            name=f"{self._args.prefix}-{key}",
            alarm_description=description,
            comparison_operator="GreaterThanThreshold",
            threshold=0,
            evaluation_periods=1,
            period=ALARM_PERIOD_SECONDS,
            treat_missing_data="notBreaching",
            alarm_actions=[self.alerts_topic.arn],
            opts=self._child(),
            **metric,
        )

    def _alarms(self) -> None:
        for key, machine in (("monthly", self.state_machine),
                             ("backfill", self.backfill_state_machine)):  # fmt: skip
            self._alarm(
                f"{key}-failed",
                f"an execution of the {key} state machine failed",
                metric_name="ExecutionsFailed",
                namespace="AWS/States",
                statistic="Sum",
                dimensions={"StateMachineArn": machine.arn},
            )
        self._alarm(
            "trigger-errors",
            "the trigger Lambda raised an error",
            metric_name="Errors",
            namespace="AWS/Lambda",
            statistic="Sum",
            dimensions={"FunctionName": self.trigger_function.name},
        )
        self._alarm(
            "dead-letters",
            "a scheduled trigger could not be delivered or kept failing: see the queue",
            metric_name="ApproximateNumberOfMessagesVisible",
            namespace="AWS/SQS",
            statistic="Maximum",
            dimensions={"QueueName": self.dead_letter_queue.name},
        )
