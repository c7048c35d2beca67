"""Runs: import a week's roster, list runs, show one, report the system status."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dispatcher.db.repositories import ReadQueries
from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.errors import InvalidInput
from dispatcher.domain.events import Action, AuditEvent, EventDraft
from dispatcher.domain.evidence import output_hash
from dispatcher.domain.model import VIENNA, Week, WeekInput
from dispatcher.domain.parsing import parse_run_file
from dispatcher.domain.records import NewVersion, RunRecord, VersionRecord
from dispatcher.domain.views import RunSummary, SiteFlags, StatusOverview
from dispatcher.domain.vocabulary import STATUSES
from dispatcher.domain.weeks import WeekPlans, week_plans
from dispatcher.services.audit import record_event
from dispatcher.services.evidence import (
    CreatedVersion,
    create_version,
    creation_context,
)
from dispatcher.services.results import ImportResult
from dispatcher.services.site import ensure_site


def parse_week(text: str | None) -> Week | None:
    return None if text is None else Week.parse(text)


def import_run(
    uow: UnitOfWork, data: bytes, name: str, week: str | None = None, actor: str = "system"
) -> ImportResult:
    """Validate a run file completely, then store it as one transaction (all or nothing)."""
    run_file = parse_run_file(data, name, uow.tenant, uow.site, parse_week(week))
    week_input = WeekInput(run_file.week, run_file.tours, run_file.drivers, run_file.availability)
    solver: dict[str, Any] = {
        "name": run_file.solver.name,
        "version": run_file.solver.version,
        "seed": run_file.solver.seed,
        "declared_output_hash": run_file.solver.output_hash,
    }

    def draft(run_id: str, new: NewVersion) -> EventDraft:
        return EventDraft(
            Action.RUN_IMPORT,
            actor_id=actor,
            run_id=run_id,
            plan_version=1,
            evidence_hash=new.evidence_hash,
            detail={
                "file": name,
                "file_sha256": hashlib.sha256(data).hexdigest(),
                "week": str(week_input.week),
                "tours": len(run_file.tours),
                "instances": new.kpis.instances_total,
                "drivers": len(run_file.drivers),
                "assignments": len(run_file.assignments),
                "status": new.status,
            },
        )

    with uow:
        created, run = create_run(
            uow, week_input, dict(run_file.assignments), solver, origin="import", draft=draft
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
        event_seq=created.event.seq,
    )


def create_run(
    uow: UnitOfWork,
    week_input: WeekInput,
    plan: dict[str, str],
    solver: dict[str, Any],
    *,
    origin: str,
    draft: Callable[[str, NewVersion], EventDraft],
    meta: Mapping[str, Any] | None = None,
    runtime_ms: int | None = None,
) -> tuple[CreatedVersion, RunRecord]:
    """Store a run with its input and plan version 1 (audited, measured, sealed), after the
    event `draft` describes (run.import or run.solve), which the rows then name."""
    config = ensure_site(uow)
    now = uow.now()
    run_id = uow.runs.next_run_id(now.astimezone(VIENNA).strftime("%Y%m%d"))
    solver = {**solver, "recorded_output_hash": output_hash(plan), "origin": origin}
    context = creation_context(uow, week_input.week, config)

    def record(new: NewVersion) -> tuple[AuditEvent, int]:
        event = record_event(uow, draft(run_id, new))
        run_pk = uow.runs.add_run(
            run_id=run_id,
            week=str(week_input.week),
            created_at=now,
            origin=origin,
            solver=solver,
            solver_meta=dict(meta or {}),
            runtime_ms=runtime_ms,
            event_seq=event.seq,
        )
        uow.runs.add_input(run_pk, week_input)
        return event, run_pk

    created = create_version(
        uow,
        week=str(week_input.week),
        solver_error=None,
        week_input=week_input,
        plan=plan,
        version=1,
        origin=origin,
        solver=solver,
        context=context,
        record=record,
    )
    if output_hash(uow.runs.plan(created.version_pk)) != solver["recorded_output_hash"]:
        raise InvalidInput(f"{run_id}: stored assignments differ from the input; nothing stored")
    run = uow.runs.get(run_id)
    assert run is not None
    return created, run


def _filters(week: str | None, status: str | None) -> tuple[str | None, str | None]:
    if week is not None:
        week = str(Week.parse(week))
    if status is not None:
        status = status.upper()
        if status not in STATUSES:
            raise InvalidInput(f"Unknown status {status!r}: use {', '.join(STATUSES)}")
    return week, status


def list_runs(
    uow: UnitOfWork, *, week: str | None = None, status: str | None = None, limit: int = 20
) -> list[RunSummary]:
    week, status = _filters(week, status)
    with uow:
        return uow.queries.list_runs(week=week, status=status, limit=limit)


def status_overview(uow: UnitOfWork) -> StatusOverview:
    """This site at a glance; the kill switch and the settings as the audit trail proves them
    (a mismatch is shown, not hidden), and whether the clock is simulated."""
    from dataclasses import replace

    from dispatcher.db.guards import check as check_guards
    from dispatcher.domain.trail import StateMismatch
    from dispatcher.services.trail import bound_kill_switch, bound_settings

    with uow:
        view = overview(uow.queries, uow.tenant, uow.site)
        problem = None
        try:
            bound_settings(uow)
            view = replace(view, kill_switch=bound_kill_switch(uow))
        except StateMismatch as mismatch:
            problem = mismatch.message
        clock = "simulated" if uow.clock_is_simulated() else "real"
        guards = tuple(check_guards(uow.connection))
        return replace(view, clock=clock, trail_problem=problem, guard_problems=guards)


def overview(queries: ReadQueries, tenant: str, site: str) -> StatusOverview:
    """Kill switch, site switches, the newest run and the open repairs of one site."""
    flags = queries.site_flags()
    if flags is None:
        from dispatcher.domain.model import initial_site_config

        config = initial_site_config(tenant, site)
        flags = SiteFlags(False, config.publish_enabled, config.lock_enabled, config.shadow_only)
    latest = queries.list_runs(limit=ACTIVE_RUNS)
    weeks = sorted({r.week for r in latest}, reverse=True)[:ACTIVE_WEEKS]
    return StatusOverview(
        tenant=tenant,
        site=site,
        kill_switch=queries.kill_switch(),
        site_flags=flags,
        latest_run=latest[0] if latest else None,
        pending_repairs=queries.open_repairs(),
        weeks=tuple(plans_of(queries, weeks).values()),
    )


ACTIVE_RUNS, ACTIVE_WEEKS = 20, 4  # status shows the weeks of the newest runs, at most four


def plans_of(queries: ReadQueries, weeks: Iterable[str]) -> dict[str, WeekPlans]:
    """Each week's version in force and working run (domain/weeks.py)."""
    return {week: plans_of_week(queries, week) for week in weeks}


def plans_of_week(queries: ReadQueries, week: str) -> WeekPlans:
    """The week's version in force and working run, from all its runs and open repairs."""
    return week_plans(week, queries.list_runs(week=week, limit=10_000), queries.repairing(week))


def list_runs_with_plans(
    uow: UnitOfWork, *, week: str | None = None, status: str | None = None, limit: int = 20
) -> tuple[list[RunSummary], dict[str, WeekPlans]]:
    """`list-runs`: the runs, and the plans of every week they belong to (to mark the run in
    force and the working run)."""
    week, status = _filters(week, status)
    with uow:
        found = uow.queries.list_runs(week=week, status=status, limit=limit)
        return found, plans_of(uow.queries, {r.week for r in found})


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
