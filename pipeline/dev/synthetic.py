"""Synthetic TLC months in TLC's own file schema, per schema era, with realistic dirty rows.

The demo and the benchmark use these files instead of TLC's (no internet needed), and the tests
build one file per schema era with them. pyarrow + numpy only, deterministic by seed, vectorised: a
real-size month (3.5M rows) takes a few seconds. Every planted row is of one `DirtyKind`, on a row
of its own, so `MonthSummary` knows the transform's counts exactly: which rows an integrity rule
quarantines, which loaded rows carry a plausibility flag, which file values cannot be mapped.

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
from pipeline.contract.rules import RuleName
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
# Rough centres for the 2009-2010 files, which have coordinates instead of zone ids; TLC wrote 0
# for an unknown position, hence (0, 0) for the unknown zones.
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

# The plausibility flags the transform adds to loaded rows (true when broken, null counts as
# broken), spelled here rather than imported: the generator states what the file holds, the
# transform's own definition is what the tests hold it to.
FLAG_DISTANCE = "flag_non_positive_distance"
FLAG_FARE = "flag_non_positive_fare"
FLAG_TOTAL = "flag_non_positive_total"
FLAGS = (FLAG_DISTANCE, FLAG_FARE, FLAG_TOTAL)
# The only rules that quarantine a row, in the order the first failing one is named.
INTEGRITY_RULES = (RuleName.PICKUP_IN_MONTH, RuleName.DROPOFF_NOT_BEFORE_PICKUP)


class DirtyKind(str, enum.Enum):
    """Kinds of odd rows TLC's files contain; each planted row is of exactly one kind."""

    PICKUP_2002 = "pickup_2002"  # meter clocks reset to 2002-12-31 / 2008-12-31
    PICKUP_2008 = "pickup_2008"
    PICKUP_NEXT_MONTH = "pickup_next_month"  # trips just after midnight of the next month
    DROPOFF_BEFORE_PICKUP = "dropoff_before_pickup"
    ZERO_DISTANCE = "zero_distance"  # billed (fare and total > 0) with trip_distance 0.0
    REVERSAL = "reversal"  # a void/dispute: a copy of another trip, every amount negated
    FLEX_FARE = "flex_fare"  # payment_type 0, negative fare, positive total (2023-02 on)
    ZERO_TOTAL = "zero_total"  # approximation: a positive fare with a 0.00 total
    NULL_BLOCK = "null_block"  # nulls + payment_type 0 at the file's end (2019+ eras)
    DDS_VENDOR = "dds_vendor"  # vendor 'DDS', which has no TLC code (2009-2010)


# The integrity rule each kind fails first; None: the row is loaded.
EXPECTED_RULE: Mapping[DirtyKind, RuleName | None] = {
    DirtyKind.PICKUP_2002: RuleName.PICKUP_IN_MONTH,
    DirtyKind.PICKUP_2008: RuleName.PICKUP_IN_MONTH,
    DirtyKind.PICKUP_NEXT_MONTH: RuleName.PICKUP_IN_MONTH,
    DirtyKind.DROPOFF_BEFORE_PICKUP: RuleName.DROPOFF_NOT_BEFORE_PICKUP,
    DirtyKind.ZERO_DISTANCE: None,
    DirtyKind.REVERSAL: None,
    DirtyKind.FLEX_FARE: None,
    DirtyKind.ZERO_TOTAL: None,
    DirtyKind.NULL_BLOCK: None,
    DirtyKind.DDS_VENDOR: None,
}
# The flags a loaded row of each kind carries; quarantined kinds keep positive amounts, so a flag
# never depends on whether the row was loaded.
EXPECTED_FLAGS: Mapping[DirtyKind, frozenset[str]] = {
    DirtyKind.PICKUP_2002: frozenset(),
    DirtyKind.PICKUP_2008: frozenset(),
    DirtyKind.PICKUP_NEXT_MONTH: frozenset(),
    DirtyKind.DROPOFF_BEFORE_PICKUP: frozenset(),
    DirtyKind.ZERO_DISTANCE: frozenset({FLAG_DISTANCE}),
    DirtyKind.REVERSAL: frozenset({FLAG_FARE, FLAG_TOTAL}),
    DirtyKind.FLEX_FARE: frozenset({FLAG_FARE}),
    DirtyKind.ZERO_TOTAL: frozenset({FLAG_TOTAL}),
    DirtyKind.NULL_BLOCK: frozenset(),
    DirtyKind.DDS_VENDOR: frozenset(),
}
# The warehouse column whose file value a kind's rows hold but the transform cannot map.
EXPECTED_UNMAPPED: Mapping[DirtyKind, str] = {DirtyKind.DDS_VENDOR: "vendor_id"}

EVERY_KIND_FROM_ROWS = 1_000


@dataclass(frozen=True)
class DirtyRates:
    """Fraction of a month's rows of each dirty kind; round(rows * rate) rows are planted, and at
    least one of every kind with a non-zero rate in a month of EVERY_KIND_FROM_ROWS rows or more,
    so a small demo month still shows every rule and flag at work. A kind the month's era cannot
    have (`Era.allows`) is not planted. `reversal` counts the negated copies; each also keeps a
    clean original, so it takes twice its rows. The defaults are yellow's (`default_rates`).
    """

    pickup_2002: float = 0.00001
    pickup_2008: float = 0.00001
    pickup_next_month: float = 0.00005
    dropoff_before_pickup: float = 0.00002
    zero_distance: float = 0.02
    reversal: float = 0.012
    flex_fare: float = 0.02
    zero_total: float = 0.0002
    null_block: float = 0.04
    dds_vendor: float = 0.05

    def rows(self, kind: DirtyKind, total: int) -> int:
        rate = getattr(self, kind.value)
        if not 0 <= rate <= 1:
            raise InvalidInput(f"{kind.value} rate", rate, "a fraction from 0 to 1")
        planted = round(total * rate)
        return max(1, planted) if rate > 0 and total >= EVERY_KIND_FROM_ROWS else planted


CLEAN = DirtyRates(**{kind.value: 0.0 for kind in DirtyKind})
# Green trips are short outer-borough hops, hence more zero distances and fewer disputes; its
# files have no text vendors, and Flex Fare is a yellow pattern in the notes.
DEFAULT_RATES: Mapping[str, DirtyRates] = {
    "yellow": DirtyRates(),
    "green": DirtyRates(zero_distance=0.05, reversal=0.003, flex_fare=0.0, null_block=0.15,
                        dds_vendor=0.0),
}  # fmt: skip


def default_rates(dataset: Dataset | str) -> DirtyRates:
    """The dirty-row fractions `write_month` uses for `dataset` when given none."""
    name = dataset if isinstance(dataset, str) else dataset.name
    if name not in DEFAULT_RATES:
        raise InvalidInput("dataset", name, f"one of {', '.join(DEFAULT_RATES)}")
    return DEFAULT_RATES[name]


class Kind(enum.Enum):
    """How a file column is made from the generated trip values."""

    NUMBER = "number"  # a numeric field cast to the column's arrow type
    TIMESTAMP = "timestamp"  # in the era's timestamp unit
    TEXT_TIMESTAMP = "text_timestamp"  # '2009-01-04 02:52:00'
    NUMERIC_TEXT = "numeric_text"  # '1', '99'
    CODE_TEXT = "code_text"  # a code spelled as a word ('CASH', 'Cre', 'VTS', '0')
    FLAG = "flag"  # 'N' / 'Y'
    FLAG_NUMBER = "flag_number"  # 2009: 0.0 / 1.0, or null when not recorded
    NULL = "null"  # arrow's null type: the column exists, no value was ever written
    EMPTY = "empty"  # a typed column that holds only nulls (green's ehail_fee)
    INDEX = "index"  # a pandas index written by mistake: 0..n-1


@dataclass(frozen=True)
class FileColumn:
    name: str
    kind: Kind
    field: str  # the `Trips` attribute it is made from ("" when none)
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


def _maybe(typed: pa.DataType | None, name: str, field_name: str) -> FileColumn:
    """A fee column: typed when the era has its values, else null-typed."""
    return _num(name, field_name, typed) if typed is not None else _null(name, field_name)


def type_word(type_: pa.DataType) -> str:
    """A file column's type as the transform's counts spell it: 'integer' for any int type,
    'double', 'string', 'timestamp', 'date', 'boolean' (else arrow's own name)."""
    checks = (
        (pa.types.is_integer, "integer"), (pa.types.is_floating, "double"),
        (pa.types.is_string, "string"), (pa.types.is_large_string, "string"),
        (pa.types.is_timestamp, "timestamp"), (pa.types.is_date, "date"),
        (pa.types.is_boolean, "boolean"),
    )  # fmt: skip
    return next((word for check, word in checks if check(type_)), str(type_))


@dataclass(frozen=True)
class Era:
    """One schema era of a dataset: the first month it covers and its columns as TLC wrote them."""

    name: str
    first_month: Month
    columns: tuple[FileColumn, ...]
    timestamp_unit: str = "us"
    null_block: bool = False  # files end with a block of rows with nulls (2019+)
    flex: bool = False  # payment_type 0 Flex Fare rows with negative fares (2023-02+)

    def schema(self, timestamp_unit: str | None = None) -> pa.Schema:
        unit = timestamp_unit or self.timestamp_unit
        return pa.schema(
            [
                (c.name, pa.timestamp(unit) if c.kind is Kind.TIMESTAMP else c.type)
                for c in self.columns
            ]
        )

    def has_values(self, trips_field: str) -> bool:
        return any(
            c.field == trips_field and c.kind not in (Kind.NULL, Kind.EMPTY) for c in self.columns
        )

    @property
    def text_vendor(self) -> bool:
        return any(c.field == "vendor" and c.kind is Kind.CODE_TEXT for c in self.columns)

    def allows(self, kind: DirtyKind) -> bool:
        """Whether TLC's files of this era can hold rows of `kind`."""
        if kind is DirtyKind.NULL_BLOCK:
            return self.null_block
        if kind is DirtyKind.FLEX_FARE:
            return self.flex
        if kind is DirtyKind.DDS_VENDOR:
            return self.text_vendor
        return True

    @property
    def unknown_columns(self) -> dict[str, str]:
        """File columns no dataset definition knows (stray artefacts), with their type word."""
        return {c.name: type_word(c.type) for c in self.columns if c.kind is Kind.INDEX}


I32, I64, F64, TEXT, LTEXT = pa.int32(), pa.int64(), pa.float64(), pa.string(), pa.large_string()
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
    return _num(names[0], f"{end}_lon"), _num(names[1], f"{end}_lat")


YELLOW_2009 = Era("yellow-2009", Month(2009, 1), (
    _text("vendor_name", Kind.CODE_TEXT, "vendor", spellings=VENDOR_SPELLINGS),
    _text("Trip_Pickup_DateTime", Kind.TEXT_TIMESTAMP, "pickup"),
    _text("Trip_Dropoff_DateTime", Kind.TEXT_TIMESTAMP, "dropoff"),
    _num("Passenger_Count", "passengers", I64), _num("Trip_Distance", "distance"),
    *_coordinates(("Start_Lon", "Start_Lat"), "pickup"),
    _num("Rate_Code", "ratecode", F64),
    FileColumn("store_and_forward", Kind.FLAG_NUMBER, "stored", F64),
    *_coordinates(("End_Lon", "End_Lat"), "dropoff"),
    _text("Payment_Type", Kind.CODE_TEXT, "payment", spellings=PAYMENT_SPELLINGS_2009),
    _num("Fare_Amt", "fare"), _num("surcharge", "extra"), _num("mta_tax", "mta_tax"),
    _num("Tip_Amt", "tip"), _num("Tolls_Amt", "tolls"), _num("Total_Amt", "total"),
))  # fmt: skip


def _yellow_2010(name: str, first: Month, *, rate_code: pa.DataType, index: bool = False) -> Era:
    """2010: 2009's shape under new names; 2010-02/03 were written through pandas (int rate_code,
    the index saved as a column)."""
    columns = (
        _text("vendor_id", Kind.CODE_TEXT, "vendor", spellings=VENDOR_SPELLINGS),
        _text("pickup_datetime", Kind.TEXT_TIMESTAMP, "pickup"),
        _text("dropoff_datetime", Kind.TEXT_TIMESTAMP, "dropoff"),
        _num("passenger_count", "passengers", I64), _num("trip_distance", "distance"),
        *_coordinates(("pickup_longitude", "pickup_latitude"), "pickup"),
        _num("rate_code", "ratecode", I64) if rate_code == I64
        else _text("rate_code", Kind.NUMERIC_TEXT, "ratecode"),
        _text("store_and_fwd_flag", Kind.CODE_TEXT, "stored", spellings=FLAG_SPELLINGS_2010),
        *_coordinates(("dropoff_longitude", "dropoff_latitude"), "dropoff"),
        _text("payment_type", Kind.CODE_TEXT, "payment", spellings=PAYMENT_SPELLINGS_2010),
        _num("fare_amount", "fare"), _num("surcharge", "extra"), _num("mta_tax", "mta_tax"),
        _num("tip_amount", "tip"), _num("tolls_amount", "tolls"), _num("total_amount", "total"),
    )  # fmt: skip
    if index:
        columns += (FileColumn("__index_level_0__", Kind.INDEX, "", I64),)
    return Era(name, first, columns)


def _yellow_zoned(
    name: str, first: Month, *, ids: pa.DataType, counts: pa.DataType, flag: pa.DataType,
    congestion: pa.DataType | None, airport: tuple[str, pa.DataType | None], cbd: bool = False,
    vendor: pa.DataType = I64, flex: bool = False,
) -> Era:  # fmt: skip
    """2011 onwards: tpep_* times and zone ids, the 19 base columns even before a fee existed."""
    columns = (
        _num("VendorID", "vendor", vendor), _ts("tpep_pickup_datetime", "pickup"),
        _ts("tpep_dropoff_datetime", "dropoff"), _num("passenger_count", "passengers", counts),
        _num("trip_distance", "distance"), _num("RatecodeID", "ratecode", counts),
        _text("store_and_fwd_flag", Kind.FLAG, "stored", flag),
        _num("PULocationID", "pickup_zone", ids), _num("DOLocationID", "dropoff_zone", ids),
        _num("payment_type", "payment", I64), _num("fare_amount", "fare"),
        _num("extra", "extra"), _num("mta_tax", "mta_tax"), _num("tip_amount", "tip"),
        _num("tolls_amount", "tolls"), _num("improvement_surcharge", "improvement"),
        _num("total_amount", "total"), _maybe(congestion, "congestion_surcharge", "congestion"),
        _maybe(airport[1], airport[0], "airport"),
    )  # fmt: skip
    if cbd:
        columns += (_num("cbd_congestion_fee", "cbd"),)
    return Era(name, first, columns, null_block=congestion is not None, flex=flex)


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
        _num("VendorID", "vendor", vendor), _ts("lpep_pickup_datetime", "pickup"),
        _ts("lpep_dropoff_datetime", "dropoff"),
        _text("store_and_fwd_flag", Kind.FLAG, "stored", flag),
        _num("RatecodeID", "ratecode", counts),
        _num("PULocationID", "pickup_zone", ids), _num("DOLocationID", "dropoff_zone", ids),
        _num("passenger_count", "passengers", counts), _num("trip_distance", "distance"),
        _num("fare_amount", "fare"), _num("extra", "extra"), _num("mta_tax", "mta_tax"),
        _num("tip_amount", "tip"), _num("tolls_amount", "tolls"),
        FileColumn("ehail_fee", Kind.EMPTY, "ehail", F64) if ehail else _null("ehail_fee", "ehail"),
        _maybe(F64 if improvement else None, "improvement_surcharge", "improvement"),
        _num("total_amount", "total"),
        _num("payment_type", "payment", counts), _num("trip_type", "trip_type", counts),
        _maybe(F64 if congestion else None, "congestion_surcharge", "congestion"),
    )  # fmt: skip
    if cbd:
        columns += (_num("cbd_congestion_fee", "cbd"),)
    return Era(name, first, columns, null_block=congestion, flex=flex)


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
    # Only for the eras with coordinates (2009-2010).
    pickup_lon: np.ndarray | None = None
    pickup_lat: np.ndarray | None = None
    dropoff_lon: np.ndarray | None = None
    dropoff_lat: np.ndarray | None = None


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


def _shift_pickup(trips: Trips, rows: np.ndarray, pickup: np.ndarray) -> None:
    """Move pickups, keeping each trip's duration."""
    duration = trips.dropoff[rows] - trips.pickup[rows]
    trips.pickup[rows] = pickup
    trips.dropoff[rows] = pickup + duration


def _plant(rng: np.random.Generator, trips: Trips, month: Month, kind: DirtyKind, rows) -> None:
    """Turn `rows` (clean trips) into `kind` rows; totals are not computed yet."""
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
        trips.distance[rows] = 0.0  # the fare was metered before: a billed trip
    elif kind is DirtyKind.DDS_VENDOR:
        trips.vendor[rows] = DDS


def _reverse(rng: np.random.Generator, trips: Trips, copies, originals) -> None:
    """TLC voids or disputes a trip with a second row: the same trip, every amount negated."""
    for field in dataclasses.fields(trips):
        values = getattr(trips, field.name)
        if values is not None:
            values[copies] = values[originals]
    for name in (*AMOUNT_FIELDS, "total"):
        amounts = getattr(trips, name)
        amounts[copies] = 0.0 - amounts[copies]  # 0.0 - x keeps zeros at +0.0
    trips.payment[copies] = rng.choice([3, 4], size=len(copies))


# Kinds planted once the totals are known: they change a total or copy a finished trip.
_AFTER_TOTALS = (DirtyKind.ZERO_TOTAL, DirtyKind.FLEX_FARE, DirtyKind.REVERSAL)


def _plan(rates: DirtyRates, rows: int, era: Era) -> dict[DirtyKind, int]:
    planned = {kind: rates.rows(kind, rows) if era.allows(kind) else 0 for kind in DirtyKind}
    needed = sum(planned.values()) + planned[DirtyKind.REVERSAL]  # each copy keeps its original
    if needed > rows:
        raise InvalidInput(
            "dirty rates", rates,
            f"at most {rows} dirty rows in a {rows}-row month (a reversal takes two)",
        )  # fmt: skip
    return planned


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


def _column(column: FileColumn, trips: Trips, unit: str, rng: np.random.Generator) -> pa.Array:
    n = len(trips.pickup)
    kind = column.kind
    if kind is Kind.NULL:
        return pa.nulls(n)
    if kind is Kind.EMPTY:
        return pa.nulls(n, type=column.type)
    if kind is Kind.INDEX:
        return pa.array(np.arange(n, dtype=np.int64), type=column.type)
    values = getattr(trips, column.field)
    mask = trips.blank if column.field in BLANKED_FIELDS and trips.blank.any() else None
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
    if kind is Kind.FLAG_NUMBER:
        unrecorded = rng.random(n) < UNRECORDED_FLAG_2009
        return pa.array(values.astype(np.float64), mask=unrecorded).cast(column.type)
    return _spelled(column, values.astype(np.int64), mask, rng)


@dataclass(frozen=True)
class MonthSummary:
    """What `write_month` wrote: enough to know the transform's exact counts in advance."""

    path: str
    dataset: str
    month: str
    era: str
    timestamp_unit: str
    rows: int
    dirty: Mapping[str, int]  # every DirtyKind -> rows planted (0 for kinds the era cannot have)

    def _planted(self) -> list[tuple[DirtyKind, int]]:
        return [(DirtyKind(kind), rows) for kind, rows in self.dirty.items()]

    @property
    def expected_rejected(self) -> dict[str, int]:
        """Rows each integrity rule should quarantine first, both rules, in rule order."""
        rejected = {rule.value: 0 for rule in INTEGRITY_RULES}
        for kind, rows in self._planted():
            rule = EXPECTED_RULE[kind]
            if rule is not None:
                rejected[rule.value] += rows
        return rejected

    @property
    def expected_quarantined(self) -> int:
        return sum(self.expected_rejected.values())

    @property
    def expected_loaded(self) -> int:
        return self.rows - self.expected_quarantined

    @property
    def expected_flagged(self) -> dict[str, int]:
        """Loaded rows carrying each plausibility flag, all three, in flag order."""
        flagged = dict.fromkeys(FLAGS, 0)
        for kind, rows in self._planted():
            if EXPECTED_RULE[kind] is None:
                for flag in EXPECTED_FLAGS[kind]:
                    flagged[flag] += rows
        return flagged

    @property
    def expected_clean(self) -> int:
        """Loaded rows with no flag (every planted kind has either no flag or its own rows)."""
        flagged_rows = sum(
            rows for kind, rows in self._planted()
            if EXPECTED_RULE[kind] is None and EXPECTED_FLAGS[kind]
        )  # fmt: skip
        return self.expected_loaded - flagged_rows

    @property
    def expected_unmapped(self) -> dict[str, int]:
        """Warehouse column -> rows whose present file value has no mapping; only counts > 0."""
        unmapped: dict[str, int] = {}
        for kind, rows in self._planted():
            if kind in EXPECTED_UNMAPPED and rows > 0:
                column = EXPECTED_UNMAPPED[kind]
                unmapped[column] = unmapped.get(column, 0) + rows
        return unmapped

    @property
    def expected_unknown_columns(self) -> dict[str, str]:
        """File column -> type word, for each column the dataset definition does not know."""
        return era_named(self.era).unknown_columns


def expected_counts(summary: MonthSummary) -> dict[str, Any]:
    """The transform counts' fields this file must produce (a subset of the counts JSON)."""
    return {
        "dataset": summary.dataset,
        "month": summary.month,
        "rows_in": summary.rows,
        "rows_loaded": summary.expected_loaded,
        "rows_quarantined": summary.expected_quarantined,
        "rejected": summary.expected_rejected,
        "flagged": summary.expected_flagged,
        "rows_clean": summary.expected_clean,
        "unknown_columns": summary.expected_unknown_columns,
        "unmapped_values": summary.expected_unmapped,
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

    `timestamp_unit` overrides the era's ("ns" makes TIMESTAMP(NANOS) files); `rates` sets the
    dirty-row fractions (`CLEAN` for none; None: `default_rates(dataset)`). Same arguments, same
    bytes.
    """
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise InvalidInput("rows", rows, "a whole number of rows, at least 1")
    chosen = _choose_era(dataset, month, era)
    unit = timestamp_unit or chosen.timestamp_unit
    if unit not in TIMESTAMP_UNITS:
        raise InvalidInput("timestamp unit", unit, f"one of {', '.join(TIMESTAMP_UNITS)}")
    planned = _plan(rates if rates is not None else default_rates(dataset), rows, chosen)
    rng = np.random.default_rng(seed)
    trips = _generate(rng, dataset, month, rows)
    _place(rng, trips, chosen)
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
