"""Shared option and argument declarations."""

from __future__ import annotations

from typing import Annotated

import typer

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
    str | None, typer.Option("--approver", help="Your user id in the registry, e.g. disp001.")
]
RoleOpt = Annotated[
    str | None, typer.Option("--role", help="The role you act in: dispatcher, ops_lead, ...")
]
ReasonOpt = Annotated[
    str | None, typer.Option("--reason", help="Why (at least the site's minimum length).")
]
OverrideOpt = Annotated[
    str | None,
    typer.Option(
        "--override-reason", help="Required to publish or lock a WARN run: why it may go."
    ),
]
ByOpt = Annotated[str, typer.Option("--by", help="Your user id (a registered platform_admin).")]
AdminReasonOpt = Annotated[str, typer.Option("--reason", help="Why (recorded in the audit log).")]
