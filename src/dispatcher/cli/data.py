"""JSON views of service results: stable field names, tested, no Rich."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dispatcher.domain.audits import AuditResult
from dispatcher.domain.records import RepairRecord
from dispatcher.domain.views import RunSummary, StatusOverview
from dispatcher.domain.weeks import WeekPlans
from dispatcher.services.results import RunDetail

if TYPE_CHECKING:
    from dispatcher.services.platform import AllSitesOverview


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def run_summary(run: RunSummary, plans: WeekPlans | None = None) -> dict[str, Any]:
    found = {
        "run_id": run.run_id,
        "week": run.week,
        "created_at": _ts(run.created_at),
        "origin": run.origin,
        "version": run.version,
        "status": run.status,
        "status_reason": run.status_reason,
        "drivers": run.drivers_used,
        "coverage_bp": run.coverage_bp,
        "audits_passed": run.audits_passed,
        "audits_total": 7,
        "drift": run.drift_level,
        "published_version": run.published_version,
        "locked": run.locked,
        "locked_version": run.locked_version,
        "superseded": run.superseded,
    }
    if plans is not None:
        found["week_role"] = plans.role_of(run.run_id)  # "in force", "working" or None
    return found


def week(plans: WeekPlans) -> dict[str, Any]:
    """A week's plans: the version in force, a newer one pending, the working run."""
    force, working = plans.in_force, plans.working
    return {
        "week": plans.week,
        "in_force": None
        if force is None
        else {
            "run_id": force.run_id,
            "version": plans.in_force_version,
            "locked": plans.locked,
        },
        "pending_version": plans.pending_version,
        "successor": None  # published since the plan in force was locked, waiting for its lock
        if plans.successor is None
        else {"run_id": plans.successor.run_id, "version": plans.successor.published_version},
        "working": None
        if working is None
        else {"run_id": working.run_id, "version": working.version, "status": working.status},
        "candidates": [c.run_id for c in plans.candidates] if working is None else [],
    }


def status(overview: StatusOverview) -> dict[str, Any]:
    ks, flags = overview.kill_switch, overview.site_flags
    return {
        "tenant": overview.tenant,
        "site": overview.site,
        "site_initialised": flags.exists,
        "kill_switch": {
            "active": ks.active,
            "scope": ks.scope,
            "by": ks.actor_id,
            "reason": ks.reason,
            "since": _ts(ks.changed_at),
        },
        "publish_enabled": flags.publish_enabled,
        "lock_enabled": flags.lock_enabled,
        "shadow_only": flags.shadow_only,
        "clock": overview.clock,
        "trail_problem": overview.trail_problem,
        "guard_problems": list(overview.guard_problems),
        "latest_run": None if overview.latest_run is None else run_summary(overview.latest_run),
        "pending_repairs": [
            {**asdict(r), "created_at": _ts(r.created_at)} for r in overview.pending_repairs
        ],
        "weeks": [week(w) for w in overview.weeks],
    }


def all_sites(result: AllSitesOverview) -> dict[str, Any]:
    return {
        "sites": [status(overview) for overview in result.sites],
        "by": result.by,
        "event_seq": result.event_seq,
    }


def audit_result(result: AuditResult) -> dict[str, Any]:
    return result.as_document()


def run_detail(detail: RunDetail) -> dict[str, Any]:
    run, version = detail.run, detail.version
    return {
        "run_id": run.run_id,
        "week": run.week,
        "created_at": _ts(run.created_at),
        "origin": run.origin,
        "solver": {"name": run.solver_name, "version": run.solver_version, "seed": run.solver_seed},
        "version": version.version,
        "current_version": run.current_version,
        "status": detail.status,
        "status_reason": detail.status_reason,
        "audits_passed": sum(a.passed for a in detail.audits),
        "audits": [audit_result(a) for a in detail.audits],
        "kpis": detail.kpis.as_document(),
        "drift": detail.drift.as_document(),
        "evidence": {
            "sealed_hash": version.evidence_hash,
            "rebuilt_hash": detail.rebuilt_hash,
            "verified": detail.evidence_ok,
            "problems": list(detail.evidence_problems),
        },
        "published": version.published,
        "published_at": _ts(version.published_at),
        "published_by": version.published_by,
        "locked": run.locked,
        "locked_version": run.locked_version,  # an amendment above it waits for its own lock
        "locked_at": _ts(run.locked_at),
        "locked_by": run.locked_by,
        "week_plan": None if detail.week_plans is None else week(detail.week_plans),
        "superseded_by": detail.superseded_by,
        "versions": [
            {
                "version": v.version,
                "parent": v.parent_version,
                "origin": v.origin,
                "created_at": _ts(v.created_at),
                "status": v.status,
                "evidence_hash": v.evidence_hash,
                "published": v.published,
            }
            for v in detail.versions
        ],
        "pending_repairs": [r.request_id for r in detail.open_repairs],
        "next_action": detail.next_action,  # "publish", "lock" or None (locked)
        "ready": detail.ready,
        "ready_to_publish": detail.ready and detail.next_action == "publish",
        "checklist_title": detail.checklist_title,
        "checklist": [asdict(item) for item in detail.checklist],
    }


def repair(record: RepairRecord) -> dict[str, Any]:
    return {
        "request_id": record.request_id,
        "run_id": record.run_id,
        "base_version": record.base_version,
        "week": record.week,
        "driver_id": record.driver_id,
        "driver_name": record.driver_name,
        "type": record.absence_type,
        "scope": dict(record.scope),
        "requester": record.requester,
        "urgency": record.urgency,
        "notes": record.notes,
        "status": record.status,
        "created_at": _ts(record.created_at),
        "proposed_at": _ts(record.proposed_at),
        "proposal": None if record.proposal_document is None else dict(record.proposal_document),
        "resolved_at": _ts(record.resolved_at),
        "resolved_by": record.resolved_by,
        "resolution_reason": record.resolution_reason,
        "applied_version": record.applied_version,
    }
