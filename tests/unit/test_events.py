"""Sealing events and walking the chain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime

from dispatcher.domain.events import (
    Action,
    AuditEvent,
    EventDraft,
    Outcome,
    StoredEvent,
    seal_event,
    verify_chain,
)
from dispatcher.domain.hashing import GENESIS_HASH

AT = datetime(2026, 1, 13, 8, 0, 0, 123456, tzinfo=UTC)


def _chain(n: int) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        draft = EventDraft(
            Action.PUBLISH,
            Outcome.BLOCKED,
            "disp001",
            "dispatcher",
            "why not",
            "RUN-20260113-001",
            1,
            None,
            {"check": "kill_switch", "n": seq},
        )
        event = seal_event(
            draft, seq=seq, occurred_at=AT, tenant="LTS", site="WIEN", prev_hash=prev
        )
        events.append(event)
        prev = event.hash
    return events


def _stored(event: AuditEvent) -> StoredEvent:
    columns = {
        name: getattr(event, name)
        for name in (
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
            "prev_hash",
        )
    }
    return StoredEvent(
        event.seq, columns, json.dumps(event.detail), event.prev_hash, event.hash, event.body
    )


def test_body_is_canonical_with_version_and_hash_is_sha256_of_body() -> None:
    event = _chain(1)[0]
    body = json.loads(event.body)
    assert body["v"] == 1
    assert "hash" not in body
    assert body["prev_hash"] == GENESIS_HASH
    assert body["occurred_at"] == "2026-01-13T08:00:00.123456Z"
    assert event.hash == "sha256:" + hashlib.sha256(event.body.encode()).hexdigest()
    assert event.body == json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_intact_chain_verifies_with_count_and_tip() -> None:
    events = _chain(5)
    report = verify_chain(_stored(e) for e in events)
    assert (report.ok, report.count, report.tip_hash) == (True, 5, events[-1].hash)


def test_edited_body_is_reported_at_its_seq() -> None:
    stored = [_stored(e) for e in _chain(5)]
    stored[2] = replace(stored[2], body=stored[2].body.replace("why not", "why yes"))
    report = verify_chain(stored)
    assert (report.ok, report.broken_seq) == (False, 3)


def test_edited_column_alone_is_reported() -> None:
    stored = [_stored(e) for e in _chain(3)]
    stored[1] = replace(stored[1], columns={**stored[1].columns, "actor_id": "intruder"})
    report = verify_chain(stored)
    assert (report.ok, report.broken_seq) == (False, 2)
    assert report.problem == "column actor_id differs from the hashed body"


def test_deleted_event_breaks_the_sequence() -> None:
    stored = [_stored(e) for e in _chain(4)]
    del stored[1]
    report = verify_chain(stored)
    assert (report.ok, report.broken_seq, report.problem) == (False, 3, "expected seq 2, found 3")


def test_reordered_events_are_detected() -> None:
    stored = [_stored(e) for e in _chain(4)]
    stored[1], stored[2] = stored[2], stored[1]
    assert verify_chain(stored).broken_seq == 3


def test_naive_timestamp_is_refused() -> None:
    draft = EventDraft(Action.USER_ADD)
    try:
        seal_event(
            draft,
            seq=1,
            occurred_at=datetime(2026, 1, 1),
            tenant="LTS",
            site="WIEN",
            prev_hash=GENESIS_HASH,
        )
    except ValueError:
        return
    raise AssertionError("naive datetime accepted")


def test_text_that_was_not_utf8_is_sealed_written_out() -> None:
    draft = EventDraft(
        Action.RUN_IMPORT,
        actor_id="disp\udcff",
        reason="\udcff\udcfe bad",
        detail={"file": "week\udce4.json", "names": ["a\udcff"], "n": 3},
    )
    event = seal_event(
        draft, seq=1, occurred_at=AT, tenant="LTS", site="WIEN", prev_hash=GENESIS_HASH
    )
    body = json.loads(event.body)
    assert (body["actor_id"], body["reason"]) == ("disp\\xff", "\\xff\\xfe bad")
    assert body["detail"] == {"file": "week\\xe4.json", "names": ["a\\xff"], "n": 3}
    assert event.hash == "sha256:" + hashlib.sha256(event.body.encode("utf-8")).hexdigest()
    assert (event.reason, event.detail["file"]) == ("\\xff\\xfe bad", "week\\xe4.json")
