"""A depot's own PostgreSQL login (docs/deployment.md: a member of dispatcher_app, bound to its
site in site_logins): it runs its site's whole week, and it cannot change what is shared by every
site (the user registry, site settings, the global kill switch, the registry's and the
platform's chains), neither through the CLI (refused, exit 2, recorded in its own chain) nor with
hand-written SQL (refused by the grants and policies)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from dispatcher.cli import wiring
from dispatcher.cli.app import app
from dispatcher.domain.events import (
    Action,
    AuditEvent,
    EventDraft,
    Outcome,
    parse_timestamp,
    seal_event,
)
from tests.conftest import FIXED_NOW_TEXT, CliResult
from tests.forge import insert_sql
from tests.pgserver import (
    OWNER,
    PLATFORM_LOGIN,
    SCOPE,
    SITE_LOGIN,
    SUPERUSER,
    PgServer,
    seen_from_wien,
)
from tests.samples import LOCK_OK, OVERRIDE, PUBLISH_OK, RUN, write_run

pytestmark = pytest.mark.postgres

SITE_TABLES = (
    "runs", "tour_instances", "drivers", "availability", "plan_versions", "assignments",
    "audit_results", "evidence_records", "repair_request_ids", "repair_requests", "approvals",
    "kill_switch_history", "audit_events",
)  # fmt: skip
SHARED_TABLES = ("tenants", "sites", "site_settings", "users")
SEQUENCES = ("runs", "plan_versions", "repair_requests", "approvals", "kill_switch_history")
# The least privilege of docs/deployment.md, written out by hand: table -> group -> privileges.
# A table the migrations add without a line here fails the test.
GRANTS: dict[str, dict[str, str]] = {
    **{
        t: {"dispatcher_app": "INSERT,SELECT", "dispatcher_platform": "SELECT"} for t in SITE_TABLES
    },
    # a request's status changes through dispatcher_propose_repair / dispatcher_resolve_repair:
    # UPDATE would let a depot LOCK TABLE it for every tenant
    "repair_requests": {"dispatcher_app": "INSERT,SELECT", "dispatcher_platform": "SELECT"},
    # appended by dispatcher_append_event alone (it checks tip, time and hash itself)
    "audit_events": {"dispatcher_app": "SELECT", "dispatcher_platform": "SELECT"},
    "tenants": {"dispatcher_app": "SELECT", "dispatcher_platform": "INSERT,SELECT"},
    "sites": {"dispatcher_app": "SELECT", "dispatcher_platform": "INSERT,SELECT"},
    "site_settings": {"dispatcher_app": "SELECT", "dispatcher_platform": "INSERT,SELECT,UPDATE"},
    "users": {"dispatcher_app": "SELECT", "dispatcher_platform": "INSERT,SELECT,UPDATE"},
    "version_checks": {"dispatcher_app": "SELECT", "dispatcher_platform": "SELECT"},
    "database_flags": {"dispatcher_app": "SELECT", "dispatcher_platform": "INSERT,SELECT"},
    "site_logins": {"dispatcher_app": "SELECT", "dispatcher_platform": "SELECT"},
    "alembic_version": {"dispatcher_app": "SELECT", "dispatcher_platform": "SELECT"},
    **{f"{t}_id_seq": {"dispatcher_app": "USAGE"} for t in SEQUENCES},
}
ARGS_ADMIN = ("--by", "admin01", "--reason", "Set up the Wien depot")
BUSY_IDS = (
    "Every request id tried for this second is held by another transaction not yet "
    "committed; try again"
)


def _connect(server: PgServer, user: str, database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(f"host=127.0.0.1 port={server.port} user={user} dbname={database}")


@pytest.fixture
def depot(pg_server: PgServer, pg_database: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """LTS/WIEN set up by the platform login (users, settings, a run), `wien` bound to it."""
    platform = pg_server.url(PLATFORM_LOGIN, pg_database)
    steps = [
        ("users", "add", "admin01", "--name", "Platform Admin", "--role", "platform_admin"),
        *[
            ("users", "add", user, "--name", name, "--role", role, *ARGS_ADMIN)
            for user, name, role in (
                ("disp001", "Maria Dispo", "dispatcher"),
                ("ops001", "Olga Betrieb", "ops_lead"),
            )
        ],
        ("site", "set", "fte_warn_bp=0", "fte_block_bp=0", "pt_warn_bp=10000",
         "pt_block_bp=10000", *ARGS_ADMIN),
    ]  # fmt: skip
    for step in steps:
        result = _run(platform, *step)
        assert result.exit_code == 0, (step, result.stderr)
    with _connect(pg_server, SUPERUSER, pg_database) as con:
        con.execute("INSERT INTO site_logins VALUES (%s, 'LTS', 'WIEN')", [SITE_LOGIN])
    yield {
        "server": pg_server,
        "url": pg_server.url(SITE_LOGIN, pg_database),
        "platform": platform,
        "database": pg_database,
        "run": write_run(tmp_path / "run.json"),
        "tmp": tmp_path,
    }


def _run(url: str, *args: str, site: str = "WIEN") -> CliResult:
    env = {"DISPATCHER_DB": url, "DISPATCHER_NOW": FIXED_NOW_TEXT, "NO_COLOR": "1",
           "DISPATCHER_TENANT": "LTS", "DISPATCHER_SITE": site}  # fmt: skip
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    wiring.reset()
    return CliResult(result.exit_code, result.stdout, result.stderr)


def test_the_grants_are_exactly_the_documented_ones(pg_server: PgServer, pg_database: str) -> None:
    from dispatcher.db.guards import PG_GRANTS

    with _connect(pg_server, SUPERUSER, pg_database) as con:
        found: dict[str, dict[str, str]] = {}
        for table, grantee, privileges in con.execute(PG_GRANTS.text).fetchall():
            found.setdefault(table, {})[grantee] = privileges
        relations = {
            name
            for (name,) in con.execute(
                "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND relkind IN ('r', 'S')"
            ).fetchall()
        }
    assert relations == set(GRANTS), "every table and sequence needs a line in GRANTS"
    assert found == GRANTS
    # The owner's private schema (chain locks): nobody else may use it or anything in it.
    with _connect(pg_server, SUPERUSER, pg_database) as con:
        private = con.execute(
            "SELECT c.relname, c.relacl::text FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'dispatcher_private'"
        ).fetchall()
        schema = con.execute(
            "SELECT nspacl::text FROM pg_namespace WHERE nspname = 'dispatcher_private'"
        ).fetchone()
    assert {name for name, _ in private} >= {"chain_heads"}
    for name, acl in private:
        assert acl is None or all(a.startswith(OWNER_ACL) for a in _acl_items(acl)), (name, acl)
    assert schema is not None and all(a.startswith(OWNER_ACL) for a in _acl_items(schema[0]))


OWNER_ACL = "dispatcher_owner="


def _acl_items(acl: str | None) -> list[str]:
    return [] if acl is None else acl.strip("{}").split(",")


def test_a_depot_login_runs_its_week(depot: dict[str, Any]) -> None:
    _run_the_week(depot)


def test_ids_past_32_bits_run_the_whole_week(depot: dict[str, Any]) -> None:
    """Every site draws ids from the same sequences, and a depot may call nextval() on them: one
    depot must not be able to use them up for everyone. Past 2^31 the week still runs."""
    start = 2**31 + 1_000
    with _connect(depot["server"], SUPERUSER, depot["database"]) as con:
        for sequence in SEQUENCES:
            con.execute(f"SELECT setval('{sequence}_id_seq', {start})")
    _run_the_week(depot)
    assert _run(depot["url"], "show-run", RUN).exit_code == 0  # records its verification
    with _connect(depot["server"], SUPERUSER, depot["database"]) as con:
        for table in ("runs", "plan_versions", "repair_requests", "approvals"):
            (low,) = con.execute(f"SELECT min(id) FROM {table}").fetchone() or (None,)
            assert low is not None and low > start, table
        (checked,) = con.execute("SELECT min(version_pk) FROM version_checks").fetchone() or (0,)
        assert checked > start


def test_id_sequences_cannot_be_used_up_or_reset_by_a_depot(depot: dict[str, Any]) -> None:
    with _connect(depot["server"], SUPERUSER, depot["database"]) as con:
        widths = con.execute(
            "SELECT sequencename, data_type, max_value FROM pg_sequences "
            "WHERE schemaname = 'public'"
        ).fetchall()
        columns = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_name IN ('id', 'run_pk', 'version_pk')"
        ).fetchall()
    assert sorted(widths) == sorted((f"{t}_id_seq", "bigint", 2**63 - 1) for t in SEQUENCES)
    assert {kind for _, _, kind in columns} == {"bigint"}, columns
    assert len(columns) == 15
    with _connect(depot["server"], SITE_LOGIN, depot["database"]) as con:
        for statement in (
            "SELECT setval('runs_id_seq', 9223372036854775806)",
            "ALTER SEQUENCE runs_id_seq MAXVALUE 10",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                con.execute(statement)
            con.rollback()


def _run_the_week(depot: dict[str, Any]) -> None:
    url, out = depot["url"], depot["tmp"] / "w03.csv"
    steps = [
        ("import-run", str(depot["run"])),
        ("request-repair", "--week", "2026-W03", "--driver", "D005", "--type", "sick",
         "--days", "Wed", "--requester", "disp001"),
        ("kill-switch", "activate", "--scope", "site", "--by", "admin01",
         "--reason", "Dispatch system outage"),
        ("kill-switch", "deactivate", "--scope", "site", "--by", "admin01",
         "--reason", "Dispatch system back"),
    ]  # fmt: skip
    for step in steps:
        result = _run(url, *step)
        assert result.exit_code == 0, (step, result.stderr)
    requests = json.loads(_run(url, "repairs", "list", "--json").stdout)
    request_id = requests[0]["request_id"]
    for step in (
        ("run-repair", "--request", request_id),
        ("apply-repair", request_id, "--approver", "disp001", "--role", "dispatcher",
         "--reason", "Covered the sick call"),
        ("publish", RUN, *PUBLISH_OK, *OVERRIDE),
        ("lock", RUN, *LOCK_OK, *OVERRIDE),
        ("export", RUN, "--out", str(out)),
    ):  # fmt: skip
        result = _run(url, *step)
        assert result.exit_code == 0, (step, result.stderr)
    assert out.exists()
    checked = _run(url, "audit", "verify", "--state")
    assert checked.exit_code == 0, checked.stdout


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (("users", "add", "mallory", "--name", "Mallory", "--role", "platform_admin",
          *ARGS_ADMIN), "change the user registry"),
        (("users", "disable", "ops001", *ARGS_ADMIN), "change the user registry"),
        (("site", "set", "min_reason_length=1", *ARGS_ADMIN), "change site settings"),
        (("kill-switch", "deactivate", *ARGS_ADMIN), "operate the global kill switch"),
        (("kill-switch", "activate", *ARGS_ADMIN), "operate the global kill switch"),
    ],
)  # fmt: skip
def test_a_depot_login_cannot_change_what_every_site_shares(
    depot: dict[str, Any], args: tuple[str, ...], what: str
) -> None:
    url = depot["url"]
    before = {
        chain: _run(depot["platform"], "audit", "log", "--chain", chain, "--json").stdout
        for chain in ("tenant", "platform")
    }
    refused = _run(url, *args)
    assert (refused.exit_code, refused.stderr) == (
        2,
        f"Blocked: This database login may not {what}: on PostgreSQL that needs the platform "
        "login, a member of dispatcher_platform (docs/deployment.md)\n",
    )
    last = json.loads(_run(url, "audit", "log", "--json", "-n", "1").stdout)[0]
    assert (last["outcome"], last["detail"]["check"]) == ("blocked", "platform_login_required")
    for chain, text in before.items():  # nothing written where the depot may not write
        assert _run(depot["platform"], "audit", "log", "--chain", chain, "--json").stdout == text
    assert _run(url, "audit", "verify", "--state").exit_code == 0


def test_a_site_not_set_up_is_one_line_for_a_depot_login(depot: dict[str, Any]) -> None:
    """`wien` bound to a second site the platform admin has not set up yet."""
    with _connect(depot["server"], SUPERUSER, depot["database"]) as con:
        con.execute("INSERT INTO site_logins VALUES (%s, 'LTS', 'LINZ')", [SITE_LOGIN])
    other = _run(depot["url"], "site", "init", site="LINZ")
    assert (other.exit_code, other.stderr) == (
        1,
        "Error: Site LTS/LINZ is not set up on this database: a platform admin runs "
        "`dispatcher site init` for it with the platform login first (docs/deployment.md)\n",
    )
    assert _run(depot["url"], "audit", "log", "--json", site="LINZ").stdout.strip() == "[]"


def _at_tip(
    con: psycopg.Connection[Any], tenant: str, site: str, draft: EventDraft, at: Any = None
) -> AuditEvent:
    """`draft` sealed at the chain's tip with the tool's own code, dated `at` (default: the
    tip's time); `con` reads the tip (the superuser's, so any chain)."""
    tip = con.execute(
        "SELECT seq, hash, occurred_at FROM audit_events WHERE tenant_id = %s AND site_id = %s "
        "ORDER BY seq DESC LIMIT 1",
        [tenant, site],
    ).fetchone()
    assert tip is not None
    return seal_event(draft, seq=tip[0] + 1, occurred_at=at or parse_timestamp(tip[2]),
                      tenant=tenant, site=site, prev_hash=tip[1])  # fmt: skip


def _forged(con: psycopg.Connection[Any], tenant: str, site: str, draft: EventDraft) -> str:
    return insert_sql(_at_tip(con, tenant, site, draft))


def test_hand_written_sql_of_a_depot_login_is_refused(
    pg_server: PgServer, depot: dict[str, Any]
) -> None:
    """The attacks of issue 18, as `wien` in its own SQL shell scoped to its own site."""
    database = depot["database"]
    mallory = {"user": "mallory", "name": "M", "roles": ["platform_admin"], "active": True}
    with _connect(pg_server, SUPERUSER, database) as con:  # the tips, read by the superuser
        registry = _forged(
            con,
            "LTS",
            "*",
            EventDraft(Action.USER_ADD, actor_id="admin01", reason="Needs it now", detail=mallory),
        )
        own_lock = _forged(
            con,
            "LTS",
            "WIEN",
            EventDraft(Action.LOCK, actor_id="ops001", actor_role="ops_lead",
                       reason="Approved for export", run_id=RUN, plan_version=1),
        )  # fmt: skip
        platform = _forged(
            con,
            "*",
            "*",
            EventDraft(
                Action.KILL_SWITCH_DEACTIVATE,
                actor_id="admin01",
                reason="Back to work now",
                detail={"scope": "global", "target": "global"},
            ),
        )
    attacks = {
        "a lock forged at its own site's tip": own_lock,
        "registry event": registry,
        "platform event": platform,
        "user added": "INSERT INTO users (tenant_id, user_id, name, roles, active, created_at) "
        "VALUES ('LTS', 'mallory', 'M', 'platform_admin', true, now())",
        "roles widened": "UPDATE users SET roles = 'dispatcher,ops_lead,platform_admin'",
        "settings weakened": "UPDATE site_settings SET min_reason_length = 1",
        "global switch row": "INSERT INTO kill_switch_history (scope, active, actor_id, reason, "
        "changed_at) VALUES ('global', false, 'admin01', 'lifted', now())",
        "a new site": "INSERT INTO sites (tenant_id, site_id, created_at) VALUES "
        "('LTS', 'EVIL', now())",
    }  # fmt: skip

    def accepted_by_the_database() -> list[str]:
        accepted = []
        for name, sql in attacks.items():
            with _connect(pg_server, SITE_LOGIN, database) as con:
                try:
                    with con.transaction():
                        con.execute(SCOPE)
                        con.execute(sql.encode())
                except psycopg.errors.InsufficientPrivilege:
                    continue  # a missing grant, or a row-level security policy
                except psycopg.errors.RestrictViolation as refusal:  # a guard trigger
                    if not guards_off:
                        continue
                    accepted.append(f"{name}: only a guard refused ({refusal})")
                    continue
                accepted.append(name)
        return accepted

    guards_off = False
    assert accepted_by_the_database() == []
    # The grants and policies alone, with every guard trigger switched off (the database is
    # this test's own copy): still refused.
    with _connect(pg_server, SUPERUSER, database) as con:
        for table in ("audit_events", "users", "site_settings", "kill_switch_history", "sites"):
            con.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER".encode())
    guards_off = True
    assert accepted_by_the_database() == []


def _event_through_the_database(
    con: psycopg.Connection[Any],
    tenant: str,
    site: str,
    draft: EventDraft,
    at: Any = None,
    login: str = SITE_LOGIN,
) -> tuple[str, str, str]:
    """(body, detail, hash) of `draft` at the chain's tip: the function's two arguments. The
    event names the `login` that will append it, as the tool's events do."""
    from dataclasses import replace

    from dispatcher.domain.hashing import canonical_json

    seen = draft.detail.get("seen") or seen_from_wien(con, tenant, site)
    draft = replace(draft, detail={**draft.detail, "session_login": login, "seen": seen})
    event = _at_tip(con, tenant, site, draft, at)
    return event.body, canonical_json(event.detail), event.hash


def _a_wien_event(server: PgServer, database: str) -> tuple[str, str, str]:
    """(body, detail, hash) of a blocked event at WIEN's tip, reading the true tips: an event
    the append function takes from `wien`."""
    draft = EventDraft(Action.KILL_SWITCH_ACTIVATE, outcome=Outcome.BLOCKED, actor_id="nobody",
                       detail={"check": "x", "message": "y"})  # fmt: skip
    with _connect(server, SUPERUSER, database) as con:
        return _event_through_the_database(con, "LTS", "WIEN", draft)


def test_the_database_appends_events_and_names_the_login(
    pg_server: PgServer, depot: dict[str, Any]
) -> None:
    """What the tool does, by hand as `wien`: the function accepts the tool's own event, hashes
    it as the tool does, and records the login; a detail that is not the body's is refused."""
    database = depot["database"]
    assert _run(depot["url"], "import-run", str(depot["run"])).exit_code == 0
    body, detail, sealed = _a_wien_event(pg_server, database)
    with _connect(pg_server, SITE_LOGIN, database) as con:
        refused = pytest.raises(psycopg.errors.RestrictViolation, match="not the body")
        with refused, con.transaction():
            con.execute(SCOPE)
            con.execute("SELECT dispatcher_append_event(%s, %s)", [body, '{"check":"z"}'])
        with con.transaction():
            con.execute(SCOPE)
            row = con.execute("SELECT dispatcher_append_event(%s, %s)", [body, detail]).fetchone()
    assert row == (sealed,)
    with _connect(pg_server, SUPERUSER, database) as con:
        by_login = con.execute(
            "SELECT recorded_by FROM audit_events WHERE tenant_id = 'LTS' AND site_id = 'WIEN' "
            "ORDER BY seq"
        ).fetchall()
    # site.create and settings by the platform login, the import by the tool as wien, then this
    assert [login for (login,) in by_login] == [PLATFORM_LOGIN, PLATFORM_LOGIN, SITE_LOGIN,
                                                 SITE_LOGIN]  # fmt: skip
    shown = json.loads(_run(depot["url"], "audit", "log", "--json", "-n", "1").stdout)[0]
    assert (shown["seq"], shown["recorded_by"]) == (4, SITE_LOGIN)
    assert _run(depot["url"], "audit", "verify").exit_code == 0


def test_a_real_clock_database_takes_only_the_server_s_time(pg_server: PgServer) -> None:
    """On a database with the real clock, an event dated an hour ago is refused by the
    database itself, whoever built it."""
    from datetime import UTC, datetime, timedelta

    from dispatcher.db.engine import make_engine
    from dispatcher.db.migrate import upgrade_to_head
    from tests.pgserver import OWNER

    pg_server.admin_sql(f"CREATE DATABASE real_clock OWNER {OWNER}")
    try:
        engine = make_engine(pg_server.url(OWNER, "real_clock"))
        upgrade_to_head(engine)
        engine.dispose()
        env = {"DISPATCHER_DB": pg_server.url(PLATFORM_LOGIN, "real_clock")}
        made = CliRunner().invoke(app, ["db", "init"], env=env)
        wiring.reset()
        assert made.exit_code == 0, made.output
        draft = EventDraft(Action.KILL_SWITCH_ACTIVATE, outcome=Outcome.BLOCKED,
                           actor_id="nobody", detail={"check": "x", "message": "y"})  # fmt: skip
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        with _connect(pg_server, SUPERUSER, "real_clock") as con:
            body, detail, _ = _event_through_the_database(
                con, "*", "*", draft, an_hour_ago, PLATFORM_LOGIN
            )
        refused = pytest.raises(psycopg.errors.RestrictViolation, match="server's time")
        with _connect(pg_server, PLATFORM_LOGIN, "real_clock") as con, refused, con.transaction():
            con.execute(SCOPE)
            con.execute("SELECT dispatcher_append_event(%s, %s)", [body, detail])
    finally:
        wiring.reset()
        pg_server.admin_sql("DROP DATABASE real_clock WITH (FORCE)")


def test_a_depot_login_cannot_hold_up_another_site(
    pg_server: PgServer, depot: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`wien`, in an open transaction, takes every lock it can think of for LTS/GRAZ: the old
    public key of GRAZ's chain, the database's lock function for GRAZ's scope, the registry
    held alone. GRAZ's writer is not held up (a lock wait would end in "Database is busy"
    within the shortened lock timeout), and the salt of the real keys is not readable."""
    import hashlib

    import dispatcher.db.unit_of_work as unit_of_work

    monkeypatch.setattr(unit_of_work, "LOCK_TIMEOUT", "2s")
    digest = hashlib.sha256(b"dispatcher-chain\0LTS\0GRAZ").digest()
    public_key = int.from_bytes(digest[:8], "big", signed=True)
    graz = "SELECT set_config('app.tenant', 'LTS', true), set_config('app.site', 'GRAZ', true)"
    with _connect(pg_server, SITE_LOGIN, depot["database"]) as con:
        con.execute("SELECT pg_advisory_lock(%s)", [public_key])  # held until the session ends
        for sql in (
            graz + "; SELECT dispatcher_lock_chains(false, false)",
            SCOPE + "; SELECT dispatcher_lock_chains(true, false)",
            "SELECT salt FROM dispatcher_private.chain_lock_salt",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), con.transaction():
                for statement in sql.split("; "):
                    con.execute(statement.encode())
        with con.transaction():  # its own site's locks, held while GRAZ writes
            con.execute(SCOPE)
            con.execute("SELECT dispatcher_lock_chains(false, false)")
            written = _run(depot["platform"], "site", "init", site="GRAZ")
            assert written.exit_code == 0, written.stderr


@pytest.mark.parametrize(
    "change",
    [
        ("users", "add", "disp009", "--name", "Gerda Nacht", "--role", "dispatcher"),
        ("kill-switch", "activate"),
    ],
    ids=["registry", "platform"],
)
def test_a_depot_s_open_transaction_holds_off_no_change_of_what_sites_share(
    pg_server: PgServer,
    depot: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    change: tuple[str, ...],
) -> None:
    """`wien` takes its locks and appends a decision by hand, then keeps the transaction open.
    The platform admin, working at GRAZ, changes the registry (or pulls the global switch) and
    GRAZ imports a run, each within a lock timeout of 3 s: neither waits for `wien` (before
    migration c7a3b9e5f016 every writer held the shared chains for its whole transaction, and
    both changes waited as long as `wien` liked). `wien`'s decision, which read the registry and
    the platform before the change, is refused when it commits."""
    import dispatcher.db.unit_of_work as unit_of_work

    assert _run(depot["platform"], "site", "init", site="GRAZ").exit_code == 0
    monkeypatch.setattr(unit_of_work, "LOCK_TIMEOUT", "3s")
    body, detail, _ = _a_wien_event(pg_server, depot["database"])
    with _connect(pg_server, SITE_LOGIN, depot["database"]) as con:
        con.execute(SCOPE)
        con.execute("SELECT dispatcher_lock_chains(false, false)")
        con.execute("SELECT dispatcher_append_event(%s, %s)", [body, detail])  # not committed
        changed = _run(depot["platform"], *change, *ARGS_ADMIN, site="GRAZ")
        written = _run(depot["platform"], "import-run", str(_graz_run(depot)), site="GRAZ")
        with pytest.raises(psycopg.errors.SerializationFailure) as refused:
            con.commit()
    assert changed.exit_code == 0, changed.stderr
    assert written.exit_code == 0, written.stderr
    assert "changed while this command ran" in str(refused.value)
    for site in ("GRAZ", "WIEN"):
        checked = _run(depot["platform"], "audit", "verify", "--state", site=site)
        assert checked.exit_code == 0, checked.stdout


def test_a_commit_cannot_be_stretched_by_a_cursor_held_over_it(
    pg_server: PgServer, depot: dict[str, Any]
) -> None:
    """COMMIT runs a WITH HOLD cursor's query to its end after the deferred triggers, with the
    shared chains' locks the check at commit took: `pg_sleep` there held off the global kill
    switch for as long as it slept. Refused at once."""
    import time

    body, detail, _ = _a_wien_event(pg_server, depot["database"])
    with _connect(pg_server, SITE_LOGIN, depot["database"]) as con:
        con.execute(SCOPE)
        con.execute("SELECT dispatcher_append_event(%s, %s)", [body, detail])
        con.execute("DECLARE c CURSOR WITH HOLD FOR SELECT pg_sleep(30)")
        started = time.monotonic()
        with pytest.raises(psycopg.errors.RestrictViolation, match="no WITH HOLD cursor"):
            con.commit()
        assert time.monotonic() - started < 10  # refused before the cursor ran
    assert _run(depot["url"], "audit", "verify").exit_code == 0


@pytest.mark.parametrize("early", ["SET CONSTRAINTS ALL IMMEDIATE", "autocommit"])
def test_the_check_at_commit_cannot_be_run_early(
    pg_server: PgServer, depot: dict[str, Any], early: str
) -> None:
    """Run early (by `SET CONSTRAINTS ... IMMEDIATE`, or in an implicit transaction), the check
    of what a decision read would take the shared chains' locks and keep them until a commit
    the session puts off: the kill switch would wait for it again. It runs only for COMMIT."""
    body, detail, _ = _a_wien_event(pg_server, depot["database"])
    append = "SELECT dispatcher_append_event(%s, %s)"
    refused = pytest.raises(psycopg.errors.RestrictViolation, match="only by COMMIT itself")
    with _connect(pg_server, SITE_LOGIN, depot["database"]) as con:
        if early == "autocommit":
            con.autocommit = True
            with refused:
                con.execute(
                    f"SELECT set_config('app.tenant', 'LTS', false), "
                    f"set_config('app.site', 'WIEN', false), {append[7:]}".encode(),
                    [body, detail],
                )
        else:
            con.execute(SCOPE)
            con.execute(append, [body, detail])
            with refused:
                con.execute(early)
    assert _run(depot["url"], "audit", "verify").exit_code == 0


def test_request_ids_held_by_another_site_do_not_stop_a_request(
    pg_server: PgServer, depot: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Request ids are unique per tenant and predictable (REP-<Vienna time>, -2, -3, ...).
    `wien` files requests by hand under GRAZ's next ids and keeps the transaction open; GRAZ's
    sick call must not wait for it (it waited for the lock timeout, then "Database is busy"):
    it skips the held ids, and the trail of both sites stays whole."""
    from datetime import datetime

    from dispatcher.domain.model import VIENNA
    from dispatcher.services import repairs

    graz = _run(depot["platform"], "import-run", str(_graz_run(depot)), site="GRAZ")
    assert graz.exit_code == 0, graz.stderr
    assert _run(depot["url"], "import-run", str(depot["run"])).exit_code == 0
    base = "REP-" + datetime.fromisoformat(FIXED_NOW_TEXT).astimezone(VIENNA).strftime(
        "%Y%m%d%H%M%S"
    )
    squatted = [base, *(f"{base}-{n}" for n in range(2, 30))]
    sick = ("request-repair", "--week", "2026-W03", "--driver", "D005", "--type", "sick",
            "--days", "Wed", "--requester", "disp001")  # fmt: skip
    with _connect(pg_server, SITE_LOGIN, depot["database"]) as con:
        con.execute(SCOPE)
        for request_id in squatted:
            _file_by_hand(con, RUN, request_id)  # not committed
        monkeypatch.setattr(repairs, "ID_ATTEMPTS", 2)  # both held: refused, nothing written
        tip = _run(depot["platform"], "audit", "log", "--json", "-n", "1", site="GRAZ").stdout
        busy = _run(depot["platform"], *sick, site="GRAZ")
        after = _run(depot["platform"], "audit", "log", "--json", "-n", "1", site="GRAZ").stdout
        monkeypatch.undo()
        filed = _run(depot["platform"], *sick, site="GRAZ")
        con.rollback()
    assert (busy.exit_code, busy.stderr) == (1, f"Error: {BUSY_IDS}\n")
    assert after == tip
    assert filed.exit_code == 0, filed.stderr
    ids = [r["request_id"] for r in json.loads(
        _run(depot["platform"], "repairs", "list", "--json", site="GRAZ").stdout)]  # fmt: skip
    assert len(ids) == 1 and ids[0].startswith(base + "-") and ids[0] not in squatted
    for site in ("GRAZ", "WIEN"):
        checked = _run(depot["platform"], "audit", "verify", "--state", site=site)
        assert checked.exit_code == 0, checked.stdout


def _file_by_hand(con: psycopg.Connection[Any], run_id: str, request_id: str) -> None:
    """A pending request of LTS/WIEN written the way the tool writes one: its event through
    the database's function, its row, its entry in the tenant's register of ids."""
    draft = EventDraft(Action.REPAIR_REQUEST, actor_id="disp001", run_id=run_id, plan_version=1,
                       detail={"request_id": request_id, "driver_id": "D005", "type": "sick",
                               "urgency": "normal", "instances": []})  # fmt: skip
    body, detail, _ = _event_through_the_database(con, "LTS", "WIEN", draft)
    con.execute("SELECT dispatcher_append_event(%s, %s)", [body, detail])
    con.execute(
        "INSERT INTO repair_requests (tenant_id, site_id, request_id, run_pk, base_version, "
        "week, driver_id, absence_type, scope, requester, urgency, status, created_at, "
        "event_seq) SELECT 'LTS', 'WIEN', %s, id, 1, '2026-W03', 'D005', 'sick', '{}', "
        "'disp001', 'normal', 'PENDING', now(), (SELECT max(seq) FROM audit_events "
        "WHERE tenant_id = 'LTS' AND site_id = 'WIEN') FROM runs WHERE run_id = %s",
        [request_id, run_id],
    )
    con.execute("INSERT INTO repair_request_ids VALUES ('LTS', %s, 'WIEN')", [request_id])


def _as_wien(pg_server: PgServer, database: str, *statements: str) -> str | None:
    """Run `statements` in one transaction as `wien`; the refusal's text, or None."""
    with _connect(pg_server, SITE_LOGIN, database) as con:
        try:
            with con.transaction():
                for statement in statements:
                    con.execute(statement.encode())
        except psycopg.Error as exc:
            return str(exc)
    return None


def test_a_temporary_table_does_not_stand_in_for_the_real_one(
    pg_server: PgServer, depot: dict[str, Any]
) -> None:
    """A session's temporary tables come first on its search path: a `site_logins` of its own
    must not bind `wien` to another tenant, nor a fake `audit_events` vouch for a state row.
    (TEMPORARY is granted back here: a database made from a template has it again.)"""
    database = depot["database"]
    with _connect(pg_server, SUPERUSER, database) as con:
        con.execute(f"GRANT TEMPORARY ON DATABASE {database} TO {SITE_LOGIN}".encode())
    other = "SELECT set_config('app.tenant', 'OTHER', true), set_config('app.site', 'X', true)"
    with _connect(pg_server, SITE_LOGIN, database) as con:
        con.execute("CREATE TEMP TABLE site_logins (login_name text, tenant text, site text)")
        con.execute(
            "INSERT INTO site_logins VALUES ('wien', 'OTHER', 'X'), ('wien', 'LTS', 'GRAZ')"
        )
        con.execute(
            "CREATE TEMP TABLE audit_events AS SELECT * FROM public.audit_events WHERE false"
        )
        con.execute(
            "INSERT INTO pg_temp.audit_events (tenant_id, site_id, seq, occurred_at, action, "
            "outcome, actor_id, reason, detail, prev_hash, hash, body) VALUES ('LTS', 'GRAZ', "
            "9001, '', 'kill_switch.activate', 'allowed', 'admin01', 'Emergency stop', '{}', "
            "'', '', '{}')"
        )
        with con.transaction():
            con.execute(other)
            assert con.execute("SELECT dispatcher_scope_granted()").fetchone() == (False,)
            for table in ("users", "site_settings", "audit_events"):
                row = con.execute(f"SELECT count(*) FROM public.{table}".encode()).fetchone()
                assert row == (0,), table
        planted = (
            "INSERT INTO public.kill_switch_history (scope, tenant_id, site_id, active, "
            "actor_id, reason, changed_at, event_tenant, event_site, event_seq) VALUES ('site', "
            "'LTS', 'GRAZ', true, 'admin01', 'Emergency stop', now(), 'LTS', 'GRAZ', 9001)"
        )
        with pytest.raises(psycopg.Error), con.transaction():
            con.execute(
                "SELECT set_config('app.tenant', 'LTS', true), set_config('app.site', 'GRAZ', true)"
            )
            con.execute(planted)


def test_a_depot_cannot_squat_another_site_s_version_cache(
    pg_server: PgServer, depot: dict[str, Any]
) -> None:
    """The cache's key is the version's global id: a row of wien's own scope naming GRAZ's
    version is refused, and GRAZ's show-run works."""
    graz = _run(depot["platform"], "import-run", str(_graz_run(depot)), site="GRAZ")
    assert graz.exit_code == 0, graz.stderr
    with _connect(pg_server, SUPERUSER, depot["database"]) as con:
        row = con.execute("SELECT id FROM plan_versions WHERE site_id = 'GRAZ'").fetchone()
    assert row is not None
    squat = (
        "INSERT INTO version_checks (tenant_id, site_id, version_pk, status, status_reason, "
        "checked_at) "
        f"VALUES ('LTS', 'WIEN', {row[0]}, 'PASS', 'squatted', now())"
    )
    refusal = _as_wien(pg_server, depot["database"], SCOPE, squat)
    assert refusal is not None and "permission denied for table version_checks" in refusal
    through = f"SELECT dispatcher_record_check({row[0]}, 'PASS', 'squatted', now())"
    refusal = _as_wien(pg_server, depot["database"], SCOPE, through)
    assert refusal is not None and "a plan version of its own site" in refusal
    shown = _run(depot["platform"], "show-run", "RUN-20260113-001", site="GRAZ")
    assert shown.exit_code == 0, shown.stderr
    # GRAZ's sick call is in the tenant's register of request ids, which WIEN reads too; WIEN's
    # check of its own state must not take it for a request without a row.
    sick = ("request-repair", "--week", "2026-W03", "--driver", "D005", "--type", "sick",
            "--days", "Wed", "--requester", "disp001")  # fmt: skip
    assert _run(depot["platform"], *sick, site="GRAZ").exit_code == 0
    checked = _run(depot["url"], "audit", "verify", "--state")
    assert checked.exit_code == 0, checked.stdout


def _graz_run(depot: dict[str, Any]) -> Path:
    from tests.samples import run_doc

    return write_run(depot["tmp"] / "graz.json", run_doc(site="GRAZ"))


def test_the_append_function_takes_only_the_canonical_fields_and_sane_sizes(
    pg_server: PgServer, depot: dict[str, Any]
) -> None:
    """A body with a field the canonical form does not have would leave the chain broken for
    good (its columns can never agree); one of 100 MB would slow every reader."""
    database = depot["database"]
    body, detail, _ = _a_wien_event(pg_server, database)
    extra = body[:-1] + ',"recorded_by":"dispatcher_admin"}'
    huge = body.replace('"reason":null', '"reason":"' + "x" * 2_000_000 + '"')
    for text, fragment in ((extra, "exactly the fields"), (huge, "at most 1 MB")):
        call = f"SELECT dispatcher_append_event('{text}', '{detail}')"
        refusal = _as_wien(pg_server, database, SCOPE, call)
        assert refusal is not None and fragment in refusal, (refusal or "")[:200]
    assert _run(depot["url"], "audit", "verify").exit_code == 0


@pytest.mark.parametrize("table", ["repair_requests", "version_checks", "runs", "audit_events"])
def test_a_depot_login_cannot_lock_a_table_every_site_writes(
    pg_server: PgServer, depot: dict[str, Any], table: str
) -> None:
    """`LOCK TABLE ... IN ACCESS EXCLUSIVE MODE` needs UPDATE, DELETE or TRUNCATE on the table;
    a depot's login holds none of them anywhere, so it cannot make other sites wait. Its own
    writes still work: a sick call proposed and resolved through the database's functions."""
    for mode in ("ACCESS EXCLUSIVE", "EXCLUSIVE", "SHARE"):
        refusal = _as_wien(
            pg_server, depot["database"], SCOPE, f"LOCK TABLE {table} IN {mode} MODE"
        )
        assert refusal is not None and "permission denied" in refusal, (mode, refusal)
    refusal = _as_wien(
        pg_server, depot["database"], SCOPE, "UPDATE repair_requests SET status = 'REJECTED'"
    )
    assert refusal is not None and "permission denied" in refusal


def test_the_chain_locks_are_rows_no_login_can_take_or_see(
    pg_server: PgServer, depot: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Advisory locks showed their keys in pg_locks, and any login could take any key for its
    whole session. While GRAZ's writer holds its chain locks, `wien` finds no key to take,
    cannot reach the rows, and its own failed attempt to append to a shared chain holds
    nothing: GRAZ's next writer is not held up."""
    import dispatcher.db.unit_of_work as unit_of_work

    monkeypatch.setattr(unit_of_work, "LOCK_TIMEOUT", "2s")
    assert _run(depot["platform"], "site", "init", site="GRAZ").exit_code == 0
    graz = "SELECT set_config('app.tenant', 'LTS', true), set_config('app.site', 'GRAZ', true)"
    database = depot["database"]
    with _connect(pg_server, PLATFORM_LOGIN, database) as writer, writer.transaction():
        writer.execute(graz)
        writer.execute("SELECT dispatcher_lock_chains(false, false)")  # GRAZ writing
        with _connect(pg_server, SITE_LOGIN, database) as con:
            keys = con.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
            assert keys.fetchone() == (0,)
            for sql in (
                "SELECT * FROM dispatcher_private.chain_heads FOR UPDATE",
                "SELECT dispatcher_private.hold_chain('LTS', 'GRAZ', true)",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege), con.transaction():
                    con.execute(sql.encode())
    draft = EventDraft(Action.USER_ADD, actor_id="admin01", reason="Needs it now",
                       detail={"user": "mallory"})  # fmt: skip
    with _connect(pg_server, SUPERUSER, database) as con:
        body, detail, _ = _event_through_the_database(con, "LTS", "*", draft)
    with _connect(pg_server, SITE_LOGIN, database) as con:
        con.execute(SCOPE)
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
            con.execute("SELECT dispatcher_append_event(%s, %s)", [body, detail])
        assert "only the platform login appends to what sites share" in str(refused.value)
        # the aborted transaction stays open: it holds nothing GRAZ's writer needs
        written = _run(depot["platform"], "site", "set", "min_reason_length=12", *ARGS_ADMIN,
                       site="GRAZ")  # fmt: skip
        assert written.exit_code == 0, written.stderr


@pytest.mark.parametrize(
    ("field", "value"),
    [("actor_id", 123), ("actor_id", True), ("plan_version", "1"), ("run_id", 7),
     ("reason", ["x"]), ("seq", "99")],
)  # fmt: skip
def test_a_body_field_of_another_json_type_is_refused(
    pg_server: PgServer, depot: dict[str, Any], field: str, value: Any
) -> None:
    """An actor 123 passed as the text "123": the database took it and every `audit verify`
    afterwards named the chain broken there, for good. Each field has its canonical type."""
    database = depot["database"]
    body, detail = _refused_export(pg_server, database)
    document = json.loads(body)
    document[field] = value if field != "seq" else str(document["seq"])
    from dispatcher.domain.hashing import canonical_json

    refusal = _as_wien(pg_server, database, SCOPE,
                       f"SELECT dispatcher_append_event('{canonical_json(document)}', '{detail}')")  # fmt: skip
    assert refusal is not None and "canonical JSON type" in refusal, refusal
    assert _run(depot["url"], "audit", "verify").exit_code == 0


def test_a_site_event_that_names_no_tips_is_refused(
    pg_server: PgServer, depot: dict[str, Any]
) -> None:
    database = depot["database"]
    body, _ = _refused_export(pg_server, database)
    document = json.loads(body)
    del document["detail"]["seen"]
    from dispatcher.domain.hashing import canonical_json

    text = canonical_json(document["detail"])
    refusal = _as_wien(pg_server, database, SCOPE,
                       f"SELECT dispatcher_append_event('{canonical_json(document)}', '{text}')")  # fmt: skip
    assert refusal is not None and "tips it read (detail.seen)" in refusal, refusal


def test_an_event_is_appended_only_at_read_committed(
    pg_server: PgServer, depot: dict[str, Any]
) -> None:
    """Under REPEATABLE READ the function's reads used a snapshot older than the chain locks it
    then took: a lock appended after its approver was disabled was judged against the registry
    before. The function takes only READ COMMITTED, and the tool asks for it whatever the
    login's default (a login may set its own)."""
    database = depot["database"]
    body, detail = _refused_export(pg_server, database)
    for level in ("REPEATABLE READ", "SERIALIZABLE"):
        refusal = _as_wien(pg_server, database, f"SET TRANSACTION ISOLATION LEVEL {level}",
                           SCOPE, f"SELECT dispatcher_append_event('{body}', '{detail}')")  # fmt: skip
        assert refusal is not None and "appended at READ COMMITTED" in refusal, refusal
    with _connect(pg_server, SUPERUSER, database) as con:
        con.execute(f"ALTER ROLE {SITE_LOGIN} IN DATABASE {database} "
                    "SET default_transaction_isolation = 'repeatable read'")  # fmt: skip
    try:
        imported = _run(depot["url"], "import-run", str(depot["run"]))
        assert imported.exit_code == 0, imported.stderr
    finally:
        with _connect(pg_server, SUPERUSER, database) as con:
            con.execute(f"ALTER ROLE {SITE_LOGIN} IN DATABASE {database} RESET ALL")


def test_a_depot_body_for_the_platform_s_chain_holds_nothing(
    pg_server: PgServer, depot: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tenant: "*"` with the depot's own site took the platform's row alone before row-level
    security refused the insert: every site's writer waited while the body was checked. It is
    refused first now, and an oversized body by its length, before it is parsed."""
    import dispatcher.db.unit_of_work as unit_of_work

    monkeypatch.setattr(unit_of_work, "LOCK_TIMEOUT", "2s")
    database = depot["database"]
    body, detail = _refused_export(pg_server, database)
    document = json.loads(body)
    document["tenant"] = "*"
    from dispatcher.domain.hashing import canonical_json

    with _connect(pg_server, SITE_LOGIN, database) as con:
        con.execute(SCOPE)
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
            con.execute(
                "SELECT dispatcher_append_event(%s, %s)", [canonical_json(document), detail]
            )
        assert "not for the chains of LTS/WIEN" in str(refused.value)
        # its aborted transaction stays open: another site's writer does not wait for it
        written = _run(depot["platform"], "site", "init", site="GRAZ")
        assert written.exit_code == 0, written.stderr
    huge = body.replace('"reason":null', '"reason":"' + "x" * 5_000_000 + '"')
    with _connect(pg_server, SITE_LOGIN, database) as con:
        con.execute(SCOPE)
        with pytest.raises(psycopg.errors.RestrictViolation) as too_big:
            con.execute("SELECT dispatcher_append_event(%s, %s)", [huge, detail])
    assert "at most 1 MB" in str(too_big.value)


def test_an_upgraded_database_has_a_lock_row_for_every_chain(
    pg_server: PgServer, depot: dict[str, Any]
) -> None:
    """A missing row is inserted by the first writer, and every other writer of that chain
    waits until it commits: the upgrade writes one for every chain that exists."""
    from dispatcher.db.engine import make_engine
    from dispatcher.db.migrate import downgrade_to, upgrade_to_head

    assert _run(depot["platform"], "site", "init", site="GRAZ").exit_code == 0
    engine = make_engine(pg_server.url(OWNER, depot["database"]))
    try:
        downgrade_to(engine, "f3c9d5a1b012")
        upgrade_to_head(engine)
    finally:
        engine.dispose()
    with _connect(pg_server, SUPERUSER, depot["database"]) as con:
        rows = set(con.execute("SELECT tenant_id, site_id FROM dispatcher_private.chain_heads"))
    assert rows >= {("LTS", "WIEN"), ("LTS", "GRAZ"), ("LTS", "*"), ("*", "*")}, rows


def _refused_export(pg_server: PgServer, database: str) -> tuple[str, str]:
    """(body, detail) of a blocked export at WIEN's tip, naming `wien` and the true tips: an
    event the function accepts as it is, for the tests to spoil one thing of."""
    draft = EventDraft(Action.EXPORT, outcome=Outcome.BLOCKED, actor_id="disp001", run_id=RUN,
                       detail={"check": "run_locked", "message": "not locked"})  # fmt: skip
    with _connect(pg_server, SUPERUSER, database) as con:
        body, detail, _ = _event_through_the_database(con, "LTS", "WIEN", draft)
    return body, detail
