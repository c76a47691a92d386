"""Linux bonding: all seven modes.

Mirrors: drivers/net/bonding/bond_main.c (bond_enslave, bond_handle_frame,
bond_xmit_roundrobin_slave_get, bond_rr_gen_slave_id, bond_xmit_activebackup_
slave_get, bond_xmit_3ad_xor_slave_get, bond_xmit_broadcast, bond_select_
active_slave, bond_find_best_slave, bond_miimon_inspect/commit, bond_ab_arp_
probe/inspect/commit, bond_loadbalance_arp_mon, bond_rcv_validate),
bond_alb.c (bond_xmit_tlb_slave_get, bond_xmit_alb_slave_get, tlb_choose_channel,
rlb_arp_xmit, alb_send_learning_packets, alb_swap_mac_addr) and bond_3ad.c
(through ``lacp.py``). Semantics §2: BD1-BD14.

Limitations (stated, not hidden):
- one sending CPU: balance-rr's per-CPU counter is one counter (BD7);
- balance-tlb/alb: slave speeds are equal, so the least-loaded slave is the
  one with the smallest assigned load (compute_gap); RLB handles ARP replies
  sent from an address on the bond itself (rlb_arp_xmit skips ARPs from a
  bridge above the bond, modern kernels); RLB client update bursts and
  rlb_arp_recv are not modelled;
- ``arp_validate`` is none/active/backup/all/filter with one rule: a
  validating slave counts only ARP frames to or from an ``arp_ip_target``;
- no IGMP (balance-rr's IGMP-on-active rule has nothing to act on).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from vnetlab.devices.aggregate import Aggregate, AggregatePort
from vnetlab.devices.netdev import NetDevice
from vnetlab.devices.xmit_hash import XmitHashPolicy, bond_xmit_hash, frame_len
from vnetlab.net.addr import BROADCAST, Mac, ip4_str
from vnetlab.net.frame import Arp, ArpOp, EtherType, Frame, Ipv4, Raw, arp_request
from vnetlab.sim.sim import Sim
from vnetlab.sim.time import MS, S, Time, format_duration
from vnetlab.sim.trace import Action

if TYPE_CHECKING:
    from vnetlab.devices.bond_3ad import Ad


class BondMode(StrEnum):
    """The kernel's mode names; numeric aliases 0-6 are accepted on input."""

    BALANCE_RR = "balance-rr"          # 0
    ACTIVE_BACKUP = "active-backup"    # 1
    BALANCE_XOR = "balance-xor"        # 2
    BROADCAST = "broadcast"            # 3
    LACP = "802.3ad"                   # 4
    BALANCE_TLB = "balance-tlb"        # 5
    BALANCE_ALB = "balance-alb"        # 6


USES_PRIMARY = (BondMode.ACTIVE_BACKUP, BondMode.BALANCE_TLB, BondMode.BALANCE_ALB)
ALB_MODES = (BondMode.BALANCE_TLB, BondMode.BALANCE_ALB)
ARP_MONITOR_MODES = (BondMode.BALANCE_RR, BondMode.ACTIVE_BACKUP, BondMode.BALANCE_XOR,
                     BondMode.BROADCAST)

BOND_TLB_REBALANCE_INTERVAL = 10 * S    # bond_alb.h
MAX_LP_BURST = 1     # learning packets per slave per lp_interval (alb_send_lp_vid, 3.13+)
ETH_P_LOOPBACK = 0x9000


@dataclass(frozen=True, slots=True)
class BondParams:
    """The bonding options (``BONDING_OPTS``, nmstate ``link-aggregation.options``);
    defaults are the driver's (BD1)."""

    mode: BondMode = BondMode.BALANCE_RR
    miimon: Time = 100 * MS
    updelay: Time = 0
    downdelay: Time = 0
    arp_interval: Time = 0
    arp_ip_target: tuple[int, ...] = ()
    arp_validate: str = "none"
    arp_missed_max: int = 2
    primary: str | None = None
    primary_reselect: str = "always"
    fail_over_mac: str = "none"
    xmit_hash_policy: XmitHashPolicy = XmitHashPolicy.LAYER2
    packets_per_slave: int = 1
    lacp_rate: str = "slow"
    lacp_active: bool = True
    ad_select: str = "stable"
    ad_actor_sys_prio: int = 65535
    ad_user_port_key: int = 0
    ad_actor_system: Mac | None = None
    min_links: int = 0
    all_slaves_active: bool = False
    num_grat_arp: int = 1
    peer_notif_delay: Time = 0
    lp_interval: Time = 1 * S
    tlb_dynamic_lb: bool = True


class Bond(Aggregate):
    """A bond device (``type: bond``). Its ports are the kernel's ``struct slave``."""

    kind = "bond"
    fn_link = "bond_miimon_commit"
    rule_link = "BD13"

    def __init__(self, sim: Sim, node: str, name: str, mac: Mac | None,
                 params: BondParams | None = None) -> None:
        super().__init__(sim, node, name, mac)
        self.params = params = params or BondParams()
        self.mode = params.mode
        # arp_interval turns MII monitoring off (bond_option_arp_interval_set)
        self.miimon = 0 if params.arp_interval else params.miimon
        self.primary = params.primary
        self.rr_tx_counter = 0
        self.curr_active: AggregatePort | None = None
        self.curr_arp_slave: AggregatePort | None = None
        self._gen: dict[AggregatePort, int] = {}
        self.last_link_up: dict[AggregatePort, Time] = {}
        self.force_primary = False
        self.fn_tx, self.rule_tx = TX_FN[self.mode]
        # balance-tlb/alb (bond_alb.c): hash bucket -> [port, tx_bytes, load_history]
        self.tx_hashtbl: dict[int, list[object]] = {}
        self.tlb_load: dict[AggregatePort, int] = {}
        self.unbalanced_load = 0
        self.rlb_next: int = 0
        self.ad: Ad | None = None
        if self.mode is BondMode.LACP:
            from vnetlab.devices.bond_3ad import Ad

            self.ad = Ad(self)
        if self.mode in ALB_MODES:
            sim.schedule(params.lp_interval, self._alb_monitor, 1)
        if params.arp_interval:
            sim.schedule(params.arp_interval, self._arp_monitor)

    # -- enslave ------------------------------------------------------------------
    def ports_take_aggregate_mac(self) -> bool:
        """BD3: slaves take the bond MAC, except in balance-tlb/alb and in
        active-backup with fail_over_mac active|follow."""
        if self.mode in ALB_MODES:
            return False
        return not (self.mode is BondMode.ACTIVE_BACKUP and self.params.fail_over_mac != "none")

    def port_added(self, port: AggregatePort) -> None:
        """bond_enslave() (BD5): the new slave starts as backup in the modes with
        a current active slave, and bond_select_active_slave() runs."""
        if self.miimon == 0 and self.params.arp_interval == 0:
            port.enabled = True                   # no monitor: the slave is UP for good
            port.link_state = "up"
        port.last_rx = port.last_tx = self.last_link_up[port] = self.sim.now
        self.tlb_load[port] = 0
        if port.name == self.primary:
            self.force_primary = True           # bond_enslave(): bond->force_primary
        if self.mode in USES_PRIMARY:
            self.select_active_slave("enslaved")
        if self.ad is not None:
            self.ad.port_added(port)

    # -- active slave ---------------------------------------------------------------
    def find_best_slave(self) -> AggregatePort | None:
        """bond_find_best_slave() -> bond_choose_primary_or_current(): the primary
        when it is up and (force_primary, set when it was enslaved; or no
        current; or primary_reselect always; ``better`` keeps the current at
        equal speed and duplex, ``failure`` keeps it); else the current if up;
        else the first slave whose link is up."""
        prim = next((p for p in self.ports if p.name == self.primary), None)
        curr = self.curr_active
        if prim is None or not prim.enabled:
            if curr is not None and curr.enabled:
                return curr
        elif self.force_primary:
            self.force_primary = False
            return prim
        elif curr is None or not curr.enabled:
            return prim
        else:
            return prim if self.params.primary_reselect == "always" else curr
        return next((p for p in self.ports if p.enabled), None)

    def select_active_slave(self, why: str, cause: int = 0) -> None:
        best = self.find_best_slave()
        if best is not self.curr_active:
            self.change_active_slave(best, why, cause)

    def change_active_slave(self, new: AggregatePort | None, why: str, cause: int = 0) -> None:
        """bond_change_active_slave(): per mode, MAC handling and peer notification."""
        old = self.curr_active
        self.curr_active = new
        if new is not None:
            self.last_link_up[new] = self.sim.now
        step = self.sim.step(self.where, new.name if new else "", Action.LINK, 0,
                             f"active slave is now {new.name if new else 'none'} ({why})",
                             "bond_change_active_slave", "BD8", cause=cause)
        if new is None:
            return
        if self.mode is BondMode.ACTIVE_BACKUP:
            fom = self.params.fail_over_mac
            if fom == "active":
                self.mac = new.dev.mac                  # bond MAC follows the active slave
                self.sim.step(self.where, self.name, Action.NOTE, 0,
                              f"fail_over_mac=active: {self.name} now uses {new.name}'s MAC",
                              "bond_do_fail_over_mac", "BD4", cause=step)
            elif fom == "follow" and old is not None and new.dev.mac != self.mac:
                old.dev.mac, new.dev.mac = new.dev.mac, self.mac
                self.sim.step(self.where, self.name, Action.NOTE, 0,
                              f"fail_over_mac=follow: {new.name} takes the bond MAC, "
                              f"{old.name} takes {new.name}'s", "bond_do_fail_over_mac", "BD4",
                              cause=step)
            if old is not None:
                spacing = self.params.peer_notif_delay or self.miimon or self.params.arp_interval
                self.notify_peers(self.params.num_grat_arp, spacing, "bond_change_active_slave",
                                  "BD14", step)
        elif self.mode in ALB_MODES:
            self._alb_swap(old, new, step)

    # -- link monitoring: MII -------------------------------------------------------
    def port_link_changed(self, dev: NetDevice) -> None:
        """The MII monitor polls carrier every ``miimon``: a change is seen at the
        next tick (bond_mii_monitor -> bond_miimon_inspect, BD13)."""
        if self.ad is not None:
            self.ad.carrier_changed(self.port_of[dev])
        if self.miimon == 0:
            return                      # no MII monitor: the ARP monitor (or nobody) decides
        now = self.sim.now
        next_tick = (now // self.miimon + 1) * self.miimon
        self.sim.schedule(next_tick - now, self._miimon_inspect, self.port_of[dev])

    def _rounded(self, delay: Time) -> Time:
        """updelay/downdelay are rounded down to a multiple of miimon (bond_options.c)."""
        return delay // self.miimon * self.miimon if self.miimon else 0

    def _miimon_inspect(self, port: AggregatePort) -> None:
        carrier = port.dev.running
        state = port.link_state
        gen = self._gen[port] = self._gen.get(port, 0) + 1
        if carrier and state in ("up", "fail"):
            if state == "fail":
                port.link_state = "up"
                self.sim.step(self.where, port.name, Action.LINK, 0,
                              f"link status up again for {port.name} before downdelay expired",
                              "bond_miimon_inspect", "BD13")
            return
        if not carrier and state in ("down", "back"):
            if state == "back":
                port.link_state = "down"
                self.sim.step(self.where, port.name, Action.LINK, 0,
                              f"link status down again for {port.name} before updelay expired",
                              "bond_miimon_inspect", "BD13")
            return
        delay = self._rounded(self.params.downdelay if not carrier else self.params.updelay)
        if carrier and delay and self._ignore_updelay():
            delay = 0
            self.sim.step(self.where, port.name, Action.NOTE, 0,
                          f"{port.name} is back and no slave is usable: updelay ignored",
                          "bond_miimon_inspect", "BD13")
        if delay:
            port.link_state = "fail" if not carrier else "back"
            what = "down" if not carrier else "up"
            self.sim.step(self.where, port.name, Action.LINK, 0,
                          f"link status {what} for {port.name}: "
                          f"{'disabling' if not carrier else 'enabling'} it in "
                          f"{format_duration(delay)} ({'down' if not carrier else 'up'}delay)",
                          "bond_miimon_inspect", "BD13")
            self.sim.schedule(delay, self._miimon_delay_done, port, gen)
            return
        self._commit_link(port, carrier, "bond_miimon_commit")

    def _ignore_updelay(self) -> bool:
        """bond_miimon_inspect(): updelay is skipped when active-backup has no
        current active slave, or no slave is usable in the other modes."""
        if self.mode is BondMode.ACTIVE_BACKUP:
            return self.curr_active is None
        return not self.usable()

    def _miimon_delay_done(self, port: AggregatePort, gen: int) -> None:
        if self._gen.get(port) != gen:
            return
        if port.link_state in ("fail", "back"):
            self._commit_link(port, port.link_state == "back", "bond_miimon_commit")

    def _commit_link(self, port: AggregatePort, up: bool, fn: str, why: str = "",
                     cause: int = 0) -> None:
        """bond_miimon_commit / bond_ab_arp_commit: the slave's link is UP or DOWN."""
        port.link_state = "up" if up else "down"
        if self.ad is not None:                 # 802.3ad: the aggregation enables ports
            if self.ad.link_up.get(port) == up:
                return
            self.ad.link_up[port] = up
            step = self.sim.step(self.where, port.name, Action.LINK, 0,
                                 f"link status definitely {'up' if up else 'down'} for "
                                 f"interface {port.name}{why}", fn, "BD13", cause=cause)
            self.ad.link_changed(port, step)
            return
        if port.enabled == up:
            return
        was_carrier = self.carrier
        port.enabled = up
        if up:
            self.last_link_up[port] = self.sim.now
        step = self.sim.step(self.where, port.name, Action.LINK, 0,
                             f"link status definitely {'up' if up else 'down'} for interface "
                             f"{port.name}{why}", fn, "BD13", cause=cause)
        if self.mode in USES_PRIMARY:
            self.select_active_slave(f"{port.name} link {'up' if up else 'down'}", step)
        if self.carrier != was_carrier:
            self.notify_carrier()

    # -- link monitoring: ARP ----------------------------------------------------------
    def _arp_source_ip(self, target: int) -> int:
        """bond_arp_send_all(): the route to the target may leave through a device
        above the bond (a bridge); the source is that device's address on the
        target's subnet (bond_confirm_addr), else 0.0.0.0."""
        dev: NetDevice | None = self
        while dev is not None:
            iface = getattr(dev.stack, "iface_of", {}).get(dev) if dev.stack is not None else None
            if iface is not None and iface.addresses:
                for addr, plen in iface.addresses:
                    mask = ((1 << plen) - 1) << (32 - plen) if plen else 0
                    if addr & mask == target & mask:
                        return int(addr)
                return int(iface.addresses[0][0])
            dev = dev.upper
        return 0

    def _arp_send_all(self, port: AggregatePort, cause: int) -> None:
        """bond_arp_send_all(): one ARP request per target, sender MAC = the slave's."""
        for target in self.params.arp_ip_target:
            frame = arp_request(self.sim.new_uid(), port.dev.mac, self._arp_source_ip(target),
                                target)
            step = self.sim.step(self.where, port.name, Action.TRANSMIT, frame.uid,
                                 f"ARP monitor probe on {port.name}: {frame.payload.describe()}",
                                 "bond_arp_send", "BD13", cause=cause)
            port.last_tx = self.sim.now
            port.dev.xmit(frame, step, 0)

    def _validates(self, port: AggregatePort) -> bool:
        mode = self.params.arp_validate
        if mode in ("all", "filter", "filter_all"):
            return True
        active = port is self.curr_active
        return (mode == "active" and active) or (mode == "backup" and not active)

    def recv_probe(self, port: AggregatePort, frame: Frame, cause: int) -> bool:
        """bond_rcv_validate() and the mode's probe: ``last_rx`` is stamped for any
        frame unless the slave validates, then only for ARP to/from a target."""
        if self.ad is not None and frame.ethertype == EtherType.SLOW:
            self.ad.lacpdu_recv(port, frame, cause)
            return True
        if not self.params.arp_interval or not self._validates(port):
            port.last_rx = self.sim.now
            return False
        payload = frame.payload
        if isinstance(payload, Arp) and (payload.spa in self.params.arp_ip_target
                                         or payload.tpa in self.params.arp_ip_target):
            port.last_rx = self.sim.now
        return False

    def _in_interval(self, stamp: Time, n: int) -> bool:
        """bond_time_in_interval(): ``stamp`` within the last ``n`` ARP intervals."""
        return self.sim.now - stamp <= n * self.params.arp_interval

    def _arp_monitor(self) -> None:
        if self.mode is BondMode.ACTIVE_BACKUP:
            self._ab_arp_mon()
        else:
            self._loadbalance_arp_mon()
        self.sim.schedule(self.params.arp_interval, self._arp_monitor)

    def _loadbalance_arp_mon(self) -> None:
        """bond_loadbalance_arp_mon(): up once it sent and heard within one
        interval; down once it did not within arp_missed_max intervals; probes
        go out on every slave."""
        missed = self.params.arp_missed_max
        for port in self.ports:
            if not port.dev.running:
                if port.enabled:
                    self._commit_link(port, False, "bond_loadbalance_arp_mon", " (no carrier)")
                continue
            if not port.enabled:
                if self._in_interval(port.last_tx, 1) and self._in_interval(port.last_rx, 1):
                    self._commit_link(port, True, "bond_loadbalance_arp_mon")
            elif not (self._in_interval(port.last_tx, missed)
                      and self._in_interval(port.last_rx, missed)):
                self._commit_link(port, False, "bond_loadbalance_arp_mon",
                                  f": nothing received for {missed} x "
                                  f"{format_duration(self.params.arp_interval)}")
            self._arp_send_all(port, 0)

    def _ab_arp_mon(self) -> None:
        """bond_activebackup_arp_mon(): inspect (BD13), commit, then probe from the
        active slave, or from the next candidate when there is none."""
        missed = self.params.arp_missed_max
        for port in self.ports:
            if not port.dev.running:
                if port.enabled:
                    self._commit_link(port, False, "bond_ab_arp_commit", " (no carrier)")
                continue
            if not port.enabled:
                if self._in_interval(port.last_rx, 1):
                    self._commit_link(port, True, "bond_ab_arp_commit")
                continue
            if self._in_interval(self.last_link_up.get(port, 0), 2):
                continue                 # 2 x delta of grace after enslave / becoming active
            if port is self.curr_active:
                if not (self._in_interval(port.last_tx, missed)
                        and self._in_interval(port.last_rx, missed)):
                    self._commit_link(port, False, "bond_ab_arp_commit",
                                      f": active slave heard nothing for {missed} x "
                                      f"{format_duration(self.params.arp_interval)}")
            elif self.curr_arp_slave is None and not self._in_interval(port.last_rx, missed + 1):
                self._commit_link(port, False, "bond_ab_arp_commit",
                                  f": backup slave heard nothing for {missed + 1} x "
                                  f"{format_duration(self.params.arp_interval)}")
        if self.curr_active is not None:
            self.curr_arp_slave = None
            self._arp_send_all(self.curr_active, 0)
            return
        # bond_ab_arp_probe(): try the next slave with carrier after curr_arp_slave
        candidates = [p for p in self.ports if p.dev.running]
        if not candidates:
            return
        if self.curr_arp_slave in candidates:
            nxt = candidates[(candidates.index(self.curr_arp_slave) + 1) % len(candidates)]
        else:
            nxt = candidates[0]
        self.curr_arp_slave = nxt
        nxt.link_state = "back"
        self._arp_send_all(nxt, 0)

    # -- receive ------------------------------------------------------------------------
    def rx_allowed(self, port: AggregatePort, frame: Frame) -> str | None:
        """BD6: which slaves deliver up, per mode."""
        if not port.enabled:
            return f"slave {port.name} link is down"
        mode = self.mode
        if mode in (BondMode.BALANCE_RR, BondMode.BALANCE_XOR, BondMode.BROADCAST):
            return None
        if mode is BondMode.LACP:
            assert self.ad is not None
            why: str | None = self.ad.rx_allowed(port)
            return why
        if self.params.all_slaves_active or port is self.curr_active:
            return None
        if mode is BondMode.BALANCE_ALB and not frame.dst & 0x0100_0000_0000:
            return None                      # RLB steers peers to every slave: unicast is fine
        what = "multicast/broadcast on a non-active slave" if mode is BondMode.BALANCE_ALB \
            else "a backup (inactive)"
        return f"slave {port.name} is {what}"

    def rx_rewrite(self, port: AggregatePort, frame: Frame) -> Frame:
        """balance-alb: a frame addressed to a slave's own MAC was PACKET_HOST
        already (eth_type_trans on the slave) and stays for this host. With the
        bond in a bridge the destination is rewritten to the bond MAC (BD6.4);
        without, the kernel keeps pkt_type: vnetlab, whose IP stack checks the
        destination, gives it the bond MAC too (same outcome)."""
        if (self.mode is BondMode.BALANCE_ALB and frame.dst == port.dev.mac
                and frame.dst != self.mac):
            note = ("balance-alb: destination rewritten to the bond MAC for the bridge"
                    if self.upper is not None else
                    f"balance-alb: addressed to {port.name}'s own MAC: PACKET_HOST, for this host")
            self.sim.step(self.where, port.name, Action.NOTE, frame.uid, note,
                          "bond_handle_frame", "BD6")
            return replace(frame, dst=self.mac)
        return frame

    # -- transmit -------------------------------------------------------------------------
    def usable(self) -> list[AggregatePort]:
        """bond->usable_slaves: slaves that can transmit, in slave-list order."""
        if self.ad is not None:
            usable: list[AggregatePort] = self.ad.usable()
            return usable
        return [p for p in self.ports if p.enabled and p.dev.running]

    def xmit(self, frame: Frame, cause: int, hops: int) -> None:
        if self.mode is BondMode.BROADCAST:           # bond_xmit_broadcast()
            self.xmit_all(frame, cause, hops, "broadcast: a copy on every slave",
                          "broadcast: no slave is up")
        else:
            super().xmit(frame, cause, hops)

    def select_tx(self, frame: Frame) -> tuple[AggregatePort | None, str]:
        mode = self.mode
        if mode is BondMode.ACTIVE_BACKUP:
            return self.active_tx(self.curr_active, "active-backup (curr_active_slave)")
        if mode is BondMode.BALANCE_RR:
            return self._rr(frame)
        if mode in (BondMode.BALANCE_XOR, BondMode.LACP):
            usable = self.usable()
            if not usable:
                return None, f"{mode}: no usable slave"
            value = bond_xmit_hash(frame, self.params.xmit_hash_policy)
            port = usable[value % len(usable)]
            return port, (f"{mode}: {self.params.xmit_hash_policy} hash {value} % "
                          f"{len(usable)} -> {port.name}")
        return self._alb_select(frame)

    def _rr(self, frame: Frame) -> tuple[AggregatePort | None, str]:
        """bond_rr_gen_slave_id(): this_cpu_inc_return(rr_tx_counter), divided by
        packets_per_slave, or random when it is 0; then the first slave able to
        transmit from id % slave_cnt (bond_get_slave_by_id) (BD7)."""
        count = len(self.ports)
        if not count:
            return None, "balance-rr: no slaves"
        pps = self.params.packets_per_slave
        if pps == 0:
            slave_id = self.sim.rng.getrandbits(32)
        else:
            self.rr_tx_counter += 1
            slave_id = self.rr_tx_counter // pps if pps > 1 else self.rr_tx_counter
        start = slave_id % count
        for offset in range(count):
            port = self.ports[(start + offset) % count]
            if port.enabled and port.dev.running:
                return port, f"balance-rr: slave id {slave_id} % {count} -> {port.name}"
        return None, "balance-rr: no slave can transmit"

    # -- balance-tlb / balance-alb ----------------------------------------------------
    def _alb_select(self, frame: Frame) -> tuple[AggregatePort | None, str]:
        """bond_xmit_tlb_slave_get / bond_xmit_alb_slave_get + bond_do_alb_xmit (BD11)."""
        mode = self.mode
        packet = frame.payload
        port: AggregatePort | None = None
        why = "not balanced: sent on the active slave"
        if mode is BondMode.BALANCE_TLB:
            if not frame.dst & 0x0100_0000_0000 and isinstance(packet, Ipv4):
                value = bond_xmit_hash(frame, self.params.xmit_hash_policy)
                port, why = self._tlb_channel(value & 0xFF, frame, value)
        elif isinstance(packet, Ipv4):
            if frame.dst != BROADCAST and packet.dst != 0xFFFF_FFFF:
                index = 0
                for byte in packet.dst.to_bytes(4, "big"):   # _simple_hash(&iph->daddr)
                    index ^= byte
                port, why = self._tlb_channel(index, frame, index)
        elif isinstance(packet, Arp) and frame.ethertype == EtherType.ARP:
            port, why = self._rlb_arp_xmit(frame, packet)
        if port is None:
            self.unbalanced_load += frame_len(frame)
            return self.active_tx(self.curr_active, f"{mode}: {why}")
        if not port.dev.running:
            return None, f"{mode}: {port.name} cannot transmit"
        return port, f"{mode}: {why}"

    def _tlb_channel(self, index: int, frame: Frame, value: int) -> tuple[AggregatePort | None, str]:
        if not self.params.tlb_dynamic_lb:
            usable = self.usable()
            if not usable:
                return None, "no usable slave"
            port = usable[value % len(usable)]
            return port, f"hash {value} % {len(usable)} -> {port.name}"
        entry = self.tx_hashtbl.get(index)
        if entry is None or entry[0] is None:
            # tlb_get_least_loaded_slave(): the largest gap between speed and load
            candidates = [p for p in self.ports if p.enabled and p.dev.running]
            if not candidates:
                return None, "no slave is up"
            port = min(candidates, key=lambda p: self.tlb_load[p])
            history = entry[2] if entry is not None else 0
            assert isinstance(history, int)
            entry = [port, 0, history]
            self.tx_hashtbl[index] = entry
            self.tlb_load[port] += history
            why = f"hash bucket {index} assigned to the least loaded slave {port.name}"
        else:
            port = entry[0]                           # type: ignore[assignment]
            why = f"hash bucket {index} is assigned to {port.name}"
        sent = entry[1]
        assert isinstance(sent, int)
        entry[1] = sent + frame_len(frame)
        assert isinstance(port, AggregatePort)
        return port, why

    def _rlb_arp_xmit(self, frame: Frame, arp: Arp) -> tuple[AggregatePort | None, str]:
        """rlb_arp_xmit(): only ARPs from an address on the bond itself are load
        balanced; a reply leaves on the slave RLB assigns to the client, with
        that slave's MAC as sender (BD11)."""
        mine = self.own_ipv4()
        if arp.spa not in mine:
            return None, "ARP not from the bond's own address: not RLB-managed"
        if arp.op is not ArpOp.REPLY:
            return None, "ARP request: sent on the active slave"
        candidates = [p for p in self.ports if p.enabled and p.dev.running]
        if not candidates:
            return None, "no slave is up"
        port = candidates[self.rlb_next % len(candidates)]       # rlb_next_rx_slave()
        self.rlb_next += 1
        return port, f"RLB assigned client {ip4_str(arp.tpa)} to {port.name}"

    def tx_rewrite(self, port: AggregatePort, frame: Frame) -> Frame:
        """bond_do_alb_xmit(): on a slave other than the active one the source
        MAC becomes the slave's own (and RLB's ARP replies carry it as sender)."""
        if self.mode not in ALB_MODES or port is self.curr_active or frame.src == port.dev.mac:
            return frame
        payload = frame.payload
        if isinstance(payload, Arp) and payload.op is ArpOp.REPLY and payload.spa in self.own_ipv4():
            payload = replace(payload, sha=port.dev.mac)
        self.src_rewrites += 1
        self.sim.step(self.where, port.name, Action.NOTE, frame.uid,
                      f"{self.mode}: {port.name} is not the active slave: source MAC "
                      f"rewritten to {port.name}'s own", "bond_do_alb_xmit", "BD11")
        return replace(frame, src=port.dev.mac, payload=payload)

    def _alb_swap(self, old: AggregatePort | None, new: AggregatePort, cause: int) -> None:
        """alb_swap_mac_addr() + alb_fasten_mac_swap(): the new active slave takes
        the bond MAC, the old one the new one's, and both send learning packets."""
        if new.dev.mac != self.mac:
            holder = old if old is not None and old.dev.mac == self.mac else \
                next((p for p in self.ports if p.dev.mac == self.mac), None)
            if holder is not None:
                holder.dev.mac = new.dev.mac
            new.dev.mac = self.mac
            self.sim.step(self.where, new.name, Action.NOTE, 0,
                          f"{new.name} takes the bond MAC"
                          + (f", {holder.name} takes {new.name}'s" if holder else ""),
                          "alb_swap_mac_addr", "BD11", cause=cause)
            for port in (new, holder):
                if port is not None and port.enabled:
                    self._learning_packets(port, cause)

    def _alb_monitor(self, ticks: int) -> None:
        """bond_alb_monitor(): learning packets every lp_interval; every
        BOND_TLB_REBALANCE_INTERVAL the TX hash table is cleared, keeping each
        bucket's load history (tlb_clear_slave with save_load)."""
        for port in self.ports:
            if port.enabled and port.dev.running:
                self._learning_packets(port, 0)
        interval = self.params.lp_interval
        if ticks * interval % BOND_TLB_REBALANCE_INTERVAL < interval:
            for entry in self.tx_hashtbl.values():
                sent = entry[1]
                assert isinstance(sent, int)
                entry[0] = None
                entry[2] = 1 + sent // (BOND_TLB_REBALANCE_INTERVAL // S)
                entry[1] = 0
            for port in self.tlb_load:
                self.tlb_load[port] = 0
            if self.curr_active is not None:
                self.tlb_load[self.curr_active] = self.unbalanced_load // (
                    BOND_TLB_REBALANCE_INTERVAL // S)
            self.unbalanced_load = 0
        self.sim.schedule(interval, self._alb_monitor, ticks + 1)

    def _learning_packets(self, port: AggregatePort, cause: int) -> None:
        """alb_send_learning_packets(): src = dst = the slave's MAC, type 0x9000."""
        for _ in range(MAX_LP_BURST):
            frame = Frame(port.dev.mac, port.dev.mac, ETH_P_LOOPBACK, Raw(46), self.sim.new_uid())
            step = self.sim.step(self.where, port.name, Action.TRANSMIT, frame.uid,
                                 f"learning packet on {port.name}", "alb_send_learning_packets",
                                 "BD11", cause=cause) if self.sim.tracing else cause
            port.dev.xmit(frame, step, 0)

    # -- the carrier --------------------------------------------------------------------
    @property
    def carrier(self) -> bool:
        """bond_set_carrier(): 802.3ad needs min_links ports in the active
        aggregator; the other modes need one slave with link."""
        if self.ad is not None:
            return self.admin_up and self.ad.carrier()
        return self.admin_up and any(p.enabled for p in self.ports)


TX_FN = {
    BondMode.BALANCE_RR: ("bond_xmit_roundrobin_slave_get", "BD7"),
    BondMode.ACTIVE_BACKUP: ("bond_xmit_activebackup_slave_get", "BD8"),
    BondMode.BALANCE_XOR: ("bond_xmit_3ad_xor_slave_get", "BD9"),
    BondMode.BROADCAST: ("bond_xmit_broadcast", "BD10"),
    BondMode.LACP: ("bond_xmit_3ad_xor_slave_get", "BD9"),
    BondMode.BALANCE_TLB: ("bond_xmit_tlb_slave_get", "BD11"),
    BondMode.BALANCE_ALB: ("bond_xmit_alb_slave_get", "BD11"),
}
