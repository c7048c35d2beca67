"""The tenant's user registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, text, update

from dispatcher.db.repositories.base import Repository
from dispatcher.db.repositories.sites import roles_of
from dispatcher.db.tables import users
from dispatcher.domain.model import User

u = users.c


def _user(row: Row[Any]) -> User:
    return User(row.user_id, row.name, roles_of(row.roles), bool(row.active), row.login)


def user_key(user_id: str) -> str:
    """Ids are matched ignoring case (they are ASCII): one person, one registry entry."""
    return user_id.lower()


class UserRepository(Repository):
    """Users are registered per tenant: every site of the tenant sees the same registry."""

    def _in_tenant(self) -> Any:
        return u.tenant_id == self._tenant

    def get(self, user_id: str) -> User | None:
        """The registered user with this id in any case (disp001, DISP001), as stored."""
        bound = self.bound(user_id)
        return None if bound is None else bound[0]

    def bound(self, user_id: str) -> tuple[User, int | None] | None:
        """The user and the seq of the tenant-chain event the row names."""
        row = self._connection.execute(
            select(users).where(self._in_tenant(), u.user_key == user_key(user_id))
        ).first()
        return None if row is None else (_user(row), row.event_seq)

    def list(self) -> list[User]:
        rows = self._connection.execute(select(users).where(self._in_tenant()).order_by(u.user_id))
        return [_user(row) for row in rows]

    def add(self, user: User, now: datetime, event_seq: int) -> None:
        self._ensure_tenant(now)
        self._connection.execute(
            insert(users).values(
                tenant_id=self._tenant,
                user_id=user.user_id,
                name=user.name,
                roles=",".join(user.roles),
                active=user.active,
                created_at=now,
                user_key=user_key(user.user_id),
                login=user.login,
                event_seq=event_seq,
            )
        )

    def set_active(self, user_id: str, active: bool, event_seq: int) -> None:
        self._connection.execute(
            update(users)
            .where(self._in_tenant(), u.user_key == user_key(user_id))
            .values(active=active, event_seq=event_seq)
        )

    def set_login(self, user_id: str, login: str | None, event_seq: int) -> None:
        self._connection.execute(
            update(users)
            .where(self._in_tenant(), u.user_key == user_key(user_id))
            .values(login=login, event_seq=event_seq)
        )

    def by_login(self, login: str) -> User | None:
        """The user of this tenant mapped to this login, if any."""
        row = self._connection.execute(
            select(users).where(self._in_tenant(), u.login == login)
        ).first()
        return None if row is None else _user(row)

    def login_exists(self, login: str) -> bool | None:
        """Whether the database server has a login of this exact name (PostgreSQL keeps a
        login's case: `CREATE ROLE Maria` makes `maria`); None on SQLite, which has none."""
        if self._connection.dialect.name != "postgresql":
            return None
        # pg_roles has no Core table of ours: it is the server's catalog
        found = self._connection.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :login AND rolcanlogin"),
            {"login": login},
        ).first()
        return found is not None
