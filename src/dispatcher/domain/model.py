"""The roster model: weeks, tours, instances, drivers, availability, plans and site settings."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from dispatcher.domain.errors import InvalidInput
from dispatcher.domain.ids import id_key

MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
WEEK_PATTERN = re.compile(r"(\d{4})-W(\d{2})")
ROLES = ("dispatcher", "ops_lead", "platform_admin")
# The wall clock of every tour time, week and local date the tool shows (domain.md §1).
VIENNA = ZoneInfo("Europe/Vienna")


# --- weeks -------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Week:
    """An ISO 8601 week such as 2026-W03; its anchor is the ISO Monday."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Week:
        match = WEEK_PATTERN.fullmatch(text.strip().upper())
        if match is None:
            raise InvalidInput(f"Invalid week {text!r}: expected an ISO week such as 2026-W03")
        year, number = int(match.group(1)), int(match.group(2))
        try:
            date.fromisocalendar(year, number, 1)
        except ValueError:
            raise InvalidInput(f"Invalid week {text!r}: {year} has no week {number}") from None
        return cls(year, number)

    @classmethod
    def of(cls, day: date) -> Week:
        year, number, _ = day.isocalendar()
        return cls(year, number)

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    def date_of(self, day: int) -> date:
        return self.monday + timedelta(days=day - 1)

    def day_of(self, moment: date) -> int | None:
        """1..7 when `moment` lies in this week, else None."""
        offset = (moment - self.monday).days
        return offset + 1 if 0 <= offset < 7 else None

    def previous(self) -> Week:
        return Week.of(self.monday - timedelta(days=7))

    def __str__(self) -> str:
        return f"{self.year}-W{self.number:02d}"


# --- tours and instances -----------------------------------------------------------------------


def tour_duration(start: int, end: int) -> int:
    """Minutes from start to end on a wall clock; an end before the start crosses midnight."""
    return end - start + (MINUTES_PER_DAY if end < start else 0)


def format_clock(minute_of_day: int) -> str:
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


@dataclass(frozen=True)
class Tour:
    """A forecast line: one contiguous shift on one day, needed `count` times."""

    tour_id: str
    day: int
    start: int  # minute of day 0..1439, Europe/Vienna wall clock
    end: int
    count: int = 1
    depot: str | None = None
    skill: str | None = None
    notes: str | None = None

    @property
    def duration(self) -> int:
        return tour_duration(self.start, self.end)

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start

    def instances(self) -> tuple[Instance, ...]:
        return tuple(Instance(tour=self, n=n) for n in range(1, self.count + 1))

    def as_document(self) -> dict[str, Any]:
        return {
            "tour_id": self.tour_id,
            "day": self.day,
            "start": format_clock(self.start),
            "end": format_clock(self.end),
            "count": self.count,
            "depot": self.depot,
            "skill": self.skill,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class Instance:
    """One copy of a tour: the unit that gets a driver. Id `<tour_id>#<n>`."""

    tour: Tour
    n: int

    @property
    def instance_id(self) -> str:
        return f"{self.tour.tour_id}#{self.n}"

    @property
    def day(self) -> int:
        return self.tour.day

    @property
    def start(self) -> int:
        """Minutes from Monday 00:00 on the week timeline."""
        return (self.tour.day - 1) * MINUTES_PER_DAY + self.tour.start

    @property
    def end(self) -> int:
        return self.start + self.tour.duration

    @property
    def duration(self) -> int:
        return self.tour.duration

    @property
    def skill(self) -> str | None:
        return self.tour.skill


def instance_sort_key(instance_id: str) -> tuple[str, int]:
    tour_id, _, n = instance_id.rpartition("#")
    return (tour_id, int(n)) if n.isascii() and n.isdigit() else (instance_id, 0)


# --- drivers and availability ------------------------------------------------------------------

DEFAULT_WEEKLY_CAP = 3300  # 55 h


@dataclass(frozen=True)
class Driver:
    driver_id: str
    name: str
    skills: tuple[str, ...] = ()
    active: bool = True
    max_weekly_minutes: int = DEFAULT_WEEKLY_CAP
    depot: str | None = None

    def as_document(self) -> dict[str, Any]:
        return {
            "driver_id": self.driver_id,
            "name": self.name,
            "skills": sorted(self.skills),
            "active": self.active,
            "max_weekly_minutes": self.max_weekly_minutes,
            "depot": self.depot,
        }


class AvailabilityStatus(StrEnum):
    AVAILABLE = "AVAILABLE"
    SICK = "SICK"
    VACATION = "VACATION"
    BLOCKED = "BLOCKED"


@dataclass(frozen=True)
class Absence:
    """A driver who is not available on one date (an availability row other than AVAILABLE)."""

    driver_id: str
    date: str  # ISO date
    status: AvailabilityStatus
    note: str | None = None  # for a repair request's absence: the request id
    since: str | None = None  # a request's absence binds tours starting after this UTC instant

    def as_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "driver_id": self.driver_id,
            "date": self.date,
            "status": str(self.status),
            "note": self.note,
        }
        if self.since is not None:  # absent from documents written before it existed
            doc["since"] = self.since
        return doc

    def binds(self, start: datetime) -> bool:
        """Does the absence forbid a tour starting at this instant? A request's absence takes
        effect when it was recorded (or repaired): tours that had started by then stay."""
        if self.since is None:
            return True
        return start > datetime.fromisoformat(self.since)


def start_instant(week: Week, instance: Instance) -> datetime:
    """The real UTC instant an instance starts (its times are Europe/Vienna wall clock)."""
    day = week.date_of(instance.day)
    minute = instance.tour.start
    local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=VIENNA)
    return local.astimezone(UTC)


@dataclass(frozen=True)
class WeekInput:
    """Everything a roster is built from: tours, drivers, availability for one week."""

    week: Week
    tours: tuple[Tour, ...]
    drivers: tuple[Driver, ...]
    availability: tuple[Absence, ...] = ()

    def instances(self) -> tuple[Instance, ...]:
        return tuple(
            i for tour in sorted(self.tours, key=lambda t: t.tour_id) for i in tour.instances()
        )

    def driver_map(self) -> dict[str, Driver]:
        return {d.driver_id: d for d in self.drivers}

    def driver_named(self, driver_id: str) -> Driver | None:
        """The week's driver with this id in any case (ids are unique ignoring case)."""
        key = id_key(driver_id)
        return next((d for d in self.drivers if id_key(d.driver_id) == key), None)

    def spelled(self, absences: Iterable[Absence]) -> tuple[Absence, ...]:
        """`absences` with each driver id written as this week's drivers write it: an absence
        recorded for D005 binds a run that spells the driver d005."""
        spelling = {id_key(d.driver_id): d.driver_id for d in self.drivers}
        return tuple(
            replace(a, driver_id=spelling.get(id_key(a.driver_id), a.driver_id)) for a in absences
        )

    def unavailable(self) -> dict[tuple[str, int], AvailabilityStatus]:
        """(driver, day) -> status, for every absence inside the week."""
        result: dict[tuple[str, int], AvailabilityStatus] = {}
        for row in self.availability:
            day = self.week.day_of(date.fromisoformat(row.date))
            if day is not None and row.status != AvailabilityStatus.AVAILABLE:
                result[(row.driver_id, day)] = row.status
        return result

    def as_document(self) -> dict[str, Any]:
        """The canonical input: tours by id with defaults, drivers by id, availability sorted."""
        return {
            "tours": [t.as_document() for t in sorted(self.tours, key=lambda t: t.tour_id)],
            "drivers": [d.as_document() for d in sorted(self.drivers, key=lambda d: d.driver_id)],
            "availability": [
                a.as_document()
                for a in sorted(self.availability, key=lambda a: (a.driver_id, a.date))
            ],
        }

    def with_drivers(self, extra: tuple[Driver, ...]) -> WeekInput:
        return replace(self, drivers=self.drivers + extra)


Plan = Mapping[str, str]  # instance_id -> driver_id


def plan_pairs(plan: Plan) -> list[list[str]]:
    """`[instance_id, driver_id]` pairs sorted by instance id: the hashed form of a plan."""
    return [[i, plan[i]] for i in sorted(plan, key=instance_sort_key)]


# --- site settings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DriftThresholds:
    """WARN/BLOCK thresholds; percentages in basis points, hours in minutes (strict comparisons)."""

    headcount_warn_bp: int = 500
    headcount_warn_drivers: int = 7
    headcount_block_bp: int = 1000
    headcount_block_drivers: int = 15
    coverage_warn_bp: int = 9950
    coverage_block_bp: int = 9900
    fte_warn_bp: int = 9500
    fte_block_bp: int = 9000
    pt_warn_bp: int = 500
    pt_block_bp: int = 1000
    max_hours_warn_minutes: int = 3120
    max_hours_block_minutes: int = 3300
    churn_warn_bp: int = 1000
    churn_block_bp: int = 2000

    def as_document(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> DriftThresholds:
        known = {k: int(v) for k, v in doc.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class SiteConfig:
    """A site's settings (domain.md §6); new sites start closed and in shadow mode."""

    publish_enabled: bool = False
    lock_enabled: bool = False
    shadow_only: bool = True
    publish_roles: tuple[str, ...] = ("dispatcher", "ops_lead", "platform_admin")
    lock_roles: tuple[str, ...] = ("ops_lead", "platform_admin")
    repair_roles: tuple[str, ...] = ("dispatcher", "ops_lead")
    min_reason_length: int = 10
    lock_requires_other_person: bool = True
    freeze_window_hours: int = 12
    drift_baseline: str = "auto"
    thresholds: DriftThresholds = field(default_factory=DriftThresholds)
    # Decisions only by the registered user mapped to the login that runs the command
    # (docs/deployment.md "Per-person logins"): off on SQLite and demo or test databases.
    approvals_require_login: bool = False


PILOT_SITES = {("LTS", "WIEN")}


def initial_site_config(tenant: str, site: str, *, require_login: bool = False) -> SiteConfig:
    """The pilot (LTS/WIEN) is open for publish and lock; any other new site is not. A site
    of a PostgreSQL production database starts with approvals bound to logins."""
    if (tenant, site) in PILOT_SITES:
        return SiteConfig(
            publish_enabled=True,
            lock_enabled=True,
            shadow_only=False,
            approvals_require_login=require_login,
        )
    return SiteConfig(approvals_require_login=require_login)


@dataclass(frozen=True)
class User:
    """A registered person of a tenant; gates accept a role only if the registry grants it."""

    user_id: str
    name: str
    roles: tuple[str, ...]
    active: bool = True
    # the database login (PostgreSQL) or operating-system account (SQLite) that is this person
    login: str | None = None

    def holds(self, role: str) -> bool:
        return self.active and role in self.roles
