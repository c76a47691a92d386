"""Linux bridge learning/forwarding rules: real kernel vs vnetlab, case by case.

Topology (both sides): host ``kvm1`` with bridge ``br1`` (STP off) and three VMs whose taps
``vnet0..vnet2`` are its ports.  Each test lists its steps once; the kernel executes them in
namespaces, vnetlab gets them as the ``run:`` section of the YAML below.  Each test first
asserts the rule-derived outcome on the kernel (so the harness itself is checked), then that
the simulator observed exactly what the kernel did: br1's dynamic FDB, the port of every MAC
involved, and how many copies of every frame each VM NIC received.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from .kernel_topo import BRIDGE, HOST, BridgeObservation, Vm, build_bridge_lab, observe, tap_mac
from .netns import TEST_ETHERTYPE, Lab
from .scenario import (
    BROADCAST,
    Mismatch,
    PortDown,
    Send,
    SimResult,
    Step,
    compare,
    render_run,
    report,
    simulate,
)

pytestmark = pytest.mark.kernel

VM1, VM2, VM3 = "52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"
VMS = (Vm("vm1", VM1, "vnet0"), Vm("vm2", VM2, "vnet1"), Vm("vm3", VM3, "vnet2"))
ROAMER = "52:54:00:00:00:aa"  # a MAC that is not any NIC's own address
UNKNOWN = "52:54:00:00:00:99"  # never used as a source: unknown unicast
MULTICAST = "01:00:5e:01:02:03"
STP_GROUP = "01:80:c2:00:00:00"
LLDP_GROUP = "01:80:c2:00:00:0e"
SIM_BRIDGE = f"{HOST}:{BRIDGE}"
# iproute2 bridge_slave flag -> vnetlab bridge port key (B15)
YAML_PORT_KEY = {
    "learning": "learning",
    "flood": "flood",
    "mcast_flood": "mcast-flood",
    "bcast_flood": "bcast-flood",
    "hairpin": "hairpin",
}

TOPOLOGY = """\
# kvm1: br1 (STP off) with vm1..vm3 on taps vnet0..vnet2; no uplink.
hosts:
  kvm1:
    interfaces:
      - name: br1
        type: linux-bridge
        bridge:
          options: {{mac-ageing-time: {ageing}, stp: {{enabled: false}}}}
          port: {ports}
vms:
  vm1:
    host: kvm1
    interfaces:
      - {{type: bridge, source: br1, target: vnet0, mac: 52:54:00:00:00:01}}
  vm2:
    host: kvm1
    interfaces:
      - {{type: bridge, source: br1, target: vnet1, mac: 52:54:00:00:00:02}}
  vm3:
    host: kvm1
    interfaces:
      - {{type: bridge, source: br1, target: vnet2, mac: 52:54:00:00:00:03}}
"""


def nic_mac(vm: str) -> str:
    """The guest MAC of ``vm``."""
    return next(v.mac for v in VMS if v.name == vm)


@dataclass(frozen=True)
class BridgeCase:
    """One experiment on br1: its steps and the bridge/port options it needs."""

    name: str
    steps: tuple[Step, ...]
    ageing_time: int = 300
    port_flags: tuple[tuple[str, str, bool], ...] = ()  # (tap, kernel flag, value), B14/B15
    extra_macs: tuple[str, ...] = field(default=())  # more MACs whose FDB port to compare

    def topology_yaml(self) -> str:
        """The vnetlab topology plus the ``run:`` section rendered from the steps."""
        options: dict[str, list[str]] = {}
        for tap, flag, value in self.port_flags:
            options.setdefault(tap, []).append(f"{YAML_PORT_KEY[flag]}: {str(value).lower()}")
        ports = "".join(
            f"\n            - {{name: {tap}, {', '.join(opts)}}}" for tap, opts in options.items()
        )
        text = TOPOLOGY.format(ageing=self.ageing_time, ports=ports or "[]")
        return text + render_run(self.steps)

    def run_kernel(self, lab: Lab) -> BridgeObservation:
        """Build br1 in namespaces, run the steps, observe."""
        flags: dict[str, dict[str, bool]] = {}
        for tap, flag, value in self.port_flags:
            flags.setdefault(tap, {})[flag] = value
        bridge_lab = build_bridge_lab(lab, VMS, ageing_time=self.ageing_time, port_flags=flags)
        return observe(bridge_lab, self.steps)

    def frames(self) -> list[tuple[str, str, int]]:
        """Distinct (src, dst, ethertype) of the frames the steps send."""
        keys = [
            ((s.src or nic_mac(s.vm)).lower(), s.dst.lower(), s.ethertype)
            for s in self.steps
            if isinstance(s, Send)
        ]
        return list(dict.fromkeys(keys))

    def macs(self) -> list[str]:
        """Every MAC whose FDB port is compared: NICs, their taps, sources used, extras."""
        macs = [v.mac for v in VMS] + [tap_mac(v.mac) for v in VMS]
        macs += [src for src, _dst, _et in self.frames()] + list(self.extra_macs)
        return list(dict.fromkeys(m.lower() for m in macs))

    def mismatches(self, kernel: BridgeObservation, sim: SimResult) -> list[Mismatch]:
        """Every observable on which the simulator differs from the kernel."""
        sim_fdb = {str(mac).lower(): str(port) for mac, port in sim.fdb(SIM_BRIDGE).items()}
        found = compare(f"{SIM_BRIDGE} dynamic FDB", kernel.fdb.dynamic, sim_fdb)
        for mac in self.macs():
            found += compare(
                f"fdb_port({SIM_BRIDGE}, {mac})",
                kernel.fdb.port_of(mac),
                sim.fdb_port(SIM_BRIDGE, mac),
            )
        for src, dst, ethertype in self.frames():
            for vm in VMS:
                found += compare(
                    f"{vm.name} received src={src} dst={dst} type={ethertype:#06x}",
                    kernel.count(vm.name, src, dst, ethertype),
                    sim.received(vm.name, src=src, dst=dst, ethertype=ethertype),
                )
        return found

    def assert_simulator_agrees(self, kernel: BridgeObservation) -> None:
        """Run vnetlab on the same experiment; it must observe what the kernel did."""
        sim = simulate(self.topology_yaml(), f"kernel-{self.name}")
        mismatches = self.mismatches(kernel, sim)
        assert not mismatches, report(mismatches)


def received(obs: BridgeObservation, src: str, dst: str) -> dict[str, int]:
    """How many copies of the test frame (src, dst) each VM received."""
    return {vm.name: obs.count(vm.name, src, dst, TEST_ETHERTYPE) for vm in VMS}


# --------------------------------------------------------------------------- learning


def test_learning_each_source_on_its_ingress_port(lab: Lab) -> None:
    """B4.2/B7.5: every accepted frame's source MAC is learned on its ingress port;
    B12: a broadcast reaches every port except the ingress port."""
    case = BridgeCase("learning", (Send("vm1", BROADCAST), Send("vm2", BROADCAST), Send("vm3", BROADCAST)))
    kernel = case.run_kernel(lab)

    assert kernel.fdb.dynamic == {VM1: "vnet0", VM2: "vnet1", VM3: "vnet2"}
    assert received(kernel, VM1, BROADCAST) == {"vm1": 0, "vm2": 1, "vm3": 1}
    case.assert_simulator_agrees(kernel)


def test_move_to_the_port_it_was_last_seen_on(lab: Lab) -> None:
    """B7.4: a known MAC seen as source on another port moves there at once (last seen
    wins); B4.4/B13: unicast to it then goes only to the new port."""
    case = BridgeCase(
        "move",
        (
            Send("vm1", BROADCAST, src=ROAMER),
            Send("vm2", BROADCAST, src=ROAMER),
            Send("vm3", ROAMER),
        ),
    )
    kernel = case.run_kernel(lab)

    assert kernel.fdb.dynamic[ROAMER] == "vnet1"
    assert received(kernel, VM3, ROAMER) == {"vm1": 0, "vm2": 1, "vm3": 0}
    case.assert_simulator_agrees(kernel)


# --------------------------------------------------------------------------- forwarding


def test_flood_unknown_unicast_broadcast_multicast(lab: Lab) -> None:
    """B4.4/B12/B13: unknown unicast, broadcast and (no querier) multicast are flooded to
    every port but the ingress port."""
    case = BridgeCase("flood", (Send("vm1", UNKNOWN), Send("vm1", BROADCAST), Send("vm1", MULTICAST)))
    kernel = case.run_kernel(lab)

    for dst in (UNKNOWN, BROADCAST, MULTICAST):
        assert received(kernel, VM1, dst) == {"vm1": 0, "vm2": 1, "vm3": 1}, dst
    case.assert_simulator_agrees(kernel)


def test_known_unicast_only_to_its_port(lab: Lab) -> None:
    """B4.4: known unicast is forwarded only to the learned port; B13: a frame whose
    destination is learned on the ingress port itself is dropped."""
    case = BridgeCase(
        "known-unicast",
        (
            Send("vm2", BROADCAST),
            Send("vm1", VM2),
            Send("vm1", BROADCAST, src=ROAMER),
            Send("vm1", ROAMER),
        ),
    )
    kernel = case.run_kernel(lab)

    assert received(kernel, VM1, VM2) == {"vm1": 0, "vm2": 1, "vm3": 0}
    assert kernel.fdb.dynamic[ROAMER] == "vnet0"
    assert received(kernel, VM1, ROAMER) == {"vm1": 0, "vm2": 0, "vm3": 0}
    case.assert_simulator_agrees(kernel)


def test_own_address_as_source_not_learned_but_forwarded(lab: Lab) -> None:
    """B7.3: a frame whose source is a port device's own MAC (vnet1's) is not learned, the
    local entry stays on vnet1, and the frame is still flooded; B4.4: unicast to a local
    address is delivered to the bridge itself and not forwarded to any port."""
    own = tap_mac(VM2)
    case = BridgeCase("own-address", (Send("vm1", BROADCAST, src=own), Send("vm3", own)))
    kernel = case.run_kernel(lab)

    assert own not in kernel.fdb.dynamic
    assert kernel.fdb.local[own] == "vnet1"
    assert received(kernel, own, BROADCAST) == {"vm1": 0, "vm2": 1, "vm3": 1}
    assert received(kernel, VM3, own) == {"vm1": 0, "vm2": 0, "vm3": 0}
    case.assert_simulator_agrees(kernel)


# --------------------------------------------------------------------------- options


def test_learning_off_port_floods_to_its_macs(lab: Lab) -> None:
    """B15: with ``learning off`` on vnet0, vm1's MAC is never learned, so unicast to it
    is flooded to every other port (B12)."""
    case = BridgeCase(
        "learning-off", (Send("vm1", BROADCAST), Send("vm2", VM1)), port_flags=(("vnet0", "learning", False),)
    )
    kernel = case.run_kernel(lab)

    assert VM1 not in kernel.fdb.dynamic
    assert kernel.fdb.dynamic[VM2] == "vnet1"
    assert received(kernel, VM2, VM1) == {"vm1": 1, "vm2": 0, "vm3": 1}
    case.assert_simulator_agrees(kernel)


def test_flood_flags_exclude_a_port_from_floods(lab: Lab) -> None:
    """B12: a port without ``flood`` gets no unknown unicast, without ``bcast_flood`` no
    broadcast; ``mcast_flood`` left on, it still gets (unknown) multicast."""
    case = BridgeCase(
        "flood-flags",
        (Send("vm1", UNKNOWN), Send("vm1", BROADCAST), Send("vm1", MULTICAST)),
        port_flags=(("vnet2", "flood", False), ("vnet2", "bcast_flood", False)),
    )
    kernel = case.run_kernel(lab)

    assert received(kernel, VM1, UNKNOWN) == {"vm1": 0, "vm2": 1, "vm3": 0}
    assert received(kernel, VM1, BROADCAST) == {"vm1": 0, "vm2": 1, "vm3": 0}
    assert received(kernel, VM1, MULTICAST) == {"vm1": 0, "vm2": 1, "vm3": 1}
    case.assert_simulator_agrees(kernel)


def test_ageing_time_zero_learns_nothing_and_floods(lab: Lab) -> None:
    """B9/B7.1: ``ageing_time 0`` -> nothing is learned; every unicast is flooded."""
    case = BridgeCase(
        "ageing-0",
        (Send("vm1", BROADCAST), Send("vm2", BROADCAST), Send("vm2", VM1)),
        ageing_time=0,
    )
    kernel = case.run_kernel(lab)

    assert kernel.fdb.dynamic == {}
    assert received(kernel, VM2, VM1) == {"vm1": 1, "vm2": 0, "vm3": 1}
    case.assert_simulator_agrees(kernel)


def test_port_down_flushes_its_dynamic_entries(lab: Lab) -> None:
    """B11a: admin down of a port deletes the dynamic entries learned on it; entries of
    other ports and the port's local entry stay."""
    case = BridgeCase(
        "flush-port-down",
        (Send("vm1", BROADCAST), Send("vm2", BROADCAST), PortDown(HOST, "vnet0")),
    )
    kernel = case.run_kernel(lab)

    assert kernel.fdb.dynamic == {VM2: "vnet1"}
    assert kernel.fdb.local[tap_mac(VM1)] == "vnet0"
    case.assert_simulator_agrees(kernel)


def test_hairpin_sends_floods_and_unicast_back_out_the_ingress_port(lab: Lab) -> None:
    """B14/B13: with ``hairpin on`` a port may be the egress of a frame it brought in:
    vm1 gets its own broadcast back, and unicast to a MAC learned on vnet0 is reflected."""
    case = BridgeCase(
        "hairpin",
        (Send("vm1", BROADCAST), Send("vm1", BROADCAST, src=ROAMER), Send("vm1", ROAMER)),
        port_flags=(("vnet0", "hairpin", True),),
    )
    kernel = case.run_kernel(lab)

    assert received(kernel, VM1, BROADCAST) == {"vm1": 1, "vm2": 1, "vm3": 1}
    assert received(kernel, VM1, ROAMER) == {"vm1": 1, "vm2": 0, "vm3": 0}
    case.assert_simulator_agrees(kernel)


def test_ingress_admission_link_local_and_invalid_source(lab: Lab) -> None:
    """B3.1: a frame with a multicast source MAC is dropped before learning; B3.2: with STP
    off a BPDU address (01:80:c2:00:00:00) is flooded like multicast, while LLDP
    (01:80:c2:00:00:0e) is not forwarded (group_fwd_mask 0)."""
    case = BridgeCase(
        "admission",
        (
            Send("vm1", BROADCAST, src=MULTICAST),
            Send("vm1", STP_GROUP),
            Send("vm1", LLDP_GROUP),
        ),
    )
    kernel = case.run_kernel(lab)

    assert MULTICAST not in kernel.fdb.dynamic
    assert received(kernel, MULTICAST, BROADCAST) == {"vm1": 0, "vm2": 0, "vm3": 0}
    assert received(kernel, VM1, STP_GROUP) == {"vm1": 0, "vm2": 1, "vm3": 1}
    assert received(kernel, VM1, LLDP_GROUP) == {"vm1": 0, "vm2": 0, "vm3": 0}
    case.assert_simulator_agrees(kernel)
