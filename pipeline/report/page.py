"""The report page: one self-contained HTML file, a summary first, then the charts and tables.

Charts are rendered here to SVG by vl-convert (no browser, no network) and inlined; the CSS is
inline; no script, font, image or style is fetched from anywhere, so the file opens offline. The
SVG's `xmlns` attributes are dropped: HTML puts an inline `<svg>` in the SVG namespace itself,
and the page then holds no URL at all (tests/unit/test_report.py checks it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from pathlib import Path

import vl_convert

from pipeline.contract.datasets import TLC_BASE_URL
from pipeline.contract.months import Month
from pipeline.report import charts
from pipeline.report.data import Coverage, Finding, LedgerRow, ReportData

LAST_LEDGER_ROWS = 50
_XMLNS = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# The summary lists the warnings of each dataset's months this close to the report's last month.
RECENT_MONTHS = 6
CSS = """
:root { --ink: #1a202c; --muted: #4a5568; --line: #e2e8f0; --warn: #b7791f; --bad: #c53030;
        --ok: #2f855a; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica,
       Arial, sans-serif; color: var(--ink); background: #f7fafc; }
main { max-width: 1180px; margin: 0 auto; padding: 20px 24px 48px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 0; color: var(--muted); }
nav { margin: 12px 0 4px; display: flex; flex-wrap: wrap; gap: 6px 14px; font-size: 14px; }
nav a { color: #2b6cb0; text-decoration: none; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
          padding: 14px 18px; margin: 16px 0; }
h2 { font-size: 18px; margin: 0 0 10px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card h3 { margin: 0 0 6px; font-size: 16px; }
.card dl { margin: 0; display: grid; grid-template-columns: 1fr auto; gap: 2px 10px;
           font-size: 13.5px; }
.card dt { color: var(--muted); }
.card .span { margin: -4px 0 6px; color: var(--muted); font-size: 13px; }
.card dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums;
           white-space: nowrap; }
.attention { margin: 12px 0 0; padding-left: 20px; }
.attention li { margin: 3px 0; }
.tag { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 12px;
       font-weight: 600; color: #fff; }
.tag.refuse, .tag.refused, .tag.missing { background: var(--bad); }
.tag.warn, .tag.forced { background: var(--warn); }
.tag.published, .tag.ok { background: var(--ok); }
figure.chart { margin: 0; overflow-x: auto; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { background: #edf2f7; position: sticky; top: 0; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.scroll { max-height: 520px; overflow: auto; }
.empty { color: var(--muted); font-style: italic; }
.note { margin: -4px 0 10px; color: var(--muted); font-size: 14px; }
td:nth-child(-n+4) { white-space: nowrap; }
.ledger td:last-child { word-break: break-all; min-width: 200px; }
.ledger small { color: var(--muted); }
"""


@dataclass(frozen=True)
class ChartSection:
    anchor: str
    title: str
    note: str  # how to read it, one line under the title
    build: Callable[[ReportData], charts.Spec]
    has_rows: Callable[[ReportData], bool]


CHARTS: tuple[ChartSection, ...] = (
    ChartSection("coverage", "Coverage",
                 "Each dataset's months from its first publish: published, forced (published "
                 "over the audit's refusals), refused (every run refused, nothing published) or "
                 "missing (no run published it: the schedule's month never arrived?), up to the "
                 "last month any dataset published or refused.",
                 lambda d: charts.coverage_chart(d.coverage(), d.months),
                 lambda d: bool(d.ledger or d.refused)),
    ChartSection("rows", "Rows per month",
                 "The published months' rows: loaded with no flag set, loaded and flagged "
                 "(implausible but real, hidden by the _clean views), quarantined.",
                 lambda d: charts.rows_chart(d.counts, d.months), lambda d: bool(d.counts)),
    ChartSection("quarantine", "Quarantine by rule",
                 "Rows kept out of the warehouse, by the first integrity rule they broke.",
                 lambda d: charts.quarantine_chart(d.counts, d.months),
                 lambda d: any(row.rejected for row in d.counts)),
    ChartSection("flags", "Flags by month",
                 "Loaded rows with each plausibility flag set (a row may carry several).",
                 lambda d: charts.flags_chart(d.counts, d.months),
                 lambda d: any(row.flagged for row in d.counts)),
    ChartSection("nulls", "Null share",
                 "Per column and month, the share of loaded rows that are null (white: no "
                 "published month): a column turning dark (or light) from one month to the next "
                 "is worth a look.",
                 lambda d: charts.null_share_chart(d.profiles, d.months),
                 lambda d: bool(d.profiles)),
    ChartSection("trips", "Trips and revenue",
                 "Trips are the rows of the clean view; revenue sums the whole table "
                 "(reversal rows net out). A line breaks where a month is not published.",
                 lambda d: charts.trips_revenue_chart(d.revenue, d.months),
                 lambda d: bool(d.revenue)),
    ChartSection("boroughs", "Trips per borough",
                 "Each dataset's latest published month, by pickup borough (taxi_zones).",
                 lambda d: charts.borough_chart(d.boroughs), lambda d: bool(d.boroughs)),
)  # fmt: skip


def svg(spec: charts.Spec) -> str:
    """A spec rendered to SVG text that can sit inline in HTML."""
    return _XMLNS.sub("", vl_convert.vegalite_to_svg(spec))


def _figure(section: ChartSection, data: ReportData) -> str:
    note = f'<p class="note">{escape(section.note)}</p>'
    if not section.has_rows(data):
        return f'{note}<p class="empty">nothing to show yet</p>'
    chart = svg(section.build(data))
    return f'{note}<figure class="chart" data-chart="{section.anchor}">{chart}</figure>'


def source_text(source: str) -> str:
    """A ledger's source as the table shows it: TLC's file by its name, another URL without its
    scheme (the page holds no link), a path as it is."""
    if source.startswith(TLC_BASE_URL + "/"):
        return "TLC " + source[len(TLC_BASE_URL) + 1 :]
    return _SCHEME.sub("", source)


def _table(
    head: Sequence[str], rows: Iterable[Sequence[object]], numeric: set[int], kind: str = ""
) -> str:
    header = "".join(f"<th>{escape(name)}</th>" for name in head)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="n">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        ) + "</tr>"
        for row in rows
    )  # fmt: skip
    table = f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll {kind}">{table}</div>'


def _tag(kind: str) -> str:
    """A coloured label; its class is the kind's first word (`refused, then published`)."""
    return f'<span class="tag {escape(kind.split(",")[0])}">{escape(kind)}</span>'


def _number(value: object) -> str:
    return "" if value is None else f"{value:,}"


def findings_rows(data: ReportData) -> list[tuple[str, str, str, str, Finding]]:
    """(month, dataset, run, outcome, finding) for every finding of every publish and refusal,
    newest month first."""
    found = [(row.source_month, row.dataset, row.run_id,
              Coverage.FORCED.value if row.forced else Coverage.PUBLISHED.value, finding)
             for row in data.ledger for finding in row.findings]  # fmt: skip
    found += [(run.month, run.dataset, run.run_id, data.refusal_outcome(run), finding)
              for run in data.refused for finding in run.findings]  # fmt: skip
    return sorted(found, key=lambda item: (item[0], item[1], item[2]), reverse=True)


def findings_table(data: ReportData) -> str:
    rows = findings_rows(data)
    if not rows:
        return '<p class="empty">no findings: every audit passed cleanly</p>'
    return _table(
        ("month", "dataset", "run", "outcome", "severity", "rule", "what"),
        ((escape(month), escape(dataset), escape(run), _tag(outcome),
          _tag(str(finding.get("severity", ""))), escape(str(finding.get("rule", ""))),
          escape(str(finding.get("message", ""))))
         for month, dataset, run, outcome, finding in rows),
        set(),
    )  # fmt: skip


def ledger_table(data: ReportData) -> str:
    rows = sorted(data.ledger, key=lambda row: row.published_at, reverse=True)[:LAST_LEDGER_ROWS]
    if not rows:
        return '<p class="empty">nothing published</p>'
    return _table(
        ("published", "dataset", "month", "run", "engine", "rows in", "loaded", "quarantined",
         "replaced", "change", "forced", "findings", "source (bytes, sha256)"),
        ((escape(r.published_at[:16]), escape(r.dataset), escape(r.source_month), escape(r.run_id),
          escape(r.engine), _number(r.rows_in), _number(r.rows_loaded),
          _number(r.rows_quarantined), _number(r.rows_replaced),
          f"{r.rows_loaded - r.rows_replaced:+,}" if r.rows_replaced else "new",
          "yes" if r.forced else "", str(len(r.findings)),
          f"{escape(source_text(r.source))}<br><small>{_number(r.source_bytes)} bytes, "
          f"{escape(r.source_sha256[:12])}</small>")
         for r in rows),
        {5, 6, 7, 8, 9, 11}, "ledger",
    )  # fmt: skip


def _card(data: ReportData, dataset: str, cells: list[dict[str, str]]) -> str:
    states = [cell["state"] for cell in cells if cell["dataset"] == dataset]
    published = [r for (d, _), r in data.latest_publishes().items() if d == dataset]
    latest: LedgerRow | None = max(published, key=lambda r: r.source_month, default=None)
    warnings = sum(f.get("severity") == "warn" for row in published for f in row.findings)
    items = [(state.value, str(states.count(state.value))) for state in Coverage]
    items.append(("warnings", str(warnings)))
    if latest is not None:
        share = latest.rows_quarantined / latest.rows_in if latest.rows_in else 0
        items += [("latest month", latest.source_month),
                  ("its rows loaded", _number(latest.rows_loaded)),
                  ("its quarantine", f"{share:.2%}")]  # fmt: skip
    body = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items)
    span = f"{data.first_month(dataset) or '-'} to {data.last_month}"
    return (
        f'<div class="card"><h3>{escape(dataset)}</h3><p class="span">{escape(span)}</p>'
        f"<dl>{body}</dl></div>"
    )


def _spans(months: list[str]) -> list[str]:
    """Consecutive months as `2024-01..2024-03`."""
    spans: list[list[str]] = []
    for month in sorted(months):
        if spans and _next(spans[-1][-1]) == month:
            spans[-1].append(month)
        else:
            spans.append([month])
    return [span[0] if len(span) == 1 else f"{span[0]}..{span[-1]}" for span in spans]


def _next(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def attention(data: ReportData, cells: list[dict[str, str]]) -> list[str]:
    """What a person should look at, as HTML list items: missing, refused and forced months,
    runs refused over a published month, and the warnings of the recent months' publishes."""
    items = []
    for dataset in data.datasets:
        for state, what in ((Coverage.MISSING, "not published"),
                            (Coverage.REFUSED, "refused, not published"),
                            (Coverage.FORCED, "published over refusals")):  # fmt: skip
            months = [c["month"] for c in cells if c["dataset"] == dataset and c["state"] == state]
            if months:
                items.append(f"{_tag(state.value)} <b>{escape(dataset)}</b> {what}: "
                             f"{escape(', '.join(_spans(months)))}")  # fmt: skip
    for run in sorted(data.refused, key=lambda run: (run.dataset, run.month)):
        if data.refusal_outcome(run).endswith("kept"):
            rules = ", ".join(f["rule"] for f in run.findings if f.get("severity") == "refuse")
            items.append(f"{_tag('refused')} <b>{escape(run.dataset)} {run.month}</b>: run "
                         f"{escape(run.run_id)} was refused ({escape(rules)}); the published "
                         "run stays")  # fmt: skip
    recent = str(Month.parse(data.last_month).plus(1 - RECENT_MONTHS)) if data.last_month else ""
    latest = sorted(data.latest_publishes().items(), reverse=True)
    for (dataset, month), row in latest:
        for finding in row.findings if month >= recent else ():
            if finding.get("severity") == "warn":
                items.append(f"{_tag('warn')} <b>{escape(dataset)} {month}</b>: "
                             f"{escape(str(finding.get('message', '')))}")  # fmt: skip
    return items


def summary(data: ReportData) -> str:
    cells = data.coverage()
    if not data.datasets:
        return '<p class="empty">nothing published yet: run a month, then build the report</p>'
    cards = "".join(_card(data, dataset, cells) for dataset in data.datasets)
    todo = attention(data, cells)
    listed = ("<ul class=\"attention\">" + "".join(f"<li>{item}</li>" for item in todo) + "</ul>"
              if todo else f'<p>{_tag("ok")} every month published, no warnings</p>')  # fmt: skip
    recent = f"missing, refused and forced months; warnings of the last {RECENT_MONTHS} months"
    return (
        f'<div class="cards">{cards}</div><h3>Needs a look</h3><p class="note">{recent}</p>{listed}'
    )


def build_html(data: ReportData) -> str:
    generated = data.generated_at or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    anchors = [("summary", "Summary"), *((c.anchor, c.title) for c in CHARTS),
               ("findings", "Audit findings"), ("ledger", "Last publishes")]  # fmt: skip
    nav = "".join(f'<a href="#{anchor}">{escape(title)}</a>' for anchor, title in anchors)
    sections = [("summary", "Summary", summary(data))]
    sections += [(c.anchor, c.title, _figure(c, data)) for c in CHARTS]
    sections += [
        ("findings", "Audit findings, every month", findings_table(data)),
        ("ledger", f"The last {LAST_LEDGER_ROWS} publishes", ledger_table(data)),
    ]
    body = "".join(f'<section id="{anchor}"><h2>{escape(title)}</h2>{html}</section>'
                   for anchor, title, html in sections)  # fmt: skip
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(data.title)}</title><style>{CSS}</style></head><body><main>"
        f"<header><h1>{escape(data.title)}</h1><p>Built {escape(generated)} from the ledger, "
        f"the counts and the profiles of every published month.</p><nav>{nav}</nav></header>"
        f"{body}</main></body></html>\n"
    )


def write_report(data: ReportData, path: Path) -> Path:
    """Build the page and write it to `path` (its folder must exist); returns the path."""
    path = Path(path)
    path.write_text(build_html(data), encoding="utf-8")
    return path
