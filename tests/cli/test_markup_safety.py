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


CONTROL = "flu\x1b[31m red\nsecond line\u202eenil\u2028sep\x07"


def test_control_characters_are_written_out_in_every_view(cli: Cli, tmp_path: Path) -> None:
    """A name, a note or a file's text holding ESC, a line break or a bidirectional override
    must not move the cursor, colour the terminal or break a table's line: each view shows it
    written out (\\x1b, \\n, \\u202e)."""
    doc = run_doc()
    drivers = doc["drivers"]
    assert isinstance(drivers, list)
    drivers[0]["name"] = f"Maria {CONTROL}"
    added = cli("users", "add", "admin01", "--name", f"Admin {CONTROL}", "--role", "platform_admin")
    assert added.exit_code == 0, added.output
    assert cli("users", "add", "disp001", "--name", "Disp", "--role", "dispatcher",
               "--by", "admin01", "--reason", "Dispatcher for Wien").exit_code == 0  # fmt: skip
    assert cli("import-run", str(write_run(tmp_path / "run.json", doc))).exit_code == 0
    requested = cli("request-repair", "--week", "2026-W03", "--driver", "D001", "--type", "sick",
                    "--days", "Tue", "--requester", "disp001", "--notes", CONTROL)  # fmt: skip
    assert requested.exit_code == 0, requested.output
    views = {
        "added": added.stdout,
        "users": cli("users", "list").stdout,
        "log": cli("audit", "log", "--limit", "50").stdout,
        "run": cli("show-run", RUN, "--details").stdout,
        "roster": cli("roster", RUN).stdout,
        "repair": cli("repairs", "show", json_id(cli)).stdout,
    }
    for name, text in views.items():
        assert not set(text) & {"\x1b", "\u202e", "\u2028", "\x07"}, name
        assert "second line" not in text.replace("\\nsecond line", ""), (name, text)
    assert "\\x1b[31m" in views["users"] and "\\x1b[31m" in views["repair"]


def json_id(cli: Cli) -> str:
    import json

    return str(json.loads(cli("repairs", "list", "--json").stdout)[0]["request_id"])
