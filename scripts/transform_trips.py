"""Glue Spark job `transform_trips`: the month's raw file -> processed parts, quarantine, counts.

Thin on purpose: parse the job's arguments, validate them, take the Glue job's SparkSession,
build the S3 lake, call `pipeline.jobs.transform.run_step` (the TransformTrips step of
`pipeline.contract.steps`). Everything it does is tested in `pipeline/`. `awsglue` exists only
inside Glue, so outside it (tests, a manual run) arguments fall back to argparse and the caller
passes its own SparkSession. Glue 5.0 reads and writes `s3://` URIs directly.

Arguments: --dataset --year --month --run_id --raw_bucket --processed_bucket, optional --region (the
stack passes its own; the S3 client is made for it). Glue adds its own.
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
    run_id,
)
from pipeline.jobs.context import StepContext
from pipeline.jobs.transform import run_step
from pipeline.storage.lake import S3Lake

JOB = "transform_trips"
ARGUMENTS = STEP_ARGUMENTS


def parse_arguments(argv: list[str]) -> dict[str, str]:
    return parse_job_arguments(argv, JOB, ARGUMENTS, (REGION,))


def glue_spark_session() -> Any:
    """The job's SparkSession, as Glue sets it up (S3 access, logging, metrics)."""
    from awsglue.context import GlueContext
    from pyspark.context import SparkContext

    return GlueContext(SparkContext.getOrCreate()).spark_session


def _log_progress(what: str, done: int, total: int | None) -> None:
    print(f"{what}: {done:,}" + (f" of {total:,}" if total else ""), flush=True)


def build_context(arguments: dict[str, str], spark: Any = None, *, s3: Any = None) -> StepContext:
    """Validate dataset and month first: nothing starts (S3 client, Spark) for a bad input."""
    dataset, month = dataset_month(arguments)
    run = run_id(arguments)
    region = job_region(arguments)
    lake = S3Lake(arguments["raw_bucket"], arguments["processed_bucket"], s3=s3, region=region)
    spark = spark if spark is not None else glue_spark_session()
    return StepContext(dataset, month, lake, run_id=run, spark=spark, progress=_log_progress)


def main(argv: list[str], *, spark: Any = None, s3: Any = None) -> dict[str, Any]:
    context = build_context(parse_arguments(argv), spark, s3=s3)
    figures = run_step(context)
    print(json.dumps(figures))  # lands in the job's CloudWatch output log
    return figures


if __name__ == "__main__":
    main(sys.argv)
