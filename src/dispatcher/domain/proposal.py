"""A repair proposal (domain.md §9), typed.

`run-repair` builds it as a JSON document: it is stored with the request, printed by
`run-repair --json` and `repairs show --json`, and its digest is named by the `repair.propose`
event and checked by `apply-repair` and `audit verify --state`. `RepairProposal` is that
document read once, by name, into typed fields; the document itself is kept beside them as it
was stored, so the digest is always that of the stored bytes' contents, never of a re-encoding
(a proposal written by an older release keeps its digest, whatever fields it lacks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dispatcher.domain.errors import InvalidInput
from dispatcher.domain.hashing import digest
from dispatcher.domain.model import Driver

Change = tuple[str, str | None, str | None]  # instance id, driver before, driver after


@dataclass(frozen=True)
class SolverRecord:
    name: str
    proven_optimal: bool
    time_limit_ms: int
    runtime_ms: int
    output_hash: str
    second_solve_hash: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Objective:
    """What the proposal achieves among the affected tours (and the greedy comparison)."""

    covered: int
    affected: int
    drivers_changed: int
    moved: int
    max_weekly_minutes: int


@dataclass(frozen=True)
class CoveredRequest:
    request_id: str
    driver_id: str
    absence_type: str
    scope: str  # as `RepairScope.describe` words it


@dataclass(frozen=True)
class Uncovered:
    instance_id: str
    reason: str


@dataclass(frozen=True)
class PlanSummary:
    """The audits' violation counts, KPIs and drift levels of one plan (current or proposed)."""

    audits: Mapping[str, int]
    kpis: Mapping[str, Any]
    drift: Mapping[str, str]


@dataclass(frozen=True)
class RepairProposal:
    request_id: str
    run_id: str
    base_version: int
    as_of: str  # UTC, `YYYY-MM-DDTHH:MM:SSZ`
    solver: SolverRecord
    affected: tuple[str, ...]
    frozen: tuple[str, ...]
    uncovered: tuple[Uncovered, ...]
    extra_drivers_needed: int
    changes: tuple[Change, ...]
    standby: tuple[Driver, ...]  # the standby drivers it uses
    objective: Objective
    greedy_covered: int
    greedy_drivers_changed: int
    current: PlanSummary
    proposed: PlanSummary
    plan_hash: str
    requests: tuple[CoveredRequest, ...]  # empty in proposals from before joint repairs
    left_open: tuple[str, ...]
    absences_hash: str | None  # None in proposals from before it was recorded
    document: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> RepairProposal:
        """Read a stored (or just built) proposal document; InvalidInput names what is wrong."""
        try:
            return cls._read(doc)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise InvalidInput(f"Repair proposal document is malformed ({exc!r})") from None

    @classmethod
    def _read(cls, doc: Mapping[str, Any]) -> RepairProposal:
        solver, objective, greedy = doc["solver"], doc["objective"], doc["greedy"]
        return cls(
            request_id=str(doc["request_id"]),
            run_id=str(doc["run_id"]),
            base_version=int(doc["base_version"]),
            as_of=str(doc["as_of"]),
            solver=SolverRecord(
                name=str(solver["name"]),
                proven_optimal=bool(solver["proven_optimal"]),
                time_limit_ms=int(solver["time_limit_ms"]),
                runtime_ms=int(solver["runtime_ms"]),
                output_hash=str(solver["output_hash"]),
                second_solve_hash=str(solver["second_solve_hash"]),
                notes=tuple(str(n) for n in solver.get("notes", ())),
            ),
            affected=tuple(str(i) for i in doc["affected"]),
            frozen=tuple(str(i) for i in doc["frozen"]),
            uncovered=tuple(
                Uncovered(str(u["instance_id"]), str(u["reason"])) for u in doc["uncovered"]
            ),
            extra_drivers_needed=int(doc["extra_drivers_needed"]),
            changes=tuple((str(i), before, after) for i, before, after in doc["changes"]),
            standby=tuple(
                Driver(
                    str(d["driver_id"]),
                    str(d["name"]),
                    tuple(d["skills"]),
                    bool(d["active"]),
                    int(d["max_weekly_minutes"]),
                    d["depot"],
                )
                for d in doc["standby"]
            ),
            objective=Objective(
                covered=int(objective["covered"]),
                affected=int(objective["affected"]),
                drivers_changed=int(objective["drivers_changed"]),
                moved=int(objective["moved"]),
                max_weekly_minutes=int(objective["max_weekly_minutes"]),
            ),
            greedy_covered=int(greedy["covered"]),
            greedy_drivers_changed=int(greedy["drivers_changed"]),
            current=_summary(doc["current"]),
            proposed=_summary(doc["proposed"]),
            plan_hash=str(doc["plan_hash"]),
            requests=tuple(
                CoveredRequest(
                    str(r["request_id"]), str(r["driver_id"]), str(r["type"]), str(r["scope"])
                )
                for r in doc.get("requests") or ()
            ),
            left_open=tuple(str(i) for i in doc.get("left_open") or ()),
            absences_hash=None if doc.get("absences_hash") is None else str(doc["absences_hash"]),
            document=doc,
        )

    @property
    def digest(self) -> str:
        """What the `repair.propose` event names: the digest of the document as stored."""
        return digest(dict(self.document))

    @property
    def complete(self) -> bool:
        return not self.uncovered

    @property
    def covered_ids(self) -> list[str]:
        """The requests it covers, its own first (proposals before joint repairs: its own)."""
        return [r.request_id for r in self.requests] or [self.request_id]

    @property
    def moment(self) -> datetime:
        """`as_of` as an aware instant."""
        return datetime.fromisoformat(self.as_of.replace("Z", "+00:00"))

    def plan_after(self, plan: Mapping[str, str]) -> dict[str, str]:
        """`plan` with the proposal's changes (a change to None leaves the tour uncovered)."""
        result = dict(plan)
        for instance_id, _, driver in self.changes:
            if driver is None:
                result.pop(instance_id, None)
            else:
                result[instance_id] = driver
        return result


def _summary(doc: Mapping[str, Any]) -> PlanSummary:
    return PlanSummary(
        audits={str(k): int(v) for k, v in doc["audits"].items()},
        kpis=dict(doc["kpis"]),
        drift={str(k): str(v) for k, v in doc["drift"].items()},
    )
