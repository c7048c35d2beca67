"""A full disk and a read-only database: one clear line, exit 1, nothing half-written."""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.reliability.harness import SCRIPT, consistency_problems, copy_database, env, must, run

REASON = ["--reason", "Week 2026-W03 reviewed, all audits pass."]
PUBLISH = ["publish", "RUN-20260112-002", "--approver", "disp001", "--role", "dispatcher", *REASON]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("faults")
    db = folder / "demo.db"
    must(db, ["demo", "--files", str(folder / "files")])
    return db


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("Error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


def test_a_full_disk_during_import_changes_nothing(demo: Path, tmp_path: Path) -> None:
    db = tmp_path / "full.db"
    copy_database(demo, db)
    runs_before = must(db, ["list-runs", "--json"])

    def small_disk() -> None:
        # Every file the process writes may grow to 64 KiB: enough for SQLite's -shm, not for
        # the write-ahead log of a 1,483-assignment import. Writes past it fail with EFBIG.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))

    file = str(demo.parent / "files" / "run-2026-W03.json")
    full = subprocess.run(
        [str(SCRIPT), "import-run", file],
        env=env(db),
        capture_output=True,
        text=True,
        preexec_fn=small_disk,
        timeout=120,
    )
    message = _one_error_line(full)
    assert "nothing was changed" in message
    assert consistency_problems(db) == []
    assert must(db, ["list-runs", "--json"]) == runs_before
    assert run(db, ["import-run", file]).returncode == 0  # with room again, it works


@contextmanager
def _read_only(*paths: Path) -> Iterator[None]:
    """Make files and folders unwritable, also for root (immutable attribute) where needed."""
    if os.geteuid() == 0:
        made = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True)
        if made.returncode != 0:
            pytest.skip(f"cannot make files read-only for root here: {made.stderr!r}")
        undo = ["chattr", "-i", *map(str, paths)]
    else:
        modes = {path: path.stat().st_mode for path in paths}
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(undo, check=True)
        else:
            for path, mode in modes.items():
                path.chmod(mode)


def test_a_read_only_database_refuses_writes_clearly(demo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "demo.db"
    copy_database(demo, db)
    before = _digest(db)
    with _read_only(db):
        published = run(db, PUBLISH)
    assert "read-only" in _one_error_line(published)
    assert _digest(db) == before
    assert consistency_problems(db) == []
    with _read_only(db, folder):
        for args in (["status"], ["show-run", "RUN-20260112-002"], PUBLISH):
            message = _one_error_line(run(db, args))
            assert "read-only" in message, message
    assert _digest(db) == before
    assert run(db, PUBLISH).returncode == 0  # writable again: the same command works
