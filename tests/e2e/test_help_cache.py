"""`--help` is rendered by Typer once and replayed from the cache after, byte for byte."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dispatcher.cli.root
from tests.e2e.test_installed_script import HEAVY
from tests.helpers import dispatcher_traced

SCRIPT = Path(sys.executable).parent / "dispatcher"


def _env(cache: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISPATCHER_", "_DISPATCHER"))}
    env.update({"XDG_CACHE_HOME": str(cache), "NO_COLOR": "1", "COLUMNS": "100"}, **extra)
    return env


def _help(args: list[str], env: dict[str, str]) -> tuple[int, str, set[str]]:
    return dispatcher_traced(args, env)


def _typer(args: list[str], env: dict[str, str]) -> str:
    """What the whole Typer app prints, no cache involved."""
    code = "from dispatcher.cli.app import app; app(prog_name='dispatcher')"
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120
    )
    return proc.stdout


def test_second_help_is_replayed_without_typer(tmp_path: Path) -> None:
    env = _env(tmp_path / "cache")
    for args in (["--help"], ["audit", "verify", "--help"], ["publish", "-h"]):
        first = _help(args, env)
        second = _help(args, env)
        assert first[0] == second[0] == 0
        assert "typer" in first[2]
        assert second[2].isdisjoint(HEAVY | {"typer", "rich"}), args
        assert second[1] == first[1] == _typer(args, env)
    assert len(list((tmp_path / "cache" / "dispatcher" / "help").iterdir())) == 3


def test_another_width_or_changed_code_renders_again(tmp_path: Path) -> None:
    env = _env(tmp_path / "cache")
    _help(["--help"], env)
    narrow = _env(tmp_path / "cache", COLUMNS="60")
    code, text, loaded = _help(["--help"], narrow)
    assert code == 0 and "typer" in loaded and text == _typer(["--help"], narrow)
    assert max(len(line) for line in text.splitlines()) <= 60
    source = Path(dispatcher.cli.root.__file__)
    stamp = source.stat()
    try:
        os.utime(source, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000_000))
        assert "typer" in _help(["--help"], env)[2]
    finally:
        os.utime(source, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))


def test_only_plain_help_requests_are_cached_and_a_broken_cache_is_skipped(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path / "cache")
    for args in (["--db", "x.db", "--help"], ["stauts", "--help"], ["publish", "RUN-1", "-h"]):
        _help(args, env)
    assert not (tmp_path / "cache").exists()
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    for _ in range(2):
        code, text, _ = _help(["--help"], _env(blocked))
        assert code == 0 and "Exit codes" in text
