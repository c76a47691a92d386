"""User-space link aggregator: emulates a team / bond (or a switch's static LAG) in a netns.

The kernel used for validation has no ``bonding`` or ``team`` module, so the aggregate device
is a **tap** (it plays ``team1`` / ``bond0`` / ``po1`` and is enslaved to a bridge) and this
process moves frames between the tap and the member ports (veths) with AF_PACKET.

Run inside the namespace: ``ip netns exec NS python aggregator.py --tap team1 --ports
ens224,ens256 --mode roundrobin [--link-watch-ms 10]``.  The tap must already exist (``ip
tuntap add ... mode tap``); attaching to it gives it carrier.  ``READY`` is printed once
attached; SIGTERM makes the process print one JSON object (``counters``, ``events``,
``active``, ``enabled``) and exit 0.

Modes and the rules they emulate (``docs/validation.md`` and ``/work/shared/spec``):

``roundrobin``    team ``roundrobin`` / bond ``balance-rr``.  TX: ``port = n++ mod
                  enabled_ports`` per frame (T3, BD7).  RX: frames from **every** enabled
                  port are delivered to the aggregate (T2, BD6 "all slaves active").
``activebackup``  team ``activebackup`` / bond ``active-backup``.  The active port is the
                  first enabled port in ``--ports`` order at start.  TX only on it (T3, BD8);
                  RX on any other port is dropped, i.e. never reaches the bridge (T2
                  ``ab_receive`` returns RX_HANDLER_EXACT; BD6 inactive slave).  When the link
                  watch sees the active port lose its link, the next enabled port in
                  ``--ports`` order (cyclically) becomes active (T5, BD13); a port regaining
                  its link does not take over (no ``primary``/``prio``, as with equal prios).
                  No GARP or any other frame is sent on a change (BD14/T5: the aggregate has
                  no IP under a bridge).
``hash``          a switch's static LAG ("mode on", S3): TX port = hash of the source MAC
                  (``src[5] mod enabled_ports``), RX from every member; the bridge above sees
                  the LAG as one port, so a flood never goes back into the LAG (S1, S3).

A port is *enabled* when it is administratively up and has carrier (IFF_UP and IFF_RUNNING).
Like the team/bond link watch (ethtool / miimon, T7 / BD13) the flags are **polled** every
``--link-watch-ms`` (default 10 ms; 100 for miimon), on a drift-free grid; each change is
recorded as an event with its ``time.monotonic()`` timestamp (the clock is system-wide, so
the harness can compare it with its own).  Between a carrier loss and the poll that sees it,
the port still counts as enabled: frames sent on it are lost, as with a real link monitor.

Control (a line on stdin, one JSON line answered on stdout; EOF on stdin is harmless):

``state``          ``{"reply": "state", "active": ..., "enabled": {...}, "counters": {...},
                   "events": [...], "now": t}``
``active PORT``    soft failover (``teamdctl team1 state item set runner.active_port PORT``,
                   ``ifenslave -c``): PORT becomes active without any link change; refused
                   (``"ok": false``) unless PORT is an enabled member.  Answered after the
                   switch, so the caller knows it took effect.

One AF_PACKET socket unbound to any device receives the frames of every member port in the
order the kernel processed them, so the relative order of a looped broadcast and a reply
arriving on two different ports is preserved (it decides the seed case, BD17a).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import select
import socket
import struct
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

ETH_P_ALL = 0x0003
TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
SIOCGIFFLAGS = 0x8913
IFF_UP = 0x1
IFF_RUNNING = 0x40
MODES = ("roundrobin", "activebackup", "hash")

# Run as a script beside pktool.py (sys.path[0] is this directory).
from pktool import sigterm_wakeup_fd  # noqa: E402


def open_tap(name: str) -> int:
    """Attach to the (persistent) tap ``name``; returns the fd.  Attaching raises carrier."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    ifr = struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    return fd


def link_enabled(ctl: socket.socket, dev: str) -> bool:
    """True when ``dev`` is admin up and running (carrier), like a link watch would say."""
    ifr = struct.pack("16sH", dev.encode(), 0)
    try:
        flags = struct.unpack("16sH", fcntl.ioctl(ctl, SIOCGIFFLAGS, ifr)[:18])[1]
    except OSError:
        return False
    return bool(flags & IFF_UP) and bool(flags & IFF_RUNNING)


@dataclass
class Aggregator:
    """The frame-moving state machine (no I/O of its own besides the fds it is given)."""

    mode: str
    ports: list[str]
    tap_fd: int
    sock: socket.socket
    ctl: socket.socket
    link_watch: float = 0.010  # seconds between two polls of the member flags
    tx_counter: int = 0
    stats: Counter[str] = field(default_factory=Counter)
    enabled: dict[str, bool] = field(default_factory=dict)
    active: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    next_poll: float = 0.0

    # -- link watch and active-port selection
    def start_watch(self) -> None:
        """First poll: the initial state (not reported as changes) and the first active port."""
        now = time.monotonic()
        self.enabled = {p: link_enabled(self.ctl, p) for p in self.ports}
        self.next_poll = now + self.link_watch
        if self.mode == "activebackup":
            self.elect(now, "initial")

    def poll_links(self, now: float) -> None:
        """One link-watch poll: record every change, then re-elect the active port."""
        for port in self.ports:
            up = link_enabled(self.ctl, port)
            if up != self.enabled[port]:
                self.enabled[port] = up
                self.events.append({"t": now, "event": "link", "port": port, "up": up})
                self.stats[f"link_{'up' if up else 'down'}_{port}"] += 1
        if self.mode == "activebackup":
            self.elect(now, "link")

    def elect(self, now: float, reason: str) -> None:
        """Keep an enabled active port; else the next enabled one in ``--ports`` order."""
        if self.active is not None and self.enabled[self.active]:
            return
        start = self.ports.index(self.active) + 1 if self.active is not None else 0
        order = self.ports[start:] + self.ports[:start]
        self.set_active(next((p for p in order if self.enabled[p]), None), now, reason)

    def set_active(self, port: str | None, now: float, reason: str) -> None:
        """Make ``port`` the active port (TX and RX, T5/BD8); record the change."""
        if port == self.active:
            return
        self.events.append({"t": now, "event": "active", "from": self.active, "to": port, "reason": reason})
        if self.active is not None:
            self.stats["failovers"] += 1
        self.active = port

    def watch_due(self) -> float:
        """Seconds until the next poll (0 when due)."""
        return max(0.0, self.next_poll - time.monotonic())

    def watch(self) -> None:
        """Poll when the grid says so (polls stay on ``start + k * interval``)."""
        now = time.monotonic()
        if now < self.next_poll:
            return
        self.poll_links(now)
        while self.next_poll <= now:
            self.next_poll += self.link_watch

    # -- control
    def state(self) -> dict[str, Any]:
        """Everything a caller may want to compare."""
        return {
            "active": self.active,
            "enabled": dict(self.enabled),
            "counters": dict(self.stats),
            "events": list(self.events),
        }

    def command(self, line: str) -> dict[str, Any]:
        """Execute one control line; the JSON answer."""
        words = line.split()
        if words == ["state"]:
            return {"reply": "state", "now": time.monotonic(), **self.state()}
        if len(words) == 2 and words[0] == "active":
            port = words[1]
            if self.mode != "activebackup" or not self.enabled.get(port, False):
                return {"reply": "active", "ok": False, "active": self.active}
            self.set_active(port, time.monotonic(), "request")
            return {"reply": "active", "ok": True, "active": self.active}
        return {"reply": "error", "ok": False, "line": line}

    # -- data path
    def enabled_ports(self) -> list[str]:
        """Member ports the link watch considers usable, in configuration order."""
        return [p for p in self.ports if self.enabled[p]]

    def tx_port(self, frame: bytes) -> str | None:
        """Member chosen to transmit ``frame`` (T3 / BD7 / BD8 / S3)."""
        if self.mode == "activebackup":
            return self.active
        enabled = self.enabled_ports()
        if not enabled:
            return None
        if self.mode == "roundrobin":
            port = enabled[self.tx_counter % len(enabled)]
            self.tx_counter += 1
            return port
        return enabled[frame[11] % len(enabled)]  # hash: last byte of the source MAC

    def rx_accepted(self, port: str) -> bool:
        """Whether a frame received on ``port`` is delivered to the aggregate (T2 / BD6)."""
        if self.mode == "activebackup":
            return port == self.active
        return self.enabled[port]

    def from_tap(self) -> None:
        """The bridge transmitted a frame through the aggregate: send it on one member."""
        frame = os.read(self.tap_fd, 65535)
        port = self.tx_port(frame)
        if port is None:
            self.stats["tx_dropped_no_port"] += 1
            return
        try:
            self.sock.sendto(frame, (port, 0))
            self.stats[f"tx_{port}"] += 1
        except OSError:
            self.stats[f"tx_error_{port}"] += 1

    def from_ports(self) -> None:
        """Drain frames received on member ports; deliver the accepted ones to the tap."""
        while True:
            try:
                frame, addr = self.sock.recvfrom(65535, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            port, pkttype = addr[0], addr[2]
            if port not in self.ports or pkttype == socket.PACKET_OUTGOING:
                continue
            if self.rx_accepted(port):
                os.write(self.tap_fd, frame)
                self.stats[f"rx_{port}"] += 1
            else:
                self.stats[f"rx_dropped_{port}"] += 1

    def run(self, stop_fd: int, control_fd: int | None = None) -> None:
        """Move frames, poll the links, answer control lines, until ``stop_fd`` is readable."""
        poller = select.poll()
        for fd in (self.tap_fd, self.sock.fileno(), stop_fd):
            poller.register(fd, select.POLLIN)
        if control_fd is not None:
            poller.register(control_fd, select.POLLIN)
        pending = b""
        while True:
            # CPython rounds a float timeout up to the next millisecond: never early.
            ready = {fd for fd, _event in poller.poll(self.watch_due() * 1000)}
            self.watch()
            if self.sock.fileno() in ready:
                self.from_ports()
            if self.tap_fd in ready:
                self.from_tap()
            if control_fd is not None and control_fd in ready:
                chunk = os.read(control_fd, 4096)
                if not chunk:  # EOF (or no controller at all): stop listening
                    poller.unregister(control_fd)
                    control_fd = None
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    reply = self.command(line.decode(errors="replace"))
                    print(json.dumps(reply), flush=True)
            if stop_fd in ready:
                return


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line interface."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tap", required=True, help="existing tap device (the aggregate)")
    parser.add_argument("--ports", required=True, help="comma-separated member devices")
    parser.add_argument("--mode", required=True, choices=MODES)
    parser.add_argument("--link-watch-ms", type=float, default=10.0, help="flag polling period (miimon), ms")
    parser.add_argument("--control", action="store_true", help="read control lines on stdin")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_fd = sigterm_wakeup_fd()
    tap_fd = open_tap(args.tap)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    agg = Aggregator(args.mode, args.ports.split(","), tap_fd, sock, ctl, args.link_watch_ms / 1000)
    agg.start_watch()
    print("READY", flush=True)
    try:
        agg.run(stop_fd, sys.stdin.fileno() if args.control else None)
    finally:
        sock.close()
        ctl.close()
        os.close(tap_fd)
    print(json.dumps(agg.state()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
