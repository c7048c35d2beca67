"""Access to the Settings resolved by the root callback."""

from __future__ import annotations

import typer

from dispatcher.config import Settings


def settings_of(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    assert isinstance(root.obj, Settings), "root callback did not run"
    return root.obj
