"""How reasons are counted (domain.md §6) and how text that was not UTF-8 is told and shown.

Expected counts are worked out by hand from the Unicode categories, never from the code.
"""

from __future__ import annotations

import pytest

from dispatcher.domain.text import (
    escape_undecodable,
    has_letter_or_digit,
    is_encodable,
    meaningful_length,
    not_utf8,
    reason_problem,
)

ZWSP, ZWNJ, ZWJ, WORD_JOINER, BOM = "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"
NBSP, IDEOGRAPHIC_SPACE, EM_SPACE = "\u00a0", "\u3000", "\u2003"
LINE_SEP, PARAGRAPH_SEP = "\u2028", "\u2029"
RLO, PDF, LRI, PDI = "\u202e", "\u202c", "\u2066", "\u2069"
COMBINING_ACUTE = "\u0301"
HANGUL_FILLER, VS16 = "\u3164", "\ufe0f"


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("Week reviewed", 12),  # the space is a separator
        (ZWSP * 10, 0),
        ("Krank" + ZWSP + ZWNJ + ZWJ + WORD_JOINER + BOM + "meldung", 12),
        (NBSP * 10, 0),
        (IDEOGRAPHIC_SPACE * 10, 0),
        ("a" + EM_SPACE + "b" + LINE_SEP + "c" + PARAGRAPH_SEP + "d", 4),
        ("\t\r\n\x00\x1b\x85" * 3, 0),  # control characters
        (RLO + "looks fine" + PDF, 9),
        (LRI + "abc" + PDI, 3),
        ("e" + COMBINING_ACUTE, 1),  # NFKC composes it to é
        ("é", 1),
        ("q" + "\u0303", 1),  # q with tilde has no composed form; the mark draws on the q
        ("हिन्दी", 3),  # Devanagari: three letters (ह न द); the vowel signs and virama are marks
        ("a" + "\u2800" * 9, 1),  # Braille pattern blank: a symbol that draws nothing
        ("b" + "\U00016fe4" * 9, 1),  # Khitan small script filler: a mark (Mn)
        ("c" + "\u2065" * 9, 1),  # unassigned, default-ignorable (Cn)
        ("d" + "\ufff0" * 9, 1),  # unassigned specials (Cn)
        ("e" + "\U000e0080" * 9, 1),  # unassigned tag range (Cn)
        ("f" + "\u20dd" * 9, 1),  # combining enclosing circles (Me) on one letter
        ("g" + "\ue000" * 9, 1),  # private use (Co): no standard glyph
        ("\u0301" * 10, 0),  # marks with nothing to sit on
        ("ＡＢＣＤＥ", 5),  # fullwidth letters are letters
        ("\ufb01", 2),  # the fi ligature is two letters after NFKC
        ("①②", 2),  # circled digits become digits
        (HANGUL_FILLER * 10, 0),  # a "letter" to Unicode, blank on screen
        ("\U0001f69a" * 3, 3),
        ("\U0001f69a" + VS16, 1),  # the variation selector shows nothing
        ("Krank\udcff", 5),  # a byte that was not UTF-8 is not a character
    ],
)
def test_meaningful_length_counts_what_a_reader_sees(text: str, length: int) -> None:
    assert meaningful_length(text) == length


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sick call", True),
        ("2026", True),
        ("ＡＢ", True),
        ("①", True),
        ("\U0001f69a\U0001f69a", False),
        ("!!!!----....", False),
        ("¯\\_(ツ)_/¯", True),  # the katakana tsu is a letter
        (HANGUL_FILLER * 3, False),
        (ZWSP * 3, False),
        (COMBINING_ACUTE * 3, False),
    ],
)
def test_letter_or_digit(text: str, expected: bool) -> None:
    assert has_letter_or_digit(text) is expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Week 2026-W03 reviewed", None),
        ("  0123456789  ", None),
        (ZWSP * 10, "Reason must be at least 10 characters"),
        ("abcdefghi" + ZWSP * 5, "Reason must be at least 10 characters"),
        ("abcde fghi", "Reason must be at least 10 characters"),  # 9 letters and a space
        (NBSP.join("abcdefghij"), None),
        (IDEOGRAPHIC_SPACE * 10, "Reason must be at least 10 characters"),
        (RLO * 5 + "abcde", "Reason must be at least 10 characters"),
        ("ＡＢＣＤＥＦＧＨＩＪ", None),
        ("\U0001f69a" * 10, "Reason must contain letters or digits"),
        ("!" * 10, "Reason must contain letters or digits"),
        ("-.-.-.-.-.", "Reason must contain letters or digits"),
        (HANGUL_FILLER * 12, "Reason must be at least 10 characters"),
        (
            "Grund f\udcfcr \udcc4nderung",
            "Reason is not valid UTF-8 text (byte 0xfc); check the terminal's encoding",
        ),
        (None, "Reason must be at least 10 characters"),
    ],
)
def test_reason_problem(text: str | None, problem: str | None) -> None:
    assert reason_problem(text, 10) == problem


def test_reason_problem_names_its_field() -> None:
    assert reason_problem("!" * 12, 10, "Override reason") == (
        "Override reason must contain letters or digits"
    )


def test_text_that_was_not_utf8_is_told_and_written_out() -> None:
    typed = "\udcff\udcfe bad"  # what Python makes of the argv bytes b"\xff\xfe bad"
    assert not is_encodable(typed)
    assert is_encodable("Grüße, 東京 \U0001f69a") and is_encodable(None)
    assert not_utf8("Notes", typed) == (
        "Notes is not valid UTF-8 text (byte 0xff); check the terminal's encoding"
    )
    assert not_utf8("Notes", "fine") is None
    assert not_utf8("Notes", "\ud800") == (
        "Notes is not valid UTF-8 text (character U+D800); check the terminal's encoding"
    )
    assert escape_undecodable(typed) == "\\xff\\xfe bad"
    assert escape_undecodable("x\ud800") == "x\\ud800"
    assert escape_undecodable("Grüße") == "Grüße"
    escape_undecodable(typed).encode("utf-8")  # storable and printable
