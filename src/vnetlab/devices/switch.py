"""A physical Ethernet switch: an IEEE 802.1D/802.1Q learning bridge with
static and LACP link aggregation, MAC-move detection, port security and STP
edge/non-edge port timers.

Mirrors: IEEE 802.1Q §8.6-8.8 (forwarding process, filtering database,
learning), IEEE 802.1AX (a LAG is one logical port: learning and the "never
back out of the ingress port" rule apply to the LAG as a whole, and a flood
sends one copy to the LAG on the member its hash picks; LACP per
``devices/lacp.py``), IEEE 802.1D-1998 §8.4 port states. Semantics S1-S8.

Vendor choices are options, not personalities (ARCHITECTURE decision 4):
``mac-ageing-time`` (300 s); LAG ``hash`` (``src-mac``, ``dst-mac``,
``src-dst-mac``; default ``src-dst-mac``); LACP ``lacp-mode`` (active |
passive), ``lacp-rate`` (slow | fast: the rate the switch asks the partner
to send at), ``lacp-fallback`` (individual | suspend: what a member with no
LACP partner does, S5); ``mac-move`` (none | log | block-port with a
threshold of moves in a window and an optional errdisable recovery, S6);
per-port ``port-security`` (max MACs; shutdown | restrict | protect, S7);
``stp`` (listening/learning timers after link up on non-edge ports, S8);
per-port ``vlan`` (access VLAN, or trunk with allowed VLANs and a native VLAN)
and the switch's ``access-tagged`` (drop | accept-access-vlan: what an access
port does with a frame tagged with its own VLAN; Cisco drops every tagged
frame on an access port); ``mtu`` (1500: jumbo frames off), enforced where
each port receives (``LinkedDevice.giant_limit``: a longer frame is dropped
as a giant, MTU4).

VLANs (802.1Q, S1, ``docs/models/vlan.md``): every port defaults to access
VLAN 1. Ingress (802.1Q 6.9, 8.6.2): an untagged frame takes the access or
native VLAN (a trunk with ``native: none``, or whose native VLAN is not
allowed, drops it); a tagged frame is dropped on an access port (unless
``accept-access-vlan`` and its VID is the access VLAN) and on a trunk that
does not allow its VID. Learning and the MAC table are per VLAN (S1),
floods reach only the VLAN's member ports, and a frame leaves untagged on an
access port or in a trunk's native VLAN, tagged otherwise.

Logical ports change at run time (a LACP member bundles, falls back to an
individual port, is suspended or err-disabled): the filtering database
points at logical-port objects, and a logical port that loses its last
usable member has its entries flushed (S2). The per-frame path stays the
one of a plain learning switch: a physical port whose logical port needs a
check (not bundled yet, suspended, STP listening/learning, port security) has
``handle_frame_checked`` as its receive handler, every other port goes
straight to ``handle_frame``.

Limitations: no VLAN database (every VID 1-4094 exists), no per-VLAN STP,
no voice VLAN, no QinQ/802.1ad, no VLAN pruning (VTP/MVRP); STP is only the port-state timer
after link up (no BPDUs, no topology computation, no blocking, no
topology-change fast ageing: loops are left to the storm guard); no LACP
Marker protocol, no LACP port priority/standby limits (every member with the
LAG's partner bundles); port-security secure MACs never age (Cisco's default
aging time 0) and are forgotten when the port goes down; err-disable is an
administrative shutdown of the members (the far end loses carrier), and only
mac-flap err-disables recover by timer. Link-local group addresses
(01:80:c2:00:00:0x) are consumed, never flooded; LACPDUs go to the port's
LACP machines when it runs LACP.

An L3 switch (``svis:``) hands frames to its SVIs after learning: a frame to an
SVI's MAC in that SVI's VLAN goes to the switch's IP stack instead of the MAC
table, a broadcast in it is flooded and a copy goes up too; every learn or
move is told to the ARP cache (``on-fdb-move``). Routing, the ARP cache and its
adjacencies live in ``devices/l3switch.py`` (S9, S10).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from vnetlab.devices.fdb import DEFAULT_AGEING, Fdb, FdbEntry
from vnetlab.devices.lacp import IEEE, LacpPort, Reselect, group_by_partner
from vnetlab.devices.netdev import NetDevice, Nic
from vnetlab.net.addr import BROADCAST, Mac, mac_str
from vnetlab.net.frame import EtherType, Frame, with_vlan
from vnetlab.sim.sim import Sim, Timer
from vnetlab.sim.time import S, Time, format_duration
from vnetlab.sim.trace import Action, DropReason

if TYPE_CHECKING:
    from vnetlab.devices.l3switch import SwitchL3

FN_SELECT = "802.1AX-2014 6.4.14 Selection Logic"
FN_STP = "802.1D-1998 8.4 port states"
FN_ERRDISABLE = "errdisable"


class LagHash(StrEnum):
    """``port-channel load-balance`` choices (S3)."""

    SRC_MAC = "src-mac"
    DST_MAC = "dst-mac"
    SRC_DST_MAC = "src-dst-mac"


class StpState(StrEnum):
    """802.1D-1998 §8.4 port states (no BLOCKING: no BPDUs are modelled)."""

    DISABLED = "disabled"
    LISTENING = "listening"
    LEARNING = "learning"
    FORWARDING = "forwarding"


class PortRole(StrEnum):
    """What a physical port of a LACP LAG is doing now (S4, S5)."""

    DOWN = "down"                   # no link
    WAITING = "waiting"             # LACP negotiating: no traffic yet
    BUNDLED = "bundled"             # collecting/distributing in the LAG
    INDIVIDUAL = "individual"       # forwards as its own logical port
    SUSPENDED = "suspended"         # only LACPDUs pass (lacp suspend-individual)


# -- configuration (the build turns the spec into these) --------------------------------------

@dataclass(frozen=True, slots=True)
class LagConfig:
    """A port-channel: ``static`` ("mode on", S3) or ``lacp`` (S4, S5)."""

    name: str
    ports: list[str]
    hash: LagHash = LagHash.SRC_DST_MAC
    mode: str = "static"                    # static | lacp
    lacp_active: bool = True
    lacp_fast: bool = False
    fallback: str = "individual"            # individual | suspend
    system_priority: int = 32768


@dataclass(frozen=True, slots=True)
class MacMoveConfig:
    """MAC-move (flap) detection (S6)."""

    action: str = "none"                    # none | log | block-port
    threshold: int = 10
    window: Time = 10 * S
    recovery: Time | None = None


@dataclass(frozen=True, slots=True)
class StpConfig:
    """802.1D port-state timers after link up (S8)."""

    enabled: bool = False
    forward_delay: Time = 15 * S
    edge_default: bool = False


@dataclass(frozen=True, slots=True)
class VlanPortConfig:
    """A port's VLAN mode (S1): ``switchport mode access`` with ``access`` VLAN, or
    ``switchport mode trunk`` with ``allowed`` VLANs (None: all) and ``native``
    VLAN (0: none, ``vlan dot1q tag native``: every frame tagged, untagged dropped)."""

    mode: str = "access"                    # access | trunk
    access: int = 1
    allowed: frozenset[int] | None = None
    native: int = 1

    def describe(self) -> str:
        if self.mode == "access":
            return f"access vlan {self.access}"
        return (f"trunk, allowed {vlan_list(self.allowed)}, native "
                f"{self.native if self.native else 'none'}")


def vlan_list(vids: frozenset[int] | None) -> str:
    """``10-20,30`` as a switch shows an allowed list; ``all`` for None."""
    if vids is None:
        return "all"
    if not vids:
        return "none"
    out: list[str] = []
    ordered = sorted(vids)
    start = prev = ordered[0]
    for vid in [*ordered[1:], -1]:
        if vid == prev + 1:
            prev = vid
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = vid
    return ",".join(out)


DEFAULT_VLAN = VlanPortConfig()


@dataclass(frozen=True, slots=True)
class PortConfig:
    """Per logical port: STP edge (None: the switch default), port security (S7)
    and VLAN mode (S1; None: access VLAN 1)."""

    stp_edge: bool | None = None
    max_macs: int | None = None             # None: no port security
    violation: str = "shutdown"             # shutdown | restrict | protect
    vlan: VlanPortConfig | None = None


@dataclass(frozen=True, slots=True)
class FlapEvent:
    """One MAC-move detection (S6): what a matrix report counts."""

    time: Time
    mac: str
    vlan: int
    from_port: str
    to_port: str
    moves: int
    action: str
    step: int


class PortSecurity:
    """Cisco-style port security on one logical port (S7)."""

    __slots__ = ("macs", "max_macs", "violation", "violations")

    def __init__(self, max_macs: int, violation: str) -> None:
        self.max_macs = max_macs
        self.violation = violation
        self.macs: dict[Mac, None] = {}     # secure MACs, in learning order
        self.violations = 0                 # the violation counter (restrict counts, protect not)


class SwitchPort:
    """A logical port: one physical port, a static LAG, or a LACP LAG.

    ``members`` are the configured physical ports; ``bundled`` the ones in
    the logical port now (a LACP LAG: its collecting/distributing members);
    ``tx`` the ones a frame may leave on (``bundled`` while forwarding);
    ``single`` the one physical port of a forwarding non-LAG port (the fast
    case of ``pick_member``).
    """

    __slots__ = ("bundled", "err_disabled", "hash", "is_lacp", "is_lag", "members", "name",
                 "pvid", "security", "single", "stp_state", "stp_timer", "tagged_ok", "tx",
                 "vlan", "was_up")

    def __init__(self, name: str, members: list[Nic], hash_: LagHash | None = None, *,
                 lacp: bool = False) -> None:
        self.name = name
        self.members = members
        self.is_lag = hash_ is not None
        self.is_lacp = lacp
        self.hash = hash_ or LagHash.SRC_DST_MAC
        self.bundled: list[Nic] = [] if lacp else list(members)
        self.tx: list[Nic] = list(self.bundled)
        self.single = members[0] if not self.is_lag else None
        self.stp_state = StpState.FORWARDING
        self.stp_timer: Timer | None = None
        self.err_disabled = ""              # the errdisable cause, "" when not
        self.security: PortSecurity | None = None
        self.was_up = False
        self.set_vlan(DEFAULT_VLAN, False)

    def set_vlan(self, vlan: VlanPortConfig, accept_access_tagged: bool) -> None:
        """What the per-frame path reads: ``pvid``, the VLAN of untagged frames (0:
        dropped), and ``tagged_ok``, the VIDs accepted tagged (None: any)."""
        self.vlan = vlan
        if vlan.mode == "access":
            self.pvid = vlan.access
            self.tagged_ok: frozenset[int] | None = (
                frozenset({vlan.access}) if accept_access_tagged else frozenset())
        else:
            allowed = vlan.allowed
            self.pvid = vlan.native if allowed is None or vlan.native in allowed else 0
            self.tagged_ok = allowed

    def member(self, vid: int) -> bool:
        """In the VLAN's member set: the access VLAN, or a VID the trunk allows."""
        vlan = self.vlan
        if vlan.mode == "access":
            return vid == vlan.access
        return vlan.allowed is None or vid in vlan.allowed

    def egress(self, frame: Frame, vid: int) -> Frame:
        """The frame as it leaves: untagged on an access port and in a trunk's
        native VLAN (the untagged set, 802.1Q 8.8.2), tagged otherwise."""
        vlan = self.vlan
        want = vid if vlan.mode == "trunk" and vid != vlan.native else 0
        return frame if frame.vlan == want else with_vlan(frame, want)

    @property
    def up(self) -> bool:
        """Has a member in the logical port with link (S2: else its entries go)."""
        return any(m.oper_up for m in self.bundled)

    def pick_member(self, frame: Frame) -> Nic | None:
        """The member a frame leaves on: hash of the chosen fields, modulo the
        members with link (a common vendor scheme: XOR of the low MAC bits)."""
        single = self.single
        if single is not None:
            return single if single.oper_up else None
        up = [m for m in self.tx if m.oper_up]
        if not up:
            return None
        if len(up) == 1:
            return up[0]
        if self.hash is LagHash.SRC_MAC:
            key = frame.src & 0xFF
        elif self.hash is LagHash.DST_MAC:
            key = frame.dst & 0xFF
        else:
            key = (frame.src ^ frame.dst) & 0xFF
        return up[key % len(up)]

    def skip_step(self, where: str, frame: Frame, cause: int) -> None:
        """The trace step of a flood that skips this port (no member can send)."""
        reason, words, fn, rule = self.refusal()
        if reason is DropReason.NO_CARRIER:
            words, fn, rule = "link down", "802.1Q 8.6.1", "S1"
        self.members[0].sim.step(where, self.name, Action.SKIP, frame.uid,
                                 f"not flooded to {self.name}: {words}", fn, rule,
                                 reason=reason, cause=cause)

    def refusal(self) -> tuple[DropReason, str, str, str]:
        """Why no frame can leave on this port: (reason, words, fn, rule)."""
        if self.err_disabled:
            return (DropReason.ERR_DISABLED, f"err-disabled ({self.err_disabled})",
                    FN_ERRDISABLE, "S7" if self.err_disabled == "psecure-violation" else "S6")
        if self.up and self.stp_state is not StpState.FORWARDING:
            return DropReason.PORT_STATE, f"in STP {self.stp_state} state", FN_STP, "S8"
        if self.is_lacp and not self.bundled and any(m.oper_up for m in self.members):
            return (DropReason.PORT_SUSPENDED, "without a bundled member (LACP)", FN_SELECT,
                    "S4")
        return DropReason.NO_CARRIER, "down", "802.1Q 8.6.1", "S1"


class PhysPort:
    """A physical port and what it belongs to now."""

    __slots__ = ("individual", "lacp", "lag", "name", "nic", "role", "was_up", "why")

    def __init__(self, nic: Nic) -> None:
        self.nic = nic
        self.name = nic.name
        self.lag: LacpLag | None = None             # its LACP LAG
        self.lacp: LacpPort | None = None
        self.individual: SwitchPort | None = None   # its own logical port (plain or fallback)
        self.role = PortRole.DOWN
        self.why = ""
        self.was_up = False


class LacpLag:
    """A LACP port-channel: one aggregator, the members that share its partner."""

    __slots__ = ("fallback", "key", "logical", "members", "name", "partner", "reselect")

    def __init__(self, name: str, logical: SwitchPort, key: int, fallback: str) -> None:
        self.name = name
        self.logical = logical
        self.key = key
        self.fallback = fallback
        self.members: list[PhysPort] = []
        self.partner: tuple[int, Mac, int] | None = None   # the aggregator's partner
        self.reselect: Reselect | None = None


def lacp_system_mac(switch: str) -> Mac:
    """A stable, locally administered LACP system MAC for a switch."""
    digest = hashlib.sha256(f"{switch}:lacp-system".encode()).digest()
    return (0x02 << 40) | int.from_bytes(digest[:5], "big")


class Switch:
    """A switch (``switches:``)."""

    kind = "switch"

    def __init__(self, sim: Sim, name: str, ageing_time: Time = DEFAULT_AGEING, *,
                 mac_move: MacMoveConfig | None = None, stp: StpConfig | None = None,
                 port_config: dict[str, PortConfig] | None = None,
                 access_tagged: str = "drop") -> None:
        self.sim = sim
        self.name = name
        self.where = name
        self.ports: dict[str, Nic] = {}
        self.phys: dict[str, PhysPort] = {}
        self.phys_of: dict[NetDevice, PhysPort] = {}
        self.logical: list[SwitchPort] = []                 # the logical ports now, port order
        self.logical_of: dict[NetDevice, SwitchPort] = {}   # physical -> logical, when it passes frames
        self.logical_by_name: dict[str, SwitchPort] = {}
        self.lacp_of: dict[NetDevice, LacpPort] = {}
        self.lags: dict[str, LacpLag] = {}
        self.fdb: Fdb[SwitchPort] = Fdb(sim, name, ageing_time, fn="802.1Q 8.7 learning",
                                        rule="S1")
        self.mac_move = mac_move or MacMoveConfig()
        self.stp = stp or StpConfig()
        self.port_config = port_config or {}
        self.access_tagged = access_tagged      # drop | accept-access-vlan
        # VLANs configured anywhere: name them in trace notes (defaults stay VLAN 1, silent)
        self.vlan_aware = any(c.vlan is not None for c in self.port_config.values())
        self.fdb.show_vid = self.vlan_aware
        self.system_mac = lacp_system_mac(name)
        # what the run showed (S6, S7): read by reports
        self.mac_moves = 0
        self.mac_moves_per_mac: dict[Mac, int] = {}
        self.flap_events: list[FlapEvent] = []
        self.security_violations = 0
        self.err_disable_events: list[tuple[Time, str, str]] = []   # (time, port, cause)
        self._move_times: dict[Mac, list[Time]] = {}
        self._secure_owner: dict[Mac, SwitchPort] = {}
        self.l3: SwitchL3 | None = None         # SVIs and routing (devices/l3switch.py)

    # -- configuration -------------------------------------------------------------------
    def add_port(self, nic: Nic) -> None:
        self.ports[nic.name] = nic
        phys = PhysPort(nic)
        self.phys[nic.name] = phys
        self.phys_of[nic] = phys
        nic.rx_handler = self.handle_frame
        nic.carrier_watchers.append(self.port_carrier_changed)

    def build_logical_ports(self, lags: list[LagConfig]) -> None:
        """Group ports into LAGs; every other port is its own logical port.
        LACP members also get an individual logical port for fallback (S5)."""
        in_lag: dict[str, SwitchPort] = {}
        for index, lag_cfg in enumerate(lags):
            lacp = lag_cfg.mode == "lacp"
            lag = SwitchPort(lag_cfg.name, [self.ports[m] for m in lag_cfg.ports], lag_cfg.hash,
                             lacp=lacp)
            self.logical_by_name[lag.name] = lag
            for member in lag_cfg.ports:
                in_lag[member] = lag
            if lacp:
                self._add_lacp_lag(lag_cfg, lag, index + 1)
        for port_name, nic in self.ports.items():
            phys = self.phys[port_name]
            logical = in_lag.get(port_name)
            if logical is None or logical.is_lacp:
                phys.individual = own = SwitchPort(port_name, [nic])
                self.logical_by_name[port_name] = own
                if logical is None:
                    phys.role = PortRole.INDIVIDUAL
                    self.logical_of[nic] = own
                else:
                    own.bundled = []
                    own.tx = []
                    own.single = None
            else:
                phys.role = PortRole.BUNDLED
                self.logical_of[nic] = logical
        lag_of_member = {m: lag.name for lag in lags for m in lag.ports}
        for logical in self.logical_by_name.values():
            config = self.port_config.get(logical.name)
            if config is not None and config.max_macs is not None:
                logical.security = PortSecurity(config.max_macs, config.violation)
            # a LAG's VLANs are configured on the LAG; a LACP member's individual
            # fallback port inherits them unless it has its own
            vlan = config.vlan if config is not None else None
            if vlan is None and logical.name in lag_of_member:
                lag_config = self.port_config.get(lag_of_member[logical.name])
                vlan = lag_config.vlan if lag_config is not None else None
            logical.set_vlan(vlan or DEFAULT_VLAN, self.access_tagged == "accept-access-vlan")
            if self.stp.enabled:
                logical.stp_state = StpState.DISABLED
            self._apply(logical)
        self._rebuild_logical()
        for phys in self.phys.values():
            self._set_handler(phys)

    def _add_lacp_lag(self, cfg: LagConfig, logical: SwitchPort, key: int) -> None:
        lag = LacpLag(cfg.name, logical, key, cfg.fallback)
        self.lags[cfg.name] = lag
        for member in cfg.ports:
            phys = self.phys[member]
            phys.lag = lag
            lag.members.append(phys)
            nic = phys.nic
            lacp = LacpPort(self.sim, self.where, nic, system=self.system_mac,
                            system_priority=cfg.system_priority, key=key,
                            port_number=list(self.ports).index(member) + 1,
                            port_priority=32768, active=cfg.lacp_active, fast=cfg.lacp_fast,
                            send=self._lacp_send, changed=self._lacp_changed, flavor=IEEE)
            phys.lacp = lacp
            self.lacp_of[nic] = lacp

    def start(self) -> None:
        """Start the LACP machines (``channel-group N mode active|passive``)."""
        for lag in self.lags.values():
            for phys in lag.members:
                assert phys.lacp is not None
                phys.lacp.start()

    # -- link state --------------------------------------------------------------------------
    def port_carrier_changed(self, dev: NetDevice) -> None:
        """A port's link changed: LACP hears of it, and a logical port that
        loses its last link has its entries flushed (S2)."""
        phys = self.phys_of[dev]
        up = dev.running
        step = self.sim.step(self.where, dev.name, Action.LINK, 0,
                             f"port {dev.name} link {'up' if up else 'down'}", "802.1Q 8.6.1",
                             "S2")
        if dev.admin_up:
            for logical in self._logicals_of(phys):
                if logical.err_disabled:                    # "no shutdown" recovers it
                    logical.err_disabled = ""
        if up == phys.was_up:
            return
        phys.was_up = up
        if phys.lacp is not None:
            phys.lacp.link_changed(up, step)                # -> _lacp_changed -> roles
            if not up:
                self._set_role(phys, PortRole.DOWN, "link down", step)
        for logical in self._logicals_of(phys):
            self._refresh(logical, step)

    def _logicals_of(self, phys: PhysPort) -> list[SwitchPort]:
        out: list[SwitchPort] = []
        if phys.lag is not None:
            out.append(phys.lag.logical)
        elif phys.role is PortRole.BUNDLED:
            out.append(self.logical_of[phys.nic])
        if phys.individual is not None:
            out.append(phys.individual)
        return out

    def _refresh(self, port: SwitchPort, cause: int) -> None:
        """A logical port's membership or link may have changed: on losing its
        last usable member its entries are flushed (S2) and it leaves STP; on
        gaining one it enters STP (S8)."""
        up = port.up
        if up != port.was_up:
            port.was_up = up
            if up:
                self._stp_start(port, cause)
            else:
                self._stp_stop(port)
                self.fdb.flush_port(port, port.name, cause, "802.1Q 8.8.3 (port down)", "S2")
                self._forget_secure(port)
        self._apply(port)

    def _apply(self, port: SwitchPort) -> None:
        """Recompute what the per-frame path reads: ``tx``, ``single``, handlers."""
        forwarding = port.stp_state is StpState.FORWARDING
        port.tx = list(port.bundled) if forwarding else []
        port.single = port.bundled[0] if forwarding and not port.is_lag and port.bundled \
            else None
        for nic in port.members:
            self._set_handler(self.phys_of[nic])

    def _set_handler(self, phys: PhysPort) -> None:
        """The fast ``handle_frame`` unless the port needs a check first."""
        logical = self.logical_of.get(phys.nic)
        fast = (logical is not None and logical.stp_state is StpState.FORWARDING
                and logical.security is None)
        phys.nic.rx_handler = self.handle_frame if fast else self.handle_frame_checked

    def _rebuild_logical(self) -> None:
        """The logical ports that exist now, in port order (what floods walk)."""
        out: list[SwitchPort] = []
        for phys in self.phys.values():
            if phys.lag is not None:
                candidates = [phys.lag.logical]
                if phys.role is PortRole.INDIVIDUAL and phys.individual is not None:
                    candidates.append(phys.individual)
            elif phys.role is PortRole.BUNDLED:
                candidates = [self.logical_of[phys.nic]]
            else:
                assert phys.individual is not None
                candidates = [phys.individual]
            for port in candidates:
                if not any(port is p for p in out):
                    out.append(port)
        self.logical = out

    # -- STP port states (S8) ------------------------------------------------------------------
    def _edge(self, port: SwitchPort) -> bool:
        config = self.port_config.get(port.name)
        if config is not None and config.stp_edge is not None:
            return config.stp_edge
        return self.stp.edge_default

    def _stp_start(self, port: SwitchPort, cause: int) -> None:
        """Link up: an edge (PortFast) port forwards at once; a non-edge port
        listens, then learns, for forward-delay each (802.1D-1998 §8.4, S8)."""
        if not self.stp.enabled:
            return
        if self._edge(port) or self.stp.forward_delay == 0:
            self._stp_set(port, StpState.FORWARDING, "edge port (PortFast): forwarding at once"
                          if self._edge(port) else "forward delay 0", cause)
            return
        self._stp_set(port, StpState.LISTENING, "link up on a non-edge port: listening for "
                      f"forward-delay {format_duration(self.stp.forward_delay)}", cause)
        port.stp_timer = self.sim.timer(self.stp.forward_delay, self._stp_forward_delay, port)

    def _stp_forward_delay(self, port: SwitchPort) -> None:
        if port.stp_state is StpState.LISTENING:
            self._stp_set(port, StpState.LEARNING, "forward delay expired: learning, not "
                          "forwarding", 0)
            port.stp_timer = self.sim.timer(self.stp.forward_delay, self._stp_forward_delay, port)
        elif port.stp_state is StpState.LEARNING:
            port.stp_timer = None
            self._stp_set(port, StpState.FORWARDING, "forward delay expired", 0)

    def _stp_stop(self, port: SwitchPort) -> None:
        if not self.stp.enabled:
            return
        if port.stp_timer is not None:
            port.stp_timer.cancel()
            port.stp_timer = None
        if port.stp_state is not StpState.DISABLED:
            self._stp_set(port, StpState.DISABLED, "no link", 0)

    def _stp_set(self, port: SwitchPort, state: StpState, why: str, cause: int) -> None:
        port.stp_state = state
        self.sim.step(self.where, port.name, Action.LINK, 0,
                      f"port {port.name} entered STP {state} state ({why})", FN_STP, "S8",
                      cause=cause)
        self._apply(port)

    # -- LACP (S4, S5) -------------------------------------------------------------------------------
    def _lacp_send(self, lacp: LacpPort, frame: Frame, cause: int) -> None:
        lacp.dev.xmit(frame, cause, 0)

    def _lacp_changed(self, lacp: LacpPort, cause: int) -> None:
        lag = self.phys_of[lacp.dev].lag
        assert lag is not None
        if lag.reselect is None:
            lag.reselect = Reselect(functools.partial(self._lacp_select, lag))
        lag.reselect(cause)

    def _lacp_select(self, lag: LacpLag, cause: int) -> None:
        """The switch's selection logic: one aggregator per port-channel, for
        the partner of its members (stable: kept while a member still has it;
        else the partner of the first member, in port order); members with
        another partner, and members with none once DEFAULTED, fall back to
        an individual port or are suspended (``lacp-fallback``, S5)."""
        lacp_ports = [p.lacp for p in lag.members if p.lacp is not None and p.nic.oper_up]
        groups = group_by_partner(lacp_ports)
        if lag.partner not in groups:
            new = next(iter(groups), None)
            if new != lag.partner:
                lag.partner = new
                who = (f"partner {mac_str(new[1])} key {new[2]}" if new is not None
                       else "no partner")
                self.sim.step(self.where, lag.name, Action.NOTE, 0,
                              f"{lag.name}: aggregator now for {who}", FN_SELECT, "S4",
                              cause=cause)
        fallback = PortRole.INDIVIDUAL if lag.fallback == "individual" else PortRole.SUSPENDED
        how = ("lacp-fallback individual: forwards as its own port" if lag.fallback ==
               "individual" else "lacp-fallback suspend (lacp suspend-individual): only "
               "LACPDUs pass")
        for phys in lag.members:
            lacp = phys.lacp
            assert lacp is not None
            partner = lacp.partner
            if not phys.nic.oper_up:
                lacp.select(False, cause)
                role, why = PortRole.DOWN, "link down"
            elif partner is None:
                lacp.select(False, cause)
                if lacp.defaulted:
                    role, why = fallback, f"no LACP partner (DEFAULTED); {how}"
                else:
                    role, why = PortRole.WAITING, "no LACPDU from a partner yet"
            elif not lacp.partner_aggregatable:
                lacp.select(True, cause)            # an individual link: its own aggregator
                role, why = ((PortRole.INDIVIDUAL, "the LACP partner says individual "
                              "(Aggregation 0): its own link") if lacp.collecting_distributing
                             else (PortRole.WAITING, "LACP negotiating an individual link"))
            elif lacp.partner_key() == lag.partner:
                lacp.select(True, cause)
                role, why = ((PortRole.BUNDLED, f"LACP partner {partner.describe()}")
                             if lacp.collecting_distributing else
                             (PortRole.WAITING, f"LACP negotiating with {mac_str(partner.system)}"
                              f" key {partner.key}"))
            else:
                lacp.select(False, cause)
                role, why = fallback, (f"LACP partner {mac_str(partner.system)} key "
                                       f"{partner.key} is not {lag.name}'s partner; {how}")
            self._set_role(phys, role, why, cause)

    def _set_role(self, phys: PhysPort, role: PortRole, why: str, cause: int) -> None:
        if role is phys.role:
            phys.why = why
            return
        old = phys.role
        phys.role = role
        phys.why = why
        lag = phys.lag
        assert lag is not None and phys.individual is not None
        nic = phys.nic
        words = {PortRole.DOWN: "down", PortRole.WAITING: "waiting to be aggregated: no "
                 "traffic", PortRole.BUNDLED: f"bundled in {lag.name}",
                 PortRole.INDIVIDUAL: "individual port", PortRole.SUSPENDED: "suspended"}[role]
        rule = "S5" if role in (PortRole.INDIVIDUAL, PortRole.SUSPENDED) else "S4"
        step = self.sim.step(self.where, phys.name, Action.LINK, 0,
                             f"{phys.name}: {words} ({why})", FN_SELECT, rule, cause=cause,
                             data={"role": str(role), "from": str(old), "lag": lag.name})
        lag.logical.bundled = [p.nic for p in lag.members if p.role is PortRole.BUNDLED]
        phys.individual.bundled = [nic] if role is PortRole.INDIVIDUAL else []
        if role is PortRole.BUNDLED:
            self.logical_of[nic] = lag.logical
        elif role is PortRole.INDIVIDUAL:
            self.logical_of[nic] = phys.individual
        else:
            self.logical_of.pop(nic, None)
        if PortRole.INDIVIDUAL in (old, role):
            self._rebuild_logical()
        self._refresh(lag.logical, step)
        self._refresh(phys.individual, step)
        self._set_handler(phys)

    # -- errdisable --------------------------------------------------------------------------------
    def err_disable(self, port: SwitchPort, cause_name: str, why: str, rule: str, cause: int,
                    recovery: Time | None = None) -> int:
        """Put a logical port in err-disable: its members are shut down (the far
        end loses carrier), its entries flushed; ``port-up`` or the recovery
        timer brings it back."""
        port.err_disabled = cause_name
        step = self.sim.step(self.where, port.name, Action.LINK, 0,
                             f"%PM-4-ERR_DISABLE: {cause_name} error detected on {port.name}, "
                             f"putting {port.name} in err-disable state ({why})", FN_ERRDISABLE,
                             rule, cause=cause)
        self.err_disable_events.append((self.sim.now, port.name, cause_name))
        for nic in port.members if port.is_lag else port.members[:1]:
            nic.set_admin(False, step)
        port.err_disabled = cause_name          # set_admin -> carrier watchers left it set
        if recovery is not None:
            self.sim.schedule(recovery, self._err_recover, port, cause_name)
        return step

    def _err_recover(self, port: SwitchPort, cause_name: str) -> None:
        if port.err_disabled != cause_name:
            return
        step = self.sim.step(self.where, port.name, Action.LINK, 0,
                             f"%PM-4-ERR_RECOVER: Attempting to recover from {cause_name} "
                             f"err-disable state on {port.name}", "errdisable recovery", "S6")
        port.err_disabled = ""
        for nic in port.members if port.is_lag else port.members[:1]:
            nic.set_admin(True, step)

    # -- per-frame path --------------------------------------------------------------------------------
    def handle_frame(self, dev: NetDevice, frame: Frame, cause: int, hops: int) -> None:
        """802.1Q forwarding process (S1): learn, then filter, forward or flood."""
        ingress = self.logical_of[dev]
        dst = frame.dst
        if dst & 0xFFFF_FFFF_FFF0 == 0x0180_C200_0000:            # is_link_local()
            lacp = self.lacp_of.get(dev)
            if lacp is not None and frame.ethertype == EtherType.SLOW:
                lacp.rx(frame, cause)                              # slow protocols punt (S4)
                return
            if self.sim.tracing:
                self.sim.step(self.where, dev.name, Action.NOTE, frame.uid,
                              f"reserved group {mac_str(dst)} consumed, not forwarded",
                              "802.1Q 8.6.3", "S1", cause=cause)
            return
        vid = frame.vlan
        if vid or self.vlan_aware or not ingress.pvid:                 # 802.1Q 6.9 (S1)
            vid, cause = self.classify(ingress, frame, cause)
            if not vid:
                return
        else:
            vid = ingress.pvid                  # the common case: untagged, no VLANs set
        src = frame.src
        if not src & 0x0100_0000_0000:
            fdb = self.fdb
            entry = fdb.entries.get(src | vid << 48)
            now = self.sim.now
            if entry is not None and entry.port is ingress and now < entry.updated + fdb.ageing_time:
                entry.updated = now                 # the common case: refresh in place
            elif not self.learn(src, entry, ingress, frame, cause, vid):
                return
        l3 = self.l3
        if l3 is not None and vid in l3.svis and (dst == BROADCAST or dst == l3.svis[vid].mac):
            if dst == BROADCAST:                # flooded, and a copy to the SVI
                self.flood(frame, ingress, cause, "broadcast", hops, vid)
            l3.receive(frame, ingress, vid, cause)
            return
        if dst & 0x0100_0000_0000:
            self.flood(frame, ingress, cause, "broadcast" if dst == BROADCAST else "multicast",
                       hops, vid)
            return
        entry = self.fdb.find(dst, vid, cause)
        if entry is None:
            self.flood(frame, ingress, cause, "unknown unicast", hops, vid)
            return
        out = entry.port
        if out is ingress:
            self.drop_frame(frame, cause, DropReason.SAME_PORT,
                            f"MAC table says {mac_str(dst)} is on ingress port {out.name}: "
                            "filtered", out.name, entry.step)
            return
        if not out.member(vid):                 # its VLANs changed since it was learned
            self.drop_frame(frame, cause, DropReason.VLAN_EGRESS,
                            f"MAC table says {mac_str(dst)} is on {out.name}, which is not in "
                            f"vlan {vid} ({out.vlan.describe()})", out.name, entry.step)
            return
        member = out.pick_member(frame)
        if member is None:
            reason, words, fn, rule = out.refusal()
            if reason is DropReason.NO_CARRIER:
                fn, rule = "802.1Q 8.6.4", "S1"
            self.sim.step(self.where, out.name, Action.DROP, frame.uid,
                          f"{mac_str(dst)} is on {out.name}, which is {words}", fn, rule,
                          reason=reason, cause=cause, ref=entry.step)
            return
        sim = self.sim
        if sim.tracing:
            via = f" via {member.name} (LAG hash {out.hash})" if out.is_lag else ""
            cause = sim.step(self.where, out.name, Action.FORWARD, frame.uid,
                             f"forwarded to {out.name}{via} (MAC table hit for {mac_str(dst)})",
                             "802.1Q 8.6.4", "S1", cause=cause, ref=entry.step)
        member.xmit(out.egress(frame, vid), cause, hops)

    def classify(self, ingress: SwitchPort, frame: Frame, cause: int) -> tuple[int, int]:
        """Ingress rules (802.1Q 6.9 port VID and acceptable frame types, 8.6.2
        ingress filtering; S1): the frame's VLAN and the step that decided it, or
        VLAN 0 after recording the drop."""
        vlan = ingress.vlan
        vid = frame.vlan
        what = vlan.describe()
        if not vid:
            if not ingress.pvid:
                why = ("native none (vlan dot1q tag native)" if not vlan.native else
                       f"native vlan {vlan.native} is not allowed")
                self.drop_frame(frame, cause, DropReason.VLAN_INGRESS,
                                f"untagged frame on trunk {ingress.name} ({what}): {why}, "
                                "dropped", ingress.name, fn="802.1Q 6.9 ingress rules")
                return 0, cause
            vid = ingress.pvid
            note = (f"untagged: access vlan {vid} of {ingress.name}" if vlan.mode == "access"
                    else f"untagged: native vlan {vid} of trunk {ingress.name}")
        elif ingress.tagged_ok is not None and vid not in ingress.tagged_ok:
            if vlan.mode == "access":           # acceptable frame types: untagged only
                self.drop_frame(frame, cause, DropReason.VLAN_INGRESS,
                                f"tagged vlan {vid} frame on access port {ingress.name} "
                                f"({what}): dropped (access-tagged {self.access_tagged})",
                                ingress.name, fn="802.1Q 6.9 ingress rules")
            else:
                self.drop_frame(frame, cause, DropReason.VLAN_INGRESS,
                                f"vlan {vid} is not allowed on trunk {ingress.name} ({what}): "
                                "dropped", ingress.name, fn="802.1Q 8.6.2 ingress filtering")
            return 0, cause
        else:
            note = (f"tagged vlan {vid} on access port {ingress.name}: its access vlan"
                    if vlan.mode == "access" else
                    f"tagged vlan {vid}: allowed on trunk {ingress.name}")
        if self.sim.tracing and self.vlan_aware:
            cause = self.sim.step(self.where, ingress.name, Action.NOTE, frame.uid, note,
                                  "802.1Q 6.9 ingress rules", "S1", cause=cause)
        return vid, cause

    def handle_frame_checked(self, dev: NetDevice, frame: Frame, cause: int, hops: int) -> None:
        """The receive handler of a port that needs a check before the
        forwarding process: not in a logical port now (LACP waiting or
        suspended, S4/S5), STP listening or learning (S8), port security (S7)."""
        dst = frame.dst
        if dst & 0xFFFF_FFFF_FFF0 == 0x0180_C200_0000:
            lacp = self.lacp_of.get(dev)
            if lacp is not None and frame.ethertype == EtherType.SLOW:
                lacp.rx(frame, cause)
            elif self.sim.tracing:
                self.sim.step(self.where, dev.name, Action.NOTE, frame.uid,
                              f"reserved group {mac_str(dst)} consumed, not forwarded",
                              "802.1Q 8.6.3", "S1", cause=cause)
            return
        ingress = self.logical_of.get(dev)
        if ingress is None:
            phys = self.phys_of[dev]
            lag = phys.lag.name if phys.lag is not None else ""
            rule = "S5" if phys.role is PortRole.SUSPENDED else "S4"
            self.drop_frame(frame, cause, DropReason.PORT_SUSPENDED,
                            f"{dev.name} is {phys.role} ({phys.why}): not a port of {lag} or "
                            "an individual port, frame dropped", dev.name, fn=FN_SELECT,
                            rule=rule)
            return
        state = ingress.stp_state
        if state is not StpState.FORWARDING and state is not StpState.LEARNING:
            self.drop_frame(frame, cause, DropReason.PORT_STATE,
                            f"port {ingress.name} is in STP {state} state: not learned, not "
                            "forwarded", ingress.name, fn=FN_STP, rule="S8")
            return
        src = frame.src
        security = ingress.security
        if security is not None and not src & 0x0100_0000_0000 and src not in security.macs \
                and not self._secure_admit(ingress, security, frame, cause):
            return
        if state is StpState.LEARNING:
            vid, cause = self.classify(ingress, frame, cause)
            if not vid:
                return
            if not src & 0x0100_0000_0000:
                entry = self.fdb.entries.get(src | vid << 48)
                if entry is not None and entry.port is ingress and \
                        self.sim.now < entry.updated + self.fdb.ageing_time:
                    entry.updated = self.sim.now
                elif not self.learn(src, entry, ingress, frame, cause, vid):
                    return
            self.drop_frame(frame, cause, DropReason.PORT_STATE,
                            f"port {ingress.name} is in STP learning state: learned, not "
                            "forwarded", ingress.name, fn=FN_STP, rule="S8")
            return
        self.handle_frame(dev, frame, cause, hops)

    def learn(self, src: Mac, entry: FdbEntry[SwitchPort] | None, ingress: SwitchPort,
              frame: Frame, cause: int, vid: int = 1) -> bool:
        """802.1Q learning of a new, moved or expired entry in the frame's VLAN,
        with MAC-move accounting (S6). False: the frame goes no further (its port
        was just err-disabled for MAC flapping)."""
        fdb = self.fdb
        moved_from = (entry.port if entry is not None and entry.port is not ingress
                      and self.sim.now < entry.updated + fdb.ageing_time else None)
        step = fdb.update(src, vid, ingress, ingress.name, frame.uid, cause)
        if self.l3 is not None:
            self.l3.fdb_moved(src, vid, ingress, step or cause)
        if moved_from is None:
            return True
        return self.mac_moved(src, moved_from, ingress, frame, step or cause, vid)

    def mac_moved(self, mac: Mac, old: SwitchPort, new: SwitchPort, frame: Frame,
                  cause: int, vid: int = 1) -> bool:
        """A learned MAC moved between logical ports (S6): counted always;
        ``log`` reports and ``block-port`` err-disables the port it moved to
        once it moved ``threshold`` times within ``window``."""
        self.mac_moves += 1
        self.mac_moves_per_mac[mac] = self.mac_moves_per_mac.get(mac, 0) + 1
        config = self.mac_move
        if config.action == "none":
            return True
        now = self.sim.now
        times = [t for t in self._move_times.get(mac, []) if t > now - config.window]
        times.append(now)
        if len(times) < config.threshold:
            self._move_times[mac] = times
            return True
        self._move_times[mac] = []
        moves = len(times)
        note = (f"%SW_MATM-4-MACFLAP_NOTIF: Host {mac_str(mac)} in vlan {vid} is flapping between "
                f"port {old.name} and port {new.name} ({moves} moves within "
                f"{format_duration(config.window)})")
        if config.action == "log":
            step = self.sim.step(self.where, new.name, Action.NOTE, frame.uid, note,
                                 "mac-move detection (SW_MATM)", "S6", cause=cause,
                                 data={"mac": mac_str(mac), "from": old.name, "to": new.name})
            self.flap_events.append(FlapEvent(now, mac_str(mac), vid, old.name, new.name, moves,
                                              "log", step))
            return True
        step = self.sim.step(self.where, new.name, Action.NOTE, frame.uid,
                             f"{note}: action block-port", "mac-move detection", "S6",
                             cause=cause, data={"mac": mac_str(mac), "from": old.name,
                                                "to": new.name})
        self.flap_events.append(FlapEvent(now, mac_str(mac), vid, old.name, new.name, moves,
                                          "block-port", step))
        down = self.err_disable(new, "mac-flap", f"{mac_str(mac)} moved {moves} times within "
                                f"{format_duration(config.window)}", "S6", step,
                                config.recovery)
        self.drop_frame(frame, down, DropReason.ERR_DISABLED,
                        f"{new.name} err-disabled for MAC flapping: frame dropped", new.name,
                        fn=FN_ERRDISABLE, rule="S6")
        return False

    def _secure_admit(self, port: SwitchPort, security: PortSecurity, frame: Frame,
                      cause: int) -> bool:
        """A source MAC not yet secure on this port (S7): learned as secure
        while there is room and no other secure port holds it; else a
        violation, handled per the port's violation mode."""
        src = frame.src
        owner = self._secure_owner.get(src)
        if owner is None and len(security.macs) < security.max_macs:
            security.macs[src] = None
            self._secure_owner[src] = port
            if self.sim.tracing:
                self.sim.step(self.where, port.name, Action.NOTE, frame.uid,
                              f"port security: {mac_str(src)} is secure MAC "
                              f"{len(security.macs)} of {security.max_macs} on {port.name}",
                              "port-security", "S7", cause=cause)
            return True
        why = (f"{mac_str(src)} is already secure on {owner.name}" if owner is not None else
               f"{mac_str(src)} would be secure MAC {len(security.macs) + 1}, maximum "
               f"{security.max_macs}")
        mode = security.violation
        if mode == "protect":
            self.drop_frame(frame, cause, DropReason.PORT_SECURITY,
                            f"port security violation on {port.name}: {why}; protect mode: "
                            "dropped silently (no log, no counter)", port.name,
                            fn="port-security", rule="S7")
            return False
        security.violations += 1
        self.security_violations += 1
        if mode == "restrict":
            self.drop_frame(frame, cause, DropReason.PORT_SECURITY,
                            f"%PORT_SECURITY-2-PSECURE_VIOLATION: Security violation occurred, "
                            f"caused by MAC address {mac_str(src)} on port {port.name} ({why}); "
                            f"restrict mode: dropped, violation count {security.violations}",
                            port.name, fn="port-security", rule="S7")
            return False
        drop = self.sim.step(self.where, port.name, Action.DROP, frame.uid,
                             f"%PORT_SECURITY-2-PSECURE_VIOLATION: Security violation occurred, "
                             f"caused by MAC address {mac_str(src)} on port {port.name} ({why}); "
                             "shutdown mode", "port-security", "S7",
                             reason=DropReason.PORT_SECURITY, cause=cause)
        self.err_disable(port, "psecure-violation", why, "S7", drop)
        return False

    def _forget_secure(self, port: SwitchPort) -> None:
        """Dynamic secure MACs are removed when the port goes down (S7)."""
        security = port.security
        if security is None or not security.macs:
            return
        for mac in security.macs:
            if self._secure_owner.get(mac) is port:
                del self._secure_owner[mac]
        security.macs = {}

    def flood(self, frame: Frame, ingress: SwitchPort, cause: int, kind: str, hops: int,
              vid: int = 1) -> None:
        """Flood to every other logical port of the frame's VLAN with link; one copy
        per LAG (S1, S3), tagged or not as the port sends that VLAN."""
        sim = self.sim
        tracing = sim.tracing
        if tracing:
            cause = sim.step(self.where, ingress.name, Action.FLOOD, frame.uid,
                             f"flooding {kind} {mac_str(frame.dst)}", "802.1Q 8.6.4", "S1",
                             cause=cause)
        for port in self.logical:
            if port is ingress:
                if tracing:
                    what = "LAG" if port.is_lag else "port"
                    sim.step(self.where, port.name, Action.SKIP, frame.uid,
                             f"not flooded back out of ingress {what} {port.name}",
                             "802.1Q 8.6.4", "S1" if not port.is_lag else "S3",
                             reason=DropReason.SAME_PORT, cause=cause)
                continue
            if not port.member(vid):
                if tracing:
                    sim.step(self.where, port.name, Action.SKIP, frame.uid,
                             f"not flooded to {port.name}: not in vlan {vid} "
                             f"({port.vlan.describe()}); the frame is in vlan {vid} from "
                             f"{ingress.name} ({ingress.vlan.describe()})",
                             "802.1Q 8.6.4 egress filtering", "S1",
                             reason=DropReason.VLAN_EGRESS, cause=cause)
                continue
            member = port.pick_member(frame)
            if member is None:
                if tracing:
                    port.skip_step(self.where, frame, cause)
                continue
            member.xmit(port.egress(frame, vid), cause, hops)

    def drop_frame(self, frame: Frame, cause: int, reason: DropReason, note: str, port: str,
                   ref: int = 0, *, fn: str = "802.1Q 8.6.4", rule: str = "S1") -> None:
        self.sim.step(self.where, port, Action.DROP, frame.uid, note, fn, rule,
                      reason=reason, cause=cause, ref=ref)
