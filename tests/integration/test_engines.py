"""The two transform engines load identical rows: Spark (what Glue runs) and DuckDB (local).

Both run the contract's SQL (`pipeline.contract.normalise`); these tests run both on every
schema era of every dataset the synthetic generator knows, with every planted dirty kind, on
TLC's real sample, on TIMESTAMP(NANOS)/(MILLIS) and zoned timestamps, and compare every column
of every loaded row and quarantined row with its reason (order-independent), the counts JSON and
the step's figures; then the whole local pipeline on each engine, down to the warehouse's rows.
"""

from __future__ import annotations

import json
import shutil
import stat
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.contract import layout
from pipeline.contract.datasets import DATASETS, FHV, FHVHV, YELLOW, ColumnType, Dataset
from pipeline.contract.errors import AmbiguousColumns, MissingColumn
from pipeline.contract.months import Month
from pipeline.contract.sql import Engine
from pipeline.dev import synthetic
from pipeline.dev.demo import serve_folder
from pipeline.jobs import transform as spark_engine
from pipeline.jobs.context import StepContext
from pipeline.local import duckdb_transform as duckdb_engine
from pipeline.local.runner import LocalPipeline
from pipeline.storage.lake import LocalLake, current_umask

# The run every step of these tests reads and writes (`layout.RunKeys`).
RUN_ID = "test-run"

ROWS = 2_000  # every dirty kind an era allows is planted at least once from 1,000 rows

# (dataset, era) for every era of every dataset the generator writes.
ERAS = [(DATASETS[era.dataset], era) for eras in synthetic.ERAS.values() for era in eras]


def _dataset_of(era: synthetic.Era) -> Dataset:
    return DATASETS[era.dataset]


def _planted_kinds(dataset: Dataset, era: synthetic.Era) -> set[str]:
    """The dirty kinds a ROWS-row month of this era holds at the dataset's default rates."""
    rates = synthetic.default_rates(dataset)
    return {kind.value for kind in synthetic.DirtyKind
            if era.allows(kind) and rates.rows(kind, ROWS) > 0}  # fmt: skip


def _run(run_step, root: Path, dataset: Dataset, month: Month, source: Path, spark=None):
    lake = LocalLake(root)
    raw = lake.path(layout.RAW, layout.RunKeys(dataset, month, RUN_ID).raw_key)
    raw.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, raw)
    figures = run_step(StepContext(dataset, month, lake, run_id=RUN_ID, spark=spark))
    counts = json.loads(
        lake.read_bytes(layout.PROCESSED, layout.RunKeys(dataset, month, RUN_ID).counts_key)
    )
    return (
        figures,
        counts,
        _rows(lake, layout.RunKeys(dataset, month, RUN_ID).processed_prefix),
        _rows(lake, layout.RunKeys(dataset, month, RUN_ID).quarantine_prefix),
    )


def _loaded(root: Path, dataset: Dataset) -> list[dict]:
    prefix = layout.RunKeys(dataset, Month(2024, 9), RUN_ID).processed_prefix
    return pq.read_table(LocalLake(root).path(layout.PROCESSED, prefix)).to_pylist()


def _rows(lake: LocalLake, prefix: str) -> tuple[pa.Schema | None, Counter]:
    """The part files' schema and their rows as a multiset (row order is an engine's own)."""
    parts = [o.key for o in lake.list(layout.PROCESSED, prefix) if layout.is_part_file(o.key)]
    if not parts:
        return None, Counter()
    table = pa.concat_tables(pq.read_table(lake.path(layout.PROCESSED, key)) for key in parts)
    return table.schema, Counter(tuple(sorted(row.items())) for row in table.to_pylist())


def _types(schema: pa.Schema | None) -> list[tuple[str, pa.DataType]] | None:
    return None if schema is None else [(field.name, field.type) for field in schema]


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
    # The same column types (the schemas' metadata is each writer's own).
    assert _types(s_loaded[0]) == _types(d_loaded[0])
    assert _types(s_quarantined[0]) == _types(d_quarantined[0])
    assert sum(d_quarantined[1].values()) == d_counts["rows_quarantined"]
    # The same names, in the table's order (Redshift COPY maps parquet columns by position).
    assert s_loaded[0].names == d_loaded[0].names == list(dataset.column_names)
    assert sum(s_loaded[1].values()) == s_counts["rows_loaded"]
    for root in (tmp_path / "spark", tmp_path / "duckdb"):
        assert_timestamps_are_int64_micros(LocalLake(root), dataset, month)
    return s_counts


def assert_timestamps_are_int64_micros(lake: LocalLake, dataset: Dataset, month: Month) -> None:
    """Every timestamp column of every processed and quarantine part is INT64 microseconds:
    what Redshift COPY and Spectrum read. Nanoseconds are misread by them
    (https://github.com/apache/arrow/issues/38000), INT96 is deprecated."""
    run = layout.RunKeys(dataset, month, RUN_ID)
    prefixes = (run.processed_prefix, run.quarantine_prefix)
    checked = 0
    for prefix in prefixes:
        for part in lake.list(layout.PROCESSED, prefix):
            if not layout.is_part_file(part.key):
                continue
            schema = pq.ParquetFile(lake.path(layout.PROCESSED, part.key)).schema
            for index in range(len(schema)):
                column = schema.column(index)
                if "Timestamp" not in str(column.logical_type):
                    continue
                checked += 1
                assert column.physical_type == "INT64", (part.key, column.name)
                assert "timeUnit=microseconds" in str(column.logical_type), (
                    part.key, column.name, column.logical_type,
                )  # fmt: skip
    timestamps = [name for name, kind in dataset.table_columns if kind is ColumnType.TIMESTAMP]
    assert checked >= len(timestamps) > 0, "no timestamp column was checked"


def test_the_eras_plant_every_dirty_kind_between_them():
    planted = set().union(*(_planted_kinds(dataset, era) for dataset, era in ERAS))
    assert planted == {kind.value for kind in synthetic.DirtyKind}


@pytest.mark.parametrize(("dataset", "era"), ERAS, ids=[era.name for _, era in ERAS])
def test_every_era_with_every_dirty_kind_loads_the_same_rows(spark, tmp_path, dataset, era):
    source = tmp_path / "source.parquet"
    summary = synthetic.write_month(source, dataset, era.first_month, ROWS, seed=11, era=era)
    assert {kind for kind, rows in summary.dirty.items() if rows} == _planted_kinds(dataset, era)
    counts = assert_engines_agree(spark, tmp_path, dataset, era.first_month, source)
    expected = synthetic.expected_counts(summary)
    assert {key: counts[key] for key in expected} == expected
    assert counts["rows_quarantined"] > 0  # the quarantine compared above holds rows


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
        raw = lake.path(layout.RAW, layout.RunKeys(YELLOW, Month(2024, 9), RUN_ID).raw_key)
        raw.parent.mkdir(parents=True)
        shutil.copyfile(source, raw)
        with pytest.raises(MissingColumn, match="required 'dropoff_datetime'"):
            run_step(StepContext(YELLOW, Month(2024, 9), lake, run_id=RUN_ID, spark=spark))
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
    loaded = _loaded(tmp_path / "duckdb", FHVHV)
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
    loaded = _loaded(tmp_path / "duckdb", FHV)
    ids = sorted((r["pickup_location_id"] or 0, r["dropoff_datetime"] is None) for r in loaded)
    assert ids == [(0, False), (132, True)]


def _warehouse_rows(workdir: Path, dataset: Dataset) -> Counter:
    with duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True) as connection:
        return Counter(connection.execute(f"SELECT * FROM {dataset.table}").fetchall())


@pytest.mark.parametrize("name", sorted(synthetic.ERAS), ids=str)
def test_the_local_pipeline_on_either_engine_loads_the_same_warehouse_rows(spark, tmp_path, name):
    """The runner's engine switch end to end: ingest over HTTP, each engine's transform, the
    DuckDB load; the warehouse tables hold the same rows, the counts JSON is the same."""
    dataset = DATASETS[name]
    month = synthetic.ERAS[name][-1].first_month  # the current schema era
    source = tmp_path / "served" / dataset.file_name(month)
    synthetic.write_month(source, dataset, month, ROWS, seed=5)
    counts = {}
    with serve_folder(source.parent) as base_url:
        for engine in Engine:
            workdir = tmp_path / engine.value
            pipeline = LocalPipeline(workdir, engine=engine, spark_factory=lambda: spark)
            pipeline.run_month(dataset, month, f"{base_url}/{source.name}")
            counts[engine] = pipeline.published_counts(dataset, month)
            assert not (workdir / "run.lock").exists()  # released
    assert _warehouse_rows(tmp_path / "spark", dataset) == _warehouse_rows(
        tmp_path / "duckdb", dataset
    )
    assert (
        sum(_warehouse_rows(tmp_path / "duckdb", dataset).values())
        == counts[Engine.DUCKDB]["rows_loaded"]
    )
    without_keys = [{k: v for k, v in c.items() if k != "part_files"} for c in counts.values()]
    assert without_keys[0] == without_keys[1]
    # Every lake file gets the mode a plain open() gives it, whichever engine or step wrote it.
    expected = 0o666 & ~current_umask()
    for engine in Engine:
        modes = {
            path.relative_to(tmp_path).as_posix(): oct(stat.S_IMODE(path.stat().st_mode))
            for path in (tmp_path / engine.value / "lake").rglob("*")
            if path.is_file()
        }
        assert set(modes.values()) == {oct(expected)}, modes


def test_columns_differing_only_in_case_are_refused_by_both_naming_them(spark, tmp_path):
    source = tmp_path / "both_fees.parquet"
    times = pa.array([1_725_148_800_000_000], pa.timestamp("us"))
    pq.write_table(pa.table({
        "tpep_pickup_datetime": times, "tpep_dropoff_datetime": times, "trip_distance": [1.0],
        "fare_amount": [5.0], "total_amount": [6.0], "Airport_fee": [1.25], "airport_fee": [0.0],
    }), source)  # fmt: skip
    for name, run_step in (("spark", spark_engine.run_step), ("duckdb", duckdb_engine.run_step)):
        lake = LocalLake(tmp_path / name)
        raw = lake.path(layout.RAW, layout.RunKeys(YELLOW, Month(2024, 9), RUN_ID).raw_key)
        raw.parent.mkdir(parents=True)
        shutil.copyfile(source, raw)
        with pytest.raises(AmbiguousColumns, match="'Airport_fee' and 'airport_fee'"):
            run_step(StepContext(YELLOW, Month(2024, 9), lake, run_id=RUN_ID, spark=spark))
        assert not (tmp_path / name / layout.PROCESSED).exists()


@pytest.mark.parametrize("folder", ["w[1]", "w*", "w?"])
def test_a_workdir_with_glob_characters_is_read_literally_by_both(spark, tmp_path, folder):
    """A decoy folder the pattern would match (`w1`) holds another month's file: neither engine
    may read it."""
    month = Month(2024, 9)
    decoy = tmp_path / "w1"
    decoy_raw = LocalLake(decoy).path(layout.RAW, layout.RunKeys(YELLOW, month, RUN_ID).raw_key)
    decoy_raw.parent.mkdir(parents=True)
    synthetic.write_month(decoy_raw, YELLOW, month, 300, seed=9)
    source = tmp_path / "mine.parquet"
    synthetic.write_month(source, YELLOW, month, 40, seed=3)
    for engine, run_step in (("spark", spark_engine.run_step), ("duckdb", duckdb_engine.run_step)):
        root = tmp_path / engine / folder
        figures, *_ = _run(run_step, root, YELLOW, month, source, spark)
        assert figures["rows_in"] == 40, engine


def test_both_engines_name_the_month_a_wrong_file_holds(spark, tmp_path):
    source = tmp_path / "august.parquet"
    synthetic.write_month(source, YELLOW, Month(2024, 8), 500, seed=4)
    counts = assert_engines_agree(spark, tmp_path, YELLOW, Month(2024, 9), source)
    assert max(counts["other_months"].items(), key=lambda item: item[1])[0] == "2024-08"
