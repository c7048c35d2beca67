"""Properties: valid-by-construction rosters pass, breaking moves are caught, parsers hold."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dispatcher.domain.errors import InvalidInput
from dispatcher.domain.model import Absence, AvailabilityStatus, Tour
from dispatcher.domain.parsing import parse_drivers_csv, parse_run_file, parse_tours_csv
from tests.builders import WEEK, all_kinds, audit, driver


@dataclass
class Roster:
    tours: list[Tour]
    plan: dict[str, str]


@st.composite
def valid_rosters(draw: st.DrawFn) -> Roster:
    """Every rule holds by construction, independently of the audit code.

    Same start every day and spans <= 720 min give >= 720 min rest; at most five days of at most
    600 min stay under 55 h; triple days are never on consecutive days; no tour crosses midnight.
    """
    tours: list[Tour] = []
    plan: dict[str, str] = {}
    for d in range(draw(st.integers(1, 5))):
        driver_id = f"D{d}"
        base = draw(st.sampled_from([240, 300, 360, 420]))
        days = sorted(draw(st.lists(st.integers(1, 6), min_size=1, max_size=5, unique=True)))
        last_triple = -1
        for day in days:
            kind = draw(st.sampled_from(["1er", "2er-reg", "2er-split", "3er"]))
            if kind == "3er" and last_triple == day - 1:
                kind = "2er-reg"
            if kind == "3er":
                last_triple = day
            if kind == "1er":
                lengths, gaps = [draw(st.integers(30, 600))], []
            elif kind == "2er-reg":
                lengths = [draw(st.integers(30, 270)) for _ in range(2)]
                gaps = [draw(st.integers(30, 60))]
            elif kind == "2er-split":
                lengths = [draw(st.integers(30, 120)) for _ in range(2)]
                gaps = [draw(st.integers(240, 360))]
            else:
                lengths = [draw(st.integers(30, 180)) for _ in range(3)]
                gaps = [draw(st.integers(30, 60)) for _ in range(2)]
            at = base
            for k, length in enumerate(lengths):
                tour_id = f"T{d}x{day}x{k}"
                tours.append(Tour(tour_id, day, at, at + length))
                plan[f"{tour_id}#1"] = driver_id
                at += length + (gaps[k] if k < len(gaps) else 0)
    return Roster(tours, plan)


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(valid_rosters())
def test_rosters_valid_by_construction_pass_all_seven_audits(roster: Roster) -> None:
    report = audit(roster.tours, roster.plan)
    assert all_kinds(report) == set()
    assert report.passed_count == 7
    assert report.covered == report.total == len(roster.tours)


@FAST
@given(valid_rosters(), st.data())
def test_moving_a_tour_onto_an_overlapping_driver_is_caught(
    roster: Roster, data: st.DataObject
) -> None:
    instances = {t.tour_id + "#1": t for t in roster.tours}
    pairs = [
        (x, y)
        for x, tx in instances.items()
        for y, ty in instances.items()
        if roster.plan[x] != roster.plan[y]
        and tx.day == ty.day
        and tx.start < ty.end
        and ty.start < tx.end
    ]
    assume(pairs)
    moved, onto = data.draw(st.sampled_from(pairs))
    plan = {**roster.plan, moved: roster.plan[onto]}
    assert "OVERLAP" in all_kinds(audit(roster.tours, plan))


@FAST
@given(valid_rosters(), st.data())
def test_leaving_a_tour_open_or_giving_it_to_an_absent_driver_is_caught(
    roster: Roster, data: st.DataObject
) -> None:
    instance = data.draw(st.sampled_from(sorted(roster.plan)))
    open_plan = {k: v for k, v in roster.plan.items() if k != instance}
    assert "UNASSIGNED" in all_kinds(audit(roster.tours, open_plan))
    day = next(t.day for t in roster.tours if f"{t.tour_id}#1" == instance)
    holder = roster.plan[instance]
    away = Absence(holder, WEEK.date_of(day).isoformat(), AvailabilityStatus.SICK)
    drivers = [driver(d) for d in sorted(set(roster.plan.values()))]
    report = audit(roster.tours, roster.plan, drivers=drivers, availability=[away])
    assert "UNAVAILABLE" in all_kinds(report)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_csv_parsers_reject_garbage_with_invalid_input_only(data: bytes) -> None:
    for parse in (parse_tours_csv, parse_drivers_csv):
        with suppress(InvalidInput):
            parse(data)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_tour_rows_from_any_text_never_crash(text: str) -> None:
    data = ("tour_id,day,start,end,count\n" + text).encode()
    with suppress(InvalidInput):
        parse_tours_csv(data)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "tours",
                        "drivers",
                        "assignments",
                        "week",
                        "solver",
                        "name",
                        "day",
                        "start",
                        "end",
                        "tour_id",
                        "driver_id",
                        "instance_id",
                    ]
                ),
                children,
                max_size=4,
            )
        ),
        max_leaves=20,
    )
)
def test_run_file_parser_rejects_any_json_shape_cleanly(value: object) -> None:
    import json

    with suppress(InvalidInput):
        parse_run_file(json.dumps(value).encode(), "run.json", "LTS", "WIEN")
