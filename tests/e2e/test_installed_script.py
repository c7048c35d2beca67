"""The installed `dispatcher` script in fresh processes: start-up budget, completion, a week."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = {"sqlalchemy", "alembic", "ortools", "highspy", "pydantic", "cryptography", "numpy"}
SCRIPT = Path(sys.executable).parent / "dispatcher"


def _env(db: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISPATCHER_", "_DISPATCHER"))}
    env.update({"DISPATCHER_DB": str(db), "NO_COLOR": "1", "COLUMNS": "120"}, **extra)
    return env


def _loaded(args: list[str], env: dict[str, str]) -> tuple[str, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dispatcher", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    names = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    return proc.stdout, names


def test_version_loads_no_heavy_module(tmp_path: Path) -> None:
    out, loaded = _loaded(["--version"], _env(tmp_path / "x.db"))
    assert out.startswith("dispatcher ")
    assert loaded.isdisjoint(HEAVY | {"rich"})


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_a_monday_review_with_the_installed_script(tmp_path: Path) -> None:
    db = tmp_path / "week.db"
    env = _env(db)
    built = _run(["demo", "--files", str(tmp_path / "files")], env)
    assert built.returncode == 0, built.stderr
    status = _run(["status"], env)
    assert "SYSTEM STATUS - LTS/WIEN" in status.stdout and "RUN-20260112-002" in status.stdout
    runs = json.loads(_run(["list-runs", "--json"], env).stdout)
    assert [r["status"] for r in runs] == ["FAIL", "PASS", "WARN"]
    shown = _run(["show-run", "RUN-20260112-002", "--details"], env)
    assert shown.returncode == 0
    assert "UNASSIGNED" in shown.stdout and "WEEKLY_HOURS" in shown.stdout
    assert _run(["evidence", "verify", "RUN-20260112-001"], env).returncode == 0
    assert _run(["audit", "verify"], env).returncode == 0
    unknown = _run(["show-run", "RUN-20990101-001"], env)
    assert (unknown.returncode, unknown.stderr) == (1, "Error: Run RUN-20990101-001 not found\n")

    # TAB completion of run ids answers from the database without loading the ORM.
    words = {
        "_DISPATCHER_COMPLETE": "complete_bash",
        "COMP_WORDS": "dispatcher show-run RUN-20260112",
        "COMP_CWORD": "2",
    }
    out, loaded = _loaded([], _env(db, **words))
    assert out.split() == ["RUN-20260112-002", "RUN-20260112-001"]
    assert loaded.isdisjoint(HEAVY)
