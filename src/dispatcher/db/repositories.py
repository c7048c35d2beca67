"""Repositories: one per aggregate. They convert rows to domain objects and never commit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.db import tables as t
from dispatcher.domain.events import BODY_FIELDS, AuditEvent, StoredEvent
from dispatcher.domain.hashing import canonical_json
from dispatcher.domain.model import DriftThresholds, SiteConfig

Scope = tuple[str, str]  # (tenant, site)
EVENT_COLUMN = {"tenant": "tenant_id", "site": "site_id"}  # body field -> column, where they differ


class AuditLog:
    """The append-only event chain of one tenant/site: append, tip, iterate, nothing more."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self._session = session
        self._tenant, self._site = scope

    def tip(self) -> tuple[int, str] | None:
        row = self._session.execute(
            select(t.AuditEventRow.seq, t.AuditEventRow.hash)
            .where(t.AuditEventRow.tenant_id == self._tenant, t.AuditEventRow.site_id == self._site)
            .order_by(t.AuditEventRow.seq.desc())
            .limit(1)
        ).first()
        return None if row is None else (row.seq, row.hash)

    def append(self, event: AuditEvent) -> None:
        self._session.add(
            t.AuditEventRow(
                tenant_id=event.tenant,
                site_id=event.site,
                seq=event.seq,
                occurred_at=event.occurred_at,
                action=event.action,
                outcome=event.outcome,
                actor_id=event.actor_id,
                actor_role=event.actor_role,
                reason=event.reason,
                run_id=event.run_id,
                plan_version=event.plan_version,
                evidence_hash=event.evidence_hash,
                detail=canonical_json(event.detail),
                prev_hash=event.prev_hash,
                hash=event.hash,
                body=event.body,
            )
        )
        self._session.flush()

    def iterate(self) -> Iterator[StoredEvent]:
        names = [name for name in BODY_FIELDS if name != "detail"]
        columns = [getattr(t.AuditEventRow, EVENT_COLUMN.get(name, name)) for name in names]
        query = (
            select(*columns, t.AuditEventRow.detail, t.AuditEventRow.hash, t.AuditEventRow.body)
            .where(t.AuditEventRow.tenant_id == self._tenant, t.AuditEventRow.site_id == self._site)
            .order_by(t.AuditEventRow.seq)
            .execution_options(yield_per=5000)
        )
        for row in self._session.execute(query):
            values = dict(zip(names, row[: len(names)], strict=True))
            yield StoredEvent(
                seq=row.seq,
                columns=values,
                detail=row.detail,
                prev_hash=row.prev_hash,
                hash=row.hash,
                body=row.body,
            )


def _roles(text: str) -> tuple[str, ...]:
    return tuple(r for r in text.split(",") if r)


class SiteRepository:
    """Tenants, sites and their settings."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self._session = session
        self._tenant, self._site = scope

    def config(self) -> SiteConfig | None:
        row = self._session.get(t.SiteSettings, (self._tenant, self._site))
        if row is None:
            return None
        return SiteConfig(
            publish_enabled=row.publish_enabled,
            lock_enabled=row.lock_enabled,
            shadow_only=row.shadow_only,
            publish_roles=_roles(row.publish_roles),
            lock_roles=_roles(row.lock_roles),
            repair_roles=_roles(row.repair_roles),
            min_reason_length=row.min_reason_length,
            lock_requires_other_person=row.lock_requires_other_person,
            freeze_window_hours=row.freeze_window_hours,
            drift_baseline=row.drift_baseline,
            thresholds=DriftThresholds.from_document(json.loads(row.drift_thresholds)),
        )

    def create(self, config: SiteConfig, now: datetime) -> None:
        """Create the tenant (if new), the site and its settings."""
        if self._session.get(t.Tenant, self._tenant) is None:
            self._session.add(t.Tenant(tenant_id=self._tenant, created_at=now))
            self._session.flush()
        self._session.add(t.Site(tenant_id=self._tenant, site_id=self._site, created_at=now))
        self._session.flush()
        self._session.add(
            t.SiteSettings(tenant_id=self._tenant, site_id=self._site, updated_at=now)
        )
        self.save_config(config, now)

    def save_config(self, config: SiteConfig, now: datetime) -> None:
        row = self._session.get(t.SiteSettings, (self._tenant, self._site))
        assert row is not None
        row.publish_enabled = config.publish_enabled
        row.lock_enabled = config.lock_enabled
        row.shadow_only = config.shadow_only
        row.publish_roles = ",".join(config.publish_roles)
        row.lock_roles = ",".join(config.lock_roles)
        row.repair_roles = ",".join(config.repair_roles)
        row.min_reason_length = config.min_reason_length
        row.lock_requires_other_person = config.lock_requires_other_person
        row.freeze_window_hours = config.freeze_window_hours
        row.drift_baseline = config.drift_baseline
        row.drift_thresholds = canonical_json(config.thresholds.as_document())
        row.updated_at = now
        self._session.flush()
