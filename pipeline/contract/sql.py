"""The SQL dialects the row rules and the normalisation are written for: Spark SQL and DuckDB.

Everything the transform computes per row is SQL text generated in the contract, so the Spark
transform (Glue) and the DuckDB engine (local) derive from one definition. The two dialects
differ only in what this module spells: identifier quotes, type names, the zone-less timestamp
literal, a double's conversion to an integer, and nanoseconds since the epoch.
Standard library only.
"""

from __future__ import annotations

import enum
from datetime import date

from pipeline.contract.types import ColumnType

_SPARK_TYPES = {
    ColumnType.INTEGER: "INT",
    ColumnType.DOUBLE: "DOUBLE",
    # NTZ: TLC times are New York wall-clock values without a zone; never shift them.
    ColumnType.TIMESTAMP: "TIMESTAMP_NTZ",
    ColumnType.STRING: "STRING",
    ColumnType.DATE: "DATE",
    ColumnType.BOOLEAN: "BOOLEAN",
}


class Engine(str, enum.Enum):
    SPARK = "spark"
    DUCKDB = "duckdb"

    def quote(self, name: str) -> str:
        mark = "`" if self is Engine.SPARK else '"'
        return mark + name.replace(mark, mark * 2) + mark

    def type_name(self, column_type: ColumnType) -> str:
        if self is Engine.SPARK:
            return _SPARK_TYPES[column_type]
        return column_type.duckdb

    def midnight(self, day: date) -> str:
        """The month's bounds as text literals of the zone-free timestamp type, never as
        Python datetimes, so no engine shifts them by a local zone."""
        return f"{self.type_name(ColumnType.TIMESTAMP)} '{day.isoformat()} 00:00:00'"

    def cast(self, sql: str, column_type: ColumnType) -> str:
        return f"CAST({sql} AS {self.type_name(column_type)})"

    def try_cast(self, sql: str, column_type: ColumnType) -> str:
        """Null where the value does not convert, with or without Spark's ANSI mode."""
        return f"try_cast({sql} AS {self.type_name(column_type)})"

    def to_integer(self, sql: str) -> str:
        """A double to an integer, truncated toward zero (Spark's cast; DuckDB's rounds)."""
        if self is Engine.SPARK:
            return self.try_cast(sql, ColumnType.INTEGER)
        return self.try_cast(f"trunc({sql})", ColumnType.INTEGER)

    def epoch_nanos(self, sql: str) -> str:
        """Nanoseconds since the epoch -> a zone-free timestamp (microseconds, truncated).

        Spark 3.5 reads parquet TIMESTAMP(NANOS) only as longs
        (spark.sql.legacy.parquet.nanosAsLong); DuckDB reads them as timestamps, so it meets
        this only for a null-typed column."""
        if self is Engine.SPARK:
            return f"CAST(timestamp_micros({sql} div 1000) AS TIMESTAMP_NTZ)"
        return f"make_timestamp({sql} // 1000)"

    def month_text(self, sql: str) -> str:
        """A timestamp's month as `YYYY-MM` text (null for null)."""
        if self is Engine.SPARK:
            return f"date_format({sql}, 'yyyy-MM')"
        return f"strftime({sql}, '%Y-%m')"
