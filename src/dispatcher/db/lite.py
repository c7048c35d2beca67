"""The standard-library sqlite3 unit of work: every repository, no SQLAlchemy import.

The repositories are plain SQL over `Sql` (sql.py), so this unit runs exactly the statements
the SQLAlchemy unit runs; commands use it whenever the database is a SQLite file already at the
newest schema, and start several hundred milliseconds sooner.
Connections are configured exactly like the engine's (`SQLITE_PRAGMAS`, explicit BEGIN).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from dispatcher.db.repositories import UnitOfWorkBase
from dispatcher.db.sql import SqliteSql
from dispatcher.domain.errors import DatabaseBusy, DispatcherError, IntegrityDamage

BUSY_TIMEOUT_MS = 5000
SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    "foreign_keys=ON",
    f"busy_timeout={BUSY_TIMEOUT_MS}",
    "synchronous=NORMAL",
)
Clock = Callable[[], datetime]


def database_error(text: str, *, integrity: bool, operational: bool) -> DispatcherError:
    """A driver error as ours, with a sentence a dispatcher can act on."""
    if operational and "locked" in text.lower():
        return DatabaseBusy("Database is busy (another dispatcher command is writing); try again")
    if integrity:
        return IntegrityDamage(f"Database refused the change: {text}")
    if operational and "readonly" in text.replace(" ", "").lower():
        return IntegrityDamage(f"Database is read-only: {text}")
    return IntegrityDamage(f"Database error: {text}")


def _translate(exc: sqlite3.Error) -> DispatcherError:
    return database_error(
        str(exc),
        integrity=isinstance(exc, sqlite3.IntegrityError),
        operational=isinstance(exc, sqlite3.OperationalError),
    )


class LiteUnitOfWork(UnitOfWorkBase):
    """One sqlite3 transaction; `write=True` takes the write lock at BEGIN (IMMEDIATE)."""

    def __init__(
        self,
        path: Path,
        tenant: str,
        site: str,
        clock: Clock,
        *,
        write: bool,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> None:
        super().__init__(tenant, site, clock, write=write)
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms

    def __enter__(self) -> Self:
        try:
            self._connection = sqlite3.connect(
                self.path, timeout=self._busy_timeout_ms / 1000, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise _translate(exc) from None
        try:
            for pragma in SQLITE_PRAGMAS:
                self._connection.execute(f"PRAGMA {pragma}")
            self._connection.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
            self._connection.execute("BEGIN IMMEDIATE" if self._write else "BEGIN")
        except sqlite3.Error as exc:
            self._connection.close()
            raise _translate(exc) from None
        self._bind(SqliteSql(self._connection), (self.tenant, self.site))
        return self

    def commit(self) -> None:
        try:
            self._connection.execute("COMMIT")
        except sqlite3.Error as exc:
            self._connection.execute("ROLLBACK")
            raise _translate(exc) from None
        self._committed = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._committed and self._connection.in_transaction:
                self._connection.execute("ROLLBACK")
        finally:
            self._connection.close()
        if isinstance(exc, sqlite3.Error):
            raise _translate(exc) from None
