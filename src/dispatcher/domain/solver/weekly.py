"""The weekly roster solver: tours and drivers in, a complete roster out.

For a headcount N, starting at the lower bound and rising until a roster is found:
1. Duty days: per day, a set partition (SCIP, a MIP) of the day's instances into at most N valid
   duty days (1er, 2er-reg, 2er-split, 3er within their span limits, one skill per duty day),
   using as few 3er days and 1er days as the limit allows and the shortest 3er days.
2. Drivers: N drivers (skills first, then availability and caps), duty days handed out day by
   day to the least-loaded driver, then a local search swapping two drivers' duty days on one
   day until no cap, rest (week boundary included) or 3er rule is broken (`rostering.py`).
3. If that fails, N+1 drivers with the same duty days, then new duty days for N+1, and so on.
Once a roster is found, more swaps lift part-time drivers and even out hours. If none is found
within the budget, every available driver is used and duty days that cannot be placed without
breaking a rule stay uncovered.

Everything is deterministic for a given input, seed and budget: SCIP runs single-threaded with a
node limit, and the budget is counted in fixed costs per step, not in wall-clock time.
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from dispatcher.domain.audits import RULES, BoundaryDay, Rules
from dispatcher.domain.model import Instance, WeekInput, instance_sort_key
from dispatcher.domain.solver import Progress
from dispatcher.domain.solver.rostering import (
    Duty,
    Roster,
    balance_roster,
    choose_drivers,
    repair_roster,
)

TRIPLE_SLACK = 60  # first try 3er days at most this much longer than the day's shortest 3er
TRIPLE_WEIGHT = 10_000  # objective weights of the duty-day partition (2er days cost nothing)
SINGLE_WEIGHT = 5_000
NODE_LIMIT = 500  # SCIP branch-and-bound nodes per partition: deterministic, bounded
COVER_COST = 0.3  # budget units (about seconds on the reference machine) per partition ...
COVER_COST_PER_BLOCK = 1 / 4000  # ... plus this much per candidate duty day
SWAP_COST_PER_DRIVER = 5e-6  # one local-search step costs this much per driver of the roster
MAX_STEPS = 25_000  # local-search steps per headcount tried
BALANCE_STEPS = 4_000


@dataclass(frozen=True)
class LowerBound:
    """No roster can use fewer drivers than `value`."""

    peak: int  # the most instances running at the same moment
    hours: int  # total work / the 55 h cap, rounded up
    value: int
    duty_days: int = 0  # the most duty days one day needs (each needs its own driver)

    def as_document(self) -> dict[str, int]:
        return {
            "peak": self.peak,
            "hours": self.hours,
            "duty_days": self.duty_days,
            "value": self.value,
        }


def lower_bound(week_input: WeekInput, rules: Rules = RULES) -> LowerBound:
    instances = week_input.instances()
    events = sorted([(i.start, 1) for i in instances] + [(i.end, -1) for i in instances])
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    total = sum(i.duration for i in instances)
    hours = math.ceil(total / rules.weekly_cap) if total else 0
    return LowerBound(peak, hours, max(peak, hours))


@dataclass(frozen=True)
class WeeklySolution:
    plan: dict[str, str]
    uncovered: tuple[str, ...]
    drivers_used: int
    bound: LowerBound
    phases: tuple[str, ...]
    runtime_ms: int
    part_time: int = 0  # drivers under the full-time minimum
    spread: int = 0  # most minus fewest weekly minutes among the drivers used

    @property
    def rank(self) -> tuple[int, int, int, int]:
        """The objectives in order: uncovered, drivers, part-time drivers, spread of hours."""
        return (len(self.uncovered), self.drivers_used, self.part_time, self.spread)

    @property
    def gap_bp(self) -> int:
        """(drivers - bound) / bound in basis points."""
        if not self.bound.value:
            return 0
        return (self.drivers_used - self.bound.value) * 10000 // self.bound.value


class _Budget:
    """A deterministic budget: every step costs a fixed amount (about its seconds)."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds

    def spend(self, amount: float) -> None:
        self.left -= amount


# --- duty days ----------------------------------------------------------------------------------


Block = tuple[Instance, ...]


def _candidate_blocks(items: list[Instance], rules: Rules) -> list[tuple[Instance, ...]]:
    ordered = sorted(items, key=lambda i: (i.start, instance_sort_key(i.instance_id)))
    pause: dict[str, list[Instance]] = {i.instance_id: [] for i in ordered}
    split: dict[str, list[Instance]] = {i.instance_id: [] for i in ordered}
    for a in ordered:
        for b in ordered:
            gap = b.start - a.end
            if rules.pause_min <= gap <= rules.pause_max:
                pause[a.instance_id].append(b)
            elif rules.split_min <= gap <= rules.split_max:
                split[a.instance_id].append(b)

    def one_skill(group: tuple[Instance, ...]) -> bool:
        return len({i.skill for i in group if i.skill}) <= 1

    blocks: list[tuple[Instance, ...]] = []
    for a in ordered:
        if a.duration <= rules.span_regular:
            blocks.append((a,))
        for b in pause[a.instance_id]:
            if b.end - a.start <= rules.span_regular and one_skill((a, b)):
                blocks.append((a, b))
            for c in pause[b.instance_id]:
                if c.end - a.start <= rules.span_split and one_skill((a, b, c)):
                    blocks.append((a, b, c))
        for b in split[a.instance_id]:
            if b.end - a.start <= rules.span_split and one_skill((a, b)):
                blocks.append((a, b))
    return blocks


def min_duty_days(items: list[Instance], blocks: list[Block]) -> int:
    """A proven lower bound on one day's duty days: the partition's LP relaxation (GLOP)."""
    from ortools.linear_solver import pywraplp

    solver = pywraplp.Solver.CreateSolver("GLOP")
    columns = [solver.NumVar(0, 1, "") for _ in blocks]
    _partition(solver, items, blocks, columns)
    objective = solver.Objective()
    for column in columns:
        objective.SetCoefficient(column, 1)
    objective.SetMinimization()
    if solver.Solve() != pywraplp.Solver.OPTIMAL:
        return 0
    value: float = objective.Value()
    return math.ceil(value - 1e-6)


def _partition(solver: Any, items: list[Instance], blocks: list[Block], columns: list[Any]) -> None:
    """Every instance in exactly one chosen duty day."""
    rows = {i.instance_id: solver.Constraint(1, 1) for i in items}
    for column, block in zip(columns, blocks, strict=True):
        for instance in block:
            rows[instance.instance_id].SetCoefficient(column, 1)


def _cover(items: list[Instance], blocks: list[Block], limit: int) -> list[Block] | None:
    """At most `limit` duty days: fewest 3er days (shortest first), then fewest 1er days."""
    from ortools.linear_solver import pywraplp

    solver = pywraplp.Solver.CreateSolver("SCIP")
    solver.SetNumThreads(1)
    solver.SetSolverSpecificParametersAsString(f"limits/nodes = {NODE_LIMIT}\n")
    columns = [solver.BoolVar("") for _ in blocks]
    _partition(solver, items, blocks, columns)
    count = solver.Constraint(0, limit)
    triples = solver.Constraint(max(0, len(items) - 2 * limit), solver.infinity())
    objective = solver.Objective()
    for column, block in zip(columns, blocks, strict=True):
        count.SetCoefficient(column, 1)
        if len(block) >= 3:
            triples.SetCoefficient(column, 1)
            objective.SetCoefficient(column, TRIPLE_WEIGHT + sum(i.duration for i in block))
        elif len(block) == 1:
            objective.SetCoefficient(column, SINGLE_WEIGHT)
    objective.SetMinimization()
    if solver.Solve() not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return None
    return [b for c, b in zip(columns, blocks, strict=True) if c.solution_value() > 0.5]


def day_cover(
    items: list[Instance], blocks: list[Block], limit: int, budget: _Budget
) -> list[Block] | None:
    """A partition of the day into at most `limit` duty days, or None if there is none.

    The short 3er days are tried first (a much smaller model); all of them only if that fails.
    """
    triples = [sum(i.duration for i in b) for b in blocks if len(b) >= 3]
    shortest = min(triples, default=0)
    narrow = [
        b for b in blocks if len(b) < 3 or sum(i.duration for i in b) <= shortest + TRIPLE_SLACK
    ]
    for candidates in (narrow, blocks) if len(narrow) < len(blocks) else (blocks,):
        budget.spend(COVER_COST + len(candidates) * COVER_COST_PER_BLOCK)
        found = _cover(items, candidates, limit)
        if found is not None:
            return found
    return None


# --- the search over headcounts -----------------------------------------------------------------


def _members(blocks: list[Block]) -> set[str]:
    return {i.instance_id for b in blocks for i in b}


def _duties(covers: Mapping[int, list[Block]]) -> dict[int, list[Duty]]:
    return {day: [Duty.of(day, b) for b in blocks] for day, blocks in covers.items()}


def solve_week(
    week_input: WeekInput,
    *,
    seed: int = 0,
    time_limit: float = 120.0,
    progress: Progress | None = None,
    rules: Rules = RULES,
    boundary: Mapping[str, BoundaryDay] | None = None,
) -> WeeklySolution:
    """A roster for the week; `time_limit` is a deterministic budget (about seconds)."""
    started = time.perf_counter()
    budget = _Budget(time_limit)
    rng = random.Random(seed)
    boundary = boundary or {}
    everything: dict[int, list[Instance]] = defaultdict(list)
    for instance in week_input.instances():
        everything[instance.day].append(instance)
    candidates = {day: _candidate_blocks(items, rules) for day, items in sorted(everything.items())}
    # An instance in no valid duty day (longer than any span) cannot be covered at all.
    members = {day: _members(blocks) for day, blocks in candidates.items()}
    by_day = {day: [i for i in everything[day] if i.instance_id in members[day]] for day in members}
    simple = lower_bound(week_input, rules)
    per_day = max(
        (min_duty_days(by_day[day], blocks) for day, blocks in candidates.items()), default=0
    )
    bound = replace(simple, duty_days=per_day, value=max(simple.value, per_day))
    pool = [d for d in week_input.drivers if d.active]
    rng.shuffle(pool)
    unavailable = week_input.unavailable()
    available = {
        day: sum((d.driver_id, day) not in unavailable for d in pool) for day in candidates
    }

    def say(text: str) -> None:
        if progress:
            elapsed = time.perf_counter() - started
            progress(f"{text} | lower bound {bound.value} | {elapsed:.0f} s")

    def roster_for(headcount: int, duties: dict[int, list[Duty]]) -> Roster:
        drivers = choose_drivers(pool, duties, headcount, unavailable)
        return Roster(drivers, duties, unavailable, boundary, rules)

    phases = [
        f"lower bound: {bound.value} (peak {bound.peak}, hours {bound.hours}, duty days {per_day})"
    ]
    found: Roster | None = None
    headcount = max(1, bound.value)
    covers: dict[int, list[Block]] | None = None
    covered_for = 0
    while budget.left > 0 and headcount <= len(pool) and by_day:
        if covers is None:
            say(f"duty days for {headcount} drivers")
            attempt = {
                day: day_cover(by_day[day], blocks, min(headcount, available[day]), budget)
                for day, blocks in candidates.items()
            }
            if any(c is None for c in attempt.values()):
                headcount += 1
                continue
            covers = {day: c for day, c in attempt.items() if c is not None}
            covered_for = headcount
        say(f"trying {headcount} drivers")
        roster = roster_for(headcount, _duties(covers))
        steps = int(min(MAX_STEPS, max(0.0, budget.left) / (SWAP_COST_PER_DRIVER * headcount)))
        ok = roster.fill()
        used = 0
        if ok:
            ok, used = repair_roster(roster, rng, steps)
        budget.spend(used * SWAP_COST_PER_DRIVER * headcount + 0.05)
        if ok:
            found = roster
            phases.append(f"roster with {headcount} drivers (duty days for {covered_for})")
            break
        phases.append(f"no roster with {headcount} drivers")
        if covered_for == headcount:
            headcount += 1  # more drivers for the same duty days first
        else:
            covers = None  # then duty days made for this headcount
    if found is None:
        found = _fallback(pool, candidates, by_day, available, roster_for, rng, phases)
    balance_roster(found, rng, BALANCE_STEPS)
    plan = found.plan()
    uncovered = sorted(
        (
            i.instance_id
            for items in everything.values()
            for i in items
            if i.instance_id not in plan
        ),
        key=instance_sort_key,
    )
    say(f"{len(set(plan.values()))} drivers")
    work = [w for w in found.work if w > 0]
    return WeeklySolution(
        plan=plan,
        uncovered=tuple(uncovered),
        drivers_used=len(set(plan.values())),
        bound=bound,
        phases=tuple(phases),
        runtime_ms=int((time.perf_counter() - started) * 1000),
        part_time=sum(w < rules.fte_min for w in work),
        spread=max(work, default=0) - min(work, default=0),
    )


def _fallback(
    pool: list[Any],
    candidates: Mapping[int, list[Block]],
    by_day: Mapping[int, list[Instance]],
    available: Mapping[int, int],
    roster_for: Callable[[int, dict[int, list[Duty]]], Roster],
    rng: random.Random,
    phases: list[str],
) -> Roster:
    """Every available driver; what still breaks a rule is left uncovered."""
    covers: dict[int, list[Block]] = {}
    for day, blocks in candidates.items():
        unlimited = _Budget(math.inf)
        limit = max(1, available[day]) if available[day] else len(by_day[day])
        covers[day] = (
            day_cover(by_day[day], blocks, limit, unlimited)
            or day_cover(by_day[day], blocks, len(by_day[day]), unlimited)
            or [(i,) for i in by_day[day]]
        )
    roster = roster_for(len(pool), _duties(covers))
    roster.fill()
    repair_roster(roster, rng, MAX_STEPS)
    roster.shed()
    phases.append(f"every driver ({len(pool)}); {len(roster.unplaced)} duty days left uncovered")
    return roster
