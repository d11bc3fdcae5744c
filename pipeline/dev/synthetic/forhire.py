"""FHV and HVFHV: TLC's for-hire files per schema era, generated and written a row group at a time.

An HVFHV month is 18-24M rows (2023-01: 18,479,031 rows, 473,816,636 bytes), so a month is made
one row group (1 Mi rows) at a time, each from its own seeded generator, and streamed into the
file: the writer holds one row group, whatever the month's size.

What is known (sources in parentheses):
- The column names and order of every fhv (7 columns) and fhvhv (24 columns) file 2015-2024
  (the per-file metadata of lykmapipo/NYC-TLC-Trip-Data), and the type changes between
  consecutive files 2019-01..2026-08, read off their Parquet footers (a public data-lake
  manifest): fhv `SR_Flag` double until 2019-02, null-typed from 2019-03, int64 from 2023-02;
  `PUlocationID`/`DOlocationID` double (int64 in a few months, and from 2023-02); strings
  large_string from 2023-02. fhvhv `wav_match_flag` null-typed until 2019-03, `airport_fee`
  null-typed until 2019-06 (and in 2020-04 and 2020-10), strings large_string and zone ids
  int32 from 2023-02, `cbd_congestion_fee` from 2025-01; times timestamp[us], `trip_time` int64
  (schema prints of 2021-01, 2022 and 2024-01).
- `originating_base_num` and `on_scene_datetime` are null on 4,891,992 of 2023-01's rows (26%,
  the trips Uber did not dispatch; a pandas null count of that file), `access_a_ride_flag` is ' '
  where a company reports none (a 2021-01 print), and the licence numbers are TLC's dictionary's:
  HV0002 Juno, HV0003 Uber, HV0004 Via, HV0005 Lyft.

What is approximated (plausible, not measured): the 2015-2016 FHV files' null-typed dropoff,
`DOlocationID` and `SR_Flag` columns (TLC collected pickups only then), the company and base
shares, shared rides, null zones, every distribution and fee schedule below, and the dirty-row
rates (`kinds.DEFAULT_RATES`): a public validation of 2022-2024 HVFHV (684M trips) kept ~99.9%
of the rows after its distance, duration and fare checks, so the implausible kinds are rare.
The in-era type flips (fhv ids in 2019-05/2020-07, fhvhv airport_fee in 2020) are not
reproduced: each era has one schema.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from pipeline.contract.months import Month
from pipeline.dev.synthetic.city import (
    BOROUGHS,
    JFK,
    LAGUARDIA,
    NEWARK,
    SECONDS_PER_DAY,
    US_PER_SECOND,
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
    Kind,
    maybe,
    null,
    num,
    table_of,
    text,
    ts,
)

AIRPORTS = (NEWARK, JFK, LAGUARDIA)
NO, YES, BLANK = 0, 1, 2
YES_NO = {NO: ("N",), YES: ("Y",), BLANK: (" ",)}
# HVFHV licences (TLC's dictionary) and, per licence, bases in the shape of TLC's base numbers.
JUNO, UBER, VIA, LYFT = 0, 1, 2, 3
LICENCES = {JUNO: ("HV0002",), UBER: ("HV0003",), VIA: ("HV0004",), LYFT: ("HV0005",)}
HV_BASES = {
    0: ("B02907",), 1: ("B02764",), 2: ("B02765",), 3: ("B02869",), 4: ("B02870",),
    5: ("B02871",), 6: ("B02800",), 7: ("B02510",),
}  # fmt: skip
BASES_OF = {JUNO: (0,), UBER: (1, 2, 3, 4, 5), VIA: (6,), LYFT: (7,)}
# FHV: livery, black car and luxury bases; 40 of them, B00013..B03404.
FHV_BASES = {code: (f"B{13 + code * 85:05d}",) for code in range(40)}
FHV_BOROUGHS = {"M": 0.30, "K": 0.30, "Q": 0.22, "X": 0.15, "S": 0.02, "E": 0.005, "U": 0.005}
HV_BOROUGHS = {"M": 0.34, "K": 0.28, "Q": 0.21, "X": 0.14, "S": 0.02, "E": 0.005, "U": 0.005}
AIRPORT_SHARES = {JFK: 0.02, LAGUARDIA: 0.015, NEWARK: 0.002}
FORHIRE_KINDS = frozenset({DirtyKind.PICKUP_NEXT_MONTH, DirtyKind.DROPOFF_BEFORE_PICKUP})
# pyarrow's default maximum row group (1 Mi rows), which is what TLC's files show.
ROW_GROUP_ROWS = 1_048_576


@dataclass
class Trips:
    """One row group of generated for-hire trips (the fields both datasets' files are made of)."""

    pickup: np.ndarray  # int64 microseconds since 1970-01-01, wall clock (no zone, like TLC)
    dropoff: np.ndarray
    request: np.ndarray
    on_scene: np.ndarray
    pickup_zone: np.ndarray
    dropoff_zone: np.ndarray
    licence: np.ndarray
    base: np.ndarray
    originating: np.ndarray
    affiliated: np.ndarray
    shared: np.ndarray  # SR_Flag: 1.0 on a shared ride, else null
    miles: np.ndarray
    seconds: np.ndarray
    fare: np.ndarray
    tolls: np.ndarray
    bcf: np.ndarray
    sales_tax: np.ndarray
    congestion: np.ndarray
    airport: np.ndarray
    tips: np.ndarray
    driver_pay: np.ndarray
    cbd: np.ndarray
    shared_request: np.ndarray  # NO / YES / BLANK
    shared_match: np.ndarray
    access_a_ride: np.ndarray
    wav_request: np.ndarray
    wav_match: np.ndarray
    masks: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


def _fhv(name: str, first: Month, *, ids, dropoff: bool, sr_flag, strings=TEXT) -> Era:
    """FHV: the same seven columns in every file; what varies is which ones hold values."""
    columns = (
        text("dispatching_base_num", Kind.CODE_TEXT, "base", strings, FHV_BASES),
        ts("pickup_datetime", "pickup"),
        ts("dropOff_datetime", "dropoff") if dropoff else null("dropOff_datetime", "dropoff"),
        num("PUlocationID", "pickup_zone", ids),
        num("DOlocationID", "dropoff_zone", ids) if dropoff
        else null("DOlocationID", "dropoff_zone"),
        maybe(sr_flag, "SR_Flag", "shared"),
        text("Affiliated_base_number", Kind.CODE_TEXT, "affiliated", strings, FHV_BASES),
    )  # fmt: skip
    kinds = {DirtyKind.DROPOFF_BEFORE_PICKUP, DirtyKind.MISSING_DROPOFF} if dropoff else set()
    return Era(name, first, columns, frozenset({DirtyKind.PICKUP_NEXT_MONTH} | kinds))


FHV_ERAS: tuple[Era, ...] = (
    _fhv("fhv-2015", Month(2015, 1), ids=F64, dropoff=False, sr_flag=None),
    _fhv("fhv-2017", Month(2017, 1), ids=F64, dropoff=True, sr_flag=F64),
    _fhv("fhv-2019-03", Month(2019, 3), ids=F64, dropoff=True, sr_flag=None),
    _fhv("fhv-2023-02", Month(2023, 2), ids=I64, dropoff=True, sr_flag=I64, strings=LTEXT),
)  # fmt: skip


def _fhvhv(
    name: str, first: Month, *, ids=I64, strings=TEXT, wav_match: bool = True,
    airport: bool = True, cbd: bool = False,
) -> Era:  # fmt: skip
    """HVFHV: TLC's 24 columns in every file from 2019-02, typed as the era wrote them."""

    def flag(column: str, field_name: str):
        return text(column, Kind.CODE_TEXT, field_name, strings, YES_NO)

    columns = (
        text("hvfhs_license_num", Kind.CODE_TEXT, "licence", strings, LICENCES),
        text("dispatching_base_num", Kind.CODE_TEXT, "base", strings, HV_BASES),
        text("originating_base_num", Kind.CODE_TEXT, "originating", strings, HV_BASES),
        ts("request_datetime", "request"), ts("on_scene_datetime", "on_scene"),
        ts("pickup_datetime", "pickup"), ts("dropoff_datetime", "dropoff"),
        num("PULocationID", "pickup_zone", ids), num("DOLocationID", "dropoff_zone", ids),
        num("trip_miles", "miles"), num("trip_time", "seconds", I64),
        num("base_passenger_fare", "fare"), num("tolls", "tolls"), num("bcf", "bcf"),
        num("sales_tax", "sales_tax"), num("congestion_surcharge", "congestion"),
        maybe(F64 if airport else None, "airport_fee", "airport"), num("tips", "tips"),
        num("driver_pay", "driver_pay"),
        flag("shared_request_flag", "shared_request"), flag("shared_match_flag", "shared_match"),
        flag("access_a_ride_flag", "access_a_ride"), flag("wav_request_flag", "wav_request"),
        flag("wav_match_flag", "wav_match") if wav_match else null("wav_match_flag", "wav_match"),
    )  # fmt: skip
    if cbd:
        columns += (num("cbd_congestion_fee", "cbd"),)
    kinds = {DirtyKind.ZERO_DISTANCE, DirtyKind.NEGATIVE_BASE_FARE}
    return Era(name, first, columns, FORHIRE_KINDS | kinds)


FHVHV_ERAS: tuple[Era, ...] = (
    _fhvhv("fhvhv-2019-02", Month(2019, 2), wav_match=False, airport=False),
    _fhvhv("fhvhv-2019-04", Month(2019, 4), airport=False),
    _fhvhv("fhvhv-2019-07", Month(2019, 7)),
    _fhvhv("fhvhv-2023-02", Month(2023, 2), ids=I32, strings=LTEXT),
    _fhvhv("fhvhv-2025", Month(2025, 1), ids=I32, strings=LTEXT, cbd=True),
)


def _companies(rng: np.random.Generator, month: Month, n: int) -> np.ndarray:
    """Licence per trip: Juno until 2019-11, Via until 2021 (their shares approximate)."""
    juno = 0.02 if month < Month(2019, 12) else 0.0
    via = 0.03 if month < Month(2022, 1) else 0.0
    lyft = 0.26
    return rng.choice([JUNO, UBER, VIA, LYFT], size=n, p=[juno, 1 - juno - via - lyft, via, lyft])


def _bases(rng: np.random.Generator, licence: np.ndarray) -> np.ndarray:
    base = np.zeros(len(licence), dtype=np.int64)
    for company, bases in BASES_OF.items():
        rows = licence == company
        base[rows] = rng.choice(bases, size=int(rows.sum()))
    return base


def _generate(rng: np.random.Generator, dataset: str, month: Month, n: int) -> Trips:
    """Clean, loadable trips: every row passes every rule (dirty rows are planted after)."""
    pickup, hour, _ = pickups(rng, month, n)
    weights = zone_weights(FHV_BOROUGHS if dataset == "fhv" else HV_BOROUGHS, AIRPORT_SHARES)
    pickup_zone = rng.choice(ZONE_IDS, size=n, p=weights)
    dropoff_zone = rng.choice(ZONE_IDS, size=n, p=weights)
    at_airport = np.isin(pickup_zone, AIRPORTS) | np.isin(dropoff_zone, AIRPORTS)
    miles = rng.lognormal(np.log(3.0), 0.8, n)
    miles[at_airport] = rng.lognormal(np.log(15.0), 0.3, int(at_airport.sum()))
    miles = np.round(np.clip(miles, 0.1, 100.0), 3)
    seconds = np.round(120 + miles / speeds_mph(rng, hour) * 3600).astype(np.int64)
    wait = rng.lognormal(np.log(240.0), 0.5, n).astype(np.int64) * US_PER_SECOND
    minutes = seconds / 60
    fare = np.round(np.maximum(7.0, (2.5 + 1.2 * miles + 0.45 * minutes)
                               * rng.lognormal(0.0, 0.15, n)), 2)  # fmt: skip
    manhattan = (BOROUGHS[pickup_zone - 1] == "M") | (BOROUGHS[dropoff_zone - 1] == "M")
    tipped = rng.random(n) < 0.15
    tips = np.where(tipped, np.round(fare * rng.uniform(0.1, 0.3, n), 2), 0.0)
    licence = _companies(rng, month, n)
    base = _bases(rng, licence) if dataset == "fhvhv" else rng.integers(0, len(FHV_BASES), n)
    shared = rng.random(n) < (0.03 if month < Month(2020, 4) else 0.002)
    blank_aar = np.where(licence == LYFT, BLANK, NO)
    return Trips(
        pickup=pickup,
        dropoff=pickup + seconds * US_PER_SECOND,
        request=pickup - wait,
        on_scene=pickup - wait // 4,
        pickup_zone=pickup_zone,
        dropoff_zone=dropoff_zone,
        licence=licence,
        base=base,
        originating=base,
        affiliated=np.where(rng.random(n) < 0.8, base, rng.integers(0, len(FHV_BASES), n)),
        shared=np.where(shared, 1.0, 0.0),
        miles=miles,
        seconds=seconds,
        fare=fare,
        tolls=np.where(rng.random(n) < 0.06, 6.94, 0.0),
        bcf=np.round(fare * 0.0275, 2),
        sales_tax=np.round(fare * 0.08875, 2),
        congestion=np.where(manhattan & (month >= Month(2019, 2)), 2.75, 0.0),
        airport=np.where(np.isin(pickup_zone, AIRPORTS), 2.5, 0.0),
        tips=tips,
        driver_pay=np.round(fare * 0.72 + tips, 2),
        cbd=np.where(manhattan & (rng.random(n) < 0.7) & (month >= Month(2025, 1)), 1.5, 0.0),
        shared_request=np.where(shared, YES, NO),
        shared_match=np.where(shared & (rng.random(n) < 0.6), YES, NO),
        access_a_ride=np.where(rng.random(n) < 0.001, YES, blank_aar),
        wav_request=np.where(rng.random(n) < 0.005, YES, NO),
        wav_match=np.where(rng.random(n) < 0.05, YES, NO),
        masks={
            # Only Uber reports where a trip was dispatched from and when the car arrived.
            "originating": licence != UBER,
            "on_scene": licence != UBER,
            "shared": ~shared,
            "pickup_zone": rng.random(n) < (0.1 if dataset == "fhv" else 0.0),
            "dropoff_zone": rng.random(n) < (0.15 if dataset == "fhv" else 0.0),
            "affiliated": rng.random(n) < 0.05,
        },
    )


def _plant(rng: np.random.Generator, trips: Trips, month: Month, kind: DirtyKind, rows) -> None:
    """Turn `rows` (clean trips) into `kind` rows."""
    if kind is DirtyKind.PICKUP_NEXT_MONTH:
        seconds = rng.integers(0, SECONDS_PER_DAY // 8, len(rows)) * US_PER_SECOND
        shift_pickup(trips, rows, epoch_us(month.next().first_day) + seconds,
                     "request", "on_scene")  # fmt: skip
    elif kind is DirtyKind.DROPOFF_BEFORE_PICKUP:
        trips.dropoff[rows] = 2 * trips.pickup[rows] - trips.dropoff[rows]
    elif kind is DirtyKind.MISSING_DROPOFF:
        trips.masks["dropoff"] = np.isin(np.arange(len(trips.pickup)), rows)
    elif kind is DirtyKind.ZERO_DISTANCE:
        trips.miles[rows] = 0.0  # the fare was quoted and charged: a billed trip
    elif kind is DirtyKind.NEGATIVE_BASE_FARE:
        trips.fare[rows] = 0.0 - trips.fare[rows]  # an adjustment; the driver was still paid


def row_groups(
    rng_seed: int, dataset: str, month: Month, rows: int, era: Era, unit: str,
    planned: dict[DirtyKind, int],
) -> Iterator[pa.Table]:  # fmt: skip
    """The month as row groups of ROW_GROUP_ROWS rows (the last one shorter), each generated by
    its own seeded generator and holding its share of every planted kind."""
    for start in range(0, rows, ROW_GROUP_ROWS):
        end = min(rows, start + ROW_GROUP_ROWS)
        rng = np.random.default_rng([rng_seed, start // ROW_GROUP_ROWS])
        trips = _generate(rng, dataset, month, end - start)
        order = rng.permutation(end - start)
        taken = 0
        for kind, total in planned.items():
            # This group's share: the cumulative split of `total` over the month's rows.
            share = total * end // rows - total * start // rows
            _plant(rng, trips, month, kind, order[taken : taken + share])
            taken += share
        yield table_of(era, trips, unit, rng)
