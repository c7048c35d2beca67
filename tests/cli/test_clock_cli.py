"""Time only moves forward, and only a demo or test database lets DISPATCHER_NOW set it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dispatcher.db.engine import make_engine
from dispatcher.db.migrate import upgrade_to_head
from dispatcher.domain.events import Action, EventDraft, seal_event
from dispatcher.domain.hashing import canonical_json
from tests.conftest import Cli, Insider
from tests.pgserver import APP_LOGIN, OWNER, PLATFORM_LOGIN, PgServer
from tests.samples import write_run

REAL_CLOCK_ONLY = (
    "Error: DISPATCHER_NOW pins the clock, but this database runs on the real clock: only a "
    "database created as a demo or test database (`dispatcher db init --simulated-clock`, "
    "`dispatcher demo`) honours it; unset DISPATCHER_NOW\n"
)


@pytest.fixture
def real_db(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A production database: created without a simulated clock."""
    path = tmp_path / "production.db"
    monkeypatch.delenv("DISPATCHER_NOW")
    made = cli("--db", str(path), "db", "init")
    assert made.exit_code == 0, made.output
    assert "clock: real" in made.stdout
    return path


@pytest.mark.sqlite_only
def test_dispatcher_now_is_refused_on_a_database_with_the_real_clock(
    cli: Cli, real_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPATCHER_NOW", "2019-06-01T08:00:00Z")
    for args in (  # every command that would take the time from it
        ("import-run", str(write_run(tmp_path / "run.json"))),
        ("users", "add", "admin01", "--name", "Admin", "--role", "platform_admin"),
        ("kill-switch", "activate", "--by", "admin01", "--reason", "Pinned to the past"),
    ):
        result = cli("--db", str(real_db), *args)
        assert (result.exit_code, result.stderr) == (1, REAL_CLOCK_ONLY), args
    monkeypatch.delenv("DISPATCHER_NOW")
    log = json.loads(
        cli("--db", str(real_db), "audit", "log", "--chain", "platform", "--json").stdout
    )
    assert [(e["action"], e["detail"]["clock"]) for e in log] == [("database.create", "real")]
    assert cli("--db", str(real_db), "audit", "log", "--json").stdout.strip() == "[]"


@pytest.mark.sqlite_only
def test_an_implicitly_created_database_runs_on_the_real_clock(cli: Cli, tmp_path: Path) -> None:
    fresh = tmp_path / "new.db"
    args = ("users", "add", "admin01", "--name", "Admin", "--role", "platform_admin")
    result = cli("--db", str(fresh), *args)  # the cli fixture sets DISPATCHER_NOW
    note = f"Note: creating a new database at {fresh}\n"
    assert (result.exit_code, result.stderr) == (1, note + REAL_CLOCK_ONLY)
    assert not fresh.exists()  # nothing was recorded in it: the failed command leaves no file


@pytest.mark.sqlite_only
def test_the_simulated_clock_is_chosen_at_creation_and_shown(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = tmp_path / "training.db"
    made = cli("--db", str(demo), "db", "init", "--simulated-clock")
    assert made.exit_code == 0, made.output
    assert "clock: simulated" in made.stdout
    status = cli("--db", str(demo), "status")
    assert "Clock:           ⏱  Simulated" in status.stdout
    assert json.loads(cli("--db", str(demo), "status", "--json").stdout)["clock"] == "simulated"
    again = cli("--db", str(demo), "db", "init", "--simulated-clock")
    assert again.exit_code == 1 and "already in use" in again.stderr


@pytest.mark.sqlite_only
def test_a_database_in_use_cannot_be_turned_simulated_later(
    cli: Cli, real_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = cli("--db", str(real_db), "db", "init", "--simulated-clock")
    assert (later.exit_code, later.stderr) == (
        1,
        "Error: The database is already in use (it has audit events); its clock cannot be "
        "chosen any more: create a new one for a demo or tests\n",
    )
    planted = (
        "INSERT INTO database_flags (name, value, event_seq, set_at) "
        "VALUES ('clock', 'simulated', 1, '2026-01-01 00:00:00')"
    )
    insider = Insider("sqlite", str(real_db))
    assert "set only when the database is created" in insider.refused(planted)
    insider.tamper(planted)  # the guards dropped: the flag names the real clock's creation
    assert cli("--db", str(real_db), "audit", "verify", "--state").exit_code == 1
    monkeypatch.setenv("DISPATCHER_NOW", "2019-06-01T08:00:00Z")
    args = ("users", "add", "admin01", "--name", "Admin", "--role", "platform_admin")
    result = cli("--db", str(real_db), *args)
    assert (result.exit_code, result.stderr) == (1, REAL_CLOCK_ONLY)


def test_a_database_created_a_second_time_is_named(site: Cli, insider: Insider) -> None:
    """An insider appends a correctly hashed database.create saying "simulated" at the platform
    chain's tip and sets the flag to it: refused with the guards; with them dropped (or, on
    PostgreSQL, where a depot login cannot see other tenants' events, not even granted the
    insert) verify --state says a database is created once, at the chain's start."""
    from tests.forge import forge

    statement, event = forge(
        site, "platform", EventDraft(Action.DATABASE_CREATE, actor_id="system",
                                     detail={"clock": "simulated"})
    )  # fmt: skip
    flag = (
        "INSERT INTO database_flags (name, value, event_seq, set_at) "
        f"VALUES ('clocks', 'simulated', {event.seq}, '2026-01-01 00:00:00')"
    )
    refusal = insider.refused(flag)
    assert "set only when the database is created" in refusal or "permission denied" in refusal
    insider.tamper(statement)
    checked = site("audit", "verify", "--state")
    assert checked.exit_code == 1
    assert (
        f"audit_events platform #{event.seq}: a database is created once, as its platform "
        "chain's first event"
    ) in checked.stdout


def test_time_never_goes_back_in_the_chain(site: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    before = json.loads(site("audit", "log", "--json").stdout)
    monkeypatch.setenv("DISPATCHER_NOW", "2026-01-12T08:00:00Z")  # a day before the newest event
    result = site("users", "disable", "disp002", "--by", "admin01", "--reason", "Left the team")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: The clock reads 2026-01-12T08:00:00.000000Z, before")
    assert json.loads(site("audit", "log", "--json").stdout) == before


def _backdated(site: Cli) -> tuple[str, dict[str, object]]:
    """A correctly hashed event at the site chain's tip, dated years before its predecessor."""
    tip = json.loads(site("audit", "log", "--json", "-n", "1").stdout)[0]
    event = seal_event(
        EventDraft(Action.SITE_UPDATE, actor_id="admin01", reason="Backdated settings"),
        seq=tip["seq"] + 1,
        occurred_at=datetime(1999, 1, 1, tzinfo=UTC),
        tenant="LTS",
        site="WIEN",
        prev_hash=tip["hash"],
    )
    columns = {
        "tenant_id": "LTS", "site_id": "WIEN", "seq": event.seq, "occurred_at": event.occurred_at,
        "action": event.action, "outcome": event.outcome, "actor_id": event.actor_id,
        "reason": event.reason, "detail": canonical_json(event.detail),
        "prev_hash": event.prev_hash, "hash": event.hash, "body": event.body,
    }  # fmt: skip
    names = ", ".join(columns)
    values = ", ".join("'" + str(v).replace("'", "''") + "'" for v in columns.values())
    return f"INSERT INTO audit_events ({names}) VALUES ({values})", columns


def test_a_backdated_event_is_refused_and_else_reported(site: Cli, insider: Insider) -> None:
    sql, columns = _backdated(site)
    refusal = insider.refused(sql)  # PostgreSQL: no INSERT at all (the database appends)
    assert "dated before its predecessor" in refusal or "permission denied" in refusal
    insider.tamper(sql)
    verified = site("audit", "verify")
    assert verified.exit_code == 1
    assert (
        f"Error: audit chain broken at seq {columns['seq']}: occurred_at "
        f"{columns['occurred_at']} is before the previous event's"
    ) in verified.stderr


@pytest.mark.postgres
def test_a_postgres_database_without_a_simulated_clock_refuses_dispatcher_now(
    pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from dispatcher.cli import wiring
    from dispatcher.cli.app import app

    pg_server.admin_sql(f"CREATE DATABASE production OWNER {OWNER}")
    try:
        engine = make_engine(pg_server.url(OWNER, "production"))
        upgrade_to_head(engine)
        engine.dispose()
        depot = {"DISPATCHER_DB": pg_server.url(APP_LOGIN, "production"), "NO_COLOR": "1"}
        refused = CliRunner().invoke(app, ["db", "init"], env=depot)
        wiring.reset()
        assert (refused.exit_code, refused.stderr) == (
            1,
            "Error: On PostgreSQL the platform login creates the database (a member of "
            "dispatcher_platform; docs/deployment.md)\n",
        )
        env = {"DISPATCHER_DB": pg_server.url(PLATFORM_LOGIN, "production"), "NO_COLOR": "1"}
        created = CliRunner().invoke(app, ["db", "init"], env=env)
        wiring.reset()
        assert created.exit_code == 0, created.output
        pinned = {**env, "DISPATCHER_NOW": "2019-06-01T08:00:00Z"}
        args = ["users", "add", "admin01", "--name", "Admin", "--role", "platform_admin"]
        result = CliRunner().invoke(app, args, env=pinned)
        wiring.reset()
        assert (result.exit_code, result.stderr) == (1, REAL_CLOCK_ONLY)
    finally:
        pg_server.admin_sql("DROP DATABASE production WITH (FORCE)")


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("\udcff", "Error: DISPATCHER_NOW='\\xff' is not an ISO timestamp\n"),
        ("2026-01-13", "Error: DISPATCHER_NOW='2026-01-13' needs a time zone (e.g. Z)\n"),
        ("next tuesday", "Error: DISPATCHER_NOW='next tuesday' is not an ISO timestamp\n"),
    ],
)
def test_a_malformed_clock_is_one_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("DISPATCHER_NOW", value)
    result = cli("status")
    assert (result.exit_code, result.stderr) == (1, message)
