"""Shell completion of ids, read with the standard library's sqlite3 (no ORM at TAB time)."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from dispatcher.config import DEFAULT_SITE, DEFAULT_TENANT, default_db_path


def _database() -> Path | None:
    db = os.environ.get("DISPATCHER_DB") or str(default_db_path())
    if "://" in db:
        if not db.startswith("sqlite:///"):
            return None
        db = db.split(":///", 1)[1]
    path = Path(db).expanduser()
    return path if path.is_file() else None


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
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as con:
            rows = con.execute(sql, (tenant, site, incomplete.upper() + "%")).fetchall()
    except sqlite3.Error:
        return []
    return [row[0] for row in rows]


def complete_run_id(incomplete: str) -> list[str]:
    return _ids(
        "SELECT run_id FROM runs WHERE tenant_id = ? AND site_id = ? AND run_id LIKE ? "
        "ORDER BY created_at DESC, run_id DESC LIMIT 50",
        incomplete,
    )


def complete_request_id(incomplete: str) -> list[str]:
    return _ids(
        "SELECT request_id FROM repair_requests WHERE tenant_id = ? AND site_id = ? "
        "AND request_id LIKE ? ORDER BY created_at DESC LIMIT 50",
        incomplete,
    )
