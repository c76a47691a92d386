"""Linux bonding.

Mirrors: drivers/net/bonding/bond_main.c (bond_enslave, bond_handle_frame,
bond_xmit_roundrobin_slave_get, bond_rr_gen_slave_id,
bond_xmit_activebackup_slave_get, bond_select_active_slave), semantics §2:
BD1, BD3, BD5-BD8, BD13.

Limitations: modes balance-rr and active-backup; the other five (the mode
names are all here) come with the bond-mode matrix work and are rejected at
load time. MII monitoring notices a carrier change at the next ``miimon``
tick (no updelay/downdelay yet); no ARP monitor; no ``fail_over_mac`` other
than none; no peer notification GARPs (a bond under a bridge has no IP, so
there would be none, BD14).
"""

from __future__ import annotations

from enum import StrEnum

from vnetlab.devices.aggregate import Aggregate, AggregatePort
from vnetlab.devices.netdev import NetDevice
from vnetlab.net.addr import Mac
from vnetlab.net.frame import Frame
from vnetlab.sim.sim import Sim
from vnetlab.sim.time import MS, Time
from vnetlab.sim.trace import Action


class BondMode(StrEnum):
    """The kernel's mode names; numeric aliases 0-6 are accepted on input."""

    BALANCE_RR = "balance-rr"          # 0
    ACTIVE_BACKUP = "active-backup"    # 1
    BALANCE_XOR = "balance-xor"        # 2
    BROADCAST = "broadcast"            # 3
    LACP = "802.3ad"                   # 4
    BALANCE_TLB = "balance-tlb"        # 5
    BALANCE_ALB = "balance-alb"        # 6


MODELLED_MODES = (BondMode.BALANCE_RR, BondMode.ACTIVE_BACKUP)


class Bond(Aggregate):
    """A bond device (``type: bond``). Its ports are the kernel's ``struct slave``."""

    kind = "bond"
    fn_link = "bond_miimon_commit"
    rule_link = "BD13"

    def __init__(self, sim: Sim, node: str, name: str, mac: Mac | None, mode: BondMode, *,
                 miimon: Time = 100 * MS, primary: str | None = None) -> None:
        super().__init__(sim, node, name, mac)
        if mode not in MODELLED_MODES:
            raise ValueError(f"bond mode {mode} is not modelled yet")
        self.mode = mode
        self.miimon = miimon
        self.primary = primary
        self.rr_tx_counter = 0
        self.curr_active: AggregatePort | None = None
        self.fn_tx = ("bond_xmit_roundrobin_slave_get" if mode is BondMode.BALANCE_RR
                      else "bond_xmit_activebackup_slave_get")
        self.rule_tx = "BD7" if mode is BondMode.BALANCE_RR else "BD8"

    def port_added(self, port: AggregatePort) -> None:
        """bond_enslave(): in active-backup the new slave starts as backup and
        bond_select_active_slave() picks primary, else the first usable (BD5)."""
        if self.mode is BondMode.ACTIVE_BACKUP:
            self.select_active_slave("enslaved")

    def select_active_slave(self, why: str) -> None:
        usable = [p for p in self.ports if p.enabled]
        best = next((p for p in usable if p.name == self.primary), None)
        if best is None:
            best = (self.curr_active if self.curr_active in usable else
                    usable[0] if usable else None)
        if best is not self.curr_active:
            self.curr_active = best
            self.sim.step(self.where, best.name if best else "", Action.LINK, 0,
                          f"active slave is now {best.name if best else 'none'} ({why})",
                          "bond_change_active_slave", "BD8")

    def port_link_changed(self, dev: NetDevice) -> None:
        """The MII monitor polls carrier every ``miimon``: the change is committed
        at the next tick (bond_mii_monitor -> bond_miimon_commit, BD13)."""
        if self.miimon == 0:
            return                          # no link monitoring: failures go unnoticed
        now = self.sim.now
        next_tick = (now // self.miimon + 1) * self.miimon
        self.sim.schedule(next_tick - now, super().port_link_changed, dev)

    def link_changed(self, port: AggregatePort) -> None:
        if self.mode is BondMode.ACTIVE_BACKUP:
            self.select_active_slave(f"{port.name} link {'up' if port.enabled else 'down'}")

    def rx_allowed(self, port: AggregatePort) -> str | None:
        """BD6: rr delivers from every slave with link; active-backup only from
        curr_active_slave (all_slaves_active 0)."""
        if not port.enabled:
            return f"slave {port.name} link is down"
        if self.mode is BondMode.ACTIVE_BACKUP and port is not self.curr_active:
            return f"slave {port.name} is a backup (inactive)"
        return None

    def select_tx(self, frame: Frame) -> tuple[AggregatePort | None, str]:
        if self.mode is BondMode.ACTIVE_BACKUP:
            return self.active_tx(self.curr_active, "active-backup (curr_active_slave)")
        # bond_rr_gen_slave_id(): this_cpu_inc_return(rr_tx_counter) with
        # packets_per_slave 1, so the first frame gets slave id 1; then the
        # first slave able to transmit from id % slave_cnt (bond_get_slave_by_id)
        self.rr_tx_counter += 1
        slave_id = self.rr_tx_counter
        count = len(self.ports)
        if not count:
            return None, "balance-rr: no slaves"
        start = slave_id % count
        for offset in range(count):
            port = self.ports[(start + offset) % count]
            if port.enabled and port.dev.running:
                return port, f"balance-rr: slave id {slave_id} % {count} -> {port.name}"
        return None, "balance-rr: no slave can transmit"
