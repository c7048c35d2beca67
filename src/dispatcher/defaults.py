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
