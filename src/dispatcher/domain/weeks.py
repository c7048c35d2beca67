"""The plans of one week (domain.md §9): the version in force and the run being worked on.

For each week the tool derives, from its runs alone:

- the version **in force**: the locked version, else the published one, else none;
- the **working** run: the one a dispatcher repairs and publishes next. It is the run in force
  when there is one; else the run being repaired (the only one with open sick calls: a repair
  applied with `--only` may leave it FAIL until the rest are repaired); else the only run of
  the week that can still be published (not FAIL); else none, and commands that need a run ask
  for `--run` and list the candidates.
- a **successor**: when the plan in force is locked, another run of the week published since,
  waiting for its own lock (domain.md §7). It is the working run; the locked plan stays in
  force until the successor's lock supersedes it.

A newer run never silently replaces the one in force: only a publish does, and a locked plan
only a lock.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from dispatcher.domain.errors import InvalidInput
from dispatcher.domain.views import RunSummary


@dataclass(frozen=True)
class WeekPlans:
    week: str
    in_force: RunSummary | None  # the run whose version is in force
    in_force_version: int | None
    working: RunSummary | None
    candidates: tuple[RunSummary, ...]  # runs that could be published, when none is in force
    successor: RunSummary | None = None  # published since the plan in force was locked
    repairing: bool = False  # the working run is the one with open repair requests

    @property
    def locked(self) -> bool:
        return self.in_force is not None and self.in_force.locked_version == self.in_force_version

    @property
    def pending_version(self) -> int | None:
        """A newer version of the run in force, waiting for its publish (or lock)."""
        run = self.in_force
        if run is None or self.in_force_version is None or run.version <= self.in_force_version:
            return None
        return run.version

    def in_force_text(self) -> str:
        """`RUN-… v1 (locked)`, or `none`."""
        if self.in_force is None:
            return "none"
        state = "locked" if self.locked else "published"
        return f"{self.in_force.run_id} v{self.in_force_version} ({state})"

    def pending_text(self) -> str | None:
        """`v2 (PASS) pending publish`, `amendment v2 pending lock`, `RUN-… v1 (PASS) pending
        lock` (a successor), or None."""
        nxt = self.successor
        if nxt is not None and nxt.version != nxt.published_version:  # repaired since publish
            return (
                f"{nxt.run_id} v{nxt.version} ({nxt.status}) pending publish "
                f"(v{nxt.published_version} published)"
            )
        if nxt is not None:
            return f"{nxt.run_id} v{nxt.published_version} ({nxt.status}) pending lock"
        pending = self.pending_version
        run = self.in_force
        if pending is None or run is None:
            return None
        published = run.published_version == pending
        step = "lock" if published else "publish"
        kind = "amendment " if self.locked else ""
        return f"{kind}v{pending} ({run.status}) pending {step}"

    def role_of(self, run_id: str) -> str | None:
        """What this run is for its week: in force, working, or None."""
        if self.in_force is not None and self.in_force.run_id == run_id:
            return "in force"
        if self.working is not None and self.working.run_id == run_id:
            return "working"
        return None


def candidates_text(candidates: Sequence[RunSummary]) -> str:
    return ", ".join(f"{c.run_id} ({c.status}, {c.drivers_used} drivers)" for c in candidates)


def week_plans(
    week: str, summaries: Sequence[RunSummary], repairing: Collection[str] = ()
) -> WeekPlans:
    """Derive the week's plans from its runs (newest first, as `list_runs` gives them) and the
    runs with open repair requests (`repairing`)."""
    mine = [s for s in summaries if s.week == week]
    locked = [s for s in mine if s.locked_version is not None and not s.superseded]
    published = [s for s in mine if s.published_version is not None and not s.superseded]
    chosen = locked or published
    in_force = chosen[0] if chosen else None
    if in_force is not None:
        version = in_force.locked_version or in_force.published_version
        successor = next((s for s in published if s is not in_force), None) if locked else None
        return WeekPlans(week, in_force, version, successor or in_force, (), successor)
    candidates = tuple(s for s in mine if s.status != "FAIL" or s.run_id in repairing)
    busy = [s for s in candidates if s.run_id in repairing]
    if len(busy) == 1:
        return WeekPlans(week, None, None, busy[0], candidates, repairing=True)
    working = candidates[0] if len(candidates) == 1 else None
    return WeekPlans(week, None, None, working, candidates)


def default_target(plans: WeekPlans) -> tuple[RunSummary, str]:
    """The run a command acts on when no `--run` is given, and why (`in force`, `successor`,
    `only`): the week's run in force (or the run published to succeed its locked plan), else its
    only publishable run, else an error listing the candidates."""
    if plans.successor is not None:
        return plans.successor, "successor"
    if plans.in_force is not None:
        return plans.in_force, "in force"
    if plans.working is not None:
        return plans.working, "repairing" if plans.repairing else "only"
    if not plans.candidates:
        raise InvalidInput(
            f"Week {plans.week} has no run that could be published (every run is FAIL); "
            "name one with --run"
        )
    raise InvalidInput(
        f"Week {plans.week} has {len(plans.candidates)} runs that could be published: "
        f"{candidates_text(plans.candidates)}; choose one with --run"
    )
