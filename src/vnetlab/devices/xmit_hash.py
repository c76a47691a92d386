"""Transmit hashes of bonding (``xmit_hash_policy``) and teamd (``tx_hash``).

Mirrors: drivers/net/bonding/bond_main.c (bond_xmit_hash, __bond_xmit_hash,
bond_eth_hash, bond_ip_hash, bond_vlan_srcmac_hash), semantics BD9; libteam
teamd/teamd_hash_func.c (the BPF program teamd loads for the loadbalance and
lacp runners), semantics T3.

The kernel reads IPv4 addresses and ports as ``__be32``/``__be16`` loaded into
host-order integers; the values here are what an x86 (little-endian) host
computes. Frames without an IPv4 header (ARP, RARP, LACP, raw) fall back to
the layer-2 hash, as bond_flow_dissect() failing does.
"""

from __future__ import annotations

from enum import StrEnum

from vnetlab.net.frame import Arp, Frame, Ipv4, Raw


class XmitHashPolicy(StrEnum):
    """bonding's ``xmit_hash_policy`` names (numeric aliases 0-5 accepted on input)."""

    LAYER2 = "layer2"              # 0, default
    LAYER34 = "layer3+4"           # 1
    LAYER23 = "layer2+3"           # 2
    ENCAP23 = "encap2+3"           # 3
    ENCAP34 = "encap3+4"           # 4
    VLAN_SRCMAC = "vlan+srcmac"    # 5


def _le32(be: int) -> int:
    """A ``__be32`` read as a little-endian host u32."""
    return int.from_bytes(be.to_bytes(4, "big"), "little")


def eth_hash(frame: Frame) -> int:
    """bond_eth_hash(): ``h_dest[5] ^ h_source[5] ^ ntohs(h_proto)``."""
    return (frame.dst & 0xFF) ^ (frame.src & 0xFF) ^ frame.ethertype


def _l4_word(packet: Ipv4) -> int:
    """flow.icmp (type, code, id) for ICMP echo, else flow.ports.ports, as a host u32."""
    payload = packet.payload
    sport = getattr(payload, "sport", None)
    dport = getattr(payload, "dport", None)
    if sport is not None and dport is not None:
        return int.from_bytes(int(sport).to_bytes(2, "big") + int(dport).to_bytes(2, "big"), "little")
    ident = getattr(payload, "ident", 0)
    if ident:
        # struct flow_dissector_key_icmp {u8 type; u8 code; u16 id} with id =
        # ntohs(echo.id) (skb_flow_get_icmp_tci), memcpy()d into a host u32
        kind = int(getattr(payload, "type", 0))
        return kind | (int(ident) & 0xFFFF) << 16
    return 0


def bond_xmit_hash(frame: Frame, policy: XmitHashPolicy, vlan: int | None = None) -> int:
    """The u32 bond_xmit_hash() returns; the slave is ``usable[hash % count]`` (BD9).
    ``vlan+srcmac`` (bond_vlan_srcmac_hash) XORs in skb_vlan_tag_get(): the frame's
    802.1Q tag (PCP 0 here, so the VID; 0 when untagged), unless ``vlan`` is given.
    The other policies see the tagged frame as the untagged one: the tag rides
    out of band (hwaccel) and the flow dissector skips it."""
    if policy is XmitHashPolicy.VLAN_SRCMAC:
        src = frame.src
        tag = frame.vlan if vlan is None else vlan
        return (tag ^ (src >> 24)) ^ (src & 0xFF_FFFF)
    packet = frame.payload
    if policy is XmitHashPolicy.LAYER2 or not isinstance(packet, Ipv4):
        return eth_hash(frame)
    if policy in (XmitHashPolicy.LAYER23, XmitHashPolicy.ENCAP23):
        value = eth_hash(frame)
    else:
        value = _l4_word(packet)
    value ^= _le32(packet.dst) ^ _le32(packet.src)
    value ^= value >> 16
    value ^= value >> 8
    if policy in (XmitHashPolicy.LAYER34, XmitHashPolicy.ENCAP34):
        return value >> 1               # "discard lowest hash bit" (even ports)
    return value


# -- teamd ------------------------------------------------------------------------

TEAMD_TX_HASH_FIELDS = ("eth", "vlan", "ipv4", "ipv6", "ip", "l3", "l4", "tcp", "udp", "sctp")
TEAMD_DEFAULT_TX_HASH = ("eth", "ipv4", "ipv6")


def teamd_hash(frame: Frame, fields: tuple[str, ...]) -> int:
    """teamd's BPF hash: XOR of the selected header fields read as 32-bit words
    (MACs as a 32-bit and a 16-bit word each), folded to 8 bits; the kernel's
    loadbalance mode sends on ``en_ports[hash % count]`` (T3)."""
    value = 0
    if "eth" in fields:
        for mac in (frame.src, frame.dst):
            value ^= (mac >> 16) ^ (mac & 0xFFFF)
    packet = frame.payload
    if isinstance(packet, Ipv4):
        if {"ipv4", "ip", "l3"} & set(fields):
            value ^= packet.src ^ packet.dst
        if {"l4", "tcp", "udp", "sctp"} & set(fields):
            sport = getattr(packet.payload, "sport", None)
            dport = getattr(packet.payload, "dport", None)
            if sport is not None and dport is not None:
                value ^= (int(sport) << 16) | int(dport)
    value ^= value >> 16
    value ^= value >> 8
    return value & 0xFF


def frame_len(frame: Frame) -> int:
    """Bytes on the wire without FCS (skb->len): what TLB's load accounting counts."""
    payload = frame.payload
    if isinstance(payload, Ipv4):
        size = 20 + 8 + int(getattr(payload.payload, "size", 0))
    elif isinstance(payload, Arp):
        size = 28
    elif isinstance(payload, Raw):
        size = payload.length
    else:
        size = 46
    return 14 + max(size, 46)
