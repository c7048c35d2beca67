"""Chain locks as row locks nobody else can take, taken by the append function too (PostgreSQL).

Advisory locks are visible to every login in `pg_locks`, keys included, and any login may take
any key with `pg_advisory_lock`, for its whole session: a depot could read another site's key
while that site wrote, hold it, and stop that site's writers (the salt only hid the key until
it was first used). The chain locks are now row locks on `dispatcher_private.chain_heads`, one
row per chain, in a schema no application login may use: only the owner's functions lock them,
and a row lock lasts one transaction.

`dispatcher_lock_chains` takes them as before (the site's alone; the registry's and the
platform's shared, or alone for the platform login). `dispatcher_append_event` now takes them
itself, in the same order, before it checks anything: the event's own chain alone, the other
two shared. So a decision appended by hand, in a transaction the tool's writers never began,
still holds the registry and the platform still until it commits: a user disabled or a kill
switch pulled meanwhile waits for it and comes after it in the trail, as its `seen` says. The
platform's chains are locked alone only for the platform login (a depot asking is refused
before it holds anything).

The append function also refuses a body whose fields have other JSON types than the canonical
form's (an actor that is a number passed the user-id check as text, and then every `audit
verify` named the chain broken there).

SQLite is unchanged (BEGIN IMMEDIATE serialises every writer).

Revision ID: a5e1f7c3d014
Revises: f3c9d5a1b012
Create Date: 2026-12-03 21:00:00
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "a5e1f7c3d014"
down_revision = "f3c9d5a1b012"
branch_labels = None
depends_on = None

APP_ROLE = "dispatcher_app"
PLATFORM_ROLE = "dispatcher_platform"

HOLD = """CREATE FUNCTION dispatcher_private.hold_chain(p_tenant text, p_site text,
    p_alone boolean)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO dispatcher_private.chain_heads (tenant_id, site_id) VALUES (p_tenant, p_site)
    ON CONFLICT DO NOTHING;
  IF p_alone THEN
    PERFORM 1 FROM dispatcher_private.chain_heads
     WHERE tenant_id = p_tenant AND site_id = p_site FOR UPDATE;
  ELSE
    PERFORM 1 FROM dispatcher_private.chain_heads
     WHERE tenant_id = p_tenant AND site_id = p_site FOR SHARE;
  END IF;
END $$"""

LOCK = """CREATE OR REPLACE FUNCTION dispatcher_lock_chains(p_registry_alone boolean,
    p_platform_alone boolean)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  t text := current_setting('app.tenant', true);
  s text := current_setting('app.site', true);
BEGIN
  IF t IS NULL OR s IS NULL OR NOT dispatcher_scope_granted() THEN
    RAISE EXCEPTION 'dispatcher_lock_chains: this login may not act for %/%', t, s
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF (p_registry_alone OR p_platform_alone) AND NOT dispatcher_platform_login() THEN
    RAISE EXCEPTION 'dispatcher_lock_chains: only the platform login changes what sites share'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- Always in this order (site, registry, platform), so two writers never deadlock.
  PERFORM dispatcher_private.hold_chain(t, s, true);
  PERFORM dispatcher_private.hold_chain(t, '*', p_registry_alone);
  PERFORM dispatcher_private.hold_chain('*', '*', p_platform_alone);
END $$"""

# Inserted into the append function of f3c9d5a1b012, after the login check: the locks, then
# the JSON types of the body's fields.
APPEND_LOCKS = """  -- The chains' locks before anything is read: its own alone, the others shared.
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'audit_events: events are appended at READ COMMITTED (not %): an older '
      'snapshot would judge against state already gone', current_setting('transaction_isolation')
      USING ERRCODE = 'restrict_violation';
  END IF;
  IF scope_tenant IS NULL OR scope_site IS NULL OR NOT dispatcher_scope_granted() THEN
    RAISE EXCEPTION 'audit_events: this login may not act for %/%', scope_tenant, scope_site
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF (b ->> 'tenant' IS DISTINCT FROM scope_tenant AND b ->> 'tenant' IS DISTINCT FROM '*')
     OR (b ->> 'site' IS DISTINCT FROM scope_site AND b ->> 'site' IS DISTINCT FROM '*')
     OR (b ->> 'tenant' = '*' AND b ->> 'site' IS DISTINCT FROM '*') THEN
    RAISE EXCEPTION 'audit_events: the event is not for the chains of %/%', scope_tenant,
      scope_site USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF (b ->> 'site' = '*' OR b ->> 'tenant' = '*') AND NOT dispatcher_platform_login() THEN
    RAISE EXCEPTION 'audit_events: only the platform login appends to what sites share'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM dispatcher_private.hold_chain(scope_tenant, scope_site, b ->> 'site' <> '*');
  PERFORM dispatcher_private.hold_chain(scope_tenant, '*',
                                        b ->> 'tenant' <> '*' AND b ->> 'site' = '*');
  PERFORM dispatcher_private.hold_chain('*', '*', b ->> 'tenant' = '*');
  IF jsonb_typeof(b -> 'tenant') IS DISTINCT FROM 'string'
     OR jsonb_typeof(b -> 'site') IS DISTINCT FROM 'string'
     OR jsonb_typeof(b -> 'seq') IS DISTINCT FROM 'number'
     OR jsonb_typeof(b -> 'action') IS DISTINCT FROM 'string'
     OR jsonb_typeof(b -> 'outcome') IS DISTINCT FROM 'string'
     OR jsonb_typeof(b -> 'occurred_at') IS DISTINCT FROM 'string'
     OR jsonb_typeof(b -> 'prev_hash') IS DISTINCT FROM 'string'
     OR jsonb_typeof(b -> 'detail') IS DISTINCT FROM 'object'
     OR jsonb_typeof(b -> 'actor_id') NOT IN ('string', 'null')
     OR jsonb_typeof(b -> 'actor_role') NOT IN ('string', 'null')
     OR jsonb_typeof(b -> 'reason') NOT IN ('string', 'null')
     OR jsonb_typeof(b -> 'run_id') NOT IN ('string', 'null')
     OR jsonb_typeof(b -> 'evidence_hash') NOT IN ('string', 'null')
     OR jsonb_typeof(b -> 'plan_version') NOT IN ('number', 'null') THEN
    RAISE EXCEPTION 'audit_events: a field of the body is not of its canonical JSON type'
      USING ERRCODE = 'restrict_violation';
  END IF;
"""
ANCHOR = "  -- What the decision read of the other chains is what they hold now.\n"
# Before the body is parsed: a 200 MB body took seconds to parse, with nothing held yet but
# time (the size trigger refused it only at the INSERT).
PARSE = "  BEGIN\n    b := p_body::jsonb;\n"
SIZE_FIRST = """  IF length(p_body) > 1048576 OR length(p_detail) > 1048576 THEN
    RAISE EXCEPTION 'audit_events: an event holds at most 1 MB'
      USING ERRCODE = 'restrict_violation';
  END IF;
"""
DECLARED = "  registry_of text;\n"

HARDEN = """DO $$ BEGIN
  EXECUTE format('ALTER FUNCTION dispatcher_append_event(text, text) SET search_path = %I, '
                 'pg_temp', current_schema());
  EXECUTE format('ALTER FUNCTION dispatcher_lock_chains(boolean, boolean) SET search_path = %I, '
                 'pg_temp', current_schema());
END $$"""


def _revision(name: str, module: str) -> ModuleType:
    path = Path(__file__).with_name(name)
    spec = importlib.util.spec_from_file_location(module, path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def _true_tips() -> ModuleType:
    return _revision(
        "2026_12_03_2000_f3c9d5a1b012_true_tips.py", "dispatcher_migration_f3c9d5a1b012"
    )


def append_function() -> str:
    """f3c9d5a1b012's function with the locks and the type checks inserted."""
    body = str(_true_tips().APPEND)
    assert body.count(ANCHOR) == 1 and body.count(DECLARED) == 1
    assert body.count(PARSE) == 1
    body = body.replace(
        DECLARED, DECLARED + "  scope_site text := current_setting('app.site', true);\n"
    )
    body = body.replace(PARSE, SIZE_FIRST + PARSE)
    return body.replace(ANCHOR, APPEND_LOCKS + ANCHOR)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE TABLE dispatcher_private.chain_heads (tenant_id text NOT NULL, "
        "site_id text NOT NULL, PRIMARY KEY (tenant_id, site_id))"
    )
    op.execute("REVOKE ALL ON dispatcher_private.chain_heads FROM PUBLIC")
    # A row for every chain there is, and the platform's: a missing row is inserted by the
    # first writer, and until it commits every other writer of that chain waits for it.
    # (The owner is held by the forced policies too: lifted for this statement's transaction.)
    readable = ("sites", "tenants", "audit_events")
    for table in readable:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "INSERT INTO dispatcher_private.chain_heads (tenant_id, site_id) "
        "SELECT tenant_id, site_id FROM sites UNION SELECT tenant_id, '*' FROM tenants "
        "UNION SELECT tenant_id, site_id FROM audit_events UNION SELECT '*', '*' "
        "ON CONFLICT DO NOTHING"
    )
    for table in readable:
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(HOLD)
    op.execute(
        "REVOKE ALL ON FUNCTION dispatcher_private.hold_chain(text, text, boolean) FROM PUBLIC"
    )
    op.execute(LOCK)
    op.execute(append_function())
    op.execute(HARDEN)
    op.execute("DROP TABLE dispatcher_private.chain_lock_salt")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    locks = _revision(
        "2026_12_02_1800_a8d4e0f6b007_chain_locks.py", "dispatcher_migration_a8d4e0f6b007"
    )
    op.execute("CREATE TABLE dispatcher_private.chain_lock_salt (salt text NOT NULL)")
    op.execute("REVOKE ALL ON dispatcher_private.chain_lock_salt FROM PUBLIC")
    op.execute(
        "INSERT INTO dispatcher_private.chain_lock_salt (salt) "
        "SELECT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')"
    )
    op.execute(str(locks.LOCK).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute(str(_true_tips().APPEND))
    op.execute(HARDEN)
    op.execute("DROP FUNCTION dispatcher_private.hold_chain(text, text, boolean)")
    op.execute("DROP TABLE dispatcher_private.chain_heads")
