"""The two transform engines load identical rows: Spark (what Glue runs) and DuckDB (local).

Both run the contract's SQL (`pipeline.contract.normalise`); these tests run both on every
schema era the synthetic generator knows, with every planted dirty kind, on TLC's real sample,
on TIMESTAMP(NANOS)/(MILLIS) and zoned timestamps, and compare every column of every loaded row
and quarantined row (order-independent), and the counts JSON.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.contract import layout
from pipeline.contract.datasets import DATASETS, FHV, FHVHV, YELLOW, Dataset
from pipeline.contract.errors import MissingColumn
from pipeline.contract.months import Month
from pipeline.dev import synthetic
from pipeline.jobs import transform as spark_engine
from pipeline.jobs.context import StepContext
from pipeline.local import duckdb_transform as duckdb_engine
from pipeline.storage.lake import LocalLake

ROWS = 2_000  # every dirty kind an era allows is planted at least once from 1,000 rows


def _dataset_of(era: synthetic.Era) -> Dataset:
    return DATASETS[era.dataset]


def _run(run_step, root: Path, dataset: Dataset, month: Month, source: Path, spark=None):
    lake = LocalLake(root)
    raw = lake.path(layout.RAW, layout.raw_key(dataset, month))
    raw.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, raw)
    figures = run_step(StepContext(dataset, month, lake, spark=spark))
    counts = json.loads(lake.read_bytes(layout.PROCESSED, layout.counts_key(dataset, month)))
    return (
        figures,
        counts,
        _rows(lake, layout.processed_prefix(dataset, month)),
        _rows(lake, layout.quarantine_prefix(dataset, month)),
    )


def _rows(lake: LocalLake, prefix: str) -> tuple[pa.Schema | None, Counter]:
    """The part files' schema and their rows as a multiset (row order is an engine's own)."""
    parts = [o.key for o in lake.list(layout.PROCESSED, prefix) if layout.is_part_file(o.key)]
    if not parts:
        return None, Counter()
    table = pa.concat_tables(pq.read_table(lake.path(layout.PROCESSED, key)) for key in parts)
    return table.schema, Counter(tuple(sorted(row.items())) for row in table.to_pylist())


def assert_engines_agree(spark, tmp_path: Path, dataset: Dataset, month: Month, source: Path):
    s_figures, s_counts, s_loaded, s_quarantined = _run(
        spark_engine.run_step, tmp_path / "spark", dataset, month, source, spark
    )
    d_figures, d_counts, d_loaded, d_quarantined = _run(
        duckdb_engine.run_step, tmp_path / "duckdb", dataset, month, source
    )
    without_keys = [{k: v for k, v in c.items() if k != "part_files"} for c in (s_counts, d_counts)]
    assert without_keys[0] == without_keys[1]
    assert {k: v for k, v in s_figures.items() if "files" not in k} == {
        k: v for k, v in d_figures.items() if "files" not in k
    }
    assert s_loaded[1] == d_loaded[1]  # every column of every loaded row
    assert s_quarantined[1] == d_quarantined[1]  # and of every quarantined row, with its reason
    # The same names, in the table's order (Redshift COPY maps parquet columns by position).
    assert s_loaded[0].names == d_loaded[0].names == list(dataset.column_names)
    assert sum(s_loaded[1].values()) == s_counts["rows_loaded"]
    return s_counts


ERAS = [era for eras in synthetic.ERAS.values() for era in eras]


@pytest.mark.parametrize("era", ERAS, ids=lambda era: era.name)
def test_every_era_with_every_dirty_kind_loads_the_same_rows(spark, tmp_path, era):
    dataset = _dataset_of(era)
    source = tmp_path / "source.parquet"
    summary = synthetic.write_month(source, dataset, era.first_month, ROWS, seed=11, era=era)
    counts = assert_engines_agree(spark, tmp_path, dataset, era.first_month, source)
    expected = synthetic.expected_counts(summary)
    assert {key: counts[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("era", "unit"), [("yellow-2019", "ns"), ("yellow-2011", "ms"), ("green-2013", "ns")]
)
def test_nanosecond_and_millisecond_timestamps_load_the_same_rows(spark, tmp_path, era, unit):
    chosen = synthetic.era_named(era)
    source = tmp_path / "source.parquet"
    synthetic.write_month(
        source, _dataset_of(chosen), chosen.first_month, 500, seed=3, era=chosen,
        timestamp_unit=unit,
    )  # fmt: skip
    assert_engines_agree(spark, tmp_path, _dataset_of(chosen), chosen.first_month, source)


def test_the_real_sample_loads_the_same_rows(spark, tmp_path, sample5):
    counts = assert_engines_agree(spark, tmp_path, YELLOW, Month(2025, 1), sample5)
    assert counts["rows_loaded"] == 5


def test_zoned_timestamps_keep_the_wall_clock_in_both(spark, tmp_path):
    """A file whose timestamps are UTC-adjusted (as Spark writes TimestampType) keeps the
    wall-clock value in both engines."""
    source = tmp_path / "zoned.parquet"
    times = pa.array([1_725_148_800_000_000, 1_725_152_400_000_000], pa.timestamp("us", "UTC"))
    table = pa.table({
        "tpep_pickup_datetime": times, "tpep_dropoff_datetime": times,
        "trip_distance": [1.0, 0.0], "fare_amount": [5.0, 5.0], "total_amount": [6.0, 6.0],
        "store_and_fwd_flag": ["N", "?"], "surprise": [True, False],
    })  # fmt: skip
    pq.write_table(table, source)
    counts = assert_engines_agree(spark, tmp_path, YELLOW, Month(2024, 9), source)
    assert counts["rows_loaded"] == 2
    assert counts["unknown_columns"] == {"surprise": "boolean"}
    assert counts["unmapped_values"] == {"store_and_fwd_flag": 1}  # '?' is no N/Y code
    assert counts["flagged"]["flag_non_positive_distance"] == 1


def test_a_missing_required_column_is_refused_by_both_before_any_side_effect(spark, tmp_path):
    source = tmp_path / "pickup_only.parquet"
    pq.write_table(pa.table({"tpep_pickup_datetime": pa.array([0], pa.timestamp("us"))}), source)
    for name, run_step in (("spark", spark_engine.run_step), ("duckdb", duckdb_engine.run_step)):
        lake = LocalLake(tmp_path / name)
        raw = lake.path(layout.RAW, layout.raw_key(YELLOW, Month(2024, 9)))
        raw.parent.mkdir(parents=True)
        shutil.copyfile(source, raw)
        with pytest.raises(MissingColumn, match="required 'dropoff_datetime'"):
            run_step(StepContext(YELLOW, Month(2024, 9), lake, spark=spark))
        assert not (tmp_path / name / layout.PROCESSED).exists()


def test_for_hire_text_codes_and_overlong_text_are_counted_alike(spark, tmp_path):
    """HVFHV: ' ' is no answer (null, not counted), 'X' is no Y/N code (null, counted), a base
    number longer than the warehouse's text column is cut to it and counted."""
    times = pa.array([1_725_148_800_000_000 + i * 60_000_000 for i in range(4)], pa.timestamp("us"))
    long_base = "B" + "0" * 69
    source = tmp_path / "fhvhv.parquet"
    pq.write_table(pa.table({
        "hvfhs_license_num": ["HV0003", "HV0005", "HV0003", "HV0005"],
        "dispatching_base_num": ["B02764", "B02510", long_base, None],
        "pickup_datetime": times, "dropoff_datetime": times,
        "trip_miles": [1.0, 2.0, 0.0, 3.0], "base_passenger_fare": [9.0, -4.0, 7.0, 8.0],
        "access_a_ride_flag": ["N", " ", "X", None],
    }), source)  # fmt: skip
    counts = assert_engines_agree(spark, tmp_path, FHVHV, Month(2024, 9), source)
    assert counts["unmapped_values"] == {"dispatching_base_num": 1, "access_a_ride_flag": 1}
    assert counts["flagged"] == {"flag_non_positive_distance": 1, "flag_non_positive_fare": 1}
    assert counts["rows_clean"] == 2
    loaded = pq.read_table(tmp_path / "duckdb" / layout.PROCESSED / "fhvhv").to_pylist()
    by_fare = {row["base_passenger_fare"]: row for row in loaded}
    assert by_fare[7.0]["dispatching_base_num"] == long_base[:64]
    assert [by_fare[f]["access_a_ride_flag"] for f in (9.0, -4.0, 7.0, 8.0)] == [
        "N",
        None,
        None,
        None,
    ]


def test_fhv_missing_dropoff_passes_and_ids_stored_as_doubles_load_as_integers(spark, tmp_path):
    times = pa.array([1_725_148_800_000_000 + i * 60_000_000 for i in range(3)], pa.timestamp("us"))
    source = tmp_path / "fhv.parquet"
    pq.write_table(pa.table({
        "dispatching_base_num": ["B00013", "B00013", "B00098"],
        "pickup_datetime": times,
        "dropOff_datetime": pa.array([None, 1_725_152_400_000_000, 0], pa.timestamp("us")),
        "PUlocationID": [132.0, None, 7.0], "DOlocationID": pa.nulls(3), "SR_Flag": pa.nulls(3),
        "Affiliated_base_number": ["B00013", None, "B00098"],
    }), source)  # fmt: skip
    counts = assert_engines_agree(spark, tmp_path, FHV, Month(2024, 9), source)
    assert counts["rows_loaded"] == 2
    assert counts["rejected"] == {"pickup_in_month": 0, "dropoff_not_before_pickup": 1}
    assert counts["flagged"] == {}
    assert counts["rows_clean"] == 2
    loaded = pq.read_table(tmp_path / "duckdb" / layout.PROCESSED / "fhv").to_pylist()
    ids = sorted((r["pickup_location_id"] or 0, r["dropoff_datetime"] is None) for r in loaded)
    assert ids == [(0, False), (132, True)]
