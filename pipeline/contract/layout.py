"""Where each month lives in the lake: one set of keys for the S3 buckets and the local folder.

`raw` and `processed` are zones (a bucket each in AWS, a folder each locally); keys are the
same in both, so a local run mirrors the buckets key for key.
"""

from __future__ import annotations

from pipeline.contract.datasets import Dataset
from pipeline.contract.months import Month

RAW = "raw"
PROCESSED = "processed"
ZONES = (RAW, PROCESSED)
_QUARANTINE = "quarantine/"
# Reference data beside the datasets in the processed zone (`pipeline.contract.zones`).
_REFERENCE = "reference/"
# Athena's query results, in the processed bucket beside (never inside) the datasets' prefixes:
# no Glue job and no COPY role reaches them; a lifecycle rule expires them.
ATHENA_RESULTS_PREFIX = "athena-results/"


def dataset_prefix(dataset: Dataset) -> str:
    """Every key of one dataset in a zone: what IAM policies grant, dataset by dataset."""
    return f"{dataset.name}/"


def quarantine_dataset_prefix(dataset: Dataset) -> str:
    """Every quarantined key of one dataset, in the processed zone."""
    return _QUARANTINE + dataset_prefix(dataset)


def month_partition(dataset: Dataset, month: Month) -> str:
    return f"{dataset_prefix(dataset)}year={month.yyyy}/month={month.mm}/"


def raw_key(dataset: Dataset, month: Month) -> str:
    """The month's file as TLC published it."""
    return month_partition(dataset, month) + dataset.file_name(month)


def ingest_record_key(dataset: Dataset, month: Month) -> str:
    """What ingest saw: source URL, size, ETag/Last-Modified, row count (JSON)."""
    return month_partition(dataset, month) + "_ingest.json"


def processed_prefix(dataset: Dataset, month: Month) -> str:
    """The month's loadable rows: `part-*.parquet` under this prefix, in the processed zone."""
    return month_partition(dataset, month)


def quarantine_prefix(dataset: Dataset, month: Month) -> str:
    """Rejected rows with `reject_reason`, in the processed zone."""
    return _QUARANTINE + month_partition(dataset, month)


def counts_key(dataset: Dataset, month: Month) -> str:
    """Transform's counts for the month (rows in, loaded, quarantined per rule), JSON."""
    return processed_prefix(dataset, month) + "_counts.json"


def copy_manifest_key(dataset: Dataset, month: Month) -> str:
    """The Redshift COPY manifest listing exactly the month's part files."""
    return processed_prefix(dataset, month) + "_copy.manifest"


def is_part_file(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return name.startswith("part-") and name.endswith(".parquet")


def taxi_zones_key() -> str:
    """TLC's zone lookup CSV, in the processed zone: what every warehouse loads `taxi_zones`
    from (the stack manages the object in AWS, the local runner writes it locally)."""
    return _REFERENCE + "taxi_zone_lookup.csv"
