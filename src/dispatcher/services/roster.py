"""The week at a glance: a driver x day matrix of a plan version, with violations in place."""

from __future__ import annotations

from dataclasses import dataclass, field

from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.audits import Roster
from dispatcher.domain.errors import InvalidInput, NotFound
from dispatcher.domain.model import Instance, format_clock, instance_sort_key
from dispatcher.domain.parsing import DAY_ALIASES
from dispatcher.services.review import load_run, load_version


@dataclass(frozen=True)
class Tour:
    instance_id: str
    start: str
    end: str
    start_minute: int  # minutes from the day's midnight (end may pass 24:00)
    end_minute: int
    skill: str | None


@dataclass(frozen=True)
class Cell:
    block_type: str
    start: str
    end: str
    tours: list[Tour]
    violations: list[str]


@dataclass(frozen=True)
class RosterRow:
    driver_id: str
    name: str
    minutes: int
    cells: dict[int, Cell]
    violations: list[str] = field(default_factory=list)  # week-level (weekly hours)


@dataclass(frozen=True)
class RosterView:
    run_id: str
    version: int
    week: str
    dates: dict[int, str]
    rows: list[RosterRow]
    uncovered: list[tuple[int, Tour]]
    total_rows: int
    page: int
    pages: int


def parse_day(text: str | None) -> int | None:
    if text is None:
        return None
    day = DAY_ALIASES.get(text.strip().lower())
    if day is None:
        raise InvalidInput(f"Unknown day {text!r}: use Mon-Sun or 1-7")
    return day


def roster_view(
    uow: UnitOfWork,
    run_id: str,
    *,
    version: int | None = None,
    driver: str | None = None,
    day: str | None = None,
    page: int = 1,
    page_size: int = 0,
) -> RosterView:
    """Rows of drivers (all, one, or those working `day`), a page at a time if asked."""
    day_number = parse_day(day)
    with uow:
        run = load_run(uow, run_id)
        record = load_version(uow, run, version)
        week_input = uow.runs.week_input(run, record.version)
        plan = uow.runs.plan(record.pk)
        audits = uow.runs.audit_results(record.pk)
    roster = Roster.build(week_input.instances(), plan)
    names = week_input.driver_map()
    marks: dict[tuple[str, int], list[str]] = {}
    weekly: dict[str, list[str]] = {}
    for audit in audits:
        for v in audit.violations:
            if v.driver_id is None:
                continue
            if not v.days:
                weekly.setdefault(v.driver_id, []).append(v.kind)
            for d in v.days:
                if d >= 1:
                    marks.setdefault((v.driver_id, d), []).append(v.kind)
    rows = []
    for driver_id, days in roster.days.items():
        cells = {}
        for duty in days:
            base = (duty.day - 1) * 1440
            tours = [_tour(i, base) for i in duty.instances]
            cells[duty.day] = Cell(
                duty.block_type,
                format_clock(duty.instances[0].tour.start),
                format_clock(duty.last_end % 1440),
                tours,
                sorted(set(marks.get((driver_id, duty.day), []))),
            )
        name = names[driver_id].name if driver_id in names else "?"
        rows.append(
            RosterRow(
                driver_id,
                name,
                roster.work(driver_id),
                cells,
                sorted(set(weekly.get(driver_id, []))),
            )
        )
    if driver is not None:
        rows = [r for r in rows if r.driver_id == driver.strip()]
        if not rows:
            raise NotFound(f"Driver {driver} has no tours in {run.run_id} v{record.version}")
    if day_number is not None:
        rows = [r for r in rows if day_number in r.cells]
    total = len(rows)
    pages = max(1, -(-total // page_size)) if page_size else 1
    if page < 1 or page > pages:
        raise InvalidInput(f"Page {page} does not exist: there are {pages}")
    if page_size:
        rows = rows[(page - 1) * page_size : page * page_size]
    uncovered = sorted(
        (
            (i.day, _tour(i, (i.day - 1) * 1440))
            for i in week_input.instances()
            if i.instance_id not in plan
        ),
        key=lambda item: (item[0], item[1].start_minute, instance_sort_key(item[1].instance_id)),
    )
    if day_number is not None:
        uncovered = [u for u in uncovered if u[0] == day_number]
    dates = {d: week_input.week.date_of(d).isoformat() for d in range(1, 8)}
    return RosterView(
        run.run_id, record.version, run.week, dates, rows, uncovered, total, page, pages
    )


def _tour(instance: Instance, base: int) -> Tour:
    return Tour(
        instance.instance_id,
        format_clock(instance.tour.start),
        format_clock(instance.tour.end),
        instance.start - base,
        instance.end - base,
        instance.skill,
    )
