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
