"""The warehouse's shared SQL and its reading of transform's output (pipeline.warehouse.base)."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from pipeline.contract.datasets import GREEN, YELLOW, get_dataset
from pipeline.contract.errors import InvalidInput, MissingInput
from pipeline.contract.layout import PROCESSED, RunKeys
from pipeline.contract.months import Month
from pipeline.jobs.published import read_counts
from pipeline.storage.lake import LocalLake, S3Lake
from pipeline.warehouse.base import (
    Dialect,
    create_table_sql,
    delete_month_sql,
    month_counts_sql,
    read_load_input,
)

SEPT = Month(2024, 9)
RUN = RunKeys(YELLOW, SEPT, "yellow-2024-09-manual-20241101T120000Z")
PART = RUN.processed_prefix + "part-00000-x.snappy.parquet"


def test_duckdb_table_has_the_contract_columns_in_duckdb_types():
    sql = create_table_sql(YELLOW, Dialect.DUCKDB)

    assert sql.startswith(
        "CREATE TABLE IF NOT EXISTS yellow_trips (\n"
        "  vendor_id INTEGER,\n  pickup_datetime TIMESTAMP,\n  dropoff_datetime TIMESTAMP,\n"
        "  passenger_count INTEGER,\n  trip_distance DOUBLE,\n"
    )
    assert "  store_and_fwd_flag VARCHAR,\n" in sql
    assert "  cbd_congestion_fee DOUBLE,\n  pickup_longitude DOUBLE,\n" in sql
    assert sql.endswith(
        "  dropoff_latitude DOUBLE,\n  source_month DATE,\n"
        "  flag_non_positive_distance BOOLEAN NOT NULL,\n"
        "  flag_non_positive_fare BOOLEAN NOT NULL,\n"
        "  flag_non_positive_total BOOLEAN NOT NULL\n)"
    )
    assert "DISTSTYLE" not in sql


def test_redshift_table_is_sorted_by_month_then_pickup():
    assert create_table_sql(GREEN, Dialect.REDSHIFT).endswith(
        "  flag_non_positive_total BOOLEAN NOT NULL\n) "
        "DISTSTYLE AUTO SORTKEY (source_month, pickup_datetime)"
    )


def test_the_month_is_deleted_by_source_month_not_pickup_month():
    assert delete_month_sql(GREEN, Month(2013, 8)) == (
        "DELETE FROM green_trips WHERE source_month = '2013-08-01'"
    )


def test_verify_query_groups_by_source_month_newest_first_with_clean_rows():
    clean = (
        "SUM(CASE WHEN NOT flag_non_positive_distance AND NOT flag_non_positive_fare AND "
        "NOT flag_non_positive_total THEN 1 ELSE 0 END)"
    )
    assert month_counts_sql(YELLOW, 10) == (
        f"SELECT source_month, COUNT(*) AS row_count, {clean} AS clean_count FROM yellow_trips "
        "GROUP BY source_month ORDER BY source_month DESC LIMIT 10"
    )
    # A table without flags yet (made by the first version) counts rows only.
    assert "NULL AS clean_count" in month_counts_sql(YELLOW, clean=False)


@pytest.mark.parametrize("limit", [0, -3, True, "10"])
def test_verify_limit_must_be_a_positive_count(limit):
    with pytest.raises(InvalidInput, match="limit"):
        month_counts_sql(YELLOW, limit)


def write_counts(lake: LocalLake, counts: object) -> None:
    lake.write_bytes(PROCESSED, RUN.counts_key, json.dumps(counts).encode())


def valid_counts(**changes: object) -> dict:
    counts = {"dataset": "yellow", "month": "2024-09", "rows_in": 3, "rows_loaded": 3,
              "rows_quarantined": 0, "rejected": {}, "part_files": [PART]}  # fmt: skip
    counts.update(changes)
    return counts


@pytest.fixture
def lake(tmp_path) -> LocalLake:
    lake = LocalLake(tmp_path)
    lake.write_bytes(PROCESSED, PART, b"12345")
    return lake


def test_load_input_is_the_listed_part_files_with_sizes(lake):
    lake.write_bytes(PROCESSED, PART.replace("part-00000-x", "part-00009-stale"), b"old")
    write_counts(lake, valid_counts())

    load = read_load_input(lake, RUN)

    parts = tuple((part.key, part.size) for part in load.part_files)
    assert (load.expected_rows, parts) == (3, ((PART, 5),))


@pytest.mark.parametrize(
    "counts",
    [
        valid_counts(rows_loaded=-1),
        valid_counts(rows_loaded=True),
        valid_counts(rows_loaded="3"),
        valid_counts(part_files=PART),
        {"rows_loaded": 3},
        [1, 2],
    ],
)
def test_malformed_counts_are_missing_input(lake, counts):
    write_counts(lake, counts)

    with pytest.raises(MissingInput):
        read_load_input(lake, RUN)


def test_counts_that_are_not_json_are_missing_input(lake):
    lake.write_bytes(PROCESSED, RUN.counts_key, b"{truncated")

    with pytest.raises(MissingInput, match="not JSON"):
        read_load_input(lake, RUN)


@pytest.mark.parametrize(
    "key",
    [
        RUN.quarantine_prefix + "part-00000-x.snappy.parquet",
        RunKeys(YELLOW, SEPT, "another-run").processed_prefix + "part-00000-x.snappy.parquet",
        "yellow/year=2024/month=09/part-00000-x.snappy.parquet",  # the legacy month's
        RUN.counts_key,
    ],
)
def test_only_part_files_of_the_month_can_be_loaded(lake, key):
    lake.write_bytes(PROCESSED, key, b"x")
    write_counts(lake, valid_counts(part_files=[key]))

    with pytest.raises(MissingInput, match="not a part-"):
        read_load_input(lake, RUN)


def counts_request(month: Month) -> dict:
    return {"Bucket": "processed", "Key": RunKeys(get_dataset("yellow"), month, "r").counts_key}


def test_run_counts_on_s3_missing_is_none_refused_is_raised_foreign_is_refused():
    s3 = boto3.client("s3", region_name="us-east-1")
    lake = S3Lake("raw", "processed", s3=s3)
    yellow = get_dataset("yellow")

    def body(month: str) -> dict:
        data = json.dumps({"dataset": "yellow", "month": month, "rows_loaded": 5}).encode()
        return {"Body": StreamingBody(io.BytesIO(data), len(data))}

    with Stubber(s3) as stub:
        stub.add_response("get_object", body("2024-09"), counts_request(Month(2024, 9)))
        stub.add_client_error("get_object", "NoSuchKey", http_status_code=404)
        stub.add_client_error("get_object", "AccessDenied", http_status_code=403)
        stub.add_response("get_object", body("2024-05"), counts_request(Month(2024, 6)))

        assert read_counts(lake, RunKeys(yellow, Month(2024, 9), "r"))["rows_loaded"] == 5
        assert read_counts(lake, RunKeys(yellow, Month(2024, 8), "r")) is None
        with pytest.raises(ClientError, match="AccessDenied"):
            read_counts(lake, RunKeys(yellow, Month(2024, 7), "r"))
        with pytest.raises(
            MissingInput, match="holds counts for yellow 2024-05, not yellow 2024-06"
        ):
            read_counts(lake, RunKeys(yellow, Month(2024, 6), "r"))
