"""Tiny packet tool run *inside* a network namespace (``ip netns exec NS python pktool.py``).

Python 3.11 has no ``os.setns``, so everything that must happen inside a namespace runs in a
subprocess started by ``ip netns exec``.  This script is stdlib-only on purpose and is never
imported by the test suite; :mod:`netns` drives it.

Subcommands (all output is JSON on stdout):

``send``     write crafted Ethernet frames out of a device with an AF_PACKET raw socket.
``capture``  print ``READY`` once the AF_PACKET listener is bound, then one JSON object per
             frame *received* on the device (``PACKET_OUTGOING`` copies are ignored) until
             SIGTERM or ``--timeout``; the socket is drained before exiting.  ``t`` is the
             ``time.monotonic()`` at which the frame was read.
``ping``     ICMP echo over a raw IPv4 socket (no ``ping`` binary needed); prints
             ``{"sent": n, "received": m, "sent_at": [t1, ...], "replied": [seq, ...]}``
             (``sent_at``: ``time.monotonic()`` of each request, seq 1..n; the clock is
             system-wide); ``--start-at T`` sends the first request at monotonic time T.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import struct
import sys
import time
from pathlib import Path
from types import FrameType

ETH_P_ALL = 0x0003
ETH_ZLEN = 60  # minimum frame length without FCS; the kernel does not pad AF_PACKET frames
ICMP_ECHO_REQUEST = 8
ICMP_ECHO_REPLY = 0


def sigterm_wakeup_fd() -> int:
    """A fd that becomes readable when SIGTERM arrives (no exception mid-operation)."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd)
    signal.signal(signal.SIGTERM, _ignore_signal)
    return read_fd


def _ignore_signal(_signum: int, _frame: FrameType | None) -> None:
    """The handler only exists so that SIGTERM writes to the wakeup fd."""


def mac_bytes(mac: str) -> bytes:
    """``"aa:bb:cc:dd:ee:ff"`` -> 6 bytes."""
    return bytes(int(part, 16) for part in mac.split(":"))


def mac_str(raw: bytes) -> str:
    """6 bytes -> lowercase ``"aa:bb:cc:dd:ee:ff"``."""
    return ":".join(f"{b:02x}" for b in raw)


def build_frame(src: str, dst: str, ethertype: int, payload: bytes) -> bytes:
    """An untagged Ethernet II frame, zero-padded to the 60-byte minimum."""
    frame = mac_bytes(dst) + mac_bytes(src) + struct.pack("!H", ethertype) + payload
    return frame.ljust(ETH_ZLEN, b"\0")


def cmd_send(args: argparse.Namespace) -> int:
    """Send ``--count`` copies of one frame out of ``--dev``."""
    src = args.src or Path(f"/sys/class/net/{args.dev}/address").read_text().strip()
    frame = build_frame(src, args.dst, int(args.ethertype, 0), args.payload.encode())
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0) as sock:
        sock.bind((args.dev, 0))
        for i in range(args.count):
            if i:
                time.sleep(args.interval)
            sock.send(frame)
    print(json.dumps({"sent": args.count, "src": src, "dst": args.dst}))
    return 0


def frame_record(data: bytes, addr: tuple[object, ...]) -> dict[str, object]:
    """JSON-able summary of one received frame (802.1Q tags are skipped over)."""
    ethertype = struct.unpack("!H", data[12:14])[0]
    vlan = None
    if ethertype == 0x8100 and len(data) >= 18:
        vlan = struct.unpack("!H", data[14:16])[0] & 0x0FFF
        ethertype = struct.unpack("!H", data[16:18])[0]
    return {
        "t": time.monotonic(),  # when the listener read it (system-wide clock)
        "dst": mac_str(data[0:6]),
        "src": mac_str(data[6:12]),
        "ethertype": ethertype,
        "vlan": vlan,
        "pkttype": addr[2],
        "len": len(data),
    }


def _emit(sock: socket.socket, dev: str) -> int:
    """Print every frame queued on ``sock`` (non-blocking); return how many were printed."""
    printed = 0
    while True:
        try:
            data, addr = sock.recvfrom(65535, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return printed
        if addr[2] == socket.PACKET_OUTGOING or addr[0] != dev or len(data) < 14:
            continue
        print(json.dumps(frame_record(data, addr)), flush=True)
        printed += 1


def cmd_capture(args: argparse.Namespace) -> int:
    """Listen on ``--dev`` until SIGTERM or ``--timeout``; frames as JSON lines."""
    wakeup = sigterm_wakeup_fd()
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((args.dev, ETH_P_ALL))  # Python applies htons() to the address
    print("READY", flush=True)
    deadline = time.monotonic() + args.timeout
    with sock:
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([sock.fileno(), wakeup], [], [], left)
            _emit(sock, args.dev)  # also drains what was queued before SIGTERM
            if wakeup in readable:
                break
    return 0


def icmp_checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int) -> bytes:
    """An ICMP echo request with a 32-byte payload."""
    payload = b"vnetlab-kernel-validation-ping!!"
    header = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, ident, seq)
    csum = icmp_checksum(header + payload)
    return struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, csum, ident, seq) + payload


def parse_echo_reply(packet: bytes, ident: int) -> int | None:
    """Sequence number of an echo reply for ``ident`` in a raw IPv4 packet, else None."""
    ihl = (packet[0] & 0x0F) * 4
    icmp = packet[ihl : ihl + 8]
    if len(icmp) < 8:
        return None
    kind, _code, _csum, rid, seq = struct.unpack("!BBHHH", icmp)
    if kind != ICMP_ECHO_REPLY or rid != ident:
        return None
    return int(seq)


def cmd_ping(args: argparse.Namespace) -> int:
    """Send ``--count`` echo requests ``--interval`` apart, count distinct replies."""
    ident = os.getpid() & 0xFFFF
    replies: set[int] = set()
    sent_at: list[float] = []
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
        if args.start_at is not None:
            time.sleep(max(0.0, args.start_at - time.monotonic()))
        start = time.monotonic()
        next_send, sent = start, 0
        deadline = start + (args.count - 1) * args.interval + args.wait
        while time.monotonic() < deadline and len(replies) < args.count:
            now = time.monotonic()
            if sent < args.count and now >= next_send:
                sent_at.append(time.monotonic())
                sock.sendto(echo_request(ident, sent + 1), (args.dst, 0))
                sent += 1
                next_send += args.interval
            wake = min(deadline, next_send if sent < args.count else deadline)
            readable, _, _ = select.select([sock], [], [], max(0.0, wake - time.monotonic()))
            if readable:
                seq = parse_echo_reply(sock.recv(65535), ident)
                if seq is not None:
                    replies.add(seq)
    result = {"sent": sent, "received": len(replies), "sent_at": sent_at, "replied": sorted(replies)}
    print(json.dumps(result))
    return 0


def parser() -> argparse.ArgumentParser:
    """Command-line interface of the tool."""
    top = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)

    send = sub.add_parser("send")
    send.add_argument("--dev", required=True)
    send.add_argument("--src", default=None, help="default: the device's own MAC")
    send.add_argument("--dst", required=True)
    send.add_argument("--ethertype", default="0x88b5")
    send.add_argument("--payload", default="vnetlab")
    send.add_argument("--count", type=int, default=1)
    send.add_argument("--interval", type=float, default=0.0)
    send.set_defaults(func=cmd_send)

    cap = sub.add_parser("capture")
    cap.add_argument("--dev", required=True)
    cap.add_argument("--timeout", type=float, default=30.0)
    cap.set_defaults(func=cmd_capture)

    ping = sub.add_parser("ping")
    ping.add_argument("--dst", required=True)
    ping.add_argument("--count", type=int, default=3)
    ping.add_argument("--interval", type=float, default=0.2)
    ping.add_argument("--wait", type=float, default=1.5, help="seconds after the last request")
    ping.add_argument("--start-at", type=float, default=None, help="time.monotonic() of the 1st request")
    ping.set_defaults(func=cmd_ping)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
