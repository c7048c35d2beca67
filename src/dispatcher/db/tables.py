"""Table definitions. Alembic migrations create the schema; these classes must match them.

Domain classes are never mapped: repositories convert rows explicitly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = 40  # ids match [A-Za-z0-9][A-Za-z0-9_.-]{0,39}
HASH = 71  # "sha256:" + 64 hex digits


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always UTC: naive values are refused, results come back aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime refused: timestamps must carry a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Tenant(Base):
    __tablename__ = "tenants"
    tenant_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Site(Base):
    __tablename__ = "sites"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SiteSettings(Base):
    __tablename__ = "site_settings"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "site_id"], ["sites.tenant_id", "sites.site_id"]),
    )
    tenant_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    publish_enabled: Mapped[bool] = mapped_column(Boolean)
    lock_enabled: Mapped[bool] = mapped_column(Boolean)
    shadow_only: Mapped[bool] = mapped_column(Boolean)
    publish_roles: Mapped[str] = mapped_column(String(200))
    lock_roles: Mapped[str] = mapped_column(String(200))
    repair_roles: Mapped[str] = mapped_column(String(200))
    min_reason_length: Mapped[int] = mapped_column(Integer)
    lock_requires_other_person: Mapped[bool] = mapped_column(Boolean)
    freeze_window_hours: Mapped[int] = mapped_column(Integer)
    drift_baseline: Mapped[str] = mapped_column(String(ID))
    drift_thresholds: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class User(Base):
    __tablename__ = "users"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "site_id"], ["sites.tenant_id", "sites.site_id"]),
        UniqueConstraint("tenant_id", "site_id", "run_id"),
        Index(None, "tenant_id", "site_id", "created_at"),
        Index(None, "tenant_id", "site_id", "week"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(ID))
    site_id: Mapped[str] = mapped_column(String(ID))
    run_id: Mapped[str] = mapped_column(String(ID))
    week: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    origin: Mapped[str] = mapped_column(String(20))
    solver_name: Mapped[str] = mapped_column(String(100))
    solver_version: Mapped[str | None] = mapped_column(String(100))
    solver_seed: Mapped[int | None] = mapped_column(Integer)
    declared_output_hash: Mapped[str | None] = mapped_column(String(HASH))
    solver_error: Mapped[str | None] = mapped_column(Text)
    solver_meta: Mapped[str] = mapped_column(Text)
    runtime_ms: Mapped[int | None] = mapped_column(Integer)
    locked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    locked_by: Mapped[str | None] = mapped_column(String(ID))
    locked_version: Mapped[int | None] = mapped_column(Integer)


class TourInstance(Base):
    __tablename__ = "tour_instances"
    tenant_id: Mapped[str] = mapped_column(String(ID))
    site_id: Mapped[str] = mapped_column(String(ID))
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    tour_id: Mapped[str] = mapped_column(String(ID))
    n: Mapped[int] = mapped_column(Integer)
    day: Mapped[int] = mapped_column(Integer)
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)
    depot: Mapped[str | None] = mapped_column(String(ID))
    skill: Mapped[str | None] = mapped_column(String(ID))
    notes: Mapped[str | None] = mapped_column(Text)


class Driver(Base):
    __tablename__ = "drivers"
    tenant_id: Mapped[str] = mapped_column(String(ID))
    site_id: Mapped[str] = mapped_column(String(ID))
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    driver_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    skills: Mapped[str] = mapped_column(String(400))
    active: Mapped[bool] = mapped_column(Boolean)
    max_weekly_minutes: Mapped[int] = mapped_column(Integer)
    depot: Mapped[str | None] = mapped_column(String(ID))
    added_in_version: Mapped[int] = mapped_column(Integer)


class Availability(Base):
    __tablename__ = "availability"
    tenant_id: Mapped[str] = mapped_column(String(ID))
    site_id: Mapped[str] = mapped_column(String(ID))
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    driver_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    date: Mapped[str] = mapped_column(String(10), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)


class PlanVersion(Base):
    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("run_pk", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(ID))
    site_id: Mapped[str] = mapped_column(String(ID))
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    version: Mapped[int] = mapped_column(Integer)
    parent_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    origin: Mapped[str] = mapped_column(String(20))
    repair_request_id: Mapped[str | None] = mapped_column(String(ID))
    config_json: Mapped[str] = mapped_column(Text)
    solver_json: Mapped[str] = mapped_column(Text)
    boundary_json: Mapped[str] = mapped_column(Text)
    absences_json: Mapped[str] = mapped_column(Text)
    kpis_json: Mapped[str] = mapped_column(Text)
    drift_json: Mapped[str] = mapped_column(Text)
    repair_json: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    status_reason: Mapped[str] = mapped_column(Text)
    audits_passed: Mapped[int] = mapped_column(Integer)
    coverage_bp: Mapped[int] = mapped_column(Integer)
    drivers_used: Mapped[int] = mapped_column(Integer)
    drift_level: Mapped[str] = mapped_column(String(10))
    verified_at: Mapped[datetime] = mapped_column(UtcDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    published_by: Mapped[str | None] = mapped_column(String(ID))
    published_role: Mapped[str | None] = mapped_column(String(ID))
    published_evidence_hash: Mapped[str | None] = mapped_column(String(HASH))
    override_reason: Mapped[str | None] = mapped_column(Text)


class Assignment(Base):
    __tablename__ = "assignments"
    tenant_id: Mapped[str] = mapped_column(String(ID))
    site_id: Mapped[str] = mapped_column(String(ID))
    version_pk: Mapped[int] = mapped_column(ForeignKey("plan_versions.id"), primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    driver_id: Mapped[str] = mapped_column(String(ID))


class AuditResult(Base):
    __tablename__ = "audit_results"
    tenant_id: Mapped[str] = mapped_column(String(ID))
    site_id: Mapped[str] = mapped_column(String(ID))
    version_pk: Mapped[int] = mapped_column(ForeignKey("plan_versions.id"), primary_key=True)
    audit: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    violation_count: Mapped[int] = mapped_column(Integer)
    violations: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class EvidenceRecord(Base):
    __tablename__ = "evidence_records"
    tenant_id: Mapped[str] = mapped_column(String(ID))
    site_id: Mapped[str] = mapped_column(String(ID))
    version_pk: Mapped[int] = mapped_column(ForeignKey("plan_versions.id"), primary_key=True)
    evidence_hash: Mapped[str] = mapped_column(String(HASH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class RepairRequestId(Base):
    """Request ids are unique per tenant, but a site reads only its own requests (row-level
    security on PostgreSQL): this register holds just the ids, readable tenant-wide."""

    __tablename__ = "repair_request_ids"
    tenant_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(ID))


class SiteLogin(Base):
    """PostgreSQL: the sites a database login may act for (logins in dispatcher_any_site may
    act for any). Kept by the DBA; unused on SQLite."""

    __tablename__ = "site_logins"
    login_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(ID), primary_key=True)
    site: Mapped[str] = mapped_column(String(ID), primary_key=True)


class RepairRequest(Base):
    __tablename__ = "repair_requests"
    __table_args__ = (
        UniqueConstraint("tenant_id", "request_id"),
        Index(None, "tenant_id", "site_id", "week", "status"),
        Index(None, "tenant_id", "site_id", "status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(ID))
    site_id: Mapped[str] = mapped_column(String(ID))
    request_id: Mapped[str] = mapped_column(String(ID))
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    base_version: Mapped[int] = mapped_column(Integer)
    week: Mapped[str] = mapped_column(String(8))
    driver_id: Mapped[str] = mapped_column(String(ID))
    driver_name: Mapped[str | None] = mapped_column(String(200))
    absence_type: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str] = mapped_column(Text)
    requester: Mapped[str] = mapped_column(String(ID))
    urgency: Mapped[str] = mapped_column(String(10))
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    proposal: Mapped[str | None] = mapped_column(Text)
    proposed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    proposal_version: Mapped[int | None] = mapped_column(Integer)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(ID))
    resolution_reason: Mapped[str | None] = mapped_column(Text)
    applied_version: Mapped[int | None] = mapped_column(Integer)


class Approval(Base):
    __tablename__ = "approvals"
    __table_args__ = (Index(None, "run_pk", "action", "event_seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(ID))
    site_id: Mapped[str] = mapped_column(String(ID))
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))
    approver_id: Mapped[str] = mapped_column(String(ID))
    role: Mapped[str] = mapped_column(String(ID))
    reason: Mapped[str] = mapped_column(Text)
    override_reason: Mapped[str | None] = mapped_column(Text)
    evidence_hash: Mapped[str | None] = mapped_column(String(HASH))
    event_seq: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class KillSwitchChange(Base):
    """Platform-wide history; the only table without a tenant/site scope."""

    __tablename__ = "kill_switch_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(10))
    tenant_id: Mapped[str | None] = mapped_column(String(ID))
    site_id: Mapped[str | None] = mapped_column(String(ID))
    active: Mapped[bool] = mapped_column(Boolean)
    actor_id: Mapped[str] = mapped_column(String(ID))
    reason: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AuditEventRow(Base):
    """One event of a tenant/site hash chain. `body` is the exact hashed text."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index(None, "tenant_id", "site_id", "run_id"),
        Index(None, "tenant_id", "site_id", "action"),
    )
    tenant_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    occurred_at: Mapped[str] = mapped_column(String(27))
    action: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[str | None] = mapped_column(String(ID))
    actor_role: Mapped[str | None] = mapped_column(String(ID))
    reason: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(ID))
    plan_version: Mapped[int | None] = mapped_column(Integer)
    evidence_hash: Mapped[str | None] = mapped_column(String(HASH))
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(HASH))
    hash: Mapped[str] = mapped_column(String(HASH), unique=True)
    body: Mapped[str] = mapped_column(Text)
