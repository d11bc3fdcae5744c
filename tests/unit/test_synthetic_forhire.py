"""pipeline.dev.synthetic for FHV and HVFHV: TLC's for-hire file schemas per era, their facts,
and planted counts recomputed from the written file alone.

The schema facts are written out here from the sources the generator cites (per-file column
lists, the 2019-2026 footer type timeline, schema prints), not read from the generator. The
oracle re-implements the contract's rules with pyarrow on the raw file.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipeline.contract.datasets import FHV, FHVHV
from pipeline.contract.months import Month
from pipeline.dev import synthetic
from pipeline.dev.synthetic import forhire
from pipeline.dev.synthetic.kinds import DirtyKind

S, LS, I32, I64, F64, NULL = (pa.string(), pa.large_string(), pa.int32(), pa.int64(),
                              pa.float64(), pa.null())  # fmt: skip
US = pa.timestamp("us")
FORHIRE_ERAS = [*synthetic.ERAS["fhv"], *synthetic.ERAS["fhvhv"]]
EVERY_KIND = synthetic.DirtyRates(
    pickup_2002=0.0, pickup_2008=0.0, pickup_next_month=0.004, dropoff_before_pickup=0.004,
    zero_distance=0.01, reversal=0.0, flex_fare=0.0, zero_total=0.0, null_block=0.0,
    dds_vendor=0.0, missing_dropoff=0.02, negative_base_fare=0.01,
)  # fmt: skip
FHV_COLUMNS = ("dispatching_base_num", "pickup_datetime", "dropOff_datetime", "PUlocationID",
               "DOlocationID", "SR_Flag", "Affiliated_base_number")  # fmt: skip
FHVHV_COLUMNS = (
    "hvfhs_license_num", "dispatching_base_num", "originating_base_num", "request_datetime",
    "on_scene_datetime", "pickup_datetime", "dropoff_datetime", "PULocationID", "DOLocationID",
    "trip_miles", "trip_time", "base_passenger_fare", "tolls", "bcf", "sales_tax",
    "congestion_surcharge", "airport_fee", "tips", "driver_pay", "shared_request_flag",
    "shared_match_flag", "access_a_ride_flag", "wav_request_flag", "wav_match_flag",
)  # fmt: skip
# Per era: columns with their arrow type, and columns the era must not have.
ERA_FACTS: dict[str, tuple[dict[str, pa.DataType], tuple[str, ...]]] = {
    "fhv-2015": ({
        "dispatching_base_num": S, "pickup_datetime": US, "dropOff_datetime": NULL,
        "PUlocationID": F64, "DOlocationID": NULL, "SR_Flag": NULL, "Affiliated_base_number": S,
    }, ()),
    "fhv-2017": ({"dropOff_datetime": US, "DOlocationID": F64, "SR_Flag": F64}, ()),
    "fhv-2019-03": ({"SR_Flag": NULL, "PUlocationID": F64, "DOlocationID": F64}, ()),
    "fhv-2023-02": ({
        "dispatching_base_num": LS, "PUlocationID": I64, "DOlocationID": I64, "SR_Flag": I64,
        "Affiliated_base_number": LS,
    }, ()),
    "fhvhv-2019-02": ({
        "hvfhs_license_num": S, "request_datetime": US, "on_scene_datetime": US,
        "PULocationID": I64, "trip_miles": F64, "trip_time": I64, "base_passenger_fare": F64,
        "wav_match_flag": NULL, "airport_fee": NULL, "shared_request_flag": S,
    }, ("cbd_congestion_fee",)),
    "fhvhv-2019-04": ({"wav_match_flag": S, "airport_fee": NULL}, ("cbd_congestion_fee",)),
    "fhvhv-2019-07": ({"airport_fee": F64, "DOLocationID": I64}, ("cbd_congestion_fee",)),
    "fhvhv-2023-02": ({
        "hvfhs_license_num": LS, "dispatching_base_num": LS, "originating_base_num": LS,
        "PULocationID": I32, "DOLocationID": I32, "shared_request_flag": LS, "wav_match_flag": LS,
        "pickup_datetime": US, "trip_time": I64,
    }, ("cbd_congestion_fee",)),
    "fhvhv-2025": ({"cbd_congestion_fee": F64, "PULocationID": I32}, ()),
}  # fmt: skip


def _write(tmp_path, era_name: str, rows: int, month: Month | None = None, **kwargs):
    era = synthetic.era_named(era_name)
    dataset = FHV if era.dataset == "fhv" else FHVHV
    month = month or era.first_month
    summary = synthetic.write_month(tmp_path / f"{era_name}-{rows}.parquet", dataset, month, rows,
                                    era=era, **kwargs)  # fmt: skip
    return summary, pq.read_table(summary.path)


def _np(array, fill=np.nan) -> np.ndarray:
    return np.asarray(pc.fill_null(array, fill).to_numpy(zero_copy_only=False), dtype=float)


def _bools(array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _oracle(table: pa.Table, dataset: str, month: Month) -> dict:
    """The contract on the raw file: integrity rules (first failing) quarantine, a missing FHV
    dropoff passes; HVFHV's flags on loaded rows (null counts as broken)."""
    start = pa.scalar(datetime(month.year, month.month, 1), US)
    end = pa.scalar(datetime(month.next().year, month.next().month, 1), US)
    pickup = table["pickup_datetime"].cast(US)
    dropoff_name = "dropOff_datetime" if dataset == "fhv" else "dropoff_datetime"
    dropoff = table[dropoff_name]
    in_month = _bools(pc.and_(pc.greater_equal(pickup, start), pc.less(pickup, end)))
    if dropoff.type == NULL:
        ordered = np.ones(table.num_rows, dtype=bool)
    else:
        after = _bools(pc.greater_equal(dropoff.cast(US), pickup))
        ordered = after | (_bools(pc.is_null(dropoff)) if dataset == "fhv" else False)
    loaded = in_month & ordered
    flags = {}
    if dataset == "fhvhv":
        flags = {
            "flag_non_positive_distance": ~(_np(table["trip_miles"]) > 0),
            "flag_non_positive_fare": ~(_np(table["base_passenger_fare"]) > 0),
        }
    any_flag = np.logical_or.reduce([*flags.values(), np.zeros(table.num_rows, dtype=bool)])
    return {
        "dataset": dataset,
        "month": str(month),
        "rows_in": table.num_rows,
        "rows_loaded": int(loaded.sum()),
        "rows_quarantined": int((~loaded).sum()),
        "rejected": {"pickup_in_month": int((~in_month).sum()),
                     "dropoff_not_before_pickup": int((in_month & ~ordered).sum())},
        "flagged": {flag: int((loaded & rows).sum()) for flag, rows in flags.items()},
        "rows_clean": int((loaded & ~any_flag).sum()),
        "unknown_columns": {},
        "unmapped_values": {},
    }  # fmt: skip


def test_every_era_has_its_facts_written_down():
    assert set(ERA_FACTS) == {era.name for era in FORHIRE_ERAS}


@pytest.mark.parametrize("era", FORHIRE_ERAS, ids=lambda e: e.name)
def test_every_era_has_the_researched_columns_types_and_order(tmp_path, era):
    summary, table = _write(tmp_path, era.name, 60)
    types, absent = ERA_FACTS[era.name]
    assert {name: table.schema.field(name).type for name in types} == types
    assert not set(absent) & set(table.column_names)
    if era.dataset == "fhv":
        assert tuple(table.column_names) == FHV_COLUMNS
    else:
        cbd = ("cbd_congestion_fee",) if era.first_month >= Month(2025, 1) else ()
        assert tuple(table.column_names) == (*FHVHV_COLUMNS, *cbd)
    file = pq.ParquetFile(summary.path)
    assert file.schema_arrow == era.schema()
    assert file.metadata.row_group(0).column(0).compression == "SNAPPY"


@pytest.mark.parametrize(
    ("dataset", "month", "era"),
    [
        (FHV, Month(2015, 1), "fhv-2015"), (FHV, Month(2016, 12), "fhv-2015"),
        (FHV, Month(2017, 1), "fhv-2017"), (FHV, Month(2019, 2), "fhv-2017"),
        (FHV, Month(2019, 3), "fhv-2019-03"), (FHV, Month(2023, 2), "fhv-2023-02"),
        (FHVHV, Month(2019, 2), "fhvhv-2019-02"), (FHVHV, Month(2019, 4), "fhvhv-2019-04"),
        (FHVHV, Month(2019, 7), "fhvhv-2019-07"), (FHVHV, Month(2023, 1), "fhvhv-2019-07"),
        (FHVHV, Month(2023, 2), "fhvhv-2023-02"), (FHVHV, Month(2025, 1), "fhvhv-2025"),
    ],
)  # fmt: skip
def test_default_era_follows_the_month(dataset, month, era):
    assert synthetic.era_for(dataset, month).name == era


ORACLE_CASES = [("fhv-2015", Month(2015, 5)), ("fhv-2017", Month(2018, 3)),
                ("fhv-2023-02", Month(2024, 1)), ("fhvhv-2019-02", Month(2019, 2)),
                ("fhvhv-2023-02", Month(2024, 1)), ("fhvhv-2025", Month(2025, 3))]  # fmt: skip


@pytest.mark.parametrize(("era", "month"), ORACLE_CASES, ids=[e for e, _ in ORACLE_CASES])
@pytest.mark.parametrize(("rates", "rows"), [(EVERY_KIND, 3_000), (None, 20_000)],
                         ids=["every-kind", "default-rates"])  # fmt: skip
def test_expected_counts_are_what_the_file_holds(tmp_path, era, month, rates, rows):
    summary, table = _write(tmp_path, era, rows, month, seed=4, rates=rates)
    assert _oracle(table, summary.dataset, month) == synthetic.expected_counts(summary)
    used = rates or synthetic.default_rates(summary.dataset)
    allowed = synthetic.era_named(era).allows
    for kind in DirtyKind:
        planted = summary.dirty[kind.value] > 0
        assert planted == (allowed(kind) and getattr(used, kind.value) > 0), kind


def test_fhv_without_dropoff_times_plants_only_what_it_can_hold(tmp_path):
    summary, table = _write(tmp_path, "fhv-2015", 3_000, rates=EVERY_KIND)
    assert table["dropOff_datetime"].null_count == 3_000
    assert table["DOlocationID"].null_count == 3_000
    assert summary.dirty["dropoff_before_pickup"] == summary.dirty["missing_dropoff"] == 0
    assert summary.dirty["pickup_next_month"] > 0


def test_missing_dropoffs_are_trips_of_the_month_without_a_dropoff(tmp_path):
    summary, table = _write(tmp_path, "fhv-2023-02", 3_000, rates=EVERY_KIND)
    missing = _bools(pc.is_null(table["dropOff_datetime"]))
    assert missing.sum() == summary.dirty["missing_dropoff"] > 0
    assert table["pickup_datetime"].null_count == 0


def test_only_uber_reports_where_and_when_the_car_came_from(tmp_path):
    _, table = _write(tmp_path, "fhvhv-2023-02", 20_000, Month(2023, 1))
    licence = table["hvfhs_license_num"].to_pylist()
    assert set(licence) <= {"HV0002", "HV0003", "HV0004", "HV0005"}
    uber = np.array([code == "HV0003" for code in licence])
    for name in ("originating_base_num", "on_scene_datetime"):
        assert (_bools(pc.is_null(table[name])) == ~uber).all(), name
    assert 0.2 < (~uber).mean() < 0.35  # 26% of 2023-01
    lyft = np.array([code == "HV0005" for code in licence])
    aar = np.array(table["access_a_ride_flag"].to_pylist())
    assert set(aar[lyft]) <= {" ", "Y"}
    assert " " in set(aar[lyft])
    assert set(aar[~lyft]) <= {"N", "Y"}
    on_scene = table["on_scene_datetime"].cast(pa.int64()).to_numpy(zero_copy_only=False)
    request = table["request_datetime"].cast(pa.int64()).to_numpy()
    pickup = table["pickup_datetime"].cast(pa.int64()).to_numpy()
    assert (request <= pickup).all()
    assert (request[uber] <= on_scene[uber]).all()
    assert (on_scene[uber] <= pickup[uber]).all()


def test_no_juno_after_2019_and_no_via_after_2021(tmp_path):
    _, early = _write(tmp_path, "fhvhv-2019-02", 20_000, Month(2019, 3))
    _, late = _write(tmp_path, "fhvhv-2023-02", 20_000, Month(2024, 3))
    assert {"HV0002", "HV0004"} <= set(early["hvfhs_license_num"].to_pylist())
    assert set(late["hvfhs_license_num"].to_pylist()) == {"HV0003", "HV0005"}


def test_flagged_kinds_are_billed_trips_and_adjustments(tmp_path):
    summary, table = _write(tmp_path, "fhvhv-2025", 3_000, rates=EVERY_KIND)
    miles, fare = _np(table["trip_miles"]), _np(table["base_passenger_fare"])
    assert (miles == 0).sum() == summary.dirty["zero_distance"] > 0
    assert (fare[miles == 0] > 0).all()
    assert (fare < 0).sum() == summary.dirty["negative_base_fare"] > 0
    assert (_np(table["driver_pay"])[fare < 0] > 0).all()


def test_a_month_is_written_row_group_by_row_group(tmp_path, monkeypatch):
    monkeypatch.setattr(forhire, "ROW_GROUP_ROWS", 1_000)
    month = Month(2024, 2)
    summary, table = _write(tmp_path, "fhvhv-2023-02", 2_500, month, seed=9, rates=EVERY_KIND)
    file = pq.ParquetFile(summary.path)
    assert [file.metadata.row_group(i).num_rows for i in range(file.num_row_groups)] == [
        1_000, 1_000, 500,
    ]  # fmt: skip
    assert _oracle(table, "fhvhv", month) == synthetic.expected_counts(summary)
    again = synthetic.write_month(tmp_path / "again.parquet", FHVHV, month, 2_500, seed=9,
                                  era="fhvhv-2023-02", rates=EVERY_KIND)  # fmt: skip
    digest = [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in (summary.path, again.path)]
    assert digest[0] == digest[1]


def test_default_rates_keep_the_implausible_rare(tmp_path):
    summary, table = _write(tmp_path, "fhvhv-2023-02", 200_000, Month(2024, 1))
    expected = synthetic.expected_counts(summary)
    assert summary.expected_quarantined / summary.rows < 0.001
    assert 0.0005 < 1 - expected["rows_clean"] / expected["rows_loaded"] < 0.002
    assert table["trip_miles"].null_count == 0
