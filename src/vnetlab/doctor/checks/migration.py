"""Live-migration checks: QEMU's announcements against the destination port's binding
(semantics V5, V6, O1, O4-O6; seed 003 case 2).

QEMU announces a migrated guest right when it resumes (V6): with the default
parameters five RARPs within 0.8 s (V5, ``AnnounceParams``). The destination port was
plugged at ``pre_live_migration`` on the dead VLAN (O1) and is wired by the L2 agent
``bind-delay`` after it appeared, or, with ``wiring: after-activation`` (LP#1901707),
only after Nova activates the binding, once the guest already runs. Unless Nova waits
for ``network-vif-plugged`` before the transfer (O6), the announcements race the agent;
an announcement sent before the wiring dies on br-int and the switches keep the VM on
its old host until the VM itself transmits.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from vnetlab.doctor.model import Check, Finding, Fix, Probe, register, text
from vnetlab.net.addr import ip4_str, parse_ip4_prefix
from vnetlab.sim.time import format_duration

if TYPE_CHECKING:
    from vnetlab.doctor.context import Context

Doc = dict[str, Any]


def _window() -> int:
    """The time from the resume to the last RARP with QEMU's defaults (V5)."""
    from vnetlab.devices.qemu import AnnounceParams

    p = AnnounceParams()
    end, left = 0, p.rounds
    for done in range(1, p.rounds):
        left = p.rounds - done
        delay = p.initial + (p.rounds - left - 1) * p.step
        end += p.max if delay < 0 or delay > p.max else delay
    return end


def _fix(doc: Doc, after_activation: bool) -> Doc:
    os_doc = doc.setdefault("openstack", {})
    os_doc.setdefault("nova", {})["live-migration-wait-for-vif-plug"] = True
    if after_activation:
        os_doc.setdefault("agent", {})["wiring"] = "on-plug"
    return doc


def _probe(ctx: Context) -> Probe | None:
    """Migrate the first VM with a Neutron port to another compute host while it pings a
    peer on its network every second (the pause falls between two pings)."""
    os_spec = ctx.spec.openstack
    assert os_spec is not None
    computes = [h for h, spec in ctx.spec.hosts.items()
                if {i.name for i in spec.interfaces}
                & ({os_spec.agent.integration_bridge} | set(os_spec.agent.bridge_mappings.values()))]
    for vm, spec in ctx.spec.vms.items():
        nics = [n for n in spec.interfaces if n.network is not None and n.ipv4 is not None
                and n.ipv4.address]
        if not nics:
            continue
        peers = [ip4_str(parse_ip4_prefix(n.ipv4.address)[0])
                 for other, o in ctx.spec.vms.items() if other != vm
                 for n in o.interfaces if n.network == nics[0].network
                 and n.ipv4 is not None and n.ipv4.address]
        target = next((h for h in computes if h != spec.host), None)
        if not peers or target is None:
            continue
        migrate = {"at": "1500ms", "migrate": {"vm": vm, "to": target, "transfer": "2s",
                                               "downtime": "100ms", "guest-announce": False}}
        return Probe(((vm, peers[0], 56, 10),), (), (migrate,), "12s", start="1s")
    return None


@register
class AnnounceVsBinding(Check):
    id = "migration.announce-vs-binding"
    severity = "warning"
    title = "live migration: QEMU's announcements can leave before the port is wired"
    title_zh = "热迁移：QEMU 的通告可能在端口接线之前发出"
    rules = ("V5", "V6", "O1", "O4", "O5", "O6")
    references = ("nova/conf/compute.py: live_migration_wait_for_vif_plug",
                  "https://bugs.launchpad.net/neutron/+bug/1901707 (Neutron f8a22c7d4a)",
                  "qemu net/announce.c, migration/options.c (announce-rounds)", "seeds/003")
    texts: ClassVar[dict[str, tuple[str, str]]] = {"doctor.migration.race": (
        "Nova does not wait for network-vif-plugged before it migrates ({why}), so a migrated "
        "VM resumes on a port the Neutron agent may not have wired yet: QEMU sends its RARPs "
        "within {window} of the resume (V5, V6), the agent wires the port {bind} after it "
        "appears{after}, and every announcement sent before that {dies}. The switches then "
        "keep the VM on its old host until the VM itself sends a frame: "
        "the seed's outage \"1-2 times in 10\". `vnetlab sweep` measures the probability.",
        "Nova 在迁移之前不等待 network-vif-plugged（{why}），所以迁移后的虚拟机可能在 Neutron "
        "agent 尚未接线的端口上恢复运行：QEMU 在恢复运行后 {window} 内发出 RARP（V5、V6），"
        "agent 在端口出现 {bind} 之后才完成接线{after}，在此之前发出的通告{dies}。"
        "交换机于是一直把虚拟机记在原宿主机上，直到虚拟机自己发出帧："
        "即种子报告中“10 次里出现 1-2 次”的中断。用 `vnetlab sweep` 可以测出概率。"),
        "doctor.migration.after": (
            ", and only once Nova has activated the binding (wiring after-activation, "
            "LP#1901707)",
            "，而且要等 Nova 激活绑定之后（wiring after-activation，LP#1901707）"),
        "doctor.migration.no_wait": ("live_migration_wait_for_vif_plug = False",
                                     "live_migration_wait_for_vif_plug = False"),
        "doctor.migration.wait_useless": (
            "it waits, but the agent does not wire an inactive binding",
            "它会等待，但 agent 不为未激活的绑定接线"),
        "doctor.migration.dies_ovs": ("dies on the dead VLAN of br-int (O1)",
                                      "都在 br-int 的死 VLAN 上被丢弃（O1）"),
        "doctor.migration.dies_lb": (
            "stays in the brq bridge, which has no VLAN interface to the physical network yet "
            "(O7, field report O8)",
            "都留在 brq 网桥里，因为它还没有通往物理网络的 VLAN 接口（O7，现场报告 O8）"),
        "doctor.where.nova": ("nova.conf on every compute host", "每台计算节点的 nova.conf"),
        "doctor.where.neutron": ("Neutron (server and agents)", "Neutron（服务端和 agent）")}

    def run(self, ctx: Context) -> list[Finding]:
        os_spec = ctx.spec.openstack
        if os_spec is None or not any(n.network is not None for vm in ctx.spec.vms.values()
                                      for n in vm.interfaces):
            return []
        wait = os_spec.nova.live_migration_wait_for_vif_plug
        after = os_spec.agent.wiring == "after-activation"
        if wait and not after:
            return []
        evidence = [ctx.config(("openstack", "nova", "live-migration-wait-for-vif-plug"),
                               default="True (current Nova)"),
                    ctx.config(("openstack", "agent", "wiring"), default="on-plug"),
                    ctx.config(("openstack", "agent", "bind-delay"), default="1s")]
        fixes = [Fix(text("doctor.where.nova"),
                     ("crudini --set /etc/nova/nova.conf compute "
                      "live_migration_wait_for_vif_plug True",
                      "systemctl restart openstack-nova-compute   # nova-compute on Debian"))]
        if after:
            fixes.append(Fix(text("doctor.where.neutron"),
                             ("upgrade Neutron to a release with f8a22c7d4a (Xena or later; "
                              "backported as [nova] live_migration_events = True)",)))
        fixes.append(Fix(text("doctor.where.host", host="<source compute host>"),
                         ("virsh qemu-monitor-command <domain> --hmp "
                          "'migrate_set_parameter announce-rounds 10'   "
                          "# more RARPs: narrows the window, does not close it",)))
        host = next(iter(ctx.spec.hosts), "")
        vms = [vm for vm, spec in ctx.spec.vms.items()
               if any(n.network is not None for n in spec.interfaces)]
        return [self.finding(
            ctx, host, "openstack", evidence,
            text("doctor.migration.race",
                 why=text("doctor.migration.wait_useless") if wait
                 else text("doctor.migration.no_wait"),
                 window=format_duration(_window()),
                 bind=format_duration(os_spec.agent.bind_delay),
                 after=text("doctor.migration.after") if after else "",
                 dies=text("doctor.migration.dies_lb" if os_spec.agent.type == "linuxbridge"
                           else "doctor.migration.dies_ovs")),
            fixes, affected=vms, fixer=partial(_fix, after_activation=after),
            probe=_probe(ctx))]
