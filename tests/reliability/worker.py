"""One of the concurrent writers: random publish, lock, repair, kill-switch and import commands
through the installed script until the deadline; every outcome written as a JSON line.

    python -m tests.reliability.worker DB FILES SEED SECONDS OUT
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

from tests.reliability.harness import run

REASON = ["--reason", "Reviewed under load: all audits pass."]
ADMIN = ["--by", "admin01", "--reason", "Load test of the kill switch."]
KNOWN_RUNS = ["RUN-20260112-001", "RUN-20260112-002", "RUN-20260105-001"]


def main(db: Path, files: Path, seed: int, seconds: float, out: Path) -> None:
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    runs = list(KNOWN_RUNS)
    requests: list[str] = []
    with out.open("w", encoding="utf-8") as log:
        while time.monotonic() < deadline:
            # A pending repair blocks publishing its week and an active switch blocks every
            # publish and lock, so each worker withdraws its newest request when it rejects and
            # turns the switch off more often than on: the gates are exercised, work still flows.
            op = rng.choices(
                ["import", "publish", "lock", "switch", "request", "reject"],
                weights=[2, 5, 4, 1, 1, 1],
            )[0]
            if op == "import":
                args = ["import-run", str(files / "run-2026-W03.json")]
            elif op == "publish":
                args = ["publish", rng.choice(runs), "--approver", "disp001"]
                args += ["--role", "dispatcher", *REASON]
            elif op == "lock":
                args = ["lock", rng.choice(runs), "--approver", "ops001", "--role", "ops_lead"]
                args += REASON
            elif op == "switch":
                turn = rng.choices(["activate", "deactivate"], weights=[1, 3])[0]
                args = ["kill-switch", turn, *ADMIN]
            elif op == "request":
                driver = f"D{rng.randint(1, 150):03d}"
                args = ["request-repair", "--week", "2026-W03", "--driver", driver]
                args += ["--type", "sick", "--days", rng.choice(["Wed", "Thu", "Fri"])]
                args += ["--requester", "disp001"]
            else:
                if not requests:
                    continue
                args = ["reject-repair", requests.pop(), "--approver", "disp001"]
                args += ["--role", "dispatcher", *REASON]
            started = time.perf_counter()
            done = run(db, args)
            elapsed = time.perf_counter() - started
            if done.returncode == 0 and op == "import":
                runs.append(done.stdout.split("Imported ", 1)[-1].split()[0])
            if done.returncode == 0 and op == "request":
                requests.append(done.stdout.strip())
            entry = {"op": op, "args": args, "code": done.returncode, "stderr": done.stderr}
            log.write(json.dumps({**entry, "seconds": round(elapsed, 3)}) + "\n")


if __name__ == "__main__":
    main(
        Path(sys.argv[1]),
        Path(sys.argv[2]),
        int(sys.argv[3]),
        float(sys.argv[4]),
        Path(sys.argv[5]),
    )
