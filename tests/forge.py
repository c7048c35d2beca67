"""Forged events, as an insider with write access would make them: correctly hashed, linked to
the chain's tip, built with the project's own sealing code (anyone can read it). They are the
attack that no trigger can refuse (an append at the tip is what the tool itself does); the
replay of `audit verify --state` and the gates must judge what such an event claims."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from dispatcher.domain.events import AuditEvent, EventDraft, parse_timestamp, seal_event
from dispatcher.domain.hashing import GENESIS_HASH, canonical_json
from tests.conftest import Cli

CHAINS = {"platform": ("*", "*"), "tenant": ("LTS", "*"), "site": ("LTS", "WIEN")}


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def forge(
    cli: Cli, chain: str, draft: EventDraft, *, after: timedelta = timedelta(seconds=1)
) -> tuple[str, AuditEvent]:
    """(INSERT statement, event) for `draft` appended at the tip of `chain` ("site", "tenant"
    or "platform" of LTS/WIEN), dated `after` its predecessor."""
    rows = json.loads(cli("audit", "log", "--chain", chain, "--json", "-n", "1").stdout)
    tenant, site = CHAINS[chain]
    if rows:
        tip = rows[0]
        seq, prev_hash = tip["seq"] + 1, tip["hash"]
        moment = parse_timestamp(tip["occurred_at"]) + after
    else:
        seq, prev_hash = 1, GENESIS_HASH
        moment = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
    event = seal_event(
        draft, seq=seq, occurred_at=moment, tenant=tenant, site=site, prev_hash=prev_hash
    )
    return insert_sql(event), event


def insert_sql(event: AuditEvent) -> str:
    columns = {
        "tenant_id": event.tenant,
        "site_id": event.site,
        "seq": event.seq,
        "occurred_at": event.occurred_at,
        "action": event.action,
        "outcome": event.outcome,
        "actor_id": event.actor_id,
        "actor_role": event.actor_role,
        "reason": event.reason,
        "run_id": event.run_id,
        "plan_version": event.plan_version,
        "evidence_hash": event.evidence_hash,
        "detail": canonical_json(event.detail),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "body": event.body,
    }
    names = ", ".join(columns)
    values = ", ".join(_literal(v) for v in columns.values())
    return f"INSERT INTO audit_events ({names}) VALUES ({values})"


def resealed_sql(event: AuditEvent, *, raw_detail: str | None = None, **changes: Any) -> str:
    """The INSERT for `event` with some fields replaced by values the tool never writes (a time
    written another way, a number as text) and, with `raw_detail`, its detail replaced by that
    JSON text verbatim (in the body and the column); hashed again, so only what it holds can
    give it away."""
    from dataclasses import asdict, replace

    from dispatcher.domain.hashing import digest_text

    values = {k: v for k, v in asdict(event).items() if k not in ("hash", "body")}
    values.update(changes)
    marker = "__raw_detail__"
    if raw_detail is not None:
        values["detail"] = {marker: True}
    body = canonical_json({**values, "v": 1})
    placeholder = canonical_json({marker: True})
    if raw_detail is not None:
        body = body.replace(placeholder, raw_detail)
    sql = insert_sql(replace(event, **values, hash=digest_text(body), body=body))
    if raw_detail is not None:
        sql = sql.replace(_literal(placeholder), _literal(raw_detail))
    return sql
