"""`make bench`: every benchmark in turn (timings never run in `make test`)."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SECTIONS = ("repair.py", "solve.py")


def main() -> None:
    machine = f"{platform.machine()}, Python {platform.python_version()}"
    print(f"# Benchmarks on {platform.node()} ({machine})\n")
    for section in SECTIONS:
        print(f"## {section}\n")
        subprocess.run([sys.executable, str(HERE / section), *sys.argv[1:]], check=True)
        print()


if __name__ == "__main__":
    main()
