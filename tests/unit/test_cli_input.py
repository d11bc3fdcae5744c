"""Bad input on the command line: one clear line, exit 2, nothing created."""

from __future__ import annotations

import io
from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.cli.main import EXIT_BAD_INPUT, EXIT_FAILED, main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--year", "2024", "--month", "13"], "invalid month '13': a month from 1 to 12"),
        (["--year", "2008", "--month", "12"], "invalid year '2008': a year from 2009"),
        (["--year", "2099", "--month", "01"], "invalid year '2099'"),
        (
            ["--year", "2024", "--month", "1", "--dataset", "blue"],
            "one of fhv, fhvhv, green, yellow",
        ),
        (["--from", "2024-03", "--to", "2024-01"], "the first month must not be after the last"),
        (["--from", "2024-03"], "give both --from and --to"),
        (["--year", "2024"], "'--year 2024 without --month': give the month too"),
        (
            ["--year", "2024", "--month", "1", "--from", "2024-01", "--to", "2024-02"],
            "give one or other",
        ),
        (
            ["--from", "2024-01", "--to", "2024-02", "--source", "x.parquet"],
            "a single file serves a single month",
        ),
        (
            ["--year", "2013", "--month", "7", "--dataset", "green"],
            "this dataset starts in 2013-08",
        ),
        (
            ["--year", "2019", "--month", "1", "--dataset", "fhvhv"],
            "this dataset starts in 2019-02",
        ),
    ],
)
def test_local_rejects_bad_months_before_doing_anything(tmp_path, capsys, argv, message):
    workdir = tmp_path / "work"
    code = main(["local", *argv, "--workdir", str(workdir)])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    assert message in " ".join(err.split())
    assert "Traceback" not in err
    assert not workdir.exists(), "bad input must not create the workdir"


def test_verify_on_a_folder_without_a_warehouse_says_what_to_run(tmp_path, capsys):
    code = main(["verify", "--workdir", str(tmp_path)])
    assert code == EXIT_BAD_INPUT
    assert "run `local`" in capsys.readouterr().err


def _trip_parquet(*, without: str | None = None) -> bytes:
    columns = {
        "tpep_pickup_datetime": [datetime(2024, 9, 1, 8)] * 50,
        "tpep_dropoff_datetime": [datetime(2024, 9, 1, 8, 20)] * 50,
        "trip_distance": [2.5] * 50,
        "fare_amount": [14.0] * 50,
        "total_amount": [17.5] * 50,
    }
    columns.pop(without, None)
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    return buffer.getvalue()


def _listing(folder) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("page.html", b"<!DOCTYPE html>\n<html><body>Not found</body></html>" * 20, "an HTML page"),
        ("cut.parquet", _trip_parquet()[:-100], "a truncated or damaged file"),
        ("nofare.parquet", _trip_parquet(without="fare_amount"), "required yellow column"),
    ],
    ids=["html-page", "truncated", "missing-column"],
)
@pytest.mark.parametrize("existing", [False, True], ids=["fresh-workdir", "used-workdir"])
def test_local_refused_ingest_says_so_in_one_line_and_leaves_the_workdir_as_it_was(
    tmp_path, capsys, monkeypatch, name, content, message, existing
):
    monkeypatch.setenv("COLUMNS", "1000")  # rich wraps at 80 columns: one message, one line
    source = tmp_path / "sources" / name
    source.parent.mkdir()
    source.write_bytes(content)
    workdir = tmp_path / "work"
    if existing:
        (workdir / "lake" / "raw").mkdir(parents=True)
        (workdir / "notes.txt").write_text("a user's file")
    before = _listing(workdir) if existing else None

    code = main(
        ["local", "--year", "2024", "--month", "9", "--source", str(source),
         "--workdir", str(workdir)]
    )  # fmt: skip

    err = capsys.readouterr().err
    assert code == EXIT_FAILED
    assert err.count("\n") == 1, err
    assert err.startswith("error: ")
    assert str(source) in err
    assert message in err
    assert "Traceback" not in err
    if existing:
        assert _listing(workdir) == before
    else:
        assert not workdir.exists(), "a refused ingest must not create the workdir"


@pytest.mark.parametrize("rows", ["0", "-5"])
def test_demo_refuses_a_month_without_rows_before_writing(tmp_path, capsys, rows):
    workdir = tmp_path / "demo"
    code = main(["demo", "--rows", rows, "--workdir", str(workdir)])
    err = " ".join(capsys.readouterr().err.split())
    assert code == EXIT_BAD_INPUT
    assert f"invalid --rows {rows}: a whole number of rows, at least 1" in err
    assert not workdir.exists()


@pytest.mark.parametrize("command", ["local", "demo"])
def test_an_unknown_engine_is_refused_before_anything_is_written(tmp_path, capsys, command):
    workdir = tmp_path / "work"
    month = ["--year", "2024", "--month", "1"] if command == "local" else []
    code = main([command, *month, "--engine", "flink", "--workdir", str(workdir)])
    err = " ".join(capsys.readouterr().err.split())
    assert code == EXIT_BAD_INPUT
    assert "invalid --engine 'flink': one of duckdb, spark" in err
    assert not workdir.exists()
