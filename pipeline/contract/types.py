"""Column types: the warehouse's logical types, and what a TLC file's columns turn out to be.

Standard library only. `ColumnType` spells each contract type for every place that stores it;
`SourceType` is the engine-neutral kind of a file column, which each transform engine reads off
its own schema (`pipeline.contract.normalise` derives the SQL from it).
"""

from __future__ import annotations

import enum


class ColumnType(enum.Enum):
    """Logical column types, each with its spelling in the two warehouses, its Arrow type in
    the processed parquet parts (a `pyarrow.type_for_alias` name), and its Glue Data Catalog
    type, which Athena reads those parts with (int32 -> int, timestamp[us] -> timestamp, date32
    -> date: https://docs.aws.amazon.com/athena/latest/ug/data-types.html)."""

    INTEGER = ("INTEGER", "INTEGER", "int32", "int")
    DOUBLE = ("DOUBLE PRECISION", "DOUBLE", "double", "double")
    TIMESTAMP = ("TIMESTAMP", "TIMESTAMP", "timestamp[us]", "timestamp")
    # Codes, base license numbers and zone names (the longest, 45 characters): a longer text is
    # cut to this width and counted in the month's `unmapped_values` (`contract.normalise`).
    STRING = ("VARCHAR(64)", "VARCHAR", "string", "string")
    DATE = ("DATE", "DATE", "date32", "date")
    BOOLEAN = ("BOOLEAN", "BOOLEAN", "bool", "boolean")
    # The pipeline's own tables (the ledger): counts past 2^31, and long JSON text.
    BIGINT = ("BIGINT", "BIGINT", "int64", "bigint")
    TEXT = ("VARCHAR(65535)", "VARCHAR", "string", "string")

    @property
    def redshift(self) -> str:
        return self.value[0]

    @property
    def duckdb(self) -> str:
        return self.value[1]

    @property
    def arrow(self) -> str:
        return self.value[2]

    @property
    def glue(self) -> str:
        return self.value[3]


class SourceType(str, enum.Enum):
    """What a file column holds, whatever the engine calls it; the value names it in the
    counts' `unknown_columns`, so both engines report a drifted column alike."""

    INTEGER = "integer"  # int8..int64 (and a parquet null-typed column, read as int32)
    DOUBLE = "double"  # float, double, decimal
    STRING = "string"
    TIMESTAMP = "timestamp"  # without a zone, any unit
    TIMESTAMP_ZONED = "timestamp with time zone"
    DATE = "date"
    BOOLEAN = "boolean"
    OTHER = "other"  # binary, nested: nothing the contract maps
