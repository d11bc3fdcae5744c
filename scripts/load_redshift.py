"""Glue Python Shell job `load_redshift`: publish the run's month (the PublishMonth step).

Thin on purpose: parse the job's arguments (`pipeline.jobs.arguments`), build the S3 lake, the
Data API warehouse and the Glue Data Catalog, call the publish step (`pipeline.jobs.publish`):
the verdict re-checked, the month replaced in Redshift with its ledger row in one transaction,
the month's pointer written, its catalog partitions moved to the run, expired runs removed.
Everything it does is tested in `pipeline/`. Python 3.9 (Glue Python Shell); `awsglue` exists
only inside Glue, so arguments fall back to argparse elsewhere.

Rollback: run this job by hand with a previous run's id (the month's `_published.json` lists
the runs it superseded, kept PREVIOUS_RUN_DAYS days): that run is published again.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pipeline.jobs.arguments import (
    METRICS_NAMESPACE,
    REGION,
    STEP_ARGUMENTS,
    check_buckets,
    cloudwatch_metrics,
    dataset_month,
    job_region,
    parse_job_arguments,
    run_id,
)
from pipeline.jobs.context import StepContext
from pipeline.jobs.publish import run_step
from pipeline.storage.catalog import GlueCatalog
from pipeline.storage.lake import S3Lake
from pipeline.warehouse.redshift import RedshiftDataApiWarehouse

JOB = "load_redshift"
ARGUMENTS = (*STEP_ARGUMENTS, "workgroup", "database", "copy_role_arn", "glue_database")
# What the ledger records as having transformed the month on a stack: Glue's Spark job.
ENGINE = "glue-spark"


def parse_arguments(argv: list[str]) -> dict[str, str]:
    return parse_job_arguments(argv, JOB, ARGUMENTS, (REGION, METRICS_NAMESPACE))


def build_context(
    options: dict[str, str],
    *,
    redshift: Any = None,
    s3: Any = None,
    glue: Any = None,
    cloudwatch: Any = None,
) -> StepContext:
    """Validate the month, run id and settings first, then build the clients (no side effect
    before)."""
    dataset, month = dataset_month(options)
    run = run_id(options)
    check_buckets(options)
    region = job_region(options)  # the stack's: every client is made for it
    warehouse = RedshiftDataApiWarehouse(
        options["workgroup"], options["database"], options["copy_role_arn"], client=redshift,
        region=region,
    )  # fmt: skip
    catalog = GlueCatalog(options["glue_database"], client=glue, region=region)
    lake = S3Lake(options["raw_bucket"], options["processed_bucket"], s3=s3, region=region)
    return StepContext(
        dataset=dataset, month=month, lake=lake, run_id=run, warehouse=warehouse,
        engine=ENGINE, catalog=catalog,
        metrics=cloudwatch_metrics(options, region, cloudwatch),
    )  # fmt: skip


def main(argv: list[str]) -> dict[str, Any]:
    context = build_context(parse_arguments(argv))
    figures = run_step(context)
    print(json.dumps(figures))  # lands in the job's CloudWatch output log
    return figures


if __name__ == "__main__":
    main(sys.argv)
