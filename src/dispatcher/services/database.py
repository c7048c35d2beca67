"""Database maintenance: creation (and its clock), schema upgrade and revision report."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from dispatcher.db import migrate
from dispatcher.db.schema import stored_revision
from dispatcher.db.unit_of_work import SIMULATED, UnitOfWork
from dispatcher.domain.errors import Conflict, IntegrityDamage, InvalidInput
from dispatcher.domain.events import Action, EventDraft
from dispatcher.services.audit import record_event


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
    except migrate.UpgradeRefused as exc:
        raise IntegrityDamage(f"Database upgrade refused: {exc}") from None
    except DBAPIError as exc:
        from dispatcher.db.unit_of_work import translate_database_error

        raise translate_database_error(exc) from None
    return before, schema_state(engine)


def schema_state(engine: Engine) -> SchemaState:
    return SchemaState(stored_revision(engine), migrate.head_revision())


@dataclass(frozen=True)
class Creation:
    clock: str  # "simulated" or "real"
    event_seq: int


def create_database(uow: UnitOfWork, *, simulated: bool, multi_tenant: bool = False) -> Creation:
    """Record the database's creation as the platform chain's first event, and with it whether
    its clock is simulated (a demo or test database: DISPATCHER_NOW is honoured) or real, and
    who runs the platform: the tenant it is created for (its platform admins alone act
    platform-wide) and, on SQLite, whether other tenants may share the file. Only a database
    with no events yet can be created; none of this can be changed later."""
    clock = SIMULATED if simulated else "real"
    with uow:
        if not uow.platform_login():
            raise InvalidInput(
                "On PostgreSQL the platform login creates the database (a member of "
                "dispatcher_platform; docs/deployment.md)"
            )
        for log in (uow.platform_log, uow.tenant_log, uow.audit_log):
            if log.tip() is not None:
                raise Conflict(
                    "The database is already in use (it has audit events); its clock cannot be "
                    "chosen any more: create a new one for a demo or tests"
                )
        event = record_event(
            uow,
            EventDraft(
                Action.DATABASE_CREATE,
                actor_id="system",
                detail={
                    "clock": clock,
                    "operator": uow.tenant,
                    # PostgreSQL serves many tenants by design (row-level security keeps them
                    # apart); a SQLite file holds one unless created for several.
                    "tenants": "multi" if multi_tenant or uow.dialect != "sqlite" else "single",
                },
            ),
            uow.platform_log,
        )
        if simulated:
            uow.database.set_flag("clock", SIMULATED, event.seq, uow.now())
        uow.commit()
    return Creation(clock, event.seq)
