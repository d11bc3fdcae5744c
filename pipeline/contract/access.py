"""Who may read and write the warehouse: two database roles, and the SQL that sets them up.

The Data API signs in to Redshift Serverless as a database user derived from the caller's IAM
identity (`IAMR:<role name>`, `IAM:<user name>`), which by itself owns and may read nothing
another user made. So access goes through two database roles:

- `tlc_loader`: writes every dataset's table (the load job's IAM role carries it);
- `tlc_reader`: reads every table and `_clean` view (the stack's reader IAM role, and any
  operator identity tagged for it).

An IAM role or user tagged `RedshiftDbRoles=<role>` gets that database role when it signs in
through GetCredentials (the Data API and Query Editor v2 do):
https://docs.aws.amazon.com/redshift/latest/mgmt/redshift-iam-access-federated-db-roles.html
https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-iam-credentials-use-case.html

Creating a role needs a superuser (or the CREATE ROLE permission), which no IAM-derived user
is: https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_ROLE.html. The stack therefore runs
`access_procedure_sql` and `CALL_ACCESS_PROCEDURE` as the namespace's admin at deploy time
(components.analytics). CREATE ROLE has no IF NOT EXISTS and a failing statement fails its
whole transaction, so the setup is a stored procedure that checks the catalog first and runs
each statement through EXECUTE: calling it again changes nothing that is already right.
https://docs.aws.amazon.com/redshift/latest/dg/stored-procedure-overview.html

The load grants both roles on every object it creates (`object_grants_sql`, in the same
transaction as the CREATE), so the grants survive a table being dropped and made again; the
procedure grants them on objects an earlier version made. A replaced load role signs in as a
new database user, which the tag puts in `tlc_loader`: it keeps deleting, copying and inserting.
Standard library only: the Pulumi program and the load job both build this SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pipeline.contract import ledger, zones
from pipeline.contract.datasets import Dataset
from pipeline.contract.errors import InvalidInput

# The zone lookup and its version (`pipeline.warehouse.zones`), and the ledger of publishes
# (`pipeline.contract.ledger`, which `verify` and the readers read), beside the datasets' tables.
REFERENCE_TABLES = (zones.TABLE, zones.VERSION_TABLE, ledger.TABLE, ledger.PROFILES_TABLE)
LOADER_ROLE = "tlc_loader"
READER_ROLE = "tlc_reader"
# The IAM tag whose value (database role names, colon-separated) GetCredentials grants.
DB_ROLES_TAG = "RedshiftDbRoles"
SCHEMA = "public"
PROCEDURE = "tlc_elt_grant_access"
CALL_ACCESS_PROCEDURE = f"CALL {PROCEDURE}()"
# IAM role and user names: letters, digits and +=,.@_- (no quotes, so safe inside "...").
_IAM_NAME = re.compile(r"^[A-Za-z0-9+=,.@_-]{1,64}$")


def role_user(role_name: str) -> str:
    """The database user the Data API signs in as for an IAM role: `IAMR:<role name>`."""
    if not _IAM_NAME.match(str(role_name)):
        raise InvalidInput("IAM role name", role_name, "1-64 of letters, digits and +=,.@_-")
    return f"IAMR:{role_name}"


def object_grants_sql(dataset: Dataset) -> list[str]:
    """What every object of a dataset grants: read to the readers, everything to the loaders.

    Run by the object's owner right after it is created or replaced (the load's schema step),
    and by the admin for objects that exist already (the access procedure).
    """
    return grants_sql([dataset.table, *([dataset.clean_table] if dataset.flags else [])])


def grants_sql(objects: Sequence[str]) -> list[str]:
    names = ", ".join(objects)
    return [
        f"GRANT SELECT ON {names} TO ROLE {READER_ROLE}",
        f"GRANT ALL ON {names} TO ROLE {LOADER_ROLE}",
    ]


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _execute(sql: str, indent: str = "    ") -> str:
    return f"{indent}EXECUTE {_quoted(sql)};"


def _if(condition: str, statements: Sequence[str]) -> list[str]:
    return [f"  IF {condition} THEN", *(_execute(sql) for sql in statements), "  END IF;"]


def access_procedure_sql(
    datasets: Iterable[Dataset],
    loader_roles: Sequence[str] = (),
    reader_roles: Sequence[str] = (),
) -> str:
    """The admin's setup, as one idempotent stored procedure.

    Creates the two roles if missing; lets them use the schema (the loader may create in it);
    makes every loader a reader too; grants both roles on each dataset object that exists; and
    puts the given IAM roles' database users, where they exist already (they signed in before
    the roles did, so their tag could not map them), into their role.
    """
    datasets = tuple(datasets)
    lines = [f"CREATE OR REPLACE PROCEDURE {PROCEDURE}()", "AS $$", "BEGIN"]
    for role in (READER_ROLE, LOADER_ROLE):
        missing = f"NOT EXISTS (SELECT 1 FROM svv_roles WHERE role_name = {_quoted(role)})"
        lines += _if(missing, [f"CREATE ROLE {role}"])
    lines.append(_execute(f"GRANT USAGE ON SCHEMA {SCHEMA} TO ROLE {READER_ROLE}", "  "))
    lines.append(_execute(f"GRANT USAGE, CREATE ON SCHEMA {SCHEMA} TO ROLE {LOADER_ROLE}", "  "))
    nested = (
        "NOT EXISTS (SELECT 1 FROM svv_role_grants WHERE "
        f"role_name = {_quoted(LOADER_ROLE)} AND granted_role_name = {_quoted(READER_ROLE)})"
    )
    lines += _if(nested, [f"GRANT ROLE {READER_ROLE} TO ROLE {LOADER_ROLE}"])
    for table_name in (*(dataset.table for dataset in datasets), *REFERENCE_TABLES):
        table = (
            "EXISTS (SELECT 1 FROM pg_tables WHERE "
            f"schemaname = {_quoted(SCHEMA)} AND tablename = {_quoted(table_name)})"
        )
        lines += _if(table, grants_sql([table_name]))
    for dataset in datasets:
        if dataset.flags:
            view = (
                "EXISTS (SELECT 1 FROM pg_views WHERE "
                f"schemaname = {_quoted(SCHEMA)} AND viewname = {_quoted(dataset.clean_table)})"
            )
            lines += _if(view, grants_sql([dataset.clean_table]))
    for role, names in ((LOADER_ROLE, loader_roles), (READER_ROLE, reader_roles)):
        for name in names:
            user = role_user(name)
            exists = f"EXISTS (SELECT 1 FROM pg_user WHERE usename = {_quoted(user)})"
            ungranted = (
                "NOT EXISTS (SELECT 1 FROM svv_user_grants WHERE "
                f"user_name = {_quoted(user)} AND role_name = {_quoted(role)})"
            )
            lines += _if(f"{exists} AND {ungranted}", [f'GRANT ROLE {role} TO "{user}"'])
    lines += ["END;", "$$ LANGUAGE plpgsql"]
    return "\n".join(lines)
