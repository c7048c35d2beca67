"""The audit chains: the sole writer of events, listing and verification."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NoReturn

from dispatcher.db.repositories import AuditLog
from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.errors import GateBlocked, InvalidInput
from dispatcher.domain.events import (
    ANY,
    PLATFORM_CHAIN,
    Action,
    AuditEvent,
    ChainReport,
    EventDraft,
    Outcome,
    format_timestamp,
    seal_event,
    tenant_chain,
    verify_sealed,
)
from dispatcher.domain.hashing import GENESIS_HASH
from dispatcher.domain.views import EventRow


def record_event(uow: UnitOfWork, draft: EventDraft, log: AuditLog | None = None) -> AuditEvent:
    """Append `draft` at the tip of a chain (this site's unless another is named), inside the
    caller's write transaction. Time only moves forward: an event is never dated before the
    chain's newest one."""
    chain = uow.audit_log if log is None else log
    uow.check_append(chain)
    if draft.outcome == Outcome.ALLOWED:
        require_login(uow, draft, chain)
    tip = chain.tip()
    if tip is None and chain.chain == uow.audit_log.chain and draft.action != Action.SITE_CREATE:
        # A site's chain opens with its site.create (a trigger insists): create the site first.
        from dispatcher.services.site import ensure_site

        ensure_site(uow, draft.action)
        tip = chain.tip()
    seq, prev_hash = (1, GENESIS_HASH) if tip is None else (tip[0] + 1, tip[1])
    now = uow.now()
    if tip is not None and format_timestamp(now) < tip[2]:
        raise InvalidInput(
            f"The clock reads {format_timestamp(now)}, before the newest audit event "
            f"({tip[2]}, seq {tip[0]}): time does not go back in the audit trail; "
            "check the system clock"
        )
    tenant, site = chain.chain
    draft = replace(draft, detail={**draft.detail, "seen": _seen(uow, chain), **uow.login()})
    event = seal_event(
        draft, seq=seq, occurred_at=now, tenant=tenant, site=site, prev_hash=prev_hash
    )
    chain.append(event)
    return event


def require_login(uow: UnitOfWork, draft: EventDraft, chain: AuditLog) -> None:
    """With the site's approvals_require_login on, a decision in the site's chain is recorded
    as allowed only for the registered user linked to the login running the command (`users
    link`); any other is refused here, recorded, whatever command made it. The gates of
    publish, lock, apply and reject say the same first (`check` lists it); on PostgreSQL the
    database's append function refuses it again. Registry and platform changes need the
    platform login instead (docs/deployment.md): that is how the first admin gets linked."""
    from dispatcher.domain.gates import WHO, login_problem
    from dispatcher.domain.trail import StateMismatch
    from dispatcher.services.site import current_config
    from dispatcher.services.trail import bound_user

    actor = (draft.actor_id or "").strip()
    if not actor or chain.chain[1] == ANY:
        return  # the registry's and the platform's chains: the platform login alone writes them
    try:
        if not current_config(uow).approvals_require_login:
            return
        user = bound_user(uow, actor)
    except StateMismatch as mismatch:
        _refuse(uow, draft, chain, "state_matches_trail", mismatch.message)
    if user is None:
        return  # not a person of the registry (the tool itself is `system`, an id no one holds)
    problem = login_problem(True, user, actor, uow.session_login(), WHO.get(draft.action, "User"))
    if problem is not None:
        check = "approver_is_logged_in" if draft.action in WHO else "user_is_logged_in"
        _refuse(uow, draft, chain, check, problem)


def _refuse(
    uow: UnitOfWork, draft: EventDraft, chain: AuditLog, check: str, message: str
) -> NoReturn:
    """Record `draft` as blocked by `check` instead, commit, and stop the command (exit 2)."""
    blocked = replace(draft, outcome=Outcome.BLOCKED, detail={"check": check, "message": message})
    record_event(uow, blocked, chain)
    uow.commit()
    raise GateBlocked(message, check)


def _seen(uow: UnitOfWork, chain: AuditLog) -> dict[str, Any]:
    """The tips of the other chains this decision read, in the same transaction: the state it
    was judged on (`audit verify --state` replays it there). Writers of a chain hold its lock
    and others share it (unit_of_work.py), so no tip moves before this event commits."""
    seen: dict[str, Any] = {}
    for name, log in (
        ("site", uow.audit_log),
        ("registry", uow.tenant_log),
        ("platform", uow.platform_log),
    ):
        if log.chain == chain.chain:
            continue
        tip = log.tip()
        seq = 0 if tip is None else tip[0]
        seen[name] = [uow.tenant, uow.site, seq] if name == "site" else uow.shared_tip(name, seq)
    return seen


def list_events(
    uow: UnitOfWork,
    *,
    run_id: str | None = None,
    action: str | None = None,
    actor_id: str | None = None,
    limit: int = 50,
    chain: str = "site",
) -> list[EventRow]:
    """The newest matching events of the site's chain, or of its tenant's or the platform's."""
    chain = chain.strip().lower()
    if chain not in CHAINS:
        raise InvalidInput(f"Unknown chain {chain!r}: use {', '.join(CHAINS)}")
    with uow:
        if chain == "site":
            queries = uow.queries
        else:
            tenant, site = tenant_chain(uow.tenant) if chain == "tenant" else PLATFORM_CHAIN
            queries = uow.queries_for(tenant, site)
        return queries.events(run_id=run_id, action=action, actor_id=actor_id, limit=limit)


CHAINS = ("site", "tenant", "platform")


def verify_log(log: AuditLog) -> ChainReport:
    """Walk one chain from seq 1 (inside the caller's transaction)."""
    return verify_sealed(log.sealed_rows(), log.stored_event)


def verify_audit_chain(uow: UnitOfWork) -> ChainReport:
    """Walk this site's chain from seq 1 in one read transaction (a consistent snapshot)."""
    with uow:
        return verify_log(uow.audit_log)


def verify_chains(uow: UnitOfWork) -> list[tuple[tuple[str, str], ChainReport]]:
    """This site's chain, its tenant's registry chain and the platform's, in one snapshot."""
    with uow:
        return [
            (log.chain, verify_log(log))
            for log in (uow.audit_log, uow.tenant_log, uow.platform_log)
        ]
