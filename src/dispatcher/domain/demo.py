"""A realistic pilot-sized demo site (about 145 drivers, 1,400 tour instances Mon-Sat).

Valid driver weeks are built first (every rule checked by the real audits), then merged into a
tour forecast, so a full-coverage roster is known to exist. Deterministic for a seed.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

from dispatcher.domain.audits import ReproCheck, Rules, run_audits
from dispatcher.domain.model import (
    Absence,
    AvailabilityStatus,
    Driver,
    Tour,
    Week,
    WeekInput,
    format_clock,
)
from dispatcher.domain.vocabulary import AUDIT_COUNT

FIRST_NAMES = (
    "Maria",
    "Jonas",
    "Petra",
    "Emre",
    "Lukas",
    "Anna",
    "David",
    "Sarah",
    "Florian",
    "Julia",
    "Stefan",
    "Katharina",
    "Michael",
    "Lisa",
    "Thomas",
    "Elif",
    "Andreas",
    "Sophie",
    "Markus",
    "Laura",
    "Daniel",
    "Nina",
    "Tobias",
    "Eva",
    "Mehmet",
    "Ivana",
    "Marko",
    "Alexandra",
    "Patrick",
    "Verena",
    "Dominik",
    "Sabine",
    "Christoph",
    "Ayse",
    "Bernhard",
    "Monika",
    "Goran",
    "Teresa",
)
LAST_NAMES = (
    "Berger",
    "Huber",
    "Wallner",
    "Yilmaz",
    "Gruber",
    "Bauer",
    "Wagner",
    "Pichler",
    "Steiner",
    "Moser",
    "Mayer",
    "Hofer",
    "Leitner",
    "Fischer",
    "Schwarz",
    "Weber",
    "Schmid",
    "Winkler",
    "Brunner",
    "Lang",
    "Kovac",
    "Horvat",
    "Novak",
    "Demir",
    "Kaya",
    "Auer",
    "Eder",
    "Fuchs",
    "Reiter",
    "Lehner",
    "Haas",
    "Wimmer",
    "Egger",
    "Koller",
    "Petrovic",
    "Nikolic",
    "Aigner",
)
DEPOTS = ("NORD", "SUED", "WEST")
PATTERNS = {"early": (4 * 60, 7 * 60), "mid": (8 * 60, 10 * 60 + 30), "late": (12 * 60, 14 * 60)}
WORKDAYS = (1, 2, 3, 4, 5, 6)  # Mon-Sat
BLOCK_WEIGHTS = (("2er-reg", 58), ("1er", 9), ("3er", 15), ("2er-split", 18))
FTE_RANGE = (2400, 3120)  # 40 h .. 52 h: full time, below the WARN line for max hours


@dataclass(frozen=True)
class DemoWeek:
    week_input: WeekInput
    plan: dict[str, str]


@dataclass(frozen=True)
class DemoSite:
    drivers: tuple[Driver, ...]
    weeks: tuple[DemoWeek, ...]


def make_drivers(rng: random.Random, count: int = 150) -> tuple[Driver, ...]:
    drivers = []
    used: set[str] = set()
    for number in range(1, count + 1):
        while True:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            if name not in used:
                used.add(name)
                break
        skills = []
        if rng.random() < 0.18:
            skills.append("ADR")
        if rng.random() < 0.22:
            skills.append("KUEHL")
        roll = rng.random()
        cap = 3300 if roll < 0.87 else 2910 if roll < 0.97 else 1800  # 55 h, 48.5 h, 30 h
        drivers.append(
            Driver(
                driver_id=f"D{number:03d}",
                name=name,
                skills=tuple(sorted(skills)),
                active=number % 50 != 0,  # three inactive drivers in a pool of 150
                max_weekly_minutes=cap,
                depot=DEPOTS[number % len(DEPOTS)],
            )
        )
    return tuple(drivers)


@dataclass(frozen=True)
class _Shift:
    day: int
    start: int  # minute of day
    end: int  # minute of day (may be < start: crosses midnight)
    skill: str | None
    depot: str | None


def _weighted(rng: random.Random) -> str:
    roll = rng.uniform(0, sum(w for _, w in BLOCK_WEIGHTS))
    for name, weight in BLOCK_WEIGHTS:
        roll -= weight
        if roll <= 0:
            return name
    return BLOCK_WEIGHTS[0][0]


def _day_shifts(
    rng: random.Random, driver: Driver, day: int, base: int, block: str
) -> list[_Shift]:
    start = base + rng.choice((0, 0, 30))
    if block == "3er":
        lengths = [rng.choice((210, 240)) for _ in range(3)]
        gaps = [rng.choice((30, 45)) for _ in range(2)]
    elif block == "2er-split":
        lengths = [rng.choice((240, 270)) for _ in range(2)]
        gaps = [rng.choice((240, 300))]
    elif block == "2er-reg":
        lengths = [rng.choice((240, 270, 300)) for _ in range(2)]
        gaps = [rng.choice((30, 45))]
    else:
        lengths = [rng.choice((270, 300))]
        gaps = []
    shifts = []
    at = start
    for index, length in enumerate(lengths):
        skill = None
        if driver.skills and rng.random() < 0.35:
            skill = rng.choice(driver.skills)
        shifts.append(_Shift(day, at % 1440, (at + length) % 1440, skill, driver.depot))
        at += length + (gaps[index] if index < len(gaps) else 0)
    return shifts


def _driver_week(
    rng: random.Random, driver: Driver, week: Week, rules: Rules, attempts: int = 60
) -> list[_Shift]:
    """A week of shifts that passes every audit for this driver, or [] if none was found."""
    pattern = rng.choice(tuple(PATTERNS))
    low, high = PATTERNS[pattern]
    base = rng.randrange(low, high + 1, 30)
    target_low, target_high = FTE_RANGE
    part_time = driver.max_weekly_minutes < target_low
    if part_time:
        target_low, target_high = driver.max_weekly_minutes - 600, driver.max_weekly_minutes
    target_high = min(target_high, driver.max_weekly_minutes)
    for _ in range(attempts):
        day_count = rng.choice((3, 4)) if part_time else rng.choice((5, 5, 4, 5, 6, 4))
        days = sorted(rng.sample(WORKDAYS, day_count))
        shifts: list[_Shift] = []
        previous_triple = False
        for day in days:
            block = rng.choice(("1er", "2er-reg")) if part_time else _weighted(rng)
            if block == "3er" and previous_triple:
                block = "2er-reg"
            previous_triple = block == "3er"
            shifts.extend(_day_shifts(rng, driver, day, base, block))
        if _valid(shifts, driver, week, rules, target_low, target_high):
            return shifts
    return []


def _valid(
    shifts: list[_Shift], driver: Driver, week: Week, rules: Rules, low: int, high: int
) -> bool:
    tours = tuple(
        Tour(f"X{i}", s.day, s.start, s.end, 1, s.depot, s.skill) for i, s in enumerate(shifts)
    )
    work = sum(t.duration for t in tours)
    if not low <= work <= high:
        return False
    week_input = WeekInput(week, tours, (driver,))
    plan = {f"X{i}#1": driver.driver_id for i in range(len(shifts))}
    report = run_audits(week_input, plan, ReproCheck("-", "-"), rules=rules)
    return report.passed_count == AUDIT_COUNT


def make_week(
    rng: random.Random, drivers: tuple[Driver, ...], week: Week, away: int = 2
) -> DemoWeek:
    """Build every working driver's week, then merge identical shifts into counted tours."""
    rules = Rules()
    active = [d for d in drivers if d.active]
    on_leave = {d.driver_id for d in rng.sample(active, away)}
    availability = tuple(
        Absence(driver_id, week.date_of(day).isoformat(), AvailabilityStatus.VACATION, "vacation")
        for driver_id in sorted(on_leave)
        for day in WORKDAYS
    )
    by_line: dict[tuple[int, int, int, str | None, str | None], list[str]] = defaultdict(list)
    for driver in active:
        if driver.driver_id in on_leave:
            continue
        for shift in _driver_week(rng, driver, week, rules):
            by_line[(shift.day, shift.start, shift.end, shift.depot, shift.skill)].append(
                driver.driver_id
            )
    tours, plan = [], {}
    counters: dict[int, int] = defaultdict(int)
    for key in sorted(by_line, key=lambda k: (k[0], k[1], k[2], k[3] or "", k[4] or "")):
        day, start, end, depot, skill = key
        counters[day] += 1
        tour_id = f"T{day}{counters[day]:03d}"
        holders = sorted(by_line[key])
        notes = "night run" if end < start else None
        tours.append(Tour(tour_id, day, start, end, len(holders), depot, skill, notes))
        for n, driver_id in enumerate(holders, start=1):
            plan[f"{tour_id}#{n}"] = driver_id
    return DemoWeek(WeekInput(week, tuple(tours), drivers, availability), plan)


def make_site(seed: int, weeks: tuple[Week, ...]) -> DemoSite:
    rng = random.Random(seed)
    drivers = make_drivers(rng)
    return DemoSite(drivers, tuple(make_week(rng, drivers, week) for week in weeks))


def plant_problems(demo: DemoWeek) -> tuple[dict[str, str], list[str]]:
    """A copy of the plan with two planted faults: one tour left open, one driver over the cap.

    Returns the plan and one sentence per planted fault (for the demo's own explanation).
    """
    plan = dict(demo.plan)
    week_input = demo.week_input
    instances = {i.instance_id: i for i in week_input.instances()}
    drivers = week_input.driver_map()
    by_driver: dict[str, list[str]] = defaultdict(list)
    for iid, driver in sorted(plan.items()):
        by_driver[driver].append(iid)
    open_id = sorted(plan)[len(plan) // 3]
    del plan[open_id]
    rules = Rules()
    for receiver in sorted(by_driver):
        if drivers[receiver].max_weekly_minutes != 2910:
            continue
        days = {instances[i].day for i in by_driver[receiver]}
        if 6 in days:
            continue
        for giver in sorted(by_driver):
            if giver == receiver:
                continue
            moved = [i for i in by_driver[giver] if instances[i].day == 6 and i in plan]
            if not moved:
                continue
            trial = dict(plan)
            for iid in moved:
                trial[iid] = receiver
            report = run_audits(week_input, trial, ReproCheck("-", "-"), rules=rules)
            kinds = {v.kind for r in report.results for v in r.violations}
            if kinds == {"UNASSIGNED", "WEEKLY_HOURS"}:
                hours = report.roster.work(receiver)
                return trial, [
                    f"{open_id} ({format_clock(instances[open_id].tour.start)}) left unassigned",
                    f"{giver}'s Saturday ({', '.join(moved)}) moved to {receiver}, "
                    f"who then works {hours // 60} h {hours % 60} min (cap 48.5 h)",
                ]
    return plan, [f"{open_id} left unassigned"]
