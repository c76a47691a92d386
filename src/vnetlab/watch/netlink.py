"""rtnetlink, read-only: a stdlib ``AF_NETLINK``/``NETLINK_ROUTE`` socket subscribed to
RTNLGRP_LINK and RTNLGRP_NEIGH, and the two dumps that say where things stand.

Message layouts (include/uapi/linux/netlink.h, rtnetlink.h, neighbour.h, if_link.h):

* ``struct nlmsghdr`` {u32 len; u16 type; u16 flags; u32 seq; u32 pid}; attributes
  ``struct rtattr`` {u16 len; u16 type} padded to 4 bytes; nested ones may carry
  NLA_F_NESTED (0x8000) in ``type``.
* FDB entries are RTM_NEWNEIGH / RTM_DELNEIGH (28/29) with ``ndm_family`` AF_BRIDGE:
  ``struct ndmsg`` {u8 family; u8 pad1; u16 pad2; s32 ifindex (the port); u16 state
  (NUD_PERMANENT 0x80: a local entry, NUD_NOARP 0x40: static); u8 flags (NTF_SELF 0x02,
  NTF_MASTER 0x04, NTF_EXT_LEARNED 0x10, NTF_OFFLOADED 0x20, NTF_STICKY 0x40); u8
  type}, attributes NDA_LLADDR (2, the MAC), NDA_CACHEINFO (3), NDA_VLAN (5, u16),
  NDA_MASTER (9, u32: the bridge). The bridge sends them from ``fdb_notify`` when
  ``br_fdb_update`` creates an entry or moves it to another port (B7.4), and
  RTM_DELNEIGH when one ages out or is flushed (B8, B11).
* Links are RTM_NEWLINK / RTM_DELLINK (16/17) with ``struct ifinfomsg`` {u8 family; u8
  pad; u16 type; s32 index; u32 flags; u32 change}: IFLA_IFNAME (3), IFLA_MASTER (10),
  IFLA_OPERSTATE (16: RFC 2863, IF_OPER_UP 6), IFLA_LINKINFO (18: IFLA_INFO_KIND 1),
  and for a bridge port (``br_ifinfo_notify``, family AF_BRIDGE, sent by
  ``br_stp_enable_port``/``br_stp_disable_port`` and each STP state change, B18)
  IFLA_PROTINFO (12) nesting IFLA_BRPORT_STATE (1: BR_STATE_DISABLED 0, LISTENING 1,
  LEARNING 2, FORWARDING 3, BLOCKING 4).

Only RTM_GET* dump requests are ever sent: nothing is changed.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass

NETLINK_ROUTE = 0
RTMGRP_LINK = 0x1           # 1 << (RTNLGRP_LINK - 1)
RTMGRP_NEIGH = 0x4          # 1 << (RTNLGRP_NEIGH - 1)
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 28, 29, 30
AF_UNSPEC, AF_BRIDGE = 0, 7
NLA_TYPE_MASK = 0x3FFF
IFLA_IFNAME, IFLA_MASTER, IFLA_PROTINFO, IFLA_OPERSTATE, IFLA_LINKINFO = 3, 10, 12, 16, 18
IFLA_INFO_KIND, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 4, 5
IFLA_BRPORT_STATE = 1
NDA_LLADDR, NDA_CACHEINFO, NDA_VLAN, NDA_MASTER = 2, 3, 5, 9
NUD_NOARP, NUD_PERMANENT = 0x40, 0x80
NTF_SELF, NTF_MASTER, NTF_EXT_LEARNED, NTF_OFFLOADED, NTF_STICKY = 0x02, 0x04, 0x10, 0x20, 0x40

BR_STATES = ("disabled", "listening", "learning", "forwarding", "blocking")
OPER_STATES = ("unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up")

_HDR = struct.Struct("=IHHII")
_IFINFO = struct.Struct("=BxHiII")
_NDMSG = struct.Struct("=BxxxiHBB")
_RTA = struct.Struct("=HH")


@dataclass(frozen=True, slots=True)
class FdbMsg:
    """One bridge FDB notification or dump entry."""

    new: bool                   # RTM_NEWNEIGH (learned, moved, refreshed flags) or DEL
    port: int                   # ifindex of the port (the bridge itself for its own MAC)
    bridge: int | None          # NDA_MASTER
    mac: str
    vlan: int | None
    state: int
    flags: int

    @property
    def local(self) -> bool:
        return bool(self.state & NUD_PERMANENT)

    def flag_words(self) -> list[str]:
        words = ["permanent"] if self.state & NUD_PERMANENT else \
            ["static"] if self.state & NUD_NOARP else []
        words += [w for bit, w in ((NTF_SELF, "self"), (NTF_EXT_LEARNED, "extern_learn"),
                                   (NTF_OFFLOADED, "offload"), (NTF_STICKY, "sticky"))
                  if self.flags & bit]
        return words


@dataclass(frozen=True, slots=True)
class LinkMsg:
    """One link notification or dump entry."""

    new: bool
    family: int
    index: int
    name: str | None
    master: int | None
    operstate: str | None
    kind: str | None
    port_state: str | None      # IFLA_BRPORT_STATE, a bridge port only


def _attrs(data: bytes, offset: int = 0) -> Iterator[tuple[int, bytes]]:
    while offset + 4 <= len(data):
        length, kind = _RTA.unpack_from(data, offset)
        if length < 4 or offset + length > len(data):
            return
        yield kind & NLA_TYPE_MASK, data[offset + 4:offset + length]
        offset += (length + 3) & ~3


def _u32(value: bytes) -> int | None:
    return struct.unpack("=I", value[:4])[0] if len(value) >= 4 else None


def _text(value: bytes) -> str:
    return value.split(b"\0", 1)[0].decode("utf-8", "replace")


def parse_link(kind: int, body: bytes) -> LinkMsg | None:
    if len(body) < _IFINFO.size:
        return None
    family, _, index, _, _ = _IFINFO.unpack_from(body)
    name = master = operstate = link_kind = port_state = None
    for attr, value in _attrs(body, _IFINFO.size):
        if attr == IFLA_IFNAME:
            name = _text(value)
        elif attr == IFLA_MASTER:
            master = _u32(value)
        elif attr == IFLA_OPERSTATE and value:
            operstate = OPER_STATES[value[0]] if value[0] < len(OPER_STATES) else str(value[0])
        elif attr == IFLA_PROTINFO:
            for sub, subvalue in _attrs(value):
                if sub == IFLA_BRPORT_STATE and subvalue:
                    port_state = BR_STATES[subvalue[0]] if subvalue[0] < len(BR_STATES) \
                        else str(subvalue[0])
        elif attr == IFLA_LINKINFO:
            for sub, subvalue in _attrs(value):
                if sub == IFLA_INFO_KIND:
                    link_kind = _text(subvalue)
                elif sub == IFLA_INFO_SLAVE_DATA:
                    for port_attr, port_value in _attrs(subvalue):
                        if port_attr == IFLA_BRPORT_STATE and port_value and port_state is None:
                            port_state = BR_STATES[port_value[0]] \
                                if port_value[0] < len(BR_STATES) else str(port_value[0])
    return LinkMsg(kind == RTM_NEWLINK, family, index, name, master, operstate, link_kind,
                   port_state)


def parse_neigh(kind: int, body: bytes) -> FdbMsg | None:
    if len(body) < _NDMSG.size:
        return None
    family, index, state, flags, _ = _NDMSG.unpack_from(body)
    if family != AF_BRIDGE:
        return None                     # an ARP/ND neighbour, not a bridge FDB entry
    mac = None
    master = vlan = None
    for attr, value in _attrs(body, _NDMSG.size):
        if attr == NDA_LLADDR and len(value) == 6:
            mac = ":".join(f"{b:02x}" for b in value)
        elif attr == NDA_MASTER:
            master = _u32(value)
        elif attr == NDA_VLAN and len(value) >= 2:
            vlan = struct.unpack("=H", value[:2])[0] or None
    if mac is None:
        return None
    return FdbMsg(kind == RTM_NEWNEIGH, index, master, mac, vlan, state, flags)


def parse(data: bytes) -> Iterator[FdbMsg | LinkMsg | int]:
    """Messages in one datagram; an int is NLMSG_DONE (0) or an NLMSG_ERROR's errno."""
    offset = 0
    while offset + _HDR.size <= len(data):
        length, kind, _, _, _ = _HDR.unpack_from(data, offset)
        if length < _HDR.size or offset + length > len(data):
            return
        body = data[offset + _HDR.size:offset + length]
        if kind == NLMSG_DONE:
            yield 0
        elif kind == NLMSG_ERROR:
            code = struct.unpack("=i", body[:4])[0] if len(body) >= 4 else 0
            yield -code if code else 0
        elif kind in (RTM_NEWLINK, RTM_DELLINK):
            msg = parse_link(kind, body)
            if msg is not None:
                yield msg
        elif kind in (RTM_NEWNEIGH, RTM_DELNEIGH):
            neigh = parse_neigh(kind, body)
            if neigh is not None:
                yield neigh
        offset += (length + 3) & ~3


def open_socket(groups: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    for option in (33, socket.SO_RCVBUF):       # 33: SO_RCVBUFFORCE (root), else capped
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, 8 * 1024 * 1024)
            break
        except OSError:
            continue
    sock.bind((0, groups))
    return sock


def dump(request: int, family: int, seq: int) -> list[FdbMsg | LinkMsg]:
    """One RTM_GET* dump (a request, never a change) on a socket of its own."""
    header = _IFINFO.pack(family, 0, 0, 0, 0) if request == RTM_GETLINK \
        else _NDMSG.pack(family, 0, 0, 0, 0)
    message = _HDR.pack(_HDR.size + len(header), request, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) \
        + header
    out: list[FdbMsg | LinkMsg] = []
    with open_socket() as sock:
        sock.sendto(message, (0, 0))
        while True:
            data = sock.recv(1 << 20)
            for item in parse(data):
                if isinstance(item, int):
                    if item:
                        raise OSError(item, f"rtnetlink dump: {errno.errorcode.get(item, item)}")
                    return out
                out.append(item)
