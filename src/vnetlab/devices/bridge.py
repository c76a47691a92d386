"""The Linux bridge: learns source MACs per port and floods unknown destinations.

Mirrors: net/bridge/{br_input,br_forward,br_fdb,br_if,br_device,br_stp}.c,
Linux v6.12 (semantics §1: B1-B15, B18).

Limitations: no VLAN filtering (every frame is VID 0, B16); STP is modelled
as port-state timers (listening -> learning -> forwarding after
``forward_delay`` each, B18), not as BPDU exchange, so no port is ever
BLOCKING and loops are left to the storm guard; no multicast snooping
(multicast floods as with no querier, B4.4); no br_netfilter; no
proxy-ARP/neigh_suppress; no backup ports.
"""

from __future__ import annotations

from enum import StrEnum

from vnetlab.devices.fdb import DEFAULT_AGEING, Fdb, FdbEntry
from vnetlab.devices.netdev import NetDevice
from vnetlab.net.addr import BROADCAST, Mac, is_link_local, is_valid_ether_addr, mac_str
from vnetlab.net.frame import Frame
from vnetlab.sim.sim import Sim, Timer
from vnetlab.sim.time import S, Time, format_duration
from vnetlab.sim.trace import Action, DropReason

BR_MIN_FORWARD_DELAY: Time = 2 * S     # include/net/br_private_stp.h (B19)
BR_MAX_FORWARD_DELAY: Time = 30 * S


class PortState(StrEnum):
    """BR_STATE_* (include/uapi/linux/if_bridge.h)."""

    DISABLED = "disabled"
    LISTENING = "listening"
    LEARNING = "learning"
    FORWARDING = "forwarding"
    BLOCKING = "blocking"


class BridgePort:
    """struct net_bridge_port: a device enslaved to a bridge and its flags (B15)."""

    __slots__ = ("bcast_flood", "bridge", "dev", "flood", "hairpin", "isolated", "learning",
                 "mcast_flood", "name", "state", "stp_timer")

    def __init__(self, bridge: Bridge, dev: NetDevice) -> None:
        self.bridge = bridge
        self.dev = dev
        self.name = dev.name
        self.state = PortState.DISABLED           # new_nbp(): B2b
        self.learning = True
        self.flood = True
        self.mcast_flood = True
        self.bcast_flood = True
        self.hairpin = False
        self.isolated = False
        self.stp_timer: Timer | None = None


class Bridge(NetDevice):
    """A Linux bridge device (``type: linux-bridge``)."""

    kind = "bridge"

    def __init__(self, sim: Sim, node: str, name: str, mac: Mac | None, *,
                 ageing_time: Time = DEFAULT_AGEING, stp: bool = False,
                 forward_delay: Time = 15 * S) -> None:
        super().__init__(sim, node, name, mac or 0)
        self.mac_set_by_user = mac is not None       # addr_assign_type == NET_ADDR_SET
        self.ports: list[BridgePort] = []
        self.port_of: dict[NetDevice, BridgePort] = {}
        self.fdb: Fdb[BridgePort | None] = Fdb(sim, self.where, ageing_time, fn="br_fdb_update",
                                               rule="B7")
        if mac is not None:
            # br_dev_newlink -> br_stp_change_bridge_id -> br_fdb_change_mac_address: a
            # configured bridge MAC gets its permanent local entry at once (found by the
            # kernel comparison, tests/kernel/test_failover_kernel.py)
            self.fdb.add_local(mac, 0, None)
        self.stp = stp
        self.forward_delay = forward_delay
        if stp and not BR_MIN_FORWARD_DELAY <= forward_delay <= BR_MAX_FORWARD_DELAY:
            # br_stp_start() clamps an out-of-range delay when STP is turned on
            # (br_set_forward_delay refuses one while it is on): B19
            self.forward_delay = min(max(forward_delay, BR_MIN_FORWARD_DELAY), BR_MAX_FORWARD_DELAY)
            sim.step(self.where, name, Action.NOTE, 0,
                     f"forward delay {format_duration(forward_delay)} is outside 2-30 s: STP on "
                     f"clamps it to {format_duration(self.forward_delay)}", "br_stp_start", "B19")

    # -- configuration -------------------------------------------------------
    @property
    def carrier(self) -> bool:
        """B18: the bridge has carrier while at least one port forwards."""
        return self.admin_up and any(p.state is PortState.FORWARDING for p in self.ports)

    def add_port(self, dev: NetDevice) -> BridgePort:
        """br_add_if() (B2): new port disabled, local FDB entry for its MAC,
        bridge MAC recomputed, port enabled if its device is up."""
        port = BridgePort(self, dev)
        self.ports.append(port)
        self.port_of[dev] = port
        dev.upper = self
        dev.rx_handler = self.handle_frame
        dev.carrier_watchers.append(self.port_carrier_check)
        self.fdb.add_local(dev.mac, 0, port)                      # B2c
        self.recalculate_bridge_id()                               # B2d
        if dev.running:
            self.enable_port(port, 0)                              # B2f
        return port

    def recalculate_bridge_id(self) -> None:
        """br_stp_recalculate_bridge_id(): the lowest port MAC, unless set by the user."""
        if self.mac_set_by_user or not self.ports:
            return
        lowest = min(p.dev.mac for p in self.ports)
        if lowest != self.mac:
            self.mac = lowest
            self.fdb.add_local(lowest, 0, None)

    def port_carrier_check(self, dev: NetDevice) -> None:
        """br_port_carrier_check(): enable or disable the port with its device (B2f, B11a)."""
        port = self.port_of[dev]
        if dev.running and port.state is PortState.DISABLED:
            self.enable_port(port, 0)
        elif not dev.running and port.state is not PortState.DISABLED:
            self.disable_port(port, 0)

    def enable_port(self, port: BridgePort, cause: int) -> None:
        """br_stp_enable_port() -> br_make_forwarding() (B18). With STP on the
        delay is at least 2 s (B19), so only STP off forwards at once."""
        if not self.stp:
            self._set_state(port, PortState.FORWARDING, "STP off", cause)
            return
        self._set_state(port, PortState.LISTENING, "STP on: listening for forward delay", cause)
        port.stp_timer = self.sim.timer(self.forward_delay, self._forward_delay_expired, port)

    def _forward_delay_expired(self, port: BridgePort) -> None:
        """br_forward_delay_timer_expired(): listening -> learning -> forwarding."""
        if port.state is PortState.LISTENING:
            self._set_state(port, PortState.LEARNING, "forward delay expired", 0)
            port.stp_timer = self.sim.timer(self.forward_delay, self._forward_delay_expired, port)
        elif port.state is PortState.LEARNING:
            self._set_state(port, PortState.FORWARDING, "forward delay expired", 0)

    def disable_port(self, port: BridgePort, cause: int) -> None:
        """br_stp_disable_port(): state disabled and the port's dynamic entries flushed (B11a)."""
        if port.stp_timer is not None:
            port.stp_timer.cancel()
        self._set_state(port, PortState.DISABLED, f"{port.name} lost carrier or went down", cause)
        self.fdb.flush_port(port, port.name, cause, "br_fdb_delete_by_port", "B11a")

    def _set_state(self, port: BridgePort, state: PortState, why: str, cause: int) -> None:
        had_carrier = self.carrier
        port.state = state
        self.sim.step(self.where, port.name, Action.LINK, 0,
                      f"port {port.name} entered {state} state ({why})", "br_set_state", "B18",
                      cause=cause)
        if self.carrier != had_carrier:
            self.notify_carrier()

    # -- receive path ----------------------------------------------------------
    def handle_frame(self, dev: NetDevice, frame: Frame, cause: int, hops: int) -> None:
        """br_handle_frame() (B3): admission, link-local handling, port state gate."""
        port = self.port_of[dev]
        if not is_valid_ether_addr(frame.src):                                   # B3.1
            self.drop(frame, cause, DropReason.INVALID_SRC_MAC,
                      f"source {mac_str(frame.src)} is not a valid unicast address",
                      "br_handle_frame", "B3", port=port.name)
            return
        if is_link_local(frame.dst) and not (frame.dst & 0xF == 0 and not self.stp):  # B3.2
            if frame.dst & 0xF == 1:
                self.drop(frame, cause, DropReason.LINK_LOCAL, "802.3x PAUSE is never bridged",
                          "br_handle_frame", "B3", port=port.name)
                return
            if self.sim.tracing:
                cause = self.sim.step(self.where, port.name, Action.NOTE, frame.uid,
                                      f"link-local {mac_str(frame.dst)} not forwarded "
                                      "(group_fwd_mask 0): passed to "
                                      f"{dev.name}'s own stack", "br_handle_frame", "B3",
                                      cause=cause)
            dev.deliver_local(frame, cause)                                       # RX_HANDLER_PASS
            return
        state = port.state
        if state is not PortState.FORWARDING and state is not PortState.LEARNING:  # B3.3
            self.drop(frame, cause, DropReason.PORT_STATE, f"port {port.name} is {state}",
                      "br_handle_frame", "B3", port=port.name)
            return
        self.handle_frame_finish(port, frame, cause, hops)

    def handle_frame_finish(self, port: BridgePort, frame: Frame, cause: int, hops: int
                            ) -> None:
        """Learn, then forward, flood or pass up.

        Mirrors br_input.c:br_handle_frame_finish() (B4):
          1. VLAN ingress filter (not modelled: filtering off, VID 0)
          2. learn the source "after filtering to avoid spoofing"
          3. drop if the port is only learning
          4. broadcast/multicast: flood and pass up; unicast: local entry -> pass
             up, known -> forward, unknown -> flood
        """
        if port.learning:                                                        # 2
            self.fdb.update(frame.src, 0, port, port.name, frame.uid, cause)
        if port.state is PortState.LEARNING:                                     # 3
            self.drop(frame, cause, DropReason.PORT_STATE,
                      f"port {port.name} is learning: learned, not forwarded",
                      "br_handle_frame_finish", "B4.3", port=port.name)
            return
        dst = frame.dst
        if dst & 0x0100_0000_0000:                                               # 4: multicast
            self.flood(frame, port, cause, hops, local_orig=False)
            self.pass_up(frame, cause)
            return
        entry = self.fdb.find(dst, 0, cause)
        if entry is None:
            self.flood(frame, port, cause, hops, local_orig=False)
            return
        if entry.is_local:
            self.pass_up(frame, cause, entry)
            return
        self.forward(entry, frame, port, cause, hops)

    def pass_up(self, frame: Frame, cause: int, entry: FdbEntry[BridgePort | None] | None = None
                ) -> None:
        """br_pass_frame_up(): deliver to the bridge device's own stack."""
        if self.stack is None:
            return
        if self.sim.tracing:
            why = ("local FDB entry" if entry is not None else
                   "broadcast" if frame.dst == BROADCAST else "multicast")
            cause = self.sim.step(self.where, self.name, Action.DELIVER, frame.uid,
                                  f"passed up to {self.name}'s own stack ({why})",
                                  "br_pass_frame_up", "B4.4", cause=cause)
        self.deliver_local(frame, cause)

    def should_deliver(self, to: BridgePort, ingress: BridgePort | None) -> DropReason | None:
        """br_forward.c:should_deliver() (B13): not back out of the ingress port
        unless hairpin, only to a forwarding port, and not between isolated ports."""
        if to is ingress and not to.hairpin:
            return DropReason.SAME_PORT
        if to.state is not PortState.FORWARDING:
            return DropReason.PORT_STATE
        if ingress is not None and to.isolated and ingress.isolated:
            return DropReason.ISOLATED
        return None

    @staticmethod
    def refusal(to: BridgePort, why: DropReason) -> str:
        """The sentence for a should_deliver() refusal."""
        if why is DropReason.SAME_PORT:
            return f"{to.name} is the ingress port (hairpin off)"
        if why is DropReason.ISOLATED:
            return f"{to.name} and the ingress port are both isolated"
        return f"{to.name} is {to.state}"

    def forward(self, entry: FdbEntry[BridgePort | None], frame: Frame,
                ingress: BridgePort | None, cause: int, hops: int) -> None:
        """br_forward(): send a known unicast to the port its FDB entry names (B13)."""
        to = entry.port
        assert to is not None
        why = self.should_deliver(to, ingress)
        if why is not None:
            note = (f"FDB says {mac_str(frame.dst)} is on ingress port {to.name}"
                    if why is DropReason.SAME_PORT else
                    f"FDB says {mac_str(frame.dst)} is on {to.name}: {self.refusal(to, why)}")
            self.drop(frame, cause, why, note, "br_forward", "B13", port=to.name, ref=entry.step,
                      data={"mac": mac_str(frame.dst), "port": to.name})
            return
        sim = self.sim
        if sim.tracing:
            cause = sim.step(self.where, to.name, Action.FORWARD, frame.uid,
                             f"forwarded to {to.name} (FDB hit for {mac_str(frame.dst)})",
                             "br_forward", "B4.4", cause=cause, ref=entry.step)
        self.forward_copy(to, frame, ingress, cause, hops)

    def flood(self, frame: Frame, ingress: BridgePort | None, cause: int, hops: int, *,
              local_orig: bool) -> None:
        """br_flood() (B12): a copy to every port that should get one, in port order;
        every port left out is recorded with its reason. Unknown unicast needs the
        port's ``flood`` flag; broadcast and multicast need ``bcast_flood`` /
        ``mcast_flood`` unless the bridge itself originated the frame."""
        sim = self.sim
        tracing = sim.tracing
        dst = frame.dst
        multicast = bool(dst & 0x0100_0000_0000)
        flag = "bcast_flood" if dst == BROADCAST else "mcast_flood" if multicast else "flood"
        flag_applies = not (local_orig and multicast)
        if tracing:
            kind = {"bcast_flood": "broadcast", "mcast_flood": "multicast"}.get(
                flag, "unknown unicast")
            cause = sim.step(self.where, ingress.name if ingress else self.name, Action.FLOOD,
                             frame.uid, f"flooding {kind} {mac_str(dst)}", "br_flood", "B12",
                             cause=cause)
        for port in self.ports:
            why = self.should_deliver(port, ingress)
            if why is not None:
                if tracing:
                    note = (f"not flooded back out of ingress port {port.name}"
                            if why is DropReason.SAME_PORT else
                            f"not flooded to {port.name}: {self.refusal(port, why)}")
                    sim.step(self.where, port.name, Action.SKIP, frame.uid, note,
                             "should_deliver", "B13", reason=why, cause=cause)
                continue
            if flag_applies and not getattr(port, flag):
                if tracing:
                    sim.step(self.where, port.name, Action.SKIP, frame.uid,
                             f"not flooded to {port.name}: {flag} off", "br_flood", "B15",
                             cause=cause)
                continue
            self.forward_copy(port, frame, ingress, cause, hops)

    def forward_copy(self, to: BridgePort, frame: Frame, ingress: BridgePort | None, cause: int,
                     hops: int) -> None:
        """__br_forward() -> br_forward_finish() -> br_dev_queue_push_xmit(): one copy
        out of one port, after should_deliver() accepted it.

        Order as in net/bridge/br_forward.c: the egress VLAN handling
        (br_handle_vlan: pop the tag on an untagged member), the NF_BR_FORWARD
        hook (br_netfilter's iptables FORWARD, bridged frames only, not
        ``ingress is None``), then the MTU check (is_skb_forwardable) and the
        port device's transmit."""
        to.dev.xmit(frame, cause, hops)

    # -- transmit from the bridge's own stack ----------------------------------
    def xmit(self, frame: Frame, cause: int, hops: int) -> None:
        """br_dev_xmit() (B5): no learning; broadcast/multicast flood, unicast by FDB."""
        if not self.running:
            self.drop(frame, cause, DropReason.NO_CARRIER, f"{self.name} has no forwarding port",
                      "br_dev_xmit", "B18")
            return
        dst = frame.dst
        if dst & 0x0100_0000_0000:
            self.flood(frame, None, cause, hops, local_orig=True)
            return
        entry = self.fdb.find(dst, 0, cause)
        if entry is None:
            self.flood(frame, None, cause, hops, local_orig=True)
        elif entry.is_local:
            self.deliver_local(frame, cause)
        else:
            self.forward(entry, frame, None, cause, hops)
