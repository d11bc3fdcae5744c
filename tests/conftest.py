"""Fixtures for every tier: the one local SparkSession, the real sample, markers by folder."""

from __future__ import annotations

from pathlib import Path

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
