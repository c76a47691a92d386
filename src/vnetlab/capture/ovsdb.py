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


def ovs_topology(tables: dict[str, list[dict[str, Any]]], links: dict[str, dict[str, Any]],
                 kinds: dict[str, Any], note: Note
                 ) -> Iterator[tuple[dict[str, Any], dict[str, tuple[str, Any]]]]:
    """Each OVS bridge and its internal/patch interfaces, with the taps on it
    (tap -> (bridge, its port's vlan)), from the three tables."""
    ports = {str(p.get("_uuid")): p for p in tables.get("Port", [])}
    ifaces = {str(i.get("_uuid")): i for i in tables.get("Interface", [])}
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
        for port_id in _set(bridge.get("ports")):
            port = ports.get(str(port_id))
            if port is None:
                continue
            members = [ifaces[str(i)] for i in _set(port.get("interfaces")) if str(i) in ifaces]
            if len(members) != 1:
                note(f"{name}: port {port.get('name')} has {len(members)} interfaces (an OVS "
                     "bond): not modelled, left out")
                continue
            iface = members[0]
            iname, itype = str(iface.get("name")), str(iface.get("type") or "")
            if iname == name:
                continue                        # the LOCAL port: the bridge itself
            vlan = port_vlan(port)
            if iname in links and kinds.get(iname) == "tun":
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
        if not options:
            del entry["bridge"]["options"]
        yield entry, taps
        for item in extra:
            yield item, {}


_FDB_ROW = re.compile(r"^\s*(\S+)\s+(\d+)\s+((?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2})\s+(\S+)\s*$")


def fdb_rows(text: str, bridge: str, tables: dict[str, list[dict[str, Any]]]
             ) -> list[dict[str, Any]]:
    """``ovs-appctl fdb/show BR`` -> ``captured.fdb`` entries (port names, not numbers)."""
    names = {str(i.get("ofport")): str(i.get("name")) for i in tables.get("Interface", [])
             if isinstance(i.get("ofport"), int)}
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
