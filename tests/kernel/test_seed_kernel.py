"""Seed 000 (team roundrobin under a bridge, switch without LAG): real kernel vs vnetlab.

::

    vm1 --vnet0--+
                 br1 -- team1|bond0 --+-- ens224 ---- sw1:ge1
    kvm1                              +-- ens256 ---- sw1:ge2
                                                      sw1:ge3 ---- gw1:eth0 (192.168.10.254)

vm1 pings gw1.  With a roundrobin team (or balance-rr bond) and a switch without LAG, sw1
floods vm1's ARP broadcast back into the other team port (S1), the team delivers it (T2 /
BD6: every port active), and br1 moves vm1's MAC onto the team port (B7.4); gw1's reply is
then dropped by br1 (destination port == ingress port, B13) and the ping fails (BD17a).
Each fix breaks one link of that chain.  The kernel has no team/bond module: the aggregate
is a tap driven by ``aggregator.py`` (see docs/validation.md for what that emulates).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from .kernel_topo import (
    BRIDGE,
    GW_MAC,
    HOST,
    SWITCH,
    VM1_MAC,
    SeedKernelConfig,
    build_seed_lab,
)
from .netns import FdbSnapshot, Frame, Lab, PingResult
from .scenario import BROADCAST, Mismatch, SimResult, compare, parse_yaml, report, simulate

pytestmark = pytest.mark.kernel

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
GW_IP = "192.168.10.254"
SIM_BR1 = f"{HOST}:{BRIDGE}"

SEED_TOPOLOGY = """\
name: seed-000-{case}
hosts:
  kvm1:
    interfaces:
      - name: ens224
        type: ethernet
        mac-address: 00:50:56:a1:00:01
      - name: ens256
        type: ethernet
        mac-address: 00:50:56:a1:00:02
{aggregate}
      - name: br1
        type: linux-bridge
        bridge:
          options:
            mac-ageing-time: {ageing}
            stp:
              enabled: false
          port:
            - name: {agg_name}
              learning: {learning}
        ipv4:
          enabled: true
          address:
            - ip: 192.168.10.11
              prefix-length: 24
vms:
  vm1:
    host: kvm1
    interfaces:
      - type: bridge
        source: br1
        target: vnet0
        mac: 52:54:00:12:34:01
        ipv4:
          address: 192.168.10.21/24
          gateway: 192.168.10.254
switches:
  sw1:
    ports: [ge1, ge2, ge3]
    lags: {lags}
routers:
  gw1:
    interfaces:
      - name: eth0
        mac-address: 00:1b:21:0a:0b:01
        ipv4: 192.168.10.254/24
links:
  - endpoints: [kvm1:ens224, sw1:ge1]
  - endpoints: [kvm1:ens256, sw1:ge2]
  - endpoints: [gw1:eth0, sw1:ge3]
run:
{port_down}  - at: 2s
    ping: {{from: vm1, to: 192.168.10.254, count: 3, interval: 1s}}
expect:
{expect}"""

TEAM = """\
      - name: team1
        type: team
        team:
          ports:
            - name: ens224
            - name: ens256
          runner:
            name: {runner}"""

BOND = """\
      - name: bond0
        type: bond
        link-aggregation:
          mode: {mode}
          port: [ens224, ens256]"""

TEAM_RUNNER = {"roundrobin": "roundrobin", "activebackup": "activebackup"}
BOND_MODE = {"roundrobin": "balance-rr", "activebackup": "active-backup"}


@dataclass(frozen=True)
class SeedCase:
    """One variant of the seed topology; ``mode`` is the aggregator mode (rr or ab)."""

    id: str
    kind: str  # "team" | "bond"
    mode: str  # "roundrobin" | "activebackup"
    switch_lag: bool = False
    learning: bool = True
    ageing_time: int = 300
    down: tuple[str, ...] = ()

    @property
    def aggregate(self) -> str:
        """Name of the aggregate device (a bridge port of br1)."""
        return "team1" if self.kind == "team" else "bond0"

    # -- the rules, as predicates (never a hard-coded answer)
    def frames_loop_back(self) -> bool:
        """vm1's broadcast comes back into br1: the team transmits it on one port and
        delivers what arrives on the other (T2/T3, BD6/BD7: roundrobin, both ports
        enabled), and the switch floods it there (S1; a LAG is one port, S3)."""
        both_ports_enabled = not self.down
        return self.mode == "roundrobin" and both_ports_enabled and not self.switch_lag

    def br1_learns_from_aggregate(self) -> bool:
        """br1 learns sources seen on the aggregate port (B15 learning, B9 ageing 0)."""
        return self.learning and self.ageing_time > 0

    def poisoned(self) -> bool:
        """BD17a: the looped broadcast moves vm1's MAC onto the aggregate (B7.4)."""
        return self.frames_loop_back() and self.br1_learns_from_aggregate()

    def expected_vm1_port(self) -> str | None:
        """Where br1 holds vm1's MAC after the ping."""
        if self.ageing_time == 0:
            return None  # B9: nothing learned
        return self.aggregate if self.poisoned() else "vnet0"

    def expected_sw1_vm1_port(self) -> str | None:
        """sw1's port for vm1 when it does not depend on the round-robin counter."""
        if self.switch_lag:
            return "po1"  # S1/S3: the LAG is one logical port
        if self.mode == "activebackup" or "ens256" in self.down:
            return "ge1"  # only ens224 transmits (BD8 / T3 on the one enabled port)
        return None

    # -- the two experiments
    def kernel_config(self) -> SeedKernelConfig:
        """The namespace topology for this case."""
        return SeedKernelConfig(
            aggregate=self.aggregate,
            mode=self.mode,
            switch_lag=self.switch_lag,
            aggregate_learning=self.learning,
            ageing_time=self.ageing_time,
            down_ports=self.down,
        )

    def topology_yaml(self) -> str:
        """The vnetlab topology of this case, with rule-derived ``expect:`` entries."""
        if self.kind == "team":
            aggregate = TEAM.format(runner=TEAM_RUNNER[self.mode])
        else:
            aggregate = BOND.format(mode=BOND_MODE[self.mode])
        lags = "[{name: po1, ports: [ge1, ge2], mode: static}]" if self.switch_lag else "[]"
        port_down = "".join(f"  - at: 1s\n    port-down: {HOST}:{dev}\n" for dev in self.down)
        return SEED_TOPOLOGY.format(
            case=self.id,
            aggregate=aggregate,
            ageing=self.ageing_time,
            agg_name=self.aggregate,
            learning=str(self.learning).lower(),
            lags=lags,
            port_down=port_down,
            expect=self.expect_yaml(),
        )

    def expect_yaml(self) -> str:
        """``expect:`` entries stating the rule-derived outcome."""
        result = "fail" if self.poisoned() else "ok"
        text = f"  - ping: {{from: vm1, to: {GW_IP}}}\n    result: {result}\n"
        text += f"  - fdb: {{bridge: {SIM_BR1}, mac: {VM1_MAC}}}\n"
        port = self.expected_vm1_port()
        return text + (f"    port: {port}\n" if port else "    absent: true\n")


CASES = [
    SeedCase("team-rr-plain-switch", "team", "roundrobin"),
    SeedCase("team-rr-static-lag", "team", "roundrobin", switch_lag=True),
    SeedCase("team-rr-learning-off", "team", "roundrobin", learning=False),
    SeedCase("team-activebackup", "team", "activebackup"),
    SeedCase("team-rr-ens256-down", "team", "roundrobin", down=("ens256",)),
    SeedCase("team-rr-ageing-0", "team", "roundrobin", ageing_time=0),
    SeedCase("bond-balance-rr", "bond", "roundrobin"),
    SeedCase("bond-active-backup", "bond", "activebackup"),
]


@dataclass(frozen=True)
class SeedObservation:
    """What the kernel did in one seed case."""

    ping: PingResult
    rx: dict[str, list[Frame]]  # frames received by vm1's and gw1's NICs
    br1: FdbSnapshot
    sw1: FdbSnapshot
    aggregator_stats: dict[str, dict[str, int]]

    def count(self, endpoint: str, src: str, dst: str, ethertype: int) -> int:
        """How many such frames arrived at ``endpoint``'s NIC."""
        return self.rx[endpoint].count(Frame(src, dst, ethertype))

    @property
    def br1_vm1(self) -> str | None:
        """br1's port for vm1's MAC."""
        return self.br1.port_of(VM1_MAC)

    @property
    def sw1_vm1(self) -> str | None:
        """sw1's port for vm1's MAC."""
        return self.sw1.dynamic.get(VM1_MAC)


def run_kernel(lab: Lab, case: SeedCase) -> SeedObservation:
    """Build the case in namespaces; vm1 pings gw1 while both NICs are captured."""
    seed = build_seed_lab(lab, case.kernel_config())
    captures = {"vm1": seed.vm1.capture("eth0"), "gw1": seed.gw1.capture("eth0")}
    ping = seed.ping()
    rx = {name: cap.stop() for name, cap in captures.items()}
    br1, sw1 = seed.br1_fdb(), seed.sw1_fdb()
    return SeedObservation(ping, rx, br1, sw1, seed.stop_aggregators())


def outcome(sent: int, replies: int) -> str:
    """``ok`` (every request answered), ``fail`` (none) or ``partial``."""
    if sent and replies == sent:
        return "ok"
    return "fail" if replies == 0 else "partial"


# (what, endpoint, src, dst, ethertype, compare the exact count or only "any")
DELIVERIES = (
    ("vm1 got its own ARP broadcast back", "vm1", VM1_MAC, BROADCAST, ETH_P_ARP, False),
    ("vm1 got gw1's ARP reply", "vm1", GW_MAC, VM1_MAC, ETH_P_ARP, False),
    ("gw1 got vm1's ARP request", "gw1", VM1_MAC, BROADCAST, ETH_P_ARP, False),
    ("gw1 got vm1's echo requests", "gw1", VM1_MAC, GW_MAC, ETH_P_IP, True),
    ("vm1 got gw1's echo replies", "vm1", GW_MAC, VM1_MAC, ETH_P_IP, True),
)


def sim_mismatches(case: SeedCase, kernel: SeedObservation, sim: SimResult) -> list[Mismatch]:
    """Every seed observable on which vnetlab differs from the kernel."""
    sim_ping = outcome(sim.ping_sent("vm1", GW_IP), sim.ping_replies("vm1", GW_IP))
    found = compare("ping vm1 -> gw1", outcome(kernel.ping.sent, kernel.ping.received), sim_ping)
    sim_br1 = {str(mac).lower(): str(port) for mac, port in sim.fdb(SIM_BR1).items()}
    found += compare(f"{SIM_BR1} dynamic FDB", kernel.br1.dynamic, sim_br1)
    found += compare(f"{SIM_BR1} port of vm1", kernel.br1_vm1, sim.fdb_port(SIM_BR1, VM1_MAC))
    found += compare("sw1 port of gw1", kernel.sw1.dynamic.get(GW_MAC), sim.fdb_port(SWITCH, GW_MAC))
    if case.expected_sw1_vm1_port() is not None:  # else it depends on the rr counter
        found += compare("sw1 port of vm1", kernel.sw1_vm1, sim.fdb_port(SWITCH, VM1_MAC))
    for what, endpoint, src, dst, ethertype, exact in DELIVERIES:
        k = kernel.count(endpoint, src, dst, ethertype)
        s = sim.received(endpoint, src=src, dst=dst, ethertype=ethertype)
        found += compare(what, k, s) if exact else compare(what, k > 0, s > 0)
    return found


def assert_kernel_follows_rules(case: SeedCase, kernel: SeedObservation) -> None:
    """The emulation reproduces the rule-derived outcome (else the comparison is void)."""
    assert outcome(kernel.ping.sent, kernel.ping.received) == ("fail" if case.poisoned() else "ok"), kernel
    assert kernel.br1_vm1 == case.expected_vm1_port(), kernel
    looped = kernel.count("vm1", VM1_MAC, BROADCAST, ETH_P_ARP) > 0
    assert looped == case.frames_loop_back(), kernel
    assert kernel.sw1.dynamic.get(GW_MAC) == "ge3", kernel
    if (expected := case.expected_sw1_vm1_port()) is not None:
        assert kernel.sw1_vm1 == expected, kernel
    else:
        assert kernel.sw1_vm1 in ("ge1", "ge2"), kernel
    if case.mode == "activebackup":  # T2 ab_receive / BD6: the loop died on the backup port
        assert kernel.aggregator_stats[case.aggregate].get("rx_dropped_ens256", 0) > 0


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_seed_000(lab: Lab, case: SeedCase) -> None:
    """Ping outcome and vm1's FDB port: kernel == rules, then simulator == kernel."""
    kernel = run_kernel(lab, case)
    assert_kernel_follows_rules(case, kernel)

    text = case.topology_yaml()
    parse_yaml(text)  # the YAML itself must be valid before blaming the simulator
    sim = simulate(text, f"seed-000-{case.id}")
    mismatches = sim_mismatches(case, kernel, sim)
    assert not mismatches, report(mismatches)
    assert sim.all_expectations_hold, "vnetlab: the rule-derived expect: entries do not hold"
