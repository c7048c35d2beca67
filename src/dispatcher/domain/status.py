"""Run status, derived by the first matching row (domain.md §5), never read from input."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dispatcher.domain.vocabulary import (
    BLOCK,
    BLOCKED,
    FAIL,
    PASS,
    PENDING,
    STATUS_WARN,
    UNKNOWN,
    WARN,
)

if TYPE_CHECKING:
    from dispatcher.domain.audits import AuditResult


@dataclass(frozen=True)
class StatusDecision:
    status: str
    reason: str


def derive_status(
    *,
    audits: Sequence[AuditResult] | None,
    drift_level: str | None,
    evidence_ok: bool | None,
    solver_error: str | None = None,
) -> StatusDecision:
    if audits is None or len(audits) != 7 or drift_level is None or evidence_ok is None:
        return StatusDecision(PENDING, "audits, KPIs, drift or evidence not yet computed")
    if solver_error:
        return StatusDecision(FAIL, f"solver reported an error: {solver_error}")
    failed = [a for a in audits if not a.passed]
    if failed:
        names = ", ".join(f"{a.name} ({len(a.violations)})" for a in failed)
        return StatusDecision(FAIL, f"audits failed: {names}")
    if not evidence_ok:
        return StatusDecision(BLOCKED, "evidence does not match its sealed hash")
    if drift_level == BLOCK:
        return StatusDecision(BLOCKED, "KPI drift is BLOCK")
    if drift_level == WARN:
        return StatusDecision(STATUS_WARN, "KPI drift is WARN: publishing needs an override reason")
    if drift_level == UNKNOWN:
        return StatusDecision(
            STATUS_WARN, "no drift baseline (headcount drift UNKNOWN): publishing needs an override"
        )
    return StatusDecision(PASS, "all 7 audits pass, drift OK, evidence verified")
