"""Where each month lives in the lake: one set of keys for the S3 buckets and the local folder.

`raw` and `processed` are zones (a bucket each in AWS, a folder each locally); keys are the
same in both, so a local run mirrors the buckets key for key.

Write-audit-publish: every run writes its candidate (the raw file and its ingest record, the
processed parts, the quarantine parts, the counts, the audit's verdict) under keys of its own,
`<dataset>/_runs/year=YYYY/month=MM/<run_id>/` in each zone (the quarantine under
`quarantine/<dataset>/_runs/...`). Nothing a reader trusts points there until publish writes the
month's pointer, `<dataset>/year=YYYY/month=MM/_published.json` in the processed zone, naming the
run (and, in AWS, moves the month's Glue partitions to the run's prefixes). `_runs` starts with
`_`, which Hive, Spark and Athena skip as hidden, so no reader of a dataset's prefix lists a
candidate. A month published before runs existed has its files directly in its month folder
and no pointer: that is the month's "legacy" run (`RunKeys(..., run_id=None)`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.contract.datasets import Dataset
from pipeline.contract.errors import InvalidInput
from pipeline.contract.months import Month

RAW = "raw"
PROCESSED = "processed"
ZONES = (RAW, PROCESSED)
_QUARANTINE = "quarantine/"
RUNS = "_runs"
# Reference data beside the datasets in the processed zone (`pipeline.contract.zones`).
_REFERENCE = "reference/"
# Athena's query results, in the processed bucket beside (never inside) the datasets' prefixes:
# no Glue job and no COPY role reaches them; a lifecycle rule expires them.
ATHENA_RESULTS_PREFIX = "athena-results/"
# A run id is a Step Functions execution name (1-80 letters, digits, `-`, `_`) or a local run's
# id: safe in an S3 key, a local path, a SQL literal and a Glue partition location as it is.
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")
_AUDIT = "_audit.json"


def check_run_id(run_id: object) -> str:
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise InvalidInput(
            "run id", run_id, "1-80 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return run_id


def dataset_prefix(dataset: Dataset) -> str:
    """Every key of one dataset in a zone: what IAM policies grant, dataset by dataset."""
    return f"{dataset.name}/"


def quarantine_dataset_prefix(dataset: Dataset) -> str:
    """Every quarantined key of one dataset, in the processed zone."""
    return _QUARANTINE + dataset_prefix(dataset)


def month_partition(dataset: Dataset, month: Month) -> str:
    """The month's folder: its pointer, and a legacy month's files."""
    return f"{dataset_prefix(dataset)}year={month.yyyy}/month={month.mm}/"


def runs_prefix(dataset: Dataset, month: Month) -> str:
    """Every run of the month, in either zone (the quarantine's: `quarantine_runs_prefix`)."""
    return f"{dataset_prefix(dataset)}{RUNS}/year={month.yyyy}/month={month.mm}/"


def quarantine_runs_prefix(dataset: Dataset, month: Month) -> str:
    return _QUARANTINE + runs_prefix(dataset, month)


def published_key(dataset: Dataset, month: Month) -> str:
    """The month's pointer (processed zone, JSON): which run is the published month."""
    return month_partition(dataset, month) + "_published.json"


@dataclass(frozen=True)
class RunKeys:
    """The keys of one run of a month. `run_id` None: the legacy run (files in the month folder,
    as the version before write-audit-publish wrote them)."""

    dataset: Dataset
    month: Month
    run_id: str | None

    def __post_init__(self) -> None:
        if self.run_id is not None:
            check_run_id(self.run_id)

    @property
    def _base(self) -> str:
        if self.run_id is None:
            return month_partition(self.dataset, self.month)
        return f"{runs_prefix(self.dataset, self.month)}{self.run_id}/"

    @property
    def raw_prefix(self) -> str:
        """The run's folder in the raw zone."""
        return self._base

    @property
    def raw_key(self) -> str:
        """The month's file as the source gave it."""
        return self._base + self.dataset.file_name(self.month)

    @property
    def ingest_record_key(self) -> str:
        """What ingest saw: source, size, ETag/Last-Modified, rows, sha256 (JSON, raw zone)."""
        return self._base + "_ingest.json"

    @property
    def processed_prefix(self) -> str:
        """The run's loadable rows: `part-*.parquet` under this prefix, in the processed zone."""
        return self._base

    @property
    def quarantine_prefix(self) -> str:
        """The run's rejected rows with `reject_reason`, in the processed zone."""
        return _QUARANTINE + self._base

    @property
    def counts_key(self) -> str:
        """Transform's counts (rows in, loaded, quarantined per rule, ...), JSON."""
        return self._base + "_counts.json"

    @property
    def copy_manifest_key(self) -> str:
        """The Redshift COPY manifest listing exactly the run's part files."""
        return self._base + "_copy.manifest"

    @property
    def audit_key(self) -> str:
        """The audit's verdict and findings for this candidate (JSON, processed zone)."""
        return self._base + _AUDIT


def audit_key_intrinsic(dataset: str, year: str, month: str, run_id: str) -> str:
    """`RunKeys.audit_key` as Step Functions computes it: a States.Format of four JSONPaths (the
    state machine reads the verdict with it; a test holds it to `audit_key`)."""
    template = f"{{}}/{RUNS}/year={{}}/month={{}}/{{}}/{_AUDIT}"
    return f"States.Format('{template}', {dataset}, {year}, {month}, {run_id})"


def run_keys(dataset: Dataset, month: Month, run_id: str | None) -> RunKeys:
    return RunKeys(dataset, month, run_id)


def run_id_of(dataset: Dataset, month: Month, key: str) -> str | None:
    """The run a key under the month's runs prefix belongs to (either zone, quarantine too)."""
    for prefix in (runs_prefix(dataset, month), quarantine_runs_prefix(dataset, month)):
        if key.startswith(prefix):
            run_id = key[len(prefix) :].split("/", 1)[0]
            return run_id or None
    return None


def is_part_file(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return name.startswith("part-") and name.endswith(".parquet")


def taxi_zones_key() -> str:
    """TLC's zone lookup CSV, in the processed zone: what every warehouse loads `taxi_zones`
    from (the stack manages the object in AWS, the local runner writes it locally)."""
    return _REFERENCE + "taxi_zone_lookup.csv"
