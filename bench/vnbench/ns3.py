"""The ns-3 reference: a cached venv with the PyPI `ns3` wheel, running the shared script.

The ns-3 program is never copied into the repo: it is run from `VNETLAB_NS3_DIR`, by default
`<repo>/../shared/bench/ns3`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vnbench.measure import KIB_PER_MB, Measurement, check_child, log, run_child
from vnbench.workload import Workload

NS3_REQUIREMENT = "ns3==3.44.post0"
NS3_VERSION = NS3_REQUIREMENT.split("==")[1]
NS3_SCRIPT = "bridged_ping.py"
NS3_DIR_ENV = "VNETLAB_NS3_DIR"
VENV_DIR = Path.home() / ".cache" / "vnetlab" / "ns3-venv"
ENGINE = "ns-3"
INSTALL_TIMEOUT_S = 1800.0


class Ns3Unavailable(RuntimeError):
    """ns-3 cannot be run here (no script, no venv, pip failed); the bench goes on without it."""


def ns3_dir(repo_root: Path) -> Path:
    override = os.environ.get(NS3_DIR_ENV)
    return Path(override) if override else repo_root.parent / "shared" / "bench" / "ns3"


def ns3_script(repo_root: Path) -> Path:
    script = ns3_dir(repo_root) / NS3_SCRIPT
    if not script.is_file():
        raise Ns3Unavailable(f"{script} not found (set {NS3_DIR_ENV} to the ns-3 bench dir)")
    return script


def _venv_python() -> Path:
    return VENV_DIR / "bin" / "python"


def _installed_version(python: Path) -> str | None:
    code = "import importlib.metadata as m; print(m.version('ns3'))"
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def _run_setup_step(argv: list[str], what: str) -> None:
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, check=False, timeout=INSTALL_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        raise Ns3Unavailable(f"{what} timed out") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-10:])
        raise Ns3Unavailable(f"{what} failed (exit {proc.returncode}):\n{tail}")


def ensure_venv() -> Path:
    """Python of the cached ns-3 venv, creating it / installing the wheel when needed."""
    python = _venv_python()
    if python.exists() and _installed_version(python) == NS3_VERSION:
        return python
    if not python.exists():
        log(f"creating ns-3 venv at {VENV_DIR}")
        _run_setup_step([sys.executable, "-m", "venv", "--clear", str(VENV_DIR)], "venv creation")
    log(f"installing {NS3_REQUIREMENT} into {VENV_DIR} (one-time, ~69 MB download)")
    _run_setup_step(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            NS3_REQUIREMENT,
        ],
        f"pip install {NS3_REQUIREMENT}",
    )
    if _installed_version(python) != NS3_VERSION:
        raise Ns3Unavailable(f"{NS3_REQUIREMENT} not importable after install")
    return python


def run_ns3(python: Path, script: Path, w: Workload, timeout_s: float) -> Measurement:
    argv = [str(python), str(script), str(w.hosts), str(w.count), str(w.per_bridge)]
    child = run_child(argv, timeout_s=timeout_s, cwd=script.parent)
    out = check_child(child, f"ns-3 N={w.hosts}")
    return Measurement(
        engine=ENGINE,
        hosts=int(out["hosts"]),
        count=int(out["pings_per_host"]),
        setup_s=float(out["setup_s"]),
        run_s=float(out["run_s"]),
        deliveries=int(out["frames_rx"]),
        echo_replies=int(out["echo_replies"]),
        events=int(out["events"]),
        peak_rss_mb=child.peak_rss_kb / KIB_PER_MB,
        extra={"import_s": out.get("import_s"), "tool": out.get("tool")},
    )
