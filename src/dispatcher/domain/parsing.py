"""Input formats (domain.md §2): tour forecasts, drivers, availability, run files.

Every error names the file, the line or JSON path, the field and the problem, and nothing is
returned half-parsed: the caller stores all or nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from dispatcher.domain.errors import InvalidInput
from dispatcher.domain.ids import ID_PATTERN, as_text, ascii_digits, id_key
from dispatcher.domain.model import (
    DEFAULT_WEEKLY_CAP,
    Absence,
    AvailabilityStatus,
    Driver,
    Tour,
    Week,
    tour_duration,
)
from dispatcher.domain.text import is_encodable

MAX_DURATION = 960
RUN_FORMAT = "dispatcher.run/1"
DAY_ALIASES: dict[str, int] = {}
for _number, _names in enumerate(
    (
        ("mon", "mo", "monday"),
        ("tue", "di", "tuesday"),
        ("wed", "mi", "wednesday"),
        ("thu", "do", "thursday"),
        ("fri", "fr", "friday"),
        ("sat", "sa", "saturday"),
        ("sun", "so", "sunday"),
    ),
    start=1,
):
    DAY_ALIASES[str(_number)] = _number
    for _name in _names:
        DAY_ALIASES[_name] = _number
TRUE_WORDS = {"true", "yes", "1"}
FALSE_WORDS = {"false", "no", "0"}


class FieldProblem(Exception):
    """A problem with one value; the caller adds where it was found."""


T = TypeVar("T")


# --- value parsers (raise FieldProblem) ---------------------------------------------------------


def parse_id(value: Any, what: str = "id") -> str:
    text = _text(value)
    if not ID_PATTERN.fullmatch(text):
        raise FieldProblem(f"invalid {what} {text!r}")
    return text


def parse_day(value: Any) -> int:
    text = _text(value).lower()
    if text not in DAY_ALIASES:
        raise FieldProblem(f"unknown day {text!r} (use 1-7, Mon-Sun or Mo-So)")
    return DAY_ALIASES[text]


def parse_time(value: Any) -> int:
    text = _text(value)
    hours, sep, minutes = text.partition(":")
    if not sep or not (1 <= len(hours) <= 2) or len(minutes) != 2:
        raise FieldProblem(f"bad time {text!r} (use HH:MM, 00:00-23:59)")
    if not (ascii_digits(hours) and ascii_digits(minutes)):
        raise FieldProblem(f"bad time {text!r} (use HH:MM, 00:00-23:59)")
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        raise FieldProblem(f"bad time {text!r} (use HH:MM, 00:00-23:59)")
    return h * 60 + m


def parse_count(value: Any) -> int:
    text = _text(value)
    if not ascii_digits(text) or not 1 <= int(text) <= 99:
        raise FieldProblem(f"count {text!r} outside 1-99")
    return int(text)


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise FieldProblem(f"{text!r} is not true/false/yes/no/1/0")


def parse_weekly_hours(value: Any) -> int:
    """Hours (0 < h <= 55, a whole number of minutes) as minutes."""
    if isinstance(value, bool):
        raise FieldProblem("max_weekly_hours must be a number")
    try:
        hours = Decimal(_str(value).strip())
    except InvalidOperation:
        raise FieldProblem(f"max_weekly_hours {value!r} is not a number") from None
    if not hours.is_finite() or not (0 < hours <= 55):
        raise FieldProblem(f"max_weekly_hours {value!r} outside 0 < h <= 55")
    minutes = hours * 60
    if minutes != minutes.to_integral_value():
        raise FieldProblem(f"max_weekly_hours {value!r} is not a whole number of minutes")
    return int(minutes)


def parse_date(value: Any) -> date:
    text = _text(value)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FieldProblem(f"bad date {text!r} (use YYYY-MM-DD)") from None


def parse_status(value: Any) -> AvailabilityStatus:
    text = _text(value).upper()
    try:
        return AvailabilityStatus(text)
    except ValueError:
        options = "/".join(s.value for s in AvailabilityStatus)
        raise FieldProblem(f"unknown status {text!r} (use {options})") from None


def _text(value: Any) -> str:
    if value is None:
        raise FieldProblem("missing value")
    if isinstance(value, dict | list):
        raise FieldProblem("expected a single value")
    return _str(value).strip()


def _str(value: Any) -> str:
    try:
        return as_text(value)
    except ValueError as exc:
        raise FieldProblem(str(exc)) from None


def _optional(value: Any) -> str | None:
    if value is None:
        return None
    text = _str(value).strip()
    return text or None


# --- records ------------------------------------------------------------------------------------


Record = Mapping[str, Any]


@dataclass
class Located:
    """A record and the words that say where it came from (`tours.csv line 4`)."""

    where: str
    record: Record

    def get(self, name: str, parser: Callable[[Any], T], *, required: bool = True) -> T | None:
        raw = self.record.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                raise InvalidInput(f"{self.where}, field {name}: missing value")
            return None
        try:
            return parser(raw)
        except FieldProblem as problem:
            raise InvalidInput(f"{self.where}, field {name}: {problem}") from None

    def need(self, name: str, parser: Callable[[Any], T]) -> T:
        value = self.get(name, parser)
        assert value is not None
        return value


def tour_from(item: Located) -> Tour:
    start, end = item.need("start", parse_time), item.need("end", parse_time)
    if start == end:
        raise InvalidInput(f"{item.where}, field end: end equals start")
    if tour_duration(start, end) > MAX_DURATION:
        raise InvalidInput(
            f"{item.where}, field end: duration {tour_duration(start, end)} min exceeds "
            f"{MAX_DURATION} min"
        )
    return Tour(
        tour_id=item.need("tour_id", lambda v: parse_id(v, "tour_id")),
        day=item.need("day", parse_day),
        start=start,
        end=end,
        count=item.get("count", parse_count, required=False) or 1,
        depot=item.get("depot", lambda v: parse_id(v, "depot"), required=False),
        skill=item.get("skill", lambda v: parse_id(v, "skill").upper(), required=False),
        notes=item.get("notes", _optional, required=False),
    )


def _skills(value: Any) -> tuple[str, ...]:
    parts = value if isinstance(value, list) else str(value).split("|")
    return tuple(sorted({parse_id(p, "skill").upper() for p in parts if str(p).strip()}))


def driver_from(item: Located) -> Driver:
    return Driver(
        driver_id=item.need("driver_id", lambda v: parse_id(v, "driver_id")),
        name=item.need("name", _text),
        skills=item.get("skills", _skills, required=False) or (),
        active=True if (a := item.get("active", parse_bool, required=False)) is None else a,
        max_weekly_minutes=item.get("max_weekly_hours", parse_weekly_hours, required=False)
        or DEFAULT_WEEKLY_CAP,
        depot=item.get("depot", lambda v: parse_id(v, "depot"), required=False),
    )


def absence_from(item: Located, week: Week | None) -> Absence:
    day = item.need("date", parse_date)
    if week is not None and week.day_of(day) is None:
        raise InvalidInput(f"{item.where}, field date: {day} is not in week {week}")
    return Absence(
        driver_id=item.need("driver_id", lambda v: parse_id(v, "driver_id")),
        date=day.isoformat(),
        status=item.need("status", parse_status),
        note=item.get("note", _optional, required=False),
    )


# --- CSV ----------------------------------------------------------------------------------------


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name}: not UTF-8 text (byte {exc.start})") from None


def csv_records(data: bytes, name: str, required: Sequence[str]) -> Iterator[Located]:
    """Rows of a CSV file with a header; delimiter `,` or `;` detected from the header."""
    text = _decode(data, name)
    lines = text.splitlines()
    header_index = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_index is None:
        raise InvalidInput(f"{name}: empty file (a header line is required)")
    header_line = lines[header_index]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in row]
                missing = [column for column in required if column not in header]
                if missing:
                    raise InvalidInput(
                        f"{name} line {reader.line_num}: missing column(s) {', '.join(missing)}"
                    )
                if len(set(header)) != len(header):
                    raise InvalidInput(f"{name} line {reader.line_num}: duplicate column names")
                continue
            where = f"{name} line {reader.line_num}"
            if len(row) > len(header):
                raise InvalidInput(f"{where}: {len(row)} fields but the header has {len(header)}")
            yield Located(where, dict(zip(header, row, strict=False)))
    except csv.Error as exc:
        raise InvalidInput(f"{name} line {reader.line_num}: malformed CSV ({exc})") from None


def parse_tours_csv(data: bytes, name: str = "tours.csv") -> tuple[Tour, ...]:
    tours = [
        tour_from(item) for item in csv_records(data, name, ("tour_id", "day", "start", "end"))
    ]
    return _check_tours(tours, name)


def parse_drivers_csv(data: bytes, name: str = "drivers.csv") -> tuple[Driver, ...]:
    drivers = [driver_from(item) for item in csv_records(data, name, ("driver_id", "name"))]
    return _check_drivers(drivers, name)


def parse_availability_csv(
    data: bytes, week: Week, name: str = "availability.csv"
) -> tuple[Absence, ...]:
    rows = [
        absence_from(item, week)
        for item in csv_records(data, name, ("driver_id", "date", "status"))
    ]
    return _check_availability(rows, name)


def _check_tours(tours: list[Tour], name: str) -> tuple[Tour, ...]:
    if not tours:
        raise InvalidInput(f"{name}: no tours")
    seen: set[str] = set()
    for tour in tours:
        if tour.tour_id in seen:
            raise InvalidInput(f"{name}: duplicate tour_id {tour.tour_id}")
        seen.add(tour.tour_id)
    return tuple(tours)


def _check_drivers(drivers: list[Driver], name: str) -> tuple[Driver, ...]:
    seen: dict[str, str] = {}
    for driver in drivers:
        first = seen.get(id_key(driver.driver_id))
        if first == driver.driver_id:
            raise InvalidInput(f"{name}: duplicate driver_id {driver.driver_id}")
        if first is not None:
            raise InvalidInput(
                f"{name}: duplicate driver_id {driver.driver_id} (as {first}: driver ids are "
                "compared ignoring case)"
            )
        seen[id_key(driver.driver_id)] = driver.driver_id
    return tuple(drivers)


def _check_availability(rows: list[Absence], name: str) -> tuple[Absence, ...]:
    seen: set[tuple[str, str]] = set()
    for row in rows:
        if (row.driver_id, row.date) in seen:
            raise InvalidInput(f"{name}: two availability rows for {row.driver_id} on {row.date}")
        seen.add((row.driver_id, row.date))
    return tuple(r for r in rows if r.status != AvailabilityStatus.AVAILABLE)


# --- JSON ---------------------------------------------------------------------------------------


def load_json(data: bytes, name: str) -> dict[str, Any]:
    text = _decode(data, name)
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{name} line {exc.lineno}: malformed JSON ({exc.msg})") from None
    except RecursionError:
        raise InvalidInput(f"{name}: JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise InvalidInput(f"{name}: unreadable JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{name}: expected a JSON object at the top level")
    # An unpaired escape such as \udcff decodes to a lone surrogate, which no database holds.
    escapes = "\\ud" in text or "\\uD" in text
    if escapes and not is_encodable(json.dumps(value, ensure_ascii=False)):
        raise InvalidInput(f"{name}: a string holds an unpaired surrogate escape (\\udxxx)")
    return value


def _refuse_constant(token: str) -> Any:
    raise InvalidInput(f"JSON constant {token} is not allowed")


def _json_items(doc: Mapping[str, Any], key: str, name: str) -> list[Located]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise InvalidInput(f"{name} at {key}: expected a list")
    items = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise InvalidInput(f"{name} at {key}[{index}]: expected an object")
        items.append(Located(f"{name} at {key}[{index}]", item))
    return items


def _check_scope(doc: Mapping[str, Any], name: str, tenant: str, site: str) -> None:
    for key, expected in (("tenant", tenant), ("site", site)):
        if key in doc and str(doc[key]).strip().upper() != expected:
            raise InvalidInput(
                f"{name} at {key}: file is for {str(doc[key]).upper()}, command acts on {expected}"
            )


def _week_of(doc: Mapping[str, Any], name: str, week: Week | None) -> Week:
    declared = doc.get("week")
    if declared is None:
        if week is None:
            raise InvalidInput(f"{name} at week: missing value (or give --week)")
        return week
    try:
        parsed = Week.parse(str(declared))
    except InvalidInput as exc:
        raise InvalidInput(f"{name} at week: {exc.message}") from None
    if week is not None and parsed != week:
        raise InvalidInput(f"{name} at week: file is for {parsed}, --week says {week}")
    return parsed


def parse_tours_json(
    data: bytes, name: str, tenant: str, site: str, week: Week | None = None
) -> tuple[Week, tuple[Tour, ...]]:
    doc = load_json(data, name)
    _check_scope(doc, name, tenant, site)
    parsed_week = _week_of(doc, name, week)
    return parsed_week, _check_tours([tour_from(i) for i in _json_items(doc, "tours", name)], name)


@dataclass(frozen=True)
class SolverInfo:
    name: str
    version: str | None = None
    seed: int | None = None
    output_hash: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunFile:
    week: Week
    tours: tuple[Tour, ...]
    drivers: tuple[Driver, ...]
    availability: tuple[Absence, ...]
    assignments: tuple[tuple[str, str], ...]  # (instance_id, driver_id) in file order
    solver: SolverInfo


def parse_run_file(
    data: bytes, name: str, tenant: str, site: str, week: Week | None = None
) -> RunFile:
    """A `dispatcher.run/1` document, fully validated."""
    doc = load_json(data, name)
    if doc.get("format", RUN_FORMAT) != RUN_FORMAT:
        raise InvalidInput(f"{name} at format: expected {RUN_FORMAT!r}, found {doc['format']!r}")
    _check_scope(doc, name, tenant, site)
    parsed_week = _week_of(doc, name, week)
    tours = _check_tours([tour_from(i) for i in _json_items(doc, "tours", name)], name)
    drivers = _check_drivers([driver_from(i) for i in _json_items(doc, "drivers", name)], name)
    availability = _check_availability(
        [absence_from(i, parsed_week) for i in _json_items(doc, "availability", name)], name
    )
    known_drivers = {d.driver_id for d in drivers}
    for absence in availability:
        if absence.driver_id not in known_drivers:
            raise InvalidInput(f"{name} at availability: unknown driver {absence.driver_id}")
    instances = {i.instance_id for tour in tours for i in tour.instances()}
    assignments: list[tuple[str, str]] = []
    assigned: set[str] = set()
    for item in _json_items(doc, "assignments", name):
        instance_id = item.need("instance_id", _text)
        driver_id = item.need("driver_id", lambda v: parse_id(v, "driver_id"))
        if instance_id not in instances:
            raise InvalidInput(f"{item.where}, field instance_id: unknown instance {instance_id}")
        if driver_id not in known_drivers:
            raise InvalidInput(f"{item.where}, field driver_id: unknown driver {driver_id}")
        if instance_id in assigned:
            raise InvalidInput(f"{item.where}, field instance_id: {instance_id} assigned twice")
        assigned.add(instance_id)
        assignments.append((instance_id, driver_id))
    return RunFile(
        parsed_week, tours, drivers, availability, tuple(assignments), _solver_info(doc, name)
    )


def _solver_info(doc: Mapping[str, Any], name: str) -> SolverInfo:
    solver = doc.get("solver")
    if not isinstance(solver, dict):
        raise InvalidInput(f"{name} at solver: missing object with at least a name")
    item = Located(f"{name} at solver", solver)
    seed = item.get("seed", _integer, required=False)
    output_hash = item.get("output_hash", _text, required=False)
    from dispatcher.domain.hashing import is_tagged_digest

    if output_hash is not None and not is_tagged_digest(output_hash):
        raise InvalidInput(f"{name} at solver, field output_hash: expected sha256:<64 hex>")
    return SolverInfo(
        name=item.need("name", _text),
        version=item.get("version", _text, required=False),
        seed=seed,
        output_hash=output_hash,
    )


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FieldProblem("expected an integer")
    text = _str(value).strip()
    if not ascii_digits(text.removeprefix("-")) or abs(int(text)) > 2**62:
        raise FieldProblem(f"{text!r} is not an integer")
    return int(text)
