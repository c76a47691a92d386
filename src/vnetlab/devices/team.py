"""The team driver with teamd's runners.

Mirrors: drivers/net/team/team_core.c (team_handle_frame), team_mode_
roundrobin.c and team_mode_activebackup.c, with libteam's teamd runners
(teamd_runner_basic_ones.c, teamd_runner_activebackup.c) choosing the kernel
mode and enabling ports (semantics §3: T1-T5).

Limitations: runners roundrobin and activebackup; the others (broadcast,
random, loadbalance, lacp) come with the bond-mode matrix work and are
rejected at load time. The ethtool link watcher reacts to carrier at once
(delay_up/delay_down 0). activebackup's notify_peers GARPs are not sent (the
team under a bridge has no IP of its own, so there would be none, T5).
"""

from __future__ import annotations

from enum import StrEnum

from vnetlab.devices.aggregate import Aggregate, AggregatePort
from vnetlab.net.addr import Mac
from vnetlab.net.frame import Frame
from vnetlab.sim.sim import Sim
from vnetlab.sim.trace import Action


class TeamRunner(StrEnum):
    """teamd runner names (teamd.conf(5)); roundrobin is teamd's default (T1)."""

    ROUNDROBIN = "roundrobin"
    ACTIVEBACKUP = "activebackup"
    BROADCAST = "broadcast"
    RANDOM = "random"
    LOADBALANCE = "loadbalance"
    LACP = "lacp"


MODELLED_RUNNERS = (TeamRunner.ROUNDROBIN, TeamRunner.ACTIVEBACKUP)


class Team(Aggregate):
    """A team device (``type: team``)."""

    kind = "team"
    fn_rx = "team_handle_frame"
    rule_rx = "T2"
    fn_link = "teamd link_watch ethtool"
    rule_link = "T7"

    def __init__(self, sim: Sim, node: str, name: str, mac: Mac | None,
                 runner: TeamRunner) -> None:
        super().__init__(sim, node, name, mac)
        if runner not in MODELLED_RUNNERS:
            raise ValueError(f"team runner {runner} is not modelled yet")
        self.runner = runner
        self.sent_packets = 0                  # rr_priv(team)->sent_packets
        self.active: AggregatePort | None = None
        self.fn_tx = "rr_transmit" if runner is TeamRunner.ROUNDROBIN else "ab_transmit"
        self.rule_tx = "T3"

    def port_added(self, port: AggregatePort) -> None:
        if self.runner is TeamRunner.ACTIVEBACKUP and self.active is None and port.enabled:
            self.set_active(port, "first port with link")

    def set_active(self, port: AggregatePort | None, why: str, cause: int = 0) -> None:
        """teamd activebackup: set the kernel's ``activeport`` option (T5)."""
        self.active = port
        self.sim.step(self.where, port.name if port else "", Action.LINK, 0,
                      f"active port is now {port.name if port else 'none'} ({why})",
                      "ab_change_active_port", "T5", cause=cause)

    def link_changed(self, port: AggregatePort) -> None:
        if self.runner is not TeamRunner.ACTIVEBACKUP:
            return
        if self.active is port and not port.enabled:
            best = self._best_port()
            self.set_active(best, f"{port.name} lost link")
        elif self.active is None and port.enabled:
            self.set_active(port, f"{port.name} gained link")

    def _best_port(self) -> AggregatePort | None:
        """Highest ``prio`` among ports with link; the first such port on ties."""
        candidates = [p for p in self.ports if p.enabled]
        return max(candidates, key=lambda p: p.prio) if candidates else None

    def rx_allowed(self, port: AggregatePort) -> str | None:
        if not port.enabled:
            return f"team port {port.name} is not enabled"
        if self.runner is TeamRunner.ACTIVEBACKUP and port is not self.active:
            return f"{port.name} is not the active port (ab_receive)"
        return None

    def select_tx(self, frame: Frame) -> tuple[AggregatePort | None, str]:
        if self.runner is TeamRunner.ACTIVEBACKUP:
            return self.active_tx(self.active, "activebackup")
        # roundrobin: port_index = sent_packets++ % en_port_count, then the
        # first txable port from there (team_get_first_port_txable_rcu)
        enabled = [p for p in self.ports if p.enabled]
        if not enabled:
            return None, "roundrobin: no enabled port"
        index = self.sent_packets % len(enabled)
        self.sent_packets += 1
        for offset in range(len(enabled)):
            port = enabled[(index + offset) % len(enabled)]
            if port.dev.running:
                return port, f"roundrobin: frame #{self.sent_packets} -> port index {index}"
        return None, "roundrobin: no txable port"
