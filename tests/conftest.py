"""Fixtures for every tier: the one local SparkSession, the real sample, markers by folder."""

from __future__ import annotations

import importlib.util
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
