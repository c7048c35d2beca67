"""Engine construction: the one place that configures SQLite and PostgreSQL connections."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    import sqlite3

BUSY_TIMEOUT_MS = 5000
SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    "foreign_keys=ON",
    f"busy_timeout={BUSY_TIMEOUT_MS}",
    "synchronous=NORMAL",
)


def sqlite_url(path: Path | str) -> URL:
    """The URL of a SQLite file, whatever its name holds (`?`, `#` and `%` stay part of it)."""
    return URL.create("sqlite", database=str(path))


def make_engine(url: str | URL, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys, a busy timeout and explicit BEGIN
    (DEFERRED, or IMMEDIATE for connections with the execution option begin_mode)."""
    url = make_url(url)
    if url.get_backend_name() != "sqlite":
        # READ COMMITTED whatever the login's default: the append function refuses any other
        # level (a snapshot older than the chain locks would judge against state already gone)
        return create_engine(url, pool_pre_ping=True, isolation_level="READ COMMITTED")
    path = url.database or ""
    if path and path != ":memory:":
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": busy_timeout_ms / 1000}, poolclass=NullPool
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        for pragma in SQLITE_PRAGMAS:
            dbapi_connection.execute(f"PRAGMA {pragma}")  # outside a transaction, so they stick
        dbapi_connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("begin_mode", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


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
