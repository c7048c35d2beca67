"""Reading a stored run back: the run, its input, plan versions, assignments and audit results.

Plain SQL over an `Executor`, so the same code serves the SQLAlchemy repository (inside a unit of
work) and `show-run`'s standard-library path (no ORM import at start-up).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dispatcher.db.queries import Executor, Rows, as_utc, json_or_none, required_utc
from dispatcher.domain.audits import AuditResult, Boundary, Violation
from dispatcher.domain.drift import Drift
from dispatcher.domain.kpis import Kpis
from dispatcher.domain.model import (
    Absence,
    AvailabilityStatus,
    Driver,
    Tour,
    Week,
    WeekInput,
)
from dispatcher.domain.records import RunRecord, VersionRecord

Scope = tuple[str, str]  # (tenant, site)

RUN_COLUMNS = (
    "r.id, r.run_id, r.week, r.created_at, r.origin, r.solver_name, r.solver_version, "
    "r.solver_seed, r.declared_output_hash, r.solver_error, r.solver_meta, r.runtime_ms, "
    "r.locked_at, r.locked_by, r.locked_version, "
    "(SELECT MAX(v.version) FROM plan_versions v WHERE v.run_pk = r.id)"
)
VERSION_COLUMNS = (
    "p.id, p.version, p.parent_version, p.created_at, p.origin, p.repair_request_id, "
    "p.config_json, p.solver_json, p.boundary_json, p.absences_json, p.kpis_json, p.drift_json, "
    "p.repair_json, p.status, p.status_reason, p.audits_passed, p.verified_at, e.evidence_hash, "
    "p.published_at, p.published_by, p.published_role, p.published_evidence_hash, "
    "p.override_reason"
)
VERSION_FROM = "plan_versions p LEFT JOIN evidence_records e ON e.version_pk = p.id"


def run_record(row: Sequence[Any]) -> RunRecord:
    """A RunRecord from a row of RUN_COLUMNS."""
    return RunRecord(
        pk=row[0],
        run_id=row[1],
        week=row[2],
        created_at=required_utc(row[3]),
        origin=row[4],
        solver_name=row[5],
        solver_version=row[6],
        solver_seed=row[7],
        declared_output_hash=row[8],
        solver_error=row[9],
        solver_meta=json.loads(row[10]),
        runtime_ms=row[11],
        locked_at=as_utc(row[12]),
        locked_by=row[13],
        locked_version=row[14],
        current_version=row[15] or 0,
    )


def version_record(row: Sequence[Any]) -> VersionRecord:
    """A VersionRecord from a row of VERSION_COLUMNS."""
    boundary = json_or_none(row[8])
    return VersionRecord(
        pk=row[0],
        version=row[1],
        parent_version=row[2],
        created_at=required_utc(row[3]),
        origin=row[4],
        repair_request_id=row[5],
        config=json.loads(row[6]),
        solver=json.loads(row[7]),
        boundary=None if boundary is None else Boundary.from_document(boundary),
        absences=tuple(
            Absence(a["driver_id"], a["date"], AvailabilityStatus(a["status"]), a["note"])
            for a in json.loads(row[9])
        ),
        kpis=Kpis.from_document(json.loads(row[10])),
        drift=Drift.from_document(json.loads(row[11])),
        repair=json_or_none(row[12]),
        status=row[13],
        status_reason=row[14],
        audits_passed=row[15],
        verified_at=required_utc(row[16]),
        evidence_hash=row[17] or "",
        published_at=as_utc(row[18]),
        published_by=row[19],
        published_role=row[20],
        published_evidence_hash=row[21],
        override_reason=row[22],
    )


class RunReads:
    """The read half of the run repository, scoped to one tenant/site."""

    def __init__(self, execute: Executor, scope: Scope) -> None:
        self._execute = execute
        self._tenant, self._site = scope

    def _rows(self, sql: str, **params: Any) -> Rows:
        return self._execute(sql, params)

    def get(self, run_id: str) -> RunRecord | None:
        rows = self._rows(
            f"SELECT {RUN_COLUMNS} FROM runs r "
            "WHERE r.tenant_id = :tenant AND r.site_id = :site AND r.run_id = :run_id",
            tenant=self._tenant,
            site=self._site,
            run_id=run_id,
        )
        return run_record(rows[0]) if rows else None

    def week_input(self, run: RunRecord, version: int) -> WeekInput:
        tours = tuple(
            Tour(tour_id, day, start, end, count, depot, skill, notes)
            for tour_id, count, day, start, end, depot, skill, notes in self._rows(
                "SELECT tour_id, MAX(n), day, start_minute, end_minute, depot, skill, notes "
                "FROM tour_instances WHERE run_pk = :run "
                "GROUP BY tour_id, day, start_minute, end_minute, depot, skill, notes "
                "ORDER BY tour_id",
                run=run.pk,
            )
        )
        drivers = tuple(
            Driver(
                driver_id, name, tuple(s for s in skills.split("|") if s), bool(active), cap, depot
            )
            for driver_id, name, skills, active, cap, depot in self._rows(
                "SELECT driver_id, name, skills, active, max_weekly_minutes, depot FROM drivers "
                "WHERE run_pk = :run AND added_in_version <= :version ORDER BY driver_id",
                run=run.pk,
                version=version,
            )
        )
        availability = tuple(
            Absence(driver_id, date, AvailabilityStatus(status), note)
            for driver_id, date, status, note in self._rows(
                "SELECT driver_id, date, status, note FROM availability "
                "WHERE run_pk = :run ORDER BY driver_id, date",
                run=run.pk,
            )
        )
        return WeekInput(
            Week.parse(run.week),
            tours,
            drivers,
            availability,
        )

    def version(self, run: RunRecord, version: int) -> VersionRecord | None:
        rows = self._rows(
            f"SELECT {VERSION_COLUMNS} FROM {VERSION_FROM} "
            "WHERE p.run_pk = :run AND p.version = :version",
            run=run.pk,
            version=version,
        )
        return version_record(rows[0]) if rows else None

    def versions(self, run: RunRecord) -> list[VersionRecord]:
        rows = self._rows(
            f"SELECT {VERSION_COLUMNS} FROM {VERSION_FROM} WHERE p.run_pk = :run "
            "ORDER BY p.version",
            run=run.pk,
        )
        return [version_record(row) for row in rows]

    def plan(self, version_pk: int) -> dict[str, str]:
        rows = self._rows(
            "SELECT instance_id, driver_id FROM assignments WHERE version_pk = :version",
            version=version_pk,
        )
        return {str(instance): str(driver) for instance, driver in rows}

    def audit_results(self, version_pk: int) -> tuple[AuditResult, ...]:
        rows = self._rows(
            "SELECT audit, violations, note FROM audit_results WHERE version_pk = :version "
            "ORDER BY position",
            version=version_pk,
        )
        return tuple(
            AuditResult(
                audit, tuple(Violation.from_document(v) for v in json.loads(violations)), note
            )
            for audit, violations, note in rows
        )

    def latest_locked(
        self, *, week: str | None = None, before_week: str | None = None
    ) -> RunRecord | None:
        """The most recently locked run of `week`, or of the latest week before `before_week`."""
        sql = (
            f"SELECT {RUN_COLUMNS} FROM runs r WHERE r.tenant_id = :tenant AND r.site_id = :site "
            "AND r.locked_at IS NOT NULL"
        )
        params: dict[str, Any] = {"tenant": self._tenant, "site": self._site}
        if week is not None:
            sql += " AND r.week = :week"
            params["week"] = week
        if before_week is not None:
            sql += " AND r.week < :before_week"
            params["before_week"] = before_week
        rows = self._rows(f"{sql} ORDER BY r.week DESC, r.locked_at DESC LIMIT 1", **params)
        return run_record(rows[0]) if rows else None
