"""vnetlab frames as wire bytes, and nanosecond pcap files (pure ``struct``).

Every payload the model produces has a byte layout here (docs/pcap.md has the
tables and the reasons):

* **Ethernet II**: destination, source, type; a frame with ``vlan`` carries one
  802.1Q tag (TPID 0x8100, PCP 0, DEI 0, the VID) before the type. Frames
  shorter than ``ETH_ZLEN`` (60 bytes, no FCS) are padded with zero bytes, so a
  record is exactly ``Frame.length`` bytes (the padding is counted after the tag,
  as ``Frame.length`` counts it). No FCS (LINKTYPE_ETHERNET has none).
* **ARP / RARP** (RFC 826, RFC 903): Ethernet/IPv4, hardware type 1, protocol
  0x0800, lengths 6 and 4, the model's opcode (1-4) and addresses.
* **IPv4** (RFC 791): version 4, IHL 5 (vnetlab has no options), TOS 0, the
  total length of this packet or fragment, the model's IP ID (its low 16 bits:
  the model uses frame uids as IDs), DF and MF as the model has them, the
  fragment offset in 8-byte units, the model's TTL (64, ``IPDEFTTL``, sysctl
  ``net.ipv4.ip_default_ttl``, lowered by each router that forwards the
  packet), the header checksum. A fragment carries bytes ``frag_off ..
  frag_off + frag_len`` of the whole datagram's ICMP/UDP bytes, whose checksum
  covers the whole datagram (the first fragment's header holds it).
* **ICMP echo** (RFC 792): type, code 0, checksum, identifier and sequence (low
  16 bits, as ping's counters wrap), then ``size`` data bytes with iputils'
  fill pattern: byte ``i`` is ``i mod 256`` (ping_common.c ``setup`` fills
  ``outpack`` so). iputils then overwrites the first 16 bytes with the send
  time (``struct timeval``); vnetlab leaves that out: the model's echo carries
  no send time, and the reply and every hop must carry the request's bytes.
* **UDP** (RFC 768): ports, length, the checksum over the IPv4 pseudo-header
  (0 is sent as 0xFFFF).
* **BOOTP/DHCP** (RFC 2131 §2, RFC 2132): op, htype 1, hlen 6, hops, xid, secs
  (at most 65535), flags, ciaddr, yiaddr, siaddr, giaddr, chaddr (the MAC and 10
  zero bytes), sname and file zero, the magic cookie 99.130.83.99, the options
  the message has in dnsmasq's order (``dhcp_reply``: 53, 54, then 51, 58, 59,
  then ``do_options``' 1 and 3; a DHCPNAK 53, 54, 56; a client's request 53, 54,
  50), the end option 255, and zero padding to ``Dhcp.length`` (the BOOTP
  minimum 300). Option 56 is the message in ASCII (other characters become
  ``?``), at most 255 bytes.
* **LACPDU** (IEEE 802.1AX-2014 6.4.2): subtype 1, version 1, Actor and Partner
  TLVs (type 1/2, length 20), Collector TLV (type 3, length 16,
  CollectorMaxDelay 0 as bonding's ``AD_COLLECTOR_MAX_DELAY``), Terminator (0,
  0) and 50 reserved zero bytes: 110 bytes.
* **Raw**: ``length`` zero bytes (what alb_send_learning_packets sends; the
  ``send`` action's payload).

pcap: the nanosecond variant (magic 0xA1B23C4D, version 2.4, written
little-endian), LINKTYPE_ETHERNET (1), snaplen 262144. Timestamps are the
simulated time since the start of the run (1970-01-01 00:00:00 in Wireshark's
absolute view); the classic record's seconds field is 32 bits, so a time of
2^32 s or more is refused (``PcapTimeError``), never wrapped.

Limits: no FCS; TOS/DSCP 0 for everything (dhclient sends IPTOS_LOWDELAY, dnsmasq
may set a DSCP); TTL 64 from hosts and VMs (a Windows client sends 128); no ICMP
timestamp (see above); DHCP options beyond the nine the model has (55, 61,
12, ...) are not written because the model does not send them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from vnetlab.devices.dhcp import Dhcp
from vnetlab.net.frame import ETH_ZLEN, Arp, Frame, Icmp, Ipv4, Lacpdu, LacpInfo, Raw, Udp

PCAP_MAGIC_NS = 0xA1B23C4D          # nanosecond-resolution pcap
LINKTYPE_ETHERNET = 1
SNAPLEN = 262144                    # tcpdump's MAXIMUM_SNAPLEN
NS_PER_S = 1_000_000_000
TIME_LIMIT_NS = (1 << 32) * NS_PER_S  # the first time the u32 seconds field cannot hold
TPID_8021Q = 0x8100
DHCP_MAGIC = b"\x63\x82\x53\x63"    # RFC 2131 §3: 99.130.83.99
LACP_COLLECTOR_MAX_DELAY = 0        # bond_3ad.c AD_COLLECTOR_MAX_DELAY

_GLOBAL = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")
_VLAN = struct.Struct("!HHH")
_ARP = struct.Struct("!HHBBH6sI6sI")
_IP = struct.Struct("!BBHHHBBHII")
_ICMP = struct.Struct("!BBHHH")
_UDP = struct.Struct("!HHHH")
_PSEUDO = struct.Struct("!IIBBH")
_BOOTP = struct.Struct("!BBBBIHHIIII6s202x")     # chaddr 6 + 10 zero, sname 64, file 128
_LACP_INFO = struct.Struct("!BBH6sHHHB3x")       # TLV type, length, the info, 3 reserved
_LACP_TAIL = struct.Struct("!BBH12xBB50x")       # collector TLV, terminator, reserved
_ECHO_PATTERN = bytes(i & 0xFF for i in range(65536))

IP_DF = 0x4000
IP_MF = 0x2000


class PcapTimeError(ValueError):
    """A timestamp the classic pcap record cannot hold (2^32 s or later, or negative)."""


def inet_checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071): the one's complement of the one's complement
    sum of the 16-bit big-endian words, odd data padded with a zero byte.

    The sum is taken with one big-integer remainder: 2^16 is 1 modulo 0xFFFF, so the
    data read as one number is congruent to the sum of its words, and the end-around
    carry sum of words not all zero is never 0 (it is 0xFFFF instead)."""
    if len(data) & 1:
        data += b"\0"
    total = int.from_bytes(data, "big") % 0xFFFF
    if total == 0 and any(data):
        total = 0xFFFF
    return ~total & 0xFFFF


def _mac(mac: int) -> bytes:
    return mac.to_bytes(6, "big")


def encode_arp(arp: Arp) -> bytes:
    """The 28-byte Ethernet/IPv4 ARP or RARP body."""
    return _ARP.pack(1, 0x0800, 6, 4, int(arp.op), _mac(arp.sha), arp.spa, _mac(arp.tha),
                     arp.tpa)


def echo_data(size: int) -> bytes:
    """iputils' fill pattern: byte i is i mod 256 (without the timeval, see above)."""
    if size <= len(_ECHO_PATTERN):
        return _ECHO_PATTERN[:size]
    return (_ECHO_PATTERN * (size // len(_ECHO_PATTERN) + 1))[:size]


def encode_icmp(icmp: Icmp) -> bytes:
    """An echo request or reply with its checksum over header and data."""
    ident, seq = icmp.ident & 0xFFFF, icmp.seq & 0xFFFF
    data = echo_data(icmp.size)
    checksum = inet_checksum(_ICMP.pack(int(icmp.type), 0, 0, ident, seq) + data)
    return _ICMP.pack(int(icmp.type), 0, checksum, ident, seq) + data


def encode_dhcp(msg: Dhcp) -> bytes:
    """The BOOTP message with its DHCP options, padded to ``msg.length``."""
    out = bytearray(_BOOTP.pack(msg.op, 1, 6, msg.hops & 0xFF, msg.xid & 0xFFFF_FFFF,
                                min(msg.secs, 0xFFFF), msg.flags & 0xFFFF, msg.ciaddr,
                                msg.yiaddr, msg.siaddr, msg.giaddr, _mac(msg.chaddr)))
    out += DHCP_MAGIC
    out += bytes((53, 1, int(msg.mtype)))
    for code, value in ((54, msg.server_id), (50, msg.requested_ip), (51, msg.lease_time),
                        (58, msg.renewal_time), (59, msg.rebinding_time), (1, msg.subnet_mask),
                        (3, msg.router)):
        if value:
            out += bytes((code, 4)) + (value & 0xFFFF_FFFF).to_bytes(4, "big")
    if msg.message:
        text = msg.message.encode("ascii", "replace")[:255]
        out += bytes((56, len(text))) + text
    out.append(255)
    if len(out) < msg.length:
        out += bytes(msg.length - len(out))
    return bytes(out)


def encode_udp(udp: Udp, src: int, dst: int) -> bytes:
    """The datagram with its checksum over the pseudo-header (RFC 768)."""
    data = udp.data                                 # a DHCP message, or Raw: zero bytes
    body = encode_dhcp(data) if type(data) is Dhcp else bytes(int(getattr(data, "length", 0)))
    length = 8 + len(body)
    header = _UDP.pack(udp.sport, udp.dport, length, 0)
    checksum = inet_checksum(_PSEUDO.pack(src, dst, 0, 17, length) + header + body) or 0xFFFF
    return _UDP.pack(udp.sport, udp.dport, length, checksum) + body


def encode_lacpdu(pdu: Lacpdu) -> bytes:
    """The 110-byte LACPDU after the Slow Protocols type (802.1AX-2014 6.4.2.3)."""
    return (b"\x01\x01" + _lacp_info(1, pdu.actor) + _lacp_info(2, pdu.partner)
            + _LACP_TAIL.pack(3, 16, LACP_COLLECTOR_MAX_DELAY, 0, 0))


def _lacp_info(tlv: int, info: LacpInfo) -> bytes:
    return _LACP_INFO.pack(tlv, 20, info.system_priority, _mac(info.system), info.key,
                           info.port_priority, info.port, info.state)


class FrameEncoder:
    """Encodes frames, remembering the bytes of each frame object and of each IP
    payload: one frame is shared by every hop it crosses (and a VLAN push or a MAC
    rewrite keeps its payload), so a capture of many link ends encodes each once.
    The cache holds the objects it keys by ``id`` so no id is reused meanwhile."""

    def __init__(self) -> None:
        self._frames: dict[int, tuple[Frame, bytes]] = {}
        self._l3: dict[int, tuple[object, bytes]] = {}
        self._l4: dict[int, tuple[object, int, int, bytes]] = {}

    def encode(self, frame: Frame) -> bytes:
        hit = self._frames.get(id(frame))
        if hit is not None and hit[0] is frame:
            return hit[1]
        if frame.vlan:
            header = _mac(frame.dst) + _mac(frame.src) + _VLAN.pack(
                TPID_8021Q, frame.vlan & 0x0FFF, frame.ethertype)
        else:
            header = _mac(frame.dst) + _mac(frame.src) + frame.ethertype.to_bytes(2, "big")
        data = header + self.payload(frame.payload)
        if len(data) < ETH_ZLEN:
            data += bytes(ETH_ZLEN - len(data))
        self._frames[id(frame)] = (frame, data)
        return data

    def payload(self, payload: object) -> bytes:
        """The bytes after the Ethernet header (and tag)."""
        hit = self._l3.get(id(payload))
        if hit is not None and hit[0] is payload:
            return hit[1]
        kind = type(payload)
        if kind is Ipv4:
            assert isinstance(payload, Ipv4)
            data = self._ipv4(payload)
        elif kind is Arp:
            assert isinstance(payload, Arp)
            data = encode_arp(payload)
        elif kind is Lacpdu:
            assert isinstance(payload, Lacpdu)
            data = encode_lacpdu(payload)
        elif kind is Raw:
            assert isinstance(payload, Raw)
            data = bytes(payload.length)
        else:
            raise TypeError(f"no byte layout for a {kind.__name__} payload")
        self._l3[id(payload)] = (payload, data)
        return data

    def _ipv4(self, packet: Ipv4) -> bytes:
        inner = packet.payload
        src, dst = packet.src, packet.dst
        hit = self._l4.get(id(inner))
        if hit is not None and hit[0] is inner and hit[1] == src and hit[2] == dst:
            body = hit[3]           # the UDP checksum covers the addresses: they must match
        else:
            if type(inner) is Icmp:
                body = encode_icmp(inner)
            else:
                assert isinstance(inner, Udp)
                body = encode_udp(inner, src, dst)
            self._l4[id(inner)] = (inner, src, dst, body)
        proto = 1 if type(inner) is Icmp else 17
        if packet.frag_len >= 0:
            body = body[packet.frag_off:packet.frag_off + packet.frag_len]
        flags = (IP_DF if packet.df else 0) | (IP_MF if packet.mf else 0) | (packet.frag_off >> 3)
        total = 20 + len(body)
        ident = packet.ident & 0xFFFF
        checksum = inet_checksum(_IP.pack(0x45, 0, total, ident, flags, packet.ttl, proto, 0,
                                          packet.src, packet.dst))
        return _IP.pack(0x45, 0, total, ident, flags, packet.ttl, proto, checksum, packet.src,
                        packet.dst) + body


def encode_frame(frame: Frame) -> bytes:
    """One frame's bytes (no cache kept: use a ``FrameEncoder`` for many)."""
    return FrameEncoder().encode(frame)


def pcap_header(snaplen: int = SNAPLEN) -> bytes:
    """The 24-byte global header: nanosecond pcap 2.4, GMT, LINKTYPE_ETHERNET."""
    return _GLOBAL.pack(PCAP_MAGIC_NS, 2, 4, 0, 0, snaplen, LINKTYPE_ETHERNET)


def check_time(time_ns: int) -> None:
    if not 0 <= time_ns < TIME_LIMIT_NS:
        raise PcapTimeError(f"time {time_ns} ns does not fit a pcap record (the seconds field is "
                            f"32 bits: 0 <= t < 2^32 s)")


def pcap_record(time_ns: int, data: bytes, snaplen: int = SNAPLEN) -> bytes:
    """A record header (seconds, nanoseconds, captured and original length) and the bytes."""
    check_time(time_ns)
    sec, nsec = divmod(time_ns, NS_PER_S)
    captured = data if len(data) <= snaplen else data[:snaplen]
    return _RECORD.pack(sec, nsec, len(captured), len(data)) + captured


def pcap_bytes(records: Iterable[tuple[int, Frame]], encoder: FrameEncoder | None = None
               ) -> bytes:
    """A whole pcap file: the header and one record per (time in ns, frame), in the
    order given (captures are in time order)."""
    encode = (encoder or FrameEncoder()).encode
    pack = _RECORD.pack
    parts = [pcap_header()]
    append = parts.append
    for time_ns, frame in records:
        if not 0 <= time_ns < TIME_LIMIT_NS:
            check_time(time_ns)
        data = encode(frame)
        size = len(data)
        sec, nsec = divmod(time_ns, NS_PER_S)
        if size > SNAPLEN:
            append(pack(sec, nsec, SNAPLEN, size))
            append(data[:SNAPLEN])
        else:
            append(pack(sec, nsec, size, size))
            append(data)
    return b"".join(parts)
