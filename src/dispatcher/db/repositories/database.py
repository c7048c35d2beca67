"""Facts about the database itself (the simulated clock of a demo or test database)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select

from dispatcher.db.repositories.base import Repository
from dispatcher.db.tables import database_flags

f = database_flags.c


class DatabaseFacts(Repository):
    def flag(self, name: str) -> tuple[str, int] | None:
        """(value, seq of its platform-chain event) of a flag, if set."""
        row = self._connection.execute(select(f.value, f.event_seq).where(f.name == name)).first()
        return None if row is None else (row.value, row.event_seq)

    def names(self) -> set[str]:
        return set(self._connection.scalars(select(f.name)))

    def set_flag(self, name: str, value: str, event_seq: int, at: datetime) -> None:
        """Set once, at creation (the database refuses it once any site has events)."""
        self._connection.execute(
            insert(database_flags).values(name=name, value=value, event_seq=event_seq, set_at=at)
        )
