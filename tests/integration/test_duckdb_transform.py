"""The benchmark's DuckDB reference transform: same contract, same rules, same counts as Spark."""

from __future__ import annotations

import json

import duckdb
import pyarrow.parquet as pq
import pytest

from pipeline.contract.datasets import GREEN, YELLOW
from pipeline.contract.errors import InvalidInput, MissingColumn
from pipeline.contract.layout import PROCESSED, RAW, counts_key, raw_key
from pipeline.contract.months import Month
from pipeline.contract.rules import REJECT_REASON
from pipeline.dev import synthetic
from pipeline.jobs.context import StepContext
from pipeline.jobs.transform import run_step
from pipeline.local import duckdb_transform
from pipeline.storage.lake import LocalLake

MONTH = Month(2024, 1)


@pytest.mark.parametrize("dataset", [YELLOW, GREEN], ids=lambda d: d.name)
def test_reference_counts_equal_the_spark_transform(spark, tmp_path, dataset):
    lake = LocalLake(tmp_path / "lake")
    summary = synthetic.write_month(lake.path(RAW, raw_key(dataset, MONTH)), dataset, MONTH, 20_000)
    run_step(StepContext(dataset, MONTH, lake, spark=spark))
    spark_counts = json.loads(lake.read_bytes(PROCESSED, counts_key(dataset, MONTH)))
    reference = duckdb_transform.transform_month(
        dataset, MONTH, lake.uri(RAW, raw_key(dataset, MONTH)), tmp_path / "ref"
    )
    counts = duckdb_transform.counts_of(reference)
    assert counts == {key: spark_counts[key] for key in counts}
    assert counts["rows_in"] == summary.rows
    assert counts["rejected"] == summary.expected_rejected

    processed = pq.read_schema(tmp_path / "ref" / "processed.parquet")
    assert processed.names == list(dataset.column_names)
    quarantine = pq.read_table(tmp_path / "ref" / "quarantine.parquet")
    assert quarantine.column_names == [*dataset.column_names, REJECT_REASON]
    assert quarantine.num_rows == reference.rows_quarantined
    assert (
        pq.read_metadata(tmp_path / "ref" / "processed.parquet").num_rows == reference.rows_loaded
    )


def test_reference_applies_the_month_bounds_exactly(tmp_path):
    # pickup at the month's first instant is in; at the next month's first instant is out.
    con = duckdb.connect()
    source = tmp_path / "edges.parquet"
    con.execute(
        f"""COPY (SELECT * FROM (VALUES
              (TIMESTAMP '2024-01-01 00:00:00', TIMESTAMP '2024-01-01 00:10:00', 1.0, 5.0, 6.0),
              (TIMESTAMP '2024-02-01 00:00:00', TIMESTAMP '2024-02-01 00:10:00', 1.0, 5.0, 6.0),
              (TIMESTAMP '2024-01-31 23:59:59', TIMESTAMP '2024-01-31 23:59:59', 1.0, 5.0, 6.0),
              (TIMESTAMP '2024-01-15 10:00:00', TIMESTAMP '2024-01-15 09:00:00', 1.0, 5.0, 6.0),
              (NULL, TIMESTAMP '2024-01-15 09:00:00', 1.0, 5.0, 6.0),
              (TIMESTAMP '2024-01-15 10:00:00', TIMESTAMP '2024-01-15 10:30:00', 0.0, 5.0, 6.0),
              (TIMESTAMP '2024-01-15 10:00:00', TIMESTAMP '2024-01-15 10:30:00', 1.0, -5.0, 6.0),
              (TIMESTAMP '2024-01-15 10:00:00', TIMESTAMP '2024-01-15 10:30:00', 1.0, 5.0, 0.0)
            ) AS t(tpep_pickup_datetime, tpep_dropoff_datetime, trip_distance, fare_amount,
                   total_amount)) TO '{source}' (FORMAT parquet)"""
    )
    run = duckdb_transform.transform_month(YELLOW, MONTH, source, tmp_path / "out")
    assert (run.rows_in, run.rows_loaded) == (8, 2)
    assert run.rejected == {
        "pickup_in_month": 2,
        "dropoff_not_before_pickup": 1,
        "positive_distance": 1,
        "positive_fare": 1,
        "positive_total": 1,
    }


def test_reference_refuses_what_it_does_not_cover(tmp_path):
    con = duckdb.connect()
    pickup_only = tmp_path / "pickup_only.parquet"
    con.execute(
        "COPY (SELECT TIMESTAMP '2024-01-02' AS tpep_pickup_datetime) "
        f"TO '{pickup_only}' (FORMAT parquet)"
    )
    with pytest.raises(MissingColumn, match="required 'dropoff_datetime'"):
        duckdb_transform.transform_month(YELLOW, MONTH, pickup_only, tmp_path / "out")
    early = tmp_path / "early.parquet"
    synthetic.write_month(early, YELLOW, Month(2009, 1), 10)
    with pytest.raises(InvalidInput, match="numbers as numbers"):
        duckdb_transform.transform_month(YELLOW, Month(2009, 1), early, tmp_path / "out2")
