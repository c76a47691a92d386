"""What bonds and teams share: an upper device over ports, with per-port
enabled/active state, the receive verdict and transmit port selection.

Subclasses (``Bond``, ``Team``) supply the mode: which ports may receive
(``rx_allowed``) and which port a frame leaves on (``select_tx``). The
receive path mirrors bond_handle_frame()/team_handle_frame(): a frame on a
port that may not receive returns RX_HANDLER_EXACT (delivered only to sockets
bound to that exact port, so never to a bridge above: dropped here), except
link-local destinations, which return RX_HANDLER_PASS to the port's own stack
(BD6, T2). Otherwise the frame is re-homed to the aggregate device
(RX_HANDLER_ANOTHER) and climbs on.
"""

from __future__ import annotations

from typing import Any

from vnetlab.devices.netdev import NetDevice
from vnetlab.net.addr import Mac, is_link_local
from vnetlab.net.frame import Frame, Ipv4
from vnetlab.sim.sim import Sim
from vnetlab.sim.time import Time
from vnetlab.sim.trace import Action, DropReason


class AggregatePort:
    """A port of a bond (the kernel's ``struct slave``) or a team (``struct team_port``)."""

    __slots__ = ("dev", "enabled", "last_rx", "last_tx", "link_state", "name", "perm_mac", "prio")

    def __init__(self, dev: NetDevice) -> None:
        self.dev = dev
        self.name = dev.name
        self.enabled = dev.running    # the link monitor's view of the port
        self.link_state = "up" if self.enabled else "down"   # BOND_LINK_UP/FAIL/DOWN/BACK
        self.prio = 0
        self.perm_mac = dev.mac       # slave->perm_hwaddr
        self.last_rx: Time = -(1 << 62)
        self.last_tx: Time = -(1 << 62)


class Aggregate(NetDevice):
    """Base of Bond and Team. ``fn_rx``/``fn_tx`` name the kernel functions
    mirrored in the trace; ``rule_rx``/``rule_tx`` the semantics ids."""

    fn_rx = "bond_handle_frame"
    rule_rx = "BD6"

    def __init__(self, sim: Sim, node: str, name: str, mac: Mac | None) -> None:
        super().__init__(sim, node, name, mac or 0)
        self.mac_set_by_user = mac is not None
        self.ports: list[AggregatePort] = []
        self.port_of: dict[NetDevice, AggregatePort] = {}
        # what measurements read (vnetlab matrix; kept only with ``measure``, off the
        # per-frame path otherwise): per flow (MACs, ethertype, IPs)
        # the port it last left on, how often it changed port and the last frame
        # that did; frames per
        # port; frames whose source MAC the mode rewrote
        self.flow_ports: dict[tuple[Mac, Mac, int, tuple[int, int] | None], list[Any]] = {}
        self.tx_frames: dict[str, int] = {}
        self.src_rewrites = 0
        self.measure = False

    # -- configuration -------------------------------------------------------
    def enslave(self, dev: NetDevice) -> AggregatePort:
        """Add a port: the first port's MAC becomes the aggregate's unless one was
        set; ports get the aggregate's MAC where the mode says so (BD3, T4)."""
        port = AggregatePort(dev)
        if not self.ports and not self.mac_set_by_user:
            self.mac = dev.mac
        self.ports.append(port)
        self.port_of[dev] = port
        dev.upper = self
        dev.rx_handler = self.handle_frame
        dev.carrier_watchers.append(self.port_link_changed)
        if self.ports_take_aggregate_mac():
            dev.mac = self.mac
        self.port_added(port)
        return port

    def ports_take_aggregate_mac(self) -> bool:
        return True

    def port_added(self, port: AggregatePort) -> None:
        """Mode hook: e.g. pick the first active port."""

    def port_link_changed(self, dev: NetDevice) -> None:
        """The link monitor saw the port's carrier change (mode hook may re-elect)."""
        port = self.port_of[dev]
        was_up = self.carrier
        up = dev.running
        if up != port.enabled:
            port.enabled = up
            self.sim.step(self.where, port.name, Action.LINK, 0,
                          f"port {port.name} link {'up' if up else 'down'}: "
                          f"{'enabled' if up else 'disabled'}", self.fn_link, self.rule_link)
            self.link_changed(port)
        if self.carrier != was_up:
            self.notify_carrier()

    fn_link = "bond_miimon_commit"
    rule_link = "BD13"

    def link_changed(self, port: AggregatePort) -> None:
        """Mode hook: failover."""

    @property
    def carrier(self) -> bool:
        """Carrier while at least one port has link (bond_set_carrier, team carrier)."""
        return self.admin_up and any(p.enabled for p in self.ports)

    # -- mode hooks --------------------------------------------------------------
    def rx_allowed(self, port: AggregatePort, frame: Frame) -> str | None:
        """None if frames received on ``port`` go up; else why not."""
        raise NotImplementedError

    def select_tx(self, frame: Frame) -> tuple[AggregatePort | None, str]:
        """The port this frame leaves on, and a sentence saying why."""
        raise NotImplementedError

    fn_tx = "bond_start_xmit"
    rule_tx = "BD7"

    # -- data path ---------------------------------------------------------------
    def recv_probe(self, port: AggregatePort, frame: Frame, cause: int) -> bool:
        """The mode's ``recv_probe`` (ARP monitor, LACPDU, RLB learning), run on
        every port before the inactive check; True if it consumed the frame."""
        port.last_rx = self.sim.now
        return False

    def rx_rewrite(self, port: AggregatePort, frame: Frame) -> Frame:
        """Mode hook: a frame delivered up may be rewritten (balance-alb, BD6.4)."""
        return frame

    def handle_frame(self, dev: NetDevice, frame: Frame, cause: int, hops: int) -> None:
        port = self.port_of[dev]
        if self.recv_probe(port, frame, cause):
            return
        why = self.rx_allowed(port, frame)
        if why is not None:
            if is_link_local(frame.dst):
                dev.deliver_local(frame, cause)                  # RX_HANDLER_PASS
                return
            self.drop(frame, cause, DropReason.INACTIVE_PORT,
                      f"{why}: RX_HANDLER_EXACT, not delivered to {self.name}",
                      self.fn_rx, self.rule_rx, port=port.name)
            return
        sim = self.sim
        if sim.tracing:
            cause = sim.step(self.where, port.name, Action.RECEIVE, frame.uid,
                             f"received on {port.name}, delivered up to {self.name}",
                             self.fn_rx, self.rule_rx, cause=cause)
        self.receive(self.rx_rewrite(port, frame), cause, hops)  # RX_HANDLER_ANOTHER

    def xmit(self, frame: Frame, cause: int, hops: int) -> None:
        port, why = self.select_tx(frame)
        if port is None:
            self.drop(frame, cause, DropReason.NO_TX_PORT, why, self.fn_tx, self.rule_tx)
            return
        if self.measure:
            self._count_flow(frame, port)
        self.send_on(port, self.tx_rewrite(port, frame), cause, hops, why)

    def _count_flow(self, frame: Frame, port: AggregatePort) -> None:
        packet = frame.payload
        flow = (frame.src, frame.dst, frame.ethertype,
                (packet.src, packet.dst) if isinstance(packet, Ipv4) else None)
        seen = self.flow_ports.get(flow)
        if seen is None:
            self.flow_ports[flow] = [port.name, 0, 0]
        elif seen[0] != port.name:
            seen[0] = port.name
            seen[1] += 1
            seen[2] = frame.uid                  # the latest frame that changed port

    def xmit_all(self, frame: Frame, cause: int, hops: int, why: str, none: str) -> None:
        """A copy on every port that is enabled and can transmit (bond broadcast
        mode, team broadcast runner: BD10, T3)."""
        sent = False
        for port in self.ports:
            if port.enabled and port.dev.running:
                self.send_on(port, frame, cause, hops, why)
                sent = True
        if not sent:
            self.drop(frame, cause, DropReason.NO_TX_PORT, none, self.fn_tx, self.rule_tx)

    def send_on(self, port: AggregatePort, frame: Frame, cause: int, hops: int, why: str) -> None:
        """Hand the frame to the port's device (bond_dev_queue_xmit / team_dev_queue_xmit)."""
        port.last_tx = self.sim.now                  # dev_trans_start(), read by ARP monitors
        if self.measure:
            self.tx_frames[port.name] = self.tx_frames.get(port.name, 0) + 1
        sim = self.sim
        if sim.tracing:
            cause = sim.step(self.where, port.name, Action.FORWARD, frame.uid,
                             f"transmitted on {port.name} ({why})", self.fn_tx, self.rule_tx,
                             cause=cause)
        port.dev.xmit(frame, cause, hops)

    def tx_rewrite(self, port: AggregatePort, frame: Frame) -> Frame:
        """Mode hook: balance-tlb/alb rewrite the source MAC on non-active ports (BD11)."""
        return frame

    @staticmethod
    def active_tx(active: AggregatePort | None, mode: str) -> tuple[AggregatePort | None, str]:
        """TX in an active/backup mode: the active port, if it can transmit."""
        if active is None or not active.dev.running:
            return None, f"{mode}: no active port"
        return active, f"{mode}: active port {active.name}"

    # -- peer notification ----------------------------------------------------------
    def own_ipv4(self) -> list[int]:
        """IPv4 addresses configured on this very device (not on a bridge above it)."""
        stack = self.stack
        iface = getattr(stack, "iface_of", {}).get(self) if stack is not None else None
        return [addr for addr, _ in iface.addresses] if iface is not None else []

    def notify_peers(self, count: int, spacing: Time, fn: str, rule: str, cause: int = 0) -> None:
        """NETDEV_NOTIFY_PEERS raised ``count`` times ``spacing`` apart: the IPv4
        stack sends a gratuitous ARP for each address on this device
        (inetdev_event -> inetdev_send_gratuitous_arp). Under a bridge the
        device has no address and the bridge does not relay the event, so
        nothing is sent for the bridge's IP or any VM MAC (BD14, T5)."""
        if count <= 0:
            return
        addresses = self.own_ipv4()
        # vlan_device_event(): NETDEV_NOTIFY_PEERS is propagated to the VLAN devices on
        # top (bond0.100), whose addresses get their gratuitous ARPs, tagged (VQ4)
        vlans = [(vdev, [a for a, _ in iface.addresses]) for vdev in self.vlan_devs.values()
                 if (iface := getattr(vdev.stack, "iface_of", {}).get(vdev)) is not None
                 and iface.addresses]
        if not addresses and not vlans:
            above = f" (it is a port of {self.upper.name}, which does not relay the event)" \
                if self.upper is not None else ""
            self.sim.step(self.where, self.name, Action.NOTE, 0,
                          f"NETDEV_NOTIFY_PEERS on {self.name}: it has no IPv4 address{above}, so "
                          "no gratuitous ARP is sent; switches keep VM MACs on the old port "
                          "until those MACs transmit again", fn, rule, cause=cause)
            return
        for i in range(count):
            if addresses:
                self.sim.schedule(i * spacing, self._send_garps, addresses, fn, rule, cause)
            for vdev, vlan_addresses in vlans:
                self.sim.schedule(i * spacing, self._send_garps, vlan_addresses, fn, rule, cause,
                                  vdev)

    def _send_garps(self, addresses: list[int], fn: str, rule: str, cause: int,
                    dev: NetDevice | None = None) -> None:
        from vnetlab.net.frame import gratuitous_arp

        dev = dev or self
        for addr in addresses:
            frame = gratuitous_arp(self.sim.new_uid(), dev.mac, addr)
            step = self.sim.step(dev.where, dev.name, Action.TRANSMIT, frame.uid,
                                 f"NETDEV_NOTIFY_PEERS: sent {frame.payload.describe()}",
                                 "inetdev_send_gratuitous_arp", rule, cause=cause)
            dev.xmit(frame, step, 0)
