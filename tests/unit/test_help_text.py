"""Help paragraphs and examples (cli/help_text.py): worked out by hand."""

from __future__ import annotations

import shlex

from dispatcher.cli.help_text import EXAMPLE_WIDTH, example_lines, reflow

PUBLISH = (
    "dispatcher publish RUN-20260113-001 --approver disp001 --role dispatcher "
    '--reason "Week 2026-W03 reviewed, all audits pass"'
)


def test_an_example_breaks_before_options_and_keeps_each_value_with_its_option() -> None:
    assert example_lines(PUBLISH) == [
        "dispatcher publish RUN-20260113-001 --approver disp001 \\",
        '  --role dispatcher --reason "Week 2026-W03 reviewed, all audits pass"',
    ]


def test_the_lines_paste_as_the_command_they_came_from() -> None:
    lines = example_lines(PUBLISH + " --override-reason 'No baseline, first pilot week'")
    assert all(len(line) <= EXAMPLE_WIDTH for line in lines)
    pasted = " ".join(line.removesuffix("\\") for line in lines)
    expected = [*shlex.split(PUBLISH), "--override-reason", "No baseline, first pilot week"]
    assert shlex.split(pasted) == expected


def test_a_short_example_stays_one_line() -> None:
    assert example_lines("dispatcher db current") == ["dispatcher db current"]


def test_paragraphs_are_joined_and_the_example_stands_apart() -> None:
    doc = (
        "Publish the run.\n\nGates, in order: kill switch,\nshadow mode. Example:\n"
        "dispatcher db current\n\nLast words\nhere."
    )
    assert reflow(doc) == (
        "Publish the run.\n\nGates, in order: kill switch, shadow mode. Example:\n\n"
        "dispatcher db current\n\nLast words here."
    )
    assert reflow("Example: dispatcher status") == "Example:\n\ndispatcher status"
    assert reflow(None) is None
