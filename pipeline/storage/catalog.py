"""The Glue Data Catalog's month partitions: what Athena reads as a dataset's month.

`GlueCatalog.publish_month` points the month's partition of `<dataset>_trips` and of
`<dataset>_quarantine` (`pipeline.contract.catalog`) at the published run's prefixes. Each
table's switch is one Glue call (CreatePartition for a month that has none, UpdatePartition
otherwise), so a query planned before it reads the previous run's files and one planned after
it the new run's; both runs' files exist throughout (publish removes a run only after its
retention). Repeating it changes nothing. The partition's storage descriptor is the table's
(columns, formats, SerDe) with the run's location, so a partition never disagrees with its
table's schema. Glue's partition API:
https://docs.aws.amazon.com/glue/latest/webapi/API_UpdatePartition.html
https://docs.aws.amazon.com/glue/latest/webapi/API_CreatePartition.html
Python 3.9 (the load job's Glue Python Shell); boto3 is imported only when no client is given.
"""

from __future__ import annotations

import copy
from typing import Any

from pipeline.contract.catalog import MonthPartition, month_partitions, partition_location
from pipeline.contract.datasets import Dataset
from pipeline.contract.errors import InvalidInput, PipelineError
from pipeline.contract.layout import RunKeys
from pipeline.contract.months import Month
from pipeline.storage.aws import error_code, error_text

CREATED, UPDATED, CURRENT = "created", "updated", "current"


class CatalogFailed(PipelineError):
    """A Glue Data Catalog call failed: the month's partition was not moved."""


class GlueCatalog:
    """The stack's Glue database `database`; a client is made for `region` when none is given."""

    def __init__(self, database: str, client: Any = None, region: str | None = None) -> None:
        if not str(database).strip():
            raise InvalidInput("Glue database", database, "the stack's Glue database name")
        if client is None:
            import boto3

            client = boto3.client("glue", region_name=region)
        self.database, self.client = database, client

    def publish_month(self, dataset: Dataset, month: Month, keys: RunKeys) -> dict[str, str]:
        """Point the month's trips and quarantine partitions at the run; {table: what it did}."""
        if (keys.dataset, keys.month) != (dataset, month):
            raise InvalidInput("run keys", keys, f"the keys of a run of {dataset.name} {month}")
        return {part.table: self._switch(part) for part in month_partitions(keys)}

    def _switch(self, part: MonthPartition) -> str:
        table = self._call("GetTable", part.table, DatabaseName=self.database, Name=part.table)
        descriptor = copy.deepcopy(table["Table"]["StorageDescriptor"])
        location = partition_location(descriptor["Location"], part.prefix)
        descriptor["Location"] = location
        partition_input = {"Values": list(part.values), "StorageDescriptor": descriptor}
        existing = self._partition(part)
        if existing is None:
            try:
                self._call("CreatePartition", part.table, DatabaseName=self.database,
                           TableName=part.table, PartitionInput=partition_input)  # fmt: skip
                return CREATED
            except _AlreadyExists:
                pass  # another publish made it between the two calls: update it
        elif existing["StorageDescriptor"].get("Location") == location:
            return CURRENT
        self._call("UpdatePartition", part.table, DatabaseName=self.database,
                   TableName=part.table, PartitionValueList=list(part.values),
                   PartitionInput=partition_input)  # fmt: skip
        return UPDATED

    def _partition(self, part: MonthPartition) -> dict[str, Any] | None:
        try:
            found = self._call("GetPartition", part.table, DatabaseName=self.database,
                               TableName=part.table, PartitionValues=list(part.values))  # fmt: skip
        except _NotFound:
            return None
        return found["Partition"]

    def _call(self, operation: str, table: str, **request: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        method = "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")
        try:
            return getattr(self.client, method)(**request)
        except ClientError as error:
            code = error_code(error)
            if code == "EntityNotFoundException" and operation == "GetPartition":
                raise _NotFound from None
            if code == "AlreadyExistsException":
                raise _AlreadyExists from None
            raise CatalogFailed(
                f"Glue {operation} on {self.database}.{table} failed ({error_text(error)}); the "
                "month's partition still reads the previous run: publish the month again"
            ) from error


class _NotFound(Exception):
    pass


class _AlreadyExists(Exception):
    pass
