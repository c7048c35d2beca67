"""`dispatcher audit`: read and verify the hash-chained audit log."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from dispatcher.cli.context import settings_of
from dispatcher.cli.errors import EXIT_FAILED
from dispatcher.cli.options import JsonFlag, LimitOpt

audit_app = typer.Typer(
    help="The audit trail: every gate decision and change, append-only and hash-chained.",
    no_args_is_help=True,
)


@audit_app.command("log")
def log(
    ctx: typer.Context,
    run: Annotated[str | None, typer.Option("--run", help="Only events about this run.")] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only this action, e.g. publish or lock.")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Only events by this user.")] = None,
    chain: Annotated[
        str,
        typer.Option(
            "--chain",
            help="site (this site's decisions), tenant (the user registry of the tenant) or "
            "platform (the global kill switch, the database's creation).",
        ),
    ] = "site",
    limit: LimitOpt = 50,
    as_json: JsonFlag = False,
) -> None:
    """Show the newest audit events of a chain, oldest first (default: this site's).

    Example: dispatcher audit log --action publish --limit 10
    """
    from dispatcher.cli import wiring
    from dispatcher.cli.views import audit as audit_view
    from dispatcher.services.audit import list_events

    settings = settings_of(ctx)
    events = list_events(
        wiring.unit_of_work(settings),
        run_id=run,
        action=action,
        actor_id=actor,
        limit=limit,
        chain=chain,
    )
    if as_json:
        from dispatcher.cli.output import emit_json

        emit_json([asdict(event) for event in events])
        return
    audit_view.audit_log(events, settings)


KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key", help="Ed25519 signing key file (PEM or 64 hex) [env DISPATCHER_SIGNING_KEY]."
    ),
]


@audit_app.command("verify")
def verify(
    ctx: typer.Context,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="Also prove the chain still contains the event this signed checkpoint holds "
            "(detects a cut tail).",
        ),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="Trusted Ed25519 public key for --checkpoint (PEM or 64 hex) "
            "[env DISPATCHER_VERIFY_KEY; else the signing key's].",
        ),
    ] = None,
    key: KeyOpt = None,
    state: Annotated[
        bool,
        typer.Option(
            "--state",
            help="Also fold the whole trail and compare it with every state table (settings, "
            "users, kill switch, runs, versions, evidence, approvals, repair requests).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Recompute the hash chains this site depends on (its own, its tenant's user registry,
    the platform's); exit 1 at the first broken event.

    With --checkpoint, also check the signed checkpoint and that every chain it signed still
    extends it; with --state, also compare every state row with what the trail authorized.
    Example: dispatcher audit verify --state --checkpoint wien-2026-w03.json --public-key audit.pub
    """
    from dispatcher.cli import wiring
    from dispatcher.cli.views import audit as audit_view
    from dispatcher.services.audit import verify_chains

    settings = settings_of(ctx)
    chains = verify_chains(wiring.unit_of_work(settings))
    report, problem = chains[0][1], None
    if checkpoint is not None:
        from dispatcher.services.checkpoints import check_checkpoint, load_checkpoint, trusted_key

        signed = load_checkpoint(checkpoint)
        trusted = trusted_key(public_key, key)
        check = check_checkpoint(wiring.unit_of_work(settings), signed, trusted)
        report, problem = check.report, check.problem
    folded = None
    if state:
        from dispatcher.services.state import verify_state

        folded = verify_state(wiring.unit_of_work(settings))
    broken = [(name, r) for name, r in chains if not r.ok]
    if as_json:
        from dispatcher.cli.output import emit_json

        document = asdict(report)
        document["chains"] = [
            {"tenant": name[0], "site": name[1], **asdict(r)} for name, r in chains
        ]
        if checkpoint is not None:
            document["checkpoint"] = {"file": str(checkpoint), "ok": problem is None}
            document["checkpoint_problem"] = problem
        if folded is not None:
            document["state"] = {
                "ok": folded.ok,
                "checked": folded.checked,
                "problems": [asdict(p) for p in folded.problems],
            }
        emit_json(document)
    else:
        audit_view.chain_reports(chains, settings)
        if checkpoint is not None:
            audit_view.checkpoint_result(str(checkpoint), problem)
        if folded is not None:
            audit_view.state_report(folded)
    if broken or not report.ok or problem is not None or (folded is not None and not folded.ok):
        raise typer.Exit(EXIT_FAILED)


@audit_app.command("checkpoint")
def checkpoint(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write it [default: checkpoint-SITE-SEQ.json]."),
    ] = None,
    key: KeyOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Sign the tips of the chains this site depends on (its own, its tenant's user registry,
    the platform's), after verifying them, into a checkpoint file.

    Keep checkpoints away from the database: `audit verify --checkpoint FILE` later proves no
    event was cut from the end of any of them since.
    Example: dispatcher audit checkpoint --key audit.key
    """
    from dispatcher.cli import wiring
    from dispatcher.services.checkpoints import create_checkpoint, signing_key
    from dispatcher.services.files import check_new_file, write_new_files

    if out is not None:
        check_new_file(out)  # before any work; the default name is known only after signing
    settings = settings_of(ctx)
    signer = signing_key(key)
    signed = create_checkpoint(wiring.unit_of_work(settings), signer)
    target = out or Path(f"checkpoint-{signed.site}-{signed.site_tip.seq}.json")
    write_new_files([(target, signed.as_json().encode("utf-8"), 0o644)])
    if as_json:
        from dispatcher.cli.output import emit_json

        emit_json({"file": str(target), **asdict(signed)})
        return
    tips = ", ".join(
        f"{'platform' if c.tenant == '*' else 'registry' if c.site == '*' else 'site'} "
        f"#{c.seq} ({c.hash[:19]}…)"
        for c in signed.chains
    )
    typer.echo(
        f"Checkpoint of {signed.tenant}/{signed.site} signed by key {signed.public_key[:16]}..., "
        f"written to {target}: {tips}"
    )


@audit_app.command("keygen")
def keygen(
    out: Annotated[Path, typer.Option("--out", help="Private key file to create (mode 600).")],
) -> None:
    """Create an Ed25519 key for checkpoints: OUT (private, keep it off the database host) and
    OUT.pub (public, for whoever verifies).

    Example: dispatcher audit keygen --out /secure/audit.key
    """
    from dispatcher.services.checkpoints import new_key_pem
    from dispatcher.services.files import write_new_files

    pem, public = new_key_pem()
    public_file = Path(f"{out}.pub")
    write_new_files([(out, pem, 0o600), (public_file, (public + "\n").encode("ascii"), 0o644)])
    typer.echo(f"Private key: {out} (mode 600)\nPublic key:  {public_file} ({public})")
