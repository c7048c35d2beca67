"""The append-only event chain of one tenant/site: append, tip, and reading it back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import insert, select

from dispatcher.db.repositories.base import Repository
from dispatcher.db.tables import audit_events
from dispatcher.domain.events import AuditEvent, SealedRow, StoredEvent, body_from_columns
from dispatcher.domain.hashing import canonical_json

e = audit_events.c
# The typed columns of an event, in the order body_from_columns takes them (tenant/site are
# the chain's and are compared like the others).
TYPED = (
    e.seq, e.occurred_at, e.tenant_id, e.site_id, e.action, e.outcome, e.actor_id, e.actor_role,
    e.reason, e.run_id, e.plan_version, e.evidence_hash,
)  # fmt: skip
FIELD = {"tenant_id": "tenant", "site_id": "site"}  # column -> body field, where they differ
STREAM_ROWS = 5000


class AuditLog(Repository):
    """Append, tip and the reads for verification, nothing more: no event is ever changed."""

    def _chain(self) -> Any:
        return self._in_site(audit_events)

    def tip(self) -> tuple[int, str] | None:
        row = self._connection.execute(
            select(e.seq, e.hash).where(self._chain()).order_by(e.seq.desc()).limit(1)
        ).first()
        return None if row is None else (row.seq, row.hash)

    def append(self, event: AuditEvent) -> None:
        self._connection.execute(
            insert(audit_events).values(
                tenant_id=event.tenant,
                site_id=event.site,
                seq=event.seq,
                occurred_at=event.occurred_at,
                action=event.action,
                outcome=event.outcome,
                actor_id=event.actor_id,
                actor_role=event.actor_role,
                reason=event.reason,
                run_id=event.run_id,
                plan_version=event.plan_version,
                evidence_hash=event.evidence_hash,
                detail=canonical_json(event.detail),
                prev_hash=event.prev_hash,
                hash=event.hash,
                body=event.body,
            )
        )

    def sealed_rows(self) -> Iterator[SealedRow]:
        """(seq, prev_hash, hash, body, columns agree with the body) for every event, in seq
        order, streamed: a million events never sit in memory at once."""
        statement = (
            select(*TYPED, e.detail, e.prev_hash, e.hash, e.body)
            .where(self._chain())
            .order_by(e.seq)
            .execution_options(yield_per=STREAM_ROWS)
        )
        result = self._connection.execute(statement)
        try:
            for row in result:
                (seq, occurred_at, tenant, site, action, outcome, actor_id, actor_role,
                 reason, run_id, plan_version, evidence_hash, detail, prev_hash, sealed,
                 body) = row  # fmt: skip
                try:
                    rebuilt = body_from_columns(
                        seq, occurred_at, tenant, site, action, outcome, actor_id, actor_role,
                        reason, run_id, plan_version, evidence_hash, detail, prev_hash,
                    )  # fmt: skip
                except (TypeError, ValueError):  # a NULL or odd value where text belongs
                    rebuilt = None
                yield seq, prev_hash, sealed, body, body == rebuilt
        finally:
            result.close()  # also when the reader stops early (a broken chain)

    def stored_event(self, seq: int) -> StoredEvent | None:
        """One event as stored: typed columns, detail text and body (to explain a break)."""
        row = self._connection.execute(
            select(*TYPED, e.detail, e.prev_hash, e.hash, e.body).where(self._chain(), e.seq == seq)
        ).first()
        if row is None:
            return None
        values = row._mapping
        columns = {FIELD.get(column.name, column.name): values[column.name] for column in TYPED}
        columns["prev_hash"] = row.prev_hash
        return StoredEvent(row.seq, columns, row.detail, row.prev_hash, row.hash, row.body)
