"""Plain results returned to the CLI (no lazy loading, no sessions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dispatcher.domain.audits import AuditResult
from dispatcher.domain.drift import Drift
from dispatcher.domain.gates import ChecklistRow
from dispatcher.domain.kpis import Kpis
from dispatcher.domain.records import RunRecord, VersionRecord
from dispatcher.domain.views import RepairSummary, RunSummary


@dataclass(frozen=True)
class ImportResult:
    run_id: str
    week: str
    version: int
    status: str
    status_reason: str
    audits_passed: int
    coverage_bp: int
    drivers_used: int
    instances: int
    drift_level: str
    evidence_hash: str
    event_seq: int


@dataclass(frozen=True)
class RunDetail:
    run: RunRecord
    version: VersionRecord
    versions: list[VersionRecord]
    status: str
    status_reason: str
    audits: tuple[AuditResult, ...]
    kpis: Kpis
    drift: Drift
    evidence_ok: bool
    evidence_problems: tuple[str, ...]
    rebuilt_hash: str
    open_repairs: list[RepairSummary]
    checklist: list[ChecklistRow]  # the gate checks of the next decision (domain/gates.py)
    superseded_by: str | None
    week_plans: Any = None  # WeekPlans of the run's week
    checklist_title: str = "Ready to publish?"
    next_action: str | None = "publish"  # None once locked

    @property
    def ready(self) -> bool:
        return all(item.ok for item in self.checklist)


@dataclass(frozen=True)
class EvidenceCheck:
    run_id: str
    version: int
    sealed_hash: str
    rebuilt_hash: str
    ok: bool
    problems: tuple[str, ...]


@dataclass(frozen=True)
class EvidenceExport:
    run_id: str
    version: int
    evidence_hash: str
    files: dict[str, str]  # name -> sha256


__all__ = ["RunSummary"]
