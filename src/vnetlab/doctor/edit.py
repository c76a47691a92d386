"""Editing a topology document (the plain dict a person writes), for fixes and the
prove harness. Keys are found under every spelling the spec accepts (``port`` or
``ports``, ``link-aggregation`` or ``bond``, kebab or snake case), so a fix applies
to the user's own file as written."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from vnetlab.net.addr import mac_str

Doc = dict[str, Any]


def plain_copy(doc: Any) -> Any:
    """A deep copy as plain dicts and lists (ruamel's commented containers dropped)."""
    if isinstance(doc, dict):
        return {str(k): plain_copy(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [plain_copy(v) for v in doc]
    return copy.copy(doc)


def key(node: dict[str, Any], *names: str) -> str:
    """The key ``node`` uses for the first of ``names`` (kebab or snake case), or the
    first name when none is present (what a new key is written as)."""
    for name in names:
        for spelled in (name, name.replace("-", "_")):
            if spelled in node:
                return spelled
    return names[0]


def sub(node: dict[str, Any], *names: str) -> dict[str, Any]:
    """The mapping under one of ``names``, created (empty) when absent or null."""
    name = key(node, *names)
    value = node.get(name)
    if not isinstance(value, dict):
        value = node[name] = {}
    return value


def interface(doc: Doc, host: str, name: str) -> dict[str, Any] | None:
    for iface in doc.get("hosts", {}).get(host, {}).get("interfaces", []) or []:
        if isinstance(iface, dict) and iface.get("name") == name:
            return iface
    return None


def port_names(ports: list[Any]) -> list[str]:
    return [p["name"] if isinstance(p, dict) else str(p) for p in ports]


def bridge_ports(iface: dict[str, Any]) -> list[Any]:
    bridge = sub(iface, "bridge")
    name = key(bridge, "port", "ports")
    ports = bridge.get(name)
    if not isinstance(ports, list):
        ports = bridge[name] = []
    return ports


def switch(doc: Doc, name: str) -> dict[str, Any] | None:
    found = doc.get("switches", {}).get(name)
    return found if isinstance(found, dict) else None


def set_lag(doc: Doc, switch_name: str, ports: list[str], mode: str) -> str:
    """Put ``ports`` of a switch into one LAG of ``mode`` (static | lacp), taking them
    out of any LAG they are in; returns the LAG's name."""
    sw = switch(doc, switch_name)
    assert sw is not None
    lags = sw.get("lags")
    if not isinstance(lags, list):
        lags = sw["lags"] = []
    names = {lag.get("name") for lag in lags if isinstance(lag, dict)}
    existing = next((lag for lag in lags if isinstance(lag, dict)
                     and set(lag.get("ports", [])) == set(ports)), None)
    for lag in list(lags):
        if isinstance(lag, dict) and lag is not existing:
            lag["ports"] = [p for p in lag.get("ports", []) if p not in ports]
            if not lag["ports"]:
                lags.remove(lag)
    if existing is not None:
        for k in ("lacp-mode", "lacp-rate", "lacp-fallback", "system-priority"):
            existing.pop(k, None)
        existing["mode"] = mode
        return str(existing["name"])
    number = 1
    while f"po{number}" in names:
        number += 1
    lags.append({"name": f"po{number}", "ports": list(ports), "mode": mode})
    return f"po{number}"


def remove_lag(doc: Doc, switch_name: str, ports: list[str]) -> None:
    sw = switch(doc, switch_name)
    assert sw is not None
    lags = sw.get("lags") or []
    for lag in list(lags):
        if isinstance(lag, dict):
            lag["ports"] = [p for p in lag.get("ports", []) if p not in ports]
            if not lag["ports"]:
                lags.remove(lag)
                pc = sw.get(key(sw, "port-config"))
                if isinstance(pc, dict):
                    pc.pop(lag.get("name"), None)


def fresh_mac(used: set[int], seed: str) -> str:
    """A libvirt-style guest MAC (52:54:00:xx:xx:xx) derived from ``seed``, not in
    ``used``: deterministic, so a proof repeats."""
    counter = 0
    while True:
        digest = hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        mac = 0x5254_0000_0000 | int.from_bytes(digest[:3], "big")
        if mac not in used:
            used.add(mac)
            return mac_str(mac)
        counter += 1
