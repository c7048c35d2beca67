"""The evidence pack (domain.md §8): one canonical, content-addressed document per plan version."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dispatcher.domain.audits import (
    RULES,
    AuditReport,
    AuditResult,
    Boundary,
    ReproCheck,
    Rules,
    run_audits,
)
from dispatcher.domain.drift import Baseline, Drift, compute_drift
from dispatcher.domain.hashing import canonical_json, digest, digest_text
from dispatcher.domain.kpis import Kpis, churn_between, compute_kpis
from dispatcher.domain.model import Absence, DriftThresholds, Plan, WeekInput, plan_pairs

EVIDENCE_FORMAT = "dispatcher.evidence/1"


def output_hash(plan: Plan) -> str:
    """`sha256:` over the canonical `[instance_id, driver_id]` pairs sorted by instance id."""
    return digest(plan_pairs(plan))


def input_document(week_input: WeekInput, absences: Sequence[Absence] = ()) -> dict[str, Any]:
    doc = week_input.as_document()
    doc["absences"] = [
        a.as_document() for a in sorted(absences, key=lambda a: (a.driver_id, a.date))
    ]
    return doc


def config_hash(rules: Rules, solver: Mapping[str, Any]) -> str:
    """Over the rule parameters and the solver's name, version and seed."""
    return digest(
        {
            "rules": rules.as_document(),
            "solver": {k: solver.get(k) for k in ("name", "version", "seed")},
        }
    )


def config_document(
    thresholds: DriftThresholds, freeze_window_hours: int, drift_baseline: str, rules: Rules = RULES
) -> dict[str, Any]:
    return {
        "rules": rules.as_document(),
        "drift_thresholds": thresholds.as_document(),
        "freeze_window_hours": freeze_window_hours,
        "drift_baseline": drift_baseline,
    }


@dataclass(frozen=True)
class Assessment:
    """Audits, KPIs and drift of one plan version."""

    report: AuditReport
    kpis: Kpis
    drift: Drift


def assess(
    week_input: WeekInput,
    plan: Plan,
    *,
    repro: ReproCheck,
    thresholds: DriftThresholds,
    baseline: Baseline | None,
    boundary: Boundary | None = None,
    absences: tuple[Absence, ...] = (),
    parent_plan: Plan | None = None,
    rules: Rules = RULES,
) -> Assessment:
    report = run_audits(week_input, plan, repro, boundary=boundary, absences=absences, rules=rules)
    churn = None if parent_plan is None else churn_between(parent_plan, plan, report.total)
    kpis = compute_kpis(report, len(week_input.drivers), churn, rules)
    drift = compute_drift(kpis, baseline, thresholds, repair=parent_plan is not None)
    return Assessment(report, kpis, drift)


@dataclass(frozen=True)
class EvidenceFacts:
    """Everything the evidence of one plan version is built from."""

    tenant: str
    site: str
    week: str
    version: int
    parent: int | None
    week_input: WeekInput
    absences: tuple[Absence, ...]
    boundary: Boundary | None
    config: Mapping[str, Any]
    solver: Mapping[str, Any]  # name, version, seed, declared_output_hash, recorded_output_hash, …
    plan: Plan
    audits: Sequence[AuditResult]
    kpis: Kpis
    drift: Drift
    repair: Mapping[str, Any] | None = None


def evidence_document(facts: EvidenceFacts) -> dict[str, Any]:
    inputs = input_document(facts.week_input, facts.absences)
    solver = dict(facts.solver)
    solver["input_hash"] = digest(inputs)
    solver["config_hash"] = config_hash(Rules(**facts.config["rules"]), facts.solver)
    solver["output_hash"] = output_hash(facts.plan)
    return {
        "format": EVIDENCE_FORMAT,
        "tenant": facts.tenant,
        "site": facts.site,
        "week": facts.week,
        "version": facts.version,
        "parent": facts.parent,
        "input": inputs,
        "boundary": None if facts.boundary is None else facts.boundary.as_document(),
        "config": dict(facts.config),
        "solver": solver,
        "plan": plan_pairs(facts.plan),
        "audits": [a.as_document() for a in facts.audits],
        "kpis": facts.kpis.as_document(),
        "drift": facts.drift.as_document(),
        "repair": None if facts.repair is None else dict(facts.repair),
    }


def evidence_text(facts: EvidenceFacts) -> str:
    """The exact bytes (as text) whose SHA-256 is the evidence hash."""
    return canonical_json(evidence_document(facts))


def evidence_hash(facts: EvidenceFacts) -> str:
    return digest_text(evidence_text(facts))
