"""Run one size of the workload in vnetlab and print one JSON line (run in a fresh process).

    python -m vnbench.vnetlab_child --hosts 1000 [--count 3] [--per-bridge 24]

Peak RSS is this process's own `ru_maxrss` at its end, so sizes do not pollute each other.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from typing import Any

import vnetlab
from vnbench.workload import Workload, topology


def _stat(stats: Any, key: str) -> Any:
    try:
        return stats[key]
    except (KeyError, TypeError) as exc:
        raise SystemExit(f"vnetlab result.stats has no {key!r}: {stats!r}") from exc


def measure(w: Workload) -> dict[str, Any]:
    t0 = time.perf_counter()
    data = topology(w)
    t1 = time.perf_counter()
    spec = vnetlab.load_topology_data(data, "bench")
    t2 = time.perf_counter()
    result = vnetlab.simulate(spec, seed=0, trace="off")
    t3 = time.perf_counter()
    run_s = float(_stat(result.stats, "run_seconds"))
    simulate_s = t3 - t2
    return {
        "hosts": w.hosts,
        "count": w.count,
        "dict_s": t1 - t0,
        "load_s": t2 - t1,
        "simulate_s": simulate_s,
        # setup = load + everything simulate() does outside its event loop (build, results)
        "setup_s": (t2 - t1) + max(simulate_s - run_s, 0.0),
        "run_s": run_s,
        "deliveries": int(_stat(result.stats, "deliveries")),
        "events": int(_stat(result.stats, "events")),
        "echo_replies": int(result.ping_replies_total()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, required=True)
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--per-bridge", type=int, default=24)
    args = parser.parse_args()
    out = measure(Workload(args.hosts, args.count, args.per_bridge))
    out["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
