"""Two processes racing: publish against kill-switch activation on one SQLite file."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from tests.conftest import Cli
from tests.samples import OVERRIDE, PUBLISH_OK, RUN

SCRIPT = Path(sys.executable).parent / "dispatcher"


def test_publish_and_kill_switch_race_never_leaves_an_unaudited_publish(
    site: Cli, db_path: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPATCHER_NOW"}
    for attempt in range(4):
        db = tmp_path / f"race{attempt}.db"
        with closing(sqlite3.connect(db_path)) as source, closing(sqlite3.connect(db)) as target:
            source.backup(target)
        env["DISPATCHER_DB"] = str(db)
        procs = [
            subprocess.Popen(
                [str(SCRIPT), "publish", RUN, *PUBLISH_OK, *OVERRIDE],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
            subprocess.Popen(
                [
                    str(SCRIPT),
                    "kill-switch",
                    "activate",
                    "--by",
                    "admin01",
                    "--reason",
                    "Race test: emergency stop",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
        ]
        codes = [p.wait(timeout=120) for p in procs]
        assert codes[1] == 0 and codes[0] in (0, 2)
        with closing(sqlite3.connect(db)) as con:
            published = con.execute("SELECT id FROM approvals WHERE action = 'publish'").fetchone()
            events = con.execute(
                "SELECT seq, action, outcome, json_extract(detail, '$.check') FROM audit_events "
                "WHERE action IN ('publish', 'kill_switch.activate') ORDER BY occurred_at"
            ).fetchall()
        order = [(action, outcome) for _, action, outcome, _ in events]
        if published is not None:
            assert codes[0] == 0
            assert order == [("publish", "allowed"), ("kill_switch.activate", "allowed")]
        else:
            assert codes[0] == 2
            assert order == [("kill_switch.activate", "allowed"), ("publish", "blocked")]
            assert events[1][3] == "kill_switch_inactive"
    shutil.rmtree(tmp_path, ignore_errors=True)
