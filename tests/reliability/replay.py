"""Fold the audit log, in order, into the state it describes; compare with the stored state.

If every change is made in the same transaction as its event, replaying the allowed events one
after the other reproduces what the tables hold, however many processes were writing at once.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class State:
    runs: set[str] = field(default_factory=set)
    versions: dict[str, int] = field(default_factory=dict)
    published: set[tuple[str, int]] = field(default_factory=set)
    locked: dict[str, int] = field(default_factory=dict)
    requests: dict[str, str] = field(default_factory=dict)
    kill_switch: dict[str, bool] = field(default_factory=dict)
    users: dict[str, bool] = field(default_factory=dict)


def replayed(db: Path) -> State:
    """The state the allowed events describe, applied in chain order."""
    state = State()
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        rows = con.execute(
            "SELECT action, run_id, plan_version, detail FROM audit_events "
            "WHERE outcome = 'allowed' ORDER BY tenant_id, site_id, seq"
        ).fetchall()
    for action, run, version, text in rows:
        detail = json.loads(text)
        if action in ("run.import", "run.solve"):
            state.runs.add(run)
            state.versions[run] = 1
        elif action == "publish":
            state.published.add((run, version))
        elif action == "lock":
            state.locked[run] = version
        elif action == "repair.request":
            state.requests[detail["request_id"]] = "PENDING"
        elif action == "repair.propose":
            state.requests[detail["request_id"]] = "PROPOSED"
        elif action == "repair.apply":
            state.requests[detail["request_id"]] = "APPLIED"
            state.versions[run] = version
        elif action == "repair.reject":
            state.requests[detail["request_id"]] = "REJECTED"
        elif action in ("kill_switch.activate", "kill_switch.deactivate"):
            state.kill_switch[detail["scope"]] = action == "kill_switch.activate"
        elif action == "user.add":
            state.users[detail["user"]] = True
        elif action == "user.disable":
            state.users[detail["user"]] = False
    return state


def stored(db: Path) -> State:
    """The same facts read from the tables."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        versions = dict(
            con.execute(
                "SELECT r.run_id, MAX(p.version) FROM runs r "
                "JOIN plan_versions p ON p.run_pk = r.id GROUP BY r.run_id"
            ).fetchall()
        )
        published = {
            (run, version)
            for run, version in con.execute(
                "SELECT r.run_id, a.version FROM approvals a JOIN runs r ON r.id = a.run_pk "
                "WHERE a.action = 'publish'"
            )
        }
        locked = dict(
            con.execute(
                "SELECT r.run_id, a.version FROM approvals a JOIN runs r ON r.id = a.run_pk "
                "WHERE a.action = 'lock'"
            )
        )
        requests = dict(con.execute("SELECT request_id, status FROM repair_requests"))
        switches = {
            scope: bool(active)
            for scope, active in con.execute(
                "SELECT scope, active FROM kill_switch_history WHERE id IN "
                "(SELECT MAX(id) FROM kill_switch_history GROUP BY scope, tenant_id, site_id)"
            )
        }
        users = {
            user: bool(active) for user, active in con.execute("SELECT user_id, active FROM users")
        }
    return State(set(versions), versions, published, locked, requests, switches, users)
