"""Forwarding databases: the Linux bridge FDB and a physical switch's MAC table.

Complications, in order:

1. **Keyed by (MAC, VID).** With VLAN filtering off the VID is 0 (B6); with
   it on, the frame's VLAN after ingress classification (B17); a switch
   learns per VLAN (S1). The key is one int, ``mac | vid << 48``. Local
   entries exist per VID: the kernel adds one for each VLAN of the port
   (__vlan_add -> br_fdb_insert), besides the VID 0 one of br_add_if.
2. **Local entries.** Each bridge port device's own MAC, and the bridge's,
   has a LOCAL (permanent) entry pointing at that port (B2c). A frame to a
   local MAC is passed up, never forwarded (B4.4); a frame *from* a local MAC
   does not move the entry: the kernel warns "received packet on X with own
   address as source address" and carries on (B7.3).
3. **Learning moves entries.** Last seen wins, with no damping or flap
   detection in the Linux bridge (B7.4, §8.11). A move records the step that
   caused it: that is how ``explain`` finds the frame that poisoned an entry.
4. **"Some users want to always flood."** ``ageing_time 0`` makes the hold
   time 0: br_fdb_update() returns before the lookup, nothing is learned, and
   any dynamic entry has expired (B9). vnetlab follows the code, not the stale
   comment on br_set_ageing_time() (§8.1).
5. **Lazy expiry.** An entry expires when ``updated + hold_time <= now``
   (has_expired, B8); the kernel's GC worker reschedules itself for the
   earliest expiry so expiry is effectively exact. vnetlab checks expiry when
   an entry is looked up or listed, which gives the same answers without
   timer events in idle simulations (as ns-3's LearningBridge does).
   ``updated`` is refreshed only when the MAC is seen as a source.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from vnetlab.net.addr import Mac, mac_str
from vnetlab.sim.sim import Sim
from vnetlab.sim.time import S, Time, format_duration
from vnetlab.sim.trace import Action

P = TypeVar("P")


class FdbEntry(Generic[P]):
    """struct net_bridge_fdb_entry: where a MAC was last seen."""

    __slots__ = ("created", "is_local", "is_static", "mac", "port", "step", "updated", "vid")

    def __init__(self, mac: Mac, vid: int, port: P, now: Time, step: int,
                 is_local: bool = False, is_static: bool = False) -> None:
        self.mac = mac
        self.vid = vid
        self.port = port
        self.updated = now
        self.created = now
        self.step = step              # step that learned or last moved the entry
        self.is_local = is_local
        self.is_static = is_static


class Fdb(Generic[P]):
    """A learning table mapping (MAC, VID) to a port.

    ``where`` names the owner in trace steps; ``fn``/``rule`` name the
    reference the learning mirrors (br_fdb_update / B7 for a Linux bridge,
    802.1Q 8.7 / S1 for a switch).
    """

    def __init__(self, sim: Sim, where: str, ageing_time: Time, *, fn: str, rule: str) -> None:
        self.sim = sim
        self.where = where
        self.ageing_time = ageing_time
        self.entries: dict[int, FdbEntry[P]] = {}
        self.fn = fn
        self.rule = rule
        self.show_vid = False         # name the VLAN in learn/move notes (VLAN-aware owners)
        # local entries some port received as a source (B7.3): the address is in use
        # by a station behind that port too; (port, step of the first warning)
        self.own_source: dict[int, tuple[str, int]] = {}

    @staticmethod
    def key(mac: Mac, vid: int) -> int:
        return mac | (vid << 48)

    def hold_time(self) -> Time:
        """hold_time(): ageing_time (forward_delay during an STP topology change, B10)."""
        return self.ageing_time

    def add_local(self, mac: Mac, vid: int, port: P) -> None:
        """fdb_add_local(): a permanent entry for a port device's own MAC (B2c).
        An existing local entry for the same MAC wins (the first port keeps it)."""
        key = mac | (vid << 48)
        existing = self.entries.get(key)
        if existing is not None and existing.is_local:
            return
        self.entries[key] = FdbEntry(mac, vid, port, self.sim.now, 0, is_local=True,
                                     is_static=True)

    def add_static(self, mac: Mac, vid: int, port: P) -> None:
        self.entries[mac | (vid << 48)] = FdbEntry(mac, vid, port, self.sim.now, 0,
                                                   is_static=True)

    def find(self, mac: Mac, vid: int, cause: int = 0) -> FdbEntry[P] | None:
        """br_fdb_find_rcu() plus the expiry test the GC would already have done."""
        entry = self.entries.get(mac | (vid << 48))
        if entry is None:
            return None
        if not entry.is_static and entry.updated + self.ageing_time <= self.sim.now:
            self._expire(entry, cause)
            return None
        return entry

    def lookup(self, mac: Mac, vid: int | None = None) -> FdbEntry[P] | None:
        """``bridge fdb show`` filtered by MAC (and VLAN): the entry for ``vid``,
        or with ``vid`` None the one of VID 0, else of the lowest VID that has one."""
        if vid is not None:
            return self.find(mac, vid)
        if mac in self.entries:
            return self.find(mac, 0)
        for v in sorted({e.vid for e in self.entries.values() if e.mac == mac}):
            entry = self.find(mac, v)
            if entry is not None:
                return entry
        return None

    def update(self, mac: Mac, vid: int, port: P, port_name: str, uid: int,
               cause: int) -> int:
        """br_fdb_update() (B7) / 802.1Q learning (S1). Returns the id of the
        step recorded for a new or moved entry (0 for a refresh)."""
        hold = self.ageing_time
        if hold == 0:
            return 0                         # B7.1: "some users want to always flood"
        sim = self.sim
        now = sim.now
        key = mac | (vid << 48)
        entry = self.entries.get(key)
        if entry is not None and not entry.is_static and entry.updated + hold <= now:
            self._expire(entry, cause)
            entry = None
        if entry is None:                    # B7.5
            in_vlan = f" in vlan {vid}" if self.show_vid else ""
            step = sim.step(self.where, port_name, Action.LEARN, uid,
                            f"learned {mac_str(mac)} on {port_name}{in_vlan}", self.fn, self.rule,
                            cause=cause, data={"mac": mac_str(mac), "port": port_name})
            self.entries[key] = FdbEntry(mac, vid, port, now, step)
            return step
        if entry.is_local:                   # B7.3: br_warn() whatever the port
            step = 0
            if sim.tracing:
                step = sim.step(self.where, port_name, Action.NOTE, uid,
                                f"received packet on {port_name} with own address as source "
                                f"address (addr:{mac_str(mac)}, vlan:{vid}): local entry kept",
                                self.fn, "B7.3", cause=cause)
            if key not in self.own_source:
                self.own_source[key] = (port_name, step)
            return 0
        entry.updated = now                  # B7.4
        if entry.port is not port:
            old = self.port_name(entry.port)
            step = sim.step(self.where, port_name, Action.MOVE, uid,
                            f"moved {mac_str(mac)} from {old} to {port_name}"
                            + (f" in vlan {vid}" if self.show_vid else ""), self.fn, self.rule,
                            cause=cause, ref=entry.step,
                            data={"mac": mac_str(mac), "port": port_name, "from": old})
            entry.port = port
            entry.step = step
            return step
        return 0

    def flush_port(self, port: P, port_name: str, cause: int, fn: str, rule: str) -> int:
        """br_fdb_delete_by_port(br, p, 0, 0): remove the dynamic entries of a port (B11a)."""
        doomed = [k for k, e in self.entries.items() if e.port is port and not e.is_static]
        for k in doomed:
            del self.entries[k]
        if doomed:
            macs = ", ".join(mac_str(self.entries_mac(k)) for k in doomed)
            self.sim.step(self.where, port_name, Action.FLUSH, 0,
                          f"flushed {len(doomed)} entr{'y' if len(doomed) == 1 else 'ies'} of "
                          f"{port_name}: {macs}", fn, rule, cause=cause,
                          data={"port": port_name, "macs": macs.split(", ")})
        return len(doomed)

    def delete_port(self, port: P) -> None:
        """del_nbp(): every entry of the port, local ones included (B11b)."""
        for k in [k for k, e in self.entries.items() if e.port is port]:
            del self.entries[k]

    @staticmethod
    def entries_mac(key: int) -> Mac:
        return key & 0xFFFF_FFFF_FFFF

    def _expire(self, entry: FdbEntry[P], cause: int) -> None:
        del self.entries[entry.mac | (entry.vid << 48)]
        self.sim.step(self.where, self.port_name(entry.port), Action.AGE, 0,
                      f"{mac_str(entry.mac)} aged out of {self.port_name(entry.port)} "
                      f"(not seen as a source for {format_duration(self.ageing_time)})",
                      "br_fdb_cleanup" if self.rule.startswith("B") else "802.1Q 8.8.3",
                      "B8" if self.rule.startswith("B") else "S2", cause=cause, ref=entry.step)

    def live(self) -> Iterator[FdbEntry[P]]:
        """Entries not yet expired at ``now`` (``bridge fdb show``)."""
        now = self.sim.now
        for entry in list(self.entries.values()):
            if not entry.is_static and entry.updated + self.ageing_time <= now:
                self._expire(entry, 0)
                continue
            yield entry

    @staticmethod
    def port_name(port: object) -> str:
        name = getattr(port, "name", None)
        return name if isinstance(name, str) else "self"


DEFAULT_AGEING: Time = 300 * S   # BR_DEFAULT_AGEING_TIME (B1); 802.1D / vendor default (S2)
