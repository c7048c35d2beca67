"""The canonical form of everything we hash, and tagged SHA-256 digests.

This module is a contract: changing it changes every stored hash (see docs/data-model.md).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

HASH_PREFIX = "sha256:"
GENESIS_HASH = HASH_PREFIX + "0" * 64


def canonical_json(value: Any) -> str:
    """JSON with sorted keys, no spaces, UTF-8 text and no floats or NaN."""
    _refuse_floats(value)
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _refuse_floats(value: Any) -> None:
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is str or kind is int or item is None or kind is bool:
            continue
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
        elif isinstance(item, float):
            raise TypeError("hashed documents hold no floats; use minutes, counts or basis points")


def digest_text(text: str) -> str:
    """`sha256:` + hex digest of the UTF-8 bytes of `text`."""
    return HASH_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


def digest(value: Any) -> str:
    """Tagged digest of the canonical JSON of `value`."""
    return digest_text(canonical_json(value))


def is_tagged_digest(text: str) -> bool:
    """True for `sha256:` followed by 64 lower-case hex digits."""
    hex_part = text[len(HASH_PREFIX) :]
    return (
        text.startswith(HASH_PREFIX)
        and len(hex_part) == 64
        and all(c in "0123456789abcdef" for c in hex_part)
    )
