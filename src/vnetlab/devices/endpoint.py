"""IP endpoints: the stack of a VM guest, a router or a host's own interfaces.

Mirrors the parts of Linux's IPv4 stack a connectivity question touches:
net/ipv4/arp.c (arp_process, arp_solicit), net/core/neighbour.c (the
neighbour state machine: __neigh_event_send, neigh_timer_handler,
neigh_update), net/ipv4/icmp.c (echo replies) and iputils ping. Semantics
§10: N1-N4; S10 for gratuitous ARP. MTU2/MTU5
(docs/models/mtu-and-mac-conflicts.md): ip_fragment to the device's MTU with
ping's DF rule (IP_PMTUDISC_WANT unless -M), ip_defrag with ipfrag_time 30 s.
A host with a firewall runs NF_INET_LOCAL_IN in ip_local_deliver and
NF_INET_LOCAL_OUT before the next hop is resolved (D8, devices/netfilter.py).
A router (``forwarding``, net.ipv4.ip_forward=1) routes a packet sent to its
MAC but not to one of its addresses: ip_forward (TTL, route, DF/MTU, TTL - 1)
then the egress interface's neighbour output, as for its own packets
(docs/models/l3-switch.md); hosts and VMs keep ip_forward 0.

Limitations: forwarding sends no ICMP (no time exceeded, unreachable, frag
needed or redirect), has no FORWARD netfilter chain and no rp_filter; routes
are connected subnets, static ``routes:`` and the default gateway (one table,
no policy routing); no TCP/UDP (so nothing but ARP replies confirms a
neighbour, N3), arp_ignore 0 and arp_accept 0 only, reachable time drawn
once per entry confirmation rather than re-drawn every 300 s, ping counts
replies until the end of the run (no -W deadline).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from vnetlab.devices.netdev import NetDevice
from vnetlab.devices.netfilter import Netfilter
from vnetlab.net.addr import BROADCAST, IP4_BROADCAST, Ip4, Mac, ip4_str, mac_str, netmask
from vnetlab.net.frame import (
    Arp,
    ArpOp,
    EtherType,
    Frame,
    Icmp,
    IcmpType,
    Ipv4,
    Lacpdu,
    Raw,
    Udp,
    arp_reply,
    arp_request,
    gratuitous_arp,
    ip_fragment,
)
from vnetlab.sim.sim import Sim, Timer
from vnetlab.sim.time import MS, S, Time, format_duration
from vnetlab.sim.trace import Action, DropReason

UdpHandler = Callable[["IpIface", Frame, Ipv4, Udp, int], None]
IPFRAG_TIME: Time = 30 * S             # net.ipv4.ipfrag_time (MTU5)


@dataclass(slots=True)
class FragQueue:
    """struct ipq: the fragments of one datagram received so far."""

    first_cause: int
    pieces: dict[int, int] = field(default_factory=dict)     # offset -> length
    total: int | None = None                                  # known from the last fragment
    timer: Timer | None = None

    def add(self, packet: Ipv4) -> None:
        self.pieces[packet.frag_off] = packet.frag_len
        if not packet.mf:
            self.total = packet.frag_off + packet.frag_len

    @property
    def have(self) -> int:
        return sum(self.pieces.values())

    def complete(self) -> bool:
        if self.total is None:
            return False
        end = 0
        for offset in sorted(self.pieces):
            if offset > end:
                return False
            end = max(end, offset + self.pieces[offset])
        return end >= self.total
# An AF_PACKET socket bound to one interface (a DHCP client before it has an
# address): sees the IPv4 frame first, returns True when it consumed it
PacketHandler = Callable[["IpIface", Frame, Ipv4, int], bool]
# The waiter of an ICMP echo reply by identifier (dnsmasq's icmp_ping)
EchoHandler = Callable[["IpIface", Frame, Ipv4, int], None]


class NeighState(StrEnum):
    """NUD_* states (include/uapi/linux/neighbour.h)."""

    INCOMPLETE = "INCOMPLETE"
    REACHABLE = "REACHABLE"
    STALE = "STALE"
    DELAY = "DELAY"
    PROBE = "PROBE"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class NeighParams:
    """net.ipv4.neigh.* defaults (arp_tbl, N1)."""

    base_reachable_time: Time = 30 * S
    retrans_time: Time = 1 * S
    delay_first_probe_time: Time = 5 * S
    ucast_solicit: int = 3
    mcast_solicit: int = 3
    locktime: Time = 1 * S
    unres_qlen: int = 101
    # Linux creates a STALE entry for the sender of an ARP request addressed to
    # us (arp_process -> neigh_event_ns, N4). ns-3's ArpL3Protocol does not
    # (its bug 107); the benchmark sets this to False to run ns-3's workload.
    learn_from_request: bool = True


@dataclass(slots=True)
class Pending:
    """An IP packet waiting for its next hop to resolve (neigh->arp_queue)."""

    packet: Ipv4
    uid: int
    cause: int


@dataclass(slots=True)
class Neighbour:
    ip: Ip4
    state: NeighState
    mac: Mac = 0
    confirmed: Time = 0
    reachable_time: Time = 0
    updated: Time = 0
    probes: int = 0
    queue: list[Pending] = field(default_factory=list)
    timer: Timer | None = None
    step: int = 0                     # step that last set the MAC


@dataclass(slots=True)
class IpIface:
    """An interface with IPv4 addresses and its neighbour table."""

    dev: NetDevice
    addresses: list[tuple[Ip4, int]]
    neigh: dict[Ip4, Neighbour] = field(default_factory=dict)

    def on_link(self, ip: Ip4) -> int:
        """Longest matching prefix length of a connected subnet, or -1."""
        best = -1
        for addr, plen in self.addresses:
            if (addr ^ ip) & netmask(plen) == 0 and plen > best:
                best = plen
        return best


@dataclass(slots=True)
class PingRecord:
    seq: int
    uid: int
    sent_at: Time
    send_step: int
    reply_at: Time | None = None
    reply_step: int = 0
    duplicates: int = 0


@dataclass(slots=True)
class PingSession:
    """One ``ping -c COUNT -i INTERVAL -s SIZE DST`` run."""

    src: str
    dst: Ip4
    ident: int
    count: int
    interval: Time
    size: int
    pmtudisc: str = "want"          # ping -M: want (default), do, dont
    records: list[PingRecord] = field(default_factory=list)

    @property
    def replies(self) -> int:
        return sum(1 for r in self.records if r.reply_at is not None)


class Endpoint:
    """The IP stack of one node (VM, router, or host)."""

    def __init__(self, sim: Sim, name: str, params: NeighParams, gateway: Ip4 | None = None
                 ) -> None:
        self.sim = sim
        self.name = name
        self.where = name
        self.params = params
        self.gateway = gateway
        # net.ipv4.ip_forward (routers: 1) and static routes (destination, prefix, via)
        self.forwarding = False
        self.routes: list[tuple[Ip4, int, Ip4]] = []
        self.ifaces: list[IpIface] = []
        self.iface_of: dict[NetDevice, IpIface] = {}
        self.local_ips: set[Ip4] = set()
        self.pings: list[PingSession] = []
        # UDP sockets by local port (the DHCP server on 67, ...)
        self.udp_sockets: dict[int, UdpHandler] = {}
        self.packet_sockets: dict[NetDevice, PacketHandler] = {}
        self.echo_listeners: dict[int, EchoHandler] = {}
        self.ping_of: dict[int, PingSession] = {}
        self.received: Counter[tuple[Mac, Mac, int]] = Counter()
        self.count_received = sim.recording
        # duplicate detection (vnetlab matrix): off unless asked for, it keeps
        # every uid this node received
        self.measure = False
        self.seen_uids: set[int] = set()
        self.duplicate_frames = 0
        self.first_duplicate = 0
        # the host's firewall (hosts with ``firewall:``): INPUT and OUTPUT hooks (D8)
        self.firewall: Netfilter | None = None
        # ip_defrag's queues: (src, dst, protocol, IP ID) -> fragments so far (MTU5)
        self.frag_queues: dict[tuple[int, int, int, int], FragQueue] = {}

    def add_iface(self, dev: NetDevice, addresses: list[tuple[Ip4, int]],
                  params: NeighParams | None = None) -> IpIface:
        iface = IpIface(dev, addresses)
        self.ifaces.append(iface)
        self.iface_of[dev] = iface
        self.local_ips.update(a for a, _ in addresses)
        dev.stack = self
        if params is not None:
            self.params = params
        return iface

    # -- receive -----------------------------------------------------------------
    def rx(self, dev: NetDevice, frame: Frame, cause: int) -> None:
        """netif_receive_skb -> eth_type_trans (packet type) -> arp_rcv / ip_rcv."""
        if self.count_received:
            self.received[(frame.src, frame.dst, frame.ethertype)] += 1
        if self.measure:
            uid = frame.uid
            if uid in self.seen_uids:         # a copy of a frame this node already got
                self.duplicate_frames += 1
                if not self.first_duplicate:
                    self.first_duplicate = uid
            else:
                self.seen_uids.add(uid)
        dst = frame.dst
        if dst != dev.mac and not dst & 0x0100_0000_0000:
            if self.sim.tracing:
                self.sim.step(self.where, dev.name, Action.DROP, frame.uid,
                              f"{mac_str(dst)} is not {dev.name}'s address: PACKET_OTHERHOST",
                              "eth_type_trans", reason=DropReason.OTHERHOST, cause=cause)
            else:
                self.sim.trace.drops[DropReason.OTHERHOST] += 1
            return
        payload = frame.payload
        if (type(payload) is Arp and payload.tpa not in self.local_ips and not self.sim.tracing
                and payload.spa not in self.iface_of[dev].neigh):
            return              # arp_process(): not for us and no entry to update
        iface = self.iface_of.get(dev)
        if iface is None or isinstance(payload, Raw):
            if self.sim.tracing:
                self.sim.step(self.where, dev.name, Action.DELIVER, frame.uid,
                              f"received {frame.describe()}", "netif_receive_skb", cause=cause)
            return
        if isinstance(payload, Arp):
            if frame.ethertype == EtherType.ARP:
                self.arp_process(iface, frame, payload, cause)
            return
        if isinstance(payload, Lacpdu):
            # no bond or team on this interface: nothing handles ETH_P_SLOW
            self.sim.step(self.where, dev.name, Action.DROP, frame.uid,
                          f"no protocol handler for ethertype 0x{frame.ethertype:04x} "
                          "(LACP needs a bond or team on this interface)", "__netif_receive_skb_core",
                          reason=DropReason.UNHANDLED, cause=cause)
            return
        if self.packet_sockets:
            handler = self.packet_sockets.get(dev)
            if handler is not None and handler(iface, frame, payload, cause):
                return          # packet_rcv(): a DHCP client's AF_PACKET socket took it
        self.ip_rcv(iface, frame, payload, cause)

    def arp_process(self, iface: IpIface, frame: Frame, arp: Arp, cause: int) -> None:
        """net/ipv4/arp.c:arp_process() (N4, S10)."""
        sim = self.sim
        params = self.params
        if arp.op is ArpOp.REQUEST and arp.tpa in self.local_ips and not arp.is_gratuitous:
            if params.learn_from_request:
                self.neigh_update(iface, arp.spa, arp.sha, NeighState.STALE, True, frame, cause,
                                  create=True)
            if sim.tracing:
                cause = sim.step(self.where, iface.dev.name, Action.DELIVER, frame.uid,
                                 f"ARP request for our {ip4_str(arp.tpa)} from "
                                 f"{ip4_str(arp.spa)}: replying", "arp_process", "N4",
                                 cause=cause)
            reply = arp_reply(sim.new_uid(), iface.dev.mac, arp.tpa, arp.sha, arp.spa)
            iface.dev.xmit(reply, cause, 0)
            return
        neighbour = iface.neigh.get(arp.spa)
        if neighbour is None:
            if sim.tracing:
                sim.step(self.where, iface.dev.name, Action.DELIVER, frame.uid,
                         f"{arp.describe()}: not for us, no entry to update", "arp_process",
                         "N4", cause=cause)
            return
        override = arp.is_gratuitous or sim.now > neighbour.updated + params.locktime
        state = (NeighState.REACHABLE if arp.op is ArpOp.REPLY and frame.dst == iface.dev.mac
                 else NeighState.STALE)
        self.neigh_update(iface, arp.spa, arp.sha, state, override, frame, cause)

    def ip_rcv(self, iface: IpIface, frame: Frame, packet: Ipv4, cause: int) -> None:
        sim = self.sim
        if packet.dst not in self.local_ips and packet.dst != IP4_BROADCAST:
            if self.forwarding and frame.dst == iface.dev.mac:      # PACKET_HOST
                self.ip_forward(iface, frame, packet, cause)
                return
            if sim.tracing:
                sim.step(self.where, iface.dev.name, Action.DROP, frame.uid,
                         f"{ip4_str(packet.dst)} is not ours (no forwarding)", "ip_rcv_finish",
                         reason=DropReason.NO_ROUTE, cause=cause)
            return
        if packet.frag_len >= 0:                # ip_local_deliver -> ip_defrag (MTU5)
            whole = self._defrag(iface, frame, packet, cause)
            if whole is None:
                return
            packet, cause = whole
        if self.firewall is not None:           # NF_INET_LOCAL_IN (D8)
            cause = self.firewall.local_in(self.where, iface.dev.name, frame, packet, cause)
            if cause < 0:
                return
        icmp = packet.payload
        if type(icmp) is Udp:
            self.udp_rcv(iface, frame, packet, icmp, cause)
            return
        assert type(icmp) is Icmp
        if icmp.type is IcmpType.ECHO_REQUEST:
            if sim.tracing:
                cause = sim.step(self.where, iface.dev.name, Action.DELIVER, frame.uid,
                                 f"echo request from {ip4_str(packet.src)} seq={icmp.seq}: "
                                 "replying", "icmp_echo", cause=cause)
            reply = Ipv4(packet.dst, packet.src,
                         Icmp(IcmpType.ECHO_REPLY, icmp.ident, icmp.seq, icmp.size))
            self.send_ip(reply, sim.new_uid(), cause)
            return
        listener = self.echo_listeners.get(icmp.ident)
        if listener is not None:
            listener(iface, frame, packet, cause)
            return
        session = self.ping_of.get(icmp.ident)
        if session is None or not 1 <= icmp.seq <= len(session.records):
            return
        record = session.records[icmp.seq - 1]
        if record.reply_at is not None:
            record.duplicates += 1
            note = f"DUP! echo reply seq={icmp.seq} from {ip4_str(packet.src)}"
        else:
            record.reply_at = sim.now
            note = (f"echo reply seq={icmp.seq} from {ip4_str(packet.src)}, "
                    f"rtt {format_duration(sim.now - record.sent_at)}")
        step = sim.step(self.where, iface.dev.name, Action.PING, frame.uid, note, "ping",
                        cause=cause, data={"seq": icmp.seq, "event": "reply"})
        if record.reply_step == 0:
            record.reply_step = step

    def udp_rcv(self, iface: IpIface, frame: Frame, packet: Ipv4, datagram: Udp, cause: int
                ) -> None:
        """udp_rcv(): hand the datagram to the socket bound to its port."""
        handler = self.udp_sockets.get(datagram.dport)
        if handler is not None:
            handler(iface, frame, packet, datagram, cause)
            return
        what = {67: " (no DHCP server or relay here)", 68: " (no DHCP client here)"}.get(
            datagram.dport, "")
        self.sim.step(self.where, iface.dev.name, Action.DROP, frame.uid,
                      f"no socket on UDP port {datagram.dport}{what}", "__udp4_lib_rcv",
                      reason=DropReason.NO_SOCKET, cause=cause)

    # -- neighbours --------------------------------------------------------------
    def neigh_update(self, iface: IpIface, ip: Ip4, mac: Mac, new: NeighState, override: bool,
                     frame: Frame | None, cause: int, *, create: bool = False) -> None:
        """net/core/neighbour.c:neigh_update() (N2-N4)."""
        sim = self.sim
        n = iface.neigh.get(ip)
        if n is None:
            if not create:
                return
            n = iface.neigh[ip] = Neighbour(ip, NeighState.FAILED)
            n.mac = -1                       # no address yet: any address is a change
        old = n.state
        valid = old not in (NeighState.INCOMPLETE, NeighState.FAILED)
        if valid and mac != n.mac and not override:
            return                           # within locktime: keep the old address
        if valid and mac == n.mac and new is NeighState.STALE:
            new = old                        # same address: do not downgrade the state
        if n.timer is not None and new is not old:
            n.timer.cancel()
            n.timer = None
        changed_mac = mac != n.mac
        n.mac = mac
        n.state = new
        n.updated = sim.now
        if new is NeighState.REACHABLE:
            self._confirm(n)
        if changed_mac or new is not old:
            n.step = sim.step(self.where, iface.dev.name, Action.NEIGH,
                              frame.uid if frame else 0,
                              f"neighbour {ip4_str(ip)} {old} -> {new} lladdr {mac_str(mac)}",
                              "neigh_update", "N2", cause=cause,
                              data={"ip": ip4_str(ip), "mac": mac_str(mac), "state": str(new)})
        if not valid and n.queue:
            queue, n.queue = n.queue, []
            for pending in queue:
                self._emit(iface, n.mac, pending.packet, pending.uid, pending.cause)

    def _confirm(self, n: Neighbour) -> None:
        n.confirmed = self.sim.now
        base = self.params.base_reachable_time
        # neigh_rand_reach_time(): uniform in [base/2, 3*base/2)
        n.reachable_time = base // 2 + int(self.sim.rng.random() * base)

    def route(self, dst: Ip4) -> tuple[IpIface, Ip4] | None:
        """fib_lookup(): the longest prefix among connected subnets and static routes
        (a connected subnet wins a tie; a route whose next hop is on no connected
        subnet is unusable), else the default gateway."""
        best: tuple[int, IpIface, Ip4] | None = None
        for iface in self.ifaces:
            plen = iface.on_link(dst)
            if plen >= 0 and (best is None or plen > best[0]):
                best = (plen, iface, dst)
        for net, plen, via in self.routes:
            if (dst ^ net) & netmask(plen) == 0 and (best is None or plen > best[0]):
                out = next((i for i in self.ifaces if i.on_link(via) >= 0), None)
                if out is not None:
                    best = (plen, out, via)
        if best is not None:
            return best[1], best[2]
        if self.gateway is not None:
            for iface in self.ifaces:
                if iface.on_link(self.gateway) >= 0:
                    return iface, self.gateway
        return None

    def send_ip(self, packet: Ipv4, uid: int, cause: int) -> None:
        """ip_finish_output2() -> neigh_output(): send now, or queue and resolve."""
        sim = self.sim
        route = self.route(packet.dst)
        if route is None:
            sim.step(self.where, "", Action.DROP, uid, f"no route to {ip4_str(packet.dst)}",
                     "ip_route_output", reason=DropReason.NO_ROUTE, cause=cause)
            return
        iface, next_hop = route
        if self.firewall is not None:           # NF_INET_LOCAL_OUT (D8)
            cause = self.firewall.local_out(self.where, iface.dev.name, uid, packet, cause)
            if cause < 0:
                return
        self.neigh_output(iface, next_hop, packet, uid, cause)

    def ip_forward(self, iface: IpIface, frame: Frame, packet: Ipv4, cause: int) -> None:
        """ip_rcv_finish() -> ip_route_input_noref() then ip_forward() on a router
        (net.ipv4.ip_forward=1): the route (none: dropped by ip_error), the TTL, DF
        against the egress MTU (ip_exceeds_mtu), TTL - 1 (ip_decrease_ttl), and the
        egress interface's neighbour output (queued while INCOMPLETE, N2). No ICMP is
        sent back (time exceeded, unreachable, frag needed, redirect: not modelled)."""
        sim = self.sim
        route = self.route(packet.dst)
        if route is None:
            sim.step(self.where, iface.dev.name, Action.DROP, frame.uid,
                     f"no route to {ip4_str(packet.dst)}: not forwarded", "ip_route_input_slow",
                     reason=DropReason.NO_ROUTE, cause=cause)
            return
        if packet.ttl <= 1:                     # too_many_hops
            sim.step(self.where, iface.dev.name, Action.DROP, frame.uid,
                     f"{packet.describe()}: TTL {packet.ttl} expires here, not forwarded "
                     "(ICMP time exceeded not modelled)", "ip_forward",
                     reason=DropReason.TTL_EXPIRED, cause=cause)
            return
        out, next_hop = route
        if packet.df and packet.length > out.dev.mtu:
            sim.step(self.where, out.dev.name, Action.DROP, frame.uid,
                     f"{packet.length}-byte packet with DF is longer than {out.dev.name}'s MTU "
                     f"{out.dev.mtu}: not forwarded (ICMP frag needed not modelled)", "ip_forward",
                     "MTU2", reason=DropReason.PKT_TOO_BIG, cause=cause)
            return
        packet = replace(packet, ttl=packet.ttl - 1)
        if sim.tracing:
            via = f"via {ip4_str(next_hop)}" if next_hop != packet.dst else "on-link"
            cause = sim.step(self.where, out.dev.name, Action.FORWARD, frame.uid,
                             f"routed {ip4_str(packet.src)} > {ip4_str(packet.dst)} from "
                             f"{iface.dev.name} to {out.dev.name} {via} (TTL {packet.ttl})",
                             "ip_forward", cause=cause)
        self.neigh_output(out, next_hop, packet, frame.uid, cause)

    def neigh_output(self, iface: IpIface, next_hop: Ip4, packet: Ipv4, uid: int, cause: int
                     ) -> None:
        """neigh_output(): send now, or queue and resolve (N2)."""
        sim = self.sim
        if packet.dst == IP4_BROADCAST:
            self._emit(iface, BROADCAST, packet, uid, cause)
            return
        n = iface.neigh.get(next_hop)
        state = n.state if n is not None else None
        if (n is not None and state is NeighState.REACHABLE
                and sim.now >= n.confirmed + n.reachable_time):
            n.state = state = NeighState.STALE           # neigh_periodic_work, done lazily
        if n is None or state is NeighState.FAILED:
            n = self._start_resolution(iface, next_hop, n, cause)
            n.queue.append(Pending(packet, uid, cause))
            return
        if state is NeighState.INCOMPLETE:
            if len(n.queue) >= self.params.unres_qlen:
                dropped = n.queue.pop(0)
                sim.step(self.where, iface.dev.name, Action.DROP, dropped.uid,
                         "ARP queue full: oldest packet dropped", "__neigh_event_send", "N2",
                         reason=DropReason.NEIGH_FAILED, cause=dropped.cause)
            n.queue.append(Pending(packet, uid, cause))
            return
        if state is NeighState.STALE:
            n.state = NeighState.DELAY
            n.timer = sim.timer(self.params.delay_first_probe_time, self._neigh_timer, iface, n)
        self._emit(iface, n.mac, packet, uid, cause)

    def _start_resolution(self, iface: IpIface, ip: Ip4, n: Neighbour | None, cause: int
                          ) -> Neighbour:
        """__neigh_event_send(): NONE/FAILED -> INCOMPLETE, first broadcast probe now."""
        if n is None:
            n = iface.neigh[ip] = Neighbour(ip, NeighState.INCOMPLETE)
        n.state = NeighState.INCOMPLETE
        n.updated = self.sim.now
        n.probes = self.params.ucast_solicit
        n.step = self.sim.step(self.where, iface.dev.name, Action.NEIGH, 0,
                               f"neighbour {ip4_str(ip)} INCOMPLETE: resolving", "__neigh_event_send",
                               "N2", cause=cause, data={"ip": ip4_str(ip), "state": "INCOMPLETE"})
        self._probe(iface, n, n.step)
        n.timer = self.sim.timer(max(self.params.retrans_time, 10 * MS), self._neigh_timer,
                                 iface, n)
        return n

    def _probe(self, iface: IpIface, n: Neighbour, cause: int) -> None:
        """neigh_probe() -> arp_solicit(): unicast while probes < ucast_solicit,
        else broadcast."""
        n.probes += 1
        src_ip = next((a for a, _ in iface.addresses), 0)
        unicast = n.probes - self.params.ucast_solicit <= 0 and n.mac != 0
        frame = arp_request(self.sim.new_uid(), iface.dev.mac, src_ip, n.ip,
                            dst=n.mac if unicast else BROADCAST)
        if self.sim.tracing:
            cause = self.sim.step(self.where, iface.dev.name, Action.TRANSMIT, frame.uid,
                                  f"{'unicast probe' if unicast else 'broadcast'} "
                                  f"{frame.payload.describe()}", "arp_solicit", "N2",
                                  cause=cause)
        iface.dev.xmit(frame, cause, 0)

    def _neigh_timer(self, iface: IpIface, n: Neighbour) -> None:
        """neigh_timer_handler() (N2)."""
        n.timer = None
        params = self.params
        sim = self.sim
        if n.state is NeighState.DELAY:
            if sim.now <= n.confirmed + params.delay_first_probe_time:
                n.state = NeighState.REACHABLE
                return
            n.state = NeighState.PROBE
            n.probes = 0
            sim.step(self.where, iface.dev.name, Action.NEIGH, 0,
                     f"neighbour {ip4_str(n.ip)} DELAY -> PROBE (no confirmation)",
                     "neigh_timer_handler", "N2")
        if n.state in (NeighState.INCOMPLETE, NeighState.PROBE):
            max_probes = params.ucast_solicit + (params.mcast_solicit
                                                 if n.state is NeighState.INCOMPLETE else 0)
            if n.probes >= max_probes:
                self._fail(iface, n)
                return
            self._probe(iface, n, n.step)
            n.timer = sim.timer(max(params.retrans_time, 10 * MS), self._neigh_timer, iface, n)

    def _fail(self, iface: IpIface, n: Neighbour) -> None:
        """neigh_invalidate(): FAILED, and every queued packet is dropped."""
        sim = self.sim
        n.state = NeighState.FAILED
        ucast = self.params.ucast_solicit
        sent = n.probes - ucast if n.probes > ucast else n.probes
        step = sim.step(self.where, iface.dev.name, Action.NEIGH, 0,
                        f"neighbour {ip4_str(n.ip)} FAILED: no ARP reply to {sent} "
                        "requests", "neigh_invalidate", "N2", cause=n.step,
                        data={"ip": ip4_str(n.ip), "state": "FAILED"})
        n.step = step
        for pending in n.queue:
            sim.step(self.where, iface.dev.name, Action.DROP, pending.uid,
                     f"{pending.packet.describe()} dropped: {ip4_str(n.ip)} unresolved",
                     "neigh_invalidate", "N2", reason=DropReason.NEIGH_FAILED,
                     cause=pending.cause, ref=step)
        n.queue = []

    def _emit(self, iface: IpIface, dst_mac: Mac, packet: Ipv4, uid: int, cause: int) -> None:
        if packet.length > iface.dev.mtu:       # ip_finish_output -> ip_fragment (MTU2)
            self._fragment(iface, dst_mac, packet, uid, cause)
            return
        frame = Frame(dst_mac, iface.dev.mac, EtherType.IPV4, packet, uid)
        if self.sim.tracing:
            cause = self.sim.step(self.where, iface.dev.name, Action.TRANSMIT, uid,
                                  f"sent {frame.describe()}", "ip_finish_output2", cause=cause)
        iface.dev.xmit(frame, cause, 0)

    def _fragment(self, iface: IpIface, dst_mac: Mac, packet: Ipv4, uid: int, cause: int
                  ) -> None:
        """ip_fragment() -> ip_do_fragment(): a packet longer than the device's MTU
        leaves as fragments (MTU2); one with DF that the socket may not fragment
        locally (``ping -M do``) is refused before this, in __ip_append_data."""
        sim = self.sim
        mtu = iface.dev.mtu
        if packet.ident == 0:
            packet = replace(packet, ident=uid)
        pieces = ip_fragment(packet, mtu)
        if sim.tracing:
            cause = sim.step(self.where, iface.dev.name, Action.NOTE, uid,
                             f"{packet.length}-byte packet is longer than {iface.dev.name}'s MTU "
                             f"{mtu}: sent as {len(pieces)} fragments", "ip_do_fragment", "MTU2",
                             cause=cause)
        for index, piece in enumerate(pieces):
            piece_uid = uid if index == 0 else sim.new_uid()
            frame = Frame(dst_mac, iface.dev.mac, EtherType.IPV4, piece, piece_uid)
            step = cause
            if sim.tracing:
                step = sim.step(self.where, iface.dev.name, Action.TRANSMIT, piece_uid,
                                f"sent {frame.describe()}", "ip_finish_output2", cause=cause)
            iface.dev.xmit(frame, step, 0)

    def _defrag(self, iface: IpIface, frame: Frame, packet: Ipv4, cause: int
                ) -> tuple[Ipv4, int] | None:
        """ip_defrag(): queue a fragment; the whole packet once every byte is there
        (MTU5). A queue not complete within ipfrag_time (30 s) is dropped."""
        sim = self.sim
        key = (packet.src, packet.dst, int(packet.proto), packet.ident)
        queue = self.frag_queues.get(key)
        if queue is None:
            queue = self.frag_queues[key] = FragQueue(cause)
            queue.timer = sim.timer(IPFRAG_TIME, self._frag_expire, iface, key, packet)
        queue.add(packet)
        if not queue.complete():
            if sim.tracing:
                sim.step(self.where, iface.dev.name, Action.NOTE, frame.uid,
                         f"fragment off={packet.frag_off} len={packet.frag_len} of IP id "
                         f"{packet.ident} queued ({queue.have} bytes so far)", "ip_defrag",
                         "MTU5", cause=cause)
            return None
        del self.frag_queues[key]
        if queue.timer is not None:
            queue.timer.cancel()
        whole = replace(packet, frag_off=0, frag_len=-1, mf=False)
        if sim.tracing:
            cause = sim.step(self.where, iface.dev.name, Action.NOTE, frame.uid,
                             f"reassembled {len(queue.pieces)} fragments into a "
                             f"{whole.length}-byte packet", "ip_defrag", "MTU5", cause=cause)
        return whole, cause

    def _frag_expire(self, iface: IpIface, key: tuple[int, int, int, int], packet: Ipv4
                     ) -> None:
        """ip_expire(): the queue timed out; what arrived is dropped."""
        queue = self.frag_queues.pop(key, None)
        if queue is None:
            return
        total = f"of {queue.total} " if queue.total is not None else ""
        self.sim.step(self.where, iface.dev.name, Action.DROP, 0,
                      f"reassembly of IP id {packet.ident} from {ip4_str(packet.src)} timed out "
                      f"after {format_duration(IPFRAG_TIME)}: {queue.have} {total}bytes arrived "
                      f"in {len(queue.pieces)} fragments, all dropped", "ip_expire", "MTU5",
                      reason=DropReason.FRAG_TIMEOUT, cause=queue.first_cause)

    # -- applications ------------------------------------------------------------
    def start_ping(self, dst: Ip4, count: int, interval: Time, size: int, cause: int,
                   pmtudisc: str = "want") -> PingSession:
        session = PingSession(self.name, dst, len(self.pings) + 1, count, interval, size,
                              pmtudisc)
        self.pings.append(session)
        self.ping_of[session.ident] = session
        self._ping_send(session, cause)
        return session

    def _ping_send(self, session: PingSession, cause: int) -> None:
        sim = self.sim
        seq = len(session.records) + 1
        uid = sim.new_uid()
        step = sim.step(self.where, "", Action.PING, uid,
                        f"ping {ip4_str(session.dst)} seq={seq}", "ping", cause=cause,
                        data={"seq": seq, "event": "request"})
        session.records.append(PingRecord(seq, uid, sim.now, step))
        src = self.route(session.dst)
        src_ip = next((a for a, _ in src[0].addresses), 0) if src else 0
        packet = Ipv4(src_ip, session.dst,
                      Icmp(IcmpType.ECHO_REQUEST, session.ident, seq, session.size), uid)
        # __ip_make_skb: DF with IP_PMTUDISC_DO, or with WANT (iputils' default: no
        # -M, so the kernel's ip_no_pmtu_disc 0) when the packet fits the route's MTU
        mtu = src[0].dev.mtu if src else 1500
        if session.pmtudisc == "do" and packet.length > mtu:
            sim.step(self.where, src[0].dev.name if src else "", Action.DROP, uid,
                     f"ping: local error: message too long, mtu={mtu} ({packet.length}-byte "
                     "packet, -M do forbids fragmenting it)", "__ip_append_data", "MTU2",
                     reason=DropReason.PKT_TOO_BIG, cause=step)
        else:
            if session.pmtudisc == "do" or (session.pmtudisc == "want" and packet.length <= mtu):
                packet = replace(packet, df=True)
            self.send_ip(packet, uid, step)
        if seq < session.count:
            sim.schedule(session.interval, self._ping_send, session, cause)

    def send_garp(self, cause: int) -> None:
        """A gratuitous ARP for each address (what NETDEV_NOTIFY_PEERS triggers, BD14)."""
        for iface in self.ifaces:
            for addr, _ in iface.addresses:
                frame = gratuitous_arp(self.sim.new_uid(), iface.dev.mac, addr)
                step = self.sim.step(self.where, iface.dev.name, Action.TRANSMIT, frame.uid,
                                     f"sent {frame.payload.describe()}",
                                     "inetdev_send_gratuitous_arp", "BD14", cause=cause)
                iface.dev.xmit(frame, step, 0)

    def send_raw(self, dev: NetDevice, dst: Mac, src: Mac | None, ethertype: int, cause: int
                 ) -> None:
        frame = Frame(dst, dev.mac if src is None else src, ethertype, Raw(), self.sim.new_uid())
        step = self.sim.step(self.where, dev.name, Action.TRANSMIT, frame.uid,
                             f"sent {frame.describe()}", "packet_sendmsg", cause=cause)
        dev.xmit(frame, step, 0)
