"""Repositories: one per aggregate. They convert rows to domain objects and never commit."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.db import tables as t
from dispatcher.db.chain_reads import ChainReads
from dispatcher.db.queries import session_executor, session_streamer
from dispatcher.db.run_reads import RunReads
from dispatcher.domain.audits import AuditResult
from dispatcher.domain.events import AuditEvent
from dispatcher.domain.hashing import canonical_json
from dispatcher.domain.model import (
    DriftThresholds,
    Driver,
    Plan,
    SiteConfig,
    User,
    WeekInput,
)
from dispatcher.domain.records import NewVersion, RepairRecord
from dispatcher.domain.views import KillSwitchEntry

Scope = tuple[str, str]  # (tenant, site)


class AuditLog(ChainReads):
    """The append-only event chain of one tenant/site: append, tip and the reads for
    verification (ChainReads), nothing more."""

    def __init__(self, session: Session, scope: Scope) -> None:
        dialect = session.get_bind().dialect.name
        super().__init__(session_streamer(session), scope, dialect=dialect)
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
        row = t.SiteSettings(tenant_id=self._tenant, site_id=self._site)
        _apply_config(row, config, now)
        self._session.add(row)
        self._session.flush()

    def save_config(self, config: SiteConfig, now: datetime) -> None:
        row = self._session.get(t.SiteSettings, (self._tenant, self._site))
        assert row is not None
        _apply_config(row, config, now)
        self._session.flush()


def _apply_config(row: t.SiteSettings, config: SiteConfig, now: datetime) -> None:
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


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class RunRepository(RunReads):
    """Runs with their input, plan versions, assignments, audit results and evidence hashes.

    Reads come from RunReads (plain SQL, shared with the standard-library path); writes use the
    ORM session of the unit of work.
    """

    def __init__(self, session: Session, scope: Scope) -> None:
        super().__init__(session_executor(session), scope)
        self._session = session

    @property
    def _scope(self) -> dict[str, str]:
        return {"tenant_id": self._tenant, "site_id": self._site}

    def next_run_id(self, day: str) -> str:
        """`RUN-YYYYMMDD-NNN`: the next free counter for that (Vienna) date at this site."""
        prefix = f"RUN-{day}-"
        existing = self._session.scalars(
            select(t.Run.run_id).where(
                t.Run.tenant_id == self._tenant,
                t.Run.site_id == self._site,
                t.Run.run_id.like(prefix + "%"),
            )
        ).all()
        numbers = [int(r[len(prefix) :]) for r in existing if r[len(prefix) :].isdigit()]
        return f"{prefix}{max(numbers, default=0) + 1:03d}"

    def add_run(
        self,
        *,
        run_id: str,
        week: str,
        created_at: datetime,
        origin: str,
        solver: Mapping[str, Any],
        solver_meta: Mapping[str, Any],
        runtime_ms: int | None,
        solver_error: str | None = None,
    ) -> int:
        row = t.Run(
            **self._scope,
            run_id=run_id,
            week=week,
            created_at=created_at,
            origin=origin,
            solver_name=solver["name"],
            solver_version=solver.get("version"),
            solver_seed=solver.get("seed"),
            declared_output_hash=solver.get("declared_output_hash"),
            solver_error=solver_error,
            solver_meta=canonical_json(dict(solver_meta)),
            runtime_ms=runtime_ms,
        )
        self._session.add(row)
        self._session.flush()
        return row.id

    def add_input(self, run_pk: int, week_input: WeekInput, added_in_version: int = 1) -> None:
        scope = self._scope
        self._session.add_all(
            t.TourInstance(
                **scope,
                run_pk=run_pk,
                instance_id=i.instance_id,
                tour_id=i.tour.tour_id,
                n=i.n,
                day=i.tour.day,
                start_minute=i.tour.start,
                end_minute=i.tour.end,
                depot=i.tour.depot,
                skill=i.tour.skill,
                notes=i.tour.notes,
            )
            for i in week_input.instances()
        )
        self.add_drivers(run_pk, week_input.drivers, added_in_version)
        self._session.add_all(
            t.Availability(
                **scope,
                run_pk=run_pk,
                driver_id=a.driver_id,
                date=a.date,
                status=str(a.status),
                note=a.note,
            )
            for a in week_input.availability
        )
        self._session.flush()

    def add_drivers(self, run_pk: int, drivers: Iterable[Driver], added_in_version: int) -> None:
        self._session.add_all(
            t.Driver(
                **self._scope,
                run_pk=run_pk,
                driver_id=d.driver_id,
                name=d.name,
                skills="|".join(sorted(d.skills)),
                active=d.active,
                max_weekly_minutes=d.max_weekly_minutes,
                depot=d.depot,
                added_in_version=added_in_version,
            )
            for d in drivers
        )
        self._session.flush()

    def add_version(
        self, run_pk: int, new: NewVersion, plan: Plan, audits: Sequence[AuditResult], at: datetime
    ) -> int:
        row = t.PlanVersion(
            **self._scope,
            run_pk=run_pk,
            version=new.version,
            parent_version=new.parent_version,
            created_at=at,
            origin=new.origin,
            repair_request_id=new.repair_request_id,
            config_json=canonical_json(dict(new.config)),
            solver_json=canonical_json(dict(new.solver)),
            boundary_json=canonical_json(
                None if new.boundary is None else new.boundary.as_document()
            ),
            absences_json=canonical_json([a.as_document() for a in new.absences]),
            kpis_json=canonical_json(new.kpis.as_document()),
            drift_json=canonical_json(new.drift.as_document()),
            repair_json=None if new.repair is None else canonical_json(dict(new.repair)),
            status=new.status,
            status_reason=new.status_reason,
            audits_passed=new.audits_passed,
            coverage_bp=new.kpis.coverage_bp,
            drivers_used=new.kpis.drivers_used,
            drift_level=new.drift.level,
            verified_at=at,
        )
        self._session.add(row)
        self._session.flush()
        scope = self._scope
        self._session.add_all(
            t.Assignment(**scope, version_pk=row.id, instance_id=i, driver_id=d)
            for i, d in plan.items()
        )
        self._session.add_all(
            t.AuditResult(
                **scope,
                version_pk=row.id,
                audit=a.name,
                position=position,
                passed=a.passed,
                violation_count=len(a.violations),
                violations=canonical_json([v.as_document() for v in a.violations]),
                note=a.note,
            )
            for position, a in enumerate(audits, start=1)
        )
        self._session.add(
            t.EvidenceRecord(
                **scope, version_pk=row.id, evidence_hash=new.evidence_hash, created_at=at
            )
        )
        self._session.flush()
        return row.id

    def record_verification(self, version_pk: int, status: str, reason: str, at: datetime) -> None:
        row = self._session.get(t.PlanVersion, version_pk)
        assert row is not None
        if (row.status, row.status_reason) != (status, reason):
            row.status, row.status_reason = status, reason
        row.verified_at = at
        self._session.flush()


class UserRepository:
    """The tenant's user registry."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self._session = session
        self._tenant = scope[0]

    def get(self, user_id: str) -> User | None:
        row = self._session.get(t.User, (self._tenant, user_id))
        if row is None:
            return None
        return User(row.user_id, row.name, _roles(row.roles), row.active)

    def add(self, user: User, now: datetime) -> None:
        if self._session.get(t.Tenant, self._tenant) is None:
            self._session.add(t.Tenant(tenant_id=self._tenant, created_at=now))
            self._session.flush()
        self._session.add(
            t.User(
                tenant_id=self._tenant,
                user_id=user.user_id,
                name=user.name,
                roles=",".join(user.roles),
                active=user.active,
                created_at=now,
            )
        )
        self._session.flush()

    def set_active(self, user_id: str, active: bool) -> None:
        row = self._session.get(t.User, (self._tenant, user_id))
        assert row is not None
        row.active = active
        self._session.flush()

    def list(self) -> list[User]:
        rows = self._session.scalars(
            select(t.User).where(t.User.tenant_id == self._tenant).order_by(t.User.user_id)
        )
        return [User(r.user_id, r.name, _roles(r.roles), r.active) for r in rows]


class DecisionRepository:
    """Publish and lock marks, approvals: the writes a human decision makes."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self._session = session
        self._tenant, self._site = scope

    def mark_published(
        self,
        version_pk: int,
        *,
        by: str,
        role: str,
        at: datetime,
        evidence_hash: str,
        override_reason: str | None,
    ) -> None:
        row = self._session.get(t.PlanVersion, version_pk)
        assert row is not None
        row.published_at = at
        row.published_by = by
        row.published_role = role
        row.published_evidence_hash = evidence_hash
        row.override_reason = override_reason
        self._session.flush()

    def mark_locked(self, run_pk: int, *, by: str, at: datetime, version: int) -> None:
        row = self._session.get(t.Run, run_pk)
        assert row is not None
        row.locked_at = at
        row.locked_by = by
        row.locked_version = version
        self._session.flush()

    def add_approval(
        self,
        *,
        run_pk: int,
        version: int,
        action: str,
        approver_id: str,
        role: str,
        reason: str,
        override_reason: str | None,
        evidence_hash: str | None,
        event_seq: int,
        at: datetime,
    ) -> None:
        self._session.add(
            t.Approval(
                tenant_id=self._tenant,
                site_id=self._site,
                run_pk=run_pk,
                version=version,
                action=action,
                approver_id=approver_id,
                role=role,
                reason=reason,
                override_reason=override_reason,
                evidence_hash=evidence_hash,
                event_seq=event_seq,
                created_at=at,
            )
        )
        self._session.flush()


class KillSwitchLog:
    """The platform-wide kill-switch history: append and read, per scope."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self._session = session
        self._tenant, self._site = scope

    def _scope_filter(self, scope: str) -> Any:
        if scope == "global":
            return t.KillSwitchChange.scope == "global"
        return (
            (t.KillSwitchChange.scope == "site")
            & (t.KillSwitchChange.tenant_id == self._tenant)
            & (t.KillSwitchChange.site_id == self._site)
        )

    def is_active(self, scope: str) -> bool:
        row = self._session.scalars(
            select(t.KillSwitchChange)
            .where(self._scope_filter(scope))
            .order_by(t.KillSwitchChange.id.desc())
            .limit(1)
        ).first()
        return bool(row and row.active)

    def append(self, scope: str, *, active: bool, by: str, reason: str, at: datetime) -> None:
        site_bound = scope == "site"
        self._session.add(
            t.KillSwitchChange(
                scope=scope,
                tenant_id=self._tenant if site_bound else None,
                site_id=self._site if site_bound else None,
                active=active,
                actor_id=by,
                reason=reason,
                changed_at=at,
            )
        )
        self._session.flush()

    def history(self, limit: int = 20) -> list[KillSwitchEntry]:
        rows = self._session.scalars(
            select(t.KillSwitchChange)
            .where(self._scope_filter("global") | self._scope_filter("site"))
            .order_by(t.KillSwitchChange.id.desc())
            .limit(limit)
        )
        return [
            KillSwitchEntry(
                r.scope,
                f"{r.tenant_id}/{r.site_id}" if r.scope == "site" else "all sites",
                r.active,
                r.actor_id,
                r.reason,
                r.changed_at,
            )
            for r in rows
        ]


class RepairRepository:
    """Repair requests and their proposals."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self._session = session
        self._tenant, self._site = scope

    def id_taken(self, request_id: str) -> bool:
        """Request ids are unique per tenant (not only per site)."""
        found = self._session.scalar(
            select(t.RepairRequest.id).where(
                t.RepairRequest.tenant_id == self._tenant, t.RepairRequest.request_id == request_id
            )
        )
        return found is not None

    def add(self, record: RepairRecord) -> None:
        self._session.add(
            t.RepairRequest(
                tenant_id=self._tenant,
                site_id=self._site,
                request_id=record.request_id,
                run_pk=record.run_pk,
                base_version=record.base_version,
                week=record.week,
                driver_id=record.driver_id,
                driver_name=record.driver_name,
                absence_type=record.absence_type,
                scope=canonical_json(dict(record.scope)),
                requester=record.requester,
                urgency=record.urgency,
                notes=record.notes,
                status=record.status,
                created_at=record.created_at,
            )
        )
        self._session.flush()

    def _row(self, request_id: str) -> t.RepairRequest | None:
        return self._session.scalars(
            select(t.RepairRequest).where(
                t.RepairRequest.tenant_id == self._tenant,
                t.RepairRequest.site_id == self._site,
                t.RepairRequest.request_id == request_id,
            )
        ).first()

    def _record(self, row: t.RepairRequest) -> RepairRecord:
        run_id = self._session.scalar(select(t.Run.run_id).where(t.Run.id == row.run_pk))
        return RepairRecord(
            request_id=row.request_id,
            run_pk=row.run_pk,
            run_id=run_id or "",
            base_version=row.base_version,
            week=row.week,
            driver_id=row.driver_id,
            driver_name=row.driver_name,
            absence_type=row.absence_type,
            scope=json.loads(row.scope),
            requester=row.requester,
            urgency=row.urgency,
            notes=row.notes,
            status=row.status,
            created_at=row.created_at,
            proposal=_json(row.proposal),
            proposed_at=row.proposed_at,
            proposal_version=row.proposal_version,
            resolved_at=row.resolved_at,
            resolved_by=row.resolved_by,
            resolution_reason=row.resolution_reason,
            applied_version=row.applied_version,
        )

    def get(self, request_id: str) -> RepairRecord | None:
        row = self._row(request_id)
        return None if row is None else self._record(row)

    def list(self, *, week: str | None = None, status: str | None = None) -> list[RepairRecord]:
        query = select(t.RepairRequest).where(
            t.RepairRequest.tenant_id == self._tenant, t.RepairRequest.site_id == self._site
        )
        if week is not None:
            query = query.where(t.RepairRequest.week == week)
        if status is not None:
            query = query.where(t.RepairRequest.status == status)
        rows = self._session.scalars(query.order_by(t.RepairRequest.created_at, t.RepairRequest.id))
        return [self._record(r) for r in rows]

    def save_proposal(
        self, request_id: str, proposal: Mapping[str, Any], version: int, at: datetime
    ) -> None:
        row = self._row(request_id)
        assert row is not None
        row.proposal = canonical_json(dict(proposal))
        row.proposal_version = version
        row.proposed_at = at
        row.status = "PROPOSED"
        self._session.flush()

    def resolve(
        self,
        request_id: str,
        *,
        status: str,
        by: str,
        reason: str,
        at: datetime,
        applied_version: int | None = None,
    ) -> None:
        row = self._row(request_id)
        assert row is not None
        row.status = status
        row.resolved_by = by
        row.resolution_reason = reason
        row.resolved_at = at
        row.applied_version = applied_version
        self._session.flush()
