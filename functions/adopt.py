"""The adopt Lambda: after `pulumi up`, every month the lake publishes gets its Glue partitions.

The catalog's tables have no partition projection (a month's partition names the published
run's prefixes, which publish moves: `pipeline.contract.catalog`). A stack upgraded from the
version before write-audit-publish has months whose files lie directly in their month folders
and no partition at all; months published by a run have their pointer. The stack invokes this
function once the tables exist (`components.analytics`, `aws.lambda_.Invocation`), so Athena
reads every month right after the upgrade: for each dataset, each month folder of the
processed bucket that has no partition in a table gets one, reading the run its pointer
(`layout.published_key`) names, else (a legacy month, `_counts.json` in the folder) the month
folder itself. An existing partition is never changed (publish owns it), so running it again, or
while a month is being published, changes nothing published. Months with neither are skipped.

Event: `{}` (every dataset) or `{"datasets": ["yellow"]}`; the Invocation adds nothing else. The
bucket and database come from the environment the stack sets. Packaged with exactly the
`pipeline.contract` modules it imports (components.artifacts); Python 3.9 syntax.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pipeline.contract.catalog import (
    MonthPartition,
    month_partitions,
    partition_location,
    quarantine_table,
    trips_table,
)
from pipeline.contract.datasets import DATASETS, Dataset, get_dataset
from pipeline.contract.errors import InvalidInput, PipelineError
from pipeline.contract.layout import RunKeys, dataset_prefix, published_key
from pipeline.contract.months import Month
from pipeline.contract.publication import Publication

PROCESSED_BUCKET_ENV = "PROCESSED_BUCKET"
GLUE_DATABASE_ENV = "GLUE_DATABASE"
BATCH = 100  # BatchCreatePartition takes at most 100 partitions per call
_MONTH_FOLDER = re.compile(r"year=(\d{4})/month=(\d{2})/$")


def _folders(s3: Any, bucket: str, prefix: str) -> Iterator[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    )
    for page in pages:
        for common in page.get("CommonPrefixes", []):
            yield common["Prefix"]


def month_folders(s3: Any, bucket: str, dataset: Dataset) -> list[Month]:
    """The months with a folder under the dataset's prefix (`_runs/` is not a year folder)."""
    months = []
    for year in _folders(s3, bucket, dataset_prefix(dataset)):
        for folder in _folders(s3, bucket, year):
            found = _MONTH_FOLDER.search(folder)
            if found:
                months.append(Month(int(found.group(1)), int(found.group(2))))
    return sorted(months)


def _missing(error: Any) -> bool:
    code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("NoSuchKey", "404", "NotFound")


def published_keys(s3: Any, bucket: str, dataset: Dataset, month: Month) -> RunKeys | None:
    """The month's published run: its pointer's, else the legacy files', else None."""
    from botocore.exceptions import ClientError

    try:
        body = s3.get_object(Bucket=bucket, Key=published_key(dataset, month))["Body"].read()
    except ClientError as error:
        if not _missing(error):
            raise
    else:
        try:
            return RunKeys(dataset, month, Publication.from_json(body).run_id)
        except (ValueError, TypeError, KeyError) as error:
            raise PipelineError(
                f"s3://{bucket}/{published_key(dataset, month)} is not a publication record "
                f"({error}): fix or remove it, then run `pulumi up` again"
            ) from None
    legacy = RunKeys(dataset, month, None)
    try:
        s3.head_object(Bucket=bucket, Key=legacy.counts_key)
    except ClientError as error:
        if _missing(error):
            return None
        raise
    return legacy


def existing_partitions(glue: Any, database: str, table: str) -> set[tuple[str, ...]]:
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table)
    return {tuple(p["Values"]) for page in pages for p in page["Partitions"]}


def _create(glue: Any, database: str, table: str, inputs: list[dict[str, Any]]) -> int:
    created = 0
    for start in range(0, len(inputs), BATCH):
        chunk = inputs[start : start + BATCH]
        response = glue.batch_create_partition(
            DatabaseName=database, TableName=table, PartitionInputList=chunk
        )
        errors = [
            e for e in response.get("Errors", [])
            if e.get("ErrorDetail", {}).get("ErrorCode") != "AlreadyExistsException"
        ]  # fmt: skip
        if errors:
            raise PipelineError(f"registering partitions of {database}.{table} failed: {errors}")
        created += len(chunk) - len(response.get("Errors", []))
    return created


def adopt(
    s3: Any, glue: Any, bucket: str, database: str, datasets: Sequence[Dataset]
) -> dict[str, Any]:
    """Register the missing partitions; returns, per table, the months it registered."""
    registered: dict[str, list[str]] = {}
    for dataset in datasets:
        published = []
        for month in month_folders(s3, bucket, dataset):
            keys = published_keys(s3, bucket, dataset, month)
            if keys is not None:
                published.append(keys)
        for index, table in enumerate((trips_table(dataset), quarantine_table(dataset))):
            parts = [month_partitions(keys)[index] for keys in published]
            registered[table] = _register(glue, database, table, parts)
    return {"registered": registered}


def _register(glue: Any, database: str, table: str, parts: list[MonthPartition]) -> list[str]:
    """Create the partitions of `parts` the table lacks, with the table's storage descriptor."""
    have = existing_partitions(glue, database, table)
    described = glue.get_table(DatabaseName=database, Name=table)["Table"]["StorageDescriptor"]
    inputs, months = [], []
    for part in parts:
        if part.values in have:
            continue  # publish owns it: never changed here
        descriptor = copy.deepcopy(described)
        descriptor["Location"] = partition_location(described["Location"], part.prefix)
        inputs.append({"Values": list(part.values), "StorageDescriptor": descriptor})
        months.append("-".join(part.values))
    _create(glue, database, table, inputs)
    return months


def _datasets(event: Mapping[str, Any]) -> list[Dataset]:
    unknown = sorted(set(event) - {"datasets"})
    if unknown:
        raise InvalidInput("adopt event key", unknown[0], "datasets")
    names = event.get("datasets", list(DATASETS))
    if not isinstance(names, list) or not names:
        raise InvalidInput("datasets", names, f"a non-empty list of {', '.join(DATASETS)}")
    return [get_dataset(name) for name in names]


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    if not isinstance(event, Mapping):
        raise InvalidInput("adopt event", event, "a JSON object")
    datasets = _datasets(event)
    bucket, database = os.environ.get(PROCESSED_BUCKET_ENV), os.environ.get(GLUE_DATABASE_ENV)
    if not bucket or not database:
        raise PipelineError(f"{PROCESSED_BUCKET_ENV} and {GLUE_DATABASE_ENV} are set by the stack")
    import boto3  # the Lambda runtime provides it; imported here so tests pass their own

    result = adopt(boto3.client("s3"), boto3.client("glue"), bucket, database, datasets)
    print(json.dumps(result))  # one line per invocation in the log
    return result
