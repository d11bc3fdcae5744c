"""TLC's taxi zones: the lookup every trip's `pickup_location_id`/`dropoff_location_id` joins.

`taxi_zone_lookup.csv` beside this module is TLC's own file (265 zones; 264 "Unknown" and 265
"Outside of NYC" included), kept in the repository so that no run depends on a network fetch.
The stack uploads it to the processed bucket (`pipeline.contract.layout.taxi_zones_key`), the
local runner to the local lake, and every warehouse loads it as the table `taxi_zones`.
Standard library only.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from pipeline.contract.types import ColumnType

ZONE_LOOKUP = Path(__file__).with_name("taxi_zone_lookup.csv")
# TLC's header, in its order.
CSV_COLUMNS = ("LocationID", "Borough", "Zone", "service_zone")
TABLE = "taxi_zones"
# Where each warehouse records the sha256 of the lookup it loaded (`pipeline.warehouse.zones`).
VERSION_TABLE = "tlc_elt_reference"
# The table's columns, in the order of the CSV's.
TABLE_COLUMNS: tuple[tuple[str, ColumnType], ...] = (
    ("location_id", ColumnType.INTEGER),
    ("borough", ColumnType.STRING),
    ("zone", ColumnType.STRING),
    ("service_zone", ColumnType.STRING),
)


@dataclass(frozen=True)
class Zone:
    location_id: int
    borough: str
    zone: str
    service_zone: str


def read_zones(text: str | None = None) -> list[Zone]:
    """The zones of TLC's lookup (this repository's copy unless `text` is given), by id."""
    rows = csv.DictReader(io.StringIO(ZONE_LOOKUP.read_text() if text is None else text))
    if tuple(rows.fieldnames or ()) != CSV_COLUMNS:
        raise ValueError(f"zone lookup header {rows.fieldnames}, expected {list(CSV_COLUMNS)}")
    zones = [
        Zone(int(row["LocationID"]), row["Borough"], row["Zone"], row["service_zone"])
        for row in rows
    ]
    return sorted(zones, key=lambda zone: zone.location_id)
