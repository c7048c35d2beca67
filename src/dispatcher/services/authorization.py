"""Administrative actions (kill switch, settings, registry): registered platform_admin only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dispatcher.db.repositories import AuditLog
from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.errors import GateBlocked
from dispatcher.domain.events import Action, EventDraft, Outcome
from dispatcher.domain.model import User
from dispatcher.domain.text import given, not_utf8, reason_problem
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


@dataclass(frozen=True)
class Tenancy:
    """What the database's creation says about its tenants (platform chain, event #1)."""

    operator: str | None  # the tenant whose platform admins act platform-wide (None: any)
    multi: bool  # other tenants may share this database


def tenancy(uow: UnitOfWork) -> Tenancy:
    """Read from the platform chain's first event, which nothing can change without breaking
    the chain; a database created on first use (no `db init`) names no operator and, on SQLite,
    holds one tenant."""
    created = uow.platform_log.event(1)
    if created is None or created.action != Action.DATABASE_CREATE:
        return Tenancy(None, uow.dialect != "sqlite")
    if not created.intact:
        raise StateMismatch("The database's creation", 1)
    operator = created.detail.get("operator")
    multi = created.detail.get("tenants") == "multi" or uow.dialect != "sqlite"
    return Tenancy(operator if isinstance(operator, str) else None, multi)


def require_operator(
    uow: UnitOfWork, action: Action, what: str, admin: User, reason: str, log: AuditLog | None
) -> None:
    """Only the platform operator's tenant acts platform-wide (the global kill switch, the
    all-sites view): a platform admin of another tenant administers that tenant alone."""
    operator = tenancy(uow).operator
    if operator is None or operator == uow.tenant:
        return
    raise refuse(
        uow,
        action,
        "platform_operator_required",
        f"Only a platform_admin of the platform's operator ({operator}) may {what}; "
        f"{admin.user_id} administers {uow.tenant} only",
        actor_id=admin.user_id,
        actor_role=ADMIN,
        reason=reason.strip() or None,
        log=log,
    )


def require_tenant_allowed(uow: UnitOfWork, action: Action, actor_id: str | None) -> None:
    """On a SQLite file created for one tenant, a second tenant is refused before anything of
    it is written, and the attempt is recorded in the platform's chain (every tenant's
    checkpoint signs it)."""
    if uow.dialect != "sqlite" or tenancy(uow).multi:
        return
    holder = uow.sites.other_tenant()
    if holder is None:
        return
    raise refuse(
        uow,
        action,
        "single_tenant",
        f"This database holds tenant {holder}; tenant {uow.tenant} needs its own database, "
        "or one created with `dispatcher db init --multi-tenant`",
        actor_id=given(actor_id),
        actor_role=None,
        reason=None,
        log=uow.platform_log,
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
        actor_id=given(actor_id),
        actor_role=None,
        reason=given(reason),
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
        from dispatcher.domain.gates import role_hint

        hint = role_hint(by) if user is None else ""
        raise refuse(
            uow,
            action,
            "platform_admin_required",
            f"Only a registered platform_admin may {what}{hint}",
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
