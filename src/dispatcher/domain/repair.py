"""Repair of a plan after an absence (domain.md §9): scope, what may move, and the result."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dispatcher.domain.audits import RULES, BoundaryDay, Rules, schedule_breaks
from dispatcher.domain.errors import InvalidInput
from dispatcher.domain.model import (
    Absence,
    AvailabilityStatus,
    Driver,
    Instance,
    Plan,
    Week,
    WeekInput,
    instance_sort_key,
    start_instant,
)
from dispatcher.domain.parsing import DAY_ALIASES
from dispatcher.domain.records import RepairRecord
from dispatcher.domain.vocabulary import DAY_NAMES

ABSENCE_TYPES = {
    "sick": AvailabilityStatus.SICK,
    "vacation": AvailabilityStatus.VACATION,
    "other": AvailabilityStatus.BLOCKED,
}
URGENCIES = ("low", "normal", "high", "critical")
PENDING, PROPOSED, APPLIED, REJECTED = "PENDING", "PROPOSED", "APPLIED", "REJECTED"
OPEN_STATUSES = (PENDING, PROPOSED)


@dataclass(frozen=True)
class RepairScope:
    """What the absence covers: the whole week, some days, or some tour instances."""

    kind: str  # "week", "days" or "tours"
    days: tuple[int, ...] = ()
    instances: tuple[str, ...] = ()

    def as_document(self) -> dict[str, Any]:
        return {"kind": self.kind, "days": list(self.days), "instances": list(self.instances)}

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> RepairScope:
        return cls(doc["kind"], tuple(doc["days"]), tuple(doc["instances"]))

    def covers(self, instance: Instance) -> bool:
        if self.kind == "week":
            return True
        if self.kind == "days":
            return instance.day in self.days
        return instance.instance_id in self.instances

    def absence_days(self, instances: Mapping[str, Instance]) -> tuple[int, ...]:
        if self.kind == "week":
            return tuple(range(1, 8))
        if self.kind == "days":
            return self.days
        return tuple(sorted({instances[i].day for i in self.instances if i in instances}))

    def describe(self) -> str:
        if self.kind == "week":
            return "whole week"
        if self.kind == "days":
            return ", ".join(DAY_NAMES[d - 1] for d in self.days)
        return ", ".join(self.instances)


def _items(text: str, option: str, what: str) -> list[str]:
    """The comma-separated items of an option; an empty one is a typo, not a shorter list."""
    parts = [p.strip() for p in text.split(",")]
    if "" in parts:
        raise InvalidInput(f"{option}: an empty item in {text!r}; separate {what} with one comma")
    return parts


def parse_days(text: str, week: Week) -> tuple[int, ...]:
    """`Mon,Tue` or `2026-01-13,...`: dates must lie in the week."""
    days: set[int] = set()
    if not text.strip():
        raise InvalidInput("--days: give at least one day")
    for part in _items(text, "--days", "days"):
        if part.lower() in DAY_ALIASES:
            days.add(DAY_ALIASES[part.lower()])
            continue
        try:
            day = week.day_of(date.fromisoformat(part))
        except ValueError:
            raise InvalidInput(f"--days: {part!r} is neither a day name nor a date") from None
        if day is None:
            raise InvalidInput(f"--days: {part} is not in week {week}")
        days.add(day)
    if not days:
        raise InvalidInput("--days: give at least one day")
    return tuple(sorted(days))


def resolve_tours(
    text: str,
    driver_id: str,
    plan: Plan,
    instances: Mapping[str, Instance],
    where: str = "this plan",
) -> tuple[str, ...]:
    """Tour ids (all of that tour's instances the driver holds) or instance ids the driver holds."""
    held = {i for i, d in plan.items() if d == driver_id}
    chosen: set[str] = set()
    if not text.strip():
        raise InvalidInput("--tours: give at least one tour")
    for part in _items(text, "--tours", "tours"):
        if "#" in part:
            if part not in instances:
                raise InvalidInput(f"--tours: unknown tour instance {part}")
            if part not in held:
                raise InvalidInput(f"--tours: {part} is not driven by {driver_id} in {where}")
            chosen.add(part)
            continue
        mine = {i for i in held if instances[i].tour.tour_id == part}
        if not any(i.tour.tour_id == part for i in instances.values()):
            raise InvalidInput(f"--tours: unknown tour {part}")
        if not mine:
            raise InvalidInput(f"--tours: {driver_id} drives no instance of {part} in {where}")
        chosen |= mine
    if not chosen:
        raise InvalidInput("--tours: give at least one tour")
    return tuple(sorted(chosen, key=instance_sort_key))


def same_name(given: str, actual: str) -> bool:
    """Names match ignoring case and spacing (catches a wrong driver id)."""
    return "".join(given.split()).casefold() == "".join(actual.split()).casefold()


def request_absences(
    record: RepairRecord, week: Week, as_of: datetime | None = None
) -> tuple[Absence, ...]:
    """A request's absence, one row per day of its scope, binding the tours that start after it
    took effect: `as_of` (a repair covering it now), else its applied proposal's time, else the
    moment it was requested."""
    status = ABSENCE_TYPES[record.absence_type]
    moment = as_of
    if moment is None and record.status == APPLIED and record.proposal is not None:
        moment = record.proposal.moment
    if moment is None:
        moment = record.created_at
    since = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return tuple(
        Absence(record.driver_id, week.date_of(day).isoformat(), status, record.request_id, since)
        for day in record.scope["absence_days"]
    )


# --- the problem handed to a solver ------------------------------------------------------------


@dataclass(frozen=True)
class RepairProblem:
    """Everything a repair solver needs; pure data."""

    week_input: WeekInput  # including standby drivers
    plan: Mapping[str, str]
    absent: tuple[str, ...]  # usually one driver; several for benchmarks and what-ifs
    affected: tuple[str, ...]
    fixed: frozenset[str]  # never move: started, frozen (others'), the absent driver's others
    unavailable: Mapping[tuple[str, int], str]
    boundary: Mapping[str, BoundaryDay]
    standby: tuple[str, ...] = ()
    rules: Rules = RULES
    instances: dict[str, Instance] = field(init=False, compare=False)
    drivers: dict[str, Driver] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "instances", {i.instance_id: i for i in self.week_input.instances()}
        )
        object.__setattr__(self, "drivers", self.week_input.driver_map())

    def eligible(self, driver_id: str, instance_id: str) -> bool:
        """May this driver receive this instance: active, skilled, available, not the absent one."""
        driver = self.drivers.get(driver_id)
        instance = self.instances[instance_id]
        if driver is None or not driver.active or driver_id in self.absent:
            return False
        if instance.skill and instance.skill not in driver.skills:
            return False
        return (driver_id, instance.day) not in self.unavailable

    def schedule(self, plan: Mapping[str, str], driver_id: str) -> list[Instance]:
        return sorted(
            (self.instances[i] for i, d in plan.items() if d == driver_id),
            key=lambda i: (i.start, i.instance_id),
        )

    def breaks(self, driver_id: str, schedule: Iterable[Instance]) -> list[str]:
        return schedule_breaks(
            self.week_input.week,
            self.drivers[driver_id],
            schedule,
            self.boundary.get(driver_id),
            self.rules,
        )

    def clean_drivers(self) -> set[str]:
        """Drivers whose current schedule breaks no rule: only they may receive tours."""
        holders: dict[str, list[Instance]] = {}
        for instance_id, driver_id in self.plan.items():
            holders.setdefault(driver_id, []).append(self.instances[instance_id])
        clean = set()
        for driver_id, driver in self.drivers.items():
            usable = driver.active and driver_id not in self.absent
            if usable and not self.breaks(driver_id, holders.get(driver_id, [])):
                clean.add(driver_id)
        return clean


def build_problem(
    week_input: WeekInput,
    plan: Mapping[str, str],
    *,
    absent: str | tuple[str, ...],
    scope: RepairScope,
    now: datetime,
    freeze_hours: int,
    other_absences: Iterable[Absence],
    boundary: Mapping[str, BoundaryDay],
    standby: tuple[Driver, ...] = (),
    rules: Rules = RULES,
    also: Sequence[tuple[str, RepairScope]] = (),
) -> tuple[RepairProblem, tuple[str, ...]]:
    """The problem and the frozen instances (for the report). `also`: further absences repaired
    in the same proposal (driver, scope), as when several drivers call in sick at once."""
    first = (absent,) if isinstance(absent, str) else absent
    scopes = [(d, scope) for d in first] + list(also)
    absentees = tuple(dict.fromkeys(d for d, _ in scopes))
    full = week_input.with_drivers(standby)
    instances = {i.instance_id: i for i in full.instances()}
    week = week_input.week
    freeze_end = now + timedelta(hours=freeze_hours)
    starts = {i: start_instant(week, inst) for i, inst in instances.items()}
    others = full.spelled(other_absences)
    # An absentee's tours on a day the week already holds them absent (a sick call rejected
    # but kept) are repaired with the rest: the new version gives them no tour there either.
    kept = {
        (a.driver_id, day): a
        for a in others
        if a.driver_id in absentees and (day := week.day_of(date.fromisoformat(a.date)))
    }

    def repaired(instance_id: str, driver_id: str) -> bool:
        instance = instances[instance_id]
        if any(driver_id == a and sc.covers(instance) for a, sc in scopes):
            return True
        recorded = kept.get((driver_id, instance.day))
        return recorded is not None and recorded.binds(starts[instance_id])

    affected = tuple(
        sorted(
            (i for i, d in plan.items() if starts[i] > now and repaired(i, d)),
            key=instance_sort_key,
        )
    )
    frozen = tuple(
        sorted(
            (i for i in plan if now < starts[i] <= freeze_end and i not in affected),
            key=instance_sort_key,
        )
    )
    started = {i for i in plan if starts[i] <= now}
    fixed = frozenset(
        started | set(frozen) | ({i for i, d in plan.items() if d in absentees} - set(affected))
    )
    unavailable: dict[tuple[str, int], str] = {
        key: str(status) for key, status in full.unavailable().items()
    }
    for absence in others:
        day = week.day_of(date.fromisoformat(absence.date))
        if day is not None:
            unavailable.setdefault((absence.driver_id, day), str(absence.status))
    for driver_id, each in scopes:
        for day in each.absence_days(instances):
            unavailable.setdefault((driver_id, day), "ABSENT")
    problem = RepairProblem(
        full,
        dict(plan),
        absentees,
        affected,
        fixed,
        unavailable,
        dict(boundary),
        tuple(d.driver_id for d in standby),
        rules,
    )
    return problem, frozen


@dataclass(frozen=True)
class RepairSolution:
    plan: dict[str, str]
    uncovered: tuple[str, ...]
    changed_drivers: tuple[str, ...]
    moved: tuple[str, ...]
    max_work_changed: int
    proven_optimal: bool
    solver: str
    runtime_ms: int
    notes: tuple[str, ...] = ()


def summarize(problem: RepairProblem, plan: dict[str, str], **extra: Any) -> RepairSolution:
    """Churn figures of a candidate plan against the problem's current plan."""
    before = problem.plan
    moved = tuple(sorted((i for i in before if plan.get(i) != before[i]), key=instance_sort_key))
    changed = sorted({d for i in moved for d in (plan.get(i),) if d is not None})
    work = {
        d: sum(problem.instances[i].duration for i, x in plan.items() if x == d) for d in changed
    }
    uncovered = tuple(i for i in problem.affected if i not in plan)
    return RepairSolution(
        plan=plan,
        uncovered=uncovered,
        changed_drivers=tuple(changed),
        moved=moved,
        max_work_changed=max(work.values(), default=0),
        **extra,
    )


def uncovered_reason(problem: RepairProblem, plan: Mapping[str, str], instance_id: str) -> str:
    """Why nobody can take this instance: no skill, unavailable, or the rules each would break."""
    instance = problem.instances[instance_id]
    skilled = [
        d
        for d, driver in problem.drivers.items()
        if driver.active
        and d not in problem.absent
        and (not instance.skill or instance.skill in driver.skills)
    ]
    if not skilled:
        return f"no active driver has skill {instance.skill}"
    available = [d for d in skilled if (d, instance.day) not in problem.unavailable]
    if not available:
        return f"every driver with the skill is unavailable on {DAY_NAMES[instance.day - 1]}"
    counts: dict[str, int] = {}
    for driver_id in available:
        for rule in problem.breaks(driver_id, [*problem.schedule(plan, driver_id), instance]) or [
            "-"
        ]:
            counts[rule] = counts.get(rule, 0) + 1
    counts.pop("-", None)
    named = ", ".join(f"{rule} ({n})" for rule, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return f"every available driver would break a rule: {named}" if named else "no feasible driver"
