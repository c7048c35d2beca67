"""Settings resolved once per command (stdlib only, importable from every layer)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dispatcher.defaults import DEFAULT_SITE, DEFAULT_TENANT, default_db_file, sqlite_file

ENV_PREFIX = "DISPATCHER_"


def default_db_path() -> Path:
    """The database file used when neither --db nor DISPATCHER_DB is given (XDG data dir)."""
    return Path(default_db_file())


SUPPORTED = (
    "a file path, sqlite:///FILE or postgresql://USER@HOST/DATABASE "
    "(dispatcher runs on SQLite and PostgreSQL)"
)


def database_url(db: str) -> str:
    """Turn a --db value (a file path or a SQLAlchemy URL) into a URL; a database other than
    SQLite or PostgreSQL (through psycopg, the driver installed with dispatcher) is refused."""
    if "://" in db:
        scheme, rest = db.split("://", 1)
        if scheme.lower() in ("postgresql", "postgres", "postgresql+psycopg"):
            return f"postgresql+psycopg://{rest}"
        from dispatcher.domain.errors import InvalidInput

        if scheme.lower() not in ("sqlite", "sqlite+pysqlite"):
            raise InvalidInput(f"--db {shown_database(db)}: unsupported database; give {SUPPORTED}")
        if sqlite_file(db) is None:
            raise InvalidInput(f"--db {db} names no file (an in-memory database keeps nothing)")
        return db
    return f"sqlite:///{sqlite_file(db) or ''}"


def shown_database(db: str) -> str:
    """`db` with the password of a URL replaced by ***."""
    if "://" not in db or "@" not in db:
        return db
    scheme, rest = db.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    if ":" not in credentials:
        return db
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


@dataclass(frozen=True)
class Settings:
    """Where and for whom a command acts."""

    db: str
    tenant: str = DEFAULT_TENANT
    site: str = DEFAULT_SITE

    @property
    def url(self) -> str:
        return database_url(self.db)

    @property
    def shown(self) -> str:
        """The database as messages may show it: a URL's password masked."""
        return shown_database(self.db)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path | None:
        """The database file for SQLite URLs, else None."""
        path = sqlite_file(self.db)
        return None if path is None else Path(path)
