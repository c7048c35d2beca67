"""Help texts as paragraphs, and example commands that paste whole at any terminal width.

Docstrings are wrapped at 100 columns in the source; shown as written, every paragraph went
ragged at 80 columns and an example command wrapped onto a second line, where pasting it ran
the first half alone (once, `publish` without its `--reason`: a recorded refusal). So:

* the lines of a prose paragraph are joined, and Rich wraps the paragraph at the terminal's
  width;
* an example (`Example: dispatcher ...`) becomes a paragraph of its own, broken before an
  option into lines of at most EXAMPLE_WIDTH characters, each but the last ending in ` \\`: a
  shell reads the lines as one command, and no line is long enough to wrap in 80 columns.
"""

from __future__ import annotations

import re

EXAMPLE_WIDTH = 72  # fits an 80-column help screen with its indent and border
CONTINUATION = " \\"
_EXAMPLE = re.compile(r"Example:\s*(?P<command>dispatcher\s.*)$", re.S)
_TOKEN = re.compile(r'(?:"[^"]*"|\'[^\']*\'|\S)+')


def example_lines(command: str, width: int = EXAMPLE_WIDTH) -> list[str]:
    """`command` broken before its options into lines of at most `width` characters (a token
    longer than that stands alone), each but the last ending with ` \\`; continuation lines are
    indented by two spaces."""
    words = _TOKEN.findall(command)
    groups: list[str] = []
    for word in words:  # an option keeps its value: `--reason "..."` stays together
        option = bool(groups) and groups[-1].startswith("-") and " " not in groups[-1]
        if option and not word.startswith("-"):
            groups[-1] += " " + word
            continue
        groups.append(word)
    lines: list[str] = []
    current = ""
    for group in groups:
        candidate = f"{current} {group}" if current else group
        indent = 2 if lines else 0
        if current and indent + len(candidate) + len(CONTINUATION) > width:
            lines.append(current)
            current = group
        else:
            current = candidate
    lines.append(current)
    return [
        ("  " if n else "") + line + (CONTINUATION if n < len(lines) - 1 else "")
        for n, line in enumerate(lines)
    ]


def reflow(text: str | None) -> str | None:
    """A docstring's help as paragraphs and pasteable examples (see the module's docstring)."""
    if not text:
        return text
    out: list[str] = []
    for paragraph in text.strip().split("\n\n"):
        joined = " ".join(line.strip() for line in paragraph.splitlines() if line.strip())
        found = _EXAMPLE.search(joined)
        if found is None:
            out.append(joined)
            continue
        prose = joined[: found.start()].rstrip()
        out.append(f"{prose} Example:" if prose else "Example:")
        out.append("\n".join(example_lines(found.group("command").strip())))
    return "\n\n".join(out)


def is_example(paragraph: str) -> bool:
    """Whether a paragraph of reflowed help is an example command (docs render it as code)."""
    return paragraph.startswith("dispatcher ")
