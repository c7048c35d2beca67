"""Unit of work: one transaction per command over a SQLAlchemy Core connection, on SQLite and
PostgreSQL alike; it rolls back unless committed and carries the command's clock.

SQLite: a writing unit takes the write lock at BEGIN IMMEDIATE, so two writers never read the
same chain tip; while another writer holds it, BEGIN waits up to the busy timeout and is retried
with jittered backoff before the one-line "busy" error reaches the user.

PostgreSQL: every transaction first says whom it acts for: `set_config(..., true)` sets the
tenant and site for this transaction only (row-level security reads them; a pooled connection
forgets them at COMMIT or ROLLBACK), and a writing transaction takes the advisory lock of its
site's audit chain, so writers of one site go one after another while other sites write in
parallel.
"""

from __future__ import annotations

import getpass
import os
import random
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine, event, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from dispatcher.db.driver_errors import database_error
from dispatcher.db.engine import unwritable_reason
from dispatcher.db.repositories import (
    AuditLog,
    DatabaseFacts,
    DecisionRepository,
    KillSwitchLog,
    ReadQueries,
    RepairRepository,
    RunRepository,
    SiteRepository,
    UserRepository,
)
from dispatcher.domain.errors import (
    DatabaseBusy,
    DatabaseUnavailable,
    DispatcherError,
    InvalidInput,
)
from dispatcher.domain.events import PLATFORM_CHAIN, tenant_chain

Clock = Callable[[], datetime]
SIMULATED = "simulated"
REAL_CLOCK_ONLY = (
    "DISPATCHER_NOW pins the clock, but this database runs on the real clock: only a "
    "database created as a demo or test database (`dispatcher db init --simulated-clock`, "
    "`dispatcher demo`) honours it; unset DISPATCHER_NOW"
)
BEGIN_ATTEMPTS = 4  # each waits up to the busy timeout (5 s) for the write lock
BEGIN_BACKOFF_S = 0.05
LOCK_TIMEOUT = "20s"  # PostgreSQL: a writer waits this long for its site's chain, then "busy"

SCOPE_SQL = text(
    "SELECT set_config('app.tenant', :tenant, true), set_config('app.site', :site, true), "
    "set_config('lock_timeout', :lock_timeout, true)"
)
GRANTED_SQL = text("SELECT dispatcher_scope_granted()")
ALL_SITES_SQL = text("SELECT set_config('app.all_sites', 'on', true)")
ALL_SITES_GRANTED_SQL = text("SELECT dispatcher_all_sites()")
PLATFORM_LOGIN_SQL = text("SELECT dispatcher_platform_login()")


def translate_database_error(exc: DBAPIError) -> DispatcherError:
    """Driver errors become ours, with a sentence a dispatcher can act on."""
    original = exc.orig
    message = (str(original) if original is not None else str(exc)).strip()
    return database_error(
        message.splitlines()[0] if message else message,
        integrity=isinstance(exc, IntegrityError),
        operational=isinstance(exc, OperationalError),
        sqlstate=getattr(original, "sqlstate", None),
    )


def os_account() -> str:
    """The operating-system account running this process, by its effective user id: not the
    LOGNAME or USER of the environment, which whoever starts the process sets to any name. Where
    there is no passwd database (Windows), the environment's name is all there is."""
    try:
        import pwd
    except ImportError:  # Windows: the environment's name is all there is
        try:
            return getpass.getuser()
        except (OSError, KeyError):
            return "unknown"
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without a passwd entry (a container's --user): the uid, not LOGNAME
        return f"uid {uid}"


class UnitOfWork:
    """The repositories of one tenant/site over one connection and transaction."""

    audit_log: AuditLog  # this site's chain
    tenant_log: AuditLog  # the tenant's registry chain (site "*")
    platform_log: AuditLog  # the platform's chain ("*", "*")
    database: DatabaseFacts
    sites: SiteRepository
    runs: RunRepository
    users: UserRepository
    decisions: DecisionRepository
    kill_switch: KillSwitchLog
    repairs: RepairRepository
    queries: ReadQueries

    def __init__(
        self,
        engine: Engine,
        tenant: str,
        site: str,
        clock: Clock | None = None,
        *,
        write: bool,
        simulated: bool | None = None,
        platform: bool = False,
        registry: bool = False,
    ) -> None:
        """`clock` pins the time (DISPATCHER_NOW, the demo's script, tests); the database
        honours it only if it was created with a simulated clock. `simulated` states that
        answer instead of reading it (a database being created as a simulated one). A unit
        with `platform` writes the platform's chain (the global kill switch): on PostgreSQL it
        holds that chain's lock alone, while every other writer shares it, so no publish, lock
        or export overlaps a change of the global switch. A unit with `registry` (or `platform`)
        writes the tenant's user registry chain: it holds that chain's lock alone, while every
        other writer of the tenant shares it, so no decision reads a registry that changes before
        it commits (the `seen` tips its event records are the state it was judged on)."""
        self.engine = engine
        self.tenant = tenant
        self.site = site
        self.dialect = engine.dialect.name
        self._clock = clock
        self._simulated = simulated
        self._write = write
        self._committed = False
        self._platform = platform
        self._registry = registry or platform
        self._login: dict[str, str] | None = None
        # PostgreSQL writers: the shared chains' tips when the transaction began, and which of
        # them this unit holds alone (see shared_tip).
        self._begin_tips: dict[str, int] | None = None
        self._alone: dict[str, bool] = {}

    def now(self) -> datetime:
        """The command's clock: real time, or the pinned time on a simulated database."""
        if self._clock is None:
            return datetime.now(UTC)
        if self._simulated is None:
            self._simulated = self.clock_is_simulated()
        if not self._simulated:
            raise InvalidInput(REAL_CLOCK_ONLY)
        return self._clock()

    def clock_is_simulated(self) -> bool:
        """Whether this database was created as a demo/test database: its flag is set and
        the platform chain's intact database.create event says so."""
        found = self.database.flag("clock")
        if found is None or found[0] != SIMULATED:
            return False
        event = self.platform_log.event(found[1])
        return (
            event is not None
            and event.intact
            and event.action == "database.create"
            and event.detail.get("clock") == SIMULATED
        )

    def check_append(self, log: AuditLog) -> None:
        """Before appending to a chain: this unit writes only its own site's, its tenant's
        registry's and the platform's chains, and on PostgreSQL the shared two only when it was
        built to hold their locks alone (taken at BEGIN by `dispatcher_lock_chains`; SQLite's
        BEGIN IMMEDIATE serialises every writer)."""
        if log.chain not in ((self.tenant, self.site), tenant_chain(self.tenant), PLATFORM_CHAIN):
            raise AssertionError(f"a unit of {self.tenant}/{self.site} writes only its chains")
        if self.dialect == "sqlite":
            return
        if log.chain == PLATFORM_CHAIN and not self._platform:
            raise AssertionError("a unit writing the platform chain needs platform=True")
        if log.chain == tenant_chain(self.tenant) and not self._registry:
            raise AssertionError("a unit writing the registry chain needs registry=True")

    @property
    def connection(self) -> Connection:
        """This transaction's connection (for maintenance and tests; services use the
        repositories)."""
        return self._connection

    # --- the transaction --------------------------------------------------------------------

    def __enter__(self) -> Self:
        for attempt in range(BEGIN_ATTEMPTS):
            try:
                self._begin()
                break
            except DatabaseBusy:
                if attempt == BEGIN_ATTEMPTS - 1:
                    raise
                # Waiting writers back off by doubling waits with jitter, so they do not wake
                # up together; each attempt already waited up to the busy timeout.
                time.sleep(BEGIN_BACKOFF_S * 2**attempt * (1 + random.random()))
        self._committed = False
        self._bind(self._connection)
        return self

    def _begin(self) -> None:
        bind = self.engine
        if self._write and self.dialect == "sqlite":
            bind = self.engine.execution_options(begin_mode="IMMEDIATE")
        try:
            connection = bind.connect()
        except DBAPIError as exc:
            raise self._opening_error(exc) from None
        if self.dialect == "postgresql":
            # Every transaction of this connection, also one begun by a read after commit().
            event.listen(connection, "begin", self._scope_transaction)
        try:
            connection.begin()
        except DBAPIError as exc:
            connection.close()
            raise self._opening_error(exc) from None
        except DispatcherError:
            connection.close()
            raise
        self._connection = connection

    def _opening_error(self, exc: DBAPIError) -> DispatcherError:
        database = self.engine.url.database
        if self.dialect == "sqlite" and database:
            reason = unwritable_reason(Path(database))
            if reason is not None:
                return DatabaseUnavailable(
                    f"Cannot open database {database}: {exc.orig} ({reason})"
                )
        return translate_database_error(exc)

    def _scope_transaction(self, connection: Connection) -> None:
        scope = {"tenant": self.tenant, "site": self.site, "lock_timeout": LOCK_TIMEOUT}
        connection.execute(SCOPE_SQL, scope)
        if not connection.execute(GRANTED_SQL).scalar():
            login = connection.execute(text("SELECT session_user")).scalar()
            raise DatabaseUnavailable(
                f"Database login {login} may not act for {self.tenant}/{self.site}: the DBA "
                "binds logins to sites in site_logins (docs/deployment.md)"
            )
        if self._write and not self._committed:
            # The site's chain alone; the registry's and the platform's shared, or alone for a
            # change of them. The database takes them, with keys no other site can compute. A
            # depot's login asking to change them takes them shared: the service refuses it,
            # recorded in the site's own chain, before anything shared is written.
            registry, platform = self._registry, self._platform
            if (registry or platform) and not connection.execute(PLATFORM_LOGIN_SQL).scalar():
                registry = platform = False
            connection.execute(select(func.dispatcher_lock_chains(registry, platform)))
            self._alone = {"registry": registry, "platform": platform}
            self._begin_tips = {
                name: 0 if tip is None else tip[0]
                for name, tip in (
                    ("registry", AuditLog(connection, *tenant_chain(self.tenant)).tip()),
                    ("platform", AuditLog(connection, *PLATFORM_CHAIN).tip()),
                )
            }

    def shared_tip(self, name: str, tip: int) -> int:
        """The tip of a shared chain (`registry`, `platform`) that an event records as read:
        `tip`, its tip now. On PostgreSQL nobody holds those chains for a transaction's length
        (a depot's open transaction would hold off a kill switch): a writer's reads are as of
        the tips when its transaction began, and the database checks at commit that they have
        not moved since. A change in between makes the command stop here, before it writes on
        a state it did not read. A chain this unit holds alone moves only by its own writes."""
        if self._begin_tips is None or self._alone.get(name):
            return tip
        began = self._begin_tips[name]
        if tip != began:
            what = "user registry" if name == "registry" else "platform (kill switch)"
            raise DatabaseBusy(
                f"The {what} changed while this command ran (event #{began}, now #{tip}); "
                "nothing was written: try again"
            )
        return tip

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """What the block writes is undone if it raises (the rest of the transaction stays).
        A block that commits the whole unit (a refusal recorded on the way) ends it there."""
        nested = self._connection.begin_nested()
        try:
            yield
        except BaseException:
            if nested.is_active:
                nested.rollback()
            raise
        if nested.is_active:
            nested.commit()

    def commit(self) -> None:
        try:
            self._connection.commit()
        except DBAPIError as exc:
            self._connection.rollback()
            raise translate_database_error(exc) from None
        self._committed = True
        if self.dialect == "sqlite":  # reads after the commit need no write lock
            self._connection.execution_options(begin_mode="DEFERRED")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back what is not committed, always close; a driver error leaves as ours."""
        try:
            if self._connection.in_transaction():
                self._connection.rollback()
        except DBAPIError:
            pass  # after an I/O error SQLite may have rolled back itself; keep the first error
        finally:
            self._connection.close()
        if isinstance(exc, DBAPIError):
            raise translate_database_error(exc) from None

    # --- repositories -----------------------------------------------------------------------

    def _bind(self, connection: Connection) -> None:
        scope = (connection, self.tenant, self.site)
        self.audit_log = AuditLog(*scope)
        self.tenant_log = AuditLog(connection, *tenant_chain(self.tenant))
        self.platform_log = AuditLog(connection, *PLATFORM_CHAIN)
        self.database = DatabaseFacts(*scope)
        self.sites = SiteRepository(*scope)
        self.runs = RunRepository(*scope)
        self.users = UserRepository(*scope)
        self.decisions = DecisionRepository(*scope)
        self.kill_switch = KillSwitchLog(*scope)
        self.repairs = RepairRepository(*scope)
        self.queries = ReadQueries(*scope)

    def widen_to_all_sites(self) -> bool:
        """Let the rest of this transaction read every tenant's sites; whether it may. SQLite:
        one file, no policies, yes. PostgreSQL: only a login in dispatcher_platform."""
        if self.dialect != "postgresql":
            return True
        self._connection.execute(ALL_SITES_SQL)
        return bool(self._connection.execute(ALL_SITES_GRANTED_SQL).scalar())

    def registry_log(self, tenant: str) -> AuditLog:
        """Another tenant's registry chain, for reading (on PostgreSQL row-level security shows
        it only to a login that may act for that tenant: else it reads as empty)."""
        return AuditLog(self._connection, *tenant_chain(tenant))

    def platform_login(self) -> bool:
        """Whether this database login may write what is tenant-wide or platform-wide (the
        user registry, site settings, the global kill switch). SQLite: one file, yes.
        PostgreSQL: only a login in dispatcher_platform; a depot's login acts for its site."""
        if self.dialect != "postgresql":
            return True
        return bool(self._connection.execute(PLATFORM_LOGIN_SQL).scalar())

    def login(self) -> dict[str, str]:
        """Who runs this command, as each event records it: on PostgreSQL the database login
        (`session_user`, which the database checks again when it appends the event); on SQLite
        the operating-system account and host, as the process reports them (anyone who can
        write the file can claim any: the weaker guarantee, docs/security.md)."""
        if self._login is None:
            if self.dialect == "postgresql":
                login = self._connection.execute(text("SELECT session_user")).scalar()
                self._login = {"session_login": str(login)}
            else:
                self._login = {"session_login": os_account(), "session_host": socket.gethostname()}
        return dict(self._login)

    def session_login(self) -> str:
        """The login running this command (see `login`)."""
        return self.login()["session_login"]

    def queries_for(self, tenant: str, site: str) -> ReadQueries:
        """Read queries for another site, in this transaction (after `widen_to_all_sites`)."""
        return ReadQueries(self._connection, tenant, site)
