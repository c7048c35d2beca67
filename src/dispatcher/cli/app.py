"""The whole `dispatcher` app (every command): for `--help`, completion, docs and tests."""

from __future__ import annotations

from dispatcher.cli.root import build_app

app = build_app()
