"""The standard-library sqlite3 unit of work: every repository, no SQLAlchemy import.

The repositories are plain SQL over `Sql` (sql.py), so this unit runs exactly the statements
the SQLAlchemy unit runs; commands use it whenever the database is a SQLite file already at the
newest schema, and start several hundred milliseconds sooner.
Connections are configured exactly like the engine's (`SQLITE_PRAGMAS`, explicit BEGIN).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Self

from dispatcher.db.driver_errors import database_error
from dispatcher.db.repositories import UnitOfWorkBase
from dispatcher.db.sql import SqliteSql
from dispatcher.domain.errors import DatabaseUnavailable, DispatcherError

BUSY_TIMEOUT_MS = 5000
SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    "foreign_keys=ON",
    f"busy_timeout={BUSY_TIMEOUT_MS}",
    "synchronous=NORMAL",
)
Clock = Callable[[], datetime]


def unwritable_reason(path: Path) -> str | None:
    """Why SQLite could not write `path`, which also needs PATH-wal and PATH-shm beside it."""
    try:
        with path.open("r+b"):
            pass
    except FileNotFoundError:
        pass
    except OSError:
        return "the file is read-only"
    probe = path.parent / f".{path.name}.write-test-{os.getpid()}"
    try:
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError:
        return "its folder is read-only (SQLite creates -wal and -shm files beside the database)"
    return None


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
        self._begin_with_retries(self._begin)
        self._bind(SqliteSql(self._connection), (self.tenant, self.site))
        return self

    def _begin(self) -> None:
        try:
            self._connection = sqlite3.connect(
                self.path, timeout=self._busy_timeout_ms / 1000, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise self._opening_error(exc) from None
        try:
            for pragma in SQLITE_PRAGMAS:
                self._connection.execute(f"PRAGMA {pragma}")
            self._connection.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
            self._connection.execute("BEGIN IMMEDIATE" if self._write else "BEGIN")
        except sqlite3.Error as exc:
            self._connection.close()
            raise self._opening_error(exc) from None

    def _rollback(self) -> None:
        """Roll back what is left: after an I/O or disk-full error SQLite may already have rolled
        the transaction back itself, and a second error must not hide the first."""
        if self._connection.in_transaction:
            with suppress(sqlite3.Error):
                self._connection.execute("ROLLBACK")

    def _opening_error(self, exc: sqlite3.Error) -> DispatcherError:
        reason = unwritable_reason(self.path)
        if reason is None:
            return _translate(exc)
        return DatabaseUnavailable(f"Cannot open database {self.path}: {exc} ({reason})")

    _driver_errors = (sqlite3.Error,)

    def _commit_transaction(self) -> None:
        self._connection.execute("COMMIT")

    def _close(self) -> None:
        self._connection.close()

    def _translate(self, exc: Exception) -> DispatcherError:
        assert isinstance(exc, sqlite3.Error)
        return _translate(exc)
