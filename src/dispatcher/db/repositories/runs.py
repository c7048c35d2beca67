"""Runs with their input, plan versions, assignments, audit results and evidence hashes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, func, insert, select

from dispatcher.db.repositories.base import Repository, cache_shown, json_or_none, required
from dispatcher.db.tables import (
    approvals,
    assignments,
    audit_results,
    availability,
    drivers,
    evidence_records,
    plan_versions,
    runs,
    tour_instances,
    version_checks,
)
from dispatcher.domain.audits import AuditResult, Boundary, Violation
from dispatcher.domain.drift import Drift
from dispatcher.domain.hashing import canonical_json
from dispatcher.domain.kpis import Kpis
from dispatcher.domain.model import Absence, AvailabilityStatus, Driver, Plan, Tour, Week, WeekInput
from dispatcher.domain.records import Approval, NewVersion, RunRecord, VersionRecord

r, pv, ev, vc = runs.c, plan_versions.c, evidence_records.c, version_checks.c
APPROVAL_COLUMNS = (
    "version",
    "approver_id",
    "role",
    "reason",
    "override_reason",
    "evidence_hash",
    "event_seq",
    "created_at",
)
lock, publish = approvals.alias("lock"), approvals.alias("publish")


def _newest_lock() -> Any:
    newer = approvals.alias("newer_lock")
    return (
        select(func.max(newer.c.version))
        .where(newer.c.run_pk == r.id, newer.c.action == "lock")
        .scalar_subquery()
    )


def _decision_columns(alias: Any, prefix: str) -> list[Any]:
    return [alias.c[name].label(f"{prefix}_{name}") for name in APPROVAL_COLUMNS]


def _decision(row: Row[Any], action: str, prefix: str) -> Approval | None:
    values = row._mapping
    if values[f"{prefix}_event_seq"] is None:
        return None
    return Approval(
        action=action,
        version=values[f"{prefix}_version"],
        approver_id=values[f"{prefix}_approver_id"],
        role=values[f"{prefix}_role"],
        reason=values[f"{prefix}_reason"],
        override_reason=values[f"{prefix}_override_reason"],
        evidence_hash=values[f"{prefix}_evidence_hash"],
        event_seq=values[f"{prefix}_event_seq"],
        at=required(values[f"{prefix}_created_at"]),
    )


def approval(row: Row[Any]) -> Approval:
    """An Approval from a row of the approvals table."""
    return Approval(
        action=row.action,
        version=row.version,
        approver_id=row.approver_id,
        role=row.role,
        reason=row.reason,
        override_reason=row.override_reason,
        evidence_hash=row.evidence_hash,
        event_seq=row.event_seq,
        at=required(row.created_at),
    )


def _current_version() -> Any:
    newest = plan_versions.alias("newest")
    return (
        select(func.max(newest.c.version))
        .where(newest.c.run_pk == r.id)
        .scalar_subquery()
        .label("current_version")
    )


def _run(row: Row[Any]) -> RunRecord:
    return RunRecord(
        pk=row.id,
        run_id=row.run_id,
        week=row.week,
        created_at=required(row.created_at),
        origin=row.origin,
        solver_name=row.solver_name,
        solver_version=row.solver_version,
        solver_seed=row.solver_seed,
        declared_output_hash=row.declared_output_hash,
        solver_error=row.solver_error,
        solver_meta=json.loads(row.solver_meta),
        runtime_ms=row.runtime_ms,
        current_version=row.current_version or 0,
        event_seq=row.event_seq,
        lock=_decision(row, "lock", "lock"),
    )


def _version(row: Row[Any]) -> VersionRecord:
    boundary = json_or_none(row.boundary_json)
    return VersionRecord(
        pk=row.id,
        version=row.version,
        parent_version=row.parent_version,
        created_at=required(row.created_at),
        origin=row.origin,
        repair_request_id=row.repair_request_id,
        config=json.loads(row.config_json),
        solver=json.loads(row.solver_json),
        boundary=None if boundary is None else Boundary.from_document(boundary),
        absences=tuple(
            Absence(
                a["driver_id"],
                a["date"],
                AvailabilityStatus(a["status"]),
                a["note"],
                a.get("since"),
            )
            for a in json.loads(row.absences_json)
        ),
        kpis=Kpis.from_document(json.loads(row.kpis_json)),
        drift=Drift.from_document(json.loads(row.drift_json)),
        repair=json_or_none(row.repair_json),
        status=row.checked_status if cache_shown(row.checked_status, row.status) else row.status,
        status_reason=(
            row.checked_reason if cache_shown(row.checked_status, row.status) else row.status_reason
        ),
        audits_passed=row.audits_passed,
        verified_at=required(row.checked_at or row.created_at),
        evidence_hash=row.evidence_hash or "",
        event_seq=row.event_seq,
        publish=_decision(row, "publish", "publish"),
    )


VERSION_SELECT = select(
    plan_versions,
    ev.evidence_hash,
    vc.status.label("checked_status"),
    vc.status_reason.label("checked_reason"),
    vc.checked_at,
    *_decision_columns(publish, "publish"),
).select_from(
    plan_versions.outerjoin(evidence_records, ev.version_pk == pv.id)
    .outerjoin(version_checks, vc.version_pk == pv.id)
    .outerjoin(
        publish,
        (publish.c.run_pk == pv.run_pk)
        & (publish.c.version == pv.version)
        & (publish.c.action == "publish"),
    )
)


class RunRepository(Repository):
    """Runs and everything stored with them, scoped to one tenant/site."""

    def _runs(self) -> Any:
        return (
            select(runs, _current_version(), *_decision_columns(lock, "lock"))
            .select_from(
                runs.outerjoin(
                    lock,
                    (lock.c.run_pk == r.id)
                    & (lock.c.action == "lock")
                    & (lock.c.version == _newest_lock()),  # an amended run has several locks
                )
            )
            .where(self._in_site(runs))
        )

    def all(self) -> list[RunRecord]:
        """Every run of the site, oldest first (`audit verify --state`)."""
        return [_run(row) for row in self._connection.execute(self._runs().order_by(r.id))]

    def get(self, run_id: str) -> RunRecord | None:
        row = self._connection.execute(self._runs().where(r.run_id == run_id)).first()
        return None if row is None else _run(row)

    def latest_locked(
        self, *, week: str | None = None, before_week: str | None = None
    ) -> RunRecord | None:
        """The most recently locked run of `week`, or of the latest week before `before_week`."""
        statement = self._runs().where(lock.c.event_seq.is_not(None))
        if week is not None:
            statement = statement.where(r.week == week)
        if before_week is not None:
            statement = statement.where(r.week < before_week)
        row = self._connection.execute(
            statement.order_by(r.week.desc(), lock.c.event_seq.desc()).limit(1)
        ).first()
        return None if row is None else _run(row)

    def next_run_id(self, day: str) -> str:
        """`RUN-YYYYMMDD-NNN`: the next free counter for that (Vienna) date at this site."""
        prefix = f"RUN-{day}-"
        taken = self._connection.scalars(
            select(r.run_id).where(self._in_site(runs), r.run_id.like(prefix + "%"))
        )
        numbers = [int(t[len(prefix) :]) for t in taken if t[len(prefix) :].isdigit()]
        return f"{prefix}{max(numbers, default=0) + 1:03d}"

    def week_input(self, run: RunRecord, version: int) -> WeekInput:
        """The run's input as the given version sees it (standby drivers added by repairs
        belong to the version that added them and later ones)."""
        t, d, a = tour_instances.c, drivers.c, availability.c
        tour_rows = self._connection.execute(
            select(
                t.tour_id,
                func.max(t.n).label("copies"),
                t.day,
                t.start_minute,
                t.end_minute,
                t.depot,
                t.skill,
                t.notes,
            )
            .where(t.run_pk == run.pk)
            .group_by(t.tour_id, t.day, t.start_minute, t.end_minute, t.depot, t.skill, t.notes)
            .order_by(t.tour_id)
        )
        tours = tuple(
            Tour(
                row.tour_id,
                row.day,
                row.start_minute,
                row.end_minute,
                row.copies,
                row.depot,
                row.skill,
                row.notes,
            )
            for row in tour_rows
        )
        driver_rows = self._connection.execute(
            select(drivers)
            .where(d.run_pk == run.pk, d.added_in_version <= version)
            .order_by(d.driver_id)
        )
        driver_list = tuple(
            Driver(
                row.driver_id,
                row.name,
                tuple(s for s in row.skills.split("|") if s),
                bool(row.active),
                row.max_weekly_minutes,
                row.depot,
            )
            for row in driver_rows
        )
        absence_rows = self._connection.execute(
            select(availability).where(a.run_pk == run.pk).order_by(a.driver_id, a.date)
        )
        absences = tuple(
            Absence(row.driver_id, row.date, AvailabilityStatus(row.status), row.note)
            for row in absence_rows
        )
        return WeekInput(Week.parse(run.week), tours, driver_list, absences)

    def version(self, run: RunRecord, version: int) -> VersionRecord | None:
        row = self._connection.execute(
            VERSION_SELECT.where(pv.run_pk == run.pk, pv.version == version)
        ).first()
        return None if row is None else _version(row)

    def versions(self, run: RunRecord) -> list[VersionRecord]:
        rows = self._connection.execute(
            VERSION_SELECT.where(pv.run_pk == run.pk).order_by(pv.version)
        )
        return [_version(row) for row in rows]

    def plan(self, version_pk: int) -> dict[str, str]:
        a = assignments.c
        rows = self._connection.execute(
            select(a.instance_id, a.driver_id).where(a.version_pk == version_pk)
        )
        return {row.instance_id: row.driver_id for row in rows}

    def audit_results(self, version_pk: int) -> tuple[AuditResult, ...]:
        a = audit_results.c
        rows = self._connection.execute(
            select(a.audit, a.violations, a.note)
            .where(a.version_pk == version_pk)
            .order_by(a.position)
        )
        return tuple(
            AuditResult(
                row.audit,
                tuple(Violation.from_document(v) for v in json.loads(row.violations)),
                row.note,
            )
            for row in rows
        )

    # --- writes ---------------------------------------------------------------------------

    def add_run(
        self,
        *,
        run_id: str,
        week: str,
        created_at: datetime,
        origin: str,
        solver: Mapping[str, Any],
        solver_meta: Mapping[str, Any],
        runtime_ms: int | None,
        event_seq: int,
        solver_error: str | None = None,
    ) -> int:
        pk = self._connection.execute(
            insert(runs)
            .values(
                **self._scope,
                run_id=run_id,
                week=week,
                created_at=created_at,
                origin=origin,
                solver_name=solver["name"],
                solver_version=solver.get("version"),
                solver_seed=solver.get("seed"),
                declared_output_hash=solver.get("declared_output_hash"),
                solver_error=solver_error,
                solver_meta=canonical_json(dict(solver_meta)),
                runtime_ms=runtime_ms,
                event_seq=event_seq,
            )
            .returning(r.id)
        ).scalar_one()
        return int(pk)

    def add_input(self, run_pk: int, week_input: WeekInput, added_in_version: int = 1) -> None:
        scope = {**self._scope, "run_pk": run_pk}
        instances = [
            {
                **scope,
                "instance_id": i.instance_id,
                "tour_id": i.tour.tour_id,
                "n": i.n,
                "day": i.tour.day,
                "start_minute": i.tour.start,
                "end_minute": i.tour.end,
                "depot": i.tour.depot,
                "skill": i.tour.skill,
                "notes": i.tour.notes,
            }
            for i in week_input.instances()
        ]
        self._insert_many(tour_instances, instances)
        self.add_drivers(run_pk, week_input.drivers, added_in_version)
        absences = [
            {
                **scope,
                "driver_id": a.driver_id,
                "date": a.date,
                "status": str(a.status),
                "note": a.note,
            }
            for a in week_input.availability
        ]
        self._insert_many(availability, absences)

    def add_drivers(
        self, run_pk: int, driver_list: Iterable[Driver], added_in_version: int
    ) -> None:
        rows = [
            {
                **self._scope,
                "run_pk": run_pk,
                "driver_id": d.driver_id,
                "name": d.name,
                "skills": "|".join(sorted(d.skills)),
                "active": d.active,
                "max_weekly_minutes": d.max_weekly_minutes,
                "depot": d.depot,
                "added_in_version": added_in_version,
            }
            for d in driver_list
        ]
        self._insert_many(drivers, rows)

    def add_version(
        self,
        run_pk: int,
        new: NewVersion,
        plan: Plan,
        audits: Sequence[AuditResult],
        at: datetime,
        event_seq: int,
    ) -> int:
        version_pk = self._connection.execute(
            insert(plan_versions)
            .values(
                **self._scope,
                run_pk=run_pk,
                version=new.version,
                parent_version=new.parent_version,
                created_at=at,
                origin=new.origin,
                repair_request_id=new.repair_request_id,
                config_json=canonical_json(dict(new.config)),
                solver_json=canonical_json(dict(new.solver)),
                boundary_json=canonical_json(
                    None if new.boundary is None else new.boundary.as_document()
                ),
                absences_json=canonical_json([a.as_document() for a in new.absences]),
                kpis_json=canonical_json(new.kpis.as_document()),
                drift_json=canonical_json(new.drift.as_document()),
                repair_json=None if new.repair is None else canonical_json(dict(new.repair)),
                status=new.status,
                status_reason=new.status_reason,
                audits_passed=new.audits_passed,
                coverage_bp=new.kpis.coverage_bp,
                drivers_used=new.kpis.drivers_used,
                drift_level=new.drift.level,
                event_seq=event_seq,
            )
            .returning(pv.id)
        ).scalar_one()
        scope = {**self._scope, "version_pk": version_pk}
        self._insert_many(
            assignments,
            [{**scope, "instance_id": i, "driver_id": d} for i, d in plan.items()],
        )
        self._insert_many(
            audit_results,
            [
                {
                    **scope,
                    "audit": a.name,
                    "position": position,
                    "passed": a.passed,
                    "violation_count": len(a.violations),
                    "violations": canonical_json([v.as_document() for v in a.violations]),
                    "note": a.note,
                }
                for position, a in enumerate(audits, start=1)
            ],
        )
        self._connection.execute(
            insert(evidence_records).values(**scope, evidence_hash=new.evidence_hash, created_at=at)
        )
        return int(version_pk)

    def record_verification(self, version_pk: int, status: str, reason: str, at: datetime) -> None:
        """Cache the result of a re-verification (list-runs and status show it; no gate trusts
        it)."""
        values = {"status": status, "status_reason": reason, "checked_at": at}
        if self._connection.dialect.name == "postgresql":  # no INSERT/UPDATE for applications
            self._connection.execute(
                select(func.dispatcher_record_check(version_pk, status, reason, at.astimezone(UTC)))
            )
            return
        self._connection.execute(
            self._dialect_insert(version_checks)
            .values(**self._scope, version_pk=version_pk, **values)
            .on_conflict_do_update(index_elements=["version_pk"], set_=values)
        )

    def instance_rows(self, run: RunRecord) -> dict[str, tuple[Any, ...]]:
        """Every stored tour instance of the run, as stored."""
        t = tour_instances.c
        rows = self._connection.execute(select(tour_instances).where(t.run_pk == run.pk))
        return {
            row.instance_id: (
                row.tour_id,
                row.n,
                row.day,
                row.start_minute,
                row.end_minute,
                row.depot,
                row.skill,
                row.notes,
            )
            for row in rows
        }

    def audit_positions(self, version_pk: int) -> list[int]:
        a = audit_results.c
        return list(
            self._connection.scalars(
                select(a.position).where(a.version_pk == version_pk).order_by(a.position)
            )
        )

    def driver_versions(self, run: RunRecord) -> set[int]:
        """The versions the run's drivers were added in."""
        d = drivers.c
        return set(self._connection.scalars(select(d.added_in_version).where(d.run_pk == run.pk)))

    def stored_summary(self, version_pk: int) -> dict[str, Any]:
        """The summary columns a version was stored with (list-runs shows them), as stored."""
        row = self._connection.execute(
            select(
                pv.status,
                pv.status_reason,
                pv.audits_passed,
                pv.coverage_bp,
                pv.drivers_used,
                pv.drift_level,
            ).where(pv.id == version_pk)
        ).one()
        return dict(row._mapping)

    def stored_audit_counts(self, version_pk: int) -> dict[str, tuple[bool, int, int]]:
        """Per audit: (passed, violation_count, violations listed) as stored."""
        a = audit_results.c
        rows = self._connection.execute(
            select(a.audit, a.passed, a.violation_count, a.violations).where(
                a.version_pk == version_pk
            )
        )
        return {
            row.audit: (bool(row.passed), row.violation_count, len(json.loads(row.violations)))
            for row in rows
        }

    def approvals(self, run: RunRecord) -> list[Approval]:
        """Every approval of the run (publish, lock, repair.apply), oldest first."""
        a = approvals.c
        rows = self._connection.execute(
            select(approvals).where(a.run_pk == run.pk).order_by(a.event_seq)
        )
        return [approval(row) for row in rows]

    def _insert_many(self, table: Any, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._connection.execute(insert(table), rows)
