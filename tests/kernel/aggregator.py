"""User-space link aggregator: emulates a team / bond (or a switch's static LAG) in a netns.

The kernel used for validation has no ``bonding`` or ``team`` module, so the aggregate device
is a **tap** (it plays ``team1`` / ``bond0`` / ``po1`` and is enslaved to a bridge) and this
process moves frames between the tap and the member ports (veths) with AF_PACKET.

Run inside the namespace: ``ip netns exec NS python aggregator.py --tap team1 --ports
ens224,ens256 --mode roundrobin``.  The tap must already exist (``ip tuntap add ... mode
tap``); attaching to it gives it carrier.  ``READY`` is printed once attached; SIGTERM makes
the process print JSON counters and exit 0.

Modes and the rules they emulate (``docs/validation.md`` and ``/work/shared/spec``):

``roundrobin``    team ``roundrobin`` / bond ``balance-rr``.  TX: ``port = n++ mod
                  enabled_ports`` per frame (T3, BD7).  RX: frames from **every** enabled
                  port are delivered to the aggregate (T2, BD6 "all slaves active").
``activebackup``  team ``activebackup`` / bond ``active-backup``.  The active port is the
                  first enabled port in ``--ports`` order.  TX only on it (T3, BD8); RX on any
                  other port is dropped, i.e. never reaches the bridge (T2 ``ab_receive``
                  returns RX_HANDLER_EXACT; BD6 inactive slave).
``hash``          a switch's static LAG ("mode on", S3): TX port = hash of the source MAC
                  (``src[5] mod enabled_ports``), RX from every member; the bridge above sees
                  the LAG as one port, so a flood never goes back into the LAG (S1, S3).

A port is *enabled* when it is administratively up and has carrier (IFF_UP and IFF_RUNNING),
as the team/bond link watch (ethtool / miimon) would report it.

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
from collections import Counter
from dataclasses import dataclass, field

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
    """The frame-moving state machine (no I/O of its own besides the two fds)."""

    mode: str
    ports: list[str]
    tap_fd: int
    sock: socket.socket
    ctl: socket.socket
    tx_counter: int = 0
    stats: Counter[str] = field(default_factory=Counter)

    def enabled_ports(self) -> list[str]:
        """Member ports that can carry traffic right now, in configuration order."""
        return [p for p in self.ports if link_enabled(self.ctl, p)]

    def tx_port(self, frame: bytes) -> str | None:
        """Member chosen to transmit ``frame`` (T3 / BD7 / BD8 / S3)."""
        enabled = self.enabled_ports()
        if not enabled:
            return None
        if self.mode == "roundrobin":
            port = enabled[self.tx_counter % len(enabled)]
            self.tx_counter += 1
            return port
        if self.mode == "activebackup":
            return enabled[0]
        return enabled[frame[11] % len(enabled)]  # hash: last byte of the source MAC

    def rx_accepted(self, port: str) -> bool:
        """Whether a frame received on ``port`` is delivered to the aggregate (T2 / BD6)."""
        if self.mode != "activebackup":
            return True
        enabled = self.enabled_ports()
        return bool(enabled) and port == enabled[0]

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

    def run(self, stop_fd: int) -> None:
        """Poll the tap and the member socket until ``stop_fd`` becomes readable."""
        poller = select.poll()
        for fd in (self.tap_fd, self.sock.fileno(), stop_fd):
            poller.register(fd, select.POLLIN)
        while True:
            ready = {fd for fd, _event in poller.poll()}
            if self.sock.fileno() in ready:
                self.from_ports()
            if self.tap_fd in ready:
                self.from_tap()
            if stop_fd in ready:
                return


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line interface."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tap", required=True, help="existing tap device (the aggregate)")
    parser.add_argument("--ports", required=True, help="comma-separated member devices")
    parser.add_argument("--mode", required=True, choices=MODES)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_fd = sigterm_wakeup_fd()
    tap_fd = open_tap(args.tap)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    agg = Aggregator(args.mode, args.ports.split(","), tap_fd, sock, ctl)
    print("READY", flush=True)
    try:
        agg.run(stop_fd)
    finally:
        sock.close()
        ctl.close()
        os.close(tap_fd)
    print(json.dumps(dict(agg.stats)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
