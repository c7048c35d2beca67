"""Replaying `--help`: the first rendering through Typer and Rich is kept, later ones print it.

Rendering help needs Typer, Rich and every command's parameters: about 100 ms, most of it
imports. The text only changes with the code, the command path and the terminal, so the entry
point answers `dispatcher [COMMAND [SUBCOMMAND]] --help` from a cache file keyed on exactly
those: the installed package's files (names, sizes, modification times), the Python version,
the arguments, the terminal size and the environment variables Rich and Typer read for width
and colour. A miss renders as usual while recording what was printed. Only `os`, `sys` and
`hashlib` are imported here; a cache that cannot be read or written is simply skipped.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from dispatcher.cli.command_table import COMMANDS

HELP_FLAGS = ("--help", "-h")
ENV_PREFIXES = ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TERM", "COLORTERM", "TTY_")
ENV_PREFIXES_TYPER = ("TYPER_", "_TYPER_")
PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _is_help_request(args: list[str]) -> bool:
    """`--help` or `-h` after nothing but a command (and subcommand) path."""
    if not args or args[-1] not in HELP_FLAGS:
        return False
    path = args[:-1]
    if not path:
        return True
    if path[0] not in COMMANDS:
        return False
    return len(path) == 1 or (len(path) == 2 and path[1] in COMMANDS[path[0]])


def _code_stamp(digest: Any) -> None:
    for folder, subfolders, files in os.walk(PACKAGE):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                info = os.stat(os.path.join(folder, name))
                digest.update(f"{folder}/{name}:{info.st_size}:{info.st_mtime_ns}\n".encode())


def _terminal() -> str:
    """Whether stdout is a terminal, and the size of each standard stream that is one (Rich
    takes its width from the first of stdin, stdout, stderr that answers)."""
    try:
        parts = [f"stdout-tty={sys.stdout.isatty()}"]
    except (AttributeError, ValueError):
        parts = ["stdout-tty=?"]
    for descriptor in (0, 1, 2):
        try:
            size = os.get_terminal_size(descriptor)
            parts.append(f"{descriptor}:{size.columns}x{size.lines}")
        except OSError:
            parts.append(f"{descriptor}:-")
    return " ".join(parts)


def _cache_file(args: list[str]) -> str:
    from dispatcher import __version__

    digest = hashlib.sha256()
    digest.update(f"{__version__}\n{sys.version}\n{args!r}\n{_terminal()}\n".encode())
    for name in sorted(os.environ):
        if name.startswith(ENV_PREFIXES + ENV_PREFIXES_TYPER):
            digest.update(f"{name}={os.environ[name]}\n".encode())
    _code_stamp(digest)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dispatcher", "help", digest.hexdigest()[:32] + ".txt")


def replay(args: list[str]) -> bool:
    """Print the recorded help for `args`, if there is one; True when done."""
    if not _is_help_request(args):
        return False
    try:
        with open(_cache_file(args), encoding="utf-8") as cached:
            text = cached.read()
    except OSError:
        return False
    sys.stdout.write(text)
    sys.stdout.flush()
    return True


class _Recorder:
    """Stands in for sys.stdout while help renders: passes everything on and keeps a copy of
    what is written, as text or (Click's echo) as bytes through `.buffer`."""

    def __init__(self, stream: TextIO, parts: list[str] | None = None) -> None:
        self._stream = stream
        self.parts: list[str] = [] if parts is None else parts

    def write(self, data: Any) -> Any:
        written = self._stream.write(data)
        if isinstance(data, str):
            self.parts.append(data)
        elif isinstance(data, bytes | bytearray):
            self.parts.append(bytes(data).decode("utf-8", "replace"))
        return written

    @property
    def buffer(self) -> _Recorder:
        return _Recorder(self._stream.buffer, self.parts)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def render_and_record(args: list[str], render: Callable[[], None]) -> None:
    """Run `render` (the Typer app); for a help request that exits 0, keep what it printed."""
    if not _is_help_request(args):
        render()
        return
    recorder = _Recorder(sys.stdout)
    sys.stdout = recorder
    try:
        render()
    except SystemExit as exc:
        if exc.code in (0, None):
            _store(args, "".join(recorder.parts))
        raise
    finally:
        sys.stdout = recorder._stream


def _store(args: list[str], text: str) -> None:
    if not text:
        return
    try:
        path = _cache_file(args)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        partial = f"{path}.{os.getpid()}.tmp"
        with open(partial, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(partial, path)
    except OSError:
        return
