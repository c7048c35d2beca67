"""Rewrite src/dispatcher/db/guards_expected.py from freshly migrated SQLite and PostgreSQL
databases (`make guards`, after a migration adds or changes a guard)."""

from __future__ import annotations

import os
from pathlib import Path

from dispatcher.db import guards
from dispatcher.db.engine import make_engine
from dispatcher.db.migrate import upgrade_to_head
from tests.pgserver import OWNER, PgServer

TARGET = Path(__file__).resolve().parents[1] / "src" / "dispatcher" / "db" / "guards_expected.py"


def main() -> None:
    server = PgServer()
    server.start()
    try:
        server.admin_sql(f"CREATE DATABASE fresh OWNER {OWNER}")
        engine = make_engine(server.url(OWNER, "fresh"))
        upgrade_to_head(engine)
        engine.dispose()
        os.environ["DISPATCHER_PG_URL"] = server.url(OWNER, "fresh")
        TARGET.write_text(guards._generate(), encoding="utf-8")
    finally:
        server.stop()
    print(f"{TARGET}: rewritten")


if __name__ == "__main__":
    main()
