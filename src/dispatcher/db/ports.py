"""What services see of the database: protocols only, importable without SQLAlchemy.

Services are typed against these, so importing a service never loads the ORM; the concrete
units of work (`unit_of_work.SqlUnitOfWork`, `lite.LiteUnitOfWork`) are built by the CLI wiring.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

if TYPE_CHECKING:
    from dispatcher.db.chain_reads import ChainReads
    from dispatcher.db.queries import ReadQueries
    from dispatcher.db.repositories import (
        AuditLog,
        DecisionRepository,
        KillSwitchLog,
        RepairRepository,
        RunRepository,
        SiteRepository,
        UserRepository,
    )
    from dispatcher.domain.audits import AuditResult
    from dispatcher.domain.model import WeekInput
    from dispatcher.domain.records import RunRecord, VersionRecord


class Transaction(Protocol):
    """Scope, clock, commit; rolls back on leaving unless committed."""

    tenant: str
    site: str

    def now(self) -> datetime: ...
    def commit(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class UnitOfWork(Transaction, Protocol):
    """The full unit of work: every repository."""

    audit_log: AuditLog
    sites: SiteRepository
    runs: RunRepository
    users: UserRepository
    decisions: DecisionRepository
    kill_switch: KillSwitchLog
    repairs: RepairRepository
    queries: ReadQueries

    def widen_to_all_sites(self) -> bool: ...
    def queries_for(self, tenant: str, site: str) -> ReadQueries: ...


class VerifiedRuns(Protocol):
    """Reading a run back and stamping its re-verification (what show-run needs)."""

    def get(self, run_id: str) -> RunRecord | None: ...
    def week_input(self, run: RunRecord, version: int) -> WeekInput: ...
    def version(self, run: RunRecord, version: int) -> VersionRecord | None: ...
    def versions(self, run: RunRecord) -> list[VersionRecord]: ...
    def plan(self, version_pk: int) -> Mapping[str, str]: ...
    def audit_results(self, version_pk: int) -> tuple[AuditResult, ...]: ...
    def record_verification(
        self, version_pk: int, status: str, reason: str, at: datetime
    ) -> None: ...


class RunReadingUnit(Transaction, Protocol):
    """A unit of work narrowed to runs and read queries: served without the ORM on SQLite."""

    @property
    def runs(self) -> VerifiedRuns: ...
    @property
    def queries(self) -> ReadQueries: ...


class ChainReadingUnit(Transaction, Protocol):
    """A unit of work narrowed to reading the audit chain back (audit verify)."""

    @property
    def audit_log(self) -> ChainReads: ...
