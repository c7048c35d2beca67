"""The `dispatcher` app; its commands load from the command table when used (cli/root.py)."""

from __future__ import annotations

from dispatcher.cli.root import build_app

app = build_app()
