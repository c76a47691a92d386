"""Is the VM's VLAN carried from its tap to its gateway? (semantics B16, B17, S1, D9;
docs/models/vlan.md; seeds 001, 004).

A VM frame is followed the way the models forward it, one stage at a time:

1. the host bridge (the built ``Bridge``'s VLAN groups: ``nbp_vlan_init``'s default
   PVID, the ports' ``vlan:``): with VLAN filtering the tap's PVID classifies the
   untagged frame (none: dropped, B17) and the uplink must be a member of that VLAN,
   tagged unless it is egress-untagged there; without filtering the frame leaves
   untagged, or tagged by a VLAN device the bridge enslaves (``ens224.100``);
2. the switch port facing the host's NIC (``SwitchPort.set_vlan``'s rules): an access
   port takes untagged frames into its VLAN and drops tagged ones (unless
   ``access-tagged: accept-access-vlan`` and the VID matches); a trunk takes the VIDs
   it allows and classifies untagged frames into its native VLAN;
3. the gateway (the VM's ``gateway`` address, wherever it is configured): the VLAN
   its own frames enter the same switch in must be the VM's.

Limits: one switch between host and gateway (a gateway behind a second switch is
not followed); Open vSwitch bridges are the ``ovs.*`` checks' business.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from vnetlab.doctor.checks.common import host_fix, traffic_probe
from vnetlab.doctor.edit import bridge_ports, interface, sub
from vnetlab.doctor.model import Check, Evidence, Finding, Fix, Text, register, text
from vnetlab.net.addr import ip4_str
from vnetlab.topology.spec import LinuxBridgeInterface, SwitchVlanSpec, VlanInterface

if TYPE_CHECKING:
    from vnetlab.doctor.context import Context

Doc = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Ingress:
    """What a switch port does with a frame: the VLAN it lands in, or why it is dropped."""

    vlan: int
    why: str = ""


def switch_ingress(config: SwitchVlanSpec | None, vid: int, access_tagged: str) -> Ingress:
    """802.1Q ingress at a switch port (devices/switch.py SwitchPort.set_vlan: ``pvid``
    and ``tagged_ok``); ``vid`` 0 is an untagged frame."""
    if config is None or config.mode == "access":
        access = config.access if config is not None else 1
        if not vid:
            return Ingress(access)
        if access_tagged == "accept-access-vlan" and vid == access:
            return Ingress(access)
        return Ingress(0, f"an access port of VLAN {access} drops frames tagged {vid}")
    allowed = config.allowed
    if not vid:
        native = config.native
        if native and (allowed is None or native in allowed):
            return Ingress(native)
        return Ingress(0, "a trunk without a native VLAN it allows drops untagged frames")
    if allowed is None or vid in allowed:
        return Ingress(vid)
    return Ingress(0, f"a trunk allowing {_vids(allowed)} drops frames tagged {vid}")


def _vids(vids: list[int] | None) -> str:
    if vids is None:
        return "all VLANs"
    return ", ".join(str(v) for v in vids[:12]) + (", ..." if len(vids) > 12 else "")


def _port_config(sw: Any, port: str) -> tuple[str, SwitchVlanSpec | None]:
    """The logical port whose VLAN settings apply (a LAG's own settings first, then
    the member's for a LACP member's individual fallback) and those settings."""
    lag = next((lag for lag in sw.lags if port in lag.ports), None)
    for name in ([lag.name] if lag is not None else []) + [port]:
        config = sw.port_config.get(name)
        if config is not None and config.vlan is not None:
            return name, config.vlan
    return (lag.name if lag is not None else port), None


@register
class VlanNotCarried(Check):
    id = "vlan.not-carried"
    severity = "error"
    title = "the VM's VLAN is not carried between its tap and its gateway"
    title_zh = "虚拟机的 VLAN 在其 tap 与网关之间没有被承载"
    rules = ("B16", "B17", "S1", "D9")
    references = ("docs/models/vlan.md", "bridge(8): bridge vlan",
                  "Cisco: switchport access vlan / switchport trunk allowed vlan", "seeds/001")
    texts: ClassVar[dict[str, tuple[str, str]]] = {
        "doctor.vlan.host_pvid": (
            "{bridge} filters VLANs and {tap} has no PVID ({vg}): every untagged frame {vm} "
            "sends is dropped as it enters {tap} (br_allowed_ingress, B17); {vm} reaches "
            "nothing, not even its gateway.",
            "{bridge} 开启了 VLAN 过滤，而 {tap} 没有 PVID（{vg}）：{vm} 发出的每个未打标签的帧"
            "在进入 {tap} 时就被丢弃（br_allowed_ingress，B17）；{vm} 什么都访问不到，连网关也不行。"),
        "doctor.vlan.host_uplink": (
            "{vm}'s frames are in VLAN {vid} inside {bridge} (the PVID of {tap}), but the "
            "uplink {uplink} is not a member of VLAN {vid} ({vg}): {bridge} never sends them "
            "off the host (br_allowed_egress, B17).",
            "{vm} 的帧在 {bridge} 内属于 VLAN {vid}（{tap} 的 PVID），但上联 {uplink} 不是 VLAN "
            "{vid} 的成员（{vg}）：{bridge} 从不把它们送出宿主机（br_allowed_egress，B17）。"),
        "doctor.vlan.switch_drop": (
            "{vm}'s frames leave {host} {how} and reach {switch}:{port}, and {why} (802.1Q "
            "ingress filtering, S1): nothing {vm} sends gets past the switch.",
            "{vm} 的帧{how}离开 {host}，到达 {switch}:{port}，而{why}（802.1Q 入口过滤，S1）："
            "{vm} 发出的任何帧都过不了交换机。"),
        "doctor.vlan.gateway": (
            "{vm}'s frames enter {switch} in VLAN {vid} at {port}, but its gateway {gateway} "
            "({owner}) is in VLAN {gw_vid} at {gw_port}: {switch} floods and forwards them in "
            "VLAN {vid} only, so they never reach the gateway (S1, D9).",
            "{vm} 的帧在 {port} 进入 {switch} 的 VLAN {vid}，而它的网关 {gateway}（{owner}）位于 "
            "{gw_port} 的 VLAN {gw_vid}：{switch} 只在 VLAN {vid} 内泛洪和转发这些帧，"
            "它们永远到不了网关（S1，D9）。"),
        "doctor.vlan.untagged": ("untagged", "不带标签"),
        "doctor.vlan.tagged": ("tagged {vid}", "带 VLAN {vid} 标签"),
    }

    def run(self, ctx: Context) -> list[Finding]:
        out = []
        for vm, spec_vm in ctx.spec.vms.items():
            host = spec_vm.host
            for i, nic in enumerate(spec_vm.interfaces):
                _, bridge = ctx.iface(host, nic.source)
                if not isinstance(bridge, LinuxBridgeInterface):
                    continue
                if not self._vlan_config_anywhere(ctx, host, bridge):
                    continue            # VLAN 1 untagged everywhere: nothing to get wrong
                found = self._follow(ctx, vm, i, host, bridge)
                if found is not None:
                    out.append(found)
        return out

    @staticmethod
    def _vlan_config_anywhere(ctx: Context, host: str, bridge: LinuxBridgeInterface) -> bool:
        if bridge.bridge.options.vlan_filtering or any(p.vlan for p in bridge.bridge.port):
            return True
        if any(isinstance(i, VlanInterface) for i in ctx.spec.hosts[host].interfaces):
            return True
        return any(c.vlan is not None for sw in ctx.spec.switches.values()
                   for c in sw.port_config.values())

    def _follow(self, ctx: Context, vm: str, index: int, host: str,
                bridge_spec: LinuxBridgeInterface) -> Finding | None:
        nic = ctx.spec.vms[vm].interfaces[index]
        tap = ctx.taps[(vm, index)]
        b_index, _ = ctx.iface(host, bridge_spec.name)
        bridge = ctx.lab.bridges[f"{host}:{bridge_spec.name}"]
        uplinks = ctx.uplinks(host, bridge_spec.name)
        if not uplinks:
            return None
        uplink = uplinks[0]
        ports = {p.name: p for p in bridge.ports}
        tap_port, up_port = ports.get(tap), ports.get(uplink)
        if tap_port is None or up_port is None:
            return None
        port_paths = {p.name: j for j, p in enumerate(bridge_spec.bridge.port)}
        base = ("hosts", host, "interfaces", b_index, "bridge")

        def port_evidence(name: str) -> Evidence:
            if name in port_paths:
                return ctx.config((*base, "port", port_paths[name], "vlan"),
                                  default="none (the default PVID only)")
            return ctx.config((*base, "port"), default=f"no entry for {name}")

        probe = traffic_probe(ctx, [vm])
        vid = 0
        if bridge.vlan_filtering:
            pvid = tap_port.vg.pvid
            options = ctx.config((*base, "options", "vlan-default-pvid"), default="1")
            if not pvid:
                carried = sorted(up_port.vg.vlans)
                target = carried[0] if carried else 1
                return self.finding(
                    ctx, host, vm, [port_evidence(tap), options],
                    text("doctor.vlan.host_pvid", bridge=bridge_spec.name, tap=tap, vm=vm,
                         vg=tap_port.vg.describe()),
                    [host_fix(host, f"bridge vlan add vid {target} dev {tap} pvid untagged")],
                    affected=[vm], probe=probe,
                    fixer=partial(_tap_access, host=host, bridge=bridge_spec.name, tap=tap,
                                  vid=target))
            if pvid not in up_port.vg.vlans:
                return self.finding(
                    ctx, host, vm, [port_evidence(tap), port_evidence(uplink)],
                    text("doctor.vlan.host_uplink", vm=vm, vid=pvid, bridge=bridge_spec.name,
                         tap=tap, uplink=uplink, vg=up_port.vg.describe()),
                    [host_fix(host, f"bridge vlan add vid {pvid} dev {uplink}")],
                    affected=[vm], probe=probe,
                    fixer=partial(_uplink_trunk, host=host, bridge=bridge_spec.name,
                                  uplink=uplink, vid=pvid))
            vid = 0 if up_port.vg.vlans[pvid] else pvid
        else:
            _, up_dev = ctx.iface(host, uplink)
            if isinstance(up_dev, VlanInterface):
                vid = up_dev.vlan.id
        nics = ctx.nics_below(host, uplink)
        facing = ctx.switch_port(host, nics[0]) if nics else None
        if facing is None:
            return None
        sw = facing.spec
        logical, config = _port_config(sw, facing.port)
        arrive = switch_ingress(config, vid, sw.access_tagged)
        cfg_evidence = ctx.config(("switches", facing.switch, "port-config", logical, "vlan"),
                                  default="access VLAN 1 (the default)")
        how: Text = text("doctor.vlan.tagged", vid=vid) if vid else text("doctor.vlan.untagged")
        if not arrive.vlan:
            allow_cmd = (f" switchport trunk allowed vlan add {vid}" if config is not None
                         and config.mode == "trunk" else f" switchport access vlan {vid or 1}")
            return self.finding(
                ctx, host, vm, [cfg_evidence],
                text("doctor.vlan.switch_drop", vm=vm, host=host, how=how,
                     switch=facing.switch, port=logical, why=arrive.why),
                [Fix(text("doctor.where.switch", switch=facing.switch),
                     (f"interface {logical}", allow_cmd))],
                affected=[vm], probe=probe,
                fixer=partial(_switch_carry, switch=facing.switch, port=logical, vid=vid))
        gateway = nic.ipv4.gateway if nic.ipv4 is not None else None
        if gateway is None:
            return None
        gw = self._gateway_vlan(ctx, gateway, facing.switch)
        if gw is None or gw[0] == arrive.vlan:
            return None
        gw_vid, gw_port, owner, gw_evidence = gw
        fix_cmd = (f" switchport access vlan {gw_vid}" if config is None
                   or config.mode == "access" else f" switchport trunk allowed vlan add {gw_vid}")
        return self.finding(
            ctx, host, vm, [cfg_evidence, gw_evidence],
            text("doctor.vlan.gateway", vm=vm, switch=facing.switch, vid=arrive.vlan,
                 port=logical, gateway=ip4_str(gateway), owner=owner, gw_vid=gw_vid,
                 gw_port=gw_port),
            [Fix(text("doctor.where.switch", switch=facing.switch),
                 (f"interface {logical}", fix_cmd))],
            affected=[vm], probe=probe,
            fixer=partial(_switch_access, switch=facing.switch, port=logical, vid=gw_vid)
            if config is None or config.mode == "access" else None)

    @staticmethod
    def _gateway_vlan(ctx: Context, gateway: int, switch: str
                      ) -> tuple[int, str, str, Evidence] | None:
        """(VLAN, port, owner, evidence) of the gateway's frames at ``switch``."""
        for r_name, router in ctx.spec.routers.items():
            for riface in router.interfaces:
                if riface.ipv4 is None or not any(a.ip == gateway for a in riface.ipv4.address):
                    continue
                base_name = riface.vlan.base_iface if riface.vlan is not None else riface.name
                peer = ctx.peer(r_name, base_name)
                if peer is None or peer[0] != switch:
                    return None
                sw = ctx.spec.switches[switch]
                logical, config = _port_config(sw, peer[1])
                arrive = switch_ingress(config, riface.vlan.id if riface.vlan else 0,
                                        sw.access_tagged)
                if not arrive.vlan:
                    return None
                evidence = ctx.config(("switches", switch, "port-config", logical, "vlan"),
                                      default="access VLAN 1 (the default)")
                return arrive.vlan, logical, f"{r_name}:{riface.name}", evidence
        return None


def _tap_access(doc: Doc, host: str, bridge: str, tap: str, vid: int) -> Doc:
    iface = interface(doc, host, bridge)
    assert iface is not None
    ports = bridge_ports(iface)
    entry = next((p for p in ports if isinstance(p, dict) and p.get("name") == tap), None)
    if entry is None:
        entry = {"name": tap}
        ports.append(entry)
    entry["vlan"] = {"mode": "access", "tag": vid}
    return doc


def _uplink_trunk(doc: Doc, host: str, bridge: str, uplink: str, vid: int) -> Doc:
    iface = interface(doc, host, bridge)
    assert iface is not None
    for port in bridge_ports(iface):
        if isinstance(port, dict) and port.get("name") == uplink:
            vlan = port.get("vlan")
            if not isinstance(vlan, dict):
                port["vlan"] = {"mode": "trunk", "trunk-tags": [{"id": vid}]}
            else:
                tags = vlan.setdefault("trunk-tags", [])
                vlan["mode"] = "trunk"
                tags.append({"id": vid})
    return doc


def _switch_carry(doc: Doc, switch: str, port: str, vid: int) -> Doc:
    sw = doc["switches"][switch]
    entry = sub(sub(sw, "port-config"), port)
    vlan = entry.get("vlan")
    if isinstance(vlan, dict) and vlan.get("mode") == "trunk":
        allowed = vlan.get("allowed")
        if isinstance(allowed, list):
            allowed.append(vid)
        elif isinstance(allowed, str):
            vlan["allowed"] = f"{allowed},{vid}"
    else:
        entry["vlan"] = {"mode": "access", "access": vid or 1}
    return doc


def _switch_access(doc: Doc, switch: str, port: str, vid: int) -> Doc:
    sw = doc["switches"][switch]
    entry = sub(sub(sw, "port-config"), port)
    entry["vlan"] = {"mode": "access", "access": vid}
    return doc
