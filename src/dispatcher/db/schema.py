"""Schema version check on the hot path: one SELECT, Alembic only when an upgrade is due."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from dispatcher.db.revision import SCHEMA_HEAD
from dispatcher.domain.errors import DatabaseUnavailable, IntegrityDamage

__all__ = ["SCHEMA_HEAD", "ensure_schema", "stored_revision"]


def stored_revision(engine: Engine) -> str | None:
    """The revision recorded in the database, or None for an empty database."""
    with engine.connect() as connection:
        try:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError:
            return None


def ensure_schema(engine: Engine) -> None:
    """Create or upgrade a SQLite schema on first use; refuse a database from a newer dispatcher,
    and a PostgreSQL schema that its owner has not upgraded yet."""
    revision = stored_revision(engine)
    if revision == SCHEMA_HEAD:
        return
    from dispatcher.db.migrate import known_revisions, upgrade_to_head

    if revision is not None and revision not in known_revisions():
        raise IntegrityDamage(
            f"Database schema revision {revision} is unknown to this dispatcher (newer version?)"
        )
    if engine.dialect.name != "sqlite":
        # A shared server changes schema deliberately, by its owner, not on a dispatcher's call.
        raise DatabaseUnavailable(
            f"Database schema is at {revision or 'nothing (empty database)'}, this dispatcher "
            f"needs {SCHEMA_HEAD}: the schema owner runs `dispatcher db upgrade` first "
            "(docs/deployment.md)"
        )
    from dispatcher.db.migrate import UpgradeRefused

    try:
        upgrade_to_head(engine)
    except UpgradeRefused as exc:
        raise IntegrityDamage(f"Database upgrade to {SCHEMA_HEAD} refused: {exc}") from None
