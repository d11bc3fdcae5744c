"""The row rules: the single definition of what makes a normalised row loadable.

A row is loaded when every rule holds; otherwise it goes to quarantine with the name of the
FIRST rule that fails (the order of `RULES` is part of the contract). A rule that meets a null
fails: a trip without a pickup time or a fare cannot be counted or billed.

Each rule is a SQL condition over the normalised table, so one text serves every engine that
applies the rules: Spark in the transform (`F.expr`), DuckDB in the benchmark's reference
transform. Only the spelling of a zone-less timestamp literal differs between them. Standard
library only: each engine turns the text into its own expression (`pipeline.jobs.transform`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from typing import Callable

from pipeline.contract.datasets import Dataset
from pipeline.contract.months import Month

# The quarantine column naming the first rule a row failed.
REJECT_REASON = "reject_reason"


class RuleName(str, enum.Enum):
    PICKUP_IN_MONTH = "pickup_in_month"
    DROPOFF_NOT_BEFORE_PICKUP = "dropoff_not_before_pickup"
    POSITIVE_DISTANCE = "positive_distance"
    POSITIVE_FARE = "positive_fare"
    POSITIVE_TOTAL = "positive_total"

    def __str__(self) -> str:
        return self.value


class Engine(str, enum.Enum):
    """An engine that applies the rules, with its literal for a zone-less timestamp.

    TLC times are New York wall-clock values that must never shift, so the month's bounds are
    written as text literals of the engine's time-zone-free type, never as Python datetimes.
    """

    SPARK = "TIMESTAMP_NTZ '{}'"
    DUCKDB = "TIMESTAMP '{}'"

    def midnight(self, day: date) -> str:
        return self.value.format(f"{day.isoformat()} 00:00:00")


@dataclass(frozen=True)
class Rule:
    name: RuleName
    description: str
    # (dataset, month, engine) -> a SQL boolean over the normalised table; null means "fails".
    condition: Callable[[Dataset, Month, Engine], str]

    def holds(self, dataset: Dataset, month: Month, engine: Engine) -> str:
        """SQL that is true when the row passes; never null (a null comparison fails)."""
        return f"coalesce({self.condition(dataset, month, engine)}, false)"


def _pickup_in_month(dataset: Dataset, month: Month, engine: Engine) -> str:
    pickup = dataset.pickup_column
    return (
        f"{pickup} >= {engine.midnight(month.first_day)}"
        f" AND {pickup} < {engine.midnight(month.next().first_day)}"
    )


def _dropoff_not_before_pickup(dataset: Dataset, month: Month, engine: Engine) -> str:
    return f"{dataset.dropoff_column} >= {dataset.pickup_column}"


def _positive(column: str) -> Callable[[Dataset, Month, Engine], str]:
    def condition(dataset: Dataset, month: Month, engine: Engine) -> str:
        # dataset.column raises KeyError for a column the table lacks: rules follow the schema.
        return f"{dataset.column(column).name} > 0"

    return condition


RULES: tuple[Rule, ...] = (
    Rule(RuleName.PICKUP_IN_MONTH, "pickup time within [first day, next first day)",
         _pickup_in_month),
    Rule(RuleName.DROPOFF_NOT_BEFORE_PICKUP, "dropoff time present and not before pickup",
         _dropoff_not_before_pickup),
    Rule(RuleName.POSITIVE_DISTANCE, "trip_distance > 0", _positive("trip_distance")),
    Rule(RuleName.POSITIVE_FARE, "fare_amount > 0", _positive("fare_amount")),
    Rule(RuleName.POSITIVE_TOTAL, "total_amount > 0", _positive("total_amount")),
)  # fmt: skip

RULE_NAMES: tuple[str, ...] = tuple(rule.name.value for rule in RULES)


def zero_counts() -> dict[str, int]:
    """Every rule with 0 rejections, in rule order: the shape of the counts' `rejected`."""
    return {name: 0 for name in RULE_NAMES}


def reject_reason_sql(dataset: Dataset, month: Month, engine: Engine) -> str:
    """SQL for the first failing rule's name, or NULL when the row is loadable."""
    cases = " ".join(
        f"WHEN NOT {rule.holds(dataset, month, engine)} THEN '{rule.name.value}'" for rule in RULES
    )
    return f"CASE {cases} ELSE NULL END"
