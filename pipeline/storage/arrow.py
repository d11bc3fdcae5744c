"""The processed parts' Arrow schema, from the dataset definitions (`ColumnType.arrow`).

What transform writes and both warehouses read: the one map from a column's logical type to
its Arrow type, used by the tests, the synthetic generator and the DuckDB engine alike.
"""

from __future__ import annotations

from typing import Any

from pipeline.contract.datasets import ColumnType, Dataset


def arrow_type(column_type: ColumnType) -> Any:
    import pyarrow as pa

    return pa.type_for_alias(column_type.arrow)


def processed_schema(dataset: Dataset, timestamp: Any = None) -> Any:
    """The table's columns as the processed parts hold them (`timestamp` overrides the unit)."""
    import pyarrow as pa

    return pa.schema(
        [
            (name, timestamp if timestamp is not None and kind is ColumnType.TIMESTAMP
             else arrow_type(kind))
            for name, kind in dataset.table_columns
        ]
    )  # fmt: skip
