"""The warehouse's database roles: the grants every object gets, and the admin's idempotent setup
procedure that the stack runs at deploy time (pipeline.contract.access)."""

from __future__ import annotations

import re

import pytest

from pipeline.contract.access import (
    CALL_ACCESS_PROCEDURE,
    LOADER_ROLE,
    PROCEDURE,
    READER_ROLE,
    access_procedure_sql,
    object_grants_sql,
    role_user,
)
from pipeline.contract.datasets import DATASETS
from pipeline.contract.errors import InvalidInput

LOAD_ROLE, READER_IAM_ROLE = "etl-load_redshift-role-1a2b3c4", "tlc-elt-dev-reader"


@pytest.mark.parametrize("dataset", DATASETS.values(), ids=list(DATASETS))
def test_every_object_is_readable_by_readers_and_writable_by_loaders(dataset):
    objects = [dataset.table, *([dataset.clean_table] if dataset.flags else [])]
    assert object_grants_sql(dataset) == [
        f"GRANT SELECT ON {', '.join(objects)} TO ROLE {READER_ROLE}",
        f"GRANT ALL ON {', '.join(objects)} TO ROLE {LOADER_ROLE}",
    ]


def executed(sql: str) -> list[str]:
    """The statements the procedure runs, unquoted from its EXECUTE '...' lines."""
    return [m.replace("''", "'") for m in re.findall(r"EXECUTE '((?:[^']|'')*)';", sql)]


def guarded(sql: str, statement: str) -> str:
    """The IF condition around `statement` ('' when it runs unconditionally)."""
    lines = sql.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == f"EXECUTE '{statement}';")
    while at > 0 and lines[at - 1].strip().startswith("EXECUTE "):
        at -= 1  # another statement of the same IF block
    above = lines[at - 1].strip()
    return above[3:-5] if above.startswith("IF ") else ""


def test_the_setup_procedure_creates_each_role_only_when_missing():
    sql = access_procedure_sql(DATASETS.values(), [LOAD_ROLE], [READER_IAM_ROLE])

    assert sql.startswith(f"CREATE OR REPLACE PROCEDURE {PROCEDURE}()\nAS $$\nBEGIN\n")
    assert sql.endswith("END;\n$$ LANGUAGE plpgsql")
    assert f"CALL {PROCEDURE}()" == CALL_ACCESS_PROCEDURE
    for role in (READER_ROLE, LOADER_ROLE):
        # CREATE ROLE has no IF NOT EXISTS: the catalog is checked first.
        condition = f"NOT EXISTS (SELECT 1 FROM svv_roles WHERE role_name = '{role}')"
        assert guarded(sql, f"CREATE ROLE {role}") == condition
    assert guarded(sql, f"GRANT USAGE ON SCHEMA public TO ROLE {READER_ROLE}") == ""
    assert guarded(sql, f"GRANT USAGE, CREATE ON SCHEMA public TO ROLE {LOADER_ROLE}") == ""
    assert "svv_role_grants" in guarded(sql, f"GRANT ROLE {READER_ROLE} TO ROLE {LOADER_ROLE}")


def test_the_setup_procedure_grants_on_every_datasets_existing_objects():
    sql = access_procedure_sql(DATASETS.values())
    statements = executed(sql)
    for dataset in DATASETS.values():
        for role, privilege in ((READER_ROLE, "SELECT"), (LOADER_ROLE, "ALL")):
            grant = f"GRANT {privilege} ON {dataset.table} TO ROLE {role}"
            assert grant in statements
            assert f"tablename = '{dataset.table}'" in guarded(sql, grant)
            if dataset.flags:
                view = f"GRANT {privilege} ON {dataset.clean_table} TO ROLE {role}"
                assert f"viewname = '{dataset.clean_table}'" in guarded(sql, view)


def test_the_stacks_iam_users_that_signed_in_already_get_their_role():
    sql = access_procedure_sql(DATASETS.values(), [LOAD_ROLE], [READER_IAM_ROLE])
    for user, role in (
        (f"IAMR:{LOAD_ROLE}", LOADER_ROLE),
        (f"IAMR:{READER_IAM_ROLE}", READER_ROLE),
    ):
        condition = guarded(sql, f'GRANT ROLE {role} TO "{user}"')
        assert f"EXISTS (SELECT 1 FROM pg_user WHERE usename = '{user}')" in condition
        assert f"NOT EXISTS (SELECT 1 FROM svv_user_grants WHERE user_name = '{user}'" in condition


def test_role_users_are_the_data_apis_names_and_bad_names_are_refused():
    assert role_user("tlc-elt-dev-reader") == "IAMR:tlc-elt-dev-reader"
    with pytest.raises(InvalidInput, match='invalid IAM role name "x\'; DROP"'):
        role_user("x'; DROP")
