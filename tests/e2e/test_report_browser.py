"""The report as a person sees it: written from a ReportData with planted anomalies, opened in
Debian's headless chromium (`make setup-browser`; `.ci/run` installs it), with no network.

A screenshot must not be blank, and every chart must have a rendered size: a copy of the page
with a script appended records each chart's bounding box into the DOM, which chromium's
`--dump-dom` prints once the page has loaded. The report itself holds no script.
`REPORT_SCREENSHOT=docs/report.png` keeps the screenshot (the README's picture).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from pipeline.dev.report_sample import sample_report
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

pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="no chromium on PATH: `make setup-browser` installs Debian's (apt-get, as root or "
    "with sudo); .ci/run does so before the tests",
)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"  # fresh every run
    return subprocess.run(
        [BROWSER, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    return page.write_report(sample_report(months=36), folder / "tlc-elt-report.html")


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
    # the coverage grid's published green is on screen (the summary and the grid come first)
    assert any(colour == (0x2F, 0x85, 0x5A) for _, colour in colours)
    if os.environ.get("REPORT_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["REPORT_SCREENSHOT"])


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
