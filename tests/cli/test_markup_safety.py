"""Text that users and files bring in is shown as typed, never read as Rich markup: a reason
like "[urgent] sick call", a name with "[/]", a solver called "[bold]" must neither crash a
command nor restyle its output."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Cli
from tests.samples import OVERRIDE, RUN, run_doc, write_run

MARK = "[/]"
REASON = f"[urgent] week reviewed {MARK}"


def _doc() -> dict[str, object]:
    doc = run_doc(solver={"name": "[bold]planner", "version": "[/]2", "seed": 7})
    drivers = doc["drivers"]
    assert isinstance(drivers, list)
    drivers[0]["name"] = f"Maria {MARK} [red]Berger"
    tours = doc["tours"]
    assert isinstance(tours, list)
    tours[3]["notes"] = f"night {MARK}"
    return doc


def test_bracketed_text_is_shown_as_typed_everywhere(cli: Cli, tmp_path: Path) -> None:
    def ok(*args: str) -> str:
        result = cli(*args)
        assert result.exit_code in (0, 2), (args, result.output)
        return result.output

    ok("users", "add", "admin01", "--name", f"Admin {MARK}", "--role", "platform_admin")
    ok("users", "add", "disp001", "--name", "[bold]Disp", "--role", "dispatcher",
       "--by", "admin01", "--reason", REASON)  # fmt: skip
    ok("site", "set", "fte_warn_bp=0", "--by", "admin01", "--reason", REASON)
    ok("import-run", str(write_run(tmp_path / "run.json", _doc())))
    ok("request-repair", "--week", "2026-W03", "--driver", "D001", "--type", "sick",
       "--days", "Tue", "--requester", "disp001", "--notes", f"flu {MARK}")  # fmt: skip
    checked = ok("check", RUN, "--approver", "disp001", "--role", MARK,
                 "--reason", REASON)  # fmt: skip
    assert MARK in checked
    ok("publish", RUN, "--approver", "disp001", "--role", "dispatcher", "--reason", REASON,
       *OVERRIDE)  # fmt: skip
    ok("kill-switch", "activate", "--by", "admin01", "--reason", REASON)
    shown = {
        "users": ok("users", "list"),
        "log": ok("audit", "log", "--limit", "50"),
        "kill": ok("kill-switch", "status"),
        "status": ok("status"),
        "run": ok("show-run", RUN, "--details"),
        "roster": ok("roster", RUN),
        "repairs": ok("repairs", "list"),
        "site": ok("site", "show"),
        "runs": ok("list-runs"),
    }
    assert f"Admin {MARK}" in shown["users"] and "[bold]Disp" in shown["users"]
    assert "[urgent]" in shown["log"] and f"flu {MARK}" in shown["log"], shown["log"]
    assert REASON in shown["kill"]
    assert "[bold]planner" in shown["run"]
    assert "[red]Berger" in shown["roster"] or "Maria" in shown["roster"]
