"""The seven named audits (domain.md §3). Limits are inclusive: equal to the limit passes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from typing import Any

from dispatcher.domain.model import (
    DEFAULT_WEEKLY_CAP,
    MINUTES_PER_WEEK,
    Absence,
    Driver,
    Instance,
    Plan,
    Week,
    WeekInput,
    format_clock,
    instance_sort_key,
    start_instant,
)
from dispatcher.domain.vocabulary import (
    COVERAGE,
    DAY_NAMES,
    FATIGUE,
    OVERLAP,
    REPRODUCIBILITY,
    REST,
    SPAN_REGULAR,
    SPAN_SPLIT,
    format_hours,
)

NO_BOUNDARY_NOTE = "previous week: none locked"
NO_PRODUCER_HASH_NOTE = "no producer hash; recorded hash is the reference"

BLOCK_TYPES = ("1er", "2er-reg", "2er-split", "3er", "invalid")
REGULAR_SPAN_TYPES = ("1er", "2er-reg", "invalid")


@dataclass(frozen=True)
class Rules:
    """One rule set for audits, solver, repair and gates (written into every evidence pack)."""

    pause_min: int = 30
    pause_max: int = 60
    split_min: int = 240
    split_max: int = 360
    max_tours_per_day: int = 3
    span_regular: int = 840
    span_split: int = 960
    rest_min: int = 660
    weekly_cap: int = DEFAULT_WEEKLY_CAP
    fte_min: int = 2400

    def as_document(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


RULES = Rules()


# --- duty days ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DutyDay:
    """A driver's instances starting on one day, ordered by start, classified as a block."""

    driver_id: str
    day: int
    instances: tuple[Instance, ...]
    block_type: str
    gaps: tuple[int, ...]

    @property
    def first_start(self) -> int:
        return self.instances[0].start

    @property
    def last_end(self) -> int:
        return max(i.end for i in self.instances)

    @property
    def span(self) -> int:
        return self.last_end - self.first_start

    @property
    def work(self) -> int:
        return sum(i.duration for i in self.instances)

    @property
    def tours(self) -> int:
        return len(self.instances)


def classify_block(gaps: tuple[int, ...], rules: Rules = RULES) -> str:
    def pause(gap: int) -> bool:
        return rules.pause_min <= gap <= rules.pause_max

    if len(gaps) == 0:
        return "1er"
    if len(gaps) == 1:
        if pause(gaps[0]):
            return "2er-reg"
        if rules.split_min <= gaps[0] <= rules.split_max:
            return "2er-split"
        return "invalid"
    if len(gaps) == 2 and all(pause(g) for g in gaps):
        return "3er"
    return "invalid"


def duty_day(
    driver_id: str, day: int, instances: Iterable[Instance], rules: Rules = RULES
) -> DutyDay:
    ordered = tuple(
        sorted(instances, key=lambda i: (i.start, i.end, instance_sort_key(i.instance_id)))
    )
    gaps = tuple(b.start - a.end for a, b in pairwise(ordered))
    block = classify_block(gaps, rules) if len(ordered) <= rules.max_tours_per_day else "invalid"
    return DutyDay(driver_id, day, ordered, block, gaps)


@dataclass(frozen=True)
class Roster:
    """A plan seen per driver: duty days and weekly work."""

    days: Mapping[str, tuple[DutyDay, ...]]  # driver -> duty days by day

    @classmethod
    def build(cls, instances: Iterable[Instance], plan: Plan, rules: Rules = RULES) -> Roster:
        by_driver: dict[str, dict[int, list[Instance]]] = defaultdict(lambda: defaultdict(list))
        for instance in instances:
            driver = plan.get(instance.instance_id)
            if driver is not None:
                by_driver[driver][instance.day].append(instance)
        return cls(
            {
                driver: tuple(
                    duty_day(driver, day, items, rules) for day, items in sorted(days.items())
                )
                for driver, days in sorted(by_driver.items())
            }
        )

    def work(self, driver_id: str) -> int:
        return sum(d.work for d in self.days.get(driver_id, ()))

    def weekly_work(self) -> dict[str, int]:
        return {driver: self.work(driver) for driver in self.days}


# --- week boundary ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoundaryDay:
    """A driver's last duty day of the previous locked week, on this week's timeline."""

    driver_id: str
    day: int  # 1..7 in the previous week
    first_start: int  # negative: placed at -10080
    last_end: int
    tours: int

    def as_document(self) -> dict[str, Any]:
        return {
            "driver_id": self.driver_id,
            "day": self.day,
            "first_start": self.first_start,
            "last_end": self.last_end,
            "tours": self.tours,
        }


@dataclass(frozen=True)
class Boundary:
    run_id: str
    version: int
    evidence_hash: str
    days: tuple[BoundaryDay, ...]

    def as_document(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "version": self.version,
            "evidence_hash": self.evidence_hash,
            "duty_days": [d.as_document() for d in self.days],
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Boundary:
        return cls(
            doc["run_id"],
            doc["version"],
            doc["evidence_hash"],
            tuple(BoundaryDay(**d) for d in doc["duty_days"]),
        )

    @classmethod
    def from_roster(cls, run_id: str, version: int, evidence_hash: str, roster: Roster) -> Boundary:
        last = []
        for driver, days in roster.days.items():
            if days:
                d = days[-1]
                last.append(
                    BoundaryDay(
                        driver,
                        d.day,
                        d.first_start - MINUTES_PER_WEEK,
                        d.last_end - MINUTES_PER_WEEK,
                        d.tours,
                    )
                )
        return cls(run_id, version, evidence_hash, tuple(last))

    def for_driver(self) -> dict[str, BoundaryDay]:
        return {d.driver_id: d for d in self.days}


# --- violations and results ---------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    audit: str
    kind: str
    driver_id: str | None
    days: tuple[int, ...]
    dates: tuple[str, ...]
    instances: tuple[str, ...]
    value: int
    limit: int
    message: str

    def sort_key(self) -> tuple[str, int, tuple[str, int]]:
        first = instance_sort_key(self.instances[0]) if self.instances else ("", 0)
        return (self.driver_id or "", self.days[0] if self.days else 0, first)

    def as_document(self) -> dict[str, Any]:
        return {
            "audit": self.audit,
            "kind": self.kind,
            "driver_id": self.driver_id,
            "days": list(self.days),
            "dates": list(self.dates),
            "instances": list(self.instances),
            "value": self.value,
            "limit": self.limit,
            "message": self.message,
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Violation:
        return cls(
            doc["audit"],
            doc["kind"],
            doc["driver_id"],
            tuple(doc["days"]),
            tuple(doc["dates"]),
            tuple(doc["instances"]),
            doc["value"],
            doc["limit"],
            doc["message"],
        )


@dataclass(frozen=True)
class AuditResult:
    name: str
    violations: tuple[Violation, ...] = ()
    note: str | None = None

    @property
    def passed(self) -> bool:
        return not self.violations

    def kinds(self, *kinds: str) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.kind in kinds)

    def as_document(self) -> dict[str, Any]:
        return {
            "audit": self.name,
            "passed": self.passed,
            "note": self.note,
            "violations": [v.as_document() for v in self.violations],
        }


@dataclass(frozen=True)
class ReproCheck:
    """Reproducibility inputs: the recorded output hash, a recomputation, the producer's claim."""

    recorded: str
    recomputed: str
    declared: str | None = None
    recomputed_from: str = "stored rows"


@dataclass
class _Context:
    week_input: WeekInput
    plan: Plan
    rules: Rules
    boundary: Boundary | None
    absences: tuple[Absence, ...]
    instances: dict[str, Instance] = field(init=False)
    drivers: dict[str, Driver] = field(init=False)
    roster: Roster = field(init=False)

    def __post_init__(self) -> None:
        self.instances = {i.instance_id: i for i in self.week_input.instances()}
        self.drivers = self.week_input.driver_map()
        self.roster = Roster.build(self.instances.values(), self.plan, self.rules)

    def date(self, day: int) -> str:
        return self.week_input.week.date_of(day).isoformat()

    def violation(
        self,
        audit: str,
        kind: str,
        driver: str | None,
        days: Iterable[int],
        instances: Iterable[str],
        value: int,
        limit: int,
        message: str,
    ) -> Violation:
        day_list = tuple(days)
        dates = tuple(self.date(d) if d >= 1 else _previous_week_date(self, d) for d in day_list)
        return Violation(
            audit, kind, driver, day_list, dates, tuple(instances), value, limit, message
        )


def _previous_week_date(ctx: _Context, day: int) -> str:
    return ctx.week_input.week.previous().date_of(day + 7).isoformat()


def describe(instance: Instance) -> str:
    t = instance.tour
    hours = f"{format_clock(t.start)}-{format_clock(t.end)}"
    return f"{instance.instance_id} ({DAY_NAMES[t.day - 1]} {hours})"


def _sorted(violations: Iterable[Violation]) -> tuple[Violation, ...]:
    return tuple(sorted(violations, key=Violation.sort_key))


# --- the audits ---------------------------------------------------------------------------------


def coverage_audit(ctx: _Context) -> tuple[AuditResult, int]:
    """Returns the result and the number of validly covered instances."""
    unavailable = ctx.week_input.unavailable()
    requested = _requested(ctx.week_input, ctx.absences)
    found: list[Violation] = []
    covered = 0
    for iid, instance in ctx.instances.items():
        driver_id = ctx.plan.get(iid)
        day = instance.day
        if driver_id is None:
            found.append(
                ctx.violation(
                    COVERAGE,
                    "UNASSIGNED",
                    None,
                    [day],
                    [iid],
                    0,
                    1,
                    f"{describe(instance)} has no driver",
                )
            )
            continue
        problems: list[Violation] = []
        driver = ctx.drivers.get(driver_id)
        if driver is None or not driver.active:
            what = "is not in the driver list" if driver is None else "is inactive"
            problems.append(
                ctx.violation(
                    COVERAGE,
                    "INACTIVE_DRIVER",
                    driver_id,
                    [day],
                    [iid],
                    0,
                    1,
                    f"{driver_id} {what} but drives {describe(instance)}",
                )
            )
        skill = instance.skill
        if skill and (driver is None or skill not in driver.skills):
            problems.append(
                ctx.violation(
                    COVERAGE,
                    "MISSING_SKILL",
                    driver_id,
                    [day],
                    [iid],
                    0,
                    1,
                    f"{driver_id} lacks skill {skill} for {describe(instance)}",
                )
            )
        status: str | None = unavailable.get((driver_id, day))
        source = ""
        recorded = _binding(ctx.week_input, requested, driver_id, instance)
        if status is None and recorded is not None:
            status = recorded.status
            if recorded.since is not None:  # named since requests' absences became facts
                source = f" ({recorded.note})"
        if status is not None:
            problems.append(
                ctx.violation(
                    COVERAGE,
                    "UNAVAILABLE",
                    driver_id,
                    [day],
                    [iid],
                    0,
                    1,
                    _absent_message(driver_id, status, ctx.date(day), source, instance),
                )
            )
        found.extend(problems)
        covered += not problems
    return AuditResult(COVERAGE, _sorted(found)), covered


def _requested(
    week_input: WeekInput, absences: Iterable[Absence]
) -> dict[tuple[str, int], Absence]:
    """The absences repair requests recorded, by (driver, day of the week)."""
    requested: dict[tuple[str, int], Absence] = {}
    for absence in week_input.spelled(absences):
        day = week_input.week.day_of(date.fromisoformat(absence.date))
        if day is not None:
            requested.setdefault((absence.driver_id, day), absence)
    return requested


def _binding(
    week_input: WeekInput,
    requested: Mapping[tuple[str, int], Absence],
    driver_id: str,
    instance: Instance,
) -> Absence | None:
    """The recorded absence that forbids this driver this instance, if any."""
    recorded = requested.get((driver_id, instance.day))
    if recorded is not None and recorded.binds(start_instant(week_input.week, instance)):
        return recorded
    return None


def _absent_message(driver_id: str, status: str, day: str, source: str, instance: Instance) -> str:
    return f"{driver_id} is {status} on {day}{source} but drives {describe(instance)}"


def absent_assignments(
    week_input: WeekInput, plan: Plan, absences: Iterable[Absence]
) -> tuple[str, ...]:
    """Each tour the plan gives a driver on a day a recorded absence forbids it, as Coverage
    names it; publish and lock judge a version by the week's absences as they stand now."""
    requested = _requested(week_input, absences)
    found = []
    for instance in sorted(week_input.instances(), key=lambda i: instance_sort_key(i.instance_id)):
        driver_id = plan.get(instance.instance_id)
        recorded = (
            None if driver_id is None else _binding(week_input, requested, driver_id, instance)
        )
        if driver_id is not None and recorded is not None:
            day = week_input.week.date_of(instance.day).isoformat()
            source = f" ({recorded.note})" if recorded.since is not None else ""
            found.append(_absent_message(driver_id, recorded.status, day, source, instance))
    return tuple(found)


def overlap_audit(ctx: _Context) -> AuditResult:
    rules = ctx.rules
    found: list[Violation] = []
    for driver, days in ctx.roster.days.items():
        ordered = sorted((i for d in days for i in d.instances), key=lambda i: (i.start, i.end))
        for index, a in enumerate(ordered):
            for b in ordered[index + 1 :]:
                if b.start >= a.end:
                    break
                minutes = min(a.end, b.end) - b.start
                found.append(
                    ctx.violation(
                        OVERLAP,
                        "OVERLAP",
                        driver,
                        sorted({a.day, b.day}),
                        [a.instance_id, b.instance_id],
                        minutes,
                        0,
                        f"{describe(a)} overlaps {describe(b)} by {minutes} min",
                    )
                )
        for day in days:
            found.extend(_block_violations(ctx, day, rules))
    return AuditResult(OVERLAP, _sorted(found))


def _block_violations(ctx: _Context, day: DutyDay, rules: Rules) -> list[Violation]:
    name = DAY_NAMES[day.day - 1]
    if day.tours > rules.max_tours_per_day:
        return [
            ctx.violation(
                OVERLAP,
                "TOO_MANY_TOURS",
                day.driver_id,
                [day.day],
                [i.instance_id for i in day.instances],
                day.tours,
                rules.max_tours_per_day,
                f"{day.tours} tours on {name} (maximum {rules.max_tours_per_day})",
            )
        ]
    found = []
    for (a, b), gap in zip(pairwise(day.instances), day.gaps, strict=True):
        pair = [a.instance_id, b.instance_id]
        if gap < 0:
            continue  # reported as OVERLAP
        if gap < rules.pause_min:
            found.append(
                ctx.violation(
                    OVERLAP,
                    "SHORT_PAUSE",
                    day.driver_id,
                    [day.day],
                    pair,
                    gap,
                    rules.pause_min,
                    f"pause of {gap} min between {a.instance_id} and "
                    f"{b.instance_id} on {name} (minimum {rules.pause_min})",
                )
            )
        elif day.tours == 3 and gap > rules.pause_max:
            found.append(
                ctx.violation(
                    OVERLAP,
                    "INVALID_3ER",
                    day.driver_id,
                    [day.day],
                    pair,
                    gap,
                    rules.pause_max,
                    f"3-tour day on {name} with a gap of {gap} min between "
                    f"{a.instance_id} and {b.instance_id} (each gap must be "
                    f"{rules.pause_min}-{rules.pause_max})",
                )
            )
        elif day.tours == 2 and day.block_type == "invalid":
            found.append(
                ctx.violation(
                    OVERLAP,
                    "FORBIDDEN_GAP",
                    day.driver_id,
                    [day.day],
                    pair,
                    gap,
                    rules.pause_max,
                    f"gap of {gap} min between {a.instance_id} and "
                    f"{b.instance_id} on {name} (allowed {rules.pause_min}-"
                    f"{rules.pause_max} or {rules.split_min}-{rules.split_max})",
                )
            )
    return found


def rest_audit(ctx: _Context) -> AuditResult:
    rules = ctx.rules
    found: list[Violation] = []
    boundary = ctx.boundary.for_driver() if ctx.boundary else {}
    for driver, days in ctx.roster.days.items():
        previous: list[tuple[int, int, list[str]]] = []  # (day, last end, instances)
        if driver in boundary:
            b = boundary[driver]
            previous.append((b.day - 7, b.last_end, []))
        previous.extend((d.day, d.last_end, [i.instance_id for i in d.instances]) for d in days)
        starts = {d.day: (d.first_start, d.instances[0].instance_id) for d in days}
        for (day, end, _), (next_day, _, _) in pairwise(previous):
            start, first = starts[next_day]
            rest = start - end
            if rest < rules.rest_min:
                found.append(
                    ctx.violation(
                        REST,
                        "REST",
                        driver,
                        [day, next_day],
                        [first],
                        rest,
                        rules.rest_min,
                        f"rest of {format_hours(rest)} h between {_day_name(day)} and "
                        f"{_day_name(next_day)} (minimum {format_hours(rules.rest_min)} h)",
                    )
                )
    return AuditResult(REST, _sorted(found), None if ctx.boundary else NO_BOUNDARY_NOTE)


def _day_name(day: int) -> str:
    return DAY_NAMES[day - 1] if day >= 1 else f"previous {DAY_NAMES[day + 6]}"


def span_audits(ctx: _Context) -> tuple[AuditResult, AuditResult]:
    rules = ctx.rules
    regular: list[Violation] = []
    split: list[Violation] = []
    for driver, days in ctx.roster.days.items():
        for day in days:
            is_regular = day.block_type in REGULAR_SPAN_TYPES
            limit = rules.span_regular if is_regular else rules.span_split
            if day.span > limit:
                target = regular if is_regular else split
                target.append(
                    ctx.violation(
                        SPAN_REGULAR if is_regular else SPAN_SPLIT,
                        "SPAN",
                        driver,
                        [day.day],
                        [i.instance_id for i in day.instances],
                        day.span,
                        limit,
                        f"span of {format_hours(day.span)} h on {DAY_NAMES[day.day - 1]} "
                        f"({day.block_type}, limit {format_hours(limit)} h)",
                    )
                )
    return AuditResult(SPAN_REGULAR, _sorted(regular)), AuditResult(SPAN_SPLIT, _sorted(split))


def fatigue_audit(ctx: _Context) -> AuditResult:
    rules = ctx.rules
    found: list[Violation] = []
    boundary = ctx.boundary.for_driver() if ctx.boundary else {}
    for driver, days in ctx.roster.days.items():
        triples = {d.day: d for d in days if d.tours >= 3}
        b = boundary.get(driver)
        if b is not None and b.day == 7 and b.tours >= 3 and 1 in triples:
            found.append(
                ctx.violation(
                    FATIGUE,
                    "CONSECUTIVE_3ER",
                    driver,
                    [0, 1],
                    [triples[1].instances[0].instance_id],
                    2,
                    1,
                    "3-tour days on previous Sun and Mon",
                )
            )
        for day in sorted(triples):
            if day + 1 in triples:
                found.append(
                    ctx.violation(
                        FATIGUE,
                        "CONSECUTIVE_3ER",
                        driver,
                        [day, day + 1],
                        [
                            triples[day].instances[0].instance_id,
                            triples[day + 1].instances[0].instance_id,
                        ],
                        2,
                        1,
                        f"3-tour days on {DAY_NAMES[day - 1]} and {DAY_NAMES[day]}",
                    )
                )
        work = ctx.roster.work(driver)
        known = ctx.drivers.get(driver)
        cap = min(known.max_weekly_minutes, rules.weekly_cap) if known else rules.weekly_cap
        if work > cap:
            found.append(
                ctx.violation(
                    FATIGUE,
                    "WEEKLY_HOURS",
                    driver,
                    [],
                    [],
                    work,
                    cap,
                    f"{driver} works {format_hours(work)} h this week (cap {format_hours(cap)} h)",
                )
            )
    note = None if ctx.boundary else NO_BOUNDARY_NOTE
    return AuditResult(FATIGUE, _sorted(found), note)


def reproducibility_audit(ctx: _Context, repro: ReproCheck) -> AuditResult:
    found = []
    if repro.recomputed != repro.recorded:
        found.append(
            ctx.violation(
                REPRODUCIBILITY,
                "HASH_MISMATCH",
                None,
                [],
                [],
                0,
                0,
                f"output hash from {repro.recomputed_from} {repro.recomputed} differs from the "
                f"recorded {repro.recorded}",
            )
        )
    if repro.declared is not None and repro.declared != repro.recorded:
        found.append(
            ctx.violation(
                REPRODUCIBILITY,
                "HASH_MISMATCH",
                None,
                [],
                [],
                0,
                0,
                f"producer's output hash {repro.declared} differs from the recorded "
                f"{repro.recorded}",
            )
        )
    note = NO_PRODUCER_HASH_NOTE if repro.declared is None else None
    return AuditResult(REPRODUCIBILITY, tuple(found), note)


@dataclass(frozen=True)
class AuditReport:
    results: tuple[AuditResult, ...]
    covered: int
    total: int
    roster: Roster

    @property
    def passed_count(self) -> int:
        return sum(r.passed for r in self.results)

    def by_name(self) -> dict[str, AuditResult]:
        return {r.name: r for r in self.results}


def run_audits(
    week_input: WeekInput,
    plan: Plan,
    repro: ReproCheck,
    *,
    boundary: Boundary | None = None,
    absences: tuple[Absence, ...] = (),
    rules: Rules = RULES,
) -> AuditReport:
    """All seven audits, in their fixed order."""
    ctx = _Context(week_input, plan, rules, boundary, absences)
    coverage, covered = coverage_audit(ctx)
    span_regular, span_split = span_audits(ctx)
    results = (
        coverage,
        overlap_audit(ctx),
        rest_audit(ctx),
        span_regular,
        span_split,
        fatigue_audit(ctx),
        reproducibility_audit(ctx, repro),
    )
    return AuditReport(results, covered, len(ctx.instances), ctx.roster)


def schedule_breaks(
    week: Week,
    driver: Driver,
    instances: Iterable[Instance],
    boundary_day: BoundaryDay | None = None,
    rules: Rules = RULES,
) -> list[str]:
    """Names of the audits one driver's schedule would fail (coverage aside)."""
    items = list(instances)
    tours = {i.tour.tour_id: i.tour for i in items}
    week_input = WeekInput(week, tuple(tours.values()), (driver,))
    plan = {i.instance_id: driver.driver_id for i in items}
    boundary = None if boundary_day is None else Boundary("", 0, "", (boundary_day,))
    ctx = _Context(week_input, plan, rules, boundary, ())
    results = [overlap_audit(ctx), rest_audit(ctx), *span_audits(ctx), fatigue_audit(ctx)]
    return [r.name for r in results if not r.passed]
