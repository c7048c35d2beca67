"""The command tree as plain data, so a TAB on a command name needs no Typer import.

`tests/cli/test_completion.py` checks this table against the Typer app: a command added, renamed
or hidden there fails the test until the table says the same.
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

# Top-level commands in the app's order; groups map to their subcommands.
COMMANDS: dict[str, tuple[str, ...]] = {
    "status": (),
    "import-run": (),
    "list-runs": (),
    "show-run": (),
    "solve": (),
    "roster": (),
    "report": (),
    "request-repair": (),
    "run-repair": (),
    "apply-repair": (),
    "reject-repair": (),
    "publish": (),
    "lock": (),
    "check": (),
    "export": (),
    "demo": (),
    "kill-switch": ("activate", "deactivate", "status"),
    "repairs": ("list", "show"),
    "users": ("add", "disable", "list"),
    "site": ("show", "init", "set"),
    "evidence": ("verify", "export"),
    "audit": ("log", "verify", "checkpoint", "keygen"),
    "db": ("init", "upgrade", "current", "backup", "restore"),
}

# Where each top-level command is defined: module under dispatcher.cli and its Typer object.
SOURCES: dict[str, tuple[str, str]] = {
    "status": ("status", "status_app"),
    "import-run": ("runs", "runs_app"),
    "list-runs": ("runs", "runs_app"),
    "show-run": ("runs", "runs_app"),
    "solve": ("runs", "runs_app"),
    "roster": ("roster", "roster_app"),
    "report": ("report", "report_app"),
    "request-repair": ("repairs", "repair_app"),
    "run-repair": ("repairs", "repair_app"),
    "apply-repair": ("repairs", "repair_app"),
    "reject-repair": ("repairs", "repair_app"),
    "publish": ("decisions", "decisions_app"),
    "lock": ("decisions", "decisions_app"),
    "check": ("decisions", "decisions_app"),
    "export": ("decisions", "decisions_app"),
    "demo": ("demo", "demo_app"),
    "kill-switch": ("kill_switch", "kill_switch_app"),
    "repairs": ("repairs", "repairs_app"),
    "users": ("users", "users_app"),
    "site": ("site", "site_app"),
    "evidence": ("evidence", "evidence_app"),
    "audit": ("audit", "audit_app"),
    "db": ("db", "db_app"),
}


def command_word(args: list[str]) -> str | None:
    """The top-level command in `args` (after root options and their values), if it is one."""
    position = 0
    while position < len(args):
        word = args[position]
        if word in ROOT_VALUE_OPTIONS:
            position += 2
        elif word.split("=", 1)[0] in ROOT_VALUE_OPTIONS:
            position += 1
        else:
            return word if word in COMMANDS else None
    return None


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
    elif position == index - 1 and COMMANDS.get(words[position]):
        group = words[position]
        choices = GROUP_OPTIONS if current.startswith("-") else COMMANDS[group]
    else:
        return None
    return [choice for choice in choices if choice.startswith(current)]
