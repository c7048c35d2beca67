"""Administrative actions (kill switch, settings, registry): registered platform_admin only."""

from __future__ import annotations

from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.errors import GateBlocked
from dispatcher.domain.events import Action, EventDraft, Outcome
from dispatcher.domain.model import User
from dispatcher.services.audit import record_event

ADMIN = "platform_admin"


def refuse(
    uow: UnitOfWork,
    action: Action,
    check: str,
    message: str,
    *,
    actor_id: str | None,
    actor_role: str | None,
    reason: str | None,
    run_id: str | None = None,
    plan_version: int | None = None,
    evidence_hash: str | None = None,
) -> GateBlocked:
    """Record a blocked decision, commit it, and return the error to raise."""
    record_event(
        uow,
        EventDraft(
            action,
            Outcome.BLOCKED,
            actor_id=actor_id,
            actor_role=actor_role,
            reason=reason,
            run_id=run_id,
            plan_version=plan_version,
            evidence_hash=evidence_hash,
            detail={"check": check, "message": message},
        ),
    )
    uow.commit()
    return GateBlocked(message, check)


def require_admin(
    uow: UnitOfWork, action: Action, by: str, reason: str, min_length: int, what: str
) -> User:
    """The acting platform admin, or a recorded refusal (exit 2)."""
    user = uow.users.get(by.strip())
    if user is None or not user.holds(ADMIN):
        raise refuse(
            uow,
            action,
            "platform_admin_required",
            f"Only a registered platform_admin may {what}",
            actor_id=by.strip() or None,
            actor_role=None,
            reason=reason.strip() or None,
        )
    if len(reason.strip()) < min_length:
        raise refuse(
            uow,
            action,
            "reason_long_enough",
            f"Reason must be at least {min_length} characters",
            actor_id=user.user_id,
            actor_role=ADMIN,
            reason=reason.strip() or None,
        )
    return user
