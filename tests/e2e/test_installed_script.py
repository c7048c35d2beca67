"""The installed `dispatcher` script in fresh processes: start-up budget, completion, a week."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from tests.helpers import dispatcher_traced

HEAVY = {"sqlalchemy", "alembic", "ortools", "highspy", "pydantic", "cryptography", "numpy"}
SCRIPT = Path(sys.executable).parent / "dispatcher"


def _env(db: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISPATCHER_", "_DISPATCHER"))}
    env.update(
        {
            "DISPATCHER_DB": str(db),
            "NO_COLOR": "1",
            "COLUMNS": "120",
            "XDG_CACHE_HOME": str(db.parent / "cache"),
        },
        **extra,
    )
    return env


def _loaded(args: list[str], env: dict[str, str]) -> tuple[str, set[str]]:
    _, out, names = dispatcher_traced(args, env)
    return out, names


def test_version_loads_no_heavy_module(tmp_path: Path) -> None:
    out, loaded = _loaded(["--version"], _env(tmp_path / "x.db"))
    assert out.startswith("dispatcher ")
    assert loaded.isdisjoint(HEAVY | {"rich"})


def test_help_lists_every_command_and_the_exit_codes(tmp_path: Path) -> None:
    out, loaded = _loaded(["--help"], _env(tmp_path / "x.db"))
    assert "show-run" in out and "kill-switch" in out and "Exit codes" in out
    assert loaded.isdisjoint(HEAVY)


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
    assert [r["status"] for r in runs] == ["PASS", "FAIL", "WARN"]
    shown = _run(["show-run", "RUN-20260112-001", "--details"], env)
    assert shown.returncode == 0
    assert "UNASSIGNED" in shown.stdout and "WEEKLY_HOURS" in shown.stdout
    assert _run(["evidence", "verify", "RUN-20260112-002"], env).returncode == 0
    assert _run(["audit", "verify"], env).returncode == 0
    unknown = _run(["show-run", "RUN-20990101-001"], env)
    assert (unknown.returncode, unknown.stderr) == (1, "Error: Run RUN-20990101-001 not found\n")

    # TAB completion of run ids answers from the database before Typer is even imported.
    words = {
        "_DISPATCHER_COMPLETE": "complete_bash",
        "COMP_WORDS": "dispatcher show-run RUN-20260112",
        "COMP_CWORD": "2",
    }
    out, loaded = _loaded([], _env(db, **words))
    assert out.split() == ["RUN-20260112-002", "RUN-20260112-001"]
    assert loaded.isdisjoint(HEAVY | {"typer", "rich"})
    _, _, every = dispatcher_traced([], _env(db, **words), full=True)
    ours = {name for name in every if name.split(".")[0] == "dispatcher"}
    # Every import here is paid on each TAB: the entry point, the id lookup and the defaults.
    assert ours == {
        "dispatcher",
        "dispatcher.cli",
        "dispatcher.cli.entry",
        "dispatcher.cli.completion",
        "dispatcher.defaults",
    }
    # Command names come from the static table, also without Typer.
    commands = {
        "_DISPATCHER_COMPLETE": "complete_bash",
        "COMP_WORDS": "dispatcher show-r",
        "COMP_CWORD": "1",
    }
    out, loaded = _loaded([], _env(db, **commands))
    assert out.split() == ["show-run"]
    assert loaded.isdisjoint(HEAVY | {"typer", "rich"})
    # Anything else (here: a command's options) still completes through Typer.
    options = {
        "_DISPATCHER_COMPLETE": "complete_bash",
        "COMP_WORDS": "dispatcher publish --app",
        "COMP_CWORD": "2",
    }
    out, loaded = _loaded([], _env(db, **options))
    assert out.split() == ["--approver"]
    assert "typer" in loaded and loaded.isdisjoint(HEAVY)


def test_the_whole_week_of_the_procedure_on_the_demo_site(tmp_path: Path) -> None:
    env = _env(tmp_path / "week.db")
    assert _run(["demo", "--files", str(tmp_path / "files")], env).returncode == 0
    run = "RUN-20260112-002"
    assert "RUN-20260112-002" in _run(["status"], env).stdout
    assert run in _run(["list-runs"], env).stdout
    assert "Ready to publish" in _run(["show-run", run], env).stdout
    good = [
        "--approver",
        "disp001",
        "--role",
        "dispatcher",
        "--reason",
        "Week 2026-W03 reviewed. All audits pass, KPIs within threshold.",
    ]
    admin = ["--by", "admin01", "--reason", "Procedure walk-through"]

    def blocked(args: list[str], message: str) -> None:
        result = _run(args, env)
        assert (result.returncode, result.stderr) == (2, f"Blocked: {message}\n")

    assert _run(["kill-switch", "activate", *admin], env).returncode == 0
    blocked(["publish", run, *good], "Kill switch is active")
    assert _run(["kill-switch", "deactivate", *admin], env).returncode == 0
    blocked(["publish", run], "Approval required but not provided")
    blocked(
        [
            "publish",
            run,
            "--approver",
            "disp001",
            "--role",
            "driver",
            "--reason",
            "Reviewed it all",
        ],
        "Approver role not in allowed roles",
    )
    blocked(
        ["publish", run, "--approver", "disp001", "--role", "dispatcher", "--reason", "ok"],
        "Reason must be at least 10 characters",
    )
    assert _run(["site", "set", "shadow_only=true", *admin], env).returncode == 0
    blocked(["publish", run, *good], "Site is in shadow-only mode")
    assert _run(["site", "set", "shadow_only=false", *admin], env).returncode == 0
    assert _run(["publish", run, *good], env).returncode == 0
    lock = [
        "--approver",
        "ops001",
        "--role",
        "ops_lead",
        "--reason",
        "Approved for export to dispatch system. Week 2026-W03 finalized.",
    ]
    assert _run(["lock", run, *lock], env).returncode == 0
    export = _run(["export", run, "--format", "csv", "--out", str(tmp_path / "w03.csv")], env)
    assert export.returncode == 0, export.stderr
    log = json.loads(_run(["audit", "log", "--json", "-n", "200"], env).stdout)
    steps = [(e["action"], e["outcome"]) for e in log if e["run_id"] == run]
    assert steps == [("run.import", "allowed")] + [("publish", "blocked")] * 5 + [
        ("publish", "allowed"),
        ("lock", "allowed"),
        ("export", "allowed"),
    ]
    verified = _run(["audit", "verify"], env)
    assert verified.returncode == 0 and "Audit chain intact" in verified.stdout


def test_a_sick_call_on_the_demo_site(tmp_path: Path) -> None:
    env = _env(tmp_path / "sick.db", DISPATCHER_NOW="2026-01-13T05:30:00Z")  # Tue 06:30 Vienna
    assert _run(["demo", "--files", str(tmp_path / "files")], env).returncode == 0
    run = "RUN-20260112-002"
    requested = _run(
        [
            "request-repair",
            "--week",
            "2026-W03",
            "--driver",
            "D005",
            "--type",
            "sick",
            "--days",
            "Tue,Wed",
            "--requester",
            "disp001",
            "--urgency",
            "high",
            "--notes",
            "Called in at 06:30, flu symptoms",
        ],
        env,
    )
    assert requested.returncode == 0, requested.stderr
    request = requested.stdout.strip()
    assert request == "REP-20260113063000"
    publish = [
        "publish",
        run,
        "--approver",
        "disp001",
        "--role",
        "dispatcher",
        "--reason",
        "Week 2026-W03 reviewed, sick call handled",
    ]
    blocked = _run(publish, env)
    assert (blocked.returncode, blocked.stderr) == (
        2,
        f"Blocked: Week 2026-W03 has pending repairs: {request}\n",
    )
    first = json.loads(_run(["run-repair", "--request", request, "--json"], env).stdout)
    second = json.loads(_run(["run-repair", "--request", request, "--json"], env).stdout)
    for doc in (first, second):
        doc["solver"].pop("runtime_ms")
        doc["solver"].pop("notes")
    assert first == second
    assert first["uncovered"] == [] and first["solver"]["proven_optimal"] is True
    assert first["objective"]["drivers_changed"] <= first["greedy"]["drivers_changed"]
    shown = _run(["repairs", "show", request], env)
    assert "D005" in shown.stdout and "Current plan vs proposal" in shown.stdout
    applied = _run(
        [
            "apply-repair",
            request,
            "--approver",
            "disp001",
            "--role",
            "dispatcher",
            "--reason",
            "Sick call covered, diff reviewed",
        ],
        env,
    )
    assert applied.returncode == 0, applied.stderr
    detail = json.loads(_run(["show-run", run, "--json"], env).stdout)
    assert (detail["version"], detail["audits_passed"], detail["status"]) == (2, 7, "PASS")
    assert _run(publish, env).returncode == 0
    assert _run(["audit", "verify"], env).returncode == 0


def test_read_commands_load_core_only_and_agree_with_the_services(tmp_path: Path) -> None:
    from dispatcher.cli.views import runs as runs_view
    from dispatcher.cli.views import status as status_view
    from dispatcher.config import Settings
    from dispatcher.db.engine import make_engine
    from dispatcher.db.unit_of_work import UnitOfWork
    from dispatcher.services.runs import list_runs_with_plans, status_overview

    db = tmp_path / "fast.db"
    env = _env(db)
    assert _run(["demo", "--files", str(tmp_path / "files")], env).returncode == 0
    for command in (
        ["list-runs"],
        ["status"],
        ["list-runs", "--json"],
        ["show-run", "RUN-20260112-001", "--details"],
        ["show-run", "RUN-20260112-002", "--json"],
        ["audit", "verify"],
    ):
        _, _, loaded = dispatcher_traced(command, env, full=True)
        assert "sqlalchemy.engine" in loaded, command  # the one path to the data
        assert loaded.isdisjoint({"sqlalchemy.orm", "alembic", "ortools", "cryptography"}), command
    engine = make_engine(Settings(db=str(db)).url)

    def uow() -> UnitOfWork:
        return UnitOfWork(engine, "LTS", "WIEN", lambda: datetime.now(UTC), write=False)

    listed = json.loads(_run(["list-runs", "--json"], env).stdout)
    runs, plans = list_runs_with_plans(uow())
    assert listed == [runs_view.run_summary_json(r, plans.get(r.week)) for r in runs]
    assert json.loads(_run(["status", "--json"], env).stdout) == status_view.status_json(
        status_overview(uow())
    )
    engine.dispose()
