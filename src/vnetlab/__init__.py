"""vnetlab: a frame-level, kernel-faithful simulator of KVM host networking.

Public API (everything else is internal and may change):

    spec = load_topology("topo.yaml")          # TopologySpec; raises TopologyError (all errors at once)
    spec = load_topology_data(obj, "<name>")   # the same from a Python dict (benchmarks, tests)
    result = simulate(spec, seed=0, trace="full")   # RunResult: pings, FDBs, expectations, trace
    result = simulate(spec, capture=True)           # ... and result.write_pcaps("DIR")

Heavy modules are imported lazily so that `vnetlab --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["TopologyError", "load_topology", "load_topology_data", "simulate"]

if TYPE_CHECKING:
    from collections.abc import Iterable

    from vnetlab.errors import TopologyError
    from vnetlab.lab import RunResult
    from vnetlab.topology.spec import TopologySpec


def load_topology(path: str) -> TopologySpec:
    from vnetlab.topology.load import load_topology as _load

    return _load(path)


def load_topology_data(data: Any, source: str = "<data>") -> TopologySpec:
    from vnetlab.topology.load import load_topology_data as _load

    return _load(data, source)


def simulate(spec: TopologySpec, seed: int = 0, trace: str = "full", *,
             capture: bool | Iterable[str] = False) -> RunResult:
    from vnetlab.lab import simulate as _simulate

    return _simulate(spec, seed=seed, trace=trace, capture=capture)


def __getattr__(name: str) -> Any:
    if name == "TopologyError":
        from vnetlab.errors import TopologyError

        return TopologyError
    raise AttributeError(name)
