"""Run-owned keys (pipeline.contract.layout.RunKeys), the publication record and what publish
keeps (pipeline.contract.publication), and publish's retention on a real local lake."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.contract import layout
from pipeline.contract.datasets import FHVHV, YELLOW
from pipeline.contract.errors import InvalidInput, MissingInput
from pipeline.contract.months import Month
from pipeline.contract.publication import (
    LEGACY_RUN,
    PREVIOUS_RUN_DAYS,
    UNPUBLISHED_RUN_DAYS,
    Publication,
    Superseded,
    runs_to_remove,
    superseded_after,
)
from pipeline.dev import synthetic
from pipeline.jobs.audit import judge
from pipeline.jobs.context import StepContext
from pipeline.jobs.publish import publish, remove_expired_runs
from pipeline.local import duckdb_transform
from pipeline.storage.lake import LocalLake
from pipeline.warehouse.duckdb import DuckDBWarehouse

pytestmark = pytest.mark.unit

SEPT = Month(2024, 9)
NOW = datetime(2024, 11, 1, 12, 0, tzinfo=UTC)


def test_a_run_has_keys_of_its_own_in_every_zone_outside_the_month_folder():
    run = layout.RunKeys(YELLOW, SEPT, "yellow-2024-09-manual-20241101T120000Z")
    base = "yellow/_runs/year=2024/month=09/yellow-2024-09-manual-20241101T120000Z/"
    assert run.raw_key == base + "yellow_tripdata_2024-09.parquet"
    assert run.ingest_record_key == base + "_ingest.json"
    assert run.processed_prefix == base
    assert run.counts_key == base + "_counts.json"
    assert run.audit_key == base + "_audit.json"
    assert run.copy_manifest_key == base + "_copy.manifest"
    assert run.quarantine_prefix == "quarantine/" + base
    assert layout.published_key(YELLOW, SEPT) == "yellow/year=2024/month=09/_published.json"
    # Hidden from Hive, Spark and Athena listing the dataset's prefix.
    assert "/_runs/" in run.processed_prefix
    assert not run.processed_prefix.startswith(layout.month_partition(YELLOW, SEPT))
    assert layout.run_id_of(YELLOW, SEPT, run.quarantine_prefix + "part-0.parquet") == run.run_id


def test_the_legacy_run_is_the_month_folder_as_the_first_version_wrote_it():
    legacy = layout.RunKeys(FHVHV, SEPT, None)
    assert legacy.raw_key == "fhvhv/year=2024/month=09/fhvhv_tripdata_2024-09.parquet"
    assert legacy.counts_key == "fhvhv/year=2024/month=09/_counts.json"
    assert legacy.quarantine_prefix == "quarantine/fhvhv/year=2024/month=09/"


@pytest.mark.parametrize("run_id", ["", "../up", "a/b", "a b", "x" * 81, "-lead", 7])
def test_a_run_id_that_cannot_be_a_key_is_invalid_input(run_id):
    with pytest.raises(InvalidInput, match="run id"):
        layout.RunKeys(YELLOW, SEPT, run_id)


def publication(run_id: str, superseded: tuple[Superseded, ...] = ()) -> Publication:
    return Publication("yellow", "2024-09", run_id, NOW.isoformat(), "duckdb", False,
                       {"rows_loaded": 5}, "s", 1, "h", superseded)  # fmt: skip


def test_a_new_publication_keeps_the_run_it_replaced_first():
    first = publication("a")
    second = superseded_after(first, False, "b", NOW)
    assert second == (Superseded("a", NOW.isoformat(timespec="seconds")),)
    # The legacy files of a month published before runs are the first run replaced.
    assert superseded_after(None, True, "a", NOW)[0].run_id == LEGACY_RUN
    assert superseded_after(None, False, "a", NOW) == ()


def test_superseded_runs_past_their_retention_drop_out():
    old = (NOW - timedelta(days=PREVIOUS_RUN_DAYS + 1)).isoformat(timespec="seconds")
    recent = (NOW - timedelta(days=1)).isoformat(timespec="seconds")
    current = publication("c", (Superseded("b", recent), Superseded("a", old)))
    assert [s.run_id for s in superseded_after(current, False, "d", NOW)] == ["c", "b"]
    # Publishing b again (a rollback) does not list b as replaced by itself.
    assert [s.run_id for s in superseded_after(current, False, "b", NOW)] == ["c"]


def test_publish_removes_only_runs_no_one_may_need():
    stale = (NOW - timedelta(days=UNPUBLISHED_RUN_DAYS + 1)).timestamp()
    fresh = (NOW - timedelta(hours=2)).timestamp()
    current = publication("c", (Superseded("b", NOW.isoformat()),))
    runs = {"c": stale, "b": stale, "refused-old": stale, "refused-new": fresh, "running": fresh}
    assert runs_to_remove(runs, current, NOW) == ["refused-old"]


def test_the_record_round_trips():
    record = publication("c", (Superseded("b", NOW.isoformat()),))
    assert Publication.from_json(record.to_json()) == record
    assert record.previous_run == "b"


def _write_run(lake: LocalLake, run: str, age_days: float) -> None:
    keys = layout.RunKeys(YELLOW, SEPT, run)
    stamp = (NOW - timedelta(days=age_days)).timestamp()
    for zone, key in ((layout.RAW, keys.raw_key), (layout.PROCESSED, keys.counts_key),
                      (layout.PROCESSED, keys.quarantine_prefix + "part-0.parquet")):  # fmt: skip
        lake.write_bytes(zone, key, b"x")
        os.utime(lake.path(zone, key), (stamp, stamp))


def test_retention_on_a_lake_removes_expired_runs_in_both_zones_and_the_legacy_files(tmp_path):
    lake = LocalLake(tmp_path)
    for run, age in (("published", 40), ("previous", 40), ("refused-long-ago", 30),
                     ("refused-today", 0)):  # fmt: skip
        _write_run(lake, run, age)
    legacy = layout.RunKeys(YELLOW, SEPT, None)
    lake.write_bytes(layout.PROCESSED, legacy.counts_key, b"{}")
    lake.write_bytes(layout.RAW, legacy.raw_key, b"x")
    expired = (NOW - timedelta(days=PREVIOUS_RUN_DAYS + 1)).isoformat(timespec="seconds")
    current = publication(
        "published",
        (Superseded("previous", NOW.isoformat()), Superseded(LEGACY_RUN, expired)),
    )
    current = Publication(**{**current.__dict__, "superseded": current.superseded[:1]})
    lake.write_bytes(layout.PROCESSED, layout.published_key(YELLOW, SEPT), current.to_json())

    removed = remove_expired_runs(lake, current, NOW)

    assert removed == ["refused-long-ago", LEGACY_RUN]
    left = {layout.run_id_of(YELLOW, SEPT, o.key) for zone in layout.ZONES
            for o in lake.list(zone, "")} - {None}  # fmt: skip
    assert left == {"published", "previous", "refused-today"}
    assert not lake.exists(layout.RAW, legacy.raw_key)
    assert lake.exists(layout.PROCESSED, layout.published_key(YELLOW, SEPT))


def test_publish_without_the_runs_counts_says_to_transform_first(tmp_path):
    # Audited, then its counts lost: publish stops before the warehouse, naming the file.
    month, lake = Month(2024, 1), LocalLake(tmp_path / "lake")
    keys = layout.RunKeys(YELLOW, month, "run-1")
    raw = lake.path(layout.RAW, keys.raw_key)
    raw.parent.mkdir(parents=True)
    synthetic.write_month(tmp_path / "m.parquet", YELLOW, month, 500, seed=4)
    shutil.copyfile(tmp_path / "m.parquet", raw)
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    ctx = StepContext(YELLOW, month, lake, run_id="run-1", warehouse=warehouse)
    duckdb_transform.transform(ctx)
    judge(ctx)
    os.remove(lake.path(layout.PROCESSED, keys.counts_key))
    with pytest.raises(MissingInput, match=r"no counts for run run-1 of yellow 2024-01 at .*"
                       r"_counts\.json: transform the month first"):  # fmt: skip
        publish(ctx)
    assert not (tmp_path / "warehouse.duckdb").exists()
