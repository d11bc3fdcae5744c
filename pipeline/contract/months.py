"""Month arithmetic, parsing and validation: the one place that knows what a valid month is.

Used by the trigger Lambda, the Glue jobs, the command line and the local runner, so it stays
Python 3.9-compatible and imports nothing beyond the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone

from pipeline.contract.errors import InvalidInput

# TLC's first published month: yellow trip records start in January 2009.
FIRST_YEAR = 2009
# The monthly schedule loads "now minus 2": TLC publishes a month about 2 months after it ends.
PUBLICATION_LAG_MONTHS = 2

_MONTH_TEXT = re.compile(r"^(\d{4})-(\d{1,2})$")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise InvalidInput("month", self.month, "a month is 1 to 12")

    @classmethod
    def parse(cls, text: str) -> Month:
        """`2024-09` (or `2024-9`) -> Month(2024, 9)."""
        match = _MONTH_TEXT.match(str(text).strip())
        if not match:
            raise InvalidInput("month", text, "write a month as YYYY-MM, e.g. 2024-09")
        if not 1 <= int(match.group(2)) <= 12:
            # The same message as `--month 13` gets from validate_month, naming the text given.
            raise InvalidInput("month", text, "a month from 1 to 12")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def plus(self, months: int) -> Month:
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    def next(self) -> Month:
        return self.plus(1)

    def until(self, last: Month) -> Iterator[Month]:
        """Every month from self to `last`, both included, in order."""
        current = self
        while current <= last:
            yield current
            current = current.next()

    @property
    def yyyy(self) -> str:
        return f"{self.year:04d}"

    @property
    def mm(self) -> str:
        return f"{self.month:02d}"

    def __str__(self) -> str:
        return f"{self.yyyy}-{self.mm}"


def current_month(now: datetime | None = None) -> Month:
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc)
    return Month(now.year, now.month)


def scheduled_month(now: datetime | None = None) -> Month:
    """The month the monthly schedule loads: now (UTC) minus the publication lag."""
    return current_month(now).plus(-PUBLICATION_LAG_MONTHS)


def _as_int(what: str, value: object, valid: str) -> int:
    if isinstance(value, bool):
        raise InvalidInput(what, value, valid)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text.isdigit():
        raise InvalidInput(what, value, valid)
    return int(text)


def validate_month(
    year: object,
    month: object,
    *,
    first: Month | None = None,
    now: datetime | None = None,
) -> Month:
    """Turn user input (`"2024"`, `"09"`, ints) into a Month TLC could have published.

    `first` is the dataset's first published month; the upper bound is the current month (UTC),
    since a month that has not started cannot have trips.
    """
    latest = current_month(now)
    first = first or Month(FIRST_YEAR, 1)
    y = _as_int("year", year, f"a year from {first.year} to {latest.year}")
    m = _as_int("month", month, "a month from 1 to 12")
    if not first.year <= y <= latest.year:
        raise InvalidInput("year", year, f"a year from {first.year} to {latest.year}")
    if not 1 <= m <= 12:
        raise InvalidInput("month", month, "a month from 1 to 12")
    result = Month(y, m)
    if result < first:
        raise InvalidInput("month", str(result), f"this dataset starts in {first}")
    if result > latest:
        raise InvalidInput("month", str(result), f"a month not in the future (latest {latest})")
    return result


def month_range(start: Month, end: Month, *, limit: int = 240) -> list[Month]:
    """Months from start to end inclusive; refuses reversed or absurdly long ranges."""
    if end < start:
        raise InvalidInput("range", f"{start}..{end}", "the first month must not be after the last")
    months = list(start.until(end))
    if len(months) > limit:
        raise InvalidInput("range", f"{start}..{end}", f"at most {limit} months at once")
    return months
