"""How long the report takes to build: `python -m pipeline.dev.report_bench`.

Builds the report of a synthetic `ReportData` (default 36 months x the 4 datasets, with the
planted anomalies) in a fresh process, and prints the figures: the whole build (every chart's
spec, its SVG, the tables) and each chart's share. The target (issue 19) is under 10 s here.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from pipeline.dev.report_sample import sample_report
from pipeline.report import page


def measure(months: int, runs: int) -> dict[str, object]:
    data = sample_report(months)
    charts = {}
    for section in page.CHARTS:
        started = time.perf_counter()
        page.svg(section.build(data))
        charts[section.anchor] = round(time.perf_counter() - started, 3)
    builds = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(runs):
            started = time.perf_counter()
            path = page.write_report(data, Path(folder) / "report.html")
            builds.append(round(time.perf_counter() - started, 3))
        size = path.stat().st_size
    return {
        "months": months, "datasets": len(data.datasets), "ledger_rows": len(data.ledger),
        "profile_rows": len(data.profiles), "first_chart_s_incl_vl_convert_start": charts,
        "build_s": builds, "html_bytes": size,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    figures = measure(args.months, args.runs)
    figures["process_s"] = round(time.perf_counter() - started, 3)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
