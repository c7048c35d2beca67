"""Files named by the user: inputs read with a size bound; outputs checked before any work,
written to a temporary file with a random name beside the target, synced, and linked into place
so that nothing is ever replaced (a file, a symbolic link, a name that appeared meanwhile).
The files of one command are placed all or nothing, and only our own files are ever removed."""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from dispatcher.domain.errors import Conflict, InvalidInput

# link(2) fails with these where the file system has no hard links; renameat2 is tried then.
NO_HARD_LINKS = frozenset(
    {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}
)
# renameat2(2) fails with these where the kernel or file system lacks RENAME_NOREPLACE.
NO_RENAME_NOREPLACE = frozenset({errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP})
AT_FDCWD = -100
RENAME_NOREPLACE = 1


def check_new_file(path: Path, option: str = "--out") -> None:
    """`path` names a file that does not exist yet (not even as a symbolic link), in a folder
    that does."""
    if path.name in ("", ".", ".."):
        raise InvalidInput(f"{option} needs a file name, not {str(path)!r}")
    try:
        if path.is_symlink():
            raise InvalidInput(f"{path} is a symbolic link; choose another {option}")
        if path.exists():
            raise InvalidInput(f"{path} already exists; choose another {option}")
        if not path.parent.is_dir():
            raise InvalidInput(f"Directory {path.parent} does not exist")
    except OSError as exc:  # e.g. a name too long for the file system
        raise InvalidInput(f"Cannot use {option} {path}: {exc.strerror}") from None


def check_new_folder(path: Path, option: str = "--out") -> None:
    """`path` names a folder that does not exist yet or is empty (and is no symbolic link)."""
    try:
        if path.is_symlink():
            raise InvalidInput(f"{path} is a symbolic link; choose another {option}")
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise InvalidInput(f"Output directory {path} is not empty; choose a new one")
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


NewFile = tuple[Path, bytes, int]  # path, content, permission bits (before the umask)
Filler = Callable[[Path], None]  # writes a file's content into the (empty) file it is given


@dataclass
class _Held:
    """One of our files, held open: an open file keeps its inode, so no file made by someone
    else can get the same (device, inode) while we hold it, and "same inode" means "ours"."""

    path: Path
    descriptor: int
    device: int
    inode: int

    def still_ours(self) -> bool:
        try:
            now = os.lstat(self.path)
        except OSError:
            return False
        return (now.st_dev, now.st_ino) == (self.device, self.inode)

    def remove_if_ours(self) -> None:
        with suppress(OSError):
            if self.still_ours():
                os.unlink(self.path)

    def release(self) -> None:
        if self.descriptor >= 0:
            os.close(self.descriptor)
            self.descriptor = -1


@dataclass
class PlacedFiles:
    """The files one call put in place, held open until released; `remove` takes back those
    that are still ours."""

    held: list[_Held] = field(default_factory=list)

    @property
    def paths(self) -> list[Path]:
        return [item.path for item in self.held]

    def remove(self) -> None:
        for item in reversed(self.held):
            item.remove_if_ours()
        for folder in {item.path.parent for item in self.held}:
            with suppress(OSError):
                _sync_folder(folder)
        self.release()

    def release(self) -> None:
        for item in self.held:
            item.release()
        self.held.clear()


def write_new_files(files: Sequence[NewFile], option: str = "--out") -> None:
    """Create every file, or none, never replacing anything: each is checked with
    `check_new_file`, written to a random temporary name beside it and synced, then linked into
    place; if one cannot be placed (disk full, a name that appeared in the meantime), the files
    already placed are removed again."""
    _place_all(files, option).release()


def write_new_file_with(path: Path, fill: Filler, mode: int, option: str = "--out") -> None:
    """`write_new_files` for content that a library writes by file name (a SQLite backup):
    `fill` gets the temporary file, which is then synced and linked into place."""
    _place_all([(path, fill, mode)], option).release()


@contextmanager
def new_files(files: Sequence[NewFile], option: str = "--out") -> Iterator[PlacedFiles]:
    """Place `files` (all or none), then run the block; if the block fails (a commit, say),
    the files that are still ours are removed, so nothing stays that the block did not own."""
    placed = _place_all(files, option)
    try:
        yield placed
    except BaseException:
        placed.remove()
        raise
    finally:
        placed.release()


def write_new_folder(folder: Path, files: Mapping[str, bytes], option: str = "--out") -> None:
    """Make `folder` (or use it while empty) and place every file in it, or none; a folder this
    call made is removed again after a failure, if it is still empty."""
    check_new_folder(folder, option)
    made = False
    try:
        os.mkdir(folder)  # exclusive: fails on anything at that name, a symbolic link too
        made = True
    except FileExistsError:
        if folder.is_symlink() or not folder.is_dir():
            raise _appeared(folder) from None
    except OSError as exc:
        raise InvalidInput(f"Cannot write to {folder}: {exc.strerror}; nothing written") from None
    try:
        write_new_files([(folder / name, data, 0o644) for name, data in files.items()], option)
        if made:
            _sync_folder(folder.parent)
    except BaseException:
        if made:
            with suppress(OSError):
                os.rmdir(folder)  # only while empty: what others put there stays
        raise


@dataclass(frozen=True)
class _Staged:
    temp: _Held
    target: Path


def _place_all(files: Sequence[tuple[Path, bytes | Filler, int]], option: str) -> PlacedFiles:
    for path, _, _ in files:
        check_new_file(path, option)
    staged: list[_Staged] = []
    placed = PlacedFiles()
    current = files[0][0] if files else Path()
    try:
        for path, content, mode in files:
            current = path
            staged.append(_stage(path, content, mode))
        for item in staged:
            current = item.target
            _place(item.temp.path, item.target)
            temp = item.temp
            placed.held.append(_Held(item.target, temp.descriptor, temp.device, temp.inode))
            temp.descriptor = -1  # the placed file holds it now
        for folder in {item.target.parent for item in staged}:
            _sync_folder(folder)
    except BaseException as exc:
        placed.remove()
        if isinstance(exc, FileNotFoundError) and not current.parent.is_dir():
            raise InvalidInput(
                f"Directory {current.parent} does not exist; nothing written"
            ) from None
        if isinstance(exc, OSError):
            raise InvalidInput(f"Cannot write {current}: {exc.strerror}; nothing written") from None
        raise
    finally:
        for item in staged:  # after link(2) the temporary name is left; renameat2 moved it
            item.temp.remove_if_ours()
            item.temp.release()
    return placed


def _stage(target: Path, content: bytes | Filler, mode: int) -> _Staged:
    """A synced temporary copy of the content, created exclusively under a random name in the
    target's folder (mkstemp: O_EXCL, mode 600 until it is complete), and held open."""
    descriptor, name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name[:64]}.", suffix=".tmp"
    )
    found = os.fstat(descriptor)
    created = _Held(Path(name), descriptor, found.st_dev, found.st_ino)
    try:
        if isinstance(content, bytes):
            view = memoryview(content)
            while view:
                view = view[os.write(descriptor, view) :]
        else:
            content(created.path)  # a library writing by name, into the file we created
            if not created.still_ours():
                raise _appeared(created.path)
        os.fchmod(descriptor, mode & ~_umask())
        os.fsync(descriptor)
    except BaseException:
        created.remove_if_ours()
        created.release()
        raise
    return _Staged(created, target)


def _place(temp: Path, target: Path) -> None:
    """Give `temp` the name `target` unless anything (a dangling symbolic link too) has it."""
    try:
        _link(temp, target)
        return
    except FileExistsError:
        raise _appeared(target) from None
    except OSError as exc:
        if exc.errno not in NO_HARD_LINKS:
            raise
    try:
        _rename_noreplace(temp, target)
    except FileExistsError:
        raise _appeared(target) from None
    except OSError as exc:
        if exc.errno not in NO_RENAME_NOREPLACE:
            raise
        raise InvalidInput(
            f"Cannot place {target} safely: its file system has neither hard links nor "
            "renames that refuse to replace; nothing written"
        ) from None


def _link(temp: Path, target: Path) -> None:
    """link(2): creates `target` only while nothing has that name (tests wrap this)."""
    os.link(temp, target)


def _rename_noreplace(temp: Path, target: Path) -> None:
    """renameat2(RENAME_NOREPLACE) through libc, for file systems without hard links."""
    import ctypes

    function = None
    if sys.platform.startswith("linux"):
        function = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if function is None:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    function.argtypes += [ctypes.c_uint]
    function.restype = ctypes.c_int
    source, destination = os.fsencode(temp), os.fsencode(target)
    if function(AT_FDCWD, source, AT_FDCWD, destination, RENAME_NOREPLACE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _sync_folder(folder: Path) -> None:
    """Make the new names durable; file systems that cannot sync a folder are let be."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    finally:
        os.close(descriptor)


def _umask() -> int:
    current = os.umask(0o077)
    os.umask(current)
    return current


def _appeared(path: Path) -> Conflict:
    return Conflict(f"{path} appeared while it was being written; left as it is, nothing written")
