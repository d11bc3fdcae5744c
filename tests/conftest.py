"""Fixtures for every tier: the one local SparkSession, the real sample, markers by folder."""

from __future__ import annotations

import importlib.util
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SAMPLE5 = DATA / "yellow_tripdata_2025-01_sample5.parquet"

_FOLDER_MARKERS = {"unit": "unit", "integration": "integration", "e2e": "e2e"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.fspath)).parent.name
        if folder in _FOLDER_MARKERS:
            item.add_marker(_FOLDER_MARKERS[folder])
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker("spark")


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession for the whole run: starting a JVM costs seconds."""
    from pipeline.local.spark import local_session

    session = local_session("tlc-elt-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def sample5() -> Path:
    """5 real TLC rows (yellow, 2025-01) with the file's exact types."""
    assert SAMPLE5.is_file(), f"sample missing: {SAMPLE5}"
    return SAMPLE5


def load_glue_script(job: str) -> ModuleType:
    """`scripts/<job>.py` imported by its path, as Glue runs it (the folder is no package)."""
    spec = importlib.util.spec_from_file_location(f"{job}_job", ROOT / "scripts" / f"{job}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def glue_script():
    """`glue_script("ingest_raw")`: a Glue entry point as a module, for its tests."""
    return load_glue_script


@pytest.fixture(scope="session")
def rule_edge_cases() -> list[tuple[tuple, str | None, set[str]]]:
    """The rules' edges for yellow 2024-09: each row with the first integrity rule it fails
    (None: loaded) and the flags it must carry; every engine that applies the rules runs this
    table (Spark, DuckDB)."""
    start, after = datetime(2024, 9, 1), datetime(2024, 10, 1)
    micro = timedelta(microseconds=1)
    distance, fare, total = (f"flag_non_positive_{what}" for what in ("distance", "fare", "total"))
    return [  # (pickup, dropoff, distance, fare, total) -> expected reason, expected flags
        ((start, start, 1.0, 5.0, 6.0), None, set()),  # month start, equal times: loaded
        ((after - micro, after + timedelta(hours=1), 1.0, 5.0, 6.0), None, set()),  # last µs
        ((after, after, 1.0, 5.0, 6.0), "pickup_in_month", set()),  # next month's start
        ((start - micro, start, 1.0, 5.0, 6.0), "pickup_in_month", set()),
        ((datetime(2002, 12, 31, 23, 5), start, 1.0, 5.0, 6.0), "pickup_in_month", set()),
        ((datetime(2008, 12, 31, 1, 0), start, 1.0, 5.0, 6.0), "pickup_in_month", set()),
        ((None, start, 1.0, 5.0, 6.0), "pickup_in_month", set()),
        # Every rule and flag broken: the first rule, and the flags still computed.
        ((after, start, 0.0, -5.0, -6.0), "pickup_in_month", {distance, fare, total}),
        ((start + micro, start, 1.0, 5.0, 6.0), "dropoff_not_before_pickup", set()),
        ((start, None, 1.0, 5.0, 6.0), "dropoff_not_before_pickup", set()),
        ((start, start, 0.0, 5.0, 6.0), None, {distance}),  # a billed zero-distance trip
        ((start, start, -0.5, 5.0, 6.0), None, {distance}),
        ((start, start, None, 5.0, 6.0), None, {distance}),  # a null counts as broken
        ((start, start, 0.0, 0.0, 0.0), None, {distance, fare, total}),
        ((start, start, 0.01, 0.0, 6.0), None, {fare}),
        ((start, start, 1.0, -5.0, 6.0), None, {fare}),  # Flex Fare: negative fare, total ok
        ((start, start, 1.0, -5.0, -6.0), None, {fare, total}),  # a reversal row
        ((start, start, 1.0, None, 6.0), None, {fare}),
        ((start, start, 1.0, 5.0, 0.0), None, {total}),
        ((start, start, 1.0, 5.0, -0.01), None, {total}),
        ((start, start, 1.0, 5.0, None), None, {total}),
    ]
