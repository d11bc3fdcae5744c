"""Glue Python Shell job `load_redshift`: replace one month in Redshift Serverless, checked.

Thin on purpose: parse the job's arguments (`pipeline.jobs.arguments`), build the S3 lake and
the Data API warehouse, call the load step (`pipeline.jobs.load`, the LoadWarehouse step of
`pipeline.contract.steps`). Everything it does is tested in `pipeline/`. Python 3.9 (Glue
Python Shell); `awsglue` exists only inside Glue, so arguments fall back to argparse elsewhere.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pipeline.jobs.arguments import (
    REGION,
    STEP_ARGUMENTS,
    dataset_month,
    job_region,
    parse_job_arguments,
)
from pipeline.jobs.context import StepContext
from pipeline.jobs.load import run_step
from pipeline.storage.lake import S3Lake
from pipeline.warehouse.redshift import RedshiftDataApiWarehouse

JOB = "load_redshift"
ARGUMENTS = (
    *STEP_ARGUMENTS,
    "workgroup",
    "database",
    "copy_role_arn",
)


def parse_arguments(argv: list[str]) -> dict[str, str]:
    return parse_job_arguments(argv, JOB, ARGUMENTS, (REGION,))


def build_context(options: dict[str, str], *, redshift: Any = None, s3: Any = None) -> StepContext:
    """Validate the month and settings first, then build the clients (no side effect before)."""
    dataset, month = dataset_month(options)
    region = job_region(options)  # the stack's: both clients are made for it
    warehouse = RedshiftDataApiWarehouse(
        options["workgroup"], options["database"], options["copy_role_arn"], client=redshift,
        region=region,
    )  # fmt: skip
    lake = S3Lake(options["raw_bucket"], options["processed_bucket"], s3=s3, region=region)
    return StepContext(dataset=dataset, month=month, lake=lake, warehouse=warehouse)


def main(argv: list[str]) -> dict[str, Any]:
    context = build_context(parse_arguments(argv))
    figures = run_step(context)
    print(json.dumps(figures))  # lands in the job's CloudWatch output log
    return figures


if __name__ == "__main__":
    main(sys.argv)
