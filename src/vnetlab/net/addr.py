"""MAC and IPv4 addresses as plain integers.

A MAC is a 48-bit ``int`` and an IPv4 address a 32-bit ``int``: they are
hashed and compared on every hop, and ints are the cheapest keys Python has.
They become strings only at the edges (loading, trace notes, output).
Predicates mirror include/linux/etherdevice.h.
"""

from __future__ import annotations

import re

Mac = int
Ip4 = int

BROADCAST: Mac = 0xFFFF_FFFF_FFFF
ZERO_MAC: Mac = 0
IP4_ZERO: Ip4 = 0
IP4_BROADCAST: Ip4 = 0xFFFF_FFFF

_MAC_RE = re.compile(r"^([0-9A-Fa-f]{1,2})([:-])([0-9A-Fa-f]{1,2})(\2[0-9A-Fa-f]{1,2}){4}$")


def parse_mac(text: str) -> Mac:
    """Parse ``52:54:00:12:34:01`` (or with ``-``) into an int; ValueError if malformed."""
    text = text.strip()
    if not _MAC_RE.match(text):
        raise ValueError(f"'{text}' is not a MAC address (expected six hex bytes like 52:54:00:12:34:01)")
    value = 0
    for part in re.split(r"[:-]", text):
        value = (value << 8) | int(part, 16)
    return value


def mac_str(mac: Mac) -> str:
    """Lowercase colon form, as iproute2 prints it."""
    return ":".join(f"{(mac >> shift) & 0xFF:02x}" for shift in range(40, -1, -8))


def is_multicast(mac: Mac) -> bool:
    """is_multicast_ether_addr(): the I/G bit of the first octet (broadcast included)."""
    return bool((mac >> 40) & 0x01)


def is_broadcast(mac: Mac) -> bool:
    return mac == BROADCAST


def is_zero(mac: Mac) -> bool:
    return mac == 0


def is_valid_ether_addr(mac: Mac) -> bool:
    """Unicast and not all-zero: the test br_handle_frame() applies to a source (B3.1)."""
    return not is_multicast(mac) and mac != 0


def is_link_local(mac: Mac) -> bool:
    """01:80:c2:00:00:0X, the IEEE 802.1 reserved group (B3.2, BD6)."""
    return (mac & ~0xF) == 0x0180_C200_0000


def tap_mac(guest_mac: Mac) -> Mac:
    """The MAC libvirt gives the host side of a VM's tap: the guest MAC with its
    first byte replaced by 0xFE (virNetDevTapCreateInBridgePort, semantics V1)."""
    return (0xFE << 40) | (guest_mac & 0xFF_FFFF_FFFF)


def parse_ip4(text: str) -> Ip4:
    parts = text.strip().split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
        raise ValueError(f"'{text}' is not an IPv4 address")
    value = 0
    for part in parts:
        value = (value << 8) | int(part)
    return value


def ip4_str(ip: Ip4) -> str:
    return ".".join(str((ip >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def parse_ip4_prefix(text: str) -> tuple[Ip4, int]:
    """``192.168.10.21/24`` -> (address, prefix length)."""
    if "/" not in text:
        raise ValueError(f"'{text}' is not an IPv4 address with prefix length (like 192.168.10.21/24)")
    addr, _, plen = text.partition("/")
    if not plen.isdigit() or not 0 <= int(plen) <= 32:
        raise ValueError(f"'{text}': prefix length must be 0..32")
    return parse_ip4(addr), int(plen)


def netmask(prefix_len: int) -> Ip4:
    return (0xFFFF_FFFF << (32 - prefix_len)) & 0xFFFF_FFFF if prefix_len else 0
