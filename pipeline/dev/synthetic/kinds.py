"""The dirty rows a synthetic month plants, and what the transform must make of each.

Every planted row is of exactly one `DirtyKind`, on a row of its own, so the month's counts are
known in advance (`MonthSummary`, `expected_counts`): which integrity rule quarantines it, which
plausibility flags a loaded one carries, which file value cannot be mapped. The rule and flag
names are spelled here rather than imported: the generator states what the file holds, the
transform's own definitions are what the tests hold to it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.contract.errors import InvalidInput
from pipeline.contract.rules import RuleName

FLAG_DISTANCE = "flag_non_positive_distance"
FLAG_FARE = "flag_non_positive_fare"
FLAG_TOTAL = "flag_non_positive_total"
FLAGS = (FLAG_DISTANCE, FLAG_FARE, FLAG_TOTAL)
# Each dataset's plausibility flags, in table order.
DATASET_FLAGS: Mapping[str, tuple[str, ...]] = {
    "yellow": FLAGS,
    "green": FLAGS,
    "fhv": (),
    "fhvhv": (FLAG_DISTANCE, FLAG_FARE),
}
# The only rules that quarantine a row, in the order the first failing one is named.
INTEGRITY_RULES = (RuleName.PICKUP_IN_MONTH, RuleName.DROPOFF_NOT_BEFORE_PICKUP)


class DirtyKind(str, enum.Enum):
    """Kinds of odd rows TLC's files contain; each planted row is of exactly one kind."""

    PICKUP_2002 = "pickup_2002"  # meter clocks reset to 2002-12-31 / 2008-12-31
    PICKUP_2008 = "pickup_2008"
    PICKUP_NEXT_MONTH = "pickup_next_month"  # trips just after midnight of the next month
    DROPOFF_BEFORE_PICKUP = "dropoff_before_pickup"
    ZERO_DISTANCE = "zero_distance"  # billed (fare > 0) with a distance of 0.0
    REVERSAL = "reversal"  # a void/dispute: a copy of another trip, every amount negated
    FLEX_FARE = "flex_fare"  # payment_type 0, negative fare, positive total (2023-02 on)
    ZERO_TOTAL = "zero_total"  # approximation: a positive fare with a 0.00 total
    NULL_BLOCK = "null_block"  # nulls + payment_type 0 at the file's end (2019+ eras)
    DDS_VENDOR = "dds_vendor"  # vendor 'DDS', which has no TLC code (2009-2010)
    MISSING_DROPOFF = "missing_dropoff"  # FHV: no dropoff time in an era that records them
    NEGATIVE_BASE_FARE = "negative_base_fare"  # HVFHV: an adjustment, base fare below zero


# The integrity rule each kind fails first; None: the row is loaded.
EXPECTED_RULE: Mapping[DirtyKind, RuleName | None] = {
    DirtyKind.PICKUP_2002: RuleName.PICKUP_IN_MONTH,
    DirtyKind.PICKUP_2008: RuleName.PICKUP_IN_MONTH,
    DirtyKind.PICKUP_NEXT_MONTH: RuleName.PICKUP_IN_MONTH,
    DirtyKind.DROPOFF_BEFORE_PICKUP: RuleName.DROPOFF_NOT_BEFORE_PICKUP,
    DirtyKind.ZERO_DISTANCE: None,
    DirtyKind.REVERSAL: None,
    DirtyKind.FLEX_FARE: None,
    DirtyKind.ZERO_TOTAL: None,
    DirtyKind.NULL_BLOCK: None,
    DirtyKind.DDS_VENDOR: None,
    DirtyKind.MISSING_DROPOFF: None,  # FHV's early files have none: a missing one passes
    DirtyKind.NEGATIVE_BASE_FARE: None,
}
# The flags a loaded row of each kind carries, where its dataset has them; quarantined kinds
# keep positive amounts, so a flag never depends on whether the row was loaded.
EXPECTED_FLAGS: Mapping[DirtyKind, frozenset[str]] = {
    DirtyKind.PICKUP_2002: frozenset(),
    DirtyKind.PICKUP_2008: frozenset(),
    DirtyKind.PICKUP_NEXT_MONTH: frozenset(),
    DirtyKind.DROPOFF_BEFORE_PICKUP: frozenset(),
    DirtyKind.ZERO_DISTANCE: frozenset({FLAG_DISTANCE}),
    DirtyKind.REVERSAL: frozenset({FLAG_FARE, FLAG_TOTAL}),
    DirtyKind.FLEX_FARE: frozenset({FLAG_FARE}),
    DirtyKind.ZERO_TOTAL: frozenset({FLAG_TOTAL}),
    DirtyKind.NULL_BLOCK: frozenset(),
    DirtyKind.DDS_VENDOR: frozenset(),
    DirtyKind.MISSING_DROPOFF: frozenset(),
    DirtyKind.NEGATIVE_BASE_FARE: frozenset({FLAG_FARE}),
}
# The warehouse column whose file value a kind's rows hold but the transform cannot map.
EXPECTED_UNMAPPED: Mapping[DirtyKind, str] = {DirtyKind.DDS_VENDOR: "vendor_id"}

EVERY_KIND_FROM_ROWS = 1_000


@dataclass(frozen=True)
class DirtyRates:
    """Fraction of a month's rows of each dirty kind; round(rows * rate) rows are planted, and at
    least one of every kind with a non-zero rate in a month of EVERY_KIND_FROM_ROWS rows or more,
    so a small demo month still shows every rule and flag at work. A kind the month's era cannot
    have (`Era.allows`) is not planted. `reversal` counts the negated copies; each also keeps a
    clean original, so it takes twice its rows. The defaults are yellow's (`default_rates`).
    """

    pickup_2002: float = 0.00001
    pickup_2008: float = 0.00001
    pickup_next_month: float = 0.00005
    dropoff_before_pickup: float = 0.00002
    zero_distance: float = 0.02
    reversal: float = 0.012
    flex_fare: float = 0.02
    zero_total: float = 0.0002
    null_block: float = 0.04
    dds_vendor: float = 0.05
    missing_dropoff: float = 0.0
    negative_base_fare: float = 0.0

    def rows(self, kind: DirtyKind, total: int) -> int:
        rate = getattr(self, kind.value)
        if not 0 <= rate <= 1:
            raise InvalidInput(f"{kind.value} rate", rate, "a fraction from 0 to 1")
        planted = round(total * rate)
        return max(1, planted) if rate > 0 and total >= EVERY_KIND_FROM_ROWS else planted


CLEAN = DirtyRates(**{kind.value: 0.0 for kind in DirtyKind})
# Green trips are short outer-borough hops, hence more zero distances and fewer disputes; its
# files have no text vendors, and Flex Fare is a yellow pattern in the notes. The for-hire rates
# are approximations (see `forhire`).
DEFAULT_RATES: Mapping[str, DirtyRates] = {
    "yellow": DirtyRates(),
    "green": DirtyRates(zero_distance=0.05, reversal=0.003, flex_fare=0.0, null_block=0.15,
                        dds_vendor=0.0),
    "fhv": DirtyRates(pickup_2002=0.0, pickup_2008=0.0, pickup_next_month=0.0001,
                      dropoff_before_pickup=0.0002, zero_distance=0.0, reversal=0.0,
                      flex_fare=0.0, zero_total=0.0, null_block=0.0, dds_vendor=0.0,
                      missing_dropoff=0.01),
    "fhvhv": DirtyRates(pickup_2002=0.0, pickup_2008=0.0, pickup_next_month=0.00005,
                        dropoff_before_pickup=0.00001, zero_distance=0.0005, reversal=0.0,
                        flex_fare=0.0, zero_total=0.0, null_block=0.0, dds_vendor=0.0,
                        negative_base_fare=0.0005),
}  # fmt: skip


def default_rates(dataset: Any) -> DirtyRates:
    """The dirty-row fractions `write_month` uses for `dataset` (a Dataset or its name)."""
    name = dataset if isinstance(dataset, str) else dataset.name
    if name not in DEFAULT_RATES:
        raise InvalidInput("dataset", name, f"one of {', '.join(DEFAULT_RATES)}")
    return DEFAULT_RATES[name]


def plan(rates: DirtyRates, rows: int, allows) -> dict[DirtyKind, int]:
    """Rows of each kind to plant in a `rows`-row month whose era `allows` them."""
    planned = {kind: rates.rows(kind, rows) if allows(kind) else 0 for kind in DirtyKind}
    needed = sum(planned.values()) + planned[DirtyKind.REVERSAL]  # each copy keeps its original
    if needed > rows:
        raise InvalidInput(
            "dirty rates", rates,
            f"at most {rows} dirty rows in a {rows}-row month (a reversal takes two)",
        )  # fmt: skip
    return planned


@dataclass(frozen=True)
class MonthSummary:
    """What `write_month` wrote: enough to know the transform's exact counts in advance."""

    path: str
    dataset: str
    month: str
    era: str
    timestamp_unit: str
    rows: int
    dirty: Mapping[str, int]  # every DirtyKind -> rows planted (0 for kinds the era cannot have)
    unknown_columns: Mapping[str, str]  # file columns no dataset knows -> their type word

    def _planted(self) -> list[tuple[DirtyKind, int]]:
        return [(DirtyKind(kind), rows) for kind, rows in self.dirty.items()]

    @property
    def expected_rejected(self) -> dict[str, int]:
        """Rows each integrity rule should quarantine first, both rules, in rule order."""
        rejected = {rule.value: 0 for rule in INTEGRITY_RULES}
        for kind, rows in self._planted():
            rule = EXPECTED_RULE[kind]
            if rule is not None:
                rejected[rule.value] += rows
        return rejected

    @property
    def expected_quarantined(self) -> int:
        return sum(self.expected_rejected.values())

    @property
    def expected_loaded(self) -> int:
        return self.rows - self.expected_quarantined

    def _flags_of(self, kind: DirtyKind) -> frozenset[str]:
        return EXPECTED_FLAGS[kind] & frozenset(DATASET_FLAGS[self.dataset])

    @property
    def expected_flagged(self) -> dict[str, int]:
        """Loaded rows carrying each of the dataset's plausibility flags, in flag order."""
        flagged = dict.fromkeys(DATASET_FLAGS[self.dataset], 0)
        for kind, rows in self._planted():
            if EXPECTED_RULE[kind] is None:
                for flag in self._flags_of(kind):
                    flagged[flag] += rows
        return flagged

    @property
    def expected_clean(self) -> int:
        """Loaded rows with no flag (every planted kind has either no flag or its own rows)."""
        flagged_rows = sum(
            rows for kind, rows in self._planted()
            if EXPECTED_RULE[kind] is None and self._flags_of(kind)
        )  # fmt: skip
        return self.expected_loaded - flagged_rows

    @property
    def expected_unmapped(self) -> dict[str, int]:
        """Warehouse column -> rows whose present file value has no mapping; only counts > 0."""
        unmapped: dict[str, int] = {}
        for kind, rows in self._planted():
            if kind in EXPECTED_UNMAPPED and rows > 0:
                column = EXPECTED_UNMAPPED[kind]
                unmapped[column] = unmapped.get(column, 0) + rows
        return unmapped


def expected_counts(summary: MonthSummary) -> dict[str, Any]:
    """The transform counts' fields this file must produce (a subset of the counts JSON)."""
    return {
        "dataset": summary.dataset,
        "month": summary.month,
        "rows_in": summary.rows,
        "rows_loaded": summary.expected_loaded,
        "rows_quarantined": summary.expected_quarantined,
        "rejected": summary.expected_rejected,
        "flagged": summary.expected_flagged,
        "rows_clean": summary.expected_clean,
        "unknown_columns": dict(summary.unknown_columns),
        "unmapped_values": summary.expected_unmapped,
    }
