"""Console-script entry point, with fast paths (no Typer import) for TAB completion of ids and
command names and for `--version`."""

from __future__ import annotations

import os
import sys


def _fast_completion() -> bool:
    """Answer bash TAB completion of ids and command names without importing Typer.

    A word starting with RUN- or REP- can only be an id, wherever it stands on the command
    line, so the stdlib completers answer it from the database; command and group names come
    from a static table; anything else (option values, a command's options) goes to Typer.
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
        from dispatcher.cli.completion import complete_run_id

        values = complete_run_id(current)
    elif prefix.startswith("REP-"):
        from dispatcher.cli.completion import complete_request_id

        values = complete_request_id(current)
    else:
        from dispatcher.cli.command_table import complete_words

        answer = complete_words(words, index)
        if answer is None:
            return False
        values = answer
    sys.stdout.write("".join(f"{value}\n" for value in values))
    return True


def _fast_version() -> bool:
    """`dispatcher --version` alone answers from the literal version, before Typer loads."""
    if sys.argv[1:] != ["--version"]:
        return False
    from dispatcher import __version__

    sys.stdout.write(f"dispatcher {__version__}\n")
    return True


def main() -> None:
    """Run the command, then leave at once with its exit code (see `_leave`)."""
    try:
        _run()
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc)
    _leave(code)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or 0
    sys.stderr.write(f"{exc.code}\n")  # what the interpreter does with a message
    return 1


def _leave(code: int) -> None:
    """Flush and exit without the interpreter's teardown.

    Freeing every module and object one by one at exit costs about 25 ms per command, and this
    process holds nothing that needs it: units of work close their connections, files are
    written inside `with` blocks, worker pools are joined before commands return. Only a normal
    return or SystemExit comes here; an unexpected exception still takes the usual way out.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 1
    os._exit(code)


def _run() -> None:
    if _fast_completion() or _fast_version():
        return
    from dispatcher.cli.app import app

    app(prog_name="dispatcher")
