"""Shell completion of ids, read with the standard library's sqlite3 (no ORM at TAB time).

Only `os`, `sqlite3` and `dispatcher.defaults`: every import here is paid on each TAB.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing

from dispatcher.defaults import (
    DEFAULT_SITE,
    DEFAULT_TENANT,
    default_db_file,
    readonly_uri,
    sqlite_file,
)


def _database() -> str | None:
    path = sqlite_file(os.environ.get("DISPATCHER_DB") or default_db_file())
    return path if path is not None and os.path.isfile(path) else None


def _scope() -> tuple[str, str]:
    return (
        (os.environ.get("DISPATCHER_TENANT") or DEFAULT_TENANT).upper(),
        (os.environ.get("DISPATCHER_SITE") or DEFAULT_SITE).upper(),
    )


def _ids(sql: str, incomplete: str) -> list[str]:
    path = _database()
    if path is None:
        return []
    tenant, site = _scope()
    try:
        with closing(sqlite3.connect(readonly_uri(path), uri=True, timeout=1)) as con:
            rows = con.execute(sql, (tenant, site, incomplete.upper() + "%")).fetchall()
    except (sqlite3.Error, UnicodeEncodeError):  # a word or scope that is not UTF-8: no id
        return []
    return [row[0] for row in rows]


RUN_ID_SQL = (
    "SELECT run_id FROM runs WHERE tenant_id = ? AND site_id = ? AND run_id LIKE ? "
    "ORDER BY created_at DESC, run_id DESC LIMIT 50"
)
REQUEST_ID_SQL = (
    "SELECT request_id FROM repair_requests WHERE tenant_id = ? AND site_id = ? "
    "AND request_id LIKE ? ORDER BY created_at DESC LIMIT 50"
)


def complete_run_id(incomplete: str) -> list[str]:
    return _ids(RUN_ID_SQL, incomplete)


def complete_request_id(incomplete: str) -> list[str]:
    return _ids(REQUEST_ID_SQL, incomplete)
