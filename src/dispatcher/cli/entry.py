"""Console-script entry point, with a fast path for TAB completion of ids."""

from __future__ import annotations

import os
import sys


def _fast_completion() -> bool:
    """Answer bash TAB completion of run and request ids without importing Typer.

    A word starting with RUN- or REP- can only be an id, wherever it stands on the command
    line, so the stdlib completers answer it directly; anything else goes to Typer.
    """
    if os.environ.get("_DISPATCHER_COMPLETE") != "complete_bash":
        return False
    words = os.environ.get("COMP_WORDS", "").split()
    try:
        index = int(os.environ.get("COMP_CWORD", ""))
    except ValueError:
        return False
    current = words[index] if 0 <= index < len(words) else ""
    prefix = current.upper()
    if prefix.startswith("RUN-"):
        from dispatcher.cli.completion import complete_run_id as complete
    elif prefix.startswith("REP-"):
        from dispatcher.cli.completion import complete_request_id as complete
    else:
        return False
    sys.stdout.write("".join(f"{value}\n" for value in complete(current)))
    return True


def main() -> None:
    if _fast_completion():
        return
    from dispatcher.cli.app import app

    app(prog_name="dispatcher")
