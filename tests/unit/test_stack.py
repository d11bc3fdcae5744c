"""Reading a stack's outputs: Pulumi asked only when a flag is missing, every failure explained."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import pipeline
from pipeline.ops.stack import (
    OUTPUTS,
    StackOutputs,
    StackTarget,
    StackUnavailable,
    read_outputs,
    region_of_arn,
)

MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:tlc-elt-dev-monthly"
BACKFILL = "arn:aws:states:eu-west-1:123456789012:stateMachine:tlc-elt-dev-backfill"
PULUMI_OUTPUTS = {
    "stateMachineArn": MACHINE,
    "backfillStateMachineArn": BACKFILL,
    "rawBucket": "tlc-elt-dev-raw-1a2b",
    "processedBucket": "tlc-elt-dev-processed-1a2b",
    "scriptsBucket": "tlc-elt-dev-scripts-1a2b",
    "workgroupName": "tlc-elt-dev",
    "databaseName": "tlc",
    "alertsTopicArn": "arn:aws:sns:eu-west-1:123456789012:tlc-elt-dev-alerts",
    "triggerFunctionName": "tlc-elt-dev-trigger",
    "glueDatabaseName": "tlc_elt_dev",
    "athenaWorkgroupName": "tlc-elt-dev",
    "readerRoleArn": "arn:aws:iam::123456789012:role/tlc-elt-dev-reader",
}


class FakePulumi:
    """The `pulumi` CLI at its boundary: records each command, answers like the real one."""

    def __init__(self, stdout: str = "", returncode: int = 0, stderr: str = "", raises=None):
        self.stdout, self.returncode, self.stderr, self.raises = stdout, returncode, stderr, raises
        self.calls: list[tuple[list[str], dict]] = []

    def __call__(self, command, **kwargs):
        self.calls.append((list(command), kwargs))
        if self.raises is not None:
            raise self.raises
        return subprocess.CompletedProcess(command, self.returncode, self.stdout, self.stderr)


def never_run(*args, **kwargs):
    raise AssertionError("pulumi must not be called when the flags give every name")


def test_reads_every_output_from_pulumi_json_without_asking_for_secrets():
    pulumi = FakePulumi(json.dumps({**PULUMI_OUTPUTS, "somethingElse": 3}))

    outputs = read_outputs("dev", run=pulumi)

    assert outputs == StackOutputs(
        state_machine_arn=MACHINE,
        backfill_state_machine_arn=BACKFILL,
        workgroup_name="tlc-elt-dev",
        database_name="tlc",
        processed_bucket="tlc-elt-dev-processed-1a2b",
        raw_bucket="tlc-elt-dev-raw-1a2b",
        scripts_bucket="tlc-elt-dev-scripts-1a2b",
        alerts_topic_arn="arn:aws:sns:eu-west-1:123456789012:tlc-elt-dev-alerts",
        trigger_function_name="tlc-elt-dev-trigger",
        glue_database_name="tlc_elt_dev",
        athena_workgroup_name="tlc-elt-dev",
        reader_role_arn="arn:aws:iam::123456789012:role/tlc-elt-dev-reader",
    )
    [(command, options)] = pulumi.calls
    assert command == ["pulumi", "stack", "output", "--json", "--stack", "dev"]
    assert options["timeout"] > 0
    # Pulumi finds Pulumi.yaml from its working directory: the repository root.
    assert Path(options["cwd"]) == Path(pipeline.__file__).resolve().parent.parent


def test_every_architecture_output_name_is_known():
    assert {o.name for o in OUTPUTS} == set(PULUMI_OUTPUTS)


def test_flags_alone_never_call_pulumi():
    target = StackTarget(stack="dev", given=StackOutputs(state_machine_arn=MACHINE))

    outputs = target.resolve(("stateMachineArn",), run=never_run)

    assert outputs.state_machine_arn == MACHINE
    assert target.region_for(outputs) == "eu-west-1"


def test_flags_win_over_the_stack_and_fill_only_what_is_missing():
    pulumi = FakePulumi(json.dumps(PULUMI_OUTPUTS))
    target = StackTarget(stack="dev", given=StackOutputs(workgroup_name="other-wg"))

    outputs = target.resolve(("workgroupName", "databaseName"), run=pulumi)

    assert (outputs.workgroup_name, outputs.database_name) == ("other-wg", "tlc")
    assert outputs.state_machine_arn == MACHINE  # the rest of the stack comes along
    assert len(pulumi.calls) == 1


def test_missing_pulumi_cli_says_so_and_names_the_flag():
    target = StackTarget(stack="dev")
    with pytest.raises(StackUnavailable) as caught:
        target.resolve(("stateMachineArn",), run=FakePulumi(raises=FileNotFoundError("pulumi")))
    message = str(caught.value)
    assert "Pulumi CLI" in message
    assert "not installed" in message
    assert "--state-machine-arn" in message


def test_missing_stack_says_so_and_names_both_flags():
    pulumi = FakePulumi(
        returncode=255,
        stderr="error: no stack named 'prod' found\n",
    )
    with pytest.raises(StackUnavailable) as caught:
        StackTarget(stack="prod").resolve(("workgroupName", "databaseName"), run=pulumi)
    message = str(caught.value)
    assert "no stack named 'prod'" in message
    assert "--workgroup" in message
    assert "--database" in message


def test_other_pulumi_failures_show_pulumi_last_line():
    pulumi = FakePulumi(
        returncode=255,
        stderr="warning: x\nerror: PULUMI_ACCESS_TOKEN must be set for login\n",
    )
    with pytest.raises(StackUnavailable, match="PULUMI_ACCESS_TOKEN must be set"):
        read_outputs("dev", ("stateMachineArn",), run=pulumi)


def test_pulumi_that_hangs_is_reported():
    hang = FakePulumi(raises=subprocess.TimeoutExpired(["pulumi"], 120))
    with pytest.raises(StackUnavailable, match="did not answer"):
        read_outputs("dev", ("stateMachineArn",), run=hang)


@pytest.mark.parametrize("stdout", ["", "not json", "[1, 2]"])
def test_output_that_is_not_a_json_object_is_reported(stdout):
    with pytest.raises(StackUnavailable, match="JSON object"):
        read_outputs("dev", run=FakePulumi(stdout))


def test_a_stack_without_the_output_names_it_and_the_flag():
    partial = {k: v for k, v in PULUMI_OUTPUTS.items() if k != "backfillStateMachineArn"}
    target = StackTarget(stack="dev")
    with pytest.raises(StackUnavailable) as caught:
        target.resolve(("backfillStateMachineArn",), run=FakePulumi(json.dumps(partial)))
    message = str(caught.value)
    assert "backfillStateMachineArn" in message
    assert "--backfill-state-machine-arn" in message


def test_a_secret_output_counts_as_missing():
    secret = {**PULUMI_OUTPUTS, "workgroupName": "[secret]"}
    outputs = read_outputs("dev", run=FakePulumi(json.dumps(secret)))
    assert outputs.workgroup_name is None
    assert outputs.missing(["workgroupName", "databaseName"]) == ["workgroupName"]


def test_no_stack_and_no_flag_asks_for_one():
    with pytest.raises(StackUnavailable) as caught:
        StackTarget().resolve(("stateMachineArn",), run=never_run)
    assert "--stack" in str(caught.value)
    assert "--state-machine-arn" in str(caught.value)


def test_an_unknown_output_name_is_a_programming_error():
    with pytest.raises(KeyError):
        StackTarget(stack="dev").resolve(("stateMachine",), run=never_run)


def test_region_comes_from_the_flag_then_the_arns():
    outputs = StackOutputs(state_machine_arn=MACHINE)
    assert StackTarget(region="us-east-2").region_for(outputs) == "us-east-2"
    assert StackTarget().region_for(outputs) == "eu-west-1"
    assert StackTarget().region_for(StackOutputs(workgroup_name="wg")) is None
    assert region_of_arn("not-an-arn") is None
