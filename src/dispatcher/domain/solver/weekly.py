"""The weekly roster solver: tours and drivers in, a complete roster out.

Three phases, all deterministic for a given input and seed:
1. Duty days: per day, an exact set partition (CP-SAT) of the day's instances into valid blocks
   (1er, 2er-reg, 2er-split, 3er within their span limits, at most one skill per block),
   minimising the number of duty days, 3er days slightly penalised.
2. Drivers: day by day, a CP-SAT matching of the day's blocks to drivers already working
   (rest since their last duty day, weekly cap, no 3er days back to back, skills, availability),
   preferring drivers with fewer hours; unmatched blocks open the next driver of the pool.
3. Fewer drivers: the least-loaded drivers are emptied one by one with the repair solvers
   (greedy first, then CP-SAT with a wide chain neighbourhood), tours going only to drivers
   already working.
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from dispatcher.domain.audits import RULES, Rules
from dispatcher.domain.model import Driver, Instance, WeekInput, instance_sort_key
from dispatcher.domain.repair import RepairScope, build_problem

Progress = Callable[[str], None]
DAYS_PER_DRIVER = 6  # a full-time week: six duty days sharing the weekly cap
ELIMINATION_CHAIN = 80  # emptying a driver may move this many other tours to make room ...
ELIMINATION_WINDOW = 240  # ... within this many minutes of the tours being placed
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # "now" for phase 3: nothing has started


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

    @property
    def gap_bp(self) -> int:
        """(drivers - bound) / bound in basis points."""
        if not self.bound.value:
            return 0
        return (self.drivers_used - self.bound.value) * 10000 // self.bound.value


class _Budget:
    """Deterministic time in CP-SAT units plus a fixed cost per cheap step."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds

    def spend(self, amount: float) -> None:
        self.left -= amount


def _solver(cp_model: Any, seconds: float, seed: int) -> Any:
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    solver.parameters.max_deterministic_time = max(0.1, seconds)
    solver.parameters.max_time_in_seconds = max(1.0, 3 * seconds)
    return solver


# --- phase 1 ------------------------------------------------------------------------------------


def _greedy_cover(
    items: list[Instance], blocks: list[tuple[Instance, ...]]
) -> list[tuple[Instance, ...]]:
    """Two-tour days first (they fill a week best), then three, then the rest alone."""
    used: set[str] = set()
    cover = []
    rank = {2: 0, 3: 1, 1: 2}
    for block in sorted(
        blocks, key=lambda b: (rank[len(b)], b[0].start, [i.instance_id for i in b])
    ):
        ids = {i.instance_id for i in block}
        if not ids & used:
            cover.append(block)
            used |= ids
    cover.extend((i,) for i in items if i.instance_id not in used)
    return cover


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


def block_cost(block: tuple[Instance, ...], rules: Rules) -> int:
    """What a duty day uses of a driver's week, in sixths of the weekly cap.

    Two-tour days (about 9 h) fill a 55 h week of six days best; a 3er day costs a little more
    than a 2er plus a 1er, because 13-hour days exhaust the cap and cannot follow each other.
    """
    day_share = rules.weekly_cap // DAYS_PER_DRIVER
    if len(block) >= 3:
        return 2 * day_share + 1
    return max(day_share, sum(i.duration for i in block))


def _cover_model(
    instances: list[Instance], rules: Rules
) -> tuple[Any, list[Any], list[tuple[Instance, ...]]]:
    """CP-SAT model: choose candidate duty days covering every instance exactly once."""
    from ortools.sat.python import cp_model

    blocks = _candidate_blocks(instances, rules)
    model = cp_model.CpModel()
    chosen = [model.new_bool_var(f"b{n}") for n in range(len(blocks))]
    cover: dict[str, list[Any]] = defaultdict(list)
    for var, block in zip(chosen, blocks, strict=True):
        for instance in block:
            cover[instance.instance_id].append(var)
    for instance in instances:
        model.add_exactly_one(cover[instance.instance_id])
    return model, chosen, blocks


def min_duty_days(instances: list[Instance], rules: Rules, budget: float, seed: int) -> int:
    """A proven lower bound on the number of duty days covering one day's instances."""
    from ortools.sat.python import cp_model

    model, chosen, _ = _cover_model(instances, rules)
    model.minimize(sum(chosen))
    solver = _solver(cp_model, budget, seed)
    status = solver.solve(model)
    found: float = solver.objective_value
    proven: float = solver.best_objective_bound
    if status == cp_model.OPTIMAL:
        return round(found)
    return max(0, math.ceil(proven - 1e-6))


def duty_days(
    instances: list[Instance], rules: Rules, budget: float, seed: int
) -> list[tuple[Instance, ...]]:
    """An exact cover of one day's instances by valid blocks, fewest (weighted) blocks."""
    from ortools.sat.python import cp_model

    model, chosen, blocks = _cover_model(instances, rules)
    model.minimize(sum(v * block_cost(b, rules) for v, b in zip(chosen, blocks, strict=True)))
    greedy = _greedy_cover(instances, blocks)
    hinted = {tuple(i.instance_id for i in b) for b in greedy}
    for var, block in zip(chosen, blocks, strict=True):
        model.add_hint(var, tuple(i.instance_id for i in block) in hinted)
    solver = _solver(cp_model, budget, seed)
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return greedy
    return [b for v, b in zip(chosen, blocks, strict=True) if solver.value(v)]


# --- phase 2 ------------------------------------------------------------------------------------


@dataclass
class _Load:
    work: int = 0
    last_end: int | None = None
    triple_day: int | None = None


def _fits(
    driver: Driver,
    load: _Load,
    block: tuple[Instance, ...],
    day: int,
    unavailable: dict[tuple[str, int], Any],
    rules: Rules,
) -> bool:
    skills = {i.skill for i in block if i.skill}
    if not skills <= set(driver.skills) or (driver.driver_id, day) in unavailable:
        return False
    if load.work + sum(i.duration for i in block) > min(
        driver.max_weekly_minutes, rules.weekly_cap
    ):
        return False
    start = min(i.start for i in block)
    if load.last_end is not None and start - load.last_end < rules.rest_min:
        return False
    return not (len(block) >= 3 and load.triple_day == day - 1)


def assign_drivers(
    week_input: WeekInput,
    blocks: dict[int, list[tuple[Instance, ...]]],
    rules: Rules,
    budget: _Budget,
    seed: int,
) -> tuple[dict[str, str], list[str]]:
    from ortools.sat.python import cp_model

    rng = random.Random(seed)
    pool = [d for d in week_input.drivers if d.active]
    rng.shuffle(pool)
    pool.sort(key=lambda d: (len(d.skills), -d.max_weekly_minutes))  # stable: seed breaks ties
    unavailable = dict(week_input.unavailable())
    loads: dict[str, _Load] = {}
    working: list[Driver] = []
    plan: dict[str, str] = {}
    uncovered: list[str] = []
    days = sorted(blocks)
    for day in days:
        day_blocks = blocks[day]
        model = cp_model.CpModel()
        pairs: dict[tuple[int, str], Any] = {}
        for index, block in enumerate(day_blocks):
            for driver in working:
                if _fits(driver, loads[driver.driver_id], block, day, unavailable, rules):
                    pairs[(index, driver.driver_id)] = model.new_bool_var(
                        f"p{index}_{driver.driver_id}"
                    )
        by_block: dict[int, list[Any]] = defaultdict(list)
        by_driver: dict[str, list[Any]] = defaultdict(list)
        for (index, driver_id), var in pairs.items():
            by_block[index].append(var)
            by_driver[driver_id].append(var)
        for variables in [*by_block.values(), *by_driver.values()]:
            model.add_at_most_one(variables)
        # Prefer drivers with fewer hours, and keep skilled drivers for skilled duty days.
        skills_of = {d.driver_id: set(d.skills) for d in working}
        needed = [{i.skill for i in b if i.skill} for b in day_blocks]
        model.maximize(
            sum(
                var * (10000 - loads[d].work - 1000 * len(skills_of[d] - needed[index]))
                for (index, d), var in pairs.items()
            )
        )
        matched: dict[int, str] = {}
        if pairs:
            solver = _solver(cp_model, budget.left / max(1, len(days)), seed)
            status = solver.solve(model)
            budget.spend(solver.response_proto.deterministic_time)
            if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                matched = {index: d for (index, d), var in pairs.items() if solver.value(var)}
        for index, block in enumerate(day_blocks):
            found = matched.get(index)
            if found is None:
                fresh = next(
                    (
                        d
                        for d in pool
                        if d.driver_id not in loads
                        and _fits(d, _Load(), block, day, unavailable, rules)
                    ),
                    None,
                )
                if fresh is None:
                    uncovered.extend(i.instance_id for i in block)
                    continue
                loads[fresh.driver_id] = _Load()
                working.append(fresh)
                found = fresh.driver_id
            driver_id = found
            load = loads[driver_id]
            load.work += sum(i.duration for i in block)
            load.last_end = max(i.end for i in block)
            if len(block) >= 3:
                load.triple_day = day
            for instance in block:
                plan[instance.instance_id] = driver_id
    return plan, uncovered


# --- phase 3 ------------------------------------------------------------------------------------


def eliminate_drivers(
    week_input: WeekInput,
    plan: dict[str, str],
    budget: _Budget,
    seed: int,
    progress: Progress | None,
) -> dict[str, str]:
    """Empty the least-loaded drivers one at a time onto the drivers already working."""
    from dispatcher.domain.solver.cpsat import cpsat_repair
    from dispatcher.domain.solver.greedy import greedy_repair

    instances = {i.instance_id: i for i in week_input.instances()}
    failed: set[str] = set()
    while budget.left > 0.5:
        work: dict[str, int] = defaultdict(int)
        for instance_id, driver_id in plan.items():
            work[driver_id] += instances[instance_id].duration
        candidates = sorted((w, d) for d, w in work.items() if d not in failed)
        if not candidates:
            break
        _, target = candidates[0]
        working = set(work)
        sub = replace(
            week_input, drivers=tuple(d for d in week_input.drivers if d.driver_id in working)
        )
        problem, _ = build_problem(
            sub,
            plan,
            absent=target,
            scope=RepairScope("week"),
            now=EPOCH,
            freeze_hours=0,
            other_absences=(),
            boundary={},
        )
        budget.spend(0.05)  # fixed costs keep the search deterministic
        repaired = greedy_repair(problem)
        if repaired.uncovered:
            repaired = cpsat_repair(
                problem,
                time_limit=min(2.0, budget.left),
                seed=seed,
                chain_limit=ELIMINATION_CHAIN,
                chain_window=ELIMINATION_WINDOW,
            )
            budget.spend(2.0)
        if repaired.uncovered:
            failed.add(target)
            continue
        plan = repaired.plan
        failed.clear()
        if progress:
            progress(f"fewer drivers: {len(set(plan.values()))}")
    return plan


def solve_week(
    week_input: WeekInput,
    *,
    seed: int = 0,
    time_limit: float = 120.0,
    progress: Progress | None = None,
    rules: Rules = RULES,
) -> WeeklySolution:
    """A roster for the week; `time_limit` is a deterministic budget (about seconds)."""
    started = time.perf_counter()
    budget = _Budget(time_limit)
    by_day: dict[int, list[Instance]] = defaultdict(list)
    for instance in week_input.instances():
        by_day[instance.day].append(instance)
    simple = lower_bound(week_input, rules)
    bound_share = time_limit * 0.05 / max(1, len(by_day))
    per_day = max(
        (min_duty_days(items, rules, bound_share, seed) for items in by_day.values()), default=0
    )
    budget.spend(time_limit * 0.05)
    bound = replace(simple, duty_days=per_day, value=max(simple.value, per_day))
    share = time_limit * 0.25 / max(1, len(by_day))
    blocks: dict[int, list[tuple[Instance, ...]]] = {}
    for day in sorted(by_day):
        blocks[day] = duty_days(by_day[day], rules, share, seed)
        budget.spend(share)
        if progress:
            progress(f"duty days: day {day}, {len(blocks[day])} blocks (bound {bound.value})")
    assign_budget = _Budget(min(budget.left, time_limit * 0.1))
    plan, uncovered = assign_drivers(week_input, blocks, rules, assign_budget, seed)
    budget.spend(time_limit * 0.1)
    phases = [
        f"duty days: {sum(len(b) for b in blocks.values())}",
        f"drivers after assignment: {len(set(plan.values()))}",
    ]
    if progress:
        progress(f"drivers: {len(set(plan.values()))} (bound {bound.value})")
    if not uncovered:
        plan = eliminate_drivers(week_input, plan, budget, seed, progress)
        phases.append(f"drivers after elimination: {len(set(plan.values()))}")
    return WeeklySolution(
        plan=plan,
        uncovered=tuple(sorted(uncovered, key=instance_sort_key)),
        drivers_used=len(set(plan.values())),
        bound=bound,
        phases=tuple(phases),
        runtime_ms=int((time.perf_counter() - started) * 1000),
    )
