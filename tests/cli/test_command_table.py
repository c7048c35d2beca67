"""The static command table agrees with the Typer app: TAB answers, and the one-command apps
the entry point builds."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import typer
from typer import _click as click

from dispatcher.cli.app import app
from dispatcher.cli.command_table import (
    COMMANDS,
    GROUP_OPTIONS,
    ROOT_OPTIONS,
    ROOT_VALUE_OPTIONS,
    SOURCES,
    command_word,
    complete_words,
)
from dispatcher.cli.root import build_app


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
        expected = COMMANDS[name]
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


def _params(command: click.Command) -> list[tuple[str, ...]]:
    return [tuple(p.opts) for p in command.params]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_one_command_app_has_that_command_as_the_whole_app_has_it(name: str) -> None:
    assert set(SOURCES) == set(COMMANDS)
    whole = _root()
    single = typer.main.get_command(build_app([name]))
    assert isinstance(single, typer.core.TyperGroup)
    assert name in single.commands
    assert _params(single) == _params(whole)
    mine, theirs = single.commands[name], whole.commands[name]
    assert _params(mine) == _params(theirs)
    assert mine.help == theirs.help
    if isinstance(theirs, typer.core.TyperGroup):
        assert isinstance(mine, typer.core.TyperGroup)
        for sub, command in theirs.commands.items():
            assert _params(mine.commands[sub]) == _params(command)


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["status"], "status"),
        (["--db", "x.db", "--site", "GRAZ", "list-runs", "-n", "5"], "list-runs"),
        (["--db=x.db", "audit", "verify"], "audit"),
        (["--help"], None),
        (["stauts"], None),
        ([], None),
        (["--db"], None),
    ],
)
def test_the_command_word_is_found_after_root_options(args: list[str], word: str | None) -> None:
    assert command_word(args) == word
