"""teamd's lacp runner: the owner side of LACP for a team.

Mirrors: libteam teamd/teamd_runner_lacp.c (lacp_port_added,
lacp_port_link_update, lacp_update_selected, lacp_port_should_be_enabled,
lacp_port_selectable_state), semantics T6; the per-port machines are
``lacp.LacpPort`` with the TEAMD flavour (no Mux machine).

A port is selectable only in the CURRENT receive state (a partner that
answers); selectable ports are grouped by partner into aggregators and one is
selected (``agg_select_policy lacp_prio``: the aggregator holding the port
with the best, lowest ``lacp_prio``; then the larger; then the first). A port
is enabled in the kernel only when it is in the selected aggregator **and**
its partner shows SYNCHRONIZATION. With no partner at all nothing is
selectable, no port is enabled and the team has no carrier: unlike bonding's
802.3ad, teamd does not fall back to one link (T6).

Limitations: agg_select_policy bandwidth/count/port_config behave as
lacp_prio; no per-port ``lacp_key`` split beyond the partner grouping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vnetlab.devices.aggregate import AggregatePort
from vnetlab.devices.lacp import TEAMD, LacpPort, Reselect, RxState
from vnetlab.net.addr import mac_str
from vnetlab.net.frame import Frame
from vnetlab.sim.trace import Action

if TYPE_CHECKING:
    from vnetlab.devices.team import Team


class TeamdLacp:
    def __init__(self, team: Team) -> None:
        self.team = team
        self.lacp: dict[AggregatePort, LacpPort] = {}
        self.selected: tuple[int, int, int] | None = None
        self._reselect = Reselect(self._select)

    def port_added(self, port: AggregatePort) -> None:
        """lacp_port_added(): the port starts disabled; teamd's LACP runs on it."""
        team = self.team
        params = team.params
        own = team.port_params[port]
        lacp = LacpPort(team.sim, team.where, port.dev, system=team.mac,
                        system_priority=params.sys_prio, key=own.lacp_key,
                        port_number=len(self.lacp) + 1, port_priority=own.lacp_prio,
                        active=params.active, fast=params.fast_rate, send=self._send,
                        changed=self._changed, flavor=TEAMD)
        self.lacp[port] = lacp
        port.enabled = False
        lacp.start()
        for other in self.lacp.values():     # a lone port is not aggregatable
            other.set_aggregatable(len(self.lacp) > 1)

    def _send(self, lacp: LacpPort, frame: Frame, cause: int) -> None:
        lacp.dev.xmit(frame, cause, 0)

    def carrier_changed(self, port: AggregatePort) -> None:
        """teamd follows its link watcher's verdict (link_changed), not raw carrier."""

    def link_changed(self, port: AggregatePort, cause: int) -> None:
        lacp = self.lacp.get(port)
        if lacp is not None:
            lacp.link_changed(bool(self.team.link_up.get(port)), cause)
            self._changed(lacp, cause)

    def lacpdu_recv(self, port: AggregatePort, frame: Frame, cause: int) -> None:
        """teamd reads LACPDUs from its packet socket on the port (the kernel's
        lb_receive leaves them alone, T2)."""
        lacp = self.lacp.get(port)
        if lacp is not None and self.team.link_up.get(port):
            lacp.rx(frame, cause)

    def _changed(self, lacp: LacpPort | None, cause: int) -> None:
        self._reselect(cause)

    def _select(self, cause: int) -> None:
        """lacp_update_selected() + lacp_port_should_be_enabled() (T6)."""
        team = self.team
        aggs: dict[tuple[int, int, int], list[AggregatePort]] = {}
        for port, lacp in self.lacp.items():
            key = lacp.partner_key()
            if key is not None and lacp.rx_state is RxState.CURRENT and team.link_up.get(port):
                aggs.setdefault(key, []).append(port)
        best = None
        if self.selected in aggs:
            best = self.selected
        else:
            ranked = sorted(aggs, key=lambda k: (min(team.port_params[p].lacp_prio
                                                     for p in aggs[k]), -len(aggs[k])))
            best = ranked[0] if ranked else None
        if best != self.selected:
            self.selected = best
            what = (f"the aggregator of partner {mac_str(best[1])} key {best[2]}" if best else
                    "none: no port has an LACP partner (DEFAULTED), so no port is enabled and "
                    f"{team.name} has no carrier")
            team.sim.step(team.where, team.name, Action.LINK, 0, f"selected aggregator: {what}",
                          "lacp_update_selected", "T6", cause=cause)
        for port, lacp in self.lacp.items():
            chosen = best is not None and port in aggs.get(best, [])
            lacp.select(chosen, cause)
            team.set_enabled(port, chosen and lacp.collecting_distributing, cause)
