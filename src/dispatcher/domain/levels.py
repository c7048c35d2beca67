"""Drift levels as plain strings, importable without the drift computation (list-runs needs
only the names)."""

OK, WARN, BLOCK, UNKNOWN = "OK", "WARN", "BLOCK", "UNKNOWN"
