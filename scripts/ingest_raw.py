"""Glue Python Shell job `ingest_raw`: the month's TLC file into the raw bucket, checked.

Thin on purpose: parse the job's arguments, validate them, build the S3 lake, call ingest
(`pipeline.ingest`, the IngestRaw step of `pipeline.steps`). Everything it does is tested in
`pipeline/`. Python 3.9 (Glue Python Shell); `awsglue` exists only inside Glue, so arguments
fall back to argparse elsewhere (tests, a manual run).

Arguments: --dataset --year --month --raw_bucket --processed_bucket, optional --source (an
http(s) URL; default TLC's URL for the month) and --force true (download even if unchanged).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from pipeline.datasets import get_dataset
from pipeline.errors import InvalidInput
from pipeline.ingest import IngestOptions, ingest
from pipeline.lake import S3Lake
from pipeline.months import validate_month
from pipeline.steps import StepContext, step_named

JOB = "ingest_raw"
REQUIRED = ("dataset", "year", "month", "raw_bucket", "processed_bucket")
OPTIONAL = ("source", "force")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


def parse_arguments(argv: list[str]) -> dict[str, str]:
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        parser = argparse.ArgumentParser(prog=JOB, description=step_named(JOB).summary)
        for name in REQUIRED:
            parser.add_argument(f"--{name}", required=True)
        for name in OPTIONAL:
            parser.add_argument(f"--{name}", default="")
        # Glue adds its own arguments (--JOB_ID, --job-bookmark-option, ...): ignore them.
        known, _ = parser.parse_known_args(argv[1:])
        return vars(known)
    # getResolvedOptions fails on a name that was not passed: ask only for those present.
    given = [name for name in OPTIONAL if any(a.split("=", 1)[0] == f"--{name}" for a in argv)]
    return getResolvedOptions(argv, [*REQUIRED, *given])


def build_context(arguments: dict[str, str], *, s3: Any = None) -> StepContext:
    """Validate everything first, then build the S3 client (no side effect before)."""
    dataset = get_dataset(arguments["dataset"])
    month = validate_month(arguments["year"], arguments["month"], first=dataset.first_month)
    for name in ("raw_bucket", "processed_bucket"):
        if not _BUCKET.match(arguments[name]):
            raise InvalidInput(name, arguments[name], "an S3 bucket name (3-63 of a-z 0-9 . -)")
    source = arguments.get("source", "").strip() or None
    lake = S3Lake(arguments["raw_bucket"], arguments["processed_bucket"], s3=s3)
    return StepContext(
        dataset=dataset, month=month, lake=lake, source=source, progress=_ProgressLog()
    )


def ingest_options(arguments: dict[str, str]) -> IngestOptions:
    force = arguments.get("force", "").strip().lower()
    if force not in _TRUE + _FALSE:
        raise InvalidInput("force", arguments["force"], "true or false")
    return IngestOptions(force=force in _TRUE)


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
