"""The test host shared by test_bond_modes.py and test_team_runners.py.

kvm1 with NICs eth0, eth1 (, eth2) (MACs 00:50:56:a1:00:01, :02, :03) as the
ports of one aggregate (bond0 or team1), cabled to sw1:ge1, ge2 (, ge3);
routers gw1 (192.168.10.254), gw2 (.253), gw3 (.252) behind sw1. The aggregate
is either a port of br1 with VMs vm1.. (52:54:00:12:34:0N; 192.168.10.21, .38,
.57) or carries 192.168.10.11 itself.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any

import vnetlab
from vnetlab.lab import RunResult

NIC_MACS = ("00:50:56:a1:00:01", "00:50:56:a1:00:02", "00:50:56:a1:00:03")
GW_MACS = ("00:1b:21:0a:0b:01", "00:1b:21:0a:0b:02", "00:1b:21:0a:0b:03")
GW_IPS = ("192.168.10.254", "192.168.10.253", "192.168.10.252")
VM_IPS = ("192.168.10.21", "192.168.10.38", "192.168.10.57")
HOST_IP = "192.168.10.11"
BROADCAST = "ff:ff:ff:ff:ff:ff"


def vm_mac(i: int) -> str:
    return f"52:54:00:12:34:0{i + 1}"


def host_topology(agg: dict[str, Any], *, nics: int = 2, bridge: bool = True, vms: int = 1,
                  routers: int = 1, lag: bool = False, run: list[dict[str, Any]] | None = None,
                  duration: str | None = None, bridge_ip: bool = False) -> dict[str, Any]:
    """The host above with ``agg`` (an nmstate bond or team interface over eth0..)
    as the dict a YAML file loads to."""
    interfaces: list[dict[str, Any]] = [
        {"name": f"eth{i}", "type": "ethernet", "mac-address": NIC_MACS[i]} for i in range(nics)]
    interfaces.append(agg)
    if bridge:
        br: dict[str, Any] = {"name": "br1", "type": "linux-bridge",
                              "bridge": {"options": {"stp": {"enabled": False}},
                                         "port": [{"name": agg["name"]}]}}
        if bridge_ip:
            br["ipv4"] = f"{HOST_IP}/24"
        interfaces.append(br)
    else:
        agg["ipv4"] = f"{HOST_IP}/24"
    data: dict[str, Any] = {
        "hosts": {"kvm1": {"interfaces": interfaces}},
        "switches": {"sw1": {"ports": [f"ge{i + 1}" for i in range(nics)]
                             + [f"gw{j + 1}" for j in range(routers)]}},
        "routers": {f"gw{j + 1}": {"interfaces": [{"name": "eth0", "mac-address": GW_MACS[j],
                                                   "ipv4": f"{GW_IPS[j]}/24"}]}
                    for j in range(routers)},
        "links": [{"endpoints": [f"kvm1:eth{i}", f"sw1:ge{i + 1}"]} for i in range(nics)]
        + [{"endpoints": [f"gw{j + 1}:eth0", f"sw1:gw{j + 1}"]} for j in range(routers)],
        "run": list(run or []),
    }
    if bridge:
        data["vms"] = {f"vm{i + 1}": {"host": "kvm1", "interfaces": [
            {"source": "br1", "target": f"vnet{i}", "mac": vm_mac(i),
             "ipv4": {"address": f"{VM_IPS[i]}/24", "gateway": GW_IPS[0]}}]} for i in range(vms)}
    if lag:
        data["switches"]["sw1"]["lags"] = [{"name": "po1", "mode": "static",
                                            "ports": [f"ge{i + 1}" for i in range(nics)]}]
    if duration is not None:
        data["duration"] = duration
    return data


def simulate(data: dict[str, Any], seed: int = 0) -> RunResult:
    from vnetlab.lab import simulate as run

    return run(vnetlab.load_topology_data(copy.deepcopy(data), "test"), seed=seed, measure=True)


def tx_ports(result: RunResult, where: str) -> list[str]:
    """The port of every frame the aggregate transmitted, in order."""
    return [s.port for s in result.trace.steps if s.where == where and s.action == "forward"]


def port_of_uid(result: RunResult, where: str) -> dict[int, set[str]]:
    ports: dict[int, set[str]] = defaultdict(set)
    for s in result.trace.steps:
        if s.where == where and s.action == "forward":
            ports[s.uid].add(s.port)
    return ports
