"""Per-person logins: a registered user may be linked to the login that is this person, and a
site may require that every decision comes from the decider's own login.

- `users.login`: the database login (PostgreSQL) or operating-system account (SQLite) of the
  person; one login is one person of a tenant (unique). Changed by a `user.update` event
  (`dispatcher users link`), which the users guard already requires.
- `site_settings.approvals_require_login`: off for every existing site (their events never
  named it); a new site of a PostgreSQL production database starts with it on.
- PostgreSQL: `dispatcher_append_event` now also refuses
  - an event whose `detail.session_login` is not the login appending it (`session_user`):
    the login an event names is the one the database saw;
  - an allowed event on a site with `approvals_require_login` on, whose actor is a registered
    user not linked to `session_user`: a depot's login cannot record a decision in another
    person's name, whatever it builds by hand.

Revision ID: c0f6a2d8e009
Revises: b9e5f1c7d008
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "c0f6a2d8e009"
down_revision = "b9e5f1c7d008"
branch_labels = None
depends_on = None

CLOCK_WINDOW_SECONDS = 60

APPEND = f"""CREATE OR REPLACE FUNCTION dispatcher_append_event(p_body text, p_detail text)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  b jsonb;
  sealed text;
  simulated boolean;
  moment timestamptz;
  required boolean;
  linked text;
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
  IF (b -> 'detail' ->> 'session_login') IS DISTINCT FROM session_user::text THEN
    RAISE EXCEPTION 'audit_events: the event names login %, but % appends it',
      coalesce(b -> 'detail' ->> 'session_login', '(none)'), session_user
      USING ERRCODE = 'restrict_violation';
  END IF;
  IF b ->> 'outcome' = 'allowed' AND b ->> 'site' <> '*'
     AND coalesce(b ->> 'actor_id', 'system') <> 'system' THEN
    SELECT s.approvals_require_login INTO required FROM site_settings s
     WHERE s.tenant_id = b ->> 'tenant' AND s.site_id = b ->> 'site';
    IF coalesce(required, false) THEN
      SELECT u.login INTO linked FROM users u
       WHERE u.tenant_id = b ->> 'tenant' AND u.user_key = lower(b ->> 'actor_id');
      IF FOUND AND linked IS DISTINCT FROM session_user::text THEN
        RAISE EXCEPTION 'Blocked: % is not the logged-in user (%)', b ->> 'actor_id', session_user
          USING ERRCODE = 'restrict_violation';
      END IF;
    END IF;
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

# Every dispatcher function resolves names in this schema alone (as the chain-locks upgrade
# set them); a replaced function gets its SET clause again.
HARDEN = """DO $$ BEGIN
  EXECUTE format('ALTER FUNCTION dispatcher_append_event(text, text) SET search_path = %I, '
                 'pg_temp', current_schema());
END $$"""


def _previous_append() -> str:
    """The function as the events-by-database upgrade wrote it (for the downgrade)."""
    path = Path(__file__).with_name("2026_12_02_1700_f7c3d9e5a006_events_by_database.py")
    spec = importlib.util.spec_from_file_location("dispatcher_migration_f7c3d9e5a006", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.APPEND).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    op.add_column("users", sa.Column("login", sa.String(63), nullable=True))
    op.create_index("ix_users_tenant_id_login", "users", ["tenant_id", "login"], unique=True)
    op.add_column(
        "site_settings",
        sa.Column(
            "approvals_require_login", sa.Boolean(), nullable=False, server_default=sa.false()
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND)
        op.execute(HARDEN)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_previous_append())
        op.execute(HARDEN)
    op.drop_index("ix_users_tenant_id_login", table_name="users")
    op.execute("ALTER TABLE users DROP COLUMN login")  # SQLite 3.35+, PostgreSQL
    op.execute("ALTER TABLE site_settings DROP COLUMN approvals_require_login")
