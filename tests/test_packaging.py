"""What a non-editable install ships: every package of the source tree (an editable install
finds them all on its own, so only this test notices one left out of pyproject.toml)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_of_the_source_tree_is_installed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    in_tree = {
        ".".join(init.parent.relative_to(ROOT / "src").parts)
        for init in (ROOT / "src" / "dispatcher").rglob("__init__.py")
    }
    assert in_tree - listed == set(), "packages missing from pyproject.toml"
    data_folders = {"dispatcher._migrations", "dispatcher._migrations.versions",
                    "dispatcher.cli.templates"}  # fmt: skip
    assert listed - in_tree == data_folders
    assert (ROOT / "src" / "dispatcher" / "cli" / "templates").is_dir()
    assert (ROOT / "migrations" / "versions").is_dir()
