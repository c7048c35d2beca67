"""KPIs, drift thresholds (strict: a value at a threshold gets the lower level) and status order."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from dispatcher.domain.audits import AuditResult, Violation
from dispatcher.domain.drift import Baseline, compute_drift
from dispatcher.domain.kpis import Churn, Kpis, churn_between, compute_kpis, ratio_bp
from dispatcher.domain.model import DriftThresholds
from dispatcher.domain.status import derive_status
from tests.builders import audit, tour

T = DriftThresholds()


def _kpis(values: dict[str, int], churn: Churn | None = None) -> Kpis:
    report = audit([tour("A", 1, "06:00", "10:00")], {"A#1": "D1"})
    fields: dict[str, Any] = dict(values)
    return replace(compute_kpis(report, 1, churn), **fields)


def test_coverage_rounds_down_to_a_basis_point() -> None:
    assert ratio_bp(1999, 2000) == 9995
    assert ratio_bp(2999, 3000) == 9996  # 99.9966 % shown as 99.9, never 100.0
    assert ratio_bp(3, 3) == 10000


def test_kpis_of_a_small_roster() -> None:
    tours = [
        tour("A", 1, "05:00", "09:30"),
        tour("B", 1, "10:15", "14:45"),
        tour("C", 2, "05:00", "09:30"),
        tour("U", 3, "05:00", "09:30"),
    ]
    report = audit(tours, {"A#1": "D1", "B#1": "D1", "C#1": "D2"})
    kpis = compute_kpis(report, pool_size=3)
    assert (kpis.instances_total, kpis.instances_covered, kpis.coverage_bp) == (4, 3, 7500)
    assert (kpis.drivers_used, kpis.pool_size, kpis.fte_drivers, kpis.pt_drivers) == (2, 3, 0, 2)
    assert (kpis.total_minutes, kpis.max_minutes, kpis.min_minutes, kpis.avg_minutes) == (
        810,
        540,
        270,
        405,
    )
    assert kpis.block_mix == {"1er": 1, "2er-reg": 1, "2er-split": 0, "3er": 0, "invalid": 0}
    assert kpis.block_share_bp["1er"] == 5000


def test_churn_counts_moved_tours_and_changed_drivers_including_the_absent_one() -> None:
    parent = {"A#1": "D1", "B#1": "D1", "C#1": "D2"}
    child = {"A#1": "D3", "B#1": "D2", "C#1": "D2"}
    assert churn_between(parent, child, 3) == Churn(tours_moved=2, drivers_changed=3, churn_bp=6666)


@pytest.mark.parametrize(
    ("baseline", "current", "level"),
    [
        (100, 105, "OK"),
        (100, 106, "WARN"),
        (100, 95, "OK"),
        (100, 94, "WARN"),
        (100, 110, "WARN"),
        (100, 111, "BLOCK"),
        (200, 207, "OK"),
        (200, 208, "WARN"),
        (200, 215, "WARN"),
        (200, 216, "BLOCK"),
        (1000, 1008, "WARN"),
    ],
)
def test_headcount_drift_percent_or_absolute_either_direction(
    baseline: int, current: int, level: str
) -> None:
    drift = compute_drift(
        _kpis(
            {
                "drivers_used": current,
                "fte_ratio_bp": 10000,
                "coverage_bp": 10000,
                "pt_ratio_bp": 0,
                "max_minutes": 3000,
            }
        ),
        Baseline("RUN-X", 1, "2026-W02", baseline),
        T,
    )
    assert drift.metric("headcount").level == level


def test_no_baseline_is_unknown_and_overall_unknown() -> None:
    drift = compute_drift(
        _kpis({"coverage_bp": 10000, "fte_ratio_bp": 10000, "pt_ratio_bp": 0, "max_minutes": 3000}),
        None,
        T,
    )
    assert drift.metric("headcount").level == "UNKNOWN"
    assert drift.level == "UNKNOWN"


@pytest.mark.parametrize(
    ("field", "value", "metric", "level"),
    [
        ("coverage_bp", 9950, "coverage", "OK"),
        ("coverage_bp", 9949, "coverage", "WARN"),
        ("coverage_bp", 9900, "coverage", "WARN"),
        ("coverage_bp", 9899, "coverage", "BLOCK"),
        ("fte_ratio_bp", 9500, "fte_ratio", "OK"),
        ("fte_ratio_bp", 9499, "fte_ratio", "WARN"),
        ("fte_ratio_bp", 8999, "fte_ratio", "BLOCK"),
        ("pt_ratio_bp", 500, "pt_ratio", "OK"),
        ("pt_ratio_bp", 501, "pt_ratio", "WARN"),
        ("pt_ratio_bp", 1001, "pt_ratio", "BLOCK"),
        ("max_minutes", 3120, "max_weekly_hours", "OK"),
        ("max_minutes", 3121, "max_weekly_hours", "WARN"),
        ("max_minutes", 3300, "max_weekly_hours", "WARN"),
        ("max_minutes", 3301, "max_weekly_hours", "BLOCK"),
    ],
)
def test_metric_thresholds_are_strict(field: str, value: int, metric: str, level: str) -> None:
    good = {"coverage_bp": 10000, "fte_ratio_bp": 10000, "pt_ratio_bp": 0, "max_minutes": 3000}
    good[field] = value
    drift = compute_drift(_kpis(good), Baseline("RUN-X", 1, "2026-W02", 1), T)
    assert drift.metric(metric).level == level


def test_churn_drift_only_for_repair_versions() -> None:
    kpis = _kpis(
        {"coverage_bp": 10000, "fte_ratio_bp": 10000, "pt_ratio_bp": 0, "max_minutes": 3000},
        Churn(25, 3, 2001),
    )
    assert [m.metric for m in compute_drift(kpis, None, T).metrics][-1] == "max_weekly_hours"
    repair = compute_drift(kpis, None, T, repair=True)
    assert repair.metric("churn").level == "BLOCK"
    assert repair.level == "BLOCK"


def _audits(failing: int = 0) -> list[AuditResult]:
    bad = Violation("Coverage", "UNASSIGNED", None, (1,), ("2026-01-12",), ("A#1",), 0, 1, "x")
    return [AuditResult(f"A{i}", (bad,) if i < failing else ()) for i in range(7)]


@pytest.mark.parametrize(
    ("audits", "drift", "evidence", "error", "status"),
    [
        (None, "OK", True, None, "PENDING"),
        (_audits(), None, True, None, "PENDING"),
        (_audits(), "OK", None, None, "PENDING"),
        (_audits(), "OK", True, "timeout", "FAIL"),
        (_audits(1), "BLOCK", False, None, "FAIL"),
        (_audits(), "BLOCK", True, None, "BLOCKED"),
        (_audits(), "OK", False, None, "BLOCKED"),
        (_audits(), "WARN", True, None, "WARN"),
        (_audits(), "UNKNOWN", True, None, "WARN"),
        (_audits(), "OK", True, None, "PASS"),
    ],
)
def test_status_is_the_first_matching_row(
    audits: list[AuditResult] | None,
    drift: str | None,
    evidence: bool | None,
    error: str | None,
    status: str,
) -> None:
    decision = derive_status(
        audits=audits, drift_level=drift, evidence_ok=evidence, solver_error=error
    )
    assert decision.status == status
