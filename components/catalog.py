"""The lake as tables: pure builders for the Glue Data Catalog and the Athena workgroup.

Per dataset two external parquet tables, `<dataset>_trips` over its processed parts and
`<dataset>_quarantine` over its rejected rows (the same columns plus `reject_reason`), their
columns and types from `pipeline.contract.datasets` (`ColumnType.glue`, the source the Redshift
DDL comes from too), names and partition keys from `pipeline.contract.catalog`. Both are
partitioned by `year`/`month`, WITHOUT partition projection: each month's partition is
registered, naming the published run's prefixes, and publish moves it to the next run's in one
Glue call per table (`pipeline.storage.catalog`), so Athena reads the old month or the new one,
never a gap, a mix or a candidate. (Projection computes every month's location from one
template, which cannot name a run.) A stack upgraded from the version with projection gets its
published months' partitions at `pulumi up` from the adopt Lambda (`functions.adopt`).
https://docs.aws.amazon.com/athena/latest/ug/partitions.html
Beside the parts lie `_counts.json` and `_copy.manifest`. Athena's guide says it reads every
file under a table's location (https://docs.aws.amazon.com/athena/latest/ug/tables-location-format.html)
but its engine, Trino's Hive connector, lists a location skipping hidden files, names starting
with `_` or `.` (trinodb/trino, plugin/trino-hive/.../fs/HiveFileIterator.java,
isHiddenFileOrDirectory), as Hadoop's FileInputFormat and Spark do; so they are not read as
data. (Not verifiable without AWS: if a query ever reports HIVE_BAD_DATA on one of them, the
files move, not the tables.) No Pulumi import: unit-tested as plain functions;
components.analytics wires them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.contract.catalog import PARTITION_KEYS
from pipeline.contract.catalog import quarantine_table as quarantine_name
from pipeline.contract.catalog import trips_table as trips_name
from pipeline.contract.datasets import DATASETS, Dataset
from pipeline.contract.layout import (
    ATHENA_RESULTS_PREFIX,
    dataset_prefix,
    quarantine_dataset_prefix,
    taxi_zones_key,
)
from pipeline.contract.rules import REJECT_REASON
from pipeline.contract.types import ColumnType
from pipeline.contract.zones import TABLE as ZONES_TABLE
from pipeline.contract.zones import TABLE_COLUMNS as ZONE_COLUMNS

PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
# TLC's zone lookup is a CSV with every value in double quotes: the Open CSV SerDe reads those
# and INT columns; https://docs.aws.amazon.com/athena/latest/ug/csv-serde.html
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
ATHENA_RESULTS_DAYS = 30
MIN_SCAN_LIMIT_BYTES = 10 * 1024 * 1024  # Athena's smallest bytes_scanned_cutoff_per_query
GIB = 1024**3


@dataclass(frozen=True)
class TableSpec:
    """One external table of the catalog, as plain values."""

    name: str
    description: str
    location: str
    columns: tuple[tuple[str, str], ...]  # (name, Glue type)
    partition_keys: tuple[tuple[str, str], ...] = PARTITION_KEYS
    parameters: Mapping[str, str] = field(default_factory=dict)
    input_format: str = PARQUET_INPUT
    output_format: str = PARQUET_OUTPUT
    serialization_library: str = PARQUET_SERDE
    serde_parameters: Mapping[str, str] = field(default_factory=dict)


def database_name(prefix: str) -> str:
    """`tlc-elt-dev` -> `tlc_elt_dev`: Athena needs no quotes around underscores."""
    return prefix.replace("-", "_")


def table_columns(dataset: Dataset) -> tuple[tuple[str, str], ...]:
    """The processed parts' columns with their Glue types: the warehouse table's, in order."""
    return tuple((name, kind.glue) for name, kind in dataset.table_columns)


def quarantine_columns(dataset: Dataset) -> tuple[tuple[str, str], ...]:
    """The quarantine parts' columns: the table's, then the rule that rejected the row."""
    return (*table_columns(dataset), (REJECT_REASON, ColumnType.STRING.glue))


def table_parameters() -> dict[str, str]:
    """An external parquet table; no `projection.*`: Athena reads the registered partitions."""
    return {"classification": "parquet", "EXTERNAL": "TRUE"}


def processed_table(dataset: Dataset, bucket: str) -> TableSpec:
    location = f"s3://{bucket}/{dataset_prefix(dataset)}"
    return TableSpec(
        name=trips_name(dataset),
        description=f"{dataset.name} trips that passed the row rules, as loaded into Redshift",
        location=location,
        columns=table_columns(dataset),
        parameters=table_parameters(),
    )


def quarantine_table(dataset: Dataset, bucket: str) -> TableSpec:
    location = f"s3://{bucket}/{quarantine_dataset_prefix(dataset)}"
    return TableSpec(
        name=quarantine_name(dataset),
        description=f"{dataset.name} trips rejected by an integrity rule, with reject_reason",
        location=location,
        columns=quarantine_columns(dataset),
        parameters=table_parameters(),
    )


def zones_table(bucket: str) -> TableSpec:
    """`taxi_zones` over the zone lookup the stack uploads, alone in its folder, with the
    warehouse table's columns, so a lake query joins zones as a warehouse query does."""
    folder = taxi_zones_key().rsplit("/", 1)[0] + "/"
    return TableSpec(
        name=ZONES_TABLE,
        description="TLC's taxi zone lookup: location_id -> borough, zone, service_zone",
        location=f"s3://{bucket}/{folder}",
        columns=tuple((name, kind.glue) for name, kind in ZONE_COLUMNS),
        partition_keys=(),
        parameters={"classification": "csv", "EXTERNAL": "TRUE", "skip.header.line.count": "1"},
        input_format=TEXT_INPUT,
        output_format=TEXT_OUTPUT,
        serialization_library=OPEN_CSV_SERDE,
        serde_parameters={"separatorChar": ",", "quoteChar": '"'},
    )


def catalog_tables(bucket: str, datasets: Sequence[Dataset] | None = None) -> list[TableSpec]:
    """Every dataset's two tables over the processed bucket, then the zones."""
    chosen = list(DATASETS.values()) if datasets is None else list(datasets)
    return [
        *(
            spec
            for d in chosen
            for spec in (processed_table(d, bucket), quarantine_table(d, bucket))
        ),
        zones_table(bucket),
    ]


@dataclass(frozen=True)
class AthenaSettings:
    """The workgroup's enforced configuration, as plain values."""

    output_location: str
    encryption_option: str  # SSE_KMS or SSE_S3
    kms_key_arn: str | None
    bytes_scanned_cutoff_per_query: int
    enforce_workgroup_configuration: bool = True
    publish_cloudwatch_metrics_enabled: bool = True


def athena_settings(bucket: str, kms_key_arn: str | None, scan_limit_gb: int) -> AthenaSettings:
    """Results under their own prefix of the processed bucket, encrypted like the lake (the
    stack's KMS key, else SSE-S3), and a per-query scan cutoff; enforced, so a client cannot
    send results elsewhere or unencrypted.
    https://docs.aws.amazon.com/athena/latest/ug/workgroups-settings-override.html"""
    cutoff = max(scan_limit_gb * GIB, MIN_SCAN_LIMIT_BYTES)
    return AthenaSettings(
        output_location=f"s3://{bucket}/{ATHENA_RESULTS_PREFIX}",
        encryption_option="SSE_KMS" if kms_key_arn else "SSE_S3",
        kms_key_arn=kms_key_arn,
        bytes_scanned_cutoff_per_query=cutoff,
    )
