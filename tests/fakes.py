"""In-memory repositories behind the unit of work's own interface, for service tests that need
no database: the decision, repair and run services run on them in milliseconds.

`Memory` holds the rows as the tables do (the same column names and the same encodings, so the
real repositories' row mappers read them back); `FakeUnitOfWork` gives a service the same
attributes and transaction methods as `UnitOfWork`, and undoes whatever a unit did not commit.
What only the database can do is not imitated: no trigger, no row-level security, no lock.
Every rule the fakes let through is tested on the real backends (tests/integration) too.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, cast

from sqlalchemy import Connection, create_engine

from dispatcher.db.repositories import (
    AuditLog,
    DatabaseFacts,
    DecisionRepository,
    KillSwitchLog,
    ReadQueries,
    RepairRepository,
    RunRepository,
    SiteRepository,
    UserRepository,
)
from dispatcher.db.repositories.base import cache_shown
from dispatcher.db.repositories.kill_switch import _row as kill_switch_row
from dispatcher.db.repositories.read_models import OPEN
from dispatcher.db.repositories.repairs import _repair
from dispatcher.db.repositories.runs import APPROVAL_COLUMNS, _run, _version, approval
from dispatcher.db.repositories.sites import _config, _settings
from dispatcher.db.repositories.users import _user, user_key
from dispatcher.db.unit_of_work import Clock, UnitOfWork
from dispatcher.domain.audits import AuditResult, Violation
from dispatcher.domain.events import (
    PLATFORM_CHAIN,
    AuditEvent,
    ChainEvent,
    SealedRow,
    StoredEvent,
    tenant_chain,
)
from dispatcher.domain.hashing import HASH_PREFIX, canonical_json
from dispatcher.domain.model import (
    Absence,
    AvailabilityStatus,
    Driver,
    Plan,
    SiteConfig,
    Tour,
    User,
    Week,
    WeekInput,
)
from dispatcher.domain.records import (
    Approval,
    NewVersion,
    RepairRecord,
    RunRecord,
    VersionRecord,
)
from dispatcher.domain.views import (
    EventRow,
    KillSwitchEntry,
    KillSwitchRow,
    KillSwitchState,
    RepairSummary,
    RunSummary,
    SiteFlags,
)

Chain = tuple[str, str]
URGENCY = {"critical": 0, "high": 1, "normal": 2}


class Row(dict[str, Any]):
    """A stored row: its columns by name, as attributes too (what the row mappers read)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def _mapping(self) -> Mapping[str, Any]:
        return self


def _read(row: Row) -> Any:
    """A row for the real repositories' mappers (typed as SQLAlchemy's Row)."""
    return cast(Any, row)


@dataclass
class Memory:
    """The database: every table the services touch, in memory."""

    events: dict[Chain, list[AuditEvent]] = field(default_factory=dict)
    flags: dict[str, Row] = field(default_factory=dict)
    tenants: set[str] = field(default_factory=set)
    sites: set[Chain] = field(default_factory=set)
    settings: dict[Chain, Row] = field(default_factory=dict)
    users: dict[tuple[str, str], Row] = field(default_factory=dict)
    runs: dict[int, Row] = field(default_factory=dict)
    tour_instances: list[Row] = field(default_factory=list)
    drivers: list[Row] = field(default_factory=list)
    availability: list[Row] = field(default_factory=list)
    versions: dict[int, Row] = field(default_factory=dict)
    assignments: dict[int, dict[str, str]] = field(default_factory=dict)
    audit_results: dict[int, list[Row]] = field(default_factory=dict)
    evidence: dict[int, str] = field(default_factory=dict)
    checks: dict[int, Row] = field(default_factory=dict)
    approvals: list[Row] = field(default_factory=list)
    repairs: list[Row] = field(default_factory=list)
    request_ids: dict[tuple[str, str], str] = field(default_factory=dict)  # -> site
    kill_switch: list[Row] = field(default_factory=list)
    next_id: int = 1
    commits: int = 0  # how many units committed (a test can tell a refusal was recorded)

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def chain(self, chain: Chain) -> list[AuditEvent]:
        return self.events.setdefault(chain, [])


class _InMemory:
    """What every fake repository shares: the memory and its tenant/site."""

    _memory: Memory
    _tenant: str
    _site: str

    def _attach(self, memory: Memory, tenant: str, site: str) -> None:
        self._memory, self._tenant, self._site = memory, tenant, site

    def _mine(self, row: Row) -> bool:
        return bool(row["tenant_id"] == self._tenant and row["site_id"] == self._site)

    @property
    def _scope(self) -> dict[str, str]:
        return {"tenant_id": self._tenant, "site_id": self._site}


def _at(moment: datetime) -> datetime:
    """A timestamp as the database returns it: aware, in UTC."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime refused: timestamps must carry a time zone")
    return moment.astimezone(UTC)


class FakeAuditLog(_InMemory, AuditLog):
    def __init__(self, memory: Memory, tenant: str, site: str) -> None:
        self._attach(memory, tenant, site)

    @property
    def chain(self) -> Chain:
        return self._tenant, self._site

    def _events(self) -> list[AuditEvent]:
        return self._memory.chain(self.chain)

    def tip(self) -> tuple[int, str, str] | None:
        events = self._events()
        if not events:
            return None
        newest = events[-1]
        return newest.seq, newest.hash, newest.occurred_at

    def _at_seq(self, seq: int) -> AuditEvent | None:
        return next((e for e in self._events() if e.seq == seq), None)

    def event(self, seq: int | None) -> ChainEvent | None:
        if seq is None:
            return None
        found = self._at_seq(seq)
        if found is None:
            return None
        following = self._at_seq(seq + 1)
        body = json.loads(found.body)
        intact = (
            HASH_PREFIX + hashlib.sha256(found.body.encode()).hexdigest() == found.hash
            and (following is None or following.prev_hash == found.hash)
            and isinstance(body, dict)
            and _columns_agree(found, body)
        )
        return ChainEvent(seq, body if isinstance(body, dict) else {}, intact=intact)

    def latest(self, actions: Iterable[str]) -> int | None:
        wanted = set(actions)
        found = [e.seq for e in self._events() if e.action in wanted and e.outcome == "allowed"]
        return max(found, default=None)

    def allowed(
        self,
        actions: Iterable[str],
        *,
        run_id: str | None = None,
        after: int | None = None,
    ) -> list[ChainEvent]:
        wanted = set(actions)
        return [
            ChainEvent(e.seq, json.loads(e.body), intact=True)
            for e in self._events()
            if e.action in wanted
            and e.outcome == "allowed"
            and (run_id is None or e.run_id == run_id)
            and (after is None or e.seq > after)
        ]

    def bodies(self) -> Iterator[ChainEvent]:
        for e in list(self._events()):
            yield ChainEvent(e.seq, json.loads(e.body), intact=True)

    def append(self, event: AuditEvent) -> None:
        """What the database's guards insist on, in short: the next seq, linked to the tip,
        in this chain."""
        events = self._events()
        expected = 1 if not events else events[-1].seq + 1
        prev = events[-1].hash if events else None
        if event.seq != expected or (prev is not None and event.prev_hash != prev):
            raise AssertionError(f"event #{event.seq} does not continue the chain")
        if (event.tenant, event.site) != self.chain:
            raise AssertionError("an event belongs to the chain it names")
        events.append(event)

    def sealed_rows(self) -> Iterator[SealedRow]:
        for e in list(self._events()):
            yield e.seq, e.prev_hash, e.hash, e.body, True, e.occurred_at

    def stored_event(self, seq: int) -> StoredEvent | None:
        e = self._at_seq(seq)
        if e is None:
            return None
        columns = {name: getattr(e, name) for name in _TYPED}
        columns["prev_hash"] = e.prev_hash
        return StoredEvent(e.seq, columns, canonical_json(e.detail), e.prev_hash, e.hash, e.body)


_TYPED = (
    "seq", "occurred_at", "tenant", "site", "action", "outcome", "actor_id", "actor_role",
    "reason", "run_id", "plan_version", "evidence_hash",
)  # fmt: skip


def _columns_agree(event: AuditEvent, body: Mapping[str, Any]) -> bool:
    return all(body.get(name) == getattr(event, name) for name in _TYPED)


class FakeDatabaseFacts(_InMemory, DatabaseFacts):
    def __init__(self, memory: Memory, tenant: str, site: str) -> None:
        self._attach(memory, tenant, site)

    def flag(self, name: str) -> tuple[str, int] | None:
        row = self._memory.flags.get(name)
        return None if row is None else (row.value, row.event_seq)

    def names(self) -> set[str]:
        return set(self._memory.flags)

    def set_flag(self, name: str, value: str, event_seq: int, at: datetime) -> None:
        if name in self._memory.flags:
            raise AssertionError(f"flag {name} is set once")
        self._memory.flags[name] = Row(value=value, event_seq=event_seq, set_at=_at(at))


class FakeSiteRepository(_InMemory, SiteRepository):
    def __init__(self, memory: Memory, tenant: str, site: str) -> None:
        self._attach(memory, tenant, site)

    def bound_config(self) -> tuple[SiteConfig, int | None] | None:
        row = self._memory.settings.get((self._tenant, self._site))
        return None if row is None else (_config(_read(row)), row.event_seq)

    def all(self) -> list[tuple[str, str]]:
        return sorted(self._memory.sites)

    def other_tenant(self) -> str | None:
        if self._tenant in self._memory.tenants:
            return None
        return min(self._memory.tenants, default=None)

    def create(self, config: SiteConfig, now: datetime, event_seq: int) -> None:
        chain = (self._tenant, self._site)
        if chain in self._memory.sites:
            raise AssertionError(f"site {chain} exists")
        self._memory.tenants.add(self._tenant)
        self._memory.sites.add(chain)
        self._memory.settings[chain] = Row(_settings(config, _at(now), event_seq))

    def save_config(self, config: SiteConfig, now: datetime, event_seq: int) -> None:
        self._memory.settings[(self._tenant, self._site)] = Row(
            _settings(config, _at(now), event_seq)
        )


class FakeUserRepository(_InMemory, UserRepository):
    def __init__(self, memory: Memory, tenant: str, site: str) -> None:
        self._attach(memory, tenant, site)

    def _row(self, user_id: str) -> Row | None:
        return self._memory.users.get((self._tenant, user_key(user_id)))

    def bound(self, user_id: str) -> tuple[User, int | None] | None:
        row = self._row(user_id)
        return None if row is None else (_user(_read(row)), row.event_seq)

    def list(self) -> list[User]:
        rows = [row for (tenant, _), row in self._memory.users.items() if tenant == self._tenant]
        return [_user(_read(row)) for row in sorted(rows, key=lambda row: str(row.user_id))]

    def add(self, user: User, now: datetime, event_seq: int) -> None:
        key = (self._tenant, user_key(user.user_id))
        if key in self._memory.users:
            raise AssertionError(f"user {user.user_id} exists")
        self._memory.tenants.add(self._tenant)
        self._memory.users[key] = Row(
            user_id=user.user_id,
            name=user.name,
            roles=",".join(user.roles),
            active=user.active,
            created_at=_at(now),
            login=user.login,
            event_seq=event_seq,
        )

    def set_active(self, user_id: str, active: bool, event_seq: int) -> None:
        row = self._row(user_id)
        if row is not None:
            row.update(active=active, event_seq=event_seq)

    def set_login(self, user_id: str, login: str | None, event_seq: int) -> None:
        row = self._row(user_id)
        if row is not None:
            row.update(login=login, event_seq=event_seq)

    def by_login(self, login: str) -> User | None:
        return next((u for u in self.list() if u.login == login), None)

    def login_exists(self, login: str) -> bool | None:
        return None  # a server's logins: there is no server


class FakeDecisionRepository(_InMemory, DecisionRepository):
    def __init__(self, memory: Memory, tenant: str, site: str) -> None:
        self._attach(memory, tenant, site)

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
        self._memory.approvals.append(
            Row(
                id=self._memory.new_id(),
                **self._scope,
                run_pk=run_pk,
                version=version,
                action=action,
                approver_id=approver_id,
                role=role,
                reason=reason,
                override_reason=override_reason,
                evidence_hash=evidence_hash,
                event_seq=event_seq,
                created_at=_at(at),
            )
        )


class FakeKillSwitchLog(_InMemory, KillSwitchLog):
    def __init__(self, memory: Memory, tenant: str, site: str) -> None:
        self._attach(memory, tenant, site)

    def _in_scope(self, scope: str, row: Row) -> bool:
        if scope == "global":
            return bool(row.scope == "global")
        return bool(row.scope == "site" and self._mine(row))

    def is_active(self, scope: str) -> bool:
        newest = self.newest(scope)
        return newest is not None and newest.active

    def rows(self, scope: str, *, newest_only: bool = False) -> list[KillSwitchRow]:
        found = [row for row in reversed(self._memory.kill_switch) if self._in_scope(scope, row)]
        return [kill_switch_row(row) for row in (found[:1] if newest_only else found)]

    def append(
        self,
        scope: str,
        *,
        active: bool,
        by: str,
        reason: str,
        at: datetime,
        event_chain: tuple[str, str],
        event_seq: int,
    ) -> None:
        site_bound = scope == "site"
        self._memory.kill_switch.append(
            Row(
                id=self._memory.new_id(),
                scope=scope,
                tenant_id=self._tenant if site_bound else None,
                site_id=self._site if site_bound else None,
                active=active,
                actor_id=by,
                reason=reason,
                changed_at=_at(at),
                event_tenant=event_chain[0],
                event_site=event_chain[1],
                event_seq=event_seq,
            )
        )

    def history(self, limit: int = 20) -> list[KillSwitchEntry]:
        rows = [
            row
            for row in reversed(self._memory.kill_switch)
            if self._in_scope("global", row) or self._in_scope("site", row)
        ][:limit]
        return [
            KillSwitchEntry(
                row.scope,
                f"{row.tenant_id}/{row.site_id}" if row.scope == "site" else "all sites",
                bool(row.active),
                row.actor_id,
                row.reason,
                row.changed_at,
            )
            for row in rows
        ]


class FakeRunRepository(_InMemory, RunRepository):
    def __init__(self, memory: Memory, tenant: str, site: str) -> None:
        self._attach(memory, tenant, site)

    # --- reads ----------------------------------------------------------------------------

    def _approvals(self, run_pk: int, action: str) -> list[Row]:
        return [a for a in self._memory.approvals if a.run_pk == run_pk and a.action == action]

    def _record(self, row: Row) -> RunRecord:
        versions = [v.version for v in self._memory.versions.values() if v.run_pk == row.id]
        locks = self._approvals(row.id, "lock")
        newest = max(locks, key=lambda a: int(a.version), default=None)
        prefixed = {f"lock_{name}": None for name in (*APPROVAL_COLUMNS,)}
        if newest is not None:
            prefixed = {f"lock_{name}": newest[name] for name in APPROVAL_COLUMNS}
        return _run(_read(Row(row, current_version=max(versions, default=None), **prefixed)))

    def _mine_runs(self) -> list[Row]:
        return [row for pk, row in sorted(self._memory.runs.items()) if self._mine(row)]

    def all(self) -> list[RunRecord]:
        return [self._record(row) for row in self._mine_runs()]

    def get(self, run_id: str) -> RunRecord | None:
        return next((self._record(r) for r in self._mine_runs() if r.run_id == run_id), None)

    def latest_locked(
        self, *, week: str | None = None, before_week: str | None = None
    ) -> RunRecord | None:
        found = [
            record
            for record in self.all()
            if record.lock is not None
            and (week is None or record.week == week)
            and (before_week is None or record.week < before_week)
        ]
        found.sort(key=lambda r: (r.week, r.lock.event_seq if r.lock else 0), reverse=True)
        return found[0] if found else None

    def next_run_id(self, day: str) -> str:
        prefix = f"RUN-{day}-"
        taken = [r.run_id[len(prefix) :] for r in self._mine_runs() if r.run_id.startswith(prefix)]
        numbers = [int(t) for t in taken if t.isdigit()]
        return f"{prefix}{max(numbers, default=0) + 1:03d}"

    def week_input(self, run: RunRecord, version: int) -> WeekInput:
        tours: dict[tuple[Any, ...], int] = {}
        for t in self._memory.tour_instances:
            if t.run_pk == run.pk:
                key = (t.tour_id, t.day, t.start_minute, t.end_minute, t.depot, t.skill, t.notes)
                tours[key] = max(tours.get(key, 0), t.n)
        tour_list = tuple(
            Tour(key[0], key[1], key[2], key[3], copies, key[4], key[5], key[6])
            for key, copies in sorted(tours.items(), key=lambda item: str(item[0][0]))
        )
        driver_list = tuple(
            Driver(
                d.driver_id,
                d.name,
                tuple(s for s in d.skills.split("|") if s),
                bool(d.active),
                d.max_weekly_minutes,
                d.depot,
            )
            for d in sorted(self._memory.drivers, key=lambda d: str(d.driver_id))
            if d.run_pk == run.pk and d.added_in_version <= version
        )
        absences = tuple(
            Absence(a.driver_id, a.date, AvailabilityStatus(a.status), a.note)
            for a in sorted(self._memory.availability, key=lambda a: (a.driver_id, a.date))
            if a.run_pk == run.pk
        )
        return WeekInput(Week.parse(run.week), tour_list, driver_list, absences)

    def _version_record(self, row: Row) -> VersionRecord:
        publish = next(
            (a for a in self._approvals(row.run_pk, "publish") if a.version == row.version), None
        )
        check = self._memory.checks.get(row.id)
        columns = Row(
            row,
            evidence_hash=self._memory.evidence.get(row.id),
            checked_status=None if check is None else check.status,
            checked_reason=None if check is None else check.status_reason,
            checked_at=None if check is None else check.checked_at,
            **{
                f"publish_{name}": None if publish is None else publish[name]
                for name in (*APPROVAL_COLUMNS,)
            },
        )
        return _version(_read(columns))

    def version(self, run: RunRecord, version: int) -> VersionRecord | None:
        return next((v for v in self.versions(run) if v.version == version), None)

    def versions(self, run: RunRecord) -> list[VersionRecord]:
        rows = [v for v in self._memory.versions.values() if v.run_pk == run.pk]
        return [self._version_record(v) for v in sorted(rows, key=lambda v: int(v.version))]

    def plan(self, version_pk: int) -> dict[str, str]:
        return dict(self._memory.assignments.get(version_pk, {}))

    def audit_results(self, version_pk: int) -> tuple[AuditResult, ...]:
        rows = sorted(self._memory.audit_results.get(version_pk, []), key=lambda a: a.position)
        return tuple(
            AuditResult(
                a.audit,
                tuple(Violation.from_document(v) for v in json.loads(a.violations)),
                a.note,
            )
            for a in rows
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
        if self.get(run_id) is not None:
            raise AssertionError(f"run {run_id} exists")
        pk = self._memory.new_id()
        self._memory.runs[pk] = Row(
            id=pk,
            **self._scope,
            run_id=run_id,
            week=week,
            created_at=_at(created_at),
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
        return pk

    def add_input(self, run_pk: int, week_input: WeekInput, added_in_version: int = 1) -> None:
        scope = {**self._scope, "run_pk": run_pk}
        self._memory.tour_instances.extend(
            Row(
                scope,
                instance_id=i.instance_id,
                tour_id=i.tour.tour_id,
                n=i.n,
                day=i.tour.day,
                start_minute=i.tour.start,
                end_minute=i.tour.end,
                depot=i.tour.depot,
                skill=i.tour.skill,
                notes=i.tour.notes,
            )
            for i in week_input.instances()
        )
        self.add_drivers(run_pk, week_input.drivers, added_in_version)
        self._memory.availability.extend(
            Row(scope, driver_id=a.driver_id, date=a.date, status=str(a.status), note=a.note)
            for a in week_input.availability
        )

    def add_drivers(
        self, run_pk: int, driver_list: Iterable[Driver], added_in_version: int
    ) -> None:
        self._memory.drivers.extend(
            Row(
                self._scope,
                run_pk=run_pk,
                driver_id=d.driver_id,
                name=d.name,
                skills="|".join(sorted(d.skills)),
                active=d.active,
                max_weekly_minutes=d.max_weekly_minutes,
                depot=d.depot,
                added_in_version=added_in_version,
            )
            for d in driver_list
        )

    def add_version(
        self,
        run_pk: int,
        new: NewVersion,
        plan: Plan,
        audits: Sequence[AuditResult],
        at: datetime,
        event_seq: int,
    ) -> int:
        pk = self._memory.new_id()
        self._memory.versions[pk] = Row(
            id=pk,
            **self._scope,
            run_pk=run_pk,
            version=new.version,
            parent_version=new.parent_version,
            created_at=_at(at),
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
        self._memory.assignments[pk] = dict(plan)
        self._memory.audit_results[pk] = [
            Row(
                audit=a.name,
                position=position,
                passed=a.passed,
                violation_count=len(a.violations),
                violations=canonical_json([v.as_document() for v in a.violations]),
                note=a.note,
            )
            for position, a in enumerate(audits, start=1)
        ]
        self._memory.evidence[pk] = new.evidence_hash
        return pk

    def record_verification(self, version_pk: int, status: str, reason: str, at: datetime) -> None:
        self._memory.checks[version_pk] = Row(
            status=status, status_reason=reason, checked_at=_at(at)
        )

    # --- what verification compares -------------------------------------------------------

    def instance_rows(self, run: RunRecord) -> dict[str, tuple[Any, ...]]:
        return {
            t.instance_id: (
                t.tour_id,
                t.n,
                t.day,
                t.start_minute,
                t.end_minute,
                t.depot,
                t.skill,
                t.notes,
            )
            for t in self._memory.tour_instances
            if t.run_pk == run.pk
        }

    def audit_positions(self, version_pk: int) -> list[int]:
        return sorted(a.position for a in self._memory.audit_results.get(version_pk, []))

    def driver_versions(self, run: RunRecord) -> set[int]:
        return {d.added_in_version for d in self._memory.drivers if d.run_pk == run.pk}

    def stored_summary(self, version_pk: int) -> dict[str, Any]:
        row = self._memory.versions[version_pk]
        names = ("status", "status_reason", "audits_passed", "coverage_bp", "drivers_used")
        return {**{name: row[name] for name in names}, "drift_level": row.drift_level}

    def stored_audit_counts(self, version_pk: int) -> dict[str, tuple[bool, int, int]]:
        return {
            a.audit: (bool(a.passed), a.violation_count, len(json.loads(a.violations)))
            for a in self._memory.audit_results.get(version_pk, [])
        }

    def approvals(self, run: RunRecord) -> list[Approval]:
        rows = [a for a in self._memory.approvals if a.run_pk == run.pk]
        return [approval(_read(a)) for a in sorted(rows, key=lambda a: int(a.event_seq))]


class FakeRepairRepository(_InMemory, RepairRepository):
    def __init__(self, memory: Memory, tenant: str, site: str) -> None:
        self._attach(memory, tenant, site)

    def id_taken(self, request_id: str) -> bool:
        return (self._tenant, request_id) in self._memory.request_ids

    def registered_ids(self) -> set[str]:
        return {
            request_id
            for (tenant, request_id), site in self._memory.request_ids.items()
            if tenant == self._tenant and site == self._site
        }

    def add(self, record: RepairRecord, event_seq: int) -> None:
        if self.id_taken(record.request_id):
            raise AssertionError(f"request id {record.request_id} is taken")
        self._memory.repairs.append(
            Row(
                id=self._memory.new_id(),
                **self._scope,
                request_id=record.request_id,
                run_pk=record.run_pk,
                base_version=record.base_version,
                week=record.week,
                driver_id=record.driver_id,
                driver_name=record.driver_name,
                absence_type=record.absence_type,
                scope=canonical_json(dict(record.scope)),
                requester=record.requester,
                urgency=record.urgency,
                notes=record.notes,
                status=record.status,
                created_at=_at(record.created_at),
                proposal=None,
                proposed_at=None,
                proposal_version=None,
                resolved_at=None,
                resolved_by=None,
                resolution_reason=None,
                applied_version=None,
                event_seq=event_seq,
            )
        )
        self._memory.request_ids[(self._tenant, record.request_id)] = self._site

    def _record(self, row: Row) -> RepairRecord:
        run = self._memory.runs.get(row.run_pk)
        return _repair(_read(Row(row, run_id=None if run is None else run.run_id)))

    def _row(self, request_id: str) -> Row:
        found = [r for r in self._memory.repairs if self._mine(r) and r.request_id == request_id]
        if len(found) != 1:
            raise AssertionError(f"a repair request update changed {len(found)} rows")
        return found[0]

    def get(self, request_id: str) -> RepairRecord | None:
        found = [r for r in self._memory.repairs if self._mine(r) and r.request_id == request_id]
        return self._record(found[0]) if found else None

    def list(self, *, week: str | None = None, status: str | None = None) -> list[RepairRecord]:
        rows = [
            r
            for r in self._memory.repairs
            if self._mine(r)
            and (week is None or r.week == week)
            and (status is None or r.status == status)
        ]
        rows.sort(key=lambda r: (r.created_at, r.id))
        return [self._record(r) for r in rows]

    def save_proposal(
        self,
        request_id: str,
        proposal: Mapping[str, Any],
        version: int,
        at: datetime,
        event_seq: int,
    ) -> None:
        self._row(request_id).update(
            event_seq=event_seq,
            proposal=canonical_json(dict(proposal)),
            proposal_version=version,
            proposed_at=_at(at),
            status="PROPOSED",
        )

    def resolve(
        self,
        request_id: str,
        *,
        status: str,
        by: str,
        reason: str,
        at: datetime,
        event_seq: int,
        applied_version: int | None = None,
    ) -> None:
        self._row(request_id).update(
            event_seq=event_seq,
            status=status,
            resolved_by=by,
            resolution_reason=reason,
            resolved_at=_at(at),
            applied_version=applied_version,
        )


class FakeReadQueries(_InMemory, ReadQueries):
    def __init__(self, memory: Memory, tenant: str, site: str) -> None:
        self._attach(memory, tenant, site)

    def _event_rows(self) -> list[EventRow]:
        return [
            EventRow(
                seq=e.seq,
                occurred_at=e.occurred_at,
                action=e.action,
                outcome=e.outcome,
                actor_id=e.actor_id,
                actor_role=e.actor_role,
                reason=e.reason,
                run_id=e.run_id,
                plan_version=e.plan_version,
                evidence_hash=e.evidence_hash,
                detail=dict(e.detail),
                hash=e.hash,
            )
            for e in self._memory.chain((self._tenant, self._site))
        ]

    def events(
        self,
        *,
        run_id: str | None = None,
        action: str | None = None,
        actor_id: str | None = None,
        limit: int = 50,
    ) -> list[EventRow]:
        found = [
            e
            for e in self._event_rows()
            if (run_id is None or e.run_id == run_id)
            and (action is None or e.action == action)
            and (actor_id is None or e.actor_id == actor_id)
        ]
        return found[-limit:] if limit > 0 else []

    def decisions(self, run_id: str, actions: tuple[str, ...]) -> list[EventRow]:
        return [
            e
            for e in self._event_rows()
            if e.run_id == run_id and e.action in actions and e.outcome == "allowed"
        ]

    def _summary(self, run: Row) -> RunSummary:
        memory = self._memory
        current = max(
            (v for v in memory.versions.values() if v.run_pk == run.id),
            key=lambda v: int(v.version),
        )
        check = memory.checks.get(current.id)
        checked = None if check is None else check.status
        shown = cache_shown(checked, current.status)

        def versions(action: str) -> list[int]:
            return [
                a.version for a in memory.approvals if a.run_pk == run.id and a.action == action
            ]

        def my_last(action: str) -> int | None:
            seqs = [
                a.event_seq for a in memory.approvals if a.run_pk == run.id and a.action == action
            ]
            return max(seqs, default=None)

        def later(action: str, than: int | None) -> bool:
            return than is not None and any(
                a.action == action
                and a.run_pk != run.id
                and a.event_seq > than
                and memory.runs[a.run_pk].week == run.week
                and self._mine(memory.runs[a.run_pk])
                for a in memory.approvals
            )

        my_lock = my_last("lock")
        superseded = (
            later("publish", my_last("publish")) if my_lock is None else later("lock", my_lock)
        )
        return RunSummary(
            run_id=run.run_id,
            week=run.week,
            created_at=run.created_at,
            origin=run.origin,
            version=current.version,
            status=check.status if shown and check is not None else current.status,
            status_reason=(
                check.status_reason if shown and check is not None else current.status_reason
            ),
            drivers_used=current.drivers_used,
            coverage_bp=current.coverage_bp,
            audits_passed=current.audits_passed,
            drift_level=current.drift_level,
            published_version=max(versions("publish"), default=None),
            locked_version=max(versions("lock"), default=None),
            superseded=superseded,
        )

    def list_runs(
        self, *, week: str | None = None, status: str | None = None, limit: int = 20
    ) -> list[RunSummary]:
        rows = [
            row
            for row in self._memory.runs.values()
            if self._mine(row)
            and (week is None or row.week == week)
            and any(v.run_pk == row.id for v in self._memory.versions.values())
        ]
        rows.sort(key=lambda row: (row.created_at, row.id), reverse=True)
        found = [self._summary(row) for row in rows]
        return [s for s in found if status is None or s.status == status][:limit]

    def kill_switch(self) -> KillSwitchState:
        log = FakeKillSwitchLog(self._memory, self._tenant, self._site)
        for scope in ("global", "site"):
            newest = log.newest(scope)
            if newest is not None and newest.active:
                return KillSwitchState(
                    True, newest.scope, newest.actor_id, newest.reason, newest.changed_at
                )
        return KillSwitchState(False, None, None, None, None)

    def site_flags(self) -> SiteFlags | None:
        row = self._memory.settings.get((self._tenant, self._site))
        if row is None:
            return None
        return SiteFlags(
            True, bool(row.publish_enabled), bool(row.lock_enabled), bool(row.shadow_only)
        )

    def structure(self) -> list[tuple[str, int]]:
        return []  # rows cannot lose their parents here: only a database can be edited by hand

    def repairing(self, week: str) -> set[str]:
        return {
            self._memory.runs[r.run_pk].run_id
            for r in self._memory.repairs
            if self._mine(r) and r.week == week and r.status in OPEN
        }

    def open_repairs(self, *, week: str | None = None) -> list[RepairSummary]:
        rows = [
            r
            for r in self._memory.repairs
            if self._mine(r) and r.status in OPEN and (week is None or r.week == week)
        ]
        rows.sort(key=lambda r: (URGENCY.get(r.urgency, 3), r.created_at, r.request_id))
        return [
            RepairSummary(
                r.request_id, r.week, r.driver_id, r.absence_type, r.urgency, r.status, r.created_at
            )
            for r in rows
        ]


# One engine object for the attributes services read (the dialect's name); never connected.
_ENGINE = create_engine("sqlite://")


class FakeUnitOfWork(UnitOfWork):
    """A unit of work over `Memory`: what it does not commit is undone when it ends."""

    def __init__(
        self,
        memory: Memory,
        tenant: str = "LTS",
        site: str = "WIEN",
        clock: Clock | None = None,
        *,
        write: bool = True,
        login: str = "tester",
        platform: bool = False,
        registry: bool = False,
    ) -> None:
        super().__init__(
            _ENGINE,
            tenant,
            site,
            clock,
            write=write,
            simulated=clock is not None,
            platform=platform,
            registry=registry,
        )
        self.memory = memory
        self._login = {"session_login": login, "session_host": "memory"}
        self._snapshot: Memory | None = None

    def __enter__(self) -> Self:
        self._snapshot = copy.deepcopy(self.memory)
        self._committed = False
        self._bind_memory(self.memory)
        return self

    def _bind_memory(self, memory: Memory) -> None:
        scope = (memory, self.tenant, self.site)
        self.audit_log = FakeAuditLog(*scope)
        self.tenant_log = FakeAuditLog(memory, *tenant_chain(self.tenant))
        self.platform_log = FakeAuditLog(memory, *PLATFORM_CHAIN)
        self.database = FakeDatabaseFacts(*scope)
        self.sites = FakeSiteRepository(*scope)
        self.runs = FakeRunRepository(*scope)
        self.users = FakeUserRepository(*scope)
        self.decisions = FakeDecisionRepository(*scope)
        self.kill_switch = FakeKillSwitchLog(*scope)
        self.repairs = FakeRepairRepository(*scope)
        self.queries = FakeReadQueries(*scope)

    def _restore(self, snapshot: Memory) -> None:
        """Put the memory back as `snapshot` holds it (a private copy, used once)."""
        self.memory.__dict__.update(snapshot.__dict__)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        before = copy.deepcopy(self.memory)
        try:
            yield
        except BaseException:
            if not self._committed:
                self._restore(before)
            raise

    def commit(self) -> None:
        self.memory.commits += 1
        self._snapshot = copy.deepcopy(self.memory)
        self._committed = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._snapshot is not None:
            self._restore(self._snapshot)  # what was not committed is gone
        self._snapshot = None

    @property
    def connection(self) -> Connection:
        raise AssertionError("a fake unit of work has no connection")

    def shared_tip(self, name: str, tip: int) -> int:
        return tip

    def widen_to_all_sites(self) -> bool:
        return True

    def registry_log(self, tenant: str) -> AuditLog:
        return FakeAuditLog(self.memory, *tenant_chain(tenant))

    def platform_login(self) -> bool:
        return True

    def queries_for(self, tenant: str, site: str) -> ReadQueries:
        return FakeReadQueries(self.memory, tenant, site)
