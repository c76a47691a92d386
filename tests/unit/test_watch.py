"""vnetlab watch without a kernel: rtnetlink messages packed as the kernel packs them
(include/uapi/linux/neighbour.h, if_link.h, rtnetlink.h) parse to FDB and link events,
and the monitor decides the doctor's live checks from them."""

from __future__ import annotations

import struct

from vnetlab.watch import netlink
from vnetlab.watch.monitor import Monitor
from vnetlab.watch.netlink import AF_BRIDGE, FdbMsg, LinkMsg


def rta(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def nlmsg(kind: int, body: bytes) -> bytes:
    return struct.pack("=IHHII", 16 + len(body), kind, 0, 0, 0) + body


def fdb_msg(new: bool, port: int, bridge: int, mac: str, vlan: int | None = None,
            state: int = 0x02) -> bytes:
    body = struct.pack("=BxxxiHBB", AF_BRIDGE, port, state, netlink.NTF_MASTER, 1)
    body += rta(netlink.NDA_LLADDR, bytes.fromhex(mac.replace(":", "")))
    body += rta(netlink.NDA_MASTER, struct.pack("=I", bridge))
    if vlan is not None:
        body += rta(netlink.NDA_VLAN, struct.pack("=H", vlan))
    return nlmsg(netlink.RTM_NEWNEIGH if new else netlink.RTM_DELNEIGH, body)


def link_msg(index: int, name: str, master: int | None = None, family: int = 0,
             oper: int | None = None, brport_state: int | None = None,
             kind: str | None = None) -> bytes:
    body = struct.pack("=BxHiII", family, 1, index, 0, 0)
    body += rta(netlink.IFLA_IFNAME, name.encode() + b"\0")
    if master is not None:
        body += rta(netlink.IFLA_MASTER, struct.pack("=I", master))
    if oper is not None:
        body += rta(netlink.IFLA_OPERSTATE, bytes([oper]))
    if brport_state is not None:
        body += rta(netlink.IFLA_PROTINFO | 0x8000,          # NLA_F_NESTED, as the bridge sets
                    rta(netlink.IFLA_BRPORT_STATE, bytes([brport_state])))
    if kind is not None:
        body += rta(netlink.IFLA_LINKINFO, rta(netlink.IFLA_INFO_KIND, kind.encode() + b"\0"))
    return nlmsg(netlink.RTM_NEWLINK, body)


def one(data: bytes) -> FdbMsg | LinkMsg:
    items = list(netlink.parse(data))
    assert len(items) == 1 and not isinstance(items[0], int)
    return items[0]


def test_parse_bridge_fdb_and_link_messages() -> None:
    msg = one(fdb_msg(True, 5, 2, "52:54:00:12:34:01", vlan=100))
    assert msg == FdbMsg(True, 5, 2, "52:54:00:12:34:01", 100, 0x02, netlink.NTF_MASTER)
    local = one(fdb_msg(True, 5, 2, "fe:54:00:12:34:01", state=netlink.NUD_PERMANENT))
    assert isinstance(local, FdbMsg) and local.local and local.flag_words() == ["permanent"]
    link = one(link_msg(5, "vnet0", master=2, family=AF_BRIDGE, oper=6, brport_state=3))
    assert link == LinkMsg(True, AF_BRIDGE, 5, "vnet0", 2, "up", None, "forwarding")
    # an ARP neighbour (AF_INET) is not a bridge FDB entry; two messages in one datagram
    arp = nlmsg(netlink.RTM_NEWNEIGH, struct.pack("=BxxxiHBB", 2, 3, 2, 0, 1))
    both = list(netlink.parse(arp + link_msg(2, "br0", kind="bridge")))
    assert len(both) == 1 and isinstance(both[0], LinkMsg) and both[0].kind == "bridge"
    done = nlmsg(netlink.NLMSG_DONE, struct.pack("=i", 0))
    assert list(netlink.parse(done)) == [0]


def seed_monitor() -> Monitor:
    monitor = Monitor(flap_moves=1, flap_window=10.0)
    links = [one(link_msg(2, "br0", kind="bridge")), one(link_msg(3, "team1", master=2)),
             one(link_msg(4, "vnet0", master=2, kind="tun"))]
    ports = [one(link_msg(3, "team1", master=2, family=AF_BRIDGE, brport_state=3)),
             one(link_msg(4, "vnet0", master=2, family=AF_BRIDGE, brport_state=3))]
    ready = monitor.load([m for m in links if isinstance(m, LinkMsg)],
                         [m for m in ports if isinstance(m, LinkMsg)], [])
    assert ready == {"type": "ready", "bridges": ["br0"], "fdb": 0, "ports": 2}
    return monitor


def handle(monitor: Monitor, data: bytes, now: float) -> list[dict[str, object]]:
    return monitor.handle(one(data), now)


def test_seed_000_signature_then_a_flap() -> None:
    """The VM's MAC learned on its tap, then on team1 (its broadcast came back from the
    switch), then on the tap again when the VM talks: vm-mac-on-uplink, then a flap."""
    monitor = seed_monitor()
    vm = "52:54:00:12:34:01"
    first = handle(monitor, fdb_msg(True, 4, 2, vm), 1.0)
    assert [r["event"] for r in first] == ["fdb-learn"]
    moved = handle(monitor, fdb_msg(True, 3, 2, vm), 1.5)
    assert [r.get("event") or r.get("check") for r in moved] == ["fdb-move",
                                                                 "bridge.vm-mac-on-uplink"]
    finding = moved[1]
    assert (finding["bridge"], finding["mac"], finding["port"], finding["tap"]) == \
        ("br0", vm, "team1", "vnet0")
    back = handle(monitor, fdb_msg(True, 4, 2, vm), 2.0)
    assert [r.get("event") or r.get("check") for r in back] == ["fdb-move", "bridge.mac-flapping"]
    assert back[1]["moves"] == 2 and back[1]["ports"] == ["vnet0", "team1"]
    # a refresh on the same port says nothing; an ageing out is an event
    assert handle(monitor, fdb_msg(True, 4, 2, vm), 2.5) == []
    gone = handle(monitor, fdb_msg(False, 4, 2, vm), 300.0)
    assert [r["event"] for r in gone] == ["fdb-delete"]
    assert monitor.events == 4 and monitor.findings == 2


def test_moves_outside_the_window_are_no_flap() -> None:
    monitor = seed_monitor()
    mac = "00:1b:21:0a:0b:01"                       # a MAC from outside: never a VM's
    handle(monitor, fdb_msg(True, 3, 2, mac), 0.0)
    assert [r["event"] for r in handle(monitor, fdb_msg(True, 4, 2, mac), 1.0)] == ["fdb-move"]
    assert [r["event"] for r in handle(monitor, fdb_msg(True, 3, 2, mac), 20.0)] == ["fdb-move"]


def test_local_entries_are_not_vm_macs() -> None:
    monitor = seed_monitor()
    out = handle(monitor, fdb_msg(True, 3, 2, "fe:54:00:12:34:01",
                                  state=netlink.NUD_PERMANENT), 0.0)
    assert [r["event"] for r in out] == ["fdb-learn"] and out[0]["flags"] == ["permanent"]


def test_port_state_changes() -> None:
    monitor = seed_monitor()
    down = handle(monitor, link_msg(4, "vnet0", master=2, family=AF_BRIDGE, brport_state=0), 1.0)
    assert [r.get("event") or r.get("check") for r in down] == ["port-state", "bridge.port-state"]
    assert down[1]["state"] == "disabled" and down[1]["old"] == "forwarding"
    up = handle(monitor, link_msg(4, "vnet0", master=2, family=AF_BRIDGE, brport_state=3), 2.0)
    assert [r.get("event") for r in up] == ["port-state"]           # recovery: an event only
    oper = handle(monitor, link_msg(3, "team1", master=2, oper=6), 3.0)
    assert oper == []                                                # first sight of its oper
    lost = handle(monitor, link_msg(3, "team1", master=2, oper=2), 4.0)
    assert [r.get("event") or r.get("check") for r in lost] == ["oper-state", "bridge.port-state"]
