"""Glue Spark job `transform_trips`: the month's raw file -> processed parts, quarantine, counts.

Thin on purpose: parse the job's arguments, validate them, take the Glue job's SparkSession,
build the S3 lake, call `pipeline.transform.run_step` (the TransformTrips step of
`pipeline.steps`). Everything it does is tested in `pipeline/`. `awsglue` exists only inside
Glue, so outside it (tests, a manual run) arguments fall back to argparse and the caller passes
its own SparkSession. Glue 5.0 reads and writes `s3://` URIs directly.

Arguments: --dataset --year --month --raw_bucket --processed_bucket (Glue adds its own).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pipeline.datasets import get_dataset
from pipeline.lake import S3Lake
from pipeline.months import validate_month
from pipeline.steps import StepContext, step_named
from pipeline.transform import run_step

JOB = "transform_trips"
ARGUMENTS = ("dataset", "year", "month", "raw_bucket", "processed_bucket")


def parse_arguments(argv: list[str]) -> dict[str, str]:
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        parser = argparse.ArgumentParser(prog=JOB, description=step_named(JOB).summary)
        for name in ARGUMENTS:
            parser.add_argument(f"--{name}", required=True)
        known, _ = parser.parse_known_args(argv[1:])  # ignore Glue's own (--JOB_ID, ...)
        return vars(known)
    return getResolvedOptions(argv, list(ARGUMENTS))


def glue_spark_session() -> Any:
    """The job's SparkSession, as Glue sets it up (S3 access, logging, metrics)."""
    from awsglue.context import GlueContext
    from pyspark.context import SparkContext

    return GlueContext(SparkContext.getOrCreate()).spark_session


def _log_progress(what: str, done: int, total: int | None) -> None:
    print(f"{what}: {done:,}" + (f" of {total:,}" if total else ""), flush=True)


def build_context(arguments: dict[str, str], spark: Any = None, *, s3: Any = None) -> StepContext:
    """Validate dataset and month first: nothing starts (S3 client, Spark) for a bad input."""
    dataset = get_dataset(arguments["dataset"])
    month = validate_month(arguments["year"], arguments["month"], first=dataset.first_month)
    lake = S3Lake(arguments["raw_bucket"], arguments["processed_bucket"], s3=s3)
    spark = spark if spark is not None else glue_spark_session()
    return StepContext(dataset, month, lake, spark=spark, progress=_log_progress)


def main(argv: list[str], *, spark: Any = None, s3: Any = None) -> dict[str, Any]:
    context = build_context(parse_arguments(argv), spark, s3=s3)
    figures = run_step(context)
    print(json.dumps(figures))  # lands in the job's CloudWatch output log
    return figures


if __name__ == "__main__":
    main(sys.argv)
