"""Bonds and teams under a VM bridge against the switch they are cabled to (seed 000,
seed 002; semantics BD2, BD6, BD11-BD13, BD16, BD17, T1-T6, S1, S3-S5, B7, B13).

Each check asks the device model what the user's aggregate does (doctor/probe.py:
which ports deliver a flooded-back broadcast up, which carry traffic without an
LACP partner, whether VM frames leave with a port's own source MAC) and the switch
model's configuration what the switch does with the ports facing it (one logical
port or several, S1/S3; LACP fallback, S5). A bridge port with learning off, or a
bridge with ageing time 0, never learns a MAC from the flooded-back copy (B7.1, B15):
the seed's own workarounds, which silence the LAG checks.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from vnetlab.devices.bond import BondParams
from vnetlab.doctor.checks.common import (
    SwitchSide,
    bridge_port_index,
    carriers,
    host_fix,
    lacp_probe,
    lag_fix,
    nmcli_up,
    switch_evidence,
    switch_side,
    traffic_probe,
    vm_macs,
    vm_names,
)
from vnetlab.doctor.edit import interface, key, remove_lag, set_lag, sub
from vnetlab.doctor.model import Check, Evidence, Finding, Fix, Text, register, text
from vnetlab.doctor.probe import AggregateBehaviour, behaviour
from vnetlab.net.addr import mac_str
from vnetlab.topology.spec import BondInterface, LinuxBridgeInterface, TeamInterface

if TYPE_CHECKING:
    from vnetlab.doctor.context import Context

Doc = dict[str, Any]

SWITCH_TEXTS: dict[str, tuple[str, str]] = {
    "doctor.sw.no_lag": ("{switch} ({ports} are separate ports: no LAG, S1)",
                         "{switch}（{ports} 是各自独立的端口：没有链路聚合，S1）"),
    "doctor.sw.unknown": ("the switch (not described here: assumed without a LAG on those ports)",
                          "交换机（此处未描述：假定这些端口没有链路聚合）"),
    "doctor.sw.lacp_individual": (
        "{switch} (LACP LAG {lag}, which the host does not negotiate: its members forward as "
        "individual ports, S5)",
        "{switch}（LACP 聚合组 {lag}，但宿主机不协商 LACP：成员端口作为独立端口转发，S5）"),
    "doctor.sw.lacp_suspend": (
        "{switch} (LACP LAG {lag} with suspend-individual: members without an LACP partner are "
        "suspended and pass nothing, S5)",
        "{switch}（LACP 聚合组 {lag}，suspend-individual：没有 LACP 对端的成员端口被挂起，"
        "不转发任何流量，S5）"),
    "doctor.sw.static": ("{switch} (static LAG {lag}, S3)", "{switch}（静态链路聚合 {lag}，S3）"),
    "doctor.bond.suspended": (
        "{switch}: {agg} ({mode}) never sends an LACPDU, so the switch suspends both ports "
        "and passes nothing but LACPDUs (S5): the host and every VM on {bridge} are "
        "cut off.",
        "{switch}：{agg}（{mode}）从不发送 LACPDU，交换机因此挂起两个端口，只放行 LACPDU"
        "（S5）：宿主机和 {bridge} 上的所有虚拟机都断网。"),
}


def switch_words(side: SwitchSide) -> Text:
    if side.state == "unknown" or side.harness:
        return text("doctor.sw.unknown")
    if side.state == "lacp":
        return text("doctor.sw.lacp_suspend" if side.fallback == "suspend"
                    else "doctor.sw.lacp_individual", switch=side.switch, lag=side.lag)
    if side.state == "static":
        return text("doctor.sw.static", switch=side.switch, lag=side.lag)
    return text("doctor.sw.no_lag", switch=side.switch, ports=", ".join(side.ports))


def _switch_fixable(side: SwitchSide) -> bool:
    """The fix goes on the switch (described, one switch); else on the host."""
    return side.state != "unknown" and not side.harness and ", " not in side.switch


class _Aggregate:
    """One bond or team of a host, with everything the checks below ask about it."""

    def __init__(self, ctx: Context, host: str, index: int, iface: TeamInterface | BondInterface
                 ) -> None:
        from vnetlab.topology.build import bond_params, team_params

        self.ctx = ctx
        self.host = host
        self.index = index
        self.iface = iface
        self.name = iface.name
        self.is_team = isinstance(iface, TeamInterface)
        self.ports = ([p.name for p in iface.team.ports] if isinstance(iface, TeamInterface)
                      else list(iface.link_aggregation.port))
        params = team_params(iface) if isinstance(iface, TeamInterface) else bond_params(iface)
        self.params = params
        self.model: AggregateBehaviour = behaviour("team" if self.is_team else "bond", params,
                                                   len(self.ports))
        self.bridge = ctx.bridge_above(host, iface.name)
        self.nics = ctx.nics_below(host, iface.name)
        self.side = switch_side(ctx, host, self.nics)
        self.base = ("hosts", host, "interfaces", index)
        found = bridge_port_index(ctx, host, self.bridge, carriers(ctx, host, iface.name)) \
            if self.bridge else None
        self.bridge_port = found[1] if found else iface.name
        self.bridge_port_index = found[0] if found else None

    def mode_evidence(self) -> Evidence:
        if self.is_team:
            return self.ctx.config((*self.base, "team", "runner", "name"),
                                   default="roundrobin (teamd's default runner, T1)")
        return self.ctx.config((*self.base, "link-aggregation", "mode"))

    def bridge_evidence(self) -> list[Evidence]:
        if self.bridge is None or self.bridge_port_index is None:
            return []
        index, _ = self.ctx.iface(self.host, self.bridge)
        return [self.ctx.config(("hosts", self.host, "interfaces", index, "bridge", "port",
                                 self.bridge_port_index, "name"))]

    def learns_from_uplink(self) -> bool:
        """The bridge learns source MACs on the aggregate's port (B7, B15)."""
        assert self.bridge is not None
        _, bridge = self.ctx.iface(self.host, self.bridge)
        if not isinstance(bridge, LinuxBridgeInterface):
            return True
        if bridge.bridge.options.mac_ageing_time == 0:      # B9: hold time 0, nothing learned
            return False
        port = next((p for p in bridge.bridge.port if p.name == self.bridge_port), None)
        return port is None or port.learning

    def live(self) -> list[Evidence]:
        """Captured FDB entries of a local VM's MAC on the aggregate's bridge port."""
        cap = self.ctx.captured
        if cap is None or cap.host != self.host or self.bridge is None:
            return []
        macs = vm_macs(self.ctx, self.host)
        return [self.ctx.live(("captured", "fdb", row.index), row.shown(), mac_str(row.mac))
                for row in cap.fdb
                if row.bridge == self.bridge and row.port == self.bridge_port
                and row.mac in macs and not row.local]

    def vms(self) -> list[str]:
        return vm_names(self.ctx, self.host, self.bridge)

    def level(self, described: str, live: list[Evidence]) -> str:
        """The finding's severity: as the check says when the switch is described or the
        live FDB shows the hazard; one level lower on the host's side alone."""
        if self.side.state == "unknown" and not live:
            return {"error": "warning", "warning": "info"}.get(described, described)
        return described


def _unknown_note(agg: _Aggregate, live: list[Evidence]) -> list[Text]:
    if agg.side.state != "unknown":
        return []
    return [text("doctor.note.switch_live" if live else "doctor.note.switch_unknown",
                 nics=", ".join(agg.nics))]


# -- fixes applied to the document (--prove) --------------------------------------------------

def _fix_lag(doc: Doc, side: SwitchSide, mode: str, host: str, name: str, is_team: bool,
             host_mode: str) -> Doc:
    """The switch's LAG when the switch is described, else the host-side mode."""
    if _switch_fixable(side):
        set_lag(doc, side.switch, list(side.ports), mode)
        return doc
    return _set_mode(doc, host, name, is_team, host_mode)


def _set_mode(doc: Doc, host: str, name: str, is_team: bool, mode: str) -> Doc:
    iface = interface(doc, host, name)
    assert iface is not None
    if is_team:
        runner = sub(sub(iface, "team"), "runner")
        runner["name"] = mode
        for k in ("tx-hash", "tx_hash", "tx-balancer", "tx_balancer"):
            runner.pop(k, None)
        return doc
    bond = sub(iface, "link-aggregation", "bond")
    bond["mode"] = mode
    options = bond.get("options")
    if isinstance(options, dict):
        options.pop("tlb_dynamic_lb", None)
        if mode in ("802.3ad", "balance-tlb", "balance-alb"):
            for k in ("arp_interval", "arp_ip_target", "arp_validate", "arp_all_targets"):
                options.pop(k, None)
            if not options.get("miimon"):
                options["miimon"] = 100
    return doc


def _remove_lag(doc: Doc, side: SwitchSide) -> Doc:
    remove_lag(doc, side.switch, list(side.ports))
    return doc


def _team_cmds(agg: _Aggregate, runner: str) -> Fix:
    return host_fix(agg.host, f"nmcli connection modify {agg.name} team.runner {runner}",
                    nmcli_up(agg.name))


def _bond_cmds(agg: _Aggregate, mode: str) -> Fix:
    miimon = agg.params.miimon // 1_000_000 if isinstance(agg.params, BondParams) else 100
    return host_fix(agg.host, f'nmcli connection modify {agg.name} bond.options '
                    f'"mode={mode},miimon={miimon or 100}"', nmcli_up(agg.name))


def aggregates(ctx: Context) -> list[_Aggregate]:
    """The bonds and teams of every host, modelled once per context."""
    cached: list[_Aggregate] | None = getattr(ctx, "_doctor_aggregates", None)
    if cached is None:
        cached = [_Aggregate(ctx, host, i, iface) for host, spec in ctx.spec.hosts.items()
                  for i, iface in enumerate(spec.interfaces)
                  if isinstance(iface, TeamInterface | BondInterface)]
        ctx._doctor_aggregates = cached  # type: ignore[attr-defined]
    return cached


# -- the checks -----------------------------------------------------------------------------

CONSEQUENCE_FLOOD_BACK = (
    "A broadcast a VM on {bridge} sends (its ARP request for the gateway, a DHCPDISCOVER) "
    "leaves {agg} on one port; {switch} floods it back into {agg}'s other port, which the "
    "{mode} {kind} delivers up ({rule}), and {bridge} re-learns the VM's MAC on {agg} (B7.4). "
    "Replies to the VM then come in on {agg} and are dropped there, since the entry points "
    "at their ingress port (B13): the VM is cut off until it transmits again (BD17a).",
    "虚拟机在 {bridge} 上发出的广播（对网关的 ARP 请求、DHCPDISCOVER）从 {agg} 的一个端口发出；"
    "{switch} 把它泛洪回 {agg} 的另一个端口，{mode} 模式的 {kind} 将其上送（{rule}），"
    "{bridge} 于是在 {agg} 上重新学习到该虚拟机的 MAC（B7.4）。之后发给该虚拟机的回复从 {agg} "
    "进入并在那里被丢弃，因为转发表指向其入端口（B13）：虚拟机在再次发送之前一直不通（BD17a）。")


class _NeedsLag(Check):
    """Several ports deliver a flooded-back broadcast and the switch has no static LAG."""

    kinds: tuple[str, ...] = ()

    def applies(self, agg: _Aggregate) -> bool:
        raise NotImplementedError

    def run(self, ctx: Context) -> list[Finding]:
        out = []
        for agg in aggregates(ctx):
            if agg.bridge is None or not self.applies(agg) \
                    or not agg.model.needs_one_logical_port or agg.model.speaks_lacp:
                continue
            if agg.side.state == "static" or not agg.learns_from_uplink():
                continue
            out.append(self.report(ctx, agg))
        return out

    def report(self, ctx: Context, agg: _Aggregate) -> Finding:
        live = agg.live()
        evidence = [agg.mode_evidence(), *agg.bridge_evidence(),
                    *switch_evidence(ctx, agg.side), *live]
        kind = "team" if agg.is_team else "bond"
        if agg.side.state == "lacp" and agg.side.fallback == "suspend":
            lacp = "lacp" if agg.is_team else "802.3ad"
            consequence = text("doctor.bond.suspended", switch=switch_words(agg.side),
                               agg=agg.name, mode=agg.model.mode, bridge=agg.bridge)
            fixes = [_team_cmds(agg, lacp) if agg.is_team else _bond_cmds(agg, lacp)]
            fixer = partial(_set_mode, host=agg.host, name=agg.name, is_team=agg.is_team,
                            mode=lacp)
        else:
            consequence = text("doctor.agg.flood_back", bridge=agg.bridge, agg=agg.name,
                               switch=switch_words(agg.side), mode=agg.model.mode, kind=kind,
                               rule="T2" if agg.is_team else "BD6")
            alternative = "activebackup" if agg.is_team else "active-backup"
            fixes = [lag_fix(agg.side, agg.nics, "static"),
                     _team_cmds(agg, alternative) if agg.is_team
                     else _bond_cmds(agg, alternative),
                     host_fix(agg.host, f"bridge link set dev {agg.bridge_port} learning off")]
            fixer = partial(_fix_lag, side=agg.side, mode="static", host=agg.host,
                            name=agg.name, is_team=agg.is_team, host_mode=alternative)
        probe = lacp_probe(ctx, agg.vms()) if agg.side.state == "lacp" \
            else traffic_probe(ctx, agg.vms())
        return self.finding(ctx, agg.host, agg.name, evidence, consequence, fixes,
                            severity=agg.level(self.severity, live), affected=agg.vms(),
                            fixer=fixer, probe=probe, notes=_unknown_note(agg, live),
                            applied=(0,) if fixes[0].where.key == "doctor.where.host"
                            or _switch_fixable(agg.side) else (1,))


@register
class TeamRoundrobinWithoutLag(_NeedsLag):
    id = "team.roundrobin-without-lag"
    severity = "error"
    title = "team roundrobin under a VM bridge, switch ports not in a static LAG"
    title_zh = "网桥下的 team 使用 roundrobin，交换机端口未配置静态链路聚合"
    rules = ("T1", "T2", "T3", "BD17a", "S1", "S3", "B7", "B13")
    references = ("seeds/000 (Kylin V10SP2: team roundrobin under br1)",
                  "teamd.conf(5): runner.name, roundrobin",
                  "https://docs.kernel.org/networking/bonding.html#switch-configuration")
    texts: ClassVar[dict[str, tuple[str, str]]] = {
        "doctor.agg.flood_back": CONSEQUENCE_FLOOD_BACK, **SWITCH_TEXTS}

    def applies(self, agg: _Aggregate) -> bool:
        return agg.is_team and agg.model.mode == "roundrobin"


@register
class TeamRunnerNeedsLag(_NeedsLag):
    id = "team.runner-needs-lag"
    severity = "error"
    title = "team runner that receives on every port, switch ports not in a static LAG"
    title_zh = "team 的 runner 在所有端口上接收，交换机端口未配置静态链路聚合"
    rules = ("T1", "T2", "T3", "T8", "BD17a", "S1", "S3")
    references = ("teamd.conf(5): runner.name (broadcast, random, loadbalance)",
                  "seeds/002 (bond and team modes)",
                  "https://docs.kernel.org/networking/bonding.html#switch-configuration")

    def applies(self, agg: _Aggregate) -> bool:
        return agg.is_team and agg.model.mode != "roundrobin"


@register
class TeamLacpNoPartner(Check):
    id = "team.lacp-no-partner"
    severity = "error"
    title = "teamd lacp runner without an LACP partner on the switch"
    title_zh = "teamd lacp runner 在交换机侧没有 LACP 对端"
    rules = ("T6", "S4", "S5", "D11")
    references = ("teamd.conf(5): runner lacp, min_ports",
                  "libteam teamd_runner_lacp.c: lacp_port_should_be_enabled")
    texts: ClassVar[dict[str, tuple[str, str]]] = {"doctor.team.lacp_no_partner": (
        "teamd enables a port only when it is selected with an LACP partner in sync (T6); "
        "{switch} never answers, so no port of {agg} is enabled, {agg} has no carrier and "
        "every VM on {bridge} is cut off (unlike bonding 802.3ad, which keeps one link, BD12).",
        "teamd 仅在端口被选中且 LACP 对端同步时才启用该端口（T6）；{switch} 从不应答，"
        "因此 {agg} 的所有端口都不会启用，{agg} 没有载波，{bridge} 上的所有虚拟机都断网"
        "（与 bonding 802.3ad 不同，后者会保留一条链路，BD12）。")}

    def run(self, ctx: Context) -> list[Finding]:
        out = []
        for agg in aggregates(ctx):
            if not agg.is_team or not agg.model.speaks_lacp or agg.model.carrying > 0 \
                    or agg.side.state == "lacp":
                continue
            live = agg.live()
            evidence = [agg.mode_evidence(), *agg.bridge_evidence(),
                        *switch_evidence(ctx, agg.side), *live]
            consequence = text("doctor.team.lacp_no_partner", switch=switch_words(agg.side),
                               agg=agg.name, bridge=agg.bridge or agg.name)
            fixes = [lag_fix(agg.side, agg.nics, "lacp"), _team_cmds(agg, "activebackup")]
            fixer = partial(_fix_lag, side=agg.side, mode="lacp", host=agg.host, name=agg.name,
                            is_team=True, host_mode="activebackup")
            out.append(self.finding(ctx, agg.host, agg.name, evidence, consequence, fixes,
                                    severity=agg.level(self.severity, live), affected=agg.vms(),
                                    fixer=fixer, probe=lacp_probe(ctx, agg.vms()),
                                    notes=_unknown_note(agg, live),
                                    applied=(0,) if _switch_fixable(agg.side) else (1,)))
        return out


@register
class BondModeUnderBridge(_NeedsLag):
    id = "bond.mode-under-bridge"
    severity = "error"
    title = "bond mode that does not match the switch under a VM bridge"
    title_zh = "网桥下的 bond 模式与交换机配置不匹配"
    rules = ("BD2", "BD6", "BD11", "BD12", "BD16", "BD17", "S3", "S5")
    references = ("https://docs.kernel.org/networking/bonding.html#switch-configuration",
                  "https://docs.redhat.com/de/documentation/red_hat_enterprise_Linux/7/html/"
                  "virtualization_deployment_and_administration_guide/sect-bridge-mode",
                  "seeds/002 (bond modes)")
    texts: ClassVar[dict[str, tuple[str, str]]] = {
        "doctor.bond.lacp_static": (
            "{agg} runs 802.3ad but {switch} bundles the ports without LACP: the bond hears "
            "no partner and enables one slave (BD12), while the switch hashes part of the "
            "traffic onto the other, disabled, slave, which drops it (BD17c). Which VM suffers "
            "depends on the switch's hash.",
            "{agg} 运行 802.3ad，但 {switch} 以不协商 LACP 的方式聚合端口：bond 收不到对端，"
            "只启用一个 slave（BD12），而交换机把部分流量哈希到另一个被禁用的 slave，"
            "被其丢弃（BD17c）。哪台虚拟机受影响取决于交换机的哈希。"),
        "doctor.bond.lacp_single": (
            "{agg} runs 802.3ad and {switch} speaks no LACP: no partner answers, every slave "
            "is an individual aggregator and the bond carries everything on one link (BD12, "
            "\"No 802.3ad response from the link partner\"). Traffic works; the second link "
            "adds no bandwidth until the switch ports form an LACP LAG.",
            "{agg} 运行 802.3ad 而 {switch} 不运行 LACP：没有对端应答，每个 slave 都是独立的聚合器，"
            "bond 只用一条链路承载全部流量（BD12，\"No 802.3ad response from the link partner\"）。"
            "通信正常；在交换机端口组成 LACP 聚合之前，第二条链路不增加带宽。"),
        "doctor.bond.backup_static": (
            "{agg} ({mode}) receives on one slave only (BD6), but {switch} treats both ports "
            "as one LAG and hashes part of the traffic onto the other slave's port, where it "
            "is dropped (BD17b): some VMs, or some of their peers, lose every reply.",
            "{agg}（{mode}）只在一个 slave 上接收（BD6），但 {switch} 把两个端口当作一个聚合组，"
            "把部分流量哈希到另一个 slave 的端口，在那里被丢弃（BD17b）：部分虚拟机或其部分对端"
            "收不到任何回复。"),
        "doctor.bond.alb": (
            "{agg} ({mode}) sends VM frames on a non-active slave with that slave's own MAC "
            "as source (bond_do_alb_xmit, BD11): the switch learns the slave's MAC instead of "
            "the VM's, replies to the VM are flooded or sent to the active slave, and VM "
            "traffic loses frames after each rebalance (BD17e). Red Hat does not support modes "
            "5 and 6 with bridged VMs (BD16).",
            "{agg}（{mode}）在非活动 slave 上发送虚拟机帧时把源 MAC 改写为该 slave 自己的 MAC"
            "（bond_do_alb_xmit，BD11）：交换机学到的是 slave 的 MAC 而不是虚拟机的，"
            "发给虚拟机的回复被泛洪或送到活动 slave，每次重新均衡后虚拟机流量都会丢帧（BD17e）。"
            "Red Hat 不支持在桥接虚拟机时使用模式 5 和 6（BD16）。"),
    }

    def applies(self, agg: _Aggregate) -> bool:
        return not agg.is_team

    def run(self, ctx: Context) -> list[Finding]:
        out = super().run(ctx)            # rr / xor / broadcast without a static LAG (BD17a)
        for agg in aggregates(ctx):
            if agg.is_team or agg.bridge is None:
                continue
            found = self.other(ctx, agg)
            if found is not None:
                out.append(found)
        return out

    def other(self, ctx: Context, agg: _Aggregate) -> Finding | None:
        model, side = agg.model, agg.side
        fields = {"agg": agg.name, "switch": switch_words(side), "mode": model.mode,
                  "bridge": agg.bridge}
        live = agg.live()
        evidence = [agg.mode_evidence(), *agg.bridge_evidence(), *switch_evidence(ctx, side),
                    *live]
        probe = lacp_probe(ctx, agg.vms()) if model.speaks_lacp or side.state == "lacp" \
            else traffic_probe(ctx, agg.vms())
        if model.speaks_lacp:
            if side.state == "static":
                return self.finding(
                    ctx, agg.host, agg.name, evidence, text("doctor.bond.lacp_static", **fields),
                    [lag_fix(side, agg.nics, "lacp"), _bond_cmds(agg, "active-backup")],
                    affected=agg.vms(), probe=probe,
                    fixer=partial(_fix_lag, side=side, mode="lacp", host=agg.host,
                                  name=agg.name, is_team=False, host_mode="active-backup"),
                    applied=(0,) if _switch_fixable(side) else (1,))
            if side.state == "no-lag":
                return self.finding(
                    ctx, agg.host, agg.name, evidence, text("doctor.bond.lacp_single", **fields),
                    [lag_fix(side, agg.nics, "lacp")], severity="info", affected=agg.vms())
            return None
        if model.needs_one_logical_port:
            return None                    # the flood-back case above
        if side.state == "static":
            return self.finding(
                ctx, agg.host, agg.name, evidence, text("doctor.bond.backup_static", **fields),
                [Fix(text("doctor.where.switch", switch=side.switch),
                     (f"interface range {', '.join(side.ports)}", " no channel-group")),
                 _bond_cmds(agg, "balance-xor")],
                affected=agg.vms(), probe=probe, fixer=partial(_remove_lag, side=side))
        if side.state == "lacp" and side.fallback == "suspend":
            return self.finding(
                ctx, agg.host, agg.name, evidence, text("doctor.bond.suspended", **fields),
                [_bond_cmds(agg, "802.3ad"),
                 Fix(text("doctor.where.switch", switch=side.switch),
                     (f"interface range {', '.join(side.ports)}", " no lacp suspend-individual"))],
                affected=agg.vms(), probe=probe,
                fixer=partial(_set_mode, host=agg.host, name=agg.name, is_team=False,
                              mode="802.3ad"))
        if model.rewrites_source:
            alb_probe = traffic_probe(ctx, agg.vms(), count=20, duration="22s")
            return self.finding(
                ctx, agg.host, agg.name, evidence, text("doctor.bond.alb", **fields),
                [_bond_cmds(agg, "active-backup")], severity="warning", affected=agg.vms(),
                probe=alb_probe,
                fixer=partial(_set_mode, host=agg.host, name=agg.name, is_team=False,
                              mode="active-backup"))
        return None


@register
class BondNoLinkMonitor(Check):
    id = "bond.no-link-monitor"
    severity = "warning"
    title = "bond without link monitoring (miimon 0 and no arp_interval)"
    title_zh = "bond 没有链路监控（miimon 为 0 且未设置 arp_interval）"
    rules = ("BD1", "BD13")
    references = ("https://docs.kernel.org/networking/bonding.html#link-monitoring",)
    texts: ClassVar[dict[str, tuple[str, str]]] = {"doctor.bond.no_monitor": (
        "{agg} has neither the MII monitor (miimon 0) nor the ARP monitor: a failed NIC, cable "
        "or switch port is never noticed (BD13), so {agg} keeps sending on the dead slave and "
        "the traffic hashed or scheduled there is lost until someone takes the slave down.",
        "{agg} 既没有 MII 监控（miimon 为 0）也没有 ARP 监控：网卡、网线或交换机端口故障永远不会"
        "被发现（BD13），{agg} 会继续在失效的 slave 上发送，分配到它上面的流量一直丢失，"
        "直到有人手动关闭该 slave。")}

    def run(self, ctx: Context) -> list[Finding]:
        out = []
        for agg in aggregates(ctx):
            params = agg.params
            if not isinstance(params, BondParams) or params.miimon or params.arp_interval:
                continue
            options = (*agg.base, "link-aggregation", "options")
            evidence = [ctx.config((*options, "miimon")),
                        ctx.config((*options, "arp_interval"), default="0 (no ARP monitor)")]
            vms = agg.vms()
            pull = ({"at": "2500ms", "link-down": f"{agg.host}:{agg.nics[0]}"},) \
                if agg.nics else ()
            probe = traffic_probe(ctx, vms, count=6, actions=pull, duration="8s") \
                if pull else None
            out.append(self.finding(
                ctx, agg.host, agg.name, evidence, text("doctor.bond.no_monitor", agg=agg.name),
                [host_fix(agg.host, f'nmcli connection modify {agg.name} +bond.options '
                          '"miimon=100"', nmcli_up(agg.name))],
                affected=vms, fixer=partial(_set_miimon, host=agg.host, name=agg.name),
                probe=probe))
        return out


def _set_miimon(doc: Doc, host: str, name: str) -> Doc:
    iface = interface(doc, host, name)
    assert iface is not None
    options = sub(sub(iface, "link-aggregation", "bond"), "options")
    options[key(options, "miimon")] = 100
    return doc
