"""The lake's catalog and Athena settings as plain values: every dataset's tables agree with the
warehouse DDL column for column, type for type, and their registered partitions read the runs'
prefixes under the tables' locations (no partition projection)."""

from __future__ import annotations

import pytest

from components import catalog
from pipeline.contract import zones
from pipeline.contract.catalog import month_partitions, partition_location
from pipeline.contract.datasets import DATASETS
from pipeline.contract.layout import RunKeys, taxi_zones_key
from pipeline.contract.months import Month
from pipeline.contract.rules import REJECT_REASON
from pipeline.contract.types import ColumnType
from pipeline.warehouse.base import Dialect, create_table_sql

BUCKET = "tlc-elt-dev-processed-0a1b2c3d"
# The one spelling of each logical type in Redshift and in the Glue catalog (Athena).
SAME_TYPE = {
    "INTEGER": "int",
    "DOUBLE PRECISION": "double",
    "TIMESTAMP": "timestamp",
    "VARCHAR(64)": "string",
    "DATE": "date",
    "BOOLEAN": "boolean",
    "BIGINT": "bigint",  # the ledger's counts (no dataset column is one)
}


def ddl_columns(sql: str) -> list[tuple[str, str]]:
    """(name, Redshift type) of each column line of a CREATE TABLE statement."""
    body = sql[sql.index("(\n") + 2 : sql.index("\n)")]
    return [
        (parts[0], parts[1].removesuffix(" NOT NULL"))
        for parts in (line.strip().split(" ", 1) for line in body.split(",\n"))
    ]


@pytest.mark.parametrize("dataset", DATASETS.values(), ids=list(DATASETS))
def test_the_catalog_table_and_the_redshift_ddl_agree(dataset):
    table = catalog.processed_table(dataset, BUCKET)
    ddl = ddl_columns(create_table_sql(dataset, Dialect.REDSHIFT))

    assert [name for name, _ in table.columns] == [name for name, _ in ddl]
    assert [SAME_TYPE[kind] for _, kind in ddl] == [kind for _, kind in table.columns]


@pytest.mark.parametrize("dataset", DATASETS.values(), ids=list(DATASETS))
def test_the_quarantine_table_adds_reject_reason_and_partitions_clash_with_no_column(dataset):
    table = catalog.quarantine_table(dataset, BUCKET)

    assert table.name == f"{dataset.name}_quarantine"
    assert table.columns == (*catalog.table_columns(dataset), (REJECT_REASON, "string"))
    names = {name for name, _ in table.columns}
    assert not names & {key for key, _ in table.partition_keys}


def test_every_column_type_has_a_glue_spelling():
    assert {kind.glue for kind in ColumnType} == set(SAME_TYPE.values())


@pytest.mark.parametrize("dataset", DATASETS.values(), ids=list(DATASETS))
def test_tables_have_no_projection_and_their_run_partitions_fall_under_their_location(dataset):
    """Partitions are registered (publish moves them), so no `projection.*` may switch Athena
    to computed locations; each run's prefixes, and a legacy month folder, lie under the table's
    location, in the table's bucket."""
    month = Month(2024, 9)
    tables = (catalog.processed_table(dataset, BUCKET), catalog.quarantine_table(dataset, BUCKET))
    for keys in (
        RunKeys(dataset, month, "yellow-2024-09-scheduled"),
        RunKeys(dataset, month, None),
    ):
        for table, part in zip(tables, month_partitions(keys), strict=True):
            assert table.name == part.table
            assert table.parameters == {"classification": "parquet", "EXTERNAL": "TRUE"}
            assert table.partition_keys == (("year", "int"), ("month", "int"))
            location = partition_location(table.location, part.prefix)
            assert location.startswith(table.location)
            assert location == f"s3://{BUCKET}/{part.prefix}"


def test_every_dataset_has_its_two_tables_then_the_zones():
    names = [spec.name for spec in catalog.catalog_tables(BUCKET)]
    expected = [n for d in DATASETS.values() for n in (d.table, f"{d.name}_quarantine")]
    assert names == [*expected, "taxi_zones"]
    assert catalog.database_name("tlc-elt-prod") == "tlc_elt_prod"


def test_athena_results_are_encrypted_like_the_lake_and_scans_are_capped():
    key = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    plain = catalog.athena_settings(BUCKET, None, 10)
    assert plain.output_location == f"s3://{BUCKET}/athena-results/"
    assert (plain.encryption_option, plain.kms_key_arn) == ("SSE_S3", None)
    assert plain.bytes_scanned_cutoff_per_query == 10 * 1024**3
    assert plain.enforce_workgroup_configuration
    assert plain.publish_cloudwatch_metrics_enabled
    with_key = catalog.athena_settings(BUCKET, key, 1)
    assert (with_key.encryption_option, with_key.kms_key_arn) == ("SSE_KMS", key)
    assert with_key.bytes_scanned_cutoff_per_query >= catalog.MIN_SCAN_LIMIT_BYTES


def test_the_zones_table_reads_tlcs_quoted_csv_with_the_warehouse_columns():
    table = catalog.zones_table(BUCKET)
    assert table.location == f"s3://{BUCKET}/reference/"
    assert f"s3://{BUCKET}/{taxi_zones_key()}".startswith(table.location)
    assert table.columns == tuple((name, kind.glue) for name, kind in zones.TABLE_COLUMNS)
    assert table.columns[0] == ("location_id", "int")
    assert table.partition_keys == ()
    assert table.serialization_library == "org.apache.hadoop.hive.serde2.OpenCSVSerde"
    assert table.serde_parameters == {"separatorChar": ",", "quoteChar": '"'}
    assert table.parameters["skip.header.line.count"] == "1"
    # Every value of TLC's file is quoted, the header included: what the SerDe's quoteChar reads.
    header = zones.ZONE_LOOKUP.read_text().splitlines()[0]
    assert header == '"LocationID","Borough","Zone","service_zone"'
