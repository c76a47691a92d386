"""Parent side of the vnetlab measurement: one fresh subprocess per size and repeat."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from vnbench.measure import KIB_PER_MB, Measurement, check_child, run_child
from vnbench.workload import Workload

BENCH_DIR = Path(__file__).resolve().parent.parent
ENGINE = "vnetlab"


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH_DIR), env.get("PYTHONPATH")]))
    return env


def run_vnetlab(w: Workload, timeout_s: float) -> Measurement:
    argv = [
        sys.executable,
        "-m",
        "vnbench.vnetlab_child",
        "--hosts",
        str(w.hosts),
        "--count",
        str(w.count),
        "--per-bridge",
        str(w.per_bridge),
    ]
    child = run_child(argv, timeout_s=timeout_s, env=_child_env())
    out = check_child(child, f"vnetlab N={w.hosts}")
    return Measurement(
        engine=ENGINE,
        hosts=w.hosts,
        count=w.count,
        setup_s=float(out["setup_s"]),
        run_s=float(out["run_s"]),
        deliveries=int(out["deliveries"]),
        echo_replies=int(out["echo_replies"]),
        events=int(out["events"]),
        peak_rss_mb=int(out["peak_rss_kb"]) / KIB_PER_MB,
        extra={k: out[k] for k in ("dict_s", "load_s", "simulate_s") if k in out},
    )
