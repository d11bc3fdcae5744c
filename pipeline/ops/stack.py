"""A deployed stack's outputs: read from `pulumi stack output --json`, or given directly as flags.

The operating commands (`start`, `status`, `backfill`, `verify`, `logs`) need one or two names
from a deployed stack. Each name has a flag that takes it directly, and the Pulumi CLI is only
asked when a command lacks one, so a machine without Pulumi (a CI runner, a colleague's laptop)
can still operate the stack. Standard library only.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Callable

from pipeline.contract.errors import PipelineError

# Pulumi finds the project by walking up from its working directory: run it in this repo.
PROJECT_DIR = Path(__file__).resolve().parents[2]
# `pulumi stack output` talks to the state backend (maybe over the network): do not hang forever.
PULUMI_TIMEOUT_SECONDS = 120
# What Pulumi prints for a secret output without --show-secrets; none of ours should be secret.
SECRET_PLACEHOLDER = "[secret]"  # noqa: S105 (a placeholder Pulumi prints, not a secret)
PULUMI_INSTALL_URL = "https://www.pulumi.com/docs/iac/download-install/"

Run = Callable[..., "subprocess.CompletedProcess[str]"]


class StackUnavailable(PipelineError):
    """The stack's outputs could not be read, or lack a name a command needs."""


@dataclass(frozen=True)
class Output:
    """One stack output (camelCase, as `__main__.py` exports it) and the flag that replaces it."""

    field: str
    name: str
    flag: str | None


OUTPUTS: tuple[Output, ...] = (
    Output("state_machine_arn", "stateMachineArn", "--state-machine-arn"),
    Output("backfill_state_machine_arn", "backfillStateMachineArn", "--backfill-state-machine-arn"),
    Output("workgroup_name", "workgroupName", "--workgroup"),
    Output("database_name", "databaseName", "--database"),
    Output("processed_bucket", "processedBucket", "--processed-bucket"),
    Output("raw_bucket", "rawBucket", None),
    Output("scripts_bucket", "scriptsBucket", None),
    Output("alerts_topic_arn", "alertsTopicArn", None),
    Output("trigger_function_name", "triggerFunctionName", None),
    Output("glue_database_name", "glueDatabaseName", None),
    Output("athena_workgroup_name", "athenaWorkgroupName", None),
    Output("reader_role_arn", "readerRoleArn", None),
)
_BY_NAME = {output.name: output for output in OUTPUTS}


def output(name: str) -> Output:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a stack output; known: {', '.join(_BY_NAME)}") from None


@dataclass(frozen=True)
class StackOutputs:
    """The names a deployed stack exports; None where unknown."""

    state_machine_arn: str | None = None
    backfill_state_machine_arn: str | None = None
    workgroup_name: str | None = None
    database_name: str | None = None
    processed_bucket: str | None = None
    raw_bucket: str | None = None
    scripts_bucket: str | None = None
    alerts_topic_arn: str | None = None
    trigger_function_name: str | None = None
    glue_database_name: str | None = None
    athena_workgroup_name: str | None = None
    reader_role_arn: str | None = None

    @classmethod
    def from_pulumi(cls, data: Mapping[str, Any]) -> StackOutputs:
        """From `pulumi stack output --json`; unknown keys are ignored, secrets count as absent."""
        values = {}
        for item in OUTPUTS:
            value = data.get(item.name)
            if isinstance(value, str) and value and value != SECRET_PLACEHOLDER:
                values[item.field] = value
        return cls(**values)

    def get(self, name: str) -> str | None:
        return getattr(self, output(name).field)

    def missing(self, names: Sequence[str]) -> list[str]:
        return [name for name in names if not self.get(name)]

    def merged_over(self, base: StackOutputs) -> StackOutputs:
        """These values, falling back to `base` where these are None (flags win over the stack)."""
        mine = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}
        return replace(base, **mine)

    @property
    def region(self) -> str | None:
        """The AWS region, from the first ARN among the outputs (arn:aws:service:REGION:...)."""
        for arn in (self.state_machine_arn, self.backfill_state_machine_arn, self.alerts_topic_arn):
            region = region_of_arn(arn)
            if region:
                return region
        return None


def region_of_arn(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[3]:
        return parts[3]
    return None


def _flags_for(names: Sequence[str]) -> str:
    flags = [output(name).flag for name in names]
    return " and ".join(flag for flag in flags if flag) or "the matching flags"


def read_outputs(
    stack: str, needed: Sequence[str] = (), *, run: Run = subprocess.run
) -> StackOutputs:
    """`pulumi stack output --json --stack <stack>`; errors say how to go on without Pulumi.

    Secrets are deliberately not requested (`--show-secrets`): no command needs one, and the
    command line should never print one.
    """
    alternative = f"or pass {_flags_for(needed)} directly" if needed else ""
    command = ["pulumi", "stack", "output", "--json", "--stack", stack]
    try:
        done = run(
            command,
            capture_output=True,
            text=True,
            check=False,
            cwd=str(PROJECT_DIR),
            timeout=PULUMI_TIMEOUT_SECONDS,
        )
    except FileNotFoundError:
        raise StackUnavailable(
            f"cannot read stack {stack!r}: the Pulumi CLI (`pulumi`) is not installed or not on "
            f"PATH; install it ({PULUMI_INSTALL_URL}) {alternative}".rstrip()
        ) from None
    except subprocess.TimeoutExpired:
        raise StackUnavailable(
            f"cannot read stack {stack!r}: `pulumi stack output` did not answer within "
            f"{PULUMI_TIMEOUT_SECONDS}s (is the state backend reachable?) {alternative}".rstrip()
        ) from None
    if done.returncode != 0:
        raise StackUnavailable(_failure_message(stack, done, alternative))
    return _parse(stack, done.stdout, alternative)


def _failure_message(stack: str, done: subprocess.CompletedProcess, alternative: str) -> str:
    stderr = (done.stderr or "").strip()
    last_line = stderr.splitlines()[-1] if stderr else f"exit status {done.returncode}"
    if "no stack named" in stderr.lower():
        return (
            f"Pulumi has no stack named {stack!r} in {PROJECT_DIR} (see `pulumi stack ls`; "
            f"deploy it with `make up STACK={stack}`) {alternative}".rstrip()
        )
    return f"cannot read stack {stack!r}: pulumi said: {last_line} {alternative}".rstrip()


def _parse(stack: str, text: str, alternative: str) -> StackOutputs:
    try:
        data = json.loads(text or "")
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise StackUnavailable(
            f"cannot read stack {stack!r}: `pulumi stack output --json` did not print a JSON "
            f"object {alternative}".rstrip()
        )
    return StackOutputs.from_pulumi(data)


@dataclass(frozen=True)
class StackTarget:
    """Which deployed stack a command operates: a Pulumi stack name and/or names given as flags.

    `given` holds the flags' values (`--state-machine-arn`, `--workgroup`, ...); `region` is
    `--region`, else the region in the ARNs, else boto3's default (AWS_DEFAULT_REGION, the
    profile's config).
    """

    stack: str | None = None
    given: StackOutputs = StackOutputs()
    region: str | None = None

    def resolve(self, needed: Sequence[str], *, run: Run = subprocess.run) -> StackOutputs:
        """The outputs with every name in `needed` present; Pulumi is asked only when needed."""
        for name in needed:
            output(name)  # a typo here is a bug, not a user error
        if not self.given.missing(needed):
            return self.given
        if not self.stack:
            missing = self.given.missing(needed)
            raise StackUnavailable(
                f"no stack to read {', '.join(missing)} from: pass --stack NAME "
                f"or {_flags_for(missing)}"
            )
        outputs = self.given.merged_over(read_outputs(self.stack, needed, run=run))
        missing = outputs.missing(needed)
        if missing:
            raise StackUnavailable(
                f"stack {self.stack!r} has no output {', '.join(missing)} (not deployed yet, or "
                f"deployed by an older version: run `make up STACK={self.stack}`); or pass "
                f"{_flags_for(missing)}"
            )
        return outputs

    def region_for(self, outputs: StackOutputs) -> str | None:
        return self.region or outputs.region
