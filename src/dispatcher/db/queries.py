"""Read-side queries for status, list-runs, show-run, audit log and completion.

Plain SQL with named parameters, returning plain dataclasses, so the same statements can be served
by SQLAlchemy or by the standard library's sqlite3 where start-up time matters.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

Rows = Sequence[Sequence[Any]]
Executor = Callable[[str, Mapping[str, Any]], Rows]


def as_utc(value: Any) -> datetime | None:
    """Timestamps read without type information: strings on SQLite, datetimes on PostgreSQL."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def session_executor(session: Session) -> Executor:
    def execute(sql: str, params: Mapping[str, Any]) -> Rows:
        return [tuple(row) for row in session.execute(text(sql), dict(params))]

    return execute


@dataclass(frozen=True)
class EventRow:
    seq: int
    occurred_at: str
    action: str
    outcome: str
    actor_id: str | None
    actor_role: str | None
    reason: str | None
    run_id: str | None
    plan_version: int | None
    evidence_hash: str | None
    detail: dict[str, Any]
    hash: str


EVENT_COLUMNS = (
    "seq, occurred_at, action, outcome, actor_id, actor_role, reason, run_id, plan_version, "
    "evidence_hash, detail, hash"
)


class ReadQueries:
    """Bounded, indexed reads scoped to one tenant/site."""

    def __init__(self, source: Session | Executor, scope: tuple[str, str]) -> None:
        self._execute = session_executor(source) if isinstance(source, Session) else source
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
