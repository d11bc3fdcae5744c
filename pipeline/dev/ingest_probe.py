"""Ingest one URL alone in a fresh process and print its figures as JSON: the bench's memory probe.

Glue Python Shell runs ingest as a job of its own, so its memory is measured the same way: this
module imports only what the ingest job imports, and the peak RSS it reports is the whole
process's high-water mark, interpreter and imports included.
`python -m pipeline.dev.ingest_probe URL LAKE_DIR [DATASET]` (default yellow; the file must have
the dataset's required columns, which ingest checks).
"""

from __future__ import annotations

import json
import resource
import sys
import time

from pipeline.contract.datasets import YELLOW, get_dataset
from pipeline.contract.months import Month
from pipeline.jobs.context import StepContext
from pipeline.jobs.ingest import IngestOptions, ingest
from pipeline.storage.lake import LocalLake

# Any month: the probe measures the download path, the file's content is not looked at.
PROBE_MONTH = Month(2024, 1)


def peak_rss() -> int:
    """This process's resident high-water mark in bytes.

    VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the parent across
    fork and exec, so a child of a large benchmark process would report the parent's size.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv: list[str]) -> int:
    url, lake_dir, *dataset = argv
    chosen = get_dataset(dataset[0]) if dataset else YELLOW
    context = StepContext(chosen, PROBE_MONTH, LocalLake(lake_dir), run_id="probe", source=url)
    started = time.perf_counter()
    figures = ingest(context, IngestOptions(force=True))
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "bytes": figures["bytes"], "peak_rss": peak_rss()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
