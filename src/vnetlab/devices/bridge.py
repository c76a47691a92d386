"""The Linux bridge: learns source MACs per port and floods unknown destinations.

Mirrors: net/bridge/{br_input,br_forward,br_fdb,br_if,br_device,br_stp}.c,
Linux v6.12 (semantics §1: B1-B15, B18).

VLAN filtering (B16, B17; ``docs/models/vlan.md``): off by default, tags are
ignored and every FDB key has VID 0. On, each port and the bridge device
itself (``self``) have a VLAN group (VIDs, PVID, untagged flags, default_pvid
1 as br_vlan_init/nbp_vlan_init give), ingress classification and filtering
(br_allowed_ingress) run first in br_handle_frame_finish, learning and
lookups are per VID, should_deliver checks br_allowed_egress and every copy
leaving a port passes br_handle_vlan (tag popped on an untagged member);
br_pass_frame_up applies both to the bridge device, br_dev_xmit classifies
the bridge's own frames by its own PVID/VIDs.

Every copy leaving a port (``forward_copy``) then meets the host's
br_netfilter FORWARD hook (B22-B24, ``devices/netfilter.py``) and the egress
MTU check (is_skb_forwardable; br_nf_dev_queue_xmit's refragmenting with
br_netfilter: MTU3, ``docs/models/mtu-and-mac-conflicts.md``); the bridge
MTU follows its ports (br_mtu_auto_adjust, MTU1). A unicast to a local entry
whose address a port also received as a source (B7.3) is recorded as lost to
that station before it is passed up (B4.4).

Limitations: no per-VLAN STP states (MST), no VLAN tunnel mapping, 802.1Q
only (no 802.1ad bridges), no VLAN statistics; STP is modelled
as port-state timers (listening -> learning -> forwarding after
``forward_delay`` each, B18), not as BPDU exchange, so no port is ever
BLOCKING and loops are left to the storm guard; no multicast snooping
(multicast floods as with no querier, B4.4); no
proxy-ARP/neigh_suppress; no backup ports.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum

from vnetlab.devices.fdb import DEFAULT_AGEING, Fdb, FdbEntry
from vnetlab.devices.netdev import NetDevice
from vnetlab.devices.netfilter import Netfilter
from vnetlab.net.addr import BROADCAST, Mac, is_link_local, is_valid_ether_addr, mac_str
from vnetlab.net.frame import VLAN_HLEN, Frame, Ipv4, ip_fragment, with_vlan
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


class VlanGroup:
    """struct net_bridge_vlan_group of a port or of the bridge device (B17): the
    VIDs it is a member of, each with its egress-untagged flag, and the PVID
    (0: none, untagged frames are dropped)."""

    __slots__ = ("pvid", "vlans")

    def __init__(self) -> None:
        self.vlans: dict[int, bool] = {}      # VID -> BRIDGE_VLAN_INFO_UNTAGGED
        self.pvid = 0

    def add(self, vid: int, pvid: bool, untagged: bool) -> None:
        """nbp_vlan_add()/br_vlan_add() -> __vlan_add_flags(): a PVID entry moves
        the PVID here; re-adding a VID without it clears the PVID if it was this VID."""
        self.vlans[vid] = untagged
        if pvid:
            self.pvid = vid
        elif self.pvid == vid:
            self.pvid = 0

    def describe(self) -> str:
        """As ``bridge vlan show`` lists them: ``VIDs 1 PVID untagged, 100``."""
        if not self.vlans:
            return "no VLANs"
        parts: list[str] = []
        start = prev = -2                   # a run of consecutive VIDs without flags
        for vid, untagged in sorted(self.vlans.items()):
            flags = (" PVID" if vid == self.pvid else "") + (" untagged" if untagged else "")
            if not flags and start >= 0 and vid == prev + 1:
                prev = vid
                continue
            if start >= 0:
                parts.append(str(start) if start == prev else f"{start}-{prev}")
                start = -2
            if flags:
                parts.append(f"{vid}{flags}")
            else:
                start = prev = vid
        if start >= 0:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        return "VIDs " + ", ".join(parts)


class BridgePort:
    """struct net_bridge_port: a device enslaved to a bridge and its flags (B15)."""

    __slots__ = ("bcast_flood", "bridge", "dev", "flood", "hairpin", "isolated", "learning",
                 "mcast_flood", "name", "state", "stp_timer", "vg")

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
        self.vg = VlanGroup()                     # nbp_vlan_init() fills it (B17)


class Bridge(NetDevice):
    """A Linux bridge device (``type: linux-bridge``)."""

    kind = "bridge"

    def __init__(self, sim: Sim, node: str, name: str, mac: Mac | None, *,
                 ageing_time: Time = DEFAULT_AGEING, stp: bool = False,
                 forward_delay: Time = 15 * S, vlan_filtering: bool = False,
                 default_pvid: int = 1) -> None:
        super().__init__(sim, node, name, mac or 0)
        self.mac_set_by_user = mac is not None       # addr_assign_type == NET_ADDR_SET
        self.ports: list[BridgePort] = []
        self.port_of: dict[NetDevice, BridgePort] = {}
        self.fdb: Fdb[BridgePort | None] = Fdb(sim, self.where, ageing_time, fn="br_fdb_update",
                                               rule="B7")
        # B16/B17: BROPT_VLAN_ENABLED, default_pvid and the bridge device's own VLANs
        # (br_vlan_init: default_pvid as "PVID untagged" on the bridge itself)
        self.vlan_filtering = vlan_filtering
        self.default_pvid = default_pvid
        self.vg = VlanGroup()
        if default_pvid:
            self.vg.add(default_pvid, True, True)
        self.fdb.show_vid = vlan_filtering
        if mac is not None:
            # br_dev_newlink -> br_stp_change_bridge_id -> br_fdb_change_mac_address: a
            # configured bridge MAC gets its permanent local entry at once (found by the
            # kernel comparison, tests/kernel/test_failover_kernel.py)
            self.fdb.add_local(mac, 0, None)
            for vid in self.vg.vlans:
                self.fdb.add_local(mac, vid, None)
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
        if self.default_pvid:                                      # nbp_vlan_init (B17)
            self.vlan_add(port, self.default_pvid, pvid=True, untagged=True)
        self.recalculate_bridge_id()                               # B2d
        if dev.running:
            self.enable_port(port, 0)                              # B2f
        return port

    def remove_port(self, dev: NetDevice, cause: int = 0) -> None:
        """br_del_if() -> del_nbp() (B11b): the port is disabled (br_stp_disable_port,
        dynamic entries flushed, B11a), taken off the port list, then
        br_fdb_delete_by_port(br, p, 0, 1) deletes every remaining entry of the port,
        local ones included; the rx_handler is unregistered; afterwards br_del_if
        recalculates the bridge id and MTU."""
        port = self.port_of[dev]
        if port.state is not PortState.DISABLED:
            self.disable_port(port, cause)
        self.ports.remove(port)
        del self.port_of[dev]
        left = [f"{mac_str(e.mac)} vlan {e.vid}" if e.vid else mac_str(e.mac)
                for e in self.fdb.entries.values() if e.port is port]
        self.fdb.delete_port(port)
        self.sim.step(self.where, port.name, Action.FLUSH, 0,
                      f"port {port.name} removed from {self.name}: deleted its "
                      f"{len(left)} remaining entr{'y' if len(left) == 1 else 'ies'} "
                      f"(local included): {', '.join(left) or 'none'}",
                      "del_nbp", "B11b", cause=cause, data={"port": port.name, "macs": left})
        if self.port_carrier_check in dev.carrier_watchers:
            dev.carrier_watchers.remove(self.port_carrier_check)
        dev.rx_handler = None                      # netdev_rx_handler_unregister
        dev.upper = None                           # netdev_upper_dev_unlink
        self.recalculate_bridge_id()
        self.mtu_auto_adjust()

    def recalculate_bridge_id(self) -> None:
        """br_stp_recalculate_bridge_id(): the lowest port MAC, unless set by the user."""
        if self.mac_set_by_user or not self.ports:
            return
        lowest = min(p.dev.mac for p in self.ports)
        if lowest != self.mac:
            self.mac = lowest
            self.fdb.add_local(lowest, 0, None)
            for vid in self.vg.vlans:                 # br_fdb_change_mac_address: per VLAN
                self.fdb.add_local(lowest, vid, None)

    # -- VLANs (B17) -------------------------------------------------------------
    def vlan_add(self, port: BridgePort | None, vid: int, *, pvid: bool, untagged: bool) -> None:
        """``bridge vlan add vid VID dev PORT [pvid] [untagged]`` (nbp_vlan_add), or
        ``... dev BRIDGE self`` with ``port`` None (br_vlan_add): the membership, and
        the local FDB entry of the device's MAC in that VLAN (__vlan_add -> br_fdb_insert)."""
        vg = port.vg if port is not None else self.vg
        vg.add(vid, pvid, untagged)
        mac = port.dev.mac if port is not None else self.mac
        if mac:
            self.fdb.add_local(mac, vid, port)

    def allowed_ingress(self, vg: VlanGroup, where: str, frame: Frame, cause: int
                        ) -> tuple[int, int]:
        """br_allowed_ingress() -> __allowed_ingress() with filtering on (B17): the
        frame's VLAN (0 after recording the drop) and the step that classified it.
        Untagged and priority-tagged frames take the PVID (none: dropped); a
        tagged frame's VID must be a member. ``where`` is the port, or the bridge
        itself for br_dev_xmit."""
        vid = frame.vlan
        sim = self.sim
        if not vid:
            if not vg.pvid:
                self.drop(frame, cause, DropReason.VLAN_INGRESS,
                          f"untagged frame on {where}, which has no PVID ({vg.describe()}): "
                          "in no VLAN, dropped", "br_allowed_ingress", "B17", port=where)
                return 0, cause
            if sim.tracing:
                cause = sim.step(self.where, where, Action.NOTE, frame.uid,
                                 f"untagged: vlan {vg.pvid}, the PVID of {where}",
                                 "br_allowed_ingress", "B17", cause=cause)
            return vg.pvid, cause
        if vid not in vg.vlans:
            self.drop(frame, cause, DropReason.VLAN_INGRESS,
                      f"{where} does not carry vlan {vid} ({vg.describe()}): tagged frame "
                      "dropped", "br_allowed_ingress", "B17", port=where)
            return 0, cause
        if sim.tracing:
            cause = sim.step(self.where, where, Action.NOTE, frame.uid,
                             f"tagged vlan {vid}: a VID of {where}", "br_allowed_ingress",
                             "B17", cause=cause)
        return vid, cause

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
            self.learn_link_local(port, frame, cause)
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

    def learn_link_local(self, port: BridgePort, frame: Frame, cause: int) -> None:
        """__br_handle_local_finish(): a link-local frame (LACPDU, LLDP, a BPDU with
        STP on) is not forwarded, but its source is learned on a learning or
        forwarding port, in the VLAN br_should_learn() gives it (B3.2, B7)."""
        if not port.learning or port.state not in (PortState.LEARNING, PortState.FORWARDING):
            return
        vid = 0
        if self.vlan_filtering:              # br_should_learn(): PVID or a member VID, else no
            vid = frame.vlan or port.vg.pvid
            if not vid or vid not in port.vg.vlans:
                return
        self.fdb.update(frame.src, vid, port, port.name, frame.uid, cause)

    def handle_frame_finish(self, port: BridgePort, frame: Frame, cause: int, hops: int
                            ) -> None:
        """Learn, then forward, flood or pass up.

        Mirrors br_input.c:br_handle_frame_finish() (B4):
          1. VLAN ingress filter br_allowed_ingress (B16: VID 0 with filtering
             off; B17: the frame carries its VLAN from here on, tagged inside
             the bridge as the skb's hwaccel tag is)
          2. learn the source "after filtering to avoid spoofing", in that VLAN
          3. drop if the port is only learning
          4. broadcast/multicast: flood and pass up; unicast: local entry -> pass
             up, known -> forward, unknown -> flood
        """
        vid = 0
        if self.vlan_filtering:                                                  # 1
            vid, cause = self.allowed_ingress(port.vg, port.name, frame, cause)
            if not vid:
                return
            if frame.vlan != vid:
                frame = with_vlan(frame, vid)
        if port.learning:                                                        # 2
            self.fdb.update(frame.src, vid, port, port.name, frame.uid, cause)
        if port.state is PortState.LEARNING:                                     # 3
            self.drop(frame, cause, DropReason.PORT_STATE,
                      f"port {port.name} is learning: learned, not forwarded",
                      "br_handle_frame_finish", "B4.3", port=port.name)
            return
        dst = frame.dst
        if dst & 0x0100_0000_0000:                                               # 4: multicast
            self.flood(frame, port, cause, hops, local_orig=False)
            self.pass_up(frame, cause, hops=hops)
            return
        entry = self.fdb.find(dst, vid, cause)
        if entry is None:
            self.flood(frame, port, cause, hops, local_orig=False)
            return
        if entry.is_local:
            self.pass_up(frame, cause, entry, hops)
            return
        self.forward(entry, frame, port, cause, hops)

    def pass_up(self, frame: Frame, cause: int, entry: FdbEntry[BridgePort | None] | None = None,
                hops: int = 0) -> None:
        """br_pass_frame_up(): deliver to the bridge device's own stack. With VLAN
        filtering the bridge is "just like any other port": br_allowed_egress on its
        own VLANs, then br_handle_vlan pops the tag of an untagged VID (B17); a tag
        left on goes to netif_receive_skb(br) and meets vlan_do_receive (br0.100).

        A unicast to a local entry is passed up, never forwarded (B4.4), even when a
        station behind a port uses the same MAC: once the bridge warned that a port
        received that address as a source (B7.3), the frame is recorded as lost to
        that station (a VM with the host NIC's MAC, a tap with the guest's MAC)."""
        if entry is not None:
            seen = self.fdb.own_source.get(entry.mac | (entry.vid << 48))
            if seen is not None:
                owner = entry.port.name if entry.port is not None else self.name
                self.drop(frame, cause, DropReason.OWN_ADDRESS,
                          f"{mac_str(frame.dst)} is {owner}'s own address (a local FDB entry): "
                          f"the frame is passed up to {self.node}'s stack and never forwarded, "
                          f"so the station sending from {mac_str(frame.dst)} on {seen[0]} "
                          "(B7.3) never gets it", "br_handle_frame_finish", "B4.4",
                          port=seen[0], ref=seen[1],
                          data={"mac": mac_str(frame.dst), "port": seen[0], "local": owner})
        if self.stack is None and not self.vlan_devs:
            return
        if self.vlan_filtering:
            untagged = self.vg.vlans.get(frame.vlan)
            if untagged is None:
                note = (f"not passed up: {self.name} itself does not carry vlan {frame.vlan} "
                        f"({self.vg.describe()})")
                if entry is not None:           # the only copy: a local unicast
                    self.drop(frame, cause, DropReason.VLAN_EGRESS, note, "br_allowed_egress",
                              "B17")
                elif self.sim.tracing:          # the flooded copies went on
                    self.sim.step(self.where, self.name, Action.SKIP, frame.uid, note,
                                  "br_allowed_egress", "B17", reason=DropReason.VLAN_EGRESS,
                                  cause=cause)
                return
            if untagged:
                frame = with_vlan(frame, 0)
        if self.sim.tracing:
            why = ("local FDB entry" if entry is not None else
                   "broadcast" if frame.dst == BROADCAST else "multicast")
            cause = self.sim.step(self.where, self.name, Action.DELIVER, frame.uid,
                                  f"passed up to {self.name}'s own stack ({why})",
                                  "br_pass_frame_up", "B4.4", cause=cause)
        self.receive(frame, cause, hops)            # netif_receive_skb(br)

    def should_deliver(self, to: BridgePort, ingress: BridgePort | None, vid: int = 0
                       ) -> DropReason | None:
        """br_forward.c:should_deliver() (B13): not back out of the ingress port
        unless hairpin, only to a forwarding port, only to a member of the frame's
        VLAN (br_allowed_egress, B17), and not between isolated ports."""
        if to is ingress and not to.hairpin:
            return DropReason.SAME_PORT
        if to.state is not PortState.FORWARDING:
            return DropReason.PORT_STATE
        if self.vlan_filtering and vid not in to.vg.vlans:
            return DropReason.VLAN_EGRESS
        if ingress is not None and to.isolated and ingress.isolated:
            return DropReason.ISOLATED
        return None

    @staticmethod
    def refusal(to: BridgePort, why: DropReason, vid: int = 0) -> str:
        """The sentence for a should_deliver() refusal."""
        if why is DropReason.SAME_PORT:
            return f"{to.name} is the ingress port (hairpin off)"
        if why is DropReason.ISOLATED:
            return f"{to.name} and the ingress port are both isolated"
        if why is DropReason.VLAN_EGRESS:
            return f"{to.name} does not carry vlan {vid} ({to.vg.describe()})"
        return f"{to.name} is {to.state}"

    def forward(self, entry: FdbEntry[BridgePort | None], frame: Frame,
                ingress: BridgePort | None, cause: int, hops: int) -> None:
        """br_forward(): send a known unicast to the port its FDB entry names (B13)."""
        to = entry.port
        assert to is not None
        why = self.should_deliver(to, ingress, frame.vlan)
        if why is not None:
            note = (f"FDB says {mac_str(frame.dst)} is on ingress port {to.name}"
                    if why is DropReason.SAME_PORT else
                    f"FDB says {mac_str(frame.dst)} is on {to.name}: "
                    f"{self.refusal(to, why, frame.vlan)}")
            vlan = why is DropReason.VLAN_EGRESS
            self.drop(frame, cause, why, note, "br_allowed_egress" if vlan else "br_forward",
                      "B17" if vlan else "B13", port=to.name, ref=entry.step,
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
        vid = frame.vlan
        sent = 0
        for port in self.ports:
            why = self.should_deliver(port, ingress, vid)
            if why is not None:
                if tracing:
                    note = (f"not flooded back out of ingress port {port.name}"
                            if why is DropReason.SAME_PORT else
                            f"not flooded to {port.name}: {self.refusal(port, why, vid)}")
                    vlan = why is DropReason.VLAN_EGRESS
                    sim.step(self.where, port.name, Action.SKIP, frame.uid, note,
                             "br_allowed_egress" if vlan else "should_deliver",
                             "B17" if vlan else "B13", reason=why, cause=cause)
                continue
            if flag_applies and not getattr(port, flag):
                if tracing:
                    sim.step(self.where, port.name, Action.SKIP, frame.uid,
                             f"not flooded to {port.name}: {flag} off", "br_flood", "B15",
                             cause=cause)
                continue
            sent += 1
            self.forward_copy(port, frame, ingress, cause, hops)
        if not sent and not multicast:
            # br_flood() found no port and the frame is not also passed up (unknown
            # unicast): "if (!local_rcv) kfree_skb(skb)", the copy ends here
            self.drop(frame, cause, DropReason.FLOOD_NO_PORT,
                      f"unknown unicast {mac_str(dst)} flooded to no port: every port of "
                      f"{self.name} was skipped", "br_flood", "B12",
                      port=ingress.name if ingress else self.name)

    # -- MTU (MTU1, MTU3) and br_netfilter (B22-B24) --------------------------------
    mtu_set_by_user = False                 # BROPT_MTU_SET_BY_USER: ``mtu:`` on the bridge
    netfilter: Netfilter | None = None      # the host's, when it has a firewall

    def mtu_auto_adjust(self) -> None:
        """br_mtu_auto_adjust(): unless set by the user, the bridge's MTU is the
        lowest of its ports' (br_mtu_min; ETH_DATA_LEN with no port), MTU1."""
        if not self.mtu_set_by_user:
            self.mtu = min((p.dev.mtu for p in self.ports), default=1500)

    def note_mtus(self) -> None:
        """A configuration fact worth a trace line: ports with different MTUs."""
        mtus = {p.dev.mtu for p in self.ports}
        if len(mtus) > 1 or (self.mtu_set_by_user and mtus and self.mtu > min(mtus)):
            ports = ", ".join(f"{p.name} {p.dev.mtu}" for p in self.ports)
            how = "set by the user" if self.mtu_set_by_user else \
                "the lowest of its ports' (br_mtu_auto_adjust)"
            self.sim.step(self.where, self.name, Action.NOTE, 0,
                          f"{self.name} MTU {self.mtu}, {how}; port MTUs: {ports}",
                          "br_mtu_auto_adjust", "MTU1")

    def forward_copy(self, to: BridgePort, frame: Frame, ingress: BridgePort | None, cause: int,
                     hops: int) -> None:
        """__br_forward() -> br_forward_finish() -> br_dev_queue_push_xmit(): one copy
        out of one port, after should_deliver() accepted it.

        Order as in net/bridge/br_forward.c: the egress VLAN handling
        (br_handle_vlan: pop the tag on an untagged member), the NF_BR_FORWARD
        hook (br_netfilter's iptables FORWARD, bridged frames only, not
        ``ingress is None``), then the MTU check (is_skb_forwardable) and the
        port device's transmit."""
        if self.vlan_filtering:                         # br_handle_vlan (B17)
            vid = frame.vlan
            untagged = to.vg.vlans.get(vid, False)
            if untagged:
                frame = with_vlan(frame, 0)
            if self.sim.tracing:
                how = "untagged: tag stripped" if untagged else "tagged: tag kept"
                cause = self.sim.step(self.where, to.name, Action.NOTE, frame.uid,
                                      f"vlan {vid} is {how} on {to.name}", "br_handle_vlan",
                                      "B17", cause=cause)
        netfilter = self.netfilter
        if netfilter is not None and ingress is not None:     # NF_BR_FORWARD (B22-B24)
            cause = netfilter.bridge_forward(self.where, self.name, frame, ingress.name, to.name,
                                             cause)
            if cause < 0:
                return
        if frame.l3_length > to.dev.mtu:                       # MTU3
            self.too_big(to, frame, ingress, cause, hops)
            return
        to.dev.xmit(frame, cause, hops)

    def too_big(self, to: BridgePort, frame: Frame, ingress: BridgePort | None, cause: int,
                hops: int) -> None:
        """A copy longer than the egress port's MTU (MTU3). Through br_netfilter
        (br_nf_dev_queue_xmit) an IPv4 packet is cut again at the port's MTU by
        br_nf_ip_fragment, or dropped when it has DF; otherwise
        br_dev_queue_push_xmit's is_skb_forwardable() lets it through only up to
        MTU + 4 (VLAN_HLEN slack) and drops it silently: a bridge is not a router
        and sends no ICMP "fragmentation needed"."""
        mtu = to.dev.mtu
        length = frame.l3_length
        packet = frame.payload
        came = (f"it came in on {ingress.name} (MTU {ingress.dev.mtu})" if ingress is not None
                else f"{self.name} sent it (MTU {self.mtu})")
        netfilter = self.netfilter
        if (netfilter is not None and ingress is not None and netfilter.bridged_ipv4
                and type(packet) is Ipv4 and not frame.vlan):
            if packet.df:
                self.drop(frame, cause, DropReason.PKT_TOO_BIG,
                          f"{length}-byte IPv4 packet with DF is longer than {to.name}'s MTU "
                          f"{mtu} ({came}): br_netfilter may not refragment it, dropped "
                          "(IPSTATS_MIB_FRAGFAILS, no ICMP)", "br_nf_ip_fragment", "MTU3",
                          port=to.name, data={"mtu": mtu, "length": length})
                return
            pieces = ip_fragment(packet, mtu)
            sim = self.sim
            step = sim.step(self.where, to.name, Action.NOTE, frame.uid,
                            f"{length}-byte IPv4 packet is longer than {to.name}'s MTU {mtu} "
                            f"({came}): br_netfilter refragments it into {len(pieces)} "
                            "fragments", "br_nf_dev_queue_xmit", "MTU3", cause=cause)
            for index, piece in enumerate(pieces):
                uid = frame.uid if index == 0 else sim.new_uid()
                to.dev.xmit(replace(frame, payload=piece, uid=uid), step or cause, hops)
            return
        if length <= mtu + VLAN_HLEN:           # is_skb_forwardable: mtu + hard_header + 4
            to.dev.xmit(frame, cause, hops)
            return
        self.drop(frame, cause, DropReason.PKT_TOO_BIG,
                  f"{frame.length}-byte frame ({length} bytes after the Ethernet header) is "
                  f"longer than {to.name}'s MTU {mtu}; {came}: is_skb_forwardable() fails, the "
                  "bridge drops it silently (no ICMP: a bridge is not a router)",
                  "br_dev_queue_push_xmit", "MTU3", port=to.name,
                  data={"mtu": mtu, "length": length, "port": to.name})

    # -- transmit from the bridge's own stack ----------------------------------
    def xmit(self, frame: Frame, cause: int, hops: int) -> None:
        """br_dev_xmit() (B5): no learning; broadcast/multicast flood, unicast by FDB."""
        if not self.running:
            self.drop(frame, cause, DropReason.NO_CARRIER, f"{self.name} has no forwarding port",
                      "br_dev_xmit", "B18")
            return
        original = frame
        vid = 0
        if self.vlan_filtering:        # br_allowed_ingress on the bridge's own VLANs (B17)
            vid, cause = self.allowed_ingress(self.vg, self.name, frame, cause)
            if not vid:
                return
            if frame.vlan != vid:
                frame = with_vlan(frame, vid)
        dst = frame.dst
        if dst & 0x0100_0000_0000:
            self.flood(frame, None, cause, hops, local_orig=True)
            return
        entry = self.fdb.find(dst, vid, cause)
        if entry is None:
            self.flood(frame, None, cause, hops, local_orig=True)
        elif entry.is_local:
            self.deliver_local(original, cause)
        else:
            self.forward(entry, frame, None, cause, hops)
