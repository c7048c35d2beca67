"""The kill switch: a platform admin blocks every publish, lock and export."""

from __future__ import annotations

from dataclasses import dataclass

from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.errors import Conflict, InvalidInput
from dispatcher.domain.events import Action, EventDraft
from dispatcher.domain.trail import StateMismatch
from dispatcher.domain.views import KillSwitchEntry, KillSwitchState
from dispatcher.services.audit import record_event
from dispatcher.services.authorization import (
    ADMIN,
    refuse_mismatch,
    require_admin,
    require_operator,
    require_platform_login,
)
from dispatcher.services.site import current_config
from dispatcher.services.trail import bound_kill_switch

SCOPES = ("global", "site")


@dataclass(frozen=True)
class KillSwitchChangeResult:
    scope: str
    active: bool
    by: str
    event_seq: int


@dataclass(frozen=True)
class KillSwitchReport:
    effective: KillSwitchState
    global_active: bool
    site_active: bool
    history: list[KillSwitchEntry]


def operate_kill_switch(
    uow: UnitOfWork, *, activate: bool, by: str, reason: str, scope: str = "global"
) -> KillSwitchChangeResult:
    scope = scope.strip().lower()
    if scope not in SCOPES:
        raise InvalidInput(f"Unknown scope {scope!r}: use global or site")
    action = Action.KILL_SWITCH_ACTIVATE if activate else Action.KILL_SWITCH_DEACTIVATE
    with uow:
        log = uow.platform_log if scope == "global" else uow.audit_log
        try:
            config = current_config(uow)
            bound_kill_switch(uow)
        except StateMismatch as mismatch:
            raise refuse_mismatch(
                uow,
                action,
                mismatch,
                actor_id=by.strip() or None,
                reason=reason.strip() or None,
                log=log,
            ) from None
        if scope == "global":
            require_platform_login(
                uow, action, "operate the global kill switch", actor_id=by, reason=reason
            )
        admin = require_admin(
            uow, action, by, reason, config.min_reason_length, "operate the kill switch", log
        )
        if scope == "global":
            require_operator(uow, action, "operate the global kill switch", admin, reason, log)
        where = "global" if scope == "global" else f"{uow.tenant}/{uow.site}"
        if uow.kill_switch.is_active(scope) == activate:
            state = "active" if activate else "inactive"
            raise Conflict(f"Kill switch ({where}) is already {state}; nothing changed")
        event = record_event(
            uow,
            EventDraft(
                action,
                actor_id=admin.user_id,
                actor_role=ADMIN,
                reason=reason.strip(),
                detail={"scope": scope, "target": where},
            ),
            log,
        )
        uow.kill_switch.append(
            scope,
            active=activate,
            by=admin.user_id,
            reason=reason.strip(),
            at=uow.now(),
            event_chain=log.chain,
            event_seq=event.seq,
        )
        uow.commit()
    return KillSwitchChangeResult(scope, activate, admin.user_id, event.seq)


def kill_switch_report(uow: UnitOfWork, limit: int = 20) -> KillSwitchReport:
    with uow:
        return KillSwitchReport(
            bound_kill_switch(uow),
            uow.kill_switch.is_active("global"),
            uow.kill_switch.is_active("site"),
            uow.kill_switch.history(limit),
        )
