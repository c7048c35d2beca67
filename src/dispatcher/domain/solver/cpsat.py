"""Exact repair with OR-Tools CP-SAT: lexicographic stages, deterministic settings.

Model: for every receiving driver and every day on which something may move, one variable per
*valid duty day* (a subset of at most three instances forming a 1er, 2er-reg, 2er-split or 3er
within its span limit), exactly one chosen. Rest (including the previous week's boundary) and
consecutive 3er days are pairwise constraints between chosen days; the weekly cap is linear.
Objectives, in order (domain.md §9): cover most affected instances; change fewest other drivers;
move fewest instances; lowest highest weekly work among changed drivers; smallest assignment list.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dispatcher.domain.model import Driver, WeekInput, instance_sort_key
from dispatcher.domain.repair import RepairProblem, RepairSolution, summarize
from dispatcher.domain.solver import Progress

CHAIN_WINDOW = 180  # minutes around an affected instance in which others' tours may move
MAX_CHAIN = 40  # at most this many other instances may move to enable chains
TIE_BREAK_CHUNK = 6  # instances decided together in the last stage (exact within a chunk)


class RepairTimeout(Exception):
    """CP-SAT found no solution at all within the time limit."""


class Budget:
    """A time limit in CP-SAT's deterministic seconds, shared by all stages and models."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds

    def spend(self, solver: Any) -> None:
        self.left -= solver.response_proto.deterministic_time

    def remaining(self) -> float:
        return max(0.0, self.left)


@dataclass
class _Day:
    """One driver-day with a choice of blocks, or fixed (then `blocks` has one entry)."""

    driver: str
    day: int
    blocks: list[tuple[str, ...]]
    variables: list[Any] = field(default_factory=list)  # None when fixed
    current: int = 0
    info: list[tuple[int, int, int, int]] = field(default_factory=list)  # start, end, tours, work


class RepairModel:
    """Builds the CP-SAT model of a repair problem and solves it stage by stage."""

    def __init__(
        self,
        problem: RepairProblem,
        *,
        receivers: Iterable[str] | None = None,
        chain_around: Iterable[str] = (),
        chain_limit: int = MAX_CHAIN,
        chain_window: int = CHAIN_WINDOW,
    ) -> None:
        from ortools.sat.python import cp_model

        self.cp = cp_model
        self.problem = problem
        self.model: Any = cp_model.CpModel()
        p = problem
        self.clean = set(receivers) if receivers is not None else p.clean_drivers()
        affected = set(p.affected)
        self.chain_limit, self.chain_window = chain_limit, chain_window
        self.chain = self._chain_instances(set(chain_around))
        self.movable = sorted(affected | set(self.chain), key=instance_sort_key)
        days_moving = {p.instances[i].day for i in self.movable}
        self.receivers = sorted(
            d for d in self.clean if any(p.eligible(d, i) for i in self.movable)
        )
        self.days: dict[tuple[str, int], _Day] = {}
        for driver in self.receivers:
            for day in range(1, 8):
                self.days[(driver, day)] = self._day(driver, day, day in days_moving)
        self.x: dict[str, dict[str, Any]] = {i: {} for i in self.movable}
        for (driver, _), day_model in self.days.items():
            for index, block in enumerate(day_model.blocks):
                var = day_model.variables[index]
                if var is None:
                    continue
                for instance_id in block:
                    if instance_id in self.x:
                        self.x[instance_id].setdefault(driver, []).append(var)
        self._constraints()

    # --- construction ---------------------------------------------------------------------------

    def _chain_instances(self, around: set[str]) -> list[str]:
        """Other drivers' movable instances near these (uncovered) ones, for chains of moves."""
        p = self.problem
        affected = set(p.affected)
        by_day: dict[int, list[int]] = {}
        for a in around:
            by_day.setdefault(p.instances[a].day, []).append(p.instances[a].start)
        scored = []
        for instance_id, holder in p.plan.items():
            if instance_id in affected or instance_id in p.fixed or holder not in self.clean:
                continue
            instance = p.instances[instance_id]
            if instance.day not in by_day or not p.eligible(holder, instance_id):
                continue
            distance = min(abs(instance.start - s) for s in by_day[instance.day])
            if distance <= self.chain_window:
                scored.append((distance, instance_sort_key(instance_id), instance_id))
        return [i for _, _, i in sorted(scored)[: self.chain_limit]]

    def _day(self, driver: str, day: int, moving: bool) -> _Day:
        p = self.problem
        own = sorted(
            (i for i, d in p.plan.items() if d == driver and p.instances[i].day == day),
            key=instance_sort_key,
        )
        current = tuple(own)
        if not moving:
            result = _Day(driver, day, [current], [None], 0)
            result.info = [self._info(current)]
            return result
        movable = set(self.movable)
        own_fixed = {i for i in own if i not in movable}
        candidates = [i for i in own if i in movable] + [
            i
            for i in self.movable
            if p.instances[i].day == day and i not in own and p.eligible(driver, i)
        ]
        blocks = [b for b in self._blocks(sorted(own_fixed) + candidates) if own_fixed <= set(b)]
        if current not in blocks:
            blocks.append(current)  # the driver's own day is always an option
        result = _Day(driver, day, blocks, [], blocks.index(current))
        for index, block in enumerate(blocks):
            result.variables.append(self.model.new_bool_var(f"y_{driver}_{day}_{index}"))
            result.info.append(self._info(block))
        return result

    def _blocks(self, members: list[str]) -> list[tuple[str, ...]]:
        """Every valid duty day from these instances: off, 1er, 2er-reg, 2er-split, 3er."""
        rules, instances = self.problem.rules, self.problem.instances
        items = sorted(set(members), key=lambda i: (instances[i].start, instance_sort_key(i)))
        pause: dict[str, list[str]] = {i: [] for i in items}
        split: dict[str, list[str]] = {i: [] for i in items}
        for a in items:
            for b in items:
                gap = instances[b].start - instances[a].end
                if rules.pause_min <= gap <= rules.pause_max:
                    pause[a].append(b)
                elif rules.split_min <= gap <= rules.split_max:
                    split[a].append(b)

        def span(block: tuple[str, ...]) -> int:
            return max(instances[i].end for i in block) - instances[block[0]].start

        found: list[tuple[str, ...]] = [()]
        for a in items:
            if span((a,)) <= rules.span_regular:
                found.append((a,))
            for b in pause[a]:
                if span((a, b)) <= rules.span_regular:
                    found.append((a, b))
                found.extend((a, b, c) for c in pause[b] if span((a, b, c)) <= rules.span_split)
            found.extend((a, b) for b in split[a] if span((a, b)) <= rules.span_split)
        return [tuple(sorted(block, key=instance_sort_key)) for block in found]

    def _info(self, members: tuple[str, ...]) -> tuple[int, int, int, int]:
        if not members:
            return (0, 0, 0, 0)
        items = [self.problem.instances[i] for i in members]
        return (
            min(i.start for i in items),
            max(i.end for i in items),
            len(items),
            sum(i.duration for i in items),
        )

    def _lit(self, day: _Day, index: int) -> Any:
        var = day.variables[index]
        return 1 if var is None else var

    def _sum(self, day: _Day, field: int, only_worked: bool = False) -> Any:
        return sum(
            self._lit(day, k) * info[field]
            for k, info in enumerate(day.info)
            if not only_worked or info[2] > 0
        )

    def _worked(self, day: _Day) -> Any:
        return sum(self._lit(day, k) for k, info in enumerate(day.info) if info[2] > 0)

    def _constraints(self) -> None:
        p, model = self.problem, self.model
        for day in self.days.values():
            if day.variables[0] is not None:
                model.add_exactly_one(day.variables)
        self.covered: dict[str, Any] = {}
        for instance_id, by_driver in self.x.items():
            total = sum(v for vs in by_driver.values() for v in vs)
            if instance_id in p.affected:
                model.add(total <= 1)
                self.covered[instance_id] = total
            else:
                model.add(total == 1)
        self.changed: dict[str, Any] = {}
        self.work: dict[str, Any] = {}
        for driver in self.receivers:
            days = [self.days[(driver, d)] for d in range(1, 8)]
            work = sum(self._sum(day, 3) for day in days)
            cap = min(p.drivers[driver].max_weekly_minutes, p.rules.weekly_cap)
            model.add(work <= cap)
            self.work[driver] = work
            changed = model.new_bool_var(f"changed_{driver}")
            for day in days:
                if day.variables[0] is not None:
                    model.add(changed >= 1 - day.variables[day.current])
            self.changed[driver] = changed
            self._rest_and_triples(driver, days)

    def _rest_and_triples(self, driver: str, days: list[_Day]) -> None:
        """Rest between worked days (the next day worked, across the week boundary) and no 3er
        days back to back, as linear constraints on each day's first start and last end."""
        p, model, rest = self.problem, self.model, self.problem.rules.rest_min
        positions: list[tuple[int, _Day]] = [(d.day, d) for d in days]
        boundary = p.boundary.get(driver)
        if boundary is not None:
            fixed = _Day(
                driver,
                boundary.day - 7,
                [("boundary",)],
                [None],
                0,
                [(boundary.first_start, boundary.last_end, boundary.tours, 0)],
            )
            positions.insert(0, (boundary.day - 7, fixed))
        big = 3 * 7 * 1440  # larger than any gap on the week timeline (boundary included)
        for a_index, (a_pos, a_day) in enumerate(positions):
            for b_pos, b_day in positions[a_index + 1 :]:
                if b_pos - a_pos > 2:
                    break
                fixed_pair = a_day.variables[0] is None and b_day.variables[0] is None
                if not fixed_pair:
                    between = sum(self._worked(d) for pos, d in positions if a_pos < pos < b_pos)
                    slack = 2 - self._worked(a_day) - self._worked(b_day) + between
                    model.add(
                        self._sum(b_day, 0, True) - self._sum(a_day, 1, True) >= rest - big * slack
                    )
                if b_pos - a_pos == 1 and not fixed_pair:
                    triple_a = sum(
                        self._lit(a_day, k) for k, i in enumerate(a_day.info) if i[2] >= 3
                    )
                    triple_b = sum(
                        self._lit(b_day, k) for k, i in enumerate(b_day.info) if i[2] >= 3
                    )
                    model.add(triple_a + triple_b <= 1)

    # --- solving --------------------------------------------------------------------------------

    def _solver(self, seconds: float, workers: int, seed: int) -> Any:
        solver = self.cp.CpSolver()
        solver.parameters.num_workers = workers
        solver.parameters.random_seed = seed
        solver.parameters.linearization_level = 2
        # Deterministic: one worker (or interleaved workers) and a deterministic time budget, so
        # the same input gives the same answer on any machine; wall-clock time is a safety net.
        solver.parameters.interleave_search = workers > 1
        solver.parameters.max_deterministic_time = max(0.05, seconds)
        solver.parameters.max_time_in_seconds = max(0.1, 3 * seconds)
        return solver

    def solve(
        self,
        *,
        time_limit: float = 10.0,
        workers: int = 1,
        seed: int = 0,
        stages: int = 5,
        progress: Progress | None = None,
        hint: dict[str, str] | None = None,
        budget: Budget | None = None,
    ) -> tuple[dict[str, str], bool, list[int]]:
        """The repaired plan, whether every stage was proven optimal, and the stage values."""
        budget = budget or Budget(time_limit)
        model, optimal, values = self.model, True, []
        if hint:
            self._hint(hint)
        changed_total = sum(self.changed.values())
        chain_moves = sum(1 - sum(self.x[i].get(self.problem.plan[i], [0])) for i in self.chain)
        max_work = model.new_int_var(0, self.problem.rules.weekly_cap, "max_work")
        for driver, changed in self.changed.items():
            model.add(max_work >= self.work[driver] - self.problem.rules.weekly_cap * (1 - changed))
        objectives: list[tuple[str, Any, bool]] = [
            ("cover", sum(self.covered.values()), True),
            ("drivers changed", changed_total, False),
            ("instances moved", chain_moves, False),
            ("highest weekly work", max_work, False),
        ][: max(1, min(stages, 4))]
        solver = None
        for name, expression, maximize in objectives:
            if isinstance(expression, int):
                values.append(expression)
                continue
            (model.maximize if maximize else model.minimize)(expression)
            attempt = self._solver(budget.remaining(), workers, seed)
            status = attempt.solve(model)
            budget.spend(attempt)
            if status not in (self.cp.OPTIMAL, self.cp.FEASIBLE):
                if solver is None:
                    raise RepairTimeout(f"no repair found within the time limit (stage {name})")
                optimal = False
                break  # out of time: keep the best solution of the previous stage
            solver = attempt
            optimal &= status == self.cp.OPTIMAL
            value = round(solver.objective_value)
            values.append(value)
            model.add(expression == value) if status == self.cp.OPTIMAL else model.add(
                expression >= value if maximize else expression <= value
            )
            self._hint_from(solver)
            if progress:
                progress(f"{name}: {value}")
        if solver is None:
            solver = self._solver(budget.remaining(), workers, seed)
            solver.solve(model)
            budget.spend(solver)
        if stages >= 5 and optimal:
            solver, optimal = self._tie_break(solver, budget, workers, seed, optimal)
        model.clear_objective()
        return self._plan(solver), optimal, values

    def _tie_break(
        self, solver: Any, budget: Budget, workers: int, seed: int, optimal: bool
    ) -> tuple[Any, bool]:
        """Smallest assignment list: decide moved instances in id order, a chunk at a time."""
        chosen = self._assignment(solver)
        undecided = [
            i
            for i in self.movable
            if i in self.problem.affected or chosen.get(i) != self.problem.plan.get(i)
        ]
        settled = [i for i in self.movable if i not in undecided]
        for instance_id in settled:
            self.model.add(sum(self.x[instance_id].get(chosen[instance_id], [0])) == 1)
        for start in range(0, len(undecided), TIE_BREAK_CHUNK):
            chunk = undecided[start : start + TIE_BREAK_CHUNK]
            terms, weight = [], 1
            for instance_id in reversed(chunk):
                options = sorted(self.x[instance_id])
                rank = sum(
                    (k + 1) * v for k, d in enumerate(options) for v in self.x[instance_id][d]
                )
                none = len(options) + 1
                terms.append(
                    weight
                    * (
                        rank
                        + none * (1 - sum(v for vs in self.x[instance_id].values() for v in vs))
                    )
                )
                weight *= none + 1
            self.model.minimize(sum(terms))
            attempt = self._solver(budget.remaining(), workers, seed)
            status = attempt.solve(self.model)
            budget.spend(attempt)
            if status not in (self.cp.OPTIMAL, self.cp.FEASIBLE):
                return solver, False  # out of time: the last complete solution stands
            solver = attempt
            optimal &= status == self.cp.OPTIMAL
            chosen = self._assignment(solver)
            for instance_id in chunk:
                driver = chosen.get(instance_id)
                by_driver = self.x[instance_id]
                if driver is None:
                    self.model.add(sum(v for vs in by_driver.values() for v in vs) == 0)
                else:
                    self.model.add(sum(by_driver[driver]) == 1)
            self._hint_from(solver)
        return solver, optimal

    def _assignment(self, solver: Any) -> dict[str, str]:
        result = {}
        for instance_id, by_driver in self.x.items():
            for driver, variables in by_driver.items():
                if any(solver.value(v) for v in variables):
                    result[instance_id] = driver
        return result

    def _plan(self, solver: Any) -> dict[str, str]:
        plan = {i: d for i, d in self.problem.plan.items() if i not in self.x}
        plan.update(self._assignment(solver))
        return plan

    def _hint_from(self, solver: Any) -> None:
        self.model.clear_hints()
        for day in self.days.values():
            for var in day.variables:
                if var is not None:
                    self.model.add_hint(var, solver.value(var))

    def _hint(self, plan: dict[str, str]) -> None:
        for (driver, day_number), day in self.days.items():
            wanted = tuple(
                sorted(
                    (
                        i
                        for i, d in plan.items()
                        if d == driver and self.problem.instances[i].day == day_number
                    ),
                    key=instance_sort_key,
                )
            )
            for index, block in enumerate(day.blocks):
                var = day.variables[index]
                if var is not None:
                    self.model.add_hint(var, 1 if block == wanted else 0)


def solver_version() -> str:
    import ortools

    return f"cp-sat {getattr(ortools, '__version__', 'unknown')}"


def cpsat_repair(
    problem: RepairProblem,
    *,
    time_limit: float = 10.0,
    workers: int = 1,
    seed: int = 0,
    progress: Progress | None = None,
    chain_limit: int = MAX_CHAIN,
    chain_window: int = CHAIN_WINDOW,
) -> RepairSolution:
    """Direct moves first; if tours stay uncovered, a second model lets nearby tours of other
    drivers move too (chains). Never returns less than the greedy, which also seeds the search."""
    from dispatcher.domain.solver.greedy import greedy_repair

    started = time.perf_counter()
    budget = Budget(time_limit)
    greedy = greedy_repair(problem)
    model = RepairModel(problem)
    try:
        plan, optimal, values = model.solve(
            workers=workers, seed=seed, progress=progress, hint=greedy.plan, budget=budget
        )
    except RepairTimeout:
        return _fallback(greedy, started, "CP-SAT found nothing in time: greedy result")
    notes = [f"direct moves: stage values {values}"]
    uncovered = [i for i in problem.affected if i not in plan]
    if uncovered and budget.remaining() > 0.5:
        if progress:
            progress(f"{len(uncovered)} uncovered: trying chains of moves")
        chained = RepairModel(
            problem, chain_around=uncovered, chain_limit=chain_limit, chain_window=chain_window
        )
        try:
            plan2, optimal2, values2 = chained.solve(
                budget=budget,
                workers=workers,
                seed=seed,
                progress=progress,
                hint=plan,
            )
            notes.append(f"with chains ({len(chained.chain)} movable): stage values {values2}")
            if _better(values2, values):
                plan, optimal, values = plan2, optimal2, values2
        except RepairTimeout:
            notes.append("chains: no solution within the time limit")
    result = summarize(
        problem,
        plan,
        proven_optimal=optimal,
        solver=solver_version(),
        runtime_ms=int((time.perf_counter() - started) * 1000),
        notes=tuple(notes),
    )
    if _key(greedy) < _key(result):
        return _fallback(greedy, started, "greedy result was better than the time-limited search")
    return result


def _better(new: list[int], old: list[int]) -> bool:
    """Lexicographic comparison: more covered, then fewer changed drivers, fewer moves, ..."""
    return (-new[0], *new[1:]) < (-old[0], *old[1:])


def _key(solution: RepairSolution) -> tuple[int, int, int, int]:
    return (
        len(solution.uncovered),
        len(solution.changed_drivers),
        len(solution.moved),
        solution.max_work_changed,
    )


def _fallback(greedy: RepairSolution, started: float, note: str) -> RepairSolution:
    from dataclasses import replace

    return replace(greedy, notes=(note,), runtime_ms=int((time.perf_counter() - started) * 1000))


def extra_drivers_needed(
    problem: RepairProblem, uncovered: Iterable[str], time_limit: float = 5.0
) -> int:
    """Minimum number of extra drivers (all skills, available all week, empty) to cover the rest."""
    wanted = sorted(uncovered, key=instance_sort_key)
    if not wanted:
        return 0
    skills = tuple(sorted({s for i in wanted if (s := problem.instances[i].skill)}))
    virtual = tuple(
        Driver(f"EXTRA{n:03d}", "extra driver", skills) for n in range(1, len(wanted) + 1)
    )
    tours = {problem.instances[i].tour.tour_id: problem.instances[i].tour for i in wanted}
    week_input = WeekInput(problem.week_input.week, tuple(tours.values()), virtual)
    sub = RepairProblem(week_input, {}, (), tuple(wanted), frozenset(), {}, {}, (), problem.rules)
    model = RepairModel(sub, receivers=[d.driver_id for d in virtual])
    try:
        _, _, values = model.solve(time_limit=time_limit, stages=2)
    except RepairTimeout:
        return len(wanted)
    return values[1] if len(values) > 1 else len(wanted)
