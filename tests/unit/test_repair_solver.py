"""The repair solvers: CP-SAT never does worse than the greedy, never breaks a rule, repeats itself."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.domain.audits import ReproCheck, run_audits
from dispatcher.domain.demo import make_site
from dispatcher.domain.model import Driver, Tour, Week, WeekInput
from dispatcher.domain.repair import RepairProblem, RepairScope, RepairSolution, build_problem
from dispatcher.domain.solver.cpsat import cpsat_repair, extra_drivers_needed
from dispatcher.domain.solver.greedy import greedy_repair
from tests.builders import WEEK, driver, tour
from tests.unit.test_properties import Roster, valid_rosters

BEFORE_THE_WEEK = datetime(2026, 1, 11, 12, 0, tzinfo=UTC)


def _key(solution: RepairSolution) -> tuple[int, int]:
    return (len(solution.uncovered), len(solution.changed_drivers))


def _problem(
    week_input: WeekInput, plan: dict[str, str], absent: str | tuple[str, ...]
) -> RepairProblem:
    problem, _ = build_problem(
        week_input,
        plan,
        absent=absent,
        scope=RepairScope("week"),
        now=BEFORE_THE_WEEK,
        freeze_hours=12,
        other_absences=(),
        boundary={},
    )
    return problem


def _assert_no_rule_broken(problem: RepairProblem, solution: RepairSolution) -> None:
    """Every audit but Coverage passes; Coverage misses exactly the uncovered instances."""
    report = run_audits(problem.week_input, solution.plan, ReproCheck("-", "-"))
    by_name = report.by_name()
    for name, result in by_name.items():
        if name != "Coverage":
            assert result.passed, (name, result.violations[:3])
    missing = {v.instances[0] for v in by_name["Coverage"].violations}
    assert missing == set(solution.uncovered)
    absent = set(problem.absent)
    assert not {i for i in problem.affected if solution.plan.get(i) in absent}


def _sample(roster: Roster, drivers_extra: int) -> tuple[WeekInput, dict[str, str]]:
    holders = sorted(set(roster.plan.values()))
    drivers = tuple(driver(d) for d in holders) + tuple(
        driver(f"X{n}") for n in range(drivers_extra)
    )
    return WeekInput(WEEK, tuple(roster.tours), drivers), roster.plan


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_rosters(), st.integers(0, 2), st.data())
def test_cpsat_is_never_worse_than_greedy_and_breaks_no_rule(
    roster: Roster, extra: int, data: st.DataObject
) -> None:
    week_input, plan = _sample(roster, extra)
    absent = data.draw(st.sampled_from(sorted(set(plan.values()))))
    problem = _problem(week_input, plan, absent)
    greedy, exact = greedy_repair(problem), cpsat_repair(problem, time_limit=5)
    assert _key(exact) <= _key(greedy)
    _assert_no_rule_broken(problem, exact)
    _assert_no_rule_broken(problem, greedy)


def test_demo_week_one_sick_driver_is_covered_optimally_and_repeatably() -> None:
    week = make_site(7, (Week(2026, 3),)).weeks[0]
    absent = sorted(set(week.plan.values()))[10]
    problem = _problem(week.week_input, week.plan, absent)
    first, second = cpsat_repair(problem, time_limit=10), cpsat_repair(problem, time_limit=10)
    greedy = greedy_repair(problem)
    assert first.uncovered == () and first.proven_optimal
    assert first.plan == second.plan
    assert _key(first) <= _key(greedy)
    _assert_no_rule_broken(problem, first)


def test_demo_week_several_absent_drivers_never_worse_than_greedy() -> None:
    week = make_site(11, (Week(2026, 3),)).weeks[0]
    absent = tuple(sorted(set(week.plan.values()))[::30][:4])
    problem = _problem(week.week_input, week.plan, absent)
    exact, greedy = cpsat_repair(problem, time_limit=3), greedy_repair(problem)
    assert _key(exact) <= _key(greedy)
    _assert_no_rule_broken(problem, exact)


def _two(first: Tour, second: Tour) -> RepairProblem:
    week_input = WeekInput(WEEK, (first, second), (driver("D1"),))
    return _problem(week_input, {f"{first.tour_id}#1": "D1", f"{second.tour_id}#1": "D1"}, "D1")


def test_extra_drivers_needed_is_the_minimum() -> None:
    overlapping = _two(tour("A", 1, "06:00", "10:00"), tour("B", 1, "08:00", "12:00"))
    assert extra_drivers_needed(overlapping, overlapping.affected) == 2
    a_pair = _two(tour("A", 1, "06:00", "10:00"), tour("B", 1, "10:30", "14:30"))
    assert extra_drivers_needed(a_pair, a_pair.affected) == 1
    too_close = _two(tour("A", 1, "14:00", "20:00"), tour("B", 2, "05:00", "09:00"))
    assert extra_drivers_needed(too_close, too_close.affected) == 2  # 9 h rest is too short


def test_build_problem_separates_started_frozen_and_affected() -> None:
    tours = (
        tour("A", 1, "05:00", "09:00"),
        tour("B", 1, "12:00", "16:00"),
        tour("C", 2, "06:00", "10:00"),
        tour("D", 1, "13:00", "17:00"),
    )
    week_input = WeekInput(WEEK, tours, (driver("D1"), driver("D2")))
    plan = {"A#1": "D1", "B#1": "D1", "C#1": "D1", "D#1": "D2"}
    now = datetime(2026, 1, 12, 5, 0, tzinfo=UTC)  # Monday 06:00 Vienna
    problem, frozen = build_problem(
        week_input,
        plan,
        absent="D1",
        scope=RepairScope("week"),
        now=now,
        freeze_hours=12,
        other_absences=(),
        boundary={},
    )
    assert problem.affected == ("B#1", "C#1")  # A#1 started at 05:00 and stays
    assert frozen == ("D#1",)  # another driver's tour within 12 h never moves
    assert {"A#1", "D#1"} <= problem.fixed
    assert not problem.eligible("D1", "B#1")


def test_standby_drivers_are_candidates() -> None:
    week_input = WeekInput(WEEK, (tour("K", 1, "06:00", "10:00", skill="KUEHL"),), (driver("D1"),))
    problem, _ = build_problem(
        week_input,
        {"K#1": "D1"},
        absent="D1",
        scope=RepairScope("week"),
        now=BEFORE_THE_WEEK,
        freeze_hours=12,
        other_absences=(),
        boundary={},
        standby=(Driver("S1", "Standby", ("KUEHL",)),),
    )
    solution = cpsat_repair(problem, time_limit=5)
    assert solution.plan == {"K#1": "S1"} and solution.uncovered == ()
