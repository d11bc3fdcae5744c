"""pipeline.contract.rules without Spark: the ordered rule names, and the SQL run on DuckDB."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.contract import rules
from pipeline.contract.datasets import YELLOW
from pipeline.contract.months import Month

ROOT = Path(__file__).resolve().parents[2]


def test_rules_are_the_contract_in_order():
    assert rules.RULE_NAMES == (
        "pickup_in_month",
        "dropoff_not_before_pickup",
        "positive_distance",
        "positive_fare",
        "positive_total",
    )
    assert [rule.name for rule in rules.RULES] == list(rules.RuleName)


def test_zero_counts_has_every_rule_and_is_a_fresh_dict():
    counts = rules.zero_counts()
    assert counts == dict.fromkeys(rules.RULE_NAMES, 0)
    counts["positive_fare"] += 1
    assert rules.zero_counts()["positive_fare"] == 0


def test_rule_names_are_a_closed_set():
    with pytest.raises(ValueError, match="'positive_tip'"):
        rules.RuleName("positive_tip")
    assert str(rules.RuleName.POSITIVE_FARE) == "positive_fare"


def test_rules_and_the_generator_import_without_spark():
    # The generator and the command line read the rule names; only predicates import pyspark.
    code = (
        "import sys; sys.modules['pyspark'] = None\n"  # any `import pyspark` now fails
        "import pipeline.contract.rules, pipeline.dev.synthetic\n"
        "print(len(pipeline.contract.rules.RULE_NAMES))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "5"


def test_rule_edges_and_first_failing_rule_on_duckdb(rule_edge_cases):
    """The rules are SQL: the same edge table as Spark's, in-process, in the fast tier."""
    import duckdb

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t (i INTEGER, pickup_datetime TIMESTAMP, dropoff_datetime TIMESTAMP, "
        "trip_distance DOUBLE, fare_amount DOUBLE, total_amount DOUBLE)"
    )
    con.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)",
        [(i, *values) for i, (values, _) in enumerate(rule_edge_cases)],
    )
    sql = rules.reject_reason_sql(YELLOW, Month(2024, 9), rules.Engine.DUCKDB)
    got = [reason for (reason,) in con.execute(f"SELECT {sql} FROM t ORDER BY i").fetchall()]
    assert got == [reason for _, reason in rule_edge_cases]
