"""The entry point leaves with `os._exit`, skipping the interpreter's teardown (cli/entry.py). That
is only safe while no command leaves work for exit time: these tests run the week's commands
in fresh processes and fail if one registers an `atexit` handler, or a `weakref.finalize` that
would run at exit (a temporary directory's clean-up, say), beyond the two known harmless ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# What importing our dependencies registers, and why skipping it loses nothing:
HARMLESS_ATEXIT = {
    "logging.shutdown",  # flushes logging handlers; dispatcher configures none
    "weakref.finalize._exitfunc",  # runs the finalizers checked one by one below
}
HARMLESS_FINALIZERS = {
    # SQLAlchemy drops the linecache entries of the functions it generates.
    "sqlalchemy.util.langhelpers._remove_linecache_entry",
}

SPY = """
import atexit, json, os, sys, weakref
registered = []
original = atexit.register
def spy(func, *args, **kwargs):
    registered.append(f"{func.__module__}.{func.__qualname__}")
    return original(func, *args, **kwargs)
atexit.register = spy
sys.argv = ["dispatcher", *sys.argv[1:]]
from dispatcher.cli import entry
def leave(code):
    pending = sorted({
        f"{info.func.__module__}.{info.func.__qualname__}"
        for _, info in weakref.finalize._registry.items()
        if info.atexit
    })
    sys.stderr.write("EXIT-SPY " + json.dumps([registered, pending]) + "\\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
entry._leave = leave
entry.main()
"""

NOW = {
    "request-repair": "2026-01-13T06:30:00+01:00",
    "publish": "2026-01-14T10:00:00+01:00",
    "lock": "2026-01-15T11:00:00+01:00",
}
REASON = "Week 2026-W03 reviewed: all audits pass, KPIs within threshold."
COMMANDS = [
    ["status"],
    ["list-runs", "--json"],
    ["show-run", "RUN-20260112-001"],
    ["roster", "RUN-20260112-002", "--day", "Wed"],
    ["report", "RUN-20260112-002", "--out", "report.html"],
    ["request-repair", "--week", "2026-W03", "--driver", "D005", "--type", "sick", "--days",
     "Tue,Wed", "--requester", "disp001"],
    ["run-repair", "--request", "REP-20260113063000"],
    ["repairs", "show", "REP-20260113063000", "--roster"],
    ["apply-repair", "REP-20260113063000", "--approver", "disp001", "--role", "dispatcher",
     "--reason", "Sick call covered, diff reviewed"],
    ["publish", "RUN-20260112-002", "--approver", "disp001", "--role", "dispatcher", "--reason",
     REASON],
    ["lock", "RUN-20260112-002", "--approver", "ops001", "--role", "ops_lead", "--reason",
     "Approved for export to the dispatch system"],
    ["export", "RUN-20260112-002", "--format", "csv", "--out", "w03.csv", "--by", "ops001"],
    ["evidence", "export", "RUN-20260112-002", "--out", "evidence"],
    ["audit", "verify", "--state"],
    ["db", "backup", "backup.db"],
    ["--help"],
]  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("exit")
    subprocess.run(
        [sys.executable, "-m", "dispatcher", "--db", str(workdir / "d.db"), "demo"],
        cwd=workdir,
        env=_env(workdir, None),
        check=True,
        capture_output=True,
        timeout=300,
    )
    return workdir


def _env(workdir: Path, now: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISPATCHER_", "_DISPATCHER"))}
    env.update(DISPATCHER_DB=str(workdir / "d.db"), NO_COLOR="1", COLUMNS="80")
    if now:
        env["DISPATCHER_NOW"] = now
    return env


def test_no_command_leaves_work_for_exit_time(site: Path) -> None:
    now = None
    for args in COMMANDS:
        now = NOW.get(args[0], now)
        proc = subprocess.run(
            [sys.executable, "-c", SPY, *args],
            cwd=site,
            env=_env(site, now),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, (args, proc.stderr)
        (line,) = [line for line in proc.stderr.splitlines() if line.startswith("EXIT-SPY ")]
        registered, finalizers = json.loads(line.removeprefix("EXIT-SPY "))
        assert set(registered) <= HARMLESS_ATEXIT, (args, registered)
        assert set(finalizers) <= HARMLESS_FINALIZERS, (args, finalizers)


def test_the_spy_sees_a_handler_and_a_finalizer(site: Path) -> None:
    """The check can fail: a handler and a temporary directory registered during a command are
    reported (here by a command module patched to create both)."""
    code = SPY.replace(
        "entry.main()",
        "import atexit, tempfile\n"
        "atexit.register(print)\n"
        "kept = tempfile.TemporaryDirectory()\n"
        "entry.main()",
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "status"],
        cwd=site,
        env=_env(site, None),
        capture_output=True,
        text=True,
        timeout=120,
    )
    (line,) = [line for line in proc.stderr.splitlines() if line.startswith("EXIT-SPY ")]
    registered, finalizers = json.loads(line.removeprefix("EXIT-SPY "))
    assert "builtins.print" in registered
    assert any("TemporaryDirectory" in name or "_cleanup" in name for name in finalizers)
