"""`verify` on a stack: rows per month in Redshift, checked against what was published.

A month's expected rows are its newest ledger row's (`tlc_elt_loads`, written in the month's
own transaction); a month loaded before the ledger existed (a legacy month) is checked against
the lake's published counts instead, when the processed bucket is known."""

from __future__ import annotations

from typing import Any, Callable

from pipeline.contract.datasets import Dataset, get_dataset
from pipeline.contract.months import Month
from pipeline.jobs.published import published_counts
from pipeline.ops.aws import Progress, Runtime, aws_call
from pipeline.ops.stack import StackOutputs, StackTarget
from pipeline.storage.lake import S3Lake
from pipeline.warehouse.base import CountsReader, VerifyReport, check_months, latest_per_month


def redshift_warehouse(
    client: Any, workgroup: str, database: str, sleep: Callable[[float], None]
) -> Any:
    """The load's own Data API warehouse, without a COPY role: verify only reads."""
    from pipeline.warehouse.redshift import RedshiftDataApiWarehouse

    return RedshiftDataApiWarehouse(workgroup, database, client=client, sleep=sleep)


WarehouseFactory = Callable[[Any, str, str, Callable[[float], None]], Any]


def verify(
    target: StackTarget,
    dataset: str,
    *,
    runtime: Runtime | None = None,
    progress: Progress | None = None,
    warehouse_factory: WarehouseFactory = redshift_warehouse,
) -> VerifyReport:
    """`verify --stack S [--workgroup W --database D] [--processed-bucket B] [--json]`.

    Rows per month from the original's verify query through the Data API; where the
    processed bucket is known, each month is checked against the rows transform wrote.
    """
    runtime = runtime or Runtime()
    chosen = get_dataset(dataset)
    outputs = target.resolve(("workgroupName", "databaseName"), run=runtime.run)
    region = target.region_for(outputs)
    client = runtime.aws("redshift-data", region)
    warehouse = warehouse_factory(
        client, outputs.workgroup_name, outputs.database_name, runtime.sleep
    )
    if progress is not None:
        progress(f"counting {chosen.table} per month", 0, None)
    with aws_call(f"counting rows in {chosen.table} ({outputs.workgroup_name})"):
        counts = warehouse.month_counts(chosen)
    if progress is not None:
        progress("reading the ledger (tlc_elt_loads)", 0, None)
    with aws_call(f"reading the ledger in {outputs.workgroup_name}"):
        ledger = latest_per_month(warehouse.ledger(chosen))
    reader = _counts_reader(chosen, outputs, runtime, region, progress, len(counts))
    title = (
        f"{chosen.table} in Redshift workgroup {outputs.workgroup_name}, "
        f"database {outputs.database_name}"
    )
    return VerifyReport(title, check_months(counts, reader, ledger), chosen.name)


def _counts_reader(
    dataset: Dataset,
    outputs: StackOutputs,
    runtime: Runtime,
    region: str | None,
    progress: Progress | None,
    total: int,
) -> CountsReader | None:
    """Transform's counts from the processed bucket, when it is known (else verify only counts)."""
    bucket = outputs.processed_bucket
    if not bucket:
        return None
    lake = S3Lake(outputs.raw_bucket or "", bucket, s3=runtime.aws("s3", region))
    done = 0

    def read(month: Month) -> dict[str, Any] | None:
        nonlocal done
        if progress is not None:
            progress(f"reading transform's counts for {month}", done, total)
        done += 1
        with aws_call(f"reading transform's counts from s3://{bucket}"):
            published = published_counts(lake, dataset, month)
            return None if published is None else dict(published.counts)

    return read


def reader(target: StackTarget, *, runtime: Runtime | None = None) -> tuple[Any, S3Lake, str]:
    """(warehouse, lake, where) of a stack, for `months` and `report`: the Data API warehouse
    (no COPY role) and the processed bucket, read only."""
    runtime = runtime or Runtime()
    outputs = target.resolve(("workgroupName", "databaseName", "processedBucket"), run=runtime.run)
    region = target.region_for(outputs)
    client = runtime.aws("redshift-data", region)
    warehouse = redshift_warehouse(
        client, outputs.workgroup_name, outputs.database_name, runtime.sleep
    )
    lake = S3Lake(outputs.raw_bucket or "", outputs.processed_bucket, s3=runtime.aws("s3", region))
    where = f"Redshift workgroup {outputs.workgroup_name}, database {outputs.database_name}"
    return warehouse, lake, where
