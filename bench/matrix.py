"""`vnetlab matrix` for the standard host (every bond mode and team runner x 4 switch columns)
timed in a fresh process, as an operator runs it (`make bench`).

The bar (issue: bond modes matrix) is under 10 s on a 2-core machine; the ratio printed is
wall time / 10 s. There is no peer tool that computes this matrix, so the budget is the
reference. Exit 0 with the report; 1 if the run failed or, under --strict, went over the bar.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

BAR_SECONDS = 10.0
REPO_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strict", action="store_true", help="exit 1 when over the bar")
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (0: per CPU)")
    args = parser.parse_args(argv)
    command = [sys.executable, "-m", "vnetlab", "matrix", "--json", "--jobs", str(args.jobs)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        print(f"vnetlab matrix failed ({done.returncode}):\n{done.stderr}", file=sys.stderr)
        return 1
    cells = json.loads(done.stdout)["cells"]
    rows = len({c["row"] for c in cells})
    columns = len({c["column"] for c in cells})
    verdicts = {v: sum(c["verdict"] == v for c in cells) for v in ("works", "degraded", "broken")}
    status = "PASS" if wall < BAR_SECONDS else "FAIL"
    from vnetlab.matrix import MEASURE_NS, SETTLE_NS

    simulated = (SETTLE_NS + MEASURE_NS) / 1e9 + 2
    print(f"vnetlab matrix (standard host): {rows} rows x {columns} columns = {len(cells)} cells, "
          f"each {simulated:g} simulated s")
    print(f"  wall {wall:.2f} s (fresh process, imports included), {wall / len(cells) * 1000:.0f} "
          f"ms per cell; verdicts {verdicts}")
    print(f"  {status}  bar: under {BAR_SECONDS:.0f} s on this machine; ratio wall/bar "
          f"{wall / BAR_SECONDS:.2f}")
    return 1 if args.strict and status == "FAIL" else 0


if __name__ == "__main__":
    sys.exit(main())
