"""The reference workload (ns-3 `bridged_ping.py`) as a vnetlab topology, plus its closed form.

N hosts, one link each to an access bridge (`per_bridge` hosts per bridge), access bridges under
one core bridge (no core when there is a single access bridge), all links 1 us.  Host i pings
host (i + N/2) mod N `count` times, 1 s apart, starting at `1 + (i*997 mod 1000)` ms.  One IPv4
/16 (10.0.0.0/16) assigned in host order like ns-3's `Ipv4AddressHelper` (host i -> 10.0.0.0 + i+1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NETWORK_BASE = 10 << 24  # 10.0.0.0
PREFIX_LENGTH = 16
LINK_DELAY = "1us"
PING_INTERVAL = "1s"
PING_PAYLOAD = 56
MAC_AGEING_S = 300
SAME_BRIDGE_HOPS = 2  # host -> access bridge -> host
CROSS_CORE_HOPS = 4  # host -> access -> core -> access -> host


@dataclass(frozen=True)
class Workload:
    """One size of the reference workload."""

    hosts: int
    count: int = 3
    per_bridge: int = 24

    def __post_init__(self) -> None:
        if self.hosts < 2 or self.hosts % 2:
            # The closed form assumes symmetric pairs (i pings j and j pings i).
            raise ValueError(f"hosts must be an even number >= 2, got {self.hosts}")
        if self.hosts >= 1 << (32 - PREFIX_LENGTH):
            raise ValueError(f"hosts must fit in a /{PREFIX_LENGTH}, got {self.hosts}")
        if self.count < 1 or self.per_bridge < 1:
            raise ValueError("count and per_bridge must be >= 1")

    @property
    def access_bridges(self) -> int:
        return -(-self.hosts // self.per_bridge)

    @property
    def has_core(self) -> bool:
        return self.access_bridges > 1

    @property
    def links(self) -> int:
        """L: one link per host plus one uplink per access bridge when there is a core."""
        return self.hosts + (self.access_bridges if self.has_core else 0)

    def bridge_of(self, host: int) -> int:
        return host // self.per_bridge

    def peer(self, host: int) -> int:
        return (host + self.hosts // 2) % self.hosts

    def start_ms(self, host: int) -> int:
        return 1 + (host * 997) % 1000

    def hops(self, a: int, b: int) -> int:
        """d: links a unicast frame crosses between hosts a and b."""
        return SAME_BRIDGE_HOPS if self.bridge_of(a) == self.bridge_of(b) else CROSS_CORE_HOPS

    def expected_deliveries(self) -> int:
        """F = N*L (one flooded ARP request per host) + per host: ARP reply + 2*count echo frames.

        Each host's pair path length d_i is computed per pair rather than assumed.
        """
        pair_hops = sum(self.hops(i, self.peer(i)) for i in range(self.hosts))
        return self.hosts * self.links + pair_hops + 2 * self.count * pair_hops

    def expected_replies(self) -> int:
        return self.hosts * self.count


def host_name(host: int) -> str:
    return f"h{host}"


def host_ip(host: int) -> str:
    addr = NETWORK_BASE + host + 1
    return ".".join(str((addr >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def host_mac(host: int) -> str:
    value = host + 1
    return f"02:00:00:00:{(value >> 8) & 0xFF:02x}:{value & 0xFF:02x}"


def _host(host: int) -> dict[str, Any]:
    nic = {
        "name": "eth0",
        "type": "ethernet",
        "mac-address": host_mac(host),
        "ipv4": {
            "enabled": True,
            "address": [{"ip": host_ip(host), "prefix-length": PREFIX_LENGTH}],
        },
        # ns-3's ArpL3Protocol does not learn from ARP requests (ns-3 bug 107).
        "arp": {"learn-from-request": False},
    }
    return {"interfaces": [nic]}


def _switch(ports: list[str]) -> dict[str, Any]:
    return {"ports": ports, "mac-ageing-time": MAC_AGEING_S}


def _access_ports(w: Workload, bridge: int) -> list[str]:
    members = range(bridge * w.per_bridge, min((bridge + 1) * w.per_bridge, w.hosts))
    ports = [f"p{k}" for k in range(len(members))]
    return [*ports, "up"] if w.has_core else ports


def _switches(w: Workload) -> dict[str, Any]:
    switches = {f"acc{b}": _switch(_access_ports(w, b)) for b in range(w.access_bridges)}
    if w.has_core:
        switches["core"] = _switch([f"p{b}" for b in range(w.access_bridges)])
    return switches


def _link(a: str, b: str) -> dict[str, Any]:
    return {"endpoints": [a, b], "delay": LINK_DELAY}


def _links(w: Workload) -> list[dict[str, Any]]:
    links = [
        _link(f"{host_name(i)}:eth0", f"acc{w.bridge_of(i)}:p{i % w.per_bridge}")
        for i in range(w.hosts)
    ]
    if w.has_core:
        links += [_link(f"acc{b}:up", f"core:p{b}") for b in range(w.access_bridges)]
    return links


def _ping(w: Workload, host: int) -> dict[str, Any]:
    ping = {
        "from": host_name(host),
        "to": host_ip(w.peer(host)),
        "count": w.count,
        "interval": PING_INTERVAL,
        "size": PING_PAYLOAD,
    }
    return {"at": f"{w.start_ms(host)}ms", "ping": ping}


def topology(w: Workload) -> dict[str, Any]:
    """The workload as a vnetlab topology dict (for `vnetlab.load_topology_data`)."""
    return {
        "name": f"bench-{w.hosts}",
        "hosts": {host_name(i): _host(i) for i in range(w.hosts)},
        "switches": _switches(w),
        "links": _links(w),
        "run": [_ping(w, i) for i in range(w.hosts)],
    }
