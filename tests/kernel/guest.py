"""The guest side of a VM's tap, run *inside* the host namespace (``ip netns exec NS python
guest.py --nic TAP,MAC[,IP/PLEN] ...``): what QEMU does with a tap, and no more.

QEMU opens ``/dev/net/tun`` and attaches to the tap libvirt created
(``TUNSETIFF`` with ``IFF_TAP | IFF_NO_PI``): from then on the tap has carrier, and every
frame QEMU ``write()``s is a frame the host receives on the tap from the guest. Here the
"guest" of each NIC announces itself the way a booting guest does: a DHCP client
broadcasts DISCOVERs (no address given), a statically addressed one a gratuitous ARP;
every 0.5 s until SIGTERM, so a bridge port that is still listening (STP) learns the MAC
as soon as it reaches learning. Frames the host sends to the guest are read and dropped.

Stdlib only, never imported by the test suite (as :mod:`pktool`). Prints ``READY`` once
every tap is attached.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
BROADCAST = b"\xff" * 6


def mac_bytes(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


def attach(tap: str) -> int:
    """QEMU's tap_open(): attach to the existing tap ``tap``."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", tap.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def _ipv4_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def dhcp_discover(mac: str, xid: int) -> bytes:
    """A DHCPDISCOVER from ``mac`` (RFC 2131: ciaddr 0, broadcast to 255.255.255.255)."""
    chaddr = mac_bytes(mac)
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000, b"\0" * 4,
                        b"\0" * 4, b"\0" * 4, b"\0" * 4, chaddr + b"\0" * 10, b"", b"")
    options = b"\x63\x82\x53\x63" + b"\x35\x01\x01" + b"\x37\x03\x01\x03\x06" + b"\xff"
    udp_payload = bootp + options
    udp = struct.pack("!HHHH", 68, 67, 8 + len(udp_payload), 0) + udp_payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0x10, 20 + len(udp), 0, 0, 64, 17, 0,
                         b"\0" * 4, b"\xff" * 4)
    header = header[:10] + struct.pack("!H", _ipv4_checksum(header)) + header[12:]
    return BROADCAST + chaddr + b"\x08\x00" + header + udp


def gratuitous_arp(mac: str, ip: str) -> bytes:
    """An ARP request for the guest's own address (what a static guest sends at link up)."""
    sender = mac_bytes(mac)
    addr = bytes(int(part) for part in ip.split("."))
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, sender, addr, b"\0" * 6, addr)
    return (BROADCAST + sender + b"\x08\x06" + arp).ljust(60, b"\0")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nic", action="append", required=True,
                        help="TAP,MAC[,IP/PLEN]: the tap and its guest (no IP: a DHCP client)")
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args(argv)

    stop = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    nics = []
    for index, spec in enumerate(args.nic):
        tap, mac, *rest = spec.split(",")
        frame = gratuitous_arp(mac, rest[0].split("/")[0]) if rest and rest[0] else \
            dhcp_discover(mac, 0x564E0000 + index)
        nics.append((attach(tap), frame))
    print("READY", flush=True)
    fds = [fd for fd, _ in nics]
    while not stop:
        for fd, frame in nics:
            with contextlib.suppress(OSError):  # the tap is down: try again later
                os.write(fd, frame)
        deadline = time.monotonic() + args.interval
        while not stop and (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select(fds, [], [], left)
            for fd in ready:
                with contextlib.suppress(OSError):
                    os.read(fd, 65536)      # the host's frames to the guest: dropped
    for fd in fds:
        os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
