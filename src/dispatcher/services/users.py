"""The user registry of a tenant: who may approve, in which roles."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.errors import Conflict, InvalidInput, NotFound
from dispatcher.domain.events import Action, AuditEvent, EventDraft
from dispatcher.domain.ids import ID_PATTERN, SYSTEM, id_key
from dispatcher.domain.model import ROLES, SiteConfig, User
from dispatcher.domain.text import given
from dispatcher.domain.trail import USER_ACTIONS, StateMismatch
from dispatcher.services.audit import record_event
from dispatcher.services.authorization import (
    ADMIN,
    refuse_mismatch,
    refuse_unless_text,
    require_admin,
    require_platform_login,
    require_tenant_allowed,
)
from dispatcher.services.site import current_config
from dispatcher.services.trail import bound_user, user_values


@dataclass(frozen=True)
class UserChange:
    user: User
    by: str
    event_seq: int


def _roles(roles: list[str]) -> tuple[str, ...]:
    cleaned = []
    for role in roles:
        for part in role.split(","):
            name = part.strip().lower()
            if name not in ROLES:
                raise InvalidInput(f"Unknown role {part.strip()!r}: use {', '.join(ROLES)}")
            if name not in cleaned:
                cleaned.append(name)
    if not cleaned:
        raise InvalidInput("Give at least one --role")
    return tuple(cleaned)


def add_user(
    uow: UnitOfWork, user_id: str, name: str, roles: list[str], by: str | None, reason: str
) -> UserChange:
    """Register a user. The very first user of a tenant must be a platform_admin (bootstrap)."""
    user_id = user_id.strip()
    if not ID_PATTERN.fullmatch(user_id):
        raise InvalidInput(f"Invalid user id {user_id!r}")
    if id_key(user_id) == SYSTEM:
        raise InvalidInput(f"User id {user_id} is reserved: the trail names the tool itself so")
    if not name.strip():
        raise InvalidInput("Give the user's --name")
    user = User(user_id, name.strip(), _roles(roles))
    with uow:
        config = _config(uow, Action.USER_ADD, by, reason)
        refuse_unless_text(
            uow,
            Action.USER_ADD,
            {"User id": by, "Reason": reason, "Name": name},
            actor_id=given(by),
            reason=reason.strip() or None,
            log=uow.tenant_log,
        )
        if uow.users.list() or uow.tenant_log.latest(USER_ACTIONS) is not None:
            actor = require_admin(
                uow,
                Action.USER_ADD,
                by or "",
                reason,
                config.min_reason_length,
                "change the user registry",
                uow.tenant_log,
            ).user_id
        elif ADMIN not in user.roles:
            raise InvalidInput("The first user of a tenant must hold the platform_admin role")
        else:
            actor = given(by) or "system"
        existing = _bound(uow, Action.USER_ADD, user_id, actor, reason)
        if existing is not None:
            if existing.user_id == user_id:
                raise Conflict(f"User {user_id} already exists")
            raise Conflict(
                f"User {user_id} already exists as {existing.user_id} "
                "(user ids are unique ignoring case)"
            )
        event = record_event(
            uow,
            EventDraft(
                Action.USER_ADD,
                actor_id=actor,
                actor_role=ADMIN if actor != "system" else None,
                reason=reason.strip() or None,
                detail=user_values(user),
            ),
            uow.tenant_log,
        )
        uow.users.add(user, uow.now(), event.seq)
        uow.commit()
    return UserChange(user, actor, event.seq)


def disable_user(uow: UnitOfWork, user_id: str, by: str, reason: str) -> UserChange:
    with uow:
        admin, user = _admin_and_user(uow, Action.USER_DISABLE, user_id, by, reason)
        if not user.active:
            raise Conflict(f"User {user.user_id} is already disabled")
        disabled = replace(user, active=False)
        event = _record_change(uow, Action.USER_DISABLE, admin, disabled, reason)
        uow.users.set_active(user.user_id, False, event.seq)
        uow.commit()
    return UserChange(disabled, admin.user_id, event.seq)


def _admin_and_user(
    uow: UnitOfWork, action: Action, user_id: str, by: str, reason: str
) -> tuple[User, User]:
    """(the acting platform admin, the registered user changed), each proven by the trail."""
    config = _config(uow, action, by, reason)
    admin = require_admin(
        uow, action, by, reason, config.min_reason_length, "change the user registry",
        uow.tenant_log,
    )  # fmt: skip
    user = _bound(uow, action, user_id, admin.user_id, reason)
    if user is None:
        raise NotFound(f"User {user_id} not found")
    return admin, user


def _record_change(
    uow: UnitOfWork,
    action: Action,
    admin: User,
    changed: User,
    reason: str,
    extra: dict[str, Any] | None = None,
) -> AuditEvent:
    """The registry event for a change of a user (its values after the change)."""
    return record_event(
        uow,
        EventDraft(
            action,
            actor_id=admin.user_id,
            actor_role=ADMIN,
            reason=reason.strip(),
            detail={**user_values(changed), **(extra or {})},
        ),
        uow.tenant_log,
    )


# A PostgreSQL role name or an operating-system account: no spaces, quotes or control bytes.
LOGIN_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_.@$-]{0,62}")


def link_user(uow: UnitOfWork, user_id: str, login: str | None, by: str, reason: str) -> UserChange:
    """Map a user to the database login (PostgreSQL) or operating-system account (SQLite)
    that is this person, or remove the mapping (`login` None). One login, one user."""
    if login is not None:
        login = login.strip()
        if not LOGIN_PATTERN.fullmatch(login):
            raise InvalidInput(
                f"Invalid --login {login!r}: a database login or account name, letters, digits "
                "and _ . @ $ - (at most 63, not starting with a digit)"
            )
    with uow:
        admin, user = _admin_and_user(uow, Action.USER_UPDATE, user_id, by, reason)
        if user.login == login:
            state = f"linked to login {login}" if login else "not linked to a login"
            raise Conflict(f"User {user.user_id} is already {state}")
        if login and uow.users.login_exists(login) is False:
            raise InvalidInput(
                f"Login {login} is not a login of this database server: the DBA creates it "
                "first (docs/deployment.md); PostgreSQL keeps a login's case"
            )
        holder = uow.users.by_login(login) if login else None
        if holder is not None:
            raise Conflict(
                f"Login {login} is already linked to {holder.user_id}: one login is one person; "
                f"unlink it first (`dispatcher users unlink {holder.user_id}`)"
            )
        linked = replace(user, login=login)
        changed = {"changed": {"login": [user.login, login]}}
        event = _record_change(uow, Action.USER_UPDATE, admin, linked, reason, changed)
        uow.users.set_login(user.user_id, login, event.seq)
        uow.commit()
    return UserChange(linked, admin.user_id, event.seq)


def _config(uow: UnitOfWork, action: Action, by: str | None, reason: str) -> SiteConfig:
    """The settings a registry change is judged by (the minimum reason length), once the
    database login is one that may change the registry."""
    try:
        config = current_config(uow)
    except StateMismatch as mismatch:
        raise refuse_mismatch(
            uow,
            action,
            mismatch,
            actor_id=given(by),
            reason=reason.strip() or None,
            log=uow.tenant_log,
        ) from None
    require_platform_login(uow, action, "change the user registry", actor_id=by, reason=reason)
    require_tenant_allowed(uow, action, by)
    return config


def _bound(uow: UnitOfWork, action: Action, user_id: str, actor: str, reason: str) -> User | None:
    try:
        return bound_user(uow, user_id)
    except StateMismatch as mismatch:
        raise refuse_mismatch(
            uow,
            action,
            mismatch,
            actor_id=actor,
            reason=reason.strip() or None,
            log=uow.tenant_log,
        ) from None


def list_users(uow: UnitOfWork) -> list[User]:
    with uow:
        return uow.users.list()
