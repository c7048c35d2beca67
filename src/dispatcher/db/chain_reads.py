"""Reading the audit chain back for verification, in plain SQL over an executor.

On SQLite the store itself compares every column with the hashed body: it rebuilds the body
from the columns with `json_object` (keys in the canonical order) and compares the text, so
verification only has to hash each stored body in Python. Other backends compare in Python.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from dispatcher.db.queries import Streamer
from dispatcher.domain.events import (
    BODY_FIELDS,
    BODY_VERSION,
    SealedRow,
    StoredEvent,
    columns_agree,
)

EVENT_COLUMN = {"tenant": "tenant_id", "site": "site_id"}  # body field -> column, where they differ
TYPED_FIELDS = [name for name in BODY_FIELDS if name != "detail"]
STORED_COLUMNS = ", ".join(
    [*(EVENT_COLUMN.get(name, name) for name in TYPED_FIELDS), "detail", "hash", "body"]
)
SCOPE = "tenant_id = :tenant AND site_id = :site"


def _rebuilt_body() -> str:
    """SQLite's `json_object(...)` over the columns, keys sorted like the canonical body."""
    parts = []
    for name in sorted([*BODY_FIELDS, "v"]):
        if name == "v":
            value = str(BODY_VERSION)
        elif name == "detail":
            value = "json(detail)"
        else:
            value = EVENT_COLUMN.get(name, name)
        parts.append(f"'{name}', {value}")
    return f"json_object({', '.join(parts)})"


SQLITE_SEALED_ROWS = (
    "SELECT seq, prev_hash, hash, body, "
    f"CASE WHEN json_valid(detail) THEN body = {_rebuilt_body()} ELSE 0 END "
    f"FROM audit_events WHERE {SCOPE} ORDER BY seq"
)


def stored_event(row: Sequence[Any]) -> StoredEvent:
    """A StoredEvent from a row of STORED_COLUMNS."""
    columns = dict(zip(TYPED_FIELDS, row[: len(TYPED_FIELDS)], strict=True))
    detail, sealed, body = row[len(TYPED_FIELDS) :]
    return StoredEvent(columns["seq"], columns, detail, columns["prev_hash"], sealed, body)


class ChainReads:
    """One site's chain, streamed in seq order."""

    def __init__(self, stream: Streamer, scope: tuple[str, str], *, dialect: str) -> None:
        self._stream = stream
        self._scope = {"tenant": scope[0], "site": scope[1]}
        self._dialect = dialect

    def sealed_rows(self) -> Iterator[SealedRow]:
        """(seq, prev_hash, hash, body, columns agree with the body) for every event."""
        if self._dialect == "sqlite":
            for row in self._stream(SQLITE_SEALED_ROWS, self._scope):
                yield row[0], row[1], row[2], row[3], row[4]
            return
        sql = f"SELECT {STORED_COLUMNS} FROM audit_events WHERE {SCOPE} ORDER BY seq"
        for row in self._stream(sql, self._scope):
            event = stored_event(row)
            yield event.seq, event.prev_hash, event.hash, event.body, columns_agree(event)

    def stored_event(self, seq: int) -> StoredEvent | None:
        sql = f"SELECT {STORED_COLUMNS} FROM audit_events WHERE {SCOPE} AND seq = :seq"
        rows = list(self._stream(sql, {**self._scope, "seq": seq}))
        return stored_event(rows[0]) if rows else None
