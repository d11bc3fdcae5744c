"""The DuckDB engine's own guarantees (its rows are held to Spark's in
tests/integration/test_engines.py): the counts JSON is written only when every write produced
the rows the counts say, and nothing of the month's output is touched before the file's schema
is known good."""

from __future__ import annotations

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


def test_a_write_that_differs_from_the_counts_fails_and_leaves_no_counts(lake, monkeypatch):
    counts = duckdb_transform.transform(StepContext(YELLOW, MONTH, lake, run_id=RUN_ID))
    assert lake.exists(layout.PROCESSED, layout.RunKeys(YELLOW, MONTH, RUN_ID).counts_key)
    real = duckdb_transform.aggregate_expressions

    def one_row_more(dataset, plan, engine):  # as if the file changed between two scans
        return [(key, f"{sql} + 1" if key == "rows_loaded" else sql)
                for key, sql in real(dataset, plan, engine)]  # fmt: skip

    monkeypatch.setattr(duckdb_transform, "aggregate_expressions", one_row_more)
    with pytest.raises(WriteMismatch) as failed:
        duckdb_transform.transform(StepContext(YELLOW, MONTH, lake, run_id=RUN_ID))
    assert f"{counts.rows_loaded:,} rows written" in str(failed.value)
    assert f"but {counts.rows_loaded + 1:,} counted" in str(failed.value)
    # The load refuses a month without counts: nothing is loaded from these parts.
    assert not lake.exists(layout.PROCESSED, layout.RunKeys(YELLOW, MONTH, RUN_ID).counts_key)


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
