"""`normalise.unmapped_by_value` (the DuckDB engine's unmapped counts, one condition per distinct
value) gives the counts `count_expressions` gives row by row (what Spark computes while it
writes), on the odd values real TLC files hold. The engines test holds the two engines to the
same counts on whole months."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.contract.datasets import FHVHV, YELLOW
from pipeline.contract.months import Month
from pipeline.contract.normalise import count_expressions, normalisation, unmapped_by_value
from pipeline.contract.sql import Engine
from pipeline.contract.types import SourceType
from pipeline.local.duckdb_transform import read_raw, source_type

ENGINE = Engine.DUCKDB
N = 9
ODD_YELLOW = {
    "vendor_id": ["CMT", "VTS", "DDS", " vts ", None, "2", "DDS", "", "x" * 300],
    "pickup_datetime": ["2010-03-01 00:00:00", "garbage", "garbage", None, "", "2010-03-05",
                        "2010-13-45 00:00:00", "2010-03-05 12:00:00", "0"],
    "dropoff_datetime": ["2010-03-01 00:10:00"] * N,
    "passenger_count": ["1", "6.0", None, "0", "two", " 2 ", "", "1e3", "-1"],
    "trip_distance": [1.0] * N,
    "rate_code": ["1", "99.0", "", "x", None, " 5 ", "x", "x", "7"],
    "store_and_fwd_flag": ["  Y  ", "N", "ABCDEFGHIJ", "", None, "n", "?", "?", "yes"],
    "payment_type": ["No Charge", "Dispute", "CSH", "Credit", "UNK", "1", "??", "??", None],
    "fare_amount": [5.0] * N,
    "total_amount": [6.0] * N,
}  # fmt: skip
ODD_FHVHV = {
    "hvfhs_license_num": ["HV0003", "HV0005", "HV9999", "hv0003 ", None, "", "HV9999", "X", "Y"],
    "dispatching_base_num": ["B02764", "B" * 300, None, "", "B02764", "c" * 300, "B1", "B2", "B"],
    "pickup_datetime": ["2024-01-01 00:00:00"] * N,
    "dropoff_datetime": ["2024-01-01 00:10:00"] * N,
    "PULocationID": [1] * N,
    "DOLocationID": [2] * N,
    "trip_miles": [1.0] * N,
    "base_passenger_fare": [10.0] * N,
    "shared_request_flag": ["Y", "N", " ", "maybe", None, "y", "maybe", "N", "Q"],
    "wav_match_flag": ["N", "N", "N", "?", "?", "?", None, "", "Y"],
}  # fmt: skip


@pytest.mark.parametrize(
    ("dataset", "month", "columns"),
    [(YELLOW, Month(2010, 3), ODD_YELLOW), (FHVHV, Month(2024, 1), ODD_FHVHV)],
    ids=["yellow", "fhvhv"],
)
def test_counts_by_value_are_the_counts_row_by_row(tmp_path, dataset, month, columns):
    path = tmp_path / "odd.parquet"
    pq.write_table(pa.table(columns), path)
    connection = duckdb.connect()
    described = connection.execute(f"DESCRIBE SELECT * FROM {read_raw(str(path))}").fetchall()
    types = {row[0]: source_type(row[1]) for row in described}
    plan = normalisation(dataset, month, types, ENGINE, source=str(path))
    assert len(plan.unmapped) >= 4  # several text conversions, codes and widths among them

    row_by_row = [(key, sql) for key, sql in count_expressions(dataset, plan, ENGINE)
                  if key.startswith("unmapped:")]  # fmt: skip
    normalised = f"SELECT {', '.join(plan.select_list(ENGINE))} FROM {read_raw(str(path))}"
    expected = connection.execute(
        f"SELECT {', '.join(sql for _, sql in row_by_row)} FROM ({normalised})"
    ).fetchone()
    keys, sql = unmapped_by_value(plan, ENGINE, read_raw(str(path)))
    assert keys == [key for key, _ in row_by_row]
    assert connection.execute(sql).fetchone() == expected
    assert sum(expected) >= 5  # the odd values are counted, not all zero


def test_a_file_without_text_needs_no_query():
    numbers = {name: SourceType.INTEGER for name in ODD_YELLOW if name != "store_and_fwd_flag"}
    numbers["pickup_datetime"] = numbers["dropoff_datetime"] = SourceType.TIMESTAMP
    plan = normalisation(YELLOW, Month(2024, 1), numbers, ENGINE, source="f.parquet")
    assert plan.unmapped == ()
    assert unmapped_by_value(plan, ENGINE, "t") == ([], "")
