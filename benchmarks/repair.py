"""Repair benchmark: the demo week with 1, 5 and 10 drivers absent, CP-SAT against the greedy.

Prints a Markdown table. Timings are wall-clock on this machine; see docs/performance.md.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from dispatcher.domain.demo import make_site
from dispatcher.domain.model import Week
from dispatcher.domain.repair import RepairScope, build_problem
from dispatcher.domain.solver.cpsat import cpsat_repair
from dispatcher.domain.solver.greedy import greedy_repair

BEFORE_THE_WEEK = datetime(2026, 1, 11, 12, 0, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--time-limit", type=float, default=3.0, help="CP-SAT budget per repair")
    args = parser.parse_args()
    week = make_site(args.seed, (Week(2026, 3),)).weeks[0]
    drivers = sorted(set(week.plan.values()))
    print(
        f"Demo week 2026-W03, seed {args.seed}: {len(week.plan)} tour instances, "
        f"{len(drivers)} drivers; CP-SAT budget {args.time_limit} s (deterministic)\n"
    )
    print(
        "| absent | affected | solver | covered | drivers changed | tours moved | optimal | time |"
    )
    print("|---:|---:|---|---:|---:|---:|---|---:|")
    for count in (1, 5, 10):
        absent = tuple(drivers[::7][:count])
        problem, _ = build_problem(
            week.week_input,
            week.plan,
            absent=absent,
            scope=RepairScope("week"),
            now=BEFORE_THE_WEEK,
            freeze_hours=12,
            other_absences=(),
            boundary={},
        )
        for name in ("greedy", "cp-sat"):
            started = time.perf_counter()
            if name == "greedy":
                solution = greedy_repair(problem)
            else:
                solution = cpsat_repair(problem, time_limit=args.time_limit)
            seconds = time.perf_counter() - started
            covered = len(problem.affected) - len(solution.uncovered)
            proven = "yes" if solution.proven_optimal else "no"
            print(
                f"| {count} | {len(problem.affected)} | {name} | {covered} | "
                f"{len(solution.changed_drivers)} | {len(solution.moved)} | {proven} | "
                f"{seconds:.2f} s |"
            )


if __name__ == "__main__":
    main()
