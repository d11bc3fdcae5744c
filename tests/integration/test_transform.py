"""pipeline.jobs.transform on local Spark: every era, the real sample, rule edges, the I/O.

Expected values come from outside the code under test: the raw files read back with pyarrow,
TLC's data dictionary codes, and the rejections synthetic.write_month planted.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import date, datetime

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import types as T

from pipeline.contract import layout
from pipeline.contract.datasets import FHV, FHVHV, GREEN, PAYMENT_CODES, VENDOR_CODES, YELLOW
from pipeline.contract.errors import MissingColumn, MissingInput, WriteMismatch
from pipeline.contract.months import Month
from pipeline.contract.rules import REJECT_REASON, RULE_NAMES
from pipeline.dev import synthetic
from pipeline.jobs.context import StepContext
from pipeline.jobs.transform import apply_rules, contract_schema, normalise, run_step
from pipeline.storage.arrow import arrow_type
from pipeline.storage.lake import LocalLake

# The run every step of these tests reads and writes (`layout.RunKeys`).
RUN_ID = "test-run"

EVERY_KIND = synthetic.DirtyRates(
    pickup_2002=0.005, pickup_2008=0.005, pickup_next_month=0.005, dropoff_before_pickup=0.005,
    zero_distance=0.01, reversal=0.01, flex_fare=0.01, zero_total=0.005, null_block=0.05,
    dds_vendor=0.02,
)  # fmt: skip
FORHIRE_KINDS = synthetic.DirtyRates(
    pickup_2002=0.0, pickup_2008=0.0, pickup_next_month=0.005, dropoff_before_pickup=0.005,
    zero_distance=0.01, reversal=0.0, flex_fare=0.0, zero_total=0.0, null_block=0.0,
    dds_vendor=0.0, missing_dropoff=0.02, negative_base_fare=0.01,
)  # fmt: skip
FLAG_COLUMNS = {flag.name: flag.column for flag in YELLOW.flags}  # green's are the same
ERA_CASES = [
    *[(era, None) for era in (*synthetic.ERAS["yellow"], *synthetic.ERAS["green"])],
    (synthetic.era_named("yellow-2019"), "ns"),
    (synthetic.era_named("yellow-2011"), "ms"),
    (synthetic.era_named("green-2013"), "ns"),
]


def _dataset_of(era: synthetic.Era):
    return YELLOW if era.name.startswith("yellow") else GREEN


def _tagged_rows(spark, path, dataset, month):
    frame = apply_rules(normalise(spark.read.parquet(str(path)), dataset, month), dataset, month)
    return frame, [row.asDict() for row in frame.collect()]


def _raw_rows(path) -> list[dict]:
    """The raw file as Python values, times at microseconds (pyarrow cannot list ns)."""
    table = pq.read_table(path)
    columns = [
        table[name].cast(pa.timestamp("us")) if pa.types.is_timestamp(table[name].type)
        else table[name]
        for name in table.column_names
    ]  # fmt: skip
    return pa.Table.from_arrays(columns, names=table.column_names).to_pylist()


def _pick(raw: dict, *names: str):
    """The raw value under the first of `names` the file has (the test's own era knowledge)."""
    for name in names:
        if name in raw:
            return raw[name]
    return None


def _as_time(value):
    if isinstance(value, str):
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    return value


def _as_flag(value):
    """store_and_fwd_flag as the contract wants it: 'N'/'Y' from any era's spelling."""
    if value is None:
        return None
    text = str(value).strip().upper()
    return {"N": "N", "Y": "Y", "0": "N", "1": "Y", "0.0": "N", "1.0": "Y"}.get(text)


def _as_code(value, codes):
    """TLC's data dictionary: words by their first letters, else the number the text spells."""
    if isinstance(value, str):
        text = value.strip()
        if text[:3].upper() in codes:
            return codes[text[:3].upper()]
        try:
            return int(float(text))
        except ValueError:
            return None
    return None if value is None else int(value)


@pytest.mark.parametrize(
    ("era", "unit"), ERA_CASES, ids=[f"{e.name}-{u or 'default'}" for e, u in ERA_CASES]
)
def test_every_era_normalises_to_the_contract_and_matches_planted_counts(
    spark, tmp_path, era, unit
):
    dataset = _dataset_of(era)
    month = era.first_month.plus(2)
    summary = synthetic.write_month(tmp_path / "m.parquet", dataset, month, 400, seed=11, era=era,
                                    rates=EVERY_KIND, timestamp_unit=unit)  # fmt: skip
    frame, rows = _tagged_rows(spark, summary.path, dataset, month)

    expected_fields = [(f.name, f.dataType) for f in contract_schema(dataset).fields]
    visible = [(f.name, f.dataType) for f in frame.schema.fields if not f.name.startswith("__")]
    assert visible[:-1] == expected_fields
    reasons = [row[REJECT_REASON] for row in rows]
    assert {name: reasons.count(name) for name in RULE_NAMES} == summary.expected_rejected
    assert reasons.count(None) == summary.expected_loaded
    loaded = [row for row in rows if row[REJECT_REASON] is None]
    for flag, column in FLAG_COLUMNS.items():  # the flag is its check, null counting as broken
        assert all(row[flag] is (row[column] is None or row[column] <= 0) for row in rows)
        assert sum(row[flag] for row in loaded) == summary.expected_flagged[flag]
    clean = [row for row in loaded if not any(row[flag] for flag in FLAG_COLUMNS)]
    assert len(clean) == summary.expected_clean

    pickup = f"{'tpep' if dataset is YELLOW else 'lpep'}_pickup_datetime"
    dropoff = pickup.replace("pickup", "dropoff")
    for raw, out in zip(_raw_rows(summary.path), rows, strict=True):
        assert out["pickup_datetime"] == _as_time(
            _pick(raw, pickup, "pickup_datetime", "Trip_Pickup_DateTime")
        )
        assert out["dropoff_datetime"] == _as_time(
            _pick(raw, dropoff, "dropoff_datetime", "Trip_Dropoff_DateTime")
        )
        assert out["vendor_id"] == _as_code(_pick(raw, "VendorID", "vendor_id", "vendor_name"),
                                             VENDOR_CODES)  # fmt: skip
        assert out["payment_type"] == _as_code(_pick(raw, "payment_type", "Payment_Type"),
                                               PAYMENT_CODES)  # fmt: skip
        assert out["passenger_count"] == _as_code(
            _pick(raw, "passenger_count", "Passenger_Count"), {}
        )
        assert out["ratecode_id"] == _as_code(_pick(raw, "RatecodeID", "rate_code", "Rate_Code"),
                                              {})  # fmt: skip
        assert out["fare_amount"] == _pick(raw, "fare_amount", "Fare_Amt")
        assert out["total_amount"] == _pick(raw, "total_amount", "Total_Amt")
        assert out["extra"] == _pick(raw, "extra", "surcharge")
        assert out["store_and_fwd_flag"] == _as_flag(
            _pick(raw, "store_and_fwd_flag", "store_and_forward")
        )
        assert out["pickup_location_id"] == _pick(raw, "PULocationID")  # None in 2009-2010
        assert out["congestion_surcharge"] == _pick(raw, "congestion_surcharge")
        assert out["cbd_congestion_fee"] == _pick(raw, "cbd_congestion_fee")
        if dataset is YELLOW:
            assert out["airport_fee"] == _pick(raw, "airport_fee", "Airport_fee")
        else:
            assert out["ehail_fee"] is None
            assert out["trip_type"] == _as_code(_pick(raw, "trip_type"), {})
        assert out["source_month"] == month.first_day
        if dataset is YELLOW:  # 2009-2010 coordinates, null in the zone-id eras
            assert out["pickup_longitude"] == _pick(raw, "pickup_longitude", "Start_Lon")
            assert out["dropoff_latitude"] == _pick(raw, "dropoff_latitude", "End_Lat")


# The for-hire files' names for each contract column (TLC's dictionaries), any case.
FORHIRE_SOURCES = {
    "pickup_location_id": ("PUlocationID", "PULocationID"),
    "dropoff_location_id": ("DOlocationID", "DOLocationID"),
    "dropoff_datetime": ("dropOff_datetime", "dropoff_datetime"),
    "sr_flag": ("SR_Flag",),
    "affiliated_base_number": ("Affiliated_base_number",),
}
FORHIRE_ERAS = [*synthetic.ERAS["fhv"], *synthetic.ERAS["fhvhv"]]


@pytest.mark.parametrize("era", FORHIRE_ERAS, ids=lambda era: era.name)
def test_forhire_eras_normalise_every_column_and_match_planted_counts(spark, tmp_path, era):
    dataset = FHV if era.dataset == "fhv" else FHVHV
    month = era.first_month.plus(1)
    summary = synthetic.write_month(tmp_path / "m.parquet", dataset, month, 1_500, seed=5,
                                    era=era, rates=FORHIRE_KINDS)  # fmt: skip
    frame, rows = _tagged_rows(spark, summary.path, dataset, month)
    visible = [(f.name, f.dataType) for f in frame.schema.fields if not f.name.startswith("__")]
    assert visible[:-1] == [(f.name, f.dataType) for f in contract_schema(dataset).fields]
    reasons = [row[REJECT_REASON] for row in rows]
    assert {name: reasons.count(name) for name in RULE_NAMES} == summary.expected_rejected
    loaded = [row for row in rows if row[REJECT_REASON] is None]
    for flag in dataset.flags:
        assert sum(row[flag.name] for row in loaded) == summary.expected_flagged[flag.name]

    for raw, out in zip(_raw_rows(summary.path), rows, strict=True):
        for column in dataset.columns:
            value = _pick(raw, *FORHIRE_SOURCES.get(column.name, (column.name,)))
            if column.name.endswith("_flag") and column.name != "sr_flag":
                value = {"Y": "Y", "N": "N"}.get(value)  # TLC's ' ' is no answer: null
            elif value is not None and column.type.name == "INTEGER":
                value = int(value)  # ids stored as doubles in some years
            assert out[column.name] == value, column.name
        assert out["source_month"] == month.first_day


def test_real_2025_sample_loads_every_row_with_its_values(spark, sample5):
    _, rows = _tagged_rows(spark, sample5, YELLOW, Month(2025, 1))
    assert len(rows) == 5
    assert all(row[REJECT_REASON] is None for row in rows)
    first = rows[0]
    assert first == {
        "vendor_id": 1, "pickup_datetime": datetime(2025, 1, 1, 0, 18, 38),
        "dropoff_datetime": datetime(2025, 1, 1, 0, 26, 59), "passenger_count": 1,
        "trip_distance": 1.6, "pickup_location_id": 229, "dropoff_location_id": 237,
        "payment_type": 1, "fare_amount": 10.0, "tip_amount": 3.0, "total_amount": 18.0,
        "ratecode_id": 1, "store_and_fwd_flag": "N", "extra": 3.5, "mta_tax": 0.5,
        "tolls_amount": 0.0, "improvement_surcharge": 1.0, "congestion_surcharge": 2.5,
        "airport_fee": 0.0, "cbd_congestion_fee": 0.0, "pickup_longitude": None,
        "pickup_latitude": None, "dropoff_longitude": None, "dropoff_latitude": None,
        "source_month": date(2025, 1, 1), "__unmapped__store_and_fwd_flag": False,
        "flag_non_positive_distance": False, "flag_non_positive_fare": False,
        "flag_non_positive_total": False, REJECT_REASON: None,
    }  # fmt: skip


def test_text_codes_numeric_text_and_flags_from_odd_values(spark, tmp_path):
    path = tmp_path / "odd.parquet"
    n = 6
    pq.write_table(
        pa.table({
            "vendor_id": ["CMT", "VTS", "DDS", " vts ", None, "2"],
            "pickup_datetime": ["2010-03-01 00:00:00", "2010-03-31 23:59:59", "garbage",
                                None, "2010-03-05 12:00:00", "2010-03-05 12:00:00"],
            "dropoff_datetime": ["2010-03-01 00:10:00", "2010-04-01 00:10:00", "2010-03-02",
                                 "2010-03-02", "2010-03-05 12:30:00", "2010-03-05 12:00:00"],
            "passenger_count": pa.array([1.0, 6.0, None, 0.0, 2.0, 3.0]),
            "trip_distance": [1.0] * n,
            "rate_code": ["1", "99.0", "", "x", None, " 5 "],
            "store_and_fwd_flag": ["  Y  ", "N", "ABCDEFGHIJ", "", None, "n"],
            "payment_type": ["No Charge", "Dispute", "CSH", "Credit", "UNK", "1"],
            "fare_amount": [5.0] * n,
            "total_amount": [6.0] * n,
            "AIRPORT_FEE": pa.nulls(n),
        }),
        path,
    )  # fmt: skip
    _, rows = _tagged_rows(spark, path, YELLOW, Month(2010, 3))
    assert [r["vendor_id"] for r in rows] == [1, 2, None, 2, None, 2]
    assert [r["pickup_datetime"] for r in rows] == [
        datetime(2010, 3, 1), datetime(2010, 3, 31, 23, 59, 59), None, None,
        datetime(2010, 3, 5, 12), datetime(2010, 3, 5, 12),
    ]  # fmt: skip
    assert [r["passenger_count"] for r in rows] == [1, 6, None, 0, 2, 3]
    assert [r["ratecode_id"] for r in rows] == [1, 99, None, None, None, 5]
    # N/Y in any case and spacing; a value that is no flag is null (and counted as unmapped).
    assert [r["store_and_fwd_flag"] for r in rows] == ["Y", "N", None, None, None, "N"]
    assert [r["__unmapped__store_and_fwd_flag"] for r in rows] == [False, False, True] + [False] * 3
    assert [r["__unmapped__vendor_id"] for r in rows] == [False, False, True, False, False, False]
    assert [r["__unmapped__pickup_datetime"] for r in rows] == [False, False, True] + [False] * 3
    assert [r["__unmapped__ratecode_id"] for r in rows] == [False, False, False, True, False, False]
    assert [r["payment_type"] for r in rows] == [3, 4, 2, 1, 5, 1]
    assert all(r["airport_fee"] is None and r["pickup_location_id"] is None for r in rows)
    assert [r[REJECT_REASON] for r in rows] == [
        None, None, "pickup_in_month", "pickup_in_month", None, None,
    ]  # fmt: skip


def test_rule_edges_first_failing_rule_and_flags(spark, rule_edge_cases):
    flags = [flag.name for flag in YELLOW.flags]
    schema = T.StructType([f for f in contract_schema(YELLOW).fields if f.name not in flags])
    names = ("pickup_datetime", "dropoff_datetime", "trip_distance", "fare_amount", "total_amount")
    rows = [
        tuple(dict(zip(names, values, strict=True)).get(field.name) for field in schema.fields)
        for values, _, _ in rule_edge_cases
    ]
    frame = apply_rules(spark.createDataFrame(rows, schema), YELLOW, Month(2024, 9))
    got = [(row[REJECT_REASON], {f for f in flags if row[f]}) for row in frame.collect()]
    assert got == [(reason, expected) for _, reason, expected in rule_edge_cases]


def _lake_with_month(tmp_path, month, rows, seed, rates=EVERY_KIND):
    lake = LocalLake(tmp_path / "lake")
    raw = lake.path(layout.RAW, layout.RunKeys(YELLOW, month, RUN_ID).raw_key)
    summary = synthetic.write_month(raw, YELLOW, month, rows, seed=seed, rates=rates)
    return lake, summary


def _snapshot(lake, prefix) -> dict[str, bytes]:
    return {o.key: lake.read_bytes(layout.PROCESSED, o.key)
            for o in lake.list(layout.PROCESSED, prefix)}  # fmt: skip


def _check_contract_file(path) -> None:
    schema = pq.read_schema(path)
    assert [(f.name, f.type) for f in schema] == [
        (name, arrow_type(type_)) for name, type_ in YELLOW.table_columns
    ]
    parquet = pq.ParquetFile(path).schema
    for index, field in enumerate(schema):
        if field.type == pa.timestamp("us"):
            logical = json.loads(parquet.column(index).logical_type.to_json())
            assert logical["isAdjustedToUTC"] is False
            assert logical["timeUnit"] == "microseconds"


def test_run_step_writes_parts_quarantine_and_counts_then_reruns_cleanly(spark, tmp_path):
    september, august = Month(2024, 9), Month(2024, 8)
    lake, _ = _lake_with_month(tmp_path, august, 500, seed=1)
    run_step(StepContext(YELLOW, august, lake, run_id=RUN_ID, spark=spark))
    august_before = _snapshot(lake, layout.RunKeys(YELLOW, august, RUN_ID).processed_prefix)
    _, summary = _lake_with_month(tmp_path, september, 2_000, seed=2)

    reports = []
    context = StepContext(YELLOW, september, lake, run_id=RUN_ID, spark=spark,
                          progress=lambda *args: reports.append(args))  # fmt: skip
    figures = run_step(context)

    counts = json.loads(
        lake.read_bytes(layout.PROCESSED, layout.RunKeys(YELLOW, september, RUN_ID).counts_key)
    )
    expected = synthetic.expected_counts(summary)
    assert {key: counts[key] for key in expected} == expected
    assert list(counts["rejected"]) == list(RULE_NAMES)
    run = layout.RunKeys(YELLOW, september, RUN_ID)
    parts = [o.key for o in lake.list(layout.PROCESSED, run.processed_prefix)
             if layout.is_part_file(o.key)]  # fmt: skip
    assert counts["part_files"] == parts
    assert len(parts) == 1
    part = lake.path(layout.PROCESSED, parts[0])
    _check_contract_file(part)
    assert pq.read_metadata(part).num_rows == counts["rows_loaded"]
    assert pq.read_metadata(part).row_group(0).column(0).compression == "SNAPPY"
    with duckdb.connect() as db:
        described = db.execute(f"DESCRIBE SELECT * FROM read_parquet('{part}')").fetchall()
    types = {row[0]: row[1] for row in described}
    assert types["pickup_datetime"] == "TIMESTAMP"
    assert types["source_month"] == "DATE"

    quarantine = pq.read_table(
        lake.path(layout.PROCESSED, layout.RunKeys(YELLOW, september, RUN_ID).quarantine_prefix)
    )
    assert quarantine.column_names == [*YELLOW.column_names, REJECT_REASON]
    reasons = quarantine[REJECT_REASON].to_pylist()
    assert {name: reasons.count(name) for name in RULE_NAMES} == counts["rejected"]
    assert figures == {
        "rows_in": 2_000, "rows_loaded": counts["rows_loaded"],
        "rows_quarantined": counts["rows_quarantined"], "rejected": counts["rejected"],
        "flagged": counts["flagged"], "rows_clean": counts["rows_clean"],
        "unknown_columns": {}, "unmapped_values": {},
        "part_files": 1, "quarantine_files": 1,
    }  # fmt: skip
    assert reports[-1][1:] == (2_000, 2_000)

    # Rerun on a clean, different file: parts replaced, quarantine emptied, August untouched.
    _lake_with_month(tmp_path, september, 700, seed=3, rates=synthetic.CLEAN)
    run_step(StepContext(YELLOW, september, lake, run_id=RUN_ID, spark=spark))
    counts = json.loads(
        lake.read_bytes(layout.PROCESSED, layout.RunKeys(YELLOW, september, RUN_ID).counts_key)
    )
    assert counts["rows_in"] == counts["rows_loaded"] == 700
    assert counts["rows_quarantined"] == 0
    assert counts["rejected"] == dict.fromkeys(RULE_NAMES, 0)
    assert set(counts["part_files"]).isdisjoint(parts)
    assert sum(pq.read_metadata(lake.path(layout.PROCESSED, k)).num_rows
               for k in counts["part_files"]) == 700  # fmt: skip
    assert (
        lake.list(layout.PROCESSED, layout.RunKeys(YELLOW, september, RUN_ID).quarantine_prefix)
        == []
    )
    assert _snapshot(lake, layout.RunKeys(YELLOW, august, RUN_ID).processed_prefix) == august_before


def test_missing_required_column_fails_before_any_side_effect(spark, tmp_path):
    month = Month(2024, 9)
    lake, _ = _lake_with_month(tmp_path, month, 50, seed=4)
    raw = lake.path(layout.RAW, layout.RunKeys(YELLOW, month, RUN_ID).raw_key)
    pq.write_table(pq.read_table(raw).drop_columns(["trip_distance"]), raw)
    stale = b'{"rows_loaded": 1}'
    lake.write_bytes(layout.PROCESSED, layout.RunKeys(YELLOW, month, RUN_ID).counts_key, stale)

    with pytest.raises(MissingColumn) as failure:
        run_step(StepContext(YELLOW, month, lake, run_id=RUN_ID, spark=spark))
    message = str(failure.value)
    assert "'trip_distance'" in message
    assert str(raw.resolve()) in message
    assert "looked for trip_distance" in message
    assert (
        lake.read_bytes(layout.PROCESSED, layout.RunKeys(YELLOW, month, RUN_ID).counts_key) == stale
    )


def test_missing_raw_file_is_missing_input(spark, tmp_path):
    lake = LocalLake(tmp_path / "lake")
    with pytest.raises(MissingInput, match="ingest yellow 2024-09 first"):
        run_step(StepContext(YELLOW, Month(2024, 9), lake, run_id=RUN_ID, spark=spark))


def test_a_raw_file_replaced_between_the_two_reads_fails_the_month_without_counts(spark, tmp_path):
    # Each write reads the raw file; ingest replacing it in between (another month's file of
    # the same name, other rows) must not leave counts that describe rows nobody wrote.
    lake = LocalLake(tmp_path / "lake")
    month = Month(2024, 5)
    raw = lake.path(layout.RAW, layout.RunKeys(YELLOW, month, RUN_ID).raw_key)
    original = synthetic.write_month(raw, YELLOW, month, 20_000, seed=3, rates=EVERY_KIND)
    replacement = tmp_path / "replacement.parquet"
    other = synthetic.write_month(
        replacement,
        YELLOW,
        month,
        20_000,
        seed=4,
        rates=dataclasses.replace(EVERY_KIND, pickup_2002=0.02),
    )
    assert other.expected_quarantined != original.expected_quarantined

    def progress(what, done, total):
        if done < total:  # the loadable rows are written; the quarantine is next
            shutil.copyfile(replacement, raw)

    with pytest.raises(WriteMismatch, match=r"the quarantine: .* rows written .* counted"):
        run_step(StepContext(YELLOW, month, lake, run_id=RUN_ID, spark=spark, progress=progress))
    assert not lake.exists(layout.PROCESSED, layout.RunKeys(YELLOW, month, RUN_ID).counts_key)


def test_run_step_counts_what_it_writes_reading_the_source_per_write(spark, tmp_path):
    lake = LocalLake(tmp_path / "lake")
    month = Month(2024, 5)
    raw = lake.path(layout.RAW, layout.RunKeys(YELLOW, month, RUN_ID).raw_key)
    summary = synthetic.write_month(raw, YELLOW, month, 20_000, seed=3, rates=EVERY_KIND)
    reports = []
    figures = run_step(StepContext(YELLOW, month, lake, run_id=RUN_ID, spark=spark,
                                   progress=lambda *report: reports.append(report)))  # fmt: skip
    assert figures["rows_in"] == summary.rows
    assert figures["rejected"] == summary.expected_rejected
    quarantine = pq.read_table(
        lake.path(layout.PROCESSED, layout.RunKeys(YELLOW, month, RUN_ID).quarantine_prefix)
    )
    assert quarantine.num_rows == summary.expected_quarantined
    assert reports[0] == ("rows written", summary.expected_loaded, summary.rows)
