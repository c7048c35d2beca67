"""Docs match the code: the generated CLI reference is current and every command explains itself."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.core import TyperGroup

from dispatcher.cli.app import app
from dispatcher.cli.docgen import cli_reference

ROOT = Path(__file__).resolve().parents[1]


def _leaf_commands() -> list[tuple[str, typer.core.TyperCommand]]:
    found: list[tuple[str, typer.core.TyperCommand]] = []

    def walk(group: TyperGroup, prefix: str) -> None:
        for name, command in group.commands.items():
            if isinstance(command, TyperGroup):
                walk(command, f"{prefix} {name}")
            else:
                assert isinstance(command, typer.core.TyperCommand)
                found.append((f"{prefix} {name}".strip(), command))

    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    walk(root, "")
    return found


def test_cli_reference_is_current() -> None:
    committed = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert committed == cli_reference(), "docs/cli.md is stale: run `make docs`"


def test_every_command_has_help_with_an_example() -> None:
    commands = _leaf_commands()
    assert len(commands) >= 4
    for name, command in commands:
        assert command.help, f"{name} has no help"
        assert "Example:" in command.help, f"{name} help has no Example"


def test_readme_gives_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme
    assert "make test" in readme
