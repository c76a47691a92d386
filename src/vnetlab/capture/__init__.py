"""``vnetlab capture``: a running host (or one network namespace) read without changing it,
written as a topology document with a ``captured:`` block of live state (docs/capture.md).

``capture(netns=None, host=None, raw=False)`` runs the commands of ``allowlist.COMMANDS``
(and only those: ``runner.Runner``), in two parallel waves: first the ones that need
nothing (``ip``/``bridge`` dumps, the file reader, the ruleset, ``virsh list``,
``ovs-vsctl list``), then the ones that name what the first wave found (``teamdctl
TEAM``, ``virsh dumpxml VM``, ``ovs-appctl fdb/show BR`` and ``ovs-ofctl dump-flows BR``,
``iptables-save`` when nft
gave no usable ruleset). ``convert`` writes the host's interfaces, routes, sysctls,
firewall and VMs as docs/topology.md describes; ``live`` the ``captured:`` block. A
setting the spec refuses is left out with a note (``settle``), so the document always
loads with ``load_topology_data`` and simulates with ``vnetlab.lab.simulate``.

Limits: IPv4 only; one namespace per capture; taps whose VM neither libvirt nor the FDB
explains are ethernet ports; bridge port costs and priorities, multicast snooping,
bond/team port state beyond ``captured.bonding``/``teamd``, OVS bonds and tunnels are
not captured; of the OpenFlow rules, those of table 0 that the OVS model runs
(``devices/ovs.py``), each other one is noted and left out.
"""

from __future__ import annotations

import copy
import json
import os
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from vnetlab.capture.convert import Snapshot, json_list
from vnetlab.capture.convert import convert as convert_state
from vnetlab.capture.runner import Output, Runner

__all__ = ["CaptureError", "CaptureResult", "capture", "dump"]


class CaptureError(Exception):
    """The capture cannot be made at all (no such namespace, not allowed to enter it)."""


@dataclass
class CaptureResult:
    doc: dict[str, Any]
    notes: list[str]
    missing: list[str]
    seconds: float
    outputs: list[Output] = field(default_factory=list)

    @property
    def host(self) -> str:
        return str(next(iter(self.doc["hosts"])))

    def counts(self) -> dict[str, int]:
        host = self.doc["hosts"][self.host]
        captured = self.doc.get("captured", {})
        return {"interfaces": len(host.get("interfaces", [])), "vms": len(self.doc.get("vms", {})),
                "fdb": len(captured.get("fdb", [])), "ports": len(captured.get("ports", []))}


FIRST_WAVE = ("ip -V", "ip -j -d link show", "ip -j -d addr show", "ip -j route show table all",
              "ip -j neigh show", "bridge -j -d link show", "bridge -j -s fdb show",
              "bridge -j -d vlan show", "read files", "nft list ruleset", "virsh list",
              "ovs-vsctl list Bridge", "ovs-vsctl list Port", "ovs-vsctl list Interface")


def check_netns(netns: str) -> None:
    """CaptureError unless ``netns`` is a named network namespace we may enter."""
    from vnetlab.capture.allowlist import NETNS_PATTERN

    if not NETNS_PATTERN.fullmatch(netns) or netns in (".", ".."):
        raise CaptureError(f"{netns!r} is not a network namespace name")
    if not os.path.exists(os.path.join("/run/netns", netns)):
        raise CaptureError(f"network namespace {netns!r} does not exist (see ip netns list)")
    if os.geteuid() != 0:
        raise CaptureError(f"entering network namespace {netns!r} needs root "
                           "(ip netns exec: setns and a private sysfs mount)")


def _nft_readable(text: str) -> bool:
    from vnetlab.devices.netfilter import NfError, parse_nft

    try:
        parse_nft(text)
    except NfError:
        return False
    return True


def capture(netns: str | None = None, host: str | None = None, raw: bool = False,
            runner: Runner | None = None) -> CaptureResult:
    """Read the host (or ``netns``); the topology document with its ``captured:`` block."""
    from vnetlab.capture import live

    start = time.monotonic()
    if netns is not None:
        check_netns(netns)
    runner = runner or Runner(netns)
    host = host or netns or socket.gethostname().split(".")[0] or "host"
    notes: list[str] = []
    outs = {o.id: o for o in runner.run_many([(c, {}) for c in FIRST_WAVE])}
    snap = Snapshot(notes=notes)

    def usable(label: str, what: str) -> str | None:
        out = outs.get(label)
        if out is None or out.missing:
            return None
        if not out.ok:
            # iproute2 prints a partial dump then fails (a kernel without VLAN filtering:
            # "RTNETLINK answers: Operation not supported")
            notes.append(f"{out.problem()}: {what} not captured")
            return None
        return out.stdout

    def parsed(label: str, what: str) -> list[dict[str, Any]]:
        text = usable(label, what)
        if text is None:
            return []
        try:
            return json_list(text)
        except ValueError as exc:
            notes.append(f"{label}: unreadable JSON ({exc}): {what} not captured")
            return []

    snap.links = parsed("ip -j -d link show", "interfaces")
    snap.addrs = parsed("ip -j -d addr show", "addresses")
    snap.routes = parsed("ip -j route show table all", "routes")
    snap.neigh = parsed("ip -j neigh show", "neighbours")
    snap.bridge_links = parsed("bridge -j -d link show", "bridge port states and flags")
    snap.fdb = parsed("bridge -j -s fdb show", "the bridges' FDB")
    vlan_out = outs.get("bridge -j -d vlan show")
    if vlan_out is not None and vlan_out.ok:
        snap.vlans = parsed("bridge -j -d vlan show", "bridge VLANs")
    elif vlan_out is not None and not vlan_out.missing and any(
            ((link.get("linkinfo") or {}).get("info_data") or {}).get("vlan_filtering")
            for link in snap.links):
        notes.append(f"{vlan_out.problem()}: bridge VLANs not captured")
    files = usable("read files", "/proc and /sys files")
    if files is not None:
        try:
            value = json.loads(files)
            snap.files = {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) \
                else {}
        except ValueError:
            notes.append("read files: unreadable output: /proc and /sys files not captured")
    snap.nft = usable("nft list ruleset", "the nftables ruleset")
    ovs: dict[str, list[dict[str, Any]]] = {}
    for table in ("Bridge", "Port", "Interface"):
        text = usable(f"ovs-vsctl list {table}", f"Open vSwitch {table} table")
        if text is not None:
            from vnetlab.capture.ovsdb import rows

            try:
                ovs[table] = rows(text)
            except ValueError as exc:
                notes.append(f"ovs-vsctl list {table}: unreadable ({exc}): not captured")
    if len(ovs) == 3:
        snap.ovs = ovs

    # -- second wave: per team, VM, OVS bridge ------------------------------------------------
    second: list[tuple[str, dict[str, str]]] = []
    teams = [str(link["ifname"]) for link in snap.links
             if (link.get("linkinfo") or {}).get("info_kind") == "team"]
    for team in teams:
        second += [("teamdctl config dump", {"dev": team}), ("teamdctl state dump", {"dev": team})]
    names = usable("virsh list", "libvirt domains") or ""
    from vnetlab.capture.allowlist import PARAM_PATTERNS

    for name in sorted({n.strip() for n in names.splitlines() if n.strip()}):
        if PARAM_PATTERNS["name"].fullmatch(name):
            second.append(("virsh dumpxml", {"name": name}))
        else:
            notes.append(f"libvirt domain {name!r}: a name capture does not pass to virsh: "
                         "left out")
    for bridge in snap.ovs.get("Bridge", []):
        ovs_name = bridge.get("name")
        if isinstance(ovs_name, str) and PARAM_PATTERNS["bridge"].fullmatch(ovs_name):
            second += [("ovs-appctl fdb/show", {"bridge": ovs_name}),
                       ("ovs-ofctl dump-flows", {"bridge": ovs_name})]
    nft_rules = bool(snap.nft and re.search(r"\b(table|chain)\b", snap.nft))
    if not nft_rules or not _nft_readable(snap.nft or ""):
        # no nftables, or rules vnetlab's nft reader refuses: iptables-nft (Docker,
        # firewalld's direct rules) translates some matches to expressions it does not
        # model (addrtype -> fib): iptables-save prints those tables in its own syntax
        second.append(("iptables-save", {}))
    for out, (command, params) in zip(runner.run_many(second), second, strict=True):
        outs[out.id] = out
        value = params.get("dev") or params.get("name") or params.get("bridge") or ""
        text = usable(out.id, {"teamdctl config dump": f"{value}'s teamd configuration",
                               "teamdctl state dump": f"{value}'s teamd state",
                               "virsh dumpxml": f"VM {value}",
                               "ovs-appctl fdb/show": f"{value}'s MAC table",
                               "ovs-ofctl dump-flows": f"{value}'s OpenFlow rules",
                               "iptables-save": "the iptables rules"}[command])
        if text is None:
            continue
        if command == "teamdctl config dump":
            snap.teamd_config[value] = text
        elif command == "teamdctl state dump":
            snap.teamd_state[value] = text
        elif command == "virsh dumpxml":
            snap.domains[value] = text
        elif command == "ovs-appctl fdb/show":
            snap.ovs_fdb[value] = text
        elif command == "ovs-ofctl dump-flows":
            snap.ovs_flows[value] = text
        else:
            snap.iptables = text

    converted = convert_state(snap, host)
    missing = sorted({o.argv[4 if netns else 0] for o in runner.ran if o.missing})
    doc = converted.doc
    raw_text = {o.id: o.stdout for o in runner.ran if not o.missing} if raw else None
    version = outs.get("ip -V")
    doc["captured"] = live.block(snap, host, tool=live.tool_versions(
        version.stdout if version is not None else None), missing=missing,
        notes=converted.notes, raw=raw_text)
    if converted.neutron_made:
        _drop_rows(doc["captured"], converted.neutron_made)
    settle(doc, converted.notes)
    return CaptureResult(doc, converted.notes, missing, time.monotonic() - start,
                         list(runner.ran))


def _drop_rows(captured: dict[str, Any], made: set[str]) -> None:
    """The live rows of devices the document now leaves to the model (Neutron's br-int,
    qbr/qvb/qvo, patch ports): they would name interfaces the document does not have."""
    for key in ("fdb", "ports"):
        rows = captured.get(key, [])
        kept = [r for r in rows if r.get("bridge") not in made and r.get("port") not in made]
        if len(kept) != len(rows):
            captured["notes"].append(
                f"captured.{key}: {len(rows) - len(kept)} row(s) of Neutron's devices left "
                "out (the document writes those ports as Neutron ports)")
            captured[key] = kept


# -- the document always loads ---------------------------------------------------------------

_TOKEN = re.compile(r"\[([^\]]*)\]|\.?([^.\[]+)")


def _resolve(doc: Any, rendered: str) -> list[Any]:
    """The raw path of a rendered error path (``hosts.h.interfaces[br0].bridge``), as far
    as it exists in ``doc``."""
    path: list[Any] = []
    node = doc
    for match in _TOKEN.finditer(rendered):
        item, key = match.group(1), match.group(2)
        if item is not None and isinstance(node, list):
            index = next((i for i, v in enumerate(node) if isinstance(v, dict)
                          and v.get("name") == item), None)
            if index is None and item.isdigit() and int(item) < len(node):
                index = int(item)
            if index is None:
                break
            path.append(index)
            node = node[index]
        elif key is not None and isinstance(node, dict) and key in node:
            path.append(key)
            node = node[key]
        else:
            break
    return path


def settle(doc: dict[str, Any], notes: list[str], rounds: int = 40) -> None:
    """Leave out whatever the spec refuses, one error at a time, with a note each."""
    from vnetlab.errors import TopologyError
    from vnetlab.topology.load import load_topology_data

    for _ in range(rounds):
        try:
            load_topology_data(copy.deepcopy(doc), "<capture>")
            return
        except TopologyError as exc:
            errors = exc.errors
        changed = False
        for error in errors:
            path = _resolve(doc, error.path)
            if len(path) < 3 or path[0] == "captured":
                continue                # never a whole section or host; captured is ours
            parent: Any = doc
            for element in path[:-1]:
                parent = parent[element]
            try:
                del parent[path[-1]]
            except (KeyError, IndexError, TypeError):
                continue
            notes.append(f"{error.path}: {error.message}: left out")
            changed = True
            break
        if not changed:
            raise CaptureError("the captured topology does not load: " +
                               "; ".join(str(e) for e in errors[:3]))
    raise CaptureError("the captured topology does not load after leaving out "
                       f"{rounds} settings")


def dump(result: CaptureResult) -> str:
    """The document as YAML (kebab keys, unquoted MACs, the captured lists one entry per
    line), with a header saying what it is."""
    import io

    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.scalarstring import LiteralScalarString

    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 110
    doc = copy.deepcopy(result.doc)
    captured = doc.get("captured", {})
    for key in ("fdb", "ports", "neigh"):
        rows = []
        for row in captured.get(key, []):
            flow = CommentedMap(row)
            flow.fa.set_flow_style()
            rows.append(flow)
        if key in captured:
            captured[key] = rows
    def literal(node: Any) -> Any:
        """Multi-line texts (rulesets, raw outputs) as ``|`` blocks."""
        if isinstance(node, dict):
            for key, value in node.items():
                node[key] = literal(value)
        elif isinstance(node, list):
            node[:] = [literal(v) for v in node]
        elif isinstance(node, str) and "\n" in node.rstrip("\n") and not re.search(
                r"[ \t]\n|[^\S\n\t]$|\r", node):
            return LiteralScalarString(node)
        return node

    literal(doc)
    stream = io.StringIO()
    counts = result.counts()
    stream.write(f"# written by vnetlab capture (docs/capture.md): {result.host}, "
                 f"{counts['interfaces']} interface(s), {counts['vms']} VM(s), "
                 f"{counts['fdb']} FDB entries\n")
    yaml.dump(doc, stream)
    return stream.getvalue()
