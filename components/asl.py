"""The two state machines as Amazon States Language, built from the pipeline's step list.

`monthly_definition` walks `pipeline.contract.steps.STEPS` (the list the local runner walks too): it
checks the input, then runs one Glue `.sync` Task per step, and on any step's failure publishes
an alert naming the step and error before failing. `backfill_definition` expands a month range
(the trigger Lambda's `expand` action) and runs the monthly machine once per month, a bounded
number at a time. Both are pure: ARNs and job names may be plain strings (tests) or Pulumi
Outputs (the stack serialises the dict once with `Output.json_dumps`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pipeline.contract.audit import AuditThresholds
from pipeline.contract.datasets import DATASETS, DEFAULT_DATASET
from pipeline.contract.errors import MonthRefused
from pipeline.contract.layout import audit_key_intrinsic
from pipeline.contract.steps import (
    AUDIT_ARGUMENT,
    FORCE_PUBLISH_ARGUMENT,
    INPUT_ARGUMENTS,
    JOB_ARGUMENTS,
    RUN_ID_ARGUMENT,
    SPARK,
    STEPS,
    Step,
)

Definition = dict[str, Any]

GLUE_RUN_JOB = "arn:aws:states:::glue:startJobRun.sync"
SNS_PUBLISH = "arn:aws:states:::sns:publish"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
RUN_STATE_MACHINE = "arn:aws:states:::states:startExecution.sync:2"
# The AWS SDK integration: S3 GetObject's Body comes back as text (up to the state size limit).
# https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html
S3_GET_OBJECT = "arn:aws:states:::aws-sdk:s3:getObject"

# The input (ARCHITECTURE "State machine input"): {"year": "2024", "month": "09"}, and
# optionally "dataset" (default yellow) and "forcePublish" (a boolean, default false). With the
# execution's name as the run id they are the jobs' arguments.
REQUIRED_INPUT = ("year", "month")
OPTIONAL_INPUT = "dataset"
FORCE_PUBLISH_INPUT = "forcePublish"

CHECK_INPUT = "CheckInput"
DEFAULT_DATASET_STATE = "DefaultDataset"
CHECK_FORCE = "CheckForcePublish"
DEFAULT_FORCE = "DefaultForcePublish"
CHECK_TYPES = "CheckTypes"
READ_INPUT = "ReadInput"
CHECK_MONTH = "CheckMonth"
REJECT_INPUT = "RejectInput"
NOTIFY_FAILURE = "NotifyFailure"
FAILED = "Failed"
SUCCEEDED = "Succeeded"
EXPAND_MONTHS = "ExpandMonths"
RUN_MONTHS = "RunMonths"
RUN_MONTH = "RunMonth"
MONTH_FAILED = "MonthFailed"
SUMMARISE = "Summarise"
ANY_MONTH_FAILED = "AnyMonthFailed"
MONTHS_FAILED = "MonthsFailed"
# After the audit: its verdict (`RunKeys.audit_key`), read from the processed bucket.
AUDIT_STEP = "AuditMonth"
READ_VERDICT = "ReadVerdict"
CHECK_VERDICT = "CheckVerdict"
# The execution's error when the audit refused the month (`pipeline.ops.history` reads it).
MONTH_REFUSED = MonthRefused.__name__
VERDICT_PATH = "$.audit"
# The jobs' arguments that are not the input's: where each is in the state.
ARGUMENT_PATHS: Mapping[str, str] = {
    **{name: f"$.{name}" for name in JOB_ARGUMENTS},
    FORCE_PUBLISH_ARGUMENT: f"$.{FORCE_PUBLISH_ARGUMENT}",
    AUDIT_ARGUMENT: "$.sizing.audit",
}

# S3 errors worth another attempt when reading the verdict (the SDK integration's names).
S3_TRANSIENT_ERRORS = ("S3.SdkClientException", "S3.S3Exception", "States.Timeout")
# Glue errors worth another attempt: capacity, throttling, Glue's own hiccups. A job run that
# FAILED (States.TaskFailed), a timeout or bad input is not retried: it would fail again.
GLUE_TRANSIENT_ERRORS = (
    "Glue.ConcurrentRunsExceededException",
    "Glue.InternalServiceException",
    "Glue.ThrottlingException",
    "Glue.OperationTimeoutException",
    "Glue.ResourceNumberLimitExceededException",
)
# AWS's recommended retry for the Lambda service's own transient errors.
LAMBDA_TRANSIENT_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
EXECUTION_LIMIT_ERRORS = ("StepFunctions.ExecutionLimitExceededException",)
# Where the backfill keeps its months: expanded, then with each month's run.
BACKFILL_PATH = "$.backfill"
# Where a month's run keeps its dataset's sizing (`Sizing.state`), chosen once its input is valid.
SIZING_PATH = "$.sizing"
# A task waits for its Glue run this much longer than the run's own timeout (time spent queued).
TASK_TIMEOUT_MARGIN_SECONDS = 15 * 60


@dataclass(frozen=True)
class Sizing:
    """One dataset's Glue runs: the Spark transform's workers, and every job run's timeout; and
    its audit's thresholds (the AuditMonth job's `--audit`, `AuditThresholds.to_config` JSON).

    Glue's StartJobRun takes NumberOfWorkers, WorkerType and Timeout for one run, overriding
    the job's own: https://docs.aws.amazon.com/glue/latest/webapi/API_StartJobRun.html
    """

    workers: int
    timeout_minutes: int
    audit: AuditThresholds = field(default_factory=AuditThresholds)

    def state(self) -> dict[str, Any]:
        return {
            "workers": self.workers,
            "timeoutMinutes": self.timeout_minutes,
            "taskTimeoutSeconds": self.timeout_minutes * 60 + TASK_TIMEOUT_MARGIN_SECONDS,
            "audit": json.dumps(self.audit.to_config(), sort_keys=True),
        }


def size_state(dataset: str) -> str:
    return f"Size{dataset.title()}"


# What a step's result keeps of Glue's GetJobRun: small, JSON-safe (no datetimes), and enough
# to find the run (`status` and the CLI read the rest from the execution history).
JOB_RUN_FIELDS: Mapping[str, str] = {
    "JobRunId.$": "$.Id",
    "JobRunState.$": "$.JobRunState",
    "ExecutionTime.$": "$.ExecutionTime",
}


def retry(errors: Sequence[str], interval: int, attempts: int, max_delay: int) -> dict[str, Any]:
    return {
        "ErrorEquals": list(errors),
        "IntervalSeconds": interval,
        "BackoffRate": 2.0,
        "MaxAttempts": attempts,
        "MaxDelaySeconds": max_delay,
        "JitterStrategy": "FULL",
    }


def catch_all(next_state: str, result_path: str = "$.error") -> list[dict[str, Any]]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": result_path, "Next": next_state}]


def _timestamp(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _input_states(first_step: str, sizing: Mapping[str, Sizing]) -> dict[str, Any]:
    """Check the input before anything runs: presence, types, then a real, published month."""
    return {**_shape_states(), **_month_states(first_step, sizing)}


def _shape_states() -> dict[str, Any]:
    missing = [{"Variable": f"$.{name}", "IsPresent": False} for name in REQUIRED_INPUT]
    strings = [{"Variable": f"$.{name}", "IsString": True} for name in INPUT_ARGUMENTS]
    boolean = {"Variable": f"$.{FORCE_PUBLISH_INPUT}", "IsBoolean": True}
    return {
        CHECK_INPUT: {
            "Type": "Choice",
            "Choices": [
                {"Or": missing, "Next": REJECT_INPUT},
                {"Variable": f"$.{OPTIONAL_INPUT}", "IsPresent": False,
                 "Next": DEFAULT_DATASET_STATE},
            ],
            "Default": CHECK_FORCE,
        },
        DEFAULT_DATASET_STATE: {
            "Type": "Pass", "Result": DEFAULT_DATASET, "ResultPath": f"$.{OPTIONAL_INPUT}",
            "Next": CHECK_FORCE,
        },
        CHECK_FORCE: {
            "Type": "Choice",
            "Choices": [{"Variable": f"$.{FORCE_PUBLISH_INPUT}", "IsPresent": False,
                         "Next": DEFAULT_FORCE}],
            "Default": CHECK_TYPES,
        },
        DEFAULT_FORCE: {
            "Type": "Pass", "Result": False, "ResultPath": f"$.{FORCE_PUBLISH_INPUT}",
            "Next": CHECK_TYPES,
        },
        CHECK_TYPES: {
            "Type": "Choice",
            "Choices": [{"And": [*strings, boolean], "Next": READ_INPUT}],
            "Default": REJECT_INPUT,
        },
    }  # fmt: skip


def _month_states(first_step: str, sizing: Mapping[str, Sizing]) -> dict[str, Any]:
    """`YYYY-MM-01T00:00:00Z` must be a valid timestamp (so month 13 fails), not before the
    dataset's first month, and not after the day the execution started (no future months);
    a valid month then takes its dataset's sizing and runs the first step."""
    in_range = [
        {
            "And": [
                {"Variable": "$.dataset", "StringEquals": dataset.name},
                {
                    "Variable": "$.check.firstDay",
                    "TimestampGreaterThanEquals": _timestamp(dataset.first_month.first_day),
                },
                {"Variable": "$.check.firstDay", "TimestampLessThanEqualsPath": "$.check.today"},
            ],
            "Next": size_state(dataset.name),
        }
        for dataset in DATASETS.values()
    ]
    sizes = {
        size_state(name): {
            "Type": "Pass", "Comment": f"the Glue runs' sizing for {name}",
            "Result": sizing[name].state(), "ResultPath": SIZING_PATH, "Next": first_step,
        }
        for name in DATASETS
    }  # fmt: skip
    return {
        READ_INPUT: {
            "Type": "Pass",
            "Comment": "keep only the job arguments (the run id is the execution's name, the "
                       "force flag a Glue argument's text); the start day bounds the month",
            "Parameters": {
                **{f"{name}.$": f"$.{name}" for name in INPUT_ARGUMENTS},
                f"{RUN_ID_ARGUMENT}.$": "$$.Execution.Name",
                f"{FORCE_PUBLISH_ARGUMENT}.$": f"States.Format('{{}}', $.{FORCE_PUBLISH_INPUT})",
                "check": {
                    "firstDay.$": "States.Format('{}-{}-01T00:00:00Z', $.year, $.month)",
                    "today.$": "States.Format('{}T00:00:00Z', States.ArrayGetItem("
                               "States.StringSplit($$.Execution.StartTime, 'T'), 0))",
                },
                "steps": {},
            },
            "Next": CHECK_MONTH,
        },
        CHECK_MONTH: {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.check.firstDay", "IsTimestamp": False, "Next": REJECT_INPUT},
                *in_range,
            ],
            "Default": REJECT_INPUT,
        },
        **sizes,
        REJECT_INPUT: {"Type": "Fail", "Error": "InvalidInput", "Cause": _input_rule()},
    }  # fmt: skip


def _input_rule() -> str:
    firsts = ", ".join(f"{d.name} from {d.first_month}" for d in DATASETS.values())
    return (
        'expected {"year": "YYYY", "month": "MM"} and optionally "dataset" (default '
        f'{DEFAULT_DATASET}), all strings, and "{FORCE_PUBLISH_INPUT}" (true or false, default '
        f"false), for a month already started: {firsts}"
    )


def _step_states(
    step: Step, job_name: Any, next_state: str, spark_worker_type: str
) -> dict[str, Any]:
    failed = f"{step.state}Failed"
    parameters: dict[str, Any] = {
        "JobName": job_name,
        "Arguments": {
            f"--{name}.$": ARGUMENT_PATHS[name] for name in (*JOB_ARGUMENTS, *step.arguments)
        },
        "Timeout.$": f"{SIZING_PATH}.timeoutMinutes",
    }
    if step.kind == SPARK:
        parameters.update({"WorkerType": spark_worker_type,
                           "NumberOfWorkers.$": f"{SIZING_PATH}.workers"})  # fmt: skip
    task = {
        "Type": "Task",
        "Comment": step.summary,
        "Resource": GLUE_RUN_JOB,
        "Parameters": parameters,
        # Glue stops the run at its timeout; this also bounds time spent queued.
        "TimeoutSecondsPath": f"{SIZING_PATH}.taskTimeoutSeconds",
        "ResultSelector": dict(JOB_RUN_FIELDS),
        "ResultPath": f"$.steps.{step.state}",
        "Retry": [retry(GLUE_TRANSIENT_ERRORS, interval=60, attempts=5, max_delay=900)],
        "Catch": catch_all(failed),
        "Next": next_state,
    }
    record_failure = _failure_record(
        failed, step.state, "$.error.Error",
        f"States.Format('{step.state} failed for {{}} {{}}-{{}}: {{}}', "
        "$.dataset, $.year, $.month, $.error.Error)",
        {"job": job_name, "details.$": "$.error"},
    )  # fmt: skip
    return {step.state: task, failed: record_failure}


def _verdict_states(processed_bucket: Any, next_state: str) -> dict[str, Any]:
    """Read the audit's verdict (`RunKeys.audit_key` of this run) and stop a refused month.

    The audit job ends cleanly whatever its verdict, so its own state succeeds; this reads what
    it wrote. Refused: the failure is recorded as `MonthRefused` with the findings (the alert
    lists them), and the execution fails with that error; the publish step never starts (and
    would refuse too: it re-checks the verdict). Passed or forced: publish.
    """
    refused = f"{MONTH_REFUSED}Recorded"
    verdict = f"{VERDICT_PATH}.verdict"
    return {
        READ_VERDICT: {
            "Type": "Task",
            "Comment": "the audit's _audit.json beside the candidate",
            "Resource": S3_GET_OBJECT,
            "Parameters": {
                "Bucket": processed_bucket,
                "Key.$": audit_key_intrinsic("$.dataset", "$.year", "$.month", "$.run_id"),
            },
            "ResultSelector": {"verdict.$": "States.StringToJson($.Body)"},
            "ResultPath": VERDICT_PATH,
            "Retry": [retry(S3_TRANSIENT_ERRORS, interval=2, attempts=4, max_delay=30)],
            "Catch": catch_all(f"{READ_VERDICT}Failed"),
            "Next": CHECK_VERDICT,
        },
        f"{READ_VERDICT}Failed": _failure_record(
            f"{READ_VERDICT}Failed", READ_VERDICT, "$.error.Error",
            f"States.Format('{READ_VERDICT} failed for {{}} {{}}-{{}}: {{}}', $.dataset, "
            "$.year, $.month, $.error.Error)",
            {"details.$": "$.error"},
        ),
        CHECK_VERDICT: {
            "Type": "Choice",
            "Choices": [{"Variable": f"{verdict}.refused", "BooleanEquals": True,
                         "Next": refused}],
            "Default": next_state,
        },
        refused: _failure_record(
            MONTH_REFUSED, AUDIT_STEP, None,
            f"States.Format('{AUDIT_STEP} refused {{}} {{}}-{{}}: nothing was published, the "
            "published month is intact; see the findings, or start it again with "
            f"forcePublish', $.dataset, $.year, $.month)",
            {"findings.$": f"{verdict}.findings", "compared_with.$": f"{verdict}.compared_with"},
        ),
    }  # fmt: skip


def _failure_record(
    name: str, step: str, error_path: str | None, summary: str, extra: dict[str, Any]
) -> dict[str, Any]:
    """A Pass state putting what the alert and the execution's error say in `$.failure`."""
    error = {"error.$": error_path} if error_path else {"error": name}
    return {
        "Type": "Pass",
        "Comment": "what the alert and the execution's error say",
        "Parameters": {
            "name": name,
            "step": step,
            **{f"{arg}.$": f"$.{arg}" for arg in INPUT_ARGUMENTS},
            f"{RUN_ID_ARGUMENT}.$": f"$.{RUN_ID_ARGUMENT}",
            "execution.$": "$$.Execution.Id",
            **error,
            "summary.$": summary,
            **extra,
        },
        "ResultPath": "$.failure",
        "Next": NOTIFY_FAILURE,
    }


def _notify_states(topic_arn: Any, subject: str) -> dict[str, Any]:
    """Publish `$.failure` to the alerts topic, then fail with the step's error.

    The alert is best effort (retried, then skipped): the execution still fails either way.
    """
    return {
        NOTIFY_FAILURE: {
            "Type": "Task",
            "Resource": SNS_PUBLISH,
            "Parameters": {
                "TopicArn": topic_arn,
                "Subject.$": subject,
                "Message.$": "States.JsonToString($.failure)",
            },
            "ResultPath": None,
            "Retry": [retry(["States.ALL"], interval=2, attempts=3, max_delay=30)],
            "Catch": catch_all(FAILED, "$.notifyError"),
            "Next": FAILED,
        },
        # The failing state's name as the error (Fail may not raise a `States.` name itself);
        # the original error is in the cause and the alert.
        FAILED: {"Type": "Fail", "ErrorPath": "$.failure.name", "CausePath": "$.failure.summary"},
    }


def monthly_definition(
    job_names: Mapping[str, Any],
    topic_arn: Any,
    *,
    stack_prefix: str,
    sizing: Mapping[str, Sizing],
    spark_worker_type: str,
    processed_bucket: Any,
    steps: Sequence[Step] = STEPS,
) -> Definition:
    """The monthly pipeline: check input, size the runs for the dataset, one Glue task per step
    (after the audit, its verdict decides: refused -> alert and fail with MonthRefused), alert
    and fail on error.

    `job_names` maps each `Step.job` to its Glue job's name; `sizing` every dataset to its
    Glue runs' sizing and audit thresholds (the Spark step runs `spark_worker_type` workers);
    the verdicts are read from `processed_bucket`.
    """
    missing = [step.job for step in steps if step.job not in job_names]
    if missing:
        raise KeyError(f"no Glue job name for step job(s) {', '.join(missing)}")
    unsized = [name for name in DATASETS if name not in sizing]
    if unsized:
        raise KeyError(f"no Glue sizing for dataset(s) {', '.join(unsized)}")
    states = _input_states(steps[0].state, sizing)
    for index, step in enumerate(steps):
        next_state = steps[index + 1].state if index + 1 < len(steps) else SUCCEEDED
        if step.state == AUDIT_STEP:
            states.update(_verdict_states(processed_bucket, next_state))
            next_state = READ_VERDICT
        states.update(_step_states(step, job_names[step.job], next_state, spark_worker_type))
    subject = (
        f"States.Format('{stack_prefix}: {{}} {{}}-{{}} failed at {{}}', "
        "$.dataset, $.year, $.month, $.failure.step)"
    )
    states.update(_notify_states(topic_arn, subject))
    states[SUCCEEDED] = {"Type": "Succeed"}
    return {
        "Comment": "TLC monthly ELT: " + " -> ".join(step.state for step in steps),
        "StartAt": CHECK_INPUT,
        "States": states,
    }


def backfill_definition(
    monthly_arn: Any,
    expand_function_arn: Any,
    topic_arn: Any,
    *,
    stack_prefix: str,
    max_concurrency: int,
) -> Definition:
    """Run the monthly machine for every month of a range, `max_concurrency` at a time.

    Input: `{"from": "2024-01", "to": "2024-06"[, "dataset": "green"]}` or `{"months": [...]}`.
    The trigger Lambda's `expand` action validates it and names each month's execution; each
    month's failure is caught so the others still run, and the backfill fails at the end if
    any month failed (each month's own machine has already sent its alert).
    """
    return {
        "Comment": "TLC backfill: expand the months, run the monthly pipeline for each",
        "StartAt": EXPAND_MONTHS,
        "States": {
            EXPAND_MONTHS: {
                "Type": "Task",
                "Resource": LAMBDA_INVOKE,
                "Parameters": {
                    "FunctionName": expand_function_arn,
                    "Payload": {
                        "action": "expand",
                        "input.$": "$",
                        "startedAt.$": "$$.Execution.StartTime",
                    },
                },
                "ResultSelector": {"months.$": "$.Payload.months"},
                "ResultPath": BACKFILL_PATH,
                "Retry": [retry(LAMBDA_TRANSIENT_ERRORS, interval=2, attempts=6, max_delay=60)],
                "Catch": catch_all(f"{EXPAND_MONTHS}Failed"),
                "Next": RUN_MONTHS,
            },
            RUN_MONTHS: _run_months(monthly_arn, max_concurrency),
            SUMMARISE: {
                "Type": "Pass",
                "Parameters": {
                    "anyFailed.$": f"States.ArrayContains({BACKFILL_PATH}.statuses, 'FAILED')",
                },
                "ResultPath": "$.summary",
                "Next": ANY_MONTH_FAILED,
            },
            ANY_MONTH_FAILED: {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.summary.anyFailed", "BooleanEquals": True,
                     "Next": MONTHS_FAILED},
                ],
                "Default": SUCCEEDED,
            },
            MONTHS_FAILED: {
                "Type": "Fail",
                "Error": "MonthsFailed",
                "Cause": "one or more months failed; each month's execution sent its own alert",
            },
            **_backfill_failure(EXPAND_MONTHS),
            **_backfill_failure(RUN_MONTHS),
            **_notify_states(
                topic_arn, f"States.Format('{stack_prefix}: backfill failed at {{}}', "
                "$.failure.step)",
            ),
            SUCCEEDED: {"Type": "Succeed"},
        },
    }  # fmt: skip


def _run_months(monthly_arn: Any, max_concurrency: int) -> dict[str, Any]:
    month_input = {f"{name}.$": f"$.{name}" for name in (*INPUT_ARGUMENTS, FORCE_PUBLISH_INPUT)}
    return {
        "Type": "Map",
        "ItemsPath": f"{BACKFILL_PATH}.months",
        "MaxConcurrency": max_concurrency,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": RUN_MONTH,
            "States": {
                RUN_MONTH: {
                    "Type": "Task",
                    "Resource": RUN_STATE_MACHINE,
                    "Parameters": {
                        "StateMachineArn": monthly_arn,
                        "Name.$": "$.name",
                        # Links the child to this execution in the console.
                        "Input": {
                            **month_input,
                            "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id",
                        },
                    },
                    "ResultSelector": {"status.$": "$.Status", "execution.$": "$.ExecutionArn"},
                    "ResultPath": "$.run",
                    "Retry": [retry(EXECUTION_LIMIT_ERRORS, interval=30, attempts=5,
                                    max_delay=600)],
                    "Catch": catch_all(MONTH_FAILED),
                    "End": True,
                },
                MONTH_FAILED: {
                    "Type": "Pass",
                    "Comment": "keep going: the other months still run",
                    "Parameters": {"status": "FAILED", "error.$": "$.error.Error"},
                    "ResultPath": "$.run",
                    "End": True,
                },
            },
        },
        # The months come back with their runs, replacing the expanded list (state stays small).
        "ResultSelector": {"months.$": "$", "statuses.$": "$[*].run.status"},
        "ResultPath": BACKFILL_PATH,
        "Catch": catch_all(f"{RUN_MONTHS}Failed"),
        "Next": SUMMARISE,
    }  # fmt: skip


def _backfill_failure(state: str) -> dict[str, Any]:
    return {
        f"{state}Failed": {
            "Type": "Pass",
            "Parameters": {
                "name": f"{state}Failed",
                "step": state,
                "execution.$": "$$.Execution.Id",
                "error.$": "$.error.Error",
                "summary.$": f"States.Format('backfill failed at {state}: {{}}', $.error.Error)",
                "details.$": "$.error",
            },
            "ResultPath": "$.failure",
            "Next": NOTIFY_FAILURE,
        }
    }
