"""The workdir lock in one process: what it writes, what a refusal leaves (nothing), a stale lock
taken over, the folders made for it removed on release, the runner's lock re-entrant.
(Two real processes: tests/e2e/test_workdir_lock.py.)"""

from __future__ import annotations

import json
import os

import pytest

from pipeline.contract.datasets import YELLOW
from pipeline.contract.months import Month
from pipeline.local import lock
from pipeline.local.runner import LocalPipeline, Observer


def _listing(folder) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def _holder(**changes):
    return {**lock.holder_record("local", "yellow", ["2024-01"], "duckdb"), **changes}


def test_the_lock_file_says_who_runs_and_goes_on_release(tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "notes.txt").write_text("a user's file")
    held = lock.acquire(workdir, _holder())
    content = json.loads((workdir / lock.LOCK_FILE).read_text())
    assert content["pid"] == os.getpid()
    assert (content["command"], content["dataset"], content["months"]) == (
        "local", "yellow", ["2024-01"]
    )  # fmt: skip
    assert content["engine"] == "duckdb"
    assert content["started"].endswith("Z")
    assert held.took_over is None
    held.release()
    assert _listing(workdir) == ["notes.txt"]
    held.release()  # a second release is harmless


def test_a_second_holder_is_refused_naming_the_first_and_nothing_is_written(tmp_path):
    workdir = tmp_path / "work"
    with lock.acquire(workdir, _holder(months=["2024-01", "2024-02", "2024-03"])):
        before = {path: path.read_bytes() for path in workdir.rglob("*")}
        with pytest.raises(lock.WorkdirBusy) as refused:
            lock.acquire(workdir, _holder(dataset="green", months=["2023-05"]))
        message = str(refused.value)
        assert str(workdir) in message
        assert f"pid {os.getpid()}" in message
        assert "local yellow 2024-01..2024-03" in message
        assert "engine duckdb" in message
        assert {path: path.read_bytes() for path in workdir.rglob("*")} == before
    assert not workdir.exists()  # made for the lock, removed with it


def test_a_lock_left_by_a_run_that_ended_without_release_is_taken_over(tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    dead = _holder(pid=999_999_999, months=["2019-02"], dataset="green")
    (workdir / lock.LOCK_FILE).write_text(json.dumps(dead))  # a file nobody holds
    with lock.acquire(workdir, _holder()) as held:
        assert held.took_over == dead
        assert json.loads((workdir / lock.LOCK_FILE).read_text())["pid"] == os.getpid()
    assert not (workdir / lock.LOCK_FILE).exists()


def test_an_empty_leftover_lock_file_is_taken_over_too(tmp_path):
    (tmp_path / lock.LOCK_FILE).write_text("")
    with lock.acquire(tmp_path, _holder()) as held:
        assert held.took_over is None


def test_describe_reads_any_lock_content():
    assert lock.describe(None) == "a run that did not say who it is"
    assert "pid 7, demo yellow 2024-01" in lock.describe(_holder(pid=7, command="demo"))
    assert "pid ?," in lock.describe({"months": []})


class _Notes(Observer):
    def __init__(self) -> None:
        self.notes: list[str] = []

    def notice(self, text: str) -> None:
        self.notes.append(text)


def test_the_runner_lock_is_reentrant_and_reports_a_takeover(tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / lock.LOCK_FILE).write_text(json.dumps(_holder(pid=424242)))
    notes = _Notes()
    pipeline = LocalPipeline(workdir, observer=notes)
    with pipeline.locked(YELLOW, [Month(2024, 1)]):
        with pipeline.locked(YELLOW, [Month(2024, 1)]):  # what run_month does inside it
            assert json.loads((workdir / lock.LOCK_FILE).read_text())["pid"] == os.getpid()
        assert (workdir / lock.LOCK_FILE).exists()  # still held by the outer block
        other = LocalPipeline(workdir).locked(YELLOW, [Month(2024, 2)])  # on the same workdir
        with pytest.raises(lock.WorkdirBusy):
            other.__enter__()
    assert not (workdir / lock.LOCK_FILE).exists()
    assert len(notes.notes) == 1
    assert "pid 424242" in notes.notes[0]
    assert "ended without releasing it" in notes.notes[0]


def test_the_runner_removes_duckdbs_spill_folder_at_the_end(tmp_path):
    pipeline = LocalPipeline(tmp_path)
    with pipeline.locked(YELLOW, [Month(2024, 1)]):
        spill = pipeline.duckdb_settings.temp_directory
        assert spill.parent == tmp_path
        spill.mkdir()
        (spill / "duckdb_temp_storage-0.tmp").write_bytes(b"x")
    assert not spill.exists()
