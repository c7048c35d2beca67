"""Row-level security on a real PostgreSQL server: one tenant/site's session cannot read, move,
insert or delete anybody else's rows, even with hand-written SQL through the application role;
every policy is load-bearing (drop one and the probe finds the leak); the schema carries the
same guards as SQLite; the platform view is widened only for a platform login."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from typer.testing import CliRunner

from dispatcher.cli import wiring
from dispatcher.cli.app import app
from dispatcher.db.engine import make_engine
from dispatcher.db.migrate import downgrade_to, upgrade_to_head
from dispatcher.db.schema import SCHEMA_HEAD, stored_revision
from dispatcher.db.tables import metadata
from dispatcher.domain.hashing import canonical_json
from tests.conftest import PG_TEMPLATE
from tests.integration.test_migrations import EXPECTED_TRIGGERS
from tests.pgprobe import STRANGER, probe, scoped_tables
from tests.pgserver import APP_LOGIN, OWNER, PLATFORM_LOGIN, SITE_LOGIN, SUPERUSER, PgServer
from tests.samples import OVERRIDE, PUBLISH_OK, run_doc, write_run

pytestmark = pytest.mark.postgres

OWN = ("LTS", "WIEN")
OTHERS = [("LTS", "GRAZ"), ("OTHER", "WIEN")]
NOW = "2026-01-11T12:00:00Z"
SEEDED = "dispatcher_seeded"


def _connect(server: PgServer, user: str, database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(f"host=127.0.0.1 port={server.port} user={user} dbname={database}")


def _invoke(url: str, tenant: str, site: str, *args: str) -> str:
    env = {
        "DISPATCHER_DB": url,
        "DISPATCHER_TENANT": tenant,
        "DISPATCHER_SITE": site,
        "DISPATCHER_NOW": NOW,
        "NO_COLOR": "1",
    }
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    wiring.reset()
    assert result.exit_code == 0, (tenant, site, args, result.output)
    return result.stdout


def _seed_site(url: str, tenant: str, site: str, folder: Path, *, new_tenant: bool) -> None:
    """Through the CLI as the platform login: users (once per tenant), settings, a
    published run, a repair request and a site kill switch, so every table holds rows of this
    scope."""
    run = write_run(folder / f"{tenant}-{site}.json", run_doc(tenant=tenant, site=site))
    users = [
        ("users", "add", "admin01", "--name", "Platform Admin", "--role", "platform_admin"),
        (
            "users",
            "add",
            "disp001",
            "--name",
            "Maria Dispo",
            "--role",
            "dispatcher",
            "--by",
            "admin01",
            "--reason",
            "Pilot team member",
        ),
    ]
    steps = [
        ("site", "set", "shadow_only=false", "publish_enabled=true", "fte_warn_bp=0",
         "fte_block_bp=0", "pt_warn_bp=10000",
         "pt_block_bp=10000", "--by", "admin01", "--reason", "Small test site"),
        ("import-run", str(run)),
        ("publish", "RUN-20260111-001", *PUBLISH_OK, *OVERRIDE),
        ("request-repair", "--week", "2026-W03", "--driver", "D005", "--type", "sick",
         "--days", "Tue", "--requester", "disp001"),
        ("kill-switch", "activate", "--scope", "site", "--by", "admin01",
         "--reason", "Probe: site stop"),
    ]  # fmt: skip
    for step in (users if new_tenant else []) + steps:
        _invoke(url, tenant, site, *step)


@pytest.fixture(scope="module")
def seeded(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database with three scopes (ours, another site of our tenant, another tenant), the
    stranger tenant the probe writes for, and one global kill-switch row."""
    pg_server.admin_sql(f"CREATE DATABASE {SEEDED} TEMPLATE {PG_TEMPLATE} OWNER {OWNER}")
    url = pg_server.url(PLATFORM_LOGIN, SEEDED)  # registry, settings, global switch: platform's
    folder = tmp_path_factory.mktemp("seed")
    seen: set[str] = set()
    for tenant, site in [OWN, *OTHERS]:
        _seed_site(url, tenant, site, folder, new_tenant=tenant not in seen)
        seen.add(tenant)
    _invoke(  # the platform's operator (the template was created for LTS)
        url, *OWN, "kill-switch", "activate", "--by", "admin01", "--reason", "Probe: global"
    )
    with _connect(pg_server, SUPERUSER, SEEDED) as con:
        con.execute("SET session_replication_role = replica")  # a bare site, no events
        con.execute("INSERT INTO tenants VALUES (%s, now())", [STRANGER[0]])
        con.execute("INSERT INTO sites VALUES (%s, %s, now())", list(STRANGER))
    yield SEEDED
    wiring.reset()
    pg_server.admin_sql(f"DROP DATABASE {SEEDED} WITH (FORCE)")


def _scope(con: psycopg.Connection[Any], tenant: str, site: str) -> None:
    """What the unit of work does at the start of every transaction."""
    con.execute(
        "SELECT set_config('app.tenant', %s, true), set_config('app.site', %s, true)",
        [tenant, site],
    )


def test_every_table_of_the_probe_holds_rows_of_other_scopes(
    pg_server: PgServer, seeded: str
) -> None:
    """The probe can only find a leak where there is something to leak."""
    with _connect(pg_server, SUPERUSER, seeded) as con:
        tables = scoped_tables(con)
        assert len(tables) == 18
        for table in tables:
            own, params = table.own(*OWN)
            query = f"SELECT count(*) FROM {table.name} WHERE NOT {own.as_string(con)}"
            hidden = con.execute(query.encode(), params).fetchone()
            assert hidden is not None and hidden[0] > 0, table.name


def test_a_site_session_cannot_read_move_insert_or_delete_other_rows(
    pg_server: PgServer, seeded: str
) -> None:
    with _connect(pg_server, APP_LOGIN, seeded) as con:
        tables = scoped_tables(con)
        with con.transaction(force_rollback=True):
            _scope(con, *OWN)
            assert probe(con, tables, *OWN) == []
            visible = con.execute("SELECT count(*) FROM runs").fetchone()
            assert visible == (1,)


def test_setting_the_platform_flag_by_hand_widens_nothing_for_a_site_login(
    pg_server: PgServer, seeded: str
) -> None:
    with _connect(pg_server, APP_LOGIN, seeded) as con, con.transaction(force_rollback=True):
        _scope(con, *OWN)
        con.execute("SELECT set_config('app.all_sites', 'on', true)")
        assert probe(con, scoped_tables(con), *OWN) == []


def test_an_unscoped_session_sees_nothing(pg_server: PgServer, seeded: str) -> None:
    """Nothing of any tenant: only what is platform-wide, the global switch's row and the
    platform's chain (the database's creation, the global switch's events)."""
    with _connect(pg_server, SUPERUSER, seeded) as con:
        platform = con.execute(
            "SELECT count(*) FROM audit_events WHERE tenant_id = '*' AND site_id = '*'"
        ).fetchone()
    assert platform is not None and platform[0] >= 2
    with _connect(pg_server, APP_LOGIN, seeded) as con:
        for table in scoped_tables(con):
            row = con.execute(f"SELECT count(*) FROM {table.name}".encode()).fetchone()
            expected = {"kill_switch_history": 1, "audit_events": platform[0]}.get(table.name, 0)
            assert row == (expected,), table.name


MOLE = (
    "INSERT INTO users (tenant_id, user_id, name, roles, active, created_at, user_key, event_seq)"
    " VALUES (%s, 'mole', 'Mole', 'platform_admin', true, now(), 'mole', 1)"
)


def test_a_cross_tenant_insert_is_refused(pg_server: PgServer, seeded: str) -> None:
    """Even the platform login, which may write the registry, writes only its scope's tenant."""
    with _connect(pg_server, PLATFORM_LOGIN, seeded) as con, con.transaction():
        _scope(con, *OWN)
        with pytest.raises(psycopg.errors.RestrictViolation, match=r"user\.add event"):
            con.execute(MOLE, ["OTHER"])  # the guard trigger fires first
    with _connect(pg_server, SUPERUSER, seeded) as con, con.transaction(force_rollback=True):
        con.execute("SET LOCAL session_replication_role = replica")  # and without the guards:
        con.execute(f"SET LOCAL ROLE {PLATFORM_LOGIN}".encode())
        _scope(con, *OWN)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            con.execute(MOLE, ["OTHER"])


def test_scope_settings_do_not_outlive_the_transaction(pg_server: PgServer, seeded: str) -> None:
    """set_config(..., true) is SET LOCAL: the next transaction on the same connection (as a
    pool would hand it out) starts unscoped."""
    with _connect(pg_server, APP_LOGIN, seeded) as con:
        with con.transaction():
            _scope(con, *OWN)
            assert con.execute("SELECT count(*) FROM runs").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_the_platform_login_reads_every_site_but_writes_only_its_own(
    pg_server: PgServer, seeded: str
) -> None:
    with _connect(pg_server, PLATFORM_LOGIN, seeded) as con, con.transaction(force_rollback=True):
        _scope(con, *OWN)
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (1,)  # not asked: own only
        con.execute("SELECT set_config('app.all_sites', 'on', true)")
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (3,)
        denied = pytest.raises(psycopg.errors.InsufficientPrivilege)
        with con.transaction(force_rollback=True), denied:  # only through the owner's function
            con.execute("UPDATE version_checks SET status_reason = 'x'")
        with con.transaction(force_rollback=True):
            for (pk,) in con.execute("SELECT version_pk FROM version_checks").fetchall():
                try:
                    with con.transaction():
                        con.execute("SELECT dispatcher_record_check(%s, 'PASS', 'x', now())", [pk])
                except psycopg.errors.RestrictViolation:
                    pass  # another site's version: the cache takes only its own site's
            moved = con.execute("SELECT count(*) FROM version_checks WHERE status_reason = 'x'")
            assert moved.fetchone() == (1,)
        refused = (psycopg.errors.InsufficientPrivilege, psycopg.errors.RestrictViolation)
        with pytest.raises(refused):
            con.execute("INSERT INTO sites VALUES ('OTHER', 'LINZ', now())")


BY_OWNER_FUNCTIONS = {
    "repair_requests_scope_update",
    "version_checks_scope_insert",
    "version_checks_scope_update",
}


@pytest.mark.parametrize(
    "policy",
    [
        f"{table}_scope_{command}"
        for table in (
            "tenants", "users", "sites", "site_settings", "runs", "tour_instances", "drivers",
            "availability", "plan_versions", "assignments", "audit_results", "evidence_records",
            "repair_requests", "repair_request_ids", "approvals", "kill_switch_history",
            "audit_events", "version_checks",
        )
        for command in ("read", "insert", "update")
        if (command != "update"
            or table in ("site_settings", "users", "repair_requests", "version_checks"))
        # events go in through the append function alone, which checks the scope itself first
        # (test_the_append_function_holds_the_scope_without_its_policy)
        and f"{table}_scope_{command}" != "audit_events_scope_insert"
    ],
)  # fmt: skip
def test_dropping_any_policy_lets_the_probe_find_a_leak(
    pg_server: PgServer, seeded: str, policy: str
) -> None:
    """In a transaction that is rolled back: drop one policy, switch the guard triggers off (they
    refuse most foreign rows first), act as the login holding every grant (the platform's: a
    depot's has no write on tenant-wide tables at all), probe. The leak must name the policy's
    table (and the probe must find nothing else)."""
    table = policy.rsplit("_scope_", 1)[0]
    # Writes no application login may make itself: the owner's functions make them (row-level
    # security is forced on the owner too), so the probe acts as the owner for those.
    actor = OWNER if policy in BY_OWNER_FUNCTIONS else PLATFORM_LOGIN
    with _connect(pg_server, SUPERUSER, seeded) as con, con.transaction(force_rollback=True):
        tables = scoped_tables(con)
        con.execute(f"DROP POLICY {policy} ON {table}".encode())
        con.execute("SET LOCAL session_replication_role = replica")
        con.execute(f"SET LOCAL ROLE {actor}".encode())
        _scope(con, *OWN)
        leaks = probe(con, tables, *OWN)
    if actor == OWNER:  # the owner is held by the write policies of these tables alone
        leaks = [leak for leak in leaks if leak.startswith(f"{table}:")]
    assert leaks, f"dropping {policy} went unnoticed"
    assert all(leak.startswith(f"{table}:") for leak in leaks), leaks


def test_every_tenant_table_forces_row_security_with_its_policies(
    pg_server: PgServer, seeded: str
) -> None:
    with _connect(pg_server, SUPERUSER, seeded) as con:
        tables = {t.name for t in scoped_tables(con)}
        forced = con.execute(
            "SELECT relname FROM pg_class WHERE relrowsecurity AND relforcerowsecurity"
        ).fetchall()
        assert {name for (name,) in forced} == tables | {"site_logins"}
        policies = con.execute(
            "SELECT tablename, policyname, permissive, cmd FROM pg_policies"
        ).fetchall()
    by_table: dict[str, set[tuple[str, str, str]]] = {}
    for table, name, permissive, cmd in policies:
        by_table.setdefault(table, set()).add((name.removeprefix(f"{table}_"), permissive, cmd))
    for table in tables:
        assert ("rows", "PERMISSIVE", "ALL") in by_table[table]
        assert ("scope_read", "RESTRICTIVE", "SELECT") in by_table[table]
        assert ("scope_insert", "RESTRICTIVE", "INSERT") in by_table[table]


def test_the_guards_are_the_sqlite_triggers_plus_two(pg_server: PgServer, seeded: str) -> None:
    """PostgreSQL's own: no TRUNCATE of the trail, and the check at commit of what a decision
    read of the shared chains (SQLite's one writer at a time needs none)."""
    with _connect(pg_server, SUPERUSER, seeded) as con:
        rows = con.execute(
            "SELECT DISTINCT tgname FROM pg_trigger WHERE NOT tgisinternal"
        ).fetchall()
    own = {"audit_events_no_truncate", "audit_events_seen_at_commit"}
    assert {name for (name,) in rows} == EXPECTED_TRIGGERS | own


def test_the_audit_tables_are_insert_only_for_the_application(
    pg_server: PgServer, seeded: str
) -> None:
    with _connect(pg_server, SUPERUSER, seeded) as con:
        rows = con.execute(
            "SELECT table_name, string_agg(privilege_type, ',' ORDER BY privilege_type) "
            "FROM information_schema.role_table_grants WHERE grantee = 'dispatcher_app' "
            "GROUP BY table_name"
        ).fetchall()
    grants = dict(rows)
    assert grants["audit_events"] == "SELECT"  # appended by dispatcher_append_event only
    for table in (
        "approvals",
        "kill_switch_history",
        "evidence_records",
        "repair_request_ids",
        "runs",
        "plan_versions",
        "assignments",
        "audit_results",
    ):
        assert grants[table] == "INSERT,SELECT", table
    assert not any("DELETE" in g or "TRUNCATE" in g for g in grants.values())


def test_models_and_migrations_agree_on_postgres(pg_server: PgServer) -> None:
    engine = make_engine(pg_server.url(OWNER, PG_TEMPLATE))
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    engine.dispose()


def test_downgrade_and_upgrade_round_trip_on_postgres(pg_server: PgServer) -> None:
    pg_server.admin_sql(f"CREATE DATABASE round_trip OWNER {OWNER}")
    engine = make_engine(pg_server.url(OWNER, "round_trip"))
    try:
        upgrade_to_head(engine)
        downgrade_to(engine, "base")
        assert stored_revision(engine) is None
        upgrade_to_head(engine)
        assert stored_revision(engine) == SCHEMA_HEAD
    finally:
        engine.dispose()
        pg_server.admin_sql("DROP DATABASE round_trip WITH (FORCE)")


def test_the_application_login_cannot_migrate_and_says_who_can(
    pg_server: PgServer, tmp_path: Path
) -> None:
    pg_server.admin_sql(f"CREATE DATABASE empty_db OWNER {OWNER}")
    try:
        env = {"DISPATCHER_DB": pg_server.url(APP_LOGIN, "empty_db"), "NO_COLOR": "1"}
        result = CliRunner().invoke(app, ["list-runs"], env=env)
        wiring.reset()
        assert result.exit_code == 1
        assert result.stderr == (
            "Error: Database schema is at nothing (empty database), this dispatcher needs "
            f"{SCHEMA_HEAD}: the schema owner runs `dispatcher db upgrade` first "
            "(docs/deployment.md)\n"
        )
        denied = CliRunner().invoke(app, ["db", "upgrade"], env=env)
        wiring.reset()
        assert denied.exit_code == 1 and "permission denied" in denied.stderr
        assert denied.stderr.count("\n") == 1
    finally:
        pg_server.admin_sql("DROP DATABASE empty_db WITH (FORCE)")


def test_all_sites_status_is_audited_and_needs_the_platform_login(
    pg_server: PgServer, seeded: str
) -> None:
    args = ["status", "--all-sites", "--by", "admin01", "--reason", "Monday check", "--json"]
    base = {"DISPATCHER_NOW": NOW, "NO_COLOR": "1"}
    site_login = {**base, "DISPATCHER_DB": pg_server.url(APP_LOGIN, seeded)}
    refused = CliRunner().invoke(app, args, env=site_login)
    wiring.reset()
    assert refused.exit_code == 2
    assert "member of dispatcher_platform" in refused.stderr
    platform = {**base, "DISPATCHER_DB": pg_server.url(PLATFORM_LOGIN, seeded)}
    allowed = CliRunner().invoke(app, args, env=platform)
    wiring.reset()
    assert allowed.exit_code == 0, allowed.output
    shown = json.loads(allowed.stdout)
    names = [f"{s['tenant']}/{s['site']}" for s in shown["sites"]]
    assert names == ["LTS/GRAZ", "LTS/WIEN", "OTHER/WIEN", "ZZZ/NOWHERE"]
    with _connect(pg_server, SUPERUSER, seeded) as con:
        events = con.execute(
            "SELECT outcome, detail FROM audit_events WHERE action = 'sites.view' "
            "AND tenant_id = 'LTS' AND site_id = 'WIEN' ORDER BY seq"
        ).fetchall()
    assert [outcome for outcome, _ in events] == ["blocked", "allowed"]
    assert json.loads(events[1][1])["sites"] == names
    verify = CliRunner().invoke(app, ["audit", "verify"], env=platform)
    wiring.reset()
    assert verify.exit_code == 0, verify.output


def test_a_depot_login_acts_only_for_the_sites_it_is_bound_to(
    pg_server: PgServer, seeded: str
) -> None:
    """`wien` is bound to LTS/WIEN in site_logins: naming another site in its own SQL session
    shows nothing and writes nothing, and the CLI says why in one line."""
    with _connect(pg_server, SUPERUSER, seeded) as con:
        con.execute("INSERT INTO site_logins VALUES (%s, 'LTS', 'WIEN')", [SITE_LOGIN])
    try:
        with _connect(pg_server, SITE_LOGIN, seeded) as con:
            tables = scoped_tables(con)
            with con.transaction(force_rollback=True):
                _scope(con, *OWN)
                assert con.execute("SELECT count(*) FROM runs").fetchone() == (1,)
                assert probe(con, tables, *OWN) == []
            for tenant, site in OTHERS:
                with con.transaction(force_rollback=True):
                    _scope(con, tenant, site)
                    for table in tables:
                        row = con.execute(f"SELECT count(*) FROM {table.name}".encode()).fetchone()
                        expected = 1 if table.name == "kill_switch_history" else 0  # global row
                        assert row == (expected,), (tenant, site, table.name)
                    refused = (
                        psycopg.errors.InsufficientPrivilege,
                        psycopg.errors.RestrictViolation,
                    )
                    with pytest.raises(refused):
                        con.execute(MOLE, [tenant])
        env = {"DISPATCHER_DB": pg_server.url(SITE_LOGIN, seeded), "NO_COLOR": "1"}
        own = CliRunner().invoke(app, ["list-runs"], env=env)
        wiring.reset()
        assert own.exit_code == 0 and "RUN-20260111-001" in own.stdout
        other = CliRunner().invoke(app, ["list-runs"], env={**env, "DISPATCHER_SITE": "GRAZ"})
        wiring.reset()
        assert (other.exit_code, other.stderr) == (
            1,
            f"Error: Database login {SITE_LOGIN} may not act for LTS/GRAZ: the DBA binds "
            "logins to sites in site_logins (docs/deployment.md)\n",
        )
    finally:
        with _connect(pg_server, SUPERUSER, seeded) as con:
            con.execute("DELETE FROM site_logins")


def test_the_append_function_holds_the_scope_without_its_policy(
    pg_server: PgServer, seeded: str
) -> None:
    """With audit_events' insert policy dropped, an event of ours relabelled for the stranger
    tenant is still refused: the append function checks the event's chain against the scope
    before it takes a lock or writes."""
    with _connect(pg_server, SUPERUSER, seeded) as con, con.transaction(force_rollback=True):
        tables = scoped_tables(con)
        con.execute(b"DROP POLICY audit_events_scope_insert ON audit_events")
        con.execute("SET LOCAL session_replication_role = replica")
        con.execute(f"SET LOCAL ROLE {PLATFORM_LOGIN}".encode())
        _scope(con, *OWN)
        leaks = probe(con, tables, *OWN)
        assert leaks == []
        row = con.execute(
            "SELECT body FROM audit_events WHERE tenant_id = %s AND site_id = %s "
            "ORDER BY seq DESC LIMIT 1",
            list(OWN),
        ).fetchone()
        assert row is not None
        body = json.loads(row[0])
        login = con.execute("SELECT session_user").fetchone()
        assert login is not None
        body.update(tenant="EVIL", seq=1, prev_hash="sha256:" + "0" * 64)
        body["detail"] = {**body["detail"], "session_login": login[0]}
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
            con.execute(
                "SELECT dispatcher_append_event(%s, %s)",
                [canonical_json(body), canonical_json(body["detail"])],
            )
    assert "not for the chains of" in str(refused.value)
