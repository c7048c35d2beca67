"""The isolation probe: from inside one tenant/site's session, try to read, move, insert and
delete the rows of everybody else, table by table, and report every attempt that got through.

It runs over a psycopg connection whose transaction already acts as the application role with
the scope set (a real application login, or `SET LOCAL ROLE` in a transaction that has just
dropped a policy); each attempt runs in a savepoint, so one refusal does not end the probe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

STRANGER = ("ZZZ", "NOWHERE")  # a tenant/site that exists (for foreign keys) but is not ours
TENANT_WIDE_READ = {"repair_request_ids"}  # ids only: every site of the tenant reads them


@dataclass(frozen=True)
class Table:
    name: str
    has_site: bool

    def own(self, tenant: str, site: str) -> tuple[sql.Composable, list[str]]:
        """Rows the session may read (kill-switch rows of scope global belong to everyone)."""
        if not self.has_site or self.name in TENANT_WIDE_READ:
            return sql.SQL("tenant_id = %s"), [tenant]
        mine = sql.SQL("(tenant_id = %s AND site_id = %s)")
        if self.name == "kill_switch_history":
            return sql.SQL("(scope = 'global' OR {})").format(mine), [tenant, site]
        if self.name == "audit_events":  # the site's chain, its tenant's and the platform's
            chains = sql.SQL(
                "({} OR (tenant_id = %s AND site_id = '*') OR (tenant_id = '*' AND site_id = '*'))"
            ).format(mine)
            return chains, [tenant, site, tenant]
        return mine, [tenant, site]


def scoped_tables(con: psycopg.Connection[Any]) -> list[Table]:
    """Every table with a tenant_id column (what must be isolated), read from the catalog."""
    rows = con.execute(
        "SELECT c.table_name, bool_or(c.column_name = 'site_id') FROM information_schema.columns c "
        "WHERE c.table_schema = current_schema() GROUP BY c.table_name "
        "HAVING bool_or(c.column_name = 'tenant_id') ORDER BY c.table_name"
    ).fetchall()
    return [Table(name, bool(has_site)) for name, has_site in rows]


def _refused(exc: psycopg.Error) -> bool:
    """Refused by a grant or a row-level security policy (both SQLSTATE 42501), or by a guard
    trigger (restrict_violation, 23001), which fires before the policy's check. The probe that
    proves each policy load-bearing runs with the triggers off."""
    return exc.sqlstate in ("42501", "23001")


def probe(con: psycopg.Connection[Any], tables: list[Table], tenant: str, site: str) -> list[str]:
    """Leaks found from the scope (tenant, site); empty when isolation holds."""
    leaks: list[str] = []
    for table in tables:
        name = sql.Identifier(table.name)
        own, params = table.own(tenant, site)
        with con.transaction():
            total = con.execute(sql.SQL("SELECT count(*) FROM {}").format(name)).fetchone()
            mine = con.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE {}").format(name, own), params
            ).fetchone()
        assert total is not None and mine is not None
        if total[0] != mine[0]:
            leaks.append(f"{table.name}: read {total[0] - mine[0]} rows of other scopes")
        leaks += _try_move(con, table, name, tenant, site, mine[0])
        leaks += _try_insert(con, table, name, own, params)
        leaks += _try_delete(con, table, name, mine[0])
    return leaks


def _try_move(
    con: psycopg.Connection[Any],
    table: Table,
    name: sql.Identifier,
    tenant: str,
    site: str,
    mine: int,
) -> list[str]:
    """UPDATE without WHERE, pulling every reachable row into our scope: only our own rows may
    be reached (or the grant refuses UPDATE altogether)."""
    target = (
        sql.SQL("tenant_id = %s, site_id = %s") if table.has_site else sql.SQL("tenant_id = %s")
    )
    values = [tenant, site] if table.has_site else [tenant]
    if table.name == "kill_switch_history":
        return []  # not updatable by the grant; its UPDATE would fail on the grant alone
    try:
        with con.transaction(force_rollback=True):
            cursor = con.execute(sql.SQL("UPDATE {} SET {}").format(name, target), values)
            reached = cursor.rowcount
    except psycopg.Error as exc:
        return [] if _refused(exc) else [f"{table.name}: UPDATE reached other rows ({exc})"]
    return [] if reached <= mine else [f"{table.name}: UPDATE moved {reached - mine} foreign rows"]


def _try_insert(
    con: psycopg.Connection[Any],
    table: Table,
    name: sql.Identifier,
    own: sql.Composable,
    params: list[str],
) -> list[str]:
    """A copy of one of our rows, relabelled for the stranger tenant: the policy must refuse it
    before any other constraint looks at it."""
    order = sql.SQL(" ORDER BY seq") if table.name == "audit_events" else sql.SQL("")
    if table.name == "kill_switch_history":
        own = sql.SQL("scope = 'site' AND {}").format(own)
    with con.transaction():
        cursor = con.execute(
            sql.SQL("SELECT * FROM {} WHERE {}{} LIMIT 1").format(name, own, order), params
        )
        row = cursor.fetchone()
        columns = [d.name for d in cursor.description or []]
    if row is None:
        return [f"{table.name}: no own row to copy (seed the probe database fully)"]
    values = dict(zip(columns, row, strict=True))
    values["tenant_id"] = STRANGER[0]
    if table.has_site:
        values["site_id"] = STRANGER[1]
    if table.name == "audit_events":
        return _try_append(con, values)
    statement = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        name,
        sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(sql.Placeholder() * len(values)),
    )
    try:
        with con.transaction(force_rollback=True):
            con.execute(statement, list(values.values()))
    except psycopg.Error as exc:
        return (
            [] if _refused(exc) else [f"{table.name}: INSERT for another tenant got past ({exc})"]
        )
    return [f"{table.name}: INSERT for another tenant accepted"]


def _try_append(con: psycopg.Connection[Any], values: dict[str, Any]) -> list[str]:
    """Events are appended through the database's own function (applications have no INSERT):
    one of ours relabelled as the stranger chain's first event."""
    import json

    def canonical(value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    body = json.loads(values["body"])
    body.update(tenant=STRANGER[0], site=STRANGER[1], seq=1, prev_hash="sha256:" + "0" * 64)
    login = con.execute("SELECT session_user").fetchone()
    assert login is not None  # the event names the login appending it, as the tool's do
    # the tips it read, as the function finds them from here: only the policy may refuse it
    tips = [
        con.execute(
            "SELECT coalesce(max(seq), 0) FROM audit_events WHERE tenant_id = %s AND site_id = '*'",
            [tenant],
        ).fetchone()
        for tenant in (STRANGER[0], "*")
    ]
    seen = {"registry": tips[0][0] if tips[0] else 0, "platform": tips[1][0] if tips[1] else 0}
    body["detail"] = {**body["detail"], "session_login": login[0], "seen": seen}
    text, detail = canonical(body), canonical(body["detail"])
    try:
        with con.transaction(force_rollback=True):
            con.execute("SELECT dispatcher_append_event(%s, %s)", [text, detail])
    except psycopg.Error as exc:
        return (
            [] if _refused(exc) else [f"audit_events: append for another tenant got past ({exc})"]
        )
    return ["audit_events: append for another tenant accepted"]


def _try_delete(
    con: psycopg.Connection[Any], table: Table, name: sql.Identifier, mine: int
) -> list[str]:
    try:
        with con.transaction(force_rollback=True):
            reached = con.execute(sql.SQL("DELETE FROM {}").format(name)).rowcount
    except psycopg.Error as exc:
        return [] if _refused(exc) else [f"{table.name}: DELETE reached rows ({exc})"]
    return (
        [] if reached <= mine else [f"{table.name}: DELETE removed {reached - mine} foreign rows"]
    )
