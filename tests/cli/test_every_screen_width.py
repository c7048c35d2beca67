"""Every read view and every help screen at 80, 100 and 140 columns (issue 21): no line wider
than the terminal, no id, time or hash cut or split over two lines, no cell ended with "…".

The data is realistic: the demo site (two weeks, ~1,480 tour instances in 2026-W03), one sick
call with its proposal, and a site chain of more than 1,000 events.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.cells import cell_len
from typer.main import get_command
from typer.testing import CliRunner

from dispatcher.cli import wiring
from dispatcher.cli.app import app

WIDTHS = (80, 100, 140)
TUESDAY = "2026-01-13T05:30:00Z"
RUN = "RUN-20260112-002"  # the demo's PASS run of 2026-W03
FAULTY = "RUN-20260112-001"  # its hand-edited FAIL run: violations in every view
REQUEST = "REP-20260113063000"
# Tokens that must stand whole: what is left of one after a cut or a fold no longer matches.
WHOLE = {
    "run id": (r"RUN-\d", r"RUN-\d{8}-\d{3}\b"),
    "request id": (r"REP-\d", r"REP-\d{14}(-\d+)?\b"),
    "hash": (r"sha256:[0-9a-f]", r"sha256:[0-9a-f]{64}\b"),
    "timestamp": (r"\b20\d\d-\d\d-\d\dT", r"\b20\d\d-\d\d-\d\dT\d\d:\d\d(:\d\d)?"),
}


def _run(db: Path, width: int, *args: str) -> Any:
    env = {"DISPATCHER_DB": str(db), "DISPATCHER_NOW": TUESDAY, "COLUMNS": str(width),
           "NO_COLOR": "1"}  # fmt: skip
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    wiring.reset()
    return result


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, demo_sqlite: Path) -> Iterator[Path]:
    """The demo site with a sick call proposed and a long chain (a refusal is one event)."""
    db = tmp_path_factory.mktemp("screens") / "dispatcher.db"
    shutil.copyfile(demo_sqlite / "dispatcher.db", db)
    steps = [
        ("request-repair", "--week", "2026-W03", "--driver", "D005", "--type", "sick",
         "--days", "Tue,Wed", "--requester", "disp001", "--notes", "Called in at 06:10"),
        ("run-repair", "--request", REQUEST, "--time-limit", "5"),
    ]  # fmt: skip
    for step in steps:
        result = _run(db, 120, *step)
        assert result.exit_code == 0, result.output
    _lengthen_the_chain(db, 1_000)
    yield db


def _lengthen_the_chain(db: Path, count: int) -> None:
    """`count` refused publishes (what a busy week of retries leaves), in one transaction."""
    from dispatcher.config import Settings
    from dispatcher.domain.events import Action, EventDraft, Outcome
    from dispatcher.services.audit import record_event

    at = datetime(2026, 1, 13, 5, 30, tzinfo=UTC)  # TUESDAY
    with wiring.unit_of_work(Settings(db=str(db)), write=True, clock=lambda: at) as uow:
        for n in range(count):
            record_event(
                uow,
                EventDraft(
                    Action.PUBLISH,
                    Outcome.BLOCKED,
                    actor_id="disp001",
                    actor_role="dispatcher",
                    reason=f"Retry {n} after the Tuesday sick call was covered",
                    run_id=RUN,
                    plan_version=1,
                    detail={"check": "no_open_repairs", "message": "Open repairs: " + REQUEST},
                ),
            )
        uow.commit()
    wiring.reset()


READ_VIEWS: tuple[tuple[str, ...], ...] = (
    ("status",),
    ("list-runs",),
    ("list-runs", "--week", "2026-W03"),
    ("show-run", RUN),
    ("show-run", RUN, "--details"),
    ("show-run", FAULTY, "--details"),
    ("roster", RUN),
    ("roster", RUN, "--driver", "D005"),
    ("roster", FAULTY, "--driver", "D058"),
    ("roster", FAULTY, "--day", "Wed", "--timeline"),
    ("repairs", "list"),
    ("repairs", "show", REQUEST),
    ("repairs", "show", REQUEST, "--roster"),
    ("check", RUN, "--approver", "disp001", "--role", "dispatcher", "--reason", "Reviewed"),
    ("kill-switch", "status"),
    ("users", "list"),
    ("site", "show"),
    ("audit", "log"),
    ("audit", "log", "--limit", "200"),
    ("audit", "log", "--chain", "tenant"),
    ("audit", "verify"),
    ("evidence", "verify", RUN),
    ("db", "current"),
)


# A boxed table's line ends with the border it began with; cut at the edge, it does not.
BORDER = {"│": "│", "┃": "┃", "┏": "┓", "┡": "┩", "└": "┘", "┌": "┐", "├": "┤", "╭": "╮",
          "╰": "╯"}  # fmt: skip


def _problems(text: str, width: int) -> list[str]:
    found = []
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if cell_len(line) > width:
            found.append(f"line {number} is {cell_len(line)} cells: {line!r}")
        if "…" in line:
            found.append(f"line {number} cuts a cell: {line!r}")
        if line[:1] in BORDER and line.rstrip()[-1:] != BORDER[line[0]]:
            found.append(f"line {number} is cut at the terminal's edge: {line!r}")
        for what, (start, whole) in WHOLE.items():
            for hit in re.finditer(start, line):
                if not re.match(whole, line[hit.start() :]):
                    found.append(f"line {number} splits a {what}: {line!r}")
    return found


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("args", READ_VIEWS, ids=lambda args: " ".join(args[:3]))
def test_every_read_view_fits_the_terminal(site: Path, args: tuple[str, ...], width: int) -> None:
    result = _run(site, width, *args)
    assert result.exit_code in (0, 2), result.output  # `check` of a blocked run exits 2
    assert result.stdout.strip(), args
    assert _problems(result.stdout, width) == []


def _command_paths() -> list[tuple[str, ...]]:
    root = get_command(app)
    paths: list[tuple[str, ...]] = [()]

    def walk(command: Any, path: tuple[str, ...]) -> None:
        if hasattr(command, "list_commands"):  # a group (Typer's own Click)
            context = typer.Context(command)
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                if sub is not None and not sub.hidden:
                    paths.append((*path, name))
                    walk(sub, (*path, name))

    walk(root, ())
    return paths


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", _command_paths(), ids=lambda path: " ".join(path) or "root")
def test_every_help_screen_fits_and_keeps_examples_whole(
    tmp_path: Path, path: tuple[str, ...], width: int
) -> None:
    result = _run(tmp_path / "unused.db", width, *path, "--help")
    assert result.exit_code == 0, result.output
    assert _problems(result.stdout, width) == []
    # An example command is printed on lines of its own, each but the last ending in a
    # continuation: pasted, the shell reads one command (nothing of it is left on a line that
    # would run on its own).
    lines = [line.strip(" │|") for line in result.stdout.splitlines()]
    for number, line in enumerate(lines):
        if not line.startswith("dispatcher "):
            continue
        command = [line]
        while command[-1].endswith("\\"):
            command.append(lines[number + len(command)])
        after = lines[number + len(command)] if number + len(command) < len(lines) else ""
        assert not after.startswith("-"), (command, after)
        words = shlex.split(" ".join(part.removesuffix("\\") for part in command))
        assert words[0] == "dispatcher" and all(w != "\\" for w in words), command
