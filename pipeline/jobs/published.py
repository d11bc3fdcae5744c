"""What is published, as the lake says: the month's pointer, or a legacy month's own files.

The one reader of `layout.published_key` (the audit's "month as published" and history, the next
ingest's "unchanged" check, `verify`'s counts, the local quarantine views) and of a legacy
month's counts. A pointer that cannot be read is raised, not taken for "nothing published".
Python 3.9 (Glue Python Shell).
"""

from __future__ import annotations

import json
from typing import Any

from pipeline.contract import layout
from pipeline.contract.audit import PublishedCounts
from pipeline.contract.datasets import Dataset
from pipeline.contract.errors import MissingInput
from pipeline.contract.months import Month
from pipeline.contract.publication import Publication


def read_publication(lake: Any, dataset: Dataset, month: Month) -> Publication | None:
    key = layout.published_key(dataset, month)
    try:
        data = lake.read_bytes(layout.PROCESSED, key)
    except MissingInput:
        return None
    try:
        publication = Publication.from_json(data)
    except (ValueError, TypeError, KeyError) as error:
        raise MissingInput(
            f"{lake.uri(layout.PROCESSED, key)} is not a publication record ({error}); restore "
            "it from the ledger (tlc_elt_loads) or publish the month again"
        ) from None
    if publication.dataset != dataset.name or publication.month != str(month):
        raise MissingInput(
            f"{lake.uri(layout.PROCESSED, key)} names {publication.dataset} {publication.month}, "
            f"not {dataset.name} {month}"
        )
    return publication


def published_run(lake: Any, dataset: Dataset, month: Month) -> layout.RunKeys | None:
    """The keys of the month's published run: the pointer's, else the legacy files', else None."""
    publication = read_publication(lake, dataset, month)
    if publication is not None:
        return layout.RunKeys(dataset, month, publication.run_id)
    legacy = layout.RunKeys(dataset, month, None)
    return legacy if lake.exists(layout.PROCESSED, legacy.counts_key) else None


def read_counts(lake: Any, keys: layout.RunKeys) -> dict[str, Any] | None:
    """A run's counts JSON, or None when its transform wrote none; a file that is not the counts
    of this dataset and month is a MissingInput."""
    uri = lake.uri(layout.PROCESSED, keys.counts_key)
    try:
        data = lake.read_bytes(layout.PROCESSED, keys.counts_key)
    except MissingInput:
        return None
    try:
        counts = json.loads(data)
    except ValueError as error:
        raise MissingInput(f"{uri} is not JSON ({error}); run the month again") from None
    if not isinstance(counts, dict):
        raise MissingInput(f"{uri} is not a JSON object; run the month again")
    if counts.get("dataset") != keys.dataset.name or counts.get("month") != str(keys.month):
        raise MissingInput(
            f"{uri} holds counts for {counts.get('dataset')} {counts.get('month')}, not "
            f"{keys.dataset.name} {keys.month}; run the month again"
        )
    return counts


def run_counts(lake: Any, keys: layout.RunKeys) -> dict[str, Any]:
    """A run's counts JSON, or MissingInput saying to transform the month first (what audit and
    publish need before anything else)."""
    counts = read_counts(lake, keys)
    if counts is None:
        raise MissingInput(
            f"no counts for run {keys.run_id} of {keys.dataset.name} {keys.month} at "
            f"{lake.uri(layout.PROCESSED, keys.counts_key)}: transform the month first"
        )
    return counts


def published_counts(lake: Any, dataset: Dataset, month: Month) -> PublishedCounts | None:
    """The month as published: the pointer's counts (or a legacy month's counts file)."""
    publication = read_publication(lake, dataset, month)
    if publication is not None:
        return PublishedCounts(month, publication.run_id, publication.counts)
    counts = read_counts(lake, layout.RunKeys(dataset, month, None))
    return None if counts is None else PublishedCounts(month, None, counts)


def published_history(
    lake: Any, dataset: Dataset, month: Month, months: int
) -> list[PublishedCounts]:
    """The published months among the `months` calendar months before `month`, newest first."""
    found = []
    for back in range(1, months + 1):
        earlier = month.plus(-back)
        if earlier < dataset.first_month:
            break
        counts = published_counts(lake, dataset, earlier)
        if counts is not None:
            found.append(counts)
    return found


def published_months(lake: Any, dataset: Dataset, last: Month) -> list[layout.RunKeys]:
    """The published run of every month of the dataset up to `last` that has one."""
    runs = []
    for month in dataset.first_month.until(last):
        keys = published_run(lake, dataset, month)
        if keys is not None:
            runs.append(keys)
    return runs
