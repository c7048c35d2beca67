"""Writing the input formats of domain.md §2 (the inverse of parsing; round-trips in tests)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

from dispatcher.domain.model import Absence, Driver, Plan, Tour, WeekInput, format_clock, plan_pairs
from dispatcher.domain.parsing import RUN_FORMAT
from dispatcher.domain.vocabulary import format_hours


def _csv(header: list[str], rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def tours_csv(tours: Iterable[Tour]) -> str:
    return _csv(
        ["tour_id", "day", "start", "end", "count", "depot", "skill", "notes"],
        (
            [
                t.tour_id,
                ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[t.day - 1],
                format_clock(t.start),
                format_clock(t.end),
                str(t.count),
                t.depot or "",
                t.skill or "",
                t.notes or "",
            ]
            for t in sorted(tours, key=lambda t: t.tour_id)
        ),
    )


def drivers_csv(drivers: Iterable[Driver]) -> str:
    return _csv(
        ["driver_id", "name", "skills", "active", "max_weekly_hours", "depot"],
        (
            [
                d.driver_id,
                d.name,
                "|".join(d.skills),
                "true" if d.active else "false",
                _hours_text(d.max_weekly_minutes),
                d.depot or "",
            ]
            for d in sorted(drivers, key=lambda d: d.driver_id)
        ),
    )


def _hours_text(minutes: int) -> str:
    return str(minutes // 60) if minutes % 60 == 0 else format_hours(minutes)


def availability_csv(rows: Iterable[Absence]) -> str:
    return _csv(
        ["driver_id", "date", "status", "note"],
        ([a.driver_id, a.date, str(a.status), a.note or ""] for a in rows),
    )


def run_file(
    week_input: WeekInput,
    plan: Plan,
    *,
    tenant: str,
    site: str,
    solver: Mapping[str, Any],
) -> str:
    """A `dispatcher.run/1` document (pretty-printed; its assignment order is by instance id)."""
    doc = {
        "format": RUN_FORMAT,
        "tenant": tenant,
        "site": site,
        "week": str(week_input.week),
        "solver": dict(solver),
        "tours": [
            {k: v for k, v in t.as_document().items() if v is not None}
            for t in sorted(week_input.tours, key=lambda t: t.tour_id)
        ],
        "drivers": [
            _driver_entry(d) for d in sorted(week_input.drivers, key=lambda d: d.driver_id)
        ],
        "availability": [a.as_document() for a in week_input.availability],
        "assignments": [{"instance_id": i, "driver_id": d} for i, d in plan_pairs(plan)],
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def _driver_entry(driver: Driver) -> dict[str, Any]:
    entry = driver.as_document()
    del entry["max_weekly_minutes"]
    entry["max_weekly_hours"] = _hours_text(driver.max_weekly_minutes)
    return entry
