"""Build a benchmark database: the demo site and week, years of runs at 40 sites, a long chain.

The demo is built by the installed `dispatcher demo`; the history is added with the standard
library's sqlite3 (`executemany`), copying the demo's stored rows so every filler row is valid,
and the audit events are sealed with the domain's own `seal_event`, so `audit verify` checks a
real chain. Nothing here is timed.
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from dispatcher.domain.events import Action, EventDraft, seal_event
from dispatcher.domain.hashing import canonical_json

TENANT, HOME = "LTS", "WIEN"
SITES = (HOME, *(f"DEPOT{n:02d}" for n in range(1, 40)))  # 40 sites
FIRST_WEEK = date(2021, 1, 4)  # Monday of 2021-W01
TEMPLATE_RUN = "RUN-20260112-002"
BATCH = 20_000


@dataclass(frozen=True)
class BenchDb:
    path: Path
    files: Path
    runs: int
    events: int


def _columns(con: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in con.execute(f"PRAGMA table_info({table})")]


def _row(con: sqlite3.Connection, table: str, where: str, *args: Any) -> dict[str, Any]:
    names = _columns(con, table)
    row = con.execute(f"SELECT {', '.join(names)} FROM {table} WHERE {where}", args).fetchone()
    assert row is not None, f"no {table} row where {where}"
    return dict(zip(names, row, strict=True))


def _insert(con: sqlite3.Connection, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    names = list(rows[0])
    marks = ", ".join(f":{name}" for name in names)
    con.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", rows)


def _stamp(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _weeks() -> Iterator[date]:
    monday = FIRST_WEEK
    while monday.year <= 2025:
        yield monday
        monday += timedelta(days=7)


def _history(con: sqlite3.Connection, runs: int) -> list[tuple[str, str]]:
    """Past weeks (2021-2025) at as many sites as `runs` needs (40 for 10,000; WIEN alone for
    100): a run with its plan version and evidence record (copies of the demo's PASS run),
    published and locked (both approvals), and one sick call that was rejected."""
    run_template = _row(con, "runs", "run_id = ?", TEMPLATE_RUN)
    version_template = _row(con, "plan_versions", "run_pk = ?", run_template["id"])
    evidence_template = _row(con, "evidence_records", "version_pk = ?", version_template["id"])
    next_id = con.execute("SELECT MAX(id) FROM runs").fetchone()[0] + 1
    next_version = con.execute("SELECT MAX(id) FROM plan_versions").fetchone()[0] + 1
    stamp = _stamp(datetime(2021, 1, 1, tzinfo=UTC))
    _insert(
        con,
        "sites",
        [
            {"tenant_id": TENANT, "site_id": site, "created_at": stamp}
            for site in SITES
            if site != HOME
        ],
    )
    rows: dict[str, list[dict[str, Any]]] = {
        table: []
        for table in (
            "runs", "plan_versions", "evidence_records", "approvals", "repair_requests",
            "repair_request_ids",
        )
    }  # fmt: skip
    made: list[tuple[str, str]] = []
    weeks = list(_weeks())
    sites = SITES[: min(len(SITES), max(1, -(-runs // len(weeks))))]  # as few as fit the runs
    for monday in weeks:
        for site in sites:
            if len(made) == runs:
                break
            year, week, _ = monday.isocalendar()
            week_id = f"{year}-W{week:02d}"
            created = datetime.combine(monday - timedelta(days=3), datetime.min.time(), UTC)
            run_id = f"RUN-{(monday - timedelta(days=3)):%Y%m%d}-001"
            scope = {"tenant_id": TENANT, "site_id": site}
            rows["runs"].append(
                {
                    **run_template,
                    **scope,
                    "id": next_id,
                    "run_id": run_id,
                    "week": week_id,
                    "created_at": _stamp(created + timedelta(hours=6)),
                }
            )
            rows["plan_versions"].append(
                {
                    **version_template,
                    **scope,
                    "id": next_version,
                    "run_pk": next_id,
                    "created_at": _stamp(created + timedelta(hours=6)),
                }
            )
            rows["evidence_records"].append(
                {
                    **evidence_template,
                    **scope,
                    "version_pk": next_version,
                    "created_at": _stamp(created + timedelta(hours=6)),
                }
            )
            for action, who, role, offset in (
                ("publish", "disp001", "dispatcher", 1),
                ("lock", "ops001", "ops_lead", 2),
            ):
                rows["approvals"].append(
                    {
                        **scope,
                        "run_pk": next_id,
                        "version": 1,
                        "action": action,
                        "approver_id": who,
                        "role": role,
                        "reason": "Week reviewed; all audits pass.",
                        "override_reason": None,
                        "evidence_hash": evidence_template["evidence_hash"],
                        "event_seq": len(made) * 2 + offset,
                        "created_at": _stamp(created + timedelta(days=offset)),
                    }
                )
            request_id = f"REP-{site}-{len(made) + 1:06d}"
            rows["repair_requests"].append(
                {
                    **scope,
                    "request_id": request_id,
                    "run_pk": next_id,
                    "base_version": 1,
                    "week": week_id,
                    "driver_id": "D001",
                    "driver_name": None,
                    "absence_type": "sick",
                    "scope": '{"absence_days":[2]}',
                    "requester": "disp001",
                    "urgency": "normal",
                    "notes": None,
                    "status": "REJECTED",
                    "created_at": _stamp(created + timedelta(days=3)),
                    "resolved_at": _stamp(created + timedelta(days=3, hours=1)),
                    "resolved_by": "disp001",
                    "resolution_reason": "Driver came back the same morning.",
                }
            )
            rows["repair_request_ids"].append({**scope, "request_id": request_id})
            made.append((site, run_id))
            next_id += 1
            next_version += 1
    for table, table_rows in rows.items():  # parents first
        _insert(con, table, table_rows)
    return made


def _drafts(history: Sequence[tuple[str, str]]) -> Iterator[EventDraft]:
    """A realistic mix at the home site: imports, publishes, locks, exports, repairs."""
    home = [run for site, run in history if site == HOME] or [TEMPLATE_RUN]
    kinds = (
        (Action.RUN_IMPORT, "system", None, None),
        (Action.PUBLISH, "disp001", "dispatcher", "Week reviewed; all audits pass."),
        (Action.LOCK, "ops001", "ops_lead", "Published plan checked and sealed."),
        (Action.EXPORT, "disp001", "dispatcher", None),
        (Action.REPAIR_REQUEST, "disp001", "dispatcher", "Driver called in sick."),
    )
    n = 0
    while True:
        action, actor, role, reason = kinds[n % len(kinds)]
        run_id = home[(n // len(kinds)) % len(home)]
        yield EventDraft(
            action,
            actor_id=actor,
            actor_role=role,
            reason=reason,
            run_id=run_id,
            plan_version=1,
            evidence_hash="sha256:" + f"{n:064x}",
            detail={"bench": True, "n": n, "week": "2025-W01"},
        )
        n += 1


def _chain(con: sqlite3.Connection, history: Sequence[tuple[str, str]], events: int) -> int:
    """Append `events` sealed events to the home site's chain (after the demo's)."""
    seq, prev, newest = con.execute(
        "SELECT seq, hash, occurred_at FROM audit_events WHERE tenant_id = ? AND site_id = ? "
        "ORDER BY seq DESC LIMIT 1",
        (TENANT, HOME),
    ).fetchone()
    missing = events - seq
    # Time only goes forward in a chain: the filler follows the demo's newest event, 100 µs
    # apart (a million events within two minutes), so the timed commands' clock is after it.
    moment = datetime.fromisoformat(newest.replace("Z", "+00:00"))
    batch: list[tuple[Any, ...]] = []
    drafts = _drafts(history)
    for _ in range(max(0, missing)):
        seq += 1
        moment += timedelta(microseconds=100)
        event = seal_event(
            next(drafts), seq=seq, occurred_at=moment, tenant=TENANT, site=HOME, prev_hash=prev
        )
        prev = event.hash
        batch.append(
            (
                event.tenant,
                event.site,
                event.seq,
                event.occurred_at,
                event.action,
                event.outcome,
                event.actor_id,
                event.actor_role,
                event.reason,
                event.run_id,
                event.plan_version,
                event.evidence_hash,
                canonical_json(event.detail),
                event.prev_hash,
                event.hash,
                event.body,
            )
        )
        if len(batch) == BATCH:
            _flush(con, batch)
    _flush(con, batch)
    return int(
        con.execute(
            "SELECT COUNT(*) FROM audit_events WHERE tenant_id = ? AND site_id = ?", (TENANT, HOME)
        ).fetchone()[0]
    )


def _flush(con: sqlite3.Connection, batch: list[tuple[Any, ...]]) -> None:
    con.executemany(
        "INSERT INTO audit_events (tenant_id, site_id, seq, occurred_at, action, outcome, "
        "actor_id, actor_role, reason, run_id, plan_version, evidence_hash, detail, prev_hash, "
        "hash, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        batch,
    )
    batch.clear()


def build(script: Path, path: Path, *, runs: int, events: int) -> BenchDb:
    """The demo (by `script`), then history up to `runs` runs and `events` events at WIEN."""
    if path.exists():
        path.unlink()
    files = path.parent / f"{path.stem}-files"
    subprocess.run(
        [str(script), "--db", str(path), "demo", "--fresh", "--files", str(files)],
        check=True,
        capture_output=True,
    )
    with closing(sqlite3.connect(path, isolation_level=None)) as con:
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("BEGIN IMMEDIATE")
        # The filler is years of history no gate will judge: the guards that bind every row to
        # its event are set aside while it is written and put back as they were (the demo's own
        # runs, which the timed decisions act on, are bound as the tool wrote them).
        guards = con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
        ).fetchall()
        for name, _ in guards:
            con.execute(f'DROP TRIGGER "{name}"')
        demo_runs = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        history = _history(con, runs - demo_runs)
        total_events = _chain(con, history, events)
        for _, definition in guards:
            con.execute(definition)
        con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        total_runs = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    return BenchDb(path, files, total_runs, total_events)
