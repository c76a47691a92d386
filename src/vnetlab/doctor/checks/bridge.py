"""The host bridge: live FDB evidence, STP timers against DHCP clients, br_netfilter,
addresses on enslaved NICs, a bridge without an uplink (semantics B3, B4, B7, B13,
B15, B18, B21-B24, S8, D7, D8; seeds 000, 001, 004).

``bridge.vm-mac-on-uplink``, ``bridge.mac-flapping`` and ``bridge.port-state`` read
only live state (a ``captured:`` block; ``vnetlab watch`` reports the same ids as it
sees the events); the others decide from the configuration with the device models:
the bridge's effective forward delay (B19's clamp), each DHCP client model's own
schedule (boot delay, how long its first attempt lasts), and the host's netfilter
evaluating a bridged DHCPDISCOVER and echo request the way ``br_nf_forward_ip``
hands them to iptables (B22).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from vnetlab.doctor.checks.common import (
    HARNESS,
    host_fix,
    nmcli_up,
    traffic_probe,
    vm_macs,
    vm_names,
)
from vnetlab.doctor.edit import bridge_ports, interface, key, sub
from vnetlab.doctor.model import Check, Finding, Fix, Probe, register, text
from vnetlab.net.addr import ip4_str, mac_str, netmask
from vnetlab.sim.time import S, format_duration
from vnetlab.topology.spec import EthernetInterface, LinuxBridgeInterface, OvsInterface

if TYPE_CHECKING:
    from vnetlab.doctor.context import Context

Doc = dict[str, Any]


def _bridges(ctx: Context) -> list[tuple[str, int, LinuxBridgeInterface]]:
    """The Linux bridges of every host, except those an importer made up (their settings
    are vnetlab's defaults, not the host's)."""
    return [(host, i, iface) for host, spec in ctx.spec.hosts.items()
            for i, iface in enumerate(spec.interfaces) if isinstance(iface, LinuxBridgeInterface)
            and not ctx.is_assumed(host, iface.name)]


# -- live state ---------------------------------------------------------------------------------

@register
class VmMacOnUplink(Check):
    id = "bridge.vm-mac-on-uplink"
    severity = "error"
    title = "a local VM's MAC learned on a bridge port that is not its tap"
    title_zh = "本机虚拟机的 MAC 被网桥学习到非其 tap 的端口上"
    rules = ("B4", "B7", "B13", "BD17a", "N5")
    references = ("seeds/000 (the bridge fdb table: the VM MAC on team1)",
                  "bridge(8): bridge fdb show / bridge fdb del")
    needs_capture = True
    texts: ClassVar[dict[str, tuple[str, str]]] = {"doctor.bridge.vm_mac_on_uplink": (
        "{bridge} holds {vm}'s MAC {mac} on {port}, not on its tap {tap}: frames for {vm} that "
        "arrive on {port} are dropped (the entry points at their ingress port, B13) and frames "
        "from other local VMs are sent out {port}. {vm} is unreachable until it transmits "
        "again and {bridge} re-learns it on {tap} (B7.4); a looped copy of its own broadcast "
        "put it there (BD17a).",
        "{bridge} 把 {vm} 的 MAC {mac} 记在 {port} 上，而不是它的 tap {tap}：从 {port} 进来的"
        "发往 {vm} 的帧被丢弃（转发表指向其入端口，B13），本机其他虚拟机发给它的帧被送出 {port}。"
        "在 {vm} 再次发送、{bridge} 在 {tap} 上重新学习之前，{vm} 不可达（B7.4）；"
        "是它自己的广播被环回后把表项带到了那里（BD17a）。")}

    def run(self, ctx: Context) -> list[Finding]:
        cap = ctx.captured
        if cap is None:
            return []
        macs = vm_macs(ctx, cap.host)
        taps = ctx.tap_names_of(cap.host)
        out = []
        for row in cap.fdb:
            if row.local or row.mac not in macs or row.port in taps:
                continue
            vm, index = macs[row.mac]
            tap = ctx.taps[(vm, index)]
            home = ctx.spec.vms[vm].interfaces[index].source
            if home in ctx.bridges_behind(cap.host, row.bridge, row.port):
                continue        # the way to the VM's own bridge (a patch port, a veth pair)
            vlan = f" vlan {row.vlan}" if row.vlan else ""
            evidence = [ctx.live(("captured", "fdb", row.index), row.shown(), mac_str(row.mac)),
                        ctx.config(("vms", vm, "interfaces", index, "mac"))]
            consequence = text("doctor.bridge.vm_mac_on_uplink", bridge=row.bridge, vm=vm,
                               mac=mac_str(row.mac), port=row.port, tap=tap)
            fixes = [host_fix(cap.host,
                              f"bridge fdb del {mac_str(row.mac)} dev {row.port}{vlan} master",
                              f"bridge fdb show br {row.bridge} | grep -i {mac_str(row.mac)}")]
            out.append(self.finding(ctx, cap.host, row.port, evidence, consequence, fixes,
                                    affected=[vm]))
        return out


@register
class MacFlapping(Check):
    id = "bridge.mac-flapping"
    severity = "warning"
    title = "a MAC seen on several ports of one bridge"
    title_zh = "同一 MAC 出现在同一网桥的多个端口上"
    rules = ("B7", "S6")
    references = ("bridge(8): bridge monitor fdb", "docs/capture.md (vnetlab watch)")
    needs_capture = True
    texts: ClassVar[dict[str, tuple[str, str]]] = {"doctor.bridge.flapping": (
        "{bridge} saw {mac} on {ports}: a Linux bridge moves the entry to whichever port saw "
        "the MAC last, with no damping (B7.4, section 8 item 11), so frames for it follow the "
        "last sender. Two sources of one MAC (a duplicate MAC, a loop, an aggregate whose "
        "switch floods frames back) make traffic for it come and go.",
        "{bridge} 在 {ports} 上都见到了 {mac}：Linux 网桥把表项迁移到最后见到该 MAC 的端口，"
        "没有抑制（B7.4，第 8 节第 11 条），发往它的帧跟着最后的发送者走。同一 MAC 有两个来源"
        "（MAC 重复、环路、交换机把帧泛洪回聚合口）会让它的流量时通时断。")}

    def run(self, ctx: Context) -> list[Finding]:
        cap = ctx.captured
        if cap is None:
            return []
        seen: dict[tuple[str, int], list[Any]] = {}
        for row in cap.fdb:
            if not row.local:
                seen.setdefault((row.bridge, row.mac), []).append(row)
        out = []
        for (bridge, mac), rows in seen.items():
            ports = list(dict.fromkeys(r.port for r in rows))
            if len(ports) < 2:
                continue
            evidence = [ctx.live(("captured", "fdb", r.index), r.shown(), mac_str(r.mac))
                        for r in rows]
            affected = [vm for m, (vm, _) in vm_macs(ctx, cap.host).items() if m == mac]
            out.append(self.finding(
                ctx, cap.host, mac_str(mac), evidence,
                text("doctor.bridge.flapping", bridge=bridge, mac=mac_str(mac),
                     ports=", ".join(ports)),
                [host_fix(cap.host, f"bridge monitor fdb | grep -i {mac_str(mac)}",
                          "vnetlab watch")], affected=affected))
        return out


@register
class PortState(Check):
    id = "bridge.port-state"
    severity = "warning"
    title = "a bridge port that does not forward"
    title_zh = "网桥端口不处于转发状态"
    rules = ("B3", "B18", "L1")
    references = ("bridge(8): bridge link show (state)",
                  "https://docs.kernel.org/networking/bridge.html")
    needs_capture = True
    texts: ClassVar[dict[str, tuple[str, str]]] = {"doctor.bridge.port_state": (
        "{port} of {bridge} is in state {state}: {bridge} drops every frame it receives there "
        "and sends none out of it (B3.3, B18){stp}.",
        "{bridge} 的端口 {port} 处于 {state} 状态：{bridge} 丢弃从该端口收到的所有帧，"
        "也不从该端口发送任何帧（B3.3，B18）{stp}。"),
             "doctor.bridge.port_state.stp": (
        "; with STP on, a port that just came up listens and learns for 2 x forward delay "
        "before it forwards",
        "；STP 开启时，刚启用的端口要侦听和学习 2 倍转发延迟后才转发")}

    def run(self, ctx: Context) -> list[Finding]:
        cap = ctx.captured
        if cap is None:
            return []
        out = []
        for row in cap.ports:
            if row.state == "forwarding":
                continue
            _, bridge = ctx.iface(cap.host, row.bridge)
            stp = isinstance(bridge, LinuxBridgeInterface) and bridge.bridge.options.stp.enabled
            affected = [vm for vm, _, _, tap in ctx.vm_nics(cap.host, row.bridge)
                        if tap == row.port] or vm_names(ctx, cap.host, row.bridge)
            fixes = [host_fix(cap.host, f"bridge link show dev {row.port}",
                              f"ip link set dev {row.port} up")]
            if stp:
                fixes.append(host_fix(cap.host, f"nmcli connection modify {row.bridge} "
                                      "bridge.stp no", nmcli_up(row.bridge)))
            out.append(self.finding(
                ctx, cap.host, row.port,
                [ctx.live(("captured", "ports", row.index),
                          f"{row.port} master {row.bridge} state {row.state}")],
                text("doctor.bridge.port_state", port=row.port, bridge=row.bridge,
                     state=row.state, stp=text("doctor.bridge.port_state.stp") if stp else ""),
                fixes, severity="info" if row.state == "disabled" else None, affected=affected))
        return out


# -- STP against DHCP clients --------------------------------------------------------------------

def _clients_on(ctx: Context, host: str, bridge: str) -> list[tuple[str, int, Any]]:
    """(vm, NIC index, the DHCP client model) of the VMs on ``bridge`` that use DHCP."""
    out = []
    for vm, i, nic, _ in ctx.vm_nics(host, bridge):
        if nic.ipv4 is not None and nic.ipv4.dhcp:
            client = ctx.lab.dhcp.client(f"{vm}:eth{i}")
            if client is not None:
                out.append((vm, i, client))
    return out


def _blocked_verdict(clients: list[tuple[str, int, Any]], blocked: int
                     ) -> tuple[str | None, list[str], str]:
    """Which clients send DHCP while the port is still blocked, and whether one of them
    gives up its first attempt before it forwards: (severity, VMs, client summary)."""
    hit = [(vm, c) for vm, _, c in clients if c.params.boot_delay < blocked]
    if not hit:
        return None, [], ""
    lost = any(c.params.boot_delay + c.horizon() - 2 * S < blocked for _, c in hit)
    summary = ", ".join(f"{vm} ({c.label}: starts at {format_duration(c.params.boot_delay)}, "
                        f"first attempt {format_duration(c.horizon() - 2 * S)})" for vm, c in hit)
    return ("error" if lost else "warning"), list(dict.fromkeys(vm for vm, _ in hit)), summary


@register
class StpDelaysDhcp(Check):
    id = "bridge.stp-delays-dhcp"
    severity = "warning"
    title = "STP on the VM bridge holds new taps for 2 x forward delay while guests ask for DHCP"
    title_zh = "VM 网桥开启 STP，新 tap 在 2 倍转发延迟内不转发，而虚拟机此时正在请求 DHCP"
    rules = ("B18", "B19", "B21", "D2", "D3", "D4", "D7")
    references = ("https://networkmanager.dev/docs/api/latest/settings-bridge.html "
                  "(bridge.stp default yes, forward-delay 15)",
                  "seeds/004", "RFC 2131 section 4.1")
    texts: ClassVar[dict[str, tuple[str, str]]] = {"doctor.bridge.stp_dhcp": (
        "{bridge} runs STP with a forward delay of {delay}: a VM's tap listens and learns for "
        "{blocked} after it joins (B18) and drops every frame meanwhile. DHCP clients that "
        "start before that lose their first DISCOVERs: {clients}.{verdict}",
        "{bridge} 开启了 STP，转发延迟 {delay}：虚拟机的 tap 加入后要侦听和学习 {blocked}（B18），"
        "其间丢弃所有帧。在此之前启动的 DHCP 客户端会丢失最初的 DISCOVER：{clients}。{verdict}"),
             "doctor.bridge.stp_dhcp.lost": (
        " At least one gives up its first attempt before the port forwards (no address; "
        "NetworkManager fails the activation, iPXE hands the VM back to the BIOS).",
        "至少有一个客户端在端口开始转发前就放弃了第一轮尝试（没有地址；NetworkManager 激活失败，"
        "iPXE 把虚拟机交还给 BIOS）。"),
             "doctor.bridge.stp_dhcp.late": (
        " They get an address only once a retransmission falls after that.",
        "它们只有在之后的某次重传时才能获得地址。")}

    def run(self, ctx: Context) -> list[Finding]:
        out = []
        for host, index, iface in _bridges(ctx):
            if not iface.bridge.options.stp.enabled or not ctx.vm_nics(host, iface.name):
                continue
            clients = _clients_on(ctx, host, iface.name)
            if not clients:
                continue
            bridge = ctx.lab.bridges[f"{host}:{iface.name}"]
            delay = bridge.forward_delay            # clamped to 2-30 s with STP on (B19)
            level, vms, summary = _blocked_verdict(clients, 2 * delay)
            if level is None:
                continue
            base = ("hosts", host, "interfaces", index, "bridge", "options", "stp")
            evidence = [ctx.config((*base, "enabled"), default="true (NetworkManager's "
                                   "default, B21)"),
                        ctx.config((*base, "forward-delay"), default="15 (seconds)")]
            evidence += [ctx.config(("vms", vm, "interfaces", i, "ipv4", "dhcp"))
                         for vm, i, _ in clients if vm in vms]
            consequence = text("doctor.bridge.stp_dhcp", bridge=iface.name,
                               delay=format_duration(delay), blocked=format_duration(2 * delay),
                               clients=summary,
                               verdict=text("doctor.bridge.stp_dhcp.lost" if level == "error"
                                            else "doctor.bridge.stp_dhcp.late"))
            fixes = [host_fix(host, f"nmcli connection modify {iface.name} bridge.stp no",
                              nmcli_up(iface.name)),
                     host_fix(host, f"nmcli connection modify {iface.name} "
                              "bridge.forward-delay 2", nmcli_up(iface.name))]
            out.append(self.finding(ctx, host, iface.name, evidence, consequence, fixes,
                                    severity=level, affected=vms,
                                    fixer=partial(_stp_off, host=host, bridge=iface.name),
                                    probe=traffic_probe(ctx, vms, dhcp_within=_ms(2 * delay))))
        return out


def _ms(duration: int) -> str:
    return f"{duration // 1_000_000}ms"


def _stp_off(doc: Doc, host: str, bridge: str) -> Doc:
    iface = interface(doc, host, bridge)
    assert iface is not None
    stp = sub(sub(sub(iface, "bridge"), "options"), "stp")
    stp["enabled"] = False
    return doc


@register
class SwitchPortNotEdge(Check):
    id = "bridge.switch-port-not-edge"
    severity = "warning"
    title = "switch port of a VM host's uplink runs STP without PortFast (edge)"
    title_zh = "VM 宿主机上联所接的交换机端口运行 STP 但未配置 PortFast（边缘端口）"
    rules = ("S8", "D7", "D11")
    references = ("Cisco: spanning-tree portfast (edge port)", "IEEE 802.1D-1998 8.4",
                  "seeds/004")
    texts: ClassVar[dict[str, tuple[str, str]]] = {"doctor.switch.not_edge": (
        "{switch}:{port} runs STP and is not an edge port: after {host}'s {nic} comes up it "
        "listens and learns for {blocked} before it forwards (S8), dropping every frame of "
        "the VMs on {bridge} meanwhile. DHCP clients that start before that lose their first "
        "DISCOVERs{clients}.",
        "{switch}:{port} 运行 STP 且不是边缘端口：{host} 的 {nic} 启用后，该端口要侦听和学习 "
        "{blocked} 才转发（S8），其间丢弃 {bridge} 上虚拟机的所有帧。在此之前启动的 DHCP 客户端"
        "会丢失最初的 DISCOVER{clients}。")}

    def run(self, ctx: Context) -> list[Finding]:
        out = []
        for sw_name, sw in ctx.spec.switches.items():
            if not sw.stp.enabled or sw_name.startswith(HARNESS):
                continue
            for port in sw.ports:
                peer = ctx.peer(sw_name, port)
                if peer is None or peer[0] not in ctx.spec.hosts:
                    continue
                host, nic = peer
                found = self._bridge_of(ctx, host, nic)
                if found is None:
                    continue
                bridge = found
                lag = next((lag for lag in sw.lags if port in lag.ports), None)
                logical = lag.name if lag is not None and lag.mode == "static" else port
                config = sw.port_config.get(logical)
                edge = config.stp_edge if config is not None and config.stp_edge is not None \
                    else sw.stp.edge_default
                if edge:
                    continue
                blocked = 2 * sw.stp.forward_delay
                clients = _clients_on(ctx, host, bridge)
                level, vms, summary = _blocked_verdict(clients, blocked) if clients \
                    else ("warning", vm_names(ctx, host, bridge), "")
                if level is None:
                    continue
                evidence = [ctx.config(("switches", sw_name, "stp", "enabled")),
                            ctx.config(("switches", sw_name, "port-config", logical, "stp-edge"),
                                       default="false (stp.edge-default "
                                       f"{str(sw.stp.edge_default).lower()})")]
                link = ctx.link_index(host, nic)
                if link is not None:
                    evidence.append(ctx.config(("links", link, "endpoints")))
                consequence = text("doctor.switch.not_edge", switch=sw_name, port=logical,
                                   host=host, nic=nic, blocked=format_duration(blocked),
                                   bridge=bridge, clients=f": {summary}" if summary else "")
                trunk = config is not None and config.vlan is not None \
                    and config.vlan.mode == "trunk"
                fixes = [Fix(text("doctor.where.switch", switch=sw_name),
                             (f"interface {logical}",
                              " spanning-tree portfast" + (" trunk" if trunk else "")))]
                out.append(self.finding(ctx, host, f"{sw_name}:{logical}", evidence, consequence,
                                        fixes, severity=level or "warning", affected=vms,
                                        fixer=partial(_edge_on, switch=sw_name, port=logical),
                                        probe=traffic_probe(ctx, vms,
                                                            dhcp_within=_ms(blocked))))
        return out

    @staticmethod
    def _bridge_of(ctx: Context, host: str, nic: str) -> str | None:
        """The VM bridge a host NIC carries: through its bond/team and VLAN devices."""
        current: str | None = nic
        seen: set[str] = set()
        while current is not None and current not in seen:
            seen.add(current)
            bridge = ctx.bridge_above(host, current)
            if bridge is not None:
                return bridge if ctx.vm_nics(host, bridge) else None
            current = ctx.upper(host, current)
        return None


def _edge_on(doc: Doc, switch: str, port: str) -> Doc:
    sw = doc["switches"][switch]
    config = sub(sw, "port-config")
    entry = config.get(port)
    if not isinstance(entry, dict):
        entry = config[port] = {}
    entry[key(entry, "stp-edge")] = True
    return doc


# -- br_netfilter --------------------------------------------------------------------------------

@register
class NfCallIptablesDrops(Check):
    id = "bridge.nf-call-iptables-drops"
    severity = "error"
    title = "br_netfilter hands bridged VM traffic to an iptables FORWARD chain that drops it"
    title_zh = "br_netfilter 把桥接的虚拟机流量交给 iptables FORWARD 链，并被其丢弃"
    rules = ("B22", "B23", "B24", "D8")
    references = ("https://docs.kernel.org/networking/bridge.html (br_netfilter)",
                  "https://github.com/moby/moby/issues/39439",
                  "https://docs.docker.com/engine/network/packet-filtering-firewalls/")
    texts: ClassVar[dict[str, tuple[str, str]]] = {"doctor.nf.drops": (
        "br_netfilter is loaded on {host} and bridge-nf-call-iptables is {call}, so IPv4 that "
        "{bridge} bridges between {tap} and {uplink} goes through the IPv4 FORWARD hook "
        "(br_nf_forward_ip, B22): {verdict}. {what} never leave the host (B24, D8).",
        "{host} 加载了 br_netfilter，且 bridge-nf-call-iptables 为 {call}，因此 {bridge} 在 {tap} "
        "与 {uplink} 之间桥接的 IPv4 要经过 IPv4 FORWARD 钩子（br_nf_forward_ip，B22）：{verdict}。"
        "{what}永远出不了宿主机（B24，D8）。"),
             "doctor.nf.dhcp": ("The VMs' DHCPDISCOVERs", "虚拟机的 DHCPDISCOVER "),
             "doctor.nf.ping": ("The VMs' IPv4 packets", "虚拟机的 IPv4 报文")}

    def run(self, ctx: Context) -> list[Finding]:
        from vnetlab.devices.netfilter import Netfilter
        from vnetlab.net.addr import BROADCAST, IP4_BROADCAST, parse_ip4_prefix
        from vnetlab.net.frame import EtherType, Frame, Icmp, IcmpType, Ipv4, Udp
        from vnetlab.sim.sim import Sim
        from vnetlab.topology.build import host_netfilter

        out = []
        for host, spec in ctx.spec.hosts.items():
            fw = spec.firewall
            if fw is None or not fw.br_netfilter:
                continue
            for _, _, iface in [b for b in _bridges(ctx) if b[0] == host]:
                nics = ctx.vm_nics(host, iface.name)
                uplinks = ctx.uplinks(host, iface.name)
                if not nics or not uplinks:
                    continue
                sim = Sim(0, "full")
                nf: Netfilter = host_netfilter(sim, host, spec)
                dropped: list[tuple[str, str, str]] = []
                for vm, _, nic, tap in nics:
                    frames = []
                    ipv4 = nic.ipv4
                    if ipv4 is not None and ipv4.dhcp:
                        frames.append(("dhcp", Frame(BROADCAST, nic.mac, EtherType.IPV4,
                                                     Ipv4(0, IP4_BROADCAST, Udp(68, 67, None)),
                                                     sim.new_uid())))
                    elif ipv4 is not None and ipv4.address and ipv4.gateway is not None:
                        src, _ = parse_ip4_prefix(ipv4.address)
                        frames.append(("ping", Frame(0x02AA_0000_0001, nic.mac, EtherType.IPV4,
                                                     Ipv4(src, ipv4.gateway,
                                                          Icmp(IcmpType.ECHO_REQUEST, 1, 1)),
                                                     sim.new_uid())))
                    for what, frame in frames:
                        if nf.bridge_forward(f"{host}/{iface.name}", iface.name, frame, tap,
                                             uplinks[0], 0) < 0:
                            dropped.append((vm, what, sim.trace.steps[-1].note))
                if not dropped:
                    continue
                vms = list(dict.fromkeys(vm for vm, _, _ in dropped))
                verdict = dropped[0][2].removeprefix("bridged IPv4 ")
                base = ("hosts", host)
                evidence = [ctx.config((*base, "firewall", "br-netfilter")),
                            ctx.config((*base, "sysctl", "net.bridge.bridge-nf-call-iptables"),
                                       default="1 (the default once br_netfilter is loaded)")]
                for k in ("preset", "iptables", "nftables"):
                    if getattr(fw, k) is not None:
                        evidence.append(ctx.config((*base, "firewall", k)))
                consequence = text("doctor.nf.drops", host=host, bridge=iface.name,
                                   call=1 if nf.call_iptables else 0,
                                   tap=next(t for v, _, _, t in nics if v == dropped[0][0]),
                                   uplink=uplinks[0], verdict=verdict,
                                   what=text("doctor.nf.dhcp" if dropped[0][1] == "dhcp"
                                             else "doctor.nf.ping"))
                rule = (f"iptables -I DOCKER-USER -i {iface.name} -o {iface.name} -j ACCEPT"
                        if fw.preset == "docker" else
                        "iptables -I FORWARD -m physdev --physdev-is-bridged -j ACCEPT")
                fixes = [host_fix(host, "sysctl -w net.bridge.bridge-nf-call-iptables=0",
                                  "echo 'net.bridge.bridge-nf-call-iptables = 0' > "
                                  "/etc/sysctl.d/99-bridge-nf-call.conf"),
                         host_fix(host, rule)]
                out.append(self.finding(ctx, host, iface.name, evidence, consequence, fixes,
                                        affected=vms, fixer=partial(_nf_off, host=host),
                                        probe=traffic_probe(ctx, vms)))
        return out


def _nf_off(doc: Doc, host: str) -> Doc:
    entry = doc["hosts"][host]
    sysctl = entry.get("sysctl")
    if not isinstance(sysctl, dict):
        sysctl = entry["sysctl"] = {}
    sysctl["net.bridge.bridge-nf-call-iptables"] = 0
    return doc


# -- configuration mistakes -------------------------------------------------------------------

@register
class HostIpOnPort(Check):
    id = "bridge.host-ip-on-port"
    severity = "error"
    title = "an IP address on an interface that is enslaved to a bridge, bond or team"
    title_zh = "被网桥、bond 或 team 接管的接口上配置了 IP 地址"
    rules = ("B3", "B4", "BD6", "T2")
    references = ("seeds/004 (bridge set-up)",
                  "https://docs.kernel.org/networking/bridge.html",
                  "nmcli(1): connection add type bridge-slave")
    texts: ClassVar[dict[str, tuple[str, str]]] = {"doctor.port.ip": (
        "{port} is a port of {master}, whose rx_handler takes every frame {port} receives "
        "(br_handle_frame / bond_handle_frame, B3, B4): ARP replies and packets for {address} "
        "are handed to {top}, not to {port}, so the address on {port} does not work (the host "
        "loses that connectivity). The address belongs on {top}.",
        "{port} 是 {master} 的端口，其 rx_handler 接管 {port} 收到的所有帧"
        "（br_handle_frame / bond_handle_frame，B3，B4）：发往 {address} 的 ARP 回复和报文被交给 "
        "{top} 而不是 {port}，因此 {port} 上的地址不起作用（宿主机失去这部分连通性）。"
        "地址应配置在 {top} 上。")}

    def run(self, ctx: Context) -> list[Finding]:
        out = []
        for host, spec in ctx.spec.hosts.items():
            for i, iface in enumerate(spec.interfaces):
                ipv4 = iface.ipv4
                master = ctx.upper(host, iface.name)
                if master is None or ipv4 is None or not ipv4.enabled \
                        or not (ipv4.address or ipv4.dhcp) or isinstance(iface, OvsInterface):
                    continue                # an OVS internal port is where the address goes
                top = master
                while ctx.upper(host, top) is not None:
                    top = ctx.upper(host, top) or top
                address = ", ".join(f"{ip4_str(a.ip)}/{a.prefix_length}" for a in ipv4.address) \
                    or "DHCP"
                m_index, _ = ctx.iface(host, master)
                evidence = [ctx.config(("hosts", host, "interfaces", i, "ipv4")),
                            ctx.config(("hosts", host, "interfaces", m_index, "name"))]
                to_top = (f"nmcli connection modify {top} ipv4.method manual ipv4.addresses "
                          f"{address}" if ipv4.address else
                          f"nmcli connection modify {top} ipv4.method auto")
                fixes = [host_fix(host, f'nmcli connection modify {iface.name} ipv4.method '
                                  'disabled ipv4.addresses ""', to_top, nmcli_up(top))]
                target = self._peer(ctx, host, ipv4)
                probe = Probe(((host, ip4_str(target), 56, 3),)) if target is not None else None
                out.append(self.finding(
                    ctx, host, iface.name, evidence,
                    text("doctor.port.ip", port=iface.name, master=master, address=address,
                         top=top), fixes, probe=probe,
                    fixer=partial(_move_ipv4, host=host, port=iface.name, top=top)))
        return out


    @staticmethod
    def _peer(ctx: Context, host: str, ipv4: Any) -> int | None:
        """Whom the host talks to on that address: its gateway, else a router's address
        in the same subnet."""
        if ipv4.gateway is not None:
            return int(ipv4.gateway)
        routes = ctx.spec.hosts[host].routes
        for route in routes.config if routes is not None else []:
            if route.destination in ("0.0.0.0/0", "default"):
                return int(route.next_hop_address)
        for address in ipv4.address:
            mask = netmask(address.prefix_length)
            for router in ctx.spec.routers.values():
                for riface in router.interfaces:
                    for other in riface.ipv4.address if riface.ipv4 is not None else []:
                        if (other.ip ^ address.ip) & mask == 0:
                            return int(other.ip)
        return None


def _move_ipv4(doc: Doc, host: str, port: str, top: str) -> Doc:
    """The address from the enslaved port to the device at the top (the bridge)."""
    lower, upper = interface(doc, host, port), interface(doc, host, top)
    assert lower is not None and upper is not None
    upper["ipv4"] = lower.pop("ipv4")
    return doc


@register
class NoUplink(Check):
    id = "bridge.no-uplink"
    severity = "warning"
    title = "a VM bridge with no port that leads off the host"
    title_zh = "VM 网桥没有通往宿主机外部的端口"
    rules = ("B4", "B12", "D6")
    references = ("seeds/004 (bridge set-up)", "nmcli(1): connection add type bridge-slave")
    texts: ClassVar[dict[str, tuple[str, str]]] = {"doctor.bridge.no_uplink": (
        "{bridge} has VM taps but no port that leads off {host}: a VM's broadcasts (ARP, "
        "DHCPDISCOVER) reach the other taps and {host}'s own stack only, so the VMs reach "
        "nothing outside{free}.",
        "{bridge} 上有虚拟机 tap，却没有通往 {host} 外部的端口：虚拟机的广播（ARP、DHCPDISCOVER）"
        "只能到达其他 tap 和 {host} 自身的协议栈，虚拟机访问不到外部{free}。"),
             "doctor.bridge.no_uplink.free": (
        " ({nics} is up, carries no address and is a port of nothing: it was probably meant "
        "to be {bridge}'s uplink)",
        "（{nics} 未配置地址，也不属于任何设备：它很可能本应是 {bridge} 的上联）")}

    def run(self, ctx: Context) -> list[Finding]:
        out = []
        for host, index, iface in _bridges(ctx):
            if not ctx.vm_nics(host, iface.name) or ctx.uplinks(host, iface.name):
                continue
            free = [n.name for n in ctx.spec.hosts[host].interfaces
                    if isinstance(n, EthernetInterface) and ctx.upper(host, n.name) is None
                    and n.state == "up" and not (n.ipv4 is not None and n.ipv4.enabled
                                                 and (n.ipv4.address or n.ipv4.dhcp))]
            has_ip = iface.ipv4 is not None and iface.ipv4.enabled and bool(iface.ipv4.address)
            if not free and (has_ip or iface.dhcp_server is not None):
                continue            # a host-only or NAT network (libvirt's default): by design
            vms = vm_names(ctx, host, iface.name)
            evidence = [ctx.config(("hosts", host, "interfaces", index, "bridge", "port"),
                                   default="[] (no port)")]
            fixes: list[Fix] = []
            fixer = None
            if free:
                fixes.append(host_fix(host, f"nmcli connection add type bridge-slave ifname "
                                      f"{free[0]} master {iface.name}", nmcli_up(iface.name)))
                evidence.append(ctx.config(("hosts", host, "interfaces",
                                            ctx.iface(host, free[0])[0], "name")))
                if len(free) == 1:
                    fixer = partial(_add_port, host=host, bridge=iface.name, port=free[0])
            consequence = text("doctor.bridge.no_uplink", bridge=iface.name, host=host,
                               free=text("doctor.bridge.no_uplink.free", nics=", ".join(free),
                                         bridge=iface.name) if free else "")
            out.append(self.finding(ctx, host, iface.name, evidence, consequence, fixes,
                                    affected=vms, fixer=fixer, probe=traffic_probe(ctx, vms)))
        return out


def _add_port(doc: Doc, host: str, bridge: str, port: str) -> Doc:
    iface = interface(doc, host, bridge)
    assert iface is not None
    bridge_ports(iface).append({"name": port})
    return doc

