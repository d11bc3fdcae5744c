"""The profile on both engines: the scan's aggregates over tagged rows (loaded and quarantined)
and each engine's own parts' footer statistics give the same profile, of the loaded rows only."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest

from pipeline.contract.datasets import GREEN
from pipeline.contract.profile import ColumnProfile, profile_expressions, profile_from
from pipeline.contract.sql import Engine
from pipeline.contract.types import ColumnType
from pipeline.jobs.part_stats import part_statistics
from pipeline.storage.lake import LocalLake

LOADED = [
    {"pickup_datetime": datetime(2024, 1, 1, 0, 5), "fare_amount": 10.0, "passenger_count": 1,
     "total_amount": 12.5, "store_and_fwd_flag": "N"},
    {"pickup_datetime": datetime(2024, 1, 31, 23, 0), "fare_amount": -2.5, "tip_amount": 1.0,
     "total_amount": 3.0, "flag_non_positive_fare": True},
]  # fmt: skip
# Extreme everywhere: any of it in the profile means a quarantined row was counted.
QUARANTINED = {"pickup_datetime": datetime(2023, 12, 31), "fare_amount": 1000.0,
               "passenger_count": 9, "tip_amount": 50.0, "total_amount": 1000.0,
               "ehail_fee": 7.0, "reject_reason": "pickup_in_month"}  # fmt: skip


def literal(value: object, column_type: ColumnType, engine: Engine) -> str:
    if value is None:
        return f"CAST(NULL AS {engine.type_name(column_type)})"
    if isinstance(value, datetime):
        return engine.cast(f"'{value.isoformat(sep=' ')}'", column_type)
    if isinstance(value, (str, date)):
        return engine.cast(f"'{value}'", column_type)
    return engine.cast(str(value).lower() if isinstance(value, bool) else repr(value), column_type)


def tagged_sql(engine: Engine) -> str:
    columns = [*GREEN.table_columns, ("reject_reason", ColumnType.STRING)]
    selects = []
    for row in [*LOADED, QUARANTINED]:
        row = {"source_month": date(2024, 1, 1), **row}
        for flag in GREEN.flags:
            row.setdefault(flag.name, False)
        items = [f"{literal(row.get(name), kind, engine)} AS {engine.quote(name)}"
                 for name, kind in columns]  # fmt: skip
        selects.append("SELECT " + ", ".join(items))
    return " UNION ALL ".join(selects)


def aggregate_sql(engine: Engine) -> tuple[list[str], str]:
    expressions = profile_expressions(GREEN, engine)
    sql = f"SELECT {', '.join(s for _, s in expressions)} FROM ({tagged_sql(engine)}) tagged"
    return [key for key, _ in expressions], sql


def loaded_sql(engine: Engine) -> str:
    names = ", ".join(engine.quote(name) for name, _ in GREEN.table_columns)
    return f"SELECT {names} FROM ({tagged_sql(engine)}) tagged WHERE reject_reason IS NULL"


def footer(lake: LocalLake) -> dict:
    parts = [o.key for o in lake.list("processed", "parts/") if o.key.endswith(".parquet")]
    assert parts
    return part_statistics(lake, parts, GREEN)


def duckdb_profile(tmp_path):
    keys, sql = aggregate_sql(Engine.DUCKDB)
    db = duckdb.connect()
    row = db.execute(sql).fetchone()
    lake = LocalLake(tmp_path / "duckdb")
    folder = lake.path("processed", "parts")
    folder.mkdir(parents=True)
    # One row a row group: the footer statistics are folded over groups and parts.
    db.execute(f"COPY ({loaded_sql(Engine.DUCKDB)}) TO '{folder}' "
               "(FORMAT parquet, PER_THREAD_OUTPUT true, ROW_GROUP_SIZE 1)")  # fmt: skip
    return profile_from(GREEN, "2024-01", dict(zip(keys, row, strict=True)), footer(lake))


def test_duckdb_profiles_the_loaded_rows_only(tmp_path):
    profile = duckdb_profile(tmp_path)
    assert profile.rows == 2
    assert profile.column("fare_amount") == ColumnProfile("fare_amount", 0, -2.5, 10.0, 7.5)
    assert profile.column("tip_amount") == ColumnProfile("tip_amount", 1, 1.0, 1.0, 1.0)
    assert profile.column("passenger_count") == ColumnProfile("passenger_count", 1, 1, 1)
    assert profile.column("ehail_fee") == ColumnProfile("ehail_fee", 2, None, None, None)
    assert profile.column("pickup_datetime") == ColumnProfile(
        "pickup_datetime", 0, "2024-01-01 00:05:00", "2024-01-31 23:00:00"
    )
    assert profile.column("store_and_fwd_flag") == ColumnProfile("store_and_fwd_flag", 1)
    assert profile.column("source_month") == ColumnProfile("source_month", 0)
    assert profile.column("flag_non_positive_fare") == ColumnProfile("flag_non_positive_fare", 0)


@pytest.mark.spark
def test_spark_gives_the_same_profile(spark, tmp_path):
    keys, sql = aggregate_sql(Engine.SPARK)
    row = spark.sql(sql).collect()[0]
    lake = LocalLake(tmp_path / "spark")
    spark.sql(loaded_sql(Engine.SPARK)).repartition(2).write.parquet(
        str(lake.path("processed", "parts"))
    )
    profile = profile_from(GREEN, "2024-01", dict(zip(keys, row, strict=True)), footer(lake))
    assert profile == duckdb_profile(tmp_path)
