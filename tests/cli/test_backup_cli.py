"""db backup and db restore: consistent copies, proven by integrity, chains and evidence."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import Cli

pytestmark = pytest.mark.sqlite_only  # SQLite files; PostgreSQL is backed up with pg_dump


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tamper(db: Path, sql: str) -> None:
    """Drop the guards, change the rows, put the guards back as they were (a careful insider:
    the guard check then has nothing to say, the other checks must)."""
    with closing(sqlite3.connect(db)) as con:
        triggers = con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type='trigger'"
        ).fetchall()
        for name, _ in triggers:
            con.execute(f"DROP TRIGGER {name}")
        con.execute(sql)
        for _, definition in triggers:
            con.execute(definition)
        con.commit()


def _events(db: Path) -> list[tuple[int, str]]:
    with closing(sqlite3.connect(db)) as con:
        return con.execute("SELECT seq, hash FROM audit_events ORDER BY seq").fetchall()


def test_backup_is_a_consistent_copy_while_a_writer_is_busy(
    site: Cli, db_path: Path, tmp_path: Path
) -> None:
    before = _events(db_path)
    with closing(sqlite3.connect(db_path, isolation_level=None)) as writer:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE version_checks SET status_reason = 'uncommitted'")
        made = site("db", "backup", str(tmp_path / "copy.db"), "--json")
        writer.execute("COMMIT")
    assert made.exit_code == 0, made.output
    report = json.loads(made.stdout)
    assert report["ok"] and report["integrity"] == "ok" and report["evidence_checked"] == 1
    assert [(c["tenant"], c["site"], c["problem"]) for c in report["chains"]] == [
        ("*", "*", None),  # the platform's chain (the database's creation)
        ("LTS", "*", None),  # the user registry
        ("LTS", "WIEN", None),
    ]
    assert sum(c["events"] for c in report["chains"]) == len(before)
    assert _events(tmp_path / "copy.db") == before
    with closing(sqlite3.connect(tmp_path / "copy.db")) as con:
        reasons = {row[0] for row in con.execute("SELECT status_reason FROM version_checks")}
    assert "uncommitted" not in reasons


def test_restore_brings_back_a_verified_database(site: Cli, db_path: Path, tmp_path: Path) -> None:
    backup = tmp_path / "copy.db"
    assert site("db", "backup", str(backup)).exit_code == 0
    before = _events(db_path)
    _tamper(db_path, "UPDATE audit_events SET reason = 'rewritten' WHERE seq = 2")
    assert site("audit", "verify").exit_code == 1
    refused = site("db", "restore", str(backup))
    assert refused.exit_code == 1 and "add --force" in refused.stderr
    restored = site("db", "restore", str(backup), "--force")
    assert restored.exit_code == 0, restored.output
    assert "LTS/WIEN: " in restored.stdout and "intact" in restored.stdout
    assert site("audit", "verify").exit_code == 0
    assert _events(db_path) == before
    assert site("show-run", "--json", _run_id(site)).exit_code == 0


def test_an_older_backup_does_not_silently_discard_the_trail(
    site: Cli, db_path: Path, tmp_path: Path
) -> None:
    """After the backup the global kill switch went on and a user was disabled: restoring the
    backup would lose both events. Refused, naming each chain, unless asked for in so many
    words; the database is untouched by the refusal."""
    backup = tmp_path / "monday.db"
    assert site("db", "backup", str(backup)).exit_code == 0
    stop = ("kill-switch", "activate", "--by", "admin01", "--reason", "Breach at the dispatch end")
    assert site(*stop).exit_code == 0
    assert (
        site(
            "users", "disable", "ops001", "--by", "admin01", "--reason", "Left the company"
        ).exit_code
        == 0
    )
    before = _events(db_path)
    refused = site("db", "restore", str(backup), "--force")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: The backup is older than the database's audit trail")
    assert "*/*: events after #1 (live tip #2)" in refused.stderr
    assert "LTS/*: events after #4 (live tip #5)" in refused.stderr
    assert "--discard-newer-events" in refused.stderr
    assert _events(db_path) == before
    assert json.loads(site("kill-switch", "status", "--json").stdout)["global_active"] is True
    done = site("db", "restore", str(backup), "--force", "--discard-newer-events")
    assert done.exit_code == 0, done.output
    assert json.loads(site("kill-switch", "status", "--json").stdout)["global_active"] is False


def _run_id(cli: Cli) -> str:
    return str(json.loads(cli("list-runs", "--json").stdout)[0]["run_id"])


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        (
            "UPDATE audit_events SET actor_id = 'intruder' WHERE seq = 3 AND site_id = 'WIEN'",
            "audit chain LTS/WIEN",
        ),
        (
            "UPDATE assignments SET driver_id = 'D002' WHERE rowid = (SELECT MIN(rowid) FROM "
            "assignments WHERE driver_id <> 'D002')",
            "evidence of LTS/WIEN",
        ),
        ("UPDATE alembic_version SET version_num = 'a1f0c3d2e001'", "schema revision"),
    ],
    ids=["chain", "evidence", "revision"],
)
def test_a_damaged_backup_is_refused_and_the_database_untouched(
    site: Cli, db_path: Path, tmp_path: Path, sql: str, problem: str
) -> None:
    backup = tmp_path / "copy.db"
    assert site("db", "backup", str(backup)).exit_code == 0
    _tamper(backup, sql)
    before = _digest(db_path)
    result = site("db", "restore", str(backup), "--force")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and problem in result.stderr
    assert "nothing restored" in result.stderr
    assert _digest(db_path) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["db", "backup", "EXISTS"], "EXISTS already exists; choose another backup file"),
        (["db", "backup", "nowhere/copy.db"], "Directory nowhere does not exist"),
        (["db", "restore", "missing.db"], "Backup missing.db not found"),
        (["db", "restore", "EXISTS"], "is not a SQLite database"),
        (["--db", "postgresql+psycopg://x/y", "db", "backup", "a.db"], "for PostgreSQL use"),
        (["db", "backup", "x" * 300], "Cannot use backup file xxx"),
        (["evidence", "export", "RUN-20260113-001", "--out", "x" * 300], "File name too long"),
    ],
)
def test_bad_paths_are_one_line_errors(
    site: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "EXISTS").write_text("not a database\n")
    result = site(*args)
    assert result.exit_code == 1
    assert result.stdout == "" and result.stderr.count("\n") == 1
    assert message in result.stderr


def test_a_backup_name_with_uri_characters_is_the_file_checked(
    site: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`#`, `?` and `%` would cut a file: URI short and check another file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").write_text("a decoy that is not a database\n")
    result = site("db", "backup", "a#b?c%20d.db")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a#b?c%20d.db").read_bytes()[:16] == b"SQLite format 3\x00"
    assert "integrity ok" in result.stdout
