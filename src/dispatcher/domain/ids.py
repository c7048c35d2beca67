"""Identifiers: the one pattern every id matches, and tenant/site normalization.

Separate from model.py so that resolving `--tenant`/`--site`, which every command does, imports
nothing else.
"""

from __future__ import annotations

import re

from dispatcher.domain.errors import InvalidInput

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
SYSTEM = "system"  # the actor of the tool's own events: no registered user may hold this id


def normalize_scope(value: str, what: str) -> str:
    """Tenant and site ids are case-insensitive and stored upper case."""
    text = value.strip().upper()
    if not ID_PATTERN.fullmatch(text):
        raise InvalidInput(f"Invalid {what} {value!r}: use letters, digits, '_', '.', '-'")
    return text


def id_key(value: str) -> str:
    """Driver and user ids name one person ignoring case (they are ASCII): D005 is d005."""
    return value.lower()


def ascii_digits(text: str) -> bool:
    """Only 0-9: `str.isdigit` also accepts superscripts and other scripts' digits, some of
    which `int()` then refuses."""
    return text.isascii() and text.isdigit()


def as_text(value: object) -> str:
    """`str(value)`, except that an integer too long to print (over 4,300 digits) is refused
    with ValueError's message rather than raised past the parser."""
    try:
        return str(value)
    except ValueError:
        raise ValueError("a number with too many digits") from None
