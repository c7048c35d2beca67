"""64-bit ids (PostgreSQL): the five id sequences every site draws from, their columns and the
columns that refer to them become `bigint`.

Every depot login needs USAGE on the id sequences of the tables it inserts into, and USAGE
allows `nextval()`. A 32-bit sequence (2,147,483,647 values) can be used up by one depot with a
loop of `SELECT nextval(...)` or of failing inserts, and then no site of any tenant can import
a run, approve, request a repair or record a kill switch again. 64-bit sequences cannot be
used up that way (at a million values a second they last 290,000 years). Sequences stay
`serial`'s owned sequences, with the same grants; only their type and maximum change.

`dispatcher_record_check` takes the version's id, so its parameter becomes `bigint` too (a
client sends an id above 2^31 as `bigint`, which would find no `integer` function).

The columns' types change in place (each table is rewritten once, under its ACCESS EXCLUSIVE
lock: run the upgrade in a maintenance window, as docs/migrations.md says). No trigger, policy
or view depends on these columns, so none needs rebuilding; a test checks that dependence and
the types after the upgrade.

SQLite is unchanged: an INTEGER PRIMARY KEY is already a 64-bit row id, and INTEGER columns
store 64-bit values.

Revision ID: e2b8c4f0a011
Revises: d1a7b3e9f010
Create Date: 2026-12-03 19:00:00
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import op

revision = "e2b8c4f0a011"
down_revision = "d1a7b3e9f010"
branch_labels = None
depends_on = None

APP_ROLE = "dispatcher_app"
SEQUENCED = ("runs", "plan_versions", "repair_requests", "approvals", "kill_switch_history")
REFERENCES = {
    "run_pk": ("tour_instances", "drivers", "availability", "plan_versions", "repair_requests",
               "approvals"),
    "version_pk": ("assignments", "audit_results", "evidence_records", "version_checks"),
}  # fmt: skip
OLD_CHECK = "dispatcher_record_check(integer, text, text, timestamptz)"
NEW_CHECK = "dispatcher_record_check(bigint, text, text, timestamptz)"


def _record_check_body(id_type: str) -> str:
    """The function of d1a7b3e9f010, with its version id of the given type."""
    path = Path(__file__).with_name("2026_12_03_1300_d1a7b3e9f010_updates_by_function.py")
    spec = importlib.util.spec_from_file_location("dispatcher_migration_d1a7b3e9f010", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    body = str(module.FUNCTIONS[OLD_CHECK])
    return body.replace("p_version_pk integer", f"p_version_pk {id_type}", 1)


def _retype(id_type: str) -> None:
    for table in SEQUENCED:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN id TYPE {id_type}")
        op.execute(f"ALTER SEQUENCE {table}_id_seq AS {id_type}")
    for column, tables in REFERENCES.items():
        for table in tables:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {id_type}")


def _replace_check(old: str, new: str, id_type: str) -> None:
    op.execute(f"DROP FUNCTION {old}")
    op.execute(_record_check_body(id_type))
    op.execute(f"REVOKE ALL ON FUNCTION {new} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {new} TO {APP_ROLE}")
    op.execute(
        f"""DO $$ BEGIN
  EXECUTE format('ALTER FUNCTION {new} SET search_path = %I, pg_temp', current_schema());
END $$"""
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _retype("bigint")
    _replace_check(OLD_CHECK, NEW_CHECK, "bigint")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _replace_check(NEW_CHECK, OLD_CHECK, "integer")
    # fails (and changes nothing) once an id above 2^31 - 1 exists: such a database cannot go back
    _retype("integer")
