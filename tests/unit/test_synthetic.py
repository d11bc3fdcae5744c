"""pipeline.dev.synthetic: TLC's file schemas per era, deterministic output, planted dirty rows.

The planted counts are checked here against the written file with pyarrow, independently of Spark
and of pipeline.contract.rules' implementation; the transform tests then check Spark against them.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipeline.contract.datasets import GREEN, YELLOW
from pipeline.contract.errors import InvalidInput
from pipeline.contract.months import Month
from pipeline.contract.rules import RULE_NAMES
from pipeline.dev import synthetic

# Rates high enough that a 2,000-row month holds every kind of dirty row.
EVERY_KIND = synthetic.DirtyRates(
    pickup_2002=0.002, pickup_2008=0.002, pickup_next_month=0.003, dropoff_before_pickup=0.004,
    zero_distance=0.01, negative_amounts=0.01, zero_total=0.003, null_block=0.05,
)  # fmt: skip


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_2025_era_has_exactly_the_real_sample_schema(tmp_path, sample5):
    summary = synthetic.write_month(tmp_path / "y.parquet", YELLOW, Month(2025, 1), 500)
    written = pq.read_schema(summary.path)
    real = pq.read_schema(sample5)
    assert [(f.name, f.type) for f in written] == [(f.name, f.type) for f in real]
    assert summary.era == "yellow-2025"


def test_default_era_follows_the_month():
    assert synthetic.era_for(YELLOW, Month(2009, 12)).name == "yellow-2009"
    assert synthetic.era_for(YELLOW, Month(2018, 12)).name == "yellow-2011"
    assert synthetic.era_for(YELLOW, Month(2023, 6)).name == "yellow-2023"
    assert synthetic.era_for(GREEN, Month(2013, 8)).name == "green-2013"
    with pytest.raises(InvalidInput, match="green starts in 2013-08"):
        synthetic.era_for(GREEN, Month(2013, 7))


@pytest.mark.parametrize(
    "era", [e for eras in synthetic.ERAS.values() for e in eras], ids=lambda e: e.name
)
def test_every_era_writes_its_schema_with_row_groups_and_snappy(tmp_path, era):
    dataset = YELLOW if era.name.startswith("yellow") else GREEN
    summary = synthetic.write_month(tmp_path / "f.parquet", dataset, era.first_month, 300, era=era)
    file = pq.ParquetFile(summary.path)
    assert file.schema_arrow == era.schema()
    assert file.metadata.num_rows == 300
    assert file.metadata.row_group(0).column(0).compression == "SNAPPY"


def test_known_era_details(tmp_path):
    def schema(dataset, era):
        path = tmp_path / f"{era}.parquet"
        synthetic.write_month(path, dataset, Month(2019, 1), 50, era=era)
        return pq.read_schema(path)

    old = schema(YELLOW, "yellow-2011")
    assert old.field("airport_fee").type == pa.null()
    assert old.field("congestion_surcharge").type == pa.null()
    assert schema(YELLOW, "yellow-2019").field("passenger_count").type == pa.float64()
    assert "Airport_fee" in schema(YELLOW, "yellow-2023").names
    green = schema(GREEN, "green-2019")
    assert green.field("ehail_fee").type == pa.null()
    assert green.field("trip_type").type == pa.float64()
    early = schema(YELLOW, "yellow-2009")
    assert early.field("Trip_Pickup_DateTime").type == pa.string()
    assert early.field("vendor_name").type == pa.string()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    args = (YELLOW, Month(2024, 2), 1_000)
    synthetic.write_month(tmp_path / "a.parquet", *args, seed=5)
    synthetic.write_month(tmp_path / "b.parquet", *args, seed=5)
    synthetic.write_month(tmp_path / "c.parquet", *args, seed=6)
    assert _sha(tmp_path / "a.parquet") == _sha(tmp_path / "b.parquet")
    assert _sha(tmp_path / "a.parquet") != _sha(tmp_path / "c.parquet")


def _first_failures(table: pa.Table, month: Month) -> dict[str, int]:
    """The rules re-implemented with pyarrow: an oracle independent of Spark and rules.py."""
    start = datetime(month.year, month.month, 1)
    end = datetime(month.next().year, month.next().month, 1)
    pickup = table["tpep_pickup_datetime"].cast(pa.timestamp("us"))
    dropoff = table["tpep_dropoff_datetime"].cast(pa.timestamp("us"))
    checks = {
        "pickup_in_month": pc.and_(
            pc.greater_equal(pickup, pa.scalar(start, pa.timestamp("us"))),
            pc.less(pickup, pa.scalar(end, pa.timestamp("us"))),
        ),
        "dropoff_not_before_pickup": pc.greater_equal(dropoff, pickup),
        "positive_distance": pc.greater(table["trip_distance"], 0),
        "positive_fare": pc.greater(table["fare_amount"], 0),
        "positive_total": pc.greater(table["total_amount"], 0),
    }
    still_ok = pa.array([True] * table.num_rows)
    failures = {}
    for name, passed in checks.items():
        failed = pc.and_(still_ok, pc.invert(pc.fill_null(passed, False)))
        failures[name] = pc.sum(failed).as_py() or 0
        still_ok = pc.and_(still_ok, pc.fill_null(passed, False))
    return failures


def test_planted_rows_fail_exactly_the_rules_the_summary_predicts(tmp_path):
    month = Month(2024, 2)
    summary = synthetic.write_month(tmp_path / "d.parquet", YELLOW, month, 2_000, seed=3,
                                    rates=EVERY_KIND)  # fmt: skip
    assert all(rows > 0 for rows in summary.dirty.values()), summary.dirty
    table = pq.read_table(summary.path)
    assert _first_failures(table, month) == summary.expected_rejected
    assert list(summary.expected_rejected) == list(RULE_NAMES)
    expected = synthetic.expected_counts(summary)
    assert expected["rows_in"] == 2_000
    assert expected["rows_loaded"] + expected["rows_quarantined"] == 2_000
    assert expected["rows_quarantined"] == sum(
        summary.dirty[k.value] for k, rule in synthetic.EXPECTED_RULE.items() if rule
    )


def test_default_rates_plant_every_rejection_kind_in_a_demo_month(tmp_path):
    summary = synthetic.write_month(tmp_path / "demo.parquet", YELLOW, Month(2024, 1), 200_000)
    assert all(rows > 0 for rows in summary.dirty.values()), summary.dirty
    assert 0.02 < summary.expected_quarantined / summary.rows < 0.05


@pytest.mark.parametrize("rows", [synthetic.EVERY_KIND_FROM_ROWS, 5_000])
def test_a_small_month_still_plants_every_kind(tmp_path, rows):
    summary = synthetic.write_month(tmp_path / "small.parquet", YELLOW, Month(2024, 1), rows)
    assert all(planted >= 1 for planted in summary.dirty.values()), summary.dirty
    assert all(count >= 1 for count in summary.expected_rejected.values())


def test_a_tiny_month_plants_only_what_its_rates_round_to(tmp_path):
    summary = synthetic.write_month(tmp_path / "tiny.parquet", YELLOW, Month(2024, 1), 50)
    assert summary.dirty["pickup_2002"] == 0  # round(50 * 0.00001)
    assert summary.dirty["zero_distance"] == 1  # round(50 * 0.015)


def test_old_pickups_are_the_meter_reset_dates(tmp_path):
    summary = synthetic.write_month(tmp_path / "d.parquet", YELLOW, Month(2024, 2), 2_000,
                                    rates=EVERY_KIND)  # fmt: skip
    days = pc.strftime(pq.read_table(summary.path)["tpep_pickup_datetime"], "%Y-%m-%d")
    found = pc.value_counts(days).to_pylist()
    counts = {item["values"]: item["counts"] for item in found}
    assert counts["2002-12-31"] == summary.dirty["pickup_2002"]
    assert counts["2008-12-31"] == summary.dirty["pickup_2008"]


def test_null_block_sits_at_the_end_with_payment_type_zero(tmp_path):
    summary = synthetic.write_month(tmp_path / "n.parquet", YELLOW, Month(2024, 2), 1_000,
                                    rates=EVERY_KIND)  # fmt: skip
    blank = summary.dirty["null_block"]
    table = pq.read_table(summary.path)
    tail, head = table.slice(1_000 - blank), table.slice(0, 1_000 - blank)
    for name in ("passenger_count", "RatecodeID", "store_and_fwd_flag", "congestion_surcharge",
                 "Airport_fee"):  # fmt: skip
        assert tail[name].null_count == blank
        assert head[name].null_count == 0
    assert set(tail["payment_type"].to_pylist()) == {0}
    assert 0 not in set(head["payment_type"].to_pylist())


def test_no_null_block_before_2019_eras(tmp_path):
    summary = synthetic.write_month(tmp_path / "o.parquet", YELLOW, Month(2015, 3), 1_000,
                                    rates=EVERY_KIND)  # fmt: skip
    assert summary.dirty["null_block"] == 0
    assert pq.read_table(summary.path)["passenger_count"].null_count == 0


def test_2009_text_columns_look_like_tlc(tmp_path):
    summary = synthetic.write_month(tmp_path / "t.parquet", YELLOW, Month(2009, 3), 2_000)
    table = pq.read_table(summary.path)
    times = table["Trip_Pickup_DateTime"].to_pylist()
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", t) for t in times)
    assert set(table["vendor_name"].to_pylist()) == {"CMT", "VTS"}
    payments = set(table["Payment_Type"].to_pylist())
    assert {"CASH", "Cash", "Credit", "CREDIT"} <= payments
    assert payments <= {"CASH", "Cash", "Credit", "CREDIT", "No Charge", "Dispute", "Unknown"}
    assert set(table["Rate_Code"].to_pylist()) <= {"1", "2", "3", "4", "5", "99"}


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
        ({"rates": synthetic.DirtyRates(zero_distance=0.7, negative_amounts=0.7)}, "at most 10"),
        ({"rates": synthetic.DirtyRates(zero_distance=-0.1)}, "a fraction from 0 to 1"),
    ],
)
def test_bad_arguments_are_refused_before_writing(tmp_path, kwargs, message):
    arguments = {"rows": 10, **kwargs}
    with pytest.raises(InvalidInput, match=re.escape(message)):
        synthetic.write_month(tmp_path / "x.parquet", YELLOW, Month(2024, 1), **arguments)
    assert not (tmp_path / "x.parquet").exists()
