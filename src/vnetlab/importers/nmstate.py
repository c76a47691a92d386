"""``nmstatectl show`` output (YAML, or JSON with ``--json``) -> one host.

vnetlab's host schema *is* nmstate's (a subset), so most of the work is keeping what
the spec models: ``nmstatectl show`` lists every interface of the host with every
option the kernel reports (bridge timers, multicast knobs, DHCP client ids, route
metrics...). Mirrors nmstate's own model (``rust/src/lib/ifaces/``):

* interfaces of a type vnetlab models are kept (ethernet, linux-bridge, bond, team,
  vlan, ovs-bridge, ovs-interface); ``loopback`` is left out silently, any other type
  (``dummy``, ``veth``, ``tun``: libvirt's taps, import the VM's XML instead) with a note,
  and every reference to a left-out interface (a bridge or bond port, a VLAN's base)
  goes with it;
* an ethernet port of a bond or team shows the aggregate's MAC in ``mac-address`` (the
  driver overwrote it, BD3/T4): its ``permanent-mac-address`` is the NIC's own and is
  what vnetlab needs, since the simulation does that overwrite itself;
* ``state: ignore`` (unmanaged by NetworkManager) and ``unknown`` say nothing about the
  link: the key is dropped with a note; ``state: absent`` interfaces are left out;
* with ``ipv4.dhcp: true`` the listed addresses are the lease: they are dropped
  (vnetlab runs the DHCP client) with a note; ``ipv6``, ``dns-resolver``,
  ``route-rules`` and ``ovs-db`` are not modelled;
* ``routes.config`` IPv4 entries are kept; ``routes.running`` says what the kernel has
  now and is left out.

Every other key the spec does not model is one note per key path (``interfaces[*]...``,
with the count), so that a big host gives a readable list.
"""

from __future__ import annotations

import io
import json
import os
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from vnetlab.importers.base import (
    MAX_NMSTATE_BYTES,
    ImportFailure,
    Unparsed,
    decode_text,
    norm_mac,
    read_capped,
)
from vnetlab.importers.prune import dotted, prune
from vnetlab.topology.spec import HostSpec

MODELLED = ("ethernet", "linux-bridge", "bond", "team", "vlan", "ovs-bridge", "ovs-interface")
MAX_NODES = 200_000


def _count(node: Any) -> int:
    count, stack = 0, [node]
    while stack and count <= MAX_NODES:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def load_text(text: str, file: str) -> Any:
    """YAML 1.2 (a JSON document is YAML too) with positions; alias bombs refused."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = True
    try:
        data = yaml.load(io.StringIO(text))
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
        raise ImportFailure(file, line, "", f"not YAML/JSON: {problem}") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ImportFailure(file, 0, "", f"not YAML/JSON: {exc}") from None
    if _count(data) > MAX_NODES:
        raise ImportFailure(file, 0, "", f"more than {MAX_NODES} nodes once aliases are "
                            "expanded (an alias bomb?)")
    return data


def _line(node: Any, key: Any, default: int) -> int:
    try:
        if isinstance(node, CommentedMap) and key in node:
            return int(node.lc.key(key)[0]) + 1
        if isinstance(node, CommentedSeq) and isinstance(key, int):
            return int(node.lc.item(key)[0]) + 1
        if isinstance(node, CommentedMap | CommentedSeq):
            return int(node.lc.line) + 1
    except (KeyError, IndexError, AttributeError, TypeError):
        pass
    return default


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


class Notes:
    """Notes grouped by key path (list items by ``[*]``), with a count."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.groups: dict[tuple[str, str], list[int]] = {}

    def add(self, path: str, line: int, why: str) -> None:
        self.groups.setdefault((path, why), []).append(line)

    def out(self) -> list[Unparsed]:
        notes = []
        for (path, why), lines in self.groups.items():
            extra = f" ({len(lines)} places)" if len(lines) > 1 else ""
            notes.append(Unparsed(self.file, min(lines), path, why + extra))
        return sorted(notes, key=lambda n: (n.line, n.text))


def parse(data: Any, file: str) -> tuple[dict[str, Any], list[Unparsed]]:
    """An nmstate document -> (the host entry, notes)."""
    notes = Notes(file)
    if not isinstance(data, dict) or "interfaces" not in data:
        raise ImportFailure(file, 1, "interfaces", "not nmstate output: no 'interfaces:' list")
    for key in data:
        if key not in ("interfaces", "routes"):
            notes.add(str(key), _line(data, key, 1), "not modelled by vnetlab")
    raw = data["interfaces"]
    if not isinstance(raw, list):
        raise ImportFailure(file, _line(data, "interfaces", 1), "interfaces", "not a list")
    kept: list[dict[str, Any]] = []
    gone: set[str] = set()
    for index, item in enumerate(raw):
        line = _line(raw, index, 1)
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            notes.add(f"interfaces[{index}]", line, "not an interface (no name): left out")
            continue
        kind, name = item.get("type"), item["name"]
        if kind == "loopback":
            gone.add(name)
            continue
        if kind not in MODELLED or item.get("state") == "absent":
            why = "state absent" if item.get("state") == "absent" else \
                f"type {kind} is not modelled by vnetlab" + (
                    " (a VM's tap: import the VM's libvirt XML)" if kind == "tun" else "")
            notes.add(f"interfaces[{name}]", line, why + ": left out")
            gone.add(name)
            continue
        kept.append(_interface(item, line, notes))

    def drop(path: tuple[Any, ...], why: str) -> None:
        shown = re.sub(r"\[[^\]]*\]", "[*]", dotted(path))
        notes.add(shown, _find_line(raw, path), why)

    interfaces = prune([_plain(i) for i in kept], HostSpec.model_fields["interfaces"].annotation,
                       ("interfaces",), drop)
    for iface in interfaces:
        _tidy(iface, _find_line(raw, ("interfaces", f"[{iface.get('name')}]")), notes)
    _forget(interfaces, gone, notes, raw)
    host: dict[str, Any] = {"interfaces": interfaces}
    routes = _routes(data.get("routes"), notes)
    if routes:
        host["routes"] = {"config": routes}
    return host, notes.out()


def _find_line(raw: Any, path: tuple[Any, ...]) -> int:
    """The line of ``path`` (``interfaces``, NAME, key, ...) in the original document."""
    node: Any = raw
    line = 1
    for part in path[1:]:
        if isinstance(node, list):
            label = str(part)[1:-1]
            found = next((i for i, item in enumerate(node)
                          if isinstance(item, dict) and item.get("name") == label), None)
            if found is None and label.isdigit() and int(label) < len(node):
                found = int(label)
            if found is None:
                break
            line = _line(node, found, line)
            node = node[found]
        elif isinstance(node, dict) and part in node:
            line = _line(node, part, line)
            node = node[part]
        else:
            break
    return line


def _interface(item: dict[str, Any], line: int, notes: Notes) -> dict[str, Any]:
    out = dict(item)
    state = out.get("state")
    if state not in (None, "up", "down"):
        notes.add(f"interfaces[*].state {state}", line, "says nothing about the link "
                  "(not managed by NetworkManager): dropped")
        del out["state"]
    permanent = out.pop("permanent-mac-address", None)
    if out.get("type") == "ethernet" and isinstance(permanent, str) and norm_mac(permanent):
        if norm_mac(str(out.get("mac-address", ""))) != norm_mac(permanent):
            notes.add("interfaces[*].mac-address", line, "an aggregate's MAC on its port: "
                      "the NIC's permanent-mac-address is imported instead")
        out["mac-address"] = norm_mac(permanent)
    for key in ("mac-address",):
        if isinstance(out.get(key), str) and norm_mac(out[key]):
            out[key] = norm_mac(out[key])
    ipv4 = out.get("ipv4")
    if isinstance(ipv4, dict):
        ipv4 = dict(ipv4)
        if ipv4.get("dhcp") and ipv4.get("address"):
            notes.add("interfaces[*].ipv4.address", line, "the DHCP lease (vnetlab runs the "
                      "client instead): dropped")
            ipv4.pop("address")
        if ipv4.get("enabled") is False:
            ipv4 = {"enabled": False}
        if isinstance(ipv4.get("address"), list):
            ipv4["address"] = [{k: v for k, v in a.items() if k in ("ip", "prefix-length")}
                               for a in ipv4["address"] if isinstance(a, dict)]
        out["ipv4"] = ipv4
    bridge = out.get("bridge")
    if isinstance(bridge, dict) and isinstance(bridge.get("port"), list):
        for port in bridge["port"]:
            if isinstance(port, dict) and port.get("vlan") in ({}, None):
                port.pop("vlan", None)
    if isinstance(bridge, dict) and isinstance(bridge.get("options"), dict):
        stp = bridge["options"].get("stp")
        if isinstance(stp, bool):          # OVS: stp: false
            bridge["options"]["stp"] = stp
    agg = out.get("link-aggregation")
    if isinstance(agg, dict) and isinstance(agg.get("options"), dict):
        agg = dict(agg)
        agg["options"] = _bond_options(agg["options"], line, notes)
        out["link-aggregation"] = agg
    return out


# keys the spec accepts for nmstate's sake and does not model (the loader would note them)
_ACCEPTED = ("ipv6", "lldp", "ethtool", "controller", "accept-all-mac-addresses", "ethernet",
             "profile-name", "description")
# values that are the kernel's (and vnetlab's) defaults: left out of the document silently
_BRIDGE_DEFAULTS = {"group-forward-mask": 0, "group-fwd-mask": 0, "vlan-protocol": "802.1q",
                    "mac-ageing-time": 300}
_STP_DEFAULTS = {"forward-delay": 15, "hello-time": 2, "max-age": 20, "priority": 32768}
_PORT_DEFAULTS = {"stp-hairpin-mode": False, "stp-priority": 32, "stp-path-cost": 100}


def _tidy(iface: dict[str, Any], line: int, notes: Notes) -> None:
    """Leave out what says nothing to vnetlab: keys it accepts and does not model (one
    note per key), and values equal to the defaults (``state: up``, ``mtu: 1500``, a
    bond option at the driver's default, the bridge's default timers)."""
    for key in _ACCEPTED:
        if key in iface:
            notes.add(f"interfaces[*].{key}", line, "accepted by vnetlab, not modelled: "
                      "left out")
            del iface[key]
    if iface.get("state") == "up":
        del iface["state"]
    if iface.get("mtu") == 1500:
        del iface["mtu"]
    if iface.get("type") in ("bond", "team", "linux-bridge") and "mac-address" in iface:
        notes.add("interfaces[*].mac-address", line, "a bridge's, bond's or team's MAC as the "
                  "kernel chose it (lowest or first port, B2d/BD3/T4): left to vnetlab")
        del iface["mac-address"]
    ipv4 = iface.get("ipv4")
    if isinstance(ipv4, dict) and ipv4.get("dhcp") is False:
        del ipv4["dhcp"]
    bridge = iface.get("bridge")
    if isinstance(bridge, dict):
        options = bridge.get("options")
        if isinstance(options, dict):
            for key, default in _BRIDGE_DEFAULTS.items():
                if options.get(key) == default:
                    del options[key]
            stp = options.get("stp")
            if isinstance(stp, dict):
                for key, default in _STP_DEFAULTS.items():
                    if stp.get(key) == default:
                        del stp[key]
        for port in bridge.get("port", []) if isinstance(bridge.get("port"), list) else []:
            if isinstance(port, dict):
                for key, default in _PORT_DEFAULTS.items():
                    if port.get(key) == default:
                        del port[key]
    agg = iface.get("link-aggregation")
    if isinstance(agg, dict) and isinstance(agg.get("options"), dict):
        from pydantic import ValidationError

        from vnetlab.topology.spec import BondOptions

        defaults = BondOptions()
        for key, value in list(agg["options"].items()):
            try:
                parsed = BondOptions.model_validate({key: value})
            except ValidationError:
                continue
            if key in BondOptions.model_fields and getattr(parsed, key) == getattr(defaults, key):
                del agg["options"][key]
        if not agg["options"]:
            del agg["options"]


def _bond_options(options: dict[str, Any], line: int, notes: Notes) -> dict[str, Any]:
    """nmstate lists every option with its current value; keep the ones that mean
    something: ``all_slaves_active`` as the driver's names (dropped/delivered), an
    unset ``ad_actor_system`` (all zero) and empty targets left out."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key == "all_slaves_active" and value in ("dropped", "delivered"):
            value = 1 if value == "delivered" else 0
        if key == "ad_actor_system" and isinstance(value, str) and norm_mac(value) == \
                "00:00:00:00:00:00":
            continue
        if key in ("arp_ip_target", "ns_ip6_target") and value in ("", [], None):
            continue
        if value is None:
            continue
        out[key] = value
    return out


def _forget(interfaces: list[dict[str, Any]], gone: set[str], notes: Notes, raw: Any) -> None:
    """Remove references to interfaces that were left out."""
    names = {i.get("name") for i in interfaces}
    for iface in list(interfaces):
        line = _find_line(raw, ("interfaces", f"[{iface.get('name')}]"))
        bridge = iface.get("bridge")
        if isinstance(bridge, dict) and isinstance(bridge.get("port"), list):
            bridge["port"] = [p for p in bridge["port"] if not (
                isinstance(p, dict) and p.get("name") not in names and
                _gone(notes, iface, p.get("name"), gone, line))]
        agg = iface.get("link-aggregation")
        if isinstance(agg, dict):
            for key in ("port", "ports", "slaves"):
                if isinstance(agg.get(key), list):
                    agg[key] = [p for p in agg[key] if not (
                        (p.get("name") if isinstance(p, dict) else p) not in names and
                        _gone(notes, iface, p, gone, line))]
        team = iface.get("team")
        if isinstance(team, dict):
            for key in ("ports", "port"):
                if isinstance(team.get(key), list):
                    team[key] = [p for p in team[key] if not (
                        isinstance(p, dict) and p.get("name") not in names and
                        _gone(notes, iface, p.get("name"), gone, line))]
        vlan = iface.get("vlan")
        if iface.get("type") == "vlan" and isinstance(vlan, dict) and \
                vlan.get("base-iface") not in names:
            notes.add(f"interfaces[{iface.get('name')}]", line,
                      f"its base {vlan.get('base-iface')} was left out: left out too")
            interfaces.remove(iface)


def _gone(notes: Notes, iface: dict[str, Any], port: Any, gone: set[str], line: int) -> bool:
    name = port.get("name") if isinstance(port, dict) else port
    why = "a port that was left out (its type is not modelled)" if name in gone else \
        "no interface of that name in the file"
    notes.add(f"interfaces[{iface.get('name')}] port {name}", line, why + ": left out")
    return True


def _routes(routes: Any, notes: Notes) -> list[dict[str, Any]]:
    if not isinstance(routes, dict):
        return []
    out = []
    config = routes.get("config")
    for index, route in enumerate(config if isinstance(config, list) else []):
        line = _line(config, index, 1)
        if not isinstance(route, dict):
            continue
        destination, hop = route.get("destination", ""), route.get("next-hop-address")
        if ":" in str(destination) or not hop:
            notes.add("routes.config[*]", line, "IPv6 routes and routes without a next hop "
                      "are not modelled: left out")
            continue
        entry = {"destination": str(destination), "next-hop-address": str(hop)}
        if route.get("next-hop-interface"):
            entry["next-hop-interface"] = str(route["next-hop-interface"])
        out.append(entry)
    if "running" in routes:
        notes.add("routes.running", _line(routes, "running", 1), "the kernel's current routes: not imported "
                  "(routes.config is)")
    return out


def read(path: str, host: str | None) -> tuple[str, dict[str, Any], list[Unparsed]]:
    """(host name, host entry, notes) of an nmstate file: the host is ``host`` or the
    file's stem."""
    text = decode_text(read_capped(path, MAX_NMSTATE_BYTES), path)
    entry, notes = parse(load_text(text, path), path)
    name = host or os.path.splitext(os.path.basename(path))[0] or "host"
    return name, entry, notes
