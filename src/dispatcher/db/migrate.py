"""Run Alembic in-process: upgrade to head on first use, report the current revision."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine


def script_location() -> Path:
    """The migrations folder, shipped in the package as dispatcher._migrations."""
    return Path(str(resources.files("dispatcher._migrations")))


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    heads = ScriptDirectory(str(script_location())).get_heads()
    assert len(heads) == 1, f"expected one migration head, found {heads}"
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


class UpgradeRefused(RuntimeError):
    """A revision found data it must not convert (it names what to fix); nothing changed."""


def upgrade_to_head(engine: Engine) -> None:
    """Upgrade in one transaction; a revision's refusal (RuntimeError) rolls everything back."""
    try:
        with engine.begin() as connection:
            config = alembic_config(engine)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except RuntimeError as exc:
        raise UpgradeRefused(str(exc)) from None


def downgrade_to(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory(str(script_location())).walk_revisions()}
