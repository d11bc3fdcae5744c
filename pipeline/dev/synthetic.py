"""Synthetic TLC months in TLC's own file schema, with realistic distributions and dirty rows.

The demo and the benchmark use these files instead of TLC's (no internet needed), and the tests
build one file per schema era with them. pyarrow + numpy only, deterministic by seed, vectorised:
a real-size month (3.5M rows) takes a few seconds.

What is known and what is approximated:
- Known (the real 2025-01 sample, `yellow_tripdata_2025-01_sample5.parquet`): the 2025 yellow
  column names, order and arrow types (VendorID int32, timestamp[us], passenger_count and
  RatecodeID int64, store_and_fwd_flag large_string, PU/DOLocationID int32, payment_type int64,
  amounts double, `Airport_fee` capitalised, `cbd_congestion_fee`), snappy compression, and
  TLC's data dictionary codes. The 265 zone ids and boroughs are copied from TLC's zone lookup.
- Approximated from TLC's published column history (not checked file by file here): the older
  eras' exact arrow types (int64 vs int32 vs double), 2009's Rate_Code/store_and_forward as
  text, which years stored TIMESTAMP(NANOS), green's per-era types, the fee schedules, and every
  distribution below (trip lengths, speeds, tips, zone weights, dirty-row rates). They are
  plausible, not measured; the pipeline must cope with them, not reproduce TLC's statistics.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.contract.datasets import ColumnType, Dataset
from pipeline.contract.errors import InvalidInput
from pipeline.contract.months import Month
from pipeline.contract.rules import RuleName, zero_counts
from pipeline.storage.arrow import arrow_type

# pyarrow's default maximum row group (1 Mi rows), which is what TLC's files show.
ROW_GROUP_ROWS = 1_048_576
US_PER_SECOND = 1_000_000
SECONDS_PER_DAY = 86_400

# The borough of zone id i+1 (TLC's taxi_zone_lookup.csv, ids 1..265): M Manhattan, Q Queens,
# K Brooklyn, X Bronx, S Staten Island, E Newark airport, U unknown / outside NYC.
ZONE_BOROUGHS = (
    "EQXMSSQQQQKMMKQQKXQXKKSMKKQQKQXXKKKKKQKKMMMSMXXMKMXKQKKQQXXXKKKQKKKMXQKKQMMKKXMKXQQSKQMMKM"
    "KQQXQQKQSMQQMMMKMKSSKKMMSMQSXMQQKQMXMMQQQQKQQXMQQMMMMMQQXMKKMMMKKSQMXQMMMMKMXXXMQSQXQSKKQQ"
    "KXXXXMSKKKQQQMKQQQXXQMQSQSQXMKMXXSQQKQQXSKQMKQKKMMMMMMXMMMMXXXMMSMXXMXSQQXKKKQXQMMMUU"
)
JFK, LAGUARDIA = 132, 138
# Share of pickups per borough; airports get their own share. Yellow is mostly Manhattan; green
# cabs may not pick up in most of Manhattan, so their trips start in the outer boroughs.
BOROUGH_SHARE: Mapping[str, Mapping[str, float]] = {
    "yellow": {"M": 0.88, "Q": 0.025, "K": 0.02, "X": 0.005, "S": 0.0005, "E": 0.0005, "U": 0.01},
    "green": {"M": 0.25, "Q": 0.32, "K": 0.30, "X": 0.12, "S": 0.001, "E": 0.0005, "U": 0.0085},
}
AIRPORT_SHARE = {"yellow": {JFK: 0.035, LAGUARDIA: 0.025}, "green": {JFK: 0.002, LAGUARDIA: 0.003}}
# Rough centres for the 2009-2010 files, which have coordinates instead of zone ids.
BOROUGH_CENTRE = {
    "M": (-73.980, 40.758), "Q": (-73.830, 40.730), "K": (-73.950, 40.650),
    "X": (-73.880, 40.840), "S": (-74.130, 40.580), "E": (-74.175, 40.690), "U": (0.0, 0.0),
}  # fmt: skip
# Share of trips starting in each hour of the day (NYC's evening peak, quiet 4-5 am).
HOURLY_SHARE = np.array([
    2.9, 2.0, 1.4, 0.9, 0.7, 0.9, 2.0, 3.4, 4.3, 4.4, 4.5, 4.8,
    5.1, 5.2, 5.6, 5.9, 5.9, 6.6, 7.1, 6.5, 5.8, 5.6, 5.0, 3.9,
])  # fmt: skip
WEEKDAY_SHARE = (1.0, 1.0, 1.05, 1.1, 1.1, 1.0, 0.8)  # Monday..Sunday


class DirtyKind(str, enum.Enum):
    """Kinds of bad rows TLC's files contain, each planted to fail one rule first (or none)."""

    PICKUP_2002 = "pickup_2002"  # meter clocks reset to 2002-12-31 / 2008-12-31
    PICKUP_2008 = "pickup_2008"
    PICKUP_NEXT_MONTH = "pickup_next_month"  # trips just after midnight of the next month
    DROPOFF_BEFORE_PICKUP = "dropoff_before_pickup"
    ZERO_DISTANCE = "zero_distance"
    NEGATIVE_AMOUNTS = "negative_amounts"  # voids/refunds: every amount negated
    ZERO_TOTAL = "zero_total"  # approximation: a positive fare with a 0.00 total
    NULL_BLOCK = "null_block"  # loadable: nulls + payment_type 0 at the file's end (2019+ eras)


# The rule each kind fails first; None: the row is loadable.
EXPECTED_RULE: Mapping[DirtyKind, RuleName | None] = {
    DirtyKind.PICKUP_2002: RuleName.PICKUP_IN_MONTH,
    DirtyKind.PICKUP_2008: RuleName.PICKUP_IN_MONTH,
    DirtyKind.PICKUP_NEXT_MONTH: RuleName.PICKUP_IN_MONTH,
    DirtyKind.DROPOFF_BEFORE_PICKUP: RuleName.DROPOFF_NOT_BEFORE_PICKUP,
    DirtyKind.ZERO_DISTANCE: RuleName.POSITIVE_DISTANCE,
    DirtyKind.NEGATIVE_AMOUNTS: RuleName.POSITIVE_FARE,
    DirtyKind.ZERO_TOTAL: RuleName.POSITIVE_TOTAL,
    DirtyKind.NULL_BLOCK: None,
}


EVERY_KIND_FROM_ROWS = 1_000


@dataclass(frozen=True)
class DirtyRates:
    """Fraction of a month's rows of each dirty kind; round(rows * rate) rows are planted, and at
    least one of every kind with a non-zero rate in a month of EVERY_KIND_FROM_ROWS rows or more,
    so a small demo month still shows every rule at work.
    """

    pickup_2002: float = 0.00001
    pickup_2008: float = 0.00001
    pickup_next_month: float = 0.00005
    dropoff_before_pickup: float = 0.0001
    zero_distance: float = 0.015
    negative_amounts: float = 0.012
    zero_total: float = 0.0002
    null_block: float = 0.04

    def rows(self, kind: DirtyKind, total: int) -> int:
        rate = getattr(self, kind.value)
        if not 0 <= rate <= 1:
            raise InvalidInput(f"{kind.value} rate", rate, "a fraction from 0 to 1")
        planted = round(total * rate)
        return max(1, planted) if rate > 0 and total >= EVERY_KIND_FROM_ROWS else planted


CLEAN = DirtyRates(**{kind.value: 0.0 for kind in DirtyKind})


class Kind(enum.Enum):
    """How a file column is made from the generated trip values."""

    NUMBER = "number"  # a numeric field cast to the column's arrow type
    TIMESTAMP = "timestamp"  # in the era's timestamp unit
    TEXT_TIMESTAMP = "text_timestamp"  # '2009-01-04 02:52:00'
    NUMERIC_TEXT = "numeric_text"  # '1', '99'
    CODE_TEXT = "code_text"  # a code spelled as a word ('CASH', 'Credit', 'VTS')
    FLAG = "flag"  # 'N' / 'Y'
    LONGITUDE = "longitude"
    LATITUDE = "latitude"
    NULL = "null"  # arrow's null type: the column exists, no value was ever written


@dataclass(frozen=True)
class FileColumn:
    name: str
    kind: Kind
    field: str  # the `Trips` attribute it is made from
    type: pa.DataType
    spellings: Mapping[int, tuple[str, ...]] | None = None  # CODE_TEXT: code -> its spellings


def _num(name: str, field_name: str, type_: pa.DataType | None = None) -> FileColumn:
    return FileColumn(name, Kind.NUMBER, field_name, type_ or pa.float64())


def _ts(name: str, field_name: str) -> FileColumn:
    return FileColumn(name, Kind.TIMESTAMP, field_name, pa.timestamp("us"))


def _text(name: str, kind: Kind, field_name: str, type_: pa.DataType | None = None, spellings=None):
    return FileColumn(name, kind, field_name, type_ or pa.string(), spellings)


def _null(name: str, field_name: str) -> FileColumn:
    return FileColumn(name, Kind.NULL, field_name, pa.null())


@dataclass(frozen=True)
class Era:
    """One schema era of a dataset: the first month it covers and its columns as TLC wrote them."""

    name: str
    first_month: Month
    columns: tuple[FileColumn, ...]
    timestamp_unit: str = "us"
    null_block: bool = False  # recent files end with a block of rows with nulls

    def schema(self, timestamp_unit: str | None = None) -> pa.Schema:
        unit = timestamp_unit or self.timestamp_unit
        return pa.schema(
            [
                (c.name, pa.timestamp(unit) if c.kind is Kind.TIMESTAMP else c.type)
                for c in self.columns
            ]
        )

    def has_values(self, trips_field: str) -> bool:
        return any(c.field == trips_field and c.kind is not Kind.NULL for c in self.columns)


I32, I64, F64, TEXT, LTEXT = pa.int32(), pa.int64(), pa.float64(), pa.string(), pa.large_string()
VENDOR_SPELLINGS = {1: ("CMT",), 2: ("VTS",)}
PAYMENT_SPELLINGS_2009 = {
    1: ("Credit", "CREDIT"), 2: ("CASH", "Cash"), 3: ("No Charge",), 4: ("Dispute",),
    5: ("Unknown",),
}  # fmt: skip
PAYMENT_SPELLINGS_2010 = {
    1: ("CRE", "Cre", "CRD"), 2: ("CAS", "Cas", "CSH"), 3: ("NOC",), 4: ("DIS",), 5: ("UNK",),
}  # fmt: skip


def _coordinates(prefix: tuple[str, str], field_name: str) -> tuple[FileColumn, FileColumn]:
    return (
        FileColumn(prefix[0], Kind.LONGITUDE, field_name, F64),
        FileColumn(prefix[1], Kind.LATITUDE, field_name, F64),
    )


YELLOW_2009 = Era("yellow-2009", Month(2009, 1), (
    _text("vendor_name", Kind.CODE_TEXT, "vendor", spellings=VENDOR_SPELLINGS),
    _text("Trip_Pickup_DateTime", Kind.TEXT_TIMESTAMP, "pickup"),
    _text("Trip_Dropoff_DateTime", Kind.TEXT_TIMESTAMP, "dropoff"),
    _num("Passenger_Count", "passengers", I64), _num("Trip_Distance", "distance"),
    *_coordinates(("Start_Lon", "Start_Lat"), "pickup_zone"),
    _text("Rate_Code", Kind.NUMERIC_TEXT, "ratecode"),
    _text("store_and_forward", Kind.FLAG, "stored"),
    *_coordinates(("End_Lon", "End_Lat"), "dropoff_zone"),
    _text("Payment_Type", Kind.CODE_TEXT, "payment", spellings=PAYMENT_SPELLINGS_2009),
    _num("Fare_Amt", "fare"), _num("surcharge", "extra"), _num("mta_tax", "mta_tax"),
    _num("Tip_Amt", "tip"), _num("Tolls_Amt", "tolls"), _num("Total_Amt", "total"),
))  # fmt: skip

YELLOW_2010 = Era("yellow-2010", Month(2010, 1), (
    _text("vendor_id", Kind.CODE_TEXT, "vendor", spellings=VENDOR_SPELLINGS),
    _text("pickup_datetime", Kind.TEXT_TIMESTAMP, "pickup"),
    _text("dropoff_datetime", Kind.TEXT_TIMESTAMP, "dropoff"),
    _num("passenger_count", "passengers", I64), _num("trip_distance", "distance"),
    *_coordinates(("pickup_longitude", "pickup_latitude"), "pickup_zone"),
    _num("rate_code", "ratecode", I64), _text("store_and_fwd_flag", Kind.FLAG, "stored"),
    *_coordinates(("dropoff_longitude", "dropoff_latitude"), "dropoff_zone"),
    _text("payment_type", Kind.CODE_TEXT, "payment", spellings=PAYMENT_SPELLINGS_2010),
    _num("fare_amount", "fare"), _num("surcharge", "extra"), _num("mta_tax", "mta_tax"),
    _num("tip_amount", "tip"), _num("tolls_amount", "tolls"), _num("total_amount", "total"),
))  # fmt: skip


def _yellow_zoned(
    name: str, first: Month, *, ids: pa.DataType, counts: pa.DataType, flag: pa.DataType,
    congestion: bool, airport: str | None, cbd: bool = False, vendor: pa.DataType = I64,
) -> Era:  # fmt: skip
    """2011 onwards: tpep_* times and zone ids; types and the newer fees vary by era."""
    columns = (
        _num("VendorID", "vendor", vendor), _ts("tpep_pickup_datetime", "pickup"),
        _ts("tpep_dropoff_datetime", "dropoff"), _num("passenger_count", "passengers", counts),
        _num("trip_distance", "distance"), _num("RatecodeID", "ratecode", counts),
        _text("store_and_fwd_flag", Kind.FLAG, "stored", flag),
        _num("PULocationID", "pickup_zone", ids), _num("DOLocationID", "dropoff_zone", ids),
        _num("payment_type", "payment", I64), _num("fare_amount", "fare"),
        _num("extra", "extra"), _num("mta_tax", "mta_tax"), _num("tip_amount", "tip"),
        _num("tolls_amount", "tolls"), _num("improvement_surcharge", "improvement"),
        _num("total_amount", "total"),
        _num("congestion_surcharge", "congestion") if congestion
        else _null("congestion_surcharge", "congestion"),
        _num(airport, "airport") if airport else _null("airport_fee", "airport"),
    )  # fmt: skip
    if cbd:
        columns += (_num("cbd_congestion_fee", "cbd"),)
    return Era(name, first, columns, null_block=congestion)


YELLOW_ERAS: tuple[Era, ...] = (
    YELLOW_2009,
    YELLOW_2010,
    _yellow_zoned("yellow-2011", Month(2011, 1), ids=I64, counts=I64, flag=TEXT,
                  congestion=False, airport=None),
    _yellow_zoned("yellow-2019", Month(2019, 1), ids=I64, counts=F64, flag=TEXT,
                  congestion=True, airport=None),
    _yellow_zoned("yellow-2022", Month(2022, 1), ids=I64, counts=F64, flag=TEXT,
                  congestion=True, airport="airport_fee"),
    _yellow_zoned("yellow-2023", Month(2023, 1), ids=I64, counts=F64, flag=TEXT,
                  congestion=True, airport="Airport_fee"),
    _yellow_zoned("yellow-2024", Month(2024, 1), ids=I32, counts=I64, flag=LTEXT,
                  congestion=True, airport="Airport_fee", vendor=I32),
    # Exactly the real 2025-01 sample's schema.
    _yellow_zoned("yellow-2025", Month(2025, 1), ids=I32, counts=I64, flag=LTEXT,
                  congestion=True, airport="Airport_fee", vendor=I32, cbd=True),
)  # fmt: skip


def _green(
    name: str, first: Month, *, ids: pa.DataType, counts: pa.DataType, flag: pa.DataType,
    congestion: bool, cbd: bool = False, vendor: pa.DataType = I64,
) -> Era:  # fmt: skip
    """Green (from 2013-08): lpep_* times, ehail_fee never filled (null type), trip_type."""
    columns = (
        _num("VendorID", "vendor", vendor), _ts("lpep_pickup_datetime", "pickup"),
        _ts("lpep_dropoff_datetime", "dropoff"),
        _text("store_and_fwd_flag", Kind.FLAG, "stored", flag),
        _num("RatecodeID", "ratecode", counts),
        _num("PULocationID", "pickup_zone", ids), _num("DOLocationID", "dropoff_zone", ids),
        _num("passenger_count", "passengers", counts), _num("trip_distance", "distance"),
        _num("fare_amount", "fare"), _num("extra", "extra"), _num("mta_tax", "mta_tax"),
        _num("tip_amount", "tip"), _num("tolls_amount", "tolls"), _null("ehail_fee", "ehail"),
        _num("improvement_surcharge", "improvement"), _num("total_amount", "total"),
        _num("payment_type", "payment", counts), _num("trip_type", "trip_type", counts),
        _num("congestion_surcharge", "congestion") if congestion
        else _null("congestion_surcharge", "congestion"),
    )  # fmt: skip
    if cbd:
        columns += (_num("cbd_congestion_fee", "cbd"),)
    return Era(name, first, columns, null_block=congestion)


GREEN_ERAS: tuple[Era, ...] = (
    _green("green-2013", Month(2013, 8), ids=I64, counts=I64, flag=TEXT, congestion=False),
    _green("green-2019", Month(2019, 1), ids=I64, counts=F64, flag=TEXT, congestion=True),
    _green("green-2024", Month(2024, 1), ids=I32, counts=I64, flag=LTEXT, congestion=True,
           vendor=I32),
    _green("green-2025", Month(2025, 1), ids=I32, counts=I64, flag=LTEXT, congestion=True,
           vendor=I32, cbd=True),
)  # fmt: skip

ERAS: Mapping[str, tuple[Era, ...]] = {"yellow": YELLOW_ERAS, "green": GREEN_ERAS}
TIMESTAMP_UNITS = ("ms", "us", "ns")
# Fields the null block blanks (payment_type becomes 0 instead).
BLANKED_FIELDS = frozenset({"passengers", "ratecode", "stored", "congestion", "airport"})


def era_for(dataset: Dataset, month: Month) -> Era:
    """The era TLC's file for `month` belongs to."""
    eras = ERAS[dataset.name]
    if month < eras[0].first_month:
        raise InvalidInput("month", str(month), f"{dataset.name} starts in {eras[0].first_month}")
    return [era for era in eras if era.first_month <= month][-1]


def era_named(name: str) -> Era:
    eras = {era.name: era for group in ERAS.values() for era in group}
    if name not in eras:
        raise InvalidInput("era", name, f"one of {', '.join(eras)}")
    return eras[name]


@dataclass
class Trips:
    """One month of generated trips as numpy arrays, before they take an era's file shape."""

    vendor: np.ndarray
    pickup: np.ndarray  # int64 microseconds since 1970-01-01, wall clock (no zone, like TLC)
    dropoff: np.ndarray
    passengers: np.ndarray
    distance: np.ndarray
    ratecode: np.ndarray
    stored: np.ndarray  # bool: 'Y' (store and forward)
    pickup_zone: np.ndarray
    dropoff_zone: np.ndarray
    payment: np.ndarray
    fare: np.ndarray
    extra: np.ndarray
    mta_tax: np.ndarray
    tip: np.ndarray
    tolls: np.ndarray
    improvement: np.ndarray
    congestion: np.ndarray
    airport: np.ndarray
    cbd: np.ndarray
    ehail: np.ndarray
    trip_type: np.ndarray
    total: np.ndarray
    blank: np.ndarray  # bool: the null block


def _epoch_us(day: date) -> int:
    return (day - date(1970, 1, 1)).days * SECONDS_PER_DAY * US_PER_SECOND


def _zone_weights(dataset: str) -> np.ndarray:
    """Pickup probability per zone id (index 0 = id 1): borough share x fixed zone popularity."""
    boroughs = np.array(list(ZONE_BOROUGHS))
    popularity = np.random.default_rng(265).lognormal(0.0, 1.0, len(boroughs))
    weights = np.zeros(len(boroughs))
    for borough, share in BOROUGH_SHARE[dataset].items():
        members = boroughs == borough
        weights[members] = share * popularity[members] / popularity[members].sum()
    for zone, share in AIRPORT_SHARE[dataset].items():
        weights[zone - 1] = share
    return weights / weights.sum()


def _pickups(rng: np.random.Generator, month: Month, n: int) -> tuple[np.ndarray, ...]:
    """Pickup times over the month: weekday and hour-of-day cycles, whole seconds."""
    days = (month.next().first_day - month.first_day).days
    weekdays = (month.first_day.weekday() + np.arange(days)) % 7
    day_share = np.array(WEEKDAY_SHARE)[weekdays]
    day = rng.choice(days, size=n, p=day_share / day_share.sum())
    hour = rng.choice(24, size=n, p=HOURLY_SHARE / HOURLY_SHARE.sum())
    seconds = (day * 24 + hour) * 3600 + rng.integers(0, 3600, n)
    pickup = _epoch_us(month.first_day) + seconds * US_PER_SECOND
    return pickup, hour, weekdays[day]


def _distance_and_duration(
    rng: np.random.Generator, n: int, hour: np.ndarray, airport_trip: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Log-normal distances (median ~1.7 mi, airports ~11 mi); durations from hourly speeds."""
    distance = rng.lognormal(np.log(1.4), 0.9, n)  # with the airport trips: median ~1.7
    distance[airport_trip] = rng.lognormal(np.log(11.0), 0.3, int(airport_trip.sum()))
    distance = np.round(np.clip(distance, 0.05, 80.0), 2)
    busy = (hour >= 7) & (hour < 20)
    mph = np.clip(rng.lognormal(np.where(busy, np.log(9.0), np.log(14.0)), 0.3), 2.0, 45.0)
    seconds = np.round(60 + distance / mph * 3600).astype(np.int64)
    return distance, seconds


def _tariff(month: Month) -> tuple[float, float, float, float]:
    """(initial charge, per mile, per slow minute, JFK flat fare) in force that month."""
    if month < Month(2012, 9):
        return 2.5, 2.0, 0.4, 45.0
    if month < Month(2022, 12):
        return 2.5, 2.5, 0.5, 52.0
    return 3.0, 3.5, 0.7, 70.0


def _fares(
    rng: np.random.Generator, month: Month, distance: np.ndarray, seconds: np.ndarray,
    ratecode: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Metered fare (initial + distance + time in slow traffic) with a little noise."""
    initial, per_mile, per_minute, jfk_flat = _tariff(month)
    slow_minutes = seconds / 60 * rng.uniform(0.0, 0.3, len(distance))
    fare = (initial + per_mile * distance + per_minute * slow_minutes) * rng.lognormal(
        0.0, 0.03, len(distance)
    )
    fare = np.where(ratecode == 2, jfk_flat, fare)
    fare = np.where(ratecode == 5, fare * rng.uniform(0.8, 1.6, len(distance)), fare)
    return np.round(fare, 2)


def _fees(
    rng: np.random.Generator, month: Month, hour: np.ndarray, weekday: np.ndarray,
    pickup_zone: np.ndarray, dropoff_zone: np.ndarray,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Surcharges as the fee schedule of that month charged them (approximate dates)."""
    n = len(hour)
    night = (hour >= 20) | (hour < 6)
    peak = (weekday < 5) & (hour >= 16) & (hour < 20)
    boroughs = np.array(list(ZONE_BOROUGHS))
    manhattan = (boroughs[pickup_zone - 1] == "M") | (boroughs[dropoff_zone - 1] == "M")
    at_airport = np.isin(pickup_zone, (JFK, LAGUARDIA))
    toll = 5.33 if month < Month(2015, 1) else 5.76 if month < Month(2019, 1) else 6.94
    airport_fee = 0.0 if month < Month(2021, 3) else 1.25 if month < Month(2023, 1) else 1.75
    improvement = 0.0 if month < Month(2015, 1) else 0.3 if month < Month(2023, 1) else 1.0
    return {
        "extra": np.where(night, 0.5, np.where(peak, 1.0, 0.0)),
        "mta_tax": np.full(n, 0.5 if month >= Month(2009, 7) else 0.0),
        "tolls": np.where(rng.random(n) < 0.05, toll, 0.0),
        "improvement": np.full(n, improvement),
        "congestion": np.where(manhattan & (month >= Month(2019, 2)), 2.5, 0.0),
        "airport": np.where(at_airport, airport_fee, 0.0),
        "cbd": np.where(manhattan & (rng.random(n) < 0.7) & (month >= Month(2025, 1)), 0.75, 0.0),
        "ehail": np.zeros(n),
    }


def _generate(rng: np.random.Generator, dataset: Dataset, month: Month, n: int) -> Trips:
    """Clean, loadable trips: every row passes every rule (dirty rows are planted after)."""
    pickup, hour, weekday = _pickups(rng, month, n)
    zones = np.arange(1, len(ZONE_BOROUGHS) + 1)
    weights = _zone_weights(dataset.name)
    pickup_zone = rng.choice(zones, size=n, p=weights)
    dropoff_zone = rng.choice(zones, size=n, p=weights)
    ratecode = rng.choice([1, 2, 3, 4, 5, 99], size=n, p=[0.955, 0.02, 0.003, 0.002, 0.018, 0.002])
    jfk_flat = (ratecode == 2) & (pickup_zone != JFK)
    dropoff_zone[jfk_flat] = JFK  # the flat fare runs between Manhattan and JFK
    airport_trip = np.isin(pickup_zone, (JFK, LAGUARDIA)) | np.isin(dropoff_zone, (JFK, LAGUARDIA))
    distance, seconds = _distance_and_duration(rng, n, hour, airport_trip)
    card = 0.35 if month < Month(2011, 1) else 0.65 if month < Month(2019, 1) else 0.76
    payment = rng.choice([1, 2, 3, 4, 5], size=n, p=[card, 0.97 - card, 0.015, 0.01, 0.005])
    fare = _fares(rng, month, distance, seconds, ratecode)
    tipped = (payment == 1) & (rng.random(n) < 0.85)
    tip = np.where(tipped, np.round(fare * rng.uniform(0.12, 0.30, n), 2), 0.0)
    return Trips(
        vendor=np.where(rng.random(n) < 0.27, 1, 2),
        pickup=pickup,
        dropoff=pickup + seconds * US_PER_SECOND,
        passengers=rng.choice(7, size=n, p=[0.02, 0.72, 0.14, 0.04, 0.02, 0.035, 0.025]),
        distance=distance,
        ratecode=ratecode,
        stored=rng.random(n) < 0.005,
        pickup_zone=pickup_zone,
        dropoff_zone=dropoff_zone,
        payment=payment,
        fare=fare,
        tip=tip,
        trip_type=np.where(rng.random(n) < 0.97, 1, 2),
        total=np.zeros(n),
        blank=np.zeros(n, dtype=bool),
        **_fees(rng, month, hour, weekday, pickup_zone, dropoff_zone),
    )


AMOUNT_FIELDS = ("fare", "extra", "mta_tax", "tip", "tolls", "improvement", "congestion",
                 "airport", "cbd")  # fmt: skip


def _shift_pickup(trips: Trips, rows: np.ndarray, pickup: np.ndarray) -> None:
    """Move pickups, keeping each trip's duration."""
    duration = trips.dropoff[rows] - trips.pickup[rows]
    trips.pickup[rows] = pickup
    trips.dropoff[rows] = pickup + duration


def _plant(rng: np.random.Generator, trips: Trips, month: Month, kind: DirtyKind, rows) -> None:
    """Turn `rows` (clean trips) into `kind` dirty rows."""
    seconds = rng.integers(0, SECONDS_PER_DAY, len(rows)) * US_PER_SECOND
    if kind is DirtyKind.PICKUP_2002:
        _shift_pickup(trips, rows, _epoch_us(date(2002, 12, 31)) + seconds)
    elif kind is DirtyKind.PICKUP_2008:
        _shift_pickup(trips, rows, _epoch_us(date(2008, 12, 31)) + seconds)
    elif kind is DirtyKind.PICKUP_NEXT_MONTH:
        _shift_pickup(trips, rows, _epoch_us(month.next().first_day) + seconds // 8)
    elif kind is DirtyKind.DROPOFF_BEFORE_PICKUP:
        trips.dropoff[rows] = 2 * trips.pickup[rows] - trips.dropoff[rows]
    elif kind is DirtyKind.ZERO_DISTANCE:
        trips.distance[rows] = 0.0
    elif kind is DirtyKind.NEGATIVE_AMOUNTS:
        for name in AMOUNT_FIELDS:
            amounts = getattr(trips, name)
            amounts[rows] = 0.0 - amounts[rows]  # 0.0 - x keeps zeros at +0.0
        trips.payment[rows] = 4  # disputes and voids are where TLC's negative rows come from


def _plan(rates: DirtyRates, rows: int, era: Era) -> dict[DirtyKind, int]:
    planned = {kind: rates.rows(kind, rows) for kind in DirtyKind}
    if not era.null_block:
        planned[DirtyKind.NULL_BLOCK] = 0
    if sum(planned.values()) > rows:
        raise InvalidInput("dirty rates", rates, f"at most {rows} dirty rows in a {rows}-row month")
    return planned


def _make_dirty(rng: np.random.Generator, trips: Trips, month: Month, era: Era, planned) -> None:
    """Null block at the file's end (as TLC's), the other kinds on distinct random rows."""
    n = len(trips.pickup)
    clean = n - planned[DirtyKind.NULL_BLOCK]
    trips.blank[clean:] = True
    trips.payment[clean:] = 0
    trips.congestion[clean:] = 0.0  # null in the file: nothing was charged
    trips.airport[clean:] = 0.0
    order = rng.permutation(clean)
    start = 0
    zero_total = np.zeros(0, dtype=np.int64)
    for kind in DirtyKind:
        if kind is DirtyKind.NULL_BLOCK:
            continue
        rows = order[start : start + planned[kind]]
        start += planned[kind]
        if kind is DirtyKind.ZERO_TOTAL:
            zero_total = rows
        else:
            _plant(rng, trips, month, kind, rows)
    fees = [name for name in AMOUNT_FIELDS[1:] if era.has_values(name)]
    trips.total = np.round(trips.fare + sum(getattr(trips, name) for name in fees), 2)
    trips.total[zero_total] = 0.0


def _labels(labels, type_: pa.DataType, index: np.ndarray, missing: np.ndarray | None):
    return pa.array(list(labels), type_).take(pa.array(index, mask=missing))


def _spelled(column: FileColumn, codes: np.ndarray, mask, rng: np.random.Generator) -> pa.Array:
    """Codes as TLC's early files spelled them, mixing each code's spellings; unknown -> null."""
    spellings = column.spellings or {}
    labels: list[str] = []
    top = max(max(spellings), int(codes.max())) + 1
    first = np.full(top, -1, dtype=np.int64)
    variants = np.ones(top, dtype=np.int64)
    for code, names in spellings.items():
        first[code], variants[code] = len(labels), len(names)
        labels.extend(names)
    index = first[codes] + rng.integers(0, 1 << 20, len(codes)) % variants[codes]
    missing = first[codes] < 0
    return _labels(labels, column.type, index, missing if mask is None else missing | mask)


def _coordinate(column: FileColumn, zones: np.ndarray, rng: np.random.Generator) -> pa.Array:
    axis = 0 if column.kind is Kind.LONGITUDE else 1
    centre = np.array([BOROUGH_CENTRE[b][axis] for b in ZONE_BOROUGHS])[zones - 1]
    spread = np.where(centre == 0.0, 0.0, rng.normal(0.0, 0.015, len(zones)))
    return pa.array(np.round(centre + spread, 6), type=column.type)


def _column(column: FileColumn, trips: Trips, unit: str, rng: np.random.Generator) -> pa.Array:
    values = getattr(trips, column.field)
    mask = trips.blank if column.field in BLANKED_FIELDS and trips.blank.any() else None
    kind = column.kind
    if kind is Kind.NULL:
        return pa.nulls(len(values))
    if kind in (Kind.NUMBER, Kind.NUMERIC_TEXT):
        return pa.array(values, mask=mask).cast(column.type)
    if kind is Kind.TIMESTAMP:
        return pa.array(values, type=pa.timestamp("us")).cast(pa.timestamp(unit))
    if kind is Kind.TEXT_TIMESTAMP:
        # Arrow's cast prints 'YYYY-MM-DD HH:MM:SS' for whole seconds, 8x faster than strftime.
        seconds = pa.array(values // US_PER_SECOND, type=pa.timestamp("s"))
        return seconds.cast(pa.string()).cast(column.type)
    if kind is Kind.FLAG:
        return _labels(("N", "Y"), column.type, values.astype(np.int64), mask)
    if kind is Kind.CODE_TEXT:
        return _spelled(column, values, mask, rng)
    return _coordinate(column, values, rng)


@dataclass(frozen=True)
class MonthSummary:
    """What `write_month` wrote: enough to know the transform's exact counts in advance."""

    path: str
    dataset: str
    month: str
    era: str
    timestamp_unit: str
    rows: int
    dirty: Mapping[str, int]  # every DirtyKind -> rows planted

    @property
    def expected_rejected(self) -> dict[str, int]:
        """Rows each rule should reject first, every rule included (0 when none)."""
        rejected = zero_counts()
        for kind, rows in self.dirty.items():
            rule = EXPECTED_RULE[DirtyKind(kind)]
            if rule is not None:
                rejected[rule.value] += rows
        return rejected

    @property
    def expected_quarantined(self) -> int:
        return sum(self.expected_rejected.values())

    @property
    def expected_loaded(self) -> int:
        return self.rows - self.expected_quarantined


def expected_counts(summary: MonthSummary) -> dict[str, Any]:
    """The transform counts' fields this file must produce (a subset of the counts JSON)."""
    return {
        "dataset": summary.dataset,
        "month": summary.month,
        "rows_in": summary.rows,
        "rows_loaded": summary.expected_loaded,
        "rows_quarantined": summary.expected_quarantined,
        "rejected": summary.expected_rejected,
    }


def _choose_era(dataset: Dataset, month: Month, era: Era | str | None) -> Era:
    chosen = (
        era_for(dataset, month) if era is None else era_named(era) if isinstance(era, str) else era
    )
    if chosen not in ERAS[dataset.name]:
        names = ", ".join(e.name for e in ERAS[dataset.name])
        raise InvalidInput("era", chosen.name, f"a {dataset.name} era: {names}")
    return chosen


def write_month(
    path: Path | str,
    dataset: Dataset,
    month: Month,
    rows: int,
    seed: int = 0,
    era: Era | str | None = None,
    *,
    rates: DirtyRates | None = None,
    timestamp_unit: str | None = None,
) -> MonthSummary:
    """Write `rows` trips of `month` in TLC's file schema of that month's era (or `era`).

    `timestamp_unit` overrides the era's ("ns" makes the TIMESTAMP(NANOS) files some TLC months
    have); `rates` sets the dirty-row fractions (`CLEAN` for none). Same arguments, same bytes.
    """
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise InvalidInput("rows", rows, "a whole number of rows, at least 1")
    chosen = _choose_era(dataset, month, era)
    unit = timestamp_unit or chosen.timestamp_unit
    if unit not in TIMESTAMP_UNITS:
        raise InvalidInput("timestamp unit", unit, f"one of {', '.join(TIMESTAMP_UNITS)}")
    planned = _plan(rates or DirtyRates(), rows, chosen)
    rng = np.random.default_rng(seed)
    trips = _generate(rng, dataset, month, rows)
    _make_dirty(rng, trips, month, chosen, planned)
    arrays = [_column(column, trips, unit, rng) for column in chosen.columns]
    table = pa.Table.from_arrays(arrays, schema=chosen.schema(unit))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, target, row_group_size=ROW_GROUP_ROWS, compression="snappy")
    return MonthSummary(
        path=str(target), dataset=dataset.name, month=str(month), era=chosen.name,
        timestamp_unit=unit, rows=rows, dirty={kind.value: n for kind, n in planned.items()},
    )  # fmt: skip


_PAYLOAD_ROWS = 8  # of 1 MiB each, per row group
_MIB = 1024 * 1024


def write_payload_file(path: Path | str, dataset: Dataset, mib: int) -> int:
    """A parquet file of about `mib` MiB that passes ingest's checks, for measuring ingest alone:
    the dataset's required columns (under their first source name) plus incompressible bytes,
    written row group by row group so the writer never holds the file. Returns its size.
    """
    required = [c for c in dataset.columns if c.required]
    schema = pa.schema(
        [(c.sources[0], arrow_type(c.type)) for c in required] + [("payload", pa.binary())]
    )
    filler = {
        ColumnType.INTEGER: 1,
        ColumnType.DOUBLE: 1.0,
        ColumnType.TIMESTAMP: _epoch_us(date(2024, 1, 1)),
        ColumnType.STRING: "N",
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(target, schema, compression="none") as writer:
        for _ in range(max(1, mib // _PAYLOAD_ROWS)):
            group = {c.sources[0]: [filler[c.type]] * _PAYLOAD_ROWS for c in required}
            group["payload"] = [os.urandom(_MIB) for _ in range(_PAYLOAD_ROWS)]
            writer.write_table(pa.table(group, schema=schema))
    return target.stat().st_size
