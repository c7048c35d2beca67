"""`dispatcher site`: the site's settings (publish/lock switches, roles, thresholds)."""

from __future__ import annotations

from typing import Annotated

import typer

from dispatcher.cli.context import settings_of
from dispatcher.cli.options import AdminReasonOpt, ByOpt, JsonFlag

site_app = typer.Typer(
    help="Site settings: switches, allowed roles, thresholds.", no_args_is_help=True
)


def _show(ctx: typer.Context, as_json: bool, initialised: bool, config: object) -> None:
    from dispatcher.domain.model import SiteConfig
    from dispatcher.services.site import config_as_dict

    assert isinstance(config, SiteConfig)
    values = config_as_dict(config)
    settings = settings_of(ctx)
    if as_json:
        from dispatcher.cli.output import emit_json

        emit_json(
            {
                "tenant": settings.tenant,
                "site": settings.site,
                "initialised": initialised,
                "settings": values,
            }
        )
        return
    from dispatcher.cli.views import admin as admin_view

    admin_view.site_settings(values, settings, initialised)


@site_app.command("show")
def show(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Show every setting of this site (thresholds in basis points and minutes).

    Example: dispatcher site show
    """
    from dispatcher.cli import wiring
    from dispatcher.services.site import show_site

    initialised, config = show_site(wiring.unit_of_work(settings_of(ctx)))
    _show(ctx, as_json, initialised, config)


@site_app.command("init")
def init(ctx: typer.Context) -> None:
    """Create this site with its defaults (LTS/WIEN: pilot settings; others start closed).

    Example: dispatcher --site GRAZ site init
    """
    from dispatcher.cli import wiring
    from dispatcher.services.site import init_site

    created, _ = init_site(wiring.unit_of_work(settings_of(ctx), write=True, create=True))
    settings = settings_of(ctx)
    state = "created with its defaults" if created else "already exists; nothing changed"
    typer.echo(f"Site {settings.tenant}/{settings.site} {state}.")


@site_app.command("set")
def set_(
    ctx: typer.Context,
    assignments: Annotated[
        list[str], typer.Argument(metavar="NAME=VALUE...", help="Settings to change.")
    ],
    by: ByOpt,
    reason: AdminReasonOpt,
) -> None:
    """Change settings (registered platform_admin only); each change is an audit event.

    Names: publish_enabled, lock_enabled, shadow_only, publish_roles, lock_roles, repair_roles,
    min_reason_length, lock_requires_other_person, freeze_window_hours, drift_baseline (auto or
    a run id) and the drift thresholds shown by `site show`. Example:
    dispatcher site set shadow_only=false publish_enabled=true --by admin01 --reason "Go live in Graz"
    """
    from dispatcher.cli import wiring
    from dispatcher.domain.errors import InvalidInput
    from dispatcher.services.site import set_site

    changes: dict[str, str] = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"Expected NAME=VALUE, got {item!r}")
        changes[name.strip().lower()] = value
    result = set_site(
        wiring.unit_of_work(settings_of(ctx), write=True, create=True), changes, by, reason
    )
    if not result.changed:
        typer.echo("Nothing changed: the settings already have these values.")
        return
    for name, (old, new) in result.changed.items():
        typer.echo(f"{name}: {old} -> {new}")
    typer.echo(f"Audit event #{result.event_seq}.")
