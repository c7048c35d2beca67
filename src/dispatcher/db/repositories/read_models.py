"""Read models for status, list-runs, show-run and the audit log: bounded, indexed reads."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row, case, exists, func, select, union

from dispatcher.db import tables
from dispatcher.db.repositories.base import FAULT, STATUS_SEVERITY, Repository
from dispatcher.db.repositories.kill_switch import in_scope
from dispatcher.db.tables import (
    approvals,
    audit_events,
    kill_switch_history,
    plan_versions,
    repair_requests,
    runs,
    site_settings,
    version_checks,
)
from dispatcher.domain.views import EventRow, KillSwitchState, RepairSummary, RunSummary, SiteFlags

r, pv, e, q, k = runs.c, plan_versions.c, audit_events.c, repair_requests.c, kill_switch_history.c
vc = version_checks.c
OPEN = ("PENDING", "PROPOSED")
URGENCY_ORDER = case({"critical": 0, "high": 1, "normal": 2}, value=q.urgency, else_=3)


def _severity(status: Any) -> Any:
    ranks = [(status == name, rank) for name, rank in STATUS_SEVERITY.items()]
    return case(*ranks, else_=-1)


# base.cache_shown, in SQL: the cache where it is worse than the stored status or another fault
_cache_worse = (_severity(vc.status) > _severity(pv.status)) | (
    (_severity(vc.status) == FAULT) & (vc.status != pv.status)
)
_shown_status = case((_cache_worse, vc.status), else_=pv.status)


def _run_summaries() -> Any:
    """Each run with its current version, newest published version, lock and whether another
    run of the same week superseded it (ordered by the approvals' events): a later publish
    supersedes a published run, only a later lock a locked one."""
    newest = plan_versions.alias("newest")
    current = select(func.max(newest.c.version)).where(newest.c.run_pk == r.id).scalar_subquery()
    published = approvals.alias("published")
    published_version = (
        select(func.max(published.c.version))
        .where(published.c.run_pk == r.id, published.c.action == "publish")
        .scalar_subquery()
    )
    locked = approvals.alias("locked")
    locked_version = (
        select(func.max(locked.c.version))
        .where(locked.c.run_pk == r.id, locked.c.action == "lock")
        .scalar_subquery()
    )
    mine, other, other_run = approvals.alias("mine"), approvals.alias("other"), runs.alias("w")

    def my_last(action: str) -> Any:
        return (
            select(func.max(mine.c.event_seq))
            .where(mine.c.run_pk == r.id, mine.c.action == action)
            .correlate(runs)
            .scalar_subquery()
        )

    def later(action: str, than: Any) -> Any:
        return exists(
            select(other.c.id)
            .select_from(other.join(other_run, other_run.c.id == other.c.run_pk))
            .where(
                other_run.c.tenant_id == r.tenant_id,
                other_run.c.site_id == r.site_id,
                other_run.c.week == r.week,
                other.c.run_pk != r.id,
                other.c.action == action,
                other.c.event_seq > than,
            )
        )

    # A published run gives way to a later publish of another run of its week; a locked run
    # only to a later lock (domain.md §7): the locked plan stays in force until then.
    my_lock = my_last("lock")
    superseded = case(
        (my_lock.is_(None), later("publish", my_last("publish"))), else_=later("lock", my_lock)
    )
    return select(
        r.run_id,
        r.week,
        r.created_at,
        r.origin,
        pv.version,
        _shown_status.label("status"),
        case((_cache_worse, vc.status_reason), else_=pv.status_reason).label("status_reason"),
        pv.drivers_used,
        pv.coverage_bp,
        pv.audits_passed,
        pv.drift_level,
        published_version.label("published_version"),
        locked_version.label("locked_version"),
        superseded.label("superseded"),
    ).select_from(
        runs.join(plan_versions, (pv.run_pk == r.id) & (pv.version == current)).outerjoin(
            version_checks, vc.version_pk == pv.id
        )
    )


RUN_SUMMARIES = _run_summaries()


def _summary(row: Row[Any]) -> RunSummary:
    return RunSummary(
        run_id=row.run_id,
        week=row.week,
        created_at=row.created_at,
        origin=row.origin,
        version=row.version,
        status=row.status,
        status_reason=row.status_reason,
        drivers_used=row.drivers_used,
        coverage_bp=row.coverage_bp,
        audits_passed=row.audits_passed,
        drift_level=row.drift_level,
        published_version=row.published_version,
        locked_version=row.locked_version,
        superseded=bool(row.superseded),
    )


EVENT_COLUMNS = (
    e.seq, e.occurred_at, e.action, e.outcome, e.actor_id, e.actor_role, e.reason, e.run_id,
    e.plan_version, e.evidence_hash, e.detail, e.hash, e.recorded_by,
)  # fmt: skip


def _event(row: Any) -> EventRow:
    return EventRow(
        seq=row.seq,
        occurred_at=row.occurred_at,
        action=row.action,
        outcome=row.outcome,
        actor_id=row.actor_id,
        actor_role=row.actor_role,
        reason=row.reason,
        run_id=row.run_id,
        plan_version=row.plan_version,
        evidence_hash=row.evidence_hash,
        detail=_detail(row.detail),
        hash=row.hash,
        recorded_by=row.recorded_by,
    )


class ReadQueries(Repository):
    """What the read commands show, scoped to one tenant/site."""

    def events(
        self,
        *,
        run_id: str | None = None,
        action: str | None = None,
        actor_id: str | None = None,
        limit: int = 50,
    ) -> list[EventRow]:
        """The newest `limit` matching events, returned oldest first."""
        statement = select(*EVENT_COLUMNS).where(self._in_site(audit_events))
        for column, value in ((e.run_id, run_id), (e.action, action), (e.actor_id, actor_id)):
            if value is not None:
                statement = statement.where(column == value)
        rows = self._connection.execute(statement.order_by(e.seq.desc()).limit(limit)).all()
        return [_event(row) for row in reversed(rows)]

    def decisions(self, run_id: str, actions: tuple[str, ...]) -> list[EventRow]:
        """Every allowed decision of `actions` about one run, oldest first: read by run and
        action (an index search), never from a window of recent events."""
        statement = select(*EVENT_COLUMNS).where(
            self._in_site(audit_events),
            e.run_id == run_id,
            e.action.in_(actions),
            e.outcome == "allowed",
        )
        return [_event(row) for row in self._connection.execute(statement.order_by(e.seq))]

    def list_runs(
        self, *, week: str | None = None, status: str | None = None, limit: int = 20
    ) -> list[RunSummary]:
        statement = RUN_SUMMARIES.where(self._in_site(runs))
        if week is not None:
            statement = statement.where(r.week == week)
        if status is not None:
            statement = statement.where(_shown_status == status)
        rows = self._connection.execute(
            statement.order_by(r.created_at.desc(), r.id.desc()).limit(limit)
        )
        return [_summary(row) for row in rows]

    def kill_switch(self) -> KillSwitchState:
        """The switch in effect for this site: the global one or its own, whichever is on."""
        newest = union(
            select(func.max(k.id)).where(in_scope("global", self._tenant, self._site)),
            select(func.max(k.id)).where(in_scope("site", self._tenant, self._site)),
        )
        rows = self._connection.execute(
            select(kill_switch_history).where(k.id.in_(newest)).order_by(k.id.desc())
        )
        for row in rows:
            if row.active:
                return KillSwitchState(True, row.scope, row.actor_id, row.reason, row.changed_at)
        return KillSwitchState(False, None, None, None, None)

    def site_flags(self) -> SiteFlags | None:
        s = site_settings.c
        row = self._connection.execute(
            select(s.publish_enabled, s.lock_enabled, s.shadow_only).where(
                self._in_site(site_settings)
            )
        ).first()
        if row is None:
            return None
        return SiteFlags(
            True, bool(row.publish_enabled), bool(row.lock_enabled), bool(row.shadow_only)
        )

    def structure(self) -> list[tuple[str, int]]:
        """Rows whose parent is missing or in another scope (`audit verify --state`)."""
        return structure_problems(self._connection)

    def repairing(self, week: str) -> set[str]:
        """The runs of the week with an open repair request (being repaired)."""
        rows = self._connection.execute(
            select(r.run_id)
            .select_from(repair_requests.join(runs, runs.c.id == q.run_pk))
            .where(self._in_site(repair_requests), q.week == week, q.status.in_(OPEN))
            .distinct()
        )
        return {row.run_id for row in rows}

    def open_repairs(self, *, week: str | None = None) -> list[RepairSummary]:
        statement = select(
            q.request_id, q.week, q.driver_id, q.absence_type, q.urgency, q.status, q.created_at
        ).where(self._in_site(repair_requests), q.status.in_(OPEN))
        if week is not None:
            statement = statement.where(q.week == week)
        rows = self._connection.execute(
            statement.order_by(URGENCY_ORDER, q.created_at, q.request_id)
        )
        return [
            RepairSummary(
                row.request_id,
                row.week,
                row.driver_id,
                row.absence_type,
                row.urgency,
                row.status,
                row.created_at,
            )
            for row in rows
        ]


# (child, parent, columns linking them): every child row must have its parent in the same
# tenant/site (a row moved to another scope, or left behind by a deleted parent, is a change
# the trail never made; on SQLite nothing but these checks would notice it).
STRUCTURE: tuple[tuple[Any, Any, tuple[str, ...]], ...] = (
    *(
        (child, runs, ("run_pk",))
        for child in (
            tables.tour_instances, tables.drivers, tables.availability, plan_versions,
            repair_requests, approvals,
        )
    ),
    *(
        (child, plan_versions, ("version_pk",))
        for child in (
            tables.assignments, tables.audit_results, tables.evidence_records, version_checks,
        )
    ),
    (site_settings, tables.sites, ()),
    (runs, tables.sites, ()),
)  # fmt: skip


def structure_problems(connection: Any) -> list[tuple[str, int]]:
    """(table, rows) whose parent is missing or lies in another tenant/site, file-wide (under
    row-level security: as far as this session can see)."""
    found = []
    for child, parent, link in STRUCTURE:
        same_scope = (parent.c.tenant_id == child.c.tenant_id) & (
            parent.c.site_id == child.c.site_id
        )
        if link:
            same_scope = same_scope & (parent.c.id == child.c[link[0]])
        orphans = connection.execute(
            select(func.count()).select_from(child).where(~exists().where(same_scope))
        ).scalar_one()
        if orphans:
            found.append((child.name, int(orphans)))
    t, s, u = tables.tenants.c, tables.sites.c, tables.users.c
    for child, column in ((tables.sites, s.tenant_id), (tables.users, u.tenant_id)):
        orphans = connection.execute(
            select(func.count()).select_from(child).where(~exists().where(t.tenant_id == column))
        ).scalar_one()
        if orphans:
            found.append((child.name, int(orphans)))
    stray = connection.execute(
        select(func.count())
        .select_from(tables.tenants)
        .where(
            ~exists().where(s.tenant_id == t.tenant_id),
            ~exists().where(u.tenant_id == t.tenant_id),
        )
    ).scalar_one()
    if stray:
        found.append(("tenants", int(stray)))
    ids, q2 = tables.repair_request_ids.c, repair_requests.c
    registered = (
        (ids.tenant_id == q2.tenant_id)
        & (ids.site_id == q2.site_id)
        & (ids.request_id == q2.request_id)
    )
    s3 = tables.sites.c
    # An id with no request, at a site this session sees (PostgreSQL: the register is read
    # tenant-wide, other sites' requests are not).
    visible = exists().where(s3.tenant_id == ids.tenant_id, s3.site_id == ids.site_id)
    for table, missing in (
        (tables.repair_request_ids, ~exists().where(registered) & visible),
        (repair_requests, ~exists().where(registered)),  # a request not registered
    ):
        count = connection.execute(
            select(func.count()).select_from(table).where(missing)
        ).scalar_one()
        if count:
            found.append((table.name, int(count)))
    s2 = tables.sites.c
    site_exists = exists().where(s2.tenant_id == k.tenant_id, s2.site_id == k.site_id)
    valid = (
        (k.scope == "global") & k.tenant_id.is_(None) & k.site_id.is_(None)
        & (k.event_tenant == "*") & (k.event_site == "*")
    ) | (
        (k.scope == "site") & site_exists & (k.event_tenant == k.tenant_id)
        & (k.event_site == k.site_id)
    )  # fmt: skip
    invalid = connection.execute(
        select(func.count())
        .select_from(kill_switch_history)
        .where(k.event_seq.is_not(None), ~valid)
    ).scalar_one()
    if invalid:
        found.append(("kill_switch_history", int(invalid)))
    later = kill_switch_history.alias("later")
    out_of_order = connection.execute(
        select(func.count())
        .select_from(kill_switch_history.join(
            later,
            (later.c.id > k.id) & (later.c.event_tenant == k.event_tenant)
            & (later.c.event_site == k.event_site) & (later.c.event_seq <= k.event_seq),
        ))
    ).scalar_one()  # fmt: skip
    if out_of_order:
        found.append(("kill_switch_history order", int(out_of_order)))
    return found


def _detail(text: str) -> dict[str, Any]:
    """An event's detail for listing; one the tool cannot read (`audit verify` names it) is
    shown as such rather than failing the whole listing."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {"unreadable": "detail is not JSON this tool reads"}
    return value if isinstance(value, dict) else {"value": value}
