"""What the events mean: the doctor's live checks, decided as the kernel reports them.

``Monitor`` keeps the bridges' tables as the notifications describe them (names and
masters from RTM_NEWLINK, entries from RTM_NEWNEIGH/RTM_DELNEIGH) and turns each
notification into records (plain dicts, one JSON line each):

* ``event``: ``fdb-learn`` (a new entry), ``fdb-move`` (an existing entry on another
  port: ``br_fdb_update`` moving it to the ingress port, B7.4), ``fdb-delete`` (aged
  out or flushed, B8/B11), ``port-state`` (IFLA_BRPORT_STATE changed, B18),
  ``oper-state`` (a bridge port's IFLA_OPERSTATE changed: carrier, B2f);
* ``finding`` with the doctor's check id:
  ``bridge.vm-mac-on-uplink`` when a MAC first learned on a tap port (``vnetN``/``tapX``
  or a tun device: a local VM) is learned on a port that is not a tap (the seed-000
  signature: the VM's broadcast came back through the uplink, BD17a; frames for the VM
  arriving on that port are now dropped, B13);
  ``bridge.mac-flapping`` when one MAC moves more than ``flap_moves`` times within
  ``flap_window`` seconds (the Linux bridge moves an entry at every frame with no
  damping, B7.4; the switch's S6 counts the same moves);
  ``bridge.port-state`` when a port's STP state changes to anything but forwarding, or
  its operational state to anything but up (a port not forwarding drops what it
  receives and sends nothing, B3.3, B18; carrier loss disables it, B2f); the way back
  is an event only.

A local entry (``permanent``: the bridge's or a port's own MAC, B2c) is never a VM's
learned MAC and never moves. Time comes from the caller (monotonic seconds), so the
decisions are testable without a kernel.
"""

from __future__ import annotations

import re
from collections import deque
from datetime import UTC, datetime
from typing import Any

from vnetlab.watch.netlink import FdbMsg, LinkMsg

TAP_NAME = re.compile(r"(vnet\d+|tap.+)")

Record = dict[str, Any]


class Monitor:
    def __init__(self, flap_moves: int = 1, flap_window: float = 10.0) -> None:
        self.flap_moves = flap_moves
        self.flap_window = flap_window
        self.names: dict[int, str] = {}
        self.kinds: dict[int, str | None] = {}
        self.masters: dict[int, int | None] = {}
        self.port_state: dict[int, str] = {}
        self.oper: dict[int, str] = {}
        self.fdb: dict[tuple[int, str, int | None], tuple[int, bool]] = {}   # -> (port, local)
        self.home: dict[tuple[int, str], int] = {}      # (bridge, mac) -> the tap it came from
        self.moves: dict[tuple[int, str], deque[tuple[float, str, str]]] = {}
        self.events = 0
        self.findings = 0

    # -- names ------------------------------------------------------------------------------
    def name(self, index: int | None) -> str:
        return self.names.get(index, f"if{index}") if index is not None else "?"

    def is_tap(self, index: int) -> bool:
        return self.kinds.get(index) == "tun" or bool(TAP_NAME.fullmatch(self.name(index)))

    def is_bridge(self, index: int | None) -> bool:
        return index is not None and self.kinds.get(index) == "bridge"

    # -- the starting point ---------------------------------------------------------------------
    def load(self, links: list[LinkMsg], bridge_ports: list[LinkMsg], fdb: list[FdbMsg]) -> Record:
        """The dumps: tables as they are now (no events). A MAC already on a tap port is
        taken as that tap's VM."""
        for link in links:
            self._link_names(link)
        for port in bridge_ports:
            self._link_names(port)
            if port.port_state is not None:
                self.port_state[port.index] = port.port_state
        for entry in fdb:
            if entry.bridge is None:
                continue
            self.fdb[(entry.bridge, entry.mac, entry.vlan)] = (entry.port, entry.local)
            if not entry.local and self.is_tap(entry.port):
                self.home.setdefault((entry.bridge, entry.mac), entry.port)
        bridges = sorted({self.name(b) for b in self.names if self.is_bridge(b)})
        return {"type": "ready", "bridges": bridges, "fdb": len(self.fdb),
                "ports": len(self.port_state)}

    def _link_names(self, link: LinkMsg) -> None:
        if link.name:
            self.names[link.index] = link.name
        if link.kind is not None or link.family == 0:
            self.kinds[link.index] = link.kind if link.kind is not None else \
                self.kinds.get(link.index)
        if link.master is not None or link.family == 0:
            self.masters[link.index] = link.master
        if link.operstate is not None:
            self.oper.setdefault(link.index, link.operstate)

    # -- notifications ------------------------------------------------------------------------
    def handle(self, msg: FdbMsg | LinkMsg, now: float) -> list[Record]:
        out = self._fdb(msg, now) if isinstance(msg, FdbMsg) else self._link(msg)
        for record in out:
            record["time"] = datetime.now(UTC).isoformat(timespec="milliseconds")
            record["t"] = round(now, 3)
            if record["type"] == "event":
                self.events += 1
            else:
                self.findings += 1
        return out

    def _fdb(self, msg: FdbMsg, now: float) -> list[Record]:
        if msg.bridge is None:
            return []
        key = (msg.bridge, msg.mac, msg.vlan)
        bridge, port = self.name(msg.bridge), self.name(msg.port)
        base: Record = {"bridge": bridge, "mac": msg.mac, "port": port, "vlan": msg.vlan,
                        "flags": msg.flag_words()}
        before = self.fdb.get(key)
        if not msg.new:
            if before is None:
                return []
            del self.fdb[key]
            return [{"type": "event", "event": "fdb-delete", **base}]
        self.fdb[key] = (msg.port, msg.local)
        if before is not None and before[0] == msg.port:
            return []                           # a flag change or refresh on the same port
        out: list[Record] = []
        if before is None:
            out.append({"type": "event", "event": "fdb-learn", **base})
        else:
            out.append({"type": "event", "event": "fdb-move", "old": self.name(before[0]),
                        **base})
        if msg.local:
            return out
        pair = (msg.bridge, msg.mac)
        if self.is_tap(msg.port):
            if before is None:                  # first learned here: this tap's VM
                self.home.setdefault(pair, msg.port)
        elif pair in self.home and msg.port != msg.bridge:
            out.append({"type": "finding", "check": "bridge.vm-mac-on-uplink",
                        "severity": "error", "rules": ["B4", "B7", "B13", "BD17a"],
                        "tap": self.name(self.home[pair]), **base})
        if before is not None:
            moves = self.moves.setdefault(pair, deque())
            moves.append((now, self.name(before[0]), port))
            while moves and now - moves[0][0] > self.flap_window:
                moves.popleft()
            if len(moves) > self.flap_moves:
                ports = list(dict.fromkeys([moves[0][1], *(to for _, _, to in moves)]))
                out.append({"type": "finding", "check": "bridge.mac-flapping",
                            "severity": "warning", "rules": ["B7", "S6"], "moves": len(moves),
                            "window": self.flap_window, "ports": ports, **base})
                moves.clear()
        return out

    def _link(self, msg: LinkMsg) -> list[Record]:
        old_master = self.masters.get(msg.index)
        self._link_names(msg)
        out: list[Record] = []
        if not msg.new:
            if msg.family == 0:
                for table in (self.port_state, self.oper, self.masters):
                    table.pop(msg.index, None)
            return out
        master = msg.master if msg.master is not None else old_master
        if not self.is_bridge(master):
            if msg.operstate is not None:
                self.oper[msg.index] = msg.operstate
            return out
        bridge, port = self.name(master), self.name(msg.index)
        if msg.port_state is not None:
            old = self.port_state.get(msg.index)
            self.port_state[msg.index] = msg.port_state
            if old is not None and old != msg.port_state:
                base = {"bridge": bridge, "port": port, "state": msg.port_state, "old": old}
                out.append({"type": "event", "event": "port-state", **base})
                if msg.port_state != "forwarding":
                    out.append({"type": "finding", "check": "bridge.port-state",
                                "severity": "info" if msg.port_state == "disabled" else
                                "warning", "rules": ["B3", "B18"], **base})
        if msg.operstate is not None:
            old = self.oper.get(msg.index)
            self.oper[msg.index] = msg.operstate
            if old is not None and old != msg.operstate:
                base = {"bridge": bridge, "port": port, "state": msg.operstate, "old": old}
                out.append({"type": "event", "event": "oper-state", **base})
                if msg.operstate != "up":
                    out.append({"type": "finding", "check": "bridge.port-state",
                                "severity": "warning", "rules": ["B2", "L1"], **base})
        return out
