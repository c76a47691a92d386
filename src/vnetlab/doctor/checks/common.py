"""What several checks share: the switch side of a host's NICs, the VMs behind a
bridge, the probes that show a hazard, the commands of common fixes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vnetlab.doctor.model import Evidence, Fix, Probe, text
from vnetlab.net.addr import ip4_str

if TYPE_CHECKING:
    from vnetlab.doctor.context import Context, SwitchFacing

HARNESS = "doctor-"          # names the prove harness gives its switch and endpoint


@dataclass(frozen=True, slots=True)
class SwitchSide:
    """What the switch does with a host's NICs (S1, S3-S5):

    * ``unknown``: a NIC is cabled to no described switch;
    * ``no-lag``: the NICs are separate logical ports (no LAG, or different LAGs/switches);
    * ``static``: one static LAG ("mode on");
    * ``lacp``: one LACP LAG (``fallback``: individual | suspend, what a member does
      when the host speaks no LACP).
    """

    state: str
    switch: str = ""
    ports: tuple[str, ...] = ()
    lag: str = ""
    lag_index: int | None = None
    fallback: str = ""
    harness: bool = False


def switch_side(ctx: Context, host: str, nics: list[str]) -> SwitchSide:
    facing: list[SwitchFacing | None] = [ctx.switch_port(host, n) for n in nics]
    found = [f for f in facing if f is not None]
    if not nics or len(found) != len(facing):
        return SwitchSide("unknown")
    switches = {f.switch for f in found}
    ports = tuple(f.port for f in found)
    name = found[0].switch
    harness = name.startswith(HARNESS)
    if len(switches) > 1:
        return SwitchSide("no-lag", ", ".join(sorted(switches)), ports, harness=harness)
    lags = {f.lag.name if f.lag is not None else None for f in found}
    first = found[0]
    if len(lags) != 1 or first.lag is None:
        return SwitchSide("no-lag", name, ports, harness=harness)
    if first.lag.mode == "static":
        return SwitchSide("static", name, ports, first.lag.name, first.lag_index, harness=harness)
    return SwitchSide("lacp", name, ports, first.lag.name, first.lag_index,
                      first.lag.lacp_fallback, harness=harness)


def switch_evidence(ctx: Context, side: SwitchSide) -> list[Evidence]:
    if side.state == "unknown" or side.harness:
        return []
    sw = side.switch.split(", ")[0]
    if side.lag_index is not None:
        return [ctx.config(("switches", sw, "lags", side.lag_index))]
    return [ctx.config(("switches", sw, "lags"), default="[] (no LAG)")]


def lag_fix(side: SwitchSide, nics: list[str], mode: str) -> Fix:
    """Cisco IOS lines for one port-channel over the ports facing ``nics``."""
    channel = "on" if mode == "static" else "active"
    if side.state == "unknown" or side.harness or not side.ports:
        ports = ", ".join(f"<port cabled to {n}>" for n in nics)
        where = text("doctor.where.switch_unknown", nics=", ".join(nics))
    else:
        ports = ", ".join(side.ports)
        where = text("doctor.where.switch", switch=side.switch)
    return Fix(where, (f"interface range {ports}", f" channel-group 1 mode {channel}"))


def host_fix(host: str, *commands: str) -> Fix:
    return Fix(text("doctor.where.host", host=host), tuple(commands))


def vm_names(ctx: Context, host: str, bridge: str | None) -> list[str]:
    if bridge is None:
        return []
    return list(dict.fromkeys(vm for vm, _, _, _ in ctx.vm_nics(host, bridge)))


def traffic_probe(ctx: Context, vms: list[str], *, size: int = 56, count: int = 4,
                  actions: tuple[dict[str, Any], ...] = (), duration: str | None = "8s",
                  dhcp_too: bool = True, start: str = "1s", dhcp_within: str | None = None
                  ) -> Probe | None:
    """Pings from each VM NIC with a static address to its gateway (ARP first, then
    echo requests), and the DHCP outcome of each VM NIC that uses DHCP."""
    pings: list[tuple[str, str, int, int]] = []
    dhcp: list[str] = []
    for vm in vms:
        spec_vm = ctx.spec.vms[vm]
        for i, nic in enumerate(spec_vm.interfaces):
            ipv4 = nic.ipv4
            if ipv4 is None:
                continue
            if ipv4.dhcp and dhcp_too:
                dhcp.append(f"{vm}:eth{i}")
            elif ipv4.address and ipv4.gateway is not None:
                pings.append((vm, ip4_str(ipv4.gateway), size, count))
    if not pings and not dhcp:
        return None
    # DHCP: the simulator's own default run length covers the clients' first attempt
    return Probe(tuple(pings), tuple(dhcp), actions, None if dhcp else duration,
                 dhcp_clients=bool(dhcp), start=start, dhcp_within=dhcp_within)


def lacp_probe(ctx: Context, vms: list[str]) -> Probe | None:
    """Pings after an LACP negotiation has settled (bonding's 8 s aggregator selection
    timer, BD12, after the first LACPDU exchange), for hazards and fixes involving LACP."""
    return traffic_probe(ctx, vms, start="12s", duration="20s")


def nmcli_up(name: str) -> str:
    return f"nmcli connection up {name}"


def bridge_port_index(ctx: Context, host: str, bridge: str, names: set[str]) -> tuple[int, str] | None:
    """(index, name) of the first port of ``bridge`` named in ``names``."""
    _, dev = ctx.iface(host, bridge)
    ports = getattr(getattr(dev, "bridge", None), "port", [])
    for j, port in enumerate(ports):
        if port.name in names:
            return j, port.name
    return None


def carriers(ctx: Context, host: str, name: str) -> set[str]:
    """``name`` and the VLAN devices on top of it: what a bridge above may enslave."""
    from vnetlab.topology.spec import VlanInterface

    out = {name}
    for iface in ctx.spec.hosts[host].interfaces:
        if isinstance(iface, VlanInterface) and iface.vlan.base_iface in out:
            out.add(iface.name)
    return out


def vm_macs(ctx: Context, host: str) -> dict[int, tuple[str, int]]:
    """Guest MACs of the VMs on ``host``: MAC -> (vm, NIC index)."""
    return {nic.mac: (vm, i) for vm, i, nic, _ in ctx.vm_nics(host)}
