"""KPI drift against the baseline (domain.md §4): OK, WARN, BLOCK or UNKNOWN per metric."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dispatcher.domain.kpis import Kpis
from dispatcher.domain.model import DriftThresholds
from dispatcher.domain.vocabulary import BLOCK, OK, UNKNOWN, WARN

__all__ = ["BLOCK", "OK", "UNKNOWN", "WARN"]


@dataclass(frozen=True)
class Baseline:
    """The KPI values of the baseline version, copied into the drift record."""

    run_id: str
    version: int
    week: str
    drivers_used: int

    def as_document(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "version": self.version,
            "week": self.week,
            "drivers_used": self.drivers_used,
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any] | None) -> Baseline | None:
        return None if doc is None else cls(**doc)


@dataclass(frozen=True)
class MetricDrift:
    metric: str
    unit: str  # "drivers", "bp" or "minutes"
    value: int
    baseline: int | None
    warn: str
    block: str
    level: str

    def as_document(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Drift:
    level: str
    metrics: tuple[MetricDrift, ...]
    baseline: Baseline | None

    def as_document(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "metrics": [m.as_document() for m in self.metrics],
            "baseline": None if self.baseline is None else self.baseline.as_document(),
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Drift:
        return cls(
            doc["level"],
            tuple(MetricDrift(**m) for m in doc["metrics"]),
            Baseline.from_document(doc["baseline"]),
        )

    def metric(self, name: str) -> MetricDrift:
        return next(m for m in self.metrics if m.metric == name)


def _pct(bp: int) -> str:
    return f"{bp // 100}.{(bp % 100) // 10} %"


def _hours(minutes: int) -> str:
    return f"{minutes // 60}.{(minutes % 60) * 10 // 60} h"


def _level(block: bool, warn: bool) -> str:
    return BLOCK if block else WARN if warn else OK


def _headcount(kpis: Kpis, baseline: Baseline | None, t: DriftThresholds) -> MetricDrift:
    warn = f"> {_pct(t.headcount_warn_bp)} or > {t.headcount_warn_drivers}"
    block = f"> {_pct(t.headcount_block_bp)} or > {t.headcount_block_drivers}"
    if baseline is None:
        return MetricDrift("headcount", "drivers", kpis.drivers_used, None, warn, block, UNKNOWN)
    diff = abs(kpis.drivers_used - baseline.drivers_used)
    base = baseline.drivers_used

    def over(bp: int, drivers: int) -> bool:
        return diff * 10000 > bp * base or diff > drivers

    level = _level(
        over(t.headcount_block_bp, t.headcount_block_drivers),
        over(t.headcount_warn_bp, t.headcount_warn_drivers),
    )
    return MetricDrift("headcount", "drivers", kpis.drivers_used, base, warn, block, level)


def _limit(
    metric: str, unit: str, value: int, warn_at: int, block_at: int, below: bool
) -> MetricDrift:
    """A metric that must stay above (`below` = True warns when under) or under its thresholds."""
    show = _hours if unit == "minutes" else _pct
    sign = "<" if below else ">"
    if below:
        level = _level(value < block_at, value < warn_at)
    else:
        level = _level(value > block_at, value > warn_at)
    return MetricDrift(
        metric, unit, value, None, f"{sign} {show(warn_at)}", f"{sign} {show(block_at)}", level
    )


def compute_drift(
    kpis: Kpis, baseline: Baseline | None, thresholds: DriftThresholds, *, repair: bool = False
) -> Drift:
    t = thresholds
    metrics = [
        _headcount(kpis, baseline, t),
        _limit("coverage", "bp", kpis.coverage_bp, t.coverage_warn_bp, t.coverage_block_bp, True),
        _limit("fte_ratio", "bp", kpis.fte_ratio_bp, t.fte_warn_bp, t.fte_block_bp, True),
        _limit("pt_ratio", "bp", kpis.pt_ratio_bp, t.pt_warn_bp, t.pt_block_bp, False),
        _limit(
            "max_weekly_hours",
            "minutes",
            kpis.max_minutes,
            t.max_hours_warn_minutes,
            t.max_hours_block_minutes,
            False,
        ),
    ]
    if repair and kpis.churn is not None:
        bp = kpis.churn.churn_bp
        metrics.append(_limit("churn", "bp", bp, t.churn_warn_bp, t.churn_block_bp, False))
    levels = {m.level for m in metrics}
    overall = next((lv for lv in (BLOCK, WARN, UNKNOWN) if lv in levels), OK)
    return Drift(overall, tuple(metrics), baseline)
