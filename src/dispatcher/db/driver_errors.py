"""Driver errors of both backends (sqlite3, psycopg via SQLAlchemy) as ours: one sentence a
dispatcher can act on, and the exit code that goes with it."""

from __future__ import annotations

from dispatcher.domain.errors import (
    DatabaseBusy,
    DatabaseUnavailable,
    DispatcherError,
    IntegrityDamage,
    InvalidInput,
)

# PostgreSQL error classes worth their own sentence (SQLSTATE codes).
PG_BUSY = {"55P03", "40001", "40P01"}  # lock timeout, serialization failure, deadlock
PG_OUT_OF_RANGE = {"22003", "22P02"}  # numeric value out of range, invalid text for a number


def database_error(
    text: str, *, integrity: bool, operational: bool, sqlstate: str | None = None
) -> DispatcherError:
    """A driver error as ours, with a sentence a dispatcher can act on."""
    lowered = text.lower()
    if sqlstate == "40001" and "changed while this command ran" in text:
        # the database's check at commit (migration c7a3b9e5f016): say what moved
        said = text.removeprefix("audit_events: ")
        return DatabaseBusy(said[0].upper() + said[1:] + ": try again")
    if sqlstate in PG_BUSY:
        return DatabaseBusy("Database is busy (another dispatcher command is writing); try again")
    if sqlstate in PG_OUT_OF_RANGE:
        return InvalidInput(f"Value refused by the database: {text}")
    if sqlstate is not None and sqlstate[:2] in ("08", "57"):
        return DatabaseUnavailable(f"Database connection lost: {text}")
    if sqlstate == "42501":
        return IntegrityDamage(
            f"Database refused the change: {text} (this login lacks the right; "
            "see docs/deployment.md)"
        )
    if operational and "locked" in lowered:
        return DatabaseBusy("Database is busy (another dispatcher command is writing); try again")
    if "disk is full" in lowered:
        return IntegrityDamage("Database disk is full; nothing was changed: free space, try again")
    if "disk i/o error" in lowered:
        return IntegrityDamage(
            "Database could not be written (disk I/O error: disk full or failing?); "
            "nothing was changed"
        )
    if integrity:
        return IntegrityDamage(f"Database refused the change: {text}")
    if operational and "readonly" in text.replace(" ", "").lower():
        return IntegrityDamage(f"Database is read-only: {text}")
    return IntegrityDamage(f"Database error: {text}")
