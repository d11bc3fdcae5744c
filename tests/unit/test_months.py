from __future__ import annotations

from datetime import UTC, datetime, timezone

import pytest

from pipeline.contract.errors import InvalidInput
from pipeline.contract.months import Month, month_range, scheduled_month, validate_month

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 1, 5, tzinfo=UTC), Month(2025, 11)),
        (datetime(2026, 2, 28, 23, 59, tzinfo=UTC), Month(2025, 12)),
        (datetime(2026, 3, 1, tzinfo=UTC), Month(2026, 1)),
        (datetime(2026, 12, 31, tzinfo=UTC), Month(2026, 10)),
    ],
)
def test_scheduled_month_is_two_months_back_wrapping_the_year(now, expected):
    assert scheduled_month(now) == expected


def test_scheduled_month_uses_utc_not_local_time():
    from datetime import timedelta

    # 2026-03-01 01:00 at UTC+2 is still February in UTC.
    local = datetime(2026, 3, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert scheduled_month(local) == Month(2025, 12)


def test_parse_and_format():
    assert Month.parse("2024-9") == Month(2024, 9)
    assert str(Month(2024, 9)) == "2024-09"
    assert Month(2024, 12).next() == Month(2025, 1)
    assert Month(2024, 1).plus(-1) == Month(2023, 12)


@pytest.mark.parametrize("text", ["2024/09", "24-09", "2024-13", "", "2024-00"])
def test_parse_rejects_bad_text(text):
    with pytest.raises(InvalidInput):
        Month.parse(text)


def test_validate_accepts_strings_and_ints():
    assert validate_month("2024", "09", now=NOW) == Month(2024, 9)
    assert validate_month(2024, 9, now=NOW) == Month(2024, 9)


@pytest.mark.parametrize(
    ("year", "month", "fragment"),
    [
        ("2024", "13", "month 1 to 12"),
        ("2024", "0", "month 1 to 12"),
        ("2008", "12", "year from 2009"),
        ("2027", "01", "year from 2009 to 2026"),
        ("2026", "12", "not in the future"),
        ("abcd", "01", "year"),
        (True, "01", "year"),
    ],
)
def test_validate_rejects_with_what_is_valid(year, month, fragment):
    with pytest.raises(InvalidInput) as raised:
        validate_month(year, month, now=NOW)
    assert fragment in str(raised.value).replace("a month from", "month").replace("a year", "year")


def test_validate_respects_dataset_first_month():
    with pytest.raises(InvalidInput, match="starts in 2013-08"):
        validate_month(2013, 7, first=Month(2013, 8), now=NOW)


def test_month_range_in_order_and_bounded():
    months = month_range(Month(2023, 11), Month(2024, 2))
    assert [str(m) for m in months] == ["2023-11", "2023-12", "2024-01", "2024-02"]
    with pytest.raises(InvalidInput, match="must not be after"):
        month_range(Month(2024, 2), Month(2024, 1))
