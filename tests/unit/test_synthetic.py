"""pipeline.dev.synthetic: TLC's file schemas per era, deterministic output, planted dirty rows.

The schema facts below are the research notes' (per-file footer dumps, toddwschneider's loader
tests, single-month prints), written out here rather than read from the generator. The planted
counts are recomputed from the written file with pyarrow alone, independently of Spark, of
pipeline.contract and of the generator's bookkeeping; the transform tests then check Spark
against `expected_counts`.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipeline.contract.datasets import DATASETS, GREEN, YELLOW
from pipeline.contract.errors import InvalidInput
from pipeline.contract.months import Month
from pipeline.dev import synthetic
from pipeline.dev.synthetic import DirtyKind

# Rates high enough that a 2,000-row month holds several rows of every kind its era allows.
EVERY_KIND = synthetic.DirtyRates(
    pickup_2002=0.002, pickup_2008=0.002, pickup_next_month=0.003, dropoff_before_pickup=0.004,
    zero_distance=0.02, reversal=0.02, flex_fare=0.02, zero_total=0.003, null_block=0.05,
    dds_vendor=0.02,
)  # fmt: skip
INTEGRITY = ("pickup_in_month", "dropoff_not_before_pickup")
FLAGS = ("flag_non_positive_distance", "flag_non_positive_fare", "flag_non_positive_total")
S, LS, I32, I64, F64, NULL = (pa.string(), pa.large_string(), pa.int32(), pa.int64(),
                              pa.float64(), pa.null())  # fmt: skip
US = pa.timestamp("us")
# The taxi eras; tests/unit/test_synthetic_forhire.py holds fhv's and fhvhv's.
ALL_ERAS = [*synthetic.ERAS["yellow"], *synthetic.ERAS["green"]]

# Per era: columns with their arrow type, and columns the era must not have (research §1-§5).
ERA_FACTS: dict[str, tuple[dict[str, pa.DataType], tuple[str, ...]]] = {
    "yellow-2009": ({
        "vendor_name": S, "Trip_Pickup_DateTime": S, "Trip_Dropoff_DateTime": S,
        "Passenger_Count": I64, "Trip_Distance": F64, "Start_Lon": F64, "Start_Lat": F64,
        "Rate_Code": F64, "store_and_forward": F64, "End_Lon": F64, "End_Lat": F64,
        "Payment_Type": S, "Fare_Amt": F64, "surcharge": F64, "mta_tax": F64, "Tip_Amt": F64,
        "Tolls_Amt": F64, "Total_Amt": F64,
    }, ("__index_level_0__", "store_and_fwd_flag", "improvement_surcharge")),
    "yellow-2010": ({
        "vendor_id": S, "pickup_datetime": S, "passenger_count": I64, "pickup_longitude": F64,
        "dropoff_latitude": F64, "rate_code": S, "store_and_fwd_flag": S, "payment_type": S,
        "total_amount": F64,
    }, ("__index_level_0__",)),
    "yellow-2010-02": ({"rate_code": I64, "__index_level_0__": I64, "vendor_id": S}, ()),
    "yellow-2010-04": ({"rate_code": S, "store_and_fwd_flag": S}, ("__index_level_0__",)),
    "yellow-2011": ({
        "VendorID": I64, "tpep_pickup_datetime": US, "passenger_count": I64, "RatecodeID": I64,
        "store_and_fwd_flag": S, "PULocationID": I64, "payment_type": I64,
        "congestion_surcharge": NULL, "airport_fee": NULL, "improvement_surcharge": F64,
    }, ("Airport_fee", "cbd_congestion_fee")),
    "yellow-2018-07": ({
        "passenger_count": F64, "RatecodeID": F64, "VendorID": I64,
        "congestion_surcharge": NULL, "airport_fee": NULL,
    }, ()),
    "yellow-2019": ({
        "passenger_count": F64, "congestion_surcharge": F64, "airport_fee": NULL,
    }, ("Airport_fee",)),
    "yellow-2020-11": ({
        "airport_fee": F64, "VendorID": I64, "PULocationID": I64, "store_and_fwd_flag": S,
    }, ("Airport_fee", "cbd_congestion_fee")),
    "yellow-2023-02": ({
        "VendorID": I32, "PULocationID": I32, "DOLocationID": I32, "passenger_count": I64,
        "RatecodeID": I64, "store_and_fwd_flag": LS, "payment_type": I64, "Airport_fee": F64,
    }, ("airport_fee", "cbd_congestion_fee")),
    "yellow-2025": ({"cbd_congestion_fee": F64, "Airport_fee": F64, "VendorID": I32}, ()),
    "green-2013": ({
        "VendorID": I64, "lpep_pickup_datetime": US, "store_and_fwd_flag": S, "ehail_fee": NULL,
        "improvement_surcharge": NULL, "payment_type": F64, "trip_type": F64,
        "congestion_surcharge": NULL, "PULocationID": I64,
    }, ("cbd_congestion_fee", "airport_fee")),
    "green-2015": ({"improvement_surcharge": F64, "ehail_fee": NULL}, ()),
    "green-2019": ({
        "ehail_fee": F64, "congestion_surcharge": F64, "payment_type": F64, "trip_type": F64,
        "RatecodeID": F64, "passenger_count": F64,
    }, ()),
    "green-2019-09": ({"ehail_fee": NULL, "payment_type": F64, "trip_type": F64}, ()),
    "green-2023-02": ({
        "VendorID": I32, "PULocationID": I32, "DOLocationID": I32, "passenger_count": I64,
        "RatecodeID": I64, "payment_type": I64, "trip_type": I64, "store_and_fwd_flag": LS,
        "ehail_fee": F64,
    }, ("cbd_congestion_fee",)),
    "green-2025": ({"cbd_congestion_fee": F64, "VendorID": I32}, ()),
}  # fmt: skip
TPEP_COLUMNS = (
    "VendorID", "tpep_pickup_datetime", "tpep_dropoff_datetime", "passenger_count",
    "trip_distance", "RatecodeID", "store_and_fwd_flag", "PULocationID", "DOLocationID",
    "payment_type", "fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount",
    "improvement_surcharge", "total_amount", "congestion_surcharge",
)  # fmt: skip
GREEN_COLUMNS = (
    "VendorID", "lpep_pickup_datetime", "lpep_dropoff_datetime", "store_and_fwd_flag",
    "RatecodeID", "PULocationID", "DOLocationID", "passenger_count", "trip_distance",
    "fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount", "ehail_fee",
    "improvement_surcharge", "total_amount", "payment_type", "trip_type", "congestion_surcharge",
)  # fmt: skip
# Every column name TLC documents for yellow and green (any case): the rest is an artefact.
TLC_COLUMNS = {name.lower() for name in (
    *TPEP_COLUMNS, *GREEN_COLUMNS, *ERA_FACTS["yellow-2009"][0], *ERA_FACTS["yellow-2010"][0],
    "pickup_latitude", "dropoff_longitude", "dropoff_datetime", "trip_distance", "fare_amount",
    "surcharge", "mta_tax", "tip_amount", "tolls_amount", "airport_fee", "cbd_congestion_fee",
)}  # fmt: skip
MONEY = {
    "fare": ("fare_amount", "fare_amt"), "extra": ("extra", "surcharge"), "mta": ("mta_tax",),
    "tip": ("tip_amount", "tip_amt"), "tolls": ("tolls_amount", "tolls_amt"),
    "improvement": ("improvement_surcharge",), "congestion": ("congestion_surcharge",),
    "airport": ("airport_fee",), "cbd": ("cbd_congestion_fee",), "total": ("total_amount",
    "total_amt"),
}  # fmt: skip


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dataset(era_name: str):
    return DATASETS[synthetic.era_named(era_name).dataset]


def _write(tmp_path, era_name: str, rows: int, month: Month | None = None, **kwargs):
    era = synthetic.era_named(era_name)
    month = month or era.first_month
    path = tmp_path / f"{era_name}-{rows}.parquet"
    summary = synthetic.write_month(path, _dataset(era_name), month, rows, era=era, **kwargs)
    return summary, pq.read_table(summary.path)


def _col(table: pa.Table, *names: str):
    """The first of `names` the file has, ignoring case (the test's own era knowledge)."""
    present = {name.lower(): name for name in table.column_names}
    for name in names:
        if name.lower() in present:
            return table[present[name.lower()]]
    return None


def _np(array, fill=np.nan) -> np.ndarray:
    return np.asarray(pc.fill_null(array, fill).to_numpy(zero_copy_only=False), dtype=float)


def _times(table: pa.Table, end: str) -> pa.ChunkedArray:
    column = _col(table, f"tpep_{end}_datetime", f"lpep_{end}_datetime", f"{end}_datetime",
                  f"Trip_{end.capitalize()}_DateTime")  # fmt: skip
    if pa.types.is_string(column.type):
        return pc.strptime(column, format="%Y-%m-%d %H:%M:%S", unit="us")
    return column.cast(US)


def _money(table: pa.Table) -> dict[str, np.ndarray]:
    """Every money column the file has, nulls as 0 (a null fee was never charged)."""
    found = {key: _col(table, *names) for key, names in MONEY.items()}
    return {
        key: _np(column, 0.0) for key, column in found.items()
        if column is not None and column.type != NULL
    }  # fmt: skip


def _type_word(type_: pa.DataType) -> str:
    if pa.types.is_integer(type_):
        return "integer"
    if pa.types.is_floating(type_):
        return "double"
    return "string" if pa.types.is_string(type_) or pa.types.is_large_string(type_) else "?"


def _oracle(table: pa.Table, dataset: str, month: Month) -> dict:
    """The contract re-implemented with pyarrow/numpy on the raw file: integrity rules (first
    failing) quarantine, flags on loaded rows (null counts as broken), unmapped text vendors."""
    start = pa.scalar(datetime(month.year, month.month, 1), US)
    end = pa.scalar(datetime(month.next().year, month.next().month, 1), US)
    pickup, dropoff = _times(table, "pickup"), _times(table, "dropoff")
    in_month = pc.fill_null(
        pc.and_(pc.greater_equal(pickup, start), pc.less(pickup, end)), False
    ).to_numpy(zero_copy_only=False)
    ordered = pc.fill_null(pc.greater_equal(dropoff, pickup), False).to_numpy(zero_copy_only=False)
    loaded = in_month & ordered
    broken = {
        flag: ~(_np(_col(table, *names)) > 0)  # NaN (null) compares false: broken
        for flag, names in zip(
            FLAGS, (("trip_distance",), ("fare_amount", "Fare_Amt"), MONEY["total"]), strict=True
        )
    }
    flagged = {flag: int((loaded & rows).sum()) for flag, rows in broken.items()}
    any_flag = np.logical_or.reduce(list(broken.values()))
    unmapped = {}
    vendor = _col(table, "vendor_name", "vendor_id")
    if vendor is not None and pa.types.is_string(vendor.type):
        text = pc.utf8_trim_whitespace(vendor)
        code = pc.utf8_slice_codeunits(pc.utf8_upper(text), 0, 3)
        present = pc.fill_null(pc.greater(pc.utf8_length(text), 0), False)
        odd = pc.and_(present, pc.invert(pc.fill_null(pc.is_in(code, pa.array(["CMT", "VTS"])),
                                                      False)))  # fmt: skip
        if pc.sum(odd).as_py():
            unmapped["vendor_id"] = pc.sum(odd).as_py()
    return {
        "dataset": dataset,
        "month": str(month),
        "rows_in": table.num_rows,
        "rows_loaded": int(loaded.sum()),
        "rows_quarantined": int((~loaded).sum()),
        "rejected": {"pickup_in_month": int((~in_month).sum()),
                     "dropoff_not_before_pickup": int((in_month & ~ordered).sum())},
        "flagged": flagged,
        "rows_clean": int((loaded & ~any_flag).sum()),
        "unknown_columns": {f.name: _type_word(f.type) for f in table.schema
                            if f.name.lower() not in TLC_COLUMNS},
        "unmapped_values": unmapped,
    }  # fmt: skip


# --- schemas per era -------------------------------------------------------------------------


def test_2025_era_has_exactly_the_real_sample_schema(tmp_path, sample5):
    summary = synthetic.write_month(tmp_path / "y.parquet", YELLOW, Month(2025, 1), 500)
    written = pq.read_schema(summary.path)
    real = pq.read_schema(sample5)
    assert [(f.name, f.type) for f in written] == [(f.name, f.type) for f in real]
    assert summary.era == "yellow-2025"


@pytest.mark.parametrize(
    ("dataset", "month", "era"),
    [
        (YELLOW, Month(2009, 12), "yellow-2009"), (YELLOW, Month(2010, 1), "yellow-2010"),
        (YELLOW, Month(2010, 2), "yellow-2010-02"), (YELLOW, Month(2010, 3), "yellow-2010-02"),
        (YELLOW, Month(2010, 4), "yellow-2010-04"), (YELLOW, Month(2010, 12), "yellow-2010-04"),
        (YELLOW, Month(2018, 6), "yellow-2011"), (YELLOW, Month(2018, 7), "yellow-2018-07"),
        (YELLOW, Month(2019, 1), "yellow-2019"), (YELLOW, Month(2020, 10), "yellow-2019"),
        (YELLOW, Month(2020, 11), "yellow-2020-11"), (YELLOW, Month(2023, 1), "yellow-2020-11"),
        (YELLOW, Month(2023, 2), "yellow-2023-02"), (YELLOW, Month(2024, 12), "yellow-2023-02"),
        (YELLOW, Month(2025, 1), "yellow-2025"), (GREEN, Month(2013, 8), "green-2013"),
        (GREEN, Month(2015, 1), "green-2015"), (GREEN, Month(2019, 8), "green-2019"),
        (GREEN, Month(2019, 9), "green-2019-09"), (GREEN, Month(2023, 1), "green-2019-09"),
        (GREEN, Month(2023, 2), "green-2023-02"), (GREEN, Month(2025, 6), "green-2025"),
    ],
)  # fmt: skip
def test_default_era_follows_the_month(dataset, month, era):
    assert synthetic.era_for(dataset, month).name == era


def test_no_era_before_the_dataset_starts():
    with pytest.raises(InvalidInput, match="green starts in 2013-08"):
        synthetic.era_for(GREEN, Month(2013, 7))


@pytest.mark.parametrize("era", ALL_ERAS, ids=lambda e: e.name)
def test_every_era_writes_its_schema_with_row_groups_and_snappy(tmp_path, era):
    summary, _ = _write(tmp_path, era.name, 300)
    file = pq.ParquetFile(summary.path)
    assert file.schema_arrow == era.schema()
    assert file.metadata.num_rows == 300
    assert file.metadata.row_group(0).column(0).compression == "SNAPPY"


def test_every_era_has_its_facts_written_down():
    assert set(ERA_FACTS) == {era.name for era in ALL_ERAS}


@pytest.mark.parametrize("era", ALL_ERAS, ids=lambda e: e.name)
def test_every_era_has_the_researched_column_types(tmp_path, era):
    _, table = _write(tmp_path, era.name, 50)
    types, absent = ERA_FACTS[era.name]
    assert {name: table.schema.field(name).type for name in types} == types
    assert not set(absent) & set(table.column_names)


@pytest.mark.parametrize("era", ALL_ERAS, ids=lambda e: e.name)
def test_columns_are_in_tlc_order(tmp_path, era):
    names = pq.read_schema(_write(tmp_path, era.name, 20)[0].path).names
    if era.name.startswith("green"):
        assert tuple(names[:20]) == GREEN_COLUMNS
    elif era.first_month >= Month(2011, 1):
        assert tuple(names[:18]) == TPEP_COLUMNS
        assert names[18].lower() == "airport_fee"
    else:
        assert len([n for n in names if n != "__index_level_0__"]) == 18
    if era.first_month >= Month(2025, 1):
        assert names[-1] == "cbd_congestion_fee"
    else:
        assert "cbd_congestion_fee" not in names


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    args = (YELLOW, Month(2024, 2), 1_000)
    synthetic.write_month(tmp_path / "a.parquet", *args, seed=5)
    synthetic.write_month(tmp_path / "b.parquet", *args, seed=5)
    synthetic.write_month(tmp_path / "c.parquet", *args, seed=6)
    assert _sha(tmp_path / "a.parquet") == _sha(tmp_path / "b.parquet")
    assert _sha(tmp_path / "a.parquet") != _sha(tmp_path / "c.parquet")


@pytest.mark.parametrize("dataset", DATASETS.values(), ids=lambda d: d.name)
def test_no_rates_means_the_datasets_defaults(tmp_path, dataset):
    month = Month(2024, 3)
    synthetic.write_month(tmp_path / "a.parquet", dataset, month, 2_000, seed=1)
    rates = synthetic.default_rates(dataset)
    synthetic.write_month(tmp_path / "b.parquet", dataset, month, 2_000, seed=1, rates=rates)
    assert _sha(tmp_path / "a.parquet") == _sha(tmp_path / "b.parquet")
    assert synthetic.default_rates(dataset.name) == rates


# --- the expectations, checked against the file alone -----------------------------------------

ORACLE_CASES = [
    ("yellow-2009", Month(2009, 3)), ("yellow-2010-02", Month(2010, 2)),
    ("yellow-2010-04", Month(2010, 7)), ("yellow-2019", Month(2019, 6)),
    ("yellow-2023-02", Month(2024, 1)), ("yellow-2025", Month(2025, 1)),
    ("green-2019-09", Month(2021, 4)), ("green-2023-02", Month(2024, 1)),
]  # fmt: skip


@pytest.mark.parametrize(("era", "month"), ORACLE_CASES, ids=[e for e, _ in ORACLE_CASES])
@pytest.mark.parametrize(("rates", "rows"), [(EVERY_KIND, 2_000), (None, 20_000)],
                         ids=["every-kind", "default-rates"])  # fmt: skip
def test_expected_counts_are_what_the_file_holds(tmp_path, era, month, rates, rows):
    summary, table = _write(tmp_path, era, rows, month, seed=3, rates=rates)
    expected = synthetic.expected_counts(summary)
    assert _oracle(table, _dataset(era).name, month) == expected
    used = rates or synthetic.default_rates(_dataset(era))
    allowed = synthetic.era_named(era).allows
    for kind in DirtyKind:  # a month of 1,000+ rows has every kind its era and rates allow
        planted = summary.dirty[kind.value] > 0
        assert planted == (allowed(kind) and getattr(used, kind.value) > 0), kind
    assert list(expected["rejected"]) == list(INTEGRITY)
    assert list(expected["flagged"]) == list(FLAGS)
    assert expected["rows_loaded"] + expected["rows_quarantined"] == rows


def test_the_expectations_cover_every_kind():
    assert set(synthetic.EXPECTED_RULE) == set(DirtyKind) == set(synthetic.EXPECTED_FLAGS)
    assert {rule.value for rule in synthetic.EXPECTED_RULE.values() if rule} == set(INTEGRITY)
    assert set().union(*synthetic.EXPECTED_FLAGS.values()) == set(FLAGS) == set(synthetic.FLAGS)
    # A row is either quarantined or carries its flags: never both, so the counts add up.
    assert all(
        not synthetic.EXPECTED_FLAGS[kind]
        for kind, rule in synthetic.EXPECTED_RULE.items() if rule
    )  # fmt: skip
    assert synthetic.EXPECTED_UNMAPPED == {DirtyKind.DDS_VENDOR: "vendor_id"}


def test_unknown_columns_only_in_the_pandas_written_months(tmp_path):
    for era in (era for eras in synthetic.ERAS.values() for era in eras):
        summary, _ = _write(tmp_path, era.name, 10)
        expected = {"__index_level_0__": "integer"} if era.name == "yellow-2010-02" else {}
        assert summary.unknown_columns == expected, era.name


# --- each planted kind has its properties, read back from the file ----------------------------


def test_zero_distance_rows_are_billed_trips(tmp_path):
    summary, table = _write(tmp_path, "yellow-2023-02", 2_000, Month(2024, 2), rates=EVERY_KIND)
    distance = _np(table["trip_distance"])
    zero = distance == 0.0
    assert zero.sum() == summary.dirty["zero_distance"] > 0
    assert (_np(table["fare_amount"])[zero] > 0).all()
    assert (_np(table["total_amount"])[zero] > 0).all()
    assert (distance[~zero] > 0).all()


@pytest.mark.parametrize(("era", "month"), [("yellow-2009", Month(2009, 6)),
                                            ("yellow-2019", Month(2019, 6)),
                                            ("yellow-2025", Month(2025, 2)),
                                            ("green-2013", Month(2014, 5))])  # fmt: skip
def test_reversals_are_negated_copies_of_clean_trips(tmp_path, era, month):
    summary, table = _write(tmp_path, era, 2_000, month, rates=EVERY_KIND)
    money = _money(table)
    pickup = _times(table, "pickup").cast(pa.int64()).to_numpy()
    dropoff = _times(table, "dropoff").cast(pa.int64()).to_numpy()
    distance = _np(_col(table, "trip_distance"))
    payment = _col(table, "payment_type", "Payment_Type").to_pylist()
    copies = np.flatnonzero(money["total"] < 0)
    assert len(copies) == summary.dirty["reversal"] > 0
    by_trip = {}
    for row in np.flatnonzero(money["total"] > 0):
        by_trip.setdefault((pickup[row], dropoff[row], distance[row]), []).append(row)
    originals = set()
    for copy in copies:
        assert payment[copy] in (3, 4, 3.0, 4.0, "No Charge", "Dispute", "NOC", "No ", "DIS", "Dis")
        assert distance[copy] > 0
        assert money["fare"][copy] < 0
        trip = by_trip[(pickup[copy], dropoff[copy], distance[copy])]
        matches = [row for row in trip if all(v[row] == -v[copy] for v in money.values())]
        assert matches, f"row {copy} has no original"
        originals.add(matches[0])
        assert money["fare"][matches[0]] > 0
        assert distance[matches[0]] > 0
    assert len(originals) == len(copies)
    pair = [*copies, *originals]
    assert all(abs(values[pair].sum()) < 1e-6 for values in money.values())


def test_reversal_copies_repeat_the_trip_itself(tmp_path):
    _, table = _write(tmp_path, "yellow-2010-04", 2_000, Month(2010, 5), rates=EVERY_KIND)
    rows = table.to_pylist()
    same = ("vendor_id", "pickup_datetime", "dropoff_datetime", "passenger_count",
            "trip_distance", "pickup_longitude", "pickup_latitude", "dropoff_longitude",
            "dropoff_latitude")  # fmt: skip
    originals = Counter(tuple(r[c] for c in same) for r in rows if r["total_amount"] > 0)
    copies = [r for r in rows if r["total_amount"] < 0]
    assert copies
    assert all(originals[tuple(r[c] for c in same)] >= 1 for r in copies)


@pytest.mark.parametrize("era", ["yellow-2023-02", "yellow-2025"])
def test_flex_fare_rows_have_payment_zero_a_negative_fare_and_a_positive_total(tmp_path, era):
    summary, table = _write(tmp_path, era, 2_000, rates=EVERY_KIND)
    fare, total = _np(table["fare_amount"]), _np(table["total_amount"])
    payment = _np(table["payment_type"], -1)
    flex = (payment == 0) & (fare < 0)
    assert flex.sum() == summary.dirty["flex_fare"] > 0
    assert (total[flex] > 0).all()
    assert (_np(table["trip_distance"])[flex] > 0).all()


@pytest.mark.parametrize("era", ["yellow-2011", "yellow-2020-11", "green-2019-09"])
def test_no_flex_fare_before_2023_02(tmp_path, era):
    summary, table = _write(tmp_path, era, 2_000, rates=EVERY_KIND)
    assert summary.dirty["flex_fare"] == 0
    assert not ((_np(table["payment_type"], -1) == 0) & (_np(table["fare_amount"]) < 0)).any()


def test_zero_total_rows_keep_a_positive_fare(tmp_path):
    summary, table = _write(tmp_path, "yellow-2019", 2_000, rates=EVERY_KIND)
    zero = _np(table["total_amount"]) == 0
    assert zero.sum() == summary.dirty["zero_total"] > 0
    assert (_np(table["fare_amount"])[zero] > 0).all()


@pytest.mark.parametrize("era", ["yellow-2009", "yellow-2010", "yellow-2010-02"])
def test_dds_vendor_rows_are_spelled_dds_and_otherwise_clean(tmp_path, era):
    summary, table = _write(tmp_path, era, 2_000, rates=EVERY_KIND)
    vendor = _col(table, "vendor_name", "vendor_id")
    assert set(vendor.to_pylist()) == {"CMT", "VTS", "DDS"}
    dds = pc.equal(vendor, "DDS").to_numpy(zero_copy_only=False)
    assert dds.sum() == summary.dirty["dds_vendor"] > 0
    assert summary.expected_unmapped == {"vendor_id": summary.dirty["dds_vendor"]}
    for names in (("trip_distance",), ("fare_amount", "Fare_Amt"), MONEY["total"]):
        assert (_np(_col(table, *names))[dds] > 0).all()


def test_no_dds_vendor_once_vendors_are_numbers(tmp_path):
    summary, _ = _write(tmp_path, "yellow-2011", 2_000, rates=EVERY_KIND)
    assert summary.dirty["dds_vendor"] == 0
    assert summary.expected_unmapped == {}


def test_old_pickups_are_the_meter_reset_dates(tmp_path):
    summary, table = _write(tmp_path, "yellow-2023-02", 2_000, Month(2024, 2), rates=EVERY_KIND)
    days = pc.strftime(table["tpep_pickup_datetime"], "%Y-%m-%d")
    counts = {item["values"]: item["counts"] for item in pc.value_counts(days).to_pylist()}
    assert counts["2002-12-31"] == summary.dirty["pickup_2002"]
    assert counts["2008-12-31"] == summary.dirty["pickup_2008"]


def test_null_block_sits_at_the_end_with_payment_type_zero_and_positive_amounts(tmp_path):
    summary, table = _write(tmp_path, "yellow-2023-02", 1_000, Month(2024, 2), rates=EVERY_KIND)
    blank = summary.dirty["null_block"]
    tail, head = table.slice(1_000 - blank), table.slice(0, 1_000 - blank)
    for name in ("passenger_count", "RatecodeID", "store_and_fwd_flag", "congestion_surcharge",
                 "Airport_fee"):  # fmt: skip
        assert tail[name].null_count == blank
        assert head[name].null_count == 0
    assert set(tail["payment_type"].to_pylist()) == {0}
    for name in ("trip_distance", "fare_amount", "total_amount"):
        assert pc.min(tail[name]).as_py() > 0
    assert pc.sum(pc.equal(head["payment_type"], 0)).as_py() == summary.dirty["flex_fare"]


@pytest.mark.parametrize("era", ["yellow-2011", "yellow-2018-07", "green-2015"])
def test_no_null_block_before_2019_eras(tmp_path, era):
    summary, table = _write(tmp_path, era, 1_000, rates=EVERY_KIND)
    assert summary.dirty["null_block"] == 0
    assert table["passenger_count"].null_count == 0


# --- the early eras' text ---------------------------------------------------------------------


def test_2009_text_and_double_columns_look_like_tlc(tmp_path):
    _, table = _write(tmp_path, "yellow-2009", 2_000, Month(2009, 3))
    times = table["Trip_Pickup_DateTime"].to_pylist()
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", t) for t in times)
    payments = set(table["Payment_Type"].to_pylist())
    assert {"CASH", "Cash", "Credit", "CREDIT", "No Charge", "Dispute"} <= payments
    assert payments <= {"CASH", "Cash", "Credit", "CREDIT", "No Charge", "Dispute", "Unknown"}
    assert set(table["Rate_Code"].to_pylist()) <= {1.0, 2.0, 3.0, 4.0, 5.0, 99.0}
    flags = Counter(table["store_and_forward"].to_pylist())
    assert set(flags) == {0.0, 1.0, None}
    assert flags[0.0] > flags[None] > 0
    assert pc.min(table["Start_Lon"]).as_py() < -73
    assert pc.max(table["Start_Lat"]).as_py() > 40


@pytest.mark.parametrize("era", ["yellow-2010", "yellow-2010-02", "yellow-2010-04"])
def test_2010_spellings_look_like_tlc(tmp_path, era):
    _, table = _write(tmp_path, era, 5_000)
    payments = set(table["payment_type"].to_pylist())
    assert {"CAS", "Cas", "CSH", "CRE", "Cre", "CRD", "NOC", "No ", "DIS", "Dis", "NA "} == payments
    flags = Counter(table["store_and_fwd_flag"].to_pylist())
    assert set(flags) == {"0", "1", "N", "Y"}
    assert flags["0"] > 5 * flags["N"]
    rate_codes = set(table["rate_code"].to_pylist())
    assert rate_codes <= ({1, 2, 3, 4, 5, 99} if era == "yellow-2010-02"
                          else {"1", "2", "3", "4", "5", "99"})  # fmt: skip


def test_2010_02_carries_the_stray_pandas_index(tmp_path):
    _, table = _write(tmp_path, "yellow-2010-02", 1_234)
    assert table["__index_level_0__"].to_pylist() == list(range(1_234))


# --- rates ------------------------------------------------------------------------------------


def _shares(table: pa.Table) -> dict[str, float]:
    n = table.num_rows
    money = _money(table)
    distance = _np(_col(table, "trip_distance"))
    payment = _col(table, "payment_type", "Payment_Type")
    zero_payment = (_np(payment, -1) == 0) if not pa.types.is_string(payment.type) else False
    vendor = _col(table, "vendor_name", "vendor_id", "VendorID")
    dds = pc.sum(pc.equal(vendor, "DDS")).as_py() if pa.types.is_string(vendor.type) else 0
    return {
        "zero_distance": (distance == 0).sum() / n,
        "reversal": (money["total"] < 0).sum() / n,
        "flex_fare": (zero_payment & (money["fare"] < 0)).sum() / n,
        "null_block": (_col(table, "passenger_count").null_count) / n,
        "dds_vendor": dds / n,
    }


@pytest.mark.parametrize(
    ("era", "month", "bounds"),
    [
        ("yellow-2023-02", Month(2024, 1), {"zero_distance": (0.015, 0.025),
         "reversal": (0.010, 0.014), "flex_fare": (0.015, 0.025), "null_block": (0.03, 0.05),
         "dds_vendor": (0, 0)}),
        ("yellow-2009", Month(2009, 1), {"zero_distance": (0.015, 0.025),
         "reversal": (0.010, 0.014), "flex_fare": (0, 0), "null_block": (0, 0),
         "dds_vendor": (0.03, 0.07)}),
        ("green-2023-02", Month(2024, 1), {"zero_distance": (0.04, 0.06),
         "reversal": (0.002, 0.004), "flex_fare": (0, 0), "null_block": (0.1, 0.2),
         "dds_vendor": (0, 0)}),
    ],
    ids=["yellow-2024", "yellow-2009", "green-2024"],
)  # fmt: skip
def test_default_rates_are_realistic_for_the_dataset(tmp_path, era, month, bounds):
    summary, table = _write(tmp_path, era, 200_000, month)
    shares = _shares(table)
    assert {k: low <= shares[k] <= high for k, (low, high) in bounds.items()} == dict.fromkeys(
        bounds, True
    ), shares
    assert summary.expected_quarantined / summary.rows < 0.001  # only broken clocks quarantine


@pytest.mark.parametrize("rows", [synthetic.EVERY_KIND_FROM_ROWS, 5_000])
@pytest.mark.parametrize("era", ["yellow-2009", "yellow-2025", "green-2025"])
def test_a_small_month_still_plants_every_kind_its_era_allows(tmp_path, rows, era):
    summary, _ = _write(tmp_path, era, rows)
    rates = synthetic.default_rates(_dataset(era))
    allowed = synthetic.era_named(era).allows
    for kind in DirtyKind:
        planted = summary.dirty[kind.value]
        assert (planted >= 1) == (allowed(kind) and getattr(rates, kind.value) > 0), kind
    assert all(count >= 1 for count in summary.expected_rejected.values())


def test_a_tiny_month_plants_only_what_its_rates_round_to(tmp_path):
    summary = synthetic.write_month(tmp_path / "tiny.parquet", YELLOW, Month(2024, 1), 50)
    assert summary.dirty["pickup_2002"] == 0  # round(50 * 0.00001)
    assert summary.dirty["zero_distance"] == 1  # round(50 * 0.02)
    assert summary.dirty["flex_fare"] == 1


def test_clean_rates_plant_nothing(tmp_path):
    summary, table = _write(tmp_path, "yellow-2009", 3_000, rates=synthetic.CLEAN)
    assert set(summary.dirty.values()) == {0}
    assert synthetic.expected_counts(summary)["rows_clean"] == 3_000
    assert _oracle(table, "yellow", Month(2009, 1))["rows_clean"] == 3_000


# --- timestamps and distributions -------------------------------------------------------------


def test_nanosecond_variant_holds_the_same_instants(tmp_path):
    args = (YELLOW, Month(2021, 5), 500)
    micro = synthetic.write_month(tmp_path / "us.parquet", *args, seed=2)
    nano = synthetic.write_month(tmp_path / "ns.parquet", *args, seed=2, timestamp_unit="ns")
    nano_table = pq.read_table(nano.path)
    assert nano_table.schema.field("tpep_pickup_datetime").type == pa.timestamp("ns")
    parquet_type = pq.ParquetFile(nano.path).schema.column(1).logical_type.to_json()
    assert '"timeUnit":"nanoseconds"' in parquet_type.replace(" ", "")
    as_micros = nano_table["tpep_pickup_datetime"].cast(pa.timestamp("us"))
    assert as_micros.equals(pq.read_table(micro.path)["tpep_pickup_datetime"])


def test_distributions_are_plausible(tmp_path):
    summary = synthetic.write_month(tmp_path / "p.parquet", YELLOW, Month(2024, 3), 50_000,
                                    rates=synthetic.CLEAN)  # fmt: skip
    table = pq.read_table(summary.path)
    distance = sorted(table["trip_distance"].to_pylist())
    assert 1.4 < distance[len(distance) // 2] < 2.0
    manhattan = sum(
        synthetic.ZONE_BOROUGHS[z - 1] == "M" for z in table["PULocationID"].to_pylist()
    )
    assert manhattan / table.num_rows > 0.8
    hours = pc.hour(table["tpep_pickup_datetime"]).to_pylist()
    assert hours.count(18) > 4 * hours.count(4)
    card = pc.equal(table["payment_type"], 1)
    tipped = pc.greater(table["tip_amount"], 0)
    assert pc.sum(pc.and_(tipped, pc.invert(card))).as_py() == 0
    assert pc.sum(pc.and_(tipped, card)).as_py() > 0.7 * pc.sum(card).as_py()
    duration = pc.subtract(table["tpep_dropoff_datetime"], table["tpep_pickup_datetime"])
    assert min(duration.to_pylist()) >= timedelta(seconds=60)


def test_zone_lookup_copy_has_265_zones_with_the_airports():
    assert len(synthetic.ZONE_BOROUGHS) == 265
    assert synthetic.ZONE_BOROUGHS[0] == "E"  # 1: Newark Airport
    assert synthetic.ZONE_BOROUGHS[synthetic.JFK - 1] == "Q"
    assert synthetic.ZONE_BOROUGHS[synthetic.LAGUARDIA - 1] == "Q"
    assert synthetic.ZONE_BOROUGHS[263:] == "UU"  # 264, 265: unknown / outside NYC


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rows": 0}, "invalid rows 0"),
        ({"era": "green-2019"}, "a yellow era"),
        ({"era": "yellow-1999"}, "invalid era 'yellow-1999'"),
        ({"timestamp_unit": "s"}, "one of ms, us, ns"),
        ({"rates": synthetic.DirtyRates(zero_distance=0.5, reversal=0.3)}, "at most 10"),
        ({"rates": synthetic.DirtyRates(zero_distance=-0.1)}, "a fraction from 0 to 1"),
    ],
)
def test_bad_arguments_are_refused_before_writing(tmp_path, kwargs, message):
    arguments = {"rows": 10, **kwargs}
    with pytest.raises(InvalidInput, match=re.escape(message)):
        synthetic.write_month(tmp_path / "x.parquet", YELLOW, Month(2024, 1), **arguments)
    assert not (tmp_path / "x.parquet").exists()


def test_default_rates_refuse_an_unknown_dataset():
    with pytest.raises(InvalidInput, match="purple"):
        synthetic.default_rates("purple")
