"""``vnetlab doctor --prove``: the user's topology simulated as it is and with the fix.

For a finding whose check offers a fix (``fixer``) and a probe, the document is copied
twice, the probe's traffic replaces its ``run:``/``expect:`` (pings from each affected
VM to its gateway, ARP first; for DHCP checks the VMs' own DHCP clients, which start at
boot), the fix is applied to the second copy, and both run through ``lab.simulate``
(trace on, seed 0, at most ``MAX_RUN`` of simulated time). The verdicts are read from
the runs: echo replies received, leases held at the end; a failure is explained by
``explain.Explainer`` (the decisive step: where, the device's own sentence, the kernel
function, the rule). Nothing is looked up.

The harness. A host capture has no outside world: no switch, no gateway. Then the
proof adds one, and says so in its output: a switch ``doctor-sw`` cabled to every
ethernet NIC of the host (plain ports, no LAG: an assumption, stated), and an endpoint
``doctor-gw`` on it with the VMs' gateway address (or ``.254`` of their subnet, of the
bridge's, else of 192.168.250.0/24), in the VLAN the VMs' frames leave the host in, with
a DHCP server when a probe needs one. A topology that has a switch but not the
gateway a probe needs is not proved (it would mean inventing part of the user's
network).
"""

from __future__ import annotations

import copy
import ipaddress
from typing import TYPE_CHECKING, Any

from vnetlab.doctor.checks.common import HARNESS
from vnetlab.doctor.edit import plain_copy
from vnetlab.doctor.model import Finding, Probe, Text, text
from vnetlab.net.addr import ip4_str, parse_ip4_prefix
from vnetlab.sim.time import S, parse_duration
from vnetlab.topology.spec import EthernetInterface, VlanInterface

if TYPE_CHECKING:
    from vnetlab.doctor.context import Context
    from vnetlab.lab import RunResult

MAX_RUN = 120 * S
SEED = 0
SWITCH = f"{HARNESS}sw"
ENDPOINT = f"{HARNESS}gw"
DEFAULT_SUBNET = "192.168.250.0/24"

Doc = dict[str, Any]


class NotProvable(Exception):
    def __init__(self, why: Text) -> None:
        super().__init__(why.render())
        self.why = why


def prove(ctx: Context, finding: Finding) -> dict[str, Any]:
    """The proof of one finding, as the JSON ``prove`` object (see docs/doctor.md)."""
    out: dict[str, Any] = {"seed": SEED, "harness": None, "probes": []}
    try:
        if finding.fixer is None:
            raise NotProvable(text("doctor.prove.no_fix"))
        if finding.probe is None:
            raise NotProvable(text("doctor.prove.no_probe"))
        base = _with_probe(plain_copy(ctx.raw), finding.probe, ctx)
        harness = _harness(ctx, finding, base)
        if harness is not None:
            out["harness"] = harness
        fixed = finding.fixer(copy.deepcopy(base))
        before = _simulate(base)
        after = _simulate(fixed)
    except NotProvable as exc:
        out.update(status="not-proved", why=exc.why.render(), why_key=_text_json(exc.why))
        return out
    probes = _verdicts(finding.probe, before, after)
    out["probes"] = probes
    now_bad = any(p["before"]["verdict"] != "works" for p in probes)
    after_ok = all(p["after"]["verdict"] == "works" for p in probes)
    out["status"] = ("proved" if now_bad and after_ok else "unchanged" if not now_bad
                     else "not-fixed")
    return out


def _text_json(value: Text) -> dict[str, Any]:
    return {"key": value.key, "fields": {k: v.render() if isinstance(v, Text) else v
                                         for k, v in value.fields}}


def _with_probe(doc: Doc, probe: Probe, ctx: Context) -> Doc:
    for key in ("run", "expect", "duration", "captured"):     # captured: live state, not config
        doc.pop(key, None)
    for vm, i in sorted(ctx.guests):            # the checks' assumption, simulated as well
        nic = doc["vms"][vm]["interfaces"][i]
        if isinstance(nic, dict) and "ipv4" not in nic:
            nic["ipv4"] = {"dhcp": True}
    run: list[dict[str, Any]] = []
    for vm, dst, size, count in probe.pings:
        ping: dict[str, Any] = {"from": vm, "to": dst, "count": count, "interval": "1s"}
        if size != 56:
            ping.update(size=size, pmtudisc="do")
        run.append({"at": probe.start, "ping": ping})
    run.extend(copy.deepcopy(list(probe.actions)))
    if run:
        doc["run"] = run
    if probe.duration is not None:
        doc["duration"] = f"{min(parse_duration(probe.duration), MAX_RUN) // 1_000_000}ms"
    elif probe.dhcp:
        until = 0
        for ref in probe.dhcp:
            client = ctx.lab.dhcp.client(ref)
            if client is not None:
                until = max(until, client.params.boot_delay + client.horizon())
        doc["duration"] = f"{min(until + 5 * S, MAX_RUN) // 1_000_000}ms"
    return doc


def _simulate(doc: Doc) -> RunResult:
    from vnetlab.errors import TopologyError
    from vnetlab.lab import simulate
    from vnetlab.topology.load import load_topology_data

    try:
        spec = load_topology_data(doc, "<prove>")
    except TopologyError as exc:
        raise NotProvable(text("doctor.prove.invalid", error=exc.errors[0])) from None
    return simulate(spec, seed=SEED, trace="full")


def _verdicts(probe: Probe, before: RunResult, after: RunResult) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for vm, dst, size, _ in probe.pings:
        out.append({"kind": "ping", "vm": vm, "dst": dst, "size": size,
                    "before": _ping(before, vm, dst), "after": _ping(after, vm, dst)})
    within = parse_duration(probe.dhcp_within) if probe.dhcp_within is not None else None
    for ref in probe.dhcp:
        out.append({"kind": "dhcp", "vm": ref, "within_ns": within,
                    "before": _dhcp(before, ref, within), "after": _dhcp(after, ref, within)})
    return out


def _ping(result: RunResult, vm: str, dst: str) -> dict[str, Any]:
    from vnetlab.explain.explain import Explainer

    sent, replies = result.ping_sent(vm, dst), result.ping_replies(vm, dst)
    verdict = "works" if sent and replies == sent else "fails" if not replies else "partly"
    out: dict[str, Any] = {"verdict": verdict, "sent": sent, "replies": replies}
    if verdict != "works":
        from vnetlab.net.addr import parse_ip4

        for explanation in Explainer(result).ping(vm, parse_ip4(dst)):
            if explanation.decisive is not None:
                out["explain"] = _step(explanation.decisive)
                break
    return out


def _dhcp(result: RunResult, ref: str, within: int | None) -> dict[str, Any]:
    """The client's lease at ``within`` (default: the end of the run)."""
    from vnetlab.explain.explain import Explainer

    client = result.lab.dhcp.client(ref)
    if client is None:
        return {"verdict": "fails", "state": "no client"}
    status = client.status_at(result.sim.now if within is None else within)
    verdict = "works" if status.kind == "bound" else "fails"
    out: dict[str, Any] = {"verdict": verdict, "state": status.kind,
                           "address": ip4_str(status.address) if status.address else None,
                           "since_ns": status.since if status.kind != "none" else None}
    if verdict != "works":
        explanation = Explainer(result).dhcp(ref)
        if explanation.decisive is not None:
            out["explain"] = _step(explanation.decisive)
    return out


def _step(step: Any) -> dict[str, Any]:
    return {"where": step.where, "port": step.port, "note": step.note, "fn": step.fn,
            "rule": step.rule, "time_ns": step.time}


# -- the harness ---------------------------------------------------------------------------------

def _addresses(ctx: Context) -> set[int]:
    found: set[int] = set()
    for host in ctx.spec.hosts.values():
        for iface in host.interfaces:
            if iface.ipv4 is not None:
                found.update(a.ip for a in iface.ipv4.address)
    for router in ctx.spec.routers.values():
        for riface in router.interfaces:
            if riface.ipv4 is not None:
                found.update(a.ip for a in riface.ipv4.address)
    for vm in ctx.spec.vms.values():
        for nic in vm.interfaces:
            if nic.ipv4 is not None and nic.ipv4.address:
                found.add(parse_ip4_prefix(nic.ipv4.address)[0])
    for sw in ctx.spec.switches.values():
        for svi in getattr(sw, "svis", None) or []:
            ipv4 = getattr(svi, "ipv4", None)
            for address in getattr(ipv4, "address", []) or []:
                found.add(address.ip)
    return found


def _harness(ctx: Context, finding: Finding, doc: Doc) -> dict[str, Any] | None:
    """Add the outside world when the host has none (see the module docstring); the
    harness as it is reported, or None when the topology has what the probe needs."""
    probe = finding.probe
    assert probe is not None
    known = _addresses(ctx)
    servers = any(i.dhcp_server is not None for h in ctx.spec.hosts.values()
                  for i in h.interfaces) or any(r.dhcp_server is not None
                                                for rt in ctx.spec.routers.values()
                                                for r in rt.interfaces)
    missing_ping = [dst for _, dst, _, _ in probe.pings
                    if parse_ip4_prefix(dst + "/32")[0] not in known]
    missing_dhcp = bool(probe.dhcp) and not servers
    if not missing_ping and not missing_dhcp:
        return None
    host = finding.host
    linked = {end.partition(":")[0] for link in ctx.spec.links for end in link.endpoints
              if end.startswith(f"{host}:")}
    if linked or ctx.spec.switches:
        raise NotProvable(text("doctor.prove.outside",
                               what=", ".join(missing_ping) or "a DHCP server"))
    nics = [i.name for i in ctx.spec.hosts[host].interfaces if isinstance(i, EthernetInterface)]
    if not nics:
        raise NotProvable(text("doctor.prove.no_nic", host=host))
    # the endpoint's interfaces: one per (VLAN, subnet) the affected VMs need
    wanted: dict[tuple[int, str], tuple[str, bool]] = {}
    for vm in finding.affected or list(ctx.spec.vms):
        spec_vm = ctx.spec.vms.get(vm)
        if spec_vm is None or spec_vm.host != host:
            continue
        for nic in spec_vm.interfaces:
            vid = _leaves_tagged(ctx, host, nic.source)
            ipv4 = nic.ipv4
            if ipv4 is not None and ipv4.address:
                net = ipaddress.ip_interface(ipv4.address).network
                gateway = ip4_str(ipv4.gateway) if ipv4.gateway is not None \
                    else str(net.broadcast_address - 1)
                wanted.setdefault((vid, str(net)), (gateway, False))
            elif ipv4 is not None and ipv4.dhcp:
                net = _bridge_subnet(ctx, host, nic.source)
                wanted[(vid, str(net))] = (str(net.broadcast_address - 1), True)
    if not wanted:
        raise NotProvable(text("doctor.prove.no_probe"))
    ports = [f"p{i + 1}" for i in range(len(nics) + 1)]
    trunk = any(vid for vid, _ in wanted)
    switch: dict[str, Any] = {"ports": ports}
    if trunk:
        switch["port-config"] = {p: {"vlan": {"mode": "trunk"}} for p in ports}
    doc.setdefault("switches", {})[SWITCH] = switch
    links = doc.setdefault("links", [])
    links.extend({"endpoints": [f"{host}:{nic}", f"{SWITCH}:{port}"]}
                 for nic, port in zip(nics, ports, strict=False))
    links.append({"endpoints": [f"{ENDPOINT}:eth0", f"{SWITCH}:{ports[-1]}"]})
    interfaces: list[dict[str, Any]] = [{"name": "eth0", "mac-address": "02:d0:c7:00:00:01"}]
    shown_addr, pools = [], []
    untagged_used = False
    for (vid, net_text), (gateway, dhcp) in sorted(wanted.items()):
        net = ipaddress.ip_network(net_text)
        address = f"{gateway}/{net.prefixlen}"
        entry: dict[str, Any]
        if vid:
            entry = {"name": f"eth0.{vid}", "type": "vlan",
                     "vlan": {"base-iface": "eth0", "id": vid}, "ipv4": address}
            interfaces.append(entry)
        elif not untagged_used:
            entry = interfaces[0]
            entry["ipv4"] = address
            untagged_used = True
        else:
            continue                    # one untagged subnet per harness endpoint
        if dhcp:
            hosts = list(net.hosts())
            first, last = hosts[min(99, len(hosts) // 3)], hosts[min(198, len(hosts) - 2)]
            entry["dhcp-server"] = {"pool": f"{first}-{last}", "router": gateway}
            pools.append(f"{first}-{last}")
        shown_addr.append(address + (f" (VLAN {vid})" if vid else ""))
    doc.setdefault("routers", {})[ENDPOINT] = {"interfaces": interfaces}
    return {"switch": SWITCH, "endpoint": ENDPOINT, "nics": nics, "addresses": shown_addr,
            "dhcp_pools": pools, "host": host}


def _leaves_tagged(ctx: Context, host: str, bridge: str) -> int:
    """The VID a bridge's traffic leaves the host with when its uplink is a VLAN device."""
    for uplink in ctx.uplinks(host, bridge):
        _, dev = ctx.iface(host, uplink)
        if isinstance(dev, VlanInterface):
            return dev.vlan.id
    return 0


def _bridge_subnet(ctx: Context, host: str, bridge: str) -> ipaddress.IPv4Network:
    _, dev = ctx.iface(host, bridge)
    ipv4 = getattr(dev, "ipv4", None)
    if ipv4 is not None and ipv4.address:
        first = ipv4.address[0]
        return ipaddress.IPv4Network(f"{ip4_str(first.ip)}/{first.prefix_length}", strict=False)
    return ipaddress.IPv4Network(DEFAULT_SUBNET)
