"""The TLC datasets as data: file names, every schema era's column names, and the warehouse table.

This module is the single source of truth for the schema. Transform derives its Spark casts, the
warehouses derive their DDL, the demo derives its synthetic files, all from `Dataset.columns`.
It runs in Glue Python Shell (3.9) and in the trigger Lambda: standard library only.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pipeline.contract.errors import InvalidInput
from pipeline.contract.months import Month

TLC_BASE_URL = "https://d37ci6vzurychx.cloudfront.net/trip-data"


class ColumnType(enum.Enum):
    """Logical column types, each with its spelling in the two warehouses and its Arrow type
    in the processed parquet parts (a `pyarrow.type_for_alias` name)."""

    INTEGER = ("INTEGER", "INTEGER", "int32")
    DOUBLE = ("DOUBLE PRECISION", "DOUBLE", "double")
    TIMESTAMP = ("TIMESTAMP", "TIMESTAMP", "timestamp[us]")
    STRING = ("VARCHAR(8)", "VARCHAR", "string")
    DATE = ("DATE", "DATE", "date32")

    @property
    def redshift(self) -> str:
        return self.value[0]

    @property
    def duckdb(self) -> str:
        return self.value[1]

    @property
    def arrow(self) -> str:
        return self.value[2]


# Early yellow files (2009-2010) spell codes as text; TLC's data dictionary gives the numbers.
VENDOR_CODES: Mapping[str, int] = {"CMT": 1, "VTS": 2}
PAYMENT_CODES: Mapping[str, int] = {
    "CRD": 1, "CRE": 1,  # "CRD", "Credit", "CREDIT"
    "CSH": 2, "CAS": 2,  # "CSH", "Cash", "CASH"
    "NOC": 3, "NO ": 3,  # "NOC", "No Charge"
    "DIS": 4,  # "DIS", "Dispute"
    "UNK": 5,  # "UNK", "Unknown"
}  # fmt: skip
# How many leading characters of a text code are looked up in the tables above.
CODE_PREFIX = 3


@dataclass(frozen=True)
class Column:
    """One warehouse column and the names it has had in TLC's files.

    `sources` are matched case-insensitively (TLC wrote both `Airport_fee` and `airport_fee`).
    A required column missing from a file is an error naming it; an optional one becomes null.
    `codes` maps text values of eras that wrote codes as words to their numbers.
    """

    name: str
    type: ColumnType
    sources: tuple[str, ...]
    required: bool = False
    codes: Mapping[str, int] | None = None

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

    @property
    def table(self) -> str:
        return f"{self.name}_trips"

    def file_name(self, month: Month) -> str:
        return f"{self.name}_tripdata_{month}.parquet"

    def source_url(self, month: Month) -> str:
        return f"{TLC_BASE_URL}/{self.file_name(month)}"

    @property
    def table_columns(self) -> tuple[tuple[str, ColumnType], ...]:
        """The warehouse table in order: the file's columns, then the month the row came from."""
        return (
            *tuple((c.name, c.type) for c in self.columns),
            (self.month_column, ColumnType.DATE),
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
        _c("fare_amount", DBL, "fare_amount", "Fare_Amt", required=True),
        _c("tip_amount", DBL, "tip_amount", "Tip_Amt"),
        _c("total_amount", DBL, "total_amount", "Total_Amt", required=True),
    )  # fmt: skip


def _charge_columns() -> tuple[Column, ...]:
    return (
        _c("ratecode_id", INT, "RatecodeID", "rate_code"),
        _c("store_and_fwd_flag", STR, "store_and_fwd_flag", "store_and_forward"),
        _c("extra", DBL, "extra", "surcharge"),
        _c("mta_tax", DBL, "mta_tax"),
        _c("tolls_amount", DBL, "tolls_amount", "Tolls_Amt"),
        _c("improvement_surcharge", DBL, "improvement_surcharge"),
        _c("congestion_surcharge", DBL, "congestion_surcharge"),
    )


YELLOW = Dataset(
    name="yellow",
    first_month=Month(2009, 1),
    columns=_trip_columns("tpep")
    + _charge_columns()
    + (_c("airport_fee", DBL, "airport_fee"), _c("cbd_congestion_fee", DBL, "cbd_congestion_fee")),
)

GREEN = Dataset(
    name="green",
    first_month=Month(2013, 8),
    columns=_trip_columns("lpep")
    + _charge_columns()
    + (
        _c("cbd_congestion_fee", DBL, "cbd_congestion_fee"),
        _c("ehail_fee", DBL, "ehail_fee"),
        _c("trip_type", INT, "trip_type"),
    ),
)

DATASETS: Mapping[str, Dataset] = {d.name: d for d in (YELLOW, GREEN)}
DEFAULT_DATASET = YELLOW.name


def get_dataset(name: object) -> Dataset:
    try:
        return DATASETS[str(name)]
    except KeyError:
        raise InvalidInput("dataset", name, f"one of {', '.join(sorted(DATASETS))}") from None
