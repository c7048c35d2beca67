"""Replay the console transcripts of a Markdown document against a fresh demo database.

A transcript is a ```console block: lines starting with ``$ `` are commands (a trailing ``\\``
continues one on the next line), the lines after a command up to the next one are what it prints
(stdout and stderr together, as a terminal shows them). An HTML comment right before a block
steers the replay:

    <!-- replay at=2026-01-13T06:30:00+01:00 fork
    $ python make-bad-file.py          (hidden set-up commands, run first, output ignored)
    -->

``at`` sets DISPATCHER_NOW from this block on; ``fork`` runs the block on a copy of the database
and its directory, so what it changes does not reach the blocks after it (``fork=NAME``: blocks
with the same name share one copy). Every block of
the document runs in order on one database built by ``dispatcher demo --solve`` (what
``make demo`` builds) with 80 columns and no
colour, as a dispatcher's terminal (piped) shows it.

``python -m tests.transcripts --write docs/workflow.md`` rewrites the document with what the
commands print now; the test in ``tests/test_transcripts.py`` fails when the document differs.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIDTH = 80
_DIRECTIVE = re.compile(r"<!-- replay(?P<body>.*?)-->", re.DOTALL)
_FENCE = "```console"
_UNNAMED = itertools.count(1)
# Wall-clock figures (solver times) differ from run to run; they are compared as a placeholder.
# So do the hashes that cover one: a repair proposal records its solver's wall time, its hash is
# in the repair.propose event, so the site chain's tip and the approvals file (which carries the
# chain hashes) and the manifest listing it change with it. Evidence hashes are compared exactly.
_VOLATILE = (
    (re.compile(r"\b\d+(?:\.\d+)? ?(?:ms|s)\b"), "<elapsed>"),
    (re.compile(r"tip sha256:[0-9a-f]{64}"), "tip <hash>"),
    (re.compile(r"^[0-9a-f]{64}(  (?:approvals|manifest)\.json)$"), r"<hash>\1"),
)


@dataclass
class Command:
    text: str  # continuation lines joined
    lines: list[str]  # as the document writes it
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    start: int  # index of the ```console line
    end: int  # index of the closing ``` line
    commands: list[Command]
    at: str | None = None
    fork: str | None = None
    setup: list[str] = field(default_factory=list)


def parse(lines: list[str]) -> list[Block]:
    """The console blocks of a document, with the replay directive before each."""
    blocks: list[Block] = []
    index = 0
    pending: tuple[str | None, str | None, list[str]] = (None, None, [])
    while index < len(lines):
        line = lines[index]
        if line.startswith("<!-- replay"):
            end = index
            while "-->" not in lines[end]:
                end += 1
            text = "\n".join(lines[index : end + 1])
            match = _DIRECTIVE.search(text)
            assert match, f"line {index + 1}: malformed replay directive"
            pending = _directive(match.group("body"))
            index = end + 1
            continue
        if line.strip() == _FENCE:
            end = index + 1
            while lines[end].strip() != "```":
                end += 1
            at, fork, setup = pending
            blocks.append(Block(index, end, _commands(lines[index + 1 : end]), at, fork, setup))
            pending = (None, None, [])
            index = end + 1
            continue
        index += 1
    return blocks


def _directive(body: str) -> tuple[str | None, str | None, list[str]]:
    at: str | None = None
    fork: str | None = None
    setup: list[str] = []
    head, *rest = body.strip("\n").split("\n")
    for word in head.split():
        if word.startswith("at="):
            at = word[3:]
        elif word == "fork" or word.startswith("fork="):
            fork = word[5:] or f"unnamed-{next(_UNNAMED)}"
        else:
            raise ValueError(f"unknown replay option {word!r}")
    for line in rest:
        if line.startswith("$ "):
            setup.append(line[2:])
    return at, fork, setup


def _commands(body: list[str]) -> list[Command]:
    commands: list[Command] = []
    index = 0
    while index < len(body):
        line = body[index]
        if line.startswith("$ "):
            raw = [line]
            text = line[2:]
            while text.endswith("\\") and index + 1 < len(body):
                index += 1
                raw.append(body[index])
                text = text[:-1].rstrip() + " " + body[index].strip()
            commands.append(Command(text, raw))
        else:
            assert commands, f"output before the first command: {line!r}"
            commands[-1].expected.append(line)
        index += 1
    return commands


class Replay:
    """One working directory and demo database, commands run in a shell as a user types them."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.db = workdir / "dispatcher.db"
        self.at: str | None = None
        self.forks: dict[str, Path] = {}
        bin_dir = Path(sys.executable).parent
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DISPATCHER_", "FORCE_COLOR", "PY_COLORS"))
        }
        self.env.update(
            PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            COLUMNS=str(WIDTH),
            LINES="50",
            NO_COLOR="1",
            TERM="dumb",
            PYTHONUNBUFFERED="1",
            PYTHONIOENCODING="utf-8",
            TZ="UTC",
        )
        self.run(f"dispatcher --db {self.db} demo --solve", self.workdir, self.db)  # as make demo

    def run(self, command: str, cwd: Path, db: Path) -> list[str]:
        env = dict(self.env, DISPATCHER_DB=str(db))
        if self.at:
            env["DISPATCHER_NOW"] = self.at
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            check=False,
            timeout=600,
        )
        output = done.stdout.replace(str(cwd) + os.sep, "")
        return [line.rstrip() for line in output.splitlines()]

    def block(self, block: Block) -> Iterator[list[str]]:
        if block.at:
            self.at = block.at
        cwd, db = self.workdir, self.db
        if block.fork:
            if block.fork not in self.forks:
                copy = Path(tempfile.mkdtemp(prefix="fork-", dir=self.workdir.parent)) / "site"
                shutil.copytree(self.workdir, copy)
                self.forks[block.fork] = copy
            cwd = self.forks[block.fork]
            db = cwd / self.db.name
        for hidden in block.setup:
            self.run(hidden, cwd, db)
        for command in block.commands:
            yield self.run(command.text, cwd, db)


def _trim(lines: list[str]) -> list[str]:
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def comparable(lines: list[str]) -> list[str]:
    out = []
    for line in _trim(lines):
        for pattern, placeholder in _VOLATILE:
            line = pattern.sub(placeholder, line)
        out.append(line)
    return out


def replay(document: Path, workdir: Path) -> tuple[list[str], list[str]]:
    """(the document as it stands, the document with every transcript as the commands print it
    now). Blank lines the document puts between commands are kept."""
    lines = document.read_text(encoding="utf-8").splitlines()
    rewritten = list(lines)
    session = Replay(workdir)
    # Replace from the end so earlier indexes stay valid.
    results: list[tuple[Block, list[list[str]]]] = []
    for block in parse(lines):
        results.append((block, list(session.block(block))))
    for block, outputs in reversed(results):
        body: list[str] = []
        for command, output in zip(block.commands, outputs, strict=True):
            body.extend(command.lines)
            body.extend(_trim(output))
            if command.expected and not command.expected[-1].strip():
                body.append("")
        rewritten[block.start + 1 : block.end] = body
    return lines, rewritten


def differences(document: Path, workdir: Path) -> list[str]:
    """Commands whose output differs from the document (elapsed times aside), as readable text."""
    import difflib

    lines, rewritten = replay(document, workdir)
    problems: list[str] = []
    old_blocks = parse(lines)
    new_blocks = parse(rewritten)
    for old, new in zip(old_blocks, new_blocks, strict=True):
        for was, now in zip(old.commands, new.commands, strict=True):
            if comparable(was.expected) != comparable(now.expected):
                diff = difflib.unified_diff(
                    _trim(was.expected), _trim(now.expected), "document", "now", lineterm=""
                )
                problems.append(f"line {old.start + 1}: $ {was.text}\n" + "\n".join(diff))
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("document", type=Path)
    parser.add_argument("--write", action="store_true", help="rewrite the document")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch) / "site"
        workdir.mkdir()
        if args.write:
            _, rewritten = replay(args.document, workdir)
            args.document.write_text("\n".join(rewritten) + "\n", encoding="utf-8")
            print(f"{args.document}: transcripts rewritten")
            return 0
        problems = differences(args.document, workdir)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
