"""Unit of work: one transaction per command; rolls back unless committed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from dispatcher.db.engine import write_engine
from dispatcher.db.lite import database_error
from dispatcher.db.repositories import UnitOfWorkBase
from dispatcher.db.sql import SessionSql
from dispatcher.domain.errors import DispatcherError

Clock = Callable[[], datetime]


def translate_database_error(exc: DBAPIError) -> DispatcherError:
    """Driver errors become ours, with a sentence a dispatcher can act on."""
    return database_error(
        str(exc.orig) if exc.orig is not None else str(exc),
        integrity=isinstance(exc, IntegrityError),
        operational=isinstance(exc, OperationalError),
    )


class SqlUnitOfWork(UnitOfWorkBase):
    """SQLAlchemy unit of work. `write=True` takes the write lock at BEGIN (SQLite IMMEDIATE)."""

    def __init__(
        self, engine: Engine, tenant: str, site: str, clock: Clock, *, write: bool
    ) -> None:
        super().__init__(tenant, site, clock, write=write)
        self.engine = engine

    def __enter__(self) -> Self:
        self._begin_with_retries(self._begin)
        self._bind(SessionSql(self.session), (self.tenant, self.site))
        return self

    def _begin(self) -> None:
        bind = write_engine(self.engine) if self._write else self.engine
        self.session = Session(bind=bind, expire_on_commit=False, autoflush=True)
        try:
            self.session.connection()  # BEGIN now, so a writer waits for the lock up front
        except DBAPIError as exc:
            self.session.close()
            raise translate_database_error(exc) from None

    def commit(self) -> None:
        try:
            self.session.commit()
        except DBAPIError as exc:
            self.session.rollback()
            raise translate_database_error(exc) from None
        self._committed = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._committed:
                self.session.rollback()
        finally:
            self.session.close()
        if isinstance(exc, DBAPIError):
            raise translate_database_error(exc) from None
