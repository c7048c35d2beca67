"""Repositories: one per aggregate. They convert rows to domain objects and never commit.

Written in plain SQL against `Sql` (see sql.py), so they run unchanged over a SQLAlchemy
session and over a stdlib sqlite3 connection; the schema itself comes from the migrations
(`tables.py` mirrors it for Alembic).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from dispatcher.db.chain_reads import ChainReads
from dispatcher.db.queries import ReadQueries, as_utc, json_or_none, required_utc
from dispatcher.db.run_reads import RunReads
from dispatcher.db.sql import Sql
from dispatcher.domain.audits import AuditResult
from dispatcher.domain.errors import DatabaseBusy, DispatcherError
from dispatcher.domain.events import AuditEvent
from dispatcher.domain.hashing import canonical_json
from dispatcher.domain.model import (
    DriftThresholds,
    Driver,
    Plan,
    SiteConfig,
    User,
    WeekInput,
)
from dispatcher.domain.records import NewVersion, RepairRecord
from dispatcher.domain.views import KillSwitchEntry

Scope = tuple[str, str]  # (tenant, site)
BEGIN_ATTEMPTS = 4  # each waits up to the busy timeout (5 s) for the write lock
BEGIN_BACKOFF_S = 0.05


def _columns(values: Mapping[str, Any]) -> tuple[str, str]:
    """`(a, b)` and `(:a, :b)` for an INSERT of `values`."""
    return ", ".join(values), ", ".join(f":{name}" for name in values)


def _insert(sql: Sql, table: str, values: Mapping[str, Any]) -> None:
    names, marks = _columns(values)
    sql.write(f"INSERT INTO {table} ({names}) VALUES ({marks})", values)


def _insert_id(sql: Sql, table: str, values: Mapping[str, Any]) -> int:
    names, marks = _columns(values)
    rows = sql.rows(f"INSERT INTO {table} ({names}) VALUES ({marks}) RETURNING id", values)
    return int(rows[0][0])


def _insert_many(sql: Sql, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        names, marks = _columns(rows[0])
        sql.write_many(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


def _update(sql: Sql, table: str, where: str, values: Mapping[str, Any], **keys: Any) -> None:
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    sql.write(f"UPDATE {table} SET {assignments} WHERE {where}", {**values, **keys})


def _ensure_tenant(sql: Sql, tenant: str, now: datetime) -> None:
    sql.write(
        "INSERT INTO tenants (tenant_id, created_at) VALUES (:tenant, :now) "
        "ON CONFLICT (tenant_id) DO NOTHING",
        {"tenant": tenant, "now": now},
    )


def _roles(text: str) -> tuple[str, ...]:
    return tuple(r for r in text.split(",") if r)


class AuditLog(ChainReads):
    """The append-only event chain of one tenant/site: append, tip and the reads for
    verification (ChainReads), nothing more."""

    def __init__(self, sql: Sql, scope: Scope) -> None:
        super().__init__(sql.stream, scope, dialect=sql.dialect)
        self._sql = sql
        self._tenant, self._site = scope

    def tip(self) -> tuple[int, str] | None:
        rows = self._sql.rows(
            "SELECT seq, hash FROM audit_events WHERE tenant_id = :tenant AND site_id = :site "
            "ORDER BY seq DESC LIMIT 1",
            {"tenant": self._tenant, "site": self._site},
        )
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    def append(self, event: AuditEvent) -> None:
        _insert(
            self._sql,
            "audit_events",
            {
                "tenant_id": event.tenant,
                "site_id": event.site,
                "seq": event.seq,
                "occurred_at": event.occurred_at,
                "action": event.action,
                "outcome": event.outcome,
                "actor_id": event.actor_id,
                "actor_role": event.actor_role,
                "reason": event.reason,
                "run_id": event.run_id,
                "plan_version": event.plan_version,
                "evidence_hash": event.evidence_hash,
                "detail": canonical_json(event.detail),
                "prev_hash": event.prev_hash,
                "hash": event.hash,
                "body": event.body,
            },
        )


SITE_SETTINGS = (
    "publish_enabled, lock_enabled, shadow_only, publish_roles, lock_roles, repair_roles, "
    "min_reason_length, lock_requires_other_person, freeze_window_hours, drift_baseline, "
    "drift_thresholds"
)


class SiteRepository:
    """Tenants, sites and their settings."""

    def __init__(self, sql: Sql, scope: Scope) -> None:
        self._sql = sql
        self._tenant, self._site = scope

    def config(self) -> SiteConfig | None:
        rows = self._sql.rows(
            f"SELECT {SITE_SETTINGS} FROM site_settings "
            "WHERE tenant_id = :tenant AND site_id = :site",
            {"tenant": self._tenant, "site": self._site},
        )
        if not rows:
            return None
        (publish, lock, shadow, publish_roles, lock_roles, repair_roles, min_reason, other,
         freeze, baseline, thresholds) = rows[0]  # fmt: skip
        return SiteConfig(
            publish_enabled=bool(publish),
            lock_enabled=bool(lock),
            shadow_only=bool(shadow),
            publish_roles=_roles(publish_roles),
            lock_roles=_roles(lock_roles),
            repair_roles=_roles(repair_roles),
            min_reason_length=min_reason,
            lock_requires_other_person=bool(other),
            freeze_window_hours=freeze,
            drift_baseline=baseline,
            thresholds=DriftThresholds.from_document(json.loads(thresholds)),
        )

    def all(self) -> list[tuple[str, str]]:
        """Every (tenant, site) this transaction may see, in order."""
        rows = self._sql.rows(
            "SELECT tenant_id, site_id FROM sites ORDER BY tenant_id, site_id", {}
        )
        return [(str(tenant), str(site)) for tenant, site in rows]

    def create(self, config: SiteConfig, now: datetime) -> None:
        """Create the tenant (if new), the site and its settings."""
        _ensure_tenant(self._sql, self._tenant, now)
        scope = {"tenant_id": self._tenant, "site_id": self._site}
        _insert(self._sql, "sites", {**scope, "created_at": now})
        _insert(self._sql, "site_settings", {**scope, **_settings(config, now)})

    def save_config(self, config: SiteConfig, now: datetime) -> None:
        _update(
            self._sql,
            "site_settings",
            "tenant_id = :tenant AND site_id = :site",
            _settings(config, now),
            tenant=self._tenant,
            site=self._site,
        )


def _settings(config: SiteConfig, now: datetime) -> dict[str, Any]:
    return {
        "publish_enabled": config.publish_enabled,
        "lock_enabled": config.lock_enabled,
        "shadow_only": config.shadow_only,
        "publish_roles": ",".join(config.publish_roles),
        "lock_roles": ",".join(config.lock_roles),
        "repair_roles": ",".join(config.repair_roles),
        "min_reason_length": config.min_reason_length,
        "lock_requires_other_person": config.lock_requires_other_person,
        "freeze_window_hours": config.freeze_window_hours,
        "drift_baseline": config.drift_baseline,
        "drift_thresholds": canonical_json(config.thresholds.as_document()),
        "updated_at": now,
    }


class RunRepository(RunReads):
    """Runs with their input, plan versions, assignments, audit results and evidence hashes.

    Reads come from RunReads; the writes are here."""

    def __init__(self, sql: Sql, scope: Scope) -> None:
        super().__init__(sql.rows, scope)
        self._sql = sql

    @property
    def _scope(self) -> dict[str, str]:
        return {"tenant_id": self._tenant, "site_id": self._site}

    def next_run_id(self, day: str) -> str:
        """`RUN-YYYYMMDD-NNN`: the next free counter for that (Vienna) date at this site."""
        prefix = f"RUN-{day}-"
        existing = self._sql.rows(
            "SELECT run_id FROM runs WHERE tenant_id = :tenant AND site_id = :site "
            "AND run_id LIKE :prefix",
            {"tenant": self._tenant, "site": self._site, "prefix": prefix + "%"},
        )
        numbers = [int(r[len(prefix) :]) for (r,) in existing if r[len(prefix) :].isdigit()]
        return f"{prefix}{max(numbers, default=0) + 1:03d}"

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
        solver_error: str | None = None,
    ) -> int:
        return _insert_id(
            self._sql,
            "runs",
            {
                **self._scope,
                "run_id": run_id,
                "week": week,
                "created_at": created_at,
                "origin": origin,
                "solver_name": solver["name"],
                "solver_version": solver.get("version"),
                "solver_seed": solver.get("seed"),
                "declared_output_hash": solver.get("declared_output_hash"),
                "solver_error": solver_error,
                "solver_meta": canonical_json(dict(solver_meta)),
                "runtime_ms": runtime_ms,
            },
        )

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
        _insert_many(self._sql, "tour_instances", instances)
        self.add_drivers(run_pk, week_input.drivers, added_in_version)
        availability = [
            {
                **scope,
                "driver_id": a.driver_id,
                "date": a.date,
                "status": str(a.status),
                "note": a.note,
            }
            for a in week_input.availability
        ]
        _insert_many(self._sql, "availability", availability)

    def add_drivers(self, run_pk: int, drivers: Iterable[Driver], added_in_version: int) -> None:
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
            for d in drivers
        ]
        _insert_many(self._sql, "drivers", rows)

    def add_version(
        self, run_pk: int, new: NewVersion, plan: Plan, audits: Sequence[AuditResult], at: datetime
    ) -> int:
        version_pk = _insert_id(
            self._sql,
            "plan_versions",
            {
                **self._scope,
                "run_pk": run_pk,
                "version": new.version,
                "parent_version": new.parent_version,
                "created_at": at,
                "origin": new.origin,
                "repair_request_id": new.repair_request_id,
                "config_json": canonical_json(dict(new.config)),
                "solver_json": canonical_json(dict(new.solver)),
                "boundary_json": canonical_json(
                    None if new.boundary is None else new.boundary.as_document()
                ),
                "absences_json": canonical_json([a.as_document() for a in new.absences]),
                "kpis_json": canonical_json(new.kpis.as_document()),
                "drift_json": canonical_json(new.drift.as_document()),
                "repair_json": None if new.repair is None else canonical_json(dict(new.repair)),
                "status": new.status,
                "status_reason": new.status_reason,
                "audits_passed": new.audits_passed,
                "coverage_bp": new.kpis.coverage_bp,
                "drivers_used": new.kpis.drivers_used,
                "drift_level": new.drift.level,
                "verified_at": at,
            },
        )
        scope = {**self._scope, "version_pk": version_pk}
        assignments = [
            {**scope, "instance_id": instance, "driver_id": driver}
            for instance, driver in plan.items()
        ]
        _insert_many(self._sql, "assignments", assignments)
        results = [
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
        ]
        _insert_many(self._sql, "audit_results", results)
        _insert(
            self._sql,
            "evidence_records",
            {**scope, "evidence_hash": new.evidence_hash, "created_at": at},
        )
        return version_pk

    def record_verification(self, version_pk: int, status: str, reason: str, at: datetime) -> None:
        _update(
            self._sql,
            "plan_versions",
            "id = :pk",
            {"status": status, "status_reason": reason, "verified_at": at},
            pk=version_pk,
        )


class UserRepository:
    """The tenant's user registry."""

    COLUMNS = "user_id, name, roles, active"

    def __init__(self, sql: Sql, scope: Scope) -> None:
        self._sql = sql
        self._tenant = scope[0]

    @staticmethod
    def _user(row: Sequence[Any]) -> User:
        return User(row[0], row[1], _roles(row[2]), bool(row[3]))

    def get(self, user_id: str) -> User | None:
        rows = self._sql.rows(
            f"SELECT {self.COLUMNS} FROM users WHERE tenant_id = :tenant AND user_id = :user",
            {"tenant": self._tenant, "user": user_id},
        )
        return self._user(rows[0]) if rows else None

    def add(self, user: User, now: datetime) -> None:
        _ensure_tenant(self._sql, self._tenant, now)
        _insert(
            self._sql,
            "users",
            {
                "tenant_id": self._tenant,
                "user_id": user.user_id,
                "name": user.name,
                "roles": ",".join(user.roles),
                "active": user.active,
                "created_at": now,
            },
        )

    def set_active(self, user_id: str, active: bool) -> None:
        _update(
            self._sql,
            "users",
            "tenant_id = :tenant AND user_id = :user",
            {"active": active},
            tenant=self._tenant,
            user=user_id,
        )

    def list(self) -> list[User]:
        rows = self._sql.rows(
            f"SELECT {self.COLUMNS} FROM users WHERE tenant_id = :tenant ORDER BY user_id",
            {"tenant": self._tenant},
        )
        return [self._user(row) for row in rows]


class DecisionRepository:
    """Publish and lock marks, approvals: the writes a human decision makes."""

    def __init__(self, sql: Sql, scope: Scope) -> None:
        self._sql = sql
        self._tenant, self._site = scope

    def mark_published(
        self,
        version_pk: int,
        *,
        by: str,
        role: str,
        at: datetime,
        evidence_hash: str,
        override_reason: str | None,
    ) -> None:
        values = {
            "published_at": at,
            "published_by": by,
            "published_role": role,
            "published_evidence_hash": evidence_hash,
            "override_reason": override_reason,
        }
        _update(self._sql, "plan_versions", "id = :pk", values, pk=version_pk)

    def mark_locked(self, run_pk: int, *, by: str, at: datetime, version: int) -> None:
        values = {"locked_at": at, "locked_by": by, "locked_version": version}
        _update(self._sql, "runs", "id = :pk", values, pk=run_pk)

    def add_approval(
        self,
        *,
        run_pk: int,
        version: int,
        action: str,
        approver_id: str,
        role: str,
        reason: str,
        override_reason: str | None,
        evidence_hash: str | None,
        event_seq: int,
        at: datetime,
    ) -> None:
        _insert(
            self._sql,
            "approvals",
            {
                "tenant_id": self._tenant,
                "site_id": self._site,
                "run_pk": run_pk,
                "version": version,
                "action": action,
                "approver_id": approver_id,
                "role": role,
                "reason": reason,
                "override_reason": override_reason,
                "evidence_hash": evidence_hash,
                "event_seq": event_seq,
                "created_at": at,
            },
        )


KILL_SWITCH_SCOPES = {
    "global": "scope = 'global'",
    "site": "(scope = 'site' AND tenant_id = :tenant AND site_id = :site)",
}


class KillSwitchLog:
    """The platform-wide kill-switch history: append and read, per scope."""

    def __init__(self, sql: Sql, scope: Scope) -> None:
        self._sql = sql
        self._tenant, self._site = scope

    def _params(self, **extra: Any) -> dict[str, Any]:
        return {"tenant": self._tenant, "site": self._site, **extra}

    def is_active(self, scope: str) -> bool:
        rows = self._sql.rows(
            f"SELECT active FROM kill_switch_history WHERE {KILL_SWITCH_SCOPES[scope]} "
            "ORDER BY id DESC LIMIT 1",
            self._params(),
        )
        return bool(rows and rows[0][0])

    def append(self, scope: str, *, active: bool, by: str, reason: str, at: datetime) -> None:
        site_bound = scope == "site"
        _insert(
            self._sql,
            "kill_switch_history",
            {
                "scope": scope,
                "tenant_id": self._tenant if site_bound else None,
                "site_id": self._site if site_bound else None,
                "active": active,
                "actor_id": by,
                "reason": reason,
                "changed_at": at,
            },
        )

    def history(self, limit: int = 20) -> list[KillSwitchEntry]:
        rows = self._sql.rows(
            "SELECT scope, tenant_id, site_id, active, actor_id, reason, changed_at "
            f"FROM kill_switch_history WHERE {KILL_SWITCH_SCOPES['global']} "
            f"OR {KILL_SWITCH_SCOPES['site']} "
            "ORDER BY id DESC LIMIT :limit",
            self._params(limit=limit),
        )
        return [
            KillSwitchEntry(
                scope,
                f"{tenant}/{site}" if scope == "site" else "all sites",
                bool(active),
                actor,
                reason,
                required_utc(changed),
            )
            for scope, tenant, site, active, actor, reason, changed in rows
        ]


REPAIR_COLUMNS = (
    "q.request_id, q.run_pk, r.run_id, q.base_version, q.week, q.driver_id, q.driver_name, "
    "q.absence_type, q.scope, q.requester, q.urgency, q.notes, q.status, q.created_at, "
    "q.proposal, q.proposed_at, q.proposal_version, q.resolved_at, q.resolved_by, "
    "q.resolution_reason, q.applied_version"
)
REPAIR_FROM = "repair_requests q LEFT JOIN runs r ON r.id = q.run_pk"


def _repair(row: Sequence[Any]) -> RepairRecord:
    return RepairRecord(
        request_id=row[0],
        run_pk=row[1],
        run_id=row[2] or "",
        base_version=row[3],
        week=row[4],
        driver_id=row[5],
        driver_name=row[6],
        absence_type=row[7],
        scope=json.loads(row[8]),
        requester=row[9],
        urgency=row[10],
        notes=row[11],
        status=row[12],
        created_at=required_utc(row[13]),
        proposal=json_or_none(row[14]),
        proposed_at=as_utc(row[15]),
        proposal_version=row[16],
        resolved_at=as_utc(row[17]),
        resolved_by=row[18],
        resolution_reason=row[19],
        applied_version=row[20],
    )


class RepairRepository:
    """Repair requests and their proposals."""

    def __init__(self, sql: Sql, scope: Scope) -> None:
        self._sql = sql
        self._tenant, self._site = scope

    def _where(self) -> str:
        return "q.tenant_id = :tenant AND q.site_id = :site"

    def _params(self, **extra: Any) -> dict[str, Any]:
        return {"tenant": self._tenant, "site": self._site, **extra}

    def id_taken(self, request_id: str) -> bool:
        """Request ids are unique per tenant (not only per site): asked of the id register,
        which every site of the tenant may read."""
        rows = self._sql.rows(
            "SELECT 1 FROM repair_request_ids WHERE tenant_id = :tenant AND request_id = :request",
            {"tenant": self._tenant, "request": request_id},
        )
        return bool(rows)

    def add(self, record: RepairRecord) -> None:
        _insert(
            self._sql,
            "repair_request_ids",
            {"tenant_id": self._tenant, "request_id": record.request_id, "site_id": self._site},
        )
        _insert(
            self._sql,
            "repair_requests",
            {
                "tenant_id": self._tenant,
                "site_id": self._site,
                "request_id": record.request_id,
                "run_pk": record.run_pk,
                "base_version": record.base_version,
                "week": record.week,
                "driver_id": record.driver_id,
                "driver_name": record.driver_name,
                "absence_type": record.absence_type,
                "scope": canonical_json(dict(record.scope)),
                "requester": record.requester,
                "urgency": record.urgency,
                "notes": record.notes,
                "status": record.status,
                "created_at": record.created_at,
            },
        )

    def get(self, request_id: str) -> RepairRecord | None:
        rows = self._sql.rows(
            f"SELECT {REPAIR_COLUMNS} FROM {REPAIR_FROM} "
            f"WHERE {self._where()} AND q.request_id = :request",
            self._params(request=request_id),
        )
        return _repair(rows[0]) if rows else None

    def list(self, *, week: str | None = None, status: str | None = None) -> list[RepairRecord]:
        sql = f"SELECT {REPAIR_COLUMNS} FROM {REPAIR_FROM} WHERE {self._where()}"
        params = self._params()
        if week is not None:
            sql += " AND q.week = :week"
            params["week"] = week
        if status is not None:
            sql += " AND q.status = :status"
            params["status"] = status
        rows = self._sql.rows(sql + " ORDER BY q.created_at, q.id", params)
        return [_repair(row) for row in rows]

    def _update(self, request_id: str, values: Mapping[str, Any]) -> None:
        _update(
            self._sql,
            "repair_requests",
            "tenant_id = :tenant AND site_id = :site AND request_id = :request",
            values,
            **self._params(request=request_id),
        )

    def save_proposal(
        self, request_id: str, proposal: Mapping[str, Any], version: int, at: datetime
    ) -> None:
        self._update(
            request_id,
            {
                "proposal": canonical_json(dict(proposal)),
                "proposal_version": version,
                "proposed_at": at,
                "status": "PROPOSED",
            },
        )

    def resolve(
        self,
        request_id: str,
        *,
        status: str,
        by: str,
        reason: str,
        at: datetime,
        applied_version: int | None = None,
    ) -> None:
        self._update(
            request_id,
            {
                "status": status,
                "resolved_by": by,
                "resolution_reason": reason,
                "resolved_at": at,
                "applied_version": applied_version,
            },
        )


class UnitOfWorkBase:
    """What both units of work share: scope, clock, write intent, and every repository over one
    `Sql` once a transaction is open (`_bind`)."""

    def __init__(
        self, tenant: str, site: str, clock: Callable[[], datetime], *, write: bool
    ) -> None:
        self.tenant = tenant
        self.site = site
        self._clock = clock
        self._write = write
        self._committed = False

    def now(self) -> datetime:
        return self._clock()

    # What a concrete unit does with its driver (stdlib sqlite3, or a SQLAlchemy session).
    _driver_errors: tuple[type[Exception], ...] = ()

    def _commit_transaction(self) -> None:
        raise NotImplementedError

    def _rollback(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _translate(self, exc: Exception) -> DispatcherError:
        raise NotImplementedError

    def commit(self) -> None:
        try:
            self._commit_transaction()
        except self._driver_errors as exc:
            self._rollback()
            raise self._translate(exc) from None
        self._committed = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back unless committed, always close; a driver error leaves as ours."""
        try:
            if not self._committed:
                self._rollback()
        finally:
            self._close()
        if isinstance(exc, self._driver_errors):
            raise self._translate(exc) from None

    def _begin_with_retries(self, begin: Callable[[], None]) -> None:
        """Run `begin` (open and BEGIN, nothing else yet) and retry it while the database is busy:
        each attempt already waits up to the busy timeout for the write lock; between attempts
        the wait doubles, with jitter so that waiting writers do not wake up together. After the
        last attempt the one-line DatabaseBusy error reaches the user."""
        for attempt in range(BEGIN_ATTEMPTS):
            try:
                begin()
                return
            except DatabaseBusy:
                if attempt == BEGIN_ATTEMPTS - 1:
                    raise
                time.sleep(BEGIN_BACKOFF_S * 2**attempt * (1 + random.random()))

    audit_log: AuditLog
    sites: SiteRepository
    runs: RunRepository
    users: UserRepository
    decisions: DecisionRepository
    kill_switch: KillSwitchLog
    repairs: RepairRepository
    queries: ReadQueries

    def widen_to_all_sites(self) -> bool:
        """Let the rest of this transaction read every tenant's sites; whether it may. SQLite:
        one file, no policies, yes. PostgreSQL answers for itself (unit_of_work.py)."""
        return True

    def queries_for(self, tenant: str, site: str) -> ReadQueries:
        """Read queries for another site, in this transaction (after `widen_to_all_sites`)."""
        return ReadQueries(self._sql.rows, (tenant, site))

    def _bind(self, sql: Sql, scope: Scope) -> None:
        self._committed = False
        self._sql = sql
        self.audit_log = AuditLog(sql, scope)
        self.sites = SiteRepository(sql, scope)
        self.runs = RunRepository(sql, scope)
        self.users = UserRepository(sql, scope)
        self.decisions = DecisionRepository(sql, scope)
        self.kill_switch = KillSwitchLog(sql, scope)
        self.repairs = RepairRepository(sql, scope)
        self.queries = ReadQueries(sql.rows, scope)
