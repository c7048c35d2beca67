"""One transaction's SQL: named-parameter statements over a stdlib sqlite3 connection or a
SQLAlchemy session, with values bound the way each backend stores them.

Repositories are written against `Sql` alone, so the same statements run inside the SQLAlchemy
unit of work (PostgreSQL, and SQLite where the schema is being created) and the standard-library
unit of work (`lite.py`), which starts without importing SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from dispatcher.domain.errors import InvalidInput

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

Rows = Sequence[Sequence[Any]]
Params = Mapping[str, Any]


def sqlite_timestamp(moment: datetime) -> str:
    """A UTC timestamp as SQLAlchemy's SQLite DateTime stores it (naive, microseconds)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime refused: timestamps must carry a time zone")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _sqlite_params(params: Params) -> dict[str, Any]:
    return {name: _sqlite_value(value) for name, value in params.items()}


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return sqlite_timestamp(value)
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        raise InvalidInput(f"Number {value} is too large")
    return value


class Sql(Protocol):
    """Statements inside the caller's transaction."""

    dialect: str

    def rows(self, sql: str, params: Params) -> Rows: ...
    def stream(self, sql: str, params: Params) -> Iterable[Sequence[Any]]: ...
    def write(self, sql: str, params: Params) -> None: ...
    def write_many(self, sql: str, params: Sequence[Params]) -> None: ...


class SqliteSql:
    """Over one stdlib sqlite3 connection."""

    dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def rows(self, sql: str, params: Params) -> Rows:
        return self._connection.execute(sql, _sqlite_params(params)).fetchall()

    def stream(self, sql: str, params: Params) -> Iterable[Sequence[Any]]:
        return self._connection.execute(sql, _sqlite_params(params))

    def write(self, sql: str, params: Params) -> None:
        self._connection.execute(sql, _sqlite_params(params))

    def write_many(self, sql: str, params: Sequence[Params]) -> None:
        if params:
            self._connection.executemany(sql, [_sqlite_params(p) for p in params])


class SessionSql:
    """Over a SQLAlchemy session (its connection and transaction)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self.dialect = session.get_bind().dialect.name

    def _params(self, params: Params) -> dict[str, Any]:
        return _sqlite_params(params) if self.dialect == "sqlite" else dict(params)

    def rows(self, sql: str, params: Params) -> Rows:
        from sqlalchemy import text

        return [tuple(row) for row in self._session.execute(text(sql), self._params(params))]

    def stream(self, sql: str, params: Params) -> Iterator[Sequence[Any]]:
        from sqlalchemy import text

        statement = text(sql).execution_options(yield_per=5000)
        result = self._session.execute(statement, self._params(params))
        try:
            for row in result:
                yield tuple(row)
        finally:
            result.close()  # also when the reader stops early (a broken chain)

    def write(self, sql: str, params: Params) -> None:
        from sqlalchemy import text

        self._session.execute(text(sql), self._params(params))

    def write_many(self, sql: str, params: Sequence[Params]) -> None:
        from sqlalchemy import text

        if params:
            self._session.execute(text(sql), [self._params(p) for p in params])
