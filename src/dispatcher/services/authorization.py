"""Administrative actions (kill switch, settings, registry): registered platform_admin only."""

from __future__ import annotations

from collections.abc import Mapping

from dispatcher.db.repositories import AuditLog
from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.errors import GateBlocked
from dispatcher.domain.events import Action, EventDraft, Outcome
from dispatcher.domain.model import User
from dispatcher.domain.text import not_utf8, reason_problem
from dispatcher.domain.trail import StateMismatch
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
    log: AuditLog | None = None,
) -> GateBlocked:
    """Record a blocked decision (in the chain of what it is about), commit it, and return the
    error to raise."""
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
        log,
    )
    uow.commit()
    return GateBlocked(message, check)


TRAIL_CHECK = "state_matches_trail"


def refuse_mismatch(
    uow: UnitOfWork,
    action: Action,
    mismatch: StateMismatch,
    *,
    actor_id: str | None,
    actor_role: str | None = None,
    reason: str | None = None,
    run_id: str | None = None,
    plan_version: int | None = None,
    log: AuditLog | None = None,
) -> GateBlocked:
    """A fact the decision needs does not match the audit trail: refused and recorded."""
    return refuse(
        uow,
        action,
        TRAIL_CHECK,
        mismatch.message,
        actor_id=actor_id,
        actor_role=actor_role,
        reason=reason,
        run_id=run_id,
        plan_version=plan_version,
        log=log,
    )


def refuse_unless_text(
    uow: UnitOfWork,
    action: Action,
    fields: Mapping[str, str | None],
    *,
    actor_id: str | None,
    reason: str | None,
    run_id: str | None = None,
    plan_version: int | None = None,
    log: AuditLog | None = None,
) -> None:
    """Refuse, recorded (exit 2), when a typed field for the audit trail holds bytes that were
    not UTF-8; before any lookup, since no database can hold them. The event writes them out."""
    for label, text in fields.items():
        message = not_utf8(label, text)
        if message is not None:
            raise refuse(
                uow,
                action,
                "text_is_utf8",
                message,
                actor_id=actor_id,
                actor_role=None,
                reason=reason,
                run_id=run_id,
                plan_version=plan_version,
                log=log,
            )


def require_platform_login(
    uow: UnitOfWork, action: Action, what: str, *, actor_id: str | None, reason: str | None
) -> None:
    """On PostgreSQL, only the platform login writes what is tenant-wide or platform-wide; a
    depot's login asking is refused, recorded in its own site's chain (the one it may write)."""
    if uow.platform_login():
        return
    raise refuse(
        uow,
        action,
        "platform_login_required",
        f"This database login may not {what}: on PostgreSQL that needs the platform login, "
        "a member of dispatcher_platform (docs/deployment.md)",
        actor_id=(actor_id or "").strip() or None,
        actor_role=None,
        reason=(reason or "").strip() or None,
        log=uow.audit_log,
    )


def require_admin(
    uow: UnitOfWork,
    action: Action,
    by: str,
    reason: str,
    min_length: int,
    what: str,
    log: AuditLog | None = None,
) -> User:
    """The acting platform admin (proven by the registry's chain), or a recorded refusal."""
    from dispatcher.services.trail import bound_user

    refuse_unless_text(
        uow,
        action,
        {"User id": by, "Reason": reason},
        actor_id=by.strip() or None,
        reason=reason.strip() or None,
        log=log,
    )
    try:
        user = bound_user(uow, by)
    except StateMismatch as mismatch:
        raise refuse_mismatch(
            uow,
            action,
            mismatch,
            actor_id=by.strip() or None,
            reason=reason.strip() or None,
            log=log,
        ) from None
    if user is None or not user.holds(ADMIN):
        raise refuse(
            uow,
            action,
            "platform_admin_required",
            f"Only a registered platform_admin may {what}",
            actor_id=by.strip() or None,
            actor_role=None,
            reason=reason.strip() or None,
            log=log,
        )
    problem = reason_problem(reason, min_length)
    if problem is not None:
        raise refuse(
            uow,
            action,
            "reason_long_enough",
            problem,
            actor_id=user.user_id,
            actor_role=ADMIN,
            reason=reason.strip() or None,
            log=log,
        )
    return user
