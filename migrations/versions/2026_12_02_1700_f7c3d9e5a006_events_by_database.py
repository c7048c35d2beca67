"""Events appended by the database (PostgreSQL): application logins no longer INSERT into
`audit_events`; `dispatcher_append_event(body, detail)` appends for them.

The function (SECURITY DEFINER, owned by the schema owner, still under row-level security with
the caller's scope) takes the event's canonical body as the tool built it and:

- reads every column from the body, so columns and body cannot disagree, and checks that the
  detail text is the body's detail;
- checks that the event stands at the tip of its chain (seq and prev_hash), under the insert
  policies of the caller (a depot's login appends only to its own site's chain);
- refuses an `occurred_at` more than a minute away from the server's clock, unless the database
  was created with a simulated clock (a demo or test database);
- computes the hash itself (`sha256` of the body's UTF-8 bytes) and returns it;
- records the database login that appended it (`recorded_by`, `session_user`).

So the database, not the client, vouches for order, time, hash and login. A state row still
needs its event (the bound-state triggers), and its event can only come through here. On SQLite
`recorded_by` stays empty: one file, one writer, no logins.

Revision ID: f7c3d9e5a006
Revises: e6a2b8d4c005
Create Date: 2026-12-02 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "f7c3d9e5a006"
down_revision = "e6a2b8d4c005"
branch_labels = None
depends_on = None

APP_ROLE = "dispatcher_app"
PLATFORM_ROLE = "dispatcher_platform"
CLOCK_WINDOW_SECONDS = 60

APPEND = f"""CREATE FUNCTION dispatcher_append_event(p_body text, p_detail text)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  b jsonb;
  sealed text;
  simulated boolean;
  moment timestamptz;
BEGIN
  BEGIN
    b := p_body::jsonb;
    IF p_detail::jsonb IS DISTINCT FROM b -> 'detail' THEN
      RAISE EXCEPTION 'detail';
    END IF;
  EXCEPTION WHEN OTHERS THEN
    RAISE EXCEPTION 'audit_events: the detail is not the body''s, or either is not JSON'
      USING ERRCODE = 'restrict_violation';
  END;
  IF jsonb_typeof(b) <> 'object' OR (b ->> 'v') IS DISTINCT FROM '1' THEN
    RAISE EXCEPTION 'audit_events: the body has an unknown form'
      USING ERRCODE = 'restrict_violation';
  END IF;
  -- A demo or test database: its flag, or its creation saying so (the flag follows it).
  SELECT EXISTS (SELECT 1 FROM database_flags WHERE name = 'clock' AND value = 'simulated')
      OR (b ->> 'action' = 'database.create' AND b ->> 'seq' = '1' AND b ->> 'tenant' = '*'
          AND b ->> 'site' = '*' AND b -> 'detail' ->> 'clock' = 'simulated')
    INTO simulated;
  BEGIN
    moment := (b ->> 'occurred_at')::timestamptz;
  EXCEPTION WHEN OTHERS THEN
    moment := NULL;
  END;
  IF NOT simulated AND (moment IS NULL OR abs(extract(epoch FROM moment - clock_timestamp()))
                        > {CLOCK_WINDOW_SECONDS}) THEN
    RAISE EXCEPTION 'audit_events: occurred_at % is not the database server''s time (% UTC)',
      b ->> 'occurred_at', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
      USING ERRCODE = 'restrict_violation';
  END IF;
  sealed := 'sha256:' || encode(sha256(convert_to(p_body, 'UTF8')), 'hex');
  INSERT INTO audit_events (tenant_id, site_id, seq, occurred_at, action, outcome, actor_id,
                            actor_role, reason, run_id, plan_version, evidence_hash, detail,
                            prev_hash, hash, body, recorded_by)
  VALUES (b ->> 'tenant', b ->> 'site', (b ->> 'seq')::integer, b ->> 'occurred_at',
          b ->> 'action', b ->> 'outcome', b ->> 'actor_id', b ->> 'actor_role', b ->> 'reason',
          b ->> 'run_id', (b ->> 'plan_version')::integer, b ->> 'evidence_hash', p_detail,
          b ->> 'prev_hash', sealed, p_body, session_user);
  RETURN sealed;
END $$"""


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("recorded_by", sa.String(63), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(APPEND)
    op.execute("REVOKE ALL ON FUNCTION dispatcher_append_event(text, text) FROM PUBLIC")
    op.execute(
        f"GRANT EXECUTE ON FUNCTION dispatcher_append_event(text, text) TO {APP_ROLE}, "
        f"{PLATFORM_ROLE}"
    )
    op.execute(f"REVOKE INSERT ON audit_events FROM {APP_ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT INSERT ON audit_events TO {APP_ROLE}")
        op.execute("DROP FUNCTION IF EXISTS dispatcher_append_event(text, text)")
    op.execute("ALTER TABLE audit_events DROP COLUMN recorded_by")  # SQLite 3.35+, PostgreSQL
