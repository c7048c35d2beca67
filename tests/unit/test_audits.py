"""Every audit rule at and around its limit (domain.md §3): equal passes, one minute more fails."""

from __future__ import annotations

import pytest

from dispatcher.domain.audits import (
    NO_BOUNDARY_NOTE,
    NO_PRODUCER_HASH_NOTE,
    Boundary,
    BoundaryDay,
    ReproCheck,
    classify_block,
)
from dispatcher.domain.model import Absence, AvailabilityStatus, Tour
from dispatcher.domain.vocabulary import AUDIT_NAMES
from tests.builders import all_kinds, audit, driver, kinds, minutes, tour


def clock(m: int) -> str:
    return f"{m // 60:02d}:{m % 60:02d}"


def two_tours_with_gap(gap: int, first: str = "06:00", length: int = 240) -> list[Tour]:
    start = minutes(first)
    second = start + length + gap
    return [
        tour("A", 1, clock(start), clock(start + length)),
        tour("B", 1, clock(second), clock(second + length)),
    ]


def test_audits_are_seven_in_fixed_order_by_name() -> None:
    report = audit([tour("A", 1, "06:00", "10:00")], {"A#1": "D1"})
    assert (
        tuple(r.name for r in report.results)
        == AUDIT_NAMES
        == (
            "Coverage",
            "Overlap",
            "Rest",
            "Span regular",
            "Span split/3er",
            "Fatigue",
            "Reproducibility",
        )
    )
    assert report.passed_count == 7


@pytest.mark.parametrize(
    ("gaps", "block"),
    [
        ((), "1er"),
        ((30,), "2er-reg"),
        ((60,), "2er-reg"),
        ((29,), "invalid"),
        ((61,), "invalid"),
        ((240,), "2er-split"),
        ((360,), "2er-split"),
        ((239,), "invalid"),
        ((361,), "invalid"),
        ((30, 60), "3er"),
        ((30, 61), "invalid"),
        ((29, 30), "invalid"),
        ((30, 30, 30), "invalid"),
    ],
)
def test_block_types_follow_the_gap_table(gaps: tuple[int, ...], block: str) -> None:
    assert classify_block(gaps) == block


@pytest.mark.parametrize(
    ("gap", "expected"),
    [
        (29, ["SHORT_PAUSE"]),
        (30, []),
        (60, []),
        (61, ["FORBIDDEN_GAP"]),
        (239, ["FORBIDDEN_GAP"]),
        (240, []),
        (360, []),
        (361, ["FORBIDDEN_GAP"]),
        (0, ["SHORT_PAUSE"]),
    ],
)
def test_pause_and_split_limits(gap: int, expected: list[str]) -> None:
    tours = two_tours_with_gap(gap, length=200)
    report = audit(tours, {"A#1": "D1", "B#1": "D1"})
    assert kinds(report, "Overlap") == expected


def test_overlapping_tours_are_an_overlap_with_minutes() -> None:
    report = audit(
        [tour("A", 1, "06:00", "10:00"), tour("B", 1, "09:30", "12:00")], {"A#1": "D1", "B#1": "D1"}
    )
    violations = report.by_name()["Overlap"].violations
    assert [(v.kind, v.value, v.instances) for v in violations] == [("OVERLAP", 30, ("A#1", "B#1"))]


def test_cross_midnight_tour_meets_next_days_tour() -> None:
    # Tue 22:30-03:00 belongs to Tuesday and overlaps Wed 02:00-06:00 on the week timeline.
    report = audit(
        [tour("N", 2, "22:30", "03:00"), tour("E", 3, "02:00", "06:00")], {"N#1": "D1", "E#1": "D1"}
    )
    assert kinds(report, "Overlap") == ["OVERLAP"]
    assert kinds(report, "Rest") == ["REST"]


def test_touching_tours_on_different_days_do_not_overlap() -> None:
    report = audit(
        [tour("N", 2, "20:00", "00:00"), tour("E", 3, "00:00", "04:00")], {"N#1": "D1", "E#1": "D1"}
    )
    assert kinds(report, "Overlap") == []


def test_three_tours_with_a_long_gap_is_invalid_3er() -> None:
    tours = [
        tour("A", 1, "05:00", "08:00"),
        tour("B", 1, "08:30", "11:30"),
        tour("C", 1, "12:40", "15:00"),
    ]
    report = audit(tours, {"A#1": "D1", "B#1": "D1", "C#1": "D1"})
    assert kinds(report, "Overlap") == ["INVALID_3ER"]


def test_four_tours_on_a_day_are_too_many() -> None:
    tours = [tour(f"T{i}", 1, f"{5 + 3 * i:02d}:00", f"{7 + 3 * i:02d}:00") for i in range(4)]
    report = audit(tours, {f"T{i}#1": "D1" for i in range(4)})
    assert kinds(report, "Overlap") == ["TOO_MANY_TOURS"]


@pytest.mark.parametrize(("span", "fails"), [(840, False), (841, True)])
def test_regular_span_limit_is_840_inclusive(span: int, fails: bool) -> None:
    # 2er-reg: tour, 60 min pause, tour reaching exactly `span`.
    second_end = minutes("04:00") + span
    tours = [
        tour("A", 1, "04:00", "10:00"),
        tour("B", 1, "11:00", f"{second_end // 60:02d}:{second_end % 60:02d}"),
    ]
    report = audit(tours, {"A#1": "D1", "B#1": "D1"})
    assert kinds(report, "Span regular") == (["SPAN"] if fails else [])
    assert kinds(report, "Span split/3er") == []


@pytest.mark.parametrize(("span", "fails"), [(960, False), (961, True)])
def test_split_span_limit_is_960_inclusive(span: int, fails: bool) -> None:
    second_end = minutes("04:00") + span
    tours = [
        tour("A", 1, "04:00", "08:00"),
        tour("B", 1, "14:00", f"{second_end // 60:02d}:{second_end % 60:02d}"),
    ]
    report = audit(tours, {"A#1": "D1", "B#1": "D1"})
    assert kinds(report, "Span split/3er") == (["SPAN"] if fails else [])
    assert kinds(report, "Span regular") == []


@pytest.mark.parametrize(("next_start", "fails"), [("07:00", False), ("06:59", True)])
def test_rest_of_11_hours_is_inclusive(next_start: str, fails: bool) -> None:
    # Monday ends 20:00; 11 h later is Tuesday 07:00.
    report = audit(
        [tour("A", 1, "15:00", "20:00"), tour("B", 2, next_start, "11:00")],
        {"A#1": "D1", "B#1": "D1"},
    )
    rest = report.by_name()["Rest"]
    assert kinds(report, "Rest") == (["REST"] if fails else [])
    if fails:
        assert (rest.violations[0].value, rest.violations[0].limit) == (659, 660)
        assert rest.violations[0].dates == ("2026-01-12", "2026-01-13")


def test_rest_uses_the_next_day_worked_not_only_the_next_calendar_day() -> None:
    report = audit(
        [tour("A", 1, "15:00", "20:00"), tour("B", 3, "05:00", "09:00")], {"A#1": "D1", "B#1": "D1"}
    )
    assert kinds(report, "Rest") == []


def test_split_break_is_not_rest() -> None:
    tours = [tour("A", 1, "05:00", "09:00"), tour("B", 1, "14:00", "18:00")]
    assert kinds(audit(tours, {"A#1": "D1", "B#1": "D1"}), "Rest") == []


def _triple(day: int, prefix: str) -> list[Tour]:
    return [
        tour(f"{prefix}1", day, "05:00", "08:00"),
        tour(f"{prefix}2", day, "08:30", "11:30"),
        tour(f"{prefix}3", day, "12:00", "15:00"),
    ]


def test_triple_days_on_consecutive_days_are_fatigue_per_pair() -> None:
    tours = _triple(1, "M") + _triple(2, "T") + _triple(3, "W")
    report = audit(tours, {f"{t.tour_id}#1": "D1" for t in tours})
    assert kinds(report, "Fatigue") == ["CONSECUTIVE_3ER", "CONSECUTIVE_3ER"]


def test_triple_days_with_a_day_between_are_fine() -> None:
    tours = _triple(1, "M") + _triple(3, "W")
    assert kinds(audit(tours, {f"{t.tour_id}#1": "D1" for t in tours}), "Fatigue") == []


@pytest.mark.parametrize(
    ("work", "cap", "fails"),
    [(3300, 3300, False), (3301, 3300, True), (2910, 2910, False), (2911, 2910, True)],
)
def test_weekly_cap_is_inclusive_and_personal(work: int, cap: int, fails: bool) -> None:
    # Five days of 480 min plus one day with the rest.
    tours = [tour(f"D{day}", day, "06:00", "14:00") for day in range(1, 6)]
    rest = work - 2400
    tours.append(tour("S", 6, "06:00", f"{6 + rest // 60:02d}:{rest % 60:02d}"))
    report = audit(tours, {f"{t.tour_id}#1": "D1" for t in tours}, drivers=[driver("D1", cap=cap)])
    assert kinds(report, "Fatigue") == (["WEEKLY_HOURS"] if fails else [])


def test_coverage_kinds_for_unassigned_inactive_skill_and_absence() -> None:
    tours = [
        tour("U", 1, "06:00", "10:00"),
        tour("I", 2, "06:00", "10:00"),
        tour("S", 3, "06:00", "10:00", skill="ADR"),
        tour("V", 5, "06:00", "10:00"),
    ]
    drivers = [driver("D1"), driver("D2", active=False)]
    away = [Absence("D1", "2026-01-16", AvailabilityStatus.BLOCKED, "training")]
    report = audit(
        tours, {"I#1": "D2", "S#1": "D1", "V#1": "D1"}, drivers=drivers, availability=away
    )
    assert kinds(report, "Coverage") == [
        "UNASSIGNED",
        "MISSING_SKILL",
        "UNAVAILABLE",
        "INACTIVE_DRIVER",
    ]
    assert (report.covered, report.total) == (0, 4)


def test_open_repair_absences_count_as_unavailable() -> None:
    absence = Absence("D1", "2026-01-12", AvailabilityStatus.SICK)
    report = audit([tour("A", 1, "06:00", "10:00")], {"A#1": "D1"}, absences=(absence,))
    assert kinds(report, "Coverage") == ["UNAVAILABLE"]


def test_without_boundary_rest_and_fatigue_say_previous_week_none_locked() -> None:
    report = audit([tour("A", 1, "06:00", "10:00")], {"A#1": "D1"})
    assert report.by_name()["Rest"].note == NO_BOUNDARY_NOTE == "previous week: none locked"
    assert report.by_name()["Fatigue"].note == NO_BOUNDARY_NOTE


def test_week_boundary_rest_from_previous_sunday() -> None:
    # Previous Sunday ends 22:00 (-10080 + 6*1440 + 1320 = -120); Monday starts 08:00: rest 10 h.
    sunday = BoundaryDay("D1", 7, -10080 + 6 * 1440 + 600, -120, 1)
    boundary = Boundary("RUN-20260105-001", 1, "sha256:prev", (sunday,))
    report = audit([tour("A", 1, "08:00", "12:00")], {"A#1": "D1"}, boundary=boundary)
    assert kinds(report, "Rest") == ["REST"]
    assert report.by_name()["Rest"].violations[0].value == 600
    assert report.by_name()["Rest"].note is None


def test_week_boundary_consecutive_triple_sunday_monday() -> None:
    sunday = BoundaryDay("D1", 7, -1440 + 300, -1440 + 900, 3)
    boundary = Boundary("RUN-20260105-001", 1, "sha256:prev", (sunday,))
    tours = _triple(1, "M")
    report = audit(tours, {f"{t.tour_id}#1": "D1" for t in tours}, boundary=boundary)
    assert kinds(report, "Fatigue") == ["CONSECUTIVE_3ER"]


def test_reproducibility_compares_recorded_recomputed_and_declared() -> None:
    same = audit([tour("A", 1, "06:00", "10:00")], {"A#1": "D1"})
    assert same.by_name()["Reproducibility"].note == NO_PRODUCER_HASH_NOTE
    changed = audit(
        [tour("A", 1, "06:00", "10:00")], {"A#1": "D1"}, repro=ReproCheck("sha256:a", "sha256:b")
    )
    assert kinds(changed, "Reproducibility") == ["HASH_MISMATCH"]
    claimed = audit(
        [tour("A", 1, "06:00", "10:00")],
        {"A#1": "D1"},
        repro=ReproCheck("sha256:a", "sha256:a", declared="sha256:c"),
    )
    assert kinds(claimed, "Reproducibility") == ["HASH_MISMATCH"]


def test_violations_are_sorted_by_driver_day_and_instance() -> None:
    tours = [
        tour("B", 2, "05:00", "20:00"),
        tour("A", 1, "05:00", "20:00"),
        tour("C", 1, "05:00", "20:00"),
    ]
    report = audit(tours, {"B#1": "D2", "A#1": "D2", "C#1": "D1"})
    spans = report.by_name()["Span regular"].violations
    assert [(v.driver_id, v.days) for v in spans] == [("D1", (1,)), ("D2", (1,)), ("D2", (2,))]


def test_valid_week_passes_everything() -> None:
    tours = [
        tour("A", 1, "05:00", "09:30"),
        tour("B", 1, "10:15", "14:45"),
        tour("C", 2, "05:00", "09:30"),
    ]
    report = audit(tours, {"A#1": "D1", "B#1": "D1", "C#1": "D1"})
    assert all_kinds(report) == set()
    assert report.roster.days["D1"][0].block_type == "2er-reg"
