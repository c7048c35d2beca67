"""Output paths given by the user: checked before any work, so a refusal leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

from dispatcher.domain.errors import InvalidInput


def check_new_file(path: Path, option: str = "--out") -> None:
    """`path` names a file that does not exist yet, in a folder that does."""
    if path.name in ("", ".", ".."):
        raise InvalidInput(f"{option} needs a file name, not {str(path)!r}")
    try:
        if path.exists() or path.is_symlink():
            raise InvalidInput(f"{path} already exists; choose another {option}")
        if not path.parent.is_dir():
            raise InvalidInput(f"Directory {path.parent} does not exist")
    except OSError as exc:  # e.g. a name too long for the file system
        raise InvalidInput(f"Cannot use {option} {path}: {exc.strerror}") from None
