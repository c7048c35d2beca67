"""`dispatcher users`: the registry of people who may approve, and their roles."""

from __future__ import annotations

from typing import Annotated

import typer

from dispatcher.cli.arguments import AUDIT_TEXT
from dispatcher.cli.context import settings_of
from dispatcher.cli.options import AdminReasonOpt, ByOpt, JsonFlag

users_app = typer.Typer(
    help="User registry: who may publish, lock and repair.", no_args_is_help=True
)


@users_app.command("add")
def add(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Argument(metavar="ID", help="User id, e.g. disp001.")],
    name: Annotated[str, typer.Option("--name", click_type=AUDIT_TEXT, help="Full name.")],
    role: Annotated[
        list[str], typer.Option("--role", help="dispatcher, ops_lead or platform_admin (repeat).")
    ],
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            click_type=AUDIT_TEXT,
            help="Your user id (a platform_admin; not for the first).",
        ),
    ] = None,
    reason: Annotated[
        str, typer.Option("--reason", click_type=AUDIT_TEXT, help="Why (recorded).")
    ] = "",
) -> None:
    """Register a user with one or more roles. The first user of a tenant must be a
    platform_admin and needs no --by; later additions need --by and --reason.

    Example: dispatcher users add disp001 --name "Maria Dispo" --role dispatcher --by admin01 --reason "New dispatcher in Wien"
    """
    from dispatcher.cli import wiring
    from dispatcher.services.users import add_user

    change = add_user(
        wiring.unit_of_work(settings_of(ctx), write=True, registry=True, create=True),
        user_id,
        name,
        role,
        by,
        reason,
    )
    from dispatcher.cli.output import visible

    typer.echo(
        f"Added {change.user.user_id} ({visible(change.user.name)}) with roles "
        f"{', '.join(change.user.roles)}. Audit event #{change.event_seq}."
    )


@users_app.command("disable")
def disable(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Argument(metavar="ID", help="User id.")],
    by: ByOpt,
    reason: AdminReasonOpt,
) -> None:
    """Disable a user: their approvals are refused from now on.

    Example: dispatcher users disable disp002 --by admin01 --reason "Left the company"
    """
    from dispatcher.cli import wiring
    from dispatcher.services.users import disable_user

    change = disable_user(
        wiring.unit_of_work(settings_of(ctx), write=True, registry=True), user_id, by, reason
    )
    typer.echo(f"Disabled {change.user.user_id}. Audit event #{change.event_seq}.")


@users_app.command("link")
def link(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Argument(metavar="ID", help="User id, e.g. disp001.")],
    login: Annotated[
        str,
        typer.Option(
            "--login",
            click_type=AUDIT_TEXT,
            help="The person's database login (PostgreSQL) or operating-system account (SQLite).",
        ),
    ],
    by: ByOpt,
    reason: AdminReasonOpt,
) -> None:
    """Link a user to the login that is this person. With the site setting
    approvals_require_login on, the user's publishes, locks, repairs and other decisions are
    accepted only from that login (docs/deployment.md, "Per-person logins").

    Example: dispatcher users link disp001 --login maria --by admin01 --reason "Maria's own login"
    """
    from dispatcher.cli import wiring
    from dispatcher.services.users import link_user

    change = link_user(
        wiring.unit_of_work(settings_of(ctx), write=True, registry=True), user_id, login, by, reason
    )
    typer.echo(
        f"Linked {change.user.user_id} to login {change.user.login}. "
        f"Audit event #{change.event_seq}."
    )


@users_app.command("unlink")
def unlink(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Argument(metavar="ID", help="User id.")],
    by: ByOpt,
    reason: AdminReasonOpt,
) -> None:
    """Remove a user's login link. With approvals_require_login on, the user can then decide
    nothing until linked again.

    Example: dispatcher users unlink disp001 --by admin01 --reason "Login retired"
    """
    from dispatcher.cli import wiring
    from dispatcher.services.users import link_user

    change = link_user(
        wiring.unit_of_work(settings_of(ctx), write=True, registry=True), user_id, None, by, reason
    )
    typer.echo(f"Unlinked {change.user.user_id} from its login. Audit event #{change.event_seq}.")


@users_app.command("list")
def list_(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the tenant's users, roles and whether they are active.

    Example: dispatcher users list
    """
    from dispatcher.cli import wiring
    from dispatcher.services.users import list_users

    users = list_users(wiring.unit_of_work(settings_of(ctx)))
    if as_json:
        from dataclasses import asdict

        from dispatcher.cli.output import emit_json

        emit_json([asdict(u) for u in users])
        return
    from dispatcher.cli.views import admin as admin_view

    admin_view.user_list(users, settings_of(ctx))
