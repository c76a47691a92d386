"""Open vSwitch as ``ovs-vsctl --format=json list Bridge|Port|Interface`` and ``ovs-appctl
fdb/show BR`` print it -> ``ovs-bridge`` / ``ovs-interface`` entries and FDB rows.

``ovs-vsctl --format=json`` writes ``{"headings": [...], "data": [[...], ...]}`` with
OVSDB's JSON encoding (RFC 7047 5.1): an atom, ``["uuid", U]``, ``["set", [..]]`` or
``["map", [[k, v], ..]]``. The Port columns ``tag``, ``trunks`` and ``vlan_mode`` become
nmstate's OVS port ``vlan:`` as docs/topology.md describes (mode access/trunk/native-*,
``trunk-tags``); Interface ``type`` ``internal`` and ``patch`` (``options:peer``) become
``ovs-interface`` entries; a Port with several Interfaces is an OVS bond, not modelled.
``fdb/show`` (``mac_learning`` in ofproto-dpif.c: `` port  VLAN  MAC  Age``) names ports by
OpenFlow number: Interface ``ofport`` maps them back, ``LOCAL`` is the bridge.
``ovs-ofctl --no-stats --names dump-flows BR`` (``ofputil_flow_stats_format``: ``cookie=``
when not 0, ``table=`` when not 0, the timeouts, then ``match_format``'s ``priority=..``
and ``actions=..``; port names quoted) -> the bridge's ``flows:`` in add-flow syntax,
the ones the OVS model runs (table 0, its match fields and actions); the default
``priority=0 actions=NORMAL`` is implied by the model and not written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

Note = Callable[[str], None]


def _value(cell: Any) -> Any:
    """One OVSDB-encoded cell -> Python (uuid -> str, set -> list, map -> dict)."""
    if isinstance(cell, list) and len(cell) == 2 and isinstance(cell[0], str):
        kind, body = cell
        if kind == "uuid" or kind == "named-uuid":
            return str(body)
        if kind == "set" and isinstance(body, list):
            return [_value(v) for v in body]
        if kind == "map" and isinstance(body, list):
            return {str(_value(k)): _value(v) for k, v in body
                    if isinstance(k, str | int | list)}
    return cell


def rows(text: str) -> list[dict[str, Any]]:
    """The rows of one ``ovs-vsctl --format=json list TABLE``; ValueError if malformed."""
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("headings"), list) \
            or not isinstance(data.get("data"), list):
        raise ValueError("not ovs-vsctl --format=json output")
    heads = [str(h) for h in data["headings"]]
    return [{h: _value(c) for h, c in zip(heads, row, strict=False)}
            for row in data["data"] if isinstance(row, list)]


def _set(value: Any) -> list[Any]:
    """A set column: an empty set is [], one element may come as the atom itself."""
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _one(value: Any) -> Any:
    items = _set(value)
    return items[0] if items else None


def port_vlan(port: dict[str, Any]) -> dict[str, Any] | None:
    """Port ``tag``/``trunks``/``vlan_mode`` -> an ``OvsPortVlanSpec`` document."""
    tag = _one(port.get("tag"))
    trunks = [t for t in _set(port.get("trunks")) if isinstance(t, int)]
    mode = _one(port.get("vlan_mode"))
    if tag is None and not trunks and mode is None:
        return None
    vlan: dict[str, Any] = {}
    if isinstance(mode, str):
        vlan["mode"] = mode
    if isinstance(tag, int):
        vlan["tag"] = tag
    if trunks:
        vlan["trunk-tags"] = [{"id": t} for t in sorted(trunks)]
        vlan.setdefault("mode", "trunk")
    return vlan


Rows = dict[str, list[dict[str, Any]]]


def port_members(tables: Rows, bridge: dict[str, Any]
                 ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(Port row, its Interface rows) of each port of the Bridge row ``bridge``, in the
    row's order (more than one Interface: an OVS bond)."""
    ports = {str(p.get("_uuid")): p for p in tables.get("Port", [])}
    ifaces = {str(i.get("_uuid")): i for i in tables.get("Interface", [])}
    out = []
    for port_id in _set(bridge.get("ports")):
        port = ports.get(str(port_id))
        if port is not None:
            out.append((port, [ifaces[str(i)] for i in _set(port.get("interfaces"))
                               if str(i) in ifaces]))
    return out


def bridge_ports(tables: Rows, name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(Port row, Interface row) of each single-interface port of bridge ``name``."""
    return [(port, members[0]) for row in tables.get("Bridge", []) if row.get("name") == name
            for port, members in port_members(tables, row) if len(members) == 1]


def own_devices(tables: dict[str, list[dict[str, Any]]]) -> set[str]:
    """The kernel devices Open vSwitch itself made: each bridge's LOCAL port and the
    internal ports, and the userspace datapath's ``ovs-netdev``. With
    ``datapath_type=netdev`` they are taps (``netdev-linux``'s tap class), not VMs'."""
    names = {str(i.get("name")) for i in tables.get("Interface", [])
             if i.get("type") == "internal"}
    names |= {str(b.get("name")) for b in tables.get("Bridge", [])}
    if any(b.get("datapath_type") == "netdev" for b in tables.get("Bridge", [])):
        names.add("ovs-netdev")
    return names


def ovs_topology(tables: dict[str, list[dict[str, Any]]], links: dict[str, dict[str, Any]],
                 kinds: dict[str, Any], note: Note, flow_texts: dict[str, str] | None = None
                 ) -> Iterator[tuple[dict[str, Any], dict[str, tuple[str, Any]]]]:
    """Each OVS bridge and its internal/patch interfaces, with the taps on it
    (tap -> (bridge, its port's vlan)), from the three tables; its flows from
    ``flow_texts`` (bridge -> ``dump-flows`` text)."""
    for bridge in sorted(tables.get("Bridge", []), key=lambda b: str(b.get("name"))):
        name = bridge.get("name")
        if not isinstance(name, str):
            continue
        options: dict[str, Any] = {}
        fail_mode = _one(bridge.get("fail_mode"))
        if fail_mode in ("standalone", "secure"):
            options["fail-mode"] = fail_mode
        aging = (bridge.get("other_config") or {}).get("mac-aging-time") \
            if isinstance(bridge.get("other_config"), dict) else None
        if isinstance(aging, str) and aging.isdigit():
            options["mac-aging-time"] = int(aging)
        entry: dict[str, Any] = {"name": name, "type": "ovs-bridge",
                                 "bridge": {"options": options, "port": []}}
        extra: list[dict[str, Any]] = []
        taps: dict[str, tuple[str, Any]] = {}
        for port, members in port_members(tables, bridge):
            if len(members) != 1:
                note(f"{name}: port {port.get('name')} has {len(members)} interfaces (an OVS "
                     "bond): not modelled, left out")
                continue
            iface = members[0]
            iname, itype = str(iface.get("name")), str(iface.get("type") or "")
            if iname == name:
                continue                        # the LOCAL port: the bridge itself
            vlan = port_vlan(port)
            if itype in ("", "system", "tap") and iname in links and kinds.get(iname) == "tun":
                taps[iname] = (name, vlan)
                continue
            if itype == "patch":
                peer = (iface.get("options") or {}).get("peer") \
                    if isinstance(iface.get("options"), dict) else None
                if not isinstance(peer, str):
                    note(f"{name}: patch port {iname} without a peer: left out")
                    continue
                extra.append({"name": iname, "type": "ovs-interface", "patch": {"peer": peer}})
            elif itype == "internal":
                extra.append({"name": iname, "type": "ovs-interface"})
            elif itype not in ("", "system"):
                note(f"{name}: interface {iname} of type {itype} is not modelled: left out")
                continue
            elif iname not in links or kinds.get(iname) not in (None, "veth"):
                note(f"{name}: port {iname} is not an ethernet device of this capture: left out")
                continue
            port_entry: dict[str, Any] = {"name": iname}
            if vlan:
                port_entry["vlan"] = vlan
            entry["bridge"]["port"].append(port_entry)
        if name in (flow_texts or {}):
            rules = flows((flow_texts or {})[name], name, fail_mode == "secure", note)
            if rules:
                entry["bridge"]["flows"] = rules
        if not options:
            del entry["bridge"]["options"]
        yield entry, taps
        for item in extra:
            yield item, {}


_DEFAULT_FLOW = "priority=0 actions=NORMAL"
MAX_FLOWS = 10_000          # per bridge written to the document (a hostile dump is bounded)
# what ofputil_flow_stats_format prints besides the match and the actions
_FLOW_PROPERTIES = {"importance", "send_flow_rem", "check_overlap", "reset_counts",
                    "no_packet_counts", "no_byte_counts"}
_FLOW_TIMEOUTS = {"idle_timeout", "hard_timeout"}
_FLOW_HEADER = re.compile(r"^(?:NXST|OFPST)_FLOW reply|^\s*$")


def flows(text: str, bridge: str, secure: bool, note: Note) -> list[str]:
    """``ovs-ofctl --no-stats --names dump-flows BRIDGE`` -> the bridge's ``flows:`` (the
    ones ``devices.ovs.parse_flow`` runs; every other one is noted and left out)."""
    from vnetlab.devices.ovs import FlowError, parse_flow

    out: list[str] = []
    default = False
    for line in text.splitlines():
        if _FLOW_HEADER.match(line):
            continue
        if len(out) >= MAX_FLOWS:
            note(f"{bridge}: more than {MAX_FLOWS} flows the model runs: the rest left out")
            break
        flow = line.strip()
        if flow == _DEFAULT_FLOW:
            default = True
            continue
        head, sep, actions = flow.rpartition(" actions=")
        if not sep:
            note(f"{bridge}: flow '{flow[:200]}' has no actions: left out")
            continue
        # port names come quoted (ofputil_format_port with a port map); the cookie and
        # table 0 say nothing the model uses
        fields = [f.strip().replace('"', "") for f in head.replace(", ", ",").split(",")]
        fields = [f for f in fields if f and not f.startswith("cookie=") and f != "table=0"
                  and f.partition("=")[0] not in _FLOW_PROPERTIES]
        timeouts = [f for f in fields if f.partition("=")[0] in _FLOW_TIMEOUTS]
        if timeouts:
            fields = [f for f in fields if f not in timeouts]
            note(f"{bridge}: flow '{flow[:200]}': written without {', '.join(timeouts)} "
                 "(flow expiry is not modelled: the flow stays)")
        text_flow = ",".join([*fields, "actions=" + actions.replace('"', "")])
        try:
            parse_flow(text_flow)
        except FlowError as exc:
            note(f"{bridge}: {exc}: left out (the captured bridge may forward what this "
                 "flow would not)")
            continue
        out.append(text_flow)
    if not default and not secure:
        note(f"{bridge}: no 'priority=0 actions=NORMAL' flow (deleted): the model keeps it "
             "(fail-mode standalone)")
    return out


_FDB_ROW = re.compile(r"^\s*(\S+)\s+(\d+)\s+((?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2})\s+(\S+)\s*$")


def fdb_rows(text: str, bridge: str, tables: dict[str, list[dict[str, Any]]]
             ) -> list[dict[str, Any]]:
    """``ovs-appctl fdb/show BR`` -> ``captured.fdb`` entries (port names, not numbers).
    OpenFlow port numbers are per bridge: only ``bridge``'s own interfaces map them."""
    names = {str(i.get("ofport")): str(i.get("name")) for row in tables.get("Bridge", [])
             if row.get("name") == bridge for _, members in port_members(tables, row)
             for i in members if isinstance(i.get("ofport"), int)}
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        match = _FDB_ROW.match(line)
        if match is None:
            continue
        port, vlan, mac, age = match.groups()
        entry: dict[str, Any] = {"bridge": bridge, "mac": mac.lower(),
                                 "port": bridge if port == "LOCAL" else names.get(port, port),
                                 "vlan": int(vlan), "flags": []}
        if age.isdigit():
            entry["age"] = int(age)
        elif age == "static":
            entry["flags"] = ["static"]
        out.append(entry)
    return out


def port_tag(port: dict[str, Any]) -> int | None:
    tag = _one(port.get("tag"))
    return tag if isinstance(tag, int) else None
