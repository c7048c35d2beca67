"""Everything the shareable HTML report shows, gathered in one place."""

from __future__ import annotations

from dataclasses import dataclass

from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.views import EventRow
from dispatcher.services.results import RunDetail
from dispatcher.services.review import load_run, load_version, show_run
from dispatcher.services.roster import RosterView, roster_view

HOURS = 30  # 00:00 to 06:00 next day


@dataclass(frozen=True)
class WeekPoint:
    week: str
    run_id: str
    drivers: int
    coverage_bp: int


@dataclass(frozen=True)
class DayCoverage:
    day: int
    needed: list[int]  # tours running in each hour, 00:00 .. 06:00 next day
    covered: list[int]


@dataclass(frozen=True)
class ReportData:
    detail: RunDetail
    roster: RosterView
    history: list[WeekPoint]
    coverage: list[DayCoverage]
    approvals: list[EventRow]


def report_data(
    write_uow: UnitOfWork, read_uow: UnitOfWork, run_id: str, version: int | None = None
) -> ReportData:
    detail = show_run(write_uow, run_id, version)
    roster = roster_view(read_uow, run_id, version=version, page_size=0)
    with read_uow as uow:
        run = load_run(uow, run_id)
        record = load_version(uow, run, version)
        week_input = uow.runs.week_input(run, record.version)
        plan = uow.runs.plan(record.pk)
        approvals = uow.queries.decisions(run.run_id, ("publish", "lock", "repair.apply"))
        summaries = uow.queries.list_runs(limit=200)
    history: dict[str, WeekPoint] = {}
    for s in sorted(summaries, key=lambda s: (s.created_at is None, s.created_at)):
        if s.week <= run.week and (
            s.run_id == run.run_id or s.published_version is not None or s.week not in history
        ):
            history[s.week] = WeekPoint(s.week, s.run_id, s.drivers_used, s.coverage_bp)
    history[run.week] = WeekPoint(
        run.week, run.run_id, detail.kpis.drivers_used, detail.kpis.coverage_bp
    )
    coverage = []
    for day in range(1, 8):
        needed, covered = [0] * HOURS, [0] * HOURS
        base = (day - 1) * 1440
        for instance in week_input.instances():
            if instance.day != day:
                continue
            first = (instance.start - base) // 60
            last = min(HOURS, -(-(instance.end - base) // 60))
            for hour in range(first, last):
                needed[hour] += 1
                covered[hour] += instance.instance_id in plan
        if any(needed):
            coverage.append(DayCoverage(day, needed, covered))
    points = [history[w] for w in sorted(history)][-8:]
    return ReportData(detail, roster, points, coverage, approvals)
