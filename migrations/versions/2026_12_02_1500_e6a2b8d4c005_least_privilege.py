"""Least privilege for depot logins; events well formed; site chains that open with site.create.

- Both backends: `audit_events_site_chain_opens` refuses a first event of a site's chain that is
  not its `site.create`. A chain that opens otherwise reads as one begun by an older release,
  whose events before the upgrade's adoption nothing judged (docs/security.md).
  `audit_events_well_formed` refuses an `occurred_at` that is not written as the tool writes it
  (events are ordered by comparing that text: `2026-1-06…` would sort after `2026-01-12…`) and
  a body or detail that is not JSON (or nested deeper than the database's JSON reader goes).
- PostgreSQL: a depot's login (a member of dispatcher_app only) no longer writes anything
  tenant-wide or platform-wide: `tenants`, `sites`, `site_settings`, `users`, global rows of
  `kill_switch_history`, and events of a tenant's registry chain or of the platform chain. Those
  are written by the platform login (a member of dispatcher_platform): `users add/disable`,
  `site init/set`, the global kill switch and `db init`. Everything a depot does for its own site
  (runs, plan versions, decisions, repairs, its own kill switch, its chain) is unchanged.

Revision ID: e6a2b8d4c005
Revises: d5f1a7c3b004
Create Date: 2026-12-02 15:00:00
"""

from __future__ import annotations

from alembic import op

revision = "e6a2b8d4c005"
down_revision = "d5f1a7c3b004"
branch_labels = None
depends_on = None

APP_ROLE = "dispatcher_app"
PLATFORM_ROLE = "dispatcher_platform"
OPENS = "audit_events: a site chain opens with its site.create"
OPENS_CONDITION = (
    "NEW.seq = 1 AND NEW.site_id <> '*' AND NEW.tenant_id <> '*' AND NEW.action <> 'site.create'"
)

WELL_FORMED = "audit_events: occurred_at is YYYY-MM-DDTHH:MM:SS.ffffffZ; body and detail are JSON"
SQLITE_TIME = (
    "[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]."
    "[0-9][0-9][0-9][0-9][0-9][0-9]Z"
)
PG_TIME = "^[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9][.][0-9]{6}Z$"

# The same scope expressions as the earlier PostgreSQL revisions (`(SELECT f())`: once per
# statement, not once per row).
GRANTED = "(SELECT dispatcher_scope_granted())"
PLATFORM = "(SELECT dispatcher_platform_login())"
TENANT = f"tenant_id = current_setting('app.tenant', true) AND {GRANTED}"
SITE = f"{TENANT} AND site_id = current_setting('app.site', true)"
SHARED_CHAINS = f"({TENANT} AND site_id = '*') OR (tenant_id = '*' AND site_id = '*' AND {GRANTED})"
TENANT_WIDE = ("tenants", "sites", "site_settings", "users")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"CREATE TRIGGER audit_events_site_chain_opens BEFORE INSERT ON audit_events\n"
            f"WHEN {OPENS_CONDITION}\nBEGIN SELECT RAISE(ABORT, '{OPENS}'); END"
        )
        op.execute(
            "CREATE TRIGGER audit_events_well_formed BEFORE INSERT ON audit_events\n"
            f"WHEN NEW.occurred_at NOT GLOB '{SQLITE_TIME}' OR NOT json_valid(NEW.body) "
            f"OR NOT json_valid(NEW.detail)\nBEGIN SELECT RAISE(ABORT, '{WELL_FORMED}'); END"
        )
        return
    op.execute(
        f"""CREATE FUNCTION dispatcher_audit_events_well_formed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.occurred_at !~ '{PG_TIME}' THEN
    RAISE EXCEPTION '{WELL_FORMED}' USING ERRCODE = 'restrict_violation';
  END IF;
  PERFORM NEW.body::jsonb, NEW.detail::jsonb;
  RETURN NEW;
EXCEPTION WHEN invalid_text_representation OR statement_too_complex THEN
  RAISE EXCEPTION '{WELL_FORMED}' USING ERRCODE = 'restrict_violation';
END $$"""
    )
    op.execute(
        "CREATE TRIGGER audit_events_well_formed BEFORE INSERT ON audit_events FOR EACH ROW "
        "EXECUTE FUNCTION dispatcher_audit_events_well_formed()"
    )
    op.execute(
        f"""CREATE FUNCTION dispatcher_audit_events_site_chain_opens() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF {OPENS_CONDITION} THEN
    RAISE EXCEPTION '{OPENS}' USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$"""
    )
    op.execute(
        "CREATE TRIGGER audit_events_site_chain_opens BEFORE INSERT ON audit_events FOR EACH ROW "
        "EXECUTE FUNCTION dispatcher_audit_events_site_chain_opens()"
    )
    # Is the login itself (not a role it switched to) one of the platform's?
    op.execute(
        "CREATE FUNCTION dispatcher_platform_login() RETURNS boolean LANGUAGE sql STABLE AS $$\n"
        f"SELECT pg_has_role(session_user, '{PLATFORM_ROLE}', 'MEMBER')\n$$"
    )
    _insert_policies(platform_only=True)
    tables = ", ".join(TENANT_WIDE)
    op.execute(f"REVOKE INSERT, UPDATE ON {tables} FROM {APP_ROLE}")
    op.execute(f"GRANT INSERT ON {tables} TO {PLATFORM_ROLE}")
    op.execute(f"GRANT UPDATE ON site_settings, users TO {PLATFORM_ROLE}")


def _insert_policies(*, platform_only: bool) -> None:
    """Who may append to the shared chains and add a global kill-switch row."""
    shared = f"({SHARED_CHAINS}) AND {PLATFORM}" if platform_only else SHARED_CHAINS
    global_row = "scope = 'global' AND tenant_id IS NULL AND site_id IS NULL"
    if platform_only:
        global_row += f" AND {PLATFORM}"
    op.execute("DROP POLICY IF EXISTS audit_events_scope_insert ON audit_events")
    op.execute(
        "CREATE POLICY audit_events_scope_insert ON audit_events AS RESTRICTIVE FOR INSERT "
        f"WITH CHECK (({SITE}) OR {shared})"
    )
    op.execute("DROP POLICY IF EXISTS kill_switch_history_scope_insert ON kill_switch_history")
    op.execute(
        "CREATE POLICY kill_switch_history_scope_insert ON kill_switch_history AS RESTRICTIVE "
        f"FOR INSERT WITH CHECK (({global_row}) OR (scope = 'site' AND {SITE}))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_site_chain_opens")
        op.execute("DROP TRIGGER IF EXISTS audit_events_well_formed")
        return
    op.execute("DROP TRIGGER IF EXISTS audit_events_well_formed ON audit_events")
    op.execute("DROP FUNCTION IF EXISTS dispatcher_audit_events_well_formed()")
    op.execute("DROP TRIGGER IF EXISTS audit_events_site_chain_opens ON audit_events")
    op.execute("DROP FUNCTION IF EXISTS dispatcher_audit_events_site_chain_opens()")
    _insert_policies(platform_only=False)
    op.execute("DROP FUNCTION IF EXISTS dispatcher_platform_login()")
    tables = ", ".join(TENANT_WIDE)
    op.execute(f"REVOKE INSERT, UPDATE ON {tables} FROM {PLATFORM_ROLE}")
    op.execute(f"GRANT INSERT ON {tables} TO {APP_ROLE}")
    op.execute(f"GRANT UPDATE ON site_settings, users TO {APP_ROLE}")
