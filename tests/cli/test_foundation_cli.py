"""Root options, usage errors, db and audit commands through the real CLI."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from dispatcher import __version__
from dispatcher.db.schema import SCHEMA_HEAD
from tests.conftest import Cli


def test_version_prints_the_literal_version(cli: Cli) -> None:
    result = cli("--version")
    assert (result.exit_code, result.stdout) == (0, f"dispatcher {__version__}\n")


def test_usage_error_exits_1_with_one_line(cli: Cli) -> None:
    result = cli("audit", "log", "--bogus")
    assert result.exit_code == 1
    assert result.stderr == "Error: No such option: --bogus (see 'dispatcher audit log --help')\n"


def test_unknown_command_exits_1(cli: Cli) -> None:
    result = cli("frobnicate")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: No such command 'frobnicate'")


def test_invalid_tenant_is_one_line_error(cli: Cli) -> None:
    result = cli("--tenant", "bad tenant!", "audit", "verify")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Invalid tenant 'bad tenant!'")


def test_db_upgrade_names_a_missing_file_and_db_init_creates_it(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "fresh.db"
    missing = cli("--db", str(path), "db", "upgrade")
    assert missing.exit_code == 1 and missing.stderr.startswith(f"Error: No database at {path}")
    assert not (tmp_path / "sub").exists()
    (tmp_path / "sub").mkdir()
    assert cli("--db", str(path), "db", "init", "--simulated-clock").exit_code == 0
    again = cli("--db", str(path), "db", "upgrade")
    assert "is at the newest revision" in again.stdout
    current = cli("--db", str(path), "db", "current", "--json")
    assert json.loads(current.stdout) == {
        "current": SCHEMA_HEAD,
        "head": SCHEMA_HEAD,
        "up_to_date": True,
    }


def test_db_flag_beats_environment(cli: Cli, tmp_path: Path) -> None:
    flag = str(tmp_path / "flag.db")
    assert cli("--db", flag, "db", "init", "--simulated-clock").exit_code == 0
    admin = ("users", "add", "admin01", "--name", "Flag Admin", "--role", "platform_admin")
    assert cli("--db", flag, *admin).exit_code == 0
    assert "Flag Admin" in cli("--db", flag, "users", "list").stdout
    assert "Flag Admin" not in cli("users", "list").stdout  # the environment's database


def test_audit_verify_on_new_database_is_intact(cli: Cli) -> None:
    result = cli("audit", "verify", "--json")
    assert result.exit_code == 0
    empty = {"ok": True, "count": 0, "tip_hash": "sha256:" + "0" * 64}
    report = json.loads(result.stdout)
    assert {k: report[k] for k in ("ok", "count", "tip_hash", "broken_seq", "problem")} == {
        **empty,
        "broken_seq": None,
        "problem": None,
    }
    chains = {(c["tenant"], c["site"]): (c["ok"], c["count"]) for c in report["chains"]}
    assert chains == {("LTS", "WIEN"): (True, 0), ("LTS", "*"): (True, 0), ("*", "*"): (True, 1)}


def test_audit_log_empty_state_is_a_sentence(cli: Cli) -> None:
    result = cli("audit", "log")
    assert (result.exit_code, result.stdout) == (0, "No audit events for LTS/WIEN match.\n")


def _seed_events(db_path: Path, n: int) -> None:
    from datetime import UTC, datetime

    from dispatcher.db.engine import make_engine
    from dispatcher.db.unit_of_work import UnitOfWork
    from dispatcher.domain.events import Action, EventDraft, Outcome
    from dispatcher.services.audit import record_event

    engine = make_engine(f"sqlite:///{db_path}")
    for i in range(n):  # after the site's site.create (seq 1), publish events 2 .. n + 1
        outcome = Outcome.BLOCKED if i % 2 else Outcome.ALLOWED
        with UnitOfWork(
            engine, "LTS", "WIEN", lambda: datetime(2026, 1, 13, 8, tzinfo=UTC), write=True
        ) as uow:
            record_event(
                uow,
                EventDraft(
                    Action.PUBLISH,
                    outcome,
                    "disp001",
                    "dispatcher",
                    "Weekly plan reviewed",
                    "RUN-20260113-001",
                    1,
                    detail={"check": "kill_switch", "message": "Kill switch is active"},
                ),
            )
            uow.commit()
    engine.dispose()


def test_audit_log_lists_events_and_json_fields(cli: Cli, db_path: Path) -> None:
    _seed_events(db_path, 3)
    table = cli("audit", "log", "--run", "RUN-20260113-001")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    # One run: named in the title, the rows keep the version; the role under the actor, the
    # gate's message under the action, all inside 80 columns.
    assert lines[0].rstrip() == "Audit log - LTS/WIEN - RUN-20260113-001"
    assert lines[1].split() == ["Seq", "Time", "(UTC)", "Event", "Actor", "Version"]
    first = next(i for i, line in enumerate(lines) if line.strip().startswith("2 "))
    assert lines[first].split()[1:6] == ["2026-01-13", "08:00", "publish", "allowed", "disp001"]
    assert lines[first].split()[-1] == "v1"
    assert lines[first + 1].split() == ["Kill", "switch", "is", "active", "(dispatcher)"]
    assert max(len(line) for line in lines) <= 80
    rows = json.loads(cli("audit", "log", "--json", "--limit", "2").stdout)
    assert [r["seq"] for r in rows] == [3, 4]
    assert set(rows[0]) == {
        "seq",
        "occurred_at",
        "action",
        "outcome",
        "actor_id",
        "actor_role",
        "reason",
        "run_id",
        "plan_version",
        "evidence_hash",
        "detail",
        "hash",
        "recorded_by",
    }
    assert rows[0]["outcome"] == "blocked"
    assert cli("audit", "log", "--actor", "nobody", "--json").stdout.strip() == "[]"


def test_audit_verify_reports_tampering_with_exit_1(cli: Cli, db_path: Path) -> None:
    _seed_events(db_path, 4)
    with closing(sqlite3.connect(db_path)) as con:
        con.execute("DROP TRIGGER audit_events_no_update")
        con.execute("UPDATE audit_events SET actor_id = 'ops999' WHERE seq = 3")
        con.commit()
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert (
        result.stderr
        == "Error: audit chain broken at seq 3: column actor_id differs from the hashed body\n"
    )


@pytest.mark.parametrize("group", ["audit", "db"])
def test_group_without_command_shows_help(cli: Cli, group: str) -> None:
    result = cli(group)
    assert "Usage:" in result.output


def test_unusable_database_is_a_one_line_error(cli: Cli, tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("this is not a database")
    result = cli("--db", str(junk), "status")
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: Cannot open database {junk}: file is not a database\n",
    )
    folder = cli("--db", str(tmp_path), "status")
    assert folder.exit_code == 1 and folder.stderr.startswith(
        f"Error: Cannot open database {tmp_path}:"
    )


@pytest.mark.parametrize(
    ("db", "message"),
    [
        ("mysql://u@h/db", "Error: --db mysql://u@h/db: unsupported database; give a file path"),
        ("foo://bar", "Error: --db foo://bar: unsupported database;"),
        ("postgresql+psycopg2://u:secret@h/x", "Error: --db postgresql+psycopg2://u:***@h/x: "),
        ("postgresql://x@[::1", "Error: --db postgresql://x@[::1 is not a database URL"),
        ("sqlite:///", "Error: --db sqlite:/// names no file"),
        ("sqlite:///:memory:", "Error: --db sqlite:///:memory: names no file"),
    ],
)
def test_a_database_url_dispatcher_cannot_use_is_one_line(cli: Cli, db: str, message: str) -> None:
    result = cli("--db", db, "status")
    assert result.exit_code == 1
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1 and "secret" not in result.stderr


@pytest.mark.parametrize("group", [(), ("repairs",), ("audit",), ("db",)], ids=str)
def test_a_command_group_alone_shows_its_help_and_no_error(group: tuple[str, ...]) -> None:
    from typer.testing import CliRunner

    from dispatcher.cli.app import app

    result = CliRunner().invoke(app, list(group), catch_exceptions=False)
    assert (result.exit_code, result.stderr) == (0, "")
    assert "Usage: dispatcher" in result.stdout and "Commands" in result.stdout
