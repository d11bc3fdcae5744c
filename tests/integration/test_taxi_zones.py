"""`taxi_zones` in the DuckDB warehouse: loaded from the lake's copy of TLC's lookup, refreshed
only when that copy changes, checked, and never half-written. (Redshift: test_redshift.py.)"""

from __future__ import annotations

import csv
import io

import duckdb
import pytest

from pipeline.contract.errors import MissingInput
from pipeline.contract.layout import PROCESSED, taxi_zones_key
from pipeline.contract.zones import ZONE_LOOKUP
from pipeline.local.runner import publish_zone_lookup
from pipeline.storage.lake import LocalLake
from pipeline.warehouse.duckdb import DuckDBWarehouse


@pytest.fixture
def lake(tmp_path) -> LocalLake:
    return LocalLake(tmp_path / "lake")


@pytest.fixture
def warehouse(tmp_path) -> DuckDBWarehouse:
    return DuckDBWarehouse(tmp_path / "warehouse.duckdb")


def _zones(warehouse: DuckDBWarehouse) -> list[tuple]:
    with duckdb.connect(str(warehouse.path), read_only=True) as connection:
        return connection.execute("SELECT * FROM taxi_zones ORDER BY location_id").fetchall()


def _loaded_at(warehouse: DuckDBWarehouse):
    with duckdb.connect(str(warehouse.path), read_only=True) as connection:
        return connection.execute("SELECT loaded_at FROM tlc_elt_reference").fetchall()


def _csv_rows() -> list[tuple]:
    rows = csv.reader(io.StringIO(ZONE_LOOKUP.read_text()))
    next(rows)
    return [(int(r[0]), r[1], r[2], r[3]) for r in rows]


def test_the_lookup_loads_every_zone_as_tlc_wrote_it(lake, warehouse):
    publish_zone_lookup(lake)
    result = warehouse.refresh_zones(lake)
    assert (result.refreshed, result.rows) == (True, 265)
    zones = _zones(warehouse)
    assert zones == _csv_rows()
    assert zones[131] == (132, "Queens", "JFK Airport", "Airports")
    assert zones[-1] == (265, "N/A", "Outside of NYC", "N/A")


def test_a_current_lookup_is_not_written_again(lake, warehouse):
    publish_zone_lookup(lake)
    warehouse.refresh_zones(lake)
    stamp = _loaded_at(warehouse)
    again = warehouse.refresh_zones(lake)
    assert again.refreshed is False
    assert again.figures() == {"taxi_zones": "current", "zones": 265}
    assert _loaded_at(warehouse) == stamp


def test_a_changed_lookup_replaces_the_table(lake, warehouse):
    publish_zone_lookup(lake)
    warehouse.refresh_zones(lake)
    renamed = ZONE_LOOKUP.read_text().replace('"JFK Airport"', '"John F. Kennedy Airport"')
    lake.write_bytes(PROCESSED, taxi_zones_key(), renamed.encode())
    assert warehouse.refresh_zones(lake).refreshed is True
    zones = _zones(warehouse)
    assert len(zones) == 265
    assert zones[131] == (132, "Queens", "John F. Kennedy Airport", "Airports")


def test_a_missing_lookup_is_missing_input_naming_who_puts_it_there(lake, warehouse):
    with pytest.raises(MissingInput, match="pulumi up"):
        warehouse.refresh_zones(lake)
    assert not warehouse.path.exists()


def test_a_file_that_is_not_the_lookup_changes_nothing(lake, warehouse):
    publish_zone_lookup(lake)
    warehouse.refresh_zones(lake)
    lake.write_bytes(PROCESSED, taxi_zones_key(), b"id,name\n1,x\n")
    with pytest.raises(MissingInput, match="is not TLC's zone lookup"):
        warehouse.refresh_zones(lake)
    assert _zones(warehouse) == _csv_rows()


def test_publishing_writes_only_when_the_copy_differs(lake):
    publish_zone_lookup(lake)
    path = lake.path(PROCESSED, taxi_zones_key())
    before = path.stat().st_mtime_ns
    publish_zone_lookup(lake)
    assert path.stat().st_mtime_ns == before
    assert path.read_bytes() == ZONE_LOOKUP.read_bytes()
