"""How a command ends: the exit-code table, one `error:` line (or JSON), never a traceback for an
operator's mistake or the machine's state (a full disk, a workdir that cannot be written)."""

from __future__ import annotations

import argparse
import errno
import io
import json
import os
import signal
import threading
import time
from pathlib import Path

import duckdb
import pytest
from rich.console import Console

from pipeline.cli.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REFUSED,
    InterruptWatch,
    UsageError,
    ending_of,
)
from pipeline.cli.main import main
from pipeline.cli.progress import ConsoleObserver
from pipeline.cli.render import quality_table, verify_table
from pipeline.contract.datasets import YELLOW
from pipeline.contract.errors import InvalidInput, SourceUnavailable
from pipeline.contract.steps import STEPS
from pipeline.local.runner import StepRun

SAMPLE = "tests/data/yellow_tripdata_2025-01_sample5.parquet"
LOCAL_2025_01 = ["local", "--year", "2025", "--month", "1", "--source", SAMPLE]


def test_the_exit_code_table_is_the_documented_one():
    assert (EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_REFUSED, EXIT_INTERRUPTED) == (
        0, 1, 2, 3, 130,
    )  # fmt: skip
    for document in ("README.md", "docs/ARCHITECTURE.md"):
        text = " ".join(Path(document).read_text(encoding="utf-8").split())
        for code, meaning in (
            (0, "ok"),
            (1, "a step failed"),
            (2, "bad input"),
            (3, "refused by the audit"),
            (130, "interrupted"),
        ):
            assert f"| {code} | {meaning}" in text, (document, code)


@pytest.mark.parametrize(
    ("error", "code", "says"),
    [
        (InvalidInput("month", "13", "a month from 1 to 12"), EXIT_BAD_INPUT, "invalid month"),
        (UsageError("unrecognized arguments: --x"), EXIT_BAD_INPUT, "unrecognized arguments"),
        (SourceUnavailable("https://x still failing"), EXIT_FAILED, "still failing"),
        (
            OSError(errno.ENOSPC, "No space left on device", "/w/lake/raw/x.part"),
            EXIT_FAILED,
            "no space left on device writing /w/lake/raw/x.part (--workdir /w)",
        ),
        (
            duckdb.IOException(
                'IO Error: Could not write file "/w/p.parquet": No space left on device'
            ),
            EXIT_FAILED,
            'no space left on device (--workdir /w): IO Error: Could not write file "/w/p.parquet"',
        ),
        (
            PermissionError(errno.EACCES, "Permission denied", "/w/lake"),
            EXIT_FAILED,
            "cannot write /w/lake: Permission denied; give a --workdir you can write to",
        ),
        (
            OSError(errno.EROFS, "Read-only file system", "/w/warehouse.duckdb"),
            EXIT_FAILED,
            "cannot write /w/warehouse.duckdb: Read-only file system",
        ),
    ],
    ids=["invalid", "usage", "step", "enospc", "duckdb-enospc", "eacces", "erofs"],
)
def test_operator_mistakes_and_machine_state_end_in_one_line_with_their_code(error, code, says):
    ending = ending_of(error, argparse.Namespace(workdir="/w"))
    assert ending is not None
    assert ending.code == code
    assert says in ending.message
    assert "\n" not in ending.message


def test_a_full_disk_is_found_behind_the_error_that_wraps_it():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as cause:
            raise RuntimeError("the transform failed") from cause
    except RuntimeError as wrapped:
        ending = ending_of(wrapped, None)
    assert ending is not None
    assert ending.code == EXIT_FAILED
    assert ending.message.startswith("no space left on device")


def test_a_bug_is_not_dressed_up():
    assert ending_of(KeyError("x"), None) is None
    assert ending_of(OSError(errno.EIO, "Input/output error"), None) is None


def test_bad_input_under_json_is_json_on_stdout_and_nothing_on_stderr(capsys):
    code = main(["verify", "--workdir", "/no/such/place", "--json"])
    captured = capsys.readouterr()
    assert code == EXIT_BAD_INPUT
    assert captured.err == ""
    error = json.loads(captured.out)
    assert error["exit"] == EXIT_BAD_INPUT
    assert error["error"].startswith("invalid --workdir '/no/such/place'")


def test_a_usage_error_is_one_line_or_json_and_exits_2(capsys):
    assert main(["local", "--bogus"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: unrecognized arguments: --bogus")
    assert main(["status", "--stack", "dev", "--limit", "many", "--json"]) == EXIT_BAD_INPUT
    error = json.loads(capsys.readouterr().out)
    assert error == {"error": error["error"], "exit": EXIT_BAD_INPUT}
    assert "--limit" in error["error"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--month", "1"], "invalid arguments '--month 1 without --year': give the year too"),
        (["--year", "2024"], "invalid arguments '--year 2024 without --month': give the month"),
        ([], "invalid arguments 'no month': give --year and --month (or --from and --to)"),
        (["--year", "2024", "--month", "13"], "invalid month '13': a month from 1 to 12"),
        (["--from", "2024-13", "--to", "2024-14"], "invalid month '2024-13': a month from 1 to 12"),
        (["--from", "2024-01", "--to", "2024-00"], "invalid month '2024-00': a month from 1 to 12"),
        (["--from", "2024/01", "--to", "2024-02"], "invalid month '2024/01': write a month as"),
    ],
)
def test_the_month_flags_say_what_they_want_in_one_shape(tmp_path, capsys, argv, message):
    code = main(["local", *argv, "--workdir", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    assert err == f"error: {message}" + err[len(f"error: {message}") :]
    assert err.count("\n") == 1
    assert not (tmp_path / "w").exists()


def test_start_without_a_year_names_the_missing_flag(capsys):
    code = main(["start", "--state-machine-arn", "arn:aws:states:us-east-1:1:stateMachine:m",
                 "--month", "9"])  # fmt: skip
    assert code == EXIT_BAD_INPUT
    assert "--month 9 without --year" in capsys.readouterr().err


@pytest.mark.parametrize(("command", "default"), [("local", ".local"), ("demo", ".local/demo")])
def test_workdir_has_help_and_shows_its_default(capsys, command, default):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--workdir WORKDIR the run's folder" in text
    assert f"(default: {default})" in text


def test_a_directory_source_says_it_is_a_directory(tmp_path, capsys):
    code = main(["local", "--year", "2024", "--month", "1", "--source", str(tmp_path),
                 "--workdir", str(tmp_path / "w")])  # fmt: skip
    assert code == EXIT_BAD_INPUT
    assert "is a directory; give the month's parquet file in it" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_a_workdir_that_is_a_file_is_bad_input_and_nothing_runs(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for workdir in (blocker, blocker / "below"):
        code = main([*LOCAL_2025_01, "--workdir", str(workdir)])
        err = capsys.readouterr().err
        assert code == EXIT_BAD_INPUT
        assert f"invalid --workdir '{workdir}': not a directory" in err
        assert err.count("\n") == 1


@pytest.mark.parametrize("number", [errno.EACCES, errno.EROFS])
def test_a_workdir_that_cannot_be_written_is_bad_input(tmp_path, capsys, monkeypatch, number):
    # Run as root, a chmod 0555 folder is still writable; the kernel's answer is what matters.
    from pipeline.local import lock

    def refuse(path, *args, **kwargs):
        raise OSError(number, os.strerror(number), str(path))

    monkeypatch.setattr(lock.os, "open", refuse)
    workdir = tmp_path / "w"
    code = main([*LOCAL_2025_01, "--workdir", str(workdir), "--json"])
    error = json.loads(capsys.readouterr().out)
    assert code == EXIT_BAD_INPUT == error["exit"]
    assert error["error"] == (
        f"invalid --workdir '{workdir}': cannot be written ({os.strerror(number)}); "
        "give a folder you can write to"
    )
    assert not workdir.exists()


def test_a_full_disk_during_ingest_is_one_line_and_leaves_no_partial_file(
    tmp_path, capsys, monkeypatch
):
    from pipeline.storage import lake

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(lake._LocalWriter, "write", full)
    workdir = tmp_path / "w"
    code = main([*LOCAL_2025_01, "--workdir", str(workdir)])
    captured = capsys.readouterr()
    assert code == EXIT_FAILED
    assert captured.err.startswith(f"error: no space left on device (--workdir {workdir})")
    assert captured.err.count("\n") == 1
    assert not list(tmp_path.rglob("*.part"))
    assert "\n\n" not in captured.out
    assert not captured.out.startswith("\n")


def test_a_writer_whose_close_fails_on_a_full_disk_still_removes_its_file(tmp_path):
    from pipeline.storage.lake import LocalLake

    writer = LocalLake(tmp_path).open_writer("raw", "yellow/x.parquet")
    writer.write(b"PAR1")

    class FullFile(io.BytesIO):
        def close(self):
            raise OSError(errno.ENOSPC, "No space left on device")

    writer._file = FullFile()
    writer.abort()
    assert not list(tmp_path.rglob("*.part"))


def test_ctrl_c_inside_a_duckdb_query_is_an_interrupt_not_a_query_error(monkeypatch, capsys):
    """DuckDB turns Ctrl-C into `RuntimeError: Query interrupted`: still exit 130, one line."""
    from pipeline.cli import local

    def long_query(args, console):
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        duckdb.connect().execute("SELECT count(*) FROM range(10000000000) a").fetchall()
        return EXIT_OK

    monkeypatch.setitem(local.__dict__, "run_local", long_query)
    code = main(["local", "--year", "2024", "--month", "1"])
    err = capsys.readouterr().err
    assert code == EXIT_INTERRUPTED
    assert err.startswith("error: interrupted: the local run in .local stopped")
    assert err.count("\n") == 1


def test_the_interrupt_watch_tells_ctrl_c_from_other_failures():
    with InterruptWatch() as watch:
        assert not watch.seen()
    with InterruptWatch() as watch:
        with pytest.raises(KeyboardInterrupt):
            _interrupt_self()
        assert watch.seen()


def _interrupt_self() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)  # the handler raises at the next bytecode


def test_verify_right_after_the_demo_points_at_the_demos_workdir(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".local" / "demo").mkdir(parents=True)
    (tmp_path / ".local" / "demo" / "warehouse.duckdb").write_bytes(b"")
    code = main(["verify"])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    assert "the demo's workdir is .local/demo: python -m pipeline verify --workdir .local/demo" in (
        err
    )


def test_tables_fit_80_columns_with_every_header_word_and_number_whole():
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=False, color_system=None)
    rows = [{"month": "2024-01", "rows": 20_499_685, "clean_rows": 19_316_985,
             "expected": 20_499_685, "expected_clean": 19_316_985, "quarantined": 12_315,
             "status": "MISMATCH"}]  # fmt: skip
    console.print(verify_table("fhvhv_trips in .local/warehouse.duckdb", rows))
    counts = {"dataset": "fhvhv", "month": "2024-01", "rows_in": 20_511_000,
              "rows_loaded": 20_499_685, "rows_quarantined": 11_315,
              "rejected": {"pickup_in_month": 11_000, "dropoff_not_before_pickup": 315},
              "flagged": {"flag_non_positive_distance": 5_000}, "rows_clean": 19_316_985,
              "unmapped_values": {"originating_base_num": 3}}  # fmt: skip
    console.print(quality_table(counts))
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    words = text.split()
    for word in ("quarantined", "transform", "MISMATCH", "20,499,685", "19,316,985", "12,315"):
        assert word in words, word


def test_off_a_terminal_each_step_is_one_line_with_no_blank_lines():
    out = io.StringIO()
    observer = ConsoleObserver(Console(file=out, force_terminal=False, width=200))
    for step in STEPS:
        observer.step_started(step, YELLOW, "2024-01")
        observer.progress("rows", 5, 10)
        observer.step_finished(StepRun(step, 0.5, {"rows": 5}))
    lines = out.getvalue().splitlines()
    assert len(lines) == len(STEPS)
    assert all(line.startswith("✓ yellow 2024-01 ") for line in lines)
