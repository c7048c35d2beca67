"""`make bench`: every benchmark in turn (timings never run in `make test`).

Prints each section and appends the whole run, with the machine it ran on, to the
"Bench log" at the end of docs/performance.md (`--no-append` to only print).

    python benchmarks/run.py [--only startup.py] [--no-append]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).parent
DOC = HERE.parent / "docs" / "performance.md"
SECTIONS = ("startup.py", "repair.py", "solve.py", "postgres.py")
LOG_HEADING = "## Bench log (appended by `make bench`)"
LOG_NOTE = "Each `make bench` run appends its full output here, newest last."


def machine() -> str:
    cpus = os.cpu_count() or 0
    memory = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            kib = int(info.readline().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{platform.node()}: {platform.machine()}, {cpus} CPUs{memory}, "
        f"{platform.platform(terse=True)}, Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the benchmarks.")
    parser.add_argument("--only", choices=SECTIONS, action="append")
    parser.add_argument("--no-append", action="store_true", help="print only")
    args = parser.parse_args()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [f"### {stamp} - {machine()}", ""]
    print("\n".join(out))
    for section in args.only or SECTIONS:
        heading = f"#### {section}"
        print(heading + "\n", flush=True)
        run = subprocess.run(
            [sys.executable, str(HERE / section)], check=True, stdout=subprocess.PIPE, text=True
        )
        print(run.stdout, flush=True)
        out += [heading, "", run.stdout.rstrip(), ""]
    if args.no_append:
        return
    text = DOC.read_text(encoding="utf-8")
    if LOG_HEADING not in text:
        text = text.rstrip() + f"\n\n{LOG_HEADING}\n\n{LOG_NOTE}\n"
    DOC.write_text(text.rstrip() + "\n\n" + "\n".join(out).rstrip() + "\n", encoding="utf-8")
    print(f"Appended to {DOC}")


if __name__ == "__main__":
    main()
