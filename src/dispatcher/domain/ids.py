"""Identifiers: the one pattern every id matches, and tenant/site normalization.

Separate from model.py so that resolving `--tenant`/`--site`, which every command does, imports
nothing else.
"""

from __future__ import annotations

import re

from dispatcher.domain.errors import InvalidInput

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


def normalize_scope(value: str, what: str) -> str:
    """Tenant and site ids are case-insensitive and stored upper case."""
    text = value.strip().upper()
    if not ID_PATTERN.fullmatch(text):
        raise InvalidInput(f"Invalid {what} {value!r}: use letters, digits, '_', '.', '-'")
    return text
