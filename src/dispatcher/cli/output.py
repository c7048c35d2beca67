"""Where output goes: data to stdout (tables or JSON), everything else to stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

STATUS_STYLE = {
    "PASS": ("✅", "green"),
    "WARN": ("⚠️ ", "yellow"),
    "FAIL": ("❌", "red"),
    "BLOCKED": ("🚫", "red"),
    "PENDING": ("⏳", "cyan"),
}
LEVEL_STYLE = {"OK": "green", "WARN": "yellow", "BLOCK": "red", "UNKNOWN": "cyan"}


# Control characters (C0, DEL, C1) and the bidirectional overrides written out, so a name or
# reason cannot move the cursor, colour the terminal, break a table's line or reorder the text
# around it: ESC shows as \x1b, a line break as \n.
_VISIBLE = {
    **{c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))},
    0x0A: "\\n",
    0x09: "\\t",
    0x0D: "\\r",
    **{c: f"\\u{c:04x}" for c in (0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A))},
}


def visible(value: object) -> str:
    """`value` with undecodable bytes and control characters written out, for plain output
    (`typer.echo`); `esc` adds Rich's markup escaping to this."""
    from dispatcher.domain.text import escape_undecodable

    return escape_undecodable(str(value)).translate(_VISIBLE)


def esc(value: object) -> str:
    """`value` as text that Rich prints as typed: a reason like "[urgent] sick call" or a name
    with "[/]" is data, not markup, bytes that were not UTF-8 show as \\xff and control
    characters as \\x1b. Every user- or file-supplied text goes through this."""
    from rich.markup import escape

    return escape(visible(value))


def error_line(text: str) -> None:
    """One line on stderr, after everything already printed on stdout (a pipe buffers stdout:
    unflushed, the line would land inside the output it concludes)."""
    import sys

    sys.stdout.flush()
    sys.stderr.write(f"{text}\n")


def stdout() -> Console:
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False)


def stderr() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False)


@contextmanager
def progress(label: str, *, quiet: bool) -> Iterator[Callable[[str], None] | None]:
    """A live status line on stderr for long work, or None under --json or without a TTY."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    with stderr().status(label) as status:
        yield status.update


def emit_json(data: Any) -> None:
    """Machine-readable output: plain json.dumps, never through Rich. Text that was not UTF-8
    (a typed value echoed back) is written out as \\xff inside its string, so the output
    stays valid UTF-8 JSON."""
    from dispatcher.domain.text import escape_undecodable, is_encodable

    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    if not is_encodable(text):  # lone surrogates stand only inside strings: escape the backslash
        text = "".join(c if is_encodable(c) else "\\" + escape_undecodable(c) for c in text)
    sys.stdout.write(text + "\n")


def status_text(status: str) -> str:
    symbol, colour = STATUS_STYLE.get(status, ("", "white"))
    return f"[{colour}]{symbol} {status}[/{colour}]"


def level_text(level: str) -> str:
    colour = LEVEL_STYLE.get(level, "white")
    return f"[{colour}]{level}[/{colour}]"


def count(n: int, noun: str) -> str:
    """`1 driver`, `2 drivers`: a count with its noun (nouns of this tool add an s)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def percent(bp: int) -> str:
    """Basis points as a percentage, rounded down to one decimal (100.0 % only when whole)."""
    return f"{bp // 100}.{bp % 100 // 10}%"
