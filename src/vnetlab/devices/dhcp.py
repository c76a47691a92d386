"""DHCP (RFC 2131): the message, a dnsmasq-like server, a relay agent, and five
clients with the timing of their real counterparts (semantics §7, D1-D12).

What each part mirrors (read in the sources; docs/models/dhcp.md has the schedules):

* **Server** (``DhcpServer``): dnsmasq 2.9x, ``src/rfc2131.c`` ``dhcp_reply`` (the
  DISCOVER address choice: reservation, the client's lease, then ``address_allocate``;
  the REQUEST checks; DECLINE, RELEASE), ``src/dhcp.c`` ``address_allocate`` (the
  SDBM hash of the MAC picks where in the range the search starts, ``.0``/``.255``
  skipped in class-C space, the server's own address skipped), ``do_icmp_ping`` /
  ``icmp_ping`` / ``delay_dhcp`` (an ICMP echo to a new address before offering it,
  ``PING_WAIT`` 3 s during which dnsmasq is deaf to DHCP, results cached
  ``PING_CACHE_TIME`` 30 s, at most 6 pings per 30 s) and the reply delivery of
  RFC 2131 §4.1 (D1): to the relay's giaddr:67, to ciaddr, broadcast when the
  client set the broadcast bit or for a DHCPNAK, else unicast to chaddr/yiaddr
  (dnsmasq injects the ARP entry instead of resolving).  Like dnsmasq, an OFFER
  reserves nothing: the lease is written at the DHCPACK.
* **Relay** (``DhcpRelay``): RFC 1542 §4 / ISC ``dhcrelay`` ``do_relay4``: giaddr
  set to the receiving interface's address, hops + 1, unicast to the server
  through the node's routing; a BOOTREPLY to giaddr goes back onto that link,
  broadcast if the broadcast bit is set or it is a DHCPNAK, else unicast to chaddr.
* **Clients** (one per guest NIC, ``client:`` picks the model):

  - ``dhclient``: ISC DHCP 4.4.3 ``client/dhclient.c`` (``state_init``,
    ``send_discover``, ``dhcpoffer``, ``state_selecting``, ``send_request``,
    ``dhcpack``, ``dhcpnak``, ``bind_lease``, ``state_panic``) with the code's
    defaults from ``client/clparse.c`` ``read_client_conf`` (D3: timeout 60,
    retry 300, select-timeout 0, reboot 10, backoff-cutoff 15, initial-interval 3;
    the man page's 2 min / 10 s are wrong, §8 item 3).  Whole-second ``cur_time``
    and the random microseconds of each timeout are kept.
  - ``networkmanager``: NetworkManager with its internal client n-dhcp4 (D4):
    ``nm-dhcp-nettools.c`` ``ip4_start`` (start delay 1 ms), n-dhcp4
    ``n_dhcp4_c_connection_get_timeout`` (resend after 2, 4, 8, 16, 32, 64, 64 ... s
    plus [0, 1) s; a fresh xid per DISCOVER), ``nm-dhcp-client.c``
    ``_no_lease_timeout_schedule`` (``ipv4.dhcp-timeout`` 45 s), the failure
    ``ip-config-unavailable`` and ``nm-policy.c`` / ``nm-manager.c`` autoconnect
    retries (4, then blocked ``AUTOCONNECT_RESET_RETRIES_TIMER_SEC`` 300 s); ACD
    of ``ipv4.dad-timeout`` (200 ms) before the lease is accepted.
  - ``systemd-networkd``: ``sd-dhcp-client.c`` ``client_timeout_resend`` /
    ``client_compute_request_timeout`` (4, 8, 16, 32, 64 s, each -1..+1 s, one xid
    per run, no give-up: ``MaxAttempts=`` infinite), 5 REQUESTs then
    ``client_restart`` (delay 1 s doubling to 30 min); no IPv4LL by default (D5).
  - ``windows``: the DISCOVER plus three retries after 4, 8, 16 s (each +-1 s),
    the attempt over 32 +- 1 s after the last (about 60 s: KB Q190552, "after one
    minute"), then APIPA 169.254.x.y/16 (RFC 3927) and a new attempt every 5 min;
    the broadcast bit set (KB 928233).  D6.
  - ``ipxe``: the iPXE ROM QEMU runs when a VM boots from the network
    (``IpxeClient``): ``src/net/udp/dhcp.c`` (``start_dhcp``, ``dhcp_set_state``,
    ``dhcp_tx``, ``dhcp_deliver``, ``dhcp_discovery_rx``/``_expired``,
    ``dhcp_request_rx``, ``dhcp_defer``, ``dhcp_timer_expired``) with
    ``src/config/dhcp.h``'s limits on ``src/net/retry.c``'s timer: DISCOVERs at 0, 1,
    3, 7 s, DHCP failed at 15 s; an OFFER without the PXEClient vendor class is held
    until 2 s into discovery (``DHCP_DISC_PROXY_TIMEOUT_SEC``) in case a ProxyDHCP
    offer comes; REQUESTs at 0, 0.25, 0.75, 1.75, 3.75, 7.75 s; one ``random()`` xid
    per session; no broadcast bit; a DHCPNAK goes back to discovery 1 s later
    (``dhcp_defer``). On failure ``ifconf`` prints "No configuration methods succeeded
    (https://ipxe.org/040ee119)" and, after the 3 s Ctrl-B prompt, the ROM hands the VM
    back to the BIOS (next boot device): the client stays without an address. iPXE
    defers discovery while ``netdev_link_blocked``, which only an RSTP BPDU from a
    non-forwarding port sets (``src/net/stp.c``: 802.1D BPDUs, as the Linux bridge's
    kernel STP and an 802.1D switch send, are "Legacy STP packet received" and
    ignored); vnetlab sends no BPDUs, so it never defers.  D2 (iPXE replaces its
    4-8-16 s with 1-2-4-8 s, config/dhcp.h says so).

  Before the client's program runs the guest boots: ``boot-delay`` (default: the
  client class's ``default_boot_delay``, ``DEFAULT_BOOT_DELAY`` for an OS, 4 s for
  iPXE) after the VM starts at t=0; a host's client starts at 0.
  All receive on an AF_PACKET socket bound to the interface
  (``Endpoint.packet_sockets``): a reply to an address the interface does not have
  yet never reaches the IP layer's own check.

Limitations: one pool per server and no DHCP options beyond mask, router, lease
time, T1/T2; no lease files, so no INIT-REBOOT (a restarted client starts from
INIT); the requested-IP option in a DISCOVER is not sent and not honoured; no
client-identifier (leases are per chaddr, as dnsmasq without one); ACD and APIPA
conflict detection send no ARP probes (the waits are kept); the renewal at T1 is
a unicast DHCPREQUEST to the server, resent every 60 s until T2 (dhclient's
randomised T1 is kept, the per-client renewal backoffs are not); NetworkManager
restarts a failed activation at once (the FAILED -> DISCONNECTED -> autoconnect
hop takes no simulated time) and its timeout fires at exactly ``dhcp-timeout`` (glib's
seconds timer may fire up to 1 s later); Windows's REQUEST retransmissions reuse its
DISCOVER schedule (undocumented); a relay serves one server address. iPXE: the
server never sends the PXEClient vendor class, so no ProxyDHCP or PXE boot-server
(PXEBS) exchange and the 2 s ProxyDHCP wait always runs; nothing after the DHCPACK
(no boot file download, no "Nothing to boot" hand-back; the address stays); no STP
link blocking (no BPDUs); a UEFI guest (OVMF) PXE-boots with its own PxeBcDxe, not
iPXE's DHCP, and is not modelled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Any

from vnetlab.net.addr import (
    BROADCAST,
    IP4_BROADCAST,
    Ip4,
    Mac,
    ip4_str,
    mac_str,
    netmask,
)
from vnetlab.net.frame import EtherType, Frame, Icmp, IcmpType, Ipv4, Udp
from vnetlab.sim.sim import Sim, Timer
from vnetlab.sim.time import MS, US, S, Time, format_time
from vnetlab.sim.trace import Action, DropReason

if TYPE_CHECKING:
    from vnetlab.devices.endpoint import Endpoint, IpIface
    from vnetlab.devices.netdev import NetDevice

SERVER_PORT = 67
CLIENT_PORT = 68
BOOTREQUEST = 1
BOOTREPLY = 2
BROADCAST_FLAG = 0x8000
BOOTP_MIN_LEN = 300

DEFAULT_BOOT_DELAY: Time = 10 * S
"""From VM start to the guest's DHCP client: firmware, GRUB's default 5 s menu,
kernel and initramfs, systemd up to the network service. An estimate for a
RHEL-like guest; set ``boot-delay`` from the guest's own boot log."""

PING_WAIT: Time = 3 * S                 # dnsmasq config.h
PING_CACHE_TIME: Time = 30 * S          # dnsmasq config.h
PING_MAX = int(0.6 * (30 / 3))          # do_icmp_ping: 60 % of the possible pings in 30 s
DECLINE_BACKOFF: Time = 600 * S         # dnsmasq config.h
AUTOCONNECT_RESET_RETRIES: Time = 300 * S   # nm-manager.c AUTOCONNECT_RESET_RETRIES_TIMER_SEC


class DhcpType(IntEnum):
    """Option 53 (RFC 2132 9.6)."""

    DISCOVER = 1
    OFFER = 2
    REQUEST = 3
    DECLINE = 4
    ACK = 5
    NAK = 6
    RELEASE = 7
    INFORM = 8


@dataclass(frozen=True, slots=True)
class Dhcp:
    """A DHCP message (RFC 2131 §2): the BOOTP fields vnetlab uses and the options
    mask (1), router (3), requested address (50), lease time (51), message type
    (53), server identifier (54), message (56), T1 (58), T2 (59). Times in seconds."""

    op: int
    mtype: DhcpType
    xid: int
    chaddr: Mac
    flags: int = 0
    ciaddr: Ip4 = 0
    yiaddr: Ip4 = 0
    siaddr: Ip4 = 0
    giaddr: Ip4 = 0
    hops: int = 0
    secs: int = 0
    server_id: Ip4 = 0
    requested_ip: Ip4 = 0
    lease_time: int = 0
    renewal_time: int = 0
    rebinding_time: int = 0
    subnet_mask: Ip4 = 0
    router: Ip4 = 0
    message: str = ""

    @property
    def broadcast(self) -> bool:
        """The BROADCAST bit of ``flags`` (RFC 2131 §2, figure 2)."""
        return bool(self.flags & BROADCAST_FLAG)

    @property
    def length(self) -> int:
        """Header (236), magic cookie (4) and options, padded to BOOTP_MIN_LEN (300):
        what dhclient's make_discover sends and RFC 951's 64-byte vend field gives."""
        options = 3 + 1                                   # message type, end
        for value in (self.server_id, self.requested_ip, self.lease_time, self.renewal_time,
                      self.rebinding_time, self.subnet_mask, self.router):
            if value:
                options += 6
        if self.message:
            options += 2 + len(self.message)
        return max(BOOTP_MIN_LEN, 240 + options)

    def describe(self) -> str:
        out = [f"DHCP{self.mtype.name} xid 0x{self.xid:08x}"]
        for name, value in (("ciaddr", self.ciaddr), ("yiaddr", self.yiaddr),
                            ("giaddr", self.giaddr), ("requested", self.requested_ip),
                            ("server", self.server_id)):
            if value:
                out.append(f"{name} {ip4_str(value)}")
        if self.broadcast:
            out.append("flags B")
        out.append(f"chaddr {mac_str(self.chaddr)}")
        return " ".join(out)


def dhcp_frame(uid: int, src_mac: Mac, dst_mac: Mac, src_ip: Ip4, dst_ip: Ip4, sport: int,
               dport: int, msg: Dhcp) -> Frame:
    return Frame(dst_mac, src_mac, EtherType.IPV4, Ipv4(src_ip, dst_ip, Udp(sport, dport, msg)),
                 uid)


def prefix_len(mask: Ip4) -> int:
    return bin(mask).count("1")


def lease_str(seconds: int) -> str:
    """``1h``, ``12h``, ``30min``, ``90s``: as an operator writes a lease time."""
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60}min"
    return f"{seconds}s"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def secs(t: Time) -> str:
    """``28.1s``: a time for a sentence (trace notes keep full precision in their time)."""
    return f"{t / S:.1f}s"


# -- parameters ---------------------------------------------------------------------------

CLIENTS = ("networkmanager", "dhclient", "systemd-networkd", "windows", "ipxe")


@dataclass(frozen=True, slots=True)
class ClientParams:
    """Per-client knobs, with each program's defaults."""

    client: str = "networkmanager"
    boot_delay: Time = DEFAULT_BOOT_DELAY
    # NetworkManager: ipv4.dhcp-timeout, connection.autoconnect-retries (0: forever),
    # ipv4.dad-timeout
    dhcp_timeout: Time = 45 * S
    autoconnect_retries: int = 4
    dad_timeout: Time = 200 * MS
    # dhclient.conf, seconds (clparse.c read_client_conf), and -1
    timeout: int = 60
    retry: int = 300
    select_timeout: int = 0
    reboot: int = 10
    backoff_cutoff: int = 15
    initial_interval: int = 3
    one_try: bool = False


@dataclass(frozen=True, slots=True)
class ServerParams:
    """A dnsmasq ``dhcp-range`` with its options and ``dhcp-host`` reservations."""

    pool_start: Ip4
    pool_end: Ip4
    lease_time: int = 3600                  # dnsmasq's default lease: 1 h
    router: Ip4 | None = None               # default: the serving interface (or giaddr)
    netmask: Ip4 | None = None              # default: the interface's prefix
    reservations: tuple[tuple[Mac, Ip4], ...] = ()
    ping_check: bool = True                 # dnsmasq's default; false = --no-ping


# -- the node's port-67 socket ------------------------------------------------------------

class DhcpAgent:
    """The UDP port-67 socket of one node: the servers and relays on its interfaces
    (one dnsmasq or dhcrelay per interface, like ``--interface``)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.sim = endpoint.sim
        self.servers: dict[NetDevice, DhcpServer] = {}     # by the interface's device
        self.relays: dict[NetDevice, DhcpRelay] = {}
        endpoint.udp_sockets[SERVER_PORT] = self.rcv

    def rcv(self, iface: IpIface, frame: Frame, packet: Ipv4, udp: Udp, cause: int) -> None:
        msg = udp.data
        where = self.endpoint.where
        port = iface.dev.name
        if not isinstance(msg, Dhcp):
            self.sim.step(where, port, Action.DROP, frame.uid, "not a DHCP message on UDP 67",
                          "dhcp_packet", reason=DropReason.UNHANDLED, cause=cause)
            return
        if msg.op == BOOTREPLY:
            relay = next((r for r in self.relays.values() if r.address == msg.giaddr), None)
            if relay is None:
                self.sim.step(where, port, Action.DROP, frame.uid,
                              f"{msg.describe()}: giaddr {ip4_str(msg.giaddr)} is not a relay "
                              "address of this node", "do_relay4", "D1",
                              reason=DropReason.NO_SOCKET, cause=cause)
                return
            relay.reply(msg, frame, cause)
            return
        if msg.giaddr:
            server = next((s for s in self.servers.values() if s.serves(msg.giaddr)), None)
            if server is None:
                self.sim.step(where, port, Action.DROP, frame.uid,
                              f"relayed {msg.describe()}: no dhcp-range for giaddr "
                              f"{ip4_str(msg.giaddr)}'s subnet", "dhcp_reply", "D1",
                              reason=DropReason.DHCP_NO_ADDRESS, cause=cause)
                return
            server.rcv(iface, frame, msg, cause)
            return
        relay = self.relays.get(iface.dev)
        if relay is not None:
            relay.forward(msg, frame, cause)
            return
        server = self.servers.get(iface.dev)
        if server is not None:
            server.rcv(iface, frame, msg, cause)
            return
        self.sim.step(where, port, Action.DROP, frame.uid,
                      f"{msg.describe()}: no DHCP server or relay on {where}:{port}; a router "
                      "does not forward the broadcast", "__udp4_lib_rcv", "D1",
                      reason=DropReason.NO_SOCKET, cause=cause)


# -- server ---------------------------------------------------------------------------------

@dataclass(slots=True)
class ServerLease:
    mac: Mac
    address: Ip4
    expires: Time
    step: int


@dataclass(slots=True)
class _Allocation:
    """A DISCOVER whose address search waits for a ping (address_allocate)."""

    msg: Dhcp
    frame: Frame
    cause: int
    first: Ip4
    candidate: Ip4


def sdbm_hash(mac: Mac) -> int:
    """address_allocate(): ``j = hwaddr[i] + (j << 6) + (j << 16) - j`` over the
    six bytes, in 32-bit unsigned arithmetic; 0 becomes 1."""
    j = 0
    for shift in range(40, -1, -8):
        j = ((mac >> shift) & 0xFF) + (j << 6) + (j << 16) - j
        j &= 0xFFFF_FFFF
    return j or 1


class DhcpServer:
    """A dnsmasq ``dhcp-range`` on one interface (see the module docstring)."""

    def __init__(self, endpoint: Endpoint, iface: IpIface, params: ServerParams, index: int = 0
                 ) -> None:
        self.endpoint = endpoint
        self.sim: Sim = endpoint.sim
        self.iface = iface
        self.params = params
        self.where = endpoint.where
        self.port = iface.dev.name
        first = params.pool_start
        plen = next((p for a, p in iface.addresses
                     if (a ^ first) & netmask(p) == 0), iface.addresses[0][1])
        self.mask = params.netmask if params.netmask is not None else netmask(plen)
        self.address = next((a for a, p in iface.addresses
                             if (a ^ first) & netmask(p) == 0), iface.addresses[0][0])
        self.reserved = dict(params.reservations)
        self.reserved_ips = {ip: mac for mac, ip in params.reservations}
        self.leases: dict[Mac, ServerLease] = {}
        self.pinged: dict[Ip4, Time] = {}            # ping_results: address -> when found free
        self.declined: dict[Ip4, Time] = {}
        self.addr_epoch = 0
        self.busy: _Allocation | None = None
        self.queue: list[tuple[IpIface, Frame, Dhcp, int]] = []
        self._ping_ident = 0x8000 + 0x100 * index       # ICMP ids of this server's pings
        self.no_address = 0                          # DISCOVERs left unanswered

    # -- helpers
    def serves(self, ip: Ip4) -> bool:
        return (ip ^ self.params.pool_start) & self.mask == 0

    def in_range(self, ip: Ip4) -> bool:
        return self.params.pool_start <= ip <= self.params.pool_end

    def label(self, msg: Dhcp, kind: str) -> str:
        """dnsmasq's log line: ``DHCPDISCOVER(eth0) 52:54:00:00:00:01``."""
        return f"{kind}({self.port}) {mac_str(msg.chaddr)}"

    def step(self, note: str, fn: str, cause: int, *, uid: int = 0, rule: str = "D1",
             data: dict[str, Any] | None = None) -> int:
        return self.sim.step(self.where, self.port, Action.DHCP, uid, note, fn, rule,
                             cause=cause, data={"dhcp": "server", **(data or {})})

    def _lease_of(self, mac: Mac) -> ServerLease | None:
        lease = self.leases.get(mac)
        if lease is not None and lease.expires <= self.sim.now:
            del self.leases[mac]                           # lease_prune at expiry
            return None
        return lease

    def _holder(self, ip: Ip4) -> Mac | None:
        """lease_find_by_addr(): the MAC holding an unexpired lease on ``ip``."""
        for mac in list(self.leases):
            lease = self._lease_of(mac)
            if lease is not None and lease.address == ip:
                return mac
        return None

    # -- receive
    def rcv(self, iface: IpIface, frame: Frame, msg: Dhcp, cause: int) -> None:
        if self.busy is not None:
            # delay_dhcp(): "we remain deaf to ... further DHCP packets": they wait in
            # the socket until the ping is over
            step = self.step(f"{self.label(msg, 'DHCP' + msg.mtype.name)}: queued, dnsmasq is "
                             f"waiting for its ping of {ip4_str(self.busy.candidate)} "
                             "(delay_dhcp)", "delay_dhcp", cause, uid=frame.uid)
            self.queue.append((iface, frame, msg, step))
            return
        self.dhcp_reply(frame, msg, cause)

    def dhcp_reply(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        """rfc2131.c dhcp_reply(): by message type."""
        kind = "DHCP" + msg.mtype.name
        if msg.mtype is DhcpType.DISCOVER:
            cause = self.step(f"{self.label(msg, kind)} xid 0x{msg.xid:08x}", "dhcp_reply", cause,
                              uid=frame.uid, data={"msg": "discover", "xid": msg.xid})
            self._discover(frame, msg, cause)
        elif msg.mtype is DhcpType.REQUEST:
            self._request(frame, msg, cause)
        elif msg.mtype is DhcpType.DECLINE:
            lease = self._lease_of(msg.chaddr)
            if lease is not None and lease.address == msg.requested_ip:
                del self.leases[msg.chaddr]
            self.declined[msg.requested_ip] = self.sim.now
            self.step(f"{self.label(msg, kind)} {ip4_str(msg.requested_ip)}: address marked "
                      "in use for 10 min (DECLINE_BACKOFF)", "dhcp_reply", cause, uid=frame.uid)
        elif msg.mtype is DhcpType.RELEASE:
            lease = self._lease_of(msg.chaddr)
            found = lease is not None and lease.address == msg.ciaddr
            if found:
                del self.leases[msg.chaddr]
            self.step(f"{self.label(msg, kind)} {ip4_str(msg.ciaddr)}"
                      + ("" if found else ": unknown lease"), "lease_prune", cause, uid=frame.uid)
        else:
            self.step(f"{self.label(msg, kind)}: not handled by this model", "dhcp_reply", cause,
                      uid=frame.uid)

    def _discover(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        """DHCPDISCOVER: the configured address (dhcp-host), else the client's lease,
        else address_allocate()."""
        mac = msg.chaddr
        conf = self.reserved.get(mac)
        if conf is not None:
            holder = self._holder(conf)
            if holder is not None and holder != mac:
                self.step(f"not using configured address {ip4_str(conf)} because it is leased "
                          f"to {mac_str(holder)}", "dhcp_reply", cause)
            elif conf == self.address or conf == msg.giaddr:
                self.step(f"not using configured address {ip4_str(conf)} because it is in use "
                          "by the server or relay", "dhcp_reply", cause)
            elif self.sim.now - self.declined.get(conf, -DECLINE_BACKOFF) < DECLINE_BACKOFF:
                self.step(f"not using configured address {ip4_str(conf)} because it was "
                          "previously declined", "dhcp_reply", cause)
            else:
                self._offer(frame, msg, conf, cause, "reserved for this MAC (dhcp-host)")
                return
        lease = self._lease_of(mac)
        if (lease is not None and self.in_range(lease.address)
                and lease.address not in self.reserved_ips):
            self._offer(frame, msg, lease.address, cause, "this client's lease")
            return
        size = self.params.pool_end - self.params.pool_start + 1
        start = self.params.pool_start + (sdbm_hash(mac) + self.addr_epoch) % size
        self._allocate(_Allocation(msg, frame, cause, start, start))

    def _usable(self, ip: Ip4, giaddr: Ip4) -> bool:
        """The tests address_allocate() makes before pinging a candidate."""
        if ip in (self.address, giaddr):
            return False                              # in use by the server or relay
        if self._holder(ip) is not None or ip in self.reserved_ips:
            return False
        if self.sim.now - self.declined.get(ip, -DECLINE_BACKOFF) < DECLINE_BACKOFF:
            return False
        class_c = ip & 0xE000_0000 == 0xC000_0000          # IN_CLASSC: KB281579
        return not (class_c and ip & 0xFF in (0, 0xFF))

    def _allocate(self, job: _Allocation) -> None:
        """address_allocate(): from the hashed start, the first usable address whose
        ping (if any) got no answer; the search may pause for a ping."""
        start, end = self.params.pool_start, self.params.pool_end
        ip = job.candidate
        while True:
            if self._usable(ip, job.msg.giaddr):
                verdict = self._ping_verdict(ip)
                if verdict == "free":
                    self._offer(job.frame, job.msg, ip, job.cause,
                                f"free in {ip4_str(start)}-{ip4_str(end)} (address_allocate)")
                    return
                if verdict == "ping":
                    job.candidate = ip
                    self._ping(job)
                    return
            ip = start if ip == end else ip + 1
            if ip == job.first:
                break
        self._exhausted(job)

    def _exhausted(self, job: _Allocation) -> None:
        start, end = self.params.pool_start, self.params.pool_end
        self.no_address += 1
        leased = sorted(ip4_str(lease.address) for lease in self.leases.values()
                        if lease.expires > self.sim.now)
        self.sim.step(self.where, self.port, Action.DROP, job.frame.uid,
                      f"{self.label(job.msg, 'DHCPDISCOVER')}: no address available: range "
                      f"{ip4_str(start)}-{ip4_str(end)} ({end - start + 1} addresses) is "
                      f"exhausted ({len(leased)} leased, {len(self.reserved_ips)} reserved): "
                      "no DHCPOFFER", "dhcp_reply", "D1", reason=DropReason.DHCP_NO_ADDRESS,
                      cause=job.cause, data={"dhcp": "server", "leased": leased})

    def _ping_verdict(self, ip: Ip4) -> str:
        """do_icmp_ping(): "free" (cached, overloaded or --no-ping) or "ping"."""
        if not self.params.ping_check:
            return "free"
        now = self.sim.now
        recent = {a: t for a, t in self.pinged.items() if now - t <= PING_CACHE_TIME}
        self.pinged = recent
        if ip in recent or len(recent) >= PING_MAX:
            return "free"
        return "ping"

    def _ping(self, job: _Allocation) -> None:
        """icmp_ping(): one ICMP echo, then delay_dhcp() for up to PING_WAIT."""
        self.busy = job
        self._ping_ident += 1
        ident = self._ping_ident
        uid = self.sim.new_uid()
        step = self.step(f"pinging {ip4_str(job.candidate)} before offering it; deaf to DHCP for "
                         f"up to {PING_WAIT // S} s (do_icmp_ping, delay_dhcp)", "do_icmp_ping",
                         job.cause)
        timer = self.sim.timer(PING_WAIT, self._ping_done, job, ident, False, step)

        def answered(iface: IpIface, frame: Frame, packet: Ipv4, cause: int) -> None:
            if timer.active:
                timer.cancel()
                self._ping_done(job, ident, True, cause)

        self.endpoint.echo_listeners[ident] = answered
        packet = Ipv4(self.address, job.candidate, Icmp(IcmpType.ECHO_REQUEST, ident, 1, 20))
        echo = self.step(f"ICMP echo request id={ident} to {ip4_str(job.candidate)}",
                         "icmp_ping", step, uid=uid, data={"ping": ip4_str(job.candidate)})
        self.endpoint.send_ip(packet, uid, echo)

    def _ping_done(self, job: _Allocation, ident: int, answered: bool, cause: int) -> None:
        self.endpoint.echo_listeners.pop(ident, None)
        self.busy = None
        ip = job.candidate
        if answered:
            self.addr_epoch += 1
            step = self.step(f"{ip4_str(ip)} answered the ping: in use, trying the next "
                             "address", "address_allocate", cause)
            start, end = self.params.pool_start, self.params.pool_end
            job.candidate = start if ip == end else ip + 1
            job.cause = step
            if job.candidate == job.first:
                self._exhausted(job)
            else:
                self._allocate(job)
        else:
            self.pinged[ip] = self.sim.now
            job.cause = self.step(f"no answer to the ping of {ip4_str(ip)} in "
                                  f"{PING_WAIT // S} s: free", "do_icmp_ping", cause)
            self._offer(job.frame, job.msg, ip, job.cause,
                        f"free in {ip4_str(self.params.pool_start)}-"
                        f"{ip4_str(self.params.pool_end)} (address_allocate)")
        while self.busy is None and self.queue:
            _iface, frame, msg, queued = self.queue.pop(0)
            self.dhcp_reply(frame, msg, queued)

    def _options(self, msg: Dhcp) -> dict[str, Any]:
        lease = self.params.lease_time
        router = self.params.router if self.params.router is not None else (
            msg.giaddr or self.address)
        return {"server_id": self.address, "lease_time": lease, "renewal_time": lease // 2,
                "rebinding_time": lease * 7 // 8, "subnet_mask": self.mask, "router": router}

    def _offer(self, frame: Frame, req: Dhcp, ip: Ip4, cause: int, why: str) -> None:
        reply = Dhcp(BOOTREPLY, DhcpType.OFFER, req.xid, req.chaddr, flags=req.flags,
                     yiaddr=ip, giaddr=req.giaddr, **self._options(req))
        note = (f"{self.label(req, 'DHCPOFFER')} {ip4_str(ip)} lease "
                f"{lease_str(self.params.lease_time)}: {why}")
        self._send(reply, req, cause, note, "dhcp_reply")

    def _request(self, frame: Frame, req: Dhcp, cause: int) -> None:
        """DHCPREQUEST: SELECTING (server id), INIT-REBOOT (requested address only) or
        RENEWING/REBINDING (ciaddr)."""
        mac = req.chaddr
        ip = req.requested_ip or req.ciaddr
        kind = self.label(req, "DHCPREQUEST")
        if req.server_id and req.server_id != self.address:
            self.step(f"{kind} {ip4_str(ip)}: for server {ip4_str(req.server_id)}, not us: "
                      "ignored", "dhcp_reply", cause, uid=frame.uid)
            return
        cause = self.step(f"{kind} {ip4_str(ip)} xid 0x{req.xid:08x}", "dhcp_reply", cause,
                          uid=frame.uid, data={"msg": "request", "xid": req.xid})
        reserved_for = self.reserved_ips.get(ip)
        holder = self._holder(ip)
        problem = ""
        if not self.serves(ip):
            problem = "wrong network"
        elif reserved_for is not None and reserved_for != mac:
            problem = f"address reserved for {mac_str(reserved_for)}"
        elif holder is not None and holder != mac:
            problem = f"address in use by {mac_str(holder)}"
        elif not self.in_range(ip) and reserved_for != mac:
            problem = "address not available"
        elif ip in (self.address, req.giaddr):
            problem = "address in use by the server or relay"
        if problem:
            reply = Dhcp(BOOTREPLY, DhcpType.NAK, req.xid, mac, flags=req.flags,
                         giaddr=req.giaddr, server_id=self.address, message=problem)
            self._send(reply, req, cause, f"{self.label(req, 'DHCPNAK')} {ip4_str(ip)} {problem}",
                       "dhcp_reply")
            return
        lease = self.leases.get(mac)
        expires = self.sim.now + self.params.lease_time * S
        if lease is not None:
            lease.address, lease.expires = ip, expires
        else:
            lease = self.leases[mac] = ServerLease(mac, ip, expires, 0)
        reply = Dhcp(BOOTREPLY, DhcpType.ACK, req.xid, mac, flags=req.flags, ciaddr=req.ciaddr,
                     yiaddr=ip, giaddr=req.giaddr, **self._options(req))
        lease.step = self._send(reply, req, cause, f"{self.label(req, 'DHCPACK')} {ip4_str(ip)} "
                                f"lease {lease_str(self.params.lease_time)} until "
                                f"{format_time(expires)}", "dhcp_reply")

    def _send(self, reply: Dhcp, req: Dhcp, cause: int, note: str, fn: str) -> int:
        """The delivery of RFC 2131 §4.1 (D1), as dnsmasq's dhcp_packet() sends it."""
        sim = self.sim
        uid = sim.new_uid()
        giaddr = req.giaddr
        if giaddr:
            how = f"to relay {ip4_str(giaddr)}:67"
        elif req.ciaddr and reply.mtype is not DhcpType.NAK:
            how = f"unicast to ciaddr {ip4_str(req.ciaddr)}"
        elif reply.mtype is DhcpType.NAK:
            how = "broadcast (a DHCPNAK always is)"
        elif req.broadcast:
            how = "broadcast (the client set the broadcast bit)"
        else:
            how = (f"unicast to {mac_str(req.chaddr)} / {ip4_str(reply.yiaddr)} (broadcast bit "
                   "clear; ARP entry injected, not resolved)")
        step = self.step(f"{note}; {how}", fn, cause, uid=uid,
                         data={"msg": reply.mtype.name.lower(), "xid": reply.xid,
                               "yiaddr": ip4_str(reply.yiaddr)})
        dev = self.iface.dev
        if giaddr:
            packet = Ipv4(self.address, giaddr, Udp(SERVER_PORT, SERVER_PORT, reply))
            self.endpoint.send_ip(packet, uid, step)
        elif req.ciaddr and reply.mtype is not DhcpType.NAK:
            packet = Ipv4(self.address, req.ciaddr, Udp(SERVER_PORT, CLIENT_PORT, reply))
            self.endpoint.send_ip(packet, uid, step)
        elif reply.mtype is DhcpType.NAK or req.broadcast:
            dev.xmit(dhcp_frame(uid, dev.mac, BROADCAST, self.address, IP4_BROADCAST,
                                SERVER_PORT, CLIENT_PORT, reply), step, 0)
        else:
            dev.xmit(dhcp_frame(uid, dev.mac, req.chaddr, self.address, reply.yiaddr,
                                SERVER_PORT, CLIENT_PORT, reply), step, 0)
        return step


# -- relay ----------------------------------------------------------------------------------

class DhcpRelay:
    """A BOOTP relay agent on one router interface (RFC 1542 §4, dhcrelay do_relay4)."""

    def __init__(self, endpoint: Endpoint, iface: IpIface, server: Ip4) -> None:
        self.endpoint = endpoint
        self.sim = endpoint.sim
        self.iface = iface
        self.server = server
        self.address = iface.addresses[0][0]
        self.where = endpoint.where
        self.port = iface.dev.name

    def forward(self, msg: Dhcp, frame: Frame, cause: int) -> None:
        """A client's BOOTREQUEST: giaddr = this interface, hops + 1, unicast to the server."""
        relayed = replace(msg, giaddr=msg.giaddr or self.address, hops=msg.hops + 1)
        uid = self.sim.new_uid()
        route = self.endpoint.route(self.server)
        src = route[0].addresses[0][0] if route is not None and route[0].addresses else \
            self.address
        step = self.sim.step(self.where, self.port, Action.DHCP, uid,
                             f"relaying DHCP{msg.mtype.name} xid 0x{msg.xid:08x} from "
                             f"{mac_str(msg.chaddr)} to {ip4_str(self.server)} (giaddr "
                             f"{ip4_str(relayed.giaddr)})", "do_relay4", "D1", cause=cause,
                             data={"dhcp": "relay", "msg": msg.mtype.name.lower(),
                                   "xid": msg.xid})
        self.endpoint.send_ip(Ipv4(src, self.server, Udp(SERVER_PORT, SERVER_PORT, relayed)),
                              uid, step)

    def reply(self, msg: Dhcp, frame: Frame, cause: int) -> None:
        """A BOOTREPLY for giaddr: back onto the client's link (RFC 2131 §4.1)."""
        uid = self.sim.new_uid()
        dev = self.iface.dev
        if msg.broadcast or msg.mtype is DhcpType.NAK:
            dst_mac, dst_ip, how = BROADCAST, IP4_BROADCAST, "broadcast"
        else:
            dst_mac, dst_ip = msg.chaddr, msg.yiaddr
            how = f"unicast to {mac_str(msg.chaddr)} / {ip4_str(msg.yiaddr)}"
        step = self.sim.step(self.where, self.port, Action.DHCP, uid,
                             f"relaying DHCP{msg.mtype.name} xid 0x{msg.xid:08x} to the client "
                             f"on {self.port}: {how}", "do_relay4", "D1", cause=cause,
                             data={"dhcp": "relay", "msg": msg.mtype.name.lower(),
                                   "xid": msg.xid})
        dev.xmit(dhcp_frame(uid, dev.mac, dst_mac, self.address, dst_ip, SERVER_PORT,
                            CLIENT_PORT, msg), step, 0)


# -- clients ----------------------------------------------------------------------------------

class ClientState(StrEnum):
    STOPPED = "stopped"
    INIT = "init"
    SELECTING = "selecting"
    REQUESTING = "requesting"
    BOUND = "bound"
    RENEWING = "renewing"
    REBINDING = "rebinding"


@dataclass(slots=True)
class Lease:
    address: Ip4
    prefix_len: int
    router: Ip4
    server_id: Ip4
    lease_time: int
    bound_at: Time
    expires: Time


@dataclass(frozen=True, slots=True)
class AddressEvent:
    """The address an interface holds changed: ``bound`` (a lease), ``link-local``
    (APIPA) or ``unbound``."""

    time: Time
    kind: str
    address: Ip4
    step: int


@dataclass(frozen=True, slots=True)
class SendRecord:
    """One DHCPDISCOVER/REQUEST the client sent: the root of everything it caused."""

    time: Time
    step: int
    mtype: DhcpType
    xid: int
    attempt: int


@dataclass(frozen=True, slots=True)
class GiveUp:
    time: Time
    step: int
    why: str


@dataclass(slots=True)
class _Status:
    kind: str = "none"            # "bound" | "link-local" | "none"
    address: Ip4 = 0
    since: Time = 0


class DhcpClient:
    """What the four clients share: the packet socket, sending, binding, history.

    Subclasses implement ``_begin`` (the program starts) and ``on_offer`` /
    ``on_ack`` / ``on_nak`` with their own state machine and timers."""

    label = "DHCP client"
    rule = "D2"
    broadcast_flag = False
    default_boot_delay: Time = DEFAULT_BOOT_DELAY       # without the VM's ``boot-delay``

    def __init__(self, endpoint: Endpoint, iface: IpIface, ref: str, params: ClientParams
                 ) -> None:
        self.endpoint = endpoint
        self.sim: Sim = endpoint.sim
        self.iface = iface
        self.ref = ref
        self.params = params
        self.where = endpoint.where
        self.port = iface.dev.name
        self.mac = iface.dev.mac
        self.state = ClientState.STOPPED
        self.xid = 0
        self.lease: Lease | None = None
        self.link_local: Ip4 = 0
        self.events: list[AddressEvent] = []
        self.sends: list[SendRecord] = []
        self.gave_up: list[GiveUp] = []
        self.attempt = 0
        self.timer: Timer | None = None
        self.renew_timer: Timer | None = None
        self.started_at: Time | None = None
        endpoint.packet_sockets[iface.dev] = self._packet_rcv

    # -- lifecycle
    def boot(self, delay: Time) -> None:
        self.sim.schedule(delay, self.start, 0, "boot")

    def start(self, cause: int, why: str = "boot") -> None:
        """The program starts (boot, ``nmcli con up``, ``dhclient eth0``): any run of it
        stops, its lease is dropped, and it begins from INIT."""
        self._cancel()
        if self.lease is not None:
            self._unbind(cause, "client restarted")
        self.started_at = self.sim.now
        self.state = ClientState.INIT
        start = self.step(f"{self.label} starts on {self.port} ({why})", "main", cause,
                          data={"event": "start"})
        self._begin(start)

    def _begin(self, cause: int) -> None:
        raise NotImplementedError

    def _cancel(self) -> None:
        for timer in (self.timer, self.renew_timer):
            if timer is not None:
                timer.cancel()
        self.timer = self.renew_timer = None

    def arm(self, delay: Time, fn: Callable[..., None], *args: Any) -> None:
        """The client's one retransmission/state timer (replaces the pending one)."""
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.sim.timer(max(delay, 0), fn, *args)

    # -- trace
    def step(self, note: str, fn: str, cause: int, *, uid: int = 0, rule: str = "",
             data: dict[str, Any] | None = None) -> int:
        return self.sim.step(self.where, self.port, Action.DHCP, uid, note, fn,
                             rule or self.rule, cause=cause,
                             data={"dhcp": "client", "client": self.ref, **(data or {})})

    def ignore(self, frame: Frame, msg: Dhcp, why: str, fn: str, cause: int) -> None:
        self.sim.step(self.where, self.port, Action.DROP, frame.uid,
                      f"DHCP{msg.mtype.name} xid 0x{msg.xid:08x} ignored: {why}", fn, self.rule,
                      reason=DropReason.DHCP_IGNORED, cause=cause,
                      data={"dhcp": "client", "client": self.ref})

    # -- send
    def send(self, mtype: DhcpType, cause: int, note: str, fn: str, *, xid: int | None = None,
             requested: Ip4 = 0, server_id: Ip4 = 0, secs_: int = 0, ciaddr: Ip4 = 0,
             unicast_to: Ip4 = 0) -> int:
        """Build and send one message: broadcast from 0.0.0.0 on the packet socket, or
        (renewing) unicast from the leased address through the IP stack."""
        msg = Dhcp(BOOTREQUEST, mtype, self.xid if xid is None else xid, self.mac,
                   flags=BROADCAST_FLAG if self.broadcast_flag else 0, ciaddr=ciaddr,
                   secs=secs_, server_id=server_id, requested_ip=requested)
        uid = self.sim.new_uid()
        step = self.step(note, fn, cause, uid=uid,
                         data={"msg": mtype.name.lower(), "xid": msg.xid,
                               "attempt": self.attempt})
        if mtype in (DhcpType.DISCOVER, DhcpType.REQUEST):
            self.sends.append(SendRecord(self.sim.now, step, mtype, msg.xid, self.attempt))
        if unicast_to:
            self.endpoint.send_ip(Ipv4(ciaddr, unicast_to, Udp(CLIENT_PORT, SERVER_PORT, msg)),
                                  uid, step)
        else:
            dev = self.iface.dev
            dev.xmit(dhcp_frame(uid, self.mac, BROADCAST, 0, IP4_BROADCAST, CLIENT_PORT,
                                SERVER_PORT, msg), step, 0)
        return step

    # -- receive
    def _packet_rcv(self, iface: IpIface, frame: Frame, packet: Ipv4, cause: int) -> bool:
        udp = packet.payload
        if type(udp) is not Udp or udp.dport != CLIENT_PORT:
            return False
        msg = udp.data
        if not isinstance(msg, Dhcp) or msg.op != BOOTREPLY:
            return False
        if msg.chaddr != self.mac:
            if self.sim.tracing:
                self.sim.step(self.where, self.port, Action.DELIVER, frame.uid,
                              f"{msg.describe()} is for another client: ignored", "packet_rcv",
                              self.rule, cause=cause)
            return True
        if self.state is ClientState.STOPPED:
            self.ignore(frame, msg, f"{self.label} is not running", "packet_rcv", cause)
            return True
        if self.state is ClientState.RENEWING and msg.xid == self.xid:
            self._renew_reply(frame, msg, cause)
            return True
        if msg.mtype is DhcpType.OFFER:
            self.on_offer(frame, msg, cause)
        elif msg.mtype is DhcpType.ACK:
            self.on_ack(frame, msg, cause)
        elif msg.mtype is DhcpType.NAK:
            self.on_nak(frame, msg, cause)
        else:
            self.ignore(frame, msg, "not a reply this client handles", "packet_rcv", cause)
        return True

    def on_offer(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        raise NotImplementedError

    def on_ack(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        raise NotImplementedError

    def on_nak(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        raise NotImplementedError

    # -- address
    def bind(self, msg: Dhcp, cause: int, fn: str, note: str = "", renewal: int | None = None
             ) -> int:
        """Configure the leased address (and the default route) on the interface."""
        plen = prefix_len(msg.subnet_mask) if msg.subnet_mask else 24
        renewing = self.lease is not None and self.lease.address == msg.yiaddr
        if self.lease is not None and not renewing:
            self._unbind(cause, "replaced by a new lease")
        if self.link_local:
            self._drop_address(self.link_local)
            self.link_local = 0
        now = self.sim.now
        self.lease = Lease(msg.yiaddr, plen, msg.router, msg.server_id, msg.lease_time, now,
                           now + msg.lease_time * S)
        if not renewing:
            self.iface.addresses.append((msg.yiaddr, plen))
            self.endpoint.local_ips.add(msg.yiaddr)
        if msg.router:
            self.endpoint.gateway = msg.router
        self.state = ClientState.BOUND
        text = note or (f"bound {ip4_str(msg.yiaddr)}/{plen} lease {lease_str(msg.lease_time)}"
                        + (f", router {ip4_str(msg.router)}" if msg.router else ""))
        step = self.step(text, fn, cause, data={"event": "bound",
                                                "address": ip4_str(msg.yiaddr)})
        if not renewing:
            self.events.append(AddressEvent(now, "bound", msg.yiaddr, step))
        t1 = renewal if renewal is not None else (msg.renewal_time or msg.lease_time // 2)
        if self.renew_timer is not None:
            self.renew_timer.cancel()
        if t1 > 0:
            self.renew_timer = self.sim.timer(t1 * S, self._renew, step)
        return step

    def _drop_address(self, ip: Ip4) -> None:
        self.iface.addresses[:] = [(a, p) for a, p in self.iface.addresses if a != ip]
        self.endpoint.local_ips.discard(ip)

    def _unbind(self, cause: int, why: str) -> None:
        lease = self.lease
        if lease is None:
            return
        self._drop_address(lease.address)
        if lease.router and self.endpoint.gateway == lease.router:
            self.endpoint.gateway = None
        self.lease = None
        step = self.step(f"{ip4_str(lease.address)} removed from {self.port}: {why}",
                         "script EXPIRE", cause, data={"event": "unbound"})
        self.events.append(AddressEvent(self.sim.now, "unbound", lease.address, step))

    def set_link_local(self, ip: Ip4, cause: int, note: str, fn: str) -> int:
        self.link_local = ip
        self.iface.addresses.append((ip, 16))
        self.endpoint.local_ips.add(ip)
        step = self.step(note, fn, cause, data={"event": "link-local", "address": ip4_str(ip)})
        self.events.append(AddressEvent(self.sim.now, "link-local", ip, step))
        return step

    def give_up(self, cause: int, note: str, fn: str, why: str) -> int:
        step = self.step(note, fn, cause, data={"event": "gave-up"})
        self.gave_up.append(GiveUp(self.sim.now, step, why))
        return step

    # -- renewal (simplified, see the module docstring)
    def _renew(self, cause: int) -> None:
        lease = self.lease
        if lease is None:
            return
        self.renew_timer = None
        self.state = ClientState.RENEWING
        self.attempt += 1
        self._renew_send(cause)

    def _renew_send(self, cause: int) -> None:
        lease = self.lease
        if lease is None or self.state is not ClientState.RENEWING:
            return
        now = self.sim.now
        if now >= lease.expires:
            self._unbind(cause, "lease expired")
            self.state = ClientState.INIT
            self._begin(cause)
            return
        self.xid = self.sim.rng.getrandbits(32)
        self.send(DhcpType.REQUEST, cause, f"DHCPREQUEST for {ip4_str(lease.address)} to "
                  f"{ip4_str(lease.server_id)} (renewing at T1)", "state_bound",
                  ciaddr=lease.address, unicast_to=lease.server_id)
        self.renew_timer = self.sim.timer(min(60 * S, max(lease.expires - now, 1)),
                                          self._renew_send, cause)

    def _renew_reply(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        if self.renew_timer is not None:
            self.renew_timer.cancel()
            self.renew_timer = None
        if msg.mtype is DhcpType.ACK:
            step = self.step(f"DHCPACK of {ip4_str(msg.yiaddr)}: lease renewed", "state_bound",
                             cause, uid=frame.uid, data={"msg": "ack"})
            self.bind(msg, step, "bind_lease")
            return
        step = self.step(f"DHCP{msg.mtype.name} while renewing: {msg.message or 'lease lost'}",
                         "state_bound", cause, uid=frame.uid)
        self._unbind(step, f"DHCP{msg.mtype.name} at renewal")
        self.state = ClientState.INIT
        self._begin(step)

    # -- questions
    def status_at(self, t: Time) -> _Status:
        status = _Status()
        for event in self.events:
            if event.time > t:
                break
            if event.kind == "unbound":
                if status.kind == "bound" and status.address == event.address:
                    status = _Status()
            else:
                status = _Status(event.kind, event.address, event.time)
        return status

    def describe_at(self, t: Time) -> str:
        """The address state at ``t``, for an expectation's "observed" column."""
        status = self.status_at(t)
        if status.kind != "none":
            kind = "bound" if status.kind == "bound" else "link-local (APIPA)"
            return f"{kind} {ip4_str(status.address)} since {secs(status.since)}"
        gave_up = [g for g in self.gave_up if g.time <= t]
        sent = sum(1 for s in self.sends if s.time <= t and s.mtype is DhcpType.DISCOVER)
        return (f"no address at {secs(t)} ({plural(sent, 'DISCOVER')}"
                + (f"; gave up at {secs(gave_up[-1].time)}: {gave_up[-1].why}" if gave_up
                   else "") + ")")

    def outcome(self) -> str:
        """One line for ``vnetlab run``."""
        status = self.status_at(self.sim.now)
        if status.kind == "bound":
            assert self.lease is not None
            lost = sum(1 for s in self.sends if s.time < status.since and s.mtype is
                       DhcpType.DISCOVER)
            return (f"bound {ip4_str(status.address)} at {secs(status.since)} (lease "
                    f"{lease_str(self.lease.lease_time)}, {plural(lost, 'DISCOVER')} sent)")
        tail = ""
        if self.gave_up:
            last = self.gave_up[-1]
            tail = (f"; gave up at {secs(last.time)}: {last.why}"
                    + (f" ({len(self.gave_up)} times)" if len(self.gave_up) > 1 else ""))
        discovers = sum(1 for s in self.sends if s.mtype is DhcpType.DISCOVER)
        if status.kind == "link-local":
            return (f"link-local {ip4_str(status.address)} (APIPA) since {secs(status.since)}: "
                    f"no DHCP answer to {plural(discovers, 'DISCOVER')}{tail}")
        return f"no address: no lease after {plural(discovers, 'DISCOVER')}{tail}"

    def to_json(self) -> dict[str, Any]:
        status = self.status_at(self.sim.now)
        return {"client": self.ref, "program": self.label, "result":
                {"bound": "bound", "link-local": "link-local"}.get(status.kind, "failed"),
                "address": ip4_str(status.address) if status.address else None,
                "since_ns": status.since if status.kind != "none" else None,
                "discovers": sum(1 for s in self.sends if s.mtype is DhcpType.DISCOVER),
                "requests": sum(1 for s in self.sends if s.mtype is DhcpType.REQUEST),
                "gave_up": [{"time_ns": g.time, "why": g.why} for g in self.gave_up],
                "outcome": self.outcome()}

    def horizon(self) -> Time:
        """How long after its start the first attempt can last (the default run length)."""
        return 65 * S


# -- ISC dhclient 4.4 -------------------------------------------------------------------

class Dhclient(DhcpClient):
    """ISC dhclient 4.4.3 (D3): see the module docstring."""

    label = "dhclient"
    rule = "D3"

    def __init__(self, endpoint: Endpoint, iface: IpIface, ref: str, params: ClientParams
                 ) -> None:
        super().__init__(endpoint, iface, ref, params)
        self.interval = 0
        self.first_sending = 0
        self.discover_secs = 0
        self.offers: list[Dhcp] = []
        self.picked: Dhcp | None = None
        self.count = 0

    def horizon(self) -> Time:
        return (self.params.timeout + 2) * S

    def cur_time(self) -> int:
        """``cur_time``: whole seconds of the (simulated) clock."""
        return self.sim.now // S

    def random(self) -> int:
        """random(3): 31 bits."""
        return self.sim.rng.getrandbits(31)

    def at(self, interval: int) -> Time:
        """``tv.tv_sec = cur_tv.tv_sec + interval; tv.tv_usec = interval > 1 ? random() %
        1000000 : cur_tv.tv_usec``: the absolute time of the next timeout."""
        usec = (self.random() % 1_000_000) * US if interval > 1 else self.sim.now % S
        return (self.cur_time() + interval) * S + usec

    def arm_at(self, when: Time, fn: Callable[..., None], *args: Any) -> None:
        self.arm(when - self.sim.now, fn, *args)

    def _begin(self, cause: int) -> None:
        cause = self.step("no recorded lease: INIT", "state_reboot", cause)
        self.state_init(cause)

    def state_init(self, cause: int) -> None:
        """make_discover (xid = random(), flags 0: Linux LPF can receive unicast before
        configuration, can_receive_unicast_unconfigured), then the first DISCOVER now."""
        self.attempt += 1
        self.xid = self.random()
        self.state = ClientState.SELECTING
        self.first_sending = self.cur_time()
        self.interval = self.params.initial_interval
        self.offers = []
        self.count = 0
        self.send_discover(cause)

    def send_discover(self, cause: int) -> None:
        p = self.params
        now = self.cur_time()
        elapsed = now - self.first_sending
        if elapsed > p.timeout:
            self.state_panic(cause)
            return
        if not self.interval:
            self.interval = p.initial_interval
        else:
            self.interval += self.random() % (2 * self.interval)
        if self.interval > p.backoff_cutoff:
            self.interval = p.backoff_cutoff // 2 + self.random() % p.backoff_cutoff
        if now + self.interval > self.first_sending + p.timeout:
            self.interval = self.first_sending + p.timeout - now + 1
        self.discover_secs = min(elapsed, 65535)
        self.count += 1
        when = self.at(self.interval)
        self.send(DhcpType.DISCOVER, cause,
                  f"DHCPDISCOVER on {self.port} to 255.255.255.255 port 67 interval "
                  f"{self.interval} (xid 0x{self.xid:08x}, #{self.count} of attempt "
                  f"{self.attempt}, next at {secs(when)})", "send_discover",
                  secs_=self.discover_secs)
        self.arm_at(when, self.send_discover, cause)

    def on_offer(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        if self.state is not ClientState.SELECTING or msg.xid != self.xid:
            self.ignore(frame, msg, "DHCPOFFER in wrong transaction", "dhcpoffer", cause)
            return
        if any(o.yiaddr == msg.yiaddr for o in self.offers):
            self.step(f"DHCPOFFER of {ip4_str(msg.yiaddr)} from {ip4_str(msg.server_id)}: "
                      "already seen", "dhcpoffer", cause, uid=frame.uid)
            return
        step = self.step(f"DHCPOFFER of {ip4_str(msg.yiaddr)} from {ip4_str(msg.server_id)}",
                         "dhcpoffer", cause, uid=frame.uid, data={"msg": "offer"})
        self.offers.append(msg)
        stop_selecting = self.first_sending + self.params.select_timeout
        if stop_selecting <= self.cur_time():
            self.state_selecting(step)
        else:
            self.arm_at(stop_selecting * S + self.sim.now % S, self.state_selecting, step)

    def state_selecting(self, cause: int) -> None:
        """The first offer wins; REQUESTING with the DISCOVER's xid (make_request)."""
        if not self.offers:
            self.state_init(cause)
            return
        self.picked = self.offers[0]
        self.offers = []
        self.state = ClientState.REQUESTING
        self.first_sending = self.cur_time()
        self.interval = self.params.initial_interval
        self.count = 0
        self.send_request(cause)

    def send_request(self, cause: int) -> None:
        p = self.params
        picked = self.picked
        assert picked is not None
        now = self.cur_time()
        if self.state is ClientState.REQUESTING and now - self.first_sending > p.reboot:
            step = self.step(f"no DHCPACK within reboot timeout {p.reboot} s: back to INIT",
                             "send_request", cause)
            self.state = ClientState.INIT
            self.state_init(step)
            return
        if not self.interval:
            self.interval = p.initial_interval
        else:
            self.interval += (self.random() >> 2) % (2 * self.interval)
        if self.interval > p.backoff_cutoff:
            self.interval = p.backoff_cutoff // 2 + (self.random() >> 2) % p.backoff_cutoff
        self.count += 1
        when = self.at(self.interval)
        self.send(DhcpType.REQUEST, cause,
                  f"DHCPREQUEST for {ip4_str(picked.yiaddr)} on {self.port} to 255.255.255.255 "
                  f"port 67 (xid 0x{self.xid:08x}, #{self.count}, next at {secs(when)})",
                  "send_request", requested=picked.yiaddr, server_id=picked.server_id,
                  secs_=self.discover_secs)
        self.arm_at(when, self.send_request, cause)

    def on_ack(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        if msg.xid != self.xid or self.state not in (ClientState.REQUESTING,
                                                     ClientState.RENEWING):
            self.ignore(frame, msg, "DHCPACK in wrong transaction or state", "dhcpack", cause)
            return
        step = self.step(f"DHCPACK of {ip4_str(msg.yiaddr)} from {ip4_str(msg.server_id)}",
                         "dhcpack", cause, uid=frame.uid, data={"msg": "ack"})
        lease = msg.lease_time
        renewal = msg.renewal_time or lease // 2 + 1
        renewal = (renewal * 3 + 3) // 4 + ((self.random() % renewal) + 3) // 4
        rebind = msg.rebinding_time or lease * 7 // 8
        if renewal > rebind:
            renewal = rebind * 3 // 4
        self._cancel()
        self.bind(msg, step, "bind_lease",
                  f"bound to {ip4_str(msg.yiaddr)} -- renewal in {renewal} seconds. "
                  f"(lease {lease_str(lease)}"
                  + (f", router {ip4_str(msg.router)})" if msg.router else ")"),
                  renewal=renewal)

    def on_nak(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        if msg.xid != self.xid or self.state not in (ClientState.REQUESTING,
                                                     ClientState.RENEWING):
            self.ignore(frame, msg, "DHCPNAK in wrong transaction or state", "dhcpnak", cause)
            return
        if self.lease is None:
            # dhcpnak(): "DHCPNAK with no active lease" -- ignored; the REQUESTs go on
            # until the reboot timeout sends the client back to INIT
            self.ignore(frame, msg, f"DHCPNAK from {ip4_str(msg.server_id)} with no active "
                        "lease", "dhcpnak", cause)
            return
        step = self.step(f"DHCPNAK from {ip4_str(msg.server_id)}: {msg.message}", "dhcpnak",
                         cause, uid=frame.uid)
        self._cancel()
        self._unbind(step, "DHCPNAK")
        self.state = ClientState.INIT
        self.state_init(step)

    def state_panic(self, cause: int) -> None:
        p = self.params
        step = self.step("No DHCPOFFERS received.", "state_panic", cause)
        if p.one_try:
            self.state = ClientState.STOPPED
            self.timer = None
            self.give_up(step, "Unable to obtain a lease on first try.  Exiting. (dhclient -1)",
                         "state_panic", f"no DHCPOFFER within timeout {p.timeout} s (-1: exit 2)")
            return
        delay = (p.retry + 1) // 2 + self.random() % p.retry
        self.state = ClientState.INIT
        when = (self.cur_time() + delay) * S + (
            (self.random() % 1_000_000) * US if delay > 1 else self.sim.now % S)
        step = self.give_up(step, "No working leases in persistent database - sleeping. "
                            f"(next DISCOVER at {secs(when)}: retry {p.retry} s randomised to "
                            f"{delay} s)", "state_panic",
                            f"no DHCPOFFER within timeout {p.timeout} s")
        self.arm_at(when, self.state_init, step)


# -- NetworkManager with n-dhcp4 ---------------------------------------------------------

class NetworkManagerClient(DhcpClient):
    """NetworkManager's activation of a DHCP profile with its internal client n-dhcp4
    (D4): see the module docstring."""

    label = "NetworkManager"
    rule = "D4"

    def __init__(self, endpoint: Endpoint, iface: IpIface, ref: str, params: ClientParams
                 ) -> None:
        super().__init__(endpoint, iface, ref, params)
        self.tries = params.autoconnect_retries
        self.activation = 0
        self.no_lease: Timer | None = None
        self.n_send = 0
        self.jitter = 0
        self.send_time = 0
        self.request: tuple[DhcpType, Ip4, Ip4] | None = None     # type, address, server
        self.nak_restart_delay = 0
        self.probe_state = "init"

    def horizon(self) -> Time:
        return self.params.dhcp_timeout + 2 * S

    def rand(self) -> int:
        """jrand48() as n_dhcp4_client_probe_config_get_random() returns it (uint32)."""
        return self.sim.rng.getrandbits(32)

    def _begin(self, cause: int) -> None:
        self.tries = self.params.autoconnect_retries
        self.activate(cause)

    def activate(self, cause: int) -> None:
        """An activation: a new n-dhcp4 probe and the no-lease timeout."""
        self.activation += 1
        self.attempt += 1
        self.state = ClientState.INIT
        timeout = self.params.dhcp_timeout
        step = self.step(f"activation #{self.activation}: dhcp4 ({self.port}): beginning "
                         f"transaction (timeout in {timeout // S} seconds)",
                         "_no_lease_timeout_schedule", cause, data={"event": "activation"})
        if self.no_lease is not None:
            self.no_lease.cancel()
        self.no_lease = self.sim.timer(timeout, self.no_lease_timeout, step)
        self.probe_new(step, 0)

    def probe_new(self, cause: int, delay: Time) -> None:
        """n_dhcp4_client_probe_new(): DISCOVER deferred by random % ms_start_delay (NM sets
        1 ms) -- or, after a DHCPNAK, by the NAK restart delay."""
        self.probe_state = "init"
        self.state = ClientState.INIT
        deferred = delay or self.rand() % (1 * MS)
        self.arm(deferred, self.transition_deferred, cause)

    def transition_deferred(self, cause: int) -> None:
        self.probe_state = "selecting"
        self.state = ClientState.SELECTING
        self.request = (DhcpType.DISCOVER, 0, 0)
        self.n_send = 0
        self.send_request(cause, "n_dhcp4_client_probe_transition_deferred")

    def send_request(self, cause: int, fn: str) -> None:
        """n_dhcp4_c_connection_send_request(): a DISCOVER gets a fresh xid on every
        (re)send, a SELECT keeps the OFFER's; jitter = random % 1 s; then the resend
        timeout of n_dhcp4_c_connection_get_timeout()."""
        assert self.request is not None
        mtype, address, server = self.request
        if mtype is DhcpType.DISCOVER:
            self.xid = self.rand()
        self.send_time = self.sim.now
        self.jitter = self.rand() % S
        n = self.n_send + 1
        wait = (1 << min(n, 6)) * S + self.jitter
        what = "DISCOVER" if mtype is DhcpType.DISCOVER else f"REQUEST for {ip4_str(address)}"
        self.send(mtype, cause, f"send {what} to 255.255.255.255 (xid 0x{self.xid:08x}, "
                  f"#{n} of activation {self.activation}, next in {wait / S:.1f} s)", fn,
                  requested=address, server_id=server)
        self.n_send = n
        self.arm(wait, self.send_request, cause, "n_dhcp4_c_connection_dispatch_timer")

    def on_offer(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        if self.probe_state != "selecting" or msg.xid != self.xid:
            why = ("not selecting" if self.probe_state != "selecting" else
                   f"xid does not match the current request's 0x{self.xid:08x}")
            self.ignore(frame, msg, why, "n_dhcp4_c_connection_verify_incoming", cause)
            return
        step = self.step(f"received OFFER of {ip4_str(msg.yiaddr)} from "
                         f"{ip4_str(msg.server_id)}: selecting it", "nm_dhcp_nettools "
                         "dhcp4_event_handle", cause, uid=frame.uid, data={"msg": "offer"})
        self.probe_state = "requesting"
        self.state = ClientState.REQUESTING
        self.request = (DhcpType.REQUEST, msg.yiaddr, msg.server_id)
        self.n_send = 0
        self.send_request(step, "n_dhcp4_client_probe_transition_select")

    def on_ack(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        if self.probe_state != "requesting" or msg.xid != self.xid:
            self.ignore(frame, msg, "not requesting this lease",
                        "n_dhcp4_c_connection_verify_incoming", cause)
            return
        self.probe_state = "granted"
        if self.timer is not None:
            self.timer.cancel()
        dad = self.params.dad_timeout
        step = self.step(f"received ACK of {ip4_str(msg.yiaddr)}: GRANTED; address conflict "
                         f"detection for {dad // MS} ms (ipv4.dad-timeout)",
                         "n_dhcp4_client_probe_transition_ack", cause, uid=frame.uid,
                         data={"msg": "ack"})
        self.arm(dad, self.accept, msg, step)

    def accept(self, msg: Dhcp, cause: int) -> None:
        self.probe_state = "bound"
        if self.no_lease is not None:
            self.no_lease.cancel()
            self.no_lease = None
        step = self.bind(msg, cause, "n_dhcp4_client_lease_accept")
        self.tries = self.params.autoconnect_retries
        self.step(f"activation #{self.activation} succeeded: device activated",
                  "nm_device_state_changed", step)

    def on_nak(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        if self.probe_state != "requesting" or msg.xid != self.xid:
            self.ignore(frame, msg, "not requesting", "n_dhcp4_c_connection_verify_incoming",
                        cause)
            return
        delay = self.nak_restart_delay
        self.nak_restart_delay = min(max(delay * 2, 2 * S), 300 * S)
        step = self.step(f"received NAK ({msg.message}): RETRACTED, back to INIT "
                         f"in {delay / S:.0f} s", "n_dhcp4_client_probe_transition_nak", cause,
                         uid=frame.uid)
        self.probe_new(step, delay)

    def no_lease_timeout(self, cause: int) -> None:
        """_no_lease_timeout -> _dev_ipdhcpx_handle_fail: the activation fails with
        ip-config-unavailable; nm-policy counts an autoconnect try."""
        self.no_lease = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.probe_state = "init"
        self.state = ClientState.STOPPED
        timeout = self.params.dhcp_timeout // S
        step = self.give_up(cause, f"dhcp4 ({self.port}): timeout getting lease after {timeout} s: "
                            "device state failed (reason 'ip-config-unavailable')",
                            "_dev_ipdhcpx_handle_fail",
                            f"ip-config-unavailable (no lease in {timeout} s)")
        if self.params.autoconnect_retries == 0:
            step = self.step("failed to autoconnect; infinite tries left", "device_state_changed",
                             step)
            self.activate(step)
            return
        self.tries -= 1
        step = self.step(f"failed to autoconnect; {self.tries} tries left",
                         "device_state_changed", step)
        if self.tries > 0:
            self.activate(step)
            return
        step = self.step(f"autoconnect blocked for {AUTOCONNECT_RESET_RETRIES // S} s "
                         "(retries exhausted)", "_autoconnect_retries_set", step)
        self.arm(AUTOCONNECT_RESET_RETRIES, self._unblock, step)

    def _unblock(self, cause: int) -> None:
        self.tries = self.params.autoconnect_retries
        step = self.step(f"autoconnect retries reset to {self.tries}",
                         "nm_manager_devcon_autoconnect_retries_reset", cause)
        self.activate(step)


# -- systemd-networkd ---------------------------------------------------------------------

class NetworkdClient(DhcpClient):
    """systemd-networkd's sd-dhcp-client (D5): see the module docstring."""

    label = "systemd-networkd"
    rule = "D5"
    MAX_REQUEST_ATTEMPTS = 5
    TRANSIENT_FAILURE_ATTEMPTS = 3

    def __init__(self, endpoint: Endpoint, iface: IpIface, ref: str, params: ClientParams
                 ) -> None:
        super().__init__(endpoint, iface, ref, params)
        self.start_delay = 0
        self.discover_attempt = 0
        self.request_attempt = 0
        self.offer: Dhcp | None = None

    def _begin(self, cause: int) -> None:
        self.start_delay = 0
        self.start_delayed(cause)

    def start_delayed(self, cause: int) -> None:
        """client_start_delayed(): a new xid, INIT, the resend timer at start_delay."""
        self.attempt += 1
        self.xid = self.sim.rng.getrandbits(32)
        self.state = ClientState.INIT
        self.discover_attempt = 0
        self.request_attempt = 0
        self.arm(self.start_delay, self.timeout_resend, cause)

    def request_timeout(self, attempt: int) -> Time:
        """client_compute_request_timeout(): 2^min(attempt + 1, 6) s minus a fuzz in
        [-1, 1) s (RFC2131_RANDOM_FUZZ, microseconds)."""
        fuzz = (self.sim.rng.getrandbits(64) % (2 * 1_000_000) - 1_000_000) * US
        return (1 << min(attempt + 1, 6)) * S - fuzz

    def timeout_resend(self, cause: int) -> None:
        if self.state in (ClientState.INIT, ClientState.SELECTING):
            self.state = ClientState.SELECTING
            self.discover_attempt += 1
            wait = self.request_timeout(self.discover_attempt)
            self.arm(wait, self.timeout_resend, cause)
            self.send(DhcpType.DISCOVER, cause, f"DISCOVER (xid 0x{self.xid:08x}, attempt "
                      f"{self.discover_attempt}, next in {wait / S:.1f} s)",
                      "client_timeout_resend")
            if self.discover_attempt == self.TRANSIENT_FAILURE_ATTEMPTS:
                self.step("SD_DHCP_CLIENT_EVENT_TRANSIENT_FAILURE: no IPv4LL fallback "
                          "(LinkLocalAddressing= defaults to ipv6); still trying",
                          "client_timeout_resend", cause)
            return
        assert self.offer is not None
        if self.request_attempt >= self.MAX_REQUEST_ATTEMPTS:
            self.restart(cause, "Max REQUEST attempts reached. Restarting...")
            return
        self.request_attempt += 1
        wait = self.request_timeout(self.request_attempt)
        self.arm(wait, self.timeout_resend, cause)
        self.send(DhcpType.REQUEST, cause, f"REQUEST for {ip4_str(self.offer.yiaddr)} "
                  f"(xid 0x{self.xid:08x}, attempt {self.request_attempt}, next in "
                  f"{wait / S:.1f} s)", "client_timeout_resend",
                  requested=self.offer.yiaddr, server_id=self.offer.server_id)

    def restart(self, cause: int, why: str) -> None:
        """client_restart(): again from INIT after 1 s, doubling up to 30 min."""
        self.start_delay = min(max(self.start_delay * 2, 1 * S), 30 * 60 * S)
        step = self.step(f"{why} REBOOT in {self.start_delay / S:.0f}s", "client_restart", cause)
        self.start_delayed(step)

    def on_offer(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        if self.state is not ClientState.SELECTING or msg.xid != self.xid:
            self.ignore(frame, msg, "received unexpected message", "client_handle_message",
                        cause)
            return
        step = self.step(f"OFFER of {ip4_str(msg.yiaddr)} from {ip4_str(msg.server_id)}",
                         "client_handle_offer_or_rapid_ack", cause, uid=frame.uid,
                         data={"msg": "offer"})
        self.offer = msg
        self.state = ClientState.REQUESTING
        self.request_attempt = 0
        self.arm(0, self.timeout_resend, step)          # client_enter_requesting

    def on_ack(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        if self.state is not ClientState.REQUESTING or msg.xid != self.xid:
            self.ignore(frame, msg, "received message was not expected", "client_handle_message",
                        cause)
            return
        step = self.step(f"ACK of {ip4_str(msg.yiaddr)}", "client_handle_ack", cause,
                         uid=frame.uid, data={"msg": "ack"})
        self._cancel()
        self.bind(msg, step, "client_enter_bound")

    def on_nak(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        if self.state is not ClientState.REQUESTING or msg.xid != self.xid:
            self.ignore(frame, msg, "NAK not expected", "client_handle_message", cause)
            return
        step = self.step(f"NAK: {msg.message}", "client_handle_message", cause, uid=frame.uid)
        self.restart(step, "NAK received.")


# -- Windows ---------------------------------------------------------------------------------

class WindowsClient(DhcpClient):
    """The Windows DHCP client service (D6): see the module docstring."""

    label = "Windows"
    rule = "D6"
    broadcast_flag = True                      # Vista and later (KB 928233)
    DELAYS = (4, 8, 16, 32)                    # s, each +-1 s (KB Q190552, RFC 2131 4.1)
    RETRY = 300 * S                            # "every five minutes"

    def __init__(self, endpoint: Endpoint, iface: IpIface, ref: str, params: ClientParams
                 ) -> None:
        super().__init__(endpoint, iface, ref, params)
        self.count = 0
        self.offer: Dhcp | None = None

    def _begin(self, cause: int) -> None:
        self.attempt_start(cause)

    def delay(self, index: int) -> Time:
        fuzz = self.sim.rng.getrandbits(32) % (2 * 1_000_000) - 1_000_000
        return self.DELAYS[index] * S + fuzz * US

    def attempt_start(self, cause: int) -> None:
        self.attempt += 1
        self.xid = self.sim.rng.getrandbits(32)
        self.state = ClientState.SELECTING
        self.count = 0
        self.offer = None
        self.retransmit(cause)

    def retransmit(self, cause: int) -> None:
        if self.count >= len(self.DELAYS):
            self.attempt_failed(cause)
            return
        wait = self.delay(self.count)
        self.count += 1
        last = self.count == len(self.DELAYS)
        if self.state is ClientState.SELECTING:
            self.send(DhcpType.DISCOVER, cause,
                      f"DHCPDISCOVER (xid 0x{self.xid:08x}, #{self.count} of attempt "
                      f"{self.attempt}, {'attempt over' if last else 'next'} in "
                      f"{wait / S:.1f} s)", "dhcpcsvc")
        else:
            assert self.offer is not None
            self.send(DhcpType.REQUEST, cause,
                      f"DHCPREQUEST for {ip4_str(self.offer.yiaddr)} (xid 0x{self.xid:08x}, "
                      f"#{self.count})", "dhcpcsvc", requested=self.offer.yiaddr,
                      server_id=self.offer.server_id)
        self.arm(wait, self.retransmit, cause)

    def attempt_failed(self, cause: int) -> None:
        step = self.give_up(cause, f"no DHCPOFFER after {len(self.DELAYS)} DHCPDISCOVERs: the "
                            "attempt failed; retrying in 5 minutes", "dhcpcsvc",
                            "no DHCP answer in about 60 s")
        self.state = ClientState.INIT
        if self.lease is None and not self.link_local:
            octet3 = 1 + self.sim.rng.getrandbits(16) % 254
            octet4 = self.sim.rng.getrandbits(8)
            ip = (169 << 24) | (254 << 16) | (octet3 << 8) | octet4
            self.set_link_local(ip, step, f"autoconfiguration address {ip4_str(ip)}/16 (APIPA, "
                                "RFC 3927 169.254.1.0-169.254.254.255), no gateway", "APIPA")
        self.arm(self.RETRY, self.attempt_start, step)

    def on_offer(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        if self.state is not ClientState.SELECTING or msg.xid != self.xid:
            self.ignore(frame, msg, "not expected", "dhcpcsvc", cause)
            return
        step = self.step(f"DHCPOFFER of {ip4_str(msg.yiaddr)} from {ip4_str(msg.server_id)}",
                         "dhcpcsvc", cause, uid=frame.uid, data={"msg": "offer"})
        self.offer = msg
        self.state = ClientState.REQUESTING
        self.count = 0
        self.retransmit(step)

    def on_ack(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        if self.state is not ClientState.REQUESTING or msg.xid != self.xid:
            self.ignore(frame, msg, "not expected", "dhcpcsvc", cause)
            return
        step = self.step(f"DHCPACK of {ip4_str(msg.yiaddr)}", "dhcpcsvc", cause, uid=frame.uid,
                         data={"msg": "ack"})
        self._cancel()
        self.bind(msg, step, "dhcpcsvc")

    def on_nak(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        if self.state is not ClientState.REQUESTING or msg.xid != self.xid:
            self.ignore(frame, msg, "not expected", "dhcpcsvc", cause)
            return
        step = self.step(f"DHCPNAK: {msg.message}; starting over", "dhcpcsvc", cause,
                         uid=frame.uid)
        self.attempt_start(step)


# -- iPXE (a VM's PXE boot) -------------------------------------------------------------------

TICKS_PER_SEC = 1024                        # include/ipxe/timer.h


def ticks(t: Time) -> int:
    """currticks() difference of a simulated interval."""
    return t * TICKS_PER_SEC // S


def from_ticks(n: int) -> Time:
    return n * S // TICKS_PER_SEC


class IpxeClient(DhcpClient):
    """iPXE's DHCP client as the NIC option ROM runs it when a VM PXE-boots: see the
    module docstring; docs/models/dhcp.md has the schedule.

    The retransmissions come from the retry timer (``net/retry.c``), not from a table:
    ``dhcp_set_state`` sets the state's limits and ``start_timer_nodelay`` (timeout 0),
    so the first message goes at once; ``dhcp_tx`` calls ``start_timer``, which raises
    the timeout to the state's minimum (``DHCP_DISC_START_TIMEOUT_SEC`` 1 s, or
    ``DEFAULT_MIN_TIMEOUT`` 1/4 s for ``DHCP_REQ_START_TIMEOUT_SEC`` 0); each expiry
    (``timer_expired``) doubles it, and once the doubled value exceeds the maximum
    (``DHCP_DISC_END_TIMEOUT_SEC`` / ``DHCP_REQ_END_TIMEOUT_SEC`` 10 s) the expiry is a
    failure: ``dhcp_finished(-ETIMEDOUT)``. DISCOVERs therefore go at 0, 1, 3, 7 s and
    DHCP fails at 15 s; REQUESTs at 0, 0.25, 0.75, 1.75, 3.75, 7.75 s, failing at
    15.75 s. One xid (``random()``) for the whole session; the broadcast flag clear (set
    only for a link layer whose address is a name only, or when the NIC already has an
    IPv4 address: ``dhcp_create_packet``)."""

    label = "iPXE"
    rule = "D2"
    default_boot_delay = 4 * S
    """SeaBIOS's POST and the ROM's start (about 1 s: an estimate, QEMU/KVM) and the
    "Press Ctrl-B for the iPXE command line..." prompt of QEMU's build (roms/Makefile
    builds with CONFIG=qemu; config/qemu/general.h BANNER_TIMEOUT 30 = 3 s), after
    which netboot() opens the NIC (link up) and ifconf() starts DHCP. Set
    ``boot-delay`` from the VM's console if yours differs (a boot menu adds its wait)."""
    # config/dhcp.h
    DISC_START_TIMEOUT = 1 * TICKS_PER_SEC
    DISC_END_TIMEOUT = 10 * TICKS_PER_SEC
    DISC_MAX_DEFERRALS = 180
    DISC_PROXY_TIMEOUT = 2 * TICKS_PER_SEC
    REQ_START_TIMEOUT = 0
    REQ_END_TIMEOUT = 10 * TICKS_PER_SEC
    # include/ipxe/retry.h, net/retry.c
    DEFAULT_MIN_TIMEOUT = TICKS_PER_SEC // 4
    DEFAULT_MAX_TIMEOUT = 10 * TICKS_PER_SEC
    MIN_TIMEOUT = 7
    # config/qemu/general.h: the "Press Ctrl-B" prompt, in tenths of a second
    BANNER_TIMEOUT: Time = 30 * S // 10
    # usr/ifmgmt.c EADDRNOTAVAIL_CONFIG as a BIOS build prints it (errno 0x04, ERRFILE_ifmgmt,
    # disambiguator 1, PXENV_STATUS_UDP_OPEN 0x19)
    NO_CONFIG = "No configuration methods succeeded (https://ipxe.org/040ee119)"

    def __init__(self, endpoint: Endpoint, iface: IpIface, ref: str, params: ClientParams
                 ) -> None:
        super().__init__(endpoint, iface, ref, params)
        self.phase = ""                 # "discovery" | "request" | "" (finished)
        self.start_time: Time = 0       # dhcp->start
        self.count = 0                  # dhcp->count: expiries so far
        self.offer: Dhcp | None = None  # dhcp->offer / dhcp->server
        # struct retry_timer
        self.timeout = 0
        self.backed_off = 0
        self.min = 0
        self.max = 0

    def horizon(self) -> Time:
        return 20 * S

    def random(self) -> int:
        """core/random.c random(): a 31-bit LCG value in [1, 2147483562]."""
        return self.sim.rng.randrange(1, 2147483563)

    # -- net/retry.c
    def start_timer_fixed(self, timeout: int, cause: int) -> None:
        self.timeout = timeout
        self.arm(from_ticks(timeout), self.timer_expired, cause)

    def start_timer(self, cause: int) -> None:
        """The timeout raised to the minimum (0: DEFAULT_MIN_TIMEOUT; never under
        MIN_TIMEOUT)."""
        low = max(self.min or self.DEFAULT_MIN_TIMEOUT, self.MIN_TIMEOUT)
        self.start_timer_fixed(max(self.timeout, low), cause)

    def timer_expired(self, cause: int) -> None:
        """Back off (timeout <<= 1); past the maximum the expiry is a failure."""
        self.timer = None
        self.timeout <<= 1
        self.backed_off = self.timeout
        limit = self.max or self.DEFAULT_MAX_TIMEOUT
        fail = self.timeout > limit
        if fail:
            self.timeout = limit
        self.dhcp_timer_expired(fail, cause)

    # -- net/udp/dhcp.c
    def _begin(self, cause: int) -> None:
        """start_dhcp(): a new session, xid = random(), the discovery state."""
        self.attempt += 1
        self.xid = self.random()
        self.count = 0
        self.offer = None
        self.timeout = 0
        step = self.step(f"Configuring (net0 {mac_str(self.mac)}): start_dhcp, xid "
                         f"0x{self.xid:08x} for the whole session", "start_dhcp", cause)
        self.set_state("discovery", step)

    def set_state(self, phase: str, cause: int) -> None:
        """dhcp_set_state(): the state's timer limits, then start_timer_nodelay()."""
        self.phase = phase
        self.state = ClientState.SELECTING if phase == "discovery" else ClientState.REQUESTING
        self.start_time = self.sim.now
        if phase == "discovery":
            self.min, self.max = self.DISC_START_TIMEOUT, self.DISC_END_TIMEOUT
        else:
            self.min, self.max = self.REQ_START_TIMEOUT, self.REQ_END_TIMEOUT
        self.start_timer_fixed(0, cause)

    def link_blocked(self) -> bool:
        """netdev_link_blocked(): only net/stp.c blocks the link, for an RSTP BPDU
        (version 2, type 2) whose port is not forwarding. A Linux bridge's kernel STP
        sends 802.1D configuration BPDUs (version 0, br_send_config_bpdu), which stp_rx
        refuses as "Legacy STP packet received"; a switch with 802.1D STP (S8) likewise.
        Nothing in vnetlab sends RSTP BPDUs, so the link is never blocked and discovery
        is never deferred."""
        return False

    def dhcp_timer_expired(self, fail: bool, cause: int) -> None:
        if fail:
            self.finished_timeout(cause)
            return
        self.count += 1
        if self.phase == "discovery":
            self.discovery_expired(cause)
        else:
            self.dhcp_tx(cause)                 # dhcp_request_expired

    def discovery_expired(self, cause: int) -> None:
        """Give up waiting for ProxyDHCP once an OFFER is held and 2 s have passed;
        else resend (and defer the timeout while the link is blocked)."""
        elapsed = ticks(self.sim.now - self.start_time)
        if self.offer is not None and elapsed > self.DISC_PROXY_TIMEOUT:
            step = self.step(f"no ProxyDHCP offer {elapsed / TICKS_PER_SEC:.1f} s into "
                             f"discovery (DHCP_DISC_PROXY_TIMEOUT_SEC 2): requesting "
                             f"{ip4_str(self.offer.yiaddr)}", "dhcp_discovery_expired", cause)
            self.set_state("request", step)
            return
        self.dhcp_tx(cause)
        if self.link_blocked():
            self.defer(cause)

    def defer(self, cause: int) -> None:
        """dhcp_defer(): back to discovery, its first DISCOVER 1 s later."""
        if self.count > self.DISC_MAX_DEFERRALS:
            return
        step = self.step("deferring discovery", "dhcp_defer", cause)
        self.set_state("discovery", step)
        self.start_timer_fixed(self.DISC_START_TIMEOUT, step)

    def dhcp_tx(self, cause: int) -> None:
        """start_timer() first, then the message of the state; ``secs`` carries
        (count << 2) | (offer held: 2) | (ProxyDHCP offer held: 1)."""
        self.start_timer(cause)
        timeout = from_ticks(self.timeout)
        nxt = f"{(self.sim.now + timeout) / S:.2f}s"
        doubled = self.timeout << 1
        then = (f"fails at {nxt} if unanswered: {doubled / TICKS_PER_SEC:g} s would exceed "
                f"{self.max // TICKS_PER_SEC} s" if doubled > (self.max or self.DEFAULT_MAX_TIMEOUT)
                else f"next at {nxt}")
        tag = (self.count << 2) | (2 if self.offer is not None else 0)
        offer = self.offer
        what = "DHCPDISCOVER"
        if self.phase != "discovery":
            assert offer is not None
            what = f"DHCPREQUEST for {ip4_str(offer.yiaddr)} to {ip4_str(offer.server_id)}"
        note = (f"{what} (xid 0x{self.xid:08x}, timer expiry #{self.count} of the session, "
                f"timeout {timeout / S:g} s: {then})")
        if self.phase == "discovery":
            self.send(DhcpType.DISCOVER, cause, note, "dhcp_tx", secs_=tag)
            return
        assert offer is not None
        self.send(DhcpType.REQUEST, cause, note, "dhcp_tx", requested=offer.yiaddr,
                  server_id=offer.server_id, secs_=tag)

    def finished_timeout(self, cause: int) -> None:
        """dhcp_finished(-ETIMEDOUT); ifconf() reports that no configurator succeeded
        (a BIOS build undefines NET_PROTO_IPV6, so DHCP is the only one it waits for),
        netboot() fails, and after the Ctrl-B prompt the
        ROM returns to the BIOS, which tries the next boot device."""
        discovery = self.phase == "discovery"
        mtype = DhcpType.DISCOVER if discovery else DhcpType.REQUEST
        sent = sum(1 for s in self.sends if s.time >= self.start_time and s.mtype is mtype)
        limit = self.max // TICKS_PER_SEC
        self.phase = ""
        self.state = ClientState.STOPPED
        self.timer = None
        step = self.step(f"retry timer backed off to {self.backed_off / TICKS_PER_SEC:g} s > "
                         f"{limit} s: dhcp_finished(-ETIMEDOUT) (Connection timed out)",
                         "dhcp_timer_expired", cause)
        step = self.give_up(step, f"Configuring (net0 {mac_str(self.mac)})...... "
                            f"{self.NO_CONFIG}", "ifconf",
                            f"no {'DHCPOFFER' if discovery else 'DHCPACK'} to "
                            f"{plural(sent, mtype.name)} {secs(self.sim.now - self.start_time)} "
                            f"into {'discovery' if discovery else 'the request state'} "
                            f"(retry timer past {limit} s)")
        self.arm(self.BANNER_TIMEOUT, self.boot_next, step)

    def boot_next(self, cause: int) -> None:
        self.timer = None
        self.step("Press Ctrl-B for the iPXE command line... (3 s, not pressed): netboot "
                  "failed, the ROM returns to the BIOS, which boots the next device (none: "
                  "SeaBIOS prints \"No bootable device.\")", "ipxe", cause)

    def dhcp_deliver(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        """dhcp_deliver(): a reply with another xid is dropped; the rest goes to the
        state's rx (the chaddr check is the packet socket's)."""
        if not self.phase:
            self.ignore(frame, msg, "the DHCP session is finished", "dhcp_deliver", cause)
        elif msg.xid != self.xid:
            self.ignore(frame, msg, "has bad transaction ID", "dhcp_deliver", cause)
        elif self.phase == "discovery":
            self.discovery_rx(frame, msg, cause)
        else:
            self.request_rx(frame, msg, cause)

    on_offer = on_ack = on_nak = dhcp_deliver

    def discovery_rx(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        """dhcp_discovery_rx(): an OFFER is held (a later one of equal priority replaces
        it); with one held, any reply after 2 s into discovery moves on to the request
        state (else the first timer expiry after 2 s does)."""
        what = f"DHCP{msg.mtype.name} of {ip4_str(msg.yiaddr)} from {ip4_str(msg.server_id)}"
        if msg.mtype is DhcpType.OFFER and msg.yiaddr:
            self.offer = msg
        elif self.offer is None:
            self.ignore(frame, msg, "not a DHCPOFFER and no offer held", "dhcp_discovery_rx",
                        cause)
            return
        elapsed = ticks(self.sim.now - self.start_time)
        data = {"msg": "offer"} if self.offer is msg else None
        if elapsed > self.DISC_PROXY_TIMEOUT:
            step = self.step(f"{what} {elapsed / TICKS_PER_SEC:.1f} s into discovery: "
                             f"requesting {ip4_str(self.offer.yiaddr)}", "dhcp_discovery_rx",
                             cause, uid=frame.uid, data=data)
            self.set_state("request", step)
            return
        self.step(f"{what} held; no PXEClient vendor class: waiting for ProxyDHCP offers "
                  "until 2 s into discovery (DHCP_DISC_PROXY_TIMEOUT_SEC)", "dhcp_discovery_rx",
                  cause, uid=frame.uid, data=data)

    def request_rx(self, frame: Frame, msg: Dhcp, cause: int) -> None:
        """dhcp_request_rx(): only the selected server; a DHCPNAK defers discovery; a
        DHCPACK of the offered address registers the settings and ends the session."""
        offer = self.offer
        assert offer is not None
        if msg.server_id != offer.server_id:
            self.ignore(frame, msg, "not from the selected server", "dhcp_request_rx", cause)
            return
        if msg.mtype is DhcpType.NAK:
            step = self.step(f"DHCPNAK from {ip4_str(msg.server_id)}: {msg.message}",
                             "dhcp_request_rx", cause, uid=frame.uid)
            self.defer(step)
            return
        if msg.mtype is not DhcpType.ACK or msg.yiaddr != offer.yiaddr:
            self.ignore(frame, msg, "not a DHCPACK of the offered address", "dhcp_request_rx",
                        cause)
            return
        step = self.step(f"DHCPACK of {ip4_str(msg.yiaddr)} from {ip4_str(msg.server_id)}: "
                         "settings registered, dhcp_finished(0)", "dhcp_request_rx", cause,
                         uid=frame.uid, data={"msg": "ack"})
        self.phase = ""
        self._cancel()
        self.bind(msg, step, "register_settings", renewal=0)     # iPXE never renews


CLIENT_CLASSES: dict[str, type[DhcpClient]] = {
    "networkmanager": NetworkManagerClient,
    "dhclient": Dhclient,
    "systemd-networkd": NetworkdClient,
    "windows": WindowsClient,
    "ipxe": IpxeClient,
}


def default_boot_delay(client: str) -> Time:
    """VM start -> the client's first run when the VM sets no ``boot-delay``."""
    return CLIENT_CLASSES[client].default_boot_delay


def make_client(endpoint: Endpoint, iface: IpIface, ref: str, params: ClientParams
                ) -> DhcpClient:
    return CLIENT_CLASSES[params.client](endpoint, iface, ref, params)


@dataclass(slots=True)
class DhcpWorld:
    """Every DHCP participant of a lab (``Lab.dhcp``)."""

    clients: dict[str, DhcpClient] = field(default_factory=dict)
    servers: list[DhcpServer] = field(default_factory=list)
    relays: list[DhcpRelay] = field(default_factory=list)
    agents: dict[str, DhcpAgent] = field(default_factory=dict)

    def agent(self, endpoint: Endpoint) -> DhcpAgent:
        if endpoint.name not in self.agents:
            self.agents[endpoint.name] = DhcpAgent(endpoint)
        return self.agents[endpoint.name]

    def client(self, ref: str) -> DhcpClient | None:
        """``vm1`` (its first DHCP NIC) or ``vm1:eth0``."""
        if ref in self.clients:
            return self.clients[ref]
        return next((c for name, c in self.clients.items() if name.partition(":")[0] == ref),
                    None)
