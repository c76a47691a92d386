"""IEEE 802.1AX LACP: the per-port state machines, for any owner.

One engine serves three owners: Linux bonding in 802.3ad mode (BD12), teamd's
lacp runner (T6) and a physical switch's LACP port-channel (S4, S5). The
owner keeps its aggregators and decides which one is active and which ports
pass traffic; a ``LacpPort`` runs, per port:

* the **Receive machine** (802.1AX-2014 6.4.12; ``ad_rx_machine``): link up
  -> EXPIRED (partner assumed short-timeout, ``current_while`` = 3 s) ->
  DEFAULTED (partner = the administrative default: no partner) unless a
  LACPDU arrives; a LACPDU -> CURRENT, the partner recorded from its Actor
  information, ``current_while`` = 3 s or 90 s as the *actor's* own TIMEOUT
  bit asks; expiry -> EXPIRED -> 3 s later DEFAULTED;
* the **Periodic Transmission machine** (6.4.13; ``ad_periodic_machine``):
  every 1 s when the *partner* asked for the short timeout, else every 30 s;
  none at all while both ends are passive (a passive actor speaks only when
  its partner is active) or the link is down;
* the **Mux machine** (6.4.15, coupled control; ``ad_mux_machine``): DETACHED
  -> WAITING (``wait_while`` 2 s) once the owner's selection logic selected
  the port -> ATTACHED (actor SYNC) -> COLLECTING_DISTRIBUTING when the
  partner is in sync, and back when it is not, or not selected;
* the **Transmit machine** (6.4.16; ``ad_tx_machine``): "need to transmit"
  (NTT) on every change of the actor's state, on a periodic tick, and when a
  LACPDU shows the partner has stale information about us; the changes of one
  instant leave as one LACPDU; at most 3 LACPDUs per second; nothing is sent
  while the Periodic machine is in NO_PERIODIC.

The selection logic (6.4.14) is the owner's: it groups ports by partner
(``partner_key()``: system priority, system, key; ``group_by_partner``),
picks the active aggregator, and calls ``select()``. The port tells the owner
through ``changed(port, cause)`` whenever something selection-relevant moved
(receive state, partner information, selected, collecting/distributing); the
owner re-runs its selection from there. ``select()`` with unchanged arguments
is a no-op, so a re-run that changes nothing ends the exchange.

Owner flavours (``LacpFlavor``) name the functions in the trace and switch
the two behaviours teamd does differently (teamd_runner_lacp.c): no Mux
machine (actor SYNC = selected, COLLECTING|DISTRIBUTING always advertised,
the port usable when selected and the partner is in sync) and the partner's
SYNC taken from the LACPDU as is (no "matched" test).

Limitations: no Marker protocol, no churn detection, no STANDBY (limits on
aggregator size); READY is per port (its own ``wait_while``), not the
aggregator-wide AND of 6.4.15; the machines run when an event changes their
inputs, not on bonding's 100 ms tick (so a reply goes out at once, not at the
next tick); the partner's administrative default is "no partner" (system
00:00:00:00:00:00, state 0: passive, long timeout), as teamd and the kernel
since v6.15 use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from vnetlab.devices.netdev import NetDevice
from vnetlab.net.addr import Mac, mac_str
from vnetlab.net.frame import (
    LACP_GROUP,
    NO_LACP_INFO,
    Frame,
    Lacpdu,
    LacpInfo,
    LacpState,
    lacp_state_str,
    lacpdu_frame,
)
from vnetlab.sim.sim import Sim, Timer
from vnetlab.sim.time import S, Time, format_duration
from vnetlab.sim.trace import Action

__all__ = [
    "AGGREGATE_WAIT_TIME", "BONDING", "FAST_PERIODIC_TIME", "IEEE", "LACP_GROUP",
    "LONG_TIMEOUT_TIME", "SHORT_TIMEOUT_TIME", "SLOW_PERIODIC_TIME", "TEAMD", "LacpFlavor",
    "LacpInfo", "LacpPort", "LacpState", "Lacpdu", "MuxState", "PeriodicState", "Reselect",
    "RxState",
    "group_by_partner", "lacp_state_str",
]

# 802.1AX-2014 6.4.4 constants (AD_* in bond_3ad.c, LACP_PERIODIC_* in teamd)
FAST_PERIODIC_TIME: Time = 1 * S
SLOW_PERIODIC_TIME: Time = 30 * S
SHORT_TIMEOUT_TIME: Time = 3 * S        # 3 x fast periodic
LONG_TIMEOUT_TIME: Time = 90 * S        # 3 x slow periodic
AGGREGATE_WAIT_TIME: Time = 2 * S       # wait_while_timer
TX_LIMIT = 3                            # LACPDUs per FAST_PERIODIC_TIME (AD_MAX_TX_IN_SECOND)

PartnerKey = tuple[int, Mac, int]       # (system priority, system, key)


class RxState(StrEnum):
    """Receive machine states (6.4.12). LACP_DISABLED is not modelled: every
    port of an LACP owner runs LACP."""

    INITIALIZE = "initialize"
    PORT_DISABLED = "port-disabled"
    EXPIRED = "expired"
    DEFAULTED = "defaulted"
    CURRENT = "current"


class PeriodicState(StrEnum):
    """Periodic Transmission machine states (6.4.13); PERIODIC_TX is transient."""

    NO_PERIODIC = "no-periodic"
    FAST_PERIODIC = "fast-periodic"
    SLOW_PERIODIC = "slow-periodic"


class MuxState(StrEnum):
    """Mux machine states, coupled control (6.4.15)."""

    DETACHED = "detached"
    WAITING = "waiting"
    ATTACHED = "attached"
    COLLECTING_DISTRIBUTING = "collecting-distributing"


@dataclass(frozen=True, slots=True)
class LacpFlavor:
    """Whose LACP a port runs: the names the trace gives each machine, the
    semantics rule, and teamd's two differences (``mux``, ``match``)."""

    name: str
    rule: str
    fn_rx: str
    fn_periodic: str
    fn_mux: str
    fn_tx: str
    mux: bool = True            # False: teamd, no Mux machine
    match: bool = True          # False: teamd, partner SYNC taken as received


IEEE = LacpFlavor("802.1AX", "S4", "802.1AX-2014 6.4.12 Receive machine",
                  "802.1AX-2014 6.4.13 Periodic Transmission machine",
                  "802.1AX-2014 6.4.15 Mux machine", "802.1AX-2014 6.4.16 Transmit machine")
BONDING = LacpFlavor("bonding", "BD12", "ad_rx_machine", "ad_periodic_machine",
                     "ad_mux_machine", "ad_tx_machine")
TEAMD = LacpFlavor("teamd", "T6", "lacp_port_set_state", "lacp_callback_periodic",
                   "lacp_port_actor_update", "lacpdu_send", mux=False, match=False)

SendFn = Callable[["LacpPort", Frame, int], None]
ChangedFn = Callable[["LacpPort", int], None]

_IDENTITY_BITS = LacpState.AGGREGATION
_NTT_BITS = (LacpState.ACTIVITY | LacpState.TIMEOUT | LacpState.SYNCHRONIZATION
             | LacpState.AGGREGATION)
_CD = LacpState.COLLECTING | LacpState.DISTRIBUTING


def _same_port(a: LacpInfo, b: LacpInfo) -> bool:
    """System, key and port fields equal (the state octet aside)."""
    return (a.port == b.port and a.port_priority == b.port_priority and a.system == b.system
            and a.system_priority == b.system_priority and a.key == b.key)


class LacpPort:
    """The LACP machines of one aggregation port.

    ``where`` and ``dev.name`` place the port's steps in the trace. ``send``
    transmits a LACPDU on the port (the owner's choice of transmit path, with
    the id of the step that caused it); ``changed`` is the owner's selection
    hook. ``system``/``system_priority``/``key``/``port_number``/
    ``port_priority`` are the actor's identity; ``active`` and ``fast`` its
    LACP_Activity and LACP_Timeout (``fast``: ask the partner to send every
    second and time it out after 3 s); ``aggregatable`` its Aggregation bit
    (teamd clears it on a team with one port). ``pdu_src`` is the source MAC of
    its LACPDUs (bonding uses the slave's permanent address); default
    ``dev.mac`` at sending time.

    Callbacks: ``send(port, frame, cause)`` must put the frame on ``port.dev``
    itself (never through the aggregate's transmit hash); ``changed(port,
    cause)`` fires at most once per event (a LACPDU, a timer, a link change,
    a ``select``) that moved the receive state, the partner information, the
    selection or ``collecting_distributing``, also from inside ``select()``
    (the callback is not re-entered for the same port: a change made while it
    runs fires it again when it returns). The owner then re-runs its selection
    and enables for traffic exactly the ports whose ``collecting_distributing``
    is true (bonding's __enable_port, teamd's ``enabled`` option, a switch's
    bundling); anything else (bonding's individual aggregator without a
    partner, a switch's individual fallback) is the owner's decision.
    ``partner_admin`` is the partner recorded when DEFAULTED (default: none).
    """

    def __init__(self, sim: Sim, where: str, dev: NetDevice, *, system: Mac,
                 system_priority: int, key: int, port_number: int, port_priority: int = 255,
                 active: bool = True, fast: bool = False, aggregatable: bool = True,
                 send: SendFn, changed: ChangedFn, flavor: LacpFlavor = IEEE,
                 wait_while: Time = AGGREGATE_WAIT_TIME, pdu_src: Mac | None = None) -> None:
        self.sim = sim
        self.where = where
        self.dev = dev
        self.name = dev.name
        self.flavor = flavor
        self.send = send
        self.changed = changed
        self.wait_while = wait_while if flavor.mux else 0
        self.pdu_src = pdu_src
        self.system = system
        self.system_priority = system_priority
        self.key = key
        self.port_number = port_number
        self.port_priority = port_priority
        state = LacpState(0)
        if active:
            state |= LacpState.ACTIVITY
        if fast:
            state |= LacpState.TIMEOUT
        if aggregatable:
            state |= LacpState.AGGREGATION
        if not flavor.mux:
            state |= _CD                    # teamd always advertises COLLECTING|DISTRIBUTING
        self.actor_state = state
        self.partner_info = NO_LACP_INFO    # partner_oper; the admin default is "no partner"
        self.partner_admin = NO_LACP_INFO
        self.enabled = False                # port_enabled: link up
        self.started = False
        self.rx_state = RxState.INITIALIZE
        self.periodic_state = PeriodicState.NO_PERIODIC
        self.mux_state = MuxState.DETACHED
        self.selected = False               # Selected: set by the owner's selection logic
        self.aggregator_active = False      # the owner's aggregator is the active one
        self.ready = False                  # wait_while expired
        self.ntt = False
        self.pdus_sent = 0
        self.pdus_received = 0
        self.last_rx_step = 0               # step of the last LACPDU recorded (for ``ref``)
        self._current_while: Timer | None = None
        self._periodic: Timer | None = None
        self._wait: Timer | None = None
        self._tx_pending = False
        self._tx_times: list[Time] = []
        self._cd = False
        self._dirty = False
        self._notifying = False

    # -- what owners read ---------------------------------------------------------
    @property
    def actor(self) -> LacpInfo:
        return LacpInfo(self.system_priority, self.system, self.key, self.port_priority,
                        self.port_number, int(self.actor_state))

    @property
    def partner(self) -> LacpInfo | None:
        """The partner's information, or None when there is none (DEFAULTED,
        link down, nothing received yet). EXPIRED still has the last partner."""
        return self.partner_info if self.partner_info.system else None

    def partner_key(self) -> PartnerKey | None:
        """What ports must share to aggregate together (with the actor key,
        which is per owner): the partner's system priority, system and key."""
        p = self.partner_info
        return (p.system_priority, p.system, p.key) if p.system else None

    @property
    def partner_in_sync(self) -> bool:
        return bool(self.partner_info.state & LacpState.SYNCHRONIZATION)

    @property
    def partner_aggregatable(self) -> bool:
        return bool(self.partner_info.state & LacpState.AGGREGATION)

    @property
    def defaulted(self) -> bool:
        return self.rx_state is RxState.DEFAULTED

    @property
    def expired(self) -> bool:
        return self.rx_state is RxState.EXPIRED

    @property
    def collecting_distributing(self) -> bool:
        """The port may carry traffic: Mux in COLLECTING_DISTRIBUTING (teamd:
        selected into the active aggregator and the partner in sync)."""
        return self._cd

    def describe(self) -> str:
        partner = self.partner
        return (f"{self.name}: rx {self.rx_state}, mux {self.mux_state}, actor "
                f"{lacp_state_str(self.actor_state)}, partner "
                f"{partner.describe() if partner else 'none'}")

    # -- what owners call ---------------------------------------------------------------
    def start(self, cause: int = 0) -> None:
        """BEGIN: the port joins its owner (bond_3ad_bind_slave, lacp_port_added,
        ``channel-group N mode active|passive``). Starts the machines if the
        link is already up; later link changes come through ``link_changed``."""
        if self.started:
            return
        self.started = True
        self._step(Action.NOTE, f"LACP on {self.name}: actor {self.actor.describe()}"
                   f"{'' if self.actor_state & LacpState.ACTIVITY else ' (passive)'}",
                   self.flavor.fn_rx, cause)
        self._set_rx(RxState.PORT_DISABLED, "begin", cause)
        if self.dev.running:
            self.link_changed(True, cause)
        else:
            self._notify(cause)

    def stop(self, cause: int = 0) -> None:
        """The port leaves its owner: timers cancelled, nothing more sent."""
        self.link_changed(False, cause)
        self.started = False

    def link_changed(self, up: bool, cause: int = 0) -> None:
        """port_enabled follows the link (bond_3ad_handle_link_change,
        lacp_port_link_update): up -> EXPIRED; down -> PORT_DISABLED, the
        partner forgotten and the port unselected."""
        if not self.started or up == self.enabled:
            return
        self.enabled = up
        if up:
            self._enter_expired("link up", cause)
        else:
            self._cancel(self._current_while)
            self.partner_info = self.partner_admin
            self.actor_state &= ~(LacpState.EXPIRED | LacpState.DEFAULTED)
            self._unselect("link down", cause)
            self._set_rx(RxState.PORT_DISABLED, "link down: partner forgotten", cause)
        self._update_periodic(cause)
        self._run_mux(cause)
        self._notify(cause)

    def select(self, selected: bool, cause: int = 0, *, active: bool = True) -> None:
        """The owner's selection logic attached the port to its aggregator
        (``selected``) and says whether that aggregator is the active one
        (``active``: bonding's ``aggregator->is_active``; a switch or teamd has
        one aggregator that matters). A no-op when nothing changes."""
        if selected == self.selected and (active == self.aggregator_active or not selected):
            return
        self.selected = selected
        self.aggregator_active = active and selected
        self._run_mux(cause)
        self._notify(cause)

    def set_aggregatable(self, aggregatable: bool, cause: int = 0) -> None:
        """teamd sets the Aggregation bit only while the team has more than one port."""
        self._set_actor_bit(LacpState.AGGREGATION, aggregatable, cause)

    def rx(self, frame: Frame, cause: int = 0) -> None:
        """A LACPDU arrived on this port (bond_3ad_lacpdu_recv, lacpdu_recv,
        the switch's slow-protocol punt)."""
        pdu = frame.payload
        if not isinstance(pdu, Lacpdu):
            return
        sim = self.sim
        self.pdus_received += 1
        if not self.started or not self.enabled:
            self._step(Action.NOTE, f"LACPDU ignored on {self.name}: port disabled",
                       self.flavor.fn_rx, cause)
            return
        if pdu.actor.system == self.system:
            self._step(Action.NOTE, f"An illegal loopback occurred on {self.name}: LACPDU from "
                       f"our own system {mac_str(self.system)} ignored", self.flavor.fn_rx,
                       cause)
            return
        actor = pdu.actor
        old = self.partner_info
        # __update_selected(): a different partner port undoes the selection
        if self.selected and (not _same_port(actor, old) or (actor.state & _IDENTITY_BITS)
                              != (old.state & _IDENTITY_BITS)):
            self._unselect(f"partner changed to {actor.describe()}", cause)
        # __update_ntt(): the partner's view of us is stale
        mine = self.actor
        if not _same_port(pdu.partner, mine) or (pdu.partner.state & _NTT_BITS) != (
                mine.state & _NTT_BITS):
            self.ntt = True
        # __record_pdu() with __choose_matched()
        state = actor.state
        if self.flavor.match:
            matched = ((_same_port(pdu.partner, mine)
                        and (pdu.partner.state & LacpState.AGGREGATION)
                        == (mine.state & LacpState.AGGREGATION))
                       or not actor.state & LacpState.AGGREGATION)
            if not matched:
                state &= ~LacpState.SYNCHRONIZATION
        self.partner_info = LacpInfo(actor.system_priority, actor.system, actor.key,
                                     actor.port_priority, actor.port, state)
        self.actor_state &= ~(LacpState.DEFAULTED | LacpState.EXPIRED)
        timeout = SHORT_TIMEOUT_TIME if self.actor_state & LacpState.TIMEOUT else \
            LONG_TIMEOUT_TIME
        self._cancel(self._current_while)
        self._current_while = sim.timer(timeout, self._current_while_expired)
        changed = self.partner_info != old or self.rx_state is not RxState.CURRENT
        if changed or sim.tracing:
            what = (f"current_while restarted ({format_duration(timeout)})"
                    if self.rx_state is RxState.CURRENT else
                    f"receive machine {self.rx_state} -> current (current_while "
                    f"{format_duration(timeout)})")
            self.last_rx_step = self._step(
                Action.NOTE if self.rx_state is RxState.CURRENT else Action.LINK,
                f"{self.name}: LACPDU from partner {self.partner_info.describe()}: {what}",
                self.flavor.fn_rx, cause, frame.uid)
        self.rx_state = RxState.CURRENT
        if changed:
            self._dirty = True
        if self.ntt:
            self._need_tx("partner has stale information about us", cause)
        self._update_periodic(cause)
        self._run_mux(cause)
        self._notify(cause)

    # -- Receive machine ------------------------------------------------------------------------
    def _enter_expired(self, why: str, cause: int) -> None:
        """EXPIRED: partner out of sync and assumed short-timeout, so we transmit
        fast while we try to hear from it; current_while = short timeout."""
        info = self.partner_info
        self.partner_info = LacpInfo(info.system_priority, info.system, info.key,
                                     info.port_priority, info.port,
                                     (info.state & ~LacpState.SYNCHRONIZATION) | LacpState.TIMEOUT)
        self._cancel(self._current_while)
        self._current_while = self.sim.timer(SHORT_TIMEOUT_TIME, self._current_while_expired)
        self._set_rx(RxState.EXPIRED, f"{why}; partner out of sync, DEFAULTED in "
                     f"{format_duration(SHORT_TIMEOUT_TIME)} unless a LACPDU comes", cause)
        self._set_actor_bit(LacpState.EXPIRED, True, cause)

    def _current_while_expired(self) -> None:
        if not self.enabled:
            return
        self._current_while = None
        if self.rx_state is RxState.CURRENT:
            self._enter_expired("current_while expired: no LACPDU from the partner for "
                                f"{format_duration(self._timeout())}", 0)
        elif self.rx_state is RxState.EXPIRED:
            # __update_default_selected() then __record_default()
            if self.selected and self.partner_admin != self.partner_info:
                self._unselect("partner information defaulted", 0)
            self.partner_info = self.partner_admin
            self.actor_state = (self.actor_state | LacpState.DEFAULTED) & ~LacpState.EXPIRED
            self._set_rx(RxState.DEFAULTED, "current_while expired again: no LACP partner, "
                         "partner information set to the administrative default", 0)
            self._need_tx("actor state changed", 0)
        self._update_periodic(0)
        self._run_mux(0)
        self._notify(0)

    def _timeout(self) -> Time:
        return SHORT_TIMEOUT_TIME if self.actor_state & LacpState.TIMEOUT else LONG_TIMEOUT_TIME

    def _set_rx(self, state: RxState, why: str, cause: int) -> None:
        if state is self.rx_state:
            return
        old = self.rx_state
        self.rx_state = state
        self._dirty = True
        action = Action.NOTE if state in (RxState.PORT_DISABLED, RxState.INITIALIZE) else \
            Action.LINK
        self._step(action, f"{self.name}: receive machine {old} -> {state} ({why})",
                   self.flavor.fn_rx, cause)

    # -- Periodic Transmission machine -------------------------------------------------------------
    def _periodic_wanted(self) -> PeriodicState:
        if not self.enabled or not (self.actor_state & LacpState.ACTIVITY
                                    or self.partner_info.state & LacpState.ACTIVITY):
            return PeriodicState.NO_PERIODIC
        if self.partner_info.state & LacpState.TIMEOUT:
            return PeriodicState.FAST_PERIODIC
        return PeriodicState.SLOW_PERIODIC

    def _update_periodic(self, cause: int) -> None:
        wanted = self._periodic_wanted()
        old = self.periodic_state
        if wanted is old:
            return
        self.periodic_state = wanted
        self._cancel(self._periodic)
        self._periodic = None
        if wanted is PeriodicState.NO_PERIODIC:
            why = "link down" if not self.enabled else "actor and partner both passive"
            self._step(Action.NOTE, f"{self.name}: periodic machine {old} -> {wanted} ({why}): "
                       "no LACPDUs sent", self.flavor.fn_periodic, cause)
            self.ntt = False
            return
        interval = FAST_PERIODIC_TIME if wanted is PeriodicState.FAST_PERIODIC else \
            SLOW_PERIODIC_TIME
        self._step(Action.NOTE, f"{self.name}: periodic machine {old} -> {wanted} (partner "
                   f"{'short' if wanted is PeriodicState.FAST_PERIODIC else 'long'} timeout): "
                   f"a LACPDU every {format_duration(interval)}", self.flavor.fn_periodic, cause)
        if old is PeriodicState.SLOW_PERIODIC and wanted is PeriodicState.FAST_PERIODIC:
            self._need_tx("partner asked for the short timeout", cause)     # via PERIODIC_TX
        self._periodic = self.sim.timer(interval, self._periodic_expired)

    def _periodic_expired(self) -> None:
        """PERIODIC_TX: NTT, then fast or slow again as the partner asks."""
        state = self.periodic_state
        if state is PeriodicState.NO_PERIODIC:
            return
        interval = FAST_PERIODIC_TIME if state is PeriodicState.FAST_PERIODIC else \
            SLOW_PERIODIC_TIME
        self._periodic = self.sim.timer(interval, self._periodic_expired)
        self._need_tx("periodic", 0)

    # -- Mux machine ------------------------------------------------------------------------
    def _unselect(self, why: str, cause: int) -> None:
        if self.selected:
            self.selected = False
            self.aggregator_active = False
            self._dirty = True
            self._step(Action.NOTE, f"{self.name}: unselected ({why})", self.flavor.fn_rx, cause)

    def _run_mux(self, cause: int) -> None:
        if not self.flavor.mux:
            self._run_teamd_mux(cause)
            return
        for _ in range(4):          # at most DETACHED -> WAITING -> ATTACHED -> C/D in one go
            state = self.mux_state
            selected = self.selected
            if state is MuxState.DETACHED:
                if not selected:
                    break
                self._set_mux(MuxState.WAITING, "selected", cause)
                self.ready = self.wait_while == 0
                if not self.ready:
                    self._wait = self.sim.timer(self.wait_while, self._wait_while_expired)
            elif state is MuxState.WAITING:
                if not selected:
                    self._cancel(self._wait)
                    self._set_mux(MuxState.DETACHED, "unselected", cause)
                elif self.ready:
                    self._set_mux(MuxState.ATTACHED, "wait_while expired: ready", cause)
                else:
                    break
            elif state is MuxState.ATTACHED:
                if not selected:
                    self._set_mux(MuxState.DETACHED, "unselected", cause)
                elif self.partner_in_sync and self.aggregator_active:
                    self._set_mux(MuxState.COLLECTING_DISTRIBUTING, "partner in sync", cause)
                else:
                    self._set_actor_bit(LacpState.SYNCHRONIZATION, self.aggregator_active, cause)
                    break
            elif not (selected and self.partner_in_sync and self.aggregator_active):
                why = ("unselected" if not selected else "aggregator not active"
                       if not self.aggregator_active else "partner out of sync")
                self._set_mux(MuxState.ATTACHED, why, cause)
            else:
                break

    def _set_mux(self, state: MuxState, why: str, cause: int) -> None:
        """Enter a Mux state and run its entry actions."""
        old = self.mux_state
        self.mux_state = state
        bits = self.actor_state
        if state is MuxState.DETACHED:
            bits &= ~(LacpState.SYNCHRONIZATION | _CD)
        elif state is MuxState.ATTACHED:
            bits &= ~_CD
            if self.aggregator_active:
                bits |= LacpState.SYNCHRONIZATION
            else:
                bits &= ~LacpState.SYNCHRONIZATION
        elif state is MuxState.COLLECTING_DISTRIBUTING:
            bits |= _CD | LacpState.SYNCHRONIZATION
        cd = state is MuxState.COLLECTING_DISTRIBUTING
        action = Action.LINK if cd or old is MuxState.COLLECTING_DISTRIBUTING else Action.NOTE
        what = (": collecting and distributing" if cd else
                ": stops collecting and distributing"
                if old is MuxState.COLLECTING_DISTRIBUTING else "")
        self._step(action, f"{self.name}: mux machine {old} -> {state} ({why}){what}",
                   self.flavor.fn_mux, cause)
        self._set_actor(bits, cause)
        if cd != self._cd:
            self._cd = cd
            self._dirty = True

    def _wait_while_expired(self) -> None:
        self._wait = None
        self.ready = True
        self._run_mux(0)
        self._notify(0)

    def _run_teamd_mux(self, cause: int) -> None:
        """teamd: lacp_port_actor_update() sets SYNC from ``selected``;
        lacp_port_should_be_enabled() wants selected and the partner in sync."""
        self._set_actor_bit(LacpState.SYNCHRONIZATION, self.selected, cause)
        cd = self.selected and self.aggregator_active and self.partner_in_sync
        if cd != self._cd:
            self._cd = cd
            self._dirty = True
            what = ("selected into the active aggregator and partner in sync: may be enabled"
                    if cd else "no longer selected with a partner in sync: to be disabled")
            self._step(Action.LINK, f"{self.name}: {what}", self.flavor.fn_mux, cause)

    # -- actor state and the Transmit machine -------------------------------------------------------
    def _set_actor_bit(self, bit: LacpState, on: bool, cause: int) -> None:
        self._set_actor(self.actor_state | bit if on else self.actor_state & ~bit, cause)

    def _set_actor(self, state: LacpState, cause: int) -> None:
        if state != self.actor_state:
            self.actor_state = state
            self._need_tx("actor state changed", cause)

    def _need_tx(self, why: str, cause: int) -> None:
        """NTT: the changes of this instant leave as one LACPDU."""
        self.ntt = True
        if not self._tx_pending and self.enabled:
            self._tx_pending = True
            self.sim.schedule(0, self._transmit, why, cause)

    def _transmit(self, why: str, cause: int) -> None:
        self._tx_pending = False
        if not self.ntt or not self.enabled:
            return
        if self.periodic_state is PeriodicState.NO_PERIODIC:
            self.ntt = False                # 6.4.16: nothing is sent while NO_PERIODIC
            return
        now = self.sim.now
        recent = [t for t in self._tx_times if t > now - FAST_PERIODIC_TIME]
        if len(recent) >= TX_LIMIT:
            self._tx_pending = True        # rate limit: retry when the oldest leaves the window
            self.sim.schedule(recent[0] + FAST_PERIODIC_TIME - now, self._transmit, why, cause)
            self._tx_times = recent
            return
        recent.append(now)
        self._tx_times = recent
        self.ntt = False
        self.pdus_sent += 1
        pdu = Lacpdu(self.actor, self.partner_info)
        frame = lacpdu_frame(self.sim.new_uid(), self.pdu_src or self.dev.mac, pdu)
        step = cause
        if self.sim.tracing:
            step = self.sim.step(self.where, self.name, Action.NOTE, frame.uid,
                                 f"LACPDU out of {self.name} ({why}): {pdu.describe()}",
                                 self.flavor.fn_tx, self.flavor.rule, cause=cause)
        self.send(self, frame, step)

    # -- helpers ------------------------------------------------------------------------------------
    def _notify(self, cause: int) -> None:
        """Tell the owner, once per entry point, that something selection-relevant changed."""
        if not self._dirty:
            return
        if self._notifying:
            return                          # the running callback sees the new state on return
        self._notifying = True
        try:
            while self._dirty:
                self._dirty = False
                self.changed(self, cause)
        finally:
            self._notifying = False

    def _step(self, action: Action, note: str, fn: str, cause: int, uid: int = 0) -> int:
        return self.sim.step(self.where, self.name, action, uid, note, fn, self.flavor.rule,
                             cause=cause)

    @staticmethod
    def _cancel(timer: Timer | None) -> None:
        if timer is not None:
            timer.cancel()


class Reselect:
    """Runs an owner's selection logic to a fixed point without re-entering it.

    ``LacpPort.changed`` fires from inside ``select()``; calling the selection
    again from there would recurse, so a call made while it runs only asks for
    one more pass (at most ``limit``)."""

    __slots__ = ("again", "busy", "limit", "select")

    def __init__(self, select: Callable[[int], None], limit: int = 16) -> None:
        self.select = select
        self.limit = limit
        self.busy = False
        self.again = False

    def __call__(self, cause: int = 0) -> None:
        if self.busy:
            self.again = True
            return
        self.busy = True
        try:
            for _ in range(self.limit):
                self.again = False
                self.select(cause)
                if not self.again:
                    break
        finally:
            self.busy = False


def group_by_partner(ports: Iterable[LacpPort]) -> dict[PartnerKey, list[LacpPort]]:
    """Ports with an aggregatable partner, grouped by (partner system priority,
    system, key), in port order: the candidates of ad_port_selection_logic /
    lacp_ports_aggregable (the actor key is the owner's, so the same for all)."""
    groups: dict[PartnerKey, list[LacpPort]] = {}
    for port in ports:
        key = port.partner_key()
        if key is not None and port.partner_aggregatable:
            groups.setdefault(key, []).append(port)
    return groups

