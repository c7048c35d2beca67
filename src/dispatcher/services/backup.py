"""Online backup and restore of a SQLite database, each proven by the checks an auditor runs.

Both directions use SQLite's backup API, which copies a consistent snapshot page by page while
other connections keep working, and writes into the destination through a connection of its
own (so a restore replaces a live WAL database safely). A copy counts only when it passes:
SQLite's integrity check, the newest schema revision, the guard triggers exactly as the
migrations installed them (a file whose guards were dropped or joined by others is no backup),
every chain, and the evidence of the newest runs of every site. A restore that would discard
events the live database holds (a backup older than the trail) is refused unless asked for.
"""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from dispatcher.db.revision import SCHEMA_HEAD
from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.defaults import readonly_uri
from dispatcher.domain.errors import IntegrityDamage, InvalidInput
from dispatcher.services.audit import verify_audit_chain
from dispatcher.services.evidence import verify_version
from dispatcher.services.files import check_new_file, write_new_file_with
from dispatcher.services.review import load_run, load_version

UnitsFor = Callable[[Path, str, str], UnitOfWork]  # a read unit of work over a database file


@dataclass(frozen=True)
class ChainState:
    tenant: str
    site: str
    events: int
    tip: str
    problem: str | None


@dataclass(frozen=True)
class CopyCheck:
    """What a backup or restored database was found to hold."""

    path: str
    integrity: str
    revision: str | None
    runs: int
    chains: list[ChainState] = field(default_factory=list)
    evidence_checked: int = 0
    evidence_problems: list[str] = field(default_factory=list)
    guards: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        found = [] if self.integrity == "ok" else [f"integrity check: {self.integrity}"]
        if self.revision != SCHEMA_HEAD:
            found.append(f"schema revision {self.revision} is not {SCHEMA_HEAD}")
        found += [f"guard {line}" for line in self.guards]
        found += [f"audit chain {c.tenant}/{c.site}: {c.problem}" for c in self.chains if c.problem]
        return found + self.evidence_problems

    @property
    def ok(self) -> bool:
        return not self.problems


def _sqlite_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise InvalidInput(f"{what} {path} not found")
    with path.open("rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            raise InvalidInput(f"{what} {path} is not a SQLite database")


def _copy(source: Path, target: Path, shown: Path | None = None) -> None:
    try:
        with (
            closing(sqlite3.connect(readonly_uri(source), uri=True, timeout=30)) as src,
            closing(sqlite3.connect(target, timeout=30)) as dst,
        ):
            src.backup(dst)
    except sqlite3.Error as exc:
        raise IntegrityDamage(f"Copy from {source} to {shown or target} failed: {exc}") from None


def _copy_to_new_file(source: Path, target: Path, what: str) -> None:
    """Back up into a temporary file beside `target`, then link it into place: a name taken
    meanwhile (a symbolic link too) is never written through or replaced. The copy gets the
    permission bits of the database it copies."""

    def fill(temp: Path) -> None:
        try:
            _copy(source, temp, shown=target)
        except BaseException:
            Path(f"{temp}-journal").unlink(missing_ok=True)  # no half-written copy stays
            raise

    write_new_file_with(target, fill, stat.S_IMODE(source.stat().st_mode), what)


def check_copy(path: Path, units: UnitsFor, evidence_runs: int = 5) -> CopyCheck:
    """Integrity, revision, every chain, and the evidence of the newest runs of every site."""
    with closing(sqlite3.connect(readonly_uri(path), uri=True)) as con:
        integrity = "; ".join(row[0] for row in con.execute("PRAGMA integrity_check"))
        try:
            revision = con.execute("SELECT version_num FROM alembic_version").fetchone()[0]
            scopes = con.execute(
                "SELECT DISTINCT tenant_id, site_id FROM audit_events UNION "
                "SELECT tenant_id, site_id FROM sites ORDER BY 1, 2"
            ).fetchall()

            runs = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        except (sqlite3.Error, TypeError):
            return CopyCheck(str(path), integrity, None, 0)
    if revision != SCHEMA_HEAD:
        return CopyCheck(str(path), integrity, revision, runs)
    from dispatcher.db.guards import check as check_guards

    whole = units(path, "*", "*")
    with whole:
        guard_problems = check_guards(whole.connection)
    chains, checked, problems = [], 0, []
    for tenant, site in scopes:
        report = verify_audit_chain(units(path, tenant, site))
        problem = None if report.ok else f"broken at seq {report.broken_seq}: {report.problem}"
        chains.append(ChainState(tenant, site, report.count, report.tip_hash, problem))
        unit = units(path, tenant, site)
        with unit:
            newest = unit.queries.list_runs(limit=evidence_runs) if evidence_runs else []
            for summary in newest:
                run = load_run(unit, summary.run_id)
                verification = verify_version(unit, run, load_version(unit, run))
                checked += 1
                if not verification.ok:
                    problems.append(
                        f"evidence of {tenant}/{site} {run.run_id} v{run.current_version}: "
                        + "; ".join(verification.problems)
                    )
    return CopyCheck(
        str(path), integrity, revision, runs, chains, checked, problems, guard_problems
    )


def chain_tips(path: Path) -> dict[tuple[str, str], tuple[int, str]] | None:
    """(tenant, site) -> (seq, hash) of every chain's newest event, or None when the file
    cannot be read as a dispatcher database (a damaged live database being replaced)."""
    try:
        with closing(sqlite3.connect(readonly_uri(path), uri=True)) as con:
            rows = con.execute(
                "SELECT tenant_id, site_id, seq, hash FROM audit_events a WHERE seq = "
                "(SELECT MAX(seq) FROM audit_events b WHERE b.tenant_id = a.tenant_id "
                "AND b.site_id = a.site_id)"
            ).fetchall()
    except sqlite3.Error:
        return None
    return {(tenant, site): (seq, tip) for tenant, site, seq, tip in rows}


def _holds(path: Path, chain: tuple[str, str], seq: int, tip: str) -> bool:
    with closing(sqlite3.connect(readonly_uri(path), uri=True)) as con:
        found = con.execute(
            "SELECT hash FROM audit_events WHERE tenant_id = ? AND site_id = ? AND seq = ?",
            (*chain, seq),
        ).fetchone()
    return found is not None and found[0] == tip


def discarded_events(source: Path, target: Path) -> list[str]:
    """Chains of the live database whose newest event the backup does not hold: what a
    restore would discard, each as `TENANT/SITE: events after #N (live tip #M)`."""
    live = chain_tips(target)
    if not live:
        return []
    backed = chain_tips(source) or {}
    lines = []
    for chain, (seq, tip) in sorted(live.items()):
        if _holds(source, chain, seq, tip):
            continue
        kept = backed.get(chain, (0, ""))[0]
        lines.append(f"{chain[0]}/{chain[1]}: events after #{min(kept, seq)} (live tip #{seq})")
    return lines


def backup(source: Path, target: Path, units: UnitsFor, evidence_runs: int = 5) -> CopyCheck:
    """Copy the live database to a new file, then check the copy."""
    _sqlite_file(source, "Database")
    check_new_file(target, "backup file")
    _copy_to_new_file(source, target, "backup file")
    return check_copy(target, units, evidence_runs)


def restore(
    source: Path,
    target: Path,
    units: UnitsFor,
    *,
    force: bool,
    discard_newer: bool = False,
    evidence_runs: int = 5,
) -> CopyCheck:
    """Check a backup, then copy it over (or into) the database; the database is untouched
    unless the backup passes every check and, when it lacks events the live database holds,
    the caller accepts losing them (`discard_newer`)."""
    _sqlite_file(source, "Backup")
    if source.resolve() == target.resolve():
        raise InvalidInput("The backup and the database are the same file")
    checked = check_copy(source, units, evidence_runs)
    if not checked.ok:
        raise IntegrityDamage(
            f"Backup {source} fails its checks ({checked.problems[0]}); nothing restored"
        )
    if target.exists() and not force:
        raise InvalidInput(f"{target} exists; add --force to replace it with the backup")
    lost = discarded_events(source, target) if target.exists() else []
    if lost and not discard_newer:
        raise InvalidInput(
            f"The backup is older than the database's audit trail ({'; '.join(lost)}): "
            "restoring would discard those events; add --discard-newer-events to do it anyway"
        )
    if target.exists():
        _copy(source, target)  # into the database itself, page by page, through SQLite
    else:
        _copy_to_new_file(source, target, "--db")
    return check_copy(target, units, evidence_runs)
