"""Files named by the user: inputs read with a size bound, output paths checked before any
work and written all or nothing, so a refusal or a failure leaves nothing behind."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
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


def read_bounded(path: Path, what: str, limit_mb: int) -> bytes:
    """The bytes of the regular file `path`, refused beyond `limit_mb` MB. Reads at most one
    byte past the limit, so a device or a file that grows while read cannot exhaust memory."""
    limit = limit_mb * 2**20
    try:
        if stat.S_ISDIR(mode := path.stat().st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(mode):  # a device or pipe could block or never end
            raise InvalidInput(f"{what} {path} is not a regular file")
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise InvalidInput(f"{what} {path} not found") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a directory, not a file") from None
    except OSError as exc:
        raise InvalidInput(f"Cannot read {what.lower()} {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise InvalidInput(f"{what} {path} is larger than {limit_mb} MB, the limit for it")
    return data


def read_text(path: Path, what: str, limit_mb: int, encoding: str = "utf-8") -> str:
    """`read_bounded`, decoded; text in another encoding is a one-line refusal."""
    data = read_bounded(path, what, limit_mb)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"Cannot read {what.lower()} {path}: {exc}") from None


NewFile = tuple[Path, bytes, int]  # path, content, permission bits


def write_new_files(files: Sequence[NewFile], option: str = "--out") -> None:
    """Create every file, or none: each is checked with `check_new_file` first and created
    exclusively (never overwriting); after a failure (disk full, a name that appeared in the
    meantime) the files already made are removed again."""
    for path, _, _ in files:
        check_new_file(path, option)
    made: list[Path] = []
    try:
        for path, data, mode in files:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            made.append(path)
            with os.fdopen(descriptor, "wb") as out:
                out.write(data)
    except OSError as exc:
        for written in made:
            written.unlink(missing_ok=True)
        raise InvalidInput(f"Cannot write {path}: {exc.strerror}; nothing written") from None
