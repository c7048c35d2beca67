"""The schema's single statement in Python: SQLAlchemy Core tables.

Alembic's migrations create the schema and are frozen; these tables are what the repositories
query and what autogenerate compares with the migrated database (a test keeps them equal).
Triggers and row-level security live in the migrations only: autogenerate cannot see them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
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


metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _id(name: str, *, nullable: bool = False) -> Column[str]:
    return Column(name, String(ID), nullable=nullable)


def _scope() -> tuple[Column[str], Column[str]]:
    return _id("tenant_id"), _id("site_id")


def _timestamp(name: str, *, nullable: bool = False) -> Column[datetime]:
    return Column(name, UtcDateTime(), nullable=nullable)


def _event_seq() -> Column[int]:
    """The seq of the audit event that authorized the row as it is (in the row's chain).
    Nullable for the schema's sake only: the database's triggers refuse a row without one."""
    return Column("event_seq", Integer, nullable=True)


# 64-bit ids: every site draws from one sequence per table, and a login that may insert can
# also call nextval(); 32 bits could be used up by one depot (migration e2b8c4f0a011). On
# SQLite an INTEGER PRIMARY KEY is the 64-bit row id already (and BIGINT would not be one).
ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


def _pk_id() -> Column[int]:
    return Column("id", ROW_ID, primary_key=True, autoincrement=True)


def _row_ref(name: str) -> Column[int]:
    """A column holding another table's 64-bit id (run_pk, version_pk)."""
    return Column(name, ROW_ID, nullable=False)


tenants = Table(
    "tenants",
    metadata,
    _id("tenant_id"),
    _timestamp("created_at"),
    PrimaryKeyConstraint("tenant_id"),
)

sites = Table(
    "sites",
    metadata,
    *_scope(),
    _timestamp("created_at"),
    PrimaryKeyConstraint("tenant_id", "site_id"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"]),
)

site_settings = Table(
    "site_settings",
    metadata,
    *_scope(),
    Column("publish_enabled", Boolean, nullable=False),
    Column("lock_enabled", Boolean, nullable=False),
    Column("shadow_only", Boolean, nullable=False),
    Column("publish_roles", String(200), nullable=False),
    Column("lock_roles", String(200), nullable=False),
    Column("repair_roles", String(200), nullable=False),
    Column("min_reason_length", Integer, nullable=False),
    Column("lock_requires_other_person", Boolean, nullable=False),
    Column("freeze_window_hours", Integer, nullable=False),
    _id("drift_baseline"),
    Column("drift_thresholds", Text, nullable=False),
    _timestamp("updated_at"),
    _event_seq(),
    Column("approvals_require_login", Boolean, nullable=False, server_default=false()),
    PrimaryKeyConstraint("tenant_id", "site_id"),
    ForeignKeyConstraint(["tenant_id", "site_id"], ["sites.tenant_id", "sites.site_id"]),
)

users = Table(
    "users",
    metadata,
    _id("tenant_id"),
    _id("user_id"),
    Column("name", String(200), nullable=False),
    Column("roles", String(200), nullable=False),
    Column("active", Boolean, nullable=False),
    _timestamp("created_at"),
    _event_seq(),  # in the tenant's chain (site '*')
    _id("user_key", nullable=True),  # user_id in lower case: ids are unique ignoring case
    # the database login (PostgreSQL) or operating-system account (SQLite) of this person
    Column("login", String(63), nullable=True),
    PrimaryKeyConstraint("tenant_id", "user_id"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"]),
    Index(None, "tenant_id", "user_key", unique=True),
    Index(None, "tenant_id", "login", unique=True),
)

runs = Table(
    "runs",
    metadata,
    _pk_id(),
    *_scope(),
    _id("run_id"),
    Column("week", String(8), nullable=False),
    _timestamp("created_at"),
    Column("origin", String(20), nullable=False),
    Column("solver_name", String(100), nullable=False),
    Column("solver_version", String(100), nullable=True),
    Column("solver_seed", Integer, nullable=True),
    Column("declared_output_hash", String(HASH), nullable=True),
    Column("solver_error", Text, nullable=True),
    Column("solver_meta", Text, nullable=False),
    Column("runtime_ms", Integer, nullable=True),
    _event_seq(),
    ForeignKeyConstraint(["tenant_id", "site_id"], ["sites.tenant_id", "sites.site_id"]),
    UniqueConstraint("tenant_id", "site_id", "run_id"),
    Index(None, "tenant_id", "site_id", "created_at"),
    Index(None, "tenant_id", "site_id", "week"),
)

tour_instances = Table(
    "tour_instances",
    metadata,
    *_scope(),
    _row_ref("run_pk"),
    Column("instance_id", String(50), nullable=False),
    _id("tour_id"),
    Column("n", Integer, nullable=False),
    Column("day", Integer, nullable=False),
    Column("start_minute", Integer, nullable=False),
    Column("end_minute", Integer, nullable=False),
    _id("depot", nullable=True),
    _id("skill", nullable=True),
    Column("notes", Text, nullable=True),
    PrimaryKeyConstraint("run_pk", "instance_id"),
    ForeignKeyConstraint(["run_pk"], ["runs.id"]),
)

drivers = Table(
    "drivers",
    metadata,
    *_scope(),
    _row_ref("run_pk"),
    _id("driver_id"),
    Column("name", String(200), nullable=False),
    Column("skills", String(400), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("max_weekly_minutes", Integer, nullable=False),
    _id("depot", nullable=True),
    Column("added_in_version", Integer, nullable=False),
    PrimaryKeyConstraint("run_pk", "driver_id"),
    ForeignKeyConstraint(["run_pk"], ["runs.id"]),
)

availability = Table(
    "availability",
    metadata,
    *_scope(),
    _row_ref("run_pk"),
    _id("driver_id"),
    Column("date", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    Column("note", Text, nullable=True),
    PrimaryKeyConstraint("run_pk", "driver_id", "date"),
    ForeignKeyConstraint(["run_pk"], ["runs.id"]),
)

plan_versions = Table(
    "plan_versions",
    metadata,
    _pk_id(),
    *_scope(),
    _row_ref("run_pk"),
    Column("version", Integer, nullable=False),
    Column("parent_version", Integer, nullable=True),
    _timestamp("created_at"),
    Column("origin", String(20), nullable=False),
    _id("repair_request_id", nullable=True),
    Column("config_json", Text, nullable=False),
    Column("solver_json", Text, nullable=False),
    Column("boundary_json", Text, nullable=False),
    Column("absences_json", Text, nullable=False),
    Column("kpis_json", Text, nullable=False),
    Column("drift_json", Text, nullable=False),
    Column("repair_json", Text, nullable=True),
    Column("status", String(10), nullable=False),
    Column("status_reason", Text, nullable=False),
    Column("audits_passed", Integer, nullable=False),
    Column("coverage_bp", Integer, nullable=False),
    Column("drivers_used", Integer, nullable=False),
    Column("drift_level", String(10), nullable=False),
    _event_seq(),
    ForeignKeyConstraint(["run_pk"], ["runs.id"]),
    UniqueConstraint("run_pk", "version"),
)

assignments = Table(
    "assignments",
    metadata,
    *_scope(),
    _row_ref("version_pk"),
    Column("instance_id", String(50), nullable=False),
    _id("driver_id"),
    PrimaryKeyConstraint("version_pk", "instance_id"),
    ForeignKeyConstraint(["version_pk"], ["plan_versions.id"]),
)

audit_results = Table(
    "audit_results",
    metadata,
    *_scope(),
    _row_ref("version_pk"),
    _id("audit"),
    Column("position", Integer, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("violation_count", Integer, nullable=False),
    Column("violations", Text, nullable=False),
    Column("note", Text, nullable=True),
    PrimaryKeyConstraint("version_pk", "audit"),
    ForeignKeyConstraint(["version_pk"], ["plan_versions.id"]),
)

evidence_records = Table(
    "evidence_records",
    metadata,
    *_scope(),
    _row_ref("version_pk"),
    Column("evidence_hash", String(HASH), nullable=False),
    _timestamp("created_at"),
    PrimaryKeyConstraint("version_pk"),
    ForeignKeyConstraint(["version_pk"], ["plan_versions.id"]),
)

# Request ids are unique per tenant, but a site reads only its own requests (row-level security
# on PostgreSQL): this register holds just the ids, readable tenant-wide.
repair_request_ids = Table(
    "repair_request_ids",
    metadata,
    _id("tenant_id"),
    _id("request_id"),
    _id("site_id"),
    PrimaryKeyConstraint("tenant_id", "request_id"),
)

# PostgreSQL: the sites a database login may act for (logins in dispatcher_any_site may act for
# any). Kept by the DBA; unused on SQLite.
site_logins = Table(
    "site_logins",
    metadata,
    Column("login_name", String(63), nullable=False),
    _id("tenant"),
    _id("site"),
    PrimaryKeyConstraint("login_name", "tenant", "site"),
)

repair_requests = Table(
    "repair_requests",
    metadata,
    _pk_id(),
    *_scope(),
    _id("request_id"),
    _row_ref("run_pk"),
    Column("base_version", Integer, nullable=False),
    Column("week", String(8), nullable=False),
    _id("driver_id"),
    Column("driver_name", String(200), nullable=True),
    Column("absence_type", String(20), nullable=False),
    Column("scope", Text, nullable=False),
    _id("requester"),
    Column("urgency", String(10), nullable=False),
    Column("notes", Text, nullable=True),
    Column("status", String(10), nullable=False),
    _timestamp("created_at"),
    Column("proposal", Text, nullable=True),
    _timestamp("proposed_at", nullable=True),
    Column("proposal_version", Integer, nullable=True),
    _timestamp("resolved_at", nullable=True),
    _id("resolved_by", nullable=True),
    Column("resolution_reason", Text, nullable=True),
    Column("applied_version", Integer, nullable=True),
    _event_seq(),  # the event that set the current status
    ForeignKeyConstraint(["run_pk"], ["runs.id"]),
    UniqueConstraint("tenant_id", "request_id"),
    Index(None, "tenant_id", "site_id", "week", "status"),
    Index(None, "tenant_id", "site_id", "status"),
)

approvals = Table(
    "approvals",
    metadata,
    _pk_id(),
    *_scope(),
    _row_ref("run_pk"),
    Column("version", Integer, nullable=False),
    Column("action", String(20), nullable=False),
    _id("approver_id"),
    _id("role"),
    Column("reason", Text, nullable=False),
    Column("override_reason", Text, nullable=True),
    Column("evidence_hash", String(HASH), nullable=True),
    Column("event_seq", Integer, nullable=False),
    _timestamp("created_at"),
    ForeignKeyConstraint(["run_pk"], ["runs.id"]),
    Index(None, "run_pk", "action", "event_seq"),
    Index(None, "run_pk", "version", "action", unique=True),
)

# Platform-wide history; the only table without a tenant/site scope.
kill_switch_history = Table(
    "kill_switch_history",
    metadata,
    _pk_id(),
    Column("scope", String(10), nullable=False),
    _id("tenant_id", nullable=True),
    _id("site_id", nullable=True),
    Column("active", Boolean, nullable=False),
    _id("actor_id"),
    Column("reason", Text, nullable=False),
    _timestamp("changed_at"),
    # The authorizing event: the platform chain ('*', '*') for the global switch, the site's own
    # chain for a site's; NULL only for rows from before bound state (never read by gates).
    _id("event_tenant", nullable=True),
    _id("event_site", nullable=True),
    _event_seq(),
)

# One event of a tenant/site hash chain. `body` is the exact hashed text.
audit_events = Table(
    "audit_events",
    metadata,
    *_scope(),
    Column("seq", Integer, nullable=False, autoincrement=False),
    Column("occurred_at", String(27), nullable=False),
    Column("action", String(40), nullable=False),
    Column("outcome", String(10), nullable=False),
    _id("actor_id", nullable=True),
    _id("actor_role", nullable=True),
    Column("reason", Text, nullable=True),
    _id("run_id", nullable=True),
    Column("plan_version", Integer, nullable=True),
    Column("evidence_hash", String(HASH), nullable=True),
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(HASH), nullable=False),
    Column("hash", String(HASH), nullable=False),
    Column("body", Text, nullable=False),
    # The database login that appended it (PostgreSQL: written by dispatcher_append_event, not
    # part of the hashed body; SQLite: empty).
    Column("recorded_by", String(63), nullable=True),
    PrimaryKeyConstraint("tenant_id", "site_id", "seq"),
    UniqueConstraint("hash"),
    Index(None, "tenant_id", "site_id", "run_id", "action"),
    Index(None, "tenant_id", "site_id", "action"),
)

# The last re-verification of a plan version: a cache for list-runs and status, which no gate
# trusts (gates re-verify).
version_checks = Table(
    "version_checks",
    metadata,
    *_scope(),
    _row_ref("version_pk"),
    Column("status", String(10), nullable=False),
    Column("status_reason", Text, nullable=False),
    _timestamp("checked_at"),
    PrimaryKeyConstraint("version_pk"),
    ForeignKeyConstraint(["version_pk"], ["plan_versions.id"]),
)

# Facts about the database itself, set once when it is created and bound to the platform
# chain's `database.create` event: the simulated clock of a demo or test database.
database_flags = Table(
    "database_flags",
    metadata,
    Column("name", String(ID), nullable=False),
    Column("value", String(ID), nullable=False),
    Column("event_seq", Integer, nullable=False),
    _timestamp("set_at"),
    PrimaryKeyConstraint("name"),
)
