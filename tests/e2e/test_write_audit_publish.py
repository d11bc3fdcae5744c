"""Write-audit-publish through the command line: a loaded month is never lost to a wrong file.

A workdir holds a published yellow 2024-01. Each bad candidate (a file of another month, an
empty file, one whose pickups are all null, a 20% subset, a damaged file) is refused: the
published raw bytes, the published parts, the warehouse month (its count and a checksum of its
rows) and the ledger are exactly as before, and `verify` still passes. The process is also
killed (SIGKILL) in the middle of transform, audit and publish, with the same outcome; a
forced run publishes, and the ledger says what it overrode.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.cli.main import EXIT_FAILED, EXIT_REFUSED, main
from pipeline.contract import layout
from pipeline.contract.datasets import YELLOW
from pipeline.contract.months import Month
from pipeline.dev import synthetic
from pipeline.jobs.published import published_run, read_publication
from pipeline.storage.lake import LocalLake

ROOT = Path(__file__).resolve().parents[2]
JANUARY = Month(2024, 1)
ROWS = 20_000


def run_local(workdir: Path, source: Path, *extra: str) -> int:
    return main(["local", "--year", "2024", "--month", "1", "--source", str(source),
                 "--workdir", str(workdir), "--quiet", *extra])  # fmt: skip


def snapshot(workdir: Path) -> dict:
    """What readers trust: the published run's files (bytes), the month in the warehouse (count
    and a checksum of every row), the ledger."""
    lake = LocalLake(workdir / "lake")
    keys = published_run(lake, YELLOW, JANUARY)
    assert keys is not None
    files = {}
    for zone, prefix in ((layout.RAW, keys.raw_prefix), (layout.PROCESSED, keys.processed_prefix),
                         (layout.PROCESSED, keys.quarantine_prefix)):  # fmt: skip
        for obj in lake.list(zone, prefix):
            files[(zone, obj.key)] = hashlib.sha256(lake.read_bytes(zone, obj.key)).hexdigest()
    with duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True) as con:
        month = con.execute(
            "SELECT count(*), md5(string_agg(CAST(t AS VARCHAR), '|' ORDER BY CAST(t AS VARCHAR))) "
            "FROM yellow_trips t WHERE source_month = '2024-01-01'"
        ).fetchone()
        ledger = con.execute("SELECT * FROM tlc_elt_loads ORDER BY published_at").fetchall()
        # The quarantine view reads the published run's quarantine parts from the lake.
        (quarantined,) = con.execute("SELECT count(*) FROM yellow_quarantine").fetchone()
    assert quarantined == (ledger[-1][10] if ledger else 0)
    return {"run": keys.run_id, "files": files, "month": month, "ledger": ledger,
            "quarantined": quarantined}  # fmt: skip


def verify_passes(workdir: Path, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["verify", "--workdir", str(workdir), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["status"] for row in rows] == ["ok"]
    return rows


@pytest.fixture
def published(tmp_path, capsys) -> tuple[Path, dict]:
    """A workdir with yellow 2024-01 published from a good file, and its snapshot."""
    good = tmp_path / "good" / YELLOW.file_name(JANUARY)
    synthetic.write_month(good, YELLOW, JANUARY, ROWS, seed=11)
    workdir = tmp_path / "work"
    assert run_local(workdir, good) == 0
    before = snapshot(workdir)
    assert before["month"][0] > 0.98 * ROWS
    assert len(before["ledger"]) == 1
    verify_passes(workdir, capsys)
    return workdir, before


def another_month(folder: Path) -> Path:
    path = folder / "february.parquet"
    synthetic.write_month(path, YELLOW, Month(2024, 2), ROWS, seed=12)
    return path


def empty_file(folder: Path) -> Path:
    path = folder / "empty.parquet"
    full = pq.read_table(another_month(folder))
    pq.write_table(full.slice(0, 0), path)
    return path


def null_pickups(folder: Path) -> Path:
    path = folder / "null_pickups.parquet"
    good = folder / "january.parquet"
    synthetic.write_month(good, YELLOW, JANUARY, ROWS, seed=13)
    table = pq.read_table(good)
    index = table.column_names.index("tpep_pickup_datetime")
    nulls = pa.nulls(table.num_rows, table.schema.field(index).type)
    pq.write_table(table.set_column(index, "tpep_pickup_datetime", nulls), path)
    return path


def subset(folder: Path) -> Path:
    path = folder / "subset.parquet"
    good = folder / "january.parquet"
    synthetic.write_month(good, YELLOW, JANUARY, ROWS, seed=11)
    table = pq.read_table(good)
    pq.write_table(table.slice(0, table.num_rows // 5), path)
    return path


REFUSALS = {
    "another month": (another_month, ["other_month", "quarantine_share"]),
    "an empty file": (empty_file, ["no_loadable_rows"]),
    "null pickups": (null_pickups, ["no_loadable_rows", "quarantine_share", "other_month"]),
    "a 20% subset": (subset, ["shrinks_published"]),
}


@pytest.mark.parametrize("kind", list(REFUSALS))
def test_a_refused_candidate_changes_nothing_readers_trust(published, tmp_path, capsys, kind):
    workdir, before = published
    make, rules = REFUSALS[kind]
    folder = tmp_path / "bad"
    folder.mkdir()
    capsys.readouterr()

    assert run_local(workdir, make(folder)) == EXIT_REFUSED

    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0] == "refused: yellow 2024-01"
    for rule in rules:
        assert any(f"refuse: {rule}:" in line for line in lines), (rule, err)
    assert "--force-publish" in err
    assert "Traceback" not in err
    assert snapshot(workdir) == before
    verify_passes(workdir, capsys)


def damaged(folder: Path) -> Path:
    good = folder / "january.parquet"
    table = pq.read_table(synthetic_month(good))
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy", row_group_size=table.num_rows // 4)
    data = bytearray(buffer.getvalue())
    chunk = pq.ParquetFile(io.BytesIO(bytes(data))).metadata.row_group(1).column(1)
    start, size = chunk.data_page_offset, chunk.total_compressed_size
    data[start + 16 : start + size - 16] = bytes(range(256)) * ((size - 32) // 256) + bytes(
        (size - 32) % 256
    )
    path = folder / "damaged.parquet"
    path.write_bytes(bytes(data))
    return path


def synthetic_month(path: Path) -> Path:
    synthetic.write_month(path, YELLOW, JANUARY, ROWS, seed=14)
    return path


def test_a_damaged_file_is_one_error_line_and_changes_nothing(published, tmp_path, capsys):
    workdir, before = published
    folder = tmp_path / "bad"
    folder.mkdir()
    capsys.readouterr()

    assert run_local(workdir, damaged(folder)) == EXIT_FAILED

    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ")
    assert "\n" not in err
    assert "damaged.parquet is damaged: row group 2 of 4" in err
    assert "Traceback" not in err
    assert snapshot(workdir) == before
    verify_passes(workdir, capsys)


def test_a_forced_run_publishes_and_the_ledger_records_what_it_overrode(
    published, tmp_path, capsys
):
    workdir, before = published
    folder = tmp_path / "forced"
    folder.mkdir()

    assert run_local(workdir, subset(folder), "--force-publish") == 0

    after = snapshot(workdir)
    assert after["run"] != before["run"]
    assert after["month"][0] < before["month"][0] / 4
    with duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True) as con:
        forced, findings, replaced = con.execute(
            "SELECT forced, findings, rows_replaced FROM tlc_elt_loads "
            "ORDER BY published_at DESC LIMIT 1"
        ).fetchone()
    assert forced is True
    assert [f["rule"] for f in json.loads(findings) if f["severity"] == "refuse"] == [
        "shrinks_published"
    ]
    assert replaced == before["month"][0]
    verify_passes(workdir, capsys)


def test_a_threshold_flag_lets_a_month_through_without_forcing(published, tmp_path, capsys):
    workdir, _ = published
    folder = tmp_path / "subset"
    folder.mkdir()

    assert run_local(workdir, subset(folder), "--max-shrink", "0.9") == 0

    with duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True) as con:
        (forced,) = con.execute(
            "SELECT forced FROM tlc_elt_loads ORDER BY published_at DESC LIMIT 1"
        ).fetchone()
    assert forced is False


def test_a_bad_threshold_is_bad_input_before_anything_runs(published, tmp_path, capsys):
    workdir, before = published
    capsys.readouterr()
    code = run_local(workdir, tmp_path / "whatever.parquet", "--max-quarantine-share", "7")
    assert code == 2
    assert "--max-quarantine-share" in capsys.readouterr().err
    assert snapshot(workdir) == before


# The child is the command line itself, with one function replaced by a SIGKILL of the process
# (no cleanup, no finally, as a machine losing power or the OOM killer would end it).
_KILLED_AT = """
import os, signal, sys
import importlib
module_name, attribute = sys.argv[1].rsplit(".", 1)
module = importlib.import_module(module_name)
original = getattr(module, attribute)
calls = {"n": 0}
def killer(*args, **kwargs):
    calls["n"] += 1
    if calls["n"] >= int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)
setattr(module, attribute, killer)
from pipeline.cli.main import main
sys.exit(main(sys.argv[3:]))
"""

KILL_POINTS = {
    # transform: the loadable parts written, the quarantine not yet
    "transform": ("pipeline.local.duckdb_transform._copy", 2),
    # audit: judged, the verdict not yet written
    "audit": ("pipeline.jobs.audit.audit", 1),
    # publish: inside the warehouse's transaction, month deleted and inserted, not committed
    "publish": ("pipeline.warehouse.duckdb.ledger_insert_sql", 1),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_run_killed_midway_changes_nothing_readers_trust(published, tmp_path, capsys, point):
    workdir, before = published
    source = tmp_path / "next" / YELLOW.file_name(JANUARY)
    synthetic.write_month(source, YELLOW, JANUARY, ROWS, seed=21)
    target, call = KILL_POINTS[point]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    child = subprocess.run(
        [sys.executable, "-c", _KILLED_AT, target, str(call), "local", "--year", "2024",
         "--month", "1", "--source", str(source), "--workdir", str(workdir), "--quiet"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert child.returncode == -signal.SIGKILL, child.stderr
    assert snapshot(workdir) == before
    verify_passes(workdir, capsys)
    # The next run takes the lock the killed one left and publishes.
    assert run_local(workdir, source) == 0
    assert snapshot(workdir)["run"] != before["run"]
    verify_passes(workdir, capsys)


def test_a_publish_killed_after_its_commit_is_completed_by_the_next_run(
    published, tmp_path, capsys
):
    """Killed between the warehouse's commit and the lake's pointer: the warehouse and its
    ledger hold the new month (verify passes on them), and the next run points the lake at it
    before it does anything else."""
    workdir, before = published
    source = tmp_path / "next" / YELLOW.file_name(JANUARY)
    synthetic.write_month(source, YELLOW, JANUARY, ROWS, seed=22)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_AT, "pipeline.jobs.publish._point", "1", "local",
         "--year", "2024", "--month", "1", "--source", str(source), "--workdir", str(workdir),
         "--quiet"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert child.returncode == -signal.SIGKILL, child.stderr
    with duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True) as con:
        (killed_run,) = con.execute(
            "SELECT run_id FROM tlc_elt_loads ORDER BY published_at DESC LIMIT 1"
        ).fetchone()
    assert killed_run != before["run"]
    lake = LocalLake(workdir / "lake")
    assert published_run(lake, YELLOW, JANUARY).run_id == before["run"]  # the lake lags

    assert run_local(workdir, source) == 0

    # The killed run was made the month's run first, then replaced by this one.
    assert read_publication(lake, YELLOW, JANUARY).previous_run == killed_run
    verify_passes(workdir, capsys)


def test_rollback_publishes_the_previous_run_again(published, tmp_path, capsys):
    workdir, before = published
    folder = tmp_path / "forced"
    folder.mkdir()
    assert run_local(workdir, subset(folder), "--force-publish") == 0
    assert snapshot(workdir)["run"] != before["run"]

    code = main(["rollback", "--year", "2024", "--month", "1", "--workdir", str(workdir),
                 "--quiet"])  # fmt: skip

    assert code == 0
    after = snapshot(workdir)
    assert (after["run"], after["month"], after["files"]) == (
        before["run"], before["month"], before["files"],
    )  # fmt: skip
    assert [row[2] for row in after["ledger"]][-1] == before["run"]  # a publish of its own
    assert len(after["ledger"]) == 3
    verify_passes(workdir, capsys)


def test_rollback_without_a_previous_run_is_bad_input(published, capsys):
    workdir, before = published
    code = main(["rollback", "--year", "2024", "--month", "1", "--workdir", str(workdir)])
    assert code == 2
    assert "published at least twice" in capsys.readouterr().err
    assert snapshot(workdir) == before


def legacy_workdir(tmp_path: Path, capsys) -> tuple[Path, int]:
    """A workdir as the version before write-audit-publish left it: the month's files in its
    month folder (no runs, no pointer), its rows in the warehouse, no ledger. Made from a run of
    today's pipeline by moving its files where that version wrote them."""
    source = tmp_path / "legacy-source" / YELLOW.file_name(JANUARY)
    synthetic.write_month(source, YELLOW, JANUARY, ROWS, seed=31)
    workdir = tmp_path / "legacy"
    assert run_local(workdir, source) == 0
    lake = LocalLake(workdir / "lake")
    run = published_run(lake, YELLOW, JANUARY)
    legacy = layout.RunKeys(YELLOW, JANUARY, None)
    moves = (
        (layout.RAW, run.raw_prefix, legacy.raw_prefix),
        (layout.PROCESSED, run.processed_prefix, legacy.processed_prefix),
        (layout.PROCESSED, run.quarantine_prefix, legacy.quarantine_prefix),
    )
    for zone, old, new in moves:
        for obj in lake.list(zone, old):
            if obj.key.endswith("_audit.json"):
                continue
            target = lake.path(zone, new + obj.key[len(old) :])
            target.parent.mkdir(parents=True, exist_ok=True)
            lake.path(zone, obj.key).rename(target)
    counts_path = lake.path(layout.PROCESSED, legacy.counts_key)
    counts = json.loads(counts_path.read_text())
    counts["part_files"] = [legacy.processed_prefix + key.rsplit("/", 1)[1]
                            for key in counts["part_files"]]  # fmt: skip
    counts_path.write_text(json.dumps(counts))
    lake.path(layout.PROCESSED, layout.published_key(YELLOW, JANUARY)).unlink()
    shutil.rmtree(lake.path(layout.RAW, "yellow/_runs"))
    shutil.rmtree(lake.path(layout.PROCESSED, "yellow/_runs"))
    with duckdb.connect(str(workdir / "warehouse.duckdb")) as con:
        con.execute("DROP TABLE tlc_elt_loads")
        con.execute("DROP TABLE tlc_elt_profiles")
        (rows,) = con.execute("SELECT count(*) FROM yellow_trips").fetchone()
    return workdir, rows


def test_a_workdir_of_the_previous_version_stays_published_and_upgrades_on_its_next_run(
    tmp_path, capsys
):
    workdir, rows = legacy_workdir(tmp_path, capsys)
    lake = LocalLake(workdir / "lake")
    assert published_run(lake, YELLOW, JANUARY).run_id is None  # the legacy month
    (row,) = verify_passes(workdir, capsys)
    assert (row["rows"], row["expected"]) == (rows, rows)
    assert "run_id" not in row

    # The audit compares a wrong file with the legacy month, and refuses it.
    folder = tmp_path / "bad"
    folder.mkdir()
    assert run_local(workdir, subset(folder)) == EXIT_REFUSED
    verify_passes(workdir, capsys)

    # The next good run publishes; the legacy files are kept as the run it replaced.
    source = tmp_path / "next" / YELLOW.file_name(JANUARY)
    synthetic.write_month(source, YELLOW, JANUARY, ROWS, seed=32)
    assert run_local(workdir, source) == 0
    publication = read_publication(lake, YELLOW, JANUARY)
    assert publication.previous_run == "legacy"
    assert lake.exists(layout.PROCESSED, layout.RunKeys(YELLOW, JANUARY, None).counts_key)
    (row,) = verify_passes(workdir, capsys)
    assert row["run_id"] == publication.run_id


def test_a_workdir_whose_only_run_was_refused_has_nothing_published(tmp_path, capsys):
    workdir = tmp_path / "new"
    folder = tmp_path / "bad"
    folder.mkdir()
    assert run_local(workdir, empty_file(folder)) == EXIT_REFUSED
    assert not (workdir / "warehouse.duckdb").exists()  # nothing was published, not even a table
    capsys.readouterr()

    assert main(["verify", "--workdir", str(workdir)]) == 0
    assert "nothing published" in capsys.readouterr().out
