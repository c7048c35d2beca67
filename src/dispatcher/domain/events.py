"""Audit events: the hashed, chained record of every decision and change."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from json.encoder import encode_basestring
from typing import Any

from dispatcher.domain.hashing import GENESIS_HASH, HASH_PREFIX, canonical_json, digest_text
from dispatcher.domain.text import escape_undecodable

BODY_VERSION = 1


class Action(StrEnum):
    RUN_IMPORT = "run.import"
    RUN_SOLVE = "run.solve"
    PUBLISH = "publish"
    LOCK = "lock"
    EXPORT = "export"
    REPAIR_REQUEST = "repair.request"
    REPAIR_PROPOSE = "repair.propose"
    REPAIR_APPLY = "repair.apply"
    REPAIR_REJECT = "repair.reject"
    KILL_SWITCH_ACTIVATE = "kill_switch.activate"
    KILL_SWITCH_DEACTIVATE = "kill_switch.deactivate"
    SITE_CREATE = "site.create"
    SITE_UPDATE = "site.update"
    USER_ADD = "user.add"
    USER_DISABLE = "user.disable"
    USER_UPDATE = "user.update"  # a login linked or unlinked
    SITES_VIEW = "sites.view"
    DATABASE_CREATE = "database.create"
    STATE_ADOPT = "state.adopt"  # appended once by the upgrade to bound state


# The chains beside each site's own: a tenant's registry (site "*") and the platform's ("*", "*").
ANY = "*"
PLATFORM_CHAIN = (ANY, ANY)


def tenant_chain(tenant: str) -> tuple[str, str]:
    return tenant, ANY


class Outcome(StrEnum):
    ALLOWED = "allowed"
    BLOCKED = "blocked"


def format_timestamp(moment: datetime) -> str:
    """UTC `YYYY-MM-DDTHH:MM:SS.ffffffZ`; naive datetimes are refused."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime refused")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# What format_timestamp writes, and nothing else: events are ordered by comparing this text.
TIMESTAMP_FORM = re.compile(
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"\.[0-9]{6}Z"
)


def is_timestamp(text: object) -> bool:
    """Whether `text` is a real moment written as format_timestamp writes it."""
    if not isinstance(text, str) or TIMESTAMP_FORM.fullmatch(text) is None:
        return False
    try:
        parse_timestamp(text)
    except ValueError:  # 2026-02-30
        return False
    return True


def parse_timestamp(text: str) -> datetime:
    """The moment a `format_timestamp` string names (an event's occurred_at)."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class EventDraft:
    """What a service decided; the chain position and hash are added when it is recorded."""

    action: Action
    outcome: Outcome = Outcome.ALLOWED
    actor_id: str | None = None
    actor_role: str | None = None
    reason: str | None = None
    run_id: str | None = None
    plan_version: int | None = None
    evidence_hash: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    occurred_at: str
    tenant: str
    site: str
    action: str
    outcome: str
    actor_id: str | None
    actor_role: str | None
    reason: str | None
    run_id: str | None
    plan_version: int | None
    evidence_hash: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    @property
    def moment(self) -> datetime:
        """When it happened, as a datetime (rows it authorizes are stamped with it)."""
        return parse_timestamp(self.occurred_at)

    body: str


BODY_FIELDS = (
    "seq",
    "occurred_at",
    "tenant",
    "site",
    "action",
    "outcome",
    "actor_id",
    "actor_role",
    "reason",
    "run_id",
    "plan_version",
    "evidence_hash",
    "detail",
    "prev_hash",
)
INTEGER_FIELDS = frozenset({"seq", "plan_version"})  # JSON numbers in the body; the rest text


def seal_event(
    draft: EventDraft, *, seq: int, occurred_at: datetime, tenant: str, site: str, prev_hash: str
) -> AuditEvent:
    """Place a draft at chain position `seq` after `prev_hash` and compute its hash."""
    values: dict[str, Any] = {
        "seq": seq,
        "occurred_at": format_timestamp(occurred_at),
        "tenant": tenant,
        "site": site,
        "action": str(draft.action),
        "outcome": str(draft.outcome),
        "actor_id": draft.actor_id,
        "actor_role": draft.actor_role,
        "reason": draft.reason,
        "run_id": draft.run_id,
        "plan_version": draft.plan_version,
        "evidence_hash": draft.evidence_hash,
        "detail": dict(draft.detail),
        "prev_hash": prev_hash,
    }
    values = {key: _encodable(value) for key, value in values.items()}
    body = canonical_json({**values, "v": BODY_VERSION})
    return AuditEvent(**values, hash=digest_text(body), body=body)


def _encodable(value: Any) -> Any:
    """`value` with bytes that were not UTF-8 written out (`\\xff`), so every event can be
    hashed and stored: a file name from a mis-encoded terminal is recorded, not a crash. Gates
    refuse such text in reasons and ids before anything is decided; text is otherwise unchanged."""
    if isinstance(value, str):
        return escape_undecodable(value)
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encodable(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_encodable(v) for v in value)
    return value


@dataclass(frozen=True)
class StoredEvent:
    """An event as read back: typed columns plus the stored body text."""

    seq: int
    columns: Mapping[str, Any]  # every BODY_FIELDS entry except detail is a typed column
    detail: str
    prev_hash: str
    hash: str
    body: str


@dataclass(frozen=True)
class ChainEvent:
    """An event read back for a decision: its hashed body, parsed, and whether it is intact
    where it stands (hash, columns, and the next event's link all agree)."""

    seq: int
    body: Mapping[str, Any]
    intact: bool

    @property
    def action(self) -> str:
        return str(self.body.get("action", ""))

    @property
    def detail(self) -> Mapping[str, Any]:
        detail = self.body.get("detail")
        return detail if isinstance(detail, Mapping) else {}


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    count: int
    tip_hash: str
    broken_seq: int | None = None
    problem: str | None = None


SealedRow = tuple[int, str, str, str, object, str]
"""seq, prev_hash, hash, body, whether every column was found equal to the body, occurred_at."""


def body_from_columns(
    seq: int,
    occurred_at: str,
    tenant: str,
    site: str,
    action: str,
    outcome: str,
    actor_id: str | None,
    actor_role: str | None,
    reason: str | None,
    run_id: str | None,
    plan_version: int | None,
    evidence_hash: str | None,
    detail: str,
    prev_hash: str,
) -> str:
    """The canonical body an event with these columns has (`detail` as its stored canonical
    text), built by concatenation: `audit verify` compares it with every stored body, and
    json.dumps per row would cost more than reading and hashing the row together."""
    text = encode_basestring

    def optional(value: str | None) -> str:
        return "null" if value is None else text(value)

    return "".join(
        (
            '{"action":', text(action),
            ',"actor_id":', optional(actor_id),
            ',"actor_role":', optional(actor_role),
            ',"detail":', detail,
            ',"evidence_hash":', optional(evidence_hash),
            ',"occurred_at":', text(occurred_at),
            ',"outcome":', text(outcome),
            ',"plan_version":', "null" if plan_version is None else _integer(plan_version),
            ',"prev_hash":', text(prev_hash),
            ',"reason":', optional(reason),
            ',"run_id":', optional(run_id),
            ',"seq":', _integer(seq),
            ',"site":', text(site),
            ',"tenant":', text(tenant),
            ',"v":', str(BODY_VERSION), "}",
        )
    )  # fmt: skip


def _integer(value: int) -> str:
    """An integer column as the body writes it; anything else (5.5, "5", True) is no integer
    column's value, so the row re-builds no body."""
    if type(value) is not int:
        raise TypeError(f"not an integer: {value!r}")
    return str(value)


def verify_sealed(
    rows: Iterable[SealedRow], explain: Callable[[int], StoredEvent | None]
) -> ChainReport:
    """The fast walk: hash each stored body, follow seq and prev_hash, trust the store's column
    comparison; at the first broken row, `explain(seq)` loads that event for the exact problem."""
    expected_seq, expected_prev, count, last_time = 1, GENESIS_HASH, 0, ""
    sha256, form = hashlib.sha256, TIMESTAMP_FORM.fullmatch
    for seq, prev_hash, sealed, body, agree, occurred_at in rows:
        if (
            seq == expected_seq
            and prev_hash == expected_prev
            and agree
            and sealed == HASH_PREFIX + sha256(body.encode("utf-8")).hexdigest()
            and occurred_at >= last_time
            and form(occurred_at) is not None
        ):
            expected_seq, expected_prev, count, last_time = seq + 1, sealed, count + 1, occurred_at
            continue
        event = explain(seq)
        problem = None if event is None else _first_problem(event, expected_seq, expected_prev)
        if problem is None and not is_timestamp(occurred_at):
            problem = f"occurred_at {occurred_at!r} is not a UTC time (YYYY-MM-DDTHH:MM:SS.ffffffZ)"
        if problem is None and agree and occurred_at < last_time:
            problem = f"occurred_at {occurred_at} is before the previous event's {last_time}"
        return ChainReport(
            False, count, expected_prev, seq, problem or "a column differs from the hashed body"
        )
    return ChainReport(True, count, expected_prev)


def columns_agree(event: StoredEvent) -> bool:
    """Every typed column and the detail column equal what the hashed body says."""
    return _column_problem(event) is None


def verify_chain(events: Iterable[StoredEvent]) -> ChainReport:
    """Walk a chain from seq 1; report the first broken event and what is wrong with it."""
    expected_seq, expected_prev, count = 1, GENESIS_HASH, 0
    for event in events:
        problem = _first_problem(event, expected_seq, expected_prev)
        if problem is not None:
            return ChainReport(False, count, expected_prev, event.seq, problem)
        expected_seq, expected_prev, count = event.seq + 1, event.hash, count + 1
    return ChainReport(True, count, expected_prev)


def _first_problem(event: StoredEvent, expected_seq: int, expected_prev: str) -> str | None:
    if event.seq != expected_seq:
        return f"expected seq {expected_seq}, found {event.seq}"
    if not is_timestamp(event.columns.get("occurred_at")):
        shown = event.columns.get("occurred_at")
        return f"occurred_at {shown!r} is not a UTC time (YYYY-MM-DDTHH:MM:SS.ffffffZ)"
    if digest_text(event.body) != event.hash:
        return "hash does not match the stored body"
    if event.prev_hash != expected_prev:
        return "prev_hash does not match the previous event's hash"
    return _column_problem(event)


def _column_problem(event: StoredEvent) -> str | None:
    try:
        body = json.loads(event.body)
    except (ValueError, RecursionError):
        return "stored body is not JSON this tool reads (malformed or nested too deep)"
    if not isinstance(body, dict) or body.get("v") != BODY_VERSION:
        return "stored body has an unknown form"
    for name, value in event.columns.items():
        if body.get(name) != value:
            return f"column {name} differs from the hashed body"
    if body.get("seq") != event.seq or body.get("prev_hash") != event.prev_hash:
        return "seq or prev_hash column differs from the hashed body"
    try:
        detail = json.loads(event.detail)
    except (ValueError, RecursionError):
        return "column detail is not JSON this tool reads (malformed or nested too deep)"
    if body.get("detail") != detail:
        return "column detail differs from the hashed body"
    return None
