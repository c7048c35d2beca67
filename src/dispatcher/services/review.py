"""Reviewing a run: load it, re-verify its evidence, derive its status, gather the checklist.

Kept apart from import and listing so `show-run`, `publish` and `lock` import only what they use.
"""

from __future__ import annotations

from dataclasses import replace

from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.errors import NotFound
from dispatcher.domain.records import RunRecord, VersionRecord
from dispatcher.services.evidence import verify_version
from dispatcher.services.results import CheckItem, RunDetail


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
        checklist=[],
        superseded_by=superseded_by,
    )
    return _with_checklist(detail)


def _superseded_by(uow: UnitOfWork, run: RunRecord) -> str | None:
    """The newer published run of the same week that replaced this one, if any."""
    summaries = uow.queries.list_runs(week=run.week, limit=100)
    mine = next((s for s in summaries if s.run_id == run.run_id), None)
    if mine is None or not mine.superseded:
        return None
    current = [s.run_id for s in summaries if s.published_version and not s.superseded]
    return current[0] if current else None


def _with_checklist(detail: RunDetail) -> RunDetail:
    audits_passed = sum(a.passed for a in detail.audits)
    covered = detail.kpis.coverage_bp
    repairs = ", ".join(r.request_id for r in detail.open_repairs)
    version = detail.version
    status_note = detail.status + (" (needs --override-reason)" if detail.status == "WARN" else "")
    items = [
        CheckItem("Status is PASS or WARN", detail.status in ("PASS", "WARN"), status_note),
        CheckItem("Audits 7/7", audits_passed == 7, f"{audits_passed}/7"),
        CheckItem("Coverage 100%", covered == 10000, f"{covered // 100}.{covered % 100 // 10}%"),
        CheckItem("Drift not BLOCK", detail.drift.level != "BLOCK", detail.drift.level),
        CheckItem("No pending repairs for the week", not detail.open_repairs, repairs or "none"),
        CheckItem(
            "Evidence matches its sealed hash",
            detail.evidence_ok,
            "verified" if detail.evidence_ok else "; ".join(detail.evidence_problems),
        ),
        CheckItem(
            "Current version not yet published",
            not version.published,
            f"v{version.version} " + ("published" if version.published else "unpublished"),
        ),
        CheckItem(
            "Run not locked", not detail.run.locked, "locked" if detail.run.locked else "open"
        ),
    ]
    return replace(detail, checklist=items)
