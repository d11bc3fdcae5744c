"""The state machine definitions: derived from the step list, well-formed, and shaped as the
issue asks (retries on transient Glue errors only, JSON-safe results, alert then fail).
Both machines are also executed, in tests/integration/test_state_machine.py; the paths moto
cannot take (transient-error retries, timeouts) are checked here by shape."""

from __future__ import annotations

import json

import pytest

from components import asl
from pipeline.contract.audit import AuditThresholds
from pipeline.contract.datasets import DATASETS, YELLOW
from pipeline.contract.layout import RunKeys
from pipeline.contract.months import Month
from pipeline.contract.steps import (
    INPUT_ARGUMENTS,
    JOB_ARGUMENTS,
    PYTHON_SHELL,
    SPARK,
    STEPS,
    Step,
)

JOB_NAMES = {step.job: f"tlc-elt-dev-{step.job}" for step in STEPS}
TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"
MONTHLY = "arn:aws:states:us-east-1:123456789012:stateMachine:tlc-elt-dev-monthly"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:tlc-elt-dev-trigger"


SIZING = {
    "yellow": asl.Sizing(2, 60), "green": asl.Sizing(2, 45),
    "fhv": asl.Sizing(3, 60, AuditThresholds(max_shrink=0.2)), "fhvhv": asl.Sizing(10, 240),
}  # fmt: skip
BUCKET = "tlc-elt-dev-processed-0a1b2c3d"


def monthly(**kwargs) -> dict:
    return asl.monthly_definition(
        JOB_NAMES, TOPIC, stack_prefix="tlc-elt-dev", sizing=SIZING, spark_worker_type="G.1X",
        processed_bucket=BUCKET, **kwargs,
    )  # fmt: skip


def backfill(concurrency: int = 3) -> dict:
    return asl.backfill_definition(
        MONTHLY, FUNCTION, TOPIC, stack_prefix="tlc-elt-dev", max_concurrency=concurrency
    )


def transitions(state: dict) -> list[str]:
    """Every state name a state can move to."""
    targets = [state.get("Next"), state.get("Default")]
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    targets += [catcher["Next"] for catcher in state.get("Catch", [])]
    return [target for target in targets if target]


def check_graph(definition: dict) -> None:
    """Every transition lands on a state, every state is reachable, and only Succeed/Fail
    (or End) end a path."""
    states = definition["States"]
    reached, queue = set(), [definition["StartAt"]]
    while queue:
        name = queue.pop()
        if name in reached:
            continue
        reached.add(name)
        state = states[name]
        targets = transitions(state)
        assert set(targets) <= set(states), (name, targets)
        if not targets or state["Type"] in ("Succeed", "Fail"):
            assert state["Type"] in ("Succeed", "Fail") or state.get("End"), name
        queue += targets
        if state["Type"] == "Map":
            check_graph(state["ItemProcessor"])
    assert reached == set(states)


@pytest.mark.parametrize("definition", [monthly(), backfill()], ids=["monthly", "backfill"])
def test_definitions_are_closed_graphs_and_plain_json(definition):
    check_graph(definition)
    assert json.loads(json.dumps(definition)) == definition


def test_one_glue_task_per_step_in_the_step_lists_order():
    states = monthly()["States"]
    tasks = [name for name, state in states.items() if state.get("Resource") == asl.GLUE_RUN_JOB]
    assert tasks == [step.state for step in STEPS]
    for name in DATASETS:
        assert states[asl.size_state(name)]["Next"] == STEPS[0].state
    for step, following in zip(STEPS, [*STEPS[1:], None], strict=True):
        expected_next = following.state if following else asl.SUCCEEDED
        if step.state == asl.AUDIT_STEP:  # the verdict decides whether the next step runs
            assert states[step.state]["Next"] == asl.READ_VERDICT
            assert states[asl.CHECK_VERDICT]["Default"] == expected_next
        else:
            assert states[step.state]["Next"] == expected_next


def test_a_step_task_runs_its_job_with_the_input_as_arguments_and_its_datasets_sizing():
    step = STEPS[1]
    assert monthly()["States"][step.state] == {
        "Type": "Task",
        "Comment": step.summary,
        "Resource": "arn:aws:states:::glue:startJobRun.sync",
        "Parameters": {
            "JobName": JOB_NAMES[step.job],
            "Arguments": {
                "--dataset.$": "$.dataset",
                "--year.$": "$.year",
                "--month.$": "$.month",
                "--run_id.$": "$.run_id",
            },
            "Timeout.$": "$.sizing.timeoutMinutes",
            "WorkerType": "G.1X",
            "NumberOfWorkers.$": "$.sizing.workers",
        },
        "TimeoutSecondsPath": "$.sizing.taskTimeoutSeconds",
        "ResultSelector": {
            "JobRunId.$": "$.Id",
            "JobRunState.$": "$.JobRunState",
            "ExecutionTime.$": "$.ExecutionTime",
        },
        "ResultPath": f"$.steps.{step.state}",
        "Retry": [
            {
                "ErrorEquals": [
                    "Glue.ConcurrentRunsExceededException",
                    "Glue.InternalServiceException",
                    "Glue.ThrottlingException",
                    "Glue.OperationTimeoutException",
                    "Glue.ResourceNumberLimitExceededException",
                ],
                "IntervalSeconds": 60,
                "BackoffRate": 2.0,
                "MaxAttempts": 5,
                "MaxDelaySeconds": 900,
                "JitterStrategy": "FULL",
            }
        ],
        "Catch": [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": f"{step.state}Failed"}
        ],
        "Next": STEPS[2].state,
    }


def test_each_dataset_sizes_its_runs_once_its_input_is_valid():
    states = monthly()["States"]
    for name, sizing in SIZING.items():
        size = states[asl.size_state(name)]
        assert size == {
            "Type": "Pass", "Comment": f"the Glue runs' sizing for {name}",
            "Result": {"workers": sizing.workers, "timeoutMinutes": sizing.timeout_minutes,
                       "taskTimeoutSeconds": sizing.timeout_minutes * 60 + 15 * 60,
                       "audit": json.dumps(sizing.audit.to_config(), sort_keys=True)},
            "ResultPath": "$.sizing", "Next": STEPS[0].state,
        }  # fmt: skip
    assert json.loads(states[asl.size_state("fhv")]["Result"]["audit"])["maxShrink"] == 0.2
    # Only the Spark step takes workers; every step takes the dataset's timeout.
    for step in STEPS:
        parameters = states[step.state]["Parameters"]
        assert parameters["Timeout.$"] == "$.sizing.timeoutMinutes"
        assert ("NumberOfWorkers.$" in parameters) == (step.kind == SPARK)


def test_a_dataset_without_sizing_is_refused():
    with pytest.raises(KeyError, match="fhvhv"):
        asl.monthly_definition(
            JOB_NAMES, TOPIC, stack_prefix="p", spark_worker_type="G.1X",
            sizing={name: asl.Sizing(2, 60) for name in ("yellow", "green", "fhv")},
            processed_bucket=BUCKET,
        )  # fmt: skip


def test_job_arguments_are_the_step_contracts_arguments():
    for step in STEPS:
        arguments = monthly()["States"][step.state]["Parameters"]["Arguments"]
        expected = {f"--{name}.$": f"$.{name}" for name in JOB_ARGUMENTS}
        if step.state == asl.AUDIT_STEP:
            expected |= {"--force_publish.$": "$.force_publish", "--audit.$": "$.sizing.audit"}
        assert step.arguments == (() if step.state != asl.AUDIT_STEP else
                                  ("force_publish", "audit"))  # fmt: skip
        assert arguments == expected


def test_the_run_id_is_the_execution_name_and_force_publish_a_checked_boolean():
    states = monthly()["States"]
    read = states[asl.READ_INPUT]["Parameters"]
    assert read["run_id.$"] == "$$.Execution.Name"
    assert read["force_publish.$"] == "States.Format('{}', $.forcePublish)"
    assert {f"{name}.$" for name in INPUT_ARGUMENTS} <= set(read)
    assert states[asl.DEFAULT_FORCE] == {
        "Type": "Pass", "Result": False, "ResultPath": "$.forcePublish",
        "Next": asl.CHECK_TYPES,
    }  # fmt: skip
    (rule,) = states[asl.CHECK_TYPES]["Choices"]
    assert {"Variable": "$.forcePublish", "IsBoolean": True} in rule["And"]
    assert states[asl.CHECK_TYPES]["Default"] == asl.REJECT_INPUT


def test_the_verdict_is_read_from_the_runs_audit_key_and_a_refusal_fails_the_execution():
    states = monthly()["States"]
    read = states[asl.READ_VERDICT]
    assert read["Resource"] == "arn:aws:states:::aws-sdk:s3:getObject"
    assert read["Parameters"]["Bucket"] == BUCKET
    template = read["Parameters"]["Key.$"]
    # The layout's own key, as States.Format fills it in for a run.
    values = ["yellow", "2024", "09", "yellow-2024-09-scheduled"]
    filled = template.split("'")[1].replace("{}", "%s") % tuple(values)
    assert filled == RunKeys(YELLOW, Month(2024, 9), values[3]).audit_key
    assert template.endswith("$.dataset, $.year, $.month, $.run_id)")
    assert read["ResultSelector"] == {"verdict.$": "States.StringToJson($.Body)"}
    assert read["Catch"][0]["Next"] == f"{asl.READ_VERDICT}Failed"
    (refused,) = states[asl.CHECK_VERDICT]["Choices"]
    assert refused["Variable"] == "$.audit.verdict.refused"
    record = states[refused["Next"]]
    assert record["Parameters"]["name"] == asl.MONTH_REFUSED == "MonthRefused"
    assert record["Parameters"]["findings.$"] == "$.audit.verdict.findings"
    assert record["Next"] == asl.NOTIFY_FAILURE


def test_failed_jobs_are_not_retried_only_transient_glue_errors_are():
    for step in STEPS:
        (policy,) = monthly()["States"][step.state]["Retry"]
        assert all(error.startswith("Glue.") for error in policy["ErrorEquals"])
        assert "States.TaskFailed" not in policy["ErrorEquals"]
        assert "States.ALL" not in policy["ErrorEquals"]


def test_a_step_failure_records_the_step_alerts_and_fails():
    states = monthly()["States"]
    step = STEPS[0]
    record = states[f"{step.state}Failed"]
    assert record["Parameters"]["step"] == step.state
    assert record["Parameters"]["job"] == JOB_NAMES[step.job]
    assert record["Parameters"]["error.$"] == "$.error.Error"
    assert record["Next"] == asl.NOTIFY_FAILURE
    notify = states[asl.NOTIFY_FAILURE]
    assert notify["Resource"] == "arn:aws:states:::sns:publish"
    assert notify["Parameters"]["TopicArn"] == TOPIC
    assert notify["Parameters"]["Message.$"] == "States.JsonToString($.failure)"
    assert notify["Next"] == asl.FAILED
    assert notify["Catch"][0]["Next"] == asl.FAILED  # an alert that fails still ends in Fail
    assert states[asl.FAILED] == {
        "Type": "Fail",
        "ErrorPath": "$.failure.name",
        "CausePath": "$.failure.summary",
    }


def test_input_is_checked_before_any_job_runs():
    states = monthly()["States"]
    definition = monthly()
    assert definition["StartAt"] == asl.CHECK_INPUT
    assert states[asl.DEFAULT_DATASET_STATE]["Result"] == "yellow"
    in_range = states[asl.CHECK_MONTH]["Choices"][1:]
    first_days = {
        rule["And"][0]["StringEquals"]: rule["And"][1]["TimestampGreaterThanEquals"]
        for rule in in_range
    }
    assert [rule["Next"] for rule in in_range] == [asl.size_state(name) for name in DATASETS]
    assert first_days == {
        name: f"{dataset.first_month.first_day}T00:00:00Z" for name, dataset in DATASETS.items()
    }
    assert states[asl.REJECT_INPUT]["Error"] == "InvalidInput"


def test_a_different_step_list_gives_a_different_machine():
    steps = (
        Step("IngestRaw", "ingest_raw", PYTHON_SHELL, "ingest"),
        Step("LoadWarehouse", "load_redshift", PYTHON_SHELL, "load"),
    )
    states = monthly(steps=steps)["States"]
    assert states["IngestRaw"]["Next"] == "LoadWarehouse"
    assert "TransformTrips" not in states


def test_a_step_without_a_job_name_is_refused():
    with pytest.raises(KeyError, match="transform_trips"):
        asl.monthly_definition(
            {"ingest_raw": "a", "load_redshift": "c"},
            TOPIC,
            stack_prefix="p",
            sizing=SIZING,
            spark_worker_type="G.1X",
            processed_bucket=BUCKET,
        )


def test_backfill_expands_the_range_then_runs_each_month_on_the_monthly_machine():
    states = backfill(concurrency=4)["States"]
    expand = states[asl.EXPAND_MONTHS]
    assert expand["Resource"] == "arn:aws:states:::lambda:invoke"
    assert expand["Parameters"]["FunctionName"] == FUNCTION
    assert expand["Parameters"]["Payload"]["action"] == "expand"
    assert expand["Parameters"]["Payload"]["input.$"] == "$"
    run_months = states[asl.RUN_MONTHS]
    assert run_months["Type"] == "Map"
    assert run_months["MaxConcurrency"] == 4
    assert run_months["ItemsPath"] == "$.backfill.months"
    assert expand["ResultPath"] == "$.backfill"
    assert run_months["ResultPath"] == "$.backfill"  # runs replace the expanded list
    run_month = run_months["ItemProcessor"]["States"][asl.RUN_MONTH]
    assert run_month["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
    assert run_month["Parameters"]["StateMachineArn"] == MONTHLY
    assert run_month["Parameters"]["Name.$"] == "$.name"
    month_input = run_month["Parameters"]["Input"]
    assert {f"{name}.$" for name in INPUT_ARGUMENTS} <= set(month_input)
    assert month_input["forcePublish.$"] == "$.forcePublish"
    assert "run_id.$" not in month_input  # each month's run id is its own execution's name
    assert run_month["Catch"][0]["Next"] == asl.MONTH_FAILED  # one month fails, others go on


def test_backfill_fails_at_the_end_when_any_month_failed():
    states = backfill()["States"]
    assert states[asl.RUN_MONTHS]["Next"] == asl.SUMMARISE
    summary = states[asl.SUMMARISE]["Parameters"]
    assert summary == {"anyFailed.$": "States.ArrayContains($.backfill.statuses, 'FAILED')"}
    (choice,) = states[asl.ANY_MONTH_FAILED]["Choices"]
    assert (choice["BooleanEquals"], choice["Next"]) == (True, asl.MONTHS_FAILED)
    assert states[asl.MONTHS_FAILED]["Type"] == "Fail"
    assert states[asl.ANY_MONTH_FAILED]["Default"] == asl.SUCCEEDED
