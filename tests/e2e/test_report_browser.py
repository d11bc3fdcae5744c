"""The report of a real workdir, as a person sees it.

A module fixture runs the pipeline through its command line on synthetic TLC months (a few
thousand rows each) with planted anomalies, made by editing the files with pyarrow before
`local --source`: yellow 2024-01..07 with a new stray column (04), a mostly null
`passenger_count` (05), fares ten times too high (06) and a month far below the median (07); a
refused re-run of 03 (half its rows), and 08 refused for good (the file of 2024-09); green 01
refused once (a file of another month), then published; green 02 re-run with half its rows,
refused, then forced; green 03 never loaded. Then `report` and `months --json`.

The HTML must name every published month, every planted warning (rule and column), the refused
and the forced month. Debian's headless chromium (`make setup-browser`; `.ci/run` installs it)
opens it with no network: the screenshot must not be blank, and every chart must have a
rendered size (a copy of the page with a script appended records each chart's bounding box into
the DOM, which `--dump-dom` prints; the report itself holds no script).
`REPORT_SCREENSHOT=docs/report.png` keeps the screenshot (the README's picture).
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from PIL import Image

from pipeline.cli.main import EXIT_OK, EXIT_REFUSED, main
from pipeline.contract.datasets import GREEN, YELLOW, Dataset
from pipeline.contract.months import Month
from pipeline.dev import synthetic
from pipeline.report import page

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars")  # fmt: skip
LAPTOP = (1366, 1500)  # a laptop's width; tall enough for the summary and the first charts
MEASURE = """<script>
const sizes = [...document.querySelectorAll('figure.chart')].map(figure => {
  const box = figure.querySelector('svg').getBoundingClientRect();
  return {chart: figure.dataset.chart, width: box.width, height: box.height};
});
const out = document.createElement('pre');
out.id = 'chart-sizes';
out.textContent = JSON.stringify(sizes);
document.body.appendChild(out);
</script>"""
ROWS = 4_000
GREEN_ROWS = 3_000
# (dataset, month) -> (rule, column) of the warning planted in it
PLANTED = {
    ("yellow", "2024-04"): ("new_columns", "stray_note"),
    ("yellow", "2024-05"): ("null_share_jump", "passenger_count"),
    ("yellow", "2024-06"): ("money_per_trip", "fare_amount"),
    ("yellow", "2024-07"): ("history_band", None),
}
REFUSED = ("yellow", "2024-08")  # every run refused: never published
FORCED = ("green", "2024-02")  # refused (half its rows), then --force-publish
KEPT = ("yellow", "2024-03")  # a re-run refused; the published run stays
MISSING = ("green", "2024-03")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"  # fresh every run
    return subprocess.run(
        [BROWSER, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


needs_browser = pytest.mark.skipif(
    BROWSER is None,
    reason="no chromium on PATH: `make setup-browser` installs Debian's (apt-get, as root or "
    "with sudo); .ci/run does so before the tests",
)


@dataclass
class Months:
    """Synthetic TLC files written under `folder`, and the local runs that load them."""

    folder: Path
    workdir: Path

    def file(self, dataset: Dataset, month: Month, rows: int, seed: int, name: str = "") -> Path:
        path = self.folder / (name or dataset.file_name(month))
        synthetic.write_month(path, dataset, month, rows, seed=seed)
        return path

    def edit(self, path: Path, change) -> Path:
        pq.write_table(change(pq.read_table(path)), path)
        return path

    def run(self, dataset: Dataset, month: Month, source: Path, *extra: str) -> int:
        with contextlib.redirect_stdout(io.StringIO()):
            return main(["local", "--dataset", dataset.name, "--year", str(month.year),
                         "--month", str(month.month), "--source", str(source),
                         "--workdir", str(self.workdir), "--quiet", *extra])  # fmt: skip


def stray_column(table: pa.Table) -> pa.Table:
    return table.append_column("stray_note", pa.array(["x"] * table.num_rows))


def mostly_null_passengers(table: pa.Table) -> pa.Table:
    index = table.column_names.index("passenger_count")
    column = table.column(index)
    keep = np.arange(table.num_rows) % 10 == 0  # 10% keep their value
    nulls = pa.nulls(table.num_rows, column.type)
    return table.set_column(index, "passenger_count", pc.if_else(keep, column, nulls))


def fares_times_ten(table: pa.Table) -> pa.Table:
    index = table.column_names.index("fare_amount")
    return table.set_column(index, "fare_amount", pc.multiply(table.column(index), 10))


def half(table: pa.Table) -> pa.Table:
    return table.slice(0, table.num_rows // 2)


def build(months: Months) -> None:
    """The workdir the module's tests read; every exit code as planned."""
    ok, refused = EXIT_OK, EXIT_REFUSED
    plants = {4: stray_column, 5: mostly_null_passengers, 6: fares_times_ten}
    for number in range(1, 8):
        month = Month(2024, number)
        path = months.file(YELLOW, month, ROWS if number < 7 else ROWS // 4, seed=number)
        if number in plants:
            months.edit(path, plants[number])
        assert months.run(YELLOW, month, path) == ok, month
    subset = months.edit(months.file(YELLOW, Month(2024, 3), ROWS, 3, "subset.parquet"), half)
    assert months.run(YELLOW, Month(2024, 3), subset) == refused
    september = months.file(YELLOW, Month(2024, 9), ROWS, 9)
    assert months.run(YELLOW, Month(2024, 8), september) == refused

    wrong = months.file(GREEN, Month(2024, 5), GREEN_ROWS, 25)
    assert months.run(GREEN, Month(2024, 1), wrong) == refused
    assert (
        months.run(GREEN, Month(2024, 1), months.file(GREEN, Month(2024, 1), GREEN_ROWS, 21)) == ok
    )
    february = months.file(GREEN, Month(2024, 2), GREEN_ROWS, 22)
    assert months.run(GREEN, Month(2024, 2), february) == ok
    smaller = months.edit(months.file(GREEN, Month(2024, 2), GREEN_ROWS, 22, "half.parquet"), half)
    assert months.run(GREEN, Month(2024, 2), smaller) == refused
    assert months.run(GREEN, Month(2024, 2), smaller, "--force-publish") == ok
    assert (
        months.run(GREEN, Month(2024, 4), months.file(GREEN, Month(2024, 4), GREEN_ROWS, 24)) == ok
    )


def command_output(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report-workdir")
    build(Months(root / "files", root / "work"))
    return root / "work"


@pytest.fixture(scope="module")
def report(workdir) -> Path:
    path = workdir.parent / "tlc-elt-report.html"
    code, _ = command_output("report", "--workdir", str(workdir), "--output", str(path), "--quiet")
    assert code == EXIT_OK
    return path


@pytest.fixture(scope="module")
def months_json(workdir) -> list[dict]:
    code, out = command_output("months", "--workdir", str(workdir), "--json")
    assert code == EXIT_OK
    return json.loads(out)


def text_of(report: Path) -> str:
    """The page's text as a person reads it (tags dropped, entities decoded), and the SVG marks'
    labels, which name each coverage cell."""
    raw = report.read_text()
    return html.unescape(re.sub(r"<[^>]+>", " ", raw)) + html.unescape(raw)


# ---------------------------------------------------------------- months --json


def test_months_lists_each_published_month_with_its_findings_and_forced_flag(months_json):
    lines = {(line["dataset"], line["month"]): line for line in months_json}
    yellow = [f"2024-{m:02d}" for m in range(1, 8)]
    assert set(lines) == {("yellow", m) for m in yellow} | {
        ("green", "2024-01"), ("green", "2024-02"), ("green", "2024-04")}  # fmt: skip
    for key, (rule, _) in PLANTED.items():
        assert lines[key]["findings"] == [f"warn: {rule}"], key
    forced = lines[FORCED]
    assert (forced["forced"], forced["publishes"]) == (True, 2)
    assert forced["findings"] == ["refuse: shrinks_published"]
    assert forced["change"] == forced["rows_loaded"] - forced["rows_before"]
    assert forced["change"] < 0
    assert [key for key, line in lines.items() if line["forced"]] == [FORCED]
    # the refused re-run changed nothing: 03 is its first publish, whole
    kept = lines[KEPT]
    assert (kept["publishes"], kept["findings"], kept["rows_before"]) == (1, [], 0)
    assert kept["rows_loaded"] > 0.99 * ROWS
    assert REFUSED not in lines
    assert MISSING not in lines


def test_months_on_a_workdir_with_nothing_published_says_so(tmp_path):
    """A workdir whose only run was refused: publish never made its warehouse."""
    months = Months(tmp_path / "files", tmp_path / "work")
    march = months.file(GREEN, Month(2024, 3), 500, 3)
    assert months.run(GREEN, Month(2024, 2), march) == EXIT_REFUSED
    code, out = command_output("months", "--workdir", str(months.workdir))
    assert code == EXIT_OK
    assert out.startswith("nothing published: no month in ")
    code, out = command_output("months", "--workdir", str(months.workdir), "--json")
    assert code == EXIT_OK
    assert json.loads(out) == []
    # the report shows the refusal (publish never created the warehouse)
    path = tmp_path / "report.html"
    code, _ = command_output("report", "--workdir", str(months.workdir), "--output", str(path))
    assert code == EXIT_OK
    assert "month: 2024-02; dataset: green; state: refused" in path.read_text()


# ---------------------------------------------------------------- the HTML


def test_the_report_names_every_published_month(report, months_json):
    text = text_of(report)
    for line in months_json:
        state = "forced" if line["forced"] else "published"
        cell = f"month: {line['month']}; dataset: {line['dataset']}; state: {state}"
        assert cell in text, cell  # the coverage grid, as a screen reader reads it
        assert line["run_id"] in text  # the ledger table
    assert f"month: {MISSING[1]}; dataset: {MISSING[0]}; state: missing" in text


def test_the_report_names_every_planted_warning_its_rule_and_column(report):
    findings = re.findall(r"<tr>(.*?)</tr>", report.read_text().split('id="findings"')[1])
    rows = [html.unescape(re.sub(r"<[^>]+>", "|", row)) for row in findings]
    for (dataset, month), (rule, column) in PLANTED.items():
        found = [row for row in rows if f"|{month}|" in row and f"|{dataset}|" in row
                 and f"|{rule}|" in row]  # fmt: skip
        assert found, (dataset, month, rule)
        assert "|published|" in found[0]
        assert "|warn|" in found[0]
        if column:
            assert column in found[0], (rule, column)
    summary = html.unescape(report.read_text().split('id="coverage"')[0])
    for dataset, month in PLANTED:
        assert f"{dataset} {month}</b>:" in summary, (dataset, month)


def test_the_report_names_the_refused_and_the_forced_month(report):
    raw = report.read_text()
    summary = html.unescape(raw.split('id="coverage"')[0])
    assert f"<b>{REFUSED[0]}</b> refused, not published: {REFUSED[1]}" in summary
    assert f"<b>{FORCED[0]}</b> published over refusals: {FORCED[1]}" in summary
    assert f"<b>{MISSING[0]}</b> not published: {MISSING[1]}" in summary
    assert f"<b>{KEPT[0]} {KEPT[1]}</b>: run " in summary  # refused over a published month
    text = text_of(report)
    assert f"month: {REFUSED[1]}; dataset: {REFUSED[0]}; state: refused" in text
    findings = html.unescape(raw.split('id="findings"')[1].split('id="ledger"')[0])
    assert "other_month" in findings
    assert "rows fall in 2024-09" in findings
    assert "refused, published run kept" in findings  # yellow 03's re-run
    assert "refused, then published" in findings  # green 01's wrong file, then the right one


# ---------------------------------------------------------------- in a browser


@needs_browser
def test_the_screenshot_shows_a_page_not_a_blank(report, tmp_path):
    shot = tmp_path / "report.png"
    done = chromium(tmp_path, f"--window-size={LAPTOP[0]},{LAPTOP[1]}",
                    f"--screenshot={shot}", report.as_uri())  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == LAPTOP
    colours = image.getcolors(maxcolors=1 << 20)
    background = max(colours)[1]
    painted = sum(count for count, colour in colours if colour != background)
    assert len(colours) > 200, "a few flat colours: the charts did not render"
    assert painted > 0.15 * image.width * image.height, "mostly background: a blank page"
    # the coverage grid's published green and refused red are on screen
    assert {(0x2F, 0x85, 0x5A), (0xC5, 0x30, 0x30)} <= {colour for _, colour in colours}
    if os.environ.get("REPORT_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["REPORT_SCREENSHOT"])


@needs_browser
def test_every_chart_has_a_rendered_size(report, tmp_path):
    measured = tmp_path / "measured.html"
    measured.write_text(report.read_text().replace("</body>", MEASURE + "</body>"))
    done = chromium(tmp_path, f"--window-size={LAPTOP[0]},{LAPTOP[1]}", "--dump-dom",
                    measured.as_uri())  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="chart-sizes">(.*?)</pre>', done.stdout, re.DOTALL)
    assert found, "the measuring script did not run"
    sizes = {s["chart"]: (s["width"], s["height"]) for s in json.loads(html.unescape(found[1]))}
    assert set(sizes) == {section.anchor for section in page.CHARTS}
    for chart, (width, height) in sizes.items():
        assert width > 100, (chart, width)
        assert height > 50, (chart, height)
        assert width <= LAPTOP[0], f"{chart} is wider than a laptop screen: {width}px"
