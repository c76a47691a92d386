"""802.1Q VLAN devices (``type: vlan``: ``ens224.100``, ``bond0.100``, ``br0.100``).

Mirrors net/8021q (vlan_dev.c, vlan_core.c, vlan.c) and the tagged-frame
part of net/core/dev.c:__netif_receive_skb_core(), Linux v6.12; the rules
are VQ1-VQ4 in ``docs/models/vlan.md`` (semantics.md has none for 8021q):

* **VQ1 transmit** (vlan_dev_hard_start_xmit): the frame gets the device's
  tag (802.1Q, VID, priority 0) and is queued on the real device
  (``dev_queue_xmit(real_dev)``): a NIC puts it on the wire, a bond or team
  picks a port (the tag rides along; ``vlan+srcmac`` hashes it), a bridge
  runs br_dev_xmit with a tagged frame.
* **VQ2 receive** (vlan_do_receive): __netif_receive_skb_core() calls it
  for every tagged frame *before* the device's rx_handler, so a frame for
  an existing VLAN device is re-homed to it (tag stripped, ``another_round``)
  even when the real device is a bridge, bond or team port. A VLAN device
  that is administratively down drops it.
* **VQ3 no VLAN device**: the frame goes on, still tagged, to the rx_handler
  (a bridge port bridges it tagged; a bond or team port delivers it up,
  where the next device meets VQ2 again); with no rx_handler, a non-zero VID
  makes pkt_type PACKET_OTHERHOST and IP/ARP drop it
  (``NetDevice.deliver_local``).
* **VQ4 MAC and carrier**: the device takes the real device's MAC at creation
  (vlan_dev_init) and follows it when that changes (vlan_sync_address) unless
  a MAC was configured; its carrier follows the real device's operational
  state (netif_stacked_transfer_operstate on NETDEV_CHANGE).

Limitations: 802.1Q only (no 802.1ad, no QinQ: a VLAN device on a VLAN
device is refused by the topology check); no ingress/egress priority maps
(PCP is always 0); ``reorder_hdr``, GVRP/MVRP and ``loose_binding`` are not
modelled; a VLAN device's MTU is not derived from the real device's.
"""

from __future__ import annotations

from vnetlab.devices.netdev import NetDevice
from vnetlab.net.addr import Mac
from vnetlab.net.frame import Frame, with_vlan
from vnetlab.sim.sim import Sim
from vnetlab.sim.trace import Action, DropReason

VLAN_MIN = 1
VLAN_MAX = 4094        # VLAN_VID_MASK (4095) is reserved; 0 means "priority tag only"


class VlanDevice(NetDevice):
    """A Linux 802.1Q VLAN device (``ip link add link ens224 name ens224.100 type
    vlan id 100``): ``lower`` is the real device, ``vid`` the VLAN id."""

    kind = "vlan"

    def __init__(self, sim: Sim, node: str, name: str, lower: NetDevice, vid: int,
                 mac: Mac | None = None) -> None:
        if not VLAN_MIN <= vid <= VLAN_MAX:
            raise ValueError(f"VLAN id {vid} is outside {VLAN_MIN}-{VLAN_MAX}")
        if vid in lower.vlan_devs:
            raise ValueError(f"{lower.name} already has a VLAN device for vlan {vid}")
        self._own_mac: Mac = 0
        self.lower = lower
        self.vid = vid
        super().__init__(sim, node, name, mac or 0)
        lower.vlan_devs[vid] = self                       # vlan_group_set_device()
        lower.carrier_watchers.append(self._lower_changed)

    # -- VQ4: MAC and carrier ---------------------------------------------------------
    @property
    def mac(self) -> Mac:
        """vlan_dev_init(): the real device's address unless one was set; it follows
        the real device (vlan_sync_address), e.g. a bond taking its first port's MAC."""
        return self._own_mac or self.lower.mac

    @mac.setter
    def mac(self, value: Mac) -> None:
        self._own_mac = value

    @property
    def carrier(self) -> bool:
        """netif_stacked_transfer_operstate(): up while the real device is running."""
        return self.admin_up and self.lower.running

    def _lower_changed(self, lower: NetDevice) -> None:
        """vlan_device_event(NETDEV_CHANGE/UP/DOWN): pass the change on to our watchers
        (a bridge this device is a port of re-checks the port)."""
        self.notify_carrier()

    # -- VQ1: transmit ----------------------------------------------------------------
    def xmit(self, frame: Frame, cause: int, hops: int) -> None:
        """vlan_dev_hard_start_xmit(): push the tag, dev_queue_xmit() on the real device."""
        if not self.admin_up:
            self.drop(frame, cause, DropReason.NO_CARRIER, f"{self.name} is down",
                      "dev_queue_xmit", "VQ1")
            return
        tagged = with_vlan(frame, self.vid)
        sim = self.sim
        if sim.tracing:
            cause = sim.step(self.where, self.lower.name, Action.FORWARD, frame.uid,
                             f"tagged vlan {self.vid}, queued on {self.lower.name}",
                             "vlan_dev_hard_start_xmit", "VQ1", cause=cause)
        self.lower.xmit(tagged, cause, hops)

    # -- VQ2: receive -----------------------------------------------------------------
    def vlan_do_receive(self, lower: NetDevice, frame: Frame, cause: int, hops: int) -> None:
        """vlan_do_receive(): the frame becomes ours, untagged, and
        __netif_receive_skb_core() goes round again with skb->dev = this device."""
        if not self.admin_up:
            self.drop(frame, cause, DropReason.NO_CARRIER,
                      f"vlan {self.vid} frame on {lower.name} for {self.name}, which is down",
                      "vlan_do_receive", "VQ2")
            return
        sim = self.sim
        if sim.tracing:
            cause = sim.step(self.where, lower.name, Action.RECEIVE, frame.uid,
                             f"vlan {self.vid} on {lower.name}: to {self.name}, tag stripped",
                             "vlan_do_receive", "VQ2", cause=cause)
        self.receive(with_vlan(frame, 0), cause, hops)

    def describe(self) -> str:
        return f"{super().describe()} vlan {self.vid} on {self.lower.name}"
