"""The profile's statistics that the parts' writer already computed: read from their footers.

Every parquet writer (DuckDB's COPY, Spark's parquet-mr) stores, per row group and column, the
null count and (for values that are not all null) the minimum and maximum. The processed parts
hold exactly the month's loaded rows, so folding those statistics over the parts gives the
profile's null counts, minimums and maximums (`pipeline.contract.profile.FOOTER_STATS`) without
reading a row: a few KB of footer per part, through the lake (a ranged read on S3). pyarrow
parses them; Glue Spark and Python Shell both ship it. Python 3.9.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline.contract.datasets import Dataset
from pipeline.contract.errors import MissingInput
from pipeline.contract.layout import PROCESSED
from pipeline.contract.profile import Stat, profiled_columns


def part_statistics(lake: Any, keys: Iterable[str], dataset: Dataset) -> dict[str, dict[Stat, Any]]:
    """column -> {NULLS: n, MIN: v, MAX: v} over every row group of every part (no part: the
    month has no loaded row, every count 0 and no bounds)."""
    import pyarrow.parquet as pq

    wanted = {column.name: column.stats for column in profiled_columns(dataset)}
    folded: dict[str, dict[Stat, Any]] = {name: {Stat.NULLS: 0} for name in wanted}
    for key in keys:
        with lake.open_reader(PROCESSED, key) as file:
            metadata = pq.ParquetFile(file).metadata
        positions = {metadata.schema.column(i).name: i for i in range(metadata.num_columns)}
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            for name, stats in wanted.items():
                if name not in positions:
                    raise MissingInput(f"part {lake.uri(PROCESSED, key)} has no column {name!r}")
                _fold(folded[name], row_group.column(positions[name]).statistics, stats, key)
    return folded


def _fold(into: dict[Stat, Any], statistics: Any, stats: tuple[Stat, ...], key: str) -> None:
    if statistics is None or not statistics.has_null_count:
        raise MissingInput(f"part {key} was written without column statistics")
    into[Stat.NULLS] += statistics.null_count
    if Stat.MIN in stats and statistics.has_min_max:
        low, high = statistics.min, statistics.max
        into[Stat.MIN] = low if into.get(Stat.MIN) is None else min(into[Stat.MIN], low)
        into[Stat.MAX] = high if into.get(Stat.MAX) is None else max(into[Stat.MAX], high)
