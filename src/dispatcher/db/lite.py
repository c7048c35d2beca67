"""A standard-library sqlite3 unit of work for read-mostly commands (show-run, audit verify).

It serves the `RunReadingUnit` and `ChainReadingUnit` protocols with the same SQL as the
SQLAlchemy repositories (`RunReads`, `ReadQueries`, `ChainReads`), so a command that needs no
ORM feature starts without importing it.
Connections are configured exactly like the engine's (`SQLITE_PRAGMAS`, explicit BEGIN).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from dispatcher.db.chain_reads import ChainReads
from dispatcher.db.queries import ReadQueries, sqlite_executor, sqlite_streamer
from dispatcher.db.run_reads import RunReads
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


def sqlite_timestamp(moment: datetime) -> str:
    """A UTC timestamp as SQLAlchemy's SQLite DateTime stores it (naive, microseconds)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


class LiteRuns(RunReads):
    """Run reads plus the verification stamp, over one sqlite3 connection."""

    def __init__(self, connection: sqlite3.Connection, scope: tuple[str, str]) -> None:
        super().__init__(sqlite_executor(connection), scope)
        self._connection = connection

    def record_verification(self, version_pk: int, status: str, reason: str, at: datetime) -> None:
        self._connection.execute(
            "UPDATE plan_versions SET status = ?, status_reason = ?, verified_at = ? WHERE id = ?",
            (status, reason, sqlite_timestamp(at), version_pk),
        )


class LiteUnitOfWork:
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
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self.tenant = tenant
        self.site = site
        self._clock = clock
        self._write = write
        self._committed = False

    def now(self) -> datetime:
        return self._clock()

    @property
    def runs(self) -> LiteRuns:
        return self._runs

    @property
    def queries(self) -> ReadQueries:
        return self._queries

    @property
    def audit_log(self) -> ChainReads:
        return self._audit_log

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
        scope = (self.tenant, self.site)
        self._committed = False
        self._runs = LiteRuns(self._connection, scope)
        self._queries = ReadQueries(sqlite_executor(self._connection), scope)
        self._audit_log = ChainReads(sqlite_streamer(self._connection), scope, dialect="sqlite")
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
