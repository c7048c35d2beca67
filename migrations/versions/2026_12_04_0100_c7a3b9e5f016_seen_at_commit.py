"""What a decision read of the shared chains is checked again at its commit (PostgreSQL).

Every writer held the tenant registry's and the platform's chain locks shared for its whole
transaction, so that a registry change or a kill switch (which hold them alone) came before or
after a decision, never in the middle. A depot's login can run the same function and keep the
transaction open: the global kill switch then waited for it, for every tenant, as long as it
liked (a session may set its own `idle_in_transaction_session_timeout` back to 0).

Now nobody holds the shared chains for a transaction's length. A site's writer holds its own
chain alone, as before; a change of the registry or of the global switch holds that chain alone.
A decision records the tips it read (`detail.seen`); a deferred trigger takes the shared chains
shared for the moment of the commit and refuses it (`serialization_failure`: nothing is written,
the tool says "try again") if either has moved since. It runs only for COMMIT itself: `SET
CONSTRAINTS ... IMMEDIATE` (or an implicit transaction) would run it early and keep its shared
locks until a commit the session could put off as long as it liked; so would a WITH HOLD
cursor, which COMMIT runs to its end after the deferred triggers (refused). So a change of them
waits only for commits in progress, and a decision overtaken by one is undone instead of
holding it off: whoever holds a transaction open holds off nobody but their own site.

The locks are taken in one order by everyone: the site, then the platform, then the registry
(writers take the last two at commit; a change of them takes them after its site's).

Revision ID: c7a3b9e5f016
Revises: b6f2a8d4e015
Create Date: 2026-12-04 01:00:00
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "c7a3b9e5f016"
down_revision = "b6f2a8d4e015"
branch_labels = None
depends_on = None

ORDERED = """\
  -- Always in this order (platform, registry, site), so two writers never deadlock, and
  -- one waiting for a shared chain alone holds no site's lock meanwhile.
  PERFORM dispatcher_private.hold_chain('*', '*', p_platform_alone);
  PERFORM dispatcher_private.hold_chain(t, '*', p_registry_alone);
  PERFORM dispatcher_private.hold_chain(t, s, true);
"""
OWN_ONLY = """\
  -- The site's chain alone; a shared chain only when it is changed, and then alone. What a
  -- decision read of the shared chains is checked at its commit (dispatcher_seen_at_commit).
  -- Everyone locks in the order site, platform, registry.
  PERFORM dispatcher_private.hold_chain(t, s, true);
  IF p_platform_alone THEN
    PERFORM dispatcher_private.hold_chain('*', '*', true);
  END IF;
  IF p_registry_alone OR p_platform_alone THEN
    PERFORM dispatcher_private.hold_chain(t, '*', true);
  END IF;
"""
APPEND_ORDERED = """\
  PERFORM dispatcher_private.hold_chain('*', '*', b ->> 'tenant' = '*');
  PERFORM dispatcher_private.hold_chain(scope_tenant, '*',
                                        b ->> 'tenant' <> '*' AND b ->> 'site' = '*');
  PERFORM dispatcher_private.hold_chain(scope_tenant, scope_site, b ->> 'site' <> '*');
"""
APPEND_OWN_ONLY = """\
  -- The event's own chain alone; the others are checked again at commit. A transaction that
  -- changes a shared chain (holding it alone) notes so: its own events move that chain's tip.
  IF b ->> 'site' <> '*' THEN
    PERFORM dispatcher_private.hold_chain(scope_tenant, scope_site, true);
  ELSE
    IF b ->> 'tenant' = '*' THEN
      PERFORM dispatcher_private.hold_chain('*', '*', true);
    ELSE
      PERFORM dispatcher_private.hold_chain(scope_tenant, '*', true);
    END IF;
    DELETE FROM dispatcher_private.shared_writes
     WHERE pg_xact_status(xact) IS DISTINCT FROM 'in progress';
    INSERT INTO dispatcher_private.shared_writes (xact, tenant_id)
      VALUES (pg_current_xact_id(), b ->> 'tenant') ON CONFLICT DO NOTHING;
  END IF;
"""

AT_COMMIT = r"""CREATE FUNCTION dispatcher_seen_at_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  seen jsonb;
  tip bigint;
BEGIN
  BEGIN
    seen := NEW.body::jsonb -> 'detail' -> 'seen';
  EXCEPTION WHEN others THEN
    RETURN NULL;  -- not JSON: the append function refused it already
  END;
  IF seen IS NULL OR jsonb_typeof(seen) <> 'object' THEN
    RETURN NULL;
  END IF;
  -- Only at COMMIT: `SET CONSTRAINTS ... IMMEDIATE` would run this check early, and the shared
  -- locks it takes would then be held until a commit the session delays as long as it likes.
  IF coalesce(current_query(), '') !~* ('^\s*(commit|end)(\s+(work|transaction))?'
                          '(\s+and\s+(no\s+)?chain)?\s*;?\s*$') THEN
    RAISE EXCEPTION 'audit_events: an event is checked when its transaction commits, and only '
      'by COMMIT itself (not by: %)', coalesce(left(current_query(), 60), 'an implicit commit')
      USING ERRCODE = 'restrict_violation';
  END IF;
  -- After the deferred triggers COMMIT runs every open WITH HOLD cursor to its end, with the
  -- shared locks taken below still held: a cursor's query would stretch the commit at will.
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_cursors WHERE is_holdable) THEN
    RAISE EXCEPTION 'audit_events: a transaction that appends an event commits with no WITH '
      'HOLD cursor open' USING ERRCODE = 'restrict_violation';
  END IF;
  IF NEW.tenant_id <> '*' AND seen ? 'platform' AND NOT EXISTS (
       SELECT 1 FROM dispatcher_private.shared_writes
        WHERE xact = pg_current_xact_id() AND tenant_id = '*') THEN
    PERFORM dispatcher_private.hold_chain('*', '*', false);
    SELECT coalesce(max(seq), 0) INTO tip FROM audit_events
     WHERE tenant_id = '*' AND site_id = '*';
    IF tip::text IS DISTINCT FROM seen ->> 'platform' THEN
      RAISE EXCEPTION 'audit_events: the platform (kill switch) changed while this command ran '
        '(it read event #%, the tip is #%); nothing was written', seen ->> 'platform', tip
        USING ERRCODE = 'serialization_failure';
    END IF;
  END IF;
  IF NEW.site_id <> '*' AND seen ? 'registry' AND NOT EXISTS (
       SELECT 1 FROM dispatcher_private.shared_writes
        WHERE xact = pg_current_xact_id() AND tenant_id = NEW.tenant_id) THEN
    PERFORM dispatcher_private.hold_chain(NEW.tenant_id, '*', false);
    SELECT coalesce(max(seq), 0) INTO tip FROM audit_events
     WHERE tenant_id = NEW.tenant_id AND site_id = '*';
    IF tip::text IS DISTINCT FROM seen ->> 'registry' THEN
      RAISE EXCEPTION 'audit_events: the user registry changed while this command ran '
        '(it read event #%, the tip is #%); nothing was written', seen ->> 'registry', tip
        USING ERRCODE = 'serialization_failure';
    END IF;
  END IF;
  RETURN NULL;
END $$"""

TRIGGER = (
    "CREATE CONSTRAINT TRIGGER audit_events_seen_at_commit AFTER INSERT ON audit_events "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION dispatcher_seen_at_commit()"
)

HARDEN = """DO $$ BEGIN
  EXECUTE format('ALTER FUNCTION dispatcher_seen_at_commit() SET search_path = %I, pg_temp',
                 current_schema());
END $$"""


def _revision(name: str, module: str) -> ModuleType:
    path = Path(__file__).with_name(name)
    spec = importlib.util.spec_from_file_location(module, path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def _lock_order() -> ModuleType:
    return _revision(
        "2026_12_04_0000_b6f2a8d4e015_lock_order.py", "dispatcher_migration_b6f2a8d4e015"
    )


def _swapped(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, "the function's lock lines are not where they were"
    return text.replace(old, new)


def lock_function() -> str:
    return _swapped(_lock_order().lock_function(), ORDERED, OWN_ONLY)


def append_function() -> str:
    return _swapped(_lock_order().append_function(), APPEND_ORDERED, APPEND_OWN_ONLY)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    previous = _lock_order()
    op.execute(
        "CREATE TABLE dispatcher_private.shared_writes (xact xid8 NOT NULL, "
        "tenant_id text NOT NULL, PRIMARY KEY (xact, tenant_id))"
    )
    op.execute("REVOKE ALL ON dispatcher_private.shared_writes FROM PUBLIC")
    op.execute(lock_function())
    op.execute(append_function())
    op.execute(str(previous._chain_rows().HARDEN))
    op.execute(AT_COMMIT)
    op.execute("REVOKE ALL ON FUNCTION dispatcher_seen_at_commit() FROM PUBLIC")
    op.execute(HARDEN)
    op.execute(TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    previous = _lock_order()
    op.execute("DROP TRIGGER audit_events_seen_at_commit ON audit_events")
    op.execute("DROP FUNCTION dispatcher_seen_at_commit()")
    op.execute(previous.lock_function())
    op.execute(previous.append_function())
    op.execute(str(previous._chain_rows().HARDEN))
    op.execute("DROP TABLE dispatcher_private.shared_writes")
