"""What counts in a typed reason (domain.md §6), and text that did not arrive as UTF-8.

A reason is counted the way a reader sees it: after NFKC (a fullwidth letter is a letter, a
ligature its letters, a decomposed accent one character), one per visible character. Not
counted: control (Cc), format (Cf: zero-width characters, bidi overrides, soft hyphen),
surrogate (Cs), unassigned (Cn: nothing to draw, which also covers the reserved
default-ignorable ranges), private-use (Co) and separator (Z*: spaces of every width, line and
paragraph separators) characters; marks (M*: combining accents, enclosing circles, variation
selectors, fillers such as the Khitan one) draw nothing alone, they belong to the character
before them; and the letters and symbols that render as blank (Hangul fillers, the Braille
blank). A reason must also hold a letter or a digit (L*, N*): ten dashes or emoji say nothing.

Python hands over command-line bytes that are not UTF-8 as lone surrogates U+DC80..U+DCFF
(surrogateescape), which no database or stream can encode. `is_encodable` finds them,
`not_utf8` words the refusal, and `escape_undecodable` gives the text that is stored or shown in
their place: each such byte as `\\xff`, any other lone surrogate as `\\udxxx`.
"""

from __future__ import annotations

import unicodedata

NOT_COUNTED = frozenset({"Cc", "Cf", "Cs", "Cn", "Co", "Zs", "Zl", "Zp", "Mn", "Mc", "Me"})
# Blank though Unicode calls them letters or symbols (after NFKC U+3164 and U+FFA0 are U+1160).
INVISIBLE = (
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x2800, 0x2800),  # Braille pattern blank
    (0x3164, 0x3164),  # Hangul filler
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
)
ESCAPED_BYTES = range(0xDC80, 0xDD00)  # where surrogateescape puts bytes 0x80..0xFF


def _invisible(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in INVISIBLE)


def _counted(text: str) -> list[str]:
    normal = unicodedata.normalize("NFKC", text)
    return [c for c in normal if unicodedata.category(c) not in NOT_COUNTED and not _invisible(c)]


def meaningful_length(text: str) -> int:
    """Characters of `text` a reader sees, after NFKC: no control, format, unassigned,
    private-use, separator or blank characters, no marks on their own."""
    return len(_counted(text))


def has_letter_or_digit(text: str) -> bool:
    """Whether `text` holds a visible letter or digit (Unicode categories L* or N*)."""
    return any(unicodedata.category(c)[0] in "LN" for c in _counted(text))


def _first_surrogate(text: str) -> int | None:
    return next((ord(c) for c in text if 0xD800 <= ord(c) <= 0xDFFF), None)


def is_encodable(text: str | None) -> bool:
    """Whether `text` can be written as UTF-8: it holds no lone surrogate (no byte that was not
    UTF-8 where it came in)."""
    try:
        (text or "").encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def not_utf8(label: str, text: str | None) -> str | None:
    """The refusal for `text` if it holds bytes that were not UTF-8, else None."""
    if is_encodable(text):
        return None
    code = _first_surrogate(text or "")
    assert code is not None
    where = f"byte 0x{code - 0xDC00:02x}" if code in ESCAPED_BYTES else f"character U+{code:04X}"
    return f"{label} is not valid UTF-8 text ({where}); check the terminal's encoding"


def escape_undecodable(text: str) -> str:
    """`text` with every lone surrogate written out (`\\xff` for an undecodable byte), so it can
    be stored, hashed and printed; text without them is returned unchanged."""
    if is_encodable(text):
        return text
    return "".join(_escaped(c) for c in text)


def _escaped(char: str) -> str:
    code = ord(char)
    if code in ESCAPED_BYTES:
        return f"\\x{code - 0xDC00:02x}"
    if 0xD800 <= code <= 0xDFFF:
        return f"\\u{code:04x}"
    return char


def given(text: str | None) -> str | None:
    """What a person typed, as it is recorded: stripped, and None when nothing is left."""
    return (text or "").strip() or None


def reason_problem(text: str | None, minimum: int, label: str = "Reason") -> str | None:
    """Why `text` is not an acceptable reason of at least `minimum` characters, or None.

    In order: bytes that were not UTF-8, too few characters (the spec's message), no letter or
    digit. The text itself is recorded as typed (stripped); only the count is normalised.
    """
    trimmed = (text or "").strip()
    refusal = not_utf8(label, trimmed)
    if refusal is not None:
        return refusal
    if meaningful_length(trimmed) < minimum:
        return f"{label} must be at least {minimum} characters"
    if not has_letter_or_digit(trimmed):
        return f"{label} must contain letters or digits"
    return None
