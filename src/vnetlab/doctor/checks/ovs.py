"""Open vSwitch checks: a VM port left on Neutron's dead VLAN (semantics O1, O2).

A port is on the dead VLAN when its configuration is what ``ovs_lib`` / os-vif
(``isolate_vif``) give a port nobody has bound yet: ``tag=4095`` with ``vlan_mode=trunk``
and ``trunks=[4095]``, or an access port on VLAN 4095. ``devices/ovs.py`` decides what
that means for a frame exactly as ``input_vid_is_valid`` does: every untagged frame from
the port is dropped before learning (a trunk that does not trunk VLAN 0), or (access 4095)
it lands in a VLAN no other port is in. The VM behind it sends nothing that leaves br-int:
no DHCP, no ARP, no announcement after a migration.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from vnetlab.doctor.checks.common import host_fix, traffic_probe
from vnetlab.doctor.edit import interface
from vnetlab.doctor.model import Check, Finding, Fix, register, text
from vnetlab.topology.spec import OvsBridgeInterface

if TYPE_CHECKING:
    from vnetlab.doctor.context import Context

Doc = dict[str, Any]
DEAD_VLAN = 4095


def _dead(port: Any) -> bool:
    """The Port columns of ``port``'s ``vlan:`` put it on the dead VLAN (O1)."""
    from vnetlab.topology.build import ovs_port_vlan

    if port.vlan is None:
        return False
    mode, tag, trunks = ovs_port_vlan(port).effective()
    return (mode == "access" and tag == DEAD_VLAN) or (
        mode != "access" and trunks is not None and trunks <= {DEAD_VLAN})


def _live_tag(doc: Doc, host: str, bridge: str) -> int:
    """The local VLAN the other ports of ``bridge`` are on (the most used access tag),
    else 1: what ``port_bound`` would give the port of that network."""
    iface = interface(doc, host, bridge) or {}
    tags: dict[int, int] = {}
    for port in (iface.get("bridge") or {}).get("port") or []:
        vlan = port.get("vlan") if isinstance(port, dict) else None
        if isinstance(vlan, dict) and vlan.get("mode", "access") == "access" \
                and isinstance(vlan.get("tag"), int) and vlan["tag"] != DEAD_VLAN:
            tags[vlan["tag"]] = tags.get(vlan["tag"], 0) + 1
    return max(tags, key=lambda t: (tags[t], -t)) if tags else 1


def _bind(doc: Doc, host: str, bridge: str, index: int, tag: int) -> Doc:
    """What the agent's ``port_bound`` does: the local VLAN as an access tag, the dead
    VLAN's trunk settings cleared."""
    iface = interface(doc, host, bridge)
    assert iface is not None
    iface["bridge"]["port"][index]["vlan"] = {"mode": "access", "tag": tag}
    return doc


@register
class PortDeadVlan(Check):
    id = "ovs.port-dead-vlan"
    severity = "error"
    title = "a VM port left on Neutron's dead VLAN 4095 (not bound by the L2 agent)"
    title_zh = "虚拟机端口停留在 Neutron 的死 VLAN 4095 上（L2 agent 未绑定）"
    rules = ("O1", "O2")
    references = ("neutron/agent/common/ovs_lib.py: DEAD_VLAN_TAG, _set_port_dead "
                  "(LP#1767422, LP#1930414)",
                  "openvswitch ofproto/ofproto-dpif-xlate.c: input_vid_is_valid",
                  "https://bugs.launchpad.net/neutron/+bug/1901707", "seeds/003")
    texts: ClassVar[dict[str, tuple[str, str]]] = {"doctor.ovs.dead_vlan": (
        "{port} on {bridge} is on the dead VLAN 4095 ({how}): Open vSwitch drops every "
        "untagged frame from it before learning (input_vid_is_valid: VLAN 0 is not trunked), "
        "so {vms} can send nothing that leaves {bridge}: no DHCP, no ARP, and after a live "
        "migration no RARP or GARP reaches the switches, which keep the VM on its old host "
        "(O1). The Neutron agent sets the port's local VLAN when it binds it (port_bound, O2): "
        "a port that stays dead was never bound on this host.",
        "{bridge} 上的 {port} 处于死 VLAN 4095（{how}）：Open vSwitch 在学习之前就丢弃它发来的"
        "每个不带 tag 的帧（input_vid_is_valid：VLAN 0 不在 trunk 中），所以 {vms} 发出的任何"
        "帧都出不了 {bridge}：没有 DHCP、没有 ARP，热迁移之后也没有 RARP 或 GARP 到达交换机，"
        "交换机仍把虚拟机记在原宿主机上（O1）。Neutron agent 绑定端口时才会设置本地 VLAN"
        "（port_bound，O2）：一直处于死 VLAN 的端口从未在本宿主机上被绑定。")}

    def run(self, ctx: Context) -> list[Finding]:
        out: list[Finding] = []
        for host, spec in ctx.spec.hosts.items():
            for iface in spec.interfaces:
                if not isinstance(iface, OvsBridgeInterface):
                    continue
                for index, port in enumerate(iface.bridge.port):
                    if not _dead(port):
                        continue
                    path = (*ctx.iface_path(host, iface.name), "bridge", "port", index, "vlan")
                    vms = [vm for vm, _, _, tap in ctx.vm_nics(host, iface.name)
                           if tap == port.name] or [vm for vm, vm_spec in ctx.spec.vms.items()
                                                    if vm_spec.host == host and any(
                                                        nic.source == iface.name
                                                        for nic in vm_spec.interfaces)]
                    how = ("vlan_mode=trunk, trunks=[4095]" if port.vlan is not None
                           and port.vlan.mode != "access" else "access port, tag=4095")
                    fixes: list[Fix] = [host_fix(
                        host,
                        f"ovs-vsctl get Port {port.name} tag vlan_mode trunks",
                        f"openstack port list --device-id <{vms[0] if vms else 'instance'}> "
                        "-c ID -c Status -c binding_host_id",
                        "journalctl -u neutron-openvswitch-agent | grep "
                        f"{port.name[3:] if port.name.startswith(('qvo', 'tap')) else port.name}",
                        "systemctl restart neutron-openvswitch-agent   # re-processes every port",
                    )]
                    tag = _live_tag(ctx.raw, host, iface.name)
                    out.append(self.finding(
                        ctx, host, f"{iface.name}:{port.name}", [ctx.config(path)],
                        text("doctor.ovs.dead_vlan", port=port.name, bridge=iface.name,
                             how=how, vms=", ".join(vms) or "the VM behind it"),
                        fixes, affected=vms,
                        fixer=partial(_bind, host=host, bridge=iface.name, index=index,
                                      tag=tag),
                        probe=traffic_probe(ctx, vms) if vms else None))
        return out
