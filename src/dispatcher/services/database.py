"""Database maintenance: schema upgrade and revision report."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from dispatcher.db import migrate
from dispatcher.db.schema import stored_revision


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def upgrade_database(engine: Engine) -> tuple[SchemaState, SchemaState]:
    """Upgrade to head; returns the state before and after."""
    before = schema_state(engine)
    try:
        migrate.upgrade_to_head(engine)
    except DBAPIError as exc:
        from dispatcher.db.unit_of_work import translate_database_error

        raise translate_database_error(exc) from None
    return before, schema_state(engine)


def schema_state(engine: Engine) -> SchemaState:
    return SchemaState(stored_revision(engine), migrate.head_revision())
