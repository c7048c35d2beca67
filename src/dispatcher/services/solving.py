"""`solve`: a week's tours and drivers in, a stored run out (audited like an import)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from dispatcher import __version__
from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.audits import BoundaryDay
from dispatcher.domain.errors import InvalidInput
from dispatcher.domain.events import Action, EventDraft
from dispatcher.domain.evidence import output_hash
from dispatcher.domain.model import Week, WeekInput
from dispatcher.domain.parsing import (
    parse_availability_csv,
    parse_drivers_csv,
    parse_tours_csv,
    parse_tours_json,
)
from dispatcher.domain.records import NewVersion
from dispatcher.domain.solver import Progress
from dispatcher.domain.writers import run_file
from dispatcher.services.evidence import week_absences, week_boundary
from dispatcher.services.files import NewFile, check_new_file, new_files
from dispatcher.services.runs import create_run

if TYPE_CHECKING:
    from dispatcher.domain.solver.weekly import WeeklySolution

SOLVER_NAME = "dispatcher-weekly"
MAX_WORKERS = 16


@dataclass(frozen=True)
class InputFile:
    name: str
    data: bytes


@dataclass(frozen=True)
class SolveResult:
    run_id: str
    week: str
    status: str
    status_reason: str
    instances: int
    covered: int
    drivers_used: int
    pool_size: int
    lower_bound: dict[str, int]
    gap_bp: int
    reproduced: bool | None
    runtime_ms: int
    evidence_hash: str
    event_seq: int


def read_week_input(
    week: str,
    tours: InputFile,
    drivers: InputFile,
    availability: InputFile | None,
    tenant: str,
    site: str,
) -> WeekInput:
    """Parse the forecast (CSV or JSON), the driver list and optional availability."""
    parsed_week = Week.parse(week)
    if tours.name.lower().endswith(".json"):
        _, tour_list = parse_tours_json(tours.data, tours.name, tenant, site, parsed_week)
    else:
        tour_list = parse_tours_csv(tours.data, tours.name)
    driver_list = parse_drivers_csv(drivers.data, drivers.name)
    if not any(d.active for d in driver_list):
        raise InvalidInput(f"{drivers.name}: no active drivers")
    absences = (
        parse_availability_csv(availability.data, parsed_week, availability.name)
        if availability
        else ()
    )
    known = {d.driver_id for d in driver_list}
    for absence in absences:
        if absence.driver_id not in known:
            raise InvalidInput(
                f"{availability.name if availability else ''}: unknown driver {absence.driver_id}"
            )
    return WeekInput(parsed_week, tour_list, driver_list, absences)


MAX_TIME_LIMIT = 3600.0  # seconds: an hour of solving is a mistyped value, not a plan


def check_time_limit(seconds: float) -> None:
    """A solver's time limit: a finite number of seconds, above 0, at most an hour."""
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_TIME_LIMIT:
        raise InvalidInput(
            f"--time-limit must be a number of seconds above 0 and at most {MAX_TIME_LIMIT:.0f}"
        )


def solve_run(
    uow: UnitOfWork,
    week_input: WeekInput,
    *,
    seed: int = 0,
    time_limit: float = 120.0,
    workers: int = 1,
    recheck: bool = True,
    out: Path | None = None,
    actor: str = "system",
    progress: Progress | None = None,
) -> SolveResult:
    """Solve outside any transaction, solve again to check it repeats, then store the run."""
    from dispatcher.domain.solver.weekly import solve_week

    check_time_limit(time_limit)
    if not 1 <= workers <= MAX_WORKERS:
        raise InvalidInput(f"--workers must be between 1 and {MAX_WORKERS}")
    if out is not None:
        check_new_file(out)
    with uow:  # the previous week's locked plan: rest and 3er days across the boundary
        found = week_boundary(uow, week_input.week)
        # and the absences the week's repair requests recorded: the solver gives those
        # drivers no tour on those days (the audits judge them as facts of the week)
        recorded = week_absences(uow, str(week_input.week))
    boundary = found.for_driver() if found else {}
    stored_input = week_input
    week_input = replace(
        week_input,
        availability=(
            *week_input.availability,
            *(replace(a, since=None) for a in week_input.spelled(recorded)),
        ),
    )

    def solve(report: Progress | None) -> WeeklySolution:
        if workers == 1:
            return solve_week(
                week_input, seed=seed, time_limit=time_limit, boundary=boundary, progress=report
            )
        return _best_of(week_input, seed, time_limit, boundary, workers, report)

    solution = solve(progress)
    second = None
    if recheck:
        if progress:
            progress("solving again to check the result repeats")
        second = solve(None).plan
    solver = {
        "name": SOLVER_NAME,
        "version": __version__,
        "seed": seed,
        "workers": workers,
        "declared_output_hash": None if second is None else output_hash(second),
        "time_limit_ms": int(time_limit * 1000),
        "lower_bound": solution.bound.as_document(),
        "drivers_used": solution.drivers_used,
        "gap_bp": solution.gap_bp,
        "phases": list(solution.phases),
    }
    outputs: list[NewFile] = []
    if out is not None:  # rendered and placed first: a run is stored only with its file in place
        document = run_file(
            stored_input,
            solution.plan,
            tenant=uow.tenant,
            site=uow.site,
            solver={
                "name": SOLVER_NAME,
                "version": __version__,
                "seed": seed,
                "output_hash": output_hash(solution.plan),
            },
        )
        outputs.append((out, document.encode("utf-8"), 0o644))

    def draft(run_id: str, new: NewVersion) -> EventDraft:
        return EventDraft(
            Action.RUN_SOLVE,
            actor_id=actor,
            run_id=run_id,
            plan_version=1,
            evidence_hash=new.evidence_hash,
            detail={
                "week": str(week_input.week),
                "seed": seed,
                "drivers": solution.drivers_used,
                "lower_bound": solution.bound.value,
                "uncovered": len(solution.uncovered),
                "status": new.status,
            },
        )

    with uow, new_files(outputs):
        created, run = create_run(
            uow,
            stored_input,
            solution.plan,
            solver,
            origin="solve",
            draft=draft,
            meta={"time_limit_ms": int(time_limit * 1000)},
            runtime_ms=solution.runtime_ms,
        )
        uow.commit()
    kpis = created.new.kpis
    return SolveResult(
        run_id=run.run_id,
        week=run.week,
        status=created.new.status,
        status_reason=created.new.status_reason,
        instances=kpis.instances_total,
        covered=kpis.instances_covered,
        drivers_used=solution.drivers_used,
        pool_size=kpis.pool_size,
        lower_bound=solution.bound.as_document(),
        gap_bp=solution.gap_bp,
        reproduced=None if second is None else second == solution.plan,
        runtime_ms=solution.runtime_ms,
        evidence_hash=created.new.evidence_hash,
        event_seq=created.event.seq,
    )


def _best_of(
    week_input: WeekInput,
    seed: int,
    time_limit: float,
    boundary: Mapping[str, BoundaryDay],
    workers: int,
    progress: Progress | None,
) -> WeeklySolution:
    """Independent searches with seeds seed, seed+1, ... in parallel processes; the best by the
    objectives wins, ties to the lowest seed, so the result depends only on the inputs."""
    from concurrent.futures import ProcessPoolExecutor

    from dispatcher.domain.solver.weekly import solve_week

    if progress:
        progress(f"{workers} searches in parallel (seeds {seed}..{seed + workers - 1})")
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(
                solve_week, week_input, seed=seed + k, time_limit=time_limit, boundary=boundary
            )
            for k in range(workers)
        ]
        solutions = [f.result() for f in futures]
    return min(enumerate(solutions), key=lambda pair: (pair[1].rank, pair[0]))[1]
