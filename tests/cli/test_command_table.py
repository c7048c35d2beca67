"""The command table agrees with the modules that define the commands: the root group loads
from it, TAB answers from it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer import _click as click

from dispatcher.cli.app import app
from dispatcher.cli.command_table import (
    COMMANDS,
    GROUP_OPTIONS,
    ROOT_OPTIONS,
    ROOT_VALUE_OPTIONS,
    complete_words,
    subcommands,
)


def _root() -> typer.core.TyperGroup:
    command = typer.main.get_command(app)
    assert isinstance(command, typer.core.TyperGroup)
    return command


def _options(command: typer.core.TyperGroup, context: click.Context) -> set[str]:
    return {
        opt
        for param in command.get_params(context)
        if isinstance(param, typer.core.TyperOption) and not param.hidden
        for opt in (*param.opts, *param.secondary_opts)
    }


def test_the_table_lists_what_the_app_has() -> None:
    root = _root()
    context = root.make_context("dispatcher", [], resilient_parsing=True)
    names = [n for n in root.list_commands(context) if not root.commands[n].hidden]
    assert names == list(COMMANDS)
    for name in names:
        command = root.commands[name]
        expected = subcommands(name)
        if isinstance(command, typer.core.TyperGroup):
            child = command.make_context(name, [], parent=context, resilient_parsing=True)
            assert command.list_commands(child) == list(expected), name
            assert _options(command, child) == set(GROUP_OPTIONS), name
        else:
            assert expected == (), name
    assert _options(root, context) == set(ROOT_OPTIONS)
    takes_value = {
        opt
        for param in root.params
        if isinstance(param, typer.core.TyperOption) and not param.is_flag
        for opt in param.opts
    }
    assert takes_value == ROOT_VALUE_OPTIONS


def _typer_answer(words: list[str]) -> list[str]:
    """What Typer itself prints for this TAB (the app run directly, without the fast path)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISPATCHER_", "_DISPATCHER"))}
    env.update(
        _DISPATCHER_COMPLETE="complete_bash",
        COMP_WORDS=" ".join(words),
        COMP_CWORD=str(len(words) - 1),
    )
    code = "from dispatcher.cli.app import app; app(prog_name='dispatcher')"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    return proc.stdout.split()


CASES = [
    "dispatcher |",
    "dispatcher s|",
    "dispatcher show|",
    "dispatcher x|",
    "dispatcher -|",
    "dispatcher --s|",
    "dispatcher audit |",
    "dispatcher kill-switch d|",
    "dispatcher site -|",
    "dispatcher --db /tmp/x.db |",
    "dispatcher --tenant LTS --site WIEN re|",
    "dispatcher --site WIEN db c|",
]


@pytest.mark.parametrize("line", CASES)
def test_the_fast_answer_is_the_typer_answer(line: str) -> None:
    typed, incomplete = line.split("|")[0].rsplit(" ", 1)
    words = [*typed.split(), incomplete]
    fast = complete_words(words, len(words) - 1)
    assert fast is not None, "the table should answer this one"
    slow = _typer_answer(words)
    if incomplete.startswith("-"):  # Typer orders -h/--help differently from run to run
        fast, slow = sorted(fast), sorted(slow)
    assert fast == slow


@pytest.mark.parametrize(
    "words",
    [
        ["dispatcher", "--db", ""],  # an option's value: a path
        ["dispatcher", "publish", "-"],  # a command's own options
        ["dispatcher", "show-run", ""],  # a command's argument
        ["dispatcher", "audit", "log", "-"],  # a subcommand's options
    ],
)
def test_the_table_leaves_the_rest_to_typer(words: list[str]) -> None:
    assert complete_words(words, len(words) - 1) is None


def test_every_module_defines_exactly_what_the_table_says() -> None:
    """A command added to a module but not to the table would never load; one the table lists
    but no module defines would fail on use. Both fail here."""
    import importlib

    sources = {(module, attribute) for module, attribute, _ in COMMANDS.values()}
    for module, attribute in sorted(sources):
        sub_app = getattr(importlib.import_module(f"dispatcher.cli.{module}"), attribute)
        holder = typer.Typer()
        listed = [n for n, (m, a, _) in COMMANDS.items() if (m, a) == (module, attribute)]
        if subcommands(listed[0]):
            holder.add_typer(sub_app, name=listed[0])
        else:
            holder.add_typer(sub_app)
        holder.callback()(lambda: None)
        defined = [n for n, c in typer.main.get_group(holder).commands.items() if not c.hidden]
        assert defined == listed, module


def test_a_command_loads_only_its_own_module(tmp_path: Path) -> None:
    code = (
        "import sys, typer\n"
        "from dispatcher.cli.app import app\n"
        "group = typer.main.get_command(app)\n"
        "group.main(['--db', sys.argv[1], 'kill-switch', 'status'], standalone_mode=False)\n"
        "print('LOADED', *sorted(m for m in sys.modules if m.startswith('dispatcher.cli.')))\n"
    )
    db = f"{tmp_path}/x.db"
    proc = subprocess.run(
        [sys.executable, "-c", code, db], capture_output=True, text=True, timeout=120, check=True
    )
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("LOADED ")]
    loaded = set(line.split()[1:]) & {
        f"dispatcher.cli.{module}" for module, _, _ in COMMANDS.values()
    }
    assert loaded == {"dispatcher.cli.kill_switch"}
