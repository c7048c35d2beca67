"""Unit of work: one transaction per command; rolls back unless committed.

On PostgreSQL every transaction first says whom it acts for: `set_config(..., true)` sets the
tenant and site for this transaction only (row-level security reads them; a pooled connection
forgets them at COMMIT or ROLLBACK), and a writing transaction takes the advisory lock of its
site's audit chain, so writers of one site go one after another (like SQLite's BEGIN IMMEDIATE)
while other sites write in parallel.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Self

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from dispatcher.db.driver_errors import database_error
from dispatcher.db.engine import write_engine
from dispatcher.db.repositories import UnitOfWorkBase
from dispatcher.db.sql import SessionSql
from dispatcher.domain.errors import DatabaseUnavailable, DispatcherError

Clock = Callable[[], datetime]
LOCK_TIMEOUT = "20s"  # a writer waits this long for its site's chain, then "busy, try again"

SCOPE_SQL = (
    "SELECT set_config('app.tenant', :tenant, true), set_config('app.site', :site, true), "
    "set_config('lock_timeout', :lock_timeout, true)"
)
GRANTED_SQL = "SELECT dispatcher_scope_granted()"
CHAIN_LOCK_SQL = "SELECT pg_advisory_xact_lock(:key)"
ALL_SITES_SQL = "SELECT set_config('app.all_sites', 'on', true)"


def chain_lock_key(tenant: str, site: str) -> int:
    """The advisory-lock key of one site's audit chain: the same in every process."""
    digest = hashlib.sha256(f"dispatcher-chain\0{tenant}\0{site}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def translate_database_error(exc: DBAPIError) -> DispatcherError:
    """Driver errors become ours, with a sentence a dispatcher can act on."""
    original = exc.orig
    message = str(original) if original is not None else str(exc)
    return database_error(
        message.strip().splitlines()[0] if message.strip() else message,
        integrity=isinstance(exc, IntegrityError),
        operational=isinstance(exc, OperationalError),
        sqlstate=getattr(original, "sqlstate", None),
    )


class SqlUnitOfWork(UnitOfWorkBase):
    """SQLAlchemy unit of work. `write=True` takes the write lock at BEGIN (SQLite IMMEDIATE,
    the site's advisory lock on PostgreSQL)."""

    def __init__(
        self, engine: Engine, tenant: str, site: str, clock: Clock, *, write: bool
    ) -> None:
        super().__init__(tenant, site, clock, write=write)
        self.engine = engine
        self.dialect = engine.dialect.name

    def __enter__(self) -> Self:
        self._begin_with_retries(self._begin)
        self._bind(SessionSql(self.session), (self.tenant, self.site))
        return self

    def _begin(self) -> None:
        bind = write_engine(self.engine) if self._write else self.engine
        self.session = Session(bind=bind, expire_on_commit=False, autoflush=True)
        if self.dialect == "postgresql":
            # Every transaction of this session, also one begun by a read after commit().
            event.listen(self.session, "after_begin", self._scope_transaction)
        try:
            self.session.connection()  # BEGIN now, so a writer waits for the lock up front
        except DBAPIError as exc:
            self.session.close()
            raise translate_database_error(exc) from None
        except DispatcherError:
            self.session.close()
            raise

    def _scope_transaction(
        self, _session: Session, _transaction: object, connection: Connection
    ) -> None:
        scope = {"tenant": self.tenant, "site": self.site, "lock_timeout": LOCK_TIMEOUT}
        connection.execute(text(SCOPE_SQL), scope)
        if not connection.execute(text(GRANTED_SQL)).scalar():
            login = connection.execute(text("SELECT session_user")).scalar()
            raise DatabaseUnavailable(
                f"Database login {login} may not act for {self.tenant}/{self.site}: the DBA "
                "binds logins to sites in site_logins (docs/deployment.md)"
            )
        if self._write:
            key = chain_lock_key(self.tenant, self.site)
            connection.execute(text(CHAIN_LOCK_SQL), {"key": key})

    def widen_to_all_sites(self) -> bool:
        """Ask PostgreSQL to let this transaction read every site: the read policies grant it
        only to a login that is a member of dispatcher_platform; the answer says whether."""
        if self.dialect != "postgresql":
            return True
        self.session.execute(text(ALL_SITES_SQL))
        return bool(self.session.execute(text("SELECT dispatcher_all_sites()")).scalar())

    _driver_errors = (DBAPIError,)

    def _commit_transaction(self) -> None:
        self.session.commit()

    def _rollback(self) -> None:
        self.session.rollback()

    def _close(self) -> None:
        self.session.close()

    def _translate(self, exc: Exception) -> DispatcherError:
        assert isinstance(exc, DBAPIError)
        return translate_database_error(exc)
