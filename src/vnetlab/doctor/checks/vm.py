"""VM NICs against the rest of their segment: duplicate MACs, a guest MAC that is a
host device's own (a local FDB entry: never forwarded), and an MTU larger than the
path (semantics V1, B2c, B4.4, B7.3, B7.4, S1, MTU1-MTU4; seeds 001, 004).

A MAC conflict only matters on one broadcast domain (``context.l2_domains``); a
tap's MAC is what libvirt gives it (``net.addr.tap_mac``: 0xFE first byte, V1)
unless the topology sets ``tap-mac``. The MTUs are the built devices' own (the
bridge follows its ports, an aggregate's ports take its MTU, MTU1).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from vnetlab.doctor.checks.common import host_fix, traffic_probe
from vnetlab.doctor.context import l2_domains
from vnetlab.doctor.edit import fresh_mac, interface
from vnetlab.doctor.model import Check, Evidence, Finding, Fix, register, text
from vnetlab.net.addr import mac_str, tap_mac

if TYPE_CHECKING:
    from vnetlab.doctor.context import Context

Doc = dict[str, Any]


def _used_macs(ctx: Context) -> set[int]:
    used = {nic.mac for vm in ctx.spec.vms.values() for nic in vm.interfaces}
    used |= {i.mac_address for h in ctx.spec.hosts.values() for i in h.interfaces
             if i.mac_address is not None}
    return used


def _new_mac_cmds(vm: str, index: int, old: int, new: str) -> Fix:
    return Fix(text("doctor.where.libvirt", vm=vm),
               (f"virsh shutdown {vm}",
                f"virt-xml {vm} --edit {index + 1} --network mac.address={new}   "
                f"# was {mac_str(old)}",
                f"virsh start {vm}"))


def _set_vm_mac(doc: Doc, vm: str, index: int, mac: str) -> Doc:
    doc["vms"][vm]["interfaces"][index]["mac"] = mac
    return doc


def _drop_tap_mac(doc: Doc, vm: str, index: int) -> Doc:
    nic = doc["vms"][vm]["interfaces"][index]
    for k in ("tap-mac", "tap_mac"):
        nic.pop(k, None)
    return doc


def _chain(doc: Doc, *fixers: Any) -> Doc:
    for fixer in fixers:
        doc = fixer(doc)
    return doc


@register
class DuplicateMac(Check):
    id = "vm.duplicate-mac"
    severity = "error"
    title = "two VM NICs with one MAC on one segment"
    title_zh = "同一网段上两块虚拟机网卡使用同一个 MAC"
    rules = ("B7", "S1", "S6", "V1")
    references = ("https://libvirt.org/formatdomain.html#mac-address", "seeds/001")
    texts: ClassVar[dict[str, tuple[str, str]]] = {"doctor.vm.duplicate_mac": (
        "{vms} all use {mac} on one segment: every frame one of them sends moves the bridge's "
        "and the switches' entry for {mac} to its port (B7.4, S1), so unicast replies for one "
        "VM are delivered to another, whose stack drops them (not its address). Traffic of "
        "each VM works only until another one transmits.",
        "{vms} 在同一网段使用同一个 MAC {mac}：任一台发出的帧都会把网桥和交换机中 {mac} 的表项"
        "迁移到它的端口（B7.4，S1），于是发给某台虚拟机的单播回复被送到另一台，后者的协议栈"
        "将其丢弃（不是它的地址）。每台虚拟机的通信只在另一台发送之前正常。")}

    def run(self, ctx: Context) -> list[Finding]:
        domains = l2_domains(ctx)
        groups: dict[tuple[int, int], list[tuple[str, int]]] = {}
        for vm, spec in ctx.spec.vms.items():
            for i, nic in enumerate(spec.interfaces):
                groups.setdefault((nic.mac, domains.get(f"{vm}:eth{i}", -1)), []).append((vm, i))
        used = _used_macs(ctx)
        out = []
        for (mac, _), nics in groups.items():
            if len(nics) < 2:
                continue
            evidence = [ctx.config(("vms", vm, "interfaces", i, "mac")) for vm, i in nics]
            fixes, fixers = [], []
            for vm, i in nics[1:]:
                new = fresh_mac(used, f"{vm}:{i}")
                fixes.append(_new_mac_cmds(vm, i, mac, new))
                fixers.append(partial(_set_vm_mac, vm=vm, index=i, mac=new))
            vms = list(dict.fromkeys(vm for vm, _ in nics))
            host = ctx.spec.vms[nics[0][0]].host
            out.append(self.finding(ctx, host, mac_str(mac), evidence,
                                    text("doctor.vm.duplicate_mac", vms=", ".join(vms),
                                         mac=mac_str(mac)), fixes, affected=vms,
                                    fixer=partial(_apply_all, fixers=tuple(fixers)),
                                    probe=traffic_probe(ctx, vms)))
        return out


def _apply_all(doc: Doc, fixers: tuple[Any, ...]) -> Doc:
    return _chain(doc, *fixers)


@register
class MacConflictsHost(Check):
    id = "vm.mac-conflicts-host"
    severity = "error"
    title = "a guest MAC equal to a host device's own MAC (a NIC, a tap)"
    title_zh = "虚拟机 MAC 与宿主机设备自身的 MAC（网卡、tap）相同"
    rules = ("V1", "B2", "B4", "B7")
    references = ("libvirt virNetDevTapCreateInBridgePort (tap MAC: 0xFE first byte)",
                  "https://libvirt.org/formatdomain.html#mac-address", "seeds/001")
    texts: ClassVar[dict[str, tuple[str, str]]] = {"doctor.vm.mac_host": (
        "{vm}'s MAC {mac} is also the MAC of {owner}, a port of {bridge}: {bridge} holds it as "
        "a local entry (B2c), so every frame for {vm} is handed to the host's own stack and "
        "never forwarded to {tap} (B4.4); frames {vm} sends with it are flooded and never "
        "learned (\"received packet on {tap} with own address as source address\", B7.3). "
        "{vm} cannot even resolve its gateway.",
        "{vm} 的 MAC {mac} 同时也是 {owner}（{bridge} 的端口）的 MAC：{bridge} 把它作为本地表项"
        "（B2c），所有发给 {vm} 的帧都被交给宿主机自身的协议栈，从不转发到 {tap}（B4.4）；"
        "{vm} 用它发出的帧被泛洪且不被学习（\"received packet on {tap} with own address as "
        "source address\"，B7.3）。{vm} 连网关都解析不了。")}

    def run(self, ctx: Context) -> list[Finding]:
        domains = l2_domains(ctx)
        # MAC -> (device, its broadcast domain's endpoint, the path of its MAC)
        owners: dict[int, list[tuple[str, str, tuple[Any, ...]]]] = {}
        for host, spec in ctx.spec.hosts.items():
            for i, iface in enumerate(spec.interfaces):
                if iface.mac_address is not None:
                    owners.setdefault(iface.mac_address, []).append(
                        (f"{host}:{iface.name}", f"{host}:{iface.name}",
                         ("hosts", host, "interfaces", i, "mac-address")))
        for vm, spec_vm in ctx.spec.vms.items():
            for i, nic in enumerate(spec_vm.interfaces):
                tap = ctx.taps[(vm, i)]
                mac = nic.tap_mac if nic.tap_mac is not None else tap_mac(nic.mac)
                path = ("vms", vm, "interfaces", i, "tap-mac" if nic.tap_mac is not None
                        else "mac")
                owners.setdefault(mac, []).append((f"{spec_vm.host}:{tap}",
                                                   f"{spec_vm.host}:{nic.source}", path))
        used = _used_macs(ctx)
        out = []
        for vm, spec_vm in ctx.spec.vms.items():
            for i, nic in enumerate(spec_vm.interfaces):
                domain = domains.get(f"{vm}:eth{i}")
                for owner, where, path in owners.get(nic.mac, []):
                    if domains.get(where) != domain:
                        continue
                    tap = ctx.taps[(vm, i)]
                    own_tap = owner == f"{spec_vm.host}:{tap}"
                    evidence = [ctx.config(("vms", vm, "interfaces", i, "mac")),
                                ctx.config(path)]
                    if own_tap:
                        fixes = [Fix(text("doctor.where.libvirt", vm=vm),
                                     (f"virsh edit {vm}   # remove the fixed tap MAC; libvirt "
                                      "gives the tap the guest MAC with 0xFE first (V1)",))]
                        fixer = partial(_drop_tap_mac, vm=vm, index=i)
                        evidence = evidence[1:]
                    else:
                        new = fresh_mac(used, f"{vm}:{i}")
                        fixes = [_new_mac_cmds(vm, i, nic.mac, new)]
                        fixer = partial(_set_vm_mac, vm=vm, index=i, mac=new)
                    consequence = text("doctor.vm.mac_host", vm=vm, mac=mac_str(nic.mac),
                                       owner=owner, bridge=nic.source, tap=tap)
                    out.append(self.finding(ctx, spec_vm.host, vm, evidence, consequence, fixes,
                                            affected=[vm], fixer=fixer,
                                            probe=traffic_probe(ctx, [vm])))
                    break
        return out


@register
class MtuMismatch(Check):
    id = "mtu.mismatch"
    severity = "warning"
    title = "a VM MTU larger than its path's (host uplink or switch)"
    title_zh = "虚拟机 MTU 大于其路径（宿主机上联或交换机）的 MTU"
    rules = ("MTU1", "MTU2", "MTU3", "MTU4")
    references = ("docs/models/mtu-and-mac-conflicts.md",
                  "https://libvirt.org/formatdomain.html#mtu-size", "seeds/004")
    texts: ClassVar[dict[str, tuple[str, str]]] = {"doctor.mtu.bridge": (
        "{vm}'s MTU is {vm_mtu} but {uplink}, {bridge}'s way off the host, has {mtu}: a packet "
        "that fits the guest's MTU leaves it whole with DF set, and {bridge} drops it at "
        "{uplink} without telling anyone (is_skb_forwardable, MTU3). Small packets pass, large "
        "ones (NFS, TLS records, ping -s {size}) vanish.",
        "{vm} 的 MTU 是 {vm_mtu}，而 {bridge} 通往宿主机外部的 {uplink} 只有 {mtu}：符合虚拟机 MTU "
        "的报文带着 DF 完整发出，{bridge} 在 {uplink} 处将其丢弃且不通知任何人"
        "（is_skb_forwardable，MTU3）。小报文正常，大报文（NFS、TLS 记录、ping -s {size}）消失。"),
             "doctor.mtu.switch": (
        "{vm}'s MTU is {vm_mtu} and {host}'s uplink passes it, but {switch} takes at most {mtu} "
        "bytes: longer frames are counted as giants and dropped at {port} (MTU4). Small packets "
        "pass, large ones (ping -s {size}) vanish.",
        "{vm} 的 MTU 是 {vm_mtu}，{host} 的上联也能通过，但 {switch} 最多接收 {mtu} 字节："
        "更长的帧在 {port} 被计为 giant 并丢弃（MTU4）。小报文正常，大报文（ping -s {size}）消失。")}

    def run(self, ctx: Context) -> list[Finding]:
        out = []
        for vm, spec_vm in ctx.spec.vms.items():
            host = spec_vm.host
            for i, nic in enumerate(spec_vm.interfaces):
                vm_mtu = nic.mtu or 1500
                if vm_mtu <= 1500 and not any(
                        (iface.mtu or 1500) < vm_mtu for iface in ctx.spec.hosts[host].interfaces
                ) and all(sw.mtu >= vm_mtu for sw in ctx.spec.switches.values()):
                    continue                # nothing on the way can be narrower: no lab needed
                found = self._narrowest(ctx, host, nic.source, vm_mtu)
                if found is None:
                    continue
                kind, fields, evidence = found
                evidence = [ctx.config(("vms", vm, "interfaces", i, "mtu"), default="1500"),
                            *evidence]
                consequence = text(f"doctor.mtu.{kind}", vm=vm, vm_mtu=vm_mtu,
                                   size=vm_mtu - 28, host=host, bridge=nic.source, **fields)
                nics = ctx.nics_below(host, fields.get("uplink", "")) \
                    if kind == "bridge" else []
                fixes = []
                if kind == "bridge":
                    devices = list(dict.fromkeys([fields["uplink"], *nics]))
                    fixes.append(host_fix(host, *(f"ip link set dev {d} mtu {vm_mtu}"
                                                  for d in devices),
                                          *(f"nmcli connection modify {n} 802-3-ethernet.mtu "
                                            f"{vm_mtu}" for n in nics)))
                switches = self._switches(ctx, host, nic.source)
                fixes += [Fix(text("doctor.where.switch", switch=sw), (f"system mtu {vm_mtu}",))
                          for sw, mtu in switches if mtu < vm_mtu]
                fixes.append(Fix(text("doctor.where.libvirt", vm=vm),
                                 (f"virsh edit {vm}   # <mtu size='1500'/> in its <interface>",)))
                size = vm_mtu - 28
                probe = traffic_probe(ctx, [vm], size=size, count=2, dhcp_too=False)
                out.append(self.finding(
                    ctx, host, vm, evidence, consequence, fixes, affected=[vm],
                    fixer=partial(_raise_mtu, host=host, bridge=nic.source, mtu=vm_mtu,
                                  switches=tuple(sw for sw, mtu in switches if mtu < vm_mtu),
                                  uplinks=tuple(ctx.uplinks(host, nic.source))),
                    probe=probe, applied=tuple(range(len(fixes) - 1))))
        return out

    @staticmethod
    def _switches(ctx: Context, host: str, bridge: str) -> list[tuple[str, int]]:
        out: dict[str, int] = {}
        for uplink in ctx.uplinks(host, bridge):
            for nic in ctx.nics_below(host, uplink):
                facing = ctx.switch_port(host, nic)
                if facing is not None:
                    out[facing.switch] = facing.spec.mtu
        return list(out.items())

    @staticmethod
    def _narrowest(ctx: Context, host: str, bridge: str, vm_mtu: int
                   ) -> tuple[str, dict[str, Any], list[Evidence]] | None:
        lab = ctx.lab
        for uplink in ctx.uplinks(host, bridge):
            dev = lab.devices.get(f"{host}:{uplink}")
            if dev is None:
                continue
            if dev.mtu < vm_mtu:
                index, _ = ctx.iface(host, uplink)
                return "bridge", {"uplink": uplink, "mtu": dev.mtu}, [
                    ctx.config(("hosts", host, "interfaces", index, "mtu"),
                               default=f"{dev.mtu} (the default, MTU1)")]
            for nic in ctx.nics_below(host, uplink):
                facing = ctx.switch_port(host, nic)
                if facing is not None and facing.spec.mtu < vm_mtu:
                    return "switch", {"switch": facing.switch, "port": facing.port,
                                      "mtu": facing.spec.mtu}, [
                        ctx.config(("switches", facing.switch, "mtu"),
                                   default=f"{facing.spec.mtu} (jumbo frames off)")]
        return None


def _raise_mtu(doc: Doc, host: str, bridge: str, mtu: int, switches: tuple[str, ...],
               uplinks: tuple[str, ...]) -> Doc:
    """The uplinks, what lies below them and the bridge itself to ``mtu``; the switches
    facing them to at least ``mtu``."""
    names = set(uplinks)
    todo = list(uplinks)
    while todo:
        iface = interface(doc, host, todo.pop())
        if iface is None:
            continue
        iface["mtu"] = mtu
        lowers = []
        agg = iface.get("team") or iface.get("link-aggregation") or iface.get("bond")
        if isinstance(agg, dict):
            ports = agg.get("ports") or agg.get("port") or agg.get("slaves") or []
            lowers = [p["name"] if isinstance(p, dict) else p for p in ports]
        vlan = iface.get("vlan")
        if iface.get("type") == "vlan" and isinstance(vlan, dict):
            lowers.append(vlan.get("base-iface") or vlan.get("base_iface"))
        for lower in lowers:
            if lower and lower not in names:
                names.add(lower)
                todo.append(lower)
    top = interface(doc, host, bridge)
    if top is not None and isinstance(top.get("mtu"), int) and top["mtu"] < mtu:
        top["mtu"] = mtu
    for sw in switches:
        doc["switches"][sw]["mtu"] = max(mtu, int(doc["switches"][sw].get("mtu") or 1500))
    return doc

