"""The month profile's definition (what each column gets, derived from the datasets) and the
history checks' table of cases. Its SQL runs on both engines in integration/test_profile_sql."""

from __future__ import annotations

import pytest

from pipeline.contract.datasets import DATASETS, FHV, FHVHV, GREEN, YELLOW
from pipeline.contract.profile import (
    FOOTER_STATS,
    ColumnProfile,
    HistoryRule,
    HistoryThresholds,
    MonthProfile,
    Stat,
    history_warnings,
    profile_expressions,
    profile_from,
    profiled_columns,
)
from pipeline.contract.sql import Engine
from pipeline.contract.types import ColumnType

TAXI_MONEY = {"fare_amount", "tip_amount", "total_amount", "extra", "mta_tax", "tolls_amount",
              "improvement_surcharge", "congestion_surcharge", "cbd_congestion_fee"}  # fmt: skip
MONEY = {
    "yellow": TAXI_MONEY | {"airport_fee"},
    "green": TAXI_MONEY | {"ehail_fee"},
    "fhv": set(),
    "fhvhv": {"base_passenger_fare", "tolls", "bcf", "sales_tax", "congestion_surcharge",
              "airport_fee", "tips", "driver_pay", "cbd_congestion_fee"},
}  # fmt: skip


@pytest.mark.parametrize("dataset", DATASETS.values(), ids=list(DATASETS))
def test_every_table_column_gets_a_null_count_and_ranges_follow_the_type(dataset):
    columns = profiled_columns(dataset)
    assert [c.name for c in columns] == list(dataset.column_names)
    for column in columns:
        assert column.stats[0] is Stat.NULLS
        ranged = column.type in (ColumnType.INTEGER, ColumnType.DOUBLE, ColumnType.TIMESTAMP)
        assert (Stat.MIN in column.stats, Stat.MAX in column.stats) == (ranged, ranged), column
    assert {c.name for c in columns if Stat.SUM in c.stats} == MONEY[dataset.name]


def test_what_is_summed_and_ranged_in_yellow():
    stats = {column.name: column.stats for column in profiled_columns(YELLOW)}
    assert stats["pickup_datetime"] == (Stat.NULLS, Stat.MIN, Stat.MAX)
    assert stats["trip_distance"] == (Stat.NULLS, Stat.MIN, Stat.MAX)  # a distance, not money
    assert stats["total_amount"] == (Stat.NULLS, Stat.MIN, Stat.MAX, Stat.SUM)
    assert stats["store_and_fwd_flag"] == (Stat.NULLS,)
    assert stats["source_month"] == (Stat.NULLS,)
    assert stats["flag_non_positive_fare"] == (Stat.NULLS,)


@pytest.mark.parametrize("engine", list(Engine))
def test_the_scan_sums_money_over_the_loaded_rows_and_the_footers_give_the_rest(engine):
    reason = engine.quote("reject_reason")
    expressions = dict(profile_expressions(GREEN, engine))
    money = [c for c in profiled_columns(GREEN) if Stat.SUM in c.stats]
    assert len(expressions) == 1 + len(money)  # the rows, then a sum per money column
    fare = engine.quote("fare_amount")
    assert expressions["profile:fare_amount:sum"] == (
        f"round(sum(CASE WHEN {reason} IS NULL THEN {fare} END), 2)"
    )
    assert all(f"{reason} IS NULL" in sql for sql in expressions.values())
    assert FOOTER_STATS == (Stat.NULLS, Stat.MIN, Stat.MAX)


def test_profile_from_values_turns_timestamps_into_text():
    from datetime import datetime
    from decimal import Decimal

    values = {key: 0 for key, _ in profile_expressions(FHV, Engine.DUCKDB)}
    values["profile:rows"] = 4
    values["profile:pickup_datetime:min"] = datetime(2024, 1, 1, 0, 5)
    values["profile:pickup_datetime:max"] = datetime(2024, 1, 31, 23, 59, 1)
    values["profile:sr_flag:null_count"] = 3
    values["profile:sr_flag:max"] = Decimal("1")
    profile = profile_from(FHV, "2024-01", values)
    assert profile.rows == 4
    assert profile.column("pickup_datetime") == ColumnProfile(
        "pickup_datetime", 0, "2024-01-01 00:05:00", "2024-01-31 23:59:01", None
    )
    assert profile.column("sr_flag").max == 1.0
    assert profile.null_share("sr_flag") == 0.75
    assert MonthProfile.from_dict("fhv", "2024-01", profile.to_dict()) == profile


def test_table_rows_link_each_column_to_the_run():
    profile = MonthProfile("fhv", "2024-01", 10, (ColumnProfile("pickup_datetime", 0,
                           "2024-01-01 00:05:00", "2024-01-31 23:00:00"),))  # fmt: skip
    assert profile.table_rows("fhv-2024-01-manual-x") == [
        {"dataset": "fhv", "source_month": "2024-01", "run_id": "fhv-2024-01-manual-x",
         "column": "pickup_datetime", "null_count": 0, "min": "2024-01-01 00:05:00",
         "max": "2024-01-31 23:00:00", "sum": None, "rows": 10},
    ]  # fmt: skip


# ---------------------------------------------------------------- history checks


def month(name: str, rows: int = 1000, **columns: tuple[int, float | None]) -> MonthProfile:
    """A yellow month: column=(null_count, sum)."""
    profiles = tuple(ColumnProfile(c, nulls, sum=total) for c, (nulls, total) in columns.items())
    return MonthProfile("yellow", name, rows, profiles)


HISTORY = [month(f"2024-0{m}", passenger_count=(10, None), airport_fee=(1000, None),
                 total_amount=(0, 25_000.0 + m)) for m in range(1, 7)]  # fmt: skip


def warnings_for(candidate: MonthProfile, history=HISTORY, **limits) -> list[tuple]:
    found = history_warnings(candidate, history, HistoryThresholds(**limits))
    return [(w.rule, w.column, round(w.value, 3), round(w.previous, 3), w.compared_with)
            for w in found]  # fmt: skip


def test_a_month_like_the_ones_before_has_no_warning():
    ok = month("2024-07", passenger_count=(30, None), airport_fee=(1000, None),
               total_amount=(0, 26_000.0))  # fmt: skip
    assert warnings_for(ok) == []


def test_a_null_share_jump_names_the_column_both_shares_and_the_previous_month():
    jump = month("2024-07", passenger_count=(600, None), airport_fee=(1000, None),
                 total_amount=(0, 25_000.0))  # fmt: skip
    assert warnings_for(jump) == [
        (HistoryRule.NULL_SHARE_JUMP, "passenger_count", 0.6, 0.01, "2024-06"),
    ]
    (warning,) = history_warnings(jump, HISTORY)
    assert "passenger_count is null in 60.0% of rows, 1.0% in 2024-06" in warning.message
    assert warning.to_json()["rule"] == "null_share_jump"
    assert warning.severity == "warn"
    assert warnings_for(jump, null_share_after=0.7) == []


def test_a_column_always_null_that_fills_and_one_that_empties():
    filled = month("2024-07", passenger_count=(1000, None), airport_fee=(100, None),
                   total_amount=(0, 25_000.0))  # fmt: skip
    assert warnings_for(filled) == [
        (HistoryRule.COLUMN_EMPTIED, "passenger_count", 1.0, 0.01, "2024-01..2024-06"),
        (HistoryRule.COLUMN_FILLED, "airport_fee", 0.1, 1.0, "2024-01..2024-06"),
    ]


def test_money_per_trip_far_from_the_median_either_way():
    cents = month("2024-07", passenger_count=(10, None), airport_fee=(1000, None),
                  total_amount=(0, 250.0))  # fmt: skip
    assert warnings_for(cents) == [
        (HistoryRule.MONEY_PER_TRIP, "total_amount", 0.25, 25.004, "2024-01..2024-06"),
    ]
    doubled = month("2024-07", total_amount=(0, 60_000.0))
    assert [w[0] for w in warnings_for(doubled, money_factor=2)] == [HistoryRule.MONEY_PER_TRIP]
    assert warnings_for(doubled, money_factor=3) == []


def test_the_median_is_over_the_last_history_months_only():
    older = [month(f"2023-{m:02d}", total_amount=(0, 1_000.0)) for m in range(6, 13)]
    candidate = month("2024-07", total_amount=(0, 26_000.0))
    assert warnings_for(candidate, older + HISTORY, history_months=6) == []
    assert warnings_for(candidate, older + HISTORY, history_months=13) == [
        (HistoryRule.MONEY_PER_TRIP, "total_amount", 26.0, 1.0, "2023-06..2024-06"),
    ]


def test_no_history_no_rows_other_datasets_and_later_months_give_no_warning():
    empty = month("2024-07", 0, passenger_count=(0, None))
    assert history_warnings(empty, HISTORY) == []
    assert history_warnings(month("2024-01", passenger_count=(900, None)), HISTORY) == []
    green = MonthProfile("green", "2024-07", 1000, (ColumnProfile("passenger_count", 900),))
    assert history_warnings(green, HISTORY) == []


@pytest.mark.parametrize(
    "limits",
    [{"null_share_before": 0.6, "null_share_after": 0.5}, {"money_factor": 1.0},
     {"history_months": 0}],
)  # fmt: skip
def test_thresholds_that_cannot_work_are_refused(limits):
    with pytest.raises(ValueError, match=r"null shares|money_factor"):
        HistoryThresholds(**limits)


def test_fhvhv_profiles_its_fare_and_driver_pay():
    summed = [c.name for c in profiled_columns(FHVHV) if Stat.SUM in c.stats]
    assert summed[:1] == ["base_passenger_fare"]
    assert "driver_pay" in summed
