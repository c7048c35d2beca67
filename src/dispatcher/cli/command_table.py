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
    "audit": ("log", "verify"),
    "db": ("upgrade", "current"),
}


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
