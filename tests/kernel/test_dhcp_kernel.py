"""DHCP through a Linux bridge: dnsmasq + ISC dhclient in namespaces, then vnetlab.

::

    vm1 (eth0, dhclient) --veth-- vnet0 [br0 in kvm1] ens224 --veth-- dhcp1 (eth0, dnsmasq)

Four experiments run once each on the kernel (module-scoped fixtures, see
:mod:`dhcp_lab`), then the same experiments run in vnetlab and are compared:

* **plain** (STP off, D1): the lease is obtained through the bridge at the first DISCOVER;
  DORA in order on both ends.
* **br_netfilter** (B22-B24, D8): ``iptables -P FORWARD DROP`` in kvm1 with
  ``bridge-nf-call-iptables=1`` eats every DISCOVER (the FORWARD policy counter counts
  them), dhclient -1 gives up after ``timeout 10``; ``-A FORWARD -m physdev
  --physdev-is-bridged -j ACCEPT`` brings the lease back, and so does
  ``bridge-nf-call-iptables=0`` (set in kvm1 only: the sysctls are per network namespace
  since v5.3, ``struct brnf_net``, see docs/validation.md).
* **STP** (B18, D7): ``stp_state 1 forward_delay 400`` (4 s); vnet0 listens 4 s, learns 4 s,
  then forwards; every DISCOVER sent before that is dropped at the port, the lease comes
  with the first DISCOVER after it.
* **ping check** (D1): dnsmasq without ``--no-ping`` pings the address for 3 s before the
  OFFER.

Kernel-side assertions check the rule on the kernel (so the harness itself is tested);
the ``test_sim_*`` tests then compare vnetlab with the kernel's observations.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from vnetlab.net.addr import ip4_str

from .dhcp_lab import (
    BRIDGE,
    BRIDGE_MAC,
    BRNF_SYSCTL,
    HOST,
    PREFIX_LEN,
    RANGE_END,
    RANGE_START,
    SERVER_IP,
    SERVER_MAC,
    TAP,
    UPLINK,
    UPLINK_MAC,
    VM_MAC,
    Dhclient,
    DhcpLab,
    build_dhcp_lab,
    in_init_net,
    require_dhcp_tools,
    set_sysctl,
    sysctl,
)
from .netns import Lab, require_kernel
from .scenario import Mismatch, compare, report, simulate

pytestmark = pytest.mark.kernel

FORWARD_DELAY = 4.0  # s: `forward_delay 400` (centiseconds)
BLOCKED_TIMEOUT = 10  # dhclient.conf `timeout 10;`: -1 gives up after ~11 s
STP_TIMEOUT = 60  # dhclient's own default: long enough to outlast 2 x forward delay
ARRIVAL_SLACK = 0.5  # s: a DISCOVER and dnsmasq's log line of it (|dt| < 5 ms with --no-ping)


# --------------------------------------------------------------------------- observations


@dataclass
class KernelDhcp:
    """What one dhclient run showed, times relative to ``t0`` (port enable or client start)."""

    name: str
    t0: float
    discovers: list[float]  # send times of dhclient's DHCPDISCOVERs
    intervals: list[int]  # the interval dhclient logged with each DISCOVER (s)
    delivered: list[bool]  # per DISCOVER: did dnsmasq log receiving it
    bound_at: float | None
    address: str | None
    exit_code: int | None  # None: still running when stopped (bound, -1 keeps it running)
    gave_up_at: float | None  # dhclient -1 logged "Unable to obtain a lease on first try"
    client_order: list[str]  # DISCOVER/OFFER/REQUEST/ACK/BOUND/... as dhclient logged them
    server_order: list[str]  # DISCOVER/OFFER/REQUEST/ACK as dnsmasq logged them
    script: list[tuple[str, str]]  # (reason, new_ip_address) per run of the logging script
    policy_drops: int | None = None  # FORWARD policy counter in kvm1 (br_netfilter runs)
    port_states: dict[str, float] = field(default_factory=dict)  # STP state -> first seen
    client_times: dict[str, float] = field(default_factory=dict)  # dhclient: kind -> first
    log: str = ""  # both programs' output, for assertion messages

    def summary(self) -> str:
        """One line: the port states, each DISCOVER (send time, logged interval, delivered?)
        and the bound time, in seconds from ``t0``."""
        states = " ".join(f"{state}@{t:.3f}" for state, t in self.port_states.items())
        sent = ", ".join(
            f"{t:.3f}(+{i}){'' if ok else ' dropped'}"
            for t, i, ok in zip(self.discovers, self.intervals, self.delivered, strict=True)
        )
        bound = "never" if self.bound_at is None else f"{self.bound_at:.3f}"
        return f"{self.name}: ports [{states}] DISCOVERs [{sent}] bound {bound} ({self.address})"

    @property
    def dropped(self) -> int:
        """DISCOVERs that never reached dnsmasq."""
        return self.delivered.count(False)

    def interval_in_effect(self) -> float:
        """The retransmission interval during which the port started forwarding: from the
        last DISCOVER it dropped to the first one that got through (measured send times)."""
        if True not in self.delivered or False not in self.delivered:
            raise AssertionError(f"no dropped-then-delivered DISCOVERs: {self.summary()}\n{self.log}")
        first = self.delivered.index(True)
        if first == 0 or any(not ok for ok in self.delivered[first:]):
            raise AssertionError(f"DISCOVERs not dropped, then delivered: {self.summary()}\n{self.log}")
        return self.discovers[first] - self.discovers[first - 1]


def first_times(client: Dhclient, t0: float) -> dict[str, float]:
    """When dhclient first logged each kind of step (DISCOVER, OFFER ...), from ``t0``."""
    times: dict[str, float] = {}
    for ev in client.events():
        times.setdefault(ev.kind, ev.t - t0)
    return times


def observe(name: str, dlab: DhcpLab, client: Dhclient, t0: float, bound_timeout: float) -> KernelDhcp:
    """Wait for ``client`` to bind (or give up), stop it, and collect the observation."""
    bound = client.wait_bound(bound_timeout)
    exit_code = client.wait_exit(0.2 if bound else bound_timeout)
    client.stop()
    arrivals = dlab.dnsmasq.received("DISCOVER")
    discovers = client.discovers()
    # each program's lines are stamped by its own reader thread: dnsmasq's line of a DISCOVER
    # may carry a stamp a few ms *before* dhclient's (seen: 2 ms); DISCOVERs are >= 1 s apart
    delivered = [any(d.t - ARRIVAL_SLACK <= a <= d.t + ARRIVAL_SLACK for a in arrivals) for d in discovers]
    server = [ev.kind for ev in dlab.dnsmasq.events() if ev.t >= client.started_at]
    return KernelDhcp(
        name=name,
        t0=t0,
        discovers=[d.t - t0 for d in discovers],
        intervals=[d.interval or 0 for d in discovers],
        delivered=delivered,
        bound_at=None if bound is None else bound.t - t0,
        address=None if bound is None else bound.ip,
        exit_code=exit_code,
        gave_up_at=next((ev.t - t0 for ev in client.events() if ev.kind == "GAVE_UP"), None),
        client_order=[ev.kind for ev in client.events()],
        server_order=server,
        script=client.script_reasons(),
        client_times=first_times(client, t0),
        log=f"--- dhclient\n{client.text()}\n--- dnsmasq\n{dlab.dnsmasq.text()}",
    )


def _open_lab() -> Lab:
    require_kernel()
    require_dhcp_tools()
    return Lab()


@pytest.fixture(scope="module")
def plain_run() -> Iterator[KernelDhcp]:
    """STP off: ports forward at once; one dhclient run."""
    lab = _open_lab()
    try:
        dlab = build_dhcp_lab(lab)
        dlab.enable_ports()
        dlab.host.wait_forwarding(BRIDGE, [TAP, UPLINK])
        client = dlab.start_client(timeout=BLOCKED_TIMEOUT)
        yield observe("plain", dlab, client, client.started_at, bound_timeout=BLOCKED_TIMEOUT + 5)
    finally:
        lab.close()


@dataclass
class NetfilterRuns:
    """The br_netfilter experiment: blocked, then each fix."""

    blocked: KernelDhcp
    physdev_accept: KernelDhcp
    sysctl_off: KernelDhcp
    sysctl_default: str  # bridge-nf-call-iptables in the fresh kvm1 namespace
    init_net_before: str  # ... in init_net before kvm1's was changed
    init_net_after: str  # ... and after (the per-netns question)


@pytest.fixture(scope="module")
def netfilter_runs() -> Iterator[NetfilterRuns]:
    """FORWARD DROP in kvm1: blocked; + physdev ACCEPT rule: bound; rule gone, sysctl 0: bound."""
    lab = _open_lab()
    try:
        dlab = build_dhcp_lab(lab)
        default = sysctl(dlab.host, BRNF_SYSCTL)
        init_before = sysctl(None, BRNF_SYSCTL)
        set_sysctl(dlab.host, BRNF_SYSCTL, "1")
        dlab.iptables("-P", "FORWARD", "DROP")
        dlab.enable_ports()
        dlab.host.wait_forwarding(BRIDGE, [TAP, UPLINK])

        client = dlab.start_client(timeout=BLOCKED_TIMEOUT)
        blocked = observe("blocked", dlab, client, client.started_at, bound_timeout=BLOCKED_TIMEOUT + 8)
        blocked.policy_drops = dlab.forward_policy_drops()

        rule = ["FORWARD", "-m", "physdev", "--physdev-is-bridged", "-j", "ACCEPT"]
        dlab.iptables("-A", *rule)
        client = dlab.start_client(timeout=BLOCKED_TIMEOUT)
        accepted = observe("physdev-accept", dlab, client, client.started_at, BLOCKED_TIMEOUT + 5)
        accepted.policy_drops = dlab.forward_policy_drops()
        dlab.iptables("-D", *rule)

        set_sysctl(dlab.host, BRNF_SYSCTL, "0")
        init_after = sysctl(None, BRNF_SYSCTL)
        client = dlab.start_client(timeout=BLOCKED_TIMEOUT)
        off = observe("sysctl-off", dlab, client, client.started_at, BLOCKED_TIMEOUT + 5)
        off.policy_drops = dlab.forward_policy_drops()
        yield NetfilterRuns(blocked, accepted, off, default, init_before, init_after)
    finally:
        lab.close()


@pytest.fixture(scope="module")
def stp_run() -> Iterator[KernelDhcp]:
    """STP on, forward delay 4 s: ports enabled, dhclient started at once, port watched."""
    lab = _open_lab()
    try:
        dlab = build_dhcp_lab(lab, stp=True, forward_delay=FORWARD_DELAY)
        t0 = dlab.enable_ports()
        dlab.watch_port(t0, lambda tl: "listening" in tl.seen, timeout=5.0, poll=0.005)
        client = dlab.start_client(timeout=STP_TIMEOUT)
        timeline = dlab.watch_port(t0, lambda tl: "forwarding" in tl.seen, timeout=4 * FORWARD_DELAY)
        run = observe("stp", dlab, client, t0, bound_timeout=STP_TIMEOUT + 5)
        run.port_states = {state: t - t0 for state, t in timeline.seen.items()}
        yield run
    finally:
        lab.close()


@pytest.fixture(scope="module")
def ping_check_run() -> Iterator[KernelDhcp]:
    """STP off, dnsmasq *with* its ping check (no --no-ping): the OFFER waits for it."""
    lab = _open_lab()
    try:
        dlab = build_dhcp_lab(lab, ping_check=True)
        dlab.enable_ports()
        dlab.host.wait_forwarding(BRIDGE, [TAP, UPLINK])
        client = dlab.start_client(timeout=BLOCKED_TIMEOUT)
        yield observe("ping-check", dlab, client, client.started_at, bound_timeout=BLOCKED_TIMEOUT + 5)
    finally:
        lab.close()


# --------------------------------------------------------------------------- kernel == rule

DORA = ["DISCOVER", "OFFER", "REQUEST", "ACK"]


def in_range(address: str | None) -> bool:
    """``address`` lies in dnsmasq's --dhcp-range."""
    if address is None:
        return False
    ip = ipaddress.IPv4Address(address)
    return ipaddress.IPv4Address(RANGE_START) <= ip <= ipaddress.IPv4Address(RANGE_END)


def assert_bound_at_first_try(run: KernelDhcp) -> None:
    """Bound in range after one DISCOVER; DORA in order at both ends; the script saw BOUND."""
    assert run.bound_at is not None and in_range(run.address), run.log
    assert run.client_order == [*DORA, "BOUND"], run.log
    assert run.server_order == DORA, run.log
    assert run.delivered == [True], run.log
    assert run.bound_at < 2.0, run.log  # --no-ping: no 3 s ping check before the OFFER
    assert ("BOUND", run.address) in run.script, run.script


def test_kernel_lease_through_bridge(plain_run: KernelDhcp) -> None:
    """D1: STP off, no filtering: the first DISCOVER is flooded to dhcp1 and answered; the
    OFFER/ACK (unicast to the client MAC learned from the DISCOVER, B7) come back."""
    assert_bound_at_first_try(plain_run)
    assert plain_run.script[0] == ("PREINIT", ""), plain_run.script


def test_kernel_br_netfilter_sysctls_are_per_namespace(lab: Lab) -> None:
    """B22 (corrected): since v5.3 the bridge-nf-call-* sysctls live in ``struct brnf_net``
    per network namespace (``br_netfilter_sysctl_init_net``), each new namespace starting at
    the default 1 (``br_netfilter_sysctl_default``); writing kvm1's leaves init_net's and
    any other namespace's alone, and any non-zero write reads back 1
    (``brnf_sysctl_call_tables``)."""
    require_dhcp_tools()
    assert in_init_net(), "the test process must run in init_net to read init_net's sysctl"
    host, other = lab.netns(HOST), lab.netns("other")
    host.add_bridge(BRIDGE)  # brnf_device_event: NETDEV_REGISTER of a bridge hooks this netns
    init_before = sysctl(None, BRNF_SYSCTL)
    assert sysctl(host, BRNF_SYSCTL) == "1" and sysctl(other, BRNF_SYSCTL) == "1"
    set_sysctl(host, BRNF_SYSCTL, "0")
    assert sysctl(host, BRNF_SYSCTL) == "0"
    assert sysctl(other, BRNF_SYSCTL) == "1"
    assert sysctl(None, BRNF_SYSCTL) == init_before
    set_sysctl(host, BRNF_SYSCTL, "5")
    assert sysctl(host, BRNF_SYSCTL) == "1"
    for key in ("bridge-nf-call-arptables", "bridge-nf-call-ip6tables"):
        assert sysctl(host, f"net.bridge.{key}") == "1"  # the same per-netns table


def test_kernel_forward_drop_blocks_dhcp(netfilter_runs: NetfilterRuns) -> None:
    """B24/D8: with br_netfilter and bridge-nf-call-iptables=1 in kvm1 (a fresh namespace
    starts at 1), each flooded DISCOVER traverses kvm1's iptables FORWARD (br_nf_forward_ip,
    in = out = br0) and the DROP policy eats it; dnsmasq never sees one; dhclient -1 gives up
    (exit 2) after ``timeout 10``."""
    runs = netfilter_runs
    blocked = runs.blocked
    assert runs.sysctl_default == "1"
    assert blocked.bound_at is None and blocked.exit_code == 2, blocked.log
    assert blocked.client_order[-2:] == ["NO_OFFERS", "GAVE_UP"], blocked.log
    assert len(blocked.discovers) >= 2 and not any(blocked.delivered), blocked.log
    assert blocked.server_order == [], blocked.log
    # one FORWARD traversal per DISCOVER: the copy to ens224 (the local copy to br0 takes INPUT)
    assert blocked.policy_drops == len(blocked.discovers), blocked.log
    assert blocked.discovers[-1] < BLOCKED_TIMEOUT + 2, blocked.log


def test_kernel_physdev_accept_restores_lease(netfilter_runs: NetfilterRuns) -> None:
    """D8 fix 1: ``-A FORWARD -m physdev --physdev-is-bridged -j ACCEPT`` accepts bridged
    packets before the DROP policy: bound at the first DISCOVER, no new policy drop."""
    runs = netfilter_runs
    assert_bound_at_first_try(runs.physdev_accept)
    assert runs.physdev_accept.policy_drops == runs.blocked.policy_drops


def test_kernel_sysctl_off_restores_lease(netfilter_runs: NetfilterRuns) -> None:
    """D8 fix 2: bridge-nf-call-iptables=0 *in kvm1* (FORWARD DROP still set, the ACCEPT rule
    removed): br_nf_pre_routing returns NF_ACCEPT before iptables, bound at once; init_net's
    value is unchanged (per-namespace sysctl)."""
    runs = netfilter_runs
    assert_bound_at_first_try(runs.sysctl_off)
    assert runs.sysctl_off.policy_drops == runs.blocked.policy_drops
    assert runs.init_net_after == runs.init_net_before


def test_kernel_stp_delays_lease(stp_run: KernelDhcp) -> None:
    """B18/D7: vnet0 is LISTENING for forward_delay, LEARNING for another, then FORWARDING;
    the bridge drops every DISCOVER meanwhile (br_handle_frame: state not forwarding), and
    the first DISCOVER sent after the port forwards gets the lease at once."""
    run = stp_run
    print(run.summary())  # the measured timeline (pytest -rP shows it)
    states = run.port_states
    assert list(states) == ["listening", "learning", "forwarding"], states
    # each forward-delay timer fires late by up to its timer-wheel granularity (256 ms for
    # 4 s at HZ=250), and the port is polled every 50 ms
    assert FORWARD_DELAY <= states["learning"] < FORWARD_DELAY + 1.0, states
    assert 2 * FORWARD_DELAY <= states["forwarding"] < 2 * FORWARD_DELAY + 1.5, states
    forwarding_from = 2 * FORWARD_DELAY  # the timer started when the port was enabled (>= t0)
    forwarding_seen = states["forwarding"]  # observed by polling: the latest it can have been
    for sent, delivered in zip(run.discovers, run.delivered, strict=True):
        if sent < forwarding_from:
            assert not delivered, f"DISCOVER at {sent:.3f} s crossed a non-forwarding port\n{run.log}"
        elif sent > forwarding_seen:
            assert delivered, f"DISCOVER at {sent:.3f} s did not reach dnsmasq\n{run.log}"
    # D3: the next DISCOVER leaves at the whole second of this one + interval + a random
    # fraction (send_discover: tv_sec + interval, tv_usec random), so within 1 s of it
    for i in range(len(run.discovers) - 1):
        assert abs(run.discovers[i + 1] - run.discovers[i] - run.intervals[i]) < 1.1, run.log
    assert run.dropped >= 1 and run.bound_at is not None and in_range(run.address), run.log
    first_through = run.discovers[run.delivered.index(True)]
    assert 0 <= run.bound_at - first_through < 1.0, run.log
    assert run.bound_at - forwarding_from <= run.interval_in_effect() + 1.0, run.log
    assert run.client_order[-5:] == [*DORA, "BOUND"], run.log
    assert run.server_order == DORA, run.log


def test_kernel_dnsmasq_ping_check_delays_offer(ping_check_run: KernelDhcp) -> None:
    """D1 (dnsmasq): without --no-ping dnsmasq pings a fresh address before offering it and
    waits PING_WAIT (3 s) for an answer that never comes (vm1 has no address yet): dhclient
    gets the OFFER 3 s after its DISCOVER and binds then.  (dnsmasq logs DHCPDISCOVER when it
    answers, after the ping, so the client's log is the clock here.)"""
    run = ping_check_run
    first_discover, offer = run.client_times["DISCOVER"], run.client_times["OFFER"]
    assert run.discovers[0] == first_discover and 3.0 <= offer - first_discover < 3.5, run.log
    assert run.bound_at is not None and 3.0 <= run.bound_at < 4.0 and in_range(run.address), run.log


# --------------------------------------------------------------------------- vnetlab == kernel

SIM_TOPOLOGY = """\
# vm1 -- vnet0 [br0 on kvm1] ens224 -- dhcp1:eth0 (dnsmasq), as tests/kernel/dhcp_lab.py builds it
name: dhcp-kernel-{case}
hosts:
  kvm1:
    interfaces:
      - {{name: {uplink}, type: ethernet, mac-address: {uplink_mac}}}
      - name: {bridge}
        type: linux-bridge
        mac-address: {bridge_mac}
        bridge:
          options: {{stp: {stp}}}
          port: [{{name: {uplink}}}]
{host_extra}vms:
  vm1:
    host: kvm1
    boot-delay: {boot_delay}
    interfaces:
      - type: bridge
        source: {bridge}
        target: {tap}
        mac: {vm_mac}
        ipv4: {{dhcp: true, client: dhclient, timeout: {timeout}, one-try: true}}
routers:
  dhcp1:
    interfaces:
      - name: eth0
        mac-address: {server_mac}
        ipv4: {server_ip}/{prefix_len}
        dhcp-server: {{pool: {range_start}-{range_end}, lease-time: 1h, ping-check: {ping_check}}}
links:
  - endpoints: [kvm1:{uplink}, dhcp1:eth0]
"""

FORWARD_DROP = """\
    firewall:
      br-netfilter: true
      iptables: |
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
{rules}        COMMIT
    sysctl: {{net.bridge.bridge-nf-call-iptables: {call_iptables}}}
"""
PHYSDEV_ACCEPT = "        -A FORWARD -m physdev --physdev-is-bridged -j ACCEPT\n"


def sim_topology(
    case: str,
    kernel: KernelDhcp,
    *,
    stp: bool = False,
    timeout: int = BLOCKED_TIMEOUT,
    ping_check: bool = False,
    firewall: str = "",
) -> str:
    """The vnetlab twin of a kernel run.  The guest's client starts when the kernel's
    dhclient sent its first DISCOVER (``boot-delay``, measured from ``t0``: the ports'
    enabling, or the client's start with STP off), so both timelines share their origin."""
    return SIM_TOPOLOGY.format(
        case=case,
        uplink=UPLINK,
        uplink_mac=UPLINK_MAC,
        bridge=BRIDGE,
        bridge_mac=BRIDGE_MAC,
        stp=f"{{enabled: true, forward-delay: {FORWARD_DELAY:g}}}" if stp else "{enabled: false}",
        host_extra=firewall,
        boot_delay=f"{round(kernel.discovers[0] * 1000)}ms",
        tap=TAP,
        vm_mac=VM_MAC,
        timeout=timeout,
        server_mac=SERVER_MAC,
        server_ip=SERVER_IP,
        prefix_len=PREFIX_LEN,
        range_start=RANGE_START,
        range_end=RANGE_END,
        ping_check=str(ping_check).lower(),
    )


@dataclass
class SimDhcp:
    """What vnetlab's run showed, in the terms of :class:`KernelDhcp` (seconds from 0)."""

    discovers: list[float]
    intervals: list[int]
    delivered: list[bool]  # per DISCOVER: did dhcp1's server handle it
    drops: list[tuple[str, str, str, str]]  # per dropped DISCOVER: (where, port, reason, rule)
    bound_at: float | None
    address: str | None
    gave_up_at: float | None
    client_order: list[str]
    server_order: list[str]
    port_states: dict[str, float]  # vnet0: STP state -> when entered
    client_times: dict[str, float]  # vm1: DISCOVER/OFFER/... -> first time
    outcome: str

    @property
    def dropped(self) -> int:
        """DISCOVERs that never reached the server."""
        return self.delivered.count(False)


INTERVAL = re.compile(r" interval (\d+) ")
STATE_ENTERED = re.compile(r"entered (\w+) state")


def run_sim(text: str, case: str) -> SimDhcp:
    """Simulate ``text`` (seed 0) and read vm1's client, dhcp1's server and br0 from it."""
    result = simulate(text, f"dhcp-kernel-{case}")
    lab: Any = getattr(result, "lab")  # noqa: B009 -- RunResult.lab (not in the SimResult protocol)
    client = lab.dhcp.client("vm1")
    assert client is not None, "vnetlab built no DHCP client for vm1"
    steps = list(result.trace.steps)
    by_id = {step.id: step for step in steps}
    ns = 1e-9
    discovers = [rec for rec in client.sends if rec.mtype.name == "DISCOVER"]
    server_uids = {
        step.uid
        for step in steps
        if step.data.get("dhcp") == "server" and step.data.get("msg") == "discover"
    }
    delivered, drops, intervals = [], [], []
    for rec in discovers:
        sent = by_id[rec.step]
        match = INTERVAL.search(sent.note)
        intervals.append(int(match.group(1)) if match else 0)
        delivered.append(sent.uid in server_uids)
        drops += [
            (step.where, step.port, str(step.reason), step.rule)
            for step in steps
            if step.uid == sent.uid and str(step.action) == "drop" and step.where == f"{HOST}/{BRIDGE}"
        ]
    client_order: list[str] = []
    server_order: list[str] = []
    client_times: dict[str, float] = {}
    port_states: dict[str, float] = {}
    for step in steps:
        role, msg, event = step.data.get("dhcp"), step.data.get("msg"), step.data.get("event")
        if role == "client" and step.data.get("client", "").startswith("vm1"):
            if msg in ("discover", "offer", "request", "ack", "nak"):
                client_order.append(msg.upper())
                client_times.setdefault(msg.upper(), step.time * ns)
            elif event in ("bound", "gave-up"):
                client_order.append({"bound": "BOUND", "gave-up": "GAVE_UP"}[event])
            elif step.fn == "state_panic" and step.note.startswith("No DHCPOFFERS"):
                client_order.append("NO_OFFERS")
        elif role == "server" and msg in ("discover", "offer", "request", "ack", "nak"):
            server_order.append(msg.upper())
        if step.where == f"{HOST}/{BRIDGE}" and step.port == TAP and (m := STATE_ENTERED.search(step.note)):
            port_states.setdefault(m.group(1), step.time * ns)
    bound = next((ev for ev in client.events if ev.kind == "bound"), None)
    return SimDhcp(
        discovers=[rec.time * ns for rec in discovers],
        intervals=intervals,
        delivered=delivered,
        drops=drops,
        bound_at=None if bound is None else bound.time * ns,
        address=None if bound is None else ip4_str(bound.address),
        gave_up_at=client.gave_up[0].time * ns if client.gave_up else None,
        client_order=client_order,
        server_order=server_order,
        port_states=port_states,
        client_times=client_times,
        outcome=client.outcome(),
    )


def collapse(order: list[str]) -> list[str]:
    """A message sequence with runs of retransmissions folded (DISCOVER x3 -> DISCOVER)."""
    return [kind for i, kind in enumerate(order) if i == 0 or order[i - 1] != kind]


def compare_outcome(kernel: KernelDhcp, sim: SimDhcp) -> list[Mismatch]:
    """Bound or not, the address dnsmasq chose, and the order of the DHCP messages."""
    return [
        *compare("bound", kernel.bound_at is not None, sim.bound_at is not None),
        *compare("address", kernel.address, sim.address),
        *compare("client's messages (retransmissions folded)", collapse(kernel.client_order),
                 collapse(sim.client_order)),
        *compare("server's messages (retransmissions folded)", collapse(kernel.server_order),
                 collapse(sim.server_order)),
    ]


def sim_report(kernel: KernelDhcp, sim: SimDhcp, mismatches: list[Mismatch]) -> str:
    """The mismatches plus both timelines."""
    return f"{report(mismatches)}\nkernel  {kernel.summary()}\nvnetlab {sim}\n{kernel.log}"


def test_sim_lease_through_bridge(plain_run: KernelDhcp) -> None:
    """(a) STP off: both bound at the first DISCOVER, to the same address (dnsmasq's SDBM
    hash of the MAC picks where address_allocate starts), DORA in the same order."""
    kernel = plain_run
    sim = run_sim(sim_topology("plain", kernel), "plain")
    mismatches = compare_outcome(kernel, sim)
    mismatches += compare("DISCOVERs delivered", kernel.delivered, sim.delivered)
    assert kernel.bound_at is not None and sim.bound_at is not None
    if abs(sim.bound_at - kernel.bound_at) > 0.5:
        mismatches.append(Mismatch("bound at (s)", round(kernel.bound_at, 3), round(sim.bound_at, 3)))
    assert not mismatches, sim_report(kernel, sim, mismatches)


def test_sim_forward_drop_and_its_fixes(netfilter_runs: NetfilterRuns) -> None:
    """(b) FORWARD DROP with bridge-nf-call-iptables=1: no lease on either side, every
    DISCOVER dropped by kvm1's FORWARD policy on its way to ens224 (the kernel's policy
    counter, vnetlab's netfilter-drop steps), dhclient -1 gives up after its timeout; the
    physdev ACCEPT rule and bridge-nf-call-iptables=0 each bring the lease back on both."""
    runs = netfilter_runs
    cases = {
        "blocked": (runs.blocked, FORWARD_DROP.format(rules="", call_iptables=1)),
        "physdev-accept": (runs.physdev_accept, FORWARD_DROP.format(rules=PHYSDEV_ACCEPT, call_iptables=1)),
        "sysctl-off": (runs.sysctl_off, FORWARD_DROP.format(rules="", call_iptables=0)),
    }
    failures = []
    for case, (kernel, firewall) in cases.items():
        sim = run_sim(sim_topology(case, kernel, firewall=firewall), case)
        mismatches = compare_outcome(kernel, sim)
        if case == "blocked":
            kernel_all_dropped = kernel.policy_drops == len(kernel.discovers) and not any(kernel.delivered)
            sim_all_dropped = not any(sim.delivered) and sim.drops == [
                (f"{HOST}/{BRIDGE}", UPLINK, "netfilter-drop", "B24")
            ] * len(sim.discovers)
            mismatches += compare("every DISCOVER dropped by kvm1's FORWARD policy", kernel_all_dropped,
                                  sim_all_dropped)
            # dhclient -1 panics at the first send_discover more than `timeout` whole seconds
            # after the first DISCOVER: timeout + 1 .. timeout + 2 s after it
            def gave_up_in_time(at: float | None, first: float) -> bool:
                return at is not None and BLOCKED_TIMEOUT < at - first < BLOCKED_TIMEOUT + 2.5

            mismatches += compare("gave up timeout+1..timeout+2 s after the first DISCOVER",
                                  gave_up_in_time(kernel.gave_up_at, kernel.discovers[0]),
                                  gave_up_in_time(sim.gave_up_at, sim.discovers[0]))
        else:
            mismatches += compare("DISCOVERs delivered", kernel.delivered, sim.delivered)
        if mismatches:
            failures.append(f"[{case}] " + sim_report(kernel, sim, mismatches))
    assert not failures, "\n\n".join(failures)


def test_sim_stp_delays_lease_like_the_kernel(stp_run: KernelDhcp) -> None:
    """(c) STP, forward delay 4 s: vnetlab's vnet0 listens, learns and forwards at the
    kernel's times (the kernel's timers fire up to a timer-wheel granule late); every
    DISCOVER before forwarding is dropped at vnet0 (port-not-forwarding), the number dropped
    agrees within one, and the lease comes within one retransmission interval (the kernel's
    interval in effect when the port started forwarding) of the kernel's."""
    kernel = stp_run
    sim = run_sim(sim_topology("stp", kernel, stp=True, timeout=STP_TIMEOUT), "stp")
    mismatches = compare_outcome(kernel, sim)
    for state in ("learning", "forwarding"):
        late = kernel.port_states.get(state, -1.0) - sim.port_states.get(state, 99.0)
        if not 0 <= late < 1.0:
            mismatches.append(Mismatch(f"vnet0 {state} at (s)", kernel.port_states.get(state),
                                       sim.port_states.get(state)))
    forwarding = sim.port_states.get("forwarding", 0.0)
    sim_rule = all(not ok for t, ok in zip(sim.discovers, sim.delivered, strict=True) if t < forwarding)
    sim_rule = sim_rule and all(drop[1:3] == (TAP, "port-not-forwarding") for drop in sim.drops)
    mismatches += compare("DISCOVERs before forwarding dropped at vnet0", True, sim_rule)
    if abs(kernel.dropped - sim.dropped) > 1:
        mismatches.append(Mismatch("DISCOVERs dropped (+-1)", kernel.dropped, sim.dropped))
    bar = kernel.interval_in_effect()
    if kernel.bound_at is None or sim.bound_at is None or abs(sim.bound_at - kernel.bound_at) > bar:
        mismatches.append(Mismatch(f"bound at (s), within {bar:.2f} s", kernel.bound_at, sim.bound_at))
    assert not mismatches, sim_report(kernel, sim, mismatches)


def test_sim_dnsmasq_ping_check(ping_check_run: KernelDhcp) -> None:
    """dnsmasq's ping check (do_icmp_ping, PING_WAIT 3 s): the client gets the OFFER 3 s
    after its DISCOVER on both sides, bound at the same time within 0.5 s, same address."""
    kernel = ping_check_run
    sim = run_sim(sim_topology("ping-check", kernel, ping_check=True), "ping-check")
    mismatches = [
        *compare("bound", kernel.bound_at is not None, sim.bound_at is not None),
        *compare("address", kernel.address, sim.address),
    ]
    k_wait = kernel.client_times["OFFER"] - kernel.client_times["DISCOVER"]
    s_wait = sim.client_times.get("OFFER", 0.0) - sim.client_times.get("DISCOVER", 0.0)
    if abs(k_wait - s_wait) > 0.5:
        mismatches.append(Mismatch("DISCOVER -> OFFER at the client (s)", round(k_wait, 3), round(s_wait, 3)))
    if kernel.bound_at is None or sim.bound_at is None or abs(sim.bound_at - kernel.bound_at) > 0.5:
        mismatches.append(Mismatch("bound at (s)", kernel.bound_at, sim.bound_at))
    assert not mismatches, sim_report(kernel, sim, mismatches)
