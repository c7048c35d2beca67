"""Chain locks in the order platform, registry, site (PostgreSQL).

The order was site, registry, platform. A command changing the registry (`users add`) or the
global kill switch took its own site's lock first and then waited for the shared chain, which
any open transaction holding it shared keeps from it (a depot's own hand-appended decision,
left uncommitted, by design: a registry change waits for a decision that read the registry).
While it waited, every writer of its site waited for it: a depot could stop another site by
keeping one transaction open while that site's admin changed a user.

Now the shared chains come first: a command that needs one alone waits for it holding nothing,
and writers that share it go past the waiting one (PostgreSQL grants a share lock at once while
others hold it shared, even with an exclusive request waiting). Every writer still takes the
three in one order, so two never deadlock. Whoever holds the registry shared also holds the
platform shared (both functions take the platform first), so a kill switch waiting for the
platform holds nothing either.

The append function takes them in the same order (a decision appended by hand would otherwise
deadlock with a registry change).

SQLite is unchanged (BEGIN IMMEDIATE serialises every writer).

Revision ID: b6f2a8d4e015
Revises: a5e1f7c3d014
Create Date: 2026-12-04 00:00:00
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "b6f2a8d4e015"
down_revision = "a5e1f7c3d014"
branch_labels = None
depends_on = None

SITE_FIRST = """\
  -- Always in this order (site, registry, platform), so two writers never deadlock.
  PERFORM dispatcher_private.hold_chain(t, s, true);
  PERFORM dispatcher_private.hold_chain(t, '*', p_registry_alone);
  PERFORM dispatcher_private.hold_chain('*', '*', p_platform_alone);
"""
SHARED_FIRST = """\
  -- Always in this order (platform, registry, site), so two writers never deadlock, and
  -- one waiting for a shared chain alone holds no site's lock meanwhile.
  PERFORM dispatcher_private.hold_chain('*', '*', p_platform_alone);
  PERFORM dispatcher_private.hold_chain(t, '*', p_registry_alone);
  PERFORM dispatcher_private.hold_chain(t, s, true);
"""
APPEND_SITE_FIRST = """\
  PERFORM dispatcher_private.hold_chain(scope_tenant, scope_site, b ->> 'site' <> '*');
  PERFORM dispatcher_private.hold_chain(scope_tenant, '*',
                                        b ->> 'tenant' <> '*' AND b ->> 'site' = '*');
  PERFORM dispatcher_private.hold_chain('*', '*', b ->> 'tenant' = '*');
"""
APPEND_SHARED_FIRST = """\
  PERFORM dispatcher_private.hold_chain('*', '*', b ->> 'tenant' = '*');
  PERFORM dispatcher_private.hold_chain(scope_tenant, '*',
                                        b ->> 'tenant' <> '*' AND b ->> 'site' = '*');
  PERFORM dispatcher_private.hold_chain(scope_tenant, scope_site, b ->> 'site' <> '*');
"""


def _chain_rows() -> ModuleType:
    path = Path(__file__).with_name("2026_12_03_2100_a5e1f7c3d014_chain_rows.py")
    spec = importlib.util.spec_from_file_location("dispatcher_migration_a5e1f7c3d014", path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def _swapped(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, "the function's lock lines are not where they were"
    return text.replace(old, new)


def lock_function() -> str:
    return _swapped(str(_chain_rows().LOCK), SITE_FIRST, SHARED_FIRST)


def append_function() -> str:
    return _swapped(_chain_rows().append_function(), APPEND_SITE_FIRST, APPEND_SHARED_FIRST)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(lock_function())
    op.execute(append_function())
    op.execute(str(_chain_rows().HARDEN))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    rows = _chain_rows()
    op.execute(str(rows.LOCK))
    op.execute(rows.append_function())
    op.execute(str(rows.HARDEN))
