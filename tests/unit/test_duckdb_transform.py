"""The DuckDB engine's own guarantees (its rows are held to Spark's in
tests/integration/test_engines.py): the counts JSON is written only when every write produced
the rows the counts say, and nothing of the month's output is touched before the file's schema
is known good."""

from __future__ import annotations

import os
import shutil

import pytest

from pipeline.contract import layout
from pipeline.contract.datasets import YELLOW
from pipeline.contract.errors import WriteMismatch
from pipeline.contract.months import Month
from pipeline.dev import synthetic
from pipeline.jobs.context import StepContext
from pipeline.local import duckdb_transform
from pipeline.storage.lake import LocalLake

# The run every step of these tests reads and writes (`layout.RunKeys`).
RUN_ID = "test-run"

MONTH = Month(2024, 1)


def _ingested(tmp_path, rows: int) -> LocalLake:
    lake = LocalLake(tmp_path / "lake")
    source = tmp_path / "source.parquet"
    synthetic.write_month(source, YELLOW, MONTH, rows, seed=2)
    raw = lake.path(layout.RAW, layout.RunKeys(YELLOW, MONTH, RUN_ID).raw_key)
    raw.parent.mkdir(parents=True)
    shutil.copyfile(source, raw)
    return lake


@pytest.fixture
def lake(tmp_path) -> LocalLake:
    return _ingested(tmp_path, 2_000)


def _after_first_write(monkeypatch, act) -> None:
    """Run `act()` between the transform's two writes (the parts, then the quarantine)."""
    real, calls = duckdb_transform._copy, []

    def copy(connection, query, folder):
        if calls:
            act()
        calls.append(folder)
        return real(connection, query, folder)

    monkeypatch.setattr(duckdb_transform, "_copy", copy)


def _fails_without_counts(lake, match: str) -> None:
    keys = layout.RunKeys(YELLOW, MONTH, RUN_ID)
    with pytest.raises(WriteMismatch, match=match):
        duckdb_transform.transform(StepContext(YELLOW, MONTH, lake, run_id=RUN_ID))
    # The load refuses a month without counts: nothing is loaded from these parts.
    assert not lake.exists(layout.PROCESSED, keys.counts_key)


def test_a_raw_file_replaced_between_the_writes_by_other_rows_fails_without_counts(
    lake, tmp_path, monkeypatch
):
    raw = lake.path(layout.RAW, layout.RunKeys(YELLOW, MONTH, RUN_ID).raw_key)
    other = tmp_path / "other.parquet"
    # February's rows: all quarantined by this month's transform, so the rows cannot add up.
    synthetic.write_month(other, YELLOW, Month(2024, 2), 1_500, seed=3)
    _after_first_write(monkeypatch, lambda: os.replace(other, raw))
    _fails_without_counts(lake, r"the month's rows: .* rows written .* but 2,000 counted")


def test_a_raw_file_replaced_by_as_many_rows_fails_without_counts(lake, tmp_path, monkeypatch):
    # The rows add up: only the file's identity (inode, size, mtime) tells.
    raw = lake.path(layout.RAW, layout.RunKeys(YELLOW, MONTH, RUN_ID).raw_key)
    other = tmp_path / "other.parquet"
    shutil.copyfile(raw, other)
    _after_first_write(monkeypatch, lambda: os.replace(other, raw))
    _fails_without_counts(lake, "was replaced during the transform")


def test_a_part_that_is_not_the_writes_own_fails_without_counts(lake, monkeypatch):
    # The counts are read back from the parts: a file the write did not produce shows.
    keys = layout.RunKeys(YELLOW, MONTH, RUN_ID)

    def stray() -> None:
        folder = lake.path(layout.PROCESSED, keys.processed_prefix)
        shutil.copyfile(folder / "part-0.parquet", folder / "part-9.parquet")

    _after_first_write(monkeypatch, stray)
    _fails_without_counts(lake, r"loadable rows: [\d,]+ rows written .* but [\d,]+ counted")


def test_the_counts_are_those_of_the_rows_written(lake):
    import duckdb

    counts = duckdb_transform.transform(StepContext(YELLOW, MONTH, lake, run_id=RUN_ID))
    keys = layout.RunKeys(YELLOW, MONTH, RUN_ID)
    folder = lake.path(layout.PROCESSED, keys.processed_prefix)
    quarantine = lake.path(layout.PROCESSED, keys.quarantine_prefix)
    loaded = duckdb.sql(f"SELECT count(*) FROM '{folder}/*.parquet'").fetchone()[0]
    reasons = dict(
        duckdb.sql(
            f"SELECT reject_reason, count(*) FROM '{quarantine}/*.parquet' GROUP BY 1"
        ).fetchall()
    )
    assert counts.rows_in == 2_000
    assert counts.rows_loaded == loaded
    assert {k: v for k, v in counts.rejected.items() if v} == reasons
    assert counts.rows_quarantined == sum(reasons.values()) > 0


def test_the_parts_have_the_tables_columns_and_large_row_groups(tmp_path):
    import pyarrow.parquet as pq

    # More rows than two of DuckDB's default row groups (122,880 rows) on each of two threads.
    lake = _ingested(tmp_path, 600_000)
    counts = duckdb_transform.transform(StepContext(YELLOW, MONTH, lake, run_id=RUN_ID))
    assert counts.part_files
    files = [pq.ParquetFile(lake.path(layout.PROCESSED, key)).metadata for key in counts.part_files]
    assert all(f.schema.to_arrow_schema().names == list(YELLOW.column_names) for f in files)
    assert sum(f.num_rows for f in files) == counts.rows_loaded
    # Row groups of at least 4 x DuckDB's default 122,880 rows (each file's last may be smaller),
    # which the warehouse loads without a second write.
    groups = [[f.row_group(i).num_rows for i in range(f.num_row_groups)] for f in files]
    full = [size for sizes in groups for size in sizes[:-1]]
    assert full  # some file has more than one group: the rule below is checked
    assert min(full) >= 4 * 122_880, groups
