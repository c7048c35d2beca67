"""The platform-wide kill-switch history: append and read, per scope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select

from dispatcher.db.repositories.base import Repository, required
from dispatcher.db.tables import kill_switch_history
from dispatcher.domain.views import KillSwitchEntry, KillSwitchRow

k = kill_switch_history.c


def in_scope(scope: str, tenant: str, site: str) -> Any:
    """History rows of the global switch, or of this site's own."""
    if scope == "global":
        return k.scope == "global"
    return (k.scope == "site") & (k.tenant_id == tenant) & (k.site_id == site)


def _row(row: Any) -> KillSwitchRow:
    return KillSwitchRow(
        scope=row.scope,
        active=bool(row.active),
        actor_id=row.actor_id,
        reason=row.reason,
        changed_at=required(row.changed_at),
        event_chain=(row.event_tenant, row.event_site),
        event_seq=row.event_seq,
    )


class KillSwitchLog(Repository):
    def is_active(self, scope: str) -> bool:
        active = self._connection.execute(
            select(k.active)
            .where(in_scope(scope, self._tenant, self._site))
            .order_by(k.id.desc())
            .limit(1)
        ).scalar()
        return bool(active)

    def newest(self, scope: str) -> KillSwitchRow | None:
        """The newest history row of the scope, with the event it names."""
        rows = self.rows(scope, newest_only=True)
        return rows[0] if rows else None

    def rows(self, scope: str, *, newest_only: bool = False) -> list[KillSwitchRow]:
        """The scope's history rows with the events they name, newest first."""
        statement = (
            select(kill_switch_history)
            .where(in_scope(scope, self._tenant, self._site))
            .order_by(k.id.desc())
        )
        if newest_only:
            statement = statement.limit(1)
        return [_row(row) for row in self._connection.execute(statement)]

    def append(
        self,
        scope: str,
        *,
        active: bool,
        by: str,
        reason: str,
        at: datetime,
        event_chain: tuple[str, str],
        event_seq: int,
    ) -> None:
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
                event_tenant=event_chain[0],
                event_site=event_chain[1],
                event_seq=event_seq,
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
