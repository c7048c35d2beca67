"""Reviewing a run: load it, re-verify its evidence, derive its status, gather the checklist.

Kept apart from import and listing so `show-run`, `publish` and `lock` import only what they use.
"""

from __future__ import annotations

from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.errors import NotFound
from dispatcher.domain.records import RunRecord, VersionRecord
from dispatcher.services.evidence import verify_version
from dispatcher.services.results import RunDetail
from dispatcher.services.runs import plans_of_week


def load_run(uow: UnitOfWork, run_id: str) -> RunRecord:
    run = uow.runs.get(run_id.strip().upper())
    if run is None:
        raise NotFound(f"Run {run_id} not found")
    return run


def load_version(uow: UnitOfWork, run: RunRecord, version: int | None = None) -> VersionRecord:
    number = run.current_version if version is None else version
    record = uow.runs.version(run, number)
    if record is None:
        raise NotFound(f"Plan version {number} of {run.run_id} not found")
    return record


def show_run(uow: UnitOfWork, run_id: str, version: int | None = None) -> RunDetail:
    """Re-verify the evidence, derive the status, and gather the decision view."""
    with uow:
        run = load_run(uow, run_id)
        record = load_version(uow, run, version)
        verification = verify_version(uow, run, record)
        decision = verification.decision
        uow.runs.record_verification(record.pk, decision.status, decision.reason, uow.now())
        uow.commit()
        open_repairs = uow.queries.open_repairs(week=run.week)
        superseded_by = _superseded_by(uow, run)
        versions = uow.runs.versions(run)
        plans = plans_of_week(uow.queries, run.week)
        from dispatcher.services.decisions import readiness  # decisions imports this module

        ready = readiness(uow, run, record, verification)
    assessment = verification.assessment
    detail = RunDetail(
        run=run,
        version=record,
        versions=versions,
        status=decision.status,
        status_reason=decision.reason,
        audits=assessment.report.results,
        kpis=assessment.kpis,
        drift=assessment.drift,
        evidence_ok=verification.ok,
        evidence_problems=verification.problems,
        rebuilt_hash=verification.rebuilt_hash,
        open_repairs=open_repairs,
        checklist=ready.rows,
        superseded_by=superseded_by,
        week_plans=plans,
        checklist_title=ready.title,
        next_action=ready.action,
    )
    return detail


def _superseded_by(uow: UnitOfWork, run: RunRecord) -> str | None:
    """The newer published run of the same week that replaced this one, if any."""
    summaries = uow.queries.list_runs(week=run.week, limit=100)
    mine = next((s for s in summaries if s.run_id == run.run_id), None)
    if mine is None or not mine.superseded:
        return None
    current = [s.run_id for s in summaries if s.published_version and not s.superseded]
    return current[0] if current else None
