"""The lake's tables in the Glue Data Catalog: names, and what a month's partition reads.

Per dataset two tables over the processed zone, `<dataset>_trips` (the loadable rows) and
`<dataset>_quarantine` (the rejected rows), partitioned by `year`/`month`. Each month's
partition points at the published run's prefixes (`layout.RunKeys`): publish moves it from the
previous run's to the new run's in one Glue call per table, so Athena reads the old month or
the new one, never a gap or a mix; a legacy month's partition reads its month folder. The stack
(`components.catalog`), the publish step (`pipeline.storage.catalog`) and the adopt Lambda
(`functions.adopt`) take the names and prefixes from here. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.contract.datasets import Dataset
from pipeline.contract.layout import RunKeys
from pipeline.contract.months import Month

# Glue partition values are strings; the keys are INT columns, which Athena reads "09" as 9.
PARTITION_KEYS: tuple[tuple[str, str], ...] = (("year", "int"), ("month", "int"))


def trips_table(dataset: Dataset) -> str:
    return dataset.table


def quarantine_table(dataset: Dataset) -> str:
    return f"{dataset.name}_quarantine"


def partition_values(month: Month) -> list[str]:
    """The month's partition values, as the lake's folder names spell them: ["2024", "09"]."""
    return [month.yyyy, month.mm]


@dataclass(frozen=True)
class MonthPartition:
    """One table's partition of a month: the table, and the processed zone prefix it reads."""

    table: str
    values: tuple[str, ...]
    prefix: str


def month_partitions(keys: RunKeys) -> tuple[MonthPartition, MonthPartition]:
    """The trips and quarantine partitions of a run's month, reading that run's prefixes."""
    values = tuple(partition_values(keys.month))
    return (
        MonthPartition(trips_table(keys.dataset), values, keys.processed_prefix),
        MonthPartition(quarantine_table(keys.dataset), values, keys.quarantine_prefix),
    )


def partition_location(table_location: str, prefix: str) -> str:
    """A partition's S3 location: the table's bucket (the processed zone's) and the processed
    zone `prefix` in it, the URI `S3Lake.uri` gives that prefix."""
    if not table_location.startswith("s3://"):
        raise ValueError(f"the table's location {table_location!r} is not an s3:// location")
    bucket = table_location[len("s3://") :].split("/", 1)[0]
    return f"s3://{bucket}/{prefix}"
