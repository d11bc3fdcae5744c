"""Glue Python Shell job `audit_month`: judge the run's candidate, write the verdict beside it.

Thin on purpose: parse the job's arguments (`pipeline.jobs.arguments`), validate them, build the
S3 lake, call `pipeline.jobs.audit.judge` (the AuditMonth step of `pipeline.contract.steps`), and
print the verdict. A refused month ends the run cleanly: the state machine reads the verdict
(`_audit.json`) and fails the execution with `MonthRefused`, listing the findings in its alert,
and the publish step re-checks the verdict, so nothing refused is ever published. Python 3.9
(Glue Python Shell); `awsglue` exists only inside Glue, so arguments fall back to argparse.

Arguments: --dataset --year --month --run_id --raw_bucket --processed_bucket, optional
--force_publish true|false (the input's forcePublish), --audit (the dataset's thresholds,
`AuditThresholds.to_config` as JSON; empty: the defaults) and --region.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pipeline.contract.audit import AuditThresholds
from pipeline.contract.steps import AUDIT_ARGUMENT, FORCE_PUBLISH_ARGUMENT
from pipeline.jobs.arguments import (
    METRICS_NAMESPACE,
    REGION,
    STEP_ARGUMENTS,
    check_buckets,
    cloudwatch_metrics,
    dataset_month,
    flag,
    job_region,
    parse_job_arguments,
    run_id,
)
from pipeline.jobs.audit import figures, judge
from pipeline.jobs.context import StepContext
from pipeline.storage.lake import S3Lake

JOB = "audit_month"
OPTIONAL = (FORCE_PUBLISH_ARGUMENT, AUDIT_ARGUMENT, REGION, METRICS_NAMESPACE)


def parse_arguments(argv: list[str]) -> dict[str, str]:
    return parse_job_arguments(argv, JOB, STEP_ARGUMENTS, OPTIONAL)


def build_context(
    arguments: dict[str, str], *, s3: Any = None, cloudwatch: Any = None
) -> StepContext:
    """Validate everything first (month, run id, buckets, flag, thresholds), then the client."""
    dataset, month = dataset_month(arguments)
    run = run_id(arguments)
    check_buckets(arguments)
    force = flag(arguments, FORCE_PUBLISH_ARGUMENT)
    thresholds = AuditThresholds.from_json(arguments.get(AUDIT_ARGUMENT, "").strip())
    region = job_region(arguments)
    lake = S3Lake(arguments["raw_bucket"], arguments["processed_bucket"], s3=s3, region=region)
    return StepContext(
        dataset=dataset, month=month, lake=lake, run_id=run, force_publish=force,
        thresholds=thresholds, metrics=cloudwatch_metrics(arguments, region, cloudwatch),
    )  # fmt: skip


def main(argv: list[str], *, s3: Any = None) -> dict[str, Any]:
    result = judge(build_context(parse_arguments(argv), s3=s3))
    verdict = figures(result)
    print(json.dumps(verdict))  # lands in the job's CloudWatch output log
    return verdict


if __name__ == "__main__":
    main(sys.argv)
