"""Parsers of runtime state as a sosreport records it (command outputs, /proc files).

* ``ip -d address`` / ``ip -s -d link`` / ``ip -d link`` (iproute2 ``print_linkinfo``):
  a header line ``N: NAME[@PARENT]: <FLAGS> mtu M ... master X state S``, then
  ``link/ether MAC ... [permaddr MAC]``, the kind line (``bridge forward_delay 1500
  ...``, ``bond mode active-backup miimon 100 ...``, ``vlan protocol 802.1Q id 100``,
  ``team``, ``tun type tap ...``, ``openvswitch``), the port line (``bridge_slave
  state forwarding ... hairpin off learning on flood on ...``, ``bond_slave ...
  perm_hwaddr MAC``) and ``inet A/P ... [dynamic]`` lines;
* ``ip -o addr`` (one line per address);
* ``bridge fdb show`` (``MAC dev PORT [vlan N] [master BR] [used A/B] [flags]``);
* ``bridge -d vlan show`` (``PORT VID [PVID] [Egress Untagged]``, continuation lines);
* ``ip route show table all`` (the default route's gateway and device);
* ``/proc/net/bonding/BOND`` (``bond_info_show_master``/``bond_info_show_slave``:
  "Bonding Mode: fault-tolerance (active-backup)", "Slave Interface: ens224", ...;
  newer kernels say "Port" for "Slave");
* ``ovs-vsctl show`` (``cmd_show``: Bridge, Port with ``tag``/``trunks``, Interface with
  ``type`` and ``options: {peer=...}``).

Bridge timers: iproute2 has printed them raw (centiseconds, USER_HZ) and, in some
versions, divided by HZ (seconds); the unit is told by ``hello_time``, which the
kernel keeps between 1 and 10 s (100-1000 cs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from vnetlab.importers.base import norm_mac, to_int

_HEADER = re.compile(r"^(\d+):\s+([^:@\s]+)(?:@(\S+?))?:\s+<([^>]*)>\s*(.*)$")
KINDS = {"bridge", "bond", "team", "vlan", "tun", "veth", "openvswitch", "dummy", "macvlan",
         "macvtap", "vxlan", "ipvlan", "vrf", "geneve", "gre", "gretap", "ipip", "sit", "wireguard",
         "ifb", "nlmon", "bareudp", "hsr", "netdevsim", "ip6tnl", "ip6gre", "vti", "erspan"}


@dataclass
class Link:
    """One interface as ``ip -d`` shows it."""

    name: str
    index: int
    line: int
    parent: str | None = None
    flags: set[str] = field(default_factory=set)
    mtu: int | None = None
    master: str | None = None
    state: str = ""
    link_type: str = ""
    mac: str | None = None
    permaddr: str | None = None
    kind: str | None = None
    info: list[str] = field(default_factory=list)
    port_kind: str | None = None
    port: list[str] = field(default_factory=list)
    addresses: list[tuple[str, int, bool]] = field(default_factory=list)

    def value(self, key: str, tokens: list[str] | None = None) -> str | None:
        words = self.info if tokens is None else tokens
        for index, word in enumerate(words[:-1]):
            if word == key:
                return words[index + 1]
        return None

    def port_value(self, key: str) -> str | None:
        return self.value(key, self.port)

    @property
    def up(self) -> bool:
        return "UP" in self.flags


def _words_after(words: list[str], key: str) -> str | None:
    for index, word in enumerate(words[:-1]):
        if word == key:
            return words[index + 1]
    return None


def parse_ip(text: str) -> dict[str, Link]:
    """``ip -d address`` / ``ip [-s] -d link`` output -> links by name, in index order."""
    links: dict[str, Link] = {}
    current: Link | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        match = _HEADER.match(raw)
        if match:
            index, name, parent, flags, rest = match.groups()
            words = rest.split()
            current = Link(name, int(index), number, parent if parent and parent != "NONE"
                           else None, set(flags.split(",")) - {""})
            current.mtu = to_int(_words_after(words, "mtu") or "")
            current.master = _words_after(words, "master")
            current.state = _words_after(words, "state") or ""
            links[name] = current
            continue
        if current is None or not raw[:1].isspace():
            continue
        words = raw.split()
        if not words:
            continue
        head = words[0]
        if head.startswith("link/"):
            current.link_type = head[len("link/"):]
            if len(words) > 1 and norm_mac(words[1]):
                current.mac = norm_mac(words[1])
            permaddr = _words_after(words, "permaddr")
            if permaddr and norm_mac(permaddr):
                current.permaddr = norm_mac(permaddr)
        elif head in KINDS and current.kind is None:
            current.kind = head
            current.info = words[1:]
        elif head.endswith("_slave") or head.endswith("_port"):
            current.port_kind = head.rsplit("_", 1)[0]
            current.port = words[1:]
        elif head == "inet" and len(words) > 1 and "/" in words[1]:
            address, _, plen = words[1].partition("/")
            if plen.isdigit():
                current.addresses.append((address, int(plen), "dynamic" in words))
    return links


def parse_ip_oneline(text: str, links: dict[str, Link]) -> None:
    """``ip -o addr``: add the IPv4 addresses to ``links`` (created if missing)."""
    for number, raw in enumerate(text.splitlines(), 1):
        words = raw.replace("\\", " ").split()
        if len(words) < 4 or not words[0].rstrip(":").isdigit() or words[2] != "inet":
            continue
        name = words[1].split("@")[0]
        link = links.setdefault(name, Link(name, int(words[0].rstrip(":")), number))
        address, _, plen = words[3].partition("/")
        if plen.isdigit() and (address, int(plen), "dynamic" in words) not in link.addresses:
            link.addresses.append((address, int(plen), "dynamic" in words))


def bridge_timer_scale(link: Link) -> int:
    """Divisor that turns this iproute2's bridge timers into seconds (see module doc)."""
    hello = to_int(link.value("hello_time") or "")
    return 1 if hello is not None and hello <= 10 else 100


def parse_fdb(text: str, file: str) -> tuple[list[dict[str, Any]], int]:
    """``bridge fdb show`` -> the bridges' own entries (``master BR``) as the
    ``captured.fdb`` list, and the count of other lines (NIC filters, ``self``)."""
    entries: list[dict[str, Any]] = []
    skipped = 0
    flags_known = {"permanent", "static", "dynamic", "extern_learn", "offload", "sticky",
                   "router", "local", "use", "added_by_user", "master", "self"}
    for raw in text.splitlines():
        words = raw.split()
        if len(words) < 3 or words[1] != "dev" or norm_mac(words[0]) is None:
            continue
        bridge = _words_after(words, "master")
        if bridge is None:
            if "self" in words and _words_after(words, "dev") is not None:
                skipped += 1
            continue
        entry: dict[str, Any] = {"bridge": bridge, "mac": norm_mac(words[0]),
                                 "port": words[2]}
        vlan = to_int(_words_after(words, "vlan") or "")
        if vlan is not None:
            entry["vlan"] = vlan
        flags = [w for w in words[3:] if w in flags_known and w not in ("master", "self")]
        if flags:
            entry["flags"] = flags
        entries.append(entry)
    return entries, skipped


def parse_bridge_vlans(text: str) -> dict[str, list[tuple[int, int, bool, bool]]]:
    """``bridge -d vlan show`` -> port -> [(vid, vid_end, pvid, untagged)]."""
    out: dict[str, list[tuple[int, int, bool, bool]]] = {}
    port: str | None = None
    for raw in text.splitlines():
        if not raw.strip() or raw.startswith("port"):
            continue
        words = raw.split()
        if not raw[:1].isspace():
            port = words[0]
            words = words[1:]
        if port is None or not words or words[0] in ("state", "mcast_router", "neigh_suppress"):
            continue
        first, _, last = words[0].partition("-")
        if to_int(first) is None:
            continue
        start = int(first)
        end = to_int(last) if last else start
        text_rest = " ".join(words[1:])
        out.setdefault(port, []).append((start, end if end is not None else start,
                                         "PVID" in text_rest,
                                         "Untagged" in text_rest))
    return out


def parse_default_route(text: str) -> tuple[str, str] | None:
    """(gateway, device) of the main table's IPv4 default route."""
    for raw in text.splitlines():
        words = raw.split()
        if words[:1] == ["default"] and "via" in words and ":" not in (
                _words_after(words, "via") or "") and "table" not in words:
            gateway, device = _words_after(words, "via"), _words_after(words, "dev")
            if gateway and device:
                return gateway, device
    return None


BOND_MODES = {"load balancing (round-robin)": "balance-rr",
              "fault-tolerance (active-backup)": "active-backup",
              "load balancing (xor)": "balance-xor",
              "fault-tolerance (broadcast)": "broadcast",
              "IEEE 802.3ad Dynamic link aggregation": "802.3ad",
              "transmit load balancing": "balance-tlb",
              "adaptive load balancing": "balance-alb"}


def parse_proc_bonding(text: str) -> dict[str, Any]:
    """/proc/net/bonding/BOND -> the ``captured.bonding`` entry of that bond."""
    bond: dict[str, Any] = {}
    ports: dict[str, dict[str, Any]] = {}
    port: dict[str, Any] | None = None
    partner = False
    for raw in text.splitlines():
        key, sep, value = raw.partition(":")
        if not sep:
            if raw.strip().startswith("details partner"):
                partner = True
            continue
        key, value = key.strip(), value.strip()
        if key in ("Slave Interface", "Port Interface"):
            port = ports.setdefault(value, {})
            partner = False
            continue
        if key.startswith("details actor"):
            partner = False
            continue
        if key.startswith("details partner"):
            partner = True
            continue
        target = port if port is not None else bond
        if key == "Bonding Mode":
            mode = value.split(" (fail_over_mac")[0].strip()
            bond["mode"] = BOND_MODES.get(mode, mode)
            if "fail_over_mac" in value:
                bond["fail_over_mac"] = value.rsplit(" ", 1)[-1].rstrip(")")
        elif key in ("Currently Active Slave", "Currently Active Port"):
            bond["active"] = None if value == "None" else value
        elif key in ("Primary Slave", "Primary Port"):
            name = value.split(" (")[0]
            bond["primary"] = None if name == "None" else name
        elif key == "MII Status":
            target["mii-status"] = value
        elif key == "MII Polling Interval (ms)":
            bond["miimon"] = to_int(value)
        elif key == "Up Delay (ms)":
            bond["updelay"] = to_int(value)
        elif key == "Down Delay (ms)":
            bond["downdelay"] = to_int(value)
        elif key == "ARP Polling Interval (ms)":
            bond["arp_interval"] = to_int(value)
        elif key.startswith("ARP IP target"):
            bond["arp_ip_target"] = value.replace(" ", "")
        elif key == "Transmit Hash Policy":
            bond["xmit_hash_policy"] = value.split(" (")[0]
        elif key == "LACP rate" and port is None:
            bond["lacp_rate"] = value
        elif key == "Link Failure Count" and port is not None:
            port["link-failure-count"] = to_int(value)
        elif key == "Permanent HW addr" and port is not None:
            port["perm-hwaddr"] = norm_mac(value) or value
        elif key == "Aggregator ID":
            target["aggregator-id"] = to_int(value)
        elif key == "system mac address" and port is not None:
            port["partner-system" if partner else "actor-system"] = norm_mac(value) or value
        elif key == "Partner Mac Address" and port is None:
            bond["partner-mac"] = norm_mac(value) or value
        elif key == "Number of ports" and port is None:
            bond["aggregator-ports"] = to_int(value)
    if ports:
        bond["ports"] = ports
    return bond


@dataclass
class OvsPort:
    name: str
    tag: int | None = None
    trunks: list[int] = field(default_factory=list)
    interfaces: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


@dataclass
class OvsBridgeState:
    name: str
    line: int
    fail_mode: str | None = None
    ports: list[OvsPort] = field(default_factory=list)


def parse_ovs_show(text: str) -> list[OvsBridgeState]:
    """``ovs-vsctl show`` -> bridges with their ports and interfaces."""
    bridges: list[OvsBridgeState] = []
    bridge: OvsBridgeState | None = None
    port: OvsPort | None = None
    iface: tuple[str, str, dict[str, str]] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        words = raw.strip().split(None, 1)
        if not words:
            continue
        head, rest = words[0], (words[1] if len(words) > 1 else "").strip()
        name = rest.strip('"')
        if head == "Bridge":
            bridge = OvsBridgeState(name, number)
            bridges.append(bridge)
            port = None
            iface = None
        elif head == "Port" and bridge is not None:
            port = OvsPort(name)
            bridge.ports.append(port)
            iface = None
        elif head == "Interface" and port is not None:
            iface = (name, "", {})
            port.interfaces.append(iface)
        elif head == "tag:" and port is not None:
            port.tag = to_int(rest)
        elif head == "trunks:" and port is not None:
            port.trunks = [int(v) for v in re.findall(r"\d+", rest)]
        elif head == "type:" and port is not None and iface is not None:
            updated = (iface[0], rest, iface[2])
            port.interfaces[-1] = updated
            iface = updated
        elif head == "options:" and port is not None and iface is not None:
            options = dict(re.findall(r"([\w-]+)=\"?([^,\"}]*)\"?", rest))
            updated = (iface[0], iface[1], options)
            port.interfaces[-1] = updated
            iface = updated
        elif head == "fail_mode:" and bridge is not None:
            bridge.fail_mode = rest
    return bridges
