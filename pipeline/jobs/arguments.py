"""The Glue job arguments every script parses: one parser for the entry points in `scripts/`.

Inside Glue, `awsglue.utils.getResolvedOptions` reads them (it exists only there); anywhere else
(tests, a manual run) argparse reads the same `--name value` pairs. Either way Glue's own
arguments (`--JOB_ID`, `--job-bookmark-option`, ...) are ignored, and the month is validated
before the script builds any client. Python 3.9 (Glue Python Shell).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from typing import Any

from pipeline.contract.datasets import Dataset, get_dataset
from pipeline.contract.errors import InvalidInput
from pipeline.contract.layout import check_run_id
from pipeline.contract.months import Month, validate_month
from pipeline.contract.steps import JOB_ARGUMENTS, RUN_ID_ARGUMENT, step_named
from pipeline.jobs.metrics import CloudWatchMetrics

# What every step's job receives: the state machine's arguments (the month and the run id,
# `pipeline.contract.steps.JOB_ARGUMENTS`) and the stack's two buckets.
STEP_ARGUMENTS = (*JOB_ARGUMENTS, "raw_bucket", "processed_bucket")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")
# The stack's region, which the stack passes every job (components.etl): the jobs' AWS clients
# are made for it instead of whatever the environment says. Optional for a run by hand.
REGION = "region"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# us-east-1, eu-central-2, us-gov-west-1, cn-north-1, ap-southeast-5 ...
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


def parse_job_arguments(
    argv: Sequence[str], job: str, required: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, str]:
    """`--name value` pairs of `required` (all) and `optional` (default "") from `argv`."""
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        parser = argparse.ArgumentParser(prog=job, description=step_named(job).summary)
        for name in required:
            parser.add_argument(f"--{name}", required=True)
        for name in optional:
            parser.add_argument(f"--{name}", default="")
        known, _ = parser.parse_known_args(list(argv[1:]))
        return vars(known)
    # getResolvedOptions fails on a name that was not passed: ask only for the optional present.
    given = [name for name in optional if any(a.split("=", 1)[0] == f"--{name}" for a in argv)]
    resolved: dict[str, Any] = getResolvedOptions(list(argv), [*required, *given])
    return {**dict.fromkeys(optional, ""), **resolved}


def dataset_month(arguments: dict[str, str]) -> tuple[Dataset, Month]:
    """The step's dataset and month, validated (not before the dataset, not in the future)."""
    dataset = get_dataset(arguments["dataset"])
    return dataset, validate_month(arguments["year"], arguments["month"], first=dataset.first_month)


def run_id(arguments: dict[str, str]) -> str:
    """The run's id (the execution's name), checked before any client is made."""
    return check_run_id(arguments[RUN_ID_ARGUMENT])


def flag(arguments: dict[str, str], name: str) -> bool:
    """A true/false argument (Step Functions passes the input's booleans as text); "" is false."""
    text = arguments.get(name, "").strip().lower()
    if text not in _TRUE + _FALSE:
        raise InvalidInput(name, arguments[name], "true or false")
    return text in _TRUE


def check_buckets(
    arguments: dict[str, str], names: Sequence[str] = ("raw_bucket", "processed_bucket")
) -> None:
    for name in names:
        if not _BUCKET.match(arguments[name]):
            raise InvalidInput(name, arguments[name], "an S3 bucket name (3-63 of a-z 0-9 . -)")


def job_region(arguments: dict[str, str]) -> str | None:
    """The region the job's AWS clients use: `--region` (the stack's), or None for the default."""
    region = arguments.get(REGION, "").strip()
    if not region:
        return None
    if not _REGION.match(region):
        raise InvalidInput(REGION, region, "an AWS region name, e.g. us-east-1")
    return region


# The stack's metric namespace (`pipeline.contract.metrics.metric_namespace`): given, the audit
# and publish steps put their metrics there; absent (a run by hand), they put none.
METRICS_NAMESPACE = "metrics_namespace"


def cloudwatch_metrics(arguments: dict[str, str], region: str | None, client: Any = None) -> Any:
    """The steps' CloudWatch metrics for `--metrics_namespace`, or None without one."""
    namespace = arguments.get(METRICS_NAMESPACE, "").strip()
    if not namespace:
        return None
    if not namespace.startswith("tlc-elt/"):
        raise InvalidInput(METRICS_NAMESPACE, namespace, "tlc-elt/<stack>, the stack's namespace")
    if client is None:
        import boto3

        client = boto3.client("cloudwatch", region_name=region)
    return CloudWatchMetrics(client, namespace)
