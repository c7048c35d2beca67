"""Command-line interface: thin Typer commands that call one service and render the result."""
