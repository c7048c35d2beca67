"""Defaults every fast path needs, with nothing but `os` (no pathlib, no dataclasses)."""

from __future__ import annotations

import os

DEFAULT_TENANT = "LTS"
DEFAULT_SITE = "WIEN"


def default_db_file() -> str:
    """The database file used when neither --db nor DISPATCHER_DB is given (XDG data dir)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(base, "dispatcher", "dispatcher.db")


def readonly_uri(path: str | os.PathLike[str]) -> str:
    """A read-only SQLite URI for `path`; `?`, `#` and `%` in the name are escaped, or SQLite
    would read them as the URI's query or fragment and open another file. The name's own bytes
    are quoted (os.fsencode), so a file name that is not UTF-8 opens too."""
    from urllib.parse import quote

    return f"file:{quote(os.fsencode(path))}?mode=ro"


def sqlite_file(db: str) -> str | None:
    """The SQLite file a --db value names (a path, or a sqlite:/// URL), or None for another
    database or an in-memory one: the one place a --db value is read as a file."""
    if "://" in db:
        if not db.startswith("sqlite") or ":///" not in db:
            return None
        db = db.split(":///", 1)[1]
    return None if db in ("", ":memory:") else os.path.expanduser(db)
