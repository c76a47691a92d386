"""Bonding mode 802.3ad: the owner side of LACP for a bond.

Mirrors: drivers/net/bonding/bond_3ad.c (bond_3ad_bind_slave,
ad_port_selection_logic, ad_agg_selection_logic, __agg_has_partner,
__enable_port/__disable_port, bond_3ad_set_carrier, bond_3ad_lacpdu_recv,
bond_3ad_initiate_agg_selection), semantics BD12; the per-port machines are
``lacp.LacpPort`` with the BONDING flavour.

Aggregators: the slaves whose partner answers (aggregatable) are grouped by
partner (system priority, system, key); every other slave is an individual
aggregator of its own. ``ad_select stable`` keeps the active aggregator while
it has a slave up, and lets one with a partner replace one without; among
candidates the one with a partner wins, then (bandwidth/count, equal speeds)
the one with more slaves, then the first. The slaves of the active
aggregator carry traffic once their Mux reaches COLLECTING_DISTRIBUTING, or
at once when the active aggregator has no partner ("No 802.3ad response from
the link partner": one link, as active-backup). The Mux of a partnered
aggregator waits for the aggregator selection timer, reset to 8 s
(AD_AGGREGATOR_SELECTION_TIMER) each time a slave is bound.

Limitations: equal link speeds (1 Gb/s full duplex: actor key (user_key << 6)
| (speed 4 << 1) | duplex 1); ad_select bandwidth and count behave alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vnetlab.devices.aggregate import AggregatePort
from vnetlab.devices.lacp import BONDING, LacpPort, Reselect
from vnetlab.net.addr import mac_str
from vnetlab.net.frame import Frame
from vnetlab.sim.time import S, Time
from vnetlab.sim.trace import Action

if TYPE_CHECKING:
    from vnetlab.devices.bond import Bond

AD_AGGREGATOR_SELECTION_TIMER: Time = 8 * S
AD_LINK_SPEED_1000MBPS = 4

AggId = tuple[str, object]


class Ad:
    """802.3ad state of one bond (``BOND_AD_INFO(bond)``)."""

    def __init__(self, bond: Bond) -> None:
        self.bond = bond
        self.lacp: dict[AggregatePort, LacpPort] = {}
        self.active: AggId | None = None
        self.selection_timer_end: Time = 0
        self.link_up: dict[AggregatePort, bool] = {}     # the MII monitor's verdict
        self._reselect = Reselect(self._select)

    # -- binding -------------------------------------------------------------------
    def port_added(self, port: AggregatePort) -> None:
        """bond_3ad_bind_slave(): a LacpPort for the slave, and the aggregator
        selection timer restarted (bond_3ad_initiate_agg_selection)."""
        bond = self.bond
        params = bond.params
        key = (params.ad_user_port_key << 6) | (AD_LINK_SPEED_1000MBPS << 1) | 1
        lacp = LacpPort(bond.sim, bond.where, port.dev,
                        system=params.ad_actor_system or bond.mac,
                        system_priority=params.ad_actor_sys_prio, key=key,
                        port_number=len(self.lacp) + 1, active=params.lacp_active,
                        fast=params.lacp_rate == "fast", send=self._send, changed=self._changed,
                        flavor=BONDING, pdu_src=port.perm_mac)
        self.lacp[port] = lacp
        self.link_up[port] = port.link_state == "up"
        port.enabled = False                   # until the aggregation says so
        self.selection_timer_end = bond.sim.now + AD_AGGREGATOR_SELECTION_TIMER
        bond.sim.schedule(AD_AGGREGATOR_SELECTION_TIMER, self._timer_check)
        lacp.start()

    def _send(self, lacp: LacpPort, frame: Frame, cause: int) -> None:
        port = self.port_of(lacp)
        port.last_tx = self.bond.sim.now
        lacp.dev.xmit(frame, cause, 0)

    def port_of(self, lacp: LacpPort) -> AggregatePort:
        return next(p for p, lp in self.lacp.items() if lp is lacp)

    # -- events ----------------------------------------------------------------------
    def carrier_changed(self, port: AggregatePort) -> None:
        """Raw carrier is not what 802.3ad follows: the MII monitor's verdict is
        (bond_3ad_handle_link_change from bond_miimon_commit), see link_changed."""

    def link_changed(self, port: AggregatePort, cause: int) -> None:
        lacp = self.lacp.get(port)
        if lacp is not None:
            lacp.link_changed(self.link_up[port], cause)
            self._changed(lacp, cause)

    def lacpdu_recv(self, port: AggregatePort, frame: Frame, cause: int) -> None:
        """bond_3ad_lacpdu_recv(): LACPDUs are consumed by the bond (BD6.1)."""
        lacp = self.lacp.get(port)
        if lacp is not None and self.link_up.get(port):
            lacp.rx(frame, cause)

    def _timer_check(self) -> None:
        if self.bond.sim.now >= self.selection_timer_end:
            self.bond.sim.step(self.bond.where, self.bond.name, Action.NOTE, 0,
                               "aggregator selection timer expired", "ad_agg_selection_logic",
                               "BD12")
            self._changed(None, 0)

    def _changed(self, lacp: LacpPort | None, cause: int) -> None:
        self._reselect(cause)

    # -- selection ---------------------------------------------------------------------
    def aggregators(self) -> dict[AggId, list[AggregatePort]]:
        """ad_port_selection_logic(): slaves with an aggregatable partner share an
        aggregator per partner; the others are individual."""
        aggs: dict[AggId, list[AggregatePort]] = {}
        for port, lacp in self.lacp.items():
            key = lacp.partner_key()
            agg_id: AggId = ("partner", key) if key is not None and lacp.partner_aggregatable \
                else ("individual", port.name)
            aggs.setdefault(agg_id, []).append(port)
        return aggs

    def _select(self, cause: int) -> None:
        """ad_agg_selection_logic() with ad_select stable (BD12)."""
        bond = self.bond
        aggs = self.aggregators()
        up = {agg_id: [p for p in ports if self.link_up[p]] for agg_id, ports in aggs.items()}
        candidates = [a for a in aggs if up[a]]
        best = None
        for agg_id in candidates:               # ad_agg_selection_test: partner, then size
            if best is None or (agg_id[0] == "partner", len(up[agg_id])) > \
                    (best[0] == "partner", len(up[best])):
                best = agg_id
        active = self.active if self.active in candidates else None
        if active is not None and best is not None and (
                active[0] == "partner" or best[0] != "partner"):
            best = active                       # stable: keep it
        if best != self.active:
            self.active = best
            if best is None:
                what = "none (no slave is up)"
            elif best[0] == "partner":
                key = best[1]
                assert isinstance(key, tuple)
                what = (f"the aggregator of partner {mac_str(key[1])} key {key[2]} "
                        f"({', '.join(p.name for p in aggs[best])})")
            else:
                what = (f"individual {best[1]}: No 802.3ad response from the link partner for "
                        "any adapters in the bond; one link carries all traffic")
            bond.sim.step(bond.where, bond.name, Action.LINK, 0,
                          f"active aggregator is now {what}", "ad_agg_selection_logic", "BD12",
                          cause=cause)
        timer_running = bond.sim.now < self.selection_timer_end
        was_carrier = bond.carrier
        for agg_id, ports in aggs.items():
            is_active = agg_id == self.active
            for port in ports:
                lacp = self.lacp[port]
                lacp.select(self.link_up[port], cause, active=is_active and not timer_running)
                enabled = self.link_up[port] and is_active and (
                    lacp.collecting_distributing or agg_id[0] == "individual")
                if enabled != port.enabled:
                    port.enabled = enabled
                    how = "__enable_port" if enabled else "__disable_port"
                    why = ("collecting and distributing" if lacp.collecting_distributing else
                           "the active aggregator has no partner" if enabled else
                           "not in the active aggregator, or not collecting")
                    bond.sim.step(bond.where, port.name, Action.LINK, 0,
                                  f"port {port.name} {'enabled' if enabled else 'disabled'} "
                                  f"({why})", how, "BD12", cause=cause)
        if bond.carrier != was_carrier:
            bond.notify_carrier()

    # -- what the bond asks ------------------------------------------------------------
    def usable(self) -> list[AggregatePort]:
        """bond_update_slave_arr(): the enabled slaves of the active aggregator."""
        return [p for p in self.bond.ports if p.enabled and p.dev.running]

    def rx_allowed(self, port: AggregatePort) -> str | None:
        """BD6: only slaves of the active aggregator that collect deliver up."""
        if port.enabled:
            return None
        lacp = self.lacp.get(port)
        state = f" (mux {lacp.mux_state}, rx {lacp.rx_state})" if lacp is not None else ""
        return f"slave {port.name} is not collecting in the active aggregator{state}"

    def carrier(self) -> bool:
        """bond_3ad_set_carrier(): enough slaves of the active aggregator are up."""
        active = sum(1 for p in self.bond.ports if p.enabled)
        return active >= max(1, self.bond.params.min_links)
