"""Tiny builders for rosters in tests: times as text, one driver per plan entry."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dispatcher.domain.audits import AuditReport, Boundary, ReproCheck, run_audits
from dispatcher.domain.model import Absence, Driver, Tour, Week, WeekInput

WEEK = Week(2026, 3)  # Mon 2026-01-12 .. Sun 2026-01-18
SAME = ReproCheck("sha256:x", "sha256:x")


def minutes(clock: str) -> int:
    hours, mins = clock.split(":")
    return int(hours) * 60 + int(mins)


def tour(
    tour_id: str, day: int, start: str, end: str, *, count: int = 1, skill: str | None = None
) -> Tour:
    return Tour(tour_id, day, minutes(start), minutes(end), count, None, skill)


def driver(
    driver_id: str = "D1", *, skills: Iterable[str] = (), active: bool = True, cap: int = 3300
) -> Driver:
    return Driver(driver_id, f"Driver {driver_id}", tuple(skills), active, cap)


def audit(
    tours: Iterable[Tour],
    plan: Mapping[str, str],
    *,
    drivers: Iterable[Driver] | None = None,
    availability: Iterable[Absence] = (),
    boundary: Boundary | None = None,
    absences: tuple[Absence, ...] = (),
    repro: ReproCheck = SAME,
) -> AuditReport:
    driver_list = (
        tuple(drivers)
        if drivers is not None
        else tuple(driver(d) for d in sorted(set(plan.values())))
    )
    week_input = WeekInput(WEEK, tuple(tours), driver_list, tuple(availability))
    return run_audits(week_input, plan, repro, boundary=boundary, absences=absences)


def kinds(report: AuditReport, audit_name: str) -> list[str]:
    return [v.kind for v in report.by_name()[audit_name].violations]


def all_kinds(report: AuditReport) -> set[str]:
    return {v.kind for r in report.results for v in r.violations}
