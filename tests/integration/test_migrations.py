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

APPEND_ONLY = (  # no UPDATE, no DELETE
    "audit_events", "runs", "plan_versions", "evidence_records", "approvals",
    "kill_switch_history", "assignments", "audit_results", "tour_instances", "drivers",
    "availability", "sites", "repair_request_ids", "database_flags", "tenants",
)  # fmt: skip
FORWARD_ONLY = ("site_settings", "users", "repair_requests")  # no DELETE, UPDATE only forward
EXPECTED_TRIGGERS = (
    {f"{table}_no_{event}" for table in APPEND_ONLY for event in ("update", "delete")}
    | {f"{table}_no_delete" for table in FORWARD_ONLY}
    | {f"{table}_bound_update" for table in FORWARD_ONLY}
    | {
        "audit_events_append_at_tip",
        "audit_events_time_forward",
        "audit_events_site_chain_opens",
        "audit_events_well_formed",
        "audit_events_size",
        "version_checks_own_version_insert",
        "version_checks_own_version_update",
        "runs_bound_insert",
        "plan_versions_bound_insert",
        "plan_versions_locked_insert",
        "evidence_records_bound_insert",
        "assignments_sealed_insert",
        "audit_results_sealed_insert",
        "tour_instances_sealed_insert",
        "availability_sealed_insert",
        "drivers_sealed_insert",
        "approvals_bound_insert",
        "approvals_single_lock",
        "sites_bound_insert",
        "site_settings_bound_insert",
        "users_bound_insert",
        "kill_switch_history_bound_insert",
        "repair_requests_bound_insert",
        "database_flags_bound_insert",
        "repair_request_ids_bound_insert",
        "tenants_bound_insert",
    }
)


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
