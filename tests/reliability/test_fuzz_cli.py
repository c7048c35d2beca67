"""Every value-taking option and argument of every command, given hostile values.

For each command the other required parameters get valid values (the demo site's runs, users,
files), and one parameter at a time gets a hostile one: unicode, NUL-free control characters,
huge and negative numbers, 24:00 and 25:61, path traversal, formula prefixes, very long text.
The outcome must be exit 0, 1 or 2 with at most one `Error:`/`Blocked:` line, never a
traceback, and a command that fails must not leave a file at its --out path.
`make test` tries 3 values per parameter, `make stress` 150.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dispatcher.cli import wiring
from dispatcher.cli.app import app
from tests.reliability.harness import FULL, NOW, must, record, size

SKIPPED = {"demo", "solve", "run-repair", "db restore", "db upgrade"}  # slow or replace the db
HOSTILE = [
    "",
    " ",
    "-",
    "--",
    "0",
    "-1",
    "99999999999999999999999999",
    "1e309",
    "24:00",
    "25:61",
    "2026-W99",
    "2026-02-30",
    "../../../../etc/passwd",
    "/dev/full",
    "nowhere/deep/file.csv",
    "=cmd|' /C calc'!A0",
    "@SUM(A1)",
    "+49 123",
    "Ünïcødé ✓ 🚚",
    "\u202eevil",
    "a\tb\rc",
    "RUN-20260112-002",
    "REP-0",
    "x" * 5000,
]
VALID = {
    "run_id": "RUN-20260112-002",
    "request": "REP-20260113063000",
    "week": "2026-W03",
    "driver": "D005",
    "absence_type": "sick",
    "requester": "disp001",
    "approver": "disp001",
    "by": "admin01",
    "role": "dispatcher",
    "reason": "Fuzzing every option of this command.",
    "name": "Fuzz Tester",
    "user_id": "fuzz01",
    "assignments": "min_reason_length=12",
    "file": "run-2026-W03.json",
    "target": "backup.db",
    "out": "out-file",
}


def _commands() -> Iterator[tuple[list[str], typer.core.TyperCommand]]:
    root = typer.main.get_command(app)
    assert isinstance(root, typer.core.TyperGroup)
    for name, command in root.commands.items():
        if isinstance(command, typer.core.TyperGroup):
            for sub, leaf in command.commands.items():
                assert isinstance(leaf, typer.core.TyperCommand)
                yield [name, sub], leaf
        else:
            assert isinstance(command, typer.core.TyperCommand)
            yield [name], command


CASES = [
    (path, param.name)
    for path, command in _commands()
    if " ".join(path) not in SKIPPED
    for param in command.params
    if param.name and not getattr(param, "is_flag", False)
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz-cli")
    must(folder / "demo.db", ["demo", "--files", str(folder / "files")])
    return folder


def _args(path: list[str], fuzzed: str, value: str, folder: Path) -> list[str]:
    leaf = next(c for p, c in _commands() if p == path)
    args = list(path)
    for param in leaf.params:
        if getattr(param, "is_flag", False) or param.name is None:
            continue
        if param.name == fuzzed:
            text = value
        elif param.required:
            text = VALID.get(param.name, "x")
            if param.name in ("file", "target", "out"):
                text = str(folder / text)
        else:
            continue
        if isinstance(param, typer.core.TyperArgument):
            args += ["--", text] if text.startswith("-") else [text]
        else:
            args += [f"{param.opts[0]}={text}"]
    return args


@pytest.mark.parametrize(("path", "name"), CASES, ids=[f"{' '.join(p)}:{n}" for p, n in CASES])
def test_hostile_values(
    path: list[str], name: str, demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # relative hostile paths land here, not in the checkout
    db = tmp_path / "db.db"
    shutil.copyfile(demo / "demo.db", db)
    (tmp_path / "run-2026-W03.json").write_bytes(
        (demo / "files" / "run-2026-W03.json").read_bytes()
    )
    runner = CliRunner()
    env = {"DISPATCHER_DB": str(db), "DISPATCHER_NOW": NOW, "NO_COLOR": "1", "COLUMNS": "100"}

    @settings(
        max_examples=size(3, 150),
        derandomize=not FULL,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.sampled_from(HOSTILE) | st.text(max_size=30).filter(lambda t: "\x00" not in t))
    def check(value: str) -> None:
        out = tmp_path / "out-file"
        if out.is_dir():  # a successful `evidence export` makes a folder
            shutil.rmtree(out)
        out.unlink(missing_ok=True)
        args = _args(path, name, value, tmp_path)
        result = runner.invoke(app, args, env=env, prog_name="dispatcher")
        wiring.reset()
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            args,
            repr(result.exception),
        )
        assert result.exit_code in (0, 1, 2), (args, result.output)
        errors = [line for line in result.stderr.splitlines() if line]
        if result.exit_code == 0:  # a success may say what to do next, never what failed
            failed = ("Error", "Blocked", "Traceback")
            assert not any(line.startswith(failed) for line in errors), (args, result.stderr)
        else:
            assert len(errors) <= 1, (args, result.stderr)  # `check` shows why on stdout
        assert result.exit_code in (0, 2) or len(errors) == 1, (args, result.stderr)
        assert "Traceback" not in result.output
        if result.exit_code != 0 and name != "out":
            assert not out.exists(), args

    check()
    record(f"fuzz-cli {' '.join(path)} {name}", cases=size(3, 150))
