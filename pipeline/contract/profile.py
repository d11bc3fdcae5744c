"""A month's column profile, and the history checks that compare it with the months before.

What is profiled derives from the dataset (`Dataset.table_columns`), nothing is listed twice:
- every table column gets its null count;
- numeric (INTEGER, DOUBLE) and TIMESTAMP columns their minimum and maximum;
- money columns (`Column.money`, set in `pipeline.contract.datasets`) their sum.

All of it is computed over the loaded rows only (a quarantined row is not part of the month),
by aggregates that sit beside the counts in the SELECT they come from (`profile_expressions`,
both engines: over the tagged rows on Spark, over the rows written on DuckDB).
`history_warnings` turns a candidate's profile and the published months' profiles into warnings
(never refusals): a column's null share jumps, a column fills or empties, a money column's amount
per loaded trip moves away from the previous months' median. Standard library only.
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from typing import Union

from pipeline.contract.datasets import Dataset
from pipeline.contract.rules import REJECT_REASON
from pipeline.contract.sql import Engine
from pipeline.contract.types import ColumnType

# A profile value: a count or number, or a timestamp as ISO 8601 text (JSON-safe everywhere).
Value = Union[int, float, str, None]
PROFILE_KEY = "profile"  # the key of the profile aggregates, as `count_expressions` keys theirs
_RANGED = (ColumnType.INTEGER, ColumnType.DOUBLE, ColumnType.TIMESTAMP)


class Stat(str, enum.Enum):
    NULLS = "null_count"
    MIN = "min"
    MAX = "max"
    SUM = "sum"


@dataclass(frozen=True)
class ProfiledColumn:
    name: str
    type: ColumnType
    stats: tuple[Stat, ...]  # NULLS always, then MIN/MAX, then SUM, in that order


def profiled_columns(dataset: Dataset) -> tuple[ProfiledColumn, ...]:
    """Every table column with the statistics it gets, in table order."""
    money = {column.name for column in dataset.columns if column.money}
    profiled = []
    for name, column_type in dataset.table_columns:
        stats = [Stat.NULLS]
        if column_type in _RANGED:
            stats += [Stat.MIN, Stat.MAX]
        if name in money:
            stats.append(Stat.SUM)
        profiled.append(ProfiledColumn(name, column_type, tuple(stats)))
    return tuple(profiled)


def _key(column: str, stat: Stat) -> str:
    return f"{PROFILE_KEY}:{column}:{stat.value}"


# Where each statistic comes from, at no extra scan: the null counts, minimums and maximums from
# the statistics every parquet writer puts in the footers of the parts it writes (the loaded rows
# exactly: `part_statistics` in `pipeline.jobs.part_stats` reads them); the sums from the
# aggregates beside the counts (`profile_expressions`). Computing all of them in the
# scan cost the DuckDB transform 45% (0.8 s of a 3.5M-row month), the footers cost nothing.
FOOTER_STATS = (Stat.NULLS, Stat.MIN, Stat.MAX)


def profile_expressions(dataset: Dataset, engine: Engine) -> list[tuple[str, str]]:
    """(key, aggregate SQL) over any relation the counts are taken from (the tagged rows, or the
    rows written with their `reject_reason`), each over the loaded rows only: the profiled rows
    and each money column's sum, selected in the same SELECT as the counts.

    A sum is rounded to cents: a sum of doubles depends on the order rows are added, which
    differs between engines and runs in its last bits, far below a cent since TLC's amounts
    are whole cents (summing exact decimals instead cost the scan twice as much)."""
    loaded = f"{engine.quote(REJECT_REASON)} IS NULL"
    expressions = [
        (f"{PROFILE_KEY}:rows", f"coalesce(sum(CASE WHEN {loaded} THEN 1 ELSE 0 END), 0)")
    ]
    for column in profiled_columns(dataset):
        if Stat.SUM in column.stats:
            value = f"CASE WHEN {loaded} THEN {engine.quote(column.name)} END"
            expressions.append((_key(column.name, Stat.SUM), f"round(sum({value}), 2)"))
    return expressions


@dataclass(frozen=True)
class ColumnProfile:
    column: str
    null_count: int
    min: Value = None
    max: Value = None
    sum: float | None = None


@dataclass(frozen=True)
class MonthProfile:
    """One month's profile: the `profile` of the counts JSON, and of `tlc_elt_profiles`."""

    dataset: str
    month: str  # YYYY-MM
    rows: int  # the loaded rows profiled
    columns: tuple[ColumnProfile, ...] = field(default_factory=tuple)

    def column(self, name: str) -> ColumnProfile | None:
        return next((column for column in self.columns if column.column == name), None)

    def null_share(self, name: str) -> float | None:
        """Nulls over loaded rows; None when the month has no rows or not this column."""
        column = self.column(name)
        if column is None or not self.rows:
            return None
        return column.null_count / self.rows

    def to_dict(self) -> dict:
        return {"rows": self.rows, "columns": [asdict(column) for column in self.columns]}

    @classmethod
    def from_dict(cls, dataset: str, month: str, data: Mapping) -> MonthProfile:
        columns = tuple(ColumnProfile(**column) for column in data["columns"])
        return cls(dataset, month, int(data["rows"]), columns)

    def table_rows(self, run_id: str) -> list[dict[str, Value]]:
        """Rows of `tlc_elt_profiles`: one per column, linked to the ledger's run; min and max
        as text (a timestamp's ISO text, a number's repr) so one table holds every type."""
        return [
            {
                "dataset": self.dataset, "source_month": self.month, "run_id": run_id,
                "column": column.column, "null_count": column.null_count,
                "min": None if column.min is None else str(column.min),
                "max": None if column.max is None else str(column.max),
                "sum": column.sum, "rows": self.rows,
            }
            for column in self.columns
        ]  # fmt: skip


def _plain(value: object) -> Value:
    """A statistic as JSON-safe data: timestamps to ISO text (a zoned one as UTC's wall clock),
    a Decimal to float."""
    if value is None or isinstance(value, (int, float, str)):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return float(value)  # Decimal


def profile_from(
    dataset: Dataset,
    month: str,
    values: Mapping[str, object],
    footer: Mapping[str, Mapping[Stat, object]] | None = None,
) -> MonthProfile:
    """The profile from the aggregates' values (keys of `profile_expressions`) and the parts'
    footer statistics (`footer`: column -> {NULLS, MIN, MAX}; absent: the values hold them)."""
    columns = []
    for column in profiled_columns(dataset):
        given = (footer or {}).get(column.name, {})
        stat = {
            s: _plain(given.get(s) if s in FOOTER_STATS and footer is not None else
                      values.get(_key(column.name, s)))
            for s in column.stats
        }  # fmt: skip
        total = stat.get(Stat.SUM)
        columns.append(
            ColumnProfile(
                column=column.name,
                null_count=int(stat[Stat.NULLS] or 0),
                min=stat.get(Stat.MIN),
                max=stat.get(Stat.MAX),
                sum=None if total is None else float(total),
            )
        )
    return MonthProfile(
        dataset.name, month, int(values[f"{PROFILE_KEY}:rows"] or 0), tuple(columns)
    )


# ---------------------------------------------------------------- history checks


class HistoryRule(str, enum.Enum):
    NULL_SHARE_JUMP = "null_share_jump"
    COLUMN_FILLED = "column_filled"  # always null before, values now
    COLUMN_EMPTIED = "column_emptied"  # values in every month before, only nulls now
    MONEY_PER_TRIP = "money_per_trip"


@dataclass(frozen=True)
class HistoryThresholds:
    """The history checks' thresholds (defaults; the audit's config and flags override them)."""

    null_share_before: float = 0.05  # a column under this share of nulls in the previous month
    null_share_after: float = 0.50  # ... that is now over this share warns
    money_factor: float = 3.0  # amount per trip above median x this, or below median / this
    history_months: int = 12  # the previous published months the median is taken over

    def __post_init__(self) -> None:
        if not 0 <= self.null_share_before < self.null_share_after <= 1:
            raise ValueError("null shares: 0 <= before < after <= 1")
        if self.money_factor <= 1 or self.history_months < 1:
            raise ValueError("money_factor > 1 and history_months >= 1")


@dataclass(frozen=True)
class HistoryWarning:
    """An audit finding of severity `warn`: the column, both values, and what it was compared
    with (a month, or the months a median was taken over)."""

    rule: HistoryRule
    column: str
    value: float
    previous: float
    compared_with: str
    message: str
    severity: str = "warn"

    def to_json(self) -> dict:
        return {**asdict(self), "rule": self.rule.value}


def _share(value: float) -> str:
    return f"{value:.1%}"


def _null_warnings(
    candidate: MonthProfile, history: Sequence[MonthProfile], limits: HistoryThresholds
) -> Iterable[HistoryWarning]:
    previous = history[-1]
    for column in candidate.columns:
        now, before = candidate.null_share(column.column), previous.null_share(column.column)
        shares = [month.null_share(column.column) for month in history]
        if now is None or before is None or None in shares:
            continue
        if all(share == 1 for share in shares) and now < 1:
            yield HistoryWarning(
                HistoryRule.COLUMN_FILLED, column.column, now, before,
                f"{history[0].month}..{previous.month}",
                f"{column.column} has values in {_share(1 - now)} of rows; it was null in every "
                f"published month from {history[0].month} to {previous.month}: a new TLC column "
                "or a mapping change? Check the file's schema",
            )  # fmt: skip
        elif all(share < 1 for share in shares) and now == 1:
            yield HistoryWarning(
                HistoryRule.COLUMN_EMPTIED, column.column, now, before,
                f"{history[0].month}..{previous.month}",
                f"{column.column} is null in every row; it had values in every published month "
                f"from {history[0].month} to {previous.month} ({_share(1 - before)} of rows in "
                f"{previous.month}): a renamed TLC column? Check unknown_columns",
            )  # fmt: skip
        elif before < limits.null_share_before and now > limits.null_share_after:
            yield HistoryWarning(
                HistoryRule.NULL_SHARE_JUMP, column.column, now, before, previous.month,
                f"{column.column} is null in {_share(now)} of rows, {_share(before)} in "
                f"{previous.month} (warns above {_share(limits.null_share_after)} after under "
                f"{_share(limits.null_share_before)}): check the file's values for this column",
            )  # fmt: skip


def _per_trip(month: MonthProfile, column: str) -> float | None:
    profile = month.column(column)
    if profile is None or profile.sum is None or not month.rows:
        return None
    return profile.sum / month.rows


def _money_warnings(
    candidate: MonthProfile, history: Sequence[MonthProfile], limits: HistoryThresholds
) -> Iterable[HistoryWarning]:
    span = f"{history[0].month}..{history[-1].month}"
    for column in candidate.columns:
        now = _per_trip(candidate, column.column)
        before = [v for v in (_per_trip(m, column.column) for m in history) if v is not None]
        if now is None or not before:
            continue
        median = statistics.median(before)
        if median <= 0:  # a fee that did not exist yet, or nets out: no ratio to speak of
            continue
        if now > median * limits.money_factor or now < median / limits.money_factor:
            yield HistoryWarning(
                HistoryRule.MONEY_PER_TRIP, column.column, now, median, span,
                f"{column.column} per loaded trip is {now:,.2f}, the median of {span} is "
                f"{median:,.2f} (warns beyond x{limits.money_factor:g} either way): a unit or "
                "mapping change, or a partial file?",
            )  # fmt: skip


def history_warnings(
    candidate: MonthProfile,
    published: Iterable[MonthProfile],
    limits: HistoryThresholds | None = None,
) -> list[HistoryWarning]:
    """Warnings for the candidate against the dataset's published months before it (up to
    `limits.history_months`; the latest one for the null shares). None without history."""
    limits = limits or HistoryThresholds()
    history = sorted(
        (month for month in published
         if month.dataset == candidate.dataset and month.month < candidate.month and month.rows),
        key=lambda month: month.month,
    )[-limits.history_months :]  # fmt: skip
    if not history or not candidate.rows:
        return []
    return [
        *_null_warnings(candidate, history, limits),
        *_money_warnings(candidate, history, limits),
    ]
