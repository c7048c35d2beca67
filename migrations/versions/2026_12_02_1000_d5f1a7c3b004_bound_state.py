"""Bound state: every gate-relevant row names the audit event that authorized it, and the
database refuses a write without one.

- Chains: besides each site's chain (tenant, site), a tenant chain (tenant, '*') holds the user
  registry's events and a platform chain ('*', '*') the global kill switch's and the database's
  own (`database.create`). Events never go back in time (`audit_events_time_forward`).
- Plan versions, their assignments, audit results and evidence, runs and their input are
  immutable from creation (no UPDATE, no DELETE; inserts only while the version or run is being
  created). Publish and lock live only in `approvals` (append-only, each row matching its
  event); the last verification of a version moves to the cache `version_checks`.
- `site_settings`, `users` and `repair_requests` change only forward: every UPDATE names a newer
  event of the right action for that row; `kill_switch_history` and `approvals` are append-only.
- `users.user_key` (the id in lower case) is unique per tenant: the upgrade refuses to proceed
  while case twins exist and names them.
- `database_flags`: the simulated clock of a demo/test database, set only at creation.

Rows that existed before this revision bind to their original events where those hold the
row's values (runs, versions, approvals, repair requests); site settings, users, the newest
kill-switch state of each scope and open proposals are adopted by one `state.adopt` event each,
appended by this upgrade (actor `system`), which holds the values as found.

Revision ID: d5f1a7c3b004
Revises: c4e8d2a6f003
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "d5f1a7c3b004"
down_revision = "c4e8d2a6f003"
branch_labels = None
depends_on = None

GENESIS = "sha256:" + "0" * 64
TENANT_CHAIN = "*"  # site_id of a tenant's own chain; tenant_id and site_id of the platform's
APP_ROLE = "dispatcher_app"
PLATFORM_ROLE = "dispatcher_platform"

OLD_SQLITE_TRIGGERS = [
    "runs_locked_no_update",
    "runs_locked_no_delete",
    "plan_versions_locked_no_insert",
    "plan_versions_locked_no_update",
    "plan_versions_locked_no_delete",
    *(
        f"{table}_locked_no_{event}"
        for table in (
            "assignments",
            "audit_results",
            "evidence_records",
            "tour_instances",
            "drivers",
            "availability",
        )
        for event in ("insert", "update", "delete")
    ),
]
OLD_PG_FUNCTIONS = ("dispatcher_guard_locked_version()", "dispatcher_guard_locked_run()")


# --- conditions, written once for both dialects ------------------------------------------------


class Sql:
    """The few spellings that differ between SQLite and PostgreSQL."""

    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgresql"

    def same(self, a: str, b: str) -> str:
        return f"{a} IS NOT DISTINCT FROM {b}" if self.pg else f"{a} IS {b}"

    def differ(self, a: str, b: str) -> str:
        return f"{a} IS DISTINCT FROM {b}" if self.pg else f"{a} IS NOT {b}"

    def json_text(self, column: str, key: str) -> str:
        return f"({column}::jsonb ->> '{key}')" if self.pg else f"json_extract({column}, '$.{key}')"

    def json_lists(self, column: str, key: str, value: str) -> str:
        if self.pg:
            return f"coalesce(({column}::jsonb -> '{key}') ? {value}, false)"
        return f"EXISTS (SELECT 1 FROM json_each({column}, '$.{key}') WHERE value = {value})"

    def json_named(self, column: str, name: str) -> str:
        """The member `name` (an expression) of a JSON text column."""
        if self.pg:
            return f"({column}::jsonb ->> {name})"
        return f"json_extract({column}, '$.' || {name})"

    def true(self, column: str) -> str:
        return column if self.pg else f"{column} = 1"


def _event(chain: str, seq: str, actions: str, extra: str = "") -> str:
    """EXISTS an allowed event of `actions` at `seq` in `chain` ("tenant, site" expressions)."""
    tenant, site = (part.strip() for part in chain.split(",", 1))
    more = f" AND {extra}" if extra else ""
    return (
        f"EXISTS (SELECT 1 FROM audit_events e WHERE e.tenant_id = {tenant} "
        f"AND e.site_id = {site} AND e.seq = {seq} AND e.outcome = 'allowed' "
        f"AND e.action IN ({actions}){more})"
    )


NEW_SITE = "NEW.tenant_id, NEW.site_id"
# The row's parent exists in the row's own tenant/site (SQLite enforces foreign keys only on
# connections that ask for it; these guards hold on every connection).
IN_RUN = (
    "EXISTS (SELECT 1 FROM runs WHERE id = NEW.run_pk AND tenant_id = NEW.tenant_id "
    "AND site_id = NEW.site_id)"
)
IN_VERSION = (
    "EXISTS (SELECT 1 FROM plan_versions WHERE id = NEW.version_pk AND tenant_id = "
    "NEW.tenant_id AND site_id = NEW.site_id)"
)
REQUEST_FIELDS = (
    "tenant_id",
    "site_id",
    "request_id",
    "run_pk",
    "base_version",
    "week",
    "driver_id",
    "driver_name",
    "absence_type",
    "scope",
    "requester",
    "urgency",
    "notes",
    "created_at",
)

# name -> (table, event, condition(sql) that refuses, message)
Guard = tuple[str, str, Callable[[Sql], str], str]


def _guards() -> dict[str, Guard]:
    guards: dict[str, Guard] = {}

    def refuse_all(table: str, events: tuple[str, ...], message: str) -> None:
        for event in events:
            guards[f"{table}_no_{event.lower()}"] = (table, event, lambda _: "", message)

    guards["audit_events_time_forward"] = (
        "audit_events",
        "INSERT",
        lambda _: (
            "NEW.occurred_at < (SELECT occurred_at FROM audit_events WHERE tenant_id = "
            "NEW.tenant_id AND site_id = NEW.site_id ORDER BY seq DESC LIMIT 1)"
        ),
        "audit_events: an event may not be dated before its predecessor",
    )
    for table in ("runs", "plan_versions", "evidence_records", "approvals", "kill_switch_history"):
        refuse_all(table, ("UPDATE", "DELETE"), f"{table} is append-only")
    for table in ("assignments", "audit_results", "tour_instances", "drivers", "availability"):
        refuse_all(table, ("UPDATE", "DELETE"), f"{table} are immutable once stored")
    for table in ("sites", "repair_request_ids", "database_flags", "tenants"):
        refuse_all(table, ("UPDATE", "DELETE"), f"{table} is append-only")
    for table in ("site_settings", "users", "repair_requests"):
        refuse_all(table, ("DELETE",), f"{table} rows are never deleted")

    guards["runs_bound_insert"] = (
        "runs",
        "INSERT",
        lambda _: (
            "NOT "
            + _event(
                NEW_SITE, "NEW.event_seq", "'run.import', 'run.solve'", "e.run_id = NEW.run_id"
            )
        ),
        "runs: a run needs its run.import or run.solve event",
    )
    guards["plan_versions_bound_insert"] = (
        "plan_versions",
        "INSERT",
        lambda _: (
            f"NOT {IN_RUN} OR NOT "
            + _event(
                NEW_SITE,
                "NEW.event_seq",
                "'run.import', 'run.solve', 'repair.apply'",
                "e.plan_version = NEW.version AND e.run_id = "
                "(SELECT run_id FROM runs WHERE id = NEW.run_pk)",
            )
        ),
        "plan_versions: a version needs the event that created it",
    )
    guards["plan_versions_locked_insert"] = (
        "plan_versions",
        "INSERT",
        lambda _: "EXISTS (SELECT 1 FROM approvals WHERE run_pk = NEW.run_pk AND action = 'lock')",
        "run is locked: no new plan versions",
    )
    guards["evidence_records_bound_insert"] = (
        "evidence_records",
        "INSERT",
        lambda s: (
            f"NOT {IN_VERSION} OR NOT EXISTS (SELECT 1 FROM plan_versions p JOIN audit_events e ON "
            "e.tenant_id = p.tenant_id AND e.site_id = p.site_id AND e.seq = p.event_seq "
            "WHERE p.id = NEW.version_pk AND "
            + s.same("e.evidence_hash", "NEW.evidence_hash")
            + ")"
        ),
        "evidence_records: the sealed hash must equal the evidence hash of the version event",
    )
    for table in ("assignments", "audit_results"):
        guards[f"{table}_sealed_insert"] = (
            table,
            "INSERT",
            lambda _: (
                f"NOT {IN_VERSION} OR "
                "EXISTS (SELECT 1 FROM evidence_records WHERE version_pk = NEW.version_pk)"
            ),
            f"{table}: the plan version is sealed (or not this scope)",
        )
    for table in ("tour_instances", "availability"):
        guards[f"{table}_sealed_insert"] = (
            table,
            "INSERT",
            lambda _: (
                f"NOT {IN_RUN} OR EXISTS (SELECT 1 FROM plan_versions WHERE run_pk = NEW.run_pk)"
            ),
            f"{table}: the input of the run is sealed (or not this scope)",
        )
    guards["drivers_sealed_insert"] = (
        "drivers",
        "INSERT",
        lambda _: (
            f"NOT {IN_RUN} OR NEW.added_in_version <= COALESCE((SELECT MAX(version) FROM "
            "plan_versions WHERE run_pk = NEW.run_pk), 0)"
        ),
        "drivers: a driver joins only the version being created",
    )
    guards["approvals_bound_insert"] = (
        "approvals",
        "INSERT",
        lambda s: (
            f"NOT {IN_RUN} OR NOT "
            + _event(
                NEW_SITE,
                "NEW.event_seq",
                "NEW.action",
                "e.run_id = (SELECT run_id FROM runs WHERE id = NEW.run_pk) "
                "AND e.plan_version = NEW.version AND e.actor_id = NEW.approver_id AND "
                + " AND ".join(
                    s.same(f"e.{column}", f"NEW.{value}")
                    for column, value in (
                        ("actor_role", "role"),
                        ("reason", "reason"),
                        ("evidence_hash", "evidence_hash"),
                    )
                ),
            )
        ),
        "approvals: an approval needs its allowed decision event",
    )
    guards["approvals_single_lock"] = (
        "approvals",
        "INSERT",
        lambda _: (
            "NEW.action = 'lock' AND EXISTS (SELECT 1 FROM approvals "
            "WHERE run_pk = NEW.run_pk AND action = 'lock')"
        ),
        "approvals: a run is locked once",
    )
    guards["sites_bound_insert"] = (
        "sites",
        "INSERT",
        lambda _: (
            "NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.tenant_id = NEW.tenant_id AND "
            "e.site_id = NEW.site_id AND e.action IN ('site.create', 'state.adopt') "
            "AND e.outcome = 'allowed')"
        ),
        "sites: a site needs its site.create event",
    )
    guards["site_settings_bound_insert"] = (
        "site_settings",
        "INSERT",
        lambda _: (
            "NOT EXISTS (SELECT 1 FROM sites WHERE tenant_id = NEW.tenant_id AND site_id = "
            "NEW.site_id) OR NOT "
            + _event(NEW_SITE, "NEW.event_seq", "'site.create', 'state.adopt'")
        ),
        "site_settings: settings need their site and its site.create event",
    )
    guards["site_settings_bound_update"] = (
        "site_settings",
        "UPDATE",
        lambda _: (
            "NEW.event_seq IS NULL OR OLD.event_seq IS NOT NULL AND NEW.event_seq <= OLD.event_seq "
            "OR NEW.tenant_id <> OLD.tenant_id OR NEW.site_id <> OLD.site_id OR NOT "
            + _event(NEW_SITE, "NEW.event_seq", "'site.update', 'state.adopt'")
        ),
        "site_settings: a change needs a newer site.update event",
    )
    tenant_chain = f"NEW.tenant_id, '{TENANT_CHAIN}'"
    guards["users_bound_insert"] = (
        "users",
        "INSERT",
        lambda s: (
            "NEW.user_key <> lower(NEW.user_id) OR NOT "
            + _event(
                tenant_chain,
                "NEW.event_seq",
                "'user.add', 'state.adopt'",
                f"({s.json_text('e.detail', 'user')} = NEW.user_id "
                f"OR {s.json_text('e.detail', 'key')} = NEW.user_key)",
            )
        ),
        "users: a user needs a user.add event in the tenant chain",
    )
    guards["users_bound_update"] = (
        "users",
        "UPDATE",
        lambda s: (
            "NEW.event_seq IS NULL OR OLD.event_seq IS NOT NULL AND NEW.event_seq <= OLD.event_seq "
            "OR NEW.tenant_id <> OLD.tenant_id OR NEW.user_id <> OLD.user_id "
            "OR NEW.user_key <> OLD.user_key OR NOT "
            + _event(
                tenant_chain,
                "NEW.event_seq",
                "'user.disable', 'user.enable', 'user.update', 'state.adopt'",
                f"({s.json_text('e.detail', 'user')} = NEW.user_id "
                f"OR {s.json_text('e.detail', 'key')} = NEW.user_key)",
            )
        ),
        "users: a change needs a newer registry event for this user",
    )
    guards["kill_switch_history_bound_insert"] = (
        "kill_switch_history",
        "INSERT",
        lambda s: (
            "NEW.event_seq IS NULL OR NOT ((NEW.scope = 'global' AND NEW.event_tenant = '*' "
            "AND NEW.event_site = '*' AND NEW.tenant_id IS NULL AND NEW.site_id IS NULL) OR "
            "(NEW.scope = 'site' AND NEW.event_tenant = NEW.tenant_id AND NEW.event_site = "
            "NEW.site_id AND EXISTS (SELECT 1 FROM sites s WHERE s.tenant_id = NEW.tenant_id "
            "AND s.site_id = NEW.site_id))) OR EXISTS (SELECT 1 FROM kill_switch_history h "
            "WHERE h.event_tenant = NEW.event_tenant AND h.event_site = NEW.event_site AND "
            "h.event_seq = NEW.event_seq) OR NOT "
            + _event(
                "NEW.event_tenant, NEW.event_site",
                "NEW.event_seq",
                f"CASE WHEN {s.true('NEW.active')} THEN 'kill_switch.activate' "
                "ELSE 'kill_switch.deactivate' END, 'state.adopt'",
                "(e.action = 'state.adopt' OR (e.actor_id = NEW.actor_id AND "
                "e.reason = NEW.reason))",
            )
        ),
        "kill_switch_history: a change needs its own kill-switch event in the right chain",
    )
    guards["repair_requests_bound_insert"] = (
        "repair_requests",
        "INSERT",
        lambda s: (
            f"NEW.status <> 'PENDING' OR NOT {IN_RUN} OR NOT "
            + _event(
                NEW_SITE,
                "NEW.event_seq",
                "'repair.request'",
                f"{s.json_text('e.detail', 'request_id')} = NEW.request_id AND e.run_id = "
                "(SELECT run_id FROM runs WHERE id = NEW.run_pk)",
            )
        ),
        "repair_requests: a request needs its repair.request event",
    )
    guards["repair_requests_bound_update"] = (
        "repair_requests",
        "UPDATE",
        lambda s: (
            "OLD.status NOT IN ('PENDING', 'PROPOSED') OR NEW.event_seq IS NULL "
            "OR NEW.event_seq <= OLD.event_seq OR "
            + " OR ".join(s.differ(f"NEW.{c}", f"OLD.{c}") for c in REQUEST_FIELDS)
            + " OR NOT "
            + _event(
                NEW_SITE,
                "NEW.event_seq",
                "CASE NEW.status WHEN 'PROPOSED' THEN 'repair.propose' "
                "WHEN 'APPLIED' THEN 'repair.apply' WHEN 'REJECTED' THEN 'repair.reject' "
                "ELSE '' END, 'state.adopt'",
                f"({s.json_text('e.detail', 'request_id')} = NEW.request_id OR "
                f"{s.json_lists('e.detail', 'request_ids', 'NEW.request_id')} OR "
                f"{s.json_text('e.detail', 'key')} = NEW.request_id)",
            )
        ),
        "repair_requests: a status change needs its newer repair event",
    )
    guards["repair_request_ids_bound_insert"] = (
        "repair_request_ids",
        "INSERT",
        lambda _: (
            "NOT EXISTS (SELECT 1 FROM repair_requests WHERE tenant_id = NEW.tenant_id AND "
            "site_id = NEW.site_id AND request_id = NEW.request_id)"
        ),
        "repair_request_ids: an id is registered for a request that exists",
    )
    guards["tenants_bound_insert"] = (
        "tenants",
        "INSERT",
        lambda _: (
            "NOT EXISTS (SELECT 1 FROM audit_events WHERE tenant_id = NEW.tenant_id AND "
            "action IN ('site.create', 'user.add', 'state.adopt') AND outcome = 'allowed')"
        ),
        "tenants: a tenant comes with its first site or user, and its event",
    )
    guards["database_flags_bound_insert"] = (
        "database_flags",
        "INSERT",
        lambda s: (
            "EXISTS (SELECT 1 FROM audit_events WHERE tenant_id <> '*' OR site_id <> '*') "
            "OR NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.tenant_id = '*' AND "
            "e.site_id = '*' AND e.seq = NEW.event_seq AND e.action = 'database.create' AND "
            f"{s.json_named('e.detail', 'NEW.name')} = NEW.value)"
        ),
        "database_flags: set only when the database is created",
    )
    return guards


def _sqlite_trigger(name: str, table: str, event: str, condition: str, message: str) -> str:
    where = f"\nWHEN {condition}" if condition else ""
    return (
        f"CREATE TRIGGER {name} BEFORE {event} ON {table}{where}\n"
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
    )


def _pg_trigger(name: str, table: str, event: str, condition: str, message: str) -> list[str]:
    if not condition:
        function = f"dispatcher_refuse('{message}')"
        return [
            f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW "
            f"EXECUTE FUNCTION {function}"
        ]
    returned = "OLD" if event == "DELETE" else "NEW"
    return [
        f"""CREATE FUNCTION dispatcher_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF {condition} THEN
    RAISE EXCEPTION '{message}' USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN {returned};
END $$""",
        f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW "
        f"EXECUTE FUNCTION dispatcher_{name}()",
    ]


# --- adopting what exists: events appended by this upgrade --------------------------------------


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Chains:
    """Appends `state.adopt` events at the tips of the chains, hashed like every event."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self.now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def append(self, tenant: str, site: str, detail: dict[str, Any]) -> int:
        tip = self.connection.execute(
            sa.text(
                "SELECT seq, hash, occurred_at FROM audit_events WHERE tenant_id = :t "
                "AND site_id = :s ORDER BY seq DESC LIMIT 1"
            ),
            {"t": tenant, "s": site},
        ).first()
        seq, prev, at = (1, GENESIS, self.now) if tip is None else (tip[0] + 1, tip[1], tip[2])
        values = {
            "seq": seq,
            "occurred_at": max(at, self.now),
            "tenant": tenant,
            "site": site,
            "action": "state.adopt",
            "outcome": "allowed",
            "actor_id": "system",
            "actor_role": None,
            "reason": "schema upgrade to bound state: state as found",
            "run_id": None,
            "plan_version": None,
            "evidence_hash": None,
            "detail": detail,
            "prev_hash": prev,
        }
        body = _canonical({**values, "v": 1})
        self.connection.execute(
            sa.text(
                "INSERT INTO audit_events (tenant_id, site_id, seq, occurred_at, action, outcome,"
                " actor_id, actor_role, reason, run_id, plan_version, evidence_hash, detail,"
                " prev_hash, hash, body) VALUES (:tenant, :site, :seq, :occurred_at, :action,"
                " :outcome, :actor_id, :actor_role, :reason, :run_id, :plan_version,"
                " :evidence_hash, :detail, :prev_hash, :hash, :body)"
            ),
            {
                **values,
                "detail": _canonical(detail),
                "hash": "sha256:" + hashlib.sha256(body.encode("utf-8")).hexdigest(),
                "body": body,
            },
        )
        return seq


def _settings_values(row: Any) -> dict[str, Any]:
    roles = {name: [r for r in getattr(row, name).split(",") if r] for name in ROLE_COLUMNS}
    return {
        **{name: bool(getattr(row, name)) for name in BOOL_COLUMNS},
        **{name: int(getattr(row, name)) for name in ("min_reason_length", "freeze_window_hours")},
        "drift_baseline": row.drift_baseline,
        **roles,
        **json.loads(row.drift_thresholds),
    }


BOOL_COLUMNS = ("publish_enabled", "lock_enabled", "shadow_only", "lock_requires_other_person")
ROLE_COLUMNS = ("publish_roles", "lock_roles", "repair_roles")


def _adopt(connection: sa.Connection) -> None:
    chains = Chains(connection)
    run = connection.execute
    # Runs and versions bind to the events that created them.
    run(
        sa.text(
            "UPDATE runs SET event_seq = (SELECT MIN(e.seq) FROM audit_events e WHERE "
            "e.tenant_id = runs.tenant_id AND e.site_id = runs.site_id AND e.run_id = runs.run_id "
            "AND e.action IN ('run.import', 'run.solve') AND e.outcome = 'allowed')"
        )
    )
    run(
        sa.text(
            "UPDATE plan_versions SET event_seq = (SELECT MIN(e.seq) FROM audit_events e "
            "JOIN runs r ON r.id = plan_versions.run_pk WHERE e.tenant_id = r.tenant_id AND "
            "e.site_id = r.site_id AND e.run_id = r.run_id AND e.plan_version = "
            "plan_versions.version AND e.action IN ('run.import', 'run.solve', 'repair.apply') "
            "AND e.outcome = 'allowed')"
        )
    )
    for row in run(sa.text("SELECT * FROM site_settings")).all():
        seq = chains.append(
            row.tenant_id,
            row.site_id,
            {"table": "site_settings", "key": row.site_id, "values": _settings_values(row)},
        )
        run(
            sa.text(
                "UPDATE site_settings SET event_seq = :seq WHERE tenant_id = :t AND site_id = :s"
            ),
            {"seq": seq, "t": row.tenant_id, "s": row.site_id},
        )
    for row in run(sa.text("SELECT * FROM users ORDER BY tenant_id, user_id")).all():
        values = {
            "user": row.user_id,
            "name": row.name,
            "roles": [r for r in row.roles.split(",") if r],
            "active": bool(row.active),
        }
        seq = chains.append(
            row.tenant_id,
            TENANT_CHAIN,
            {"table": "users", "key": row.user_id.lower(), "values": values},
        )
        run(
            sa.text("UPDATE users SET event_seq = :seq WHERE tenant_id = :t AND user_id = :u"),
            {"seq": seq, "t": row.tenant_id, "u": row.user_id},
        )
    newest = run(
        sa.text(
            "SELECT * FROM kill_switch_history WHERE id IN (SELECT MAX(id) FROM "
            "kill_switch_history GROUP BY scope, tenant_id, site_id) ORDER BY id"
        )
    ).all()
    for row in newest:
        chain = ("*", "*") if row.scope == "global" else (row.tenant_id, row.site_id)
        target = "global" if row.scope == "global" else f"{row.tenant_id}/{row.site_id}"
        values = {
            "scope": row.scope,
            "target": target,
            "active": bool(row.active),
            "actor_id": row.actor_id,
            "reason": row.reason,
        }
        seq = chains.append(
            *chain, {"table": "kill_switch_history", "key": target, "values": values}
        )
        run(
            sa.text(
                "INSERT INTO kill_switch_history (scope, tenant_id, site_id, active, actor_id, "
                "reason, changed_at, event_tenant, event_site, event_seq) VALUES (:scope, :t, :s, "
                ":active, :actor, :reason, :at, :et, :es, :seq)"
            ),
            {
                "scope": row.scope,
                "t": row.tenant_id,
                "s": row.site_id,
                "active": row.active,
                "actor": row.actor_id,
                "reason": row.reason,
                "at": row.changed_at,
                "et": chain[0],
                "es": chain[1],
                "seq": seq,
            },
        )
    # Requests bind to the newest event that set their status; open proposals are adopted.
    actions = {
        "PENDING": "repair.request",
        "APPLIED": "repair.apply",
        "REJECTED": "repair.reject",
    }
    requests = run(sa.text("SELECT * FROM repair_requests ORDER BY id")).all()
    for row in requests:
        if row.status == "PROPOSED":
            proposal = json.loads(row.proposal)
            values = {
                "request_id": row.request_id,
                "status": "PROPOSED",
                "base_version": row.proposal_version,
                "proposal_hash": "sha256:"
                + hashlib.sha256(_canonical(proposal).encode("utf-8")).hexdigest(),
            }
            seq = chains.append(
                row.tenant_id,
                row.site_id,
                {"table": "repair_requests", "key": row.request_id, "values": values},
            )
        else:
            found = run(
                sa.text(
                    "SELECT seq, detail FROM audit_events WHERE tenant_id = :t AND site_id = :s "
                    "AND action = :a AND outcome = 'allowed' ORDER BY seq DESC"
                ),
                {"t": row.tenant_id, "s": row.site_id, "a": actions[row.status]},
            ).all()
            seq = next(
                (
                    s
                    for s, detail in found
                    if json.loads(detail).get("request_id") == row.request_id
                ),
                None,
            )
        run(
            sa.text("UPDATE repair_requests SET event_seq = :seq WHERE id = :id"),
            {"seq": seq, "id": row.id},
        )


def _refuse_case_twins(connection: sa.Connection) -> None:
    twins = connection.execute(
        sa.text(
            "SELECT tenant_id, lower(user_id) FROM users GROUP BY tenant_id, lower(user_id) "
            "HAVING COUNT(*) > 1 ORDER BY 1, 2"
        )
    ).all()
    if twins:
        names = []
        for tenant, key in twins:
            ids = connection.execute(
                sa.text("SELECT user_id FROM users WHERE tenant_id = :t AND lower(user_id) = :k"),
                {"t": tenant, "k": key},
            ).scalars()
            names.append(f"{tenant}: {' / '.join(sorted(ids))}")
        raise RuntimeError(
            "User ids differ only in case (ids are unique ignoring case from this version on): "
            + "; ".join(names)
            + ". Disable and rename one of each pair with the previous dispatcher, then upgrade."
        )


# --- upgrade and downgrade ---------------------------------------------------------------------


def _drop_column(table: str, column: str) -> None:
    op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")  # SQLite 3.35+, PostgreSQL


def upgrade() -> None:
    connection = op.get_bind()
    dialect = connection.dialect.name
    forced = _unforce(connection) if dialect == "postgresql" else []
    _refuse_case_twins(connection)
    if dialect == "sqlite":
        for name in OLD_SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for name in OLD_SQLITE_TRIGGERS:
            table = name.split("_locked_")[0]
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for function in OLD_PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
    for table in ("runs", "plan_versions", "site_settings", "users", "repair_requests"):
        op.add_column(table, sa.Column("event_seq", sa.Integer(), nullable=True))
    op.add_column("users", sa.Column("user_key", sa.String(40), nullable=True))
    op.execute("UPDATE users SET user_key = lower(user_id)")
    op.create_index("ix_users_tenant_id_user_key", "users", ["tenant_id", "user_key"], unique=True)
    for column in ("event_tenant", "event_site"):
        op.add_column("kill_switch_history", sa.Column(column, sa.String(40), nullable=True))
    op.add_column("kill_switch_history", sa.Column("event_seq", sa.Integer(), nullable=True))
    op.create_table(
        "version_checks",
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("site_id", sa.String(40), nullable=False),
        sa.Column("version_pk", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_pk"], ["plan_versions.id"], name="fk_version_checks_version_pk_plan_versions"
        ),
        sa.PrimaryKeyConstraint("version_pk", name="pk_version_checks"),
    )
    op.execute(
        "INSERT INTO version_checks (tenant_id, site_id, version_pk, status, status_reason, "
        "checked_at) SELECT tenant_id, site_id, id, status, status_reason, "
        "COALESCE(verified_at, created_at) FROM plan_versions"
    )
    op.create_table(
        "database_flags",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("value", sa.String(40), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_database_flags"),
    )
    op.drop_index("ix_audit_events_tenant_id_site_id_run_id", table_name="audit_events")
    op.create_index(
        "ix_audit_events_tenant_id_site_id_run_id_action",
        "audit_events",
        ["tenant_id", "site_id", "run_id", "action"],
    )
    op.create_index(
        "ix_approvals_run_pk_version_action",
        "approvals",
        ["run_pk", "version", "action"],
        unique=True,
    )
    if dialect == "postgresql":
        _postgres_scope()
    _adopt(connection)
    # An approval is stamped with its event's time (the export manifest's locked_at reads it).
    event_time = (
        "replace(replace(e.occurred_at, 'T', ' '), 'Z', '')"
        if dialect == "sqlite"
        else "CAST(e.occurred_at AS TIMESTAMPTZ)"
    )
    op.execute(
        f"UPDATE approvals SET created_at = (SELECT {event_time} FROM audit_events e WHERE "
        "e.tenant_id = approvals.tenant_id AND e.site_id = approvals.site_id AND "
        "e.seq = approvals.event_seq) WHERE event_seq IS NOT NULL"
    )
    for column in ("published_at", "published_by", "published_role", "published_evidence_hash"):
        _drop_column("plan_versions", column)
    for column in ("override_reason", "verified_at"):
        _drop_column("plan_versions", column)
    for column in ("locked_at", "locked_by", "locked_version"):
        _drop_column("runs", column)
    sql = Sql(dialect)
    for name, (table, event, condition, message) in _guards().items():
        if dialect == "sqlite":
            op.execute(_sqlite_trigger(name, table, event, condition(sql), message))
        else:
            for statement in _pg_trigger(name, table, event, condition(sql), message):
                op.execute(statement)
    if dialect == "postgresql":
        _postgres_grants()
        for table in [*forced, "version_checks"]:
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def _unforce(connection: sa.Connection) -> list[str]:
    """The owner is subject to forced policies too, and this upgrade reads and binds every
    tenant's rows: they are lifted for the upgrade's transaction and restored at its end."""
    forced = list(
        connection.execute(
            sa.text(
                "SELECT relname FROM pg_class WHERE relforcerowsecurity AND relnamespace = "
                "current_schema()::regnamespace ORDER BY relname"
            )
        ).scalars()
    )
    for table in forced:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    return forced


# On PostgreSQL: the chains a site reads (its own, its tenant's, the platform's), the new tables'
# policies, and grants that follow what the tool updates now.
GRANTED = "(SELECT dispatcher_scope_granted())"
TENANT = f"tenant_id = current_setting('app.tenant', true) AND {GRANTED}"
SITE = f"{TENANT} AND site_id = current_setting('app.site', true)"
CHAINS = (
    f"({SITE}) OR ({TENANT} AND site_id = '*') OR (tenant_id = '*' AND site_id = '*' AND {GRANTED})"
)
ALL_SITES = "dispatcher_all_sites()"


def _postgres_scope() -> None:
    for policy in ("scope_read", "scope_insert"):
        op.execute(f"DROP POLICY IF EXISTS audit_events_{policy} ON audit_events")
    op.execute(
        "CREATE POLICY audit_events_scope_read ON audit_events AS RESTRICTIVE FOR SELECT "
        f"USING (({CHAINS}) OR {ALL_SITES})"
    )
    op.execute(
        "CREATE POLICY audit_events_scope_insert ON audit_events AS RESTRICTIVE FOR INSERT "
        f"WITH CHECK ({CHAINS})"
    )
    op.execute("ALTER TABLE version_checks ENABLE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY version_checks_rows ON version_checks AS PERMISSIVE FOR ALL "
        "USING (true) WITH CHECK (true)"
    )
    op.execute(
        "CREATE POLICY version_checks_scope_read ON version_checks AS RESTRICTIVE FOR SELECT "
        f"USING (({SITE}) OR {ALL_SITES})"
    )
    op.execute(
        "CREATE POLICY version_checks_scope_insert ON version_checks AS RESTRICTIVE FOR INSERT "
        f"WITH CHECK ({SITE})"
    )
    op.execute(
        "CREATE POLICY version_checks_scope_update ON version_checks AS RESTRICTIVE FOR UPDATE "
        f"USING ({SITE}) WITH CHECK ({SITE})"
    )


def _postgres_grants() -> None:
    op.execute("REVOKE UPDATE ON runs, plan_versions FROM " + APP_ROLE)
    for table in ("runs", "plan_versions"):  # immutable now: nothing to scope an UPDATE by
        op.execute(f"DROP POLICY IF EXISTS {table}_scope_update ON {table}")
    op.execute("REVOKE ALL ON version_checks, database_flags FROM PUBLIC")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON version_checks TO {APP_ROLE}")
    # The clock flag is set when the database is created, by the platform login (`db init`):
    # a depot login's view of the events is cut by row security, so the guard's "no events yet"
    # cannot be trusted from it.
    op.execute(f"GRANT SELECT ON database_flags TO {APP_ROLE}")
    op.execute(f"GRANT SELECT ON version_checks TO {PLATFORM_ROLE}")
    op.execute(f"GRANT SELECT, INSERT ON database_flags TO {PLATFORM_ROLE}")


def downgrade() -> None:
    connection = op.get_bind()
    dialect = connection.dialect.name
    for name, (table, _event, condition, _message) in _guards().items():
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            if condition(Sql(dialect)):
                op.execute(f"DROP FUNCTION IF EXISTS dispatcher_{name}()")
    for column, kind in (
        ("locked_at", sa.DateTime(timezone=True)),
        ("locked_by", sa.String(40)),
        ("locked_version", sa.Integer()),
    ):
        op.add_column("runs", sa.Column(column, kind, nullable=True))
    for column, kind in (
        ("verified_at", sa.DateTime(timezone=True)),
        ("published_at", sa.DateTime(timezone=True)),
        ("published_by", sa.String(40)),
        ("published_role", sa.String(40)),
        ("published_evidence_hash", sa.String(71)),
        ("override_reason", sa.Text()),
    ):
        op.add_column("plan_versions", sa.Column(column, kind, nullable=True))
    op.execute(
        "UPDATE plan_versions SET verified_at = (SELECT checked_at FROM version_checks c "
        "WHERE c.version_pk = plan_versions.id)"
    )
    for column, source in (
        ("published_at", "created_at"),
        ("published_by", "approver_id"),
        ("published_role", "role"),
        ("published_evidence_hash", "evidence_hash"),
        ("override_reason", "override_reason"),
    ):
        op.execute(
            f"UPDATE plan_versions SET {column} = (SELECT a.{source} FROM approvals a WHERE "
            "a.run_pk = plan_versions.run_pk AND a.version = plan_versions.version AND "
            "a.action = 'publish')"
        )
    for column, source in (
        ("locked_at", "created_at"),
        ("locked_by", "approver_id"),
        ("locked_version", "version"),
    ):
        op.execute(
            f"UPDATE runs SET {column} = (SELECT a.{source} FROM approvals a WHERE "
            "a.run_pk = runs.id AND a.action = 'lock')"
        )
    op.drop_index("ix_approvals_run_pk_version_action", table_name="approvals")
    op.drop_index("ix_audit_events_tenant_id_site_id_run_id_action", table_name="audit_events")
    op.create_index(
        "ix_audit_events_tenant_id_site_id_run_id",
        "audit_events",
        ["tenant_id", "site_id", "run_id"],
    )
    if dialect == "postgresql":
        for policy in ("scope_read", "scope_insert"):
            op.execute(f"DROP POLICY IF EXISTS audit_events_{policy} ON audit_events")
        op.execute(
            "CREATE POLICY audit_events_scope_read ON audit_events AS RESTRICTIVE FOR SELECT "
            f"USING (({SITE}) OR {ALL_SITES})"
        )
        op.execute(
            "CREATE POLICY audit_events_scope_insert ON audit_events AS RESTRICTIVE FOR INSERT "
            f"WITH CHECK ({SITE})"
        )
        op.execute(f"GRANT UPDATE ON runs, plan_versions TO {APP_ROLE}")
        for table in ("runs", "plan_versions"):
            op.execute(
                f"CREATE POLICY {table}_scope_update ON {table} AS RESTRICTIVE FOR UPDATE "
                f"USING ({SITE}) WITH CHECK ({SITE})"
            )
    op.drop_table("database_flags")
    op.drop_table("version_checks")
    op.drop_index("ix_users_tenant_id_user_key", table_name="users")
    for table, column in (
        ("users", "user_key"),
        ("users", "event_seq"),
        ("runs", "event_seq"),
        ("plan_versions", "event_seq"),
        ("site_settings", "event_seq"),
        ("repair_requests", "event_seq"),
        ("kill_switch_history", "event_seq"),
        ("kill_switch_history", "event_site"),
        ("kill_switch_history", "event_tenant"),
    ):
        _drop_column(table, column)
    _restore_old_guards(dialect)


def _restore_old_guards(dialect: str) -> None:
    """The triggers of the previous revisions, as they were (frozen copies)."""
    locked_version = (
        "EXISTS (SELECT 1 FROM plan_versions pv JOIN runs r ON r.id = pv.run_pk "
        "WHERE pv.id = {row}.version_pk AND r.locked_version = pv.version)"
    )
    locked_run = "(SELECT locked_at FROM runs WHERE id = {row}.run_pk) IS NOT NULL"
    triggers = [
        ("runs_locked_no_update", "UPDATE", "runs", "OLD.locked_at IS NOT NULL", "run is locked"),
        ("runs_locked_no_delete", "DELETE", "runs", "OLD.locked_at IS NOT NULL", "run is locked"),
        (
            "plan_versions_locked_no_insert",
            "INSERT",
            "plan_versions",
            locked_run.format(row="NEW"),
            "run is locked: no new plan versions",
        ),
        (
            "plan_versions_locked_no_update",
            "UPDATE",
            "plan_versions",
            locked_run.format(row="OLD"),
            "plan version of a locked run is immutable",
        ),
        (
            "plan_versions_locked_no_delete",
            "DELETE",
            "plan_versions",
            locked_run.format(row="OLD"),
            "plan version of a locked run is immutable",
        ),
    ]
    for table, guard, what in (
        ("assignments", locked_version, "plan version"),
        ("audit_results", locked_version, "plan version"),
        ("evidence_records", locked_version, "plan version"),
        ("tour_instances", locked_run, "run"),
        ("drivers", locked_run, "run"),
        ("availability", locked_run, "run"),
    ):
        for event, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
            triggers.append(
                (
                    f"{table}_locked_no_{event.lower()}",
                    event,
                    table,
                    guard.format(row=row),
                    f"{table} of a locked {what} are immutable",
                )
            )
    if dialect == "sqlite":
        for name, event, table, condition, message in triggers:
            op.execute(_sqlite_trigger(name, table, event, condition, message))
        return
    # PostgreSQL: the functions and triggers of c4e8d2a6f003, frozen here.
    op.execute(
        """CREATE FUNCTION dispatcher_guard_locked_run() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE target integer;
BEGIN
  IF TG_OP = 'INSERT' THEN target := NEW.run_pk; ELSE target := OLD.run_pk; END IF;
  IF (SELECT locked_at FROM runs WHERE id = target) IS NOT NULL THEN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$"""
    )
    op.execute(
        """CREATE FUNCTION dispatcher_guard_locked_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE target integer;
BEGIN
  IF TG_OP = 'INSERT' THEN target := NEW.version_pk; ELSE target := OLD.version_pk; END IF;
  IF EXISTS (SELECT 1 FROM plan_versions pv JOIN runs r ON r.id = pv.run_pk
              WHERE pv.id = target AND r.locked_version = pv.version) THEN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$"""
    )
    frozen = (
        "id, tenant_id, site_id, run_pk, version, parent_version, created_at, origin, "
        "repair_request_id, config_json, solver_json, boundary_json, absences_json, kpis_json, "
        "drift_json, repair_json, audits_passed, coverage_bp, drivers_used, drift_level, "
        "published_at, published_by, published_role, published_evidence_hash, override_reason"
    )
    for name, event, table, _condition, message in triggers:
        if table == "runs":
            function, when = f"dispatcher_refuse('{message}')", " WHEN (OLD.locked_at IS NOT NULL)"
        elif table in ("assignments", "audit_results", "evidence_records"):
            function, when = f"dispatcher_guard_locked_version('{message}')", ""
        else:
            function, when = f"dispatcher_guard_locked_run('{message}')", ""
        if name == "plan_versions_locked_no_update":
            event = f"UPDATE OF {frozen}"
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW{when} "
            f"EXECUTE FUNCTION {function}"
        )
