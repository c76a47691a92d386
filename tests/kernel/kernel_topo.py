"""Kernel-side builders: the validation topologies made of namespaces, veths and bridges.

Naming mirrors the vnetlab YAML so results compare by name: host namespace ``kvm1`` holds
bridge ``br1``; each VM is a namespace whose ``eth0`` is the guest NIC and whose veth peer in
``kvm1`` is the libvirt tap ``vnetN`` (MAC = guest MAC with first byte ``fe``, as libvirt
does).  A team/bond is a tap driven by :mod:`aggregator`; the physical switch is a namespace
with a plain Linux bridge (STP off) whose ports carry the switch port names.

Builders: :func:`build_bridge_lab` (br1 and VMs), :func:`build_seed_lab` (seed 000),
:func:`build_failover_lab` (br1 over an active-backup aggregate, vm1, vm2, sw1, gw).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .netns import AggregatorProc, FdbSnapshot, Frame, Lab, Netns, PingResult
from .scenario import LinkDown, PortDown, Send, SetActivePort, Step

HOST = "kvm1"
BRIDGE = "br1"
SWITCH = "sw1"
SWITCH_BRIDGE = "swbr"  # the Linux bridge playing sw1 (its FDB is sw1's MAC table)
GW_IP = "192.168.10.254"
TEAM_MAC = "00:50:56:a1:00:01"
ENS256_MAC = "00:50:56:a1:00:02"
GW_MAC = "00:1b:21:0a:0b:01"
VM1_MAC = "52:54:00:12:34:01"
VM2_MAC = "52:54:00:12:34:02"
BR1_MAC = "00:50:56:a1:00:10"  # set explicitly on both sides (else: lowest port MAC, B2d)
UPLINK_PEERS = {"ens224": "ge1", "ens256": "ge2"}  # kvm1 NIC -> sw1 port (the cables)


def tap_mac(guest_mac: str) -> str:
    """libvirt gives the host-side tap the guest MAC with the first byte set to 0xfe."""
    return "fe" + guest_mac[2:]


@dataclass(frozen=True)
class Vm:
    """A VM NIC: guest namespace ``name`` (device ``eth0``) plugged into tap ``tap``."""

    name: str
    mac: str
    tap: str
    ipv4: str | None = None


def plug_vm(lab: Lab, host: Netns, bridge: str, vm: Vm) -> Netns:
    """Create the VM namespace and its tap on ``bridge``; both ends up."""
    guest = lab.netns(vm.name)
    lab.veth(host, vm.tap, tap_mac(vm.mac), guest, "eth0", vm.mac)
    guest.set_link("eth0", True)
    if vm.ipv4:
        guest.add_address("eth0", vm.ipv4)
    host.enslave(vm.tap, bridge)
    return guest


# --------------------------------------------------------------------------- plain bridge


@dataclass
class BridgeLab:
    """Host ``kvm1`` with bridge ``br1`` and VMs on taps ``vnet0..``; no uplink."""

    lab: Lab
    host: Netns
    guests: dict[str, Netns]
    vms: tuple[Vm, ...]

    def tap_of(self, vm: str) -> str:
        """The tap (bridge port) of VM ``vm``."""
        return next(v.tap for v in self.vms if v.name == vm)

    def fdb(self) -> FdbSnapshot:
        """br1's FDB."""
        return self.host.fdb(BRIDGE)


def build_bridge_lab(
    lab: Lab,
    vms: tuple[Vm, ...],
    *,
    ageing_time: float = 300.0,
    port_flags: dict[str, dict[str, bool]] | None = None,
) -> BridgeLab:
    """Build br1 with ``vms``; ``port_flags`` maps a tap to bridge_slave flags (B15)."""
    host = lab.netns(HOST)
    host.add_bridge(BRIDGE, ageing_time=ageing_time)
    guests = {vm.name: plug_vm(lab, host, BRIDGE, vm) for vm in vms}
    for port, flags in (port_flags or {}).items():
        host.set_port(port, **flags)
    host.wait_forwarding(BRIDGE, [vm.tap for vm in vms])
    return BridgeLab(lab, host, guests, vms)


# --------------------------------------------------------------------------- seed 000


@dataclass(frozen=True)
class SeedKernelConfig:
    """Knobs of the seed topology (team/bond under br1, switch sw1, gateway gw1)."""

    aggregate: str  # device name: "team1" or "bond0"
    mode: str  # aggregator mode: roundrobin | activebackup
    switch_lag: bool = False  # sw1 ge1+ge2 as static LAG po1 (hash aggregator)
    aggregate_learning: bool = True  # br1 port flag on the aggregate (B15)
    ageing_time: float = 300.0  # br1 ageing time (B9 when 0)
    down_ports: tuple[str, ...] = ()  # kvm1 devices set admin down before the ping


@dataclass
class SeedLab:
    """The built seed topology and handles to observe it."""

    lab: Lab
    host: Netns
    switch: Netns
    vm1: Netns
    gw1: Netns
    config: SeedKernelConfig
    aggregators: list[AggregatorProc] = field(default_factory=list)

    def ping(self) -> PingResult:
        """vm1 pings gw1: 3 requests 0.2 s apart, then up to 1.5 s for replies."""
        return self.vm1.ping(GW_IP, count=3, interval=0.2, wait=1.5)

    def br1_fdb(self) -> FdbSnapshot:
        """kvm1's br1 FDB."""
        return self.host.fdb(BRIDGE)

    def sw1_fdb(self) -> FdbSnapshot:
        """sw1's MAC table (the emulating bridge's FDB)."""
        return self.switch.fdb(SWITCH_BRIDGE)

    def stop_aggregators(self) -> dict[str, dict[str, int]]:
        """Stop the aggregators; their per-port counters, by aggregate (tap) name."""
        return {agg.tap: agg.stop() for agg in self.aggregators}


def _build_switch(lab: Lab, switch_lag: bool) -> tuple[Netns, list[str]]:
    """sw1: a Linux bridge; with ``switch_lag`` the ports ge1+ge2 sit behind tap po1."""
    sw = lab.netns(SWITCH)
    sw.add_bridge(SWITCH_BRIDGE)
    if switch_lag:
        sw.add_tap("po1", "02:00:00:00:01:10")
        sw.enslave("po1", SWITCH_BRIDGE)
        return sw, ["po1", "ge3"]
    return sw, ["ge1", "ge2", "ge3"]


def _wire_host_uplinks(lab: Lab, host: Netns, sw: Netns, switch_lag: bool) -> None:
    """ens224<->ge1, ens256<->ge2; members promiscuous and up; ge1/ge2 bridged unless LAG."""
    for dev, mac, peer, peer_mac in (
        ("ens224", TEAM_MAC, "ge1", "02:00:00:00:01:01"),
        ("ens256", ENS256_MAC, "ge2", "02:00:00:00:01:02"),
    ):
        lab.veth(host, dev, mac, sw, peer, peer_mac)
        host.set_promisc(dev)
        host.set_link(dev, True)
        sw.set_promisc(peer)
        if switch_lag:
            sw.set_link(peer, True)
        else:
            sw.enslave(peer, SWITCH_BRIDGE)


def build_seed_lab(lab: Lab, config: SeedKernelConfig) -> SeedLab:
    """The seed-000 topology (see examples/team-roundrobin.yaml) in namespaces."""
    host = lab.netns(HOST)
    host.add_bridge(BRIDGE, ageing_time=config.ageing_time)
    host.add_address(BRIDGE, "192.168.10.11/24")
    vm1 = plug_vm(lab, host, BRIDGE, Vm("vm1", VM1_MAC, "vnet0", "192.168.10.21/24"))
    host.add_tap(config.aggregate, TEAM_MAC)
    host.enslave(config.aggregate, BRIDGE)
    if not config.aggregate_learning:
        host.set_port(config.aggregate, learning=False)

    sw, sw_ports = _build_switch(lab, config.switch_lag)
    _wire_host_uplinks(lab, host, sw, config.switch_lag)
    gw1 = lab.netns("gw1")
    lab.veth(gw1, "eth0", GW_MAC, sw, "ge3", "02:00:00:00:01:03")
    gw1.set_link("eth0", True)
    gw1.add_address("eth0", f"{GW_IP}/24")
    sw.enslave("ge3", SWITCH_BRIDGE)

    seed = SeedLab(lab, host, sw, vm1, gw1, config)
    seed.aggregators.append(lab.start_aggregator(host, config.aggregate, ["ens224", "ens256"], config.mode))
    if config.switch_lag:
        seed.aggregators.append(lab.start_aggregator(sw, "po1", ["ge1", "ge2"], "hash"))
    for dev in ("ens224", "ens256"):
        host.wait_operstate(dev, "UP")
    host.wait_forwarding(BRIDGE, ["vnet0", config.aggregate])
    sw.wait_forwarding(SWITCH_BRIDGE, sw_ports)
    for dev in config.down_ports:
        host.set_link(dev, False)
        peer = UPLINK_PEERS[dev]  # a veth's peer loses carrier; sw1 disables the port (B11a)
        sw.wait_carrier_lost(peer)
    return seed


# --------------------------------------------------------------------------- failover


@dataclass(frozen=True)
class FailoverKernelConfig:
    """The active-backup failover topology: the aggregate's name and its link monitor."""

    aggregate: str  # "team1" (teamd activebackup) or "bond0" (bonding active-backup)
    link_watch_ms: float  # aggregator polling period: ~ethtool link watch (10) / miimon (100)


FAILOVER_VMS = (
    Vm("vm1", VM1_MAC, "vnet0", "192.168.10.21/24"),
    Vm("vm2", VM2_MAC, "vnet1", "192.168.10.22/24"),
)
UPLINKS = ("ens224", "ens256")  # --ports order: ens224 is active first, ens256 next


@dataclass
class FailoverLab:
    """kvm1 (br1 over an active-backup aggregate, vm1, vm2), switch sw1, gateway gw."""

    lab: Lab
    host: Netns
    switch: Netns
    guests: dict[str, Netns]
    gw: Netns
    config: FailoverKernelConfig
    aggregator: AggregatorProc

    def br1_fdb(self) -> FdbSnapshot:
        """kvm1's br1 FDB."""
        return self.host.fdb(BRIDGE)

    def sw1_fdb(self) -> FdbSnapshot:
        """sw1's MAC table."""
        return self.switch.fdb(SWITCH_BRIDGE)

    def node(self, name: str) -> tuple[Netns, str]:
        """Namespace and device a frame from ``name`` leaves on (``kvm1`` = br1 itself)."""
        if name == HOST:
            return self.host, BRIDGE
        if name == "gw":
            return self.gw, "eth0"
        return self.guests[name], "eth0"

    def pull_cable(self, switch_port: str) -> tuple[float, float]:
        """Unplug the cable at sw1's end: ``ip link set PORT down`` in sw1 (a veth cannot
        lose carrier otherwise).  sw1 disables the port and flushes it (S2, B11a); the host
        NIC at the other end loses carrier.  Returns monotonic times just before and after
        the command ran: the link went down in between."""
        before = time.monotonic()
        self.switch.set_link(switch_port, False)
        after = time.monotonic()
        return before, after

    def wait_failover(self, to: str, timeout: float = 5.0) -> dict[str, Any]:
        """Wait until the aggregator's link watch made ``to`` active; the state then."""
        return self.aggregator.wait_state(f"active port {to}", lambda st: st["active"] == to, timeout)


def execute_failover(flab: FailoverLab, step: Step) -> None:
    """Perform one step on the failover lab; it has taken effect when this returns."""
    if isinstance(step, Send):
        ns, dev = flab.node(step.vm)
        ns.send(step.dev or dev, step.dst, step.src, step.ethertype, step.count)
    elif isinstance(step, LinkDown):
        assert step.node == SWITCH, f"cables are pulled at the switch end, not {step.node}"
        host_nic = next(nic for nic, port in UPLINK_PEERS.items() if port == step.iface)
        flab.pull_cable(step.iface)
        flab.switch.wait_port_state(SWITCH_BRIDGE, step.iface, "disabled")  # S2 flush done
        flab.aggregator.wait_state(f"{host_nic} link down", lambda st: not st["enabled"][host_nic])
    elif isinstance(step, SetActivePort):
        assert step.device == f"{HOST}:{flab.config.aggregate}", step.device
        flab.aggregator.set_active(step.port)
    else:
        raise NotImplementedError(f"{step} on the failover lab")


def build_failover_lab(lab: Lab, config: FailoverKernelConfig) -> FailoverLab:
    """The failover topology in namespaces (see tests/kernel/test_failover_kernel.py)."""
    host = lab.netns(HOST)
    host.add_bridge(BRIDGE, mac=BR1_MAC)
    host.add_address(BRIDGE, "192.168.10.11/24")
    guests = {vm.name: plug_vm(lab, host, BRIDGE, vm) for vm in FAILOVER_VMS}
    host.add_tap(config.aggregate, TEAM_MAC)
    host.enslave(config.aggregate, BRIDGE)

    sw, sw_ports = _build_switch(lab, switch_lag=False)
    _wire_host_uplinks(lab, host, sw, switch_lag=False)
    gw = lab.netns("gw")
    lab.veth(gw, "eth0", GW_MAC, sw, "ge3", "02:00:00:00:01:03")
    gw.set_link("eth0", True)
    gw.add_address("eth0", f"{GW_IP}/24")
    sw.enslave("ge3", SWITCH_BRIDGE)

    for dev in UPLINKS:
        host.wait_operstate(dev, "UP")
    agg = lab.start_aggregator(host, config.aggregate, list(UPLINKS), "activebackup", config.link_watch_ms)
    host.wait_forwarding(BRIDGE, [*(vm.tap for vm in FAILOVER_VMS), config.aggregate])
    sw.wait_forwarding(SWITCH_BRIDGE, sw_ports)
    agg.wait_state(
        "both ports enabled, ens224 active",
        lambda st: all(st["enabled"].values()) and st["active"] == UPLINKS[0],
    )
    return FailoverLab(lab, host, sw, guests, gw, config, agg)


# --------------------------------------------------------------------------- running steps


def execute(bridge_lab: BridgeLab, steps: Sequence[Step]) -> None:
    """Perform ``steps`` in order on the kernel bridge lab (each completes before the next)."""
    for step in steps:
        if isinstance(step, Send):
            guest = bridge_lab.guests[step.vm]
            guest.send("eth0", step.dst, step.src, step.ethertype, step.count)
        elif isinstance(step, PortDown):
            assert step.host == HOST, f"unknown host {step.host}"
            bridge_lab.host.set_link(step.dev, False)
            bridge_lab.host.wait_port_state(BRIDGE, step.dev, "disabled")  # B11a happens here
        else:
            raise NotImplementedError(f"{step} on the bridge lab")


@dataclass(frozen=True)
class BridgeObservation:
    """What the kernel did: br1's FDB at the end, and the frames each VM NIC received."""

    fdb: FdbSnapshot
    received: dict[str, list[Frame]]

    def count(self, vm: str, src: str, dst: str, ethertype: int) -> int:
        """Frames with this (src, dst, ethertype) that arrived at ``vm``'s NIC."""
        key = Frame(src.lower(), dst.lower(), ethertype)
        return sum(1 for frame in self.received[vm] if frame == key)


def observe(bridge_lab: BridgeLab, steps: Sequence[Step], settle: float = 0.05) -> BridgeObservation:
    """Capture on every VM NIC while ``steps`` run; then read br1's FDB."""
    captures = {name: guest.capture("eth0") for name, guest in bridge_lab.guests.items()}
    execute(bridge_lab, steps)
    time.sleep(settle)  # frames cross veths synchronously; this only lets listeners read
    received = {name: cap.stop() for name, cap in captures.items()}
    return BridgeObservation(bridge_lab.fdb(), received)
