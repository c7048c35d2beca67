"""`dispatcher evidence`: verify and export the sealed evidence of a plan version."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from dispatcher.cli.context import settings_of
from dispatcher.cli.errors import EXIT_FAILED
from dispatcher.cli.options import JsonFlag, RunIdArg, VersionOpt
from dispatcher.cli.views.common import hash_line

evidence_app = typer.Typer(
    help="Evidence packs: rebuild from stored rows, compare with the sealed hash, export.",
    no_args_is_help=True,
)


@evidence_app.command("verify")
def verify(
    ctx: typer.Context, run_id: RunIdArg, version: VersionOpt = None, as_json: JsonFlag = False
) -> None:
    """Rebuild a version's evidence from stored rows and compare it with the sealed hash.

    Exit 1 when anything differs. Example: dispatcher evidence verify RUN-20260113-001
    """
    from dispatcher.cli import wiring
    from dispatcher.services.evidence import check_evidence

    result = check_evidence(wiring.unit_of_work(settings_of(ctx), write=True), run_id, version)
    if as_json:
        from dispatcher.cli.output import emit_json

        emit_json(asdict(result))
    elif result.ok:
        typer.echo(
            hash_line(f"Evidence verified: {result.run_id} v{result.version}", result.sealed_hash)
        )
    if not result.ok:
        if not as_json:
            typer.echo(
                f"Error: evidence of {result.run_id} v{result.version} does not verify: "
                f"{'; '.join(result.problems)}",
                err=True,
            )
        raise typer.Exit(EXIT_FAILED)


@evidence_app.command("export")
def export(
    ctx: typer.Context,
    run_id: RunIdArg,
    out: Annotated[Path, typer.Option("--out", help="New or empty directory to write into.")],
    version: VersionOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Write evidence.json (byte-exact: sha256sum gives the hash), roster.txt, approvals.json
    and manifest.json. Nothing is written if the evidence does not verify.

    Example: dispatcher evidence export RUN-20260113-001 --out evidence-w03
    """
    from dispatcher.cli import wiring
    from dispatcher.services.evidence import export_evidence

    result = export_evidence(wiring.unit_of_work(settings_of(ctx)), run_id, out, version)
    if as_json:
        from dispatcher.cli.output import emit_json

        emit_json(asdict(result))
        return
    typer.echo(f"Exported evidence of {result.run_id} v{result.version} to {out}")
    typer.echo(hash_line("Evidence hash", result.evidence_hash))
    typer.echo("Files (SHA-256, as `sha256sum -c` reads them in that folder):")
    for name, digest in result.files.items():
        typer.echo(f"{digest}  {name}")
