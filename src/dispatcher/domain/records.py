"""Stored runs and plan versions as plain records (what repositories return)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from dispatcher.domain.audits import Boundary
from dispatcher.domain.drift import Drift
from dispatcher.domain.kpis import Kpis
from dispatcher.domain.model import Absence
from dispatcher.domain.proposal import RepairProposal


@dataclass(frozen=True)
class Approval:
    """A human decision on a plan version (publish, lock, repair.apply), as the approvals table
    holds it: append-only, each row naming the event that recorded it."""

    action: str
    version: int
    approver_id: str
    role: str
    reason: str
    override_reason: str | None
    evidence_hash: str | None
    event_seq: int
    at: datetime


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
    current_version: int
    event_seq: int | None  # the run.import or run.solve event
    lock: Approval | None

    @property
    def locked(self) -> bool:
        return self.lock is not None

    @property
    def locked_at(self) -> datetime | None:
        return None if self.lock is None else self.lock.at

    @property
    def locked_by(self) -> str | None:
        return None if self.lock is None else self.lock.approver_id

    @property
    def locked_version(self) -> int | None:
        return None if self.lock is None else self.lock.version


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
    event_seq: int | None  # the event that created this version
    publish: Approval | None

    @property
    def published(self) -> bool:
        return self.publish is not None

    @property
    def published_at(self) -> datetime | None:
        return None if self.publish is None else self.publish.at

    @property
    def published_by(self) -> str | None:
        return None if self.publish is None else self.publish.approver_id

    @property
    def published_role(self) -> str | None:
        return None if self.publish is None else self.publish.role

    @property
    def published_evidence_hash(self) -> str | None:
        return None if self.publish is None else self.publish.evidence_hash

    @property
    def override_reason(self) -> str | None:
        return None if self.publish is None else self.publish.override_reason


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
    proposal_document: Mapping[str, Any] | None  # as stored: what the events' digests name
    proposed_at: datetime | None
    proposal_version: int | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_reason: str | None
    applied_version: int | None
    event_seq: int | None = None  # the event that set the current status

    @property
    def open(self) -> bool:
        return self.status in ("PENDING", "PROPOSED")

    @cached_property
    def proposal(self) -> RepairProposal | None:
        """The stored proposal, typed (read once)."""
        doc = self.proposal_document
        return None if doc is None else RepairProposal.from_document(doc)
