"""The streaming parquet check: what it refuses, what it reads from the footer, its memory bound."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.contract.datasets import GREEN, YELLOW
from pipeline.contract.errors import MissingColumn, NotParquet
from pipeline.jobs.parquet_check import ParquetStreamCheck, describe_start


def _parquet(rows: int, row_group_size: int) -> bytes:
    buffer = io.BytesIO()
    table = pa.table({"n": list(range(rows)), "s": [f"row {i}" for i in range(rows)]})
    pq.write_table(table, buffer, row_group_size=row_group_size)
    return buffer.getvalue()


def _feed(data: bytes, chunk: int, tail_bytes: int = 1 << 20) -> ParquetStreamCheck:
    check = ParquetStreamCheck("http://x/f.parquet", tail_bytes=tail_bytes)
    for start in range(0, len(data), chunk):
        check.accept(data[start : start + chunk])
    return check


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_reads_rows_and_row_groups_from_the_footer_whatever_the_chunking(chunk):
    data = _parquet(rows=1000, row_group_size=300)

    facts = _feed(data, chunk).finish()

    assert (facts.rows, facts.row_groups, facts.columns) == (1000, 4, 2)


def test_real_tlc_sample_passes(sample5):
    facts = _feed(sample5.read_bytes(), 1000).finish()
    assert (facts.rows, facts.row_groups) == (5, 1)


def test_html_page_is_refused_on_its_first_bytes_before_the_end():
    check = ParquetStreamCheck("https://d/x.parquet")
    with pytest.raises(NotParquet) as refused:
        check.accept(b"<!DOCTYPE html>\n<html><body>" + b"x" * 100)
    message = str(refused.value)
    assert "https://d/x.parquet" in message
    assert "starts with '<!DOCTYPE html>' — an HTML page, not parquet" in message


@pytest.mark.parametrize(
    ("start", "says"),
    [
        (b"", "is empty"),
        (b'<?xml version="1.0"?><Error><Code>AccessDenied', "an XML document"),
        (b'{"message": "Forbidden"}', "JSON"),
        (b"\x1f\x8b\x08\x00", "gzip-compressed"),
        (b"PAR", "instead of parquet's 'PAR1' magic"),
    ],
)
def test_describes_what_arrived_instead(start, says):
    assert says in describe_start(start)
    with pytest.raises(NotParquet, match="not parquet"):
        _feed(start, 5).finish()


def test_truncated_file_is_refused_for_its_missing_end_magic():
    data = _parquet(rows=500, row_group_size=100)
    with pytest.raises(NotParquet, match="not parquet's 'PAR1' magic — a truncated"):
        _feed(data[: len(data) // 2], 64).finish()


def test_footer_length_beyond_the_file_is_refused():
    data = _parquet(rows=10, row_group_size=10)
    damaged = data[:-8] + (len(data) * 2).to_bytes(4, "little") + b"PAR1"
    with pytest.raises(NotParquet, match="footer in a"):
        _feed(damaged, 64).finish()


def test_garbage_footer_is_refused_as_unreadable():
    data = _parquet(rows=10, row_group_size=10)
    footer_size = int.from_bytes(data[-8:-4], "little")
    garbage = data[: -8 - footer_size] + b"\xff" * footer_size + data[-8:]
    with pytest.raises(NotParquet, match="unreadable parquet footer"):
        _feed(garbage, 64).finish()


def test_memory_is_bounded_by_the_tail_window_plus_one_chunk():
    data = _parquet(rows=20_000, row_group_size=2_000)
    check = ParquetStreamCheck("f", tail_bytes=4096)
    largest = 0
    for start in range(0, len(data), 1000):
        check.accept(data[start : start + 1000])
        largest = max(largest, check.tail_size)

    assert len(data) > 10 * 4096
    assert largest <= 4096 + 1000
    assert check.finish().rows == 20_000


def test_footer_larger_than_the_window_is_refused_saying_so():
    data = _parquet(rows=2000, row_group_size=10)  # 200 row groups: a large footer
    with pytest.raises(NotParquet, match="more than the 64 bytes kept"):
        _feed(data, 16, tail_bytes=64).finish()


def test_reset_starts_over():
    data = _parquet(rows=10, row_group_size=10)
    check = _feed(data[:50], 10)
    check.reset()
    for start in range(0, len(data), 10):
        check.accept(data[start : start + 10])
    assert check.size == len(data)
    assert check.finish().rows == 10


def _table_bytes(columns: dict[str, list]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    return buffer.getvalue()


def test_with_a_dataset_every_missing_required_column_is_named_with_its_names():
    data = _table_bytes({"lpep_pickup_datetime": [1], "trip_distance": [1.0], "Fare_Amt": [2.0]})
    check = ParquetStreamCheck("http://x/f.parquet", dataset=YELLOW)
    check.accept(data)

    with pytest.raises(MissingColumn) as refused:
        check.finish()

    message = str(refused.value)
    assert message.startswith("http://x/f.parquet lacks the required yellow columns ")
    for name, sources in [
        ("pickup_datetime", "tpep_pickup_datetime, pickup_datetime, Trip_Pickup_DateTime"),
        ("dropoff_datetime", "tpep_dropoff_datetime, dropoff_datetime, Trip_Dropoff_DateTime"),
        ("total_amount", "total_amount, Total_Amt"),
    ]:
        assert f"{name!r} (looked for {sources}, any case)" in message
    assert "'fare_amount'" not in message  # Fare_Amt is its 2009 name
    assert "it has lpep_pickup_datetime, trip_distance, Fare_Amt" in message


def test_the_same_file_passes_for_the_dataset_whose_names_it_has():
    green = {
        "LPEP_PICKUP_DATETIME": [1],
        "lpep_dropoff_datetime": [2],
        "trip_distance": [1.0],
        "fare_amount": [2.0],
        "total_amount": [3.0],
    }
    check = ParquetStreamCheck("f", dataset=GREEN)
    check.accept(_table_bytes(green))
    assert check.finish().column_names == tuple(green)

    yellow = ParquetStreamCheck("f", dataset=YELLOW)
    yellow.accept(_table_bytes(green))
    with pytest.raises(MissingColumn, match="'pickup_datetime'"):
        yellow.finish()


def test_ingest_says_at_start_when_pyarrow_cannot_be_imported(monkeypatch, tmp_path):
    """Python Shell without the analytics set or the pinned module: refused before any request."""
    import sys

    from pipeline.contract.errors import PipelineError
    from pipeline.contract.months import Month
    from pipeline.jobs.context import StepContext
    from pipeline.jobs.ingest import ingest
    from pipeline.storage.lake import LocalLake

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` raises ImportError
    context = StepContext(
        YELLOW, Month(2024, 9), LocalLake(tmp_path), run_id="r1", source="http://127.0.0.1:9/x"
    )

    with pytest.raises(PipelineError, match="pyarrow, which cannot be imported") as refused:
        ingest(context)
    assert "--additional-python-modules" in str(refused.value)
    assert not (tmp_path / "raw").exists()
