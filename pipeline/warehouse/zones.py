"""The `taxi_zones` table: TLC's zone lookup in every warehouse, refreshed only when it changed.

Every load step calls `refresh_zones` before it replaces its month. The lookup is read from the
lake (`layout.taxi_zones_key()`: the object the stack manages, or the file the local runner
writes), never from the network. Its sha256 is recorded beside the table
(`tlc_elt_reference`), so a load whose lookup is already the warehouse's reads one row and
writes nothing: concurrent month loads (a backfill) do not write the same table, and the one
refresh that runs is its own transaction, separate from any month's. Python 3.9 (Glue Python
Shell); the SQL is shared by DuckDB and Redshift.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from pipeline.contract import zones
from pipeline.contract.errors import MissingInput
from pipeline.contract.layout import PROCESSED, taxi_zones_key
from pipeline.storage.lake import Lake
from pipeline.warehouse.base import Dialect

REFERENCE_TABLE = zones.VERSION_TABLE


@dataclass(frozen=True)
class ZonesInput:
    """The lookup as the lake holds it: where, its digest, and how many zones it lists."""

    uri: str
    sha256: str
    rows: int


def read_zones_input(lake: Lake) -> ZonesInput:
    """Read and check the lake's lookup; raises MissingInput before anything is written."""
    key = taxi_zones_key()
    uri = lake.uri(PROCESSED, key)
    try:
        data = lake.read_bytes(PROCESSED, key)
    except MissingInput:
        raise MissingInput(
            f"the zone lookup {uri} does not exist: `pulumi up` uploads it to the processed "
            "bucket (a local run writes it itself)"
        ) from None
    try:
        rows = len(zones.read_zones(data.decode("utf-8-sig")))
    except (ValueError, UnicodeDecodeError) as error:
        raise MissingInput(f"{uri} is not TLC's zone lookup: {error}") from None
    return ZonesInput(uri, hashlib.sha256(data).hexdigest(), rows)


def create_zones_sql(dialect: Dialect) -> str:
    columns = ", ".join(f"{name} {dialect.type_name(kind)}" for name, kind in zones.TABLE_COLUMNS)
    sql = f"CREATE TABLE IF NOT EXISTS {zones.TABLE} ({columns})"
    # 265 rows joined to every trip: a copy on every node beats redistributing the trips.
    return sql + " DISTSTYLE ALL" if dialect is Dialect.REDSHIFT else sql


def create_reference_sql() -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {REFERENCE_TABLE} "
        "(table_name VARCHAR(64), sha256 VARCHAR(64), loaded_at TIMESTAMP)"
    )


def loaded_version_sql() -> str:
    """The digest of the lookup the warehouse holds (no row: never loaded)."""
    return f"SELECT sha256 FROM {REFERENCE_TABLE} WHERE table_name = '{zones.TABLE}'"


def record_version_sql(lookup: ZonesInput, now: datetime) -> list[str]:
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    return [
        f"DELETE FROM {REFERENCE_TABLE} WHERE table_name = '{zones.TABLE}'",
        f"INSERT INTO {REFERENCE_TABLE} (table_name, sha256, loaded_at) "
        f"VALUES ('{zones.TABLE}', '{lookup.sha256}', '{stamp}')",
    ]


def count_zones_sql() -> str:
    return f"SELECT COUNT(*) FROM {zones.TABLE}"
