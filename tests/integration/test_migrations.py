"""Alembic is the only author of the schema: one head, no drift, exact triggers, round trip."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from dispatcher.db.engine import make_engine
from dispatcher.db.migrate import downgrade_to, script_location, upgrade_to_head
from dispatcher.db.schema import SCHEMA_HEAD, ensure_schema, stored_revision
from dispatcher.db.tables import metadata

GUARDED = {
    "assignments": "version",
    "audit_results": "version",
    "evidence_records": "version",
    "tour_instances": "run",
    "drivers": "run",
    "availability": "run",
}
EXPECTED_TRIGGERS = {
    "audit_events_no_update",
    "audit_events_no_delete",
    "audit_events_append_at_tip",
    "runs_locked_no_update",
    "runs_locked_no_delete",
    "plan_versions_locked_no_insert",
    "plan_versions_locked_no_update",
    "plan_versions_locked_no_delete",
} | {f"{table}_locked_no_{event}" for table in GUARDED for event in ("insert", "update", "delete")}


def _triggers(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as con:
        return {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}


def test_single_head_matches_the_hot_path_constant() -> None:
    heads = ScriptDirectory(str(script_location())).get_heads()
    assert heads == [SCHEMA_HEAD]


def test_models_and_migrations_agree(db_path: Path) -> None:
    engine = make_engine(f"sqlite:///{db_path}")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    engine.dispose()


def test_upgrade_head_creates_exact_trigger_set(db_path: Path) -> None:
    assert _triggers(db_path) == EXPECTED_TRIGGERS


def test_downgrade_and_upgrade_round_trip_keeps_triggers(tmp_path: Path) -> None:
    path = tmp_path / "round.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_to_head(engine)
    downgrade_to(engine, "base")
    assert _triggers(path) == set()
    assert stored_revision(engine) is None
    upgrade_to_head(engine)
    assert _triggers(path) == EXPECTED_TRIGGERS
    assert stored_revision(engine) == SCHEMA_HEAD
    engine.dispose()


def test_first_use_creates_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "new" / "first.db"
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    assert stored_revision(engine) == SCHEMA_HEAD
    engine.dispose()


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(db_path: Path) -> None:
    engine = make_engine(f"sqlite:///{db_path}")
    with engine.connect() as connection:
        pragma = connection.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA busy_timeout").scalar() == 5000
    engine.dispose()
