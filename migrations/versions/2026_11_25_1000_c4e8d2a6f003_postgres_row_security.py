"""Many sites on one server. On both backends: the register of repair-request ids (ids are
unique per tenant, while a site may read only its own requests). On PostgreSQL only: the guards
SQLite has as triggers, row-level security per tenant and site, and the grants of the
application roles (on SQLite one file is one deployment, and its triggers came with the initial
schema).

Roles (created by the DBA beforehand, see docs/deployment.md; created here only when the
migrating role may create roles, as in a developer's cluster):
- dispatcher_app: what every application login is a member of. SELECT and INSERT on the tables,
  UPDATE only where the tool updates, DELETE nowhere; the audit tables are insert-only.
- dispatcher_platform: marks platform-admin logins. Their sessions may switch on the audited
  cross-site view (`status --all-sites`), which only ever widens SELECT.
- dispatcher_any_site: logins that may act for any tenant/site they name. Every other login
  acts only for the sites `site_logins` lists for it, so a depot's login cannot be pointed at
  another depot, not even by hand in a SQL shell.

Every table that carries a tenant gets FORCE ROW LEVEL SECURITY and
- `<table>_rows`: permissive, lets rows through (PostgreSQL needs one permissive policy);
- `<table>_scope_read`: restrictive, SELECT only the session's tenant/site (or, for a platform
  admin who asked for it, every site);
- `<table>_scope_insert`: restrictive, INSERT only into the session's tenant/site;
- `<table>_scope_update`: restrictive, UPDATE only inside it (tables the tool updates).
The session's tenant and site come from `set_config('app.tenant'|'app.site', …, true)`, set by
the unit of work at the start of every transaction; unset, they read as NULL and match nothing;
set to a site the login is not bound to (and not dispatcher_any_site), they match nothing
either.

Revision ID: c4e8d2a6f003
Revises: b7c2e4f1a002
Create Date: 2026-11-25 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c4e8d2a6f003"
down_revision = "b7c2e4f1a002"
branch_labels = None
depends_on = None

GENESIS = "sha256:" + "0" * 64
APP_ROLE = "dispatcher_app"
PLATFORM_ROLE = "dispatcher_platform"
ANY_SITE_ROLE = "dispatcher_any_site"

# `(SELECT f())` is evaluated once per statement, not once per row.
GRANTED = "(SELECT dispatcher_scope_granted())"
TENANT = f"tenant_id = current_setting('app.tenant', true) AND {GRANTED}"
SITE = f"{TENANT} AND site_id = current_setting('app.site', true)"
ALL_SITES = "dispatcher_all_sites()"

# table -> (rows the session may read, rows it may write)
SCOPES: dict[str, tuple[str, str]] = {
    "tenants": (TENANT, TENANT),
    "users": (TENANT, TENANT),
    **dict.fromkeys(
        (
            "sites",
            "site_settings",
            "runs",
            "tour_instances",
            "drivers",
            "availability",
            "plan_versions",
            "assignments",
            "audit_results",
            "evidence_records",
            "repair_requests",
            "approvals",
            "audit_events",
        ),
        (SITE, SITE),
    ),
    # Ids only, no personal data: every site of the tenant reads them, each writes its own.
    "repair_request_ids": (TENANT, SITE),
    "kill_switch_history": (
        f"scope = 'global' OR ({SITE})",
        f"(scope = 'global' AND tenant_id IS NULL AND site_id IS NULL)"
        f" OR (scope = 'site' AND {SITE})",
    ),
}
UPDATABLE = ("site_settings", "users", "runs", "plan_versions", "repair_requests")
SEQUENCES = ("runs", "plan_versions", "repair_requests", "approvals", "kill_switch_history")

FUNCTIONS = [
    # May this login act for the scope its session set? Bound logins: only for their sites.
    f"""CREATE FUNCTION dispatcher_scope_granted() RETURNS boolean LANGUAGE sql STABLE AS $$
SELECT pg_has_role(session_user, '{ANY_SITE_ROLE}', 'MEMBER')
    OR EXISTS (SELECT 1 FROM site_logins
                WHERE login_name = session_user
                  AND tenant = current_setting('app.tenant', true)
                  AND site = current_setting('app.site', true))
$$""",
    # True only in a platform admin's session that switched the cross-site view on.
    f"""CREATE FUNCTION dispatcher_all_sites() RETURNS boolean LANGUAGE sql STABLE AS $$
SELECT coalesce(current_setting('app.all_sites', true) = 'on', false)
   AND pg_has_role(current_user, '{PLATFORM_ROLE}', 'MEMBER')
$$""",
    """CREATE FUNCTION dispatcher_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
END $$""",
    f"""CREATE FUNCTION dispatcher_append_at_tip() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE tip_seq integer; tip_hash text;
BEGIN
  SELECT seq, hash INTO tip_seq, tip_hash FROM audit_events
   WHERE tenant_id = NEW.tenant_id AND site_id = NEW.site_id ORDER BY seq DESC LIMIT 1;
  IF NEW.seq IS NULL OR NEW.seq <> coalesce(tip_seq, 0) + 1
     OR NEW.prev_hash IS DISTINCT FROM coalesce(tip_hash, '{GENESIS}') THEN
    RAISE EXCEPTION 'audit_events: insert must append at the tip'
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$""",
    # The row (new for INSERT, old otherwise) belongs to a locked run: refuse.
    """CREATE FUNCTION dispatcher_guard_locked_run() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE target integer;
BEGIN
  IF TG_OP = 'INSERT' THEN target := NEW.run_pk; ELSE target := OLD.run_pk; END IF;
  IF (SELECT locked_at FROM runs WHERE id = target) IS NOT NULL THEN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$""",
    # The row belongs to the locked version of its run: refuse.
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
END $$""",
]
PLAN_VERSION_FROZEN_COLUMNS = (
    "id, tenant_id, site_id, run_pk, version, parent_version, created_at, origin, "
    "repair_request_id, config_json, solver_json, boundary_json, absences_json, kpis_json, "
    "drift_json, repair_json, audits_passed, coverage_bp, drivers_used, drift_level, "
    "published_at, published_by, published_role, published_evidence_hash, override_reason"
)


def _trigger(name: str, event: str, table: str, function: str, *, when: str = "") -> str:
    condition = f" WHEN ({when})" if when else ""
    return (
        f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW{condition} "
        f"EXECUTE FUNCTION {function}"
    )


def _triggers() -> dict[str, str]:
    """The same names and guards as the SQLite triggers of the initial schema."""
    refuse = "dispatcher_refuse('{}')"
    triggers = {
        "audit_events_no_update": _trigger(
            "audit_events_no_update",
            "UPDATE",
            "audit_events",
            refuse.format("audit_events is append-only"),
        ),
        "audit_events_no_delete": _trigger(
            "audit_events_no_delete",
            "DELETE",
            "audit_events",
            refuse.format("audit_events is append-only"),
        ),
        "audit_events_no_truncate": (
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION dispatcher_refuse('audit_events is append-only')"
        ),
        "audit_events_append_at_tip": _trigger(
            "audit_events_append_at_tip", "INSERT", "audit_events", "dispatcher_append_at_tip()"
        ),
        "runs_locked_no_update": _trigger(
            "runs_locked_no_update",
            "UPDATE",
            "runs",
            refuse.format("run is locked"),
            when="OLD.locked_at IS NOT NULL",
        ),
        "runs_locked_no_delete": _trigger(
            "runs_locked_no_delete",
            "DELETE",
            "runs",
            refuse.format("run is locked"),
            when="OLD.locked_at IS NOT NULL",
        ),
        "plan_versions_locked_no_insert": _trigger(
            "plan_versions_locked_no_insert",
            "INSERT",
            "plan_versions",
            "dispatcher_guard_locked_run('run is locked: no new plan versions')",
        ),
        "plan_versions_locked_no_update": _trigger(
            "plan_versions_locked_no_update",
            f"UPDATE OF {PLAN_VERSION_FROZEN_COLUMNS}",
            "plan_versions",
            "dispatcher_guard_locked_run('plan version of a locked run is immutable')",
        ),
        "plan_versions_locked_no_delete": _trigger(
            "plan_versions_locked_no_delete",
            "DELETE",
            "plan_versions",
            "dispatcher_guard_locked_run('plan version of a locked run is immutable')",
        ),
    }
    for table in ("assignments", "audit_results", "evidence_records"):
        for event in ("INSERT", "UPDATE", "DELETE"):
            name = f"{table}_locked_no_{event.lower()}"
            message = f"{table} of a locked plan version are immutable"
            triggers[name] = _trigger(
                name, event, table, f"dispatcher_guard_locked_version('{message}')"
            )
    for table in ("tour_instances", "drivers", "availability"):
        for event in ("INSERT", "UPDATE", "DELETE"):
            name = f"{table}_locked_no_{event.lower()}"
            message = f"{table} of a locked run are immutable"
            triggers[name] = _trigger(
                name, event, table, f"dispatcher_guard_locked_run('{message}')"
            )
    return triggers


def _policies(table: str) -> list[str]:
    read, write = SCOPES[table]
    statements = [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {table}_rows ON {table} AS PERMISSIVE FOR ALL "
        "USING (true) WITH CHECK (true)",
        f"CREATE POLICY {table}_scope_read ON {table} AS RESTRICTIVE FOR SELECT "
        f"USING (({read}) OR {ALL_SITES})",
        f"CREATE POLICY {table}_scope_insert ON {table} AS RESTRICTIVE FOR INSERT "
        f"WITH CHECK ({write})",
    ]
    if table in UPDATABLE:
        statements.append(
            f"CREATE POLICY {table}_scope_update ON {table} AS RESTRICTIVE FOR UPDATE "
            f"USING ({write}) WITH CHECK ({write})"
        )
    return statements


# Run by whoever migrates: a superuser or a role with CREATEROLE creates missing group roles;
# anyone else gets told what the DBA must create first.
ENSURE_ROLES = f"""DO $$
DECLARE wanted text;
BEGIN
  FOREACH wanted IN ARRAY ARRAY['{APP_ROLE}', '{PLATFORM_ROLE}', '{ANY_SITE_ROLE}'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = wanted) THEN
      IF (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN', wanted);
      ELSE
        RAISE EXCEPTION 'role % is missing: create it first (docs/deployment.md)', wanted;
      END IF;
    END IF;
  END LOOP;
END $$"""


def upgrade() -> None:
    op.create_table(
        "repair_request_ids",
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("request_id", sa.String(40), nullable=False),
        sa.Column("site_id", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "request_id", name="pk_repair_request_ids"),
    )
    op.execute(
        "INSERT INTO repair_request_ids (tenant_id, request_id, site_id) "
        "SELECT tenant_id, request_id, site_id FROM repair_requests"
    )
    # Which database login may act for which site (PostgreSQL; unused on SQLite, one file).
    op.create_table(
        "site_logins",
        sa.Column("login_name", sa.String(63), nullable=False),
        sa.Column("tenant", sa.String(40), nullable=False),
        sa.Column("site", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("login_name", "tenant", "site", name="pk_site_logins"),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(ENSURE_ROLES)
    # A login reads only its own bindings; only the DBA or the owner writes them.
    op.execute("ALTER TABLE site_logins ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE site_logins FORCE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY site_logins_rows ON site_logins USING (true) WITH CHECK (true)")
    op.execute(
        "CREATE POLICY site_logins_own ON site_logins AS RESTRICTIVE FOR SELECT "
        f"USING (login_name = session_user OR pg_has_role(session_user, '{PLATFORM_ROLE}', "
        "'MEMBER'))"
    )
    op.execute("REVOKE ALL ON site_logins FROM PUBLIC")
    op.execute(f"GRANT SELECT ON site_logins TO {APP_ROLE}, {PLATFORM_ROLE}")
    for statement in FUNCTIONS:
        op.execute(statement)
    for statement in _triggers().values():
        op.execute(statement)
    tables = ", ".join(SCOPES)
    op.execute(f"REVOKE ALL ON {tables}, alembic_version FROM PUBLIC")
    op.execute(f"GRANT SELECT, INSERT ON {tables} TO {APP_ROLE}")
    op.execute(f"GRANT UPDATE ON {', '.join(UPDATABLE)} TO {APP_ROLE}")
    sequences = ", ".join(f"{table}_id_seq" for table in SEQUENCES)
    op.execute(f"GRANT USAGE ON SEQUENCE {sequences} TO {APP_ROLE}")
    op.execute(f"GRANT SELECT ON {tables} TO {PLATFORM_ROLE}")
    op.execute(f"GRANT SELECT ON alembic_version TO {APP_ROLE}, {PLATFORM_ROLE}")
    for table in SCOPES:
        for statement in _policies(table):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _downgrade_postgres()
    op.drop_table("site_logins")
    op.drop_table("repair_request_ids")


def _downgrade_postgres() -> None:
    for table in SCOPES:
        for policy in ("rows", "scope_read", "scope_insert", "scope_update"):
            op.execute(f"DROP POLICY IF EXISTS {table}_{policy} ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    tables = ", ".join(SCOPES)
    sequences = ", ".join(f"{table}_id_seq" for table in SEQUENCES)
    op.execute(f"REVOKE ALL ON {tables}, alembic_version FROM {APP_ROLE}, {PLATFORM_ROLE}")
    op.execute(f"REVOKE ALL ON SEQUENCE {sequences} FROM {APP_ROLE}")
    for name, statement in _triggers().items():
        table = statement.split(" ON ", 1)[1].split(" ", 1)[0]
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    for function in (
        "dispatcher_guard_locked_version()",
        "dispatcher_guard_locked_run()",
        "dispatcher_append_at_tip()",
        "dispatcher_refuse()",
        "dispatcher_all_sites()",
        "dispatcher_scope_granted()",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
