"""Tenants, sites and their settings."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update

from dispatcher.db.repositories.base import Repository
from dispatcher.db.tables import site_settings, sites, tenants
from dispatcher.domain.hashing import canonical_json
from dispatcher.domain.model import DriftThresholds, SiteConfig

s = site_settings.c


def roles_of(text: str) -> tuple[str, ...]:
    """A comma-separated role list as stored."""
    return tuple(role for role in text.split(",") if role)


def _config(row: Row[Any]) -> SiteConfig:
    return SiteConfig(
        publish_enabled=bool(row.publish_enabled),
        lock_enabled=bool(row.lock_enabled),
        shadow_only=bool(row.shadow_only),
        publish_roles=roles_of(row.publish_roles),
        lock_roles=roles_of(row.lock_roles),
        repair_roles=roles_of(row.repair_roles),
        min_reason_length=row.min_reason_length,
        lock_requires_other_person=bool(row.lock_requires_other_person),
        freeze_window_hours=row.freeze_window_hours,
        drift_baseline=row.drift_baseline,
        thresholds=DriftThresholds.from_document(json.loads(row.drift_thresholds)),
        approvals_require_login=bool(row.approvals_require_login),
    )


def _settings(config: SiteConfig, now: datetime, event_seq: int) -> dict[str, Any]:
    return {
        "publish_enabled": config.publish_enabled,
        "lock_enabled": config.lock_enabled,
        "shadow_only": config.shadow_only,
        "publish_roles": ",".join(config.publish_roles),
        "lock_roles": ",".join(config.lock_roles),
        "repair_roles": ",".join(config.repair_roles),
        "min_reason_length": config.min_reason_length,
        "lock_requires_other_person": config.lock_requires_other_person,
        "freeze_window_hours": config.freeze_window_hours,
        "drift_baseline": config.drift_baseline,
        "drift_thresholds": canonical_json(config.thresholds.as_document()),
        "approvals_require_login": config.approvals_require_login,
        "updated_at": now,
        "event_seq": event_seq,
    }


class SiteRepository(Repository):
    """The site of this unit of work and its settings; every site for the platform view."""

    def config(self) -> SiteConfig | None:
        bound = self.bound_config()
        return None if bound is None else bound[0]

    def bound_config(self) -> tuple[SiteConfig, int | None] | None:
        """The settings and the seq of the event they name."""
        row = self._connection.execute(
            select(site_settings).where(self._in_site(site_settings))
        ).first()
        return None if row is None else (_config(row), row.event_seq)

    def all(self) -> list[tuple[str, str]]:
        """Every (tenant, site) this transaction may see, in order."""
        rows = self._connection.execute(
            select(sites.c.tenant_id, sites.c.site_id).order_by(sites.c.tenant_id, sites.c.site_id)
        )
        return [(row.tenant_id, row.site_id) for row in rows]

    def other_tenant(self) -> str | None:
        """Another tenant this database holds, when it does not hold this one yet."""
        mine = self._connection.execute(
            select(tenants.c.tenant_id).where(tenants.c.tenant_id == self._tenant)
        ).first()
        if mine is not None:
            return None
        found = self._connection.execute(
            select(tenants.c.tenant_id).order_by(tenants.c.tenant_id).limit(1)
        ).scalar()
        return None if found is None else str(found)

    def create(self, config: SiteConfig, now: datetime, event_seq: int) -> None:
        """Create the tenant (if new), the site and its settings (after its site.create event)."""
        self._ensure_tenant(now)
        self._connection.execute(insert(sites).values(**self._scope, created_at=now))
        self._connection.execute(
            insert(site_settings).values(**self._scope, **_settings(config, now, event_seq))
        )

    def save_config(self, config: SiteConfig, now: datetime, event_seq: int) -> None:
        self._connection.execute(
            update(site_settings)
            .where(self._in_site(site_settings))
            .values(**_settings(config, now, event_seq))
        )
