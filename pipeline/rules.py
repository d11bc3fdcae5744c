"""The row rules: the single definition of what makes a normalised row loadable.

A row is loaded when every rule holds; otherwise it goes to quarantine with the name of the
FIRST rule that fails (the order of `RULES` is part of the contract). A rule that meets a null
fails: a trip without a pickup time or a fare cannot be counted or billed.

Rules are Spark column expressions built on demand, so this module imports pyspark only when a
predicate is built: the synthetic data generator and the command line read the rule names
without needing Spark.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Callable

from pipeline.datasets import Dataset
from pipeline.months import Month

if TYPE_CHECKING:
    from pyspark.sql import Column as SparkColumn

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


@dataclass(frozen=True)
class Rule:
    name: RuleName
    description: str
    # (dataset, month) -> a boolean Spark column over the normalised table; null means "fails".
    predicate: Callable[[Dataset, Month], SparkColumn]

    def holds(self, dataset: Dataset, month: Month) -> SparkColumn:
        """True when the row passes; never null (a null comparison counts as a failure)."""
        from pyspark.sql import functions as F

        return F.coalesce(self.predicate(dataset, month), F.lit(False))


def _ntz_midnight(day: date) -> SparkColumn:
    """Midnight of `day` as a TIMESTAMP_NTZ literal.

    Built from text on purpose: a Python datetime literal would pass through the driver's time
    zone, and TLC times are New York wall-clock values that must never shift.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampNTZType

    return F.lit(f"{day.isoformat()} 00:00:00").cast(TimestampNTZType())


def _pickup_in_month(dataset: Dataset, month: Month) -> SparkColumn:
    from pyspark.sql import functions as F

    pickup = F.col(dataset.pickup_column)
    return (pickup >= _ntz_midnight(month.first_day)) & (
        pickup < _ntz_midnight(month.next().first_day)
    )


def _dropoff_not_before_pickup(dataset: Dataset, month: Month) -> SparkColumn:
    from pyspark.sql import functions as F

    return F.col(dataset.dropoff_column) >= F.col(dataset.pickup_column)


def _positive(column: str) -> Callable[[Dataset, Month], SparkColumn]:
    def predicate(dataset: Dataset, month: Month) -> SparkColumn:
        from pyspark.sql import functions as F

        # dataset.column raises KeyError for a column the table lacks: rules follow the schema.
        return F.col(dataset.column(column).name) > 0

    return predicate


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


def reject_reason(dataset: Dataset, month: Month) -> SparkColumn:
    """The first failing rule's name, or null when the row is loadable."""
    from pyspark.sql import functions as F

    reason = None
    for rule in RULES:
        failed = ~rule.holds(dataset, month)
        reason = (F.when if reason is None else reason.when)(failed, F.lit(rule.name.value))
    return reason.otherwise(F.lit(None).cast("string"))
