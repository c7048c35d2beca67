"""The demo site: a realistic pilot week pair, written as files and imported like a user would."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.demo import make_site, plant_problems
from dispatcher.domain.errors import Conflict
from dispatcher.domain.events import Action, EventDraft
from dispatcher.domain.evidence import output_hash
from dispatcher.domain.model import User, Week
from dispatcher.domain.solver import Progress
from dispatcher.domain.writers import availability_csv, drivers_csv, run_file, tours_csv
from dispatcher.services.audit import record_event
from dispatcher.services.decisions import LOCK, PUBLISH, ApprovalInput, decide
from dispatcher.services.results import ImportResult
from dispatcher.services.runs import import_run
from dispatcher.services.site import ensure_site
from dispatcher.services.solving import SolveResult, solve_run
from dispatcher.services.trail import user_values

DEMO_WEEKS = (Week(2026, 2), Week(2026, 3))
DEMO_USERS = (
    User("admin01", "Platform Admin", ("platform_admin",)),
    User("disp001", "Maria Dispo", ("dispatcher",)),
    User("disp002", "Jonas Planer", ("dispatcher",)),
    User("ops001", "Olga Betrieb", ("ops_lead",)),
)
UowAt = Callable[[datetime], UnitOfWork]  # a write unit of work whose clock reads the instant


@dataclass(frozen=True)
class DemoResult:
    files: list[Path]
    runs: list[ImportResult]
    planted: list[str]
    planted_drivers: int  # the generator's roster for the solved week
    solved: SolveResult | None = None


def _at(day: str, time: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{time}+00:00").astimezone(UTC)


DEMO_START = _at("2026-01-05", "05:00")  # the demo database is created before its first step


def build_demo(
    uow_at: UowAt,
    seed: int,
    files_dir: Path,
    *,
    solve: bool = False,
    progress: Progress | None = None,
) -> DemoResult:
    """Users; W02 imported, published with an override (no baseline yet: WARN) and locked;
    W03 (PASS against the locked W02) and a hand-edited W03 run with planted faults (FAIL);
    with `solve`, W03 solved from its tours and drivers as well (the newest run)."""
    with uow_at(_at("2026-01-05", "06:00")) as uow:
        if uow.queries.list_runs(limit=1):
            raise Conflict("Database already has runs; use --fresh or another --db for the demo")
        ensure_site(uow)
        admin: str | None = None  # the first user bootstraps the registry, then registers others
        for user in DEMO_USERS:
            if uow.users.get(user.user_id) is None:
                event = record_event(
                    uow,
                    EventDraft(
                        Action.USER_ADD,
                        actor_id=admin or "system",
                        actor_role="platform_admin" if admin else None,
                        reason="Demo site set-up",
                        detail=user_values(user),
                    ),
                    uow.tenant_log,
                )
                if admin is None and user.holds("platform_admin"):
                    admin = user.user_id
                uow.users.add(user, uow.now(), event.seq)
        uow.commit()
    site = make_site(seed, DEMO_WEEKS)
    files_dir.mkdir(parents=True, exist_ok=True)
    written = [files_dir / "drivers.csv"]
    written[0].write_text(drivers_csv(site.drivers), encoding="utf-8")
    solver = {"name": "demo-generator", "version": "1", "seed": seed}
    run_files = []
    for demo_week in site.weeks:
        w = demo_week.week_input.week
        for name, text in (
            (f"tours-{w}.csv", tours_csv(demo_week.week_input.tours)),
            (f"availability-{w}.csv", availability_csv(demo_week.week_input.availability)),
        ):
            (files_dir / name).write_text(text, encoding="utf-8")
            written.append(files_dir / name)
        declared = {**solver, "output_hash": output_hash(demo_week.plan)}
        path = files_dir / f"run-{w}.json"
        path.write_text(
            run_file(
                demo_week.week_input,
                demo_week.plan,
                tenant=uow.tenant,
                site=uow.site,
                solver=declared,
            ),
            encoding="utf-8",
        )
        written.append(path)
        run_files.append(path)
    planted_plan, planted = plant_problems(site.weeks[1])
    planted_path = files_dir / f"run-{DEMO_WEEKS[1]}-planted.json"
    planted_path.write_text(
        run_file(
            site.weeks[1].week_input,
            planted_plan,
            tenant=uow.tenant,
            site=uow.site,
            solver={**solver, "name": "demo-generator-hand-edited"},
        ),
        encoding="utf-8",
    )
    written.append(planted_path)

    results = [_import(uow_at(_at("2026-01-05", "07:00")), run_files[0])]
    first = results[0].run_id
    override = "First pilot week: there is no earlier locked week to compare against"
    decide(
        uow_at(_at("2026-01-07", "09:00")),
        first,
        PUBLISH,
        ApprovalInput(
            "disp001",
            "dispatcher",
            "Week 2026-W02 reviewed: all 7 audits pass, full coverage",
            override,
        ),
    )
    decide(
        uow_at(_at("2026-01-08", "10:00")),
        first,
        LOCK,
        ApprovalInput("ops001", "ops_lead", "Approved for export to the dispatch system", override),
    )
    results.append(_import(uow_at(_at("2026-01-12", "06:30")), planted_path))
    results.append(_import(uow_at(_at("2026-01-12", "07:00")), run_files[1]))
    solved = None
    if solve:
        solved = solve_run(
            uow_at(_at("2026-01-12", "07:30")), site.weeks[1].week_input, progress=progress
        )
    planted_drivers = len(set(site.weeks[1].plan.values()))
    return DemoResult(written, results, planted, planted_drivers, solved)


def _import(uow: UnitOfWork, path: Path) -> ImportResult:
    return import_run(uow, path.read_bytes(), path.name, actor="system")
