"""Synthetic TLC months in TLC's own file schema, per dataset and schema era, with realistic dirty
rows: what the demo, the benchmark and the tests run instead of TLC's files (no internet needed).

`write_month(path, dataset, month, rows, seed)` writes one month of any of the four datasets in
the file schema of that month's era (or of `era`), deterministic by seed, and returns a
`MonthSummary` that knows the transform's exact counts in advance (`expected_counts`). The
datasets' trip models and their sources are in `taxi` (yellow, green) and `forhire` (fhv,
fhvhv); `schema` turns trips into an era's columns; `kinds` holds the dirty kinds and what the
transform must make of each. pyarrow + numpy only, vectorised.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.contract.datasets import ColumnType, Dataset
from pipeline.contract.errors import InvalidInput
from pipeline.contract.months import Month
from pipeline.dev.synthetic.city import JFK, LAGUARDIA, ZONE_BOROUGHS, epoch_us
from pipeline.dev.synthetic.forhire import FHV_ERAS, FHVHV_ERAS, ROW_GROUP_ROWS, row_groups
from pipeline.dev.synthetic.kinds import (
    CLEAN,
    DATASET_FLAGS,
    DEFAULT_RATES,
    EVERY_KIND_FROM_ROWS,
    EXPECTED_FLAGS,
    EXPECTED_RULE,
    EXPECTED_UNMAPPED,
    FLAGS,
    DirtyKind,
    DirtyRates,
    MonthSummary,
    default_rates,
    expected_counts,
    plan,
)
from pipeline.dev.synthetic.schema import Era
from pipeline.dev.synthetic.taxi import GREEN_ERAS, YELLOW_ERAS, month_table
from pipeline.storage.arrow import arrow_type

__all__ = [
    "CLEAN", "DATASET_FLAGS", "DEFAULT_RATES", "ERAS", "EVERY_KIND_FROM_ROWS", "EXPECTED_FLAGS",
    "EXPECTED_RULE", "EXPECTED_UNMAPPED", "FLAGS", "JFK", "LAGUARDIA", "ROW_GROUP_ROWS",
    "ZONE_BOROUGHS", "DirtyKind", "DirtyRates", "Era", "MonthSummary", "default_rates",
    "era_for", "era_named", "expected_counts", "write_month", "write_payload_file",
]  # fmt: skip

ERAS: Mapping[str, tuple[Era, ...]] = {
    "yellow": YELLOW_ERAS,
    "green": GREEN_ERAS,
    "fhv": FHV_ERAS,
    "fhvhv": FHVHV_ERAS,
}
TIMESTAMP_UNITS = ("ms", "us", "ns")


def era_for(dataset: Dataset, month: Month) -> Era:
    """The era TLC's file for `month` belongs to."""
    eras = ERAS[dataset.name]
    if month < eras[0].first_month:
        raise InvalidInput("month", str(month), f"{dataset.name} starts in {eras[0].first_month}")
    return [era for era in eras if era.first_month <= month][-1]


def era_named(name: str) -> Era:
    eras = {era.name: era for group in ERAS.values() for era in group}
    if name not in eras:
        raise InvalidInput("era", name, f"one of {', '.join(eras)}")
    return eras[name]


def _choose_era(dataset: Dataset, month: Month, era: Era | str | None) -> Era:
    chosen = (
        era_for(dataset, month) if era is None else era_named(era) if isinstance(era, str) else era
    )
    if chosen not in ERAS[dataset.name]:
        names = ", ".join(e.name for e in ERAS[dataset.name])
        raise InvalidInput("era", chosen.name, f"a {dataset.name} era: {names}")
    return chosen


def write_month(
    path: Path | str,
    dataset: Dataset,
    month: Month,
    rows: int,
    seed: int = 0,
    era: Era | str | None = None,
    *,
    rates: DirtyRates | None = None,
    timestamp_unit: str | None = None,
) -> MonthSummary:
    """Write `rows` trips of `month` in TLC's file schema of that month's era (or `era`).

    `timestamp_unit` overrides the era's ("ns" makes TIMESTAMP(NANOS) files); `rates` sets the
    dirty-row fractions (`CLEAN` for none; None: `default_rates(dataset)`). Same arguments, same
    bytes. Taxi months are generated whole (the null block sits at the file's end); for-hire
    months row group by row group, so a 20M-row HVFHV month never sits in memory.
    """
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise InvalidInput("rows", rows, "a whole number of rows, at least 1")
    chosen = _choose_era(dataset, month, era)
    unit = timestamp_unit or chosen.timestamp_unit
    if unit not in TIMESTAMP_UNITS:
        raise InvalidInput("timestamp unit", unit, f"one of {', '.join(TIMESTAMP_UNITS)}")
    planned = plan(rates if rates is not None else default_rates(dataset), rows, chosen.allows)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(target, chosen.schema(unit), compression="snappy") as writer:
        if dataset.name in ("yellow", "green"):
            rng = np.random.default_rng(seed)
            table = month_table(rng, dataset.name, month, rows, chosen, unit, planned)
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        else:
            for group in row_groups(seed, dataset.name, month, rows, chosen, unit, planned):
                writer.write_table(group, row_group_size=ROW_GROUP_ROWS)
    return MonthSummary(
        path=str(target), dataset=dataset.name, month=str(month), era=chosen.name,
        timestamp_unit=unit, rows=rows, dirty={kind.value: n for kind, n in planned.items()},
        unknown_columns=chosen.unknown_columns,
    )  # fmt: skip


_PAYLOAD_ROWS = 8  # of 1 MiB each, per row group
_MIB = 1024 * 1024


def write_payload_file(path: Path | str, dataset: Dataset, mib: int) -> int:
    """A parquet file of about `mib` MiB that passes ingest's checks, for measuring ingest alone:
    the dataset's required columns (under their first source name) plus incompressible bytes,
    written row group by row group so the writer never holds the file. Returns its size.
    """
    required = [c for c in dataset.columns if c.required]
    schema = pa.schema(
        [(c.sources[0], arrow_type(c.type)) for c in required] + [("payload", pa.binary())]
    )
    filler = {
        ColumnType.INTEGER: 1,
        ColumnType.DOUBLE: 1.0,
        ColumnType.TIMESTAMP: epoch_us(date(2024, 1, 1)),
        ColumnType.STRING: "N",
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(target, schema, compression="none") as writer:
        for _ in range(max(1, mib // _PAYLOAD_ROWS)):
            group = {c.sources[0]: [filler[c.type]] * _PAYLOAD_ROWS for c in required}
            group["payload"] = [os.urandom(_MIB) for _ in range(_PAYLOAD_ROWS)]
            writer.write_table(pa.table(group, schema=schema))
    return target.stat().st_size
