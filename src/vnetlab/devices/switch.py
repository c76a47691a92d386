"""A physical Ethernet switch: an IEEE 802.1D/802.1Q learning bridge with
static link aggregation.

Mirrors: IEEE 802.1Q §8.6-8.8 (forwarding process, filtering database,
learning), IEEE 802.1AX §6 (a LAG is one logical port: learning and the
"never back out of the ingress port" rule apply to the LAG as a whole, and a
flood sends one copy to the LAG on the member its hash picks). Semantics
S1-S3.

Vendor choices are options, not personalities (ARCHITECTURE decision 4):
``mac-ageing-time`` (300 s), LAG ``hash`` (``src-mac``, ``dst-mac``,
``src-dst-mac``; default ``src-dst-mac``).

Limitations: no VLANs (one broadcast domain), no STP (ports forward at link
up), no LACP (static LAGs only), no MAC-move detection, no port security.
Link-local group addresses (01:80:c2:00:00:0x) are consumed, never flooded.
"""

from __future__ import annotations

from enum import StrEnum

from vnetlab.devices.fdb import DEFAULT_AGEING, Fdb
from vnetlab.devices.netdev import NetDevice, Nic
from vnetlab.net.addr import BROADCAST, mac_str
from vnetlab.net.frame import Frame
from vnetlab.sim.sim import Sim
from vnetlab.sim.time import Time
from vnetlab.sim.trace import Action, DropReason


class LagHash(StrEnum):
    """``port-channel load-balance`` choices (S3)."""

    SRC_MAC = "src-mac"
    DST_MAC = "dst-mac"
    SRC_DST_MAC = "src-dst-mac"


class SwitchPort:
    """A logical port: one physical port, or a LAG (static port-channel)."""

    __slots__ = ("hash", "is_lag", "members", "name", "single")

    def __init__(self, name: str, members: list[Nic], hash_: LagHash | None = None) -> None:
        self.name = name
        self.members = members
        self.is_lag = hash_ is not None
        self.hash = hash_ or LagHash.SRC_DST_MAC
        self.single = members[0] if not self.is_lag else None

    @property
    def up(self) -> bool:
        return any(m.oper_up for m in self.members)

    def pick_member(self, frame: Frame) -> Nic | None:
        """The member a frame leaves on: hash of the chosen fields, modulo the
        members with link (a common vendor scheme: XOR of the low MAC bits)."""
        single = self.single
        if single is not None:
            return single if single.oper_up else None
        up = [m for m in self.members if m.oper_up]
        if not up:
            return None
        if len(up) == 1:
            return up[0]
        if self.hash is LagHash.SRC_MAC:
            key = frame.src & 0xFF
        elif self.hash is LagHash.DST_MAC:
            key = frame.dst & 0xFF
        else:
            key = (frame.src ^ frame.dst) & 0xFF
        return up[key % len(up)]


class Switch:
    """A switch (``switches:``)."""

    kind = "switch"

    def __init__(self, sim: Sim, name: str, ageing_time: Time = DEFAULT_AGEING) -> None:
        self.sim = sim
        self.name = name
        self.where = name
        self.ports: dict[str, Nic] = {}
        self.logical: list[SwitchPort] = []
        self.logical_of: dict[NetDevice, SwitchPort] = {}
        self.fdb: Fdb[SwitchPort] = Fdb(sim, name, ageing_time, fn="802.1Q 8.7 learning",
                                        rule="S1")

    def add_port(self, nic: Nic) -> None:
        self.ports[nic.name] = nic
        nic.rx_handler = self.handle_frame
        nic.carrier_watchers.append(self.port_carrier_changed)

    def build_logical_ports(self, lags: list[tuple[str, list[str], LagHash]]) -> None:
        """Group ports into LAGs; every other port is its own logical port."""
        in_lag: dict[str, SwitchPort] = {}
        for name, members, hash_ in lags:
            lag = SwitchPort(name, [self.ports[m] for m in members], hash_)
            for member in members:
                in_lag[member] = lag
        seen: set[str] = set()
        for port_name, nic in self.ports.items():
            logical = in_lag.get(port_name) or SwitchPort(port_name, [nic])
            self.logical_of[nic] = logical
            if logical.name not in seen:
                seen.add(logical.name)
                self.logical.append(logical)

    def port_carrier_changed(self, dev: NetDevice) -> None:
        """A logical port that loses its last link has its entries flushed (S2)."""
        logical = self.logical_of[dev]
        self.sim.step(self.where, dev.name, Action.LINK, 0,
                      f"port {dev.name} link {'up' if dev.running else 'down'}",
                      "802.1Q 8.6.1", "S2")
        if not logical.up:
            self.fdb.flush_port(logical, logical.name, 0, "802.1Q 8.8.3 (port down)", "S2")

    def handle_frame(self, dev: NetDevice, frame: Frame, cause: int, hops: int) -> None:
        """802.1Q forwarding process (S1): learn, then filter, forward or flood."""
        ingress = self.logical_of[dev]
        dst = frame.dst
        if dst & 0xFFFF_FFFF_FFF0 == 0x0180_C200_0000:            # is_link_local()
            if self.sim.tracing:
                self.sim.step(self.where, dev.name, Action.NOTE, frame.uid,
                              f"reserved group {mac_str(dst)} consumed, not forwarded",
                              "802.1Q 8.6.3", "S1", cause=cause)
            return
        src = frame.src
        if not src & 0x0100_0000_0000:
            fdb = self.fdb
            entry = fdb.entries.get(src)            # VID 0: the key is the MAC itself
            now = self.sim.now
            if entry is not None and entry.port is ingress and now < entry.updated + fdb.ageing_time:
                entry.updated = now                 # the common case: refresh in place
            else:
                fdb.update(src, 0, ingress, ingress.name, frame.uid, cause)
        if dst & 0x0100_0000_0000:
            self.flood(frame, ingress, cause, "broadcast" if dst == BROADCAST else "multicast",
                       hops)
            return
        entry = self.fdb.find(dst, 0, cause)
        if entry is None:
            self.flood(frame, ingress, cause, "unknown unicast", hops)
            return
        out = entry.port
        if out is ingress:
            self.drop_frame(frame, cause, DropReason.SAME_PORT,
                            f"MAC table says {mac_str(dst)} is on ingress port {out.name}: "
                            "filtered", out.name, entry.step)
            return
        member = out.pick_member(frame)
        if member is None:
            self.drop_frame(frame, cause, DropReason.NO_CARRIER,
                            f"{mac_str(dst)} is on {out.name}, which is down", out.name,
                            entry.step)
            return
        sim = self.sim
        if sim.tracing:
            via = f" via {member.name} (LAG hash {out.hash})" if out.is_lag else ""
            cause = sim.step(self.where, out.name, Action.FORWARD, frame.uid,
                             f"forwarded to {out.name}{via} (MAC table hit for {mac_str(dst)})",
                             "802.1Q 8.6.4", "S1", cause=cause, ref=entry.step)
        member.xmit(frame, cause, hops)

    def flood(self, frame: Frame, ingress: SwitchPort, cause: int, kind: str, hops: int
              ) -> None:
        """Flood to every other logical port with link; one copy per LAG (S1, S3)."""
        sim = self.sim
        tracing = sim.tracing
        if tracing:
            cause = sim.step(self.where, ingress.name, Action.FLOOD, frame.uid,
                             f"flooding {kind} {mac_str(frame.dst)}", "802.1Q 8.6.4", "S1",
                             cause=cause)
        for port in self.logical:
            if port is ingress:
                if tracing:
                    what = "LAG" if port.is_lag else "port"
                    sim.step(self.where, port.name, Action.SKIP, frame.uid,
                             f"not flooded back out of ingress {what} {port.name}",
                             "802.1Q 8.6.4", "S1" if not port.is_lag else "S3",
                             reason=DropReason.SAME_PORT, cause=cause)
                continue
            member = port.pick_member(frame)
            if member is None:
                if tracing:
                    sim.step(self.where, port.name, Action.SKIP, frame.uid,
                             f"not flooded to {port.name}: link down", "802.1Q 8.6.1", "S1",
                             reason=DropReason.NO_CARRIER, cause=cause)
                continue
            member.xmit(frame, cause, hops)

    def drop_frame(self, frame: Frame, cause: int, reason: DropReason, note: str, port: str,
                   ref: int = 0) -> None:
        self.sim.step(self.where, port, Action.DROP, frame.uid, note, "802.1Q 8.6.4", "S1",
                      reason=reason, cause=cause, ref=ref)
