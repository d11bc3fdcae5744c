"""`make bench` keeps working: a tiny month through the benchmark on both engines, figures
written, runs agreeing, every figure the docs quote present.

Checks what the benchmark reports, never how fast anything was.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pipeline.contract.datasets import DATASETS
from pipeline.contract.sql import Engine
from pipeline.dev.bench import (
    HANDWRITTEN,
    MONTH_PROCESS,
    REAL_MONTH_ROWS,
    REFERENCE,
    TRANSFORM_PHASES,
    TUNINGS,
)

ROOT = Path(__file__).resolve().parents[2]


def bench(tmp_path: Path, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.dev.bench", *args, "--workdir", str(tmp_path), "--json"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((tmp_path / "bench.json").read_text())


def test_bench_reports_both_engines_the_reference_and_the_ratios(tmp_path):
    figures = bench(tmp_path, "--rows", "3000", "--ingest-mb", "8")
    assert figures["rows"] == 3000
    assert figures["dataset"] == "yellow"
    assert figures["counts_agree"] is True
    steps = {step["what"]: step for step in figures["steps"]}
    names = list(steps)
    assert names[:8] == [MONTH_PROCESS, HANDWRITTEN, "DuckDB: IngestRaw",
                         "DuckDB: TransformTrips", "DuckDB: AuditMonth", "DuckDB: PublishMonth",
                         "DuckDB: the steps in one process", REFERENCE]  # fmt: skip
    assert names[8:13] == ["Spark: JVM start (SparkSession)", "Spark: IngestRaw",
                           "Spark: TransformTrips", "Spark: AuditMonth",
                           "Spark: PublishMonth"]  # fmt: skip
    assert "Spark: whole month (JVM start + steps)" in names
    assert "Spark: TransformTrips (again)" in names
    # The fresh process's peak RSS is its own (kernel's), far above nothing, and it loaded rows.
    assert steps[MONTH_PROCESS]["peak_rss"] > 50 * 1024 * 1024
    assert "x the transform alone" in steps[MONTH_PROCESS]["note"]
    for engine, name in ((Engine.DUCKDB, "DuckDB: TransformTrips"),
                         (Engine.SPARK, "Spark: TransformTrips")):  # fmt: skip
        assert all(phase in steps[name]["note"] for phase in TRANSFORM_PHASES[engine])
    assert "x the DuckDB transform" in steps["Spark: TransformTrips (again)"]["note"]
    assert [row["what"] for row in figures["tunings"]] == [t.what for t in TUNINGS]
    assert all("part file" in row["note"] for row in figures["tunings"])
    probes = [step for step in figures["steps"] if step["what"].startswith("ingest alone")]
    assert len(probes) == 2  # the month's file and the 8 MB one
    assert all(step["peak_rss"] > 0 and step["seconds"] > 0 for step in figures["steps"])
    assert set(figures["ratios"]) == {
        "month_process", "month_vs_handwritten", "spark_first", "spark_again",
    }  # fmt: skip
    assert figures["ratios"]["month_process"] == (
        steps[MONTH_PROCESS]["seconds"] / steps[REFERENCE]["seconds"]
    )
    # The yardstick by hand loaded the same rows, in fresh processes of its own.
    assert figures["ratios"]["month_vs_handwritten"] == (
        steps[MONTH_PROCESS]["seconds"] / steps[HANDWRITTEN]["seconds"]
    )
    assert steps[HANDWRITTEN]["peak_rss"] > 50 * 1024 * 1024
    assert "x the job by hand" in steps[MONTH_PROCESS]["note"]


def test_bench_runs_report_the_median_of_fresh_processes(tmp_path):
    figures = bench(tmp_path, "--rows", "2000", "--runs", "2", "--no-tuning",
                    "--no-ingest-scaling")  # fmt: skip
    runs = [json.loads((tmp_path / f"run-{i}" / "bench.json").read_text()) for i in (1, 2)]
    assert figures["runs"] == 2
    assert figures["counts_agree"] is True
    for name in (MONTH_PROCESS, "Spark: TransformTrips"):
        row = next(step for step in figures["steps"] if step["what"] == name)
        seconds = sorted(step["seconds"] for run in runs for step in run["steps"]
                         if step["what"] == name)  # fmt: skip
        assert row["seconds"] == (seconds[0] + seconds[1]) / 2  # the median of two runs
        assert "over 2 runs" in row["note"]
    ratios = sorted(run["ratios"]["month_process"] for run in runs)
    assert figures["ratios"]["month_process"] == (ratios[0] + ratios[1]) / 2
    # Each run's month, lakes and warehouses are gone once read (8 GB a run for HVFHV).
    assert [sorted(p.name for p in (tmp_path / f"run-{i}").iterdir()) for i in (1, 2)] == [
        ["bench.json"],
        ["bench.json"],
    ]


def test_bench_without_spark_measures_the_duckdb_engine_alone(tmp_path):
    figures = bench(tmp_path, "--rows", "2000", "--no-spark", "--no-ingest-scaling")
    names = [step["what"] for step in figures["steps"]]
    assert MONTH_PROCESS in names
    assert REFERENCE in names
    assert not [name for name in names if name.startswith("Spark")]
    assert set(figures["ratios"]) == {"month_process", "month_vs_handwritten"}
    assert figures["tunings"] == []


def test_every_dataset_has_a_real_size_month():
    assert set(REAL_MONTH_ROWS) == set(DATASETS)


def test_growth_times_each_month_on_one_workdir_and_the_first_again(tmp_path, capsys):
    from pipeline.dev import growth

    assert growth.main(["--months", "3", "--rows", "2000", "--workdir", str(tmp_path)]) == 0

    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines()[:3]] == [
        "2021-01", "2021-02", "2021-03",
    ]  # fmt: skip
    assert "re-run of 2021-01:" in out
    assert "month 3 / month 1:" in out
    # Every month was published on the one workdir, and the first twice.
    capsys.readouterr()
    from pipeline.cli.main import main

    assert main(["months", "--workdir", str(tmp_path / "work"), "--json"]) == 0
    lines = json.loads(capsys.readouterr().out)
    assert [(line["month"], line["publishes"]) for line in lines] == [
        ("2021-01", 2), ("2021-02", 1), ("2021-03", 1),
    ]  # fmt: skip
