"""The row rules: what keeps a row out of the warehouse, and what only marks it.

Integrity rules decide whether a row is a usable trip record of the file's month at all. A row
that breaks one goes to quarantine with the name of the FIRST rule it fails (the order of
`RULES` is part of the contract) in `reject_reason`. A rule that meets a null fails: a trip
without a pickup time cannot belong to any month.

Plausibility flags never keep a trip out: each is a BOOLEAN NOT NULL column of the loaded rows,
true when its check is broken (a null counts as broken). Zero-distance billed trips, Flex Fare
rows with a negative fare and TLC's negated reversal rows are real records: what is "bad"
depends on the analysis, so the warehouse keeps them and `<dataset>_trips_clean` hides them.
Each dataset names its flags (`Dataset.flags`, built with `non_positive` below).

Both are SQL conditions over the normalised table, generated here for every engine that applies
them (`pipeline.contract.sql.Engine`). Standard library only; this module does not import the
dataset definitions (they import it), it reads a dataset's column names off the object given.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable, Protocol

from pipeline.contract.months import Month
from pipeline.contract.sql import Engine

# The quarantine column naming the first rule a row failed.
REJECT_REASON = "reject_reason"
FLAG_PREFIX = "flag_"


class Trips(Protocol):
    """What the rules read off a dataset (`pipeline.contract.datasets.Dataset`)."""

    pickup_column: str
    dropoff_column: str
    dropoff_optional: bool  # early FHV files have no dropoff time: a missing one passes
    flags: Sequence[Flag]


class RuleName(str, enum.Enum):
    PICKUP_IN_MONTH = "pickup_in_month"
    DROPOFF_NOT_BEFORE_PICKUP = "dropoff_not_before_pickup"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Rule:
    name: RuleName
    description: str
    # (dataset, month, engine) -> a SQL boolean over the normalised table; null means "fails".
    condition: Callable[[Trips, Month, Engine], str]

    def holds(self, dataset: Trips, month: Month, engine: Engine) -> str:
        """SQL that is true when the row passes; never null (a null comparison fails)."""
        return f"coalesce({self.condition(dataset, month, engine)}, false)"


def _pickup_in_month(dataset: Trips, month: Month, engine: Engine) -> str:
    pickup = engine.quote(dataset.pickup_column)
    return (
        f"{pickup} >= {engine.midnight(month.first_day)}"
        f" AND {pickup} < {engine.midnight(month.next().first_day)}"
    )


def _dropoff_not_before_pickup(dataset: Trips, month: Month, engine: Engine) -> str:
    pickup, dropoff = engine.quote(dataset.pickup_column), engine.quote(dataset.dropoff_column)
    if dataset.dropoff_optional:
        return f"({dropoff} IS NULL OR {dropoff} >= {pickup})"
    return f"{dropoff} >= {pickup}"


RULES: tuple[Rule, ...] = (
    Rule(RuleName.PICKUP_IN_MONTH, "pickup time within [first day, next first day)",
         _pickup_in_month),
    Rule(RuleName.DROPOFF_NOT_BEFORE_PICKUP,
         "dropoff time present and not before pickup (fhv: a missing one passes)",
         _dropoff_not_before_pickup),
)  # fmt: skip

RULE_NAMES: tuple[str, ...] = tuple(rule.name.value for rule in RULES)


@dataclass(frozen=True)
class Flag:
    """A plausibility check: the column `name` is true when `column` is null or <= 0."""

    name: str  # the flag's column, `flag_non_positive_<what>`
    column: str  # the normalised column it checks
    description: str

    def broken(self, engine: Engine) -> str:
        """SQL true when the check is broken; never null (a null value counts as broken)."""
        return f"coalesce(NOT ({engine.quote(self.column)} > 0), true)"


def non_positive(what: str, column: str) -> Flag:
    return Flag(f"{FLAG_PREFIX}non_positive_{what}", column, f"{column} null or <= 0")


def zero_counts() -> dict[str, int]:
    """Every rule with 0 rejections, in rule order: the shape of the counts' `rejected`."""
    return dict.fromkeys(RULE_NAMES, 0)


def reject_reason_sql(dataset: Trips, month: Month, engine: Engine) -> str:
    """SQL for the first failing rule's name, or NULL when the row is loadable."""
    cases = " ".join(
        f"WHEN NOT {rule.holds(dataset, month, engine)} THEN '{rule.name.value}'" for rule in RULES
    )
    return f"CASE {cases} ELSE NULL END"


def clean_sql(dataset: Trips) -> str:
    """SQL true for a row with no flag set, over a table holding the flag columns (their
    names are plain identifiers, the same in every engine and warehouse)."""
    if not dataset.flags:
        return "true"
    return " AND ".join(f"NOT {flag.name}" for flag in dataset.flags)
