"""The topology as a graph, with one run's problems marked, as DOT, Mermaid or SVG.

The graph (``build_graph``) is read from the spec (declaration order, interface
types) and the built lab (tap names, MACs, MTUs):

* a **host** is a cluster holding its interface stack: NICs at the bottom,
  bonds/teams above their ports, VLAN devices above their base, bridges above
  their ports, the VMs' taps on top (rows by stack height, as ``ip -d link``
  shows masters above their lower devices); an Open vSwitch bridge is drawn like
  a bridge in its own colour, its patch ports as small nodes under it, a patch
  pair as a ``patch`` edge (patch ports the Neutron agent made during the run
  too: a patch port is an OVS port, no net_device);
* a **VM** is a cluster of guest NICs, each joined to its tap;
* a **switch** is a cluster of ports, a LAG a frame around its members;
* a **router** is a cluster of interfaces (VLAN sub-interfaces under their base);
* cables (``links:``) join nodes of different clusters.

Node ids are separate from labels (``n_kvm1__br1``, only ``[A-Za-z0-9_]``): a
``:`` in a graphviz id means ``node:port``, and hostile names must never reach
an id. Every label and tooltip is escaped for its output (DOT string, Mermaid
entity codes, XML).

Problems (``mark_problems``) come from the run, never from a table: the
decisive drop of each failing flow that ``vnetlab explain`` would explain
(``Explainer.default_questions``), each finding (forwarding loop) and each load
warning about a MAC used twice. They are red, with a tooltip (``<title>`` in
SVG, ``tooltip`` in DOT, a ``%%`` comment in Mermaid) saying what.

The SVG is drawn by a small deterministic layered layout (bands: VMs, hosts,
switches, routers; a barycentre pass orders nodes against the row above), so no
graphviz is needed; ``render(..., engine="dot")`` runs ``dot -Tsvg`` on the DOT
text instead when graphviz is installed. Limits: edges are Bezier curves that
may cross clusters; no edge routing around nodes; node widths are estimated
from character counts (monospace, East Asian wide characters counted double).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

from vnetlab.i18n import note, reason, t

if TYPE_CHECKING:
    from vnetlab.explain.explain import Explanation
    from vnetlab.lab import RunResult

FORMATS = ("svg", "dot", "mermaid")
ENGINES = ("builtin", "dot")

RED = "#d00000"
FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"

CLUSTER_FILL = {"host": "#f3f6fb", "vm": "#f1f8f1", "switch": "#fbf6ec", "router": "#f6f1fb"}
NODE_FILL = {"nic": "#ffffff", "bond": "#e3ecfd", "team": "#e3ecfd", "bridge": "#dff2e4",
             "vlan": "#fff1dc", "tap": "#eef0f2", "vnic": "#dff2e4", "port": "#ffffff",
             "rif": "#ffffff", "ovs": "#dcebfb", "patch": "#eef4fc"}
# edges: cable, the virtual cable between a guest NIC and its tap, stack membership
EDGE_STYLE = {"link": ("#3c4043", "2", ""), "tap": ("#3c4043", "1.5", "6 3"),
              "port": ("#7b8794", "1.2", "2 3"), "vlan": ("#c77700", "1.2", "2 3"),
              "patch": ("#1a5fb4", "2", "8 2 2 2")}     # an OVS patch pair (no wire)


# -- the graph ---------------------------------------------------------------------------------

@dataclass(slots=True)
class Node:
    id: str
    where: str              # the trace's name: "kvm1/br1", "sw1/ge1", "vm1/eth0"
    name: str               # "br1"
    kind: str               # nic bond team bridge ovs patch vlan tap vnic port rif
    detail: str             # "team roundrobin", "VLAN 100"
    cluster: str            # its cluster's id
    height: int = 0         # stack height (0: a NIC); rows are by height, highest on top
    order: int = 0          # declaration order
    tip: str = ""
    problems: list[str] = field(default_factory=list)
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = 0.0


@dataclass(slots=True)
class Group:
    """A LAG: a frame around switch ports."""

    id: str
    where: str              # "sw1/po1"
    label: str
    cluster: str
    members: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Cluster:
    id: str
    name: str               # the node name: "kvm1", "sw1"
    kind: str               # host vm switch router
    label: str
    nodes: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = 0.0


@dataclass(slots=True)
class Edge:
    a: str                  # node ids; for stack edges ``a`` is the upper device
    b: str
    kind: str               # link tap port vlan patch
    problems: list[str] = field(default_factory=list)


class Graph:
    def __init__(self, name: str, lang: str) -> None:
        self.name = name
        self.lang = lang
        self.clusters: dict[str, Cluster] = {}
        self.nodes: dict[str, Node] = {}
        self.groups: dict[str, Group] = {}
        self.edges: list[Edge] = []
        self.by_where: dict[str, str] = {}          # "kvm1/br1" -> node id
        self.cluster_by_name: dict[str, str] = {}   # "kvm1" -> cluster id
        self.group_by_where: dict[str, str] = {}
        self._ids: set[str] = set()
        self.width = 0.0
        self.height = 0.0

    def new_id(self, prefix: str, text: str) -> str:
        base = prefix + re.sub(r"[^A-Za-z0-9_]", "_", text.replace("/", "__"))
        out, n = base, 2
        while out in self._ids:
            out, n = f"{base}_{n}", n + 1
        self._ids.add(out)
        return out

    def add_cluster(self, kind: str, name: str) -> Cluster:
        cluster = Cluster(self.new_id("cluster_", name), name, kind,
                          t("diagram.cluster", self.lang, name=name,
                            kind=t("diagram.kind." + kind, self.lang)))
        self.clusters[cluster.id] = cluster
        self.cluster_by_name.setdefault(name, cluster.id)
        return cluster

    def add_node(self, cluster: Cluster, name: str, kind: str, detail: str, height: int = 0
                 ) -> Node:
        where = f"{cluster.name}/{name}"
        node = Node(self.new_id("n_", where), where, name, kind, detail, cluster.id, height,
                    len(self.nodes))
        self.nodes[node.id] = node
        self.by_where.setdefault(where, node.id)
        cluster.nodes.append(node.id)
        return node

    def add_edge(self, a: str, b: str, kind: str) -> Edge | None:
        """An edge between two ``where`` names (nothing if one is unknown or it exists)."""
        ida, idb = self.by_where.get(a), self.by_where.get(b)
        if ida is None or idb is None or ida == idb or self.edge(ida, idb) is not None:
            return None
        edge = Edge(ida, idb, kind)
        self.edges.append(edge)
        return edge

    def edge(self, ida: str, idb: str) -> Edge | None:
        return next((e for e in self.edges if {e.a, e.b} == {ida, idb}), None)

    def problem_count(self) -> int:
        return (sum(1 for n in self.nodes.values() if n.problems)
                + sum(1 for e in self.edges if e.problems)
                + sum(1 for g in self.groups.values() if g.problems)
                + sum(1 for c in self.clusters.values() if c.problems))


def _value(x: Any) -> str:
    return str(getattr(x, "value", x))


def topology_name(result: RunResult) -> str:
    """``name:``, else the file's name without its suffix."""
    if result.spec.name:
        return result.spec.name
    locator = result.spec.locator
    if locator is not None and locator.file:
        return re.sub(r"\.ya?ml$", "", locator.file.replace("\\", "/").rsplit("/", 1)[-1])
    return "topology"


def _add_built_devices(graph: Graph, result: RunResult, lang: str) -> None:
    """Host devices the build made that the file does not name (OpenStack's os-vif and
    agents: qbr/qvb/qvo, brq, PHYS.SEG, taps; devices/openstack.py), with their bridge
    ports, VLAN lowers and veth links."""
    from vnetlab.devices.bridge import Bridge
    from vnetlab.devices.netdev import Tap
    from vnetlab.devices.ovs import OvsBridge
    from vnetlab.devices.vlan import VlanDevice

    lab = result.lab
    extra = [dev for dev in lab.devices.values()
             if dev.node in result.spec.hosts and dev.where not in graph.by_where]
    for dev in extra:
        cluster = graph.clusters[graph.cluster_by_name[dev.node]]
        if isinstance(dev, Tap):
            kind, detail, height = "tap", t("diagram.kind.tap", lang), 3
        elif isinstance(dev, VlanDevice):
            kind, detail, height = "vlan", t("diagram.kind.vlan", lang, vid=dev.vid), 1
        elif isinstance(dev, Bridge):
            kind, detail, height = "bridge", t("diagram.kind.bridge", lang), 2
        elif isinstance(dev, OvsBridge):
            kind, detail, height = "ovs", t("diagram.kind.ovs_bridge", lang), 2
        else:
            kind, detail, height = "nic", t("diagram.kind.nic", lang), 1
        graph.add_node(cluster, dev.name, kind, detail, height)
    for dev in extra:
        if isinstance(dev, Bridge):
            for port in dev.ports:
                graph.add_edge(dev.where, port.dev.where, "port")
        elif isinstance(dev, VlanDevice):
            graph.add_edge(dev.where, dev.lower.where, "vlan")
    # OVS bridges, declared or built: the ports the run added too (os-vif's qvo/tap, the
    # agent's int-/phy- patch pairs), patch and internal ports as nodes of their own
    for ovs in lab.ovs.values():
        cluster = graph.clusters[graph.cluster_by_name[ovs.node]]
        for oport in ovs.ports.values():
            where = f"{ovs.node}/{oport.name}"
            if oport.dev is None and oport.name != ovs.name and where not in graph.by_where:
                patch = oport.peer is not None
                graph.add_node(cluster, oport.name, "patch" if patch else "nic",
                               t("diagram.kind.ovs_patch" if patch else "diagram.kind.ovs_port",
                                 lang), graph.nodes[graph.by_where[ovs.where]].height - 1)
    for ovs in lab.ovs.values():
        for oport in ovs.ports.values():
            if oport.dev is not None:
                graph.add_edge(ovs.where, oport.dev.where, "port")
            elif oport.name != ovs.name:
                graph.add_edge(ovs.where, f"{ovs.node}/{oport.name}", "port")
                if oport.peer is not None:
                    graph.add_edge(f"{ovs.node}/{oport.name}",
                                   f"{oport.peer.bridge.node}/{oport.peer.name}", "patch")
    for link in lab.links:
        if (link.a in extra or link.b in extra) and link.a.node in result.spec.hosts \
                and link.b.node in result.spec.hosts:
            graph.add_edge(link.a.where, link.b.where, "link")


def build_graph(result: RunResult, lang: str = "en") -> Graph:
    """The devices of ``result``'s topology as clusters, nodes and edges (no problems yet)."""
    from vnetlab.topology.check import tap_names
    from vnetlab.topology.spec import (
        BondInterface,
        EthernetInterface,
        LinuxBridgeInterface,
        OvsBridgeInterface,
        OvsInterface,
        TeamInterface,
        VlanInterface,
    )

    spec, lab = result.spec, result.lab
    graph = Graph(topology_name(result), lang)
    taps = tap_names(spec)
    vm_taps: dict[str, list[tuple[str, str]]] = {}      # host -> [(tap, bridge)]
    for vm_name, vm in spec.vms.items():
        for index, nic in enumerate(vm.interfaces):
            if nic.network is None:         # a Neutron port's tap is the cloud's (below)
                vm_taps.setdefault(vm.host, []).append((taps[(vm_name, index)], nic.source))

    # -- hosts: the stack, rows by height ------------------------------------------------
    for host_name, host in spec.hosts.items():
        cluster = graph.add_cluster("host", host_name)
        by_name = {iface.name: iface for iface in host.interfaces}
        heights: dict[str, int] = {}

        def height(name: str, seen: frozenset[str] = frozenset(),
                   by_name: dict[str, Any] = by_name, heights: dict[str, int] = heights) -> int:
            if name in heights:
                return heights[name]
            iface = by_name.get(name)
            if iface is None or name in seen:
                return 0
            below = seen | {name}
            lower: list[str] = []
            if isinstance(iface, TeamInterface):
                lower = [p.name for p in iface.team.ports]
            elif isinstance(iface, BondInterface):
                lower = list(iface.link_aggregation.port)
            elif isinstance(iface, VlanInterface):
                lower = [iface.vlan.base_iface]
            elif isinstance(iface, LinuxBridgeInterface | OvsBridgeInterface):
                lower = [p.name for p in iface.bridge.port if p.name in by_name]
            value = 0 if isinstance(iface, EthernetInterface | OvsInterface) else \
                1 + max((height(n, below) for n in lower), default=0)
            heights[name] = value
            return value

        for iface in host.interfaces:
            h = height(iface.name)
            if isinstance(iface, EthernetInterface):
                kind, detail = "nic", t("diagram.kind.nic", lang)
            elif isinstance(iface, BondInterface):
                kind, detail = "bond", t("diagram.kind.bond", lang,
                                         mode=_value(iface.link_aggregation.mode))
            elif isinstance(iface, TeamInterface):
                kind, detail = "team", t("diagram.kind.team", lang,
                                         runner=_value(iface.team.runner.name))
            elif isinstance(iface, VlanInterface):
                kind, detail = "vlan", t("diagram.kind.vlan", lang, vid=iface.vlan.id)
            elif isinstance(iface, OvsBridgeInterface):
                kind, detail = "ovs", t("diagram.kind.ovs_bridge", lang)
            elif isinstance(iface, OvsInterface):
                kind, detail = ("patch", t("diagram.kind.ovs_patch", lang)) if iface.patch \
                    else ("nic", t("diagram.kind.ovs_port", lang))
            else:
                assert isinstance(iface, LinuxBridgeInterface)
                stp = iface.bridge.options.stp.enabled
                kind, detail = "bridge", t("diagram.kind.bridge_stp" if stp
                                           else "diagram.kind.bridge", lang)
            graph.add_node(cluster, iface.name, kind, detail, h)
        for tap, bridge in vm_taps.get(host_name, []):
            graph.add_node(cluster, tap, "tap", t("diagram.kind.tap", lang),
                           heights.get(bridge, 1) + 1)
        for iface in host.interfaces:
            upper = f"{host_name}/{iface.name}"
            if isinstance(iface, TeamInterface):
                for p in iface.team.ports:
                    graph.add_edge(upper, f"{host_name}/{p.name}", "port")
            elif isinstance(iface, BondInterface):
                for name in iface.link_aggregation.port:
                    graph.add_edge(upper, f"{host_name}/{name}", "port")
            elif isinstance(iface, VlanInterface):
                graph.add_edge(upper, f"{host_name}/{iface.vlan.base_iface}", "vlan")
            elif isinstance(iface, LinuxBridgeInterface):
                for bport in iface.bridge.port:
                    graph.add_edge(upper, f"{host_name}/{bport.name}", "port")
            elif isinstance(iface, OvsBridgeInterface):
                for oport in iface.bridge.port:
                    graph.add_edge(upper, f"{host_name}/{oport.name}", "port")
            elif isinstance(iface, OvsInterface) and iface.patch is not None:
                graph.add_edge(upper, f"{host_name}/{iface.patch.peer}", "patch")
        for tap, bridge in vm_taps.get(host_name, []):
            graph.add_edge(f"{host_name}/{bridge}", f"{host_name}/{tap}", "port")

    _add_built_devices(graph, result, lang)

    # -- VMs -------------------------------------------------------------------------------
    built_taps = lab.openstack.built_taps if lab.openstack is not None else {}
    for vm_name, vm in spec.vms.items():
        cluster = graph.add_cluster("vm", vm_name)
        for index, _nic in enumerate(vm.interfaces):
            graph.add_node(cluster, f"eth{index}", "vnic", t("diagram.kind.vnic", lang))
            tap = built_taps.get((vm_name, index)) or taps[(vm_name, index)]
            graph.add_edge(f"{vm_name}/eth{index}", f"{vm.host}/{tap}", "tap")

    # -- switches: ports, LAG members side by side -----------------------------------------
    for sw_name, sw in spec.switches.items():
        cluster = graph.add_cluster("switch", sw_name)
        for port in sw.ports:
            graph.add_node(cluster, port, "port", t("diagram.kind.port", lang))
        for lag in sw.lags:
            where = f"{sw_name}/{lag.name}"
            group = Group(graph.new_id("cluster_lag_", where), where,
                          t("diagram.kind.lag", lang, name=lag.name, mode=lag.mode), cluster.id,
                          [graph.by_where[f"{sw_name}/{p}"] for p in lag.ports
                           if f"{sw_name}/{p}" in graph.by_where])
            graph.groups[group.id] = group
            graph.group_by_where[where] = group.id
            cluster.groups.append(group.id)

    # -- routers ---------------------------------------------------------------------------
    for r_name, router in spec.routers.items():
        cluster = graph.add_cluster("router", r_name)
        for riface in router.interfaces:
            if riface.vlan is not None:
                graph.add_node(cluster, riface.name, "vlan",
                               t("diagram.kind.vlan", lang, vid=riface.vlan.id), 0)
            else:
                graph.add_node(cluster, riface.name, "rif", t("diagram.kind.rif", lang), 1)
        for riface in router.interfaces:
            if riface.vlan is not None:
                graph.add_edge(f"{r_name}/{riface.name}", f"{r_name}/{riface.vlan.base_iface}",
                               "vlan")

    # -- cables ------------------------------------------------------------------------------
    for link in spec.links:
        a, b = (ref.replace(":", "/", 1) for ref in link.endpoints)
        graph.add_edge(a, b, "link")

    # tooltips: what the lab built
    for node in graph.nodes.values():
        cluster_name = graph.clusters[node.cluster].name
        dev = lab.devices.get(f"{cluster_name}:{node.name}")
        if dev is not None:
            from vnetlab.net.addr import mac_str

            node.tip = t("diagram.tip.device", lang, where=node.where, kind=node.detail,
                         mac=mac_str(dev.mac), mtu=dev.mtu)
        else:
            node.tip = f"{node.where}: {node.detail}"
    return graph


# -- problems ----------------------------------------------------------------------------------

def _add(problems: list[str], text: str) -> None:
    if text not in problems:
        problems.append(text)


def _mark_where(graph: Graph, where: str, port: str, text: str) -> bool:
    """Mark what a step's ``where``/``port`` name: the device and, for a port of it,
    the edge to that port (or the port's node); a node-level name (``sw1``, ``vm1``)
    marks the port it names, else the cluster."""
    node_id = graph.by_where.get(where)
    if node_id is not None:
        _add(graph.nodes[node_id].problems, text)
        node = graph.nodes[node_id]
        if port and port != node.name:
            prefix = where.split("/")[0]
            other = graph.by_where.get(f"{prefix}/{port}")
            edge = graph.edge(node_id, other) if other is not None else None
            port_text = t("diagram.problem.port", graph.lang, port=port, where=where, text=text)
            if edge is not None:
                _add(edge.problems, port_text)
            elif other is not None:
                _add(graph.nodes[other].problems, port_text)
        return True
    name = where.split("/")[0]
    if port:
        target = graph.by_where.get(f"{name}/{port}")
        if target is not None:
            _add(graph.nodes[target].problems, text)
            return True
        group = graph.group_by_where.get(f"{name}/{port}")
        if group is not None:
            _add(graph.groups[group].problems, text)
            return True
    cluster = graph.cluster_by_name.get(name)
    if cluster is not None:
        _add(graph.clusters[cluster].problems, text)
        return True
    return False


def failing_flows(result: RunResult, lang: str = "en") -> list[Explanation]:
    """What ``vnetlab explain FILE`` explains: failed expectations, pings without
    replies, DHCP clients without an address or with a late one (questions,
    verdicts and summaries in ``lang``)."""
    from vnetlab.explain.explain import Explainer

    if not result.sim.tracing:
        return []
    return Explainer(result, lang).default_questions()


def mark_problems(graph: Graph, result: RunResult,
                  flows: list[Explanation] | None = None) -> None:
    """Mark the run's problems on ``graph``; ``flows``: the failing flows when the
    caller already has them (asked in the graph's language)."""
    from vnetlab.sim.time import format_time
    from vnetlab.sim.trace import Action

    lang = graph.lang
    for flow in failing_flows(result, lang) if flows is None else flows:
        step = flow.decisive
        if step is None or step.action not in (Action.DROP, Action.SKIP):
            continue
        text = t("diagram.problem.drop", lang, time=format_time(step.time),
                 reason=reason(step.reason or "", lang), note=note(step.note, lang),
                 fn=step.fn, rule=step.rule or "-", question=flow.question)
        _mark_where(graph, step.where, step.port, text)
    for finding in result.lab.findings:
        text = t("diagram.problem.finding", lang, check=finding.check,
                 summary=note(finding.summary, lang))
        cycle = [w.strip() for w in finding.where.split(" -> ") if w.strip()]
        for where in cycle:
            _mark_where(graph, where, "", text)
        # the cables the loop turns through: a cable from a port on the loop to a node on it
        on_loop = {w.split("/")[0] for w in cycle}
        ids = {graph.by_where[w] for w in cycle if w in graph.by_where}
        for edge in graph.edges:
            ends = {edge.a, edge.b}
            if edge.kind == "link" and ends & ids and all(
                    graph.clusters[graph.nodes[n].cluster].name in on_loop for n in ends):
                _add(edge.problems, text)
    from vnetlab.net.addr import mac_str

    for warning in result.spec.notes:
        match = re.search(r"MAC ([0-9a-f:]{17}) is used", warning)
        if match is None:
            continue
        text = t("diagram.problem.warning", lang, note=note(warning, lang))
        for dev in result.lab.devices.values():
            source = dev.source
            if source is None or mac_str(dev.mac) != match.group(1):
                continue
            if f"({source.path}." in warning or f"({source.path})" in warning:
                _mark_where(graph, dev.where, "", text)


# -- text measures -----------------------------------------------------------------------------

CHAR_W = 7.3
WIDE_W = 13.0


def text_width(text: str) -> float:
    return sum(WIDE_W if unicodedata.east_asian_width(ch) in ("W", "F") else CHAR_W
               for ch in text)


_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml(text: object) -> str:
    """Text or attribute value for XML/HTML: ``& < > " '`` escaped, characters
    XML 1.0 forbids replaced."""
    return escape(_INVALID_XML.sub("\ufffd", str(text)), quote=True)


# -- layout ------------------------------------------------------------------------------------

NODE_H = 36.0
H_GAP = 14.0
V_GAP = 30.0
PAD = 12.0
TITLE_H = 22.0
GROUP_PAD = 5.0
GROUP_TITLE = 16.0
BAND_GAP = 56.0
CLUSTER_GAP = 36.0
MARGIN = 16.0
LEGEND_H = 30.0
UNLINKED = 1e8                 # a cluster cabled to nothing placed: after the others


def _rows(graph: Graph, cluster: Cluster) -> list[list[str]]:
    """The cluster's rows, top first: highest stack first."""
    heights = sorted({graph.nodes[n].height for n in cluster.nodes}, reverse=True)
    return [[n for n in cluster.nodes if graph.nodes[n].height == h] for h in heights]


def _neighbours(graph: Graph) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for edge in graph.edges:
        out[edge.a].append(edge.b)
        out[edge.b].append(edge.a)
    return out


def _centre(graph: Graph, ids: list[str]) -> float | None:
    placed = [graph.nodes[i] for i in ids]
    return sum(n.x + n.w / 2 for n in placed) / len(placed) if placed else None


def layout(graph: Graph) -> None:
    """Positions for every cluster and node (deterministic: declaration order and
    barycentres only)."""
    for node in graph.nodes.values():
        node.w = max(64.0, text_width(node.name), text_width(node.detail) * 0.85) + 16
        node.h = NODE_H
    near = _neighbours(graph)
    bands: dict[str, list[Cluster]] = {k: [] for k in ("vm", "host", "switch", "router")}
    for cluster in graph.clusters.values():
        bands[cluster.kind].append(cluster)

    def size(cluster: Cluster, rows: list[list[str]]) -> None:
        top = TITLE_H + (GROUP_TITLE if cluster.groups else 0)
        widths = [sum(graph.nodes[n].w for n in row) + H_GAP * (len(row) - 1) for row in rows]
        cluster.w = max([text_width(cluster.label) + 8, *widths]) + 2 * PAD
        cluster.h = top + PAD + len(rows) * NODE_H + max(0, len(rows) - 1) * V_GAP + PAD
        if not rows:
            cluster.h = top + PAD

    def place(cluster: Cluster, rows: list[list[str]]) -> None:
        top = cluster.y + TITLE_H + (GROUP_TITLE if cluster.groups else 0) + PAD
        for r, row in enumerate(rows):
            width = sum(graph.nodes[n].w for n in row) + H_GAP * (len(row) - 1)
            x = cluster.x + (cluster.w - width) / 2
            for n in row:
                node = graph.nodes[n]
                node.x, node.y = x, top + r * (NODE_H + V_GAP)
                x += node.w + H_GAP

    def order_rows(rows: list[list[str]]) -> list[list[str]]:
        """Each row after the first by the barycentre of its neighbours in the row above."""
        out = [rows[0]] if rows else []
        for row in rows[1:]:
            above = {n: i for i, n in enumerate(out[-1])}

            def key(n: str, above: dict[str, int] = above) -> tuple[float, int]:
                ups = [above[m] for m in near[n] if m in above]
                return (sum(ups) / len(ups) if ups else float(len(above)),
                        graph.nodes[n].order)
            out.append(sorted(row, key=key))
        return out

    def spread(clusters: list[tuple[float, Cluster]], y: float) -> None:
        """Clusters at their wished centres, pushed right where they would overlap."""
        x = MARGIN
        for wish, cluster in sorted(clusters, key=lambda item: item[0]):
            cluster.x = x if wish >= UNLINKED else max(x, wish - cluster.w / 2)
            cluster.y = y
            x = cluster.x + cluster.w + CLUSTER_GAP

    def wish_of(cluster: Cluster, fallback: float) -> float:
        linked = [m for n in cluster.nodes for m in near[n]
                  if graph.nodes[m].cluster != cluster.id and graph.nodes[m].w and
                  graph.clusters[graph.nodes[m].cluster].kind != cluster.kind]
        placed = [m for m in linked if graph.nodes[m].y or graph.nodes[m].x]
        centre = _centre(graph, placed)
        return centre if centre is not None else fallback

    # hosts first, left to right in declaration order
    y = MARGIN
    vm_h = 0.0
    host_rows: dict[str, list[list[str]]] = {}
    for cluster in bands["vm"]:
        size(cluster, [cluster.nodes])
        vm_h = max(vm_h, cluster.h)
    host_y = MARGIN + (vm_h + BAND_GAP if bands["vm"] else 0)
    x = MARGIN
    for cluster in bands["host"]:
        rows = order_rows(_rows(graph, cluster))
        host_rows[cluster.id] = rows
        size(cluster, rows)
        cluster.x, cluster.y = x, host_y
        place(cluster, rows)
        x += cluster.w + CLUSTER_GAP
    # VMs above their taps
    wishes = []
    for i, cluster in enumerate(bands["vm"]):
        wishes.append((wish_of(cluster, UNLINKED + i), cluster))
    spread(wishes, y)
    for cluster in bands["vm"]:
        place(cluster, [cluster.nodes])
    host_bottom = max((c.y + c.h for c in bands["host"]), default=host_y - BAND_GAP)
    # switches under the hosts, ports ordered by what they are cabled to
    next_y = host_bottom + BAND_GAP
    for kind in ("switch", "router"):
        band = bands[kind]
        if not band:
            continue
        wishes = []
        band_h = 0.0
        for i, cluster in enumerate(band):
            units: list[list[str]] = []
            in_group = {m: g for g in cluster.groups for m in graph.groups[g].members}
            seen: set[str] = set()
            for n in cluster.nodes:
                if n in seen:
                    continue
                unit = graph.groups[in_group[n]].members if n in in_group else [n]
                seen.update(unit)
                units.append(unit)

            def unit_key(unit: list[str]) -> tuple[float, int]:
                linked = [m for n in unit for m in near[n]
                          if graph.nodes[m].cluster != graph.nodes[n].cluster
                          and (graph.nodes[m].x or graph.nodes[m].y)]
                centre = _centre(graph, linked)
                return (centre if centre is not None else 1e9, graph.nodes[unit[0]].order)
            if kind == "switch":
                units.sort(key=unit_key)
                rows = [[n for unit in units for n in unit]]
            else:
                rows = [[n for n in cluster.nodes if graph.nodes[n].height == 1],
                        [n for n in cluster.nodes if graph.nodes[n].height == 0]]
                rows = [r for r in rows if r]
            host_rows[cluster.id] = rows
            size(cluster, rows)
            band_h = max(band_h, cluster.h)
            wishes.append((wish_of(cluster, UNLINKED + i), cluster))
        spread(wishes, next_y)
        for cluster in band:
            place(cluster, host_rows[cluster.id])
        next_y += band_h + BAND_GAP
    # shift right if a band starts left of the margin (never: spread starts at MARGIN)
    graph.width = max([c.x + c.w for c in graph.clusters.values()]
                      + [MARGIN + _legend_width(graph)]) + MARGIN
    graph.height = max([c.y + c.h for c in graph.clusters.values()] + [40.0]) + BAND_GAP / 2 \
        + LEGEND_H + MARGIN


# -- SVG ---------------------------------------------------------------------------------------

def _edge_path(graph: Graph, edge: Edge) -> str:
    a, b = graph.nodes[edge.a], graph.nodes[edge.b]
    if abs(a.y - b.y) < 1:                      # same row: a curve below both
        x1, x2, y0 = a.x + a.w / 2, b.x + b.w / 2, a.y + a.h
        dip = 26 + min(60.0, abs(x2 - x1) / 8)
        return f"M{x1:.1f},{y0:.1f} C{x1:.1f},{y0 + dip:.1f} {x2:.1f},{y0 + dip:.1f} " \
               f"{x2:.1f},{y0:.1f}"
    if a.y > b.y:
        a, b = b, a
    x1, y1 = a.x + a.w / 2, a.y + a.h
    x2, y2 = b.x + b.w / 2, b.y
    mid = (y2 - y1) / 2
    return f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + mid:.1f} {x2:.1f},{y2 - mid:.1f} {x2:.1f},{y2:.1f}"


def to_svg(graph: Graph, *, standalone: bool = True) -> str:
    """The laid-out graph as SVG. Presentation attributes only (no ``style``), so
    the report's CSS may restyle it and a strict Content-Security-Policy holds."""
    if not graph.width:
        layout(graph)
    lang = graph.lang
    title = t("diagram.title", lang, name=graph.name)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="vnetlab-topology" '
           f'width="{graph.width:.0f}" height="{graph.height:.0f}" '
           f'viewBox="0 0 {graph.width:.0f} {graph.height:.0f}" font-family="{FONT}" '
           f'font-size="12" role="img" aria-label="{xml(title)}">']
    if standalone:
        out.insert(0, '<?xml version="1.0" encoding="UTF-8"?>\n')
    out.append(f"<title>{xml(title)}</title>")
    out.append('<rect x="0" y="0" width="100%" height="100%" fill="#ffffff"/>')
    out.append('<g class="clusters">')
    for cluster in graph.clusters.values():
        bad = bool(cluster.problems)
        tip = cluster.label + "".join(f"\n{p}" for p in cluster.problems)
        out.append(f'<g class="cluster {cluster.kind}{" problem" if bad else ""}" '
                   f'id="{cluster.id}" data-name="{xml(cluster.name)}">'
                   f"<title>{xml(tip)}</title>"
                   f'<rect x="{cluster.x:.1f}" y="{cluster.y:.1f}" width="{cluster.w:.1f}" '
                   f'height="{cluster.h:.1f}" rx="8" fill="{CLUSTER_FILL[cluster.kind]}" '
                   f'stroke="{RED if bad else "#9aa5b1"}" stroke-width="{2.5 if bad else 1}"/>'
                   f'<text x="{cluster.x + 10:.1f}" y="{cluster.y + 16:.1f}" font-weight="bold" '
                   f'fill="{RED if bad else "#202124"}">{xml(cluster.label)}</text></g>')
        for gid in cluster.groups:
            group = graph.groups[gid]
            members = [graph.nodes[m] for m in group.members]
            if not members:
                continue
            gx = min(m.x for m in members) - GROUP_PAD
            gy = min(m.y for m in members) - GROUP_PAD - GROUP_TITLE
            gw = max(m.x + m.w for m in members) + GROUP_PAD - gx
            gh = max(m.y + m.h for m in members) + GROUP_PAD - gy
            gbad = bool(group.problems)
            gtip = group.label + "".join(f"\n{p}" for p in group.problems)
            out.append(f'<g class="lag{" problem" if gbad else ""}" id="{group.id}" '
                       f'data-where="{xml(group.where)}"><title>{xml(gtip)}</title>'
                       f'<rect x="{gx:.1f}" y="{gy:.1f}" width="{gw:.1f}" height="{gh:.1f}" '
                       f'rx="6" fill="none" stroke="{RED if gbad else "#8a6d3b"}" '
                       f'stroke-width="{2.5 if gbad else 1.2}" stroke-dasharray="5 3"/>'
                       f'<text x="{gx + 6:.1f}" y="{gy + 12:.1f}" font-size="11" '
                       f'fill="{RED if gbad else "#8a6d3b"}">{xml(group.label)}</text></g>')
    out.append("</g>")
    out.append('<g class="edges" fill="none">')
    for edge in graph.edges:
        colour, width, dash = EDGE_STYLE[edge.kind]
        bad = bool(edge.problems)
        a, b = graph.nodes[edge.a], graph.nodes[edge.b]
        tip = f"{a.where} - {b.where}" + "".join(f"\n{p}" for p in edge.problems)
        out.append(f'<path class="edge {edge.kind}{" problem" if bad else ""}" '
                   f'data-a="{xml(a.where)}" data-b="{xml(b.where)}" d="{_edge_path(graph, edge)}" '
                   f'stroke="{RED if bad else colour}" stroke-width="{3 if bad else width}"'
                   + (f' stroke-dasharray="{dash}"' if dash else "")
                   + f"><title>{xml(tip)}</title></path>")
    out.append("</g>")
    out.append('<g class="nodes">')
    for node in graph.nodes.values():
        bad = bool(node.problems)
        tip = node.tip + "".join(f"\n{p}" for p in node.problems)
        cx = node.x + node.w / 2
        out.append(f'<g class="node {node.kind}{" problem" if bad else ""}" id="{node.id}" '
                   f'data-where="{xml(node.where)}"><title>{xml(tip)}</title>'
                   f'<rect x="{node.x:.1f}" y="{node.y:.1f}" width="{node.w:.1f}" '
                   f'height="{node.h:.1f}" rx="4" '
                   f'fill="{"#fdecea" if bad else NODE_FILL[node.kind]}" '
                   f'stroke="{RED if bad else "#5f6b7a"}" stroke-width="{2.5 if bad else 1}"/>'
                   f'<text x="{cx:.1f}" y="{node.y + 15:.1f}" text-anchor="middle" '
                   f'fill="{"#a00000" if bad else "#202124"}">{xml(node.name)}</text>'
                   f'<text x="{cx:.1f}" y="{node.y + 29:.1f}" text-anchor="middle" '
                   f'font-size="10" fill="{"#a00000" if bad else "#5f6b7a"}">'
                   f"{xml(node.detail)}</text></g>")
    out.append("</g>")
    out.append(_legend(graph))
    out.append("</svg>")
    return "".join(out) + ("\n" if standalone else "")


def _legend_kinds(graph: Graph) -> dict[str, str]:
    """Edge kind -> legend key; the patch line only on a graph with a patch pair."""
    kinds = {"link": "cable", "tap": "tap", "port": "port"}
    if any(e.kind == "patch" for e in graph.edges):
        kinds["patch"] = "patch"
    return kinds


def _legend_items(graph: Graph) -> tuple[list[str], str, str]:
    lang = graph.lang
    count = graph.problem_count()
    return ([t(f"diagram.legend.{key}", lang) for key in _legend_kinds(graph).values()],
            t("diagram.legend.problem", lang),
            t("diagram.problems", lang, count=count) if count else t("diagram.no_problems", lang))


def _legend_width(graph: Graph) -> float:
    lines, problem, summary = _legend_items(graph)
    return sum(58 + text_width(x) * 0.9 for x in [*lines, problem]) + text_width(summary) * 0.9


def _legend(graph: Graph) -> str:
    lines, problem, summary = _legend_items(graph)
    y = graph.height - MARGIN - LEGEND_H / 2
    x = MARGIN
    parts = ['<g class="legend" font-size="11">']
    for kind, label in zip(_legend_kinds(graph), lines, strict=True):
        colour, width, dash = EDGE_STYLE[kind]
        parts.append(f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x + 28:.1f}" y2="{y:.1f}" '
                     f'stroke="{colour}" stroke-width="{width}"'
                     + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
        parts.append(f'<text x="{x + 34:.1f}" y="{y + 4:.1f}" fill="#3c4043">{xml(label)}</text>')
        x += 58 + text_width(label) * 0.9
    parts.append(f'<rect x="{x:.1f}" y="{y - 8:.1f}" width="24" height="16" rx="3" '
                 f'fill="#fdecea" stroke="{RED}" stroke-width="2.5"/>')
    parts.append(f'<text x="{x + 30:.1f}" y="{y + 4:.1f}" fill="{RED}">{xml(problem)}</text>')
    x += 58 + text_width(problem) * 0.9
    parts.append(f'<text x="{x:.1f}" y="{y + 4:.1f}" fill="#5f6b7a" class="problem-count">'
                 f"{xml(summary)}</text>")
    parts.append("</g>")
    return "".join(parts)


# -- DOT ---------------------------------------------------------------------------------------

def dot_string(text: str) -> str:
    """A DOT double-quoted string: backslash and quote escaped, newlines as ``\\n``."""
    cleaned = _INVALID_XML.sub("\ufffd", text)
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "") \
        .replace("\n", "\\n") + '"'


def to_dot(graph: Graph) -> str:
    lines = ["graph vnetlab {",
             f"  graph [label={dot_string(t('diagram.title', graph.lang, name=graph.name))}, "
             'labelloc=t, fontname="monospace", newrank=true, rankdir=TB];',
             '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", '
             'fontname="monospace", fontsize=10];',
             '  edge [fontname="monospace"];']

    def node_line(node: Node, indent: str) -> str:
        attrs = [f"label={dot_string(node.name + chr(10) + node.detail)}",
                 f'fillcolor="{NODE_FILL[node.kind]}"']
        if node.problems:
            attrs += [f'color="{RED}"', "penwidth=2.5", f'fontcolor="{RED}"',
                      'fillcolor="#fdecea"', "class=problem"]
        attrs.append(f"tooltip={dot_string(chr(10).join([node.tip, *node.problems]))}")
        return f"{indent}{node.id} [{', '.join(attrs)}];"

    for cluster in graph.clusters.values():
        lines.append(f"  subgraph {cluster.id} {{")
        lines.append(f"    label={dot_string(cluster.label)}; style=\"rounded,filled\"; "
                     f'fillcolor="{CLUSTER_FILL[cluster.kind]}"; '
                     f'color="{RED if cluster.problems else "#9aa5b1"}";')
        if cluster.problems:
            lines.append(f"    tooltip={dot_string(chr(10).join(cluster.problems))}; "
                         "penwidth=2.5;")
        grouped = {m for g in cluster.groups for m in graph.groups[g].members}
        for gid in cluster.groups:
            group = graph.groups[gid]
            lines.append(f"    subgraph {gid} {{")
            lines.append(f"      label={dot_string(group.label)}; style=dashed; "
                         f'color="{RED if group.problems else "#8a6d3b"}";')
            if group.problems:
                lines.append(f"      tooltip={dot_string(chr(10).join(group.problems))};")
            lines.extend(node_line(graph.nodes[m], "      ") for m in group.members)
            lines.append("    }")
        lines.extend(node_line(graph.nodes[n], "    ") for n in cluster.nodes if n not in grouped)
        lines.append("  }")
    for edge in graph.edges:
        colour, width, dash = EDGE_STYLE[edge.kind]
        attrs = [f'color="{RED if edge.problems else colour}"',
                 f"penwidth={3 if edge.problems else width}"]
        if dash:
            attrs.append("style=dashed")
        if edge.problems:
            attrs.append(f"tooltip={dot_string(chr(10).join(edge.problems))}")
            attrs.append("class=problem")
        lines.append(f"  {edge.a} -- {edge.b} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- Mermaid -----------------------------------------------------------------------------------

_MERMAID_SAFE = re.compile(r"[A-Za-z0-9 _.,:/()+\-=@]")


def mermaid_text(text: str) -> str:
    """Label text inside ``["..."]``: anything but plain characters as an entity
    code (``#60;``), so no quote, bracket or tag of a name is read as syntax."""
    cleaned = _INVALID_XML.sub("\ufffd", text)
    return "".join(ch if _MERMAID_SAFE.fullmatch(ch) or (ord(ch) > 127 and ch.isalnum())
                   else f"#{ord(ch)};" for ch in cleaned.replace("\n", " "))


def _comment(text: str) -> str:
    return " ".join(text.split())


def to_mermaid(graph: Graph) -> str:
    lines = ["flowchart TB",
             f"  %% {_comment(t('diagram.title', graph.lang, name=graph.name))}"]
    for cluster in graph.clusters.values():
        lines.append(f'  subgraph {cluster.id}["{mermaid_text(cluster.label)}"]')
        lines.append("    direction TB")
        grouped = {m for g in cluster.groups for m in graph.groups[g].members}
        for gid in cluster.groups:
            group = graph.groups[gid]
            lines.append(f'    subgraph {gid}["{mermaid_text(group.label)}"]')
            lines.extend(f'      {m}["{mermaid_text(graph.nodes[m].name)}<br/>'
                         f'{mermaid_text(graph.nodes[m].detail)}"]' for m in group.members)
            lines.append("    end")
        lines.extend(f'    {n}["{mermaid_text(graph.nodes[n].name)}<br/>'
                     f'{mermaid_text(graph.nodes[n].detail)}"]'
                     for n in cluster.nodes if n not in grouped)
        lines.append("  end")
    arrows = {"link": "---", "tap": "-.-", "port": "-.-", "vlan": "-.-", "patch": "==="}
    for edge in graph.edges:
        lines.append(f"  {edge.a} {arrows[edge.kind]} {edge.b}")
    lines.append(f"  classDef problem fill:#fdecea,stroke:{RED},stroke-width:3px,color:#a00000")
    bad_nodes = [n.id for n in graph.nodes.values() if n.problems]
    bad_boxes = [c.id for c in graph.clusters.values() if c.problems] + \
        [g.id for g in graph.groups.values() if g.problems]
    if bad_nodes or bad_boxes:
        lines.append(f"  class {','.join(bad_nodes + bad_boxes)} problem")
    for index, edge in enumerate(graph.edges):
        if edge.problems:
            lines.append(f"  linkStyle {index} stroke:{RED},stroke-width:3px")
    for node in graph.nodes.values():
        lines.extend(f"  %% problem {node.id}: {_comment(p)}" for p in node.problems)
    for edge in graph.edges:
        lines.extend(f"  %% problem {edge.a} --- {edge.b}: {_comment(p)}" for p in edge.problems)
    boxes = [(c.id, c.problems) for c in graph.clusters.values()] + \
        [(g.id, g.problems) for g in graph.groups.values()]
    for box_id, problems in boxes:
        lines.extend(f"  %% problem {box_id}: {_comment(p)}" for p in problems)
    return "\n".join(lines) + "\n"


# -- entry points ------------------------------------------------------------------------------

def diagram(result: RunResult, lang: str = "en", flows: list[Explanation] | None = None
            ) -> Graph:
    """The graph of ``result``'s topology with its problems marked, laid out."""
    graph = build_graph(result, lang)
    mark_problems(graph, result, flows)
    layout(graph)
    return graph


class EngineError(RuntimeError):
    pass


def render(result: RunResult, fmt: str = "svg", lang: str = "en", engine: str = "builtin"
           ) -> str:
    graph = diagram(result, lang)
    if fmt == "dot":
        return to_dot(graph)
    if fmt == "mermaid":
        return to_mermaid(graph)
    if engine == "dot":
        return run_dot(to_dot(graph))
    return to_svg(graph)


def run_dot(text: str) -> str:
    """``dot -Tsvg`` on ``text`` (graphviz must be on PATH)."""
    exe = shutil.which("dot")
    if exe is None:
        raise EngineError("graphviz's dot is not on PATH (apt-get install graphviz), "
                          "or use the built-in layout (--engine builtin)")
    proc = subprocess.run([exe, "-Tsvg"], input=text, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise EngineError(f"dot failed: {proc.stderr.strip()}")
    return proc.stdout
