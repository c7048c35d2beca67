"""Hostile input for every parser: any value gives a result or one InvalidInput, nothing else.

Each parser gets hypothesis-generated input (unicode of every category, digits from other
scripts, huge and negative numbers, 24:00 and 25:61, NUL bytes, deep nesting, CSV quirks).
`make test` tries 200 cases per parser, `make stress` 10,000.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.domain.errors import InvalidInput
from dispatcher.domain.model import Week
from dispatcher.domain.parsing import (
    FieldProblem,
    parse_availability_csv,
    parse_bool,
    parse_count,
    parse_date,
    parse_day,
    parse_drivers_csv,
    parse_id,
    parse_run_file,
    parse_status,
    parse_time,
    parse_tours_csv,
    parse_tours_json,
    parse_weekly_hours,
)
from dispatcher.domain.repair import parse_days
from dispatcher.services.decisions import FORMULA_STARTS, safe_cell
from tests.reliability.harness import FULL, record, size

CASES = size(200, 10_000)
FUZZ = settings(
    max_examples=CASES,
    derandomize=not FULL,  # `make test` repeats the same cases; `make stress` explores
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
tried: dict[str, int] = {}

TIMES = st.sampled_from(["24:00", "25:61", "23:60", "-1:00", "00:00", "23:59", "7:5", "０７:３０"])
DIGITS = st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=6)
ANY_TEXT = st.text(max_size=40) | DIGITS | TIMES | DIGITS.map(lambda d: f"{d}:{d}")
SCALARS = (
    ANY_TEXT
    | st.integers()
    | st.integers(min_value=10**18, max_value=10**400)
    | st.builds(lambda: 10**5000)  # over Python's 4,300-digit str() limit
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.none()
    | st.booleans()
)
VALUES = SCALARS | st.lists(SCALARS, max_size=3) | st.dictionaries(ANY_TEXT, SCALARS, max_size=2)


def _accepts_or_refuses(name: str, parse: Callable[[], Any]) -> None:
    """`parse` returns, or refuses with a one-line InvalidInput (or, for a single field, the
    FieldProblem its caller turns into one); any other exception fails the test."""
    tried[name] = tried.get(name, 0) + 1
    try:
        parse()
    except InvalidInput as exc:
        assert "\n" not in exc.message and exc.message, name
    except FieldProblem as exc:
        assert "\n" not in str(exc) and str(exc), name


FIELD_PARSERS: dict[str, Callable[[Any], Any]] = {
    "id": parse_id,
    "day": parse_day,
    "time": parse_time,
    "count": parse_count,
    "bool": parse_bool,
    "weekly hours": parse_weekly_hours,
    "date": parse_date,
    "status": parse_status,
}


@pytest.mark.parametrize("name", list(FIELD_PARSERS))
def test_field_parsers(name: str) -> None:
    parse = FIELD_PARSERS[name]

    @FUZZ
    @given(VALUES)
    def check(value: Any) -> None:
        _accepts_or_refuses(name, lambda: parse(value))

    check()


@FUZZ
@given(TIMES | ANY_TEXT)
def test_times_are_inside_the_day(text: str) -> None:
    try:
        minutes = parse_time(text)
    except FieldProblem:
        return
    assert 0 <= minutes <= 23 * 60 + 59
    assert text.count(":") == 1 and text.isascii()


CELL = ANY_TEXT.map(lambda t: t.replace("\n", " ")) | st.sampled_from(
    ['"', '""', '"a,b"', "=cmd|' /C calc'!A0", "+1", "-1", "@SUM(1)", "\x00", "\ufeff", ";"]
)


@st.composite
def csv_files(draw: st.DrawFn, header: list[str]) -> bytes:
    sep = draw(st.sampled_from([",", ";"]))
    rows = draw(st.lists(st.lists(CELL, min_size=0, max_size=len(header) + 1), max_size=6))
    text = sep.join(header) + "\n" + "\n".join(sep.join(row) for row in rows)
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text.encode("utf-8") if draw(st.booleans()) else draw(st.binary(max_size=200))


CSV_PARSERS: dict[str, tuple[list[str], Callable[[bytes], Any]]] = {
    "tours csv": (["tour_id", "day", "start", "end", "count"], parse_tours_csv),
    "drivers csv": (["driver_id", "name", "max_weekly_hours", "skills"], parse_drivers_csv),
    "availability csv": (
        ["driver_id", "date", "status"],
        lambda data: parse_availability_csv(data, Week(2026, 3)),
    ),
}


@pytest.mark.parametrize("name", list(CSV_PARSERS))
def test_csv_parsers(name: str) -> None:
    header, parse = CSV_PARSERS[name]

    @FUZZ
    @given(csv_files(header))
    def check(data: bytes) -> None:
        _accepts_or_refuses(name, lambda: parse(data))

    check()


JSON_KEYS = ["tours", "drivers", "assignments", "availability", "week", "solver", "format"]
JSON_KEYS += ["tenant", "site", "tour_id", "day", "start", "end", "count", "driver_id"]
JSON_KEYS += ["instance_id", "name", "max_weekly_hours", "output_hash", "seed", "version"]
JSON = st.recursive(
    SCALARS.filter(lambda v: not isinstance(v, float) and not (isinstance(v, int) and v > 10**400)),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(JSON_KEYS) | ANY_TEXT, children, max_size=5)
    ),
    max_leaves=25,
)


@FUZZ
@given(JSON, st.sampled_from(["plain", "deep", "long number", "bytes"]))
def test_run_and_tour_json_files(value: Any, shape: str) -> None:
    if shape == "deep":
        data = ("[" * 100_000 + "]" * 100_000).encode()
    elif shape == "long number":
        data = b'{"week": ' + b"7" * 5000 + b"}"
    elif shape == "bytes":
        data = json.dumps(value).encode()[:-1] + b"\xff"
    else:
        data = json.dumps({"format": "dispatcher.run/1", "week": "2026-W03", "x": value}).encode()
        data = data if isinstance(value, dict) is False else json.dumps(value).encode()
    _accepts_or_refuses("run json", lambda: parse_run_file(data, "run.json", "LTS", "WIEN"))
    _accepts_or_refuses("tours json", lambda: parse_tours_json(data, "tours.json", "LTS", "WIEN"))


@FUZZ
@given(ANY_TEXT)
def test_weeks_and_day_lists(text: str) -> None:
    _accepts_or_refuses("week", lambda: Week.parse(text))
    _accepts_or_refuses("days", lambda: parse_days(text, Week(2026, 3)))


@FUZZ
@given(ANY_TEXT | CELL)
def test_exported_text_never_starts_a_formula(text: str) -> None:
    tried["export cell"] = tried.get("export cell", 0) + 1
    cell = safe_cell(text)
    assert not cell.startswith(FORMULA_STARTS)
    assert cell in (text, "'" + text)


@FUZZ
@given(ANY_TEXT.filter(lambda t: "\x00" not in t))  # an environment cannot hold NUL
def test_the_pinned_clock(text: str) -> None:
    import os

    from dispatcher.cli import wiring

    os.environ["DISPATCHER_NOW"] = text
    try:
        _accepts_or_refuses("DISPATCHER_NOW", wiring.clock)
    finally:
        del os.environ["DISPATCHER_NOW"]
    assert isinstance(wiring.clock(), datetime)


def test_report_the_cases_tried() -> None:
    record("fuzz", parsers=len(tried), cases_per_parser=CASES, cases=sum(tried.values()))
