"""Net devices, links and the receive path.

Mirrors net/core/dev.c: a device may have one rx_handler installed by an
upper device (bridge, bond, team: netdev_rx_handler_register). A frame that
arrives on a device runs that handler; the handler either consumes it,
re-homes it to the upper device (RX_HANDLER_ANOTHER: here the handler calls
``upper.receive`` directly, which is the same walk up the stack), leaves it to
protocol handlers bound exactly to the lower device (RX_HANDLER_EXACT: vnetlab
has none, so the frame is dropped and the handler records why), or passes it
to the lower device's own protocol handlers (RX_HANDLER_PASS:
``deliver_local``).

Inside a host everything is synchronous function calls at one instant; only
a ``Link`` schedules an event (ARCHITECTURE decision 6). ``hops`` counts link
crossings of one frame copy: a copy that crossed more links than a loop-free
path can have is in a forwarding loop, and the storm guard drops it.

802.1Q tags: a tagged frame meets vlan_do_receive() before the rx_handler
(``vlan_receive``); VLAN devices themselves are in ``devices/vlan.py``.

MTU (docs/models/mtu-and-mac-conflicts.md, MTU1-MTU5): every device has ``mtu``
(ETH_DATA_LEN 1500 unless configured); senders fragment to it (endpoint),
bridges check the egress port's (is_skb_forwardable), switch ports drop
longer frames as giants (``giant_limit``). A Linux device receives frames of
any length: whether a NIC driver drops an oversize frame depends on its
receive buffers (virtio-net with mergeable buffers takes them), so vnetlab
does not model it.

Limitations: no qdiscs, no offloads (no GSO/TSO: every frame is checked at its
real length).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from vnetlab.net.addr import Mac, mac_str
from vnetlab.net.frame import Frame
from vnetlab.sim.sim import Sim
from vnetlab.sim.time import Time
from vnetlab.sim.trace import Action, DropReason

if TYPE_CHECKING:
    from vnetlab.errors import Source

RxHandler = Callable[["NetDevice", Frame, int, int], None]


class Stack(Protocol):
    """What a device hands frames to once no rx_handler took them: an IP stack."""

    def rx(self, dev: NetDevice, frame: Frame, cause: int) -> None: ...


class NetDevice:
    """A Linux net_device: name, MAC, admin state, carrier, optional rx_handler
    and upper device, and the protocol stack bound to it.

    Mirrors: include/linux/netdevice.h (struct net_device), net/core/dev.c.
    """

    kind = "netdev"

    def __init__(self, sim: Sim, node: str, name: str, mac: Mac) -> None:
        self.sim = sim
        self.node = node
        self.name = name
        self.mac = mac
        self.where = f"{node}/{name}"
        self.admin_up = True
        self.mtu = 1500                              # ETH_DATA_LEN (ether_setup)
        self.rx_handler: RxHandler | None = None
        self.upper: NetDevice | None = None          # master device (netdev_master_upper_dev_link)
        self.stack: Stack | None = None
        self.carrier_watchers: list[Callable[[NetDevice], None]] = []
        self.source: Source | None = None
        self.vlan_devs: dict[int, NetDevice] = {}   # VLAN devices on top, by VID (vlan_info)

    # -- state ---------------------------------------------------------------
    @property
    def carrier(self) -> bool:
        """netif_carrier_ok(). Leaf devices: their link; upper devices override."""
        return self.admin_up

    @property
    def running(self) -> bool:
        """netif_running() && netif_carrier_ok(): able to pass traffic."""
        return self.admin_up and self.carrier

    def notify_carrier(self) -> None:
        """NETDEV_CHANGE: tell the upper device (and anyone watching) that our
        carrier or admin state may have changed (netdev_state_change)."""
        for watcher in self.carrier_watchers:
            watcher(self)

    def set_admin(self, up: bool, cause: int = 0) -> None:
        """``ip link set dev X up|down``."""
        if self.admin_up == up:
            return
        self.admin_up = up
        self.sim.step(self.where, self.name, Action.LINK, 0,
                      f"{self.name} administratively {'up' if up else 'down'}", "dev_change_flags",
                      cause=cause)
        self.notify_carrier()

    # -- receive ---------------------------------------------------------------
    def receive(self, frame: Frame, cause: int, hops: int) -> None:
        """__netif_receive_skb_core(): a tagged frame first meets vlan_do_receive(),
        then the rx_handler runs, else the frame is delivered locally."""
        if frame.vlan and self.vlan_receive(frame, cause, hops):
            return
        handler = self.rx_handler
        if handler is not None:
            handler(self, frame, cause, hops)
        else:
            self.deliver_local(frame, cause)

    def vlan_receive(self, frame: Frame, cause: int, hops: int) -> bool:
        """A tagged frame in __netif_receive_skb_core() (docs/models/vlan.md, VQ2/VQ3):
        vlan_do_receive() runs before the rx_handler, so a VLAN device for the VID
        takes the frame (True) even when this device is a bridge or bond port;
        without one the frame goes on tagged to the rx_handler (bridged with its
        tag), and with no handler the stack sees PACKET_OTHERHOST."""
        vdev = self.vlan_devs.get(frame.vlan)
        if vdev is None:
            return False
        vdev.vlan_do_receive(self, frame, cause, hops)
        return True

    def vlan_do_receive(self, lower: NetDevice, frame: Frame, cause: int, hops: int) -> None:
        """Overridden by VLAN devices (devices/vlan.py)."""
        raise NotImplementedError

    def deliver_local(self, frame: Frame, cause: int) -> None:
        """Hand the frame to the protocol handlers of this device (ptype_all/base).
        A frame still tagged here found no VLAN device: skb_vlan_tag_get_id() is
        not 0, so pkt_type becomes PACKET_OTHERHOST and IP/ARP drop it (VQ3)."""
        if frame.vlan:
            self.drop(frame, cause, DropReason.VLAN_NO_DEVICE,
                      f"tagged vlan {frame.vlan} on {self.name}, which has no VLAN device for "
                      f"vlan {frame.vlan}: PACKET_OTHERHOST, not for this host",
                      "__netif_receive_skb_core", "VQ3")
            return
        stack = self.stack
        if stack is not None:
            stack.rx(self, frame, cause)

    # -- transmit --------------------------------------------------------------
    def xmit(self, frame: Frame, cause: int, hops: int) -> None:
        """dev_queue_xmit() -> ndo_start_xmit()."""
        raise NotImplementedError

    def drop(self, frame: Frame, cause: int, reason: DropReason, note: str, fn: str,
             rule: str = "", port: str = "", ref: int = 0,
             data: dict[str, Any] | None = None) -> int:
        """Record a DROP step where the decision is made."""
        return self.sim.step(self.where, port or self.name, Action.DROP, frame.uid, note, fn,
                             rule, reason=reason, cause=cause, ref=ref, data=data)

    def describe(self) -> str:
        return f"{self.where} ({self.kind}, {mac_str(self.mac)})"


class Link:
    """A point-to-point medium with exactly two ends: a cable, a veth pair, or a
    tap and the VM's virtio NIC. It has a propagation delay and can be
    unplugged (``up`` false: both ends lose carrier).

    Limitations: no bandwidth, queueing or loss; frames in flight when the
    link goes down are dropped on arrival.
    """

    def __init__(self, sim: Sim, a: LinkedDevice, b: LinkedDevice, delay: Time) -> None:
        self.sim = sim
        self.a = a
        self.b = b
        self.delay = delay
        self.up = True
        self.faulty = False          # carrier stays up, every frame is lost
        a.attach(self, b)
        b.attach(self, a)
        self.source: Source | None = None

    @property
    def name(self) -> str:
        return f"{self.a.where} <-> {self.b.where}"

    def set_up(self, up: bool, cause: int = 0) -> None:
        if self.up == up:
            return
        self.up = up
        self.sim.step(self.a.where, self.a.name, Action.LINK, 0,
                      f"link {self.name} {'plugged in' if up else 'unplugged'}", "netif_carrier_"
                      + ("on" if up else "off"), "L1", cause=cause)
        self.a.notify_carrier()
        self.b.notify_carrier()


    def set_fault(self, faulty: bool, cause: int = 0) -> None:
        """A soft failure: the link keeps carrier but frames no longer cross it
        (a failing transceiver, a cut fibre of a pair, a blocked path). Link
        monitors that poll carrier (miimon, ethtool) do not notice."""
        if self.faulty == faulty:
            return
        self.faulty = faulty
        self.a.faulty = self.b.faulty = faulty
        state = "faulty: carrier stays up, frames are lost" if faulty else "repaired"
        self.sim.step(self.a.where, self.a.name, Action.LINK, 0, f"link {self.name} {state}",
                      "link fault", "L1", cause=cause)


class LinkedDevice(NetDevice):
    """A device at one end of a Link: a NIC, a switch port, a tap, a VM's NIC."""

    kind = "ethernet"

    def __init__(self, sim: Sim, node: str, name: str, mac: Mac) -> None:
        super().__init__(sim, node, name, mac)
        self.link: Link | None = None
        self.peer: LinkedDevice | None = None
        self.peer_rx: Callable[[Frame, int, int], None] = self._unlinked
        self.delay: Time = 0
        self.oper_up = False        # admin up and carrier: netif_running && netif_carrier_ok
        self.faulty = False         # the link loses frames while carrier stays up
        self.loop_limit = 1 << 30   # set by the Lab: more crossings than a loop-free path has
        self.loop_watchers: list[Callable[[LinkedDevice, Frame, int], None]] = []
        # a switch port's MTU: a longer frame is dropped on receipt as a giant (MTU4);
        # 0 for Linux devices, which vnetlab lets receive any length (see below)
        self.giant_limit = 0
        # the capture point (export/capture.py): None when off, so the per-frame path pays
        # one attribute test; else (time, transmitted?, frame) where a packet tap sees it:
        # dev_queue_xmit_nit in xmit_one, and the ptype_all taps of __netif_receive_skb_core
        self.capture: list[tuple[Time, bool, Frame]] | None = None

    def attach(self, link: Link, peer: LinkedDevice) -> None:
        self.link = link
        self.peer = peer
        self.peer_rx = peer.link_rx
        self.delay = link.delay
        self.oper_up = self._compute_carrier()

    def _compute_carrier(self) -> bool:
        """Carrier needs the cable in and both ends administratively up."""
        link = self.link
        peer = self.peer
        return (self.admin_up and link is not None and link.up and peer is not None
                and peer.admin_up)

    @property
    def carrier(self) -> bool:
        return self.oper_up

    def notify_carrier(self) -> None:
        # ``oper_up`` is kept current here (every change of cable or admin state
        # comes through) so the per-frame path reads one attribute.
        self.oper_up = self._compute_carrier()
        super().notify_carrier()

    def set_admin(self, up: bool, cause: int = 0) -> None:
        if self.admin_up == up:
            return
        super().set_admin(up, cause)
        if self.peer is not None:
            self.peer.notify_carrier()     # the far end loses or regains carrier

    def xmit(self, frame: Frame, cause: int, hops: int) -> None:
        """Put the frame on the link (ndo_start_xmit of a NIC, tap or veth)."""
        if not self.oper_up:
            self.drop(frame, cause, DropReason.NO_CARRIER, f"{self.name} has no carrier",
                      "dev_queue_xmit", "L1")
            return
        sim = self.sim
        if sim.tracing:
            cause = sim.step(self.where, self.name, Action.TRANSMIT, frame.uid,
                             f"transmitted {frame.describe()}", "dev_hard_start_xmit",
                             cause=cause)
        if self.capture is not None:                # transmitted, even if the link loses it
            self.capture.append((sim.now, True, frame))
        if self.faulty:
            self.drop(frame, cause, DropReason.CABLE_FAULT,
                      f"lost on the faulty link from {self.name} (carrier is up)", "link fault",
                      "L1")
            return
        sim.push(sim.now + self.delay, self.peer_rx, (frame, cause, hops + 1))

    def _unlinked(self, frame: Frame, cause: int, hops: int) -> None:
        raise AssertionError(f"{self.where} transmitted with no link")

    def link_rx(self, frame: Frame, cause: int, hops: int) -> None:
        """A frame arrives from the link (the NIC's RX interrupt / netif_receive_skb)."""
        sim = self.sim
        sim.deliveries += 1
        limit = self.giant_limit
        if limit and frame.l3_length > limit:
            self.drop(frame, cause, DropReason.GIANT,
                      f"{frame.length}-byte frame ({frame.l3_length} bytes after the Ethernet "
                      f"header) is longer than port {self.name}'s MTU {limit}: counted as a "
                      "giant and dropped (jumbo frames off)", "switch port MTU", "MTU4")
            return
        if not self.oper_up:
            self.drop(frame, cause, DropReason.NO_CARRIER,
                      f"{self.name} lost carrier while the frame was in flight", "netif_receive_skb",
                      "L1")
            return
        if hops > self.loop_limit:
            for watcher in self.loop_watchers:
                watcher(self, frame, cause)
            self.drop(frame, cause, DropReason.LOOP_DETECTED,
                      f"copy of frame {frame.uid} crossed {hops} links, more than any loop-free "
                      "path has: forwarding loop", "storm guard")
            return
        if sim.tracing:
            cause = sim.step(self.where, self.name, Action.RECEIVE, frame.uid,
                             f"received {frame.describe()}", "netif_receive_skb", cause=cause)
        if self.capture is not None:
            self.capture.append((sim.now, False, frame))
        if frame.vlan and self.vlan_receive(frame, cause, hops):   # vlan_do_receive first (VQ2)
            return
        handler = self.rx_handler                   # receive(), inlined on the per-frame path
        if handler is not None:
            handler(self, frame, cause, hops)
        elif frame.vlan:
            self.deliver_local(frame, cause)        # a tag no VLAN device took (VQ3)
        elif self.stack is not None:
            self.stack.rx(self, frame, cause)


class Nic(LinkedDevice):
    """A physical NIC (``type: ethernet``) or a switch port."""

    kind = "ethernet"


class Tap(LinkedDevice):
    """The host side of a VM NIC (libvirt's vnetN). Its MAC is the guest MAC
    with the first byte 0xFE (semantics V1), so the bridge never confuses it
    with the guest and never picks it as the bridge MAC (B2d)."""

    kind = "tap"


class VirtioNic(LinkedDevice):
    """The guest's NIC (virtio-net), linked to the host tap.

    Limitations: no MAC filter beyond the IP stack's packet-type check; no
    offloads; the guest is always running (migration comes later).
    """

    kind = "virtio"
