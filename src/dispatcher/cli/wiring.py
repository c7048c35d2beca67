"""Builds engines and units of work for commands: the one cli module that touches db/."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dispatcher.config import Settings, readonly_uri
from dispatcher.domain.errors import DatabaseUnavailable, InvalidInput

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from dispatcher.db.lite import LiteUnitOfWork
    from dispatcher.db.queries import ReadQueries
    from dispatcher.db.unit_of_work import SqlUnitOfWork

_engines: dict[str, Engine] = {}


def clock() -> datetime:
    """Now, in UTC. DISPATCHER_NOW (ISO timestamp) pins it for replays, demos and tests."""
    fixed = os.environ.get("DISPATCHER_NOW")
    if not fixed:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(fixed.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"DISPATCHER_NOW={fixed!r} is not an ISO timestamp") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"DISPATCHER_NOW={fixed!r} needs a time zone (e.g. Z)")
    return moment.astimezone(UTC)


def engine(settings: Settings, *, migrate: bool = True) -> Engine:
    """A cached engine for the settings' database, upgraded to the newest schema on first use."""
    from sqlalchemy.exc import DBAPIError

    from dispatcher.db.engine import make_engine
    from dispatcher.db.schema import ensure_schema

    if settings.url not in _engines:
        try:
            built = make_engine(settings.url)
        except OSError as exc:
            raise _unavailable(settings, exc.strerror or str(exc)) from None
        try:
            if migrate:
                ensure_schema(built)
        except BaseException as exc:
            built.dispose()  # close what the failed check opened
            if isinstance(exc, OSError):
                raise _unavailable(settings, exc.strerror or str(exc)) from None
            if isinstance(exc, DBAPIError):
                reason = str(exc.orig) if exc.orig is not None else str(exc)
                raise _unavailable(settings, reason) from None
            raise
        _engines[settings.url] = built
    return _engines[settings.url]


def _unavailable(settings: Settings, reason: str) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"Cannot open database {settings.shown}: {_with_cause(settings, reason)}"
    )


def _with_cause(settings: Settings, reason: str) -> str:
    """Add why a SQLite file cannot be written, when that is the cause."""
    from dispatcher.db.lite import unwritable_reason

    path = settings.sqlite_path
    cause = None if path is None or not path.exists() else unwritable_reason(path)
    return reason if cause is None else f"{reason} ({cause})"


def unit_of_work(settings: Settings, *, write: bool = False) -> LiteUnitOfWork | SqlUnitOfWork:
    """One command's unit of work: over stdlib sqlite3 when the database is a SQLite file at the
    newest schema (no SQLAlchemy import), else SQLAlchemy's (PostgreSQL, or a SQLite file whose
    schema is created or upgraded first). Both run the same repositories."""
    connection = _open_current(settings)
    if connection is not None:
        connection.close()
        from dispatcher.db.lite import LiteUnitOfWork

        path = settings.sqlite_path
        assert path is not None
        return LiteUnitOfWork(path, settings.tenant, settings.site, clock, write=write)
    from dispatcher.db.unit_of_work import SqlUnitOfWork

    return SqlUnitOfWork(engine(settings), settings.tenant, settings.site, clock, write=write)


def reset() -> None:
    """Forget cached engines (tests switch databases between invocations)."""
    for built in _engines.values():
        built.dispose()
    _engines.clear()


def _current_sqlite(connection: sqlite3.Connection) -> bool:
    from dispatcher.db.revision import SCHEMA_HEAD

    try:
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return False
    return revision is not None and revision[0] == SCHEMA_HEAD


def _open_current(settings: Settings) -> sqlite3.Connection | None:
    """A read-only stdlib connection when the database is an existing SQLite file at the newest
    schema; None means "go through SQLAlchemy" (another backend, or a schema to create/upgrade)."""
    path = settings.sqlite_path
    if path is None or not path.is_file():
        return None
    try:
        connection = sqlite3.connect(readonly_uri(path), uri=True, timeout=5)
    except sqlite3.Error:
        return None
    if _current_sqlite(connection):
        return connection
    connection.close()
    return None


@contextmanager
def read_queries(settings: Settings) -> Iterator[ReadQueries | None]:
    """Read-only queries over stdlib sqlite3 when the database is SQLite and already current
    (no ORM import: fast start-up); None means "use a unit of work"."""
    from dispatcher.db.queries import ReadQueries
    from dispatcher.db.sql import SqliteSql

    connection = _open_current(settings)
    if connection is None:
        yield None
        return
    try:
        yield ReadQueries(SqliteSql(connection).rows, (settings.tenant, settings.site))
    finally:
        connection.close()
