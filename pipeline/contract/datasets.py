"""The TLC datasets as data: file names, every schema era's column names, and the warehouse table.

This module is the single source of truth for the schema. The transform engines derive their
SQL (`pipeline.contract.normalise`), the warehouses their DDL and views, all from
`Dataset.columns` and `Dataset.flags`.
It runs in Glue Python Shell (3.9) and in the trigger Lambda: standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Union

from pipeline.contract.errors import InvalidInput
from pipeline.contract.months import Month
from pipeline.contract.rules import Flag, non_positive
from pipeline.contract.types import ColumnType

TLC_BASE_URL = "https://d37ci6vzurychx.cloudfront.net/trip-data"


# Early yellow files (2009-2010) spell codes as text; TLC's data dictionary gives the numbers.
# A text is looked up by its first CODE_PREFIX characters, trimmed and upper-cased (TLC wrote
# "Cash", "CASH", "Cas", "CAS"). A value found in no table becomes null and is counted in the
# month's `unmapped_values`: "DDS" (Digital Dispatch Systems, a 2009-2010 vendor) has no code in
# TLC's dictionary, so its trips have no vendor_id rather than an invented one.
VENDOR_CODES: Mapping[str, int] = {"CMT": 1, "VTS": 2}
PAYMENT_CODES: Mapping[str, int] = {
    "CRD": 1, "CRE": 1,  # "CRD", "Credit", "CREDIT", "Cre"
    "CSH": 2, "CAS": 2,  # "CSH", "Cash", "CASH", "Cas"
    "NOC": 3, "NO ": 3, "NO": 3,  # "NOC", "No Charge", "No "
    "DIS": 4,  # "DIS", "Dispute", "Dis"
    "UNK": 5,  # "UNK", "Unknown"
    # "NA " (2010): not available. Public loaders disagree (3 or 5); "unknown" claims least.
    "NA": 5,
}  # fmt: skip
# store_and_fwd_flag is 'N'/'Y' in every era: 2010 wrote '0'/'1', 2009 a double 0/1 (read as
# text '0.0'/'1.0' before the lookup).
STORE_AND_FORWARD_CODES: Mapping[str, str] = {
    "N": "N", "Y": "Y", "0": "N", "1": "Y", "0.0": "N", "1.0": "Y",
}  # fmt: skip
# HVFHV's request flags are 'Y'/'N'; TLC writes ' ' where a company does not report one
# (access_a_ride_flag), which becomes null without being counted as an unmapped value.
YES_NO_CODES: Mapping[str, str] = {"Y": "Y", "N": "N"}
CODE_PREFIX = 3
Codes = Mapping[str, Union[int, str]]


@dataclass(frozen=True)
class Column:
    """One warehouse column and the names it has had in TLC's files.

    `sources` are matched case-insensitively (TLC wrote both `Airport_fee` and `airport_fee`).
    A required column missing from a file is an error naming it; an optional one becomes null.
    `codes` maps text values of eras that wrote codes as words to the contract's values.
    """

    name: str
    type: ColumnType
    sources: tuple[str, ...]
    required: bool = False
    codes: Codes | None = None
    # An amount of money in dollars (a fare, a fee, a tip, a pay): the month's profile sums it
    # (`pipeline.contract.profile`) and the history checks compare its amount per trip.
    money: bool = False

    def find_in(self, file_columns: Iterable[str]) -> str | None:
        """The file's name for this column: the first of `sources` present, ignoring case."""
        present = {name.lower(): name for name in file_columns}
        for source in self.sources:
            if source.lower() in present:
                return present[source.lower()]
        return None


@dataclass(frozen=True)
class Dataset:
    name: str
    first_month: Month
    columns: tuple[Column, ...]
    pickup_column: str = "pickup_datetime"
    dropoff_column: str = "dropoff_datetime"
    month_column: str = "source_month"
    # Plausibility flags (`pipeline.contract.rules`), after source_month in the table.
    flags: tuple[Flag, ...] = ()
    dropoff_optional: bool = False
    # What the report sums as a month's revenue (a money column; None: the dataset has none).
    revenue_column: str | None = None

    def __post_init__(self) -> None:
        names = [column.name for column in self.columns]
        if self.revenue_column is not None and not self.column(self.revenue_column).money:
            raise ValueError(f"{self.name}: revenue column {self.revenue_column} is no money")
        for flag in self.flags:
            if flag.column not in names:
                raise ValueError(f"{self.name}: {flag.name} checks unknown column {flag.column}")

    @property
    def table(self) -> str:
        return f"{self.name}_trips"

    def file_name(self, month: Month) -> str:
        return f"{self.name}_tripdata_{month}.parquet"

    def source_url(self, month: Month) -> str:
        return f"{TLC_BASE_URL}/{self.file_name(month)}"

    @property
    def table_columns(self) -> tuple[tuple[str, ColumnType], ...]:
        """The warehouse table in order: the file's columns, the month the row came from, then
        the plausibility flags."""
        return (
            *tuple((c.name, c.type) for c in self.columns),
            (self.month_column, ColumnType.DATE),
            *tuple((flag.name, ColumnType.BOOLEAN) for flag in self.flags),
        )

    @property
    def clean_table(self) -> str:
        """The view of the rows with no flag set (every dataset with flags has one)."""
        return f"{self.table}_clean"

    def known_source(self, file_column: str) -> bool:
        """Whether a file's column is one the dataset maps (any era, any case)."""
        return any(
            file_column.lower() == source.lower()
            for column in self.columns
            for source in column.sources
        )

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.table_columns)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


def _c(name, type_, *sources, required=False, codes=None) -> Column:
    return Column(name, type_, tuple(sources) or (name,), required, codes)


def _money(name, *sources, required=False) -> Column:
    return Column(name, ColumnType.DOUBLE, tuple(sources) or (name,), required, money=True)


INT, DBL, TS, STR = ColumnType.INTEGER, ColumnType.DOUBLE, ColumnType.TIMESTAMP, ColumnType.STRING


def _trip_columns(prefix: str) -> tuple[Column, ...]:
    """The original project's 11 columns, in its order, with each era's source names."""
    return (
        _c("vendor_id", INT, "VendorID", "vendor_id", "vendor_name", codes=VENDOR_CODES),
        _c("pickup_datetime", TS, f"{prefix}_pickup_datetime", "pickup_datetime",
           "Trip_Pickup_DateTime", required=True),
        _c("dropoff_datetime", TS, f"{prefix}_dropoff_datetime", "dropoff_datetime",
           "Trip_Dropoff_DateTime", required=True),
        _c("passenger_count", INT, "passenger_count"),
        _c("trip_distance", DBL, "trip_distance", required=True),
        _c("pickup_location_id", INT, "PULocationID"),
        _c("dropoff_location_id", INT, "DOLocationID"),
        _c("payment_type", INT, "payment_type", codes=PAYMENT_CODES),
        _money("fare_amount", "fare_amount", "Fare_Amt", required=True),
        _money("tip_amount", "tip_amount", "Tip_Amt"),
        _money("total_amount", "total_amount", "Total_Amt", required=True),
    )  # fmt: skip


def _charge_columns() -> tuple[Column, ...]:
    return (
        _c("ratecode_id", INT, "RatecodeID", "rate_code"),
        _c(
            "store_and_fwd_flag",
            STR,
            "store_and_fwd_flag",
            "store_and_forward",
            codes=STORE_AND_FORWARD_CODES,
        ),
        _money("extra", "extra", "surcharge"),
        _money("mta_tax"),
        _money("tolls_amount", "tolls_amount", "Tolls_Amt"),
        _money("improvement_surcharge"),
        _money("congestion_surcharge"),
    )


def _taxi_flags() -> tuple[Flag, ...]:
    return (
        non_positive("distance", "trip_distance"),
        non_positive("fare", "fare_amount"),
        non_positive("total", "total_amount"),
    )


# 2009-2010 yellow trips have coordinates and no zone ids (TLC's 2022 re-release back-filled
# zone ids from 2011 on only): without these, those trips would have no location at all.
_COORDINATES = (
    _c("pickup_longitude", DBL, "pickup_longitude", "Start_Lon"),
    _c("pickup_latitude", DBL, "pickup_latitude", "Start_Lat"),
    _c("dropoff_longitude", DBL, "dropoff_longitude", "End_Lon"),
    _c("dropoff_latitude", DBL, "dropoff_latitude", "End_Lat"),
)

YELLOW = Dataset(
    name="yellow",
    first_month=Month(2009, 1),
    columns=_trip_columns("tpep")
    + _charge_columns()
    + (_money("airport_fee"), _money("cbd_congestion_fee"))
    + _COORDINATES,
    flags=_taxi_flags(),
    revenue_column="total_amount",
)

GREEN = Dataset(
    name="green",
    first_month=Month(2013, 8),
    columns=_trip_columns("lpep")
    + _charge_columns()
    + (
        _money("cbd_congestion_fee"),
        _money("ehail_fee"),
        _c("trip_type", INT, "trip_type"),
    ),
    flags=_taxi_flags(),
    revenue_column="total_amount",
)

# For-hire vehicles (from 2015-01): seven columns, the names TLC spells in every file of the
# 2022 re-release (`dropOff_datetime`, `PUlocationID`, `SR_Flag`); the early files have no
# dropoff time, so a missing one passes the integrity rules. No amounts, hence no flags.
FHV = Dataset(
    name="fhv",
    first_month=Month(2015, 1),
    columns=(
        _c("dispatching_base_num", STR, required=True),
        _c("pickup_datetime", TS, required=True),
        _c("dropoff_datetime", TS, "dropOff_datetime"),
        _c("pickup_location_id", INT, "PUlocationID"),
        _c("dropoff_location_id", INT, "DOlocationID"),
        _c("sr_flag", INT, "SR_Flag"),
        _c("affiliated_base_number", STR, "Affiliated_base_number"),
    ),
    dropoff_optional=True,
)


def _yes_no(name: str) -> Column:
    return _c(name, STR, codes=YES_NO_CODES)


# High-volume for-hire services (Uber, Lyft, Via, Juno; from 2019-02): TLC's 24 columns in
# their order, then 2025's cbd_congestion_fee. trip_miles and base_passenger_fare carry the
# plausibility flags, as trip_distance and fare_amount do for the taxis.
_HVFHV_AMOUNTS = ("tolls", "bcf", "sales_tax", "congestion_surcharge", "airport_fee", "tips",
                  "driver_pay")  # fmt: skip
_HVFHV_FLAGS = ("shared_request_flag", "shared_match_flag", "access_a_ride_flag",
                "wav_request_flag", "wav_match_flag")  # fmt: skip

FHVHV = Dataset(
    name="fhvhv",
    first_month=Month(2019, 2),
    columns=(
        _c("hvfhs_license_num", STR, required=True),
        _c("dispatching_base_num", STR),
        _c("originating_base_num", STR),
        _c("request_datetime", TS),
        _c("on_scene_datetime", TS),
        _c("pickup_datetime", TS, required=True),
        _c("dropoff_datetime", TS, required=True),
        _c("pickup_location_id", INT, "PULocationID"),
        _c("dropoff_location_id", INT, "DOLocationID"),
        _c("trip_miles", DBL, required=True),
        _c("trip_time", INT),
        _money("base_passenger_fare", required=True),
        *(_money(name) for name in _HVFHV_AMOUNTS),
        *(_yes_no(name) for name in _HVFHV_FLAGS),
        _money("cbd_congestion_fee"),
    ),
    flags=(
        non_positive("distance", "trip_miles"),
        non_positive("fare", "base_passenger_fare"),
    ),
    # What riders paid for the trips themselves, before tolls, taxes, fees and tips.
    revenue_column="base_passenger_fare",
)

DATASETS: Mapping[str, Dataset] = {d.name: d for d in (YELLOW, GREEN, FHV, FHVHV)}
DEFAULT_DATASET = YELLOW.name


def get_dataset(name: object) -> Dataset:
    try:
        return DATASETS[str(name)]
    except KeyError:
        raise InvalidInput("dataset", name, f"one of {', '.join(sorted(DATASETS))}") from None
