"""Glue Python Shell job `ingest_raw`: the month's TLC file into the run's raw keys, checked.

Thin on purpose: parse the job's arguments (`pipeline.jobs.arguments`), validate them, build
the S3 lake, call ingest (`pipeline.jobs.ingest`, the IngestRaw step of
`pipeline.contract.steps`). Everything it does is tested in `pipeline/`. Python 3.9 (Glue Python
Shell); `awsglue` exists only inside Glue, so arguments fall back to argparse elsewhere.

Arguments: --dataset --year --month --run_id --raw_bucket --processed_bucket, optional --source (an
http(s) URL; default TLC's URL for the month), --force true (download even if unchanged) and
--region (the stack passes its own; the S3 client is made for it).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pipeline.jobs.arguments import (
    REGION,
    STEP_ARGUMENTS,
    check_buckets,
    dataset_month,
    flag,
    job_region,
    parse_job_arguments,
    run_id,
)
from pipeline.jobs.context import StepContext
from pipeline.jobs.ingest import IngestOptions, ingest
from pipeline.storage.lake import S3Lake

JOB = "ingest_raw"
REQUIRED = STEP_ARGUMENTS
OPTIONAL = ("source", "force", REGION)


def parse_arguments(argv: list[str]) -> dict[str, str]:
    return parse_job_arguments(argv, JOB, REQUIRED, OPTIONAL)


def build_context(arguments: dict[str, str], *, s3: Any = None) -> StepContext:
    """Validate everything first, then build the S3 client (no side effect before)."""
    dataset, month = dataset_month(arguments)
    run = run_id(arguments)
    check_buckets(arguments)
    source = arguments.get("source", "").strip() or None
    region = job_region(arguments)
    lake = S3Lake(arguments["raw_bucket"], arguments["processed_bucket"], s3=s3, region=region)
    return StepContext(
        dataset=dataset, month=month, lake=lake, run_id=run, source=source,
        progress=_ProgressLog(),
    )  # fmt: skip


def ingest_options(arguments: dict[str, str]) -> IngestOptions:
    return IngestOptions(force=flag(arguments, "force"))


class _ProgressLog:
    """Progress for the job's CloudWatch log: a line per tenth of the file, not per chunk."""

    def __init__(self) -> None:
        self._logged = -1

    def __call__(self, what: str, done: int, total: int | None) -> None:
        if not total:
            return
        tenth = done * 10 // total
        if tenth > self._logged:
            self._logged = tenth
            print(f"{what}: {done:,} of {total:,} bytes ({tenth * 10}%)", flush=True)


def main(argv: list[str], *, s3: Any = None) -> dict[str, Any]:
    arguments = parse_arguments(argv)
    options = ingest_options(arguments)
    context = build_context(arguments, s3=s3)
    figures = ingest(context, options)
    print(json.dumps(figures))  # lands in the job's CloudWatch output log
    return figures


if __name__ == "__main__":
    main(sys.argv)
