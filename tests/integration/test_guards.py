"""The guards a database holds are the migrations' own: a fresh database matches the committed
fingerprints on both backends, and a guard dropped, rewritten or added is named by `status`,
`audit verify --state`, `db backup` and `db restore` (which then restores nothing)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from dispatcher.db import guards
from dispatcher.db.engine import make_engine, sqlite_url
from dispatcher.db.guards_expected import EXPECTED
from dispatcher.db.migrate import upgrade_to_head
from tests.conftest import Cli
from tests.pgserver import OWNER, PgServer


def test_a_fresh_sqlite_database_holds_exactly_the_expected_guards(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "fresh.db"))
    upgrade_to_head(engine)
    with engine.connect() as connection:
        found = guards.installed(connection)
    engine.dispose()
    assert found == EXPECTED["sqlite"], "guards changed: run `make guards`"
    assert len(found) >= 50  # every guard of docs/data-model.md, not an empty list


@pytest.mark.postgres
def test_a_fresh_postgres_database_holds_exactly_the_expected_guards(pg_server: PgServer) -> None:
    pg_server.admin_sql(f"CREATE DATABASE fresh_guards OWNER {OWNER}")
    try:
        engine = make_engine(pg_server.url(OWNER, "fresh_guards"))
        upgrade_to_head(engine)
        with engine.connect() as connection:
            found = guards.installed(connection)
        engine.dispose()
    finally:
        pg_server.admin_sql("DROP DATABASE fresh_guards WITH (FORCE)")
    assert found == EXPECTED["postgresql"], "guards changed: run `make guards`"
    assert any(name.startswith("policy ") for name in found)


def test_differences_name_each_guard() -> None:
    expected = {"trigger a": "1", "trigger b": "2", "trigger c": "3"}
    found = {"trigger a": "1", "trigger b": "9", "trigger evil": "4"}
    assert guards.differences(found, expected) == [
        "trigger c: missing",
        "trigger b: changed since the migrations installed it",
        "trigger evil: not installed by any migration",
    ]
    assert guards.differences(expected, expected) == []


TAMPERING = {
    "dropped": (
        "DROP TRIGGER audit_events_no_delete",
        "trigger audit_events_no_delete: missing",
    ),
    "rewritten": (
        "DROP TRIGGER audit_events_no_delete; CREATE TRIGGER audit_events_no_delete BEFORE "
        "DELETE ON audit_events WHEN 0 BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); "
        "END",
        "trigger audit_events_no_delete: changed since the migrations installed it",
    ),
    "added": (
        "CREATE TRIGGER sneaky AFTER INSERT ON kill_switch_history BEGIN "
        "DELETE FROM kill_switch_history WHERE id = NEW.id; END",
        "trigger sneaky: not installed by any migration",
    ),
}


def _tamper(path: Path, sql: str) -> None:
    with closing(sqlite3.connect(path)) as con:
        con.executescript(sql)
        con.commit()


@pytest.mark.sqlite_only
@pytest.mark.parametrize("how", list(TAMPERING))
def test_a_tampered_guard_is_named_everywhere(
    site: Cli, db_path: Path, tmp_path: Path, how: str
) -> None:
    sql, line = TAMPERING[how]
    clean = tmp_path / "clean-backup.db"
    assert site("db", "backup", str(clean)).exit_code == 0
    _tamper(db_path, sql)
    status = site("status")
    assert "Guards:          ❌" in status.stdout and line in status.stdout.replace("\n", " ")
    assert json.loads(site("status", "--json").stdout)["guard_problems"] == [line]
    checked = site("audit", "verify", "--state")
    assert checked.exit_code == 1
    name, problem = line.split(": ", 1)
    assert f"Mismatch guards {name}: {problem}" in checked.stdout
    # A backup taken now is no backup, and a tampered file is never restored.
    copy = tmp_path / "tampered-backup.db"
    backed = site("db", "backup", str(copy))
    assert backed.exit_code == 1 and f"guard {line}" in backed.stderr
    shutil.copyfile(copy, tmp_path / "offered.db")
    restored = site("db", "restore", str(tmp_path / "offered.db"), "--force")
    assert restored.exit_code == 1 and f"guard {line}" in restored.stderr
    # The clean backup puts the guards back (the trail it holds is the live one's).
    assert site("db", "restore", str(clean), "--force").exit_code == 0
    assert "Guards:" not in site("status").stdout
