"""A repair proposal read from its stored document: typed fields, the stored document's digest
kept whatever it lacks, and a malformed one refused in one line."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dispatcher.domain.errors import InvalidInput
from dispatcher.domain.hashing import digest
from dispatcher.domain.proposal import RepairProposal

# As `run-repair --json` prints one (the demo week's Tuesday sick call), written out by hand.
DOCUMENT: dict[str, Any] = {
    "request_id": "REP-20260113063000",
    "requests": [
        {"request_id": "REP-20260113063000", "driver_id": "D005", "type": "sick",
         "scope": "Tue"},
        {"request_id": "REP-20260113064500", "driver_id": "D011", "type": "sick",
         "scope": "Tue-Wed"},
    ],
    "left_open": [],
    "run_id": "RUN-20260112-001",
    "base_version": 1,
    "as_of": "2026-01-13T05:30:00Z",
    "solver": {"name": "cp-sat", "proven_optimal": True, "time_limit_ms": 10000,
               "runtime_ms": 412, "notes": [], "output_hash": "sha256:" + "a" * 64,
               "second_solve_hash": "sha256:" + "a" * 64},
    "affected": ["T2102#1", "T2110#1"],
    "frozen": ["T2101#1"],
    "uncovered": [{"instance_id": "T2110#1", "reason": "ADR: no free driver holds it"}],
    "extra_drivers_needed": 1,
    "changes": [["T2102#1", "D005", "D017"], ["T2110#1", "D011", None]],
    "standby": [{"driver_id": "S001", "name": "Sam Standby", "skills": ["ADR"],
                 "active": True, "max_weekly_minutes": 2880, "depot": None}],
    "objective": {"covered": 1, "affected": 2, "drivers_changed": 1, "moved": 1,
                  "max_weekly_minutes": 2700},
    "greedy": {"covered": 1, "drivers_changed": 1, "moved": 1},
    "current": {"audits": {"Coverage": 2, "Rest": 0}, "kpis": {"coverage_bp": 9900},
                "drift": {"churn": "OK"}},
    "proposed": {"audits": {"Coverage": 1, "Rest": 0}, "kpis": {"coverage_bp": 9950},
                 "drift": {"churn": "WARN"}},
    "plan_hash": "sha256:" + "b" * 64,
    "absences_hash": "sha256:" + "c" * 64,
}  # fmt: skip


def test_fields_are_read_by_name_and_typed() -> None:
    p = RepairProposal.from_document(DOCUMENT)
    assert (p.request_id, p.run_id, p.base_version) == ("REP-20260113063000", "RUN-20260112-001", 1)
    assert p.covered_ids == ["REP-20260113063000", "REP-20260113064500"]
    assert p.requests[1].scope == "Tue-Wed" and p.requests[1].absence_type == "sick"
    assert p.solver.proven_optimal is True and p.solver.runtime_ms == 412
    assert p.uncovered[0].instance_id == "T2110#1" and not p.complete
    assert p.standby[0].driver_id == "S001" and p.standby[0].skills == ("ADR",)
    assert (p.objective.covered, p.greedy_covered) == (1, 1)
    assert p.current.audits["Coverage"] == 2 and p.proposed.drift["churn"] == "WARN"
    assert p.moment.isoformat() == "2026-01-13T05:30:00+00:00"
    # a change to None leaves the tour uncovered; others are untouched
    plan = {"T2102#1": "D005", "T2110#1": "D011", "T2201#1": "D001"}
    assert p.plan_after(plan) == {"T2102#1": "D017", "T2201#1": "D001"}
    assert plan["T2110#1"] == "D011"


def test_the_digest_is_the_stored_document_s() -> None:
    """What the repair.propose event names (sha256 of the canonical JSON of the document)."""
    p = RepairProposal.from_document(DOCUMENT)
    assert p.digest == digest(DOCUMENT)
    assert p.digest.startswith("sha256:") and len(p.digest) == 71


def test_a_proposal_from_before_joint_repairs_keeps_its_digest() -> None:
    """No requests, left_open or absences_hash: it covers its own request, and its digest is
    that of the document as it was written, not of a re-encoding with empty fields."""
    old = copy.deepcopy(DOCUMENT)
    for key in ("requests", "left_open", "absences_hash"):
        del old[key]
    p = RepairProposal.from_document(old)
    assert p.covered_ids == ["REP-20260113063000"]
    assert (p.left_open, p.absences_hash) == ((), None)
    assert p.digest == digest(old) != digest(DOCUMENT)


@pytest.mark.parametrize(
    "break_it",
    [
        lambda d: d.pop("solver"),
        lambda d: d.__setitem__("changes", [["T2102#1", "D005"]]),
        lambda d: d.__setitem__("base_version", "one"),
        lambda d: d["objective"].pop("moved"),
        lambda d: d.__setitem__("standby", [{"driver_id": "S001"}]),
    ],
)
def test_a_malformed_document_is_one_line(break_it: Any) -> None:
    doc = copy.deepcopy(DOCUMENT)
    break_it(doc)
    with pytest.raises(InvalidInput) as caught:
        RepairProposal.from_document(doc)
    assert caught.value.message.startswith("Repair proposal document is malformed (")
    assert "\n" not in caught.value.message
