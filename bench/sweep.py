"""`vnetlab sweep`: 10,000 randomized runs of a small race, timed in a fresh process as an
operator runs it (`make bench`).

The bar (issue: randomized sweeps) is 10,000 runs of the migration race in under 60 s on
a 2-core machine. The migration models come later, so the default race here is one of
comparable size: the catalog's `failover-cable-pull` (an active-backup bond under a VM
bridge, gw1 pinging two VMs and vm1 pinging gw1) with its three flows shortened to 100
probes at 100 ms (10 s, as a migration window), the cable pulled at a uniform random
time between 3 and 8 s, miimon 100 ms against 1000 ms: about 2,000 events per run, one
event that moves the path, an outage whose length depends on the pull's phase against
the MII polls and the probes. `--metric outage --threshold 200ms`: the case's own bar.

Prints runs/s and wall time (imports, validation, the pool's start and the CSV written
included) against the bar. Exit 0 with the report; 1 if the sweep failed or, under
--strict, went over the bar.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BAR_SECONDS = 60.0
BAR_RUNS = 10_000
REPO_ROOT = Path(__file__).resolve().parent.parent
RACE = ["--case", "failover-cable-pull",
        "--vary", "run[0].ping.count=[100]", "--vary", "run[1].ping.count=[100]",
        "--vary", "run[2].ping.count=[100]",
        "--vary", "run[3].at=uniform(3s,8s)",
        "--vary", "hosts.kvm1.interfaces[bond0].link-aggregation.options.miimon=[100, 1000]",
        "--metric", "outage", "--threshold", "200ms"]
COMBINATIONS = 2


def events_per_run() -> int:
    """One run of the race in this process, to say how big it is."""
    from vnetlab.sweep import make_plan
    from vnetlab.sweep.measure import draw
    from vnetlab.sweep.vary import patched

    options = [RACE[i + 1] for i, a in enumerate(RACE) if a == "--vary"]
    from vnetlab.catalog import case_paths

    plan = make_plan(str(case_paths()["failover-cable-pull"]), options, runs=1, seed=0)
    import vnetlab

    assignments, _, seed = draw(plan.ctx, 0, 0)
    spec = vnetlab.load_topology_data(patched(plan.ctx.doc, assignments), "bench")
    return int(vnetlab.simulate(spec, seed=seed, trace="off").sim.events)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strict", action="store_true", help="exit 1 when over the bar")
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (0: per CPU)")
    parser.add_argument("--runs", type=int, default=BAR_RUNS, help="total runs")
    args = parser.parse_args(argv)
    per_combination = max(1, args.runs // COMBINATIONS)
    total = per_combination * COMBINATIONS
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "runs.csv")
        command = [sys.executable, "-m", "vnetlab", "sweep", *RACE, "--runs",
                   str(per_combination), "--seed", "1", "--jobs", str(args.jobs), "-o", out,
                   "--json"]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT,
                              check=False)
        wall = time.perf_counter() - started
        size = os.path.getsize(out) if os.path.exists(out) else 0
    if done.returncode != 0:
        print(f"vnetlab sweep failed ({done.returncode}):\n{done.stderr}", file=sys.stderr)
        return 1
    summary = json.loads(done.stdout)
    events = events_per_run()
    status = "PASS" if wall * BAR_RUNS / total < BAR_SECONDS else "FAIL"
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"vnetlab sweep: {total} runs of failover-cable-pull (3 flows x 100 probes, cable "
          f"pulled at uniform(3s,8s), ~{events} events per run), {cpus} CPUs")
    print(f"  wall {wall:.1f} s (fresh process: imports, checks, pool start, {size / 1e6:.1f} MB "
          f"of CSV included): {total / wall:.0f} runs/s, {wall / total * 1000:.2f} ms per run")
    for row in summary["combinations"]:
        miimon = next(iter(row["values"].values()))
        lo, hi = row["ci95"]
        median = row["duration"]["median_ns"]
        print(f"  miimon {miimon} ms: P(outage > 200ms) {100 * row['p']:.1f}% "
              f"[{100 * lo:.1f}-{100 * hi:.1f}], median of those "
              f"{median / 1e6 if isinstance(median, int) else median} ms")
    scaled = wall * BAR_RUNS / total
    print(f"  {status}  bar: {BAR_RUNS} runs under {BAR_SECONDS:.0f} s on a 2-core machine; "
          f"ratio wall/bar {scaled / BAR_SECONDS:.2f}"
          + (f" (scaled from {total} runs)" if total != BAR_RUNS else ""))
    return 1 if args.strict and status == "FAIL" else 0


if __name__ == "__main__":
    sys.exit(main())
