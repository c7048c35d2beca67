"""Weekly solver benchmark: the demo week (and three more from other generator seeds), a small
week and a week of night and split tours.

Prints a Markdown table. The budget is CP-SAT deterministic time; wall-clock is reported.
"""

from __future__ import annotations

import argparse
import random
import time

from dispatcher.domain.audits import ReproCheck, run_audits
from dispatcher.domain.demo import make_site
from dispatcher.domain.kpis import compute_kpis
from dispatcher.domain.model import Driver, Tour, Week, WeekInput
from dispatcher.domain.solver.weekly import solve_week

WEEK = Week(2026, 3)


def small_week(seed: int) -> WeekInput:
    """About 90 tours on a fixed grid, 30 drivers."""
    rng = random.Random(seed)
    tours = []
    for day in range(1, 7):
        for n in range(15):
            start = rng.choice((300, 330, 360, 600, 630, 660, 900))
            tours.append(Tour(f"S{day}{n:02d}", day, start, start + rng.choice((240, 270))))
    drivers = tuple(Driver(f"D{n:03d}", f"Driver {n}") for n in range(1, 31))
    return WeekInput(WEEK, tuple(tours), drivers)


def night_and_split_week() -> WeekInput:
    """Tours crossing midnight and tours that only fit split days, 40 drivers."""
    tours = []
    for day in range(1, 7):
        for n in range(4):
            tours.append(Tour(f"N{day}{n}", day, 22 * 60 + 30 * n, (22 * 60 + 30 * n + 270) % 1440))
            tours.append(Tour(f"A{day}{n}", day, 5 * 60, 9 * 60))
            tours.append(Tour(f"B{day}{n}", day, 14 * 60, 18 * 60))
    drivers = tuple(Driver(f"D{n:03d}", f"Driver {n}") for n in range(1, 41))
    return WeekInput(WEEK, tuple(tours), drivers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--time-limit", type=float, default=120.0)
    args = parser.parse_args()
    demo = make_site(args.seed, (WEEK,)).weeks[0]
    cases = [
        ("demo week", demo.week_input, len(set(demo.plan.values()))),
        *(
            (
                f"demo-like week, generator seed {other}",
                week.week_input,
                len(set(week.plan.values())),
            )
            for other in (7, 99, 1234)
            for week in make_site(other, (WEEK,)).weeks
        ),
        ("small week", small_week(args.seed), None),
        ("night and split tours", night_and_split_week(), None),
    ]
    print(
        "| week | tours | drivers | planted | lower bound | gap | FTE share | max hours | "
        "audits | uncovered | time |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for name, week_input, planted in cases:
        started = time.perf_counter()
        solution = solve_week(week_input, seed=0, time_limit=args.time_limit)
        seconds = time.perf_counter() - started
        report = run_audits(week_input, solution.plan, ReproCheck("-", "-"))
        kpis = compute_kpis(report, len(week_input.drivers))
        print(
            f"| {name} | {kpis.instances_total} | {solution.drivers_used} | {planted or '-'} | "
            f"{solution.bound.value} | {solution.gap_bp / 100:.1f} % | "
            f"{kpis.fte_ratio_bp / 100:.1f} % | {kpis.max_minutes / 60:.1f} h | "
            f"{report.passed_count}/7 | {len(solution.uncovered)} | {seconds:.0f} s |"
        )


if __name__ == "__main__":
    main()
