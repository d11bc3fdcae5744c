"""The yardstick for the local month: the contract's job as a data engineer would write it by hand.

One short DuckDB script, no pipeline around it: read the month's file, give it the contract's
columns, rules and flags (the same SQL, so the rows are the same), write the loadable rows and
the quarantine as parquet parts, and create the warehouse table. No download, no
lock, no decode check, no counts, no audit, no ledger, no profile, no write-aside, no
transaction discipline: what tlc-elt's guarantees are measured against (`make bench`, issue 21).

`python -m pipeline.dev.handwritten FILE WORKDIR DATASET YYYY-MM` (a fresh process each time; the
bench times it with `pipeline.dev.timed`). Prints the loaded row count.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import duckdb

from pipeline.contract.datasets import get_dataset
from pipeline.contract.months import Month
from pipeline.contract.normalise import normalisation, tagging
from pipeline.contract.rules import REJECT_REASON
from pipeline.contract.sql import Engine
from pipeline.local.duckdb_transform import source_type

ENGINE = Engine.DUCKDB


def run(file: Path, workdir: Path, dataset_name: str, month_text: str) -> int:
    dataset, month = get_dataset(dataset_name), Month.parse(month_text)
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "parts").mkdir(parents=True)
    db = duckdb.connect(str(workdir / "warehouse.duckdb"))
    raw = f"read_parquet('{file}')"
    described = db.execute(f"DESCRIBE SELECT * FROM {raw}").fetchall()
    types = {row[0]: source_type(row[1]) for row in described}
    plan = normalisation(dataset, month, types, ENGINE, source=str(file))
    db.execute(
        f"CREATE TEMP VIEW tagged AS SELECT {', '.join(tagging(dataset, month, ENGINE))} "
        f"FROM (SELECT {', '.join(plan.select_list(ENGINE))} FROM {raw})"
    )
    table = ", ".join(ENGINE.quote(name) for name, _ in dataset.table_columns)
    reason = ENGINE.quote(REJECT_REASON)
    # The table first, then its parts from it, then the quarantine: of the ways to write it
    # tried (parts first then the table from them, a materialised tagged table), the fastest.
    db.execute(f"CREATE TABLE {dataset.table} AS SELECT {table} FROM tagged WHERE {reason} IS NULL")
    db.execute(
        f"COPY {dataset.table} TO '{workdir / 'parts'}' (FORMAT parquet, PER_THREAD_OUTPUT true)"
    )
    db.execute(
        f"COPY (SELECT {table}, {reason} FROM tagged WHERE {reason} IS NOT NULL) "
        f"TO '{workdir / 'quarantine.parquet'}' (FORMAT parquet)"
    )
    (loaded,) = db.execute(f"SELECT count(*) FROM {dataset.table}").fetchone()
    db.close()
    return int(loaded)


if __name__ == "__main__":
    file, workdir, dataset, month = sys.argv[1:5]
    print(run(Path(file).resolve(), Path(workdir).resolve(), dataset, month))
