"""Updates by the database's own functions (PostgreSQL): application logins lose UPDATE on
`repair_requests` and INSERT/UPDATE on `version_checks`.

With UPDATE on a table a login may also `LOCK TABLE … IN ACCESS EXCLUSIVE MODE`, and a depot's
login holding that lock made every tenant's readers and repairs wait until "Database is busy".
Now the two kinds of change the tool makes to a request (its proposal; its resolution) and the
verification cache's upsert go through SECURITY DEFINER functions owned by the schema owner:
they change only the columns of that change, only rows of the session's own scope (the
row-level security of the caller's scope still applies, and the bound-state triggers still
require the event), and return how many rows they changed. No application login holds a
privilege that lets it lock a table another site writes.

SQLite is unchanged (one file, no logins).

Revision ID: d1a7b3e9f010
Revises: c0f6a2d8e009
Create Date: 2026-12-03 13:00:00
"""

from __future__ import annotations

from alembic import op

revision = "d1a7b3e9f010"
down_revision = "c0f6a2d8e009"
branch_labels = None
depends_on = None

APP_ROLE = "dispatcher_app"
SCOPE = (
    "tenant_id = current_setting('app.tenant', true) "
    "AND site_id = current_setting('app.site', true)"
)
FUNCTIONS = {
    "dispatcher_propose_repair(text, integer, text, integer, timestamptz)": f"""
CREATE FUNCTION dispatcher_propose_repair(p_request_id text, p_event_seq integer,
    p_proposal text, p_proposal_version integer, p_proposed_at timestamptz)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE changed integer;
BEGIN
  UPDATE repair_requests SET event_seq = p_event_seq, proposal = p_proposal,
         proposal_version = p_proposal_version, proposed_at = p_proposed_at, status = 'PROPOSED'
   WHERE {SCOPE} AND request_id = p_request_id;
  GET DIAGNOSTICS changed = ROW_COUNT;
  RETURN changed;
END $$""",
    "dispatcher_resolve_repair(text, integer, text, text, text, timestamptz, integer)": f"""
CREATE FUNCTION dispatcher_resolve_repair(p_request_id text, p_event_seq integer,
    p_status text, p_by text, p_reason text, p_at timestamptz, p_applied_version integer)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE changed integer;
BEGIN
  UPDATE repair_requests SET event_seq = p_event_seq, status = p_status, resolved_by = p_by,
         resolution_reason = p_reason, resolved_at = p_at, applied_version = p_applied_version
   WHERE {SCOPE} AND request_id = p_request_id;
  GET DIAGNOSTICS changed = ROW_COUNT;
  RETURN changed;
END $$""",
    "dispatcher_record_check(integer, text, text, timestamptz)": """
CREATE FUNCTION dispatcher_record_check(p_version_pk integer, p_status text, p_reason text,
    p_checked_at timestamptz)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  INSERT INTO version_checks (tenant_id, site_id, version_pk, status, status_reason, checked_at)
  VALUES (current_setting('app.tenant', true), current_setting('app.site', true), p_version_pk,
          p_status, p_reason, p_checked_at)
  ON CONFLICT (version_pk) DO UPDATE SET status = EXCLUDED.status,
         status_reason = EXCLUDED.status_reason, checked_at = EXCLUDED.checked_at;
  RETURN 1;
END $$""",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for signature, body in FUNCTIONS.items():
        op.execute(body)
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE}")
        op.execute(
            f"""DO $$ BEGIN
  EXECUTE format('ALTER FUNCTION {signature} SET search_path = %I, pg_temp', current_schema());
END $$"""
        )
    op.execute(f"REVOKE UPDATE ON repair_requests FROM {APP_ROLE}")
    op.execute(f"REVOKE INSERT, UPDATE ON version_checks FROM {APP_ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"GRANT UPDATE ON repair_requests TO {APP_ROLE}")
    op.execute(f"GRANT INSERT, UPDATE ON version_checks TO {APP_ROLE}")
    for signature in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
