"""Use cases: one function per command, one unit of work each; primitives in, dataclasses out."""
