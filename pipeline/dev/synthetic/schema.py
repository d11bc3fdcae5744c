"""How a synthetic month takes the shape of one of TLC's files: eras, file columns, Arrow arrays.

An `Era` is a dataset's file schema over a span of months, as TLC wrote it (names, order, Arrow
types, text spellings), and the dirty kinds its files can hold. Each `FileColumn` is made from
one field of a trip model (`taxi.Trips`, `forhire.Trips`): any object whose attributes are numpy
arrays and whose `masks` say which rows a field is null in. Dataset-neutral: the trip models
know the city, this module only how TLC spelled it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.contract.months import Month
from pipeline.dev.synthetic.kinds import DirtyKind

US_PER_SECOND = 1_000_000
I32, I64, F64, TEXT, LTEXT = pa.int32(), pa.int64(), pa.float64(), pa.string(), pa.large_string()


class Kind(enum.Enum):
    """How a file column is made from the generated trip values."""

    NUMBER = "number"  # a numeric field cast to the column's arrow type
    TIMESTAMP = "timestamp"  # in the era's timestamp unit
    TEXT_TIMESTAMP = "text_timestamp"  # '2009-01-04 02:52:00'
    NUMERIC_TEXT = "numeric_text"  # '1', '99'
    CODE_TEXT = "code_text"  # a code spelled as a word ('CASH', 'Cre', 'VTS', 'B02764', 'Y')
    FLAG = "flag"  # 'N' / 'Y' from a boolean
    FLAG_NUMBER = "flag_number"  # 2009: 0.0 / 1.0, or null when not recorded
    NULL = "null"  # arrow's null type: the column exists, no value was ever written
    EMPTY = "empty"  # a typed column that holds only nulls (green's ehail_fee)
    INDEX = "index"  # a pandas index written by mistake: 0..n-1


@dataclass(frozen=True)
class FileColumn:
    name: str
    kind: Kind
    field: str  # the trip model's attribute it is made from ("" when none)
    type: pa.DataType
    spellings: Mapping[int, tuple[str, ...]] | None = None  # CODE_TEXT: code -> its spellings


def num(name: str, field_name: str, type_: pa.DataType | None = None) -> FileColumn:
    return FileColumn(name, Kind.NUMBER, field_name, type_ or F64)


def ts(name: str, field_name: str) -> FileColumn:
    return FileColumn(name, Kind.TIMESTAMP, field_name, pa.timestamp("us"))


def text(name: str, kind: Kind, field_name: str, type_: pa.DataType | None = None, spellings=None):
    return FileColumn(name, kind, field_name, type_ or TEXT, spellings)


def null(name: str, field_name: str) -> FileColumn:
    return FileColumn(name, Kind.NULL, field_name, pa.null())


def maybe(typed: pa.DataType | None, name: str, field_name: str) -> FileColumn:
    """A column typed when the era has its values, else null-typed."""
    return num(name, field_name, typed) if typed is not None else null(name, field_name)


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
    """One schema era of a dataset: the first month it covers, its columns as TLC wrote them,
    and the dirty kinds its files can hold."""

    name: str
    first_month: Month
    columns: tuple[FileColumn, ...]
    dirty: frozenset[DirtyKind]
    timestamp_unit: str = "us"

    @property
    def dataset(self) -> str:
        return self.name.split("-", 1)[0]

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

    def allows(self, kind: DirtyKind) -> bool:
        """Whether TLC's files of this era can hold rows of `kind`."""
        return kind in self.dirty

    @property
    def unknown_columns(self) -> dict[str, str]:
        """File columns no dataset definition knows (stray artefacts), with their type word."""
        return {c.name: type_word(c.type) for c in self.columns if c.kind is Kind.INDEX}


def _labels(labels, type_: pa.DataType, index: np.ndarray, missing: np.ndarray | None):
    return pa.array(list(labels), type_).take(pa.array(index, mask=missing))


def _spelled(column: FileColumn, codes: np.ndarray, mask, rng: np.random.Generator) -> pa.Array:
    """Codes as TLC spelled them, mixing each code's spellings; a code with none -> null."""
    spellings = column.spellings or {}
    labels: list[str] = []
    top = max(max(spellings), int(codes.max(initial=0))) + 1
    first = np.full(top, -1, dtype=np.int64)
    variants = np.ones(top, dtype=np.int64)
    for code, names in spellings.items():
        first[code], variants[code] = len(labels), len(names)
        labels.extend(names)
    index = first[codes] + rng.integers(0, 1 << 20, len(codes)) % variants[codes]
    missing = first[codes] < 0
    return _labels(labels, column.type, index, missing if mask is None else missing | mask)


def file_array(column: FileColumn, trips: Any, unit: str, rng: np.random.Generator) -> pa.Array:
    """The column's values for every trip (`trips.masks[field]`: rows where it is null)."""
    n = len(trips.pickup)
    kind = column.kind
    if kind is Kind.NULL:
        return pa.nulls(n)
    if kind is Kind.EMPTY:
        return pa.nulls(n, type=column.type)
    if kind is Kind.INDEX:
        return pa.array(np.arange(n, dtype=np.int64), type=column.type)
    values = getattr(trips, column.field)
    mask = trips.masks.get(column.field)
    if kind in (Kind.NUMBER, Kind.NUMERIC_TEXT):
        return pa.array(values, mask=mask).cast(column.type)
    if kind is Kind.TIMESTAMP:
        return pa.array(values, type=pa.timestamp("us"), mask=mask).cast(pa.timestamp(unit))
    if kind is Kind.TEXT_TIMESTAMP:
        # Arrow's cast prints 'YYYY-MM-DD HH:MM:SS' for whole seconds, 8x faster than strftime.
        seconds = pa.array(values // US_PER_SECOND, type=pa.timestamp("s"), mask=mask)
        return seconds.cast(pa.string()).cast(column.type)
    if kind is Kind.FLAG:
        return _labels(("N", "Y"), column.type, values.astype(np.int64), mask)
    if kind is Kind.FLAG_NUMBER:
        return pa.array(values.astype(np.float64), mask=mask).cast(column.type)
    return _spelled(column, values.astype(np.int64), mask, rng)


def table_of(era: Era, trips: Any, unit: str, rng: np.random.Generator) -> pa.Table:
    arrays = [file_array(column, trips, unit, rng) for column in era.columns]
    return pa.Table.from_arrays(arrays, schema=era.schema(unit))
