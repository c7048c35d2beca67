"""The append-only event chain of one tenant/site: append, tip, and reading it back."""

from __future__ import annotations

import functools
import hashlib
import json
import operator
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Text, case, cast, func, insert, literal, select
from sqlalchemy.exc import OperationalError

from dispatcher.db.repositories.base import Repository
from dispatcher.db.tables import audit_events
from dispatcher.domain.events import (
    BODY_FIELDS,
    BODY_VERSION,
    INTEGER_FIELDS,
    AuditEvent,
    ChainEvent,
    SealedRow,
    StoredEvent,
    body_from_columns,
)
from dispatcher.domain.hashing import HASH_PREFIX, canonical_json

e = audit_events.c
# The typed columns of an event, in the order body_from_columns takes them (tenant/site are
# the chain's and are compared like the others).
TYPED = (
    e.seq,
    e.occurred_at,
    e.tenant_id,
    e.site_id,
    e.action,
    e.outcome,
    e.actor_id,
    e.actor_role,
    e.reason,
    e.run_id,
    e.plan_version,
    e.evidence_hash,
)
FIELD = {"tenant_id": "tenant", "site_id": "site"}  # column -> body field, where they differ
STREAM_ROWS = 5000
# Ordered by `seq + 0`, not `seq`: SQLite (no statistics) otherwise walks the primary key, which
# gives the order for free, through every event of the chain to find the few of some actions
# (230 ms at 300,000 events for the site's settings). With the expression it searches the
# action index and sorts the handful it finds.
BY_SEQ = e.seq + 0
ADOPT = "state.adopt"  # domain/trail.ADOPT (the repositories do not import the domain's rules)


class AuditLog(Repository):
    """One chain: a site's (tenant, site), a tenant's registry (tenant, '*') or the platform's
    ('*', '*'). Append, tip and reads, nothing more: no event is ever changed."""

    @property
    def chain(self) -> tuple[str, str]:
        return self._tenant, self._site

    def _chain(self) -> Any:
        return self._in_site(audit_events)

    def tip(self) -> tuple[int, str, str] | None:
        """(seq, hash, occurred_at) of the newest event."""
        row = self._connection.execute(
            select(e.seq, e.hash, e.occurred_at)
            .where(self._chain())
            .order_by(e.seq.desc())
            .limit(1)
        ).first()
        return None if row is None else (row.seq, row.hash, row.occurred_at)

    def event(self, seq: int | None) -> ChainEvent | None:
        """The event at `seq`, parsed, and whether it is intact where it stands: its hash is
        its body's, its columns say what the body says, and the next event links to it (two
        primary-key reads: what a gate can afford for every fact it trusts)."""
        if seq is None:
            return None
        row = self._connection.execute(
            select(*TYPED, e.detail, e.prev_hash, e.hash, e.body).where(self._chain(), e.seq == seq)
        ).first()
        if row is None:
            return None
        following = self._connection.execute(
            select(e.prev_hash).where(self._chain(), e.seq == seq + 1)
        ).scalar()
        rebuilt = _rebuilt(row._mapping)
        try:
            body = json.loads(row.body)
        except (ValueError, RecursionError):
            return ChainEvent(seq, {}, intact=False)
        digest = HASH_PREFIX + hashlib.sha256(row.body.encode("utf-8")).hexdigest()
        intact = (
            rebuilt == row.body
            and digest == row.hash
            and (following is None or following == row.hash)
            and isinstance(body, dict)
        )
        if intact and row.action == ADOPT:
            intact = self._adoption_in_place(seq)
        return ChainEvent(seq, body if isinstance(body, dict) else {}, intact=intact)

    def _adoption_in_place(self, seq: int) -> bool:
        """Whether a `state.adopt` event stands where only the upgrade to bound state puts
        them: in the chain's first block of adoptions, with nothing between the block's start
        and it: at the start of a tenant's or the platform's chain, after the older release's
        events in a site's chain (one that began under bound state opens with site.create and
        has nothing to adopt). Elsewhere it would vouch for rows nobody authorized
        (a downgrade and upgrade, a forged event): `audit verify --state` names it too. A
        range read over the block, which holds one event per adopted row."""
        first = self._connection.execute(
            select(e.seq)
            .where(self._chain(), e.run_id.is_(None), e.action == ADOPT)
            .order_by(e.seq)
            .limit(1)
        ).scalar()
        if first is None:
            return False
        between = self._connection.execute(
            select(e.seq)
            .where(self._chain(), e.seq.between(first, seq), e.action != ADOPT)
            .limit(1)
        ).first()
        if between is not None:
            return False
        if "*" in self.chain:  # the tenant's and platform's chains began with bound state
            return bool(first == 1)
        # A site's chain that began under bound state opens with its site.create.
        opening = self._connection.execute(
            select(e.action).where(self._chain(), e.seq == 1)
        ).scalar()
        return opening != "site.create"

    def latest(self, actions: Iterable[str]) -> int | None:
        """The seq of the newest allowed event of `actions` (an index search)."""
        found = self._connection.execute(
            select(e.seq)
            .where(self._chain(), e.action.in_(list(actions)), e.outcome == "allowed")
            .order_by(BY_SEQ.desc())
            .limit(1)
        ).scalar()
        return None if found is None else int(found)

    def allowed(
        self,
        actions: Iterable[str],
        *,
        run_id: str | None = None,
        after: int | None = None,
    ) -> list[ChainEvent]:
        """Allowed events of `actions` (of one run, or after a seq), oldest first, parsed."""
        statement = select(e.seq, e.body).where(
            self._chain(), e.action.in_(list(actions)), e.outcome == "allowed"
        )
        if run_id is not None:
            statement = statement.where(e.run_id == run_id)
        if after is not None:
            statement = statement.where(e.seq > after)
        rows = self._connection.execute(statement.order_by(BY_SEQ))
        return [ChainEvent(row.seq, _parsed(row.body) or {}, intact=True) for row in rows]

    def bodies(self) -> Iterator[ChainEvent]:
        """Every event of the chain in order, parsed (the fold of `audit verify --state`)."""
        result = self._connection.execute(
            select(e.seq, e.body)
            .where(self._chain())
            .order_by(e.seq)
            .execution_options(yield_per=STREAM_ROWS)
        )
        try:
            for row in result:
                body = _parsed(row.body)
                # `intact` here: the body is a JSON object this tool reads (audit verify --state
                # names one that is not; a guard refuses it on insert).
                yield ChainEvent(row.seq, body or {}, intact=body is not None)
        finally:
            result.close()

    def append(self, event: AuditEvent) -> None:
        """Store a sealed event at the tip. On PostgreSQL the database appends it
        (`dispatcher_append_event`: columns from the body, tip, server time, its own hash, the
        login), and an application login has no INSERT on the table."""
        detail = canonical_json(event.detail)
        if self._connection.dialect.name == "postgresql":
            sealed = self._connection.execute(
                select(func.dispatcher_append_event(event.body, detail))
            ).scalar()
            if sealed != event.hash:  # one canonical form on both sides: never expected
                raise RuntimeError(f"the database hashed event #{event.seq} as {sealed}")
            return
        self._connection.execute(
            insert(audit_events).values(
                tenant_id=event.tenant,
                site_id=event.site,
                seq=event.seq,
                occurred_at=event.occurred_at,
                action=event.action,
                outcome=event.outcome,
                actor_id=event.actor_id,
                actor_role=event.actor_role,
                reason=event.reason,
                run_id=event.run_id,
                plan_version=event.plan_version,
                evidence_hash=event.evidence_hash,
                detail=detail,
                prev_hash=event.prev_hash,
                hash=event.hash,
                body=event.body,
            )
        )

    def sealed_rows(self) -> Iterator[SealedRow]:
        """(seq, prev_hash, hash, body, columns agree with the body, occurred_at) for every
        event, in seq order, streamed: a million events never sit in memory at once.

        The database compares the columns with the body (`_body_rebuilt_in_sql`): reading
        every column into Python a second time cost more than the hashing (issue 20's
        measurements in docs/performance.md). A row it does not find equal is re-read and
        judged by the Python rule (`body_from_columns`), so a row is only called broken by the
        one rule both paths share."""
        agree = (e.body == _body_rebuilt_in_sql(self._connection.dialect.name)).label("agree")
        statement = (
            select(e.seq, e.prev_hash, e.hash, e.body, e.occurred_at, agree)
            .where(self._chain())
            .order_by(e.seq)
            .execution_options(yield_per=STREAM_ROWS)
        )
        result = self._connection.execute(statement)
        try:
            for seq, prev_hash, sealed, body, occurred_at, same in result:
                yield seq, prev_hash, sealed, body, bool(same) or self._agrees(seq), occurred_at
        finally:
            result.close()  # also when the reader stops early (a broken chain)

    def _agrees(self, seq: int) -> bool:
        """Whether the event's columns re-build its body by the Python rule (a row the
        database's comparison did not find equal; never expected on an untouched chain)."""
        row = self._stored_row(seq)
        return row is not None and _rebuilt(row._mapping) == row.body

    def _stored_row(self, seq: int) -> Any:
        """The event's row as stored, or None when there is none or SQLite cannot decode one
        of its columns as UTF-8 (an edit by hand: `audit verify` names it a break)."""
        try:
            return self._connection.execute(
                select(*TYPED, e.detail, e.prev_hash, e.hash, e.body).where(
                    self._chain(), e.seq == seq
                )
            ).first()
        except OperationalError as exc:
            if "could not decode" not in str(exc.orig).lower():
                raise  # a real database error is not a verdict on the chain
            return None

    def stored_event(self, seq: int) -> StoredEvent | None:
        """One event as stored: typed columns, detail text and body (to explain a break)."""
        row = self._stored_row(seq)
        if row is None:
            return None
        values = row._mapping
        columns = {FIELD.get(column.name, column.name): values[column.name] for column in TYPED}
        columns["prev_hash"] = row.prev_hash
        return StoredEvent(row.seq, columns, row.detail, row.prev_hash, row.hash, row.body)


def _rebuilt(values: Any) -> str | None:
    """The body the typed columns of a row (a mapping by column name) re-build, or None when
    one holds what no body can (a NULL where text belongs, a non-integer plan version)."""
    try:
        columns = {FIELD.get(c.name, c.name): _text(values[c.name]) for c in TYPED}
        return body_from_columns(
            **columns, detail=_text(values["detail"]), prev_hash=_text(values["prev_hash"])
        )
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> Any:
    """A column's value as the body holds it: SQLite may hand back the same text as bytes (a
    BLOB), which counts as that text when it is UTF-8 (the database's comparison reads it so)."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _body_rebuilt_in_sql(dialect: str) -> Any:
    """The canonical body (`domain/events.body_from_columns`: sorted keys, no spaces) built by
    the database from the row's columns, so the comparison runs where the rows are. Core
    expressions; NULL for a row whose column cannot be in a body (that row goes to Python)."""
    column = {FIELD.get(c.name, c.name): c for c in (*TYPED, e.detail, e.prev_hash)}
    parts: list[Any] = []
    for position, name in enumerate(sorted((*BODY_FIELDS, "v"))):
        parts.append(literal(("{" if position == 0 else ",") + json.dumps(name) + ":", Text))
        if name == "v":
            parts.append(literal(f"{BODY_VERSION}}}", Text))
        elif name == "detail":  # stored as its canonical text
            parts.append(column[name])
        elif name in INTEGER_FIELDS:
            parts.append(_integer_text(column[name], dialect))
        else:
            parts.append(_json_string(column[name], dialect))
    return functools.reduce(operator.add, parts)


def _json_string(column: Any, dialect: str) -> Any:
    """A text column as a JSON string (or null). SQLite's json_quote and PostgreSQL's to_json
    escape exactly as Python's json (tests compare every code point); the CAST keeps a BLOB
    from stopping the query with an error."""
    if dialect == "sqlite":
        return func.json_quote(cast(column, Text))
    return func.coalesce(cast(func.to_json(column), Text), "null")


def _integer_text(column: Any, dialect: str) -> Any:
    """An integer column as JSON (or null); on SQLite a non-integer value gives NULL."""
    if dialect == "sqlite":
        return case(
            (func.typeof(column) == "integer", cast(column, Text)),
            (column.is_(None), literal("null", Text)),
        )
    return func.coalesce(cast(column, Text), "null")


def _parsed(body: str) -> dict[str, Any] | None:
    """The body as a JSON object, or None for one this tool cannot read."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
