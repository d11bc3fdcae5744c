"""The stack's Glue tables in moto, as components.catalog specifies them (shared by the catalog
switch's and the adopt Lambda's tests)."""

from __future__ import annotations

from components import catalog as specs
from pipeline.contract.datasets import YELLOW

DATABASE, BUCKET = "tlc_elt_test", "tlc-elt-test-processed"


def create_tables(glue, datasets=(YELLOW,), bucket: str = BUCKET) -> None:
    """The tables as the stack makes them (components.catalog's specs) over `bucket`."""
    glue.create_database(DatabaseInput={"Name": DATABASE})
    for spec in specs.catalog_tables(bucket, datasets):
        glue.create_table(
            DatabaseName=DATABASE,
            TableInput={
                "Name": spec.name,
                "TableType": "EXTERNAL_TABLE",
                "Parameters": dict(spec.parameters),
                "PartitionKeys": [{"Name": k, "Type": t} for k, t in spec.partition_keys],
                "StorageDescriptor": {
                    "Location": spec.location,
                    "InputFormat": spec.input_format,
                    "OutputFormat": spec.output_format,
                    "SerdeInfo": {"SerializationLibrary": spec.serialization_library},
                    "Columns": [{"Name": n, "Type": t} for n, t in spec.columns],
                },
            },
        )
