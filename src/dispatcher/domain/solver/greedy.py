"""Greedy repair: each affected instance, in start order, to the first driver it fits."""

from __future__ import annotations

import time

from dispatcher.domain.repair import RepairProblem, RepairSolution, summarize


def greedy_repair(problem: RepairProblem) -> RepairSolution:
    """Prefers drivers already changed, then the least weekly work, then the smallest id."""
    started = time.perf_counter()
    plan = {i: d for i, d in problem.plan.items() if i not in problem.affected}
    receivers = sorted(problem.clean_drivers())
    changed: set[str] = set()
    work = {
        d: sum(problem.instances[i].duration for i, x in plan.items() if x == d) for d in receivers
    }
    for instance_id in sorted(problem.affected, key=lambda i: (problem.instances[i].start, i)):
        instance = problem.instances[instance_id]
        candidates = [d for d in receivers if problem.eligible(d, instance_id)]
        candidates.sort(key=lambda d: (d not in changed, work[d], d))
        for driver_id in candidates:
            if not problem.breaks(driver_id, [*problem.schedule(plan, driver_id), instance]):
                plan[instance_id] = driver_id
                changed.add(driver_id)
                work[driver_id] += instance.duration
                break
    return summarize(
        problem,
        plan,
        proven_optimal=False,
        solver="greedy",
        runtime_ms=int((time.perf_counter() - started) * 1000),
    )
