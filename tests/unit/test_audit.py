"""The audit's rules as a table of cases (pipeline.contract.audit): counts in, findings out."""

from __future__ import annotations

import json

import pytest

from pipeline.contract.audit import (
    REFUSE,
    WARN,
    AuditResult,
    AuditThresholds,
    PublishedCounts,
    audit,
    refusal_lines,
)
from pipeline.contract.errors import InvalidInput
from pipeline.contract.months import Month

pytestmark = pytest.mark.unit

APRIL = Month(2020, 4)


def counts(loaded: int, quarantined: int = 0, **extra) -> dict:
    return {
        "dataset": "yellow", "month": "2020-04", "rows_in": loaded + quarantined,
        "rows_loaded": loaded, "rows_quarantined": quarantined,
        "rejected": {"pickup_in_month": quarantined, "dropoff_not_before_pickup": 0},
        "unknown_columns": {}, "unmapped_values": {}, **extra,
    }  # fmt: skip


def history(*rows: int, unknown: dict | None = None) -> list[PublishedCounts]:
    """Published months before April 2020, newest first."""
    return [
        PublishedCounts(APRIL.plus(-i), f"run-{i}", {**counts(n), "unknown_columns": unknown or {}})
        for i, n in enumerate(rows, 1)
    ]


def rules(result: AuditResult, severity: str) -> list[str]:
    return [f.rule for f in result.findings if f.severity == severity]


CASES = [
    # (what, candidate, published, history, refusals, warnings)
    ("a normal month", counts(1000, 3), None, history(990, 1010, 1000), [], []),
    ("no loadable row", counts(0, 0), None, [], ["no_loadable_rows"], []),
    ("quarantine over 5%", counts(900, 100), None, [], ["quarantine_share"], []),
    ("quarantine at 5% exactly", counts(950, 50), None, [], [], []),
    ("another month's file",
     counts(1, 999, other_months={"2020-03": 990, "none": 9}), None, [],
     ["quarantine_share", "other_month"], []),
    ("shrinks the published month by 20%", counts(800), PublishedCounts(APRIL, "r", counts(1000)),
     [], ["shrinks_published"], []),
    ("shrinks it by 10% exactly", counts(900), PublishedCounts(APRIL, "r", counts(1000)), [], [],
     []),
    ("grows it", counts(1500), PublishedCounts(APRIL, "r", counts(1000)), [], [], []),
    # April 2020: a real 95% drop against its history warns, never refuses.
    ("a 95% drop against history", counts(50), None, history(1000, 1000, 1000), [],
     ["history_band"]),
    ("three times the median", counts(3000), None, history(1000, 900, 1100), [],
     ["history_band"]),
    ("a new unknown column", counts(1000, unknown_columns={"request_source": "string"}), None,
     history(1000), [], ["new_columns"]),
    ("an unknown column the last month had too",
     counts(1000, unknown_columns={"request_source": "string"}), None,
     history(1000, unknown={"request_source": "string"}), [], []),
    ("unmapped values", counts(1000, unmapped_values={"store_and_fwd_flag": 3}), None, [], [],
     ["unmapped_values"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("candidate", "published", "past", "refusals", "warnings"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_audit_refuses_and_warns_as_its_table_says(
    candidate, published, past, refusals, warnings
):
    result = audit("yellow", APRIL, "run-x", candidate, published, past)

    assert sorted(rules(result, REFUSE)) == sorted(refusals)
    assert sorted(rules(result, WARN)) == sorted(warnings)
    assert result.refused == bool(refusals)
    assert result.verdict == ("refused" if refusals else "passed")


def test_a_refusal_names_the_figures_the_threshold_and_how_to_override():
    published = PublishedCounts(APRIL, "yellow-2020-04-scheduled", counts(1000))

    result = audit("yellow", APRIL, "run-x", counts(800), published, [])

    lines = refusal_lines(result)
    assert lines[0] == "refused: yellow 2020-04"
    assert "800 loaded rows would replace the published 1,000" in lines[1]
    assert "(run yellow-2020-04-scheduled): 20.0% fewer, more than the 10% allowed" in lines[1]
    assert "--max-shrink (stack: tlc-elt:audit maxShrink) or pass --force-publish" in lines[1]


def test_another_months_file_is_named_with_its_rows():
    candidate = counts(1, 999, other_months={"2020-03": 990, "none": 9})

    (finding,) = [f for f in audit("yellow", APRIL, "r", candidate, None, []).findings
                  if f.rule == "other_month"]  # fmt: skip

    assert "990 of 1,000 rows fall in 2020-03" in finding.message
    assert finding.figures["month_found"] == "2020-03"


def test_rows_without_a_pickup_time_are_named_as_such():
    candidate = counts(0, 500, other_months={"none": 500})
    (finding,) = [f for f in audit("yellow", APRIL, "r", candidate, None, []).findings
                  if f.rule == "other_month"]  # fmt: skip
    assert "500 of 500 rows have no pickup time" in finding.message


def test_history_uses_at_most_twelve_earlier_months_and_their_median():
    # The 12 months used: median 10, so 1000 warns; with the 13th-15th it would be 1000.
    past = history(*([10] * 7 + [1000] * 5 + [1000] * 3))
    result = audit("yellow", APRIL, "r", counts(1000), None, past)
    assert rules(result, WARN) == ["history_band"]
    assert result.compared_with["history"][0] == "2020-03"
    assert len(result.compared_with["history"]) == 12


def test_forcing_publishes_a_refused_month_and_says_so():
    result = audit("yellow", APRIL, "r", counts(0), None, [], force=True)
    assert (result.refused, result.forced, result.verdict) == (False, True, "forced")
    passed = audit("yellow", APRIL, "r", counts(10), None, [], force=True)
    assert (passed.forced, passed.verdict) == (False, "passed")  # nothing was overridden


def test_thresholds_change_the_verdict():
    loose = AuditThresholds(max_quarantine_share=0.2)
    assert not audit("yellow", APRIL, "r", counts(900, 100), None, [], loose).refused


def test_the_verdict_round_trips_through_its_json():
    result = audit("yellow", APRIL, "r", counts(800), PublishedCounts(APRIL, None, counts(1000)),
                   history(1000))  # fmt: skip
    again = AuditResult.from_json(result.to_json())
    assert again == result
    assert json.loads(result.to_json())["verdict"] == "refused"
    assert result.compared_with["published_run"] == "legacy"


@pytest.mark.parametrize(
    ("overrides", "bad"),
    [
        ({"maxQuarantineShare": 1.5}, "maxQuarantineShare"),
        ({"maxShrink": "10%"}, "maxShrink"),
        ({"historyHigh": 0.5}, "historyHigh"),
        ({"maxShrinkage": 0.1}, "maxShrinkage"),
    ],
)
def test_bad_thresholds_are_invalid_input_naming_the_key(overrides, bad):
    with pytest.raises(InvalidInput, match=bad):
        AuditThresholds().with_config(overrides)


def test_thresholds_travel_as_config_json():
    custom = AuditThresholds(max_shrink=0.3, history_low=0.2)
    assert AuditThresholds.from_json(json.dumps(custom.to_config())) == custom
    assert AuditThresholds.from_json("") == AuditThresholds()
    assert custom.to_config() == {"maxQuarantineShare": 0.05, "maxShrink": 0.3,
                                  "historyLow": 0.2, "historyHigh": 2.0, "nullShareBefore": 0.05,
                                  "nullShareAfter": 0.5, "moneyFactor": 3.0}  # fmt: skip


def _profile(rows: int, nulls: int, fare_sum: float) -> dict:
    return {"rows": rows, "columns": [
        {"column": "passenger_count", "null_count": nulls, "min": 1, "max": 6, "sum": None},
        {"column": "fare_amount", "null_count": 0, "min": 0.0, "max": 90.0, "sum": fare_sum},
    ]}  # fmt: skip


def test_column_profiles_against_history_warn_naming_the_column_both_values_and_the_month():
    usual = {**counts(1000), "profile": _profile(1000, 10, 15_000.0)}
    past = [PublishedCounts(APRIL.plus(-i), f"r{i}", usual) for i in (1, 2, 3)]
    candidate = {**counts(1000), "profile": _profile(1000, 600, 60_000.0)}

    result = audit("yellow", APRIL, "r", candidate, None, past)

    found = {f.rule: f for f in result.findings}
    assert set(found) == {"null_share_jump", "money_per_trip"}
    jump = found["null_share_jump"]
    assert jump.severity == WARN
    assert not result.refused
    assert (jump.figures["column"], jump.figures["value"], jump.figures["previous"]) == (
        "passenger_count", 0.6, 0.01,
    )  # fmt: skip
    assert jump.figures["compared_with"] == "2020-03"
    assert "passenger_count is null in 60.0% of rows, 1.0% in 2020-03" in jump.message
    assert found["money_per_trip"].figures["column"] == "fare_amount"
    # A looser factor lets the fare through; the thresholds are the audit's own.
    loose = AuditThresholds(money_factor=5.0)
    assert "money_per_trip" not in {
        f.rule for f in audit("yellow", APRIL, "r", candidate, None, past, loose).findings
    }
