"""The team driver with teamd's runners and link watchers.

Mirrors: drivers/net/team/team_core.c (team_handle_frame, team_port_enable),
team_mode_{roundrobin,broadcast,random,activebackup,loadbalance}.c, and libteam's
teamd: teamd_runner_basic_ones.c, teamd_runner_activebackup.c,
teamd_runner_loadbalance.c, teamd_runner_lacp.c (through ``teamd_lacp.py``),
teamd_link_watch.c, teamd_lw_ethtool.c, teamd_lw_arp_ping.c / teamd_lw_psr.c.
Semantics §3: T1-T8.

A port has two states, as in teamd: the link watcher's verdict (``link_up``)
and the kernel's ``enabled`` flag that TX and RX obey. Every runner but lacp
enables a port when its link watch says up; lacp enables a port only when it
is selected with a synchronised partner (T6).

Limitations: loadbalance's ``tx_balancer`` (periodic re-mapping of hash
buckets by load) is accepted and not modelled: buckets map to ``hash %
ports``; arp_ping's ARP filter passes ARP replies only (lw_ap receive), so a
port that does not send (disabled, ``send_always`` false) hears nothing;
``nsna_ping`` is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from vnetlab.devices.aggregate import Aggregate, AggregatePort
from vnetlab.devices.netdev import NetDevice
from vnetlab.devices.xmit_hash import TEAMD_DEFAULT_TX_HASH, teamd_hash
from vnetlab.net.addr import Mac
from vnetlab.net.frame import Arp, ArpOp, EtherType, Frame, arp_request
from vnetlab.sim.sim import Sim
from vnetlab.sim.time import MS, Time, format_duration
from vnetlab.sim.trace import Action

if TYPE_CHECKING:
    from vnetlab.devices.teamd_lacp import TeamdLacp


class TeamRunner(StrEnum):
    """teamd runner names (teamd.conf(5)); roundrobin is teamd's default (T1)."""

    ROUNDROBIN = "roundrobin"
    ACTIVEBACKUP = "activebackup"
    BROADCAST = "broadcast"
    RANDOM = "random"
    LOADBALANCE = "loadbalance"
    LACP = "lacp"


@dataclass(frozen=True, slots=True)
class LinkWatch:
    """A teamd link watcher (``link_watch``): ethtool (carrier, with delays) or
    arp_ping (periodic ARP requests; the port is down after ``missed_max``
    intervals without a reply) (T7)."""

    name: str = "ethtool"
    delay_up: Time = 0
    delay_down: Time = 0
    interval: Time = 1000 * MS
    init_wait: Time = 0
    missed_max: int = 3
    source_host: int = 0
    target_host: int = 0
    validate_active: bool = False
    validate_inactive: bool = False
    send_always: bool = False


@dataclass(frozen=True, slots=True)
class TeamPortParams:
    prio: int = 0
    sticky: bool = False
    lacp_prio: int = 255
    lacp_key: int = 0
    link_watch: LinkWatch | None = None


@dataclass(frozen=True, slots=True)
class TeamParams:
    """teamd's JSON config with its defaults (teamd.conf(5))."""

    runner: TeamRunner = TeamRunner.ROUNDROBIN
    hwaddr_policy: str = "same_all"
    tx_hash: tuple[str, ...] = TEAMD_DEFAULT_TX_HASH
    link_watch: LinkWatch = field(default_factory=LinkWatch)
    notify_peers_count: int | None = None       # None: 1 for activebackup, else 0 (T5)
    notify_peers_interval: Time = 0
    # lacp runner (T6)
    active: bool = True
    fast_rate: bool = False
    sys_prio: int = 65535
    min_ports: int = 1
    agg_select_policy: str = "lacp_prio"


class Team(Aggregate):
    """A team device (``type: team``)."""

    kind = "team"
    fn_rx = "team_handle_frame"
    rule_rx = "T2"
    fn_link = "teamd link_watch"
    rule_link = "T7"

    def __init__(self, sim: Sim, node: str, name: str, mac: Mac | None,
                 params: TeamParams | TeamRunner | None = None) -> None:
        super().__init__(sim, node, name, mac)
        if isinstance(params, TeamRunner):
            params = TeamParams(runner=params)
        self.params = params = params or TeamParams()
        self.runner = params.runner
        self.sent_packets = 0                  # rr_priv(team)->sent_packets
        self.active: AggregatePort | None = None
        self.port_params: dict[AggregatePort, TeamPortParams] = {}
        self.link_up: dict[AggregatePort, bool] = {}
        self._gen: dict[AggregatePort, int] = {}
        self._reply: dict[AggregatePort, bool] = {}
        self._missed: dict[AggregatePort, int] = {}
        self._next_params = TeamPortParams()
        self.fn_tx = TX_FN[self.runner]
        self.rule_tx = "T3"
        self.lacp: TeamdLacp | None = None
        if self.runner is TeamRunner.LACP:
            from vnetlab.devices.teamd_lacp import TeamdLacp

            self.lacp = TeamdLacp(self)

    # -- ports ------------------------------------------------------------------------
    def ports_take_aggregate_mac(self) -> bool:
        """T4: every runner but activebackup with hwaddr_policy by_active /
        only_active gives the ports the team MAC."""
        return not (self.runner is TeamRunner.ACTIVEBACKUP
                    and self.params.hwaddr_policy in ("by_active", "only_active"))

    def add_port(self, dev: NetDevice, params: TeamPortParams | None = None) -> AggregatePort:
        self._next_params = params or TeamPortParams()
        return self.enslave(dev)

    def port_added(self, port: AggregatePort) -> None:
        params = self.port_params[port] = self._next_params
        self._next_params = TeamPortParams()
        port.prio = params.prio
        self.link_up[port] = port.dev.running
        # teamd enables a port when its link watch says up; lacp when LACP says so;
        # activebackup only the active port ("Newly added ports are disabled")
        port.enabled = port.dev.running and self.runner not in (TeamRunner.LACP,
                                                                 TeamRunner.ACTIVEBACKUP)
        watch = self.watch(port)
        if watch.name == "arp_ping":
            self._missed[port] = 0
            self._reply[port] = False
            self.sim.schedule(watch.init_wait + watch.interval, self._arp_ping, port)
        if self.lacp is not None:
            self.lacp.port_added(port)
        elif self.runner is TeamRunner.ACTIVEBACKUP and self.active is None and port.dev.running:
            self.set_active(port, "first port with link")

    def watch(self, port: AggregatePort) -> LinkWatch:
        own = self.port_params.get(port)
        return own.link_watch if own is not None and own.link_watch is not None \
            else self.params.link_watch

    # -- link watch -----------------------------------------------------------------------
    def port_link_changed(self, dev: NetDevice) -> None:
        """ethtool link watch: carrier changes arrive by netlink at once, then
        wait delay_up / delay_down (teamd_lw_ethtool.c)."""
        port = self.port_of[dev]
        if self.lacp is not None:
            self.lacp.carrier_changed(port)
        watch = self.watch(port)
        if watch.name != "ethtool":
            if not dev.running and self.link_up.get(port):
                self.link_watch_result(port, False, "no carrier")
            return
        up = dev.running
        gen = self._gen[port] = self._gen.get(port, 0) + 1
        delay = watch.delay_up if up else watch.delay_down
        if delay:
            self.sim.step(self.where, port.name, Action.LINK, 0,
                          f"ethtool link watch: {port.name} carrier {'up' if up else 'down'}, "
                          f"waiting delay_{'up' if up else 'down'} {format_duration(delay)}",
                          "lw_ethtool_event_watch_port_changed", "T7")
            self.sim.schedule(delay, self._delayed, port, up, gen)
        else:
            self.link_watch_result(port, up, "carrier")

    def _delayed(self, port: AggregatePort, up: bool, gen: int) -> None:
        if self._gen.get(port) == gen:
            self.link_watch_result(port, up, "carrier, after the delay")

    def _arp_ping(self, port: AggregatePort) -> None:
        """lw_psr_callback_periodic(): a reply heard in the last interval keeps
        the link up; more than missed_max misses take it down; then the next
        request goes out if the port is enabled or send_always (T7)."""
        watch = self.watch(port)
        if self._reply[port]:
            self._missed[port] = 0
            if not self.link_up.get(port):
                self.link_watch_result(port, True, "arp_ping reply received")
        else:
            self._missed[port] += 1
            if self._missed[port] > watch.missed_max and self.link_up.get(port):
                self.link_watch_result(port, False, f"arp_ping missed {self._missed[port]} "
                                       f"replies (missed_max {watch.missed_max})")
        self._reply[port] = False
        # teamd sends on enabled ports (or all with send_always); while no port
        # is enabled, link_watch_refresh_forced_send makes every port probe
        forced = not any(p.enabled for p in self.ports)
        if (port.enabled or watch.send_always or forced) and port.dev.running:
            frame = arp_request(self.sim.new_uid(), port.dev.mac, watch.source_host,
                                watch.target_host)
            step = self.sim.step(self.where, port.name, Action.TRANSMIT, frame.uid,
                                 f"arp_ping on {port.name}: {frame.payload.describe()}",
                                 "lw_ap_send", "T7")
            port.last_tx = self.sim.now
            port.dev.xmit(frame, step, 0)
        self.sim.schedule(watch.interval, self._arp_ping, port)

    def recv_probe(self, port: AggregatePort, frame: Frame, cause: int) -> bool:
        """teamd's sockets on the port see every frame (also on disabled ports):
        LACPDUs go to the lacp runner; arp_ping takes ARP replies, validated
        (from target_host to source_host) if the port's validate flag is set."""
        port.last_rx = self.sim.now
        if self.lacp is not None and frame.ethertype == EtherType.SLOW:
            self.lacp.lacpdu_recv(port, frame, cause)
            return True
        if port in self._reply and frame.ethertype == EtherType.ARP:
            arp = frame.payload
            if isinstance(arp, Arp) and arp.op is ArpOp.REPLY:
                watch = self.watch(port)
                validate = watch.validate_active if port.enabled else watch.validate_inactive
                if not validate or (arp.spa == watch.target_host and arp.tpa == watch.source_host):
                    self._reply[port] = True
        return False

    def link_watch_result(self, port: AggregatePort, up: bool, why: str, cause: int = 0) -> None:
        """teamd_link_watch_check_link_up(): the runner hears the verdict."""
        if self.link_up.get(port) == up:
            return
        was = self.carrier
        self.link_up[port] = up
        step = self.sim.step(self.where, port.name, Action.LINK, 0,
                             f"link watch: {port.name} link {'up' if up else 'down'} ({why})",
                             "teamd_link_watch_check_link_up", "T7", cause=cause)
        if self.lacp is not None:
            self.lacp.link_changed(port, step)
        elif self.runner is TeamRunner.ACTIVEBACKUP:
            self._ab_reselect(f"{port.name} link {'up' if up else 'down'}", step)
        else:
            self.set_enabled(port, up, step)
        if self.carrier != was:
            self.notify_carrier()

    def set_enabled(self, port: AggregatePort, enabled: bool, cause: int = 0) -> None:
        """team_port_enable()/team_port_disable(): the kernel's TX/RX flag."""
        if port.enabled == enabled:
            return
        was = self.carrier
        port.enabled = enabled
        self.sim.step(self.where, port.name, Action.LINK, 0,
                      f"port {port.name} {'enabled' if enabled else 'disabled'}",
                      "team_port_enable" if enabled else "team_port_disable", "T2", cause=cause)
        if self.carrier != was:
            self.notify_carrier()

    # -- activebackup ---------------------------------------------------------------------
    def _ab_reselect(self, why: str, cause: int) -> None:
        """ab_link_watch_handler(): keep a healthy active port unless a better one
        (higher prio) appears and the active is not sticky (T5)."""
        best = self._best_port()
        active = self.active
        if active is not None and self.link_up.get(active) and (
                best is None or best is active or best.prio <= active.prio
                or self.port_params[active].sticky):
            return
        if best is not active:
            self.set_active(best, why, cause)

    def _best_port(self) -> AggregatePort | None:
        """Highest ``prio`` among ports whose link is up; the first on ties."""
        best: AggregatePort | None = None
        for port in self.ports:
            if self.link_up.get(port) and (best is None or port.prio > best.prio):
                best = port
        return best

    def set_active(self, port: AggregatePort | None, why: str, cause: int = 0) -> None:
        """teamd activebackup: set the kernel's ``activeport`` option, apply the
        hwaddr_policy and notify peers (T4, T5)."""
        old = self.active
        self.active = port
        step = self.sim.step(self.where, port.name if port else "", Action.LINK, 0,
                             f"active port is now {port.name if port else 'none'} ({why})",
                             "ab_change_active_port", "T5", cause=cause)
        if port is not None:
            self.set_enabled(port, True, step)           # ab_set_active_port()
        if old is not None and old is not port:
            self.set_enabled(old, False, step)           # ab_clear_active_port()
        if port is None:
            return
        policy = self.params.hwaddr_policy
        if policy == "by_active":
            self.mac = port.dev.mac
        elif policy == "only_active":
            if old is not None:
                old.dev.mac = old.perm_mac
            port.dev.mac = self.mac
        if old is not None:
            count = self.params.notify_peers_count
            self.notify_peers(1 if count is None else count, self.params.notify_peers_interval,
                              "ab_state_active_port_set", "T5", step)

    # -- data path -------------------------------------------------------------------------
    def rx_allowed(self, port: AggregatePort, frame: Frame) -> str | None:
        if not port.enabled:
            if self.runner is TeamRunner.ACTIVEBACKUP:
                return (f"team port {port.name} is not enabled (teamd activebackup enables "
                        "only the active port; ab_receive drops the rest too)")
            return f"team port {port.name} is not enabled"
        if self.runner is TeamRunner.ACTIVEBACKUP and port is not self.active:
            return f"{port.name} is not the active port (ab_receive)"
        return None

    def enabled_ports(self) -> list[AggregatePort]:
        return [p for p in self.ports if p.enabled]

    def xmit(self, frame: Frame, cause: int, hops: int) -> None:
        if self.runner is TeamRunner.BROADCAST:            # bc_transmit()
            self.xmit_all(frame, cause, hops, "broadcast: a copy on every enabled port",
                          "broadcast: no enabled port")
        else:
            super().xmit(frame, cause, hops)

    def select_tx(self, frame: Frame) -> tuple[AggregatePort | None, str]:
        runner = self.runner
        if runner is TeamRunner.ACTIVEBACKUP:
            return self.active_tx(self.active, "activebackup")
        enabled = self.enabled_ports()
        if not enabled:
            return None, f"{runner}: no enabled port"
        if runner is TeamRunner.ROUNDROBIN:
            # port_index = sent_packets++ % en_port_count, then the first txable
            # port from there (team_get_first_port_txable_rcu)
            index = self.sent_packets % len(enabled)
            self.sent_packets += 1
            why = f"roundrobin: frame #{self.sent_packets} -> port index {index}"
        elif runner is TeamRunner.RANDOM:
            index = self.sim.rng.randrange(len(enabled))          # prandom_u32_max()
            why = f"random: port index {index}"
        else:                                                      # loadbalance, lacp
            value = teamd_hash(frame, self.params.tx_hash)
            index = value % len(enabled)
            why = f"{runner}: tx_hash {'+'.join(self.params.tx_hash)} = {value} % {len(enabled)}"
        for offset in range(len(enabled)):
            port = enabled[(index + offset) % len(enabled)]
            if port.dev.running:
                return port, why
        return None, f"{runner}: no txable port"

    @property
    def carrier(self) -> bool:
        """teamd sets the team's carrier: on while a port's link watch says up
        (teamd_link_watch), for lacp while min_ports ports are enabled (T6)."""
        if self.lacp is not None:
            return self.admin_up and len(self.enabled_ports()) >= self.params.min_ports
        return self.admin_up and any(self.link_up.get(p) for p in self.ports)


TX_FN = {
    TeamRunner.ROUNDROBIN: "rr_transmit",
    TeamRunner.ACTIVEBACKUP: "ab_transmit",
    TeamRunner.BROADCAST: "bc_transmit",
    TeamRunner.RANDOM: "rnd_transmit",
    TeamRunner.LOADBALANCE: "lb_transmit",
    TeamRunner.LACP: "lb_transmit",
}
