"""The month's transform in DuckDB SQL: the benchmark's reference for what Spark should cost.

Same input (the raw file), same contract columns (`Dataset.columns`), same row rules
(`pipeline.contract.rules`, as SQL), same outputs (processed and quarantine parquet) and the same
single scan: the tagged rows are materialised once, then counted and written twice. It covers the
eras whose files store numbers as numbers (yellow 2011 on, every green month); the earliest yellow
eras' text codes are the Spark transform's business alone.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.contract.datasets import ColumnType, Dataset
from pipeline.contract.errors import InvalidInput, MissingColumn
from pipeline.contract.months import Month
from pipeline.contract.rules import (
    REJECT_REASON,
    RULE_NAMES,
    Engine,
    reject_reason_sql,
    zero_counts,
)
from pipeline.jobs.transform import COMPRESSION, STRING_WIDTH


@dataclass(frozen=True)
class ReferenceRun:
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    rejected: dict[str, int]
    seconds: float


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def select_sql(dataset: Dataset, month: Month, file_types: dict[str, str], source: str) -> str:
    """SELECT of the contract columns from the file (`file_types`: its DuckDB column types)."""
    selected = []
    for column in dataset.columns:
        name = column.find_in(file_types)
        if name is None:
            if column.required:
                raise MissingColumn(f"{source} has no column for required {column.name!r}")
            value = f"CAST(NULL AS {column.type.duckdb})"
        elif column.type is ColumnType.STRING:
            value = f"left(trim(CAST({_quote(name)} AS VARCHAR)), {STRING_WIDTH})"
        elif file_types[name] == "VARCHAR":
            raise InvalidInput("file", source, "an era that stores numbers as numbers (2011 on)")
        else:
            value = f"CAST({_quote(name)} AS {column.type.duckdb})"
        selected.append(f"{value} AS {column.name}")
    selected.append(f"DATE {_literal(month.first_day.isoformat())} AS {dataset.month_column}")
    return f"SELECT {', '.join(selected)} FROM read_parquet({_literal(source)})"


def transform_month(
    dataset: Dataset, month: Month, source: Path | str, out: Path | str
) -> ReferenceRun:
    """Raw file -> `out/processed.parquet` and `out/quarantine.parquet`, with the counts."""
    import duckdb

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    connection = duckdb.connect()
    try:
        described = connection.execute(
            f"DESCRIBE SELECT * FROM read_parquet({_literal(str(source))})"
        ).fetchall()
        file_types = {row[0]: row[1] for row in described}
        normalised = select_sql(dataset, month, file_types, str(source))
        reason = reject_reason_sql(dataset, month, Engine.DUCKDB)
        connection.execute(
            f"CREATE TEMP TABLE tagged AS SELECT *, {reason} AS {REJECT_REASON} FROM ({normalised})"
        )
        rejected = zero_counts()
        loaded = 0
        for reason_name, rows in connection.execute(
            f"SELECT {REJECT_REASON}, count(*) FROM tagged GROUP BY 1"
        ).fetchall():
            if reason_name is None:
                loaded = int(rows)
            elif reason_name in RULE_NAMES:
                rejected[reason_name] = int(rows)
            else:  # rules.py is a closed set
                raise AssertionError(f"unknown reject reason {reason_name!r}")
        options = f"(FORMAT parquet, COMPRESSION {COMPRESSION})"
        good = out / "processed.parquet"
        bad = out / "quarantine.parquet"
        connection.execute(
            f"COPY (SELECT * EXCLUDE ({REJECT_REASON}) FROM tagged "
            f"WHERE {REJECT_REASON} IS NULL) TO {_literal(str(good))} {options}"
        )
        connection.execute(
            f"COPY (SELECT * FROM tagged WHERE {REJECT_REASON} IS NOT NULL) "
            f"TO {_literal(str(bad))} {options}"
        )
    finally:
        connection.close()
    quarantined = sum(rejected.values())
    return ReferenceRun(
        rows_in=loaded + quarantined,
        rows_loaded=loaded,
        rows_quarantined=quarantined,
        rejected=rejected,
        seconds=time.perf_counter() - started,
    )


def counts_of(run: ReferenceRun) -> dict[str, Any]:
    """The fields the Spark transform's counts JSON shares with the reference."""
    return {name: value for name, value in asdict(run).items() if name != "seconds"}
