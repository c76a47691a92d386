"""The ``captured:`` block: what the kernel held when it was read (spec ``CapturedSpec``,
docs/capture.md). The doctor reads it as evidence; the simulation never does.

* ``fdb``: ``bridge -j -s fdb show`` entries that belong to a bridge (``master`` set:
  ``br_fdb_dump``'s entries; a port's own RX filter entries, ``self`` without
  ``master``, are not FDB entries), with the state word (``permanent``: a local
  entry, B2c; ``static``: added by hand) and iproute2's flags; ``age`` is ``updated``
  (seconds since the entry was last refreshed by a frame from that MAC, B7.4/B8) for
  dynamic entries only. OVS bridges' tables come from ``ovs-appctl fdb/show``;
* ``ports``: each bridge port's STP state (``bridge link show``, B3.3, B18);
* ``neigh``: the host's IPv4 neighbour entries (``ip neigh show``, section 10);
* ``sysctl``: ``ip_forward``, the neighbour defaults and, with br_netfilter loaded, its
  ``bridge-nf-call-*`` switches (B22), as read from ``/proc/sys/net``;
* ``bonding``: ``/proc/net/bonding/BOND`` per bond (importers.runtime's reader, shared
  with the sosreport import); ``teamd``: ``teamdctl TEAM state dump`` per team;
* ``tool``, ``time``, ``missing-tools``, ``notes``, and ``raw`` (``--raw``: each
  command's output, at most ``RAW_MAX`` characters each).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from vnetlab.capture.convert import Snapshot, _int, norm

RAW_MAX = 1024 * 1024


def fdb_entries(snap: Snapshot) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry in snap.fdb:
        bridge, port, mac = entry.get("master"), entry.get("ifname"), norm(entry.get("mac"))
        if not isinstance(bridge, str) or not isinstance(port, str) or mac is None:
            continue
        vlan = _int(entry.get("vlan"))
        state = entry.get("state")
        flags = [state] if isinstance(state, str) and state else []
        flags += [f for f in entry.get("flags") or [] if isinstance(f, str) and f not in flags]
        row: dict[str, Any] = {"bridge": bridge, "mac": mac, "port": port,
                               "vlan": vlan if vlan else None, "flags": flags}
        updated = entry.get("updated")
        if state in ("", None) and isinstance(updated, int | float) and updated >= 0:
            row["age"] = updated
        else:
            row["age"] = None
        out.append(row)
    for bridge, text in sorted(snap.ovs_fdb.items()):
        from vnetlab.capture.ovsdb import fdb_rows

        out += fdb_rows(text, bridge, snap.ovs)
    return out


def port_states(snap: Snapshot) -> list[dict[str, Any]]:
    return [{"bridge": b["master"], "port": b["ifname"], "state": str(b["state"]).lower()}
            for b in snap.bridge_links
            if isinstance(b.get("master"), str) and isinstance(b.get("ifname"), str)
            and isinstance(b.get("state"), str)]


def neighbours(snap: Snapshot) -> list[dict[str, Any]]:
    out = []
    for entry in snap.neigh:
        dst, dev = entry.get("dst"), entry.get("dev")
        if not isinstance(dst, str) or "." not in dst or not isinstance(dev, str):
            continue
        row: dict[str, Any] = {"dev": dev, "ip": dst}
        mac = norm(entry.get("lladdr"))
        if mac:
            row["mac"] = mac
        state = entry.get("state")
        row["state"] = [str(s).lower() for s in state] if isinstance(state, list) else []
        out.append(row)
    return out


# the kernel's neighbour defaults (neigh_table arp_tbl): per-device values equal to these
# are not repeated for every tap
NEIGH_DEFAULTS = {"base_reachable_time_ms": 30000, "retrans_time_ms": 1000,
                  "delay_first_probe_time": 5, "gc_stale_time": 60, "ucast_solicit": 3,
                  "mcast_solicit": 3}


def sysctls(snap: Snapshot) -> dict[str, int | str]:
    out: dict[str, int | str] = {}
    for path, text in sorted(snap.files.items()):
        if not path.startswith("/proc/sys/"):
            continue
        parts = path[len("/proc/sys/"):].split("/")
        value = text.strip()
        number = _int(value)
        if parts[:3] == ["net", "ipv4", "neigh"] and len(parts) == 5 and parts[3] != "default" \
                and NEIGH_DEFAULTS.get(parts[4]) == number:
            continue
        out[".".join(parts)] = number if number is not None else value
    return out


def bonding(snap: Snapshot) -> dict[str, Any]:
    from vnetlab.importers.runtime import parse_proc_bonding

    return {path.rsplit("/", 1)[1]: parse_proc_bonding(text)
            for path, text in sorted(snap.files.items())
            if path.startswith("/proc/net/bonding/")}


def teamd_states(snap: Snapshot, notes: list[str]) -> dict[str, Any]:
    from vnetlab.importers.teamd import MAX_JSON

    out: dict[str, Any] = {}
    for dev, text in sorted(snap.teamd_state.items()):
        if len(text) > MAX_JSON:
            notes.append(f"teamdctl {dev} state dump: longer than {MAX_JSON} characters: left out")
            continue
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            notes.append(f"teamdctl {dev} state dump: not JSON: left out")
            continue
        if isinstance(value, dict):
            out[dev] = value
    return out


def block(snap: Snapshot, host: str, *, tool: dict[str, str], missing: list[str],
          notes: list[str], raw: dict[str, str] | None) -> dict[str, Any]:
    captured: dict[str, Any] = {
        "host": host,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": "capture",
        "tool": tool,
        "fdb": fdb_entries(snap),
        "ports": port_states(snap),
    }
    neigh = neighbours(snap)
    if neigh:
        captured["neigh"] = neigh
    captured["sysctl"] = sysctls(snap)
    bonds = bonding(snap)
    if bonds:
        captured["bonding"] = bonds
    teams = teamd_states(snap, notes)
    if teams:
        captured["teamd"] = teams
    captured["missing-tools"] = missing
    captured["notes"] = notes
    if raw is not None:
        captured["raw"] = {k: v if len(v) <= RAW_MAX else v[:RAW_MAX] + "\n[... cut at "
                           f"{RAW_MAX} characters]" for k, v in raw.items()}
    return captured


def tool_versions(ip_version: str | None) -> dict[str, str]:
    import re

    from vnetlab import __version__

    tool = {"vnetlab": __version__, "kernel": os.uname().release}
    match = re.search(r"iproute2-(\S+?),?(\s|$)", ip_version or "")
    if match:
        tool["iproute2"] = match.group(1)
    return tool
