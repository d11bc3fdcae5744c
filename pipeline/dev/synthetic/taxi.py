"""Yellow and green: TLC's taxi files per schema era, with the taxis' dirty rows.

One month's trips are generated at once (a real month, 3.5M rows, takes a few seconds), made
dirty, then written in the era's file schema (`pipeline.dev.synthetic.schema`).

What is known (from research notes on TLC's real files; their sources named in parentheses):
- The column names, order and Arrow types of every era below, from the per-file footer dumps of
  every yellow file 2009-01..2024-08 (snowch/vast-docker-compose-examples), the Arrow schema
  timeline 2019-01..2026-08, toddwschneider/nyc-taxi-data's per-variant loader tests and schema
  fixers, and schema prints of single months (2022-01, 2023-01, 2023-12..2024-04, 2025-01). In
  particular: 2009's `Rate_Code` and `store_and_forward` are DOUBLE (0/1/null), its timestamps,
  vendor and payment are text; 2010's `rate_code` is text except in 2010-02 and 2010-03, which are
  INT64 and carry a stray pandas `__index_level_0__`; counts are int64 until 2018-06 and double from
  2018-07; congestion is typed from 2019-01, `airport_fee` from 2020-11; the int32 ids / int64
  counts / large_string / `Airport_fee` switch is 2023-02; `cbd_congestion_fee` is new in 2025-01.
  The 2025-01 era is exactly the real sample's schema
  (`tests/data/yellow_tripdata_2025-01_sample5.parquet`), snappy like it. Green: ehail_fee typed
  2019-01..2019-08 and from 2023-02, payment_type/trip_type double until 2023-01.
- The text spellings of 2009-2010 (a public 2009-2010 normaliser and
  gdq12/pipeline-performance-analysis's exploratory queries): vendors CMT, VTS and DDS (Digital
  Dispatch, which has no code in TLC's dictionary), payments 'CASH'/'Cash'/'Credit'/'CREDIT'/
  'No Charge'/'Dispute' (2009) and 'CAS'/'Cas'/'CSH', 'CRE'/'Cre'/'CRD', 'NOC'/'No ', 'DIS'/'Dis',
  'NA ' (2010); 2010's flag text '0'/'1' (with 'Y'/'N'). TLC's data dictionary (2025-03-18) codes,
  payment_type 0 = Flex Fare. The 265 zone ids and boroughs are copied from TLC's zone lookup.
- The kinds of dirty rows and the yellow rates they are planted at: zero distance 2.04% of yellow
  2024-01 (a yellow 2024-01 quality note), ~1.3% negative fares in yellow 2024-01 and ~0.3% in green
  2019-2026 (a TLC cleaning log) as reversal pairs (gdq12 finds a trip and its negated copy with
  identical times, places and distance), the trailing block of payment_type 0 rows with nulls (a
  2021-01 print; 2026-01's payment_type 0 rows), dropoff before pickup (56 rows of 2024-01), pickups
  years away from the month.

What is approximated (plausible, not measured; the pipeline must cope, not reproduce statistics):
- Type flips inside an era (congestion_surcharge null/double month to month before 2019, airport_fee
  double in 2011-01, 2018-01, 2020-08/09, improvement_surcharge null in 2014-08, green's two dozen
  null-type variants) are not reproduced: each era has one schema. Green's counts before 2023-02 are
  double and its improvement_surcharge null-typed until 2014-12 (the notes have one 2014-02 print).
  No TLC file was found in TIMESTAMP(NANOS); the "ns" variant is there because one report suggests
  some months differ. The codec of real files varies (2024-01 is zstd); these are snappy.
- 2009's code 5 spelled 'Unknown', 2010's spelled 'NA ' (a source maps 'NA ' to 3, another to 5; the
  contract says 5), the share of null `store_and_forward` in 2009, the DDS share, the Flex Fare
  negative-fare share (~2% yellow from 2023-02), green's 5% zero distance (the notes have 3.4% over
  2019-2026 and 4.8-6.0% of 2024's rows failing any check), the zero-total rows, the null block's
  share and every distribution below (trip lengths, speeds, tips, zone weights, the fee schedules).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from pipeline.contract.months import Month
from pipeline.dev.synthetic.city import (
    BOROUGHS,
    JFK,
    LAGUARDIA,
    SECONDS_PER_DAY,
    US_PER_SECOND,
    ZONE_BOROUGHS,
    ZONE_IDS,
    epoch_us,
    pickups,
    shift_pickup,
    speeds_mph,
    zone_weights,
)
from pipeline.dev.synthetic.kinds import DirtyKind
from pipeline.dev.synthetic.schema import (
    F64,
    I32,
    I64,
    LTEXT,
    TEXT,
    Era,
    FileColumn,
    Kind,
    maybe,
    null,
    num,
    table_of,
    text,
    ts,
)

# Share of pickups per borough; airports get their own share. Yellow is mostly Manhattan; green
# cabs may not pick up in most of Manhattan, so their trips start in the outer boroughs.
BOROUGH_SHARE: Mapping[str, Mapping[str, float]] = {
    "yellow": {"M": 0.88, "Q": 0.025, "K": 0.02, "X": 0.005, "S": 0.0005, "E": 0.0005, "U": 0.01},
    "green": {"M": 0.25, "Q": 0.32, "K": 0.30, "X": 0.12, "S": 0.001, "E": 0.0005, "U": 0.0085},
}
AIRPORT_SHARE = {"yellow": {JFK: 0.035, LAGUARDIA: 0.025}, "green": {JFK: 0.002, LAGUARDIA: 0.003}}
# Rough centres for the 2009-2010 files, which have coordinates instead of zone ids; TLC wrote 0
# for an unknown position, hence (0, 0) for the unknown zones.
BOROUGH_CENTRE = {
    "M": (-73.980, 40.758), "Q": (-73.830, 40.730), "K": (-73.950, 40.650),
    "X": (-73.880, 40.840), "S": (-74.130, 40.580), "E": (-74.175, 40.690), "U": (0.0, 0.0),
}  # fmt: skip
# What every taxi era can hold; the null block, Flex Fare and text vendors only some.
TAXI_KINDS = frozenset({
    DirtyKind.PICKUP_2002, DirtyKind.PICKUP_2008, DirtyKind.PICKUP_NEXT_MONTH,
    DirtyKind.DROPOFF_BEFORE_PICKUP, DirtyKind.ZERO_DISTANCE, DirtyKind.REVERSAL,
    DirtyKind.ZERO_TOTAL,
})  # fmt: skip


def _kinds(*, null_block: bool = False, flex: bool = False, text_vendor: bool = False):
    extra = {
        DirtyKind.NULL_BLOCK: null_block, DirtyKind.FLEX_FARE: flex,
        DirtyKind.DDS_VENDOR: text_vendor,
    }  # fmt: skip
    return TAXI_KINDS | {kind for kind, allowed in extra.items() if allowed}


DDS = 3  # the internal code of Digital Dispatch, which TLC's dictionary does not number
VENDOR_SPELLINGS = {1: ("CMT",), 2: ("VTS",), DDS: ("DDS",)}
PAYMENT_SPELLINGS_2009 = {
    1: ("Credit", "CREDIT"), 2: ("CASH", "Cash"), 3: ("No Charge",), 4: ("Dispute",),
    5: ("Unknown",),
}  # fmt: skip
PAYMENT_SPELLINGS_2010 = {
    1: ("CRE", "Cre", "CRD"), 2: ("CAS", "Cas", "CSH"), 3: ("NOC", "No "), 4: ("DIS", "Dis"),
    5: ("NA ",),
}  # fmt: skip
# 2010's flag is mostly '0'/'1', with some 'N'/'Y' (repeats weight the draw among spellings).
FLAG_SPELLINGS_2010 = {0: ("0",) * 9 + ("N",), 1: ("1",) * 9 + ("Y",)}
# Share of 2009 rows whose store_and_forward is null (not measured).
UNRECORDED_FLAG_2009 = 0.1


def _coordinates(names: tuple[str, str], end: str) -> tuple[FileColumn, FileColumn]:
    return num(names[0], f"{end}_lon"), num(names[1], f"{end}_lat")


YELLOW_2009 = Era("yellow-2009", Month(2009, 1), (
    text("vendor_name", Kind.CODE_TEXT, "vendor", spellings=VENDOR_SPELLINGS),
    text("Trip_Pickup_DateTime", Kind.TEXT_TIMESTAMP, "pickup"),
    text("Trip_Dropoff_DateTime", Kind.TEXT_TIMESTAMP, "dropoff"),
    num("Passenger_Count", "passengers", I64), num("Trip_Distance", "distance"),
    *_coordinates(("Start_Lon", "Start_Lat"), "pickup"),
    num("Rate_Code", "ratecode", F64),
    FileColumn("store_and_forward", Kind.FLAG_NUMBER, "stored", F64),
    *_coordinates(("End_Lon", "End_Lat"), "dropoff"),
    text("Payment_Type", Kind.CODE_TEXT, "payment", spellings=PAYMENT_SPELLINGS_2009),
    num("Fare_Amt", "fare"), num("surcharge", "extra"), num("mta_tax", "mta_tax"),
    num("Tip_Amt", "tip"), num("Tolls_Amt", "tolls"), num("Total_Amt", "total"),
), _kinds(text_vendor=True))  # fmt: skip


def _yellow_2010(name: str, first: Month, *, rate_code: pa.DataType, index: bool = False) -> Era:
    """2010: 2009's shape under new names; 2010-02/03 were written through pandas (int rate_code,
    the index saved as a column)."""
    columns = (
        text("vendor_id", Kind.CODE_TEXT, "vendor", spellings=VENDOR_SPELLINGS),
        text("pickup_datetime", Kind.TEXT_TIMESTAMP, "pickup"),
        text("dropoff_datetime", Kind.TEXT_TIMESTAMP, "dropoff"),
        num("passenger_count", "passengers", I64), num("trip_distance", "distance"),
        *_coordinates(("pickup_longitude", "pickup_latitude"), "pickup"),
        num("rate_code", "ratecode", I64) if rate_code == I64
        else text("rate_code", Kind.NUMERIC_TEXT, "ratecode"),
        text("store_and_fwd_flag", Kind.CODE_TEXT, "stored", spellings=FLAG_SPELLINGS_2010),
        *_coordinates(("dropoff_longitude", "dropoff_latitude"), "dropoff"),
        text("payment_type", Kind.CODE_TEXT, "payment", spellings=PAYMENT_SPELLINGS_2010),
        num("fare_amount", "fare"), num("surcharge", "extra"), num("mta_tax", "mta_tax"),
        num("tip_amount", "tip"), num("tolls_amount", "tolls"), num("total_amount", "total"),
    )  # fmt: skip
    if index:
        columns += (FileColumn("__index_level_0__", Kind.INDEX, "", I64),)
    return Era(name, first, columns, _kinds(text_vendor=True))


def _yellow_zoned(
    name: str, first: Month, *, ids: pa.DataType, counts: pa.DataType, flag: pa.DataType,
    congestion: pa.DataType | None, airport: tuple[str, pa.DataType | None], cbd: bool = False,
    vendor: pa.DataType = I64, flex: bool = False,
) -> Era:  # fmt: skip
    """2011 onwards: tpep_* times and zone ids, the 19 base columns even before a fee existed."""
    columns = (
        num("VendorID", "vendor", vendor), ts("tpep_pickup_datetime", "pickup"),
        ts("tpep_dropoff_datetime", "dropoff"), num("passenger_count", "passengers", counts),
        num("trip_distance", "distance"), num("RatecodeID", "ratecode", counts),
        text("store_and_fwd_flag", Kind.FLAG, "stored", flag),
        num("PULocationID", "pickup_zone", ids), num("DOLocationID", "dropoff_zone", ids),
        num("payment_type", "payment", I64), num("fare_amount", "fare"),
        num("extra", "extra"), num("mta_tax", "mta_tax"), num("tip_amount", "tip"),
        num("tolls_amount", "tolls"), num("improvement_surcharge", "improvement"),
        num("total_amount", "total"), maybe(congestion, "congestion_surcharge", "congestion"),
        maybe(airport[1], airport[0], "airport"),
    )  # fmt: skip
    if cbd:
        columns += (num("cbd_congestion_fee", "cbd"),)
    return Era(name, first, columns, _kinds(null_block=congestion is not None, flex=flex))


YELLOW_ERAS: tuple[Era, ...] = (
    YELLOW_2009,
    _yellow_2010("yellow-2010", Month(2010, 1), rate_code=TEXT),
    _yellow_2010("yellow-2010-02", Month(2010, 2), rate_code=I64, index=True),
    _yellow_2010("yellow-2010-04", Month(2010, 4), rate_code=TEXT),
    _yellow_zoned("yellow-2011", Month(2011, 1), ids=I64, counts=I64, flag=TEXT,
                  congestion=None, airport=("airport_fee", None)),
    _yellow_zoned("yellow-2018-07", Month(2018, 7), ids=I64, counts=F64, flag=TEXT,
                  congestion=None, airport=("airport_fee", None)),
    _yellow_zoned("yellow-2019", Month(2019, 1), ids=I64, counts=F64, flag=TEXT,
                  congestion=F64, airport=("airport_fee", None)),
    _yellow_zoned("yellow-2020-11", Month(2020, 11), ids=I64, counts=F64, flag=TEXT,
                  congestion=F64, airport=("airport_fee", F64)),
    _yellow_zoned("yellow-2023-02", Month(2023, 2), ids=I32, counts=I64, flag=LTEXT,
                  congestion=F64, airport=("Airport_fee", F64), vendor=I32, flex=True),
    # Exactly the real 2025-01 sample's schema.
    _yellow_zoned("yellow-2025", Month(2025, 1), ids=I32, counts=I64, flag=LTEXT,
                  congestion=F64, airport=("Airport_fee", F64), vendor=I32, flex=True,
                  cbd=True),
)  # fmt: skip


def _green(
    name: str, first: Month, *, ids: pa.DataType, counts: pa.DataType, flag: pa.DataType,
    improvement: bool, ehail: bool, congestion: bool, cbd: bool = False,
    vendor: pa.DataType = I64, flex: bool = False,
) -> Era:  # fmt: skip
    """Green (from 2013-08): lpep_* times, ehail_fee never filled, trip_type; payment_type and
    trip_type share the counts' type (double while the files held NaN, int64 from 2023-02)."""
    columns = (
        num("VendorID", "vendor", vendor), ts("lpep_pickup_datetime", "pickup"),
        ts("lpep_dropoff_datetime", "dropoff"),
        text("store_and_fwd_flag", Kind.FLAG, "stored", flag),
        num("RatecodeID", "ratecode", counts),
        num("PULocationID", "pickup_zone", ids), num("DOLocationID", "dropoff_zone", ids),
        num("passenger_count", "passengers", counts), num("trip_distance", "distance"),
        num("fare_amount", "fare"), num("extra", "extra"), num("mta_tax", "mta_tax"),
        num("tip_amount", "tip"), num("tolls_amount", "tolls"),
        FileColumn("ehail_fee", Kind.EMPTY, "ehail", F64) if ehail else null("ehail_fee", "ehail"),
        maybe(F64 if improvement else None, "improvement_surcharge", "improvement"),
        num("total_amount", "total"),
        num("payment_type", "payment", counts), num("trip_type", "trip_type", counts),
        maybe(F64 if congestion else None, "congestion_surcharge", "congestion"),
    )  # fmt: skip
    if cbd:
        columns += (num("cbd_congestion_fee", "cbd"),)
    return Era(name, first, columns, _kinds(null_block=congestion, flex=flex))


GREEN_ERAS: tuple[Era, ...] = (
    _green("green-2013", Month(2013, 8), ids=I64, counts=F64, flag=TEXT, improvement=False,
           ehail=False, congestion=False),
    _green("green-2015", Month(2015, 1), ids=I64, counts=F64, flag=TEXT, improvement=True,
           ehail=False, congestion=False),
    _green("green-2019", Month(2019, 1), ids=I64, counts=F64, flag=TEXT, improvement=True,
           ehail=True, congestion=True),
    _green("green-2019-09", Month(2019, 9), ids=I64, counts=F64, flag=TEXT, improvement=True,
           ehail=False, congestion=True),
    _green("green-2023-02", Month(2023, 2), ids=I32, counts=I64, flag=LTEXT, improvement=True,
           ehail=True, congestion=True, vendor=I32, flex=True),
    _green("green-2025", Month(2025, 1), ids=I32, counts=I64, flag=LTEXT, improvement=True,
           ehail=True, congestion=True, vendor=I32, flex=True, cbd=True),
)  # fmt: skip

ERAS: Mapping[str, tuple[Era, ...]] = {"yellow": YELLOW_ERAS, "green": GREEN_ERAS}
# Fields the null block blanks (payment_type becomes 0 instead).
BLANKED_FIELDS = frozenset({"passengers", "ratecode", "stored", "congestion", "airport"})


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
    # Only for the eras with coordinates (2009-2010).
    pickup_lon: np.ndarray | None = None
    pickup_lat: np.ndarray | None = None
    dropoff_lon: np.ndarray | None = None
    dropoff_lat: np.ndarray | None = None
    # Field -> rows where the file holds null (`schema.file_array`), set once the rows are dirty.
    masks: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


def _distance_and_duration(
    rng: np.random.Generator, n: int, hour: np.ndarray, airport_trip: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Log-normal distances (median ~1.7 mi, airports ~11 mi); durations from hourly speeds."""
    distance = rng.lognormal(np.log(1.4), 0.9, n)  # with the airport trips: median ~1.7
    distance[airport_trip] = rng.lognormal(np.log(11.0), 0.3, int(airport_trip.sum()))
    distance = np.round(np.clip(distance, 0.05, 80.0), 2)
    seconds = np.round(60 + distance / speeds_mph(rng, hour) * 3600).astype(np.int64)
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
    manhattan = (BOROUGHS[pickup_zone - 1] == "M") | (BOROUGHS[dropoff_zone - 1] == "M")
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


def _generate(rng: np.random.Generator, dataset: str, month: Month, n: int) -> Trips:
    """Clean, loadable trips: every row passes every rule (dirty rows are planted after)."""
    pickup, hour, weekday = pickups(rng, month, n)
    weights = zone_weights(BOROUGH_SHARE[dataset], AIRPORT_SHARE[dataset])
    pickup_zone = rng.choice(ZONE_IDS, size=n, p=weights)
    dropoff_zone = rng.choice(ZONE_IDS, size=n, p=weights)
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
CENTRES = tuple(
    np.array([BOROUGH_CENTRE[borough][axis] for borough in ZONE_BOROUGHS]) for axis in (0, 1)
)


def _place(rng: np.random.Generator, trips: Trips, era: Era) -> None:
    """Coordinates for the eras that have them, drawn before the dirty rows are planted so that
    a reversal repeats its trip's exact position, as TLC's do."""
    if not era.has_values("pickup_lon"):
        return
    for end in ("pickup", "dropoff"):
        zones = getattr(trips, f"{end}_zone")
        for axis, suffix in enumerate(("lon", "lat")):
            centre = CENTRES[axis][zones - 1]
            spread = np.where(centre == 0.0, 0.0, rng.normal(0.0, 0.015, len(zones)))
            setattr(trips, f"{end}_{suffix}", np.round(centre + spread, 6))


def _plant(rng: np.random.Generator, trips: Trips, month: Month, kind: DirtyKind, rows) -> None:
    """Turn `rows` (clean trips) into `kind` rows; totals are not computed yet."""
    seconds = rng.integers(0, SECONDS_PER_DAY, len(rows)) * US_PER_SECOND
    if kind is DirtyKind.PICKUP_2002:
        shift_pickup(trips, rows, epoch_us(date(2002, 12, 31)) + seconds)
    elif kind is DirtyKind.PICKUP_2008:
        shift_pickup(trips, rows, epoch_us(date(2008, 12, 31)) + seconds)
    elif kind is DirtyKind.PICKUP_NEXT_MONTH:
        shift_pickup(trips, rows, epoch_us(month.next().first_day) + seconds // 8)
    elif kind is DirtyKind.DROPOFF_BEFORE_PICKUP:
        trips.dropoff[rows] = 2 * trips.pickup[rows] - trips.dropoff[rows]
    elif kind is DirtyKind.ZERO_DISTANCE:
        trips.distance[rows] = 0.0  # the fare was metered before: a billed trip
    elif kind is DirtyKind.DDS_VENDOR:
        trips.vendor[rows] = DDS


def _reverse(rng: np.random.Generator, trips: Trips, copies, originals) -> None:
    """TLC voids or disputes a trip with a second row: the same trip, every amount negated."""
    for field in dataclasses.fields(trips):
        values = getattr(trips, field.name)
        if isinstance(values, np.ndarray):
            values[copies] = values[originals]
    for name in (*AMOUNT_FIELDS, "total"):
        amounts = getattr(trips, name)
        amounts[copies] = 0.0 - amounts[copies]  # 0.0 - x keeps zeros at +0.0
    trips.payment[copies] = rng.choice([3, 4], size=len(copies))


# Kinds planted once the totals are known: they change a total or copy a finished trip.
_AFTER_TOTALS = (DirtyKind.ZERO_TOTAL, DirtyKind.FLEX_FARE, DirtyKind.REVERSAL)


def _make_dirty(rng: np.random.Generator, trips: Trips, month: Month, era: Era, planned) -> None:
    """Null block at the file's end (as TLC's), the other kinds on distinct random rows, and
    each reversal's original on yet another row, which stays clean."""
    n = len(trips.pickup)
    clean = n - planned[DirtyKind.NULL_BLOCK]
    trips.blank[clean:] = True
    trips.payment[clean:] = 0
    trips.congestion[clean:] = 0.0  # null in the file: nothing was charged
    trips.airport[clean:] = 0.0
    order = rng.permutation(clean)
    start = 0
    rows: dict[DirtyKind, np.ndarray] = {}
    for kind in DirtyKind:
        if kind is not DirtyKind.NULL_BLOCK:
            rows[kind] = order[start : start + planned[kind]]
            start += planned[kind]
    originals = order[start : start + planned[DirtyKind.REVERSAL]]
    for kind, chosen in rows.items():
        if kind not in _AFTER_TOTALS:
            _plant(rng, trips, month, kind, chosen)
    fees = [name for name in AMOUNT_FIELDS[1:] if era.has_values(name)]
    trips.total = np.round(trips.fare + sum(getattr(trips, name) for name in fees), 2)
    trips.total[rows[DirtyKind.ZERO_TOTAL]] = 0.0
    flex = rows[DirtyKind.FLEX_FARE]
    # The upfront price stays the total; the fare column shows a negative adjustment.
    trips.fare[flex] = 0.0 - trips.fare[flex]
    trips.payment[flex] = 0
    _reverse(rng, trips, rows[DirtyKind.REVERSAL], originals)


def _masks(rng: np.random.Generator, trips: Trips, era: Era) -> dict[str, np.ndarray]:
    """Where the file holds nulls: the null block's fields, and 2009's unrecorded flags."""
    masks = {name: trips.blank for name in BLANKED_FIELDS} if trips.blank.any() else {}
    if any(column.kind is Kind.FLAG_NUMBER for column in era.columns):
        masks["stored"] = rng.random(len(trips.pickup)) < UNRECORDED_FLAG_2009
    return masks


def month_table(
    rng: np.random.Generator, dataset: str, month: Month, rows: int, era: Era, unit: str,
    planned: dict[DirtyKind, int],
) -> pa.Table:  # fmt: skip
    """A whole month of `dataset` in `era`'s file schema, with `planned` dirty rows."""
    trips = _generate(rng, dataset, month, rows)
    _place(rng, trips, era)
    _make_dirty(rng, trips, month, era, planned)
    trips.masks = _masks(rng, trips, era)
    return table_of(era, trips, unit, rng)
