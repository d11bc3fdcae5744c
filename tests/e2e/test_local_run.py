"""Whole local runs through the command line: `local` (one month, a range), `verify`, `demo`.

Real steps end to end: ingest over loopback HTTP or from a file, the transform on the default
engine (DuckDB) or `--engine spark`, DuckDB load. The months are synthetic (no internet here),
written in each dataset's real schema.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from pipeline.cli.main import EXIT_BAD_INPUT, main
from pipeline.contract import datasets
from pipeline.contract.datasets import FHV, FHVHV, GREEN, YELLOW
from pipeline.contract.months import Month
from pipeline.contract.steps import STEPS
from pipeline.dev import synthetic
from pipeline.dev.demo import serve_folder

ROWS = 20_000


def verify_json(workdir, dataset, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["verify", "--workdir", str(workdir), "--dataset", dataset.name, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("dataset", "engine"),
    [
        (YELLOW, "duckdb"),
        (GREEN, "duckdb"),
        (FHV, "duckdb"),
        (FHVHV, "duckdb"),
        (YELLOW, "spark"),
        (GREEN, "spark"),
        (FHVHV, "spark"),
    ],
    ids=lambda value: getattr(value, "name", value),
)
def test_local_month_from_a_file_loads_what_the_rules_keep(
    request, tmp_path, capsys, dataset, engine
):
    if engine == "spark":
        request.getfixturevalue("spark")  # the shared session, which the run then uses
    month = Month(2024, 3)
    source = tmp_path / dataset.file_name(month)
    summary = synthetic.write_month(source, dataset, month, ROWS, seed=7)
    workdir = tmp_path / "work"

    code = main(["local", "--year", "2024", "--month", "3", "--dataset", dataset.name,
                 "--source", str(source), "--workdir", str(workdir),
                 "--engine", engine])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    for state in (step.state for step in STEPS):
        assert f"{dataset.name} 2024-03 {state}" in out  # progress line per step
    assert f"{ROWS:,}" in out  # the month's counts table
    assert "dropoff_not_before_pickup" in out  # a quarantine reason
    fare_flag = next((flag for flag in dataset.flags if flag.name.endswith("_fare")), None)
    assert ("flagged flag_non_positive_fare" in out) == (fare_flag is not None)  # flags apart

    # Each engine's own part files: Spark names them part-NNNNN-<uuid>-c000.snappy.parquet.
    parts = [path.name for path in (workdir / "lake" / "processed" / dataset.name).rglob("part-*")]
    assert parts
    assert all(name.endswith(".snappy.parquet") == (engine == "spark") for name in parts)

    (row,) = verify_json(workdir, dataset, capsys)
    assert row.pop("run_id").startswith("local-")
    assert row.pop("published_at")
    assert row == {"dataset": dataset.name, "month": "2024-03", "rows": summary.expected_loaded,
                   "clean_rows": summary.expected_clean, "expected": summary.expected_loaded,
                   "quarantined": summary.expected_quarantined,
                   "expected_clean": summary.expected_clean, "status": "ok"}  # fmt: skip
    with duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True) as con:
        columns = [row[0] for row in con.execute(f"DESCRIBE {dataset.table}").fetchall()]
        assert tuple(columns) == dataset.column_names
        outside = con.execute(
            f"SELECT count(*) FROM {dataset.table} WHERE pickup_datetime < '2024-03-01' "
            "OR pickup_datetime >= '2024-04-01'"
        ).fetchone()[0]
        assert outside == 0
        # Every load brings TLC's zones along: the join a user writes works.
        boroughs = con.execute(
            f"SELECT count(DISTINCT z.borough) FROM {dataset.table} t "
            "JOIN taxi_zones z ON z.location_id = t.pickup_location_id"
        ).fetchone()[0]
        assert con.execute("SELECT count(*) FROM taxi_zones").fetchone()[0] == 265
        assert boroughs >= 5
        if fare_flag is None:  # fhv: no flags, so no clean view
            assert summary.expected_clean == summary.expected_loaded
            return
        # Flagged trips are loaded; the clean view is the unflagged ones, with no flag column.
        fare = fare_flag.column
        flagged, clean = con.execute(
            f"SELECT (SELECT count(*) FROM {dataset.table} WHERE {fare} <= 0), "
            f"(SELECT count(*) FROM {dataset.clean_table} WHERE {fare} > 0)"
        ).fetchone()
        assert flagged == summary.expected_flagged["flag_non_positive_fare"] > 0
        assert clean == summary.expected_clean
        view = [row[0] for row in con.execute(f"DESCRIBE {dataset.clean_table}").fetchall()]
        assert not [name for name in view if name.startswith("flag_")]


def test_local_range_walks_the_months_in_order_from_the_default_url(tmp_path, capsys, monkeypatch):
    # TLC's URL pattern, served here: the range takes the default source of each month.
    served = tmp_path / "tlc"
    months = [Month(2023, 12), Month(2024, 1)]
    planted = {}
    for i, month in enumerate(months):
        summary = synthetic.write_month(served / YELLOW.file_name(month), YELLOW, month, 5_000 + i)
        planted[str(month)] = summary.expected_loaded
    workdir = tmp_path / "work"
    with serve_folder(served) as base_url:
        monkeypatch.setattr(datasets, "TLC_BASE_URL", base_url)
        code = main(["local", "--from", "2023-12", "--to", "2024-01", "--workdir", str(workdir)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.index("2023-12 IngestRaw") < out.index("2024-01 IngestRaw")
    rows = verify_json(workdir, YELLOW, capsys)
    assert {row["month"]: row["rows"] for row in rows} == planted
    assert all(row["status"] == "ok" for row in rows)

    # Re-running the first month again replaces it: same table, nothing duplicated.
    with serve_folder(served) as base_url:
        monkeypatch.setattr(datasets, "TLC_BASE_URL", base_url)
        assert main(["local", "--year", "2023", "--month", "12", "--workdir", str(workdir)]) == 0
    again = verify_json(workdir, YELLOW, capsys)
    assert [_counts_of(row) for row in again] == [_counts_of(row) for row in rows]
    assert again[1]["run_id"] != rows[1]["run_id"]  # 2023-12 is a new publish


def _counts_of(row: dict) -> dict:
    return {key: value for key, value in row.items() if key not in ("run_id", "published_at")}


def test_local_month_not_published_says_so_with_the_url(tmp_path, capsys, monkeypatch):
    empty = tmp_path / "tlc"
    empty.mkdir()
    with serve_folder(empty) as base_url:
        monkeypatch.setattr(datasets, "TLC_BASE_URL", base_url)
        code = main(["local", "--year", "2024", "--month", "2", "--workdir", str(tmp_path / "w")])
    err = " ".join(capsys.readouterr().err.split())
    assert code not in (0, EXIT_BAD_INPUT)
    assert f"{base_url}/yellow_tripdata_2024-02.parquet" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_demo_runs_the_whole_pipeline_and_matches_the_planted_counts(
    request, tmp_path, capsys, engine
):
    if engine == "spark":
        request.getfixturevalue("spark")
    code = main(["demo", "--rows", "30000", "--workdir", str(tmp_path / "demo"),
                 "--engine", engine])  # fmt: skip
    out = " ".join(capsys.readouterr().out.split())
    assert code == 0
    assert f"({engine} engine)" in out
    assert "counts match what the generator planted" in out
    assert "yellow_trips in" in out


def test_local_json_is_one_record_of_each_months_steps_and_counts(tmp_path, capsys, sample5):
    workdir = tmp_path / "work"
    code = main(["local", "--year", "2025", "--month", "1", "--source", str(sample5),
                 "--workdir", str(workdir), "--json"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0
    record = json.loads(captured.out)  # nothing but the JSON on stdout
    assert (record["workdir"], record["engine"]) == (str(workdir), "duckdb")
    (month,) = record["months"]
    assert (month["dataset"], month["month"]) == ("yellow", "2025-01")
    steps = {step["step"]: step["figures"] for step in month["steps"]}
    assert list(steps) == [step.state for step in STEPS]
    assert steps["IngestRaw"]["rows"] == 5
    assert steps["AuditMonth"]["verdict"] == "passed"
    assert steps["PublishMonth"]["rows_inserted"] == month["counts"]["rows_loaded"] == 5
    assert month["run_id"] == steps["PublishMonth"]["run_id"]
