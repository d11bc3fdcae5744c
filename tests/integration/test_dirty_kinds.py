"""Every dirty kind the generator plants lands where the contract says: one kind at a time in an
otherwise clean month, through the DuckDB engine (the Spark engine loads the same rows:
test_engines.py), into the quarantine with its rule's name, or loaded with its flags.

The expectations are spelled here, per kind, from the contract (docs/ARCHITECTURE.md, Row
rules), not read from the generator's own tables.
"""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.contract import layout
from pipeline.contract.datasets import DATASETS
from pipeline.dev import synthetic
from pipeline.dev.synthetic import DirtyKind
from pipeline.jobs.context import StepContext
from pipeline.local import duckdb_transform
from pipeline.storage.lake import LocalLake

# The run every step of these tests reads and writes (`layout.RunKeys`).
RUN_ID = "test-run"

DISTANCE, FARE, TOTAL = ("flag_non_positive_distance", "flag_non_positive_fare",
                         "flag_non_positive_total")  # fmt: skip
# kind -> (an era whose files hold it, the reject_reason, the flags of a loaded row)
WHERE = {
    DirtyKind.PICKUP_2002: ("yellow-2019", "pickup_in_month", set()),
    DirtyKind.PICKUP_2008: ("green-2023-02", "pickup_in_month", set()),
    DirtyKind.PICKUP_NEXT_MONTH: ("fhvhv-2025", "pickup_in_month", set()),
    DirtyKind.DROPOFF_BEFORE_PICKUP: ("fhv-2023-02", "dropoff_not_before_pickup", set()),
    DirtyKind.ZERO_DISTANCE: ("yellow-2023-02", None, {DISTANCE}),
    DirtyKind.REVERSAL: ("yellow-2009", None, {FARE, TOTAL}),
    DirtyKind.FLEX_FARE: ("yellow-2025", None, {FARE}),
    DirtyKind.ZERO_TOTAL: ("green-2015", None, {TOTAL}),
    DirtyKind.NULL_BLOCK: ("yellow-2020-11", None, set()),
    DirtyKind.DDS_VENDOR: ("yellow-2010", None, set()),
    DirtyKind.MISSING_DROPOFF: ("fhv-2019-03", None, set()),
    DirtyKind.NEGATIVE_BASE_FARE: ("fhvhv-2019-07", None, {FARE}),
}
ROWS = 2_000


def test_every_kind_has_a_place():
    assert set(WHERE) == set(DirtyKind)


@pytest.mark.parametrize("kind", list(DirtyKind), ids=lambda kind: kind.value)
def test_a_planted_kind_lands_in_its_place(tmp_path, kind):
    era_name, reason, flags = WHERE[kind]
    era = synthetic.era_named(era_name)
    dataset, month = DATASETS[era.dataset], era.first_month
    rates = dataclasses.replace(synthetic.CLEAN, **{kind.value: 0.01})
    lake = LocalLake(tmp_path)
    raw = lake.path(layout.RAW, layout.RunKeys(dataset, month, RUN_ID).raw_key)
    summary = synthetic.write_month(raw, dataset, month, ROWS, seed=7, era=era, rates=rates)
    planted = summary.dirty[kind.value]
    assert planted == 20

    counts = duckdb_transform.transform(StepContext(dataset, month, lake, run_id=RUN_ID))

    quarantined = _rows(lake, layout.RunKeys(dataset, month, RUN_ID).quarantine_prefix)
    loaded = _rows(lake, layout.RunKeys(dataset, month, RUN_ID).processed_prefix)
    if reason is not None:
        assert [row["reject_reason"] for row in quarantined] == [reason] * planted
        assert len(loaded) == ROWS - planted
    else:
        assert quarantined == []
        assert len(loaded) == ROWS
    dataset_flags = {flag.name for flag in dataset.flags}
    flagged = [row for row in loaded if any(row[flag] for flag in dataset_flags)]
    expected = flags & dataset_flags
    # A reversal's copy is flagged, its original (also planted as a clean row) is not.
    assert len(flagged) == (planted if expected else 0)
    assert all({flag for flag in dataset_flags if row[flag]} == expected for row in flagged)
    unmapped = {"vendor_id": planted} if kind is DirtyKind.DDS_VENDOR else {}
    assert counts.unmapped_values == unmapped
    if kind is DirtyKind.DDS_VENDOR:
        assert sum(row["vendor_id"] is None for row in loaded) == planted  # null, and counted


def _rows(lake: LocalLake, prefix: str) -> list[dict]:
    parts = [o.key for o in lake.list(layout.PROCESSED, prefix) if layout.is_part_file(o.key)]
    if not parts:
        return []
    tables = [pq.read_table(lake.path(layout.PROCESSED, key)) for key in parts]
    return pa.concat_tables(tables).to_pylist()
