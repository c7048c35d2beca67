"""The audit chain: the sole writer of events, listing and verification."""

from __future__ import annotations

from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.events import AuditEvent, ChainReport, EventDraft, seal_event, verify_sealed
from dispatcher.domain.hashing import GENESIS_HASH
from dispatcher.domain.views import EventRow


def record_event(uow: UnitOfWork, draft: EventDraft) -> AuditEvent:
    """Append `draft` at the tip of this site's chain (inside the caller's write transaction)."""
    tip = uow.audit_log.tip()
    seq, prev_hash = (1, GENESIS_HASH) if tip is None else (tip[0] + 1, tip[1])
    event = seal_event(
        draft, seq=seq, occurred_at=uow.now(), tenant=uow.tenant, site=uow.site, prev_hash=prev_hash
    )
    uow.audit_log.append(event)
    return event


def list_events(
    uow: UnitOfWork,
    *,
    run_id: str | None = None,
    action: str | None = None,
    actor_id: str | None = None,
    limit: int = 50,
) -> list[EventRow]:
    with uow:
        return uow.queries.events(run_id=run_id, action=action, actor_id=actor_id, limit=limit)


def verify_audit_chain(uow: UnitOfWork) -> ChainReport:
    """Walk this site's chain from seq 1 in one read transaction (a consistent snapshot)."""
    with uow:
        return verify_sealed(uow.audit_log.sealed_rows(), uow.audit_log.stored_event)
