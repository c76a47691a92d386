"""What an aggregate does, asked of the device model itself.

The aggregate checks do not keep a table of "modes that need a LAG": they build
the user's bond or team (``topology.build.bond_params`` / ``team_params``: the
same parameters the simulator runs with) in a small simulation of its own, each
port cabled to a silent far end (a switch port that speaks no LACP), run it for
12 s (past bonding's 8 s aggregator selection timer, BD12, and the first
balance-tlb/alb rebalance at 10 s, BD11) while VM frames leave through it, and
read the answers from the model:

* ``delivering``: ports on which a received broadcast is delivered up to the
  aggregate (``rx_allowed``: BD6, T2). More than one means a switch that floods a
  broadcast back into the host (no LAG: each port is a logical port of its own,
  S1) makes the bridge above re-learn the sender's MAC on the aggregate (BD17a).
* ``carrying``: ports that carry traffic with no LACP partner (bonding 802.3ad keeps
  one, BD12; teamd's lacp runner none, T6; every other mode all of them).
* ``speaks_lacp``: the aggregate runs LACP (it needs an LACP LAG on the switch).
* ``rewrites_source``: VM frames left with a port's own MAC as their source
  (``bond_do_alb_xmit``, BD11): replies to the VM go astray (BD17e).

Answers are cached per (kind, parameters, number of ports): a fleet of hosts with
the same bond configuration asks once per worker process.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from vnetlab.devices.bond import Bond, BondParams
from vnetlab.devices.netdev import Link, Nic
from vnetlab.devices.team import Team, TeamParams, TeamPortParams
from vnetlab.net.frame import EtherType, Frame, Icmp, IcmpType, Ipv4, arp_request
from vnetlab.sim.sim import Sim
from vnetlab.sim.time import MS, S

RUN = 12 * S
VM_MACS = tuple(0x5254_0000_0100 + i for i in range(4))
DESTINATIONS = tuple(0x0A00_0000 + 10 + i for i in range(4))


@dataclass(frozen=True, slots=True)
class AggregateBehaviour:
    kind: str                       # bond | team
    mode: str                       # the bond mode or team runner
    ports: int
    delivering: tuple[str, ...]     # ports that deliver a received broadcast up
    refusing: tuple[str, ...]       # why each other port does not (the model's sentence)
    carrying: int                   # ports that carry traffic without an LACP partner
    speaks_lacp: bool
    rewrites_source: bool

    @property
    def needs_one_logical_port(self) -> bool:
        """Several ports deliver a flooded-back broadcast: the switch must treat them
        as one logical port (a LAG), or the bridge above learns VM MACs on the
        aggregate (BD17a)."""
        return len(self.delivering) > 1


def _sink(dev: object, frame: Frame, cause: int, hops: int) -> None:
    """The far end: a switch port that hears everything and answers nothing."""


@lru_cache(maxsize=512)
def behaviour(kind: str, params: BondParams | TeamParams, ports: int) -> AggregateBehaviour:
    sim = Sim(0, "off")
    agg: Bond | Team
    agg = Bond(sim, "probe", "agg", None, params) if isinstance(params, BondParams) \
        else Team(sim, "probe", "agg", None, params)
    for i in range(max(ports, 1)):
        nic = Nic(sim, "probe", f"port{i}", 0x0200_0000_0100 + i)
        far = Nic(sim, "far", f"sw{i}", 0x0200_0000_0200 + i)
        far.rx_handler = _sink
        Link(sim, nic, far, 1000)
        nic.notify_carrier()
        far.notify_carrier()
        if isinstance(agg, Bond):
            agg.enslave(nic)
        else:
            agg.add_port(nic, TeamPortParams())
    agg.measure = True
    count = 0
    for tick in range(0, RUN, 250 * MS):
        for j, mac in enumerate(VM_MACS):
            count += 1
            dst = DESTINATIONS[(j + tick // S) % len(DESTINATIONS)]
            packet = Ipv4(0x0A00_0000 + 100 + j, dst, Icmp(IcmpType.ECHO_REQUEST, j, count))
            frame = Frame(0x02AA_0000_0001, mac, EtherType.IPV4, packet, count)
            sim.schedule(tick, agg.xmit, frame, 0, 0)
    sim.run(RUN)
    probe = arp_request(count + 1, VM_MACS[0], 0x0A00_0000 + 100, 0x0A00_0000 + 10)
    delivering: list[str] = []
    refusing: list[str] = []
    for port in agg.ports:
        why = agg.rx_allowed(port, probe)
        if why is None:
            delivering.append(port.dev.name)
        else:
            refusing.append(why)
    if isinstance(agg, Bond):
        carrying = len(agg.usable())
        lacp = agg.ad is not None
        mode = str(agg.mode)
    else:
        carrying = len(agg.enabled_ports())
        lacp = agg.lacp is not None
        mode = str(agg.runner)
    return AggregateBehaviour(kind, mode, len(agg.ports), tuple(delivering), tuple(refusing),
                              carrying, lacp, agg.src_rewrites > 0)
