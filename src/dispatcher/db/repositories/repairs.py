"""Repair requests and their proposals."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from dispatcher.db.repositories.base import Repository, json_or_none, required
from dispatcher.db.tables import repair_request_ids, repair_requests, runs
from dispatcher.domain.hashing import canonical_json
from dispatcher.domain.records import RepairRecord

q = repair_requests.c
# PostgreSQL: how long a new request waits for a request id that another transaction has
# written and not committed (ids are unique per tenant, so every site's request may collide).
ID_WAIT = "200ms"
SET_LOCK_TIMEOUT = text("SELECT set_config('lock_timeout', :t, true)")
ID_HELD = {"55P03", "23505"}  # lock timeout; unique violation (the other one committed)


class RequestIdHeld(Exception):
    """The request id is written by another transaction: the caller takes another."""


REPAIR_SELECT = select(repair_requests, runs.c.run_id).select_from(
    repair_requests.outerjoin(runs, runs.c.id == q.run_pk)
)


def _repair(row: Row[Any]) -> RepairRecord:
    return RepairRecord(
        request_id=row.request_id,
        run_pk=row.run_pk,
        run_id=row.run_id or "",
        base_version=row.base_version,
        week=row.week,
        driver_id=row.driver_id,
        driver_name=row.driver_name,
        absence_type=row.absence_type,
        scope=json.loads(row.scope),
        requester=row.requester,
        urgency=row.urgency,
        notes=row.notes,
        status=row.status,
        created_at=required(row.created_at),
        proposal_document=json_or_none(row.proposal),
        proposed_at=row.proposed_at,
        proposal_version=row.proposal_version,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        resolution_reason=row.resolution_reason,
        applied_version=row.applied_version,
        event_seq=row.event_seq,
    )


class RepairRepository(Repository):
    def id_taken(self, request_id: str) -> bool:
        """Request ids are unique per tenant (not only per site): asked of the id register,
        which every site of the tenant may read."""
        ids = repair_request_ids.c
        found = self._connection.execute(
            select(ids.request_id).where(
                ids.tenant_id == self._tenant, ids.request_id == request_id
            )
        ).first()
        return found is not None

    def registered_ids(self) -> set[str]:
        """This site's entries in the tenant's register of request ids."""
        ids = repair_request_ids.c
        return set(
            self._connection.scalars(
                select(ids.request_id).where(
                    ids.tenant_id == self._tenant, ids.site_id == self._site
                )
            )
        )

    def add(self, record: RepairRecord, event_seq: int) -> None:
        """The request, then its entry in the register (which the database accepts only for
        a request that exists). On PostgreSQL an id that another site's transaction holds
        uncommitted raises RequestIdHeld after a short wait, not the lock timeout: whoever
        holds the next ids must not keep every site from filing a request. The caller has
        taken a savepoint (the failed insert aborts it)."""
        if self._connection.dialect.name != "postgresql":
            self._insert(record, event_seq)
            return
        wait = self._connection.execute(text("SELECT current_setting('lock_timeout')")).scalar()
        self._connection.execute(SET_LOCK_TIMEOUT, {"t": ID_WAIT})
        try:
            self._insert(record, event_seq)
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) in ID_HELD:
                raise RequestIdHeld(record.request_id) from None
            raise
        self._connection.execute(SET_LOCK_TIMEOUT, {"t": wait})

    def _insert(self, record: RepairRecord, event_seq: int) -> None:
        self._connection.execute(
            insert(repair_requests).values(
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
                created_at=record.created_at,
                event_seq=event_seq,
            )
        )
        self._connection.execute(
            insert(repair_request_ids).values(
                tenant_id=self._tenant, request_id=record.request_id, site_id=self._site
            )
        )

    def get(self, request_id: str) -> RepairRecord | None:
        row = self._connection.execute(
            REPAIR_SELECT.where(self._in_site(repair_requests), q.request_id == request_id)
        ).first()
        return None if row is None else _repair(row)

    def list(self, *, week: str | None = None, status: str | None = None) -> list[RepairRecord]:
        statement = REPAIR_SELECT.where(self._in_site(repair_requests))
        if week is not None:
            statement = statement.where(q.week == week)
        if status is not None:
            statement = statement.where(q.status == status)
        rows = self._connection.execute(statement.order_by(q.created_at, q.id))
        return [_repair(row) for row in rows]

    @property
    def _by_function(self) -> bool:
        return self._connection.dialect.name == "postgresql"

    def _call(self, call: Any) -> None:
        changed = self._connection.execute(select(call)).scalar()
        if changed != 1:
            raise AssertionError(f"a repair request update changed {changed} rows")

    def _set(self, request_id: str, **values: Any) -> None:
        self._connection.execute(
            update(repair_requests)
            .where(self._in_site(repair_requests), q.request_id == request_id)
            .values(**values)
        )

    def save_proposal(
        self,
        request_id: str,
        proposal: Mapping[str, Any],
        version: int,
        at: datetime,
        event_seq: int,
    ) -> None:
        if self._by_function:  # PostgreSQL: no application login holds UPDATE (LOCK TABLE)
            self._call(
                func.dispatcher_propose_repair(
                    request_id, event_seq, canonical_json(dict(proposal)), version, _utc(at)
                )
            )
            return
        self._set(
            request_id,
            event_seq=event_seq,
            proposal=canonical_json(dict(proposal)),
            proposal_version=version,
            proposed_at=at,
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
        if self._by_function:
            self._call(
                func.dispatcher_resolve_repair(
                    request_id, event_seq, status, by, reason, _utc(at), applied_version
                )
            )
            return
        self._set(
            request_id,
            event_seq=event_seq,
            status=status,
            resolved_by=by,
            resolution_reason=reason,
            resolved_at=at,
            applied_version=applied_version,
        )


def _utc(at: datetime) -> datetime:
    """A timestamp for the database's functions (timestamptz): aware, in UTC."""
    if at.tzinfo is None:
        raise ValueError("naive datetime refused: timestamps must carry a time zone")
    return at.astimezone(UTC)
