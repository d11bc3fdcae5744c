"""What the report shows, as plain rows: the one input every chart and table is built from.

Whoever reads the warehouse (the local workdir's DuckDB, or Redshift through the Data API, with
the same SQL) hands the report a `ReportData`; nothing here queries anything. Rows accept what
either warehouse returns: months as `date`, `2024-01-01` or `2024-01`, times as `datetime` or
text, findings as JSON text or a list. They are normalised on construction, so charts and tables
see one spelling (`YYYY-MM`, `YYYY-MM-DD HH:MM:SS[.ffffff]`, lists of dicts).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from pipeline.contract.months import Month

Finding = dict[str, Any]  # {"rule", "severity": "refuse" | "warn", "message", ...}


def month_text(value: object) -> str:
    """`date(2024, 1, 1)`, `"2024-01-01"`, `"2024-01"`, `Month(2024, 1)` -> `"2024-01"`."""
    if isinstance(value, (date, datetime)):
        return f"{value.year:04d}-{value.month:02d}"
    return str(Month.parse(str(value).strip()[:7]))


def time_text(value: object) -> str:
    """A time as `YYYY-MM-DD HH:MM:SS[.ffffff]`, its fraction kept: two publishes of one month
    within a second (a refused run, then the same file forced) must still sort in order."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    text = str(value).strip()
    found = _TIME.match(text)
    return found.expand(r"\1 \2") if found else text


_TIME = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d(?:\.\d{1,6})?)")


def findings_list(value: object) -> list[Finding]:
    """The ledger's `findings` column (JSON text) or an already parsed list."""
    if value is None or value == "":
        return []
    found = json.loads(value) if isinstance(value, (str, bytes)) else value
    return [dict(finding) for finding in found]


def _normalise(row: Any, months: Sequence[str] = (), times: Sequence[str] = ()) -> None:
    for name in months:
        object.__setattr__(row, name, month_text(getattr(row, name)))
    for name in times:
        object.__setattr__(row, name, time_text(getattr(row, name)))
    if hasattr(row, "findings"):
        object.__setattr__(row, "findings", findings_list(row.findings))


@dataclass(frozen=True)
class LedgerRow:
    """One publish: a row of `tlc_elt_loads` (issue 18's ledger)."""

    dataset: str
    source_month: str
    run_id: str
    published_at: str
    engine: str
    source: str
    source_bytes: int
    source_sha256: str
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    rows_replaced: int
    forced: bool
    findings: list[Finding]

    def __post_init__(self) -> None:
        _normalise(self, months=("source_month",), times=("published_at",))


@dataclass(frozen=True)
class RefusedRun:
    """A run the audit refused: it published nothing."""

    dataset: str
    month: str
    run_id: str
    at: str
    findings: list[Finding]

    def __post_init__(self) -> None:
        _normalise(self, months=("month",), times=("at",))


@dataclass(frozen=True)
class MonthCounts:
    """The published month's counts (`_counts.json`): loaded, quarantined, flagged per flag,
    rejected per rule; `rows_clean` are the loaded rows with no flag set."""

    dataset: str
    source_month: str
    rows_loaded: int
    rows_quarantined: int
    rows_clean: int
    flagged: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _normalise(self, months=("source_month",))


@dataclass(frozen=True)
class ProfileRow:
    """A row of `tlc_elt_profiles`: one column of one published month."""

    dataset: str
    source_month: str
    run_id: str
    column: str
    null_count: int
    min: str | None
    max: str | None
    sum: float | None
    rows: int

    def __post_init__(self) -> None:
        _normalise(self, months=("source_month",))


@dataclass(frozen=True)
class RevenueRow:
    """Trips (rows of the clean view) and revenue (the dataset's total over the whole table)."""

    dataset: str
    source_month: str
    trips: int
    revenue: float | None

    def __post_init__(self) -> None:
        _normalise(self, months=("source_month",))


@dataclass(frozen=True)
class BoroughRow:
    """Trips per pickup borough (`taxi_zones`) in the dataset's latest published month."""

    dataset: str
    source_month: str
    borough: str
    trips: int

    def __post_init__(self) -> None:
        _normalise(self, months=("source_month",))


class Coverage(str, enum.Enum):
    PUBLISHED = "published"
    FORCED = "forced"  # published over refusals (--force-publish)
    REFUSED = "refused"  # never published: every run was refused
    MISSING = "missing"  # no run published it


def _rows(cls: type, rows: Iterable[Any]) -> tuple:
    names = {f.name for f in fields(cls)}
    return tuple(
        row if isinstance(row, cls) else cls(**{k: v for k, v in row.items() if k in names})
        for row in rows
    )


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows. Any sequence may be empty; a dataset's first month is the
    first it published (from the ledger) unless `first_months` says otherwise."""

    ledger: tuple[LedgerRow, ...] = ()
    refused: tuple[RefusedRun, ...] = ()
    counts: tuple[MonthCounts, ...] = ()
    profiles: tuple[ProfileRow, ...] = ()
    revenue: tuple[RevenueRow, ...] = ()
    boroughs: tuple[BoroughRow, ...] = ()
    first_months: Mapping[str, str] = field(default_factory=dict)
    title: str = "tlc-elt: the data's health"
    generated_at: str = ""

    @classmethod
    def from_rows(cls, **rows: Any) -> ReportData:
        """Each argument a list of dicts (a query's rows) or of row objects."""
        kinds = {"ledger": LedgerRow, "refused": RefusedRun, "counts": MonthCounts,
                 "profiles": ProfileRow, "revenue": RevenueRow, "boroughs": BoroughRow}  # fmt: skip
        given = {key: _rows(kinds[key], value) if key in kinds else value
                 for key, value in rows.items()}  # fmt: skip
        if "first_months" in given:
            given["first_months"] = {d: month_text(m) for d, m in given["first_months"].items()}
        return cls(**given)

    @property
    def datasets(self) -> list[str]:
        """Datasets with any publish or refusal, in order of their first month then name."""
        names = {row.dataset for row in self.ledger} | {run.dataset for run in self.refused}
        first = self.first_month
        return sorted(names, key=lambda name: (first(name) or "9999-99", name))

    def first_month(self, dataset: str) -> str | None:
        if dataset in self.first_months:
            return self.first_months[dataset]
        published = [row.source_month for row in self.ledger if row.dataset == dataset]
        return min(published) if published else None

    @property
    def last_month(self) -> str | None:
        months = [row.source_month for row in self.ledger] + [run.month for run in self.refused]
        return max(months) if months else None

    @property
    def months(self) -> list[str]:
        """Every month of the coverage grid, in order: the x axis of every chart."""
        return sorted({cell["month"] for cell in self.coverage()})

    def latest_publishes(self) -> dict[tuple[str, str], LedgerRow]:
        """(dataset, month) -> the month's latest publish (the one readers see)."""
        latest: dict[tuple[str, str], LedgerRow] = {}
        for row in sorted(self.ledger, key=lambda row: row.published_at):
            latest[(row.dataset, row.source_month)] = row
        return latest

    def refusal_outcome(self, run: RefusedRun) -> str:
        """What became of a refused run's month: `refused` (nothing published it), `refused,
        then published` (a later run published it) or `refused, published run kept` (the run
        tried to replace a published month, which stays as it was)."""
        latest = self.latest_publishes().get((run.dataset, run.month))
        if latest is None:
            return Coverage.REFUSED.value
        if latest.published_at > run.at:
            return f"{Coverage.REFUSED.value}, then published"
        return f"{Coverage.REFUSED.value}, published run kept"

    def coverage(self) -> list[dict[str, str]]:
        """Every dataset x month from the dataset's first month to the last month any dataset
        published or refused: {"dataset", "month", "state"} (a `Coverage` value)."""
        last = self.last_month
        if last is None:
            return []
        latest = self.latest_publishes()
        refused = {(run.dataset, run.month) for run in self.refused}
        cells = []
        for dataset in self.datasets:
            runs = [run.month for run in self.refused if run.dataset == dataset]
            first = self.first_month(dataset) or min(runs)
            for month in Month.parse(first).until(Month.parse(last)):
                key = (dataset, str(month))
                if key in latest:
                    state = Coverage.FORCED if latest[key].forced else Coverage.PUBLISHED
                elif key in refused:
                    state = Coverage.REFUSED
                else:
                    state = Coverage.MISSING
                cells.append({"dataset": dataset, "month": str(month), "state": state.value})
        return cells
