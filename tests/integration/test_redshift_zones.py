"""`taxi_zones` on Redshift: moto S3 holds the stack's copy of the lookup, botocore's Stubber plays
the Data API with its real request and response shapes. A current lookup costs two reads and no
write; a new one is one batch (COPY of the CSV, count check, version), whose failure is raised.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from botocore.stub import ANY

from pipeline.contract.errors import InvalidInput, MissingInput, StatementFailed
from pipeline.contract.layout import PROCESSED, taxi_zones_key
from pipeline.contract.zones import ZONE_LOOKUP
from pipeline.storage.lake import LocalLake
from pipeline.warehouse.redshift import Polling, RedshiftDataApiWarehouse, catalog_columns_sql

WORKGROUP, DATABASE = "tlc-elt-dev", "dev"
ROLE = "arn:aws:iam::123456789012:role/tlc-elt-dev-redshift-copy"
QUERY = "8f4a2c1e-5b6d-4e7f-9a0b-1c2d3e4f5a6b"
BATCH = "d9b6c0c9-0747-4bf4-b142-e8883122f766"
CREATED = datetime(2024, 11, 5, 12, 0, tzinfo=UTC)
SHA = hashlib.sha256(ZONE_LOOKUP.read_bytes()).hexdigest()
REFERENCE_COLUMNS_SQL = catalog_columns_sql(["tlc_elt_reference"])
VERSION_SQL = "SELECT sha256 FROM tlc_elt_reference WHERE table_name = 'taxi_zones'"
ZONES_URI = "s3://tlc-elt-dev-processed/reference/taxi_zone_lookup.csv"


@pytest.fixture
def lake(s3_lake):
    """The stack's buckets, with the zone lookup `pulumi up` uploads."""
    s3_lake.write_bytes(PROCESSED, taxi_zones_key(), ZONE_LOOKUP.read_bytes())
    return s3_lake


def warehouse(client) -> RedshiftDataApiWarehouse:
    return RedshiftDataApiWarehouse(
        WORKGROUP, DATABASE, ROLE, client=client, polling=Polling(), sleep=lambda s: None
    )


def expect_query(stubber, sql: str, name: str, values: list[str], *, of: str = "") -> None:
    """One query answering `values`, one a row; `of`: each row is (of, value), as the
    catalog's (table, column) rows are."""
    stubber.add_response(
        "execute_statement",
        {"Id": QUERY, "CreatedAt": CREATED, "WorkgroupName": WORKGROUP, "Database": DATABASE},
        {"WorkgroupName": WORKGROUP, "Database": DATABASE, "Sql": sql, "StatementName": name},
    )
    stubber.add_response(
        "describe_statement",
        {"Id": QUERY, "Status": "FINISHED", "HasResultSet": True, "ResultRows": len(values)},
        {"Id": QUERY},
    )
    stubber.add_response(
        "get_statement_result",
        {
            "Records": [
                [*([{"stringValue": of}] if of else []), {"stringValue": value}] for value in values
            ],
            "TotalNumRows": len(values),
        },
        {"Id": QUERY},
    )


def expect_version(stubber, version: str | None) -> None:
    columns = ["table_name", "sha256", "loaded_at"] if version is not None else []
    expect_query(
        stubber, REFERENCE_COLUMNS_SQL, "tlc-elt-reference-columns", columns, of="tlc_elt_reference"
    )
    if version is not None:
        expect_query(stubber, VERSION_SQL, "tlc-elt-zones-version", [version])


def expect_refresh(stubber, status: str, error: str | None = None) -> list:
    """The refresh batch; returns the list its Sqls are captured into."""
    stubber.add_response(
        "batch_execute_statement",
        {"Id": BATCH, "CreatedAt": CREATED, "WorkgroupName": WORKGROUP, "Database": DATABASE},
        {"WorkgroupName": WORKGROUP, "Database": DATABASE, "Sqls": ANY,
         "StatementName": "tlc-elt-taxi-zones"},
    )  # fmt: skip
    response = {"Id": BATCH, "Status": status}
    if error:
        response["Error"] = error
    stubber.add_response("describe_statement", response, {"Id": BATCH})


def test_a_current_lookup_is_read_and_not_written(lake, data_api):
    client, stubber = data_api
    expect_version(stubber, SHA)
    result = warehouse(client).refresh_zones(lake)
    assert result.figures() == {"taxi_zones": "current", "zones": 265}


@pytest.mark.parametrize("version", [None, "0" * 64], ids=["never-loaded", "changed"])
def test_a_new_lookup_is_copied_checked_and_versioned_in_one_batch(lake, data_api, version):
    client, stubber = data_api
    expect_version(stubber, version)
    expect_refresh(stubber, "FINISHED")
    sent = []
    client.meta.events.register(
        "provide-client-params.redshift-data.BatchExecuteStatement",
        lambda params, **_: sent.append(params["Sqls"]),
    )

    result = warehouse(client).refresh_zones(lake)

    assert result.figures() == {"taxi_zones": "refreshed", "zones": 265}
    (sqls,) = sent
    assert sqls[:5] == [
        "CREATE TABLE IF NOT EXISTS taxi_zones (location_id INTEGER, borough VARCHAR(64), "
        "zone VARCHAR(64), service_zone VARCHAR(64)) DISTSTYLE ALL",
        "CREATE TABLE IF NOT EXISTS tlc_elt_reference "
        "(table_name VARCHAR(64), sha256 VARCHAR(64), loaded_at TIMESTAMP)",
        "DELETE FROM taxi_zones",
        f"COPY taxi_zones FROM '{ZONES_URI}' IAM_ROLE '{ROLE}' FORMAT AS CSV IGNOREHEADER 1",
        "SELECT CAST('count mismatch for taxi_zones: expected 265 rows, found ' || "
        "CAST(COUNT(*) AS VARCHAR) AS INTEGER) FROM taxi_zones HAVING COUNT(*) <> 265",
    ]
    assert sqls[5] == "DELETE FROM tlc_elt_reference WHERE table_name = 'taxi_zones'"
    assert sqls[6].startswith(
        "INSERT INTO tlc_elt_reference (table_name, sha256, loaded_at) "
        f"VALUES ('taxi_zones', '{SHA}', '"
    )


def test_a_failed_refresh_is_raised_with_the_data_apis_error(lake, data_api):
    client, stubber = data_api
    expect_version(stubber, None)
    expect_refresh(stubber, "FAILED", "ERROR: Load into table 'taxi_zones' failed")
    with pytest.raises(StatementFailed, match=r"Load into table 'taxi_zones' failed.*rolled back"):
        warehouse(client).refresh_zones(lake)


def test_a_missing_lookup_is_refused_before_any_statement(lake, data_api):
    client, _ = data_api
    lake.delete_prefix(PROCESSED, taxi_zones_key())
    with pytest.raises(MissingInput, match="pulumi up"):
        warehouse(client).refresh_zones(lake)


def test_a_local_lake_is_refused_before_any_statement(tmp_path, data_api):
    client, _ = data_api
    local = LocalLake(tmp_path)
    local.write_bytes(PROCESSED, taxi_zones_key(), ZONE_LOOKUP.read_bytes())
    with pytest.raises(InvalidInput, match="an S3 lake"):
        warehouse(client).refresh_zones(local)
