"""The depot round (issue 18.6): a depot's own PostgreSQL login (`wien`, bound to LTS/WIEN, the
role docs/deployment.md gives a site) throws random INSERT, UPDATE, DELETE and TRUNCATE
statements at every table of the schema, aimed at its own site, a neighbour site, another
tenant, its tenant's registry and the platform. The database must accept exactly the writes the
grants table of docs/deployment.md documents (its own site's rows), and every such write to a
bound table must be caught by `audit verify --state`. `make test` tries 150 statements,
`make stress` 2,000; `breaches` must be 0."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from dispatcher.cli import wiring
from dispatcher.cli.app import app
from tests.conftest import FIXED_NOW_TEXT
from tests.integration.test_depot_login import GRANTS
from tests.pgserver import OWNER, PLATFORM_LOGIN, SITE_LOGIN, SUPERUSER, PgServer
from tests.reliability.harness import record, size
from tests.samples import LOCK_OK, OVERRIDE, PUBLISH_OK, RUN, run_doc, write_run

pytestmark = pytest.mark.postgres

OWN = ("LTS", "WIEN")
TARGETS = [OWN, ("LTS", "GRAZ"), ("ZZZ", "NOWHERE"), ("LTS", "*"), ("*", "*")]
SCOPE = "SELECT set_config('app.tenant', 'LTS', true), set_config('app.site', 'WIEN', true)"
ADMIN = ("--by", "admin01", "--reason", "Set up for the depot round")
# The cache of the last verification: a depot may write its own rows, no gate trusts them
# (docs/security.md), so `audit verify --state` has nothing to say about them.
UNBOUND = {"version_checks"}


def _connect(server: PgServer, user: str, database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(f"host=127.0.0.1 port={server.port} user={user} dbname={database}")


def _cli(url: str, *args: str, site: str = "WIEN") -> tuple[int, str]:
    env = {"DISPATCHER_DB": url, "DISPATCHER_NOW": FIXED_NOW_TEXT, "NO_COLOR": "1",
           "DISPATCHER_TENANT": "LTS", "DISPATCHER_SITE": site}  # fmt: skip
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    wiring.reset()
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def populated(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database with something in every table: the registry, two sites, a locked and a
    repaired week at WIEN, a run at GRAZ, both kill switches changed; `wien` bound to WIEN."""
    name = f"depot_round_{uuid.uuid4().hex[:8]}"
    pg_server.admin_sql(f"CREATE DATABASE {name} TEMPLATE dispatcher_template OWNER {OWNER}")
    folder = tmp_path_factory.mktemp("depot_round")
    platform = pg_server.url(PLATFORM_LOGIN, name)
    w03, w04 = (
        write_run(folder / "w03.json"),
        write_run(folder / "w04.json", run_doc(week="2026-W04", availability=[])),
    )
    sick = ("request-repair", "--type", "sick", "--requester", "disp001", "--week", "2026-W04")
    steps: list[tuple[str, ...]] = [
        ("users", "add", "admin01", "--name", "Admin", "--role", "platform_admin"),
        ("users", "add", "disp001", "--name", "Maria", "--role", "dispatcher", *ADMIN),
        ("users", "add", "ops001", "--name", "Otto", "--role", "ops_lead", *ADMIN),
        ("site", "set", "fte_warn_bp=0", "fte_block_bp=0", "pt_warn_bp=10000",
         "pt_block_bp=10000", *ADMIN),
        ("import-run", str(w03)),
        ("publish", RUN, *PUBLISH_OK, *OVERRIDE),
        ("lock", RUN, *LOCK_OK, *OVERRIDE),
        ("import-run", str(w04)),
        (*sick, "--driver", "D004", "--days", "Wed"),
        ("kill-switch", "activate", "--scope", "site", *ADMIN),
        ("kill-switch", "deactivate", "--scope", "site", *ADMIN),
        ("kill-switch", "activate", "--scope", "global", *ADMIN),
        ("kill-switch", "deactivate", "--scope", "global", *ADMIN),
    ]  # fmt: skip
    for step in steps:
        code, output = _cli(platform, *step)
        assert code == 0, (step, output)
    graz = write_run(folder / "graz.json", run_doc(site="GRAZ"))
    code, output = _cli(platform, "site", "init", site="GRAZ")
    assert code == 0, output
    code, output = _cli(platform, "import-run", str(graz), site="GRAZ")
    assert code == 0, output
    with _connect(pg_server, SUPERUSER, name) as con:
        con.execute("INSERT INTO site_logins VALUES (%s, 'LTS', 'WIEN')", [SITE_LOGIN])
    try:
        yield name
    finally:
        wiring.reset()
        pg_server.admin_sql(f"DROP DATABASE {name} WITH (FORCE)")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    serial: bool


@dataclass
class Tally:
    attempts: int = 0
    refused: int = 0
    no_effect: int = 0
    allowed: int = 0
    caught: int = 0
    breaches: list[str] = field(default_factory=list)


def _schema(con: psycopg.Connection[Any]) -> dict[str, list[Column]]:
    rows = con.execute(
        "SELECT c.table_name, c.column_name, c.data_type, "
        "coalesce(c.column_default LIKE 'nextval%%', false) "
        "FROM information_schema.columns c JOIN information_schema.tables t "
        "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' "
        "ORDER BY c.table_name, c.ordinal_position"
    ).fetchall()
    schema: dict[str, list[Column]] = {}
    for table, column, kind, serial in rows:
        schema.setdefault(table, []).append(Column(column, kind, bool(serial)))
    return schema


def _mutated(value: Any, column: Column, rng: random.Random) -> Any:
    """Another value of the column's type, as an insider would try."""
    if value is None:
        return None if rng.random() < 0.5 else ("x" if "char" in column.type else None)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rng.choice((1, -1, 7, 1000))
    if isinstance(value, str):
        return rng.choice((value + "x", value.upper(), "", "PASS", "allowed", "sha256:" + "0" * 64))
    return value


def _statement(
    con: psycopg.Connection[Any], table: str, columns: list[Column], rng: random.Random
) -> tuple[str, tuple[str, str], sql.Composed, list[Any]] | None:
    """(kind, target scope, statement, parameters), or None when the table has no row to copy."""
    names = {c.name for c in columns}
    target = rng.choice(TARGETS)
    name = sql.Identifier(table)
    where, params = sql.SQL("true"), []
    if "tenant_id" in names:
        where, params = sql.SQL("tenant_id = %s"), [target[0]]
        if "site_id" in names:
            where, params = sql.SQL("tenant_id = %s AND site_id = %s"), list(target)
    kind = rng.choice(("INSERT", "INSERT", "UPDATE", "UPDATE", "DELETE", "TRUNCATE"))
    if kind == "TRUNCATE":
        return kind, target, sql.SQL("TRUNCATE {}").format(name), []
    if kind == "DELETE":
        return kind, target, sql.SQL("DELETE FROM {} WHERE {}").format(name, where), params
    row = con.execute(sql.SQL("SELECT * FROM {} ORDER BY random() LIMIT 1").format(name)).fetchone()
    if row is None:
        return None
    values = dict(zip((c.name for c in columns), row, strict=True))
    changeable = [c for c in columns if c.name not in ("tenant_id", "site_id") and not c.serial]
    if kind == "UPDATE":
        column = rng.choice(changeable or columns)
        statement = sql.SQL("UPDATE {} SET {} = %s WHERE {}").format(
            name, sql.Identifier(column.name), where
        )
        return kind, target, statement, [_mutated(values[column.name], column, rng), *params]
    for column in columns:
        if column.serial:
            values.pop(column.name)
    if "tenant_id" in values:
        values["tenant_id"] = target[0]
    if "site_id" in values:
        values["site_id"] = target[1]
    if changeable and rng.random() < 0.7:
        column = rng.choice(changeable)
        values[column.name] = _mutated(values[column.name], column, rng)
    statement = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        name,
        sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(sql.Placeholder() * len(values)),
    )
    return kind, target, statement, [_json_ready(v) for v in values.values()]


def _json_ready(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, dict | list) else value


def _documented(table: str, kind: str, target: tuple[str, str], names: set[str]) -> bool:
    """The write docs/deployment.md grants a depot: its table privilege, for its own site."""
    granted = GRANTS.get(table, {}).get("dispatcher_app", "").split(",")
    own = "tenant_id" in names and (
        target == OWN or ("site_id" not in names and target[0] == "LTS")
    )
    return kind in granted and own


def _run_as_wien(
    server: PgServer, database: str, statement: sql.Composed, params: list[Any], commit: bool
) -> int | None:
    """Rows the statement changed as `wien` in its own scope; None when refused."""
    with _connect(server, SITE_LOGIN, database) as con:
        try:
            with con.transaction(force_rollback=not commit):
                con.execute(SCOPE)
                return int(con.execute(statement, params).rowcount)
        except psycopg.Error:
            return None


def _caught_on_a_copy(
    server: PgServer, database: str, statement: sql.Composed, params: list[Any]
) -> bool:
    """Commit the write on a copy of the database and ask `audit verify --state` about it."""
    copy = f"depot_copy_{uuid.uuid4().hex[:8]}"
    server.admin_sql(f"CREATE DATABASE {copy} TEMPLATE {database} OWNER {OWNER}")
    try:
        changed = _run_as_wien(server, copy, statement, params, commit=True)
        assert changed, "the write went through on the original but not on its copy"
        code, _ = _cli(server.url(PLATFORM_LOGIN, copy), "audit", "verify", "--state")
        return code != 0
    finally:
        wiring.reset()
        server.admin_sql(f"DROP DATABASE {copy} WITH (FORCE)")


def _round(
    server: PgServer, database: str, rng: random.Random, attempts: int, only: set[str] | None
) -> Tally:
    tally = Tally()
    with _connect(server, SUPERUSER, database) as reader:
        schema = _schema(reader)
        tables = sorted(t for t in schema if only is None or t in only)
        while tally.attempts < attempts:
            table = rng.choice(tables)
            made = _statement(reader, table, schema[table], rng)
            if made is None:
                continue
            kind, target, statement, params = made
            tally.attempts += 1
            changed = _run_as_wien(server, database, statement, params, commit=False)
            if changed is None:
                tally.refused += 1
                continue
            if changed == 0:
                tally.no_effect += 1  # no row of that scope is visible to the login
                continue
            names = {c.name for c in schema[table]}
            shown = f"{kind} {table} for {'/'.join(target)}: {statement.as_string(reader)}"
            if not _documented(table, kind, target, names):
                tally.breaches.append(f"accepted although not granted: {shown} {params}")
                continue
            tally.allowed += 1
            if table in UNBOUND:
                continue
            if _caught_on_a_copy(server, database, statement, params):
                tally.caught += 1
            else:
                tally.breaches.append(f"accepted and not caught by audit verify: {shown} {params}")
    return tally


def test_a_depot_login_writes_only_what_the_grants_say(pg_server: PgServer, populated: str) -> None:
    tally = _round(pg_server, populated, random.Random(1818), size(150, 2000), None)
    record("depot-round", attempts=tally.attempts, refused=tally.refused,
           no_effect=tally.no_effect, allowed=tally.allowed, caught=tally.caught,
           breaches=len(tally.breaches))  # fmt: skip
    assert tally.breaches == [], "\n".join(tally.breaches)
    assert tally.refused > tally.attempts // 2  # the round reached the guards, not just typos


def test_the_round_finds_a_grant_too_many(pg_server: PgServer, populated: str) -> None:
    """The round can fail: on a copy where a careless DBA granted depots UPDATE and DELETE on
    the registry (and the guard triggers are off), it reports breaches."""
    copy = f"depot_careless_{uuid.uuid4().hex[:8]}"
    pg_server.admin_sql(f"CREATE DATABASE {copy} TEMPLATE {populated} OWNER {OWNER}")
    try:
        with _connect(pg_server, SUPERUSER, copy) as con:
            con.execute("GRANT UPDATE, DELETE ON users TO dispatcher_app")
            con.execute("ALTER TABLE users DISABLE TRIGGER USER")
        tally = _round(pg_server, copy, random.Random(7), 40, {"users"})
        assert any("accepted although not granted: UPDATE users" in b for b in tally.breaches)
    finally:
        pg_server.admin_sql(f"DROP DATABASE {copy} WITH (FORCE)")
