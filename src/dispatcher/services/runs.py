"""Runs: import a week's roster, list runs, show one, report the system status."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from dispatcher.db.ports import RunReadingUnit, UnitOfWork
from dispatcher.domain.errors import InvalidInput, NotFound
from dispatcher.domain.events import Action, EventDraft
from dispatcher.domain.evidence import output_hash
from dispatcher.domain.model import Week, WeekInput
from dispatcher.domain.parsing import RunFile, parse_run_file
from dispatcher.domain.records import RunRecord, VersionRecord
from dispatcher.domain.views import RunSummary, StatusOverview
from dispatcher.services.audit import record_event
from dispatcher.services.evidence import (
    CreatedVersion,
    create_version,
    creation_context,
    verify_version,
)
from dispatcher.services.reads import overview, runs_listing
from dispatcher.services.results import CheckItem, ImportResult, RunDetail
from dispatcher.services.site import ensure_site

VIENNA = ZoneInfo("Europe/Vienna")


def parse_week(text: str | None) -> Week | None:
    return None if text is None else Week.parse(text)


def import_run(
    uow: UnitOfWork, data: bytes, name: str, week: str | None = None, actor: str = "system"
) -> ImportResult:
    """Validate a run file completely, then store it as one transaction (all or nothing)."""
    run_file = parse_run_file(data, name, uow.tenant, uow.site, parse_week(week))
    with uow:
        created, run = _store_run_file(uow, run_file)
        event = record_event(
            uow,
            EventDraft(
                Action.RUN_IMPORT,
                actor_id=actor,
                run_id=run.run_id,
                plan_version=1,
                evidence_hash=created.new.evidence_hash,
                detail={
                    "file": name,
                    "file_sha256": hashlib.sha256(data).hexdigest(),
                    "week": run.week,
                    "tours": len(run_file.tours),
                    "instances": created.new.kpis.instances_total,
                    "drivers": len(run_file.drivers),
                    "assignments": len(run_file.assignments),
                    "status": created.new.status,
                },
            ),
        )
        uow.commit()
    return ImportResult(
        run_id=run.run_id,
        week=run.week,
        version=1,
        status=created.new.status,
        status_reason=created.new.status_reason,
        audits_passed=created.new.audits_passed,
        coverage_bp=created.new.kpis.coverage_bp,
        drivers_used=created.new.kpis.drivers_used,
        instances=created.new.kpis.instances_total,
        drift_level=created.new.drift.level,
        evidence_hash=created.new.evidence_hash,
        event_seq=event.seq,
    )


def _store_run_file(uow: UnitOfWork, run_file: RunFile) -> tuple[CreatedVersion, RunRecord]:
    week_input = WeekInput(run_file.week, run_file.tours, run_file.drivers, run_file.availability)
    plan = dict(run_file.assignments)
    solver: dict[str, Any] = {
        "name": run_file.solver.name,
        "version": run_file.solver.version,
        "seed": run_file.solver.seed,
        "declared_output_hash": run_file.solver.output_hash,
    }
    return create_run(uow, week_input, plan, solver, origin="import")


def create_run(
    uow: UnitOfWork,
    week_input: WeekInput,
    plan: dict[str, str],
    solver: dict[str, Any],
    *,
    origin: str,
    meta: Mapping[str, Any] | None = None,
    runtime_ms: int | None = None,
) -> tuple[CreatedVersion, RunRecord]:
    """Store a run with its input and plan version 1 (audited, measured, sealed)."""
    config = ensure_site(uow)
    now = uow.now()
    run_id = uow.runs.next_run_id(now.astimezone(VIENNA).strftime("%Y%m%d"))
    solver = {**solver, "recorded_output_hash": output_hash(plan), "origin": origin}
    run_pk = uow.runs.add_run(
        run_id=run_id,
        week=str(week_input.week),
        created_at=now,
        origin=origin,
        solver=solver,
        solver_meta=dict(meta or {}),
        runtime_ms=runtime_ms,
    )
    uow.runs.add_input(run_pk, week_input)
    run = uow.runs.get(run_id)
    assert run is not None
    context = creation_context(uow, week_input.week, config)
    created = create_version(
        uow,
        run,
        week_input=week_input,
        plan=plan,
        version=1,
        origin=origin,
        solver=solver,
        context=context,
    )
    if output_hash(uow.runs.plan(created.version_pk)) != solver["recorded_output_hash"]:
        raise InvalidInput(f"{run_id}: stored assignments differ from the input; nothing stored")
    return created, run


def list_runs(
    uow: UnitOfWork, *, week: str | None = None, status: str | None = None, limit: int = 20
) -> list[RunSummary]:
    with uow:
        return runs_listing(uow.queries, week=week, status=status, limit=limit)


def status_overview(uow: UnitOfWork) -> StatusOverview:
    with uow:
        return overview(uow.queries, uow.tenant, uow.site)


def load_run(uow: RunReadingUnit, run_id: str) -> RunRecord:
    run = uow.runs.get(run_id.strip().upper())
    if run is None:
        raise NotFound(f"Run {run_id} not found")
    return run


def load_version(uow: RunReadingUnit, run: RunRecord, version: int | None = None) -> VersionRecord:
    number = run.current_version if version is None else version
    record = uow.runs.version(run, number)
    if record is None:
        raise NotFound(f"Plan version {number} of {run.run_id} not found")
    return record


def show_run(uow: RunReadingUnit, run_id: str, version: int | None = None) -> RunDetail:
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


def _superseded_by(uow: RunReadingUnit, run: RunRecord) -> str | None:
    """The newer published run of the same week that replaced this one, if any."""
    summaries = uow.queries.list_runs(week=run.week, limit=100)
    mine = next((s for s in summaries if s.run_id == run.run_id), None)
    if mine is None or not mine.superseded:
        return None
    current = [s.run_id for s in summaries if s.published_version and not s.superseded]
    return current[0] if current else None


def _with_checklist(detail: RunDetail) -> RunDetail:
    from dataclasses import replace

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


def version_summary(record: VersionRecord) -> Mapping[str, Any]:
    return {
        "version": record.version,
        "parent": record.parent_version,
        "origin": record.origin,
        "created_at": record.created_at.isoformat(),
        "status": record.status,
        "evidence_hash": record.evidence_hash,
        "published_at": None if record.published_at is None else record.published_at.isoformat(),
        "published_by": record.published_by,
    }
