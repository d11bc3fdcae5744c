"""pipeline.contract.rules without Spark: the ordered rule names, and the SQL run on DuckDB."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.contract import normalise, rules
from pipeline.contract.datasets import GREEN, YELLOW, ColumnType, Dataset
from pipeline.contract.months import Month

ROOT = Path(__file__).resolve().parents[2]


def test_rules_are_the_contract_in_order():
    assert rules.RULE_NAMES == ("pickup_in_month", "dropoff_not_before_pickup")
    assert [rule.name for rule in rules.RULES] == list(rules.RuleName)


def test_zero_counts_has_every_rule_and_is_a_fresh_dict():
    counts = rules.zero_counts()
    assert counts == dict.fromkeys(rules.RULE_NAMES, 0)
    counts["pickup_in_month"] += 1
    assert rules.zero_counts()["pickup_in_month"] == 0


def test_rule_names_are_a_closed_set():
    with pytest.raises(ValueError, match="'positive_fare'"):
        rules.RuleName("positive_fare")  # a plausibility check is a flag now, not a rule
    assert str(rules.RuleName.PICKUP_IN_MONTH) == "pickup_in_month"


def test_taxi_flags_are_the_contract_and_columns_of_the_table():
    for dataset in (YELLOW, GREEN):
        assert [(flag.name, flag.column) for flag in dataset.flags] == [
            ("flag_non_positive_distance", "trip_distance"),
            ("flag_non_positive_fare", "fare_amount"),
            ("flag_non_positive_total", "total_amount"),
        ]
        names = [name for name, _ in dataset.table_columns]
        assert names[-4:] == [dataset.month_column, *(flag.name for flag in dataset.flags)]
        assert dict(dataset.table_columns)["flag_non_positive_fare"] is ColumnType.BOOLEAN


def test_a_flag_on_a_column_the_dataset_lacks_is_refused():
    with pytest.raises(ValueError, match="checks unknown column tip"):
        Dataset("x", Month(2020, 1), YELLOW.columns, flags=(rules.non_positive("tip", "tip"),))


def test_a_missing_dropoff_passes_only_where_the_dataset_says_so():
    optional = dataclasses.replace(YELLOW, dropoff_optional=True)
    rule = rules.RULES[1]
    for engine in rules.Engine:
        assert "IS NULL OR" in rule.condition(optional, Month(2024, 9), engine)
        assert "IS NULL" not in rule.condition(YELLOW, Month(2024, 9), engine)


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
    assert done.stdout.strip() == "2"


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
        [(i, *values) for i, (values, _, _) in enumerate(rule_edge_cases)],
    )
    tagged = ", ".join(normalise.tagging(YELLOW, Month(2024, 9), rules.Engine.DUCKDB))
    found = con.execute(f"SELECT {tagged} FROM t ORDER BY i").to_arrow_table().to_pylist()
    flags = [flag.name for flag in YELLOW.flags]
    got = [(row["reject_reason"], {f for f in flags if row[f]}) for row in found]
    assert got == [(reason, expected) for _, reason, expected in rule_edge_cases]
    assert all(isinstance(row[f], bool) for row in found for f in flags)  # never null
