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

from vnetlab.devices.netdev import NetDevice
from vnetlab.net.addr import Mac, is_link_local
from vnetlab.net.frame import Frame
from vnetlab.sim.sim import Sim
from vnetlab.sim.trace import Action, DropReason


class AggregatePort:
    """A port of a bond (the kernel's ``struct slave``) or a team (``struct team_port``)."""

    __slots__ = ("dev", "enabled", "name", "prio")

    def __init__(self, dev: NetDevice) -> None:
        self.dev = dev
        self.name = dev.name
        self.enabled = dev.running    # link monitor's view of the port
        self.prio = 0


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
    def rx_allowed(self, port: AggregatePort) -> str | None:
        """None if frames received on ``port`` go up; else why not."""
        raise NotImplementedError

    def select_tx(self, frame: Frame) -> tuple[AggregatePort | None, str]:
        """The port this frame leaves on, and a sentence saying why."""
        raise NotImplementedError

    fn_tx = "bond_start_xmit"
    rule_tx = "BD7"

    # -- data path ---------------------------------------------------------------
    def handle_frame(self, dev: NetDevice, frame: Frame, cause: int, hops: int) -> None:
        port = self.port_of[dev]
        why = self.rx_allowed(port)
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
        self.receive(frame, cause, hops)                         # RX_HANDLER_ANOTHER

    def xmit(self, frame: Frame, cause: int, hops: int) -> None:
        port, why = self.select_tx(frame)
        if port is None:
            self.drop(frame, cause, DropReason.NO_TX_PORT, why, self.fn_tx, self.rule_tx)
            return
        sim = self.sim
        if sim.tracing:
            cause = sim.step(self.where, port.name, Action.FORWARD, frame.uid,
                             f"transmitted on {port.name} ({why})", self.fn_tx, self.rule_tx,
                             cause=cause)
        port.dev.xmit(frame, cause, hops)

    @staticmethod
    def active_tx(active: AggregatePort | None, mode: str) -> tuple[AggregatePort | None, str]:
        """TX in an active/backup mode: the active port, if it can transmit."""
        if active is None or not active.dev.running:
            return None, f"{mode}: no active port"
        return active, f"{mode}: active port {active.name}"
