"""The user registry of a tenant: who may approve, in which roles."""

from __future__ import annotations

from dataclasses import dataclass

from dispatcher.db.ports import UnitOfWork
from dispatcher.domain.errors import Conflict, InvalidInput, NotFound
from dispatcher.domain.events import Action, EventDraft
from dispatcher.domain.ids import ID_PATTERN
from dispatcher.domain.model import ROLES, User
from dispatcher.services.audit import record_event
from dispatcher.services.authorization import ADMIN, refuse_unless_text, require_admin
from dispatcher.services.site import current_config


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
    if not name.strip():
        raise InvalidInput("Give the user's --name")
    user = User(user_id, name.strip(), _roles(roles))
    with uow:
        config = current_config(uow)
        refuse_unless_text(
            uow,
            Action.USER_ADD,
            {"User id": by, "Reason": reason, "Name": name},
            actor_id=(by or "").strip() or None,
            reason=reason.strip() or None,
        )
        if uow.users.list():
            actor = require_admin(
                uow,
                Action.USER_ADD,
                by or "",
                reason,
                config.min_reason_length,
                "change the user registry",
            ).user_id
        elif ADMIN not in user.roles:
            raise InvalidInput("The first user of a tenant must hold the platform_admin role")
        else:
            actor = (by or "").strip() or "system"
        if uow.users.get(user_id) is not None:
            raise Conflict(f"User {user_id} already exists")
        uow.users.add(user, uow.now())
        event = record_event(
            uow,
            EventDraft(
                Action.USER_ADD,
                actor_id=actor,
                actor_role=ADMIN if actor != "system" else None,
                reason=reason.strip() or None,
                detail={"user": user_id, "name": user.name, "roles": list(user.roles)},
            ),
        )
        uow.commit()
    return UserChange(user, actor, event.seq)


def disable_user(uow: UnitOfWork, user_id: str, by: str, reason: str) -> UserChange:
    with uow:
        config = current_config(uow)
        admin = require_admin(
            uow,
            Action.USER_DISABLE,
            by,
            reason,
            config.min_reason_length,
            "change the user registry",
        )
        user = uow.users.get(user_id.strip())
        if user is None:
            raise NotFound(f"User {user_id} not found")
        if not user.active:
            raise Conflict(f"User {user.user_id} is already disabled")
        uow.users.set_active(user.user_id, False)
        event = record_event(
            uow,
            EventDraft(
                Action.USER_DISABLE,
                actor_id=admin.user_id,
                actor_role=ADMIN,
                reason=reason.strip(),
                detail={"user": user.user_id},
            ),
        )
        uow.commit()
    return UserChange(User(user.user_id, user.name, user.roles, False), admin.user_id, event.seq)


def list_users(uow: UnitOfWork) -> list[User]:
    with uow:
        return uow.users.list()
