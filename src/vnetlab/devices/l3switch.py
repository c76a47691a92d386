"""An L3 switch: SVIs (``interface VlanN``), a vendor ARP cache with adjacencies,
and routing between the SVIs' subnets.

A model of what field report seed 003 case 1 observed from outside (black box)
and of the documented vendor behaviour behind it, not of one vendor's code:

* An SVI is the switch's own port in its VLAN (S1): a frame to the SVI's MAC in
  that VLAN, and a copy of every broadcast in it, reach the switch's IP stack; the
  switch answers ARP for the SVI address and ICMP echo to it, and routes a packet
  sent to its MAC between the SVIs' connected subnets (RFC 1812 5.2: TTL check and
  decrement, next hop = the destination on a connected subnet).
* The ARP cache is a *vendor* cache (RFC 826 with the host-route/adjacency of an
  ASIC), not Linux's neighbour state machine (§10 is for hosts): an entry holds the
  MAC and an adjacency, the egress port the routed packets leave on. It is created
  by an ARP addressed to an SVI address (a request for it or a reply to it: RFC 826
  "am I the target?"), updated by any ARP whose sender it holds (RFC 826 merge:
  gratuitous ARP, replies, requests for others), and lives ``arp-timeout`` from its
  last update (Cisco IOS ``arp timeout``, 4 h; S9). A RARP (QEMU's self-announce)
  carries no IP and updates no ARP entry, only the MAC table (S10).
* ``on-fdb-move``: ``refresh`` - the adjacency's port follows the MAC table: every
  routed packet's rewritten destination MAC is looked up in the egress VLAN's MAC
  table (Cisco CEF: the adjacency is a MAC rewrite, the port comes from the L2
  lookup, which is why S9's unicast flooding exists), so a RARP that moves the MAC
  moves routed traffic at once (seed 003's first behaviour; Huawei's ``mac-address
  update arp``). ``keep`` - the adjacency keeps the egress port it had when its ARP
  entry was (re)learned; a MAC move does not touch it (Dell PowerSwitch N-series
  user guide, "ARP Table": "Host or VM movement within the same VLAN (Layer-2
  topology change) does not trigger an ARP refresh. Only if the ARP entry is timed
  out or the port associated with the ARP entry goes down ... Any gratuitous ARP
  request sent by a host or VM results in an ARP entry update (including ... outgoing
  port)"; Huawei without ``mac-address update arp``): routed packets go out of the
  old port until an ARP from that IP arrives or the entry times out (the second
  behaviour). The default is ``refresh``: the defaults are Cisco IOS's, and IOS
  routes through the MAC table.
* ``arp-refresh``: when an entry times out the switch first polls the cached MAC
  with unicast ARP requests (Cisco: "ARP process will first try to refresh the
  current entry", a unicast request; RFC 1122 2.3.2.1 "unicast poll ... typically N
  is 2"): ``REFRESH_POLLS`` requests ``ARP_RETRY`` apart, sent like a routed packet
  (through the adjacency); a reply refreshes the entry, none removes it, and the next
  packet resolves by broadcast. Without it the entry is removed at once.
* No ARP entry (glean adjacency): a broadcast request in the VLAN, at most one per
  ``ARP_RETRY`` per address, and the packet is dropped (IOS does not queue it: a
  router's first ping is lost).
* S9: a routed packet whose destination MAC the MAC table no longer holds (the MAC
  aged out, 300 s, while the ARP entry, 4 h, lives) is flooded as unknown unicast to
  every port of the VLAN; with ``keep`` the cached port is used while it is up.

Real ASICs do this with host routes and adjacency tables whose cached egress port is
(or is not) re-synced on a MAC move; vendors differ, and this is the black-box
behaviour, two options wide.

Limitations: connected subnets only (no static routes on the switch, no routing
protocols, no VRFs); SVIs are always up (no autostate); no ICMP errors (time
exceeded, unreachable, redirect), no proxy ARP, no DHCP relay (``ip helper-address``),
no directed broadcasts; packets are not fragmented (the switch's MTU applies at the
ports); the keep adjacency falls back to the MAC table when its port is down or
left the VLAN (no adjacency invalidation on link down); one ARP cache (no per-SVI
timeout); no ARP rate limiting or inspection beyond the glean throttle.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from vnetlab.net.addr import BROADCAST, Ip4, Mac, ip4_str, mac_str, netmask
from vnetlab.net.frame import (
    Arp,
    ArpOp,
    EtherType,
    Frame,
    Icmp,
    IcmpType,
    Ipv4,
    arp_reply,
    arp_request,
)
from vnetlab.sim.time import S, Time, format_duration
from vnetlab.sim.trace import Action, DropReason

if TYPE_CHECKING:
    from vnetlab.devices.switch import Switch, SwitchPort
    from vnetlab.sim.sim import Timer

DEFAULT_ARP_TIMEOUT: Time = 4 * 3600 * S    # Cisco IOS ``arp timeout`` (S9)
ARP_RETRY: Time = 1 * S                     # between refresh polls, and glean requests
REFRESH_POLLS = 2                           # RFC 1122 2.3.2.1: "typically N is 2"
OWN_TTL = 255                               # Cisco IOS: packets the router itself sends
FN_ARP = "RFC 826 (vendor ARP cache)"
FN_POLL = "RFC 1122 2.3.2.1 unicast poll"
FN_ROUTE = "RFC 1812 5.2 (SVI routing)"
FN_GLEAN = "ARP glean"


def secs(t: Time) -> str:
    """An age in tenths of seconds: ``12.3s``."""
    return f"{t / S:.1f}s"


@dataclass(frozen=True, slots=True)
class SviConfig:
    """``interface VlanN`` / ``ip address``: the switch's port in VLAN ``vlan``."""

    vlan: int
    address: Ip4
    plen: int
    mac: Mac

    @property
    def name(self) -> str:
        return f"Vlan{self.vlan}"

    def on_link(self, ip: Ip4) -> bool:
        return (ip ^ self.address) & netmask(self.plen) == 0


@dataclass(frozen=True, slots=True)
class L3Config:
    """``switches.X.l3`` (docs/topology.md)."""

    arp_timeout: Time = DEFAULT_ARP_TIMEOUT
    on_fdb_move: str = "refresh"            # refresh | keep
    arp_refresh: bool = True


class ArpEntry:
    """An ARP cache entry and its adjacency (MAC rewrite + egress port)."""

    __slots__ = ("ip", "mac", "polls", "port", "port_since", "step", "timer", "updated", "vid")

    def __init__(self, ip: Ip4, mac: Mac, vid: int, port: SwitchPort, now: Time) -> None:
        self.ip = ip
        self.mac = mac
        self.vid = vid
        self.port = port                    # the adjacency's egress port
        self.port_since = now               # when the adjacency got that port
        self.updated = now                  # the ARP entry's age runs from here
        self.step = 0                       # the step that set MAC and port
        self.polls = 0                      # unicast refresh requests sent since expiry
        self.timer: Timer | None = None


class SwitchL3:
    """The routing part of one switch (``svis:`` and ``l3:``)."""

    def __init__(self, switch: Switch, svis: list[SviConfig], config: L3Config) -> None:
        self.switch = switch
        self.sim = switch.sim
        self.where = switch.where
        self.config = config
        self.svis: dict[int, SviConfig] = {svi.vlan: svi for svi in svis}
        self.local: dict[Ip4, SviConfig] = {svi.address: svi for svi in svis}
        self.arp: dict[Ip4, ArpEntry] = {}
        self.glean_at: dict[Ip4, Time] = {}     # last broadcast request per unresolved IP

    def describe(self) -> str:
        return (f"arp-timeout {format_duration(self.config.arp_timeout)}, on-fdb-move "
                f"{self.config.on_fdb_move}, arp-refresh {'on' if self.config.arp_refresh else 'off'}")

    # -- input: what the switch's forwarding process hands to an SVI -----------------------
    def receive(self, frame: Frame, ingress: SwitchPort, vid: int, cause: int) -> None:
        """A frame to the SVI's MAC, or a copy of a broadcast, in VLAN ``vid``."""
        svi = self.svis[vid]
        payload = frame.payload
        if type(payload) is Arp:
            if frame.ethertype == EtherType.ARP:
                self.arp_input(svi, frame, payload, ingress, cause)
            elif self.sim.tracing:
                self.sim.step(self.where, svi.name, Action.NOTE, frame.uid,
                              f"RARP from {mac_str(frame.src)} on {ingress.name}: it carries no IP "
                              "address, so the ARP cache is not updated (the MAC table learned "
                              "it)", FN_ARP, "S10", cause=cause)
            return
        if type(payload) is Ipv4:
            self.ip_input(svi, frame, payload, ingress, cause)

    def arp_input(self, svi: SviConfig, frame: Frame, arp: Arp, ingress: SwitchPort,
                  cause: int) -> None:
        """RFC 826 reception: merge the sender into an existing entry (any ARP), add it
        when an SVI address is the target, answer a request for an SVI address."""
        spa = arp.spa
        if not svi.on_link(spa) or spa == svi.address:
            return                          # not a neighbour on this SVI (or our own address)
        for_us = arp.tpa == svi.address and not arp.is_gratuitous
        if spa in self.arp or for_us:
            why = ("gratuitous ARP" if arp.is_gratuitous else
                   f"ARP reply to {ip4_str(arp.tpa)}" if arp.op is ArpOp.REPLY else
                   f"ARP request for {ip4_str(arp.tpa)}")
            self.learn(svi, spa, arp.sha, ingress, frame, cause, why)
        if arp.op is ArpOp.REQUEST and for_us:
            sim = self.sim
            reply = arp_reply(sim.new_uid(), svi.mac, svi.address, arp.sha, spa)
            step = sim.step(self.where, svi.name, Action.TRANSMIT, reply.uid,
                            f"sent {reply.describe()}", FN_ARP, cause=cause)
            self.l2_send(reply, svi.vlan, step)

    def learn(self, svi: SviConfig, ip: Ip4, mac: Mac, port: SwitchPort, frame: Frame,
              cause: int, why: str) -> None:
        """Add or update an entry: its age restarts, its MAC and adjacency port are the
        ARP's sender and ingress port (both modes: an ARP re-learns the adjacency)."""
        sim = self.sim
        now = sim.now
        entry = self.arp.get(ip)
        self.glean_at.pop(ip, None)
        data = {"ip": ip4_str(ip), "mac": mac_str(mac), "port": port.name, "adjacency": True}
        if entry is None:
            entry = self.arp[ip] = ArpEntry(ip, mac, svi.vlan, port, now)
            entry.step = sim.step(self.where, svi.name, Action.NEIGH, frame.uid,
                                  f"ARP {ip4_str(ip)} is-at {mac_str(mac)} learned from {why} "
                                  f"on {port.name}: adjacency via {port.name}", FN_ARP, "S10",
                                  cause=cause, data=data)
        elif entry.mac != mac or entry.port is not port or entry.vid != svi.vlan:
            old = f"{mac_str(entry.mac)} via {entry.port.name}"
            entry.mac, entry.port, entry.vid, entry.port_since = mac, port, svi.vlan, now
            entry.step = sim.step(self.where, svi.name, Action.NEIGH, frame.uid,
                                  f"ARP {ip4_str(ip)} is-at {mac_str(mac)} via {port.name} "
                                  f"(was {old}): updated by {why}", FN_ARP, "S10",
                                  cause=cause, ref=entry.step, data=data)
        elif sim.tracing:
            sim.step(self.where, svi.name, Action.NEIGH, frame.uid,
                     f"ARP {ip4_str(ip)} is-at {mac_str(mac)} via {port.name} refreshed by "
                     f"{why} (age was {secs(now - entry.updated)})", FN_ARP, "S10", cause=cause,
                     ref=entry.step)
        entry.updated = now
        entry.polls = 0
        if entry.timer is not None:
            entry.timer.cancel()
        entry.timer = sim.timer(self.config.arp_timeout, self._expired, entry)

    def fdb_moved(self, mac: Mac, vid: int, port: SwitchPort, cause: int) -> None:
        """The MAC table learned ``mac`` on ``port`` (new, moved or after ageing): the
        adjacencies of that MAC follow (``refresh``) or keep their port (``keep``)."""
        for entry in self.arp.values():
            if entry.mac != mac or entry.vid != vid or entry.port is port:
                continue
            old = entry.port.name
            ip = ip4_str(entry.ip)
            if self.config.on_fdb_move == "refresh":
                entry.port, entry.port_since = port, self.sim.now
                entry.step = self.sim.step(
                    self.where, f"Vlan{vid}", Action.NEIGH, 0,
                    f"adjacency {ip} follows {mac_str(mac)} from {old} to {port.name}: the MAC "
                    "table moved it (on-fdb-move refresh)", FN_ARP, "S10", cause=cause,
                    ref=entry.step, data={"ip": ip, "mac": mac_str(mac), "port": port.name,
                                          "adjacency": True})
            else:
                self.sim.step(self.where, f"Vlan{vid}", Action.NOTE, 0,
                              f"adjacency {ip} stays on {old}: the MAC table moved "
                              f"{mac_str(mac)} to {port.name}, the ARP entry is not updated "
                              "(on-fdb-move keep)", FN_ARP, "S10", cause=cause, ref=entry.step)

    # -- ARP ageing and refresh --------------------------------------------------------------
    def _expired(self, entry: ArpEntry) -> None:
        entry.timer = None
        if self.arp.get(entry.ip) is not entry:
            return
        if not self.config.arp_refresh:
            self._remove(entry, f"ARP {ip4_str(entry.ip)} timed out after "
                         f"{format_duration(self.config.arp_timeout)}: removed (arp-refresh "
                         "off); the next packet resolves it by broadcast")
            return
        entry.polls = 0
        self._poll(entry)

    def _poll(self, entry: ArpEntry) -> None:
        """One unicast refresh request to the cached MAC, through the adjacency."""
        entry.timer = None
        if self.arp.get(entry.ip) is not entry:
            return
        if entry.polls >= REFRESH_POLLS:
            self._remove(entry, f"ARP {ip4_str(entry.ip)}: no reply to {REFRESH_POLLS} unicast "
                         f"refresh requests to {mac_str(entry.mac)}: removed; the next packet "
                         "resolves it by broadcast")
            return
        entry.polls += 1
        sim = self.sim
        svi = self.svis[entry.vid]
        frame = arp_request(sim.new_uid(), svi.mac, svi.address, entry.ip, dst=entry.mac)
        step = sim.step(self.where, svi.name, Action.TRANSMIT, frame.uid,
                        f"ARP {ip4_str(entry.ip)} timed out (age "
                        f"{secs(sim.now - entry.updated)}): unicast refresh request {entry.polls}"
                        f" of {REFRESH_POLLS} to {mac_str(entry.mac)}", FN_POLL, "S9",
                        ref=entry.step)
        self.adjacency_send(entry, frame, step, f"refresh request for {ip4_str(entry.ip)}")
        entry.timer = sim.timer(ARP_RETRY, self._poll, entry)

    def _remove(self, entry: ArpEntry, note: str) -> None:
        del self.arp[entry.ip]
        if entry.timer is not None:
            entry.timer.cancel()
            entry.timer = None
        self.sim.step(self.where, f"Vlan{entry.vid}", Action.NEIGH, 0, note, FN_ARP, "S9",
                      ref=entry.step, data={"ip": ip4_str(entry.ip), "state": "removed"})

    # -- IP -----------------------------------------------------------------------------------
    def route(self, dst: Ip4) -> SviConfig | None:
        """The SVI whose connected subnet holds ``dst``, longest prefix first."""
        best: SviConfig | None = None
        for svi in self.svis.values():
            if svi.on_link(dst) and (best is None or svi.plen > best.plen):
                best = svi
        return best

    def ip_input(self, svi: SviConfig, frame: Frame, packet: Ipv4, ingress: SwitchPort,
                 cause: int) -> None:
        """An IPv4 packet to the SVI's MAC: for an SVI address (ICMP echo), or routed
        (RFC 1812 5.2: route, TTL, TTL - 1, the egress SVI's adjacency)."""
        if frame.dst != svi.mac:
            return                          # a broadcast (DHCP...): no service on the SVI
        sim = self.sim
        if packet.dst in self.local:
            self._local(svi, frame, packet, cause)
            return
        out = self.route(packet.dst)
        if out is None:
            sim.step(self.where, svi.name, Action.DROP, frame.uid,
                     f"no route to {ip4_str(packet.dst)}: not routed (the switch knows its SVIs' "
                     "subnets only)", FN_ROUTE, reason=DropReason.NO_ROUTE, cause=cause)
            return
        if packet.ttl <= 1:
            sim.step(self.where, svi.name, Action.DROP, frame.uid,
                     f"{packet.describe()}: TTL {packet.ttl} expires here, not routed",
                     "RFC 1812 5.3.1", reason=DropReason.TTL_EXPIRED, cause=cause)
            return
        routed = replace(packet, ttl=packet.ttl - 1)
        self.ip_output(out, routed, frame.uid, cause,
                       f"routed {ip4_str(packet.src)} > {ip4_str(packet.dst)} ({svi.name} -> "
                       f"{out.name})")

    def _local(self, svi: SviConfig, frame: Frame, packet: Ipv4, cause: int) -> None:
        """An SVI address: ICMP echo is answered; nothing else listens."""
        sim = self.sim
        icmp = packet.payload
        if type(icmp) is not Icmp or icmp.type is not IcmpType.ECHO_REQUEST:
            sim.step(self.where, svi.name, Action.DROP, frame.uid,
                     f"{packet.describe()}: no service on the SVI for it (only ICMP echo is "
                     "modelled)", FN_ROUTE, reason=DropReason.NO_SOCKET, cause=cause)
            return
        if sim.tracing:
            cause = sim.step(self.where, svi.name, Action.DELIVER, frame.uid,
                             f"echo request from {ip4_str(packet.src)} seq={icmp.seq}: replying",
                             "icmp_echo", cause=cause)
        reply = Ipv4(packet.dst, packet.src, Icmp(IcmpType.ECHO_REPLY, icmp.ident, icmp.seq,
                                                  icmp.size), ttl=OWN_TTL)
        out = self.route(packet.src)
        if out is None:
            sim.step(self.where, svi.name, Action.DROP, frame.uid,
                     f"no route to {ip4_str(packet.src)}: not routed (the switch knows its SVIs' "
                     "subnets only)", FN_ROUTE, reason=DropReason.NO_ROUTE, cause=cause)
            return
        self.ip_output(out, reply, sim.new_uid(), cause,
                       f"own packet {ip4_str(reply.src)} > {ip4_str(reply.dst)} ({out.name})")

    def ip_output(self, svi: SviConfig, packet: Ipv4, uid: int, cause: int, head: str) -> None:
        """Out of ``svi`` to a connected destination: its adjacency, or glean."""
        entry = self.arp.get(packet.dst)
        if entry is None or entry.vid != svi.vlan:
            self._glean(svi, packet, uid, cause)
            return
        frame = Frame(entry.mac, svi.mac, EtherType.IPV4, packet, uid)
        self.adjacency_send(entry, frame, cause, head)

    def _glean(self, svi: SviConfig, packet: Ipv4, uid: int, cause: int) -> None:
        """No ARP entry: a broadcast request (one per ARP_RETRY per address), the
        packet dropped (glean adjacency: not queued)."""
        sim = self.sim
        ip = packet.dst
        last = self.glean_at.get(ip)
        ask = last is None or sim.now - last >= ARP_RETRY
        why = ("ARP request broadcast in vlan" if ask else
               f"ARP request already sent {secs(sim.now - (last or 0))} ago in vlan")
        drop = sim.step(self.where, svi.name, Action.DROP, uid,
                        f"no ARP entry for {ip4_str(ip)} on {svi.name}: {why} {svi.vlan}, "
                        "packet dropped (glean)", FN_GLEAN, "S10", reason=DropReason.ARP_GLEAN,
                        cause=cause)
        if not ask:
            return
        self.glean_at[ip] = sim.now
        request = arp_request(sim.new_uid(), svi.mac, svi.address, ip)
        step = sim.step(self.where, svi.name, Action.TRANSMIT, request.uid,
                        f"sent {request.describe()}", FN_GLEAN, "S10", cause=drop)
        self.l2_send(request, svi.vlan, step)

    # -- out through the switch's own forwarding ------------------------------------------------
    def adjacency_send(self, entry: ArpEntry, frame: Frame, cause: int, head: str) -> None:
        """A frame to a cached neighbour: ``keep`` uses the adjacency's port while it can
        send in the VLAN; ``refresh`` (and a keep port that cannot) asks the MAC table,
        and a MAC it does not hold is flooded in the VLAN (S9)."""
        sim = self.sim
        switch = self.switch
        vid = entry.vid
        now = sim.now
        age = secs(now - entry.updated)
        ip, mac = ip4_str(entry.ip), mac_str(entry.mac)
        port = entry.port
        if self.config.on_fdb_move == "keep" and port in switch.logical and port.member(vid) \
                and port.pick_member(frame) is not None:
            if sim.tracing:
                live = switch.fdb.entries.get(entry.mac | vid << 48)
                fdb_port = (live.port.name if live is not None and
                            now < live.updated + switch.fdb.ageing_time else "")
                cause = sim.step(
                    self.where, port.name, Action.FORWARD, frame.uid,
                    f"{head}: adjacency {ip} is-at {mac} via {port.name} (ARP entry age {age}, "
                    f"port set {secs(now - entry.port_since)} ago; on-fdb-move keep)",
                    FN_ROUTE, "S10", cause=cause, ref=entry.step,
                    data={"adjacency": ip, "mac": mac, "port": port.name,
                          "age_ns": now - entry.updated, "port_age_ns": now - entry.port_since,
                          "fdb_port": fdb_port, "mode": "keep"})
            self.port_send(port, frame, vid, cause)
            return
        found = switch.fdb.find(entry.mac, vid, cause)
        if found is None:
            if sim.tracing:
                cause = sim.step(
                    self.where, f"Vlan{vid}", Action.FLOOD, frame.uid,
                    f"flooding unknown unicast {mac} in vlan {vid}: {head}, adjacency {ip} "
                    f"(ARP entry age {age}) outlives the MAC table entry (S9)", FN_ROUTE, "S9",
                    cause=cause, ref=entry.step,
                    data={"adjacency": ip, "mac": mac, "age_ns": now - entry.updated})
            self.flood(frame, vid, cause)
            return
        if sim.tracing:
            cause = sim.step(
                self.where, found.port.name, Action.FORWARD, frame.uid,
                f"{head}: adjacency {ip} is-at {mac} (ARP entry age {age}); MAC table hit: "
                f"{found.port.name}", FN_ROUTE, "S1", cause=cause, ref=found.step,
                data={"adjacency": ip, "mac": mac, "port": found.port.name,
                      "age_ns": now - entry.updated, "mode": "refresh"})
        self.port_send(found.port, frame, vid, cause)

    def l2_send(self, frame: Frame, vid: int, cause: int) -> None:
        """A frame the switch itself sends in ``vid`` (ARP): broadcast is flooded to the
        VLAN, unicast follows the MAC table (unknown: flooded)."""
        if frame.dst == BROADCAST:
            self.flood(frame, vid, cause)
            return
        found = self.switch.fdb.find(frame.dst, vid, cause)
        if found is None:
            self.flood(frame, vid, cause)
            return
        self.port_send(found.port, frame, vid, cause)

    def port_send(self, port: SwitchPort, frame: Frame, vid: int, cause: int) -> None:
        member = port.pick_member(frame) if port.member(vid) else None
        if member is None:
            reason, words, fn, rule = port.refusal()
            if not port.member(vid):
                reason, words, fn, rule = (DropReason.VLAN_EGRESS, f"not in vlan {vid}",
                                           "802.1Q 8.6.4 egress filtering", "S1")
            self.sim.step(self.where, port.name, Action.DROP, frame.uid,
                          f"{mac_str(frame.dst)} is behind {port.name}, which is {words}", fn,
                          rule, reason=reason, cause=cause)
            return
        member.xmit(port.egress(frame, vid), cause, 0)

    def flood(self, frame: Frame, vid: int, cause: int) -> None:
        """Every logical port of the VLAN with a member that can send (no ingress port:
        the frame comes from the switch itself), one copy per LAG (S1, S3)."""
        sim = self.sim
        tracing = sim.tracing
        for port in self.switch.logical:
            if not port.member(vid):
                continue
            member = port.pick_member(frame)
            if member is None:
                if tracing:
                    port.skip_step(self.where, frame, cause)
                continue
            member.xmit(port.egress(frame, vid), cause, 0)
