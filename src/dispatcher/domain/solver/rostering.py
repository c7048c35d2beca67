"""Rostering fixed duty days onto a fixed number of drivers by local search.

Each day's duty days are given (see `weekly.py`). A roster gives every chosen driver at most one
duty day per day. Skills and availability are never broken; the weekly cap, rest between duty days
(across the week boundary too) and the 3er rule are scored, and swaps of two drivers' duty days on
one day (a driver without a duty day that day swaps an empty one) remove what is broken. When
nothing is broken, more swaps lift part-time drivers and even out weekly hours.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dispatcher.domain.audits import BoundaryDay, Rules
from dispatcher.domain.model import Driver, Instance

BREAK_WEIGHT = 500  # one broken rest or 3er rule weighs as much as 500 minutes over a cap
START_TEMPERATURE = 50.0
COOLING = 0.999
TAIL_SHARE = 0.25  # share of moves that exchange the rest of the week, not one day
PATIENCE = 3_000  # steps without a new best state before the temperature rises again
REHEATS = 3


@dataclass(frozen=True)
class Duty:
    """One duty day: its instances and what the rules need to know about it."""

    day: int
    start: int
    end: int
    work: int
    skills: frozenset[str]
    triple: bool
    instances: tuple[Instance, ...]

    @classmethod
    def of(cls, day: int, block: tuple[Instance, ...]) -> Duty:
        return cls(
            day,
            min(i.start for i in block),
            max(i.end for i in block),
            sum(i.duration for i in block),
            frozenset(i.skill for i in block if i.skill),
            len(block) >= 3,
            block,
        )


def choose_drivers(
    pool: list[Driver],
    duties: Mapping[int, list[Duty]],
    count: int,
    unavailable: Mapping[tuple[str, int], object],
) -> list[Driver]:
    """`count` drivers: the most available, the longest caps and the most skills first (every
    chosen driver works, and skilled ones can take any duty day), but at least enough for each
    skill on its busiest day; the pool's order, shuffled by the seed, breaks ties."""
    ranked = sorted(
        pool,
        key=lambda d: (
            sum((d.driver_id, day) in unavailable for day in duties),
            -d.max_weekly_minutes,
            -len(d.skills),
        ),
    )
    chosen: list[Driver] = []
    skills = sorted({s for day in duties.values() for duty in day for s in duty.skills})
    for skill in skills:
        needed = max(sum(skill in duty.skills for duty in day) for day in duties.values())
        have = sum(skill in d.skills for d in chosen)
        for driver in ranked:
            if have >= needed or len(chosen) >= count:
                break
            if skill in driver.skills and driver not in chosen:
                chosen.append(driver)
                have += 1
    chosen.extend([d for d in ranked if d not in chosen][: count - len(chosen)])
    return chosen


class Roster:
    """Duty days of a week on `drivers`, one slot per driver and day (None: day off)."""

    def __init__(
        self,
        drivers: list[Driver],
        duties: Mapping[int, list[Duty]],
        unavailable: Mapping[tuple[str, int], object],
        boundary: Mapping[str, BoundaryDay],
        rules: Rules,
    ) -> None:
        self.drivers = drivers
        self.days = sorted(duties)
        self.rules = rules
        self.caps = [min(d.max_weekly_minutes, rules.weekly_cap) for d in drivers]
        self.skills = [frozenset(d.skills) for d in drivers]
        self.away = [
            {day for day in self.days if (d.driver_id, day) in unavailable} for d in drivers
        ]
        self.before = [boundary.get(d.driver_id) for d in drivers]
        self.duties = duties
        self.slots: dict[int, list[Duty | None]] = {day: [None] * len(drivers) for day in duties}
        self.work = [0] * len(drivers)
        self.unplaced: list[Duty] = []  # duty days no driver with the skills could take

    def allowed(self, k: int, day: int, duty: Duty | None) -> bool:
        """Skills and availability: never broken."""
        return duty is None or (duty.skills <= self.skills[k] and day not in self.away[k])

    def breaks(self, k: int) -> int:
        """Rest shorter than the minimum and 3er days back to back, for driver k."""
        count = 0
        boundary = self.before[k]
        last_day, last_end, last_triple = (
            (boundary.day - 7, boundary.last_end, boundary.tours >= 3)
            if boundary
            else (0, 0, False)
        )
        has_last = boundary is not None
        for day in self.days:
            duty = self.slots[day][k]
            if duty is None:
                continue
            if has_last:
                count += duty.start - last_end < self.rules.rest_min
                count += duty.triple and last_triple and day == last_day + 1
            has_last, last_day, last_end, last_triple = True, day, duty.end, duty.triple
        return count

    def cost(self, k: int) -> int:
        return max(0, self.work[k] - self.caps[k]) + BREAK_WEIGHT * self.breaks(k)

    def swap(self, days: tuple[int, ...], a: int, b: int) -> None:
        """Drivers a and b exchange their duty days on `days`."""
        for day in days:
            slots = self.slots[day]
            first, second = slots[a], slots[b]
            moved = (second.work if second else 0) - (first.work if first else 0)
            slots[a], slots[b] = second, first
            self.work[a] += moved
            self.work[b] -= moved

    def may_swap(self, days: tuple[int, ...], a: int, b: int) -> bool:
        return all(
            self.slots[day][a] is not self.slots[day][b]
            and self.allowed(a, day, self.slots[day][b])
            and self.allowed(b, day, self.slots[day][a])
            for day in days
        )

    def total(self) -> int:
        return sum(self.cost(k) for k in range(len(self.drivers)))

    def fill(self) -> bool:
        """Day by day, longest duty days first to the least-loaded driver they fit unbroken.

        False when a duty day has no driver with its skills free that day (it stays unplaced).
        """
        for day in self.days:
            free = set(range(len(self.drivers)))
            for duty in sorted(self.duties[day], key=lambda d: (-len(d.skills), -d.work, d.start)):
                options = sorted(
                    (k for k in free if self.allowed(k, day, duty)),
                    key=lambda k: (self.work[k] - self.caps[k], k),
                )
                if not options:
                    self.unplaced.append(duty)
                    continue
                chosen = options[0]
                for k in options:
                    self.slots[day][k] = duty
                    clean = self.breaks(k) == 0 and self.work[k] + duty.work <= self.caps[k]
                    self.slots[day][k] = None
                    if clean:
                        chosen = k
                        break
                self.slots[day][chosen] = duty
                self.work[chosen] += duty.work
                free.discard(chosen)
        return not self.unplaced

    def shed(self) -> None:
        """Take duty days off drivers until nothing is broken (they become unplaced)."""
        for k in range(len(self.drivers)):
            for day in sorted(self.days, reverse=True):
                if self.cost(k) == 0:
                    break
                duty = self.slots[day][k]
                if duty is not None:
                    self.slots[day][k] = None
                    self.work[k] -= duty.work
                    self.unplaced.append(duty)

    def plan(self) -> dict[str, str]:
        return {
            instance.instance_id: self.drivers[k].driver_id
            for day in self.days
            for k, duty in enumerate(self.slots[day])
            if duty is not None
            for instance in duty.instances
        }


def _best_partner(
    roster: Roster,
    rng: random.Random,
    days: tuple[int, ...],
    k: int,
    score: Callable[[int], int],
) -> tuple[int | None, int]:
    """The driver whose duty days on `days` k should take, and the change in `score`."""
    best: int | None = None
    best_delta = 0
    for other in range(len(roster.drivers)):
        if other == k or not roster.may_swap(days, k, other):
            continue
        before = score(k) + score(other)
        roster.swap(days, k, other)
        delta = score(k) + score(other) - before
        roster.swap(days, k, other)
        if best is None or delta < best_delta or (delta == best_delta and rng.random() < 0.3):
            best, best_delta = other, delta
    return best, best_delta


def _move(roster: Roster, rng: random.Random) -> tuple[int, ...]:
    """One day, or (one time in four) the rest of the week from a day on."""
    day = rng.choice(roster.days)
    if rng.random() < TAIL_SHARE:
        return tuple(d for d in roster.days if d >= day)
    return (day,)


def repair_roster(roster: Roster, rng: random.Random, iterations: int) -> tuple[bool, int]:
    """Swap duty days until nothing is broken; (success, iterations used).

    Worse swaps are accepted with a falling probability (annealing); when the best state has not
    improved for a while the temperature rises again, and after a few such rounds the search
    gives up (more drivers are then tried).
    """
    temperature = START_TEMPERATURE
    total = roster.total()
    best, since_best, reheats = total, 0, 0
    for used in range(iterations):
        bad = [k for k in range(len(roster.drivers)) if roster.cost(k) > 0]
        if not bad:
            return True, used
        k = rng.choice(bad)
        days = _move(roster, rng)
        partner, delta = _best_partner(roster, rng, days, k, roster.cost)
        if partner is not None and (delta <= 0 or rng.random() < math.exp(-delta / temperature)):
            roster.swap(days, k, partner)
            total += delta
        if total < best:
            best, since_best = total, 0
        else:
            since_best += 1
            if since_best > PATIENCE:
                reheats += 1
                if reheats > REHEATS:
                    return False, used + 1
                temperature, since_best = START_TEMPERATURE, 0
        temperature = max(1.0, temperature * COOLING)
    return roster.total() == 0, iterations


def balance_roster(roster: Roster, rng: random.Random, iterations: int) -> int:
    """Keep everything unbroken; fewer part-time drivers, then a smaller spread of hours.

    Among part-time drivers work is pulled together (a concave score), so some reach the
    full-time minimum or empty out; among full-time drivers it is spread evenly (convex).
    """
    fte = roster.rules.fte_min

    def score(k: int) -> int:
        work = roster.work[k]
        if roster.cost(k) > 0:
            return 10**12
        if work == 0:
            return 0
        if work < fte:
            return 10**9 - work * work // 60
        return work * work // 60

    idle = 0
    for used in range(iterations):
        order = sorted(range(len(roster.drivers)), key=score, reverse=True)
        k = order[0] if rng.random() < 0.5 else rng.choice(order[: max(1, len(order) // 10)])
        days = _move(roster, rng)
        partner, delta = _best_partner(roster, rng, days, k, score)
        if partner is not None and delta < 0:
            roster.swap(days, k, partner)
            idle = 0
        else:
            idle += 1
            if idle > 4 * len(roster.days) * 10:
                return used
    return iterations
