"""Events that cannot lie about what they read, or about who decided (PostgreSQL).

`dispatcher_append_event` now also refuses:

- an event whose `detail.seen` does not name the true tips of the other chains: the tenant's
  registry, the platform, and (for a shared chain's event) the site the command ran for. A
  site's event must name both shared tips. The tool's writers hold those chains' locks shared
  from BEGIN (`dispatcher_lock_chains`), so what they read is still the tip when they append;
  a hand-built decision that claims it read the registry before a user was disabled, or the
  platform before its kill switch was pulled, is refused instead of being judged against the
  older state (the replay of `audit verify --state` had to allow clock skew there);
- an allowed event whose actor is not in the form of a user id (`ops001 ` with a space, or any
  other text the registry lookup would not find): the login check below could be walked around
  by an actor the registry does not know;
- an allowed decision by a registered user with the literal id `system`, by a disabled user,
  or by no registered user but the tool itself, where the site requires per-person logins:
  only the tool itself is `system` (the CLI reserves the id), and a disabled user's login
  decides nothing.

SQLite is unchanged (one writer at a time; `audit verify --state` judges its events).

Revision ID: f3c9d5a1b012
Revises: e2b8c4f0a011
Create Date: 2026-12-03 20:00:00
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import op

revision = "f3c9d5a1b012"
down_revision = "e2b8c4f0a011"
branch_labels = None
depends_on = None

CLOCK_WINDOW_SECONDS = 60
USER_ID = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"  # domain/ids.ID_PATTERN

APPEND = f"""CREATE OR REPLACE FUNCTION dispatcher_append_event(p_body text, p_detail text)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  b jsonb;
  seen jsonb;
  sealed text;
  simulated boolean;
  moment timestamptz;
  required boolean;
  linked text;
  active boolean;
  tip bigint;
  scope_tenant text := current_setting('app.tenant', true);
  registry_of text;
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
  -- What the decision read of the other chains is what they hold now.
  seen := b -> 'detail' -> 'seen';
  IF b ->> 'site' <> '*' AND NOT coalesce(jsonb_typeof(seen) = 'object' AND seen ? 'registry'
                                           AND seen ? 'platform', false) THEN
    RAISE EXCEPTION 'audit_events: a site''s event names the registry''s and the platform''s '
      'tips it read (detail.seen)' USING ERRCODE = 'restrict_violation';
  END IF;
  IF jsonb_typeof(seen) = 'object' THEN
    IF seen ? 'registry' THEN  -- the event's tenant's (a platform event: the command's)
      registry_of := CASE WHEN b ->> 'tenant' = '*' THEN scope_tenant ELSE b ->> 'tenant' END;
      SELECT coalesce(max(e.seq), 0) INTO tip FROM audit_events e
       WHERE e.tenant_id = registry_of AND e.site_id = '*';
      IF seen ->> 'registry' IS DISTINCT FROM tip::text THEN  -- 8.0 is not the tool's 8
        RAISE EXCEPTION 'audit_events: the event says it read registry event #%, but the tip is #%',
          seen ->> 'registry', tip USING ERRCODE = 'restrict_violation';
      END IF;
    END IF;
    IF seen ? 'platform' THEN
      SELECT coalesce(max(e.seq), 0) INTO tip FROM audit_events e
       WHERE e.tenant_id = '*' AND e.site_id = '*';
      IF seen ->> 'platform' IS DISTINCT FROM tip::text THEN  -- 8.0 is not the tool's 8
        RAISE EXCEPTION 'audit_events: the event says it read platform event #%, but the tip is #%',
          seen ->> 'platform', tip USING ERRCODE = 'restrict_violation';
      END IF;
    END IF;
    IF seen ? 'site' THEN
      IF jsonb_typeof(seen -> 'site') IS DISTINCT FROM 'array'
         OR jsonb_array_length(seen -> 'site') <> 3
         OR seen -> 'site' ->> 0 IS DISTINCT FROM scope_tenant
         OR seen -> 'site' ->> 1 IS DISTINCT FROM current_setting('app.site', true) THEN
        RAISE EXCEPTION 'audit_events: the event names another site than the one it ran for'
          USING ERRCODE = 'restrict_violation';
      END IF;
      SELECT coalesce(max(e.seq), 0) INTO tip FROM audit_events e
       WHERE e.tenant_id = scope_tenant AND e.site_id = current_setting('app.site', true);
      IF seen -> 'site' ->> 2 IS DISTINCT FROM tip::text THEN
        RAISE EXCEPTION 'audit_events: the event says it read site event #%, but the tip is #%',
          seen -> 'site' ->> 2, tip USING ERRCODE = 'restrict_violation';
      END IF;
    END IF;
  END IF;
  -- Who decided: a user id as registered, or the tool itself (`system`).
  IF b ->> 'outcome' = 'allowed' AND b ->> 'actor_id' IS NOT NULL
     AND (b ->> 'actor_id') !~ '{USER_ID}' THEN
    RAISE EXCEPTION 'audit_events: actor % is not a user id', quote_literal(b ->> 'actor_id')
      USING ERRCODE = 'restrict_violation';
  END IF;
  IF b ->> 'outcome' = 'allowed' AND b ->> 'site' <> '*' AND b ->> 'actor_id' IS NOT NULL THEN
    SELECT s.approvals_require_login INTO required FROM site_settings s
     WHERE s.tenant_id = b ->> 'tenant' AND s.site_id = b ->> 'site';
    IF coalesce(required, false) THEN
      SELECT u.login, u.active INTO linked, active FROM users u
       WHERE u.tenant_id = b ->> 'tenant' AND u.user_key = lower(b ->> 'actor_id');
      IF FOUND AND linked IS DISTINCT FROM session_user::text THEN
        RAISE EXCEPTION 'Blocked: % is not the logged-in user (%)', b ->> 'actor_id', session_user
          USING ERRCODE = 'restrict_violation';
      ELSIF FOUND AND NOT active THEN
        RAISE EXCEPTION 'Blocked: User % is disabled', b ->> 'actor_id'
          USING ERRCODE = 'restrict_violation';
      ELSIF NOT FOUND AND b ->> 'actor_id' <> 'system' THEN
        RAISE EXCEPTION 'Blocked: % is not a registered user', b ->> 'actor_id'
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

HARDEN = """DO $$ BEGIN
  EXECUTE format('ALTER FUNCTION dispatcher_append_event(text, text) SET search_path = %I, '
                 'pg_temp', current_schema());
END $$"""


def _previous_append() -> str:
    """The function as the per-person-logins upgrade wrote it (for the downgrade)."""
    path = Path(__file__).with_name("2026_12_03_1200_c0f6a2d8e009_personal_logins.py")
    spec = importlib.util.spec_from_file_location("dispatcher_migration_c0f6a2d8e009", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.APPEND)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND)
        op.execute(HARDEN)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_previous_append())
        op.execute(HARDEN)
