"""The bond-mode x switch matrix (seed 002): which aggregate works under a VM
bridge with which switch configuration, each cell computed by simulation.

For every row (a bond mode or a teamd runner) and column (the switch ports
facing the host: no LAG, a static LAG, an LACP LAG that lets a silent member
forward individually, an LACP LAG with ``suspend-individual``) the host file
is rewritten, traffic runs both ways between every VM on the host and the
gateway, and the run is measured: probes lost, MAC moves on the switch and
on the host bridge, duplicate frames reaching VMs, one flow striped over
several links, VM frames leaving with a rewritten source MAC. The verdict and
the one-line reason come from those measurements and from the explanation of
the first lost probe; nothing here is looked up.

The vendor statements of semantics BD16 ride along in each cell (``sources``)
so a reader sees where the simulation and the documentation agree; for mode 3,
where the documents disagree, the cell's reason says which behaviour decides.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vnetlab.lab import RunResult

BOND_ROWS = ("balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb",
             "balance-alb")
TEAM_ROWS = ("roundrobin", "activebackup", "broadcast", "random", "loadbalance", "lacp")
ROWS = tuple(f"bond:{m}" for m in BOND_ROWS) + tuple(f"team:{r}" for r in TEAM_ROWS)
COLUMNS = ("no-lag", "static-lag", "lacp", "lacp-suspend")
COLUMN_TITLES = {"no-lag": "switch: no LAG", "static-lag": "static LAG (mode on)",
                 "lacp": "LACP (individual fallback)", "lacp-suspend": "LACP suspend-individual"}

SETTLE_NS = 10_000_000_000           # LACP forms (bonding's 8 s selection timer) or gives up
MEASURE_NS = 15_000_000_000          # past the first TLB/ALB rebalance (10 s ticks)
INTERVAL_NS = 500_000_000
BURST = 8
STRIPE_CHANGES = 3                   # a flow that changed port this often is striped

# What the documents say, per bond mode: "ok" / "no". The first three are the
# sources of semantics section 2.6 (BD16); the seed is the field report.
SECTION_2_6 = ("RHEL 6/7 virtualization guide", "RHV 4.x technical reference", "Red Hat KB 67546")
SOURCES: dict[str, dict[str, str]] = {
    "balance-rr": {"RHEL 6/7 virtualization guide": "no", "RHV 4.x technical reference": "no",
                   "Red Hat KB 67546": "no"},
    "active-backup": {"RHEL 6/7 virtualization guide": "ok", "RHV 4.x technical reference": "ok",
                      "Red Hat KB 67546": "ok (partially)"},
    "balance-xor": {"RHEL 6/7 virtualization guide": "ok", "RHV 4.x technical reference": "ok",
                    "Red Hat KB 67546": "ok (with EtherChannel)"},
    "broadcast": {"RHEL 6/7 virtualization guide": "no", "RHV 4.x technical reference": "ok"},
    "802.3ad": {"RHEL 6/7 virtualization guide": "ok", "RHV 4.x technical reference": "ok",
                "Red Hat KB 67546": "ok (with LACP)"},
    "balance-tlb": {"RHEL 6/7 virtualization guide": "no", "RHV 4.x technical reference": "no",
                    "Red Hat KB 67546": "no"},
    "balance-alb": {"RHEL 6/7 virtualization guide": "no", "RHV 4.x technical reference": "no",
                    "Red Hat KB 67546": "no", "seed 002 (CSDN)": "ok (recommended)"},
}
TEAM_EQUIVALENT = {"roundrobin": "balance-rr", "activebackup": "active-backup",
                   "broadcast": "broadcast", "loadbalance": "balance-xor", "lacp": "802.3ad"}


class MatrixError(Exception):
    """The host file cannot be turned into matrix cells (no aggregate, no router...)."""


@dataclass(slots=True)
class Flow:
    src: str
    dst: str
    sent: int
    replies: int

    @property
    def loss(self) -> float:
        return 1 - self.replies / self.sent if self.sent else 1.0


@dataclass(slots=True)
class Cell:
    row: str
    column: str
    verdict: str = ""
    loss_pct: float = 0.0
    sent: int = 0
    replies: int = 0
    switch_mac_moves: int = 0
    bridge_mac_moves: int = 0
    duplicates_to_vms: int = 0
    striped_flows: int = 0
    rewritten_src: int = 0
    reason: str = ""
    decisive: dict[str, Any] | None = None
    flows: list[Flow] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.row}/{self.column}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["flows"] = [asdict(f) | {"loss_pct": round(100 * f.loss, 1)} for f in self.flows]
        return data


# -- the host file and its cells -------------------------------------------------------

def standard_host() -> Path:
    return Path(str(resources.files(__package__).joinpath("standard-host.yaml")))


@dataclass(slots=True)
class Target:
    """What the matrix rewrites in the host file and the traffic it drives."""

    host: str
    agg_index: int
    agg_name: str
    ports: list[str]
    switch: str
    switch_ports: list[str]
    bridge: str
    vms: list[tuple[str, str]]          # (vm, ipv4)
    gateway: str
    gateway_ip: str


def find_target(data: dict[str, Any]) -> Target:
    """The first bond/team of a host whose ports are all cabled to one switch."""
    links = [tuple(str(e) for e in link.get("endpoints", ())) for link in data.get("links", [])]
    switches = data.get("switches", {}) or {}
    for host, hspec in (data.get("hosts", {}) or {}).items():
        interfaces = hspec.get("interfaces", []) or []
        for index, iface in enumerate(interfaces):
            if iface.get("type") not in ("bond", "team"):
                continue
            ports = _agg_ports(iface)
            peers: dict[str, str] = {}
            for a, b in links:
                for near, far in ((a, b), (b, a)):
                    node, _, name = near.partition(":")
                    if node == host and name in ports:
                        peers[name] = far
            sw_nodes = {p.partition(":")[0] for p in peers.values()}
            if len(peers) != len(ports) or len(sw_nodes) != 1 or not sw_nodes <= set(switches):
                continue
            switch = sw_nodes.pop()
            bridge = next((i.get("name") for i in interfaces if i.get("type") == "linux-bridge"
                           and iface.get("name") in _bridge_ports(i)), None)
            if bridge is None:
                raise MatrixError(f"{host}:{iface.get('name')} is not a port of a linux-bridge: "
                                  "the matrix asks about aggregates under a VM bridge")
            vms = []
            for vm, vspec in (data.get("vms", {}) or {}).items():
                if vspec.get("host") != host:
                    continue
                for nic in vspec.get("interfaces", []) or []:
                    address = (nic.get("ipv4") or {}).get("address")
                    if nic.get("source") == bridge and address:
                        vms.append((str(vm), str(address).partition("/")[0]))
                        break
            if not vms:
                raise MatrixError(f"no VM with an IPv4 address on {host}:{bridge}")
            gateway, gateway_ip = _gateway(data)
            return Target(str(host), index, str(iface.get("name")), ports, switch,
                          [peers[p].partition(":")[2] for p in ports], str(bridge), vms,
                          gateway, gateway_ip)
    raise MatrixError("no bond or team whose ports are all cabled to one switch")


def _agg_ports(iface: dict[str, Any]) -> list[str]:
    if iface.get("type") == "team":
        return [str(p["name"] if isinstance(p, dict) else p)
                for p in (iface.get("team", {}) or {}).get("ports", []) or []]
    agg = iface.get("link-aggregation") or iface.get("bond") or {}
    ports = agg.get("port") or agg.get("ports") or agg.get("slaves") or []
    return [str(p["name"] if isinstance(p, dict) else p) for p in ports]


def _bridge_ports(iface: dict[str, Any]) -> list[str]:
    bridge = iface.get("bridge", {}) or {}
    return [str(p["name"] if isinstance(p, dict) else p)
            for p in bridge.get("port", bridge.get("ports", [])) or []]


def _gateway(data: dict[str, Any]) -> tuple[str, str]:
    for name, router in (data.get("routers", {}) or {}).items():
        for iface in router.get("interfaces", []) or []:
            ipv4 = iface.get("ipv4")
            if isinstance(ipv4, str):
                return str(name), ipv4.partition("/")[0]
            if isinstance(ipv4, dict) and ipv4.get("address"):
                return str(name), str(ipv4["address"][0]["ip"])
    raise MatrixError("no router with an IPv4 address: the matrix needs a gateway behind the "
                      "switch")


def _gateway_mac(data: dict[str, Any], gateway: str) -> str:
    router = data["routers"][gateway]
    return str(router["interfaces"][0]["mac-address"])


def cell_data(data: dict[str, Any], target: Target, row: str, column: str) -> dict[str, Any]:
    """The host file rewritten for one cell (a deep copy; ``data`` is untouched)."""
    if row not in ROWS:
        raise MatrixError(f"unknown row '{row}' (rows: {', '.join(ROWS)})")
    if column not in COLUMNS:
        raise MatrixError(f"unknown column '{column}' (columns: {', '.join(COLUMNS)})")
    out = copy.deepcopy(data)
    kind, _, mode = row.partition(":")
    hosts = out["hosts"]
    old = hosts[target.host]["interfaces"][target.agg_index]
    iface: dict[str, Any] = {k: old[k] for k in ("name", "mac-address", "state", "ipv4")
                             if k in old}
    if kind == "bond":
        options = {"miimon": 100}
        old_agg = old.get("link-aggregation") or old.get("bond") or {}
        for key, value in (old_agg.get("options") or {}).items():
            if key in ("miimon", "updelay", "downdelay", "lacp_rate", "xmit_hash_policy"):
                options[key] = value
        iface |= {"type": "bond", "link-aggregation": {"mode": mode, "options": options,
                                                       "port": list(target.ports)}}
    else:
        iface |= {"type": "team", "team": {"ports": [{"name": p} for p in target.ports],
                                           "runner": {"name": mode}}}
    hosts[target.host]["interfaces"][target.agg_index] = iface
    switch = out["switches"][target.switch]
    lags = [lag for lag in switch.get("lags", []) or []
            if not set(lag.get("ports", [])) & set(target.switch_ports)]
    if column != "no-lag":
        lag: dict[str, Any] = {"name": "po-matrix", "ports": list(target.switch_ports),
                               "mode": "static" if column == "static-lag" else "lacp"}
        if column.startswith("lacp"):
            lag["lacp-fallback"] = "suspend" if column == "lacp-suspend" else "individual"
        lags.append(lag)
    switch["lags"] = lags
    count = MEASURE_NS // INTERVAL_NS
    run: list[dict[str, Any]] = []
    for vm, ip in target.vms:
        run.append({"at": f"{SETTLE_NS}ns", "ping": {"from": vm, "to": target.gateway_ip,
                                                    "count": count, "interval": f"{INTERVAL_NS}ns"}})
        run.append({"at": f"{SETTLE_NS + INTERVAL_NS // 2}ns",
                    "ping": {"from": target.gateway, "to": ip, "count": count,
                             "interval": f"{INTERVAL_NS}ns"}})
    gw_mac = _gateway_mac(data, target.gateway)
    for i, (vm, _) in enumerate(target.vms):     # a back-to-back burst: one flow, 8 frames
        run.append({"at": f"{SETTLE_NS + MEASURE_NS // 2 + i * 1_000_000}ns",
                    "send": {"from": vm, "dst": gw_mac, "count": BURST}})
    out["run"] = run
    out["expect"] = []
    out["duration"] = f"{SETTLE_NS + MEASURE_NS + 2_000_000_000}ns"
    out["name"] = f"matrix {row} / {column}"
    return out


def load_host(path: str | None) -> tuple[dict[str, Any], str, Target]:
    """Parse and validate the host file; TopologyError (file:line) or MatrixError."""
    from vnetlab.topology.load import load_topology_data, parse_yaml

    file = path or str(standard_host())
    data = parse_yaml(file)
    load_topology_data(data, file)               # the file itself must be valid
    if not isinstance(data, dict):
        raise MatrixError(f"{file}: not a mapping")
    return data, file, find_target(data)


def simulate_cell(data: dict[str, Any], file: str, target: Target, row: str, column: str,
                  trace: str = "full") -> RunResult:
    from vnetlab.lab import simulate
    from vnetlab.topology.load import load_topology_data

    spec = load_topology_data(cell_data(data, target, row, column), f"{file} [{row}/{column}]")
    return simulate(spec, trace=trace, measure=True)


# -- measuring a cell -------------------------------------------------------------------

def measure(result: RunResult, target: Target, row: str, column: str) -> Cell:
    from vnetlab.devices.aggregate import Aggregate
    from vnetlab.sim.trace import Action

    lab = result.lab
    cell = Cell(row, column)
    mode = row.partition(":")[2]
    base_mode = mode if row.startswith("bond:") else TEAM_EQUIVALENT.get(mode, "")
    cell.sources = dict(SOURCES.get(base_mode, {}))
    for vm, ip in target.vms:
        for src, dst in ((vm, target.gateway_ip), (target.gateway, ip)):
            cell.flows.append(Flow(src, dst, result.ping_sent(src, dst),
                                   result.ping_replies(src, dst)))
    cell.sent = sum(f.sent for f in cell.flows)
    cell.replies = sum(f.replies for f in cell.flows)
    cell.loss_pct = round(100 * (1 - cell.replies / cell.sent), 1) if cell.sent else 100.0
    bridge_where = f"{target.host}/{target.bridge}"
    for step in result.trace.steps:
        if step.action is Action.MOVE:
            if step.where == target.switch:
                cell.switch_mac_moves += 1
            elif step.where == bridge_where:
                cell.bridge_mac_moves += 1
    vm_names = {vm for vm, _ in target.vms}
    cell.duplicates_to_vms = sum(
        lab.endpoints[vm].duplicate_frames + sum(r.duplicates for s in lab.endpoints[vm].pings
                                                 for r in s.records) for vm in vm_names)
    agg = lab.devices[f"{target.host}:{target.agg_name}"]
    assert isinstance(agg, Aggregate)
    vm_macs = {lab.devices[f"{vm}:eth0"].mac for vm in vm_names}
    if base_mode != "broadcast":         # copies on every port are not striping
        cell.striped_flows = sum(1 for (src, *_), (_, changes, _) in agg.flow_ports.items()
                                 if src in vm_macs and changes >= STRIPE_CHANGES)
    cell.rewritten_src = agg.src_rewrites
    worst = max(cell.flows, key=lambda f: f.loss)
    if worst.loss >= 0.5:
        cell.verdict = "broken"
    elif (cell.loss_pct or cell.duplicates_to_vms or cell.bridge_mac_moves
          or cell.switch_mac_moves or cell.striped_flows or cell.rewritten_src):
        cell.verdict = "degraded"
    else:
        cell.verdict = "works"
    cell.reason, cell.decisive = _reason(result, cell, target, agg, base_mode)
    return cell


def _ref(step: Any) -> dict[str, Any]:
    return {"step": step.id, "frame": step.uid, "where": step.where, "fn": step.fn,
            "rule": step.rule, "reason": str(step.reason) if step.reason else ""}


def _reason(result: RunResult, cell: Cell, target: Target, agg: Any, base_mode: str
            ) -> tuple[str, dict[str, Any] | None]:
    """One line from the run, and the decisive step (frame and rule): the drop
    behind the first lost probe; else the step behind the most telling anomaly
    (a duplicate's fork, a rewritten source, a striped flow, a MAC move); else
    the step that kept the host safe (a flooded-back copy dropped at an
    inactive port, a flood not sent back into a LAG) or, failing that, how the
    aggregate transmitted."""
    from vnetlab.explain.explain import Explainer
    from vnetlab.net.addr import parse_ip4
    from vnetlab.sim.trace import Action, DropReason

    steps = result.trace.steps
    agg_where = f"{target.host}/{target.agg_name}"
    parts: list[tuple[str, Any]] = []             # (sentence, its decisive step or None)
    root: dict[str, Any] | None = None
    lossy = [f for f in cell.flows if f.replies < f.sent]
    if lossy:
        flow = max(lossy, key=lambda f: f.loss)
        answers = Explainer(result).ping(flow.src, parse_ip4(flow.dst))
        lost = f"{flow.src} -> {flow.dst} lost {flow.sent - flow.replies}/{flow.sent}"
        d = answers[0].decisive if answers else None
        if d is not None:
            text = f"{lost}: dropped at {d.where} ({d.reason}) [{d.fn}, {d.rule}]"
            c = answers[0].cause_step
            if c is not None:
                root = _ref(c)
                frame = f" (frame {c.uid})" if c.uid else ""
                text += f" because {c.where} {c.note}{frame} [{c.fn}, {c.rule}]"
            parts.append((text, d))
        else:
            parts.append((f"{lost}: {answers[0].verdict if answers else 'no explanation'}", None))
    if cell.duplicates_to_vms:
        parts.append(_duplicate_reason(result, target, agg_where))
    if cell.striped_flows:
        ports = ", ".join(sorted(agg.tx_frames))
        vm_macs = {result.lab.devices[f"{vm}:eth0"].mac for vm, _ in target.vms}
        uid = next((rec[2] for key, rec in agg.flow_ports.items()
                    if key[0] in vm_macs and rec[1] >= STRIPE_CHANGES), 0)
        example = next((st for st in steps if st.uid == uid and st.where == agg_where
                        and st.action is Action.FORWARD), None)
        frame = f" (e.g. frame {example.uid})" if example is not None else ""
        parts.append((f"{cell.striped_flows} VM flow(s) switched port frame by frame over "
                      f"{ports}{frame} [{agg.fn_tx}, {agg.rule_tx}]: a TCP flow would see "
                      "reordering", example))
    if cell.rewritten_src:
        example = next((st for st in steps if st.where == agg_where
                        and st.fn == "bond_do_alb_xmit"), None)
        frame = f" (e.g. frame {example.uid})" if example is not None else ""
        parts.append((f"{cell.rewritten_src} VM frames left a non-active slave with the slave's "
                      f"MAC as source{frame} [bond_do_alb_xmit, BD11]: the network sees VM IPs "
                      "behind a host NIC MAC (port security / IP source guard break)", example))
    if cell.bridge_mac_moves and not lossy:
        move = next(st for st in steps if st.action is Action.MOVE
                    and st.where == f"{target.host}/{target.bridge}")
        parts.append((f"{target.bridge} moved MACs {cell.bridge_mac_moves} times, first "
                      f"{move.note} (frame {move.uid}) [{move.fn}, {move.rule}]", move))
    if cell.switch_mac_moves and not lossy:
        move = next(st for st in steps if st.action is Action.MOVE and st.where == target.switch)
        parts.append((f"{target.switch} moved MACs {cell.switch_mac_moves} times, first "
                      f"{move.note} (frame {move.uid}) [{move.fn}, {move.rule}]", move))
    if not parts:
        used = ", ".join(f"{name} {count}" for name, count in sorted(agg.tx_frames.items()))
        guard = next((st for st in steps if st.action is Action.DROP
                      and st.where == agg_where and st.reason is DropReason.INACTIVE_PORT), None)
        if guard is None:
            guard = next((st for st in steps if st.action is Action.SKIP
                          and st.where == target.switch and st.reason is DropReason.SAME_PORT
                          and st.port == "po-matrix"), None)
        if guard is not None:
            kept = (f"what the switch sent back was stopped: frame {guard.uid} at {guard.where}"
                    f" ({guard.note}) [{guard.fn}, {guard.rule}]")
        else:
            guard = next((st for st in steps if st.where == agg_where
                          and st.action is Action.FORWARD), None)
            kept = "nothing came back"
        parts.append((f"all {cell.sent} probes answered; frames sent by {target.agg_name}: "
                      f"{used or 'none'} [{agg.fn_tx}, {agg.rule_tx}]; {kept}; no MAC moved, "
                      "no flow striped and no frame reached a VM twice", guard))
    reason = "; ".join(text for text, _ in parts)
    first = next((step for _, step in parts if step is not None), None)
    decisive = _ref(first) if first is not None else None
    if decisive is not None and root is not None:
        decisive["root"] = root
    if base_mode == "broadcast":
        reason += ("; sources disagree on mode 3 (RHV 4.x: compatible, RHEL 6/7: must not be "
                   "used): what decides it here is "
                   + ("the duplicate delivery of every frame (BD10)" if cell.duplicates_to_vms
                      else "the copies flooded back into the host (BD17a)" if lossy
                      else "nothing went wrong in this run"))
    return reason, decisive


def _duplicate_reason(result: RunResult, target: Target, agg_where: str) -> tuple[str, Any]:
    """Where the copies of a frame delivered twice to a VM parted ways: the
    same frame twice (a flood came back), or a request duplicated upstream
    that the gateway answered twice (ping's DUP!)."""
    from vnetlab.sim.trace import Action

    lab = result.lab
    steps = result.trace.steps
    count = sum(lab.endpoints[v].duplicate_frames
                + sum(r.duplicates for s in lab.endpoints[v].pings for r in s.records)
                for v, _ in target.vms)
    for vm, _ in target.vms:
        uid = lab.endpoints[vm].first_duplicate
        if not uid:
            continue
        arrivals = [s for s in steps if s.uid == uid and s.where.startswith(f"{vm}/")
                    and s.action is Action.RECEIVE]
        if len(arrivals) >= 2:
            a = result.trace.chain(arrivals[0].id)
            b = result.trace.chain(arrivals[1].id)
            common = [x for x, y in zip(a, b, strict=False) if x.id == y.id]
            fork = common[-1] if common else None
            if fork is not None:
                return (f"{count} duplicate frames reached VMs (e.g. frame {uid} reached {vm} "
                        f"twice: the copies parted at {fork.where}: {fork.note} "
                        f"[{fork.fn}, {fork.rule}])", fork)
    dup = next((s for s in steps if s.action is Action.PING and s.note.startswith("DUP!")
                and s.where in {v for v, _ in target.vms}), None)
    if dup is not None:
        sent = next((s for s in result.trace.chain(dup.id) if s.where == agg_where
                     and s.action is Action.FORWARD), None)
        how = (f": its request left {sent.where} on {sent.port} as well ({sent.note}) "
               f"[{sent.fn}, {sent.rule}] and the gateway answered every copy"
               if sent is not None else "")
        return (f"{count} duplicate frames reached VMs (e.g. {dup.where} got a DUP! reply, frame "
                f"{dup.uid}{how})", sent or dup)
    return f"{count} duplicate frames reached VMs", None


# -- the whole matrix ---------------------------------------------------------------------

def _cell_job(args: tuple[dict[str, Any], str, Target, str, str]) -> Cell:
    data, file, target, row, column = args
    return measure(simulate_cell(data, file, target, row, column), target, row, column)


def run_matrix(path: str | None = None, rows: tuple[str, ...] = ROWS,
               columns: tuple[str, ...] = COLUMNS, jobs: int = 1) -> list[Cell]:
    data, file, target = load_host(path)
    from vnetlab.topology.load import plain as plain_data

    plain = plain_data(data)
    work = [(plain, file, target, row, column) for row in rows for column in columns]
    if jobs <= 1 or len(work) < 4:
        return [_cell_job(w) for w in work]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(_cell_job, work, chunksize=max(1, len(work) // (jobs * 4))))




# -- output ----------------------------------------------------------------------------------

def to_markdown(cells: list[Cell]) -> str:
    rows = list(dict.fromkeys(c.row for c in cells))
    columns = list(dict.fromkeys(c.column for c in cells))
    by_key = {(c.row, c.column): c for c in cells}
    lines = ["| aggregate | " + " | ".join(COLUMN_TITLES[c] for c in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for row in rows:
        out = [f"`{row}`"]
        for column in columns:
            c = by_key[(row, column)]
            out.append(f"**{c.verdict}** {c.loss_pct:g}% loss, moves {c.switch_mac_moves}/"
                       f"{c.bridge_mac_moves}, dups {c.duplicates_to_vms}")
        lines.append("| " + " | ".join(out) + " |")
    lines.append("")
    lines.append("moves = MAC moves on the switch / on the host bridge; dups = duplicate frames "
                 "delivered to VMs.")
    lines.append("")
    for c in cells:
        lines.append(f"- `{c.row}` x `{c.column}`: **{c.verdict}**: {c.reason}")
    return "\n".join(lines) + "\n"
