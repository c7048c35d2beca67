"""The domain is pure and the CLI starts light: checked in fresh interpreters."""

from __future__ import annotations

import pkgutil

import dispatcher.domain
from tests.helpers import modules_after, top_level

FRAMEWORKS = {"sqlalchemy", "alembic", "typer", "rich"}
HEAVY = {"sqlalchemy", "alembic", "ortools", "highspy", "pydantic", "cryptography", "numpy"}


def test_domain_loads_no_framework() -> None:
    names = [
        m.name for m in pkgutil.walk_packages(dispatcher.domain.__path__, "dispatcher.domain.")
    ]
    assert names, "no domain modules found"
    loaded = modules_after("\n".join(f"import {name}" for name in names))
    assert top_level(loaded).isdisjoint(FRAMEWORKS)
    assert not any(
        m.startswith(("dispatcher.db", "dispatcher.cli", "dispatcher.services")) for m in loaded
    )


def test_cli_app_import_loads_no_heavy_module() -> None:
    loaded = modules_after("import dispatcher.cli.app")
    assert top_level(loaded).isdisjoint(HEAVY)
    assert not any(m.startswith(("dispatcher.db", "dispatcher.services")) for m in loaded)


def test_services_do_not_import_cli_frameworks() -> None:
    loaded = modules_after("import dispatcher.services.audit, dispatcher.services.database")
    assert top_level(loaded).isdisjoint({"typer", "rich"})
