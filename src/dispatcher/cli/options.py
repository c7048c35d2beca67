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
LimitOpt = Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many rows.")]
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
