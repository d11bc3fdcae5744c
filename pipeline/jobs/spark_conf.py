"""The Spark settings transform's correctness depends on, wherever it runs (Glue or local)."""

from __future__ import annotations

from typing import Any

# Settings transform relies on, wherever it runs.
REQUIRED_CONF = {
    # TLC writes timestamps without a zone; keep them as written (no shift by a local zone).
    "spark.sql.session.timeZone": "UTC",
    # Some TLC files store TIMESTAMP(NANOS), which Spark 3.5 refuses to read unless it reads
    # them as longs; transform converts those longs back to timestamps.
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    # Write timestamps as TIMESTAMP_MICROS (not INT96) so DuckDB and Redshift COPY read them as-is.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}


def configure(spark: Any) -> Any:
    for key, value in REQUIRED_CONF.items():
        spark.conf.set(key, value)
    return spark
