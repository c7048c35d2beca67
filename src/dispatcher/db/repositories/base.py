"""What every repository shares: the unit of work's connection and its tenant/site."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.sql.elements import ColumnElement

from dispatcher.db.tables import tenants
from dispatcher.domain.errors import InvalidInput

INT64 = 2**63


# How bad a status is: the cache of the last re-verification (version_checks), which any login
# of the site can write and no gate trusts, is shown only where it is worse than the version's
# stored status or names another fault; it may make a plan look broken, never a broken one fine.
STATUS_SEVERITY = {"PASS": 0, "WARN": 1, "FAIL": 2, "BLOCKED": 2}
FAULT = 2


def cache_shown(checked: str | None, stored: str) -> bool:
    """Whether the cached status is the one to show (read_models.py says the same in SQL)."""
    if checked is None or checked == stored:
        return False
    found = STATUS_SEVERITY.get(checked, -1)
    return found > STATUS_SEVERITY.get(stored, -1) or found == FAULT


def json_or_none(text: str | None) -> Any:
    """A JSON column that may be NULL."""
    return None if text is None else json.loads(text)


def required(moment: datetime | None) -> datetime:
    """A NOT NULL timestamp column, read back."""
    assert moment is not None, "a NOT NULL timestamp column held NULL"
    return moment.astimezone(UTC)


def checked_int(value: int, what: str = "Number") -> int:
    """Integers typed by people fit the database's 64 bits, or a one-line refusal."""
    if not -INT64 <= value < INT64:
        raise InvalidInput(f"{what} {value} is too large")
    return value


class Repository:
    """One aggregate's statements inside the caller's transaction; never commits."""

    def __init__(self, connection: Connection, tenant: str, site: str) -> None:
        self._connection = connection
        self._tenant = tenant
        self._site = site

    def _in_site(self, table: Table) -> ColumnElement[bool]:
        """Rows of this tenant/site."""
        return (table.c.tenant_id == self._tenant) & (table.c.site_id == self._site)

    def _dialect_insert(self, table: Table) -> Any:
        """INSERT with the dialect's ON CONFLICT clauses (both backends spell them alike). The
        dialect's module is imported here: PostgreSQL's loads every driver it knows (about
        35 ms), which a command on SQLite does not need."""
        if self._connection.dialect.name == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table)
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)

    def _ensure_tenant(self, now: datetime) -> None:
        """Create this tenant's row if it is new (its first site or user)."""
        self._connection.execute(
            self._dialect_insert(tenants)
            .values(tenant_id=self._tenant, created_at=now)
            .on_conflict_do_nothing()
        )

    @property
    def _scope(self) -> dict[str, str]:
        return {"tenant_id": self._tenant, "site_id": self._site}
