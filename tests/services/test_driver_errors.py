"""Driver errors as the sentences a dispatcher reads (db/driver_errors.py)."""

from __future__ import annotations

from dispatcher.db.driver_errors import database_error
from dispatcher.domain.errors import DatabaseBusy


def test_a_decision_overtaken_at_commit_says_what_moved() -> None:
    said = database_error(
        "audit_events: the user registry changed while this command ran (it read event #3, "
        "the tip is #4); nothing was written",
        integrity=False,
        operational=True,
        sqlstate="40001",
    )
    assert isinstance(said, DatabaseBusy)
    assert str(said) == (
        "The user registry changed while this command ran (it read event #3, the tip is #4); "
        "nothing was written: try again"
    )


def test_another_serialization_failure_is_the_busy_line() -> None:
    said = database_error("could not serialize access", integrity=False, operational=True,
                          sqlstate="40001")  # fmt: skip
    assert isinstance(said, DatabaseBusy) and str(said).startswith("Database is busy")
