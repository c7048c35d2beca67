"""Console-script entry point."""

from __future__ import annotations


def main() -> None:
    from dispatcher.cli.app import app

    app(prog_name="dispatcher")
