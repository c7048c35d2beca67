"""KPIs per plan version (domain.md §4); integers only: minutes, counts, basis points."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dispatcher.domain.audits import BLOCK_TYPES, RULES, AuditReport, Rules
from dispatcher.domain.model import Plan


def ratio_bp(part: int, whole: int) -> int:
    """part / whole in basis points, rounded down (0 for an empty whole)."""
    return part * 10000 // whole if whole else 0


@dataclass(frozen=True)
class Churn:
    tours_moved: int
    drivers_changed: int
    churn_bp: int

    def as_document(self) -> dict[str, int]:
        return {
            "tours_moved": self.tours_moved,
            "drivers_changed": self.drivers_changed,
            "churn_bp": self.churn_bp,
        }


def churn_between(parent: Plan, child: Plan, instances_total: int) -> Churn:
    """Tours moved (driver changed), drivers whose instance set changed, moved ÷ all instances."""
    moved = [i for i in set(parent) | set(child) if parent.get(i) != child.get(i)]
    drivers = {d for i in moved for d in (parent.get(i), child.get(i)) if d is not None}
    return Churn(len(moved), len(drivers), ratio_bp(len(moved), instances_total))


@dataclass(frozen=True)
class Kpis:
    instances_total: int
    instances_covered: int
    coverage_bp: int
    drivers_used: int
    pool_size: int
    fte_drivers: int
    pt_drivers: int
    fte_ratio_bp: int
    pt_ratio_bp: int
    total_minutes: int
    max_minutes: int
    min_minutes: int
    avg_minutes: int
    block_mix: Mapping[str, int]
    block_share_bp: Mapping[str, int]
    churn: Churn | None = None

    def as_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if name not in ("block_mix", "block_share_bp", "churn")
        }
        doc["block_mix"] = dict(self.block_mix)
        doc["block_share_bp"] = dict(self.block_share_bp)
        doc["churn"] = None if self.churn is None else self.churn.as_document()
        return doc

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Kpis:
        values = dict(doc)
        churn = values.pop("churn", None)
        return cls(**values, churn=None if churn is None else Churn(**churn))


def compute_kpis(
    report: AuditReport, pool_size: int, churn: Churn | None = None, rules: Rules = RULES
) -> Kpis:
    work = report.roster.weekly_work()
    used = len(work)
    fte = sum(minutes >= rules.fte_min for minutes in work.values())
    mix = dict.fromkeys(BLOCK_TYPES, 0)
    for days in report.roster.days.values():
        for day in days:
            mix[day.block_type] += 1
    duty_days = sum(mix.values())
    total = sum(work.values())
    return Kpis(
        instances_total=report.total,
        instances_covered=report.covered,
        coverage_bp=ratio_bp(report.covered, report.total),
        drivers_used=used,
        pool_size=pool_size,
        fte_drivers=fte,
        pt_drivers=used - fte,
        fte_ratio_bp=ratio_bp(fte, used),
        pt_ratio_bp=ratio_bp(used - fte, used),
        total_minutes=total,
        max_minutes=max(work.values(), default=0),
        min_minutes=min(work.values(), default=0),
        avg_minutes=total // used if used else 0,
        block_mix=mix,
        block_share_bp={k: ratio_bp(v, duty_days) for k, v in mix.items()},
        churn=churn,
    )
