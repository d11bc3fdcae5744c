"""The AWS warehouse: Redshift Serverless through the Redshift Data API (boto3 `redshift-data`).

A month's load is two steps, each ONE `batch_execute_statement`, which Redshift runs as one
transaction ("The statements of a batch run serially, as a single transaction":
https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_BatchExecuteStatement.html):

1. The schema step, only when the table, its columns or its `_clean` view are not what the
   dataset says (read first from the catalog): create the table, add the columns an
   earlier version's table lacks, (re)create the view, and grant both database roles of
   `pipeline.contract.access` on them in the same transaction, so the grants come back with
   any object made again. ALTER TABLE ADD COLUMN may run inside a transaction block (unlike
   ALTER COLUMN TYPE and ALTER TABLE APPEND):
   https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE.html
   The same step creates the ledger `tlc_elt_loads` (`pipeline.contract.ledger`) with its
   grants when it is missing (a stack made before write-audit-publish).
2. The month batch, the publish (`publish_month`): `LOCK` the table and the ledger, fail when the
   run is already the month's current publication (a publish repeated after a commit the client
   did not see: recognised, nothing changes), the ledger row (with `rows_replaced`, the month's
   rows before the delete), delete the month, COPY the run's part files from an explicit COPY
   manifest into a session-temporary staging table, insert them into the table by column name,
   and a count check that fails the transaction on a mismatch. A failure anywhere rolls the
   batch back, so the month's previous rows and ledger survive (the original ran DELETE and COPY
   as separate statements: a failed COPY left the month empty).

Why LOCK first: Redshift Serverless runs SNAPSHOT isolation by default, under which two loads of
a month that holds no rows yet (a backfill overlapping the schedule, a Glue run stopped by its
timeout while its batch keeps running, then a re-run) each delete nothing, insert N, pass their
own count check and commit: 2N rows. LOCK takes an ACCESS EXCLUSIVE lock, "waiting if necessary
for any conflicting locks to be released", held until the transaction ends, so the second batch
starts only after the first committed and then sees its rows and its ledger row:
https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html
(SNAPSHOT is the default isolation of serverless workgroups:
https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_DATABASE.html, ISOLATION LEVEL.)

Concurrent loads (a backfill runs several months at once) can collide: two first loads both
creating the table, or two months' DELETE/INSERT on one table. Redshift then fails one
transaction ("ERROR: 1023 DETAIL: Serializable isolation violation on table", a catalog
conflict with a concurrent transaction) and says to retry it:
https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation-serializable-isolation-troubleshooting.html
Both steps are idempotent, so each is retried on those errors (`Retries`, bounded, with
backoff and jitter); any other failure is raised at once. The schema step re-reads the table
before each attempt, so a retry after a concurrent load made the table does nothing.
Runs in Glue Python Shell 3.9; boto3 is imported only when no client is given.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import random
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable, TypeVar

from pipeline.contract import ledger, zones
from pipeline.contract.access import grants_sql, object_grants_sql
from pipeline.contract.datasets import Dataset
from pipeline.contract.errors import CountMismatch, InvalidInput, PipelineError, StatementFailed
from pipeline.contract.layout import PROCESSED, RunKeys
from pipeline.contract.months import Month
from pipeline.storage.aws import error_code, error_text
from pipeline.storage.lake import Lake, ObjectInfo
from pipeline.warehouse.base import (
    Dialect,
    LedgerEntry,
    LoadResult,
    MonthCount,
    ZonesResult,
    clean_view_sql,
    count_mismatch_message,
    count_month_sql,
    create_ledger_sql,
    create_profiles_sql,
    create_table_sql,
    delete_month_sql,
    has_flags,
    ledger_insert_sql,
    ledger_select_sql,
    migration_sql,
    month_counts_sql,
    month_literal,
    profile_rows,
    profiles_delete_sql,
    profiles_insert_sql,
    read_load_input,
    sql_text,
)
from pipeline.warehouse.zones import (
    REFERENCE_TABLE,
    ZonesInput,
    create_reference_sql,
    create_zones_sql,
    loaded_version_sql,
    read_zones_input,
    record_version_sql,
)

FINISHED = "FINISHED"
FAILED_STATES = ("FAILED", "ABORTED")
# botocore added WorkgroupName (Redshift Serverless) to redshift-data in 1.27.11 (June 2022).
WORKGROUP_BOTOCORE = "botocore >= 1.27.11 (boto3 >= 1.24.11)"
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$")
# What Redshift says when a transaction lost to a concurrent one (lower case, matched anywhere in
# the error): retrying the transaction is the documented remedy (see the module docstring).
TRANSIENT_ERRORS = (
    "serializable isolation violation",
    "error: 1023",
    "error:1023",
    "conflict with concurrent transaction",
    "concurrent transaction",
    "could not serialize access",
    "deadlock detected",
    # PostgreSQL's catalog race between two concurrent CREATE TABLEs of one name.
    "pg_type_typname_nsp_index",
)
# Data API refusals that pass: too many statements at once, throttling.
# https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_BatchExecuteStatement.html#API_BatchExecuteStatement_Errors
TRANSIENT_REFUSALS = frozenset({"ActiveStatementsExceededException", "ThrottlingException"})
T = TypeVar("T")


class BatchPart(enum.Enum):
    """The statements of a month's load batch, in order; names appear in error messages."""

    CREATE_TABLE = "create table"
    ADD_COLUMN = "add column"
    CLEAN_VIEW = "clean view"
    CREATE_LEDGER = "create ledger"
    GRANT = "grant"
    LOCK = "lock"
    RUN_CHECK = "ledger check"
    LEDGER_ROW = "ledger row"
    PROFILE = "profile rows"
    DELETE_MONTH = "delete month"
    STAGE = "create staging table"
    COPY = "copy"
    INSERT = "insert"
    COUNT_CHECK = "count check"


@dataclass(frozen=True)
class BatchStatement:
    part: BatchPart
    sql: str


@dataclass(frozen=True)
class Polling:
    """How describe_statement is polled: waits double from `first_wait` up to `max_wait`."""

    first_wait: float = 1.0
    max_wait: float = 10.0
    deadline: float = 30 * 60.0


@dataclass(frozen=True)
class Retries:
    """How often a step that lost to a concurrent transaction is tried again, and the waits:
    doubling from `first_wait` up to `max_wait`, each between half and all of it (jitter, so
    two loads that collided do not collide again on the same beat)."""

    attempts: int = 6
    first_wait: float = 5.0
    max_wait: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise InvalidInput("retry attempts", self.attempts, "at least 1")

    def wait(self, failures: int, draw: float) -> float:
        backoff = min(self.max_wait, self.first_wait * 2 ** (failures - 1))
        return backoff / 2 + draw * backoff / 2


class TransientStatementFailure(StatementFailed):
    """A statement lost to a concurrent transaction (or the Data API was busy): retry it."""


def is_transient(error: str) -> bool:
    """Is this Redshift error one that retrying the transaction resolves?"""
    text = str(error).lower()
    return any(pattern in text for pattern in TRANSIENT_ERRORS)


def copy_manifest(lake: Lake, part_files: tuple[ObjectInfo, ...]) -> bytes:
    """A COPY manifest of exactly these files; parquet COPY requires each file's content_length."""
    entries = [
        {
            "url": lake.uri(PROCESSED, part.key),
            "mandatory": True,
            "meta": {"content_length": part.size},
        }
        for part in part_files
    ]
    return json.dumps({"entries": entries}, indent=2).encode()


def staging_table(dataset: Dataset) -> str:
    return f"stage_{dataset.table}"


def stage_sql(dataset: Dataset) -> str:
    """A session-temporary table with the parts' columns in their order (`table_columns`).

    COPY from parquet maps columns by position and takes no column list
    (https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-copy-from-columnar.html);
    a table an earlier version made has its added columns at the end, so the parts are copied
    here and inserted into the table by name. Temporary: each load's session has its own.
    """
    columns = ", ".join(
        f"{name} {Dialect.REDSHIFT.type_name(column_type)}"
        for name, column_type in dataset.table_columns
    )
    return f"CREATE TEMP TABLE {staging_table(dataset)} ({columns})"


def copy_sql(dataset: Dataset, manifest_uri: str, role_arn: str) -> str:
    return (
        f"COPY {staging_table(dataset)} FROM '{manifest_uri}' IAM_ROLE '{role_arn}' "
        "FORMAT AS PARQUET MANIFEST"
    )


def insert_sql(dataset: Dataset) -> str:
    names = ", ".join(dataset.column_names)
    return f"INSERT INTO {dataset.table} ({names}) SELECT {names} FROM {staging_table(dataset)}"


# The sentence the run check fails its batch with: how a repeated publish is recognised.
ALREADY_PUBLISHED = "already published"


def _failing_count_sql(table: str, what: str, expected: int, where: str = "") -> str:
    """A statement that errors, failing the batch's transaction, only when the count differs.

    Redshift has no RAISE outside stored procedures. This SELECT returns no row when `table`
    (`where` it holds) has `expected` rows; otherwise it casts a sentence to INTEGER, which
    errors. The sentence includes COUNT(*), so it is not a constant the planner could fold (and
    fail on) up front.
    """
    return (
        f"SELECT CAST('count mismatch for {what}: expected {expected} rows, "
        f"found ' || CAST(COUNT(*) AS VARCHAR) AS INTEGER) FROM {table}"
        f"{f' WHERE {where}' if where else ''} HAVING COUNT(*) <> {expected}"
    )


def count_check_sql(dataset: Dataset, month: Month, expected: int) -> str:
    """Fails the month's batch unless the month holds exactly the rows transform wrote."""
    return _failing_count_sql(
        dataset.table, f"{dataset.table} {month}", expected,
        f"{dataset.month_column} = {month_literal(month)}",
    )  # fmt: skip


def lock_sql(dataset: Dataset) -> str:
    """The batch's first statement: one publish of the table at a time (module docstring)."""
    return f"LOCK {dataset.table}, {ledger.TABLE}"


def _month_where(dataset: Dataset, month: Month) -> str:
    name = sql_text(dataset.name, Dialect.REDSHIFT)
    return f"dataset = {name} AND source_month = {month_literal(month)}"


def run_check_sql(dataset: Dataset, month: Month, run_id: str) -> str:
    """Fails the batch, naming ALREADY_PUBLISHED, when `run_id` is the month's newest ledger row:
    the run was published and nothing has replaced it since. (An older publication of the run
    does not count: publishing it again is a rollback, and a new ledger row.) Under the batch's
    LOCK no other publish can come between this check and the commit."""
    where = _month_where(dataset, month)
    run = sql_text(run_id, Dialect.REDSHIFT)
    return (
        f"SELECT CAST('{ALREADY_PUBLISHED}: run {run_id} is {dataset.name} {month} as published, "
        f"ledger rows ' || CAST(COUNT(*) AS VARCHAR) AS INTEGER) FROM {ledger.TABLE} "
        f"WHERE {where} AND run_id = {run} AND published_at = "
        f"(SELECT MAX(published_at) FROM {ledger.TABLE} WHERE {where}) HAVING COUNT(*) > 0"
    )


def ledger_row_sql(dataset: Dataset, month: Month, row: ledger.LedgerRow) -> str:
    """The publish's ledger row; `rows_replaced` is the month's rows now, before the delete (a
    scalar subquery is valid wherever an expression is, VALUES included:
    https://docs.aws.amazon.com/redshift/latest/dg/r_scalar_subqueries.html)."""
    return ledger_insert_sql(row, f"({count_month_sql(dataset, month)})", Dialect.REDSHIFT)


def zones_batch(lookup: ZonesInput, role_arn: str, now: datetime) -> list[str]:
    """`taxi_zones` replaced by the lake's lookup (COPY of TLC's CSV), checked, versioned and
    granted to both database roles, as one transaction: a failure leaves the previous zones and
    their version."""
    return [
        create_zones_sql(Dialect.REDSHIFT),
        create_reference_sql(),
        f"DELETE FROM {zones.TABLE}",
        f"COPY {zones.TABLE} FROM '{lookup.uri}' IAM_ROLE '{role_arn}' "
        "FORMAT AS CSV IGNOREHEADER 1",
        _failing_count_sql(zones.TABLE, zones.TABLE, lookup.rows),
        *record_version_sql(lookup, now),
        *grants_sql([zones.TABLE, REFERENCE_TABLE]),
    ]


def schema_state_sql(dataset: Dataset) -> str:
    """Each column of the table, of its `_clean` view and of the ledger, as (object, column)."""
    return catalog_columns_sql(_schema_objects(dataset))


def catalog_columns_sql(tables: Iterable[str]) -> str:
    """(table, column) rows of `tables` in the current schema, whoever asks.

    From pg_catalog, not information_schema: information_schema.columns lists only the tables
    the user holds a privilege on itself, so a table readable through a database role
    (`tlc_reader`, `tlc_loader`: pipeline.contract.access) looks missing. Whether the user may
    read it is the query's own answer (`NoAccess`).
    """
    names = ", ".join(f"'{name}'" for name in tables)
    return (
        "SELECT c.relname AS table_name, a.attname AS column_name "
        "FROM pg_catalog.pg_attribute a "
        "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE n.nspname = current_schema() AND c.relname IN ({names}) "
        "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum"
    )


class NoAccess(StatementFailed):
    """The table exists, but the identity asking may not read it (`permission denied`)."""


PERMISSION_DENIED = "permission denied"


def _schema_objects(dataset: Dataset) -> list[str]:
    return [dataset.table, *([dataset.clean_table] if dataset.flags else []), ledger.TABLE,
            ledger.PROFILES_TABLE]  # fmt: skip


def clean_view_columns(dataset: Dataset) -> tuple[str, ...]:
    """The columns the `_clean` view has: every table column but the flags."""
    flags = {flag.name for flag in dataset.flags}
    return tuple(name for name in dataset.column_names if name not in flags)


def schema_batch(
    dataset: Dataset,
    table_columns: tuple[str, ...],
    view_columns: tuple[str, ...] = (),
    ledger_columns: tuple[str, ...] = ledger.NAMES,
    profile_columns: tuple[str, ...] = ledger.PROFILE_NAMES,
) -> list[BatchStatement]:
    """What brings the table, its view and the ledger to the contract, with their grants; []
    when they are.

    `table_columns`/`view_columns`/`ledger_columns`: what information_schema lists now (none:
    missing). The view is (re)created whenever the table changes or its columns are not the
    dataset's; the ledger is created when it is missing.
    """
    statements = []
    if not table_columns:
        statements.append(
            BatchStatement(BatchPart.CREATE_TABLE, create_table_sql(dataset, Dialect.REDSHIFT))
        )
    statements += [
        BatchStatement(BatchPart.ADD_COLUMN, sql)
        for sql in migration_sql(dataset, table_columns, Dialect.REDSHIFT)
    ]
    view = clean_view_sql(dataset)
    view_stale = view is not None and set(view_columns) != set(clean_view_columns(dataset))
    if view is not None and (statements or view_stale):
        statements.append(BatchStatement(BatchPart.CLEAN_VIEW, view))
    if statements:
        statements += [BatchStatement(BatchPart.GRANT, sql) for sql in object_grants_sql(dataset)]
    if not ledger_columns:
        statements.append(
            BatchStatement(BatchPart.CREATE_LEDGER, create_ledger_sql(Dialect.REDSHIFT))
        )
        statements += [BatchStatement(BatchPart.GRANT, sql) for sql in grants_sql([ledger.TABLE])]
    if not profile_columns:
        statements.append(
            BatchStatement(BatchPart.CREATE_LEDGER, create_profiles_sql(Dialect.REDSHIFT))
        )
        statements += [
            BatchStatement(BatchPart.GRANT, sql) for sql in grants_sql([ledger.PROFILES_TABLE])
        ]
    return statements


def publish_batch(
    dataset: Dataset,
    month: Month,
    manifest_uri: str | None,
    role_arn: str,
    expected: int,
    row: ledger.LedgerRow,
    profiles: list[dict[str, Any]] | None = None,
) -> list[BatchStatement]:
    """The month's publish, in order (module docstring). No manifest (no part files) means the
    month becomes empty. No DDL: the schema step has made the table and the ledger."""
    statements = [
        BatchStatement(BatchPart.LOCK, lock_sql(dataset)),
        BatchStatement(BatchPart.RUN_CHECK, run_check_sql(dataset, month, row.run_id)),
        BatchStatement(BatchPart.LEDGER_ROW, ledger_row_sql(dataset, month, row)),
        BatchStatement(BatchPart.DELETE_MONTH, delete_month_sql(dataset, month)),
    ]
    if manifest_uri is not None:
        statements += [
            BatchStatement(BatchPart.STAGE, stage_sql(dataset)),
            BatchStatement(BatchPart.COPY, copy_sql(dataset, manifest_uri, role_arn)),
            BatchStatement(BatchPart.INSERT, insert_sql(dataset)),
        ]
    statements.append(
        BatchStatement(BatchPart.COUNT_CHECK, count_check_sql(dataset, month, expected))
    )
    # The month's column profile, linked to its ledger row (none in counts made before it).
    insert_profiles = profiles_insert_sql(profiles or [], Dialect.REDSHIFT)
    if insert_profiles is not None:
        statements += [
            BatchStatement(BatchPart.PROFILE, profiles_delete_sql(row, Dialect.REDSHIFT)),
            BatchStatement(BatchPart.PROFILE, insert_profiles),
        ]
    return statements


def require_workgroup_support(client: Any) -> None:
    """Fail clearly when this boto3 cannot address a Serverless workgroup.

    Glue Python Shell 3.9 bundles an older boto3 whose redshift-data model lacks WorkgroupName;
    the request would otherwise fail with a confusing parameter validation error.
    """
    operation = client.meta.service_model.operation_model("BatchExecuteStatement")
    if "WorkgroupName" not in operation.input_shape.members:
        import botocore

        raise PipelineError(
            f"this botocore ({botocore.__version__}) has no WorkgroupName for redshift-data, so "
            f"it cannot reach Redshift Serverless; the load job needs {WORKGROUP_BOTOCORE}: "
            "give the Glue job --additional-python-modules with a newer boto3"
        )


def _check_settings(workgroup: str, database: str, copy_role_arn: str | None) -> None:
    if not str(workgroup).strip():
        raise InvalidInput("workgroup", workgroup, "the Redshift Serverless workgroup's name")
    if not str(database).strip():
        raise InvalidInput("database", database, "the Redshift database's name")
    if copy_role_arn is not None and not _ROLE_ARN.match(str(copy_role_arn)):
        raise InvalidInput(
            "copy role ARN", copy_role_arn, "an IAM role ARN, arn:aws:iam::<account>:role/<name>"
        )


class RedshiftDataApiWarehouse:
    """Redshift Serverless `workgroup`/`database`; COPY reads S3 as `copy_role_arn`.

    Without `copy_role_arn` only `month_counts` works (verify needs no COPY role).
    Without a `client`, one is made for `region` (the stack's; None: the environment's).
    `sleep`, `clock` and `draw` (the jitter) are injectable so tests poll without waiting.
    """

    def __init__(
        self,
        workgroup: str,
        database: str,
        copy_role_arn: str | None = None,
        *,
        client: Any = None,
        region: str | None = None,
        polling: Polling | None = None,
        retries: Retries | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        draw: Callable[[], float] = random.random,
    ) -> None:
        _check_settings(workgroup, database, copy_role_arn)
        if client is None:
            import boto3

            client = boto3.client("redshift-data", region_name=region)
        require_workgroup_support(client)
        self.client = client
        self.workgroup, self.database, self.copy_role_arn = workgroup, database, copy_role_arn
        self.polling = polling or Polling()
        self.retries = retries or Retries()
        self._sleep, self._clock, self._draw = sleep, clock, draw

    def publish_month(
        self, dataset: Dataset, month: Month, lake: Lake, keys: RunKeys, row: ledger.LedgerRow
    ) -> LoadResult:
        """Replace the month with the run's parts and add its ledger row, in one batch (module
        docstring); a run that is the month's current publication already changes nothing."""
        if self.copy_role_arn is None:
            raise InvalidInput(
                "copy role ARN", None, "the IAM role Redshift assumes to COPY from S3, to load"
            )
        started = self._clock()
        load = read_load_input(lake, keys)
        manifest_uri = lake.uri(PROCESSED, keys.copy_manifest_key)
        if not manifest_uri.startswith("s3://"):
            raise InvalidInput("lake", manifest_uri, "an S3 lake: Redshift COPY reads from S3")
        if load.part_files:
            lake.write_bytes(
                PROCESSED, keys.copy_manifest_key, copy_manifest(lake, load.part_files)
            )
        self._with_retries(f"the schema of {dataset.table}", lambda: self._ensure_schema(dataset))
        statements = publish_batch(
            dataset,
            month,
            manifest_uri if load.part_files else None,
            self.copy_role_arn,
            load.expected_rows,
            row,
            profile_rows(load.counts, row.run_id),
        )

        def publish() -> dict[str, Any] | None:
            described = self._run(
                "batch_execute_statement",
                f"tlc-elt-load-{dataset.name}-{month}",
                Sqls=[statement.sql for statement in statements],
            )
            if described["Status"] == FINISHED:
                return described
            if _already_published(described, statements):
                return None
            failure = _load_failure(dataset, month, load.expected_rows, statements, described)
            if not isinstance(failure, CountMismatch) and is_transient(str(failure)):
                raise TransientStatementFailure(str(failure))
            raise failure

        described = self._with_retries(f"loading {dataset.table} {month}", publish)
        result = LoadResult(
            dataset=dataset.name,
            month=str(month),
            rows_deleted=None,
            rows_inserted=0,
            expected_rows=load.expected_rows,
            part_files=load.keys,
            seconds=self._clock() - started,
            already_published=described is None,
        )
        if described is None:
            return result
        return dataclasses.replace(
            result,
            rows_deleted=_result_rows(described, statements, BatchPart.DELETE_MONTH),
            # The count check ran in the same transaction and passed: the month holds exactly
            # the expected rows, all of them inserted by this batch's COPY.
            rows_inserted=load.expected_rows,
        )

    def ledger(self, dataset: Dataset | None = None) -> list[LedgerEntry]:
        """The ledger's rows (one dataset's, or all), newest first; [] before the first publish."""
        if not self._columns_of(ledger.TABLE, "tlc-elt-ledger-columns"):
            return []
        described = self._run(
            "execute_statement",
            "tlc-elt-ledger",
            Sql=ledger_select_sql(dataset, Dialect.REDSHIFT),
        )
        if described["Status"] != FINISHED:
            error = described.get("Error") or described["Status"]
            raise StatementFailed(f"reading {ledger.TABLE} failed: {error}")
        records = self._records(described["Id"]) if described.get("HasResultSet") else []
        return [_ledger_entry(record) for record in records]

    def schema_state(
        self, dataset: Dataset
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """(the table's, its `_clean` view's, the ledger's, the profiles' columns) now; () for a
        missing one."""
        described = self._run(
            "execute_statement",
            f"tlc-elt-schema-state-{dataset.name}",
            Sql=schema_state_sql(dataset),
        )
        if described["Status"] != FINISHED:
            error = described.get("Error") or described["Status"]
            failed = TransientStatementFailure if is_transient(error) else StatementFailed
            raise failed(f"reading the columns of {dataset.table} failed: {error}")
        records = self._records(described["Id"]) if described.get("HasResultSet") else []
        found: dict[str, list[str]] = {}
        for record in records:
            found.setdefault(record[0]["stringValue"], []).append(record[1]["stringValue"])
        return (
            tuple(found.get(dataset.table, ())),
            tuple(found.get(dataset.clean_table, ())),
            tuple(found.get(ledger.TABLE, ())),
            tuple(found.get(ledger.PROFILES_TABLE, ())),
        )

    def _ensure_schema(self, dataset: Dataset) -> None:
        """The schema step (module docstring): nothing when the table, view and ledger are."""
        statements = schema_batch(dataset, *self.schema_state(dataset))
        if not statements:
            return
        described = self._run(
            "batch_execute_statement",
            f"tlc-elt-schema-{dataset.name}",
            Sqls=[statement.sql for statement in statements],
        )
        if described["Status"] == FINISHED:
            return
        failed = _failed_part(described, statements)
        sub = _sub_statement(described, statements, failed.part) if failed else None
        error = (sub or {}).get("Error") or described.get("Error") or described["Status"]
        which = f"the {failed.part.value} statement" if failed else "the batch"
        message = (
            f"creating or migrating {dataset.table} (or {ledger.TABLE}): {which} "
            f"{described['Status'].lower()} "
            f"({error}); nothing was changed"
        )
        raise (TransientStatementFailure if is_transient(error) else StatementFailed)(message)

    def _with_retries(self, what: str, attempt: Callable[[], T]) -> T:
        """`attempt()`, again after a wait while it fails transiently, at most `attempts` times."""
        for failures in range(1, self.retries.attempts + 1):
            try:
                return attempt()
            except TransientStatementFailure as failure:
                if failures == self.retries.attempts:
                    raise StatementFailed(
                        f"{failure}; {what} still lost to concurrent transactions after "
                        f"{failures} attempts: run the month again when the others are done"
                    ) from failure
                self._sleep(self.retries.wait(failures, self._draw()))
        raise AssertionError("unreachable: Retries.attempts is at least 1")

    def refresh_zones(self, lake: Lake) -> ZonesResult:
        """`taxi_zones` from the lake's lookup: a read when it is current, else one batch.

        The version is read without writing (the reference table may not exist yet), so the
        loads of a backfill that find the lookup current never write the same table; when two
        find it stale at once, one refresh loses to the other's transaction and is retried
        (`Retries`), then finds it current.
        """
        lookup = read_zones_input(lake)
        if self.copy_role_arn is None:
            raise InvalidInput(
                "copy role ARN", None, "the IAM role Redshift assumes to COPY the zone lookup"
            )
        if not lookup.uri.startswith("s3://"):
            raise InvalidInput("lake", lookup.uri, "an S3 lake: Redshift COPY reads from S3")
        return self._with_retries(zones.TABLE, lambda: self._refresh_zones(lookup))

    def _refresh_zones(self, lookup: ZonesInput) -> ZonesResult:
        if self._loaded_zones_version() == lookup.sha256:
            return ZonesResult(refreshed=False, rows=lookup.rows)
        assert self.copy_role_arn is not None  # checked by refresh_zones
        described = self._run(
            "batch_execute_statement",
            "tlc-elt-taxi-zones",
            Sqls=zones_batch(lookup, self.copy_role_arn, datetime.now(timezone.utc)),
        )
        if described["Status"] != FINISHED:
            error = described.get("Error") or described["Status"]
            failed = TransientStatementFailure if is_transient(error) else StatementFailed
            raise failed(
                f"loading {zones.TABLE} from {lookup.uri} failed ({error}); the batch was rolled "
                "back, the previous zones are intact"
            )
        return ZonesResult(refreshed=True, rows=lookup.rows)

    def _loaded_zones_version(self) -> str | None:
        if not self._columns_of(REFERENCE_TABLE, "tlc-elt-reference-columns"):
            return None
        described = self._run(
            "execute_statement", "tlc-elt-zones-version", Sql=loaded_version_sql()
        )
        if described["Status"] != FINISHED:
            error = described.get("Error") or described["Status"]
            failed = TransientStatementFailure if is_transient(error) else StatementFailed
            raise failed(f"reading the version of {zones.TABLE} failed: {error}")
        records = self._records(described["Id"]) if described.get("HasResultSet") else []
        return records[0][0]["stringValue"] if records else None

    def table_columns(self, dataset: Dataset) -> tuple[str, ...]:
        """The table's columns now; () when it does not exist yet."""
        return self._columns_of(dataset.table, f"tlc-elt-columns-{dataset.name}")

    def _columns_of(self, table: str, name: str) -> tuple[str, ...]:
        described = self._run("execute_statement", name, Sql=catalog_columns_sql([table]))
        if described["Status"] != FINISHED:
            error = described.get("Error") or described["Status"]
            raise StatementFailed(f"reading the columns of {table} failed: {error}")
        records = self._records(described["Id"]) if described.get("HasResultSet") else []
        return tuple(record[1]["stringValue"] for record in records)

    def month_counts(self, dataset: Dataset, limit: int | None = None) -> list[MonthCount]:
        existing = self.table_columns(dataset)
        if not existing:
            return []  # nothing loaded yet
        described = self._run(
            "execute_statement",
            f"tlc-elt-verify-{dataset.name}",
            Sql=month_counts_sql(dataset, limit, clean=has_flags(dataset, existing)),
        )
        if described["Status"] != FINISHED:
            error = described.get("Error") or described["Status"]
            if PERMISSION_DENIED in str(error).lower():
                raise NoAccess(
                    f"no access: {dataset.table} exists in {self.database}, but this identity "
                    f"may not read it ({error}). Read as the stack's reader role "
                    "(readerRoleArn), or tag your identity RedshiftDbRoles=tlc_reader: README, "
                    "Operating a stack"
                )
            raise StatementFailed(f"the verify query on {dataset.table} failed: {error}")
        return [
            MonthCount(_month_of(record[0]), int(record[1]["longValue"]), _count(record[2]))
            for record in self._records(described["Id"])
        ]

    def _run(self, operation: str, name: str, **sql: Any) -> dict[str, Any]:
        """Submit one request and wait for it to end (FINISHED, FAILED or ABORTED)."""
        from botocore.exceptions import ClientError

        try:
            submitted = getattr(self.client, operation)(
                WorkgroupName=self.workgroup, Database=self.database, StatementName=name, **sql
            )
        except ClientError as error:
            refused = f"the Data API refused {name}: {error}"
            if error_code(error) in TRANSIENT_REFUSALS:
                raise TransientStatementFailure(refused) from error
            raise StatementFailed(refused) from error
        return self._wait(submitted["Id"], name)

    def _describe(self, statement_id: str, name: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            return self.client.describe_statement(Id=statement_id)
        except ClientError as error:
            raise StatementFailed(
                f"reading the status of {name} ({statement_id}) failed: {error_text(error)}; the "
                f"statement may still be running (aws redshift-data describe-statement "
                f"--id {statement_id})"
            ) from error

    def _wait(self, statement_id: str, name: str) -> dict[str, Any]:
        deadline = self._clock() + self.polling.deadline
        wait = self.polling.first_wait
        while True:
            described = self._describe(statement_id, name)
            if described["Status"] == FINISHED or described["Status"] in FAILED_STATES:
                return described
            now = self._clock()
            if now >= deadline:
                raise self._cancel(statement_id, name)
            self._sleep(min(wait, deadline - now))
            wait = min(wait * 2, self.polling.max_wait)

    def _cancel(self, statement_id: str, name: str) -> StatementFailed:
        from botocore.exceptions import ClientError

        outcome = "cancelled; its transaction rolls back"
        try:
            self.client.cancel_statement(Id=statement_id)
        except ClientError as error:
            outcome = f"and cancelling it failed ({error})"
        return StatementFailed(
            f"{name} ({statement_id}) did not finish within {self.polling.deadline:g} s: {outcome}"
        )

    def has_table(self, name: str) -> bool:
        return bool(self._columns_of(name, f"tlc-elt-has-{name}"[:500]))

    def rows(self, sql: str) -> list[dict[str, Any]]:
        """A read-only query's rows as dicts, named by the result's column metadata (the
        report's and `months`' SQL, the same text as on DuckDB)."""
        described = self._run("execute_statement", "tlc-elt-read", Sql=sql)
        if described["Status"] != FINISHED:
            error = described.get("Error") or described["Status"]
            if PERMISSION_DENIED in str(error).lower():
                raise NoAccess(f"no access: {error}; read as the reader role (readerRoleArn)")
            raise StatementFailed(f"the query failed: {error}")
        if not described.get("HasResultSet"):
            return []
        names, records = self._result(described["Id"])
        return [dict(zip(names, (_value(field) for field in record))) for record in records]

    def _result(self, statement_id: str) -> tuple[list[str], list[list[dict[str, Any]]]]:
        from botocore.exceptions import ClientError

        names: list[str] = []
        records: list[list[dict[str, Any]]] = []
        pages = {"Id": statement_id}
        try:
            while True:
                page = self.client.get_statement_result(**pages)
                names = names or [column["name"] for column in page.get("ColumnMetadata", [])]
                records.extend(page["Records"])
                if not page.get("NextToken"):
                    return names, records
                pages["NextToken"] = page["NextToken"]
        except ClientError as error:
            raise StatementFailed(
                f"reading the result of statement {statement_id} failed: {error_text(error)}"
            ) from error

    def _records(self, statement_id: str) -> list[list[dict[str, Any]]]:
        from botocore.exceptions import ClientError

        records: list[list[dict[str, Any]]] = []
        pages = {"Id": statement_id}
        try:
            while True:
                page = self.client.get_statement_result(**pages)
                records.extend(page["Records"])
                if not page.get("NextToken"):
                    return records
                pages["NextToken"] = page["NextToken"]
        except ClientError as error:
            raise StatementFailed(
                f"reading the result of statement {statement_id} failed: {error_text(error)} "
                f"(aws redshift-data get-statement-result --id {statement_id})"
            ) from error


def _value(field: dict[str, Any]) -> Any:
    """A Data API field's value (one of its typed members), None for NULL."""
    if field.get("isNull"):
        return None
    for member in ("stringValue", "longValue", "booleanValue", "doubleValue"):
        if member in field:
            return field[member]
    return None


def _ledger_entry(record: list[dict[str, Any]]) -> LedgerEntry:
    """A row of `ledger_select_sql` (its columns in `ledger.NAMES` order)."""
    values = dict(zip(ledger.NAMES, (_value(field) for field in record)))
    return LedgerEntry(
        dataset=str(values["dataset"]),
        month=_month_of({"stringValue": values["source_month"]}),
        run_id=str(values["run_id"]),
        published_at=str(values["published_at"]),
        engine=str(values["engine"]),
        source=str(values["source"]),
        rows_in=int(values["rows_in"]),
        rows_loaded=int(values["rows_loaded"]),
        rows_quarantined=int(values["rows_quarantined"]),
        rows_replaced=int(values["rows_replaced"] or 0),
        forced=bool(values["forced"]),
        findings=str(values["findings"] or "[]"),
    )


def _already_published(described: dict[str, Any], statements: list[BatchStatement]) -> bool:
    """The batch failed at the run check: the run is the month's publication already."""
    failed = _failed_part(described, statements)
    if failed is None or failed.part is not BatchPart.RUN_CHECK:
        return False
    sub = _sub_statement(described, statements, BatchPart.RUN_CHECK) or {}
    return ALREADY_PUBLISHED in str(sub.get("Error") or described.get("Error") or "")


def _count(field: dict[str, Any]) -> int | None:
    return None if field.get("isNull") else int(field["longValue"])


def _month_of(field: dict[str, Any]) -> Month:
    day = date.fromisoformat(field["stringValue"][:10])
    return Month(day.year, day.month)


def _sub_statement(
    described: dict[str, Any], statements: list[BatchStatement], part: BatchPart
) -> dict[str, Any] | None:
    """The sub-statement for `part`; Data API ids end in `:<1-based position in the batch>`."""
    position = next(i for i, s in enumerate(statements, 1) if s.part is part)
    for sub in described.get("SubStatements", []):
        if sub["Id"].rsplit(":", 1)[-1] == str(position):
            return sub
    return None


def _result_rows(
    described: dict[str, Any], statements: list[BatchStatement], part: BatchPart
) -> int | None:
    sub = _sub_statement(described, statements, part)
    rows = sub.get("ResultRows", -1) if sub else -1
    return rows if rows >= 0 else None  # the Data API reports -1 for "unknown"


def _failed_part(
    described: dict[str, Any], statements: list[BatchStatement]
) -> BatchStatement | None:
    subs = described.get("SubStatements", [])
    for status in FAILED_STATES:  # the statement that FAILED, else the first one ABORTED
        for sub in subs:
            suffix = sub["Id"].rsplit(":", 1)[-1]
            if sub["Status"] == status and suffix.isdigit() and 0 < int(suffix) <= len(statements):
                return statements[int(suffix) - 1]
    return None


def _load_failure(
    dataset: Dataset,
    month: Month,
    expected: int,
    statements: list[BatchStatement],
    described: dict[str, Any],
) -> PipelineError:
    failed = _failed_part(described, statements)
    sub = _sub_statement(described, statements, failed.part) if failed else None
    error = (sub or {}).get("Error") or described.get("Error") or described["Status"]
    count_check_failed = failed is not None and failed.part is BatchPart.COUNT_CHECK
    if count_check_failed and (sub or {}).get("Status") == "FAILED":
        found = _found_rows(described, statements, error)
        if found is not None:
            return CountMismatch(count_mismatch_message(dataset, month, expected, found))
        return CountMismatch(
            f"{dataset.table} {month}: transform wrote {expected} rows (counts JSON rows_loaded) "
            f"but the load inserted a different number ({error}); rolled back, the month's "
            "previous rows are intact"
        )
    which = f"the {failed.part.value} statement" if failed else "the batch"
    return StatementFailed(
        f"loading {dataset.table} {month}: {which} "
        f"{described['Status'].lower()} ({error}); the batch was rolled back, the month's "
        "previous rows are intact"
    )


def _found_rows(
    described: dict[str, Any], statements: list[BatchStatement], error: str
) -> int | None:
    """The month's rows the check saw: from its own message, else the INSERT's ResultRows."""
    match = re.search(r"found (\d+)", error)
    if match:
        return int(match.group(1))
    if not any(s.part is BatchPart.INSERT for s in statements):
        return 0  # no part files: the batch only deleted the month
    return _result_rows(described, statements, BatchPart.INSERT)
