"""The month's counts: `_counts.json` beside the processed parts (`layout.counts_key`).

What transform wrote, for the load to check its inserts against and for `verify` to compare:
`rows_in = rows_loaded + rows_quarantined`, rejections per integrity rule, loaded rows per
flag, the clean rows, the file columns the dataset does not know and the values that could not
be mapped. Every engine assembles it here from the aggregates of
`pipeline.contract.normalise.count_expressions`. Standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline.contract.datasets import Dataset
from pipeline.contract.errors import WriteMismatch
from pipeline.contract.months import Month
from pipeline.contract.normalise import Normalisation, count_expressions, rows_expressions
from pipeline.contract.profile import PROFILE_KEY, profile_expressions, profile_from
from pipeline.contract.rules import REJECT_REASON, RULE_NAMES
from pipeline.contract.sql import Engine

PICKUP_RULE = RULE_NAMES[0]  # pickup_in_month
NO_PICKUP = "none"


@dataclass(frozen=True)
class TransformCounts:
    dataset: str
    month: str
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    rejected: dict[str, int]  # every integrity rule, in rule order, 0 included
    flagged: dict[str, int]  # every flag of the dataset: loaded rows with it set
    rows_clean: int  # loaded rows with no flag set (the `_clean` view's rows)
    unknown_columns: dict[str, str]  # file column -> its type, for columns the dataset lacks
    unmapped_values: dict[str, int]  # column -> rows whose value could not be mapped (> 0 only)
    part_files: list[str] = field(default_factory=list)  # lake keys in the processed zone
    # When most rows fail `pickup_in_month`: the months their pickups fall in (at most
    # OTHER_MONTHS_SHOWN, the most rows first; NO_PICKUP for rows without a pickup time), so the
    # audit can name the month the file holds. Empty otherwise.
    other_months: dict[str, int] = field(default_factory=dict)
    # The loaded rows' column profile (`pipeline.contract.profile.MonthProfile.to_dict`),
    # computed in the same SELECT as the counts.
    profile: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def counts_from(
    dataset: Dataset,
    month: Month,
    values: Mapping[str, int],
    plan: Normalisation,
    part_files: list[str],
    footer: Mapping[str, Mapping[Any, object]] | None = None,
    other_months: Mapping[str, int] | None = None,
) -> TransformCounts:
    """The counts from the aggregates' values (keys of `count_expressions`)."""
    number = {key: int(value or 0) for key, value in values.items() if not _is_profile(key)}
    rejected = {name: number[f"rejected:{name}"] for name in RULE_NAMES}
    loaded = number["rows_loaded"]
    if loaded + sum(rejected.values()) != number["rows_in"]:  # the rules are a closed set
        raise AssertionError(f"rows {number['rows_in']} != loaded {loaded} + rejected {rejected}")
    unmapped = {
        name: number[f"unmapped:{name}"] for name, _ in plan.unmapped if number[f"unmapped:{name}"]
    }
    return TransformCounts(
        dataset=dataset.name,
        month=str(month),
        rows_in=number["rows_in"],
        rows_loaded=loaded,
        rows_quarantined=number["rows_in"] - loaded,
        rejected=rejected,
        flagged={flag.name: number[f"flagged:{flag.name}"] for flag in dataset.flags},
        rows_clean=number["rows_clean"],
        unknown_columns=dict(plan.unknown_columns),
        unmapped_values=unmapped,
        part_files=part_files,
        profile=profile_from(dataset, str(month), values, footer).to_dict(),
        other_months=dict(other_months or {}),
    )


def _is_profile(key: str) -> bool:
    return key.startswith(PROFILE_KEY + ":")


def aggregate_expressions(dataset: Dataset, plan: Normalisation, engine: Engine):
    """Every aggregate of a transform that counts in one scan of the tagged rows (Spark, while
    it writes): the counts, then the profile."""
    return [*count_expressions(dataset, plan, engine), *profile_expressions(dataset, engine)]


def written_expressions(dataset: Dataset, engine: Engine):
    """The same aggregates less the unmapped values (`normalise.unmapped_by_value`), over the
    rows as written: the parts, and the quarantine's with their `reject_reason`."""
    return [*rows_expressions(dataset, engine), *profile_expressions(dataset, engine)]


OTHER_MONTHS_SHOWN = 3


def needs_other_months(values: Mapping[str, int]) -> bool:
    """Whether most rows fell outside the month (only then is `other_months` computed)."""
    return int(values[f"rejected:{PICKUP_RULE}"] or 0) * 2 > int(values["rows_in"] or 0)


def other_months_sql(dataset: Dataset, engine: Engine, relation: str) -> str:
    """The months the out-of-month pickups of the tagged rows in `relation` fall in."""
    month = engine.month_text(engine.quote(dataset.pickup_column))
    return (
        f"SELECT {month} AS m, count(*) AS n FROM {relation} "
        f"WHERE {engine.quote(REJECT_REASON)} = '{PICKUP_RULE}' "
        f"GROUP BY {month} ORDER BY n DESC, m LIMIT {OTHER_MONTHS_SHOWN}"
    )


def other_months_from(rows: Iterable[tuple[str | None, int]]) -> dict[str, int]:
    return {NO_PICKUP if month is None else str(month): int(n) for month, n in rows}


def check_written(written: int, expected: int, what: str, where: str) -> None:
    """A write of `what` to `where` must hold the rows the counts say; else WriteMismatch (each
    engine reads the raw file once per write, so a file replaced between two reads shows here,
    before any counts are written)."""
    if written != expected:
        raise WriteMismatch(
            f"{what}: {written:,} rows written to {where} but {expected:,} counted; the raw "
            "file changed during the transform? No counts were written: run the month again"
        )
