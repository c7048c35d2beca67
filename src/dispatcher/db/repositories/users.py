"""The tenant's user registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update

from dispatcher.db.repositories.base import Repository
from dispatcher.db.repositories.sites import roles_of
from dispatcher.db.tables import users
from dispatcher.domain.model import User

u = users.c


def _user(row: Row[Any]) -> User:
    return User(row.user_id, row.name, roles_of(row.roles), bool(row.active))


class UserRepository(Repository):
    """Users are registered per tenant: every site of the tenant sees the same registry."""

    def _in_tenant(self) -> Any:
        return u.tenant_id == self._tenant

    def get(self, user_id: str) -> User | None:
        row = self._connection.execute(
            select(users).where(self._in_tenant(), u.user_id == user_id)
        ).first()
        return None if row is None else _user(row)

    def list(self) -> list[User]:
        rows = self._connection.execute(select(users).where(self._in_tenant()).order_by(u.user_id))
        return [_user(row) for row in rows]

    def add(self, user: User, now: datetime) -> None:
        self._ensure_tenant(now)
        self._connection.execute(
            insert(users).values(
                tenant_id=self._tenant,
                user_id=user.user_id,
                name=user.name,
                roles=",".join(user.roles),
                active=user.active,
                created_at=now,
            )
        )

    def set_active(self, user_id: str, active: bool) -> None:
        self._connection.execute(
            update(users).where(self._in_tenant(), u.user_id == user_id).values(active=active)
        )
