"""Alembic environment: the caller's connection (in-process) or DISPATCHER_DB (CLI)."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from dispatcher.config import database_url, default_db_path
from dispatcher.db.engine import make_engine
from dispatcher.db.tables import metadata

target_metadata = metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = database_url(os.environ.get("DISPATCHER_DB") or str(default_db_path()))
    engine = make_engine(url)
    with engine.begin() as conn:
        _run(conn)


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
