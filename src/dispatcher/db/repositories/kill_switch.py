"""The platform-wide kill-switch history: append and read, per scope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select

from dispatcher.db.repositories.base import Repository, required
from dispatcher.db.tables import kill_switch_history
from dispatcher.domain.views import KillSwitchEntry

k = kill_switch_history.c


def in_scope(scope: str, tenant: str, site: str) -> Any:
    """History rows of the global switch, or of this site's own."""
    if scope == "global":
        return k.scope == "global"
    return (k.scope == "site") & (k.tenant_id == tenant) & (k.site_id == site)


class KillSwitchLog(Repository):
    def is_active(self, scope: str) -> bool:
        active = self._connection.execute(
            select(k.active)
            .where(in_scope(scope, self._tenant, self._site))
            .order_by(k.id.desc())
            .limit(1)
        ).scalar()
        return bool(active)

    def append(self, scope: str, *, active: bool, by: str, reason: str, at: datetime) -> None:
        site_bound = scope == "site"
        self._connection.execute(
            insert(kill_switch_history).values(
                scope=scope,
                tenant_id=self._tenant if site_bound else None,
                site_id=self._site if site_bound else None,
                active=active,
                actor_id=by,
                reason=reason,
                changed_at=at,
            )
        )

    def history(self, limit: int = 20) -> list[KillSwitchEntry]:
        rows = self._connection.execute(
            select(kill_switch_history)
            .where(
                or_(
                    in_scope("global", self._tenant, self._site),
                    in_scope("site", self._tenant, self._site),
                )
            )
            .order_by(k.id.desc())
            .limit(limit)
        )
        return [
            KillSwitchEntry(
                row.scope,
                f"{row.tenant_id}/{row.site_id}" if row.scope == "site" else "all sites",
                bool(row.active),
                row.actor_id,
                row.reason,
                required(row.changed_at),
            )
            for row in rows
        ]
