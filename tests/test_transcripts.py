"""Every console transcript in docs/workflow.md is what the commands print today, replayed in
order on a fresh demo database at the moments the document names (tests/transcripts.py)."""

from __future__ import annotations

from pathlib import Path

from tests.transcripts import ROOT, Block, _commands, comparable, differences, parse


def test_workflow_transcripts_are_what_the_commands_print(tmp_path: Path) -> None:
    workdir = tmp_path / "site"
    workdir.mkdir()
    problems = differences(ROOT / "docs" / "workflow.md", workdir)
    assert not problems, "docs/workflow.md is stale (run `make transcripts`):\n\n" + "\n\n".join(
        problems
    )


def test_the_document_has_transcripts_to_replay() -> None:
    lines = (ROOT / "docs" / "workflow.md").read_text(encoding="utf-8").splitlines()
    blocks = parse(lines)
    commands = [c.text.split()[1] for b in blocks for c in b.commands if c.text.startswith("dis")]
    # The weekly procedure, in the order a dispatcher meets it.
    for step in ("status", "list-runs", "show-run", "request-repair", "run-repair", "publish"):
        assert step in commands, step
    assert commands.index("request-repair") < commands.index("apply-repair")
    assert commands.index("apply-repair") < commands.index("lock") < commands.index("export")


def test_the_parser_reads_continuations_directives_and_output() -> None:
    text = [
        "<!-- replay at=2026-01-13T06:30:00+01:00 fork=x",
        "$ touch hidden",
        "-->",
        "```console",
        "$ dispatcher solve --week 2026-W03 \\",
        "    --out run.json",
        "Solved in 4.4 s",
        "",
        "$ dispatcher status",
        "```",
    ]
    (block,) = parse(text)
    assert isinstance(block, Block)
    assert (block.at, block.fork, block.setup) == (
        "2026-01-13T06:30:00+01:00",
        "x",
        ["touch hidden"],
    )
    assert [c.text for c in block.commands] == [
        "dispatcher solve --week 2026-W03 --out run.json",
        "dispatcher status",
    ]
    assert block.commands[0].lines == text[4:6]
    assert block.commands[0].expected == ["Solved in 4.4 s", ""]
    # Solver times differ from run to run; nothing else is forgiven.
    assert comparable(["Solved in 4.4 s", ""]) == comparable(["Solved in 12 s"])
    assert comparable(["Covered 3/3"]) != comparable(["Covered 2/3"])
    assert _commands(["$ a", "x"])[0].expected == ["x"]


def test_only_wall_clock_figures_are_forgiven() -> None:
    tip = "  tip sha256:" + "a" * 64  # under "Audit chain intact for LTS/WIEN: 16 events"
    assert comparable([tip]) == comparable([tip.replace("a" * 64, "b" * 64)])
    count = "Audit chain intact for LTS/WIEN: 16 events"
    assert comparable([count]) != comparable([count.replace("16 events", "15 events")])
    evidence = "  sha256:" + "a" * 64  # an evidence hash, under its label
    assert comparable([evidence]) != comparable([evidence.replace("a" * 64, "b" * 64)])
    listed = "a" * 64 + "  approvals.json"
    assert comparable([listed]) == comparable([listed.replace("a" * 64, "c" * 64)])
    roster = "a" * 64 + "  roster.txt"
    assert comparable([roster]) != comparable([roster.replace("a" * 64, "c" * 64)])
