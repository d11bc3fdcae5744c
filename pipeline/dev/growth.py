"""Does a month cost the same when the warehouse already holds many? (issue 21's flatness target)

`python -m pipeline.dev.growth [--months 36] [--rows 3500000] [--dataset yellow]` writes that
many consecutive synthetic months, runs `python -m pipeline local --source FILE` for each in
turn on one workdir (each a fresh process, timed by `pipeline.dev.timed`), then the first month
again, and prints every month's seconds and the ratios of the last month and of the re-run to
the first. A benchmark: it prints figures and asserts nothing. Each month's file is removed once
it is loaded, so the disk holds one month's source at a time (the workdir keeps its runs).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from pipeline.contract.datasets import get_dataset
from pipeline.contract.months import Month
from pipeline.dev import synthetic
from pipeline.dev.bench import fresh_process

FIRST = Month(2021, 1)


def month_seconds(workdir: Path, dataset: str, month: Month, file: Path) -> float:
    command = [sys.executable, "-m", "pipeline", "local", "--dataset", dataset,
               "--year", str(month.year), "--month", str(month.month), "--source", str(file),
               "--workdir", str(workdir), "--quiet"]  # fmt: skip
    return float(fresh_process(command, f"the month {month}")["seconds"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.dev.growth", description=__doc__)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--rows", type=int, default=3_500_000)
    parser.add_argument("--dataset", default="yellow")
    parser.add_argument("--workdir", type=Path, default=Path(".local/growth"))
    args = parser.parse_args(argv)
    dataset = get_dataset(args.dataset)
    shutil.rmtree(args.workdir, ignore_errors=True)
    source = args.workdir / "source"
    seconds: list[tuple[str, float]] = []
    for index in range(args.months):
        month = FIRST.plus(index)
        file = source / dataset.file_name(month)
        synthetic.write_month(file, dataset, month, args.rows, seed=index)
        seconds.append((str(month), month_seconds(args.workdir / "work", dataset.name, month,
                                                   file)))  # fmt: skip
        print(f"{month}: {seconds[-1][1]:.2f}s", flush=True)
        if index:
            file.unlink()  # the first month's file stays for its re-run
    rerun = month_seconds(args.workdir / "work", dataset.name, FIRST,
                          source / dataset.file_name(FIRST))  # fmt: skip
    first, last = seconds[0][1], seconds[-1][1]
    print(f"re-run of {FIRST}: {rerun:.2f}s")
    print(f"month {args.months} / month 1: {last / first:.2f}x; re-run of month 1 / month 1: "
          f"{rerun / first:.2f}x (issue 21's target: each within 1.2x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
