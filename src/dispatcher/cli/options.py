"""Shared option and argument declarations."""

from __future__ import annotations

from typing import Annotated

import typer

from dispatcher.cli.arguments import AUDIT_TEXT
from dispatcher.cli.completion import complete_run_id

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
RunIdArg = Annotated[
    str,
    typer.Argument(
        metavar="RUN", help="Run id such as RUN-20260113-001.", autocompletion=complete_run_id
    ),
]
MAX_COUNT = 100_000  # bounds for counts and numbers typed by people (SQLite holds 64 bits)
LimitOpt = Annotated[
    int, typer.Option("--limit", "-n", min=1, max=MAX_COUNT, help="Show at most this many rows.")
]
VersionOpt = Annotated[
    int | None,
    typer.Option("--version", "-v", min=1, max=MAX_COUNT, help="Plan version (default: current)."),
]
SeedOpt = Annotated[
    int,
    typer.Option("--seed", min=0, max=2**31 - 1, help="Seed; the same seed gives the same result."),
]
ApproverOpt = Annotated[
    str | None,
    typer.Option(
        "--approver", click_type=AUDIT_TEXT, help="Your user id in the registry, e.g. disp001."
    ),
]
RoleOpt = Annotated[
    str | None,
    typer.Option(
        "--role", click_type=AUDIT_TEXT, help="The role you act in: dispatcher, ops_lead, ..."
    ),
]
REASON_HELP = (
    "Why (at least the site's minimum length, counted in visible characters: spaces and "
    "zero-width characters do not count; needs a letter or digit)."
)
ReasonOpt = Annotated[str | None, typer.Option("--reason", click_type=AUDIT_TEXT, help=REASON_HELP)]
OverrideOpt = Annotated[
    str | None,
    typer.Option(
        "--override-reason",
        click_type=AUDIT_TEXT,
        help="Required to publish or lock a WARN run: why it may go (counted like --reason).",
    ),
]
ByOpt = Annotated[
    str,
    typer.Option("--by", click_type=AUDIT_TEXT, help="Your user id (a registered platform_admin)."),
]
AdminReasonOpt = Annotated[
    str,
    typer.Option(
        "--reason",
        click_type=AUDIT_TEXT,
        help="Why (recorded in the audit log; at least the site's minimum length, counted "
        "like --reason of publish).",
    ),
]
