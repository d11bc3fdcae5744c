"""One function per chart: plain rows in, a Vega-Lite spec (a dict, built with altair) out.

The values go into the spec inline (`alt.Data(values=...)`, lists of dicts: no pandas, no file,
no URL), so a spec renders the same anywhere, and tests read the data and the encodings off the
dict. Months are ordinal `YYYY-MM` text on every x axis, so the charts line up by month. Datasets
sit in rows of a facet with their own y scale: fhvhv's 20M trips would flatten green's 60k.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

from pipeline.contract.months import Month
from pipeline.report.data import BoroughRow, Coverage, MonthCounts, ProfileRow, RevenueRow

Spec = dict[str, Any]
WIDTH = 880
# vl-convert lays text out with Liberation Sans (its sans-serif), and the browser draws the SVG's
# text in the font named here: fonts metric-compatible with it (Arimo, Arial, Helvetica) keep
# legends and labels where vl-convert measured them; system-ui is wider and made labels overlap.
FONT = "Liberation Sans, Arimo, Arial, Helvetica, sans-serif"
COVERAGE_COLOURS = {
    Coverage.PUBLISHED.value: "#2f855a",
    Coverage.FORCED.value: "#dd6b20",
    Coverage.REFUSED.value: "#c53030",
    Coverage.MISSING.value: "#a0aec0",
}
ROW_KINDS = {"loaded, no flag": "#3182ce", "loaded, flagged": "#d69e2e", "quarantined": "#c53030"}
_MONTH_AXIS = alt.Axis(labelAngle=-90, labelFontSize=10, title=None)
# A null value breaks a line (Vega-Lite's default drops it, and the line joins its neighbours).
_LINE = {"point": alt.OverlayMarkDef(size=14), "invalid": "break-paths-filter-domains"}


def _chart(values: Sequence[Mapping[str, Any]]) -> alt.Chart:
    return alt.Chart(alt.Data(values=[dict(value) for value in values]))


def _spec(chart: alt.TopLevelMixin, title: str) -> Spec:
    """The top-level spec; its title is the chart's description (the page shows its own)."""
    chart = chart.properties(description=title)
    # Vega's 10-11 px defaults read small on a laptop beside the page's 15 px text.
    chart = chart.configure(font=FONT).configure_view(stroke=None)
    chart = chart.configure_axis(labelFontSize=11, titleFontSize=11)
    return chart.configure_legend(labelFontSize=12).configure_header(labelFontSize=12).to_dict()


def _month(months: Sequence[str] = ()) -> alt.X:
    """The month axis: `months` in order (each month of the report), else the data's, sorted."""
    if months:
        return alt.X("month:O", axis=_MONTH_AXIS, scale=alt.Scale(domain=list(months)))
    return alt.X("month:O", axis=_MONTH_AXIS, sort="ascending")


def _with_gaps(values: list[dict[str, Any]], series: str, value: str) -> list[dict[str, Any]]:
    """`values` plus a null point for each month a series skips between its first and last:
    lines drawn with `_LINE` break there instead of joining the months either side."""
    seen: dict[tuple[str, str], set[str]] = {}
    for row in values:
        seen.setdefault((row["dataset"], row[series]), set()).add(row["month"])
    gaps = []
    for (dataset, name), months in seen.items():
        first, last = Month.parse(min(months)), Month.parse(max(months))
        gaps += [{"dataset": dataset, "month": str(month), series: name, value: None}
                 for month in first.until(last) if str(month) not in months]  # fmt: skip
    return values + gaps


def _by_dataset(chart: alt.Chart, resolve: str = "y") -> alt.FacetChart:
    header = alt.Header(title=None, labelAngle=0, labelAlign="left", labelFontWeight="bold")
    faceted = chart.facet(row=alt.Row("dataset:N", header=header, sort="ascending"), spacing=12)
    return faceted.resolve_scale(**{resolve: "independent"})


def coverage_chart(cells: Sequence[Mapping[str, str]], months: Sequence[str] = ()) -> Spec:
    """Dataset x month: published, forced, refused or missing (`ReportData.coverage()`)."""
    count = len(months) or len({cell["month"] for cell in cells}) or 1
    colour = alt.Color(
        "state:N",
        scale=alt.Scale(domain=list(COVERAGE_COLOURS), range=list(COVERAGE_COLOURS.values())),
        legend=alt.Legend(orient="top", title=None),
    )
    chart = (
        _chart(cells)
        .mark_rect(stroke="white", strokeWidth=1.5)
        .encode(x=_month(months), y=alt.Y("dataset:N", title=None), color=colour)
    )
    step = max(8, min(36, WIDTH // count))
    chart = chart.properties(width=alt.Step(step), height=alt.Step(24))
    return _spec(chart, "Coverage: which months are published")


def rows_chart(counts: Sequence[MonthCounts], months: Sequence[str] = ()) -> Spec:
    """Rows per month, stacked: loaded with no flag, loaded and flagged, quarantined."""
    values = []
    for row in counts:
        parts = {"loaded, no flag": row.rows_clean,
                 "loaded, flagged": row.rows_loaded - row.rows_clean,
                 "quarantined": row.rows_quarantined}  # fmt: skip
        values += [{"dataset": row.dataset, "month": row.source_month, "kind": kind, "rows": n,
                    "order": order} for order, (kind, n) in enumerate(parts.items())]  # fmt: skip
    colour = alt.Color(
        "kind:N",
        scale=alt.Scale(domain=list(ROW_KINDS), range=list(ROW_KINDS.values())),
        legend=alt.Legend(orient="top", title=None),
    )
    chart = (
        _chart(values)
        .mark_bar()
        .encode(
            x=_month(months),
            y=alt.Y("rows:Q", title="rows", axis=alt.Axis(format="~s")),
            color=colour,
            order=alt.Order("order:Q"),  # loaded at the bottom, quarantined on top
        )
    )
    return _spec(_by_dataset(chart.properties(width=WIDTH, height=90)), "Rows per month")


def quarantine_chart(counts: Sequence[MonthCounts], months: Sequence[str] = ()) -> Spec:
    """Quarantined rows per month by the integrity rule they broke."""
    values = [{"dataset": row.dataset, "month": row.source_month, "rule": rule, "rows": n}
              for row in counts for rule, n in row.rejected.items()]  # fmt: skip
    chart = (
        _chart(values)
        .mark_bar()
        .encode(
            x=_month(months),
            y=alt.Y("rows:Q", title="quarantined", axis=alt.Axis(format="~s")),
            color=alt.Color("rule:N", legend=alt.Legend(orient="top", title=None)),
        )
    )
    return _spec(_by_dataset(chart.properties(width=WIDTH, height=70)), "Quarantine by rule")


def flags_chart(counts: Sequence[MonthCounts], months: Sequence[str] = ()) -> Spec:
    """Loaded rows per month with each plausibility flag set (datasets with flags)."""
    values = [{"dataset": row.dataset, "month": row.source_month, "flag": flag, "rows": n}
              for row in counts for flag, n in row.flagged.items()]  # fmt: skip
    chart = (
        _chart(_with_gaps(values, "flag", "rows"))
        .mark_line(**_LINE)
        .encode(
            x=_month(months),
            y=alt.Y("rows:Q", title="flagged", axis=alt.Axis(format="~s")),
            color=alt.Color("flag:N", legend=alt.Legend(orient="top", title=None, labelLimit=260)),
        )
    )
    return _spec(_by_dataset(chart.properties(width=WIDTH, height=70)), "Flags by month")


def null_share_chart(profiles: Sequence[ProfileRow], months: Sequence[str] = ()) -> Spec:
    """Null share (nulls / loaded rows) per column and month, one heat map per dataset."""
    values = [
        {"dataset": row.dataset, "month": row.source_month, "column": row.column,
         "null_share": round(row.null_count / row.rows, 4) if row.rows else None}
        for row in profiles
    ]  # fmt: skip
    colour = alt.Color(
        "null_share:Q",
        scale=alt.Scale(domain=[0, 1], range=["#e6eef8", "#9b2c2c"]),  # no month: white
        legend=alt.Legend(orient="top", title="null share", format="%", gradientLength=200),
    )
    chart = (
        _chart(values)
        .mark_rect()
        .encode(x=_month(months), y=alt.Y("column:N", title=None, sort=None), color=colour)
    )
    chart = chart.properties(width=WIDTH, height=alt.Step(11))
    return _spec(_by_dataset(chart), "Null share per column")


def trips_revenue_chart(revenue: Sequence[RevenueRow], months: Sequence[str] = ()) -> Spec:
    """Trips (clean rows) and revenue per month, side by side, each dataset on its own scale."""
    values = []
    for row in revenue:
        values.append({"dataset": row.dataset, "month": row.source_month,
                       "measure": "trips", "value": row.trips})  # fmt: skip
        if row.revenue is not None:
            values.append({"dataset": row.dataset, "month": row.source_month,
                           "measure": "revenue ($)", "value": row.revenue})  # fmt: skip
    chart = (
        _chart(_with_gaps(values, "measure", "value"))
        .mark_line(**_LINE)
        .encode(
            x=_month(months),
            y=alt.Y("value:Q", title=None, axis=alt.Axis(format="~s")),
            color=alt.Color(
                "measure:N", legend=None, scale=alt.Scale(range=["#2b6cb0", "#2f855a"])
            ),
        )
    )
    header = alt.Header(title=None, labelAngle=0, labelAlign="left", labelFontWeight="bold")
    faceted = chart.properties(width=WIDTH // 2 - 30, height=80).facet(
        row=alt.Row("dataset:N", header=header, sort="ascending"),
        column=alt.Column("measure:N", header=alt.Header(title=None), sort="descending"),
        spacing=12,
    )
    return _spec(faceted.resolve_scale(y="independent"), "Trips and revenue per month")


def borough_chart(boroughs: Sequence[BoroughRow]) -> Spec:
    """Trips per pickup borough in each dataset's latest month."""
    latest: dict[str, str] = {}
    for row in boroughs:
        latest[row.dataset] = max(latest.get(row.dataset, row.source_month), row.source_month)
    values = [{"panel": f"{row.dataset} {row.source_month}", "borough": row.borough,
               "trips": row.trips}
              for row in boroughs if row.source_month == latest[row.dataset]]  # fmt: skip
    chart = (
        _chart(values)
        .mark_bar(color="#2b6cb0")
        .encode(
            x=alt.X("trips:Q", axis=alt.Axis(format="~s"), title="trips"),
            y=alt.Y("borough:N", title=None, sort="-x"),
        )
    )
    faceted = chart.properties(width=170, height=alt.Step(14)).facet(
        column=alt.Column("panel:N", header=alt.Header(title=None, labelFontWeight="bold")),
        spacing=16,
    )
    return _spec(faceted.resolve_scale(x="independent", y="independent"),
                 "Trips per borough, latest month")  # fmt: skip
