"""Small helpers shared by tests (no fixtures here)."""

from __future__ import annotations

import json
import subprocess
import sys


def modules_after(code: str) -> set[str]:
    """Top-level module names loaded by a fresh interpreter running `code`."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    names: list[str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return set(names)


def top_level(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def dispatcher_traced(
    args: list[str], env: dict[str, str], *, full: bool = False
) -> tuple[int, str, set[str]]:
    """Exit code, stdout and the top-level modules (every module with `full`) loaded by
    `python -m dispatcher ARGS` in a fresh interpreter (read from `-X importtime`)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dispatcher", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    names = {
        line.rsplit("|", 1)[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    loaded = names if full else {name.split(".")[0] for name in names}
    return proc.returncode, proc.stdout, loaded
