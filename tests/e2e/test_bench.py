"""`make bench` keeps working: a tiny month through the benchmark, figures written, runs agreeing.

Checks what the benchmark reports, never how fast anything was.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pipeline.dev.bench import TRANSFORM_PHASES, TUNINGS

ROOT = Path(__file__).resolve().parents[2]


def test_bench_reports_every_step_and_the_reference(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.dev.bench", "--rows", "3000", "--ingest-mb", "8",
         "--workdir", str(tmp_path), "--json"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads((tmp_path / "bench.json").read_text())
    assert figures["rows"] == 3000
    assert figures["counts_agree"] is True
    names = [step["what"] for step in figures["steps"]]
    assert names[:4] == ["JVM start (SparkSession)", "IngestRaw", "TransformTrips", "LoadWarehouse"]
    assert "TransformTrips (again)" in names
    assert any(name.startswith("DuckDB reference transform") for name in names)
    transform = next(step for step in figures["steps"] if step["what"] == "TransformTrips")
    assert all(phase in transform["note"] for phase in TRANSFORM_PHASES)
    assert [row["what"] for row in figures["tunings"]] == [t.what for t in TUNINGS]
    assert all("part file" in row["note"] for row in figures["tunings"])
    probes = [step for step in figures["steps"] if step["what"].startswith("ingest alone")]
    assert len(probes) == 2  # the month's file and the 8 MB one
    assert all(step["peak_rss"] > 0 and step["seconds"] > 0 for step in figures["steps"])
    assert set(figures["transform_over_duckdb"]) == {"first", "again"}


def test_bench_runs_report_the_median_of_fresh_processes(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.dev.bench", "--rows", "2000", "--runs", "2", "--no-tuning",
         "--no-ingest-scaling", "--workdir", str(tmp_path), "--json"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads((tmp_path / "bench.json").read_text())
    runs = [json.loads((tmp_path / f"run-{i}" / "bench.json").read_text()) for i in (1, 2)]
    assert figures["runs"] == 2
    assert figures["counts_agree"] is True
    transform = next(step for step in figures["steps"] if step["what"] == "TransformTrips")
    seconds = sorted(
        step["seconds"] for run in runs for step in run["steps"] if step["what"] == "TransformTrips"
    )
    assert transform["seconds"] == (seconds[0] + seconds[1]) / 2  # the median of two runs
    assert "over 2 runs" in transform["note"]
