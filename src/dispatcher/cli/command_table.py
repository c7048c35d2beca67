"""The command tree as plain data: the root group loads each command's module from it when the
command is used, and a TAB on a command name is answered from it without importing Typer.

`tests/cli/test_command_table.py` checks this table against the modules: a command added,
renamed or hidden there fails the test until the table says the same.
"""

from __future__ import annotations

# Root options in the order Typer offers them; the first three take a value.
ROOT_OPTIONS = (
    "--db",
    "--tenant",
    "--site",
    "--version",
    "--install-completion",
    "--show-completion",
    "-h",
    "--help",
)
ROOT_VALUE_OPTIONS = frozenset({"--db", "--tenant", "--site"})
GROUP_OPTIONS = ("-h", "--help")

# The command tree, in the app's order: each top-level command, the module under
# dispatcher.cli and the Typer object that define it, and a group's subcommands. The root group
# (cli/root.py) loads a module when one of its commands is asked for; completion of command
# names answers from this table without importing Typer.
COMMANDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "status": ("status", "status_app", ()),
    "import-run": ("runs", "runs_app", ()),
    "list-runs": ("runs", "runs_app", ()),
    "show-run": ("runs", "runs_app", ()),
    "solve": ("runs", "runs_app", ()),
    "roster": ("roster", "roster_app", ()),
    "report": ("report", "report_app", ()),
    "request-repair": ("repairs", "repair_app", ()),
    "run-repair": ("repairs", "repair_app", ()),
    "apply-repair": ("repairs", "repair_app", ()),
    "reject-repair": ("repairs", "repair_app", ()),
    "publish": ("decisions", "decisions_app", ()),
    "lock": ("decisions", "decisions_app", ()),
    "check": ("decisions", "decisions_app", ()),
    "export": ("decisions", "decisions_app", ()),
    "demo": ("demo", "demo_app", ()),
    "kill-switch": ("kill_switch", "kill_switch_app", ("activate", "deactivate", "status")),
    "repairs": ("repairs", "repairs_app", ("list", "show")),
    "users": ("users", "users_app", ("add", "disable", "link", "unlink", "list")),
    "site": ("site", "site_app", ("show", "init", "set")),
    "evidence": ("evidence", "evidence_app", ("verify", "export")),
    "audit": ("audit", "audit_app", ("log", "verify", "checkpoint", "keygen")),
    "db": ("db", "db_app", ("init", "upgrade", "current", "backup", "restore")),
}


def subcommands(name: str) -> tuple[str, ...]:
    """A group's subcommands; () for a command."""
    return COMMANDS[name][2]


def complete_words(words: list[str], index: int) -> list[str] | None:
    """Bash completions for the word at `index` of `words`, or None when the table cannot tell
    (an option value, a command's own options or arguments): Typer answers those."""
    if not 0 < index <= len(words):
        return None
    current = words[index] if index < len(words) else ""
    position = 1
    while position < index and words[position] in ROOT_VALUE_OPTIONS:
        position += 2  # a root option and its value
    if position == index:
        choices: tuple[str, ...] = ROOT_OPTIONS if current.startswith("-") else tuple(COMMANDS)
    elif position == index - 1 and words[position] in COMMANDS and subcommands(words[position]):
        group = words[position]
        choices = GROUP_OPTIONS if current.startswith("-") else subcommands(group)
    else:
        return None
    return [choice for choice in choices if choice.startswith(current)]
