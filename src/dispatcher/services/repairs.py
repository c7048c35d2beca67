"""Sick calls and other absences: request, solve, review, apply or reject (domain.md §9)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from dispatcher.db.repositories.repairs import RequestIdHeld
from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.audits import ReproCheck, Roster
from dispatcher.domain.errors import Conflict, DatabaseBusy, GateBlocked, InvalidInput, NotFound
from dispatcher.domain.events import Action, AuditEvent, EventDraft
from dispatcher.domain.evidence import assess, output_hash
from dispatcher.domain.gates import (
    APPLY_CHECKS,
    REJECT_CHECKS,
    STALE_PROPOSAL,
    ApplyFacts,
    ApprovalInput,
    RejectFacts,
    evaluate,
    first_failure,
)
from dispatcher.domain.hashing import digest
from dispatcher.domain.ids import id_key
from dispatcher.domain.model import (
    VIENNA,
    Absence,
    DriftThresholds,
    Driver,
    Week,
    format_clock,
    instance_sort_key,
    start_instant,
)
from dispatcher.domain.parsing import parse_drivers_csv
from dispatcher.domain.proposal import RepairProposal
from dispatcher.domain.records import NewVersion, RepairRecord, RunRecord, VersionRecord
from dispatcher.domain.repair import (
    ABSENCE_TYPES,
    APPLIED,
    OPEN_STATUSES,
    PENDING,
    REJECTED,
    URGENCIES,
    RepairProblem,
    RepairScope,
    RepairSolution,
    build_problem,
    parse_days,
    resolve_tours,
    same_name,
    uncovered_reason,
)
from dispatcher.domain.solver import Progress
from dispatcher.domain.text import given
from dispatcher.domain.trail import StateMismatch
from dispatcher.domain.vocabulary import DAY_NAMES
from dispatcher.domain.weeks import default_target
from dispatcher.services.audit import record_event
from dispatcher.services.authorization import (
    TRAIL_CHECK,
    refuse,
    refuse_mismatch,
    refuse_unless_text,
)
from dispatcher.services.evidence import (
    absences_digest,
    create_version,
    creation_context,
    week_absences,
)
from dispatcher.services.review import load_run, load_version
from dispatcher.services.runs import plans_of_week
from dispatcher.services.site import current_config, ensure_site
from dispatcher.services.solving import check_time_limit
from dispatcher.services.trail import bound_open_repairs, bound_run, bound_user

STALE = STALE_PROPOSAL
ID_PROBES = 50  # taken ids counted up one by one before the number is drawn at random
ID_ATTEMPTS = 8  # request ids tried before "busy" (each held one waits at most ID_WAIT)


# --- request ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestResult:
    request_id: str
    run_id: str
    version: int
    week: str
    driver_id: str
    scope: str
    affected_instances: list[str]
    event_seq: int
    chosen_by: str = "--run"  # or "in force" (the week's published run), "successor" (published
    # to replace the week's locked plan), "only" (its only publishable run)
    started: int = 0  # of affected_instances: started by now, they stay with the driver


def _target_run(uow: UnitOfWork, week: str, wanted: str | None) -> tuple[RunRecord, str]:
    """`--run` when given (of this week); else the week's run in force; else its only run that
    can still be published; else an error listing the candidates (domain.md §9)."""
    if wanted is not None:
        if not wanted.strip():
            raise InvalidInput("--run: give a run id such as RUN-20260112-002")
        run = load_run(uow, wanted)
        if run.week != week:
            raise InvalidInput(f"Run {run.run_id} is a run of week {run.week}, not of {week}")
        return run, "--run"
    plans = plans_of_week(uow.queries, week)
    if not plans.candidates and plans.in_force is None and not uow.queries.list_runs(week=week):
        raise NotFound(f"No run for week {week}")
    chosen, why = default_target(plans)
    return load_run(uow, chosen.run_id), why


def _request_ids(uow: UnitOfWork) -> Iterator[str]:
    """REP-<Vienna time>, or with -2, -3, … where the tenant has it (domain.md §9). On
    PostgreSQL the next one can also be held: written by another site's transaction, not yet
    committed. Whoever holds the next numbers must not keep every site from filing a request,
    so after two held ones the number is drawn at random (still unique, still `-N`), and the
    attempts are few (each waits at most repositories/repairs.py ID_WAIT). Committed ids are
    counted past one by one only ID_PROBES times: a depot that filed thousands under one
    second's ids must not make every other site's request scan them."""
    base = "REP-" + uow.now().astimezone(VIENNA).strftime("%Y%m%d%H%M%S")
    n, probes = 1, 0
    for attempt in range(ID_ATTEMPTS):
        if attempt >= 2:
            n = _random_suffix()
        while uow.repairs.id_taken(base if n == 1 else f"{base}-{n}"):
            probes += 1  # thousands filed in one second: not a dispatcher's doing
            n = n + 1 if probes < ID_PROBES else _random_suffix()
        yield base if n == 1 else f"{base}-{n}"
        n += 1


def _random_suffix() -> int:
    return 100 + secrets.randbelow(900_000)


def _overlaps(a: RepairScope, a_days: set[int], b: RepairScope, b_days: set[int]) -> bool:
    if "week" in (a.kind, b.kind):
        return True
    if a.kind == b.kind == "tours":
        return bool(set(a.instances) & set(b.instances))
    return bool(a_days & b_days)


def request_repair(
    uow: UnitOfWork,
    *,
    week: str,
    driver_id: str,
    name: str | None,
    absence_type: str,
    tours: str | None,
    days: str | None,
    requester: str,
    urgency: str = "normal",
    notes: str | None = None,
    run_id: str | None = None,
    amend: bool = False,
) -> RequestResult:
    parsed_week = Week.parse(week)
    absence_type = absence_type.strip().lower()
    if absence_type not in ABSENCE_TYPES:
        raise InvalidInput(f"Unknown --type {absence_type!r}: use sick, vacation or other")
    urgency = urgency.strip().lower()
    if urgency not in URGENCIES:
        raise InvalidInput(f"Unknown --urgency {urgency!r}: use {', '.join(URGENCIES)}")
    if tours is not None and days is not None:
        raise InvalidInput("Give --tours or --days, not both")
    driver_id = driver_id.strip()
    with uow:
        ensure_site(uow)
        run, chosen_by = _target_run(uow, str(parsed_week), run_id)
        version = load_version(uow, run)
        actor = requester.strip()

        def blocked(check: str, message: str) -> GateBlocked:
            return refuse(
                uow,
                Action.REPAIR_REQUEST,
                check,
                message,
                actor_id=actor or None,
                actor_role=None,
                reason=notes,
                run_id=run.run_id,
                plan_version=version.version,
            )

        refuse_unless_text(
            uow,
            Action.REPAIR_REQUEST,
            {"Requester": requester, "Notes": notes},
            actor_id=actor or None,
            reason=notes,
            run_id=run.run_id,
            plan_version=version.version,
        )
        try:
            bound_run(uow, run)
            user = bound_user(uow, actor)
            open_requests = bound_open_repairs(uow, str(parsed_week))
        except StateMismatch as mismatch:
            raise blocked(TRAIL_CHECK, mismatch.message) from None
        refusal = locked_refusal(run, amend)
        if refusal is not None:
            raise blocked("run_not_locked", refusal)
        if user is None or not user.active:
            raise blocked(
                "requester_registered", f"Requester {actor} is not a registered active user"
            )
        week_input = uow.runs.week_input(run, version.version)
        driver = week_input.driver_named(driver_id)
        if driver is None:
            raise InvalidInput(f"Driver {driver_id!r} is not in run {run.run_id}")
        driver_id = driver.driver_id  # as the run spells it (ids are one person ignoring case)
        if name is not None and not same_name(name, driver.name):
            raise InvalidInput(
                f"Name {name!r} does not match driver {driver_id} ({driver.name}); check the id"
            )
        plan = uow.runs.plan(version.pk)
        instances = {i.instance_id: i for i in week_input.instances()}
        if tours is not None:
            where = f"{run.run_id} v{version.version}"
            chosen = resolve_tours(tours, driver_id, plan, instances, where)
            scope = RepairScope("tours", instances=chosen)
        elif days is not None:
            scope = RepairScope("days", days=parse_days(days, parsed_week))
        else:
            scope = RepairScope("week")
        scope_days = set(scope.absence_days(instances))
        for other in open_requests:
            if id_key(other.driver_id) == id_key(driver_id):
                other_scope = RepairScope.from_document(other.scope)
                if _overlaps(scope, scope_days, other_scope, set(other.scope["absence_days"])):
                    where = "" if other.run_id == run.run_id else f" on {other.run_id}"
                    raise Conflict(
                        f"Driver {driver_id} already has an open repair request "
                        f"{other.request_id}{where} overlapping this scope"
                    )
        held = sorted(
            (i for i, d in plan.items() if d == driver_id and scope.covers(instances[i])),
            key=instance_sort_key,
        )
        _refuse_past(parsed_week, driver_id, scope, held, instances, uow.now())
        record = RepairRecord(
            request_id="",  # chosen below
            run_pk=run.pk,
            run_id=run.run_id,
            base_version=version.version,
            week=str(parsed_week),
            driver_id=driver_id,
            driver_name=driver.name,
            absence_type=absence_type,
            scope={
                **scope.as_document(),
                "absence_days": sorted(scope_days),
                **({"amend": True} if amend else {}),  # the repair amends the locked plan
            },
            requester=user.user_id,
            urgency=urgency,
            notes=given(notes),
            status=PENDING,
            created_at=uow.now(),
            proposal_document=None,
            proposed_at=None,
            proposal_version=None,
            resolved_at=None,
            resolved_by=None,
            resolution_reason=None,
            applied_version=None,
        )
        for request_id in _request_ids(uow):
            record = replace(record, request_id=request_id)
            try:
                with uow.savepoint():
                    event = record_event(uow, _request_draft(record, scope, held))
                    uow.repairs.add(record, event.seq)
                break
            except RequestIdHeld:
                continue
        else:
            raise DatabaseBusy(
                "Every request id tried for this second is held by another transaction not "
                "yet committed; try again"
            )
        uow.commit()
    return RequestResult(
        request_id,
        run.run_id,
        version.version,
        str(parsed_week),
        driver_id,
        scope.describe(),
        held,
        event.seq,
        chosen_by,
        sum(1 for i in held if start_instant(parsed_week, instances[i]) <= record.created_at),
    )


def _request_draft(record: RepairRecord, scope: RepairScope, held: list[str]) -> EventDraft:
    """The repair.request event of `record` (the driver's tours in the scope: `held`)."""
    return EventDraft(
        Action.REPAIR_REQUEST,
        actor_id=record.requester,
        actor_role=None,
        reason=record.notes,
        run_id=record.run_id,
        plan_version=record.base_version,
        detail={
            "request_id": record.request_id,
            "driver_id": record.driver_id,
            "driver_name": record.driver_name,
            "type": record.absence_type,
            "scope": scope.describe(),
            "scope_document": dict(record.scope),
            "urgency": record.urgency,
            "instances": held,
        },
    )


def _refuse_past(
    week: Week,
    driver_id: str,
    scope: RepairScope,
    held: list[str],
    instances: Mapping[str, Any],
    now: datetime,
) -> None:
    """Nothing to repair when every tour of the scope has started: the driver's own, or (when
    the driver holds none in it) every tour of the week in the scope."""
    pool = held or [i for i, inst in instances.items() if scope.covers(inst)]
    if any(start_instant(week, instances[i]) > now for i in pool):
        return
    local = now.astimezone(VIENNA).strftime("%Y-%m-%d %H:%M")
    whose = f"every tour of {driver_id}" if held else f"every tour of {week}"
    where = {"week": "in the whole week", "days": "on", "tours": "in"}[scope.kind]
    if scope.kind != "week":
        where += " " + scope.describe()
    raise InvalidInput(
        f"Nothing to repair: {whose} {where} has started or is in the past (now {local} Vienna)"
    )


def load_request(uow: UnitOfWork, request_id: str) -> RepairRecord:
    record = uow.repairs.get(request_id.strip().upper())
    if record is None:
        raise NotFound(f"Repair request {request_id} not found")
    return record


def list_repairs(
    uow: UnitOfWork, *, week: str | None = None, status: str | None = None
) -> list[RepairRecord]:
    if week is not None:
        week = str(Week.parse(week))
    if status is not None:
        status = status.strip().upper()
        if status not in (*OPEN_STATUSES, APPLIED, REJECTED):
            raise InvalidInput(
                f"Unknown status {status!r}: use PENDING, PROPOSED, APPLIED, REJECTED"
            )
    order = {u: n for n, u in enumerate(reversed(URGENCIES))}
    with uow:
        records = uow.repairs.list(week=week, status=status)
    return sorted(records, key=lambda r: (not r.open, order[r.urgency], r.created_at, r.request_id))


# --- run the solver -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalResult:
    request_id: str
    proposal: RepairProposal
    event_seq: int


def run_repair(
    read_uow: UnitOfWork,
    write_uow: UnitOfWork,
    request_id: str,
    *,
    standby: bytes | None = None,
    standby_name: str = "standby.csv",
    time_limit: float = 10.0,
    actor: str | None = None,
    progress: Progress | None = None,
    only: bool = False,
) -> ProposalResult:
    """Read, solve outside any transaction, then store the proposal if the plan is unchanged.

    One proposal covers every open request of the run (the named one first), unless `only`:
    then the others stay open and the preview counts their absences (domain.md §9)."""
    from dispatcher.domain.solver.cpsat import cpsat_repair, extra_drivers_needed
    from dispatcher.domain.solver.greedy import greedy_repair

    check_time_limit(time_limit)
    with read_uow as uow:
        record = load_request(uow, request_id)
        if not record.open:
            raise Conflict(f"Repair request {record.request_id} is {record.status}; it is closed")
        run = load_run(uow, record.run_id)
        actor = _proposer(uow, actor)
        locked = run.locked and not is_amendment(record)
        version = load_version(uow, run)
        week_input = uow.runs.week_input(run, version.version)
        plan = uow.runs.plan(version.pk)
        config = current_config(uow)
        now = uow.now()
        others = _open_of_run(uow, run, exclude=record.request_id)
        covered = [record] if only else [record, *others]
        left_open = [] if not only else others
        eligibility = week_absences(uow, run.week)
        judged = week_absences(uow, run.week, as_of={r.request_id: now for r in covered})
    if locked:  # a gate: recorded, like the request refused on a locked run
        with write_uow as uow:
            raise refuse(
                uow,
                Action.REPAIR_PROPOSE,
                "run_not_locked",
                f"Run {run.run_id} is locked; repairs are disabled",
                actor_id=actor,
                actor_role=None,
                reason=None,
                run_id=run.run_id,
                plan_version=run.current_version,
            )
    extra = _standby(standby, standby_name, week_input.driver_map()) if standby else ()
    scope = RepairScope.from_document(record.scope)
    boundary = {} if version.boundary is None else version.boundary.for_driver()
    problem, frozen = build_problem(
        week_input,
        plan,
        absent=record.driver_id,
        scope=scope,
        now=now,
        freeze_hours=config.freeze_window_hours,
        other_absences=eligibility,
        boundary=boundary,
        standby=extra,
        also=[(r.driver_id, RepairScope.from_document(r.scope)) for r in covered[1:]],
    )
    if progress:
        progress(f"{len(problem.affected)} affected tours, {len(frozen)} frozen; solving")
    started = time.perf_counter()
    solution = cpsat_repair(problem, time_limit=time_limit, progress=progress)
    second = cpsat_repair(problem, time_limit=time_limit)
    greedy = greedy_repair(problem)
    extra_needed = extra_drivers_needed(problem, solution.uncovered) if solution.uncovered else 0
    if progress:
        progress(f"done in {time.perf_counter() - started:.1f} s")
    solved = _Solved(problem, frozen, solution, second.plan, greedy, extra_needed, time_limit)
    document = _proposal_document(
        record,
        run,
        version,
        plan,
        now,
        solved,
        extra,
        covered=covered,
        left_open=left_open,
        absences=judged,
    )
    proposal = RepairProposal.from_document(document)
    requests = [r.request_id for r in covered]
    with write_uow as uow:
        record = load_request(uow, request_id)
        run = load_run(uow, record.run_id)
        still = [r.request_id for r in _open_of_run(uow, run, exclude=record.request_id)]
        if (
            not record.open
            or run.current_version != version.version
            or (run.locked and not is_amendment(record))
            or sorted(still) != sorted(r.request_id for r in [*covered[1:], *left_open])
        ):
            raise Conflict(
                "The plan or its repair requests changed while solving; run run-repair again"
            )
        event = record_event(
            uow,
            EventDraft(
                Action.REPAIR_PROPOSE,
                actor_id=actor,
                run_id=run.run_id,
                plan_version=version.version,
                detail={
                    "request_id": record.request_id,
                    "request_ids": requests,
                    "left_open": list(proposal.left_open),
                    "proposal_hash": proposal.digest,
                    **asdict(proposal.objective),
                    "proven_optimal": proposal.solver.proven_optimal,
                    "uncovered": [u.instance_id for u in proposal.uncovered],
                },
            ),
        )
        for each in requests:  # one proposal for all it covers
            uow.repairs.save_proposal(
                each, proposal.document, version.version, uow.now(), event.seq
            )
        uow.commit()
    return ProposalResult(record.request_id, proposal, event.seq)


def _proposer(uow: UnitOfWork, actor: str | None) -> str:
    """Who the proposal is recorded for: `--by`, a registered active user, else `system`."""
    if actor is None:
        return "system"
    try:
        user = bound_user(uow, actor)
    except StateMismatch as mismatch:
        raise InvalidInput(f"--by: {mismatch.message}") from None
    if user is None or not user.active:
        raise InvalidInput(f"--by: {actor.strip()!r} is not a registered active user")
    return user.user_id


def _open_of_run(uow: UnitOfWork, run: RunRecord, exclude: str) -> list[RepairRecord]:
    """The run's open requests other than `exclude`, oldest first."""
    return sorted(
        (
            r
            for r in uow.repairs.list(week=run.week)
            if r.open and r.run_id == run.run_id and r.request_id != exclude
        ),
        key=lambda r: (r.created_at, r.request_id),
    )


def _covered(record: RepairRecord) -> dict[str, Any]:
    scope = RepairScope.from_document(record.scope)
    return {
        "request_id": record.request_id,
        "driver_id": record.driver_id,
        "type": record.absence_type,
        "scope": scope.describe(),
    }


def _standby(data: bytes, name: str, existing: dict[str, Driver]) -> tuple[Driver, ...]:
    drivers = parse_drivers_csv(data, name)
    known = {id_key(d.driver_id): d for d in existing.values()}
    for driver in drivers:
        if id_key(driver.driver_id) in known:
            same = known[id_key(driver.driver_id)].driver_id
            also = (
                "" if same == driver.driver_id else f" as {same} (ids are compared ignoring case)"
            )
            raise InvalidInput(
                f"{name}: standby driver {driver.driver_id} is already in the run{also}"
            )
    return drivers


@dataclass(frozen=True)
class _Solved:
    """What run-repair computed: the problem, its frozen tours, the solution, the second solve's
    plan (reproducibility), the greedy comparison and the extra drivers still needed."""

    problem: RepairProblem
    frozen: tuple[str, ...]
    solution: RepairSolution
    second_plan: dict[str, str]
    greedy: RepairSolution
    extra_needed: int
    time_limit: float


def _proposal_document(
    record: RepairRecord,
    run: RunRecord,
    version: VersionRecord,
    base_plan: dict[str, str],
    now: datetime,
    solved: _Solved,
    standby: tuple[Driver, ...],
    *,
    covered: list[RepairRecord],
    left_open: list[RepairRecord],
    absences: tuple[Absence, ...],
) -> dict[str, Any]:
    """The proposal as it is stored, printed and hashed (read back by RepairProposal)."""
    problem, solution, greedy = solved.problem, solved.solution, solved.greedy
    changes = [[i, base_plan.get(i), solution.plan.get(i)] for i in solution.moved]
    used = {d for _, _, d in changes if d is not None}
    thresholds = DriftThresholds.from_document(version.config["drift_thresholds"])
    current = assess(
        problem.week_input,
        base_plan,
        repro=ReproCheck("-", "-"),
        thresholds=thresholds,
        baseline=None,
        absences=absences,
        parent_plan=None,
    )
    proposed = assess(
        problem.week_input,
        solution.plan,
        repro=ReproCheck("-", "-"),
        thresholds=thresholds,
        baseline=None,
        absences=absences,
        parent_plan=base_plan,
    )
    return {
        "request_id": record.request_id,
        "requests": [_covered(r) for r in covered],
        "left_open": [r.request_id for r in left_open],
        "run_id": run.run_id,
        "base_version": version.version,
        "as_of": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "solver": {
            "name": solution.solver,
            "proven_optimal": solution.proven_optimal,
            "time_limit_ms": int(solved.time_limit * 1000),
            "runtime_ms": solution.runtime_ms,
            "notes": list(solution.notes),
            "output_hash": output_hash(solution.plan),
            "second_solve_hash": output_hash(solved.second_plan),
        },
        "affected": list(problem.affected),
        "frozen": list(solved.frozen),
        "uncovered": [
            {"instance_id": i, "reason": uncovered_reason(problem, solution.plan, i)}
            for i in solution.uncovered
        ],
        "extra_drivers_needed": solved.extra_needed,
        "changes": changes,
        "standby": [d.as_document() for d in standby if d.driver_id in used],
        "objective": {
            "covered": len(problem.affected) - len(solution.uncovered),
            "affected": len(problem.affected),
            "drivers_changed": len(solution.changed_drivers),
            "moved": len(solution.moved),
            "max_weekly_minutes": solution.max_work_changed,
        },
        "greedy": {
            "covered": len(problem.affected) - len(greedy.uncovered),
            "drivers_changed": len(greedy.changed_drivers),
            "moved": len(greedy.moved),
        },
        "current": _summary(current),
        "proposed": _summary(proposed),
        "plan_hash": digest(sorted(solution.plan.items())),
        # the week's absences it was computed against: apply refuses it when they changed
        "absences_hash": absences_digest(absences),
    }


def _summary(assessment: Any) -> dict[str, Any]:
    return {
        "audits": {
            a.name: len(a.violations)
            for a in assessment.report.results
            if a.name != "Reproducibility"
        },
        "kpis": assessment.kpis.as_document(),
        "drift": {m.metric: m.level for m in assessment.drift.metrics},
    }


# --- review -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriverDiff:
    driver_id: str
    name: str
    days: list[tuple[str, str, str]]  # changed days: (day, before, after) with instance ids
    hours_before: int
    hours_after: int
    week: list[tuple[str, str, str]]  # every day: (day, before, after) as `05:00-14:30 2er-reg`


@dataclass(frozen=True)
class RepairDetail:
    record: RepairRecord
    diff: list[DriverDiff]
    stale: str | None  # why apply-repair would refuse the proposal as stale, None if it is not


def show_repair(uow: UnitOfWork, request_id: str) -> RepairDetail:
    with uow:
        record = load_request(uow, request_id)
        run = load_run(uow, record.run_id)
        diff: list[DriverDiff] = []
        stale = None
        proposal = record.proposal
        if proposal is not None:
            base = proposal.base_version
            if record.open:
                covered, absences = _covered_by(uow, run, record)
                freeze = current_config(uow).freeze_window_hours
                stale = _stale(uow, run, covered, proposal, absences, freeze)
            version = load_version(uow, run, base)
            week_input = uow.runs.week_input(run, base).with_drivers(proposal.standby)
            before = uow.runs.plan(version.pk)
            after = proposal.plan_after(before)
            diff = _diff(week_input, before, after)
    return RepairDetail(record, diff, stale)


def _diff(week_input: Any, before: dict[str, str], after: dict[str, str]) -> list[DriverDiff]:
    changed = sorted(
        {
            d
            for i in set(before) | set(after)
            if before.get(i) != after.get(i)
            for d in (before.get(i), after.get(i))
            if d is not None
        }
    )
    instances = week_input.instances()
    roster_before, roster_after = Roster.build(instances, before), Roster.build(instances, after)
    names = week_input.driver_map()
    result = []
    for driver in changed:
        days_before = {d.day: d for d in roster_before.days.get(driver, ())}
        days_after = {d.day: d for d in roster_after.days.get(driver, ())}
        rows, week = [], []
        for day in range(1, 8):
            b, a = _day_text(days_before.get(day)), _day_text(days_after.get(day))
            if b != a:
                rows.append((DAY_NAMES[day - 1], b, a))
            week.append(
                (DAY_NAMES[day - 1], _short(days_before.get(day)), _short(days_after.get(day)))
            )
        name = names[driver].name if driver in names else driver
        result.append(
            DriverDiff(
                driver, name, rows, roster_before.work(driver), roster_after.work(driver), week
            )
        )
    return result


def _short(day: Any) -> str:
    if day is None:
        return "-"
    start, end = format_clock(day.instances[0].tour.start), format_clock(day.last_end % 1440)
    return f"{start}-{end} {day.block_type}"


def _day_text(day: Any) -> str:
    if day is None:
        return "-"
    parts = [
        f"{i.instance_id} {format_clock(i.tour.start)}-{format_clock(i.tour.end)}"
        for i in day.instances
    ]
    return f"{day.block_type}: " + ", ".join(parts)


# --- apply and reject ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyResult:
    request_id: str
    run_id: str
    version: int
    status: str
    status_reason: str
    evidence_hash: str
    event_seq: int
    covered: list[str]  # every request the proposal covered, now APPLIED
    left_open: list[str]  # what each request still open means for the new version
    in_force: str | None = None  # the run's version still in force (`RUN-… v1 (published)`)
    # the run was published to replace the week's locked plan (in_force names that plan)
    successor: bool = False


def apply_repair(uow: UnitOfWork, request_id: str, approval: ApprovalInput) -> ApplyResult:
    """Checks in order (domain.md §9); any failure is recorded and exits 2."""
    with uow:
        record = load_request(uow, request_id)
        run = load_run(uow, record.run_id)
        typed = approval.trimmed()
        approver_id, role, reason = typed.approver_id, typed.role, typed.reason
        try:
            config = ensure_site(uow)
            approver = bound_user(uow, key) if (key := approval.approver_key) else None
            bound_run(uow, run)
            bound_open_repairs(uow, run.week)
        except StateMismatch as mismatch:
            raise refuse_mismatch(
                uow,
                Action.REPAIR_APPLY,
                mismatch,
                actor_id=approver_id,
                actor_role=role,
                reason=reason,
                run_id=run.run_id,
                plan_version=run.current_version,
            ) from None
        proposal = record.proposal
        covered, absences = _covered_by(uow, run, record)
        facts = ApplyFacts(
            approval=approval,
            approver=approver,
            allowed_roles=config.repair_roles,
            min_reason_length=config.min_reason_length,
            request_id=record.request_id,
            request_status=record.status,
            request_open=record.open,
            run_id=run.run_id,
            run_locked=run.locked,
            amendment=is_amendment(record),
            has_proposal=proposal is not None,
            stale=None
            if proposal is None
            else _stale(uow, run, covered, proposal, absences, config.freeze_window_hours),
            uncovered=len(proposal.uncovered) if proposal else 0,
            require_login=config.approvals_require_login,
            login=uow.session_login(),
        )
        failure = first_failure(evaluate(APPLY_CHECKS, facts))
        name, message = (failure.name, failure.message) if failure else ("", "")
        if message:
            raise refuse(
                uow,
                Action.REPAIR_APPLY,
                name,
                message,
                actor_id=approver_id,
                actor_role=role,
                reason=reason,
                run_id=run.run_id,
                plan_version=run.current_version,
            )
        assert proposal is not None and role is not None and reason is not None
        assert approver is not None
        approver_id = approver.user_id  # as registered, whatever case was typed
        base = load_version(uow, run, proposal.base_version)
        base_plan = uow.runs.plan(base.pk)
        new_plan = proposal.plan_after(base_plan)
        standby = proposal.standby
        new_version = base.version + 1
        origin = "amendment" if run.locked else "repair"  # a locked plan stays as it was
        if standby:
            uow.runs.add_drivers(run.pk, standby, new_version)
        week_input = uow.runs.week_input(run, new_version)
        solver = {
            "name": proposal.solver.name,
            "version": None,
            "seed": 0,
            "declared_output_hash": proposal.solver.second_solve_hash,
            "recorded_output_hash": output_hash(new_plan),
            "origin": origin,
            "proven_optimal": proposal.solver.proven_optimal,
            "time_limit_ms": proposal.solver.time_limit_ms,
        }
        context = creation_context(uow, Week.parse(run.week), config, absences=absences)
        requests = [r.request_id for r in covered]
        repair_doc = {
            "request_id": record.request_id,
            "request_ids": requests,
            "as_of": proposal.as_of,
            "frozen": list(proposal.frozen),
            "changes": [list(change) for change in proposal.changes],
        }

        def record_apply(new: NewVersion) -> tuple[AuditEvent, int]:
            applied = record_event(
                uow,
                EventDraft(
                    Action.REPAIR_APPLY,
                    actor_id=approver_id,
                    actor_role=role,
                    reason=reason,
                    run_id=run.run_id,
                    plan_version=new_version,
                    evidence_hash=new.evidence_hash,
                    detail={
                        "request_id": record.request_id,
                        "request_ids": requests,
                        "proposal_hash": proposal.digest,
                        "parent": base.version,
                        "origin": origin,
                        "status": new.status,
                    },
                ),
            )
            return applied, run.pk

        created = create_version(
            uow,
            week=run.week,
            solver_error=run.solver_error,
            week_input=week_input,
            plan=new_plan,
            version=new_version,
            origin=origin,
            solver=solver,
            context=context,
            record=record_apply,
            parent=(base.version, base_plan),
            repair=repair_doc,
            repair_request_id=record.request_id,
        )
        event = created.event
        for each in requests:
            uow.repairs.resolve(
                each,
                status=APPLIED,
                by=approver_id,
                reason=reason,
                at=uow.now(),
                event_seq=event.seq,
                applied_version=new_version,
            )
        left = _left_open_notes(uow, run, new_version, created.new.status, created.assessment)
        plans = plans_of_week(uow.queries, run.week)
        in_force = None
        successor = plans.successor is not None and plans.successor.run_id == run.run_id
        if plans.in_force is not None and (plans.in_force.run_id == run.run_id or successor):
            in_force = plans.in_force_text()
        uow.decisions.add_approval(
            run_pk=run.pk,
            version=new_version,
            action="repair.apply",
            approver_id=approver_id,
            role=role,
            reason=reason,
            override_reason=None,
            evidence_hash=created.new.evidence_hash,
            event_seq=event.seq,
            at=event.moment,
        )
        uow.commit()
    return ApplyResult(
        record.request_id,
        run.run_id,
        new_version,
        created.new.status,
        created.new.status_reason,
        created.new.evidence_hash,
        event.seq,
        requests,
        left,
        in_force,
        successor,
    )


def locked_refusal(run: RunRecord, amend: bool) -> str | None:
    """Why a request on this run is refused for its lock (None: it may be made)."""
    if amend and not run.locked:
        raise InvalidInput(
            f"--amend is for a locked run; {run.run_id} is not locked (repair it as usual)"
        )
    if run.locked and not amend:
        return f"Run {run.run_id} is locked; repairs are disabled"
    return None


def is_amendment(record: RepairRecord) -> bool:
    """Was the request made with --amend (a sick call after the lock)?"""
    return record.scope.get("amend") is True


def _stale(
    uow: UnitOfWork,
    run: RunRecord,
    covered: list[RepairRecord],
    proposal: RepairProposal,
    absences: tuple[Absence, ...],
    freeze_hours: int,
) -> str | None:
    """Why a proposal no longer fits the run (check `proposal_fresh`), or None."""
    if proposal.base_version != run.current_version:
        return STALE
    late = _overtaken(uow, run, proposal, freeze_hours)
    if late is not None:
        return late
    for other in covered[1:]:
        if not other.open:
            return (
                f"Repair proposal is stale: {other.request_id} it covers is {other.status}; "
                "run run-repair again"
            )
        theirs = other.proposal_document
        if theirs is None or digest(dict(theirs)) != proposal.digest:
            return (
                f"Repair proposal is stale: {other.request_id} has a newer proposal; "
                "run run-repair again"
            )
    known = {r.request_id for r in covered} | set(proposal.left_open)
    newer = [r.request_id for r in _open_of_run(uow, run, "") if r.request_id not in known]
    if newer:
        return (
            f"Repair proposal is stale: {newer[0]} was requested since it was computed; "
            "run run-repair again"
        )
    if proposal.absences_hash != absences_digest(absences):
        # a sick call on another run of the week, or a reject that withdrew an absence
        return (
            "Repair proposal is stale: the week's absences changed since it was computed; "
            "run run-repair again"
        )
    return None


def _covered_by(
    uow: UnitOfWork, run: RunRecord, record: RepairRecord
) -> tuple[list[RepairRecord], tuple[Absence, ...]]:
    """The requests the record's proposal covers (it first), and the week's absences as the
    proposal's as-of time binds them (empty without a proposal)."""
    proposal = record.proposal
    if proposal is None:
        return [record], ()
    covered = [record] + [
        load_request(uow, other) for other in proposal.covered_ids if other != record.request_id
    ]
    as_of = proposal.moment
    return covered, week_absences(uow, run.week, as_of={r.request_id: as_of for r in covered})


def _overtaken(
    uow: UnitOfWork, run: RunRecord, proposal: RepairProposal, freeze_hours: int
) -> str | None:
    """Time has overtaken the proposal: a tour it moves has started since it was computed, or
    a tour it moves without having to now lies inside the freeze window."""
    week_input = uow.runs.week_input(run, run.current_version)
    instances = {i.instance_id: i for i in week_input.instances()}
    now = uow.now()
    affected = set(proposal.affected)
    since = proposal.moment.astimezone(VIENNA).strftime("%a %H:%M")
    for instance_id, _, _ in proposal.changes:
        instance = instances.get(instance_id)
        if instance is None:
            continue
        start = start_instant(week_input.week, instance)
        if start <= now:
            return (
                f"Repair proposal is stale: {instance_id} it moves has started since it was "
                f"computed ({since} Vienna); run run-repair again"
            )
        if instance_id not in affected and start <= now + timedelta(hours=freeze_hours):
            return (
                f"Repair proposal is stale: {instance_id} it moves is now inside the "
                f"{freeze_hours} h freeze window; run run-repair again"
            )
    return None


def _left_open_notes(
    uow: UnitOfWork, run: RunRecord, version: int, status: str, assessment: Any
) -> list[str]:
    """Each request the new version leaves open, with what it does to its status:
    `v2 is FAIL until REP-…-2 is repaired: D010 is absent on Wed`; and a sick call made on
    another run of the week whose driver still drives here."""
    unavailable = {
        v.driver_id
        for a in assessment.report.results
        for v in a.violations
        if v.kind == "UNAVAILABLE"
    }
    notes = []
    for other in sorted(
        (r for r in uow.repairs.list(week=run.week) if r.open),
        key=lambda r: (r.created_at, r.request_id),
    ):
        days = _absence_days_text(other)
        if other.run_id != run.run_id:
            if other.driver_id in unavailable:
                notes.append(
                    f"v{version} is {status}: {other.driver_id} is absent on {days} "
                    f"({other.request_id} was made on {other.run_id}); request a repair on "
                    f"{run.run_id} for the driver"
                )
        elif other.driver_id in unavailable:
            notes.append(
                f"v{version} is {status} until {other.request_id} is repaired: "
                f"{other.driver_id} is absent on {days}"
            )
        else:
            notes.append(
                f"{other.request_id} ({other.driver_id}, {days}) stays open: it blocks publish "
                "and lock of the week until it is repaired or rejected"
            )
    return notes


def _absence_days_text(record: RepairRecord) -> str:
    """`Tue, Wed`, `the whole week`: the days a request makes its driver absent."""
    scope = record.scope
    if scope.get("kind") == "tours":
        return ", ".join(DAY_NAMES[d - 1] for d in scope.get("absence_days", ()))
    return RepairScope.from_document(scope).describe()


def reject_repair(
    uow: UnitOfWork, request_id: str, by: str, reason: str, *, driver_available: bool = False
) -> RepairRecord:
    """Close a request without changing the plan. Its absence stays a fact of the week unless
    `driver_available` says the driver is available after all (the event records which)."""
    with uow:
        record = load_request(uow, request_id)
        run_id = record.run_id
        refuse_unless_text(
            uow,
            Action.REPAIR_REJECT,
            {"User id": by, "Reason": reason},
            actor_id=by.strip() or None,
            reason=reason.strip() or None,
            run_id=run_id,
        )
        try:
            config = current_config(uow)
            user = bound_user(uow, by)
            bound_open_repairs(uow, record.week)
        except StateMismatch as mismatch:
            raise refuse_mismatch(
                uow,
                Action.REPAIR_REJECT,
                mismatch,
                actor_id=by.strip() or None,
                reason=reason.strip() or None,
                run_id=run_id,
            ) from None
        failure = first_failure(
            evaluate(
                REJECT_CHECKS,
                RejectFacts(
                    user,
                    config.repair_roles,
                    reason,
                    config.min_reason_length,
                    by,
                    config.approvals_require_login,
                    uow.session_login(),
                ),
            )
        )
        if failure is not None:
            raise refuse(
                uow,
                Action.REPAIR_REJECT,
                failure.name,
                failure.message,
                actor_id=user.user_id if user is not None else (by.strip() or None),
                actor_role=None,
                reason=reason.strip() or None,
                run_id=run_id,
            )
        assert user is not None
        if not record.open:
            raise Conflict(f"Repair request {record.request_id} is {record.status}; it is closed")
        event = record_event(
            uow,
            EventDraft(
                Action.REPAIR_REJECT,
                actor_id=user.user_id,
                reason=reason.strip(),
                run_id=run_id,
                detail={
                    "request_id": record.request_id,
                    "request_ids": [record.request_id],
                    "driver_available": driver_available,
                },
            ),
        )
        uow.repairs.resolve(
            record.request_id,
            status=REJECTED,
            by=user.user_id,
            reason=reason.strip(),
            at=uow.now(),
            event_seq=event.seq,
        )
        uow.commit()
        updated = load_request(uow, request_id)
    return updated
