"""Read-side queries for status, list-runs, show-run, audit log and completion.

Plain SQL with named parameters, returning plain dataclasses, so the same statements are served
by SQLAlchemy or by the standard library's sqlite3 (see sql.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dispatcher.domain.views import (
    EventRow,
    KillSwitchState,
    RepairSummary,
    RunSummary,
    SiteFlags,
)

if TYPE_CHECKING:
    pass

Rows = Sequence[Sequence[Any]]
Executor = Callable[[str, Mapping[str, Any]], Rows]
Streamer = Callable[[str, Mapping[str, Any]], Iterable[Sequence[Any]]]  # rows as they come


def as_utc(value: Any) -> datetime | None:
    """Timestamps read without type information: strings on SQLite, datetimes on PostgreSQL."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def required_utc(value: Any) -> datetime:
    """`as_utc` for a NOT NULL column."""
    moment = as_utc(value)
    assert moment is not None, "a NOT NULL timestamp column held NULL"
    return moment


def json_or_none(text: str | None) -> Any:
    """A JSON column that may be NULL."""
    return None if text is None else json.loads(text)


EVENT_COLUMNS = (
    "seq, occurred_at, action, outcome, actor_id, actor_role, reason, run_id, plan_version, "
    "evidence_hash, detail, hash"
)


RUN_SUMMARY_SQL = """
SELECT r.run_id, r.week, r.created_at, r.origin, pv.version, pv.status, pv.status_reason,
       pv.drivers_used, pv.coverage_bp, pv.audits_passed, pv.drift_level,
       (SELECT MAX(p.version) FROM plan_versions p
         WHERE p.run_pk = r.id AND p.published_at IS NOT NULL) AS published_version,
       r.locked_at IS NOT NULL AS locked,
       EXISTS (SELECT 1 FROM approvals o JOIN runs w ON w.id = o.run_pk
                WHERE w.tenant_id = r.tenant_id AND w.site_id = r.site_id AND w.week = r.week
                  AND o.run_pk <> r.id AND o.action = 'publish'
                  AND o.event_seq > (SELECT MAX(a.event_seq) FROM approvals a
                                      WHERE a.run_pk = r.id AND a.action = 'publish'))
         AS superseded
FROM runs r
JOIN plan_versions pv ON pv.run_pk = r.id
 AND pv.version = (SELECT MAX(v.version) FROM plan_versions v WHERE v.run_pk = r.id)
WHERE r.tenant_id = :tenant AND r.site_id = :site
"""


def _run_summary(row: Sequence[Any]) -> RunSummary:
    return RunSummary(
        run_id=row[0],
        week=row[1],
        created_at=as_utc(row[2]),
        origin=row[3],
        version=row[4],
        status=row[5],
        status_reason=row[6],
        drivers_used=row[7],
        coverage_bp=row[8],
        audits_passed=row[9],
        drift_level=row[10],
        published_version=row[11],
        locked=bool(row[12]),
        superseded=bool(row[13]),
    )


URGENCY_ORDER = (
    "CASE urgency WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END"
)


class ReadQueries:
    """Bounded, indexed reads scoped to one tenant/site."""

    def __init__(self, execute: Executor, scope: tuple[str, str]) -> None:
        self._execute = execute
        self._scope = {"tenant": scope[0], "site": scope[1]}

    def _rows(self, sql: str, **params: Any) -> Rows:
        return self._execute(sql, {**self._scope, **params})

    def events(
        self,
        *,
        run_id: str | None = None,
        action: str | None = None,
        actor_id: str | None = None,
        limit: int = 50,
    ) -> list[EventRow]:
        """The newest `limit` matching events, returned oldest first."""
        where = ["tenant_id = :tenant", "site_id = :site"]
        params: dict[str, Any] = {"limit": limit}
        for column, value in (("run_id", run_id), ("action", action), ("actor_id", actor_id)):
            if value is not None:
                where.append(f"{column} = :{column}")
                params[column] = value
        sql = (
            f"SELECT {EVENT_COLUMNS} FROM audit_events WHERE {' AND '.join(where)} "
            "ORDER BY seq DESC LIMIT :limit"
        )
        rows = self._rows(sql, **params)
        return [_event_row(row) for row in reversed(rows)]

    def list_runs(
        self, *, week: str | None = None, status: str | None = None, limit: int = 20
    ) -> list[RunSummary]:
        sql = RUN_SUMMARY_SQL
        params: dict[str, Any] = {"limit": limit}
        if week is not None:
            sql += " AND r.week = :week"
            params["week"] = week
        if status is not None:
            sql += " AND pv.status = :status"
            params["status"] = status
        sql += " ORDER BY r.created_at DESC, r.id DESC LIMIT :limit"
        return [_run_summary(row) for row in self._rows(sql, **params)]

    def kill_switch(self) -> KillSwitchState:
        rows = self._rows(
            "SELECT scope, active, actor_id, reason, changed_at FROM kill_switch_history "
            "WHERE id IN (SELECT MAX(id) FROM kill_switch_history WHERE scope = 'global' "
            "UNION SELECT MAX(id) FROM kill_switch_history WHERE scope = 'site' "
            "AND tenant_id = :tenant AND site_id = :site) ORDER BY id DESC"
        )
        for scope, active, actor, reason, changed in rows:
            if active:
                return KillSwitchState(True, scope, actor, reason, as_utc(changed))
        return KillSwitchState(False, None, None, None, None)

    def site_flags(self) -> SiteFlags | None:
        rows = self._rows(
            "SELECT publish_enabled, lock_enabled, shadow_only FROM site_settings "
            "WHERE tenant_id = :tenant AND site_id = :site"
        )
        if not rows:
            return None
        publish, lock, shadow = rows[0]
        return SiteFlags(True, bool(publish), bool(lock), bool(shadow))

    def open_repairs(self, *, week: str | None = None) -> list[RepairSummary]:
        sql = (
            "SELECT request_id, week, driver_id, absence_type, urgency, status, created_at "
            "FROM repair_requests WHERE tenant_id = :tenant AND site_id = :site "
            "AND status IN ('PENDING', 'PROPOSED')"
        )
        params: dict[str, Any] = {}
        if week is not None:
            sql += " AND week = :week"
            params["week"] = week
        sql += f" ORDER BY {URGENCY_ORDER}, created_at, request_id"
        return [
            RepairSummary(r[0], r[1], r[2], r[3], r[4], r[5], as_utc(r[6]))
            for r in self._rows(sql, **params)
        ]


def _event_row(row: Sequence[Any]) -> EventRow:
    return EventRow(
        seq=row[0],
        occurred_at=row[1],
        action=row[2],
        outcome=row[3],
        actor_id=row[4],
        actor_role=row[5],
        reason=row[6],
        run_id=row[7],
        plan_version=row[8],
        evidence_hash=row[9],
        detail=json.loads(row[10]),
        hash=row[11],
    )
