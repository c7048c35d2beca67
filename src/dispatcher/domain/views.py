"""Read models: plain records returned by the read-side queries and shown by the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class EventRow:
    seq: int
    occurred_at: str
    action: str
    outcome: str
    actor_id: str | None
    actor_role: str | None
    reason: str | None
    run_id: str | None
    plan_version: int | None
    evidence_hash: str | None
    detail: dict[str, Any]
    hash: str
    recorded_by: str | None = None  # the database login that appended it (PostgreSQL)


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    week: str
    created_at: datetime | None
    origin: str
    version: int
    status: str
    status_reason: str
    drivers_used: int
    coverage_bp: int
    audits_passed: int
    drift_level: str
    published_version: int | None
    locked_version: int | None
    superseded: bool

    @property
    def locked(self) -> bool:
        return self.locked_version is not None


@dataclass(frozen=True)
class KillSwitchState:
    active: bool
    scope: str | None  # "global" or "site" when active
    actor_id: str | None
    reason: str | None
    changed_at: datetime | None


@dataclass(frozen=True)
class SiteFlags:
    exists: bool
    publish_enabled: bool
    lock_enabled: bool
    shadow_only: bool


@dataclass(frozen=True)
class RepairSummary:
    request_id: str
    week: str
    driver_id: str
    absence_type: str
    urgency: str
    status: str
    created_at: datetime | None


@dataclass(frozen=True)
class StatusOverview:
    tenant: str
    site: str
    kill_switch: KillSwitchState
    site_flags: SiteFlags
    latest_run: RunSummary | None
    pending_repairs: list[RepairSummary]
    clock: str = "real"  # "simulated" on a demo or test database
    trail_problem: str | None = None  # a fact shown that the audit trail does not vouch for
    guard_problems: tuple[str, ...] = ()  # guard triggers missing, changed or unknown
    weeks: tuple[Any, ...] = ()  # WeekPlans of the weeks with the newest runs


@dataclass(frozen=True)
class KillSwitchEntry:
    scope: str
    target: str
    active: bool
    actor_id: str
    reason: str
    changed_at: datetime


@dataclass(frozen=True)
class KillSwitchRow:
    """The newest kill-switch history row of a scope, with the event it names."""

    scope: str
    active: bool
    actor_id: str
    reason: str
    changed_at: datetime
    event_chain: tuple[str | None, str | None]
    event_seq: int | None
