"""Small helpers shared by tests (no fixtures here)."""

from __future__ import annotations

import json
import subprocess
import sys


def modules_after(code: str) -> set[str]:
    """Top-level module names loaded by a fresh interpreter running `code`."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    names: list[str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return set(names)


def top_level(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def dispatcher_traced(
    args: list[str], env: dict[str, str], *, full: bool = False
) -> tuple[int, str, set[str]]:
    """Exit code, stdout and the top-level modules (every module with `full`) loaded by
    `python -m dispatcher ARGS` in a fresh interpreter (read from `-X importtime`)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dispatcher", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    names = {
        line.rsplit("|", 1)[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    loaded = names if full else {name.split(".")[0] for name in names}
    return proc.returncode, proc.stdout, loaded


def sqlite_tamper(db_path: object, sql: str, *, drop_triggers: bool = True) -> None:
    """Run `sql` on a SQLite file as an insider would: with every trigger dropped first (the
    guards are only the first line; the audit trail must still catch the change)."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(str(db_path))) as con:
        if drop_triggers:
            names = [
                n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
            ]
            for name in names:
                con.execute(f"DROP TRIGGER {name}")
        con.executescript(sql)
        con.commit()


def sqlite_refuses(db_path: object, sql: str) -> str:
    """The database's refusal of `sql` with the triggers in place (fails the test if none)."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(str(db_path))) as con:
        try:
            con.executescript(sql)
        except sqlite3.DatabaseError as exc:
            return str(exc)
        con.rollback()
    raise AssertionError(f"the database accepted: {sql}")
