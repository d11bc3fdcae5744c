"""Glue Python Shell job `load_redshift`: replace one month in Redshift Serverless, checked.

Thin on purpose: parse the job's arguments, build the S3 lake and the Data API warehouse, call
the load step from `pipeline.steps`. Everything it does is tested in `pipeline/`.
Python 3.9 (Glue Python Shell); `awsglue` exists only inside Glue, so arguments fall back to
argparse elsewhere (tests, a manual run).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pipeline.datasets import get_dataset
from pipeline.lake import S3Lake
from pipeline.months import validate_month
from pipeline.redshift import RedshiftDataApiWarehouse
from pipeline.steps import StepContext, step_named

JOB = "load_redshift"
ARGUMENTS = (
    "dataset",
    "year",
    "month",
    "raw_bucket",
    "processed_bucket",
    "workgroup",
    "database",
    "copy_role_arn",
)


def parse_arguments(argv: list[str]) -> dict[str, str]:
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        parser = argparse.ArgumentParser(prog=JOB, description=step_named(JOB).summary)
        for name in ARGUMENTS:
            parser.add_argument(f"--{name}", required=True)
        # Glue adds its own arguments (--JOB_ID, --job-bookmark-option, ...): ignore them.
        known, _ = parser.parse_known_args(argv[1:])
        return vars(known)
    return getResolvedOptions(argv, list(ARGUMENTS))


def build_context(options: dict[str, str], *, redshift: Any = None, s3: Any = None) -> StepContext:
    """Validate the month and settings first, then build the clients (no side effect before)."""
    dataset = get_dataset(options["dataset"])
    month = validate_month(options["year"], options["month"], first=dataset.first_month)
    warehouse = RedshiftDataApiWarehouse(
        options["workgroup"], options["database"], options["copy_role_arn"], client=redshift
    )
    lake = S3Lake(options["raw_bucket"], options["processed_bucket"], s3=s3)
    return StepContext(dataset=dataset, month=month, lake=lake, warehouse=warehouse)


def main(argv: list[str]) -> dict[str, Any]:
    context = build_context(parse_arguments(argv))
    figures = step_named(JOB).function()(context)
    print(json.dumps(figures))  # lands in the job's CloudWatch output log
    return figures


if __name__ == "__main__":
    main(sys.argv)
