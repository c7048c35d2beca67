"""SIGKILL at random moments of import-run, apply-repair, publish, lock and export.

Each kill lands somewhere between start-up and exit (a uniform delay over the command's own
measured duration). Afterwards the database opens, passes the consistency check (integrity,
every chain, every stored change matched by its allowed event and approval), and running the
command again finishes the job or is refused by a gate: never an error, never a second copy.
`make test` kills each command 6 times, `make stress` 200 times.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.reliability.harness import (
    SCRIPT,
    consistency_problems,
    copy_database,
    env,
    must,
    record,
    run,
    size,
)

RUN = "RUN-20260112-002"
REASON = ["--reason", "Week 2026-W03 reviewed, all audits pass."]
PUBLISH = ["publish", RUN, "--approver", "disp001", "--role", "dispatcher", *REASON]
LOCK = ["lock", RUN, "--approver", "ops001", "--role", "ops_lead", *REASON]


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[str]]]:
    """One database per command, in the state just before it, and the command."""
    folder = tmp_path_factory.mktemp("kill-templates")
    base = folder / "base.db"
    must(base, ["demo", "--files", str(folder / "files")])
    published = folder / "published.db"
    copy_database(base, published)
    must(published, PUBLISH)
    repair = folder / "repair.db"
    copy_database(base, repair)
    sick = ["--driver", "D005", "--type", "sick", "--days", "Tue,Wed", "--requester", "disp001"]
    request = must(repair, ["request-repair", "--week", "2026-W03", *sick]).strip()
    must(repair, ["run-repair", "--request", request])
    apply = ["apply-repair", request, "--approver", "disp001", "--role", "dispatcher", *REASON]
    locked = folder / "locked.db"
    copy_database(published, locked)
    must(locked, LOCK)
    return {
        "export": (locked, ["export", RUN, "--format", "csv"]),
        "import-run": (base, ["import-run", str(folder / "files" / "run-2026-W03.json")]),
        "publish": (base, PUBLISH),
        "lock": (published, LOCK),
        "apply-repair": (repair, apply),
    }


def _duration(template: Path, command: list[str], work: Path) -> float:
    db = work / "calibrate.db"
    copy_database(template, db)
    start = time.perf_counter()
    must(db, command)
    return time.perf_counter() - start


@pytest.mark.parametrize("name", ["import-run", "publish", "lock", "apply-repair"])
def test_a_killed_command_leaves_old_or_new_state_never_half(
    name: str, templates: dict[str, tuple[Path, list[str]]], tmp_path: Path
) -> None:
    template, command = templates[name]
    duration = _duration(template, command, tmp_path)
    rng = random.Random(f"kill-{name}")
    kills = size(6, 200)
    outcomes: Counter[str] = Counter()
    for attempt in range(kills):
        db = tmp_path / f"kill-{attempt}.db"
        copy_database(template, db)
        process = subprocess.Popen(
            [str(SCRIPT), *command],
            env=env(db),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.uniform(0, duration * 1.1))
        process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate(timeout=60)
        finished = process.returncode == 0
        outcomes["finished before the kill" if finished else "killed"] += 1
        problems = consistency_problems(db)
        assert problems == [], f"{name}, kill {attempt}: {problems}"
        again = run(db, command)
        if name == "import-run":
            assert again.returncode == 0, again.stderr  # a new run each time: always possible
        else:
            assert again.returncode in (0, 2), f"{name} after kill {attempt}: {again.stderr}"
            outcomes[
                "had completed (gate refused the repeat)" if again.returncode else "redone"
            ] += 1
        assert consistency_problems(db) == [], f"{name} after kill {attempt}"
        assert "Traceback" not in again.stderr + stderr
        db.unlink()
    record(f"kill {name}", kills=kills, **{k.replace(" ", "_"): v for k, v in outcomes.items()})


def _export_events(db: Path) -> list[dict[str, object]]:
    import json
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(db)) as con:
        rows = con.execute("SELECT detail FROM audit_events WHERE action = 'export'").fetchall()
    return [json.loads(detail) for (detail,) in rows]


def test_a_killed_export_records_only_files_that_are_in_place(
    templates: dict[str, tuple[Path, list[str]]], tmp_path: Path
) -> None:
    """An export event is committed only after its file and manifest are in place, so a kill
    can leave files without an event (export again under another name), never an event without
    its files; a placed file is always complete."""
    import hashlib
    import json

    template, command = templates["export"]
    duration = _duration(template, [*command, "--out", str(tmp_path / "calibrate.csv")], tmp_path)
    rng = random.Random("kill-export")
    kills = size(6, 200)
    outcomes: Counter[str] = Counter()
    for attempt in range(kills):
        db, folder = tmp_path / f"kill-{attempt}.db", tmp_path / f"out-{attempt}"
        copy_database(template, db)
        folder.mkdir()
        out, manifest = folder / "w03.csv", folder / "w03.csv.manifest.json"
        process = subprocess.Popen(
            [str(SCRIPT), *command, "--out", str(out)],
            env=env(db),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.uniform(0, duration * 1.1))
        process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate(timeout=60)
        events = _export_events(db)
        if out.exists():
            digest = hashlib.sha256(out.read_bytes()).hexdigest()
            if manifest.exists():
                assert json.loads(manifest.read_text())["sha256"] == digest
        if events:
            assert out.exists() and manifest.exists(), f"kill {attempt}: event without files"
            assert [e["sha256"] for e in events] == [digest]
        outcomes["exported" if events else "files, no event" if out.exists() else "nothing"] += 1
        assert all(
            n.startswith(".") and n.endswith(".tmp")
            for n in os.listdir(folder)
            if n not in (out.name, manifest.name)
        )  # at most our own temporaries
        assert consistency_problems(db) == [], f"export, kill {attempt}"
        again = run(db, [*command, "--out", str(folder / "again.csv")])
        assert again.returncode == 0, f"export after kill {attempt}: {again.stderr}"
        assert "Traceback" not in again.stderr + stderr
        db.unlink()
    record("kill export", kills=kills, **{k.replace(" ", "_"): v for k, v in outcomes.items()})


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        (
            "INSERT INTO approvals (tenant_id, site_id, run_pk, version, action, approver_id, "
            "role, reason, event_seq, created_at) SELECT 'LTS', 'WIEN', id, 1, 'publish', "
            "'disp001', 'dispatcher', 'no event', 99, '2026-01-13 06:00:00.000000' FROM runs "
            "WHERE run_id = 'RUN-20260112-001'",
            "publish approvals",
        ),
        ("DELETE FROM approvals WHERE action = 'publish'", "publish approvals"),
        ("DELETE FROM approvals WHERE action = 'lock'", "locks"),
        ("DELETE FROM audit_events WHERE seq = 3 AND site_id = 'WIEN'", "chain LTS/WIEN"),
    ],
    ids=["published-without-event", "approval-missing", "unlocked", "event-missing"],
)
def test_the_consistency_check_sees_a_half_done_change(
    templates: dict[str, tuple[Path, list[str]]], tmp_path: Path, sql: str, problem: str
) -> None:
    import sqlite3
    from contextlib import closing

    db = tmp_path / "half.db"
    copy_database(templates["lock"][0], db)
    assert consistency_problems(db) == []
    with closing(sqlite3.connect(db)) as con:
        for (trigger,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            con.execute(f"DROP TRIGGER {trigger}")
        con.execute(sql)
        con.commit()
    found = consistency_problems(db)
    assert any(p.startswith(problem) for p in found), found
