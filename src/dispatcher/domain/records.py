"""Stored runs and plan versions as plain records (what repositories return)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dispatcher.domain.audits import Boundary
from dispatcher.domain.drift import Drift
from dispatcher.domain.kpis import Kpis
from dispatcher.domain.model import Absence


@dataclass(frozen=True)
class RunRecord:
    pk: int
    run_id: str
    week: str
    created_at: datetime
    origin: str
    solver_name: str
    solver_version: str | None
    solver_seed: int | None
    declared_output_hash: str | None
    solver_error: str | None
    solver_meta: Mapping[str, Any]
    runtime_ms: int | None
    locked_at: datetime | None
    locked_by: str | None
    locked_version: int | None
    current_version: int

    @property
    def locked(self) -> bool:
        return self.locked_at is not None


@dataclass(frozen=True)
class NewVersion:
    """A plan version about to be stored, with everything computed for it."""

    version: int
    parent_version: int | None
    origin: str
    repair_request_id: str | None
    config: Mapping[str, Any]
    solver: Mapping[str, Any]
    boundary: Boundary | None
    absences: tuple[Absence, ...]
    kpis: Kpis
    drift: Drift
    repair: Mapping[str, Any] | None
    status: str
    status_reason: str
    audits_passed: int
    evidence_hash: str


@dataclass(frozen=True)
class VersionRecord:
    pk: int
    version: int
    parent_version: int | None
    created_at: datetime
    origin: str
    repair_request_id: str | None
    config: Mapping[str, Any]
    solver: Mapping[str, Any]
    boundary: Boundary | None
    absences: tuple[Absence, ...]
    kpis: Kpis
    drift: Drift
    repair: Mapping[str, Any] | None
    status: str
    status_reason: str
    audits_passed: int
    verified_at: datetime
    evidence_hash: str
    published_at: datetime | None
    published_by: str | None
    published_role: str | None
    published_evidence_hash: str | None
    override_reason: str | None

    @property
    def published(self) -> bool:
        return self.published_at is not None


@dataclass(frozen=True)
class RepairRecord:
    request_id: str
    run_pk: int
    run_id: str
    base_version: int
    week: str
    driver_id: str
    driver_name: str | None
    absence_type: str
    scope: Mapping[str, Any]
    requester: str
    urgency: str
    notes: str | None
    status: str
    created_at: datetime
    proposal: Mapping[str, Any] | None
    proposed_at: datetime | None
    proposal_version: int | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_reason: str | None
    applied_version: int | None

    @property
    def open(self) -> bool:
        return self.status in ("PENDING", "PROPOSED")
