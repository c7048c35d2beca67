"""Rendering by noun: each module holds one noun's tables (Rich) and JSON views. Only the CLI
imports these, inside commands."""
