"""The report: rows normalised from what either warehouse returns, the coverage grid, each
chart's spec (its data and encodings, not its pixels), and the page: one file with no URL, every
published month and every warning of its input in it."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from html import escape
from html.parser import HTMLParser

import pytest

from pipeline.contract.datasets import YELLOW
from pipeline.contract.months import Month
from pipeline.dev.report_sample import PLANTED, sample_report
from pipeline.report import charts, page
from pipeline.report.data import (
    BoroughRow,
    LedgerRow,
    MonthCounts,
    ProfileRow,
    RefusedRun,
    ReportData,
    RevenueRow,
)
from pipeline.report.months import month_lines


def ledger_row(dataset: str, month: object, **extra) -> dict:
    row = {"dataset": dataset, "source_month": month, "run_id": f"{dataset}-{month}-scheduled",
           "published_at": datetime(2025, 1, 5, 6, 30), "engine": "duckdb",
           "source": "/data/file.parquet", "source_bytes": 10, "source_sha256": "ab" * 32,
           "rows_in": 100, "rows_loaded": 99, "rows_quarantined": 1, "rows_replaced": 0,
           "forced": False, "findings": "[]"}  # fmt: skip
    return {**row, **extra}


def test_rows_take_what_either_warehouse_returns():
    data = ReportData.from_rows(
        ledger=[ledger_row("yellow", date(2024, 1, 1), findings='[{"rule": "r", '
                           '"severity": "warn", "message": "m"}]', unknown_key="ignored"),
                ledger_row("yellow", "2024-02-01", published_at="2025-02-05T06:30:00.123")],
        first_months={"yellow": date(2023, 12, 1)},
    )  # fmt: skip
    first, second = data.ledger
    assert (first.source_month, first.published_at) == ("2024-01", "2025-01-05 06:30:00")
    assert first.findings == [{"rule": "r", "severity": "warn", "message": "m"}]
    assert (second.source_month, second.published_at) == ("2024-02", "2025-02-05 06:30:00.123")
    assert data.first_month("yellow") == "2023-12"


def test_two_publishes_within_a_second_keep_their_order():
    """A refused run, then the same file forced: both publishes of a month in one second. The
    later one is what readers see, in the report and in `months`."""
    first = ledger_row("green", "2024-02", published_at=datetime(2025, 1, 5, 6, 30, 0, 900_000))
    forced = ledger_row("green", "2024-02", published_at="2025-01-05 06:30:00.95", forced=True,
                        rows_loaded=50, rows_replaced=99, run_id="forced")  # fmt: skip
    for rows in ([first, forced], [forced, first]):  # the ledger's SQL gives newest first
        data = ReportData.from_rows(ledger=rows)
        assert data.latest_publishes()[("green", "2024-02")].run_id == "forced"
        assert data.coverage() == [{"dataset": "green", "month": "2024-02", "state": "forced"}]
        (line,) = month_lines(rows)
        assert (line["run_id"], line["forced"], line["publishes"]) == ("forced", True, 2)
        assert line["published_at"] == "2025-01-05 06:30:00.95"


def test_coverage_grid_from_each_datasets_first_month_to_the_last_month_of_any():
    data = ReportData.from_rows(
        ledger=[ledger_row("yellow", "2024-01"), ledger_row("yellow", "2024-03", forced=True),
                ledger_row("green", "2024-02"),
                # a later re-publish of 2024-03 that needed no force: readers see that one
                ledger_row("green", "2024-04"),
                ledger_row("yellow", "2024-04", forced=True),
                ledger_row("yellow", "2024-04", published_at="2025-03-01 00:00:00")],
        refused=[{"dataset": "green", "month": "2024-03", "run_id": "x", "at": "2025-01-01",
                  "findings": []},
                 {"dataset": "yellow", "month": "2024-01", "run_id": "y", "at": "2025-01-01",
                  "findings": []}],
    )  # fmt: skip
    grid = {(c["dataset"], c["month"]): c["state"] for c in data.coverage()}
    assert grid == {
        ("yellow", "2024-01"): "published",  # a refused re-run loses nothing
        ("yellow", "2024-02"): "missing",
        ("yellow", "2024-03"): "forced",
        ("yellow", "2024-04"): "published",
        ("green", "2024-02"): "published",
        ("green", "2024-03"): "refused",
        ("green", "2024-04"): "published",
    }
    assert data.datasets == ["yellow", "green"]
    assert ReportData().coverage() == []


# ---------------------------------------------------------------- chart specs


def values_of(spec: dict) -> list[dict]:
    return spec["data"]["values"]


def encoding_of(spec: dict) -> dict:
    inner = spec.get("spec", spec)
    return {channel: (e.get("field"), e.get("type")) for channel, e in inner["encoding"].items()
            if "field" in e}  # fmt: skip


def test_coverage_chart_is_a_grid_of_months_by_dataset_coloured_by_state():
    cells = [{"dataset": "yellow", "month": "2024-01", "state": "published"},
             {"dataset": "yellow", "month": "2024-02", "state": "missing"}]  # fmt: skip
    spec = charts.coverage_chart(cells)
    assert spec["mark"]["type"] == "rect"
    assert values_of(spec) == cells
    assert encoding_of(spec) == {"x": ("month", "ordinal"), "y": ("dataset", "nominal"),
                                 "color": ("state", "nominal")}  # fmt: skip
    scale = spec["encoding"]["color"]["scale"]
    assert scale["domain"] == ["published", "forced", "refused", "missing"]
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")


COUNTS = [MonthCounts("yellow", "2024-01", 90, 10, 80, {"flag_non_positive_fare": 6,
                      "flag_non_positive_total": 7}, {"pickup_in_month": 8,
                      "dropoff_not_before_pickup": 2})]  # fmt: skip


def test_rows_chart_splits_loaded_flagged_and_quarantined_per_dataset():
    spec = charts.rows_chart(COUNTS)
    assert {(v["kind"], v["rows"]) for v in values_of(spec)} == {
        ("loaded, no flag", 80),
        ("loaded, flagged", 10),
        ("quarantined", 10),
    }
    assert encoding_of(spec) == {
        "x": ("month", "ordinal"), "y": ("rows", "quantitative"),
        "color": ("kind", "nominal"), "order": ("order", "quantitative"),
    }  # fmt: skip
    assert spec["facet"]["row"]["field"] == "dataset"
    assert spec["resolve"]["scale"]["y"] == "independent"


def test_quarantine_by_rule_and_flags_by_month():
    rules = charts.quarantine_chart(COUNTS)
    assert {(v["rule"], v["rows"]) for v in values_of(rules)} == {
        ("pickup_in_month", 8),
        ("dropoff_not_before_pickup", 2),
    }
    assert encoding_of(rules)["color"] == ("rule", "nominal")
    flags = charts.flags_chart(COUNTS)
    assert {(v["flag"], v["rows"]) for v in values_of(flags)} == {
        ("flag_non_positive_fare", 6),
        ("flag_non_positive_total", 7),
    }
    assert encoding_of(flags)["color"] == ("flag", "nominal")


def test_null_share_heat_map_is_columns_by_months():
    rows = [ProfileRow("yellow", "2024-01", "r", "passenger_count", 25, None, None, None, 100),
            ProfileRow("yellow", "2024-01", "r", "airport_fee", 0, "0.0", "5.0", 9.0, 100),
            ProfileRow("green", "2024-01", "r", "ehail_fee", 0, None, None, None, 0)]  # fmt: skip
    spec = charts.null_share_chart(rows)
    assert [(v["column"], v["null_share"]) for v in values_of(spec)] == [
        ("passenger_count", 0.25),
        ("airport_fee", 0.0),
        ("ehail_fee", None),
    ]
    assert encoding_of(spec) == {"x": ("month", "ordinal"), "y": ("column", "nominal"),
                                 "color": ("null_share", "quantitative")}  # fmt: skip
    assert spec["spec"]["encoding"]["color"]["scale"]["domain"] == [0, 1]


def test_trips_and_revenue_skip_a_dataset_without_money():
    spec = charts.trips_revenue_chart([RevenueRow("yellow", "2024-01", 80, 2200.5),
                                       RevenueRow("fhv", "2024-01", 50, None)])  # fmt: skip
    assert {(v["dataset"], v["measure"], v["value"]) for v in values_of(spec)} == {
        ("yellow", "trips", 80),
        ("yellow", "revenue ($)", 2200.5),
        ("fhv", "trips", 50),
    }
    assert spec["facet"]["column"]["field"] == "measure"


def test_boroughs_show_each_datasets_latest_month_only():
    spec = charts.borough_chart([BoroughRow("yellow", "2024-01", "Queens", 5),
                                 BoroughRow("yellow", "2024-02", "Queens", 7),
                                 BoroughRow("green", "2024-01", "Bronx", 3)])  # fmt: skip
    assert values_of(spec) == [
        {"panel": "yellow 2024-02", "borough": "Queens", "trips": 7},
        {"panel": "green 2024-01", "borough": "Bronx", "trips": 3},
    ]
    assert encoding_of(spec) == {"x": ("trips", "quantitative"), "y": ("borough", "nominal")}


def test_every_month_axis_is_every_month_of_the_report_gaps_included():
    """yellow 2024-02 was never published: the charts keep its place instead of joining
    January to March, and a line breaks there."""
    data = ReportData.from_rows(
        ledger=[ledger_row("yellow", "2024-01"), ledger_row("yellow", "2024-03")],
        refused=[{"dataset": "green", "month": "2024-04", "run_id": "g", "at": "2025-01-01",
                  "findings": []}],
        counts=[MonthCounts("yellow", m, 90, 10, 80, {"flag_non_positive_fare": 6},
                            {"pickup_in_month": 8}) for m in ("2024-01", "2024-03")],
        profiles=[ProfileRow("yellow", m, "r", "fare_amount", 0, "1", "9", 9.0, 90)
                  for m in ("2024-01", "2024-03")],
        revenue=[RevenueRow("yellow", m, 80, 2000.0) for m in ("2024-01", "2024-03")],
    )  # fmt: skip
    assert data.months == ["2024-01", "2024-02", "2024-03", "2024-04"]
    for section in page.CHARTS:
        if section.anchor == "boroughs":
            continue
        spec = section.build(data)
        x = spec.get("spec", spec)["encoding"]["x"]
        assert x["scale"]["domain"] == data.months, section.anchor
    trips = charts.trips_revenue_chart(data.revenue, data.months)
    gaps = [(v["measure"], v["month"]) for v in values_of(trips) if v["value"] is None]
    assert sorted(gaps) == [("revenue ($)", "2024-02"), ("trips", "2024-02")]
    assert trips["spec"]["mark"]["invalid"] == "break-paths-filter-domains"
    flags = charts.flags_chart(data.counts, data.months)
    assert [v["month"] for v in values_of(flags) if v["rows"] is None] == ["2024-02"]


def test_a_refused_run_says_what_became_of_its_month():
    refused = [{"dataset": "yellow", "month": month, "run_id": run, "at": at,
                "findings": [{"rule": "shrinks_published", "severity": "refuse", "message": "m"}]}
               for month, run, at in (("2024-01", "before", "2025-01-01 00:00:00"),
                                      ("2024-02", "after", "2025-03-01 00:00:00"),
                                      ("2024-03", "alone", "2025-01-01 00:00:00"))]  # fmt: skip
    data = ReportData.from_rows(
        ledger=[ledger_row("yellow", m, published_at="2025-02-01 00:00:00")
                for m in ("2024-01", "2024-02")],
        refused=refused,
    )  # fmt: skip
    outcomes = {run.run_id: data.refusal_outcome(run) for run in data.refused}
    assert outcomes == {"before": "refused, then published", "after": "refused, published run kept",
                        "alone": "refused"}  # fmt: skip
    grid = {c["month"]: c["state"] for c in data.coverage()}
    assert grid == {"2024-01": "published", "2024-02": "published", "2024-03": "refused"}
    table = page.findings_table(data)
    assert '<span class="tag refused">refused, published run kept</span>' in table
    todo = " ".join(page.attention(data, data.coverage()))
    assert "<b>yellow 2024-02</b>: run after was refused (shrinks_published)" in todo
    assert "2024-01</b>" not in todo  # published after its refusal: nothing to look at


# ---------------------------------------------------------------- the page


@pytest.fixture(scope="module")
def sample() -> ReportData:
    return sample_report(months=12)


@pytest.fixture(scope="module")
def html(sample) -> str:
    return page.build_html(sample)


class References(HTMLParser):
    """Every tag and every attribute that could make a browser fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.fetching: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if (
                name in ("src", "href", "xlink:href", "srcset", "action", "data")
                and value
                and (not value.startswith("#"))
            ):
                self.fetching.append((tag, name, value))


def test_the_page_fetches_nothing_and_names_no_url(html):
    parser = References()
    parser.feed(html)
    assert parser.fetching == []
    assert not {"script", "link", "img", "iframe", "object", "embed"} & parser.tags
    # url(#gradient_0): the legend's gradient, defined in the same SVG
    assert not re.search(r"https?://|url\((?!#)|@import|@font-face", html, re.IGNORECASE)
    assert html.count("<svg") == len(page.CHARTS)
    assert html.startswith("<!DOCTYPE html>")


def test_every_published_month_is_in_the_coverage_grid_as_a_person_reads_it(sample, html):
    latest = sample.latest_publishes()
    assert len(latest) > 40
    for (dataset, month), row in latest.items():
        state = "forced" if row.forced else "published"
        assert f'aria-label="month: {month}; dataset: {dataset}; state: {state}"' in html
    for run in sample.refused:
        assert f'aria-label="month: {run.month}; dataset: {run.dataset}; state: refused"' in html


def test_every_finding_of_the_input_is_in_the_findings_table(sample, html):
    findings = [f for row in sample.ledger for f in row.findings]
    findings += [f for run in sample.refused for f in run.findings]
    assert len(findings) >= len(PLANTED) - 1  # every planted one but the missing months
    for finding in findings:
        assert escape(finding["message"]) in html, finding
    rules = {finding["rule"] for finding in findings}
    assert {"null_share_jump", "money_per_trip", "new_columns", "quarantine_share",
            "other_month"} <= rules  # fmt: skip


def test_the_summary_comes_first_and_names_what_needs_a_look(html):
    summary = html[html.index('id="summary"') : html.index('id="coverage"')]
    assert html.index('id="summary"') < html.index("<svg")
    dataset, months = PLANTED["missing"][0], "2024-10..2024-11, 2025-06"
    assert f"<b>{dataset}</b> not published: {months}" in summary
    assert "<b>fhv</b> refused, not published: 2025-01" in summary
    assert "<b>yellow</b> published over refusals: 2025-05" in summary
    assert "<b>yellow 2025-03</b>: passenger_count is null in" in summary
    assert "<b>fhvhv 2025-04</b>: base_passenger_fare per loaded trip" in summary


def test_the_ledger_table_holds_the_last_50_publishes_newest_first():
    rows = [ledger_row("yellow", f"{2020 + i // 12}-{i % 12 + 1:02d}",
                       published_at=datetime(2025, 1, 1, 0, i), run_id=f"run-{i:02d}-")
            for i in range(60)]  # fmt: skip
    rows[-1]["source"] = YELLOW.source_url(Month(2024, 12))
    table = page.ledger_table(ReportData.from_rows(ledger=rows))
    assert table.count("<tr>") == 1 + page.LAST_LEDGER_ROWS
    shown = re.findall(r"run-(\d\d)-", table)
    assert shown == [f"{i:02d}" for i in range(59, 9, -1)]
    assert "TLC yellow_tripdata_2024-12.parquet" in table
    assert "/data/file.parquet" in table


def test_an_empty_report_says_nothing_is_published(tmp_path):
    path = page.write_report(ReportData(), tmp_path / "report.html")
    text = path.read_text()
    assert "nothing published yet" in text
    assert "<svg" not in text


def test_sources_are_shown_without_a_scheme():
    assert page.source_text("https://example.com/a.parquet") == "example.com/a.parquet"
    assert page.source_text("/home/me/a.parquet") == "/home/me/a.parquet"


def test_findings_rows_cover_refused_runs_too():
    data = ReportData(refused=(RefusedRun("fhv", "2024-01", "r", "2025-01-01 00:00:00",
                      [{"rule": "x", "severity": "refuse", "message": "why"}]),))  # fmt: skip
    assert [(m, d, outcome) for m, d, _, outcome, _ in page.findings_rows(data)] == [
        ("2024-01", "fhv", "refused")
    ]
    assert isinstance(data.refused[0], RefusedRun)
    assert json.dumps(data.refused[0].findings)
    assert LedgerRow.__dataclass_fields__.keys() >= {"findings", "forced", "rows_replaced"}
