"""Bad input on the command line: one clear line, exit 2, nothing created."""

from __future__ import annotations

import pytest

from pipeline.cli import EXIT_BAD_INPUT, main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--year", "2024", "--month", "13"], "invalid month '13': a month from 1 to 12"),
        (["--year", "2008", "--month", "12"], "invalid year '2008': a year from 2009"),
        (["--year", "2099", "--month", "01"], "invalid year '2099'"),
        (["--year", "2024", "--month", "1", "--dataset", "fhv"], "one of green, yellow"),
        (["--from", "2024-03", "--to", "2024-01"], "the first month must not be after the last"),
        (["--from", "2024-03"], "give both --from and --to"),
        (["--year", "2024"], "give --year and --month"),
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


def test_unparseable_month_text_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["local", "--from", "2024/01", "--to", "2024-02"])
    assert raised.value.code == 2
    assert "write a month as YYYY-MM" in capsys.readouterr().err
