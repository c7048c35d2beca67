"""Eight processes writing at once: publish, lock, repair requests, the kill switch and imports.

No `database is locked` reaches anyone (writers wait for the lock, then retry with backoff), the
chain stays unbroken, every change is matched by its event, and folding the audit log in order
gives exactly the stored state. `make test` runs 8 s, `make stress` 60 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.helpers import sqlite_refuses, sqlite_tamper
from tests.reliability.harness import consistency_problems, must, record, size
from tests.reliability.replay import replayed, stored

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 8


def test_eight_writers_leave_a_state_equal_to_the_replayed_log(tmp_path: Path) -> None:
    db = tmp_path / "busy.db"
    files = tmp_path / "files"
    must(db, ["demo", "--files", str(files)])
    seconds = size(8, 60)
    logs = [tmp_path / f"worker-{n}.jsonl" for n in range(WORKERS)]
    module = [sys.executable, "-m", "tests.reliability.worker"]
    workers = [
        subprocess.Popen([*module, *map(str, (db, files, n, seconds, log))], cwd=ROOT)
        for n, log in enumerate(logs)
    ]
    for worker in workers:
        assert worker.wait(timeout=seconds + 300) == 0
    outcomes = [json.loads(line) for log in logs for line in log.read_text().splitlines()]
    codes = Counter((o["op"], o["code"]) for o in outcomes)
    assert len(outcomes) >= WORKERS, "the workers did not run"
    for outcome in outcomes:
        assert outcome["code"] in (0, 1, 2), outcome
        text = outcome["stderr"].lower()
        assert "database is locked" not in text and "database is busy" not in text, outcome
        assert "traceback" not in text, outcome
        if outcome["code"] == 1:  # expected refusals: duplicates, finished requests, no-op switch
            assert outcome["op"] in ("request", "reject", "switch"), outcome
    assert codes[("import", 0)] > 0 and codes[("publish", 0)] + codes[("lock", 0)] > 0
    assert consistency_problems(db) == []
    assert replayed(db) == stored(db)
    with_events = must(db, ["audit", "verify", "--json"])
    events = json.loads(with_events)["count"]
    record(
        "concurrency",
        writers=WORKERS,
        seconds=seconds,
        commands=len(outcomes),
        events=events,
        succeeded=sum(1 for o in outcomes if o["code"] == 0),
        blocked=sum(1 for o in outcomes if o["code"] == 2),
        refused=sum(1 for o in outcomes if o["code"] == 1),
        slowest_s=max(o["seconds"] for o in outcomes),
    )


def test_the_replay_sees_a_change_without_its_event(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    must(db, ["demo", "--files", str(tmp_path / "files")])
    assert replayed(db) == stored(db)
    planted = (
        "INSERT INTO kill_switch_history (scope, active, actor_id, reason, changed_at) "
        "VALUES ('global', 1, 'admin01', 'no event for this', '2026-01-13 06:00:00.000000')"
    )
    assert "kill-switch event" in sqlite_refuses(db, planted)
    sqlite_tamper(db, planted)
    assert replayed(db).kill_switch != stored(db).kill_switch
    assert any("kill_switch_history global" in p for p in consistency_problems(db))
