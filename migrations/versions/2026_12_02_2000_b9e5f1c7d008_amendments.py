"""Amendments: a sick call after the lock makes a new version of the locked run, with its own
publish and lock; the locked version stays immutable and sealed.

Until now a locked run took no new plan version and one lock. Now a locked run takes exactly one
kind of new version: an `amendment` that follows the run's newest version (parent = newest,
version = parent + 1); every other insert is refused as before. A lock may be given once per
version and only forward (never to a version at or below one already locked). The assignments,
audit results and evidence of every stored version stay immutable as they were.

Revision ID: b9e5f1c7d008
Revises: a8d4e0f6b007
Create Date: 2026-12-02 20:00:00
"""

from __future__ import annotations

from alembic import op

revision = "b9e5f1c7d008"
down_revision = "a8d4e0f6b007"
branch_labels = None
depends_on = None

LOCKED = "EXISTS (SELECT 1 FROM approvals WHERE run_pk = NEW.run_pk AND action = 'lock')"
AMENDMENT = (
    "NEW.origin = 'amendment' AND NEW.parent_version IS NOT NULL "
    "AND NEW.version = NEW.parent_version + 1 "
    "AND NEW.parent_version = (SELECT MAX(version) FROM plan_versions WHERE run_pk = NEW.run_pk)"
)
GUARDS = {
    # name: (table, old condition, new condition, message)
    "plan_versions_locked_insert": (
        "plan_versions",
        LOCKED,
        f"{LOCKED} AND NOT ({AMENDMENT})",
        "run is locked: no new plan versions but an amendment of its newest version",
    ),
    "approvals_single_lock": (
        "approvals",
        "NEW.action = 'lock' AND EXISTS (SELECT 1 FROM approvals "
        "WHERE run_pk = NEW.run_pk AND action = 'lock')",
        "NEW.action = 'lock' AND EXISTS (SELECT 1 FROM approvals "
        "WHERE run_pk = NEW.run_pk AND action = 'lock' AND version >= NEW.version)",
        "approvals: a version is locked once, and locks only move forward",
    ),
}
OLD_MESSAGES = {
    "plan_versions_locked_insert": "run is locked: no new plan versions",
    "approvals_single_lock": "approvals: a run is locked once",
}


def _sqlite(name: str, table: str, condition: str, message: str) -> None:
    op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute(
        f"CREATE TRIGGER {name} BEFORE INSERT ON {table}\nWHEN {condition}\n"
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
    )


def _postgres(name: str, condition: str, message: str) -> None:
    """Replace the trigger function's body (the trigger itself stays), resolving names in this
    schema alone like every dispatcher function."""
    op.execute(
        f"""CREATE OR REPLACE FUNCTION dispatcher_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF {condition} THEN
    RAISE EXCEPTION '{message}' USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$"""
    )
    op.execute(
        f"""DO $$ BEGIN
  EXECUTE format('ALTER FUNCTION dispatcher_{name}() SET search_path = %I, pg_temp',
                 current_schema());
END $$"""
    )


def _apply(new: bool) -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, (table, old, condition, message) in GUARDS.items():
        chosen, text = (condition, message) if new else (old, OLD_MESSAGES[name])
        if postgres:
            _postgres(name, chosen, text)
        else:
            _sqlite(name, table, chosen, text)


def upgrade() -> None:
    _apply(True)


def downgrade() -> None:
    _apply(False)
