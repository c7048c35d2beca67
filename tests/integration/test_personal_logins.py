"""Per-person logins on a PostgreSQL production database (issue 18.3): each person has a login
of their own, bound to the site; a new site requires that decisions come from the decider's
own login; and the database's append function refuses a decision in another person's name,
whoever builds it by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from dispatcher.cli import wiring
from dispatcher.cli.app import app
from dispatcher.domain.events import Action, EventDraft, parse_timestamp, seal_event
from dispatcher.domain.hashing import canonical_json
from tests.conftest import CliResult
from tests.pgserver import OWNER, PLATFORM_LOGIN, SUPERUSER, PgServer, seen_from_wien
from tests.samples import OVERRIDE, PUBLISH_OK, write_run

pytestmark = pytest.mark.postgres

ADMIN = ("--by", "admin01", "--reason", "Per-person logins for Wien")
PEOPLE = {"maria": "disp001", "otto": "ops001"}  # login -> the registered person
SCOPE = "SELECT set_config('app.tenant', 'LTS', true), set_config('app.site', 'WIEN', true)"


def _connect(server: PgServer, user: str, database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(f"host=127.0.0.1 port={server.port} user={user} dbname={database}")


@pytest.fixture
def production(pg_server: PgServer, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A database created with the real clock (`db init`, as docs/deployment.md says), LTS/WIEN
    set up by the platform login, and a login of their own for Maria and Otto, bound to WIEN."""
    from dispatcher.db.engine import make_engine
    from dispatcher.db.migrate import upgrade_to_head

    name = "personal_logins"
    pg_server.admin_sql(f"CREATE DATABASE {name} OWNER {OWNER}")
    with _connect(pg_server, SUPERUSER, "postgres") as con:
        for login in PEOPLE:  # a login per person, as docs/deployment.md tells the DBA
            if con.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [login]).fetchone():
                continue
            con.execute(f"CREATE ROLE {login} LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE dispatcher_app")
    try:
        engine = make_engine(pg_server.url(OWNER, name))
        upgrade_to_head(engine)
        engine.dispose()
        platform = pg_server.url(PLATFORM_LOGIN, name)
        for step in (
            ("db", "init"),
            ("site", "init"),
            ("users", "add", "admin01", "--name", "Platform Admin", "--role", "platform_admin"),
            ("users", "add", "disp001", "--name", "Maria Dispo", "--role", "dispatcher", *ADMIN),
            ("users", "add", "ops001", "--name", "Otto Betrieb", "--role", "ops_lead", *ADMIN),
        ):
            result = _run(platform, *step)
            assert result.exit_code == 0, (step, result.output)
        with _connect(pg_server, SUPERUSER, name) as con:
            for login in PEOPLE:
                con.execute("INSERT INTO site_logins VALUES (%s, 'LTS', 'WIEN')", [login])
        yield {
            "server": pg_server,
            "name": name,
            "platform": platform,
            "maria": pg_server.url("maria", name),
            "otto": pg_server.url("otto", name),
            "run": write_run(tmp_path / "run.json"),
        }
    finally:
        wiring.reset()
        pg_server.admin_sql(f"DROP DATABASE {name} WITH (FORCE)")


def _run(url: str, *args: str) -> CliResult:
    """The real clock: no DISPATCHER_NOW (a production database refuses a pinned one)."""
    env = {"DISPATCHER_DB": url, "NO_COLOR": "1", "COLUMNS": "80",
           "DISPATCHER_TENANT": "LTS", "DISPATCHER_SITE": "WIEN"}  # fmt: skip
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    wiring.reset()
    return CliResult(result.exit_code, result.stdout, result.stderr)


def _import(production: dict[str, Any]) -> str:
    """The sample run imported by Maria; its id (named by today's date: the real clock)."""
    assert _run(production["maria"], "import-run", str(production["run"])).exit_code == 0
    return str(json.loads(_run(production["maria"], "list-runs", "--json").stdout)[0]["run_id"])


def _last(url: str) -> dict[str, Any]:
    return dict(json.loads(_run(url, "audit", "log", "--json", "-n", "1").stdout)[0])


def test_a_new_site_of_a_production_database_requires_the_decider_s_login(
    production: dict[str, Any],
) -> None:
    shown = json.loads(_run(production["platform"], "site", "show", "--json").stdout)
    assert shown["settings"]["approvals_require_login"] is True


def test_only_the_person_s_own_login_decides_for_them(production: dict[str, Any]) -> None:
    maria, otto, platform = production["maria"], production["otto"], production["platform"]
    # Before any link, even the admin's settings change is refused (and recorded) ...
    refused = _run(platform, "site", "set", "fte_warn_bp=0", "fte_block_bp=0", "pt_warn_bp=10000",
                   "pt_block_bp=10000", *ADMIN)  # fmt: skip
    assert (refused.exit_code, refused.stderr) == (
        2,
        f"Blocked: User admin01 is not the logged-in user ({PLATFORM_LOGIN})\n",
    )
    # ... the registry is the platform login's, so the admin links everyone, themself first.
    for user, login in (("admin01", PLATFORM_LOGIN), *((u, lg) for lg, u in PEOPLE.items())):
        linked = _run(platform, "users", "link", user, "--login", login, *ADMIN)
        assert linked.exit_code == 0, linked.output
    relaxed = _run(platform, "site", "set", "fte_warn_bp=0", "fte_block_bp=0", "pt_warn_bp=10000",
                   "pt_block_bp=10000", *ADMIN)  # fmt: skip
    assert relaxed.exit_code == 0, relaxed.output
    run = _import(production)

    # Otto's login cannot publish in Maria's name; Maria's can.
    wrong = _run(otto, "publish", run, *PUBLISH_OK, *OVERRIDE)
    assert (wrong.exit_code, wrong.stderr) == (
        2,
        "Blocked: Approver disp001 is not the logged-in user (otto)\n",
    )
    assert (_last(otto)["outcome"], _last(otto)["detail"]["session_login"]) == ("blocked", "otto")
    assert _run(maria, "publish", run, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    # Maria's login cannot lock in Otto's name; Otto's can.
    lock = ("--approver", "ops001", "--role", "ops_lead", "--reason", "Approved for export")
    wrong = _run(maria, "lock", run, *lock, *OVERRIDE)
    assert wrong.stderr == "Blocked: Approver ops001 is not the logged-in user (maria)\n"
    locked = _run(otto, "lock", run, *lock, *OVERRIDE)
    assert locked.exit_code == 0, locked.output
    with _connect(production["server"], SUPERUSER, production["name"]) as con:
        rows = con.execute(
            "SELECT action, outcome, actor_id, recorded_by, detail::jsonb ->> 'session_login' "
            "FROM audit_events WHERE tenant_id = 'LTS' AND site_id = 'WIEN' "
            "AND action IN ('publish', 'lock') ORDER BY seq"
        ).fetchall()
    assert rows == [
        ("publish", "blocked", "disp001", "otto", "otto"),
        ("publish", "allowed", "disp001", "maria", "maria"),
        ("lock", "blocked", "ops001", "maria", "maria"),
        ("lock", "allowed", "ops001", "otto", "otto"),
    ]
    assert _run(platform, "audit", "verify", "--state").exit_code == 0


def _forged_at_tip(con: psycopg.Connection[Any], draft: EventDraft) -> tuple[str, str]:
    """(body, detail) of `draft` sealed at WIEN's tip with the tool's own code."""
    tip = con.execute(
        "SELECT seq, hash, occurred_at FROM audit_events WHERE tenant_id = 'LTS' "
        "AND site_id = 'WIEN' ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    assert tip is not None
    from datetime import UTC, datetime

    moment = max(parse_timestamp(tip[2]), datetime.now(UTC))
    event = seal_event(draft, seq=tip[0] + 1, occurred_at=moment, tenant="LTS", site="WIEN",
                       prev_hash=tip[1])  # fmt: skip
    return event.body, canonical_json(event.detail)


@pytest.mark.parametrize(
    ("claimed", "refusal"),
    [
        ("maria", "Blocked: ops001 is not the logged-in user (maria)"),
        ("otto", "the event names login otto, but maria appends it"),
        (None, "the event names login (none), but maria appends it"),
    ],
)
def test_the_database_refuses_a_decision_in_another_person_s_name(
    production: dict[str, Any], claimed: str | None, refusal: str
) -> None:
    """Maria, in her own SQL shell, appends a correctly hashed lock by ops001 at WIEN's tip
    through the database's own function: whatever login it names, it is refused."""
    platform = production["platform"]
    for user, login in (("admin01", PLATFORM_LOGIN), *((u, lg) for lg, u in PEOPLE.items())):
        assert _run(platform, "users", "link", user, "--login", login, *ADMIN).exit_code == 0
    run = _import(production)
    seen = _last(production["maria"])["detail"]["seen"]
    detail: dict[str, Any] = {"override_reason": OVERRIDE[1], "seen": seen}
    if claimed is not None:
        detail["session_login"] = claimed
    draft = EventDraft(Action.LOCK, actor_id="ops001", actor_role="ops_lead",
                       reason="Approved for export", run_id=run, plan_version=1,
                       detail=detail)  # fmt: skip
    server = production["server"]
    with _connect(server, SUPERUSER, production["name"]) as con:
        body, text = _forged_at_tip(con, draft)
    refused = pytest.raises(psycopg.errors.RestrictViolation)
    with _connect(server, "maria", production["name"]) as con, refused as caught, con.transaction():
        con.execute(SCOPE)
        con.execute("SELECT dispatcher_append_event(%s, %s)", [body, text])
    assert refusal in str(caught.value)
    assert _last(production["platform"])["action"] == "run.import"


def _linked(production: dict[str, Any]) -> str:
    """Everyone linked to their own login, drift relaxed, the sample run imported and published
    by Maria; the run's id."""
    platform = production["platform"]
    for user, login in (("admin01", PLATFORM_LOGIN), *((u, lg) for lg, u in PEOPLE.items())):
        assert _run(platform, "users", "link", user, "--login", login, *ADMIN).exit_code == 0
    relaxed = _run(platform, "site", "set", "fte_warn_bp=0", "fte_block_bp=0", "pt_warn_bp=10000",
                   "pt_block_bp=10000", *ADMIN)  # fmt: skip
    assert relaxed.exit_code == 0, relaxed.output
    run = _import(production)
    assert _run(production["maria"], "publish", run, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    return run


def _tips(production: dict[str, Any]) -> dict[str, int]:
    """The registry's and the platform's tips now: what a decision made now reads."""
    with _connect(production["server"], SUPERUSER, production["name"]) as con:
        return dict(seen_from_wien(con, "LTS", "WIEN"))


def _append_as(production: dict[str, Any], login: str, draft: EventDraft) -> str:
    """`login` appends `draft` at WIEN's tip through the database's function, naming itself as
    the tool does; the refusal's text (the test fails if the database accepts it)."""
    draft = replace(draft, detail={**draft.detail, "session_login": login})
    with _connect(production["server"], SUPERUSER, production["name"]) as con:
        body, text = _forged_at_tip(con, draft)
    refused = pytest.raises(psycopg.errors.RestrictViolation)
    with (
        _connect(production["server"], login, production["name"]) as con,
        refused as caught,
        con.transaction(),
    ):
        con.execute(SCOPE)
        con.execute("SELECT dispatcher_append_event(%s, %s)", [body, text])
    return str(caught.value)


def _lock_by(actor: str, run: str, seen: dict[str, int]) -> EventDraft:
    return EventDraft(Action.LOCK, actor_id=actor, actor_role="ops_lead",
                      reason="Approved for export", run_id=run, plan_version=1,
                      detail={"override_reason": OVERRIDE[1], "seen": seen})  # fmt: skip


@pytest.mark.parametrize("change", ["disable", "unlink"])
def test_a_decision_cannot_claim_it_read_the_registry_before_a_change(
    production: dict[str, Any], change: str
) -> None:
    """Otto is disabled (or unlinked); at once his login appends a lock in his name that says it
    read the registry before that. The database knows the registry's tip: refused. Named with
    the true tip, the decision is refused for what the change did."""
    run = _linked(production)
    before = _tips(production)
    changed = _run(production["platform"], "users", change, "ops001", *ADMIN)
    assert changed.exit_code == 0, changed.output
    stale = _append_as(production, "otto", _lock_by("ops001", run, before))
    registry = before["registry"]
    assert (
        f"the event says it read registry event #{registry}, but the tip is #{registry + 1}"
        in stale
    )
    true = _append_as(production, "otto", _lock_by("ops001", run, _tips(production)))
    if change == "disable":
        assert "Blocked: User ops001 is disabled" in true
    else:
        assert "Blocked: ops001 is not the logged-in user (otto)" in true
    assert _run(production["platform"], "audit", "verify", "--state").exit_code == 0


def test_a_decision_cannot_claim_it_read_the_platform_before_the_kill_switch(
    production: dict[str, Any],
) -> None:
    run = _linked(production)
    before = _tips(production)
    pulled = _run(production["platform"], "kill-switch", "activate", *ADMIN)
    assert pulled.exit_code == 0, pulled.output
    platform = before["platform"]
    refusal = _append_as(production, "otto", _lock_by("ops001", run, before))
    assert (
        f"the event says it read platform event #{platform}, but the tip is #{platform + 1}"
        in refusal
    )


@pytest.mark.parametrize("actor", ["ops001 ", " ops001", "ops001\t", "ops001\n", "ops001\u00a0"])
def test_an_actor_the_registry_would_not_find_is_refused(
    production: dict[str, Any], actor: str
) -> None:
    """Maria's login, with a lock by Otto's id and a space: the registry lookup would miss it,
    so the login check would too. The database takes only user ids."""
    run = _linked(production)
    refusal = _append_as(production, "maria", _lock_by(actor, run, _tips(production)))
    assert "is not a user id" in refusal


def test_a_user_named_system_planted_by_hand_is_bound_like_anyone(
    production: dict[str, Any],
) -> None:
    """The CLI refuses to register `system`; a row planted with the guards off is still a
    registered person to the database, and Maria's login cannot decide in its name."""
    run = _linked(production)
    with _connect(production["server"], SUPERUSER, production["name"]) as con:
        con.execute("SET session_replication_role = replica")
        con.execute(
            "INSERT INTO users (tenant_id, user_id, user_key, name, roles, active, created_at, "
            "event_seq) SELECT tenant_id, 'system', 'system', 'Night Shift Lead', roles, true, "
            "created_at, event_seq FROM users WHERE tenant_id = 'LTS' AND user_id = 'ops001'"
        )
    refusal = _append_as(production, "maria", _lock_by("system", run, _tips(production)))
    assert "Blocked: system is not the logged-in user (maria)" in refusal


def test_a_registry_change_waits_for_a_decision_appended_by_hand(
    production: dict[str, Any],
) -> None:
    """Otto's login appends a lock in his own name by hand, in a transaction it keeps open (the
    tool's writers never began it, so it took no locks itself). Meanwhile the platform disables
    ops001: the change waits until the lock commits and comes after it in the trail, which the
    disable's own record of WIEN's tip shows. Without the append function's own locks the
    disable went through at once and the lock, committed later, claimed the older registry."""
    import os
    import subprocess
    import sys

    run = _linked(production)
    draft = replace(
        _lock_by("ops001", run, _tips(production)),
        detail={**_lock_by("ops001", run, _tips(production)).detail, "session_login": "otto"},
    )
    with _connect(production["server"], SUPERUSER, production["name"]) as con:
        body, text = _forged_at_tip(con, draft)
    env = {**os.environ, "DISPATCHER_DB": production["platform"], "DISPATCHER_TENANT": "LTS",
           "DISPATCHER_SITE": "WIEN", "NO_COLOR": "1"}  # fmt: skip
    env.pop("DISPATCHER_NOW", None)
    with _connect(production["server"], "otto", production["name"]) as con:
        con.execute(SCOPE)
        con.execute("SELECT dispatcher_append_event(%s, %s)", [body, text])  # not committed
        disable = subprocess.Popen(
            [sys.executable, "-m", "dispatcher", "users", "disable", "ops001", *ADMIN],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        waiting = production["server"].waits_for_a_lock(
            production["name"], PLATFORM_LOGIN, seconds=15
        )
        con.commit()
    out, err = disable.communicate(timeout=60)
    assert waiting, ("the disable never waited for the open lock", out, err)
    assert disable.returncode == 0, err
    registry = json.loads(
        _run(
            production["platform"], "audit", "log", "--chain", "tenant", "--json", "-n", "1"
        ).stdout
    )[0]
    lock = _last(production["otto"])
    assert (lock["action"], lock["actor_id"]) == ("lock", "ops001")
    assert registry["action"] == "user.disable"
    assert registry["detail"]["seen"]["site"][2] == lock["seq"]  # it read the lock's trail


def test_a_decision_by_no_registered_user_is_refused_where_logins_are_required(
    production: dict[str, Any],
) -> None:
    run = _linked(production)
    refusal = _append_as(production, "otto", _lock_by("ghost", run, _tips(production)))
    assert "Blocked: ghost is not a registered user" in refusal


def test_a_tip_written_as_another_number_is_refused(production: dict[str, Any]) -> None:
    """8.0 equals 8 to jsonb, but the tool writes 8 and the replay reads only integers."""
    run = _linked(production)
    tips = _tips(production)
    draft = replace(_lock_by("ops001", run, tips), detail={
        **_lock_by("ops001", run, tips).detail, "session_login": "otto"})  # fmt: skip
    with _connect(production["server"], SUPERUSER, production["name"]) as con:
        body, text = _forged_at_tip(con, draft)
    registry = f'"registry":{tips["registry"]}'
    assert body.count(registry) == 1
    body, text = (t.replace(registry, registry + ".0") for t in (body, text))
    with (
        _connect(production["server"], "otto", production["name"]) as con,
        pytest.raises(psycopg.errors.RestrictViolation) as caught,
        con.transaction(),
    ):
        con.execute(SCOPE)
        con.execute("SELECT dispatcher_append_event(%s, %s)", [body, text])
    assert "the event says it read registry event" in str(caught.value)
