"""The team driver and teamd's runners and link watchers (devices/team.py,
semantics T1-T8).

Every verdict comes from a simulation run. Where a test names the port a
frame must leave on, it is computed here from libteam's and the kernel's
rules (teamd_bpf_chef.c, team_mode_loadbalance.c lb_get_skb_hash, T3), not
copied from the simulator's output.

The host in every test: kvm1 with NICs eth0, eth1 (, eth2) (MACs
00:50:56:a1:00:01, :02, :03) as ports of team1 in that order, cabled to
sw1:ge1, ge2 (, ge3); routers gw1 (192.168.10.254), gw2 (.253), gw3 (.252)
behind sw1. team1 is either a port of br1 with VMs vm1.. (52:54:00:12:34:0N;
192.168.10.21, .38, .57) or carries 192.168.10.11 itself.
"""

from __future__ import annotations

from typing import Any

import pytest
from aggregate_host import BROADCAST, GW_IPS, GW_MACS, NIC_MACS, host_topology, simulate
from aggregate_host import HOST_IP as TEAM_IP
from aggregate_host import port_of_uid as _port_of_uid
from aggregate_host import tx_ports as _tx_ports

from vnetlab.devices.team import Team
from vnetlab.lab import RunResult
from vnetlab.net.addr import mac_str
from vnetlab.sim.time import MS

TEAM_MAC = "02:00:00:0a:0a:0a"
ETH_P_ARP = 0x0806


def topology(runner: dict[str, Any], *, ports: list[dict[str, Any]] | None = None,
             nics: int = 2, bridge: bool = True, vms: int = 1, routers: int = 1,
             lag: bool = False, team_extra: dict[str, Any] | None = None,
             team_mac: str | None = None, run: list[dict[str, Any]] | None = None,
             duration: str | None = None) -> dict[str, Any]:
    """The host of aggregate_host.py with team1 running ``runner``."""
    names = [f"eth{i}" for i in range(nics)]
    team: dict[str, Any] = {"name": "team1", "type": "team",
                            "team": {"ports": ports or [{"name": n} for n in names],
                                     "runner": runner, **(team_extra or {})}}
    if team_mac is not None:
        team["mac-address"] = team_mac
    return host_topology(team, nics=nics, bridge=bridge, vms=vms, routers=routers, lag=lag,
                         run=run, duration=duration)


def team_of(result: RunResult) -> Team:
    team = result.lab.devices["kvm1:team1"]
    assert isinstance(team, Team)
    return team


def tx_ports(result: RunResult) -> list[str]:
    return _tx_ports(result, "kvm1/team1")


def port_of_uid(result: RunResult) -> dict[int, set[str]]:
    return _port_of_uid(result, "kvm1/team1")


def active_changes(result: RunResult) -> list[tuple[int, str]]:
    """(time, new active port) of every activebackup change (T5)."""
    return [(s.time, s.port) for s in result.trace.steps
            if s.where == "kvm1/team1" and s.fn == "ab_change_active_port"]


def link_verdicts(result: RunResult, port: str) -> list[tuple[int, bool]]:
    """(time, up) of every link watch verdict on ``port`` (T7)."""
    return [(s.time, " link up " in s.note) for s in result.trace.steps
            if s.where == "kvm1/team1" and s.port == port
            and s.fn == "teamd_link_watch_check_link_up"]


def send(src: str, dst: str, count: int, at: str = "1s") -> dict[str, Any]:
    return {"at": at, "send": {"from": src, "dst": dst, "count": count}}


def ping(src: str, dst: str, count: int, at: str = "1s", interval: str = "1s") -> dict[str, Any]:
    return {"at": at, "ping": {"from": src, "to": dst, "count": count, "interval": interval}}


# -- broadcast ------------------------------------------------------------------------------

def test_broadcast_runner_copies_every_frame_and_the_gateway_answers_twice() -> None:
    """T3 bc_transmit(): a copy on every enabled port. Through a static LAG both
    copies reach gw1 (S3), which answers each: ping counts a DUP per request."""
    data = topology({"name": "broadcast"}, lag=True, run=[ping("vm1", GW_IPS[0], 3)])
    result = simulate(data)
    sent = port_of_uid(result)
    assert sent and all(ports == {"eth0", "eth1"} for ports in sent.values())
    [session] = result.sessions("vm1", GW_IPS[0])
    assert session.replies == 3
    assert [r.duplicates for r in session.records] == [1, 1, 1]


# -- random ---------------------------------------------------------------------------------

def random_run(seed: int) -> list[str]:
    data = topology({"name": "random"}, lag=True, run=[send("vm1", GW_MACS[0], 16)])
    return tx_ports(simulate(data, seed))


def test_random_runner_is_deterministic_per_seed() -> None:
    """T3 rnd_transmit(): a uniformly random enabled port per frame
    (prandom_u32_max); the run's RNG is seeded: one seed, one sequence."""
    runs = {seed: random_run(seed) for seed in range(5)}
    assert random_run(2) == runs[2]
    assert len({tuple(r) for r in runs.values()}) > 1
    assert all(len(r) == 16 and set(r) <= {"eth0", "eth1"} for r in runs.values())
    assert set().union(*map(set, runs.values())) == {"eth0", "eth1"}


# -- loadbalance ----------------------------------------------------------------------------

def ip_bytes(ip: int) -> bytes:
    return ip.to_bytes(4, "big")


def teamd_hash(src: int, dst: int, ips: tuple[int, int] | None, fields: list[str]) -> int:
    """The BPF program teamd_bpf_chef.c builds from runner.tx_hash XORs the chosen
    header words into one u32 ("eth": dst[2..5], dst[0..1], src[2..5], src[0..1];
    "ipv4"/"ip"/"l3": the IPv4 source and destination words; ICMP has no L4
    ports), and lb_get_skb_hash() folds that u32 to a byte by XORing its four
    bytes. Folding a XOR of words is the XOR of every byte of every word."""
    chunks = b""
    if "eth" in fields:
        chunks += src.to_bytes(6, "big") + dst.to_bytes(6, "big")
    if ips is not None and {"ipv4", "ip", "l3"} & set(fields):
        chunks += ip_bytes(ips[0]) + ip_bytes(ips[1])
    value = 0
    for byte in chunks:
        value ^= byte
    return value


@pytest.mark.parametrize("fields", [["eth", "ipv4", "ipv6"], ["eth"], ["l3"], ["ipv4", "l4"]],
                         ids=lambda f: "+".join(f))
def test_loadbalance_keeps_each_flow_on_the_hashed_port(fields: list[str]) -> None:
    """T3 lb_transmit without tx_balancer: port = enabled_ports[hash % en_port_count]
    (team_num_to_port_index), hash as in teamd_hash() above; a flow never moves."""
    run = [ping(f"vm{i + 1}", GW_IPS[j], 3, at=f"{1 + i / 10 + j / 100}s")
           for i in range(3) for j in range(3)]
    data = topology({"name": "loadbalance", "tx_hash": fields}, nics=3, vms=3, routers=3,
                    lag=True, run=run)
    result = simulate(data)
    assert result.ping_replies_total() == 27
    flows = team_of(result).flow_ports
    assert len([f for f in flows if f[3] is not None]) == 9
    for (src, dst, _, ips), (last_port, changes, _) in flows.items():
        assert changes == 0
        assert last_port == f"eth{teamd_hash(src, dst, ips, fields) % 3}"


# -- activebackup -----------------------------------------------------------------------------

@pytest.mark.parametrize("sticky", [False, True])
def test_activebackup_port_prio_and_sticky(sticky: bool) -> None:
    """T5 ab_link_watch_handler(): the best port is the one with link and the
    highest prio (eth1, prio 10); it takes over when it comes back, unless the
    current active port (eth0) is sticky."""
    ports = [{"name": "eth0", "sticky": sticky}, {"name": "eth1", "prio": 10}]
    data = topology({"name": "activebackup"}, ports=ports, bridge=False,
                    run=[{"at": "1s", "link-down": "kvm1:eth1"},
                         {"at": "2s", "link-up": "kvm1:eth1"}], duration="3s")
    result = simulate(data)
    changes = active_changes(result)
    before_return = [c for c in changes if c[0] < 2_000 * MS]
    assert before_return[-1][1] == "eth0"              # eth1 is down from 1 s
    after_return = [c for c in changes if c[0] >= 2_000 * MS]
    assert after_return == ([] if sticky else [(2_000 * MS, "eth1")])


def test_activebackup_receives_on_the_active_port_only() -> None:
    """T2 ab_receive(): frames arriving on any other port are RX_HANDLER_EXACT
    (dropped for the bridge). sw1 floods gw1's broadcast to both ports."""
    data = topology({"name": "activebackup"}, run=[send("gw1", BROADCAST, 1, at="1s")],
                    duration="2s")
    result = simulate(data)
    assert result.received("vm1", src=GW_MACS[0]) == 1
    drops = [s for s in result.trace.steps if s.where == "kvm1/team1" and s.action == "drop"]
    assert [(d.port, d.reason) for d in drops] == [("eth1", "inactive-port")]


@pytest.mark.parametrize(("policy", "before", "after"), [
    # (team, eth0, eth1) MACs before and after eth0 fails; "T" is the configured team MAC
    ("same_all", ("T", "T", "T"), ("T", "T", "T")),
    ("by_active", (0, 0, 1), (1, 0, 1)),
    ("only_active", ("T", "T", 1), ("T", 0, "T")),
])
def test_activebackup_hwaddr_policy(policy: str, before: tuple[Any, ...],
                                    after: tuple[Any, ...]) -> None:
    """T4 runner.hwaddr_policy: same_all: every port carries the team MAC;
    by_active: ports keep their own, the team takes the active port's;
    only_active: the active port gets the team MAC, the others keep (get back)
    their own. Numbers index NIC_MACS."""
    def macs(duration: str) -> tuple[str, ...]:
        data = topology({"name": "activebackup", "hwaddr_policy": policy}, bridge=False,
                        team_mac=TEAM_MAC, run=[{"at": "1s", "link-down": "kvm1:eth0"}],
                        duration=duration)
        devices = simulate(data).lab.devices
        return tuple(mac_str(devices[f"kvm1:{n}"].mac) for n in ("team1", "eth0", "eth1"))

    def named(spec: tuple[Any, ...]) -> tuple[str, ...]:
        return tuple(TEAM_MAC if x == "T" else NIC_MACS[x] for x in spec)

    assert macs("500ms") == named(before)
    assert macs("2s") == named(after)


def test_other_runners_give_every_port_the_team_mac() -> None:
    """T4: roundrobin/broadcast/random/loadbalance set each port's MAC to the team
    MAC when the port is added (team_modeop_port_enter)."""
    for name in ("roundrobin", "broadcast", "random", "loadbalance"):
        data = topology({"name": name}, team_mac=TEAM_MAC, duration="100ms")
        devices = simulate(data).lab.devices
        assert {mac_str(devices[f"kvm1:{n}"].mac) for n in ("eth0", "eth1")} == {TEAM_MAC}


# -- link watchers (T7) -------------------------------------------------------------------------

def test_ethtool_delay_down_and_delay_up() -> None:
    """T7 teamd_lw_ethtool: a carrier change is reported delay_down / delay_up
    after the event; a flap shorter than the delay is never reported. eth0 has
    prio 10, so activebackup follows its verdicts."""
    watch = {"name": "ethtool", "delay_down": 300, "delay_up": 500}
    ports = [{"name": "eth0", "prio": 10}, {"name": "eth1"}]
    data = topology({"name": "activebackup"}, ports=ports, bridge=False,
                    team_extra={"link_watch": watch},
                    run=[{"at": "1s", "link-down": "kvm1:eth0"},
                         {"at": "2s", "link-up": "kvm1:eth0"},
                         {"at": "4s", "link-down": "kvm1:eth0"},
                         {"at": "4.1s", "link-up": "kvm1:eth0"}], duration="6s")
    result = simulate(data)
    after_start = [v for v in link_verdicts(result, "eth0") if v[0] >= 1_000 * MS]
    assert after_start == [(1_300 * MS, False), (2_500 * MS, True)]
    assert [c for c in active_changes(result) if c[0] >= 1_000 * MS] == [
        (1_300 * MS, "eth1"), (2_500 * MS, "eth0")]


def arp_ping_watch(**extra: Any) -> dict[str, Any]:
    return {"name": "arp_ping", "interval": 100, "missed_max": 2, "source_host": TEAM_IP,
            "target_host": GW_IPS[0], **extra}


def test_arp_ping_fault_on_the_active_port_moves_activebackup() -> None:
    """T7 lw_psr_callback_periodic(): every interval a port that heard no reply
    since the last check counts a miss; more than missed_max misses in a row
    take its link down; activebackup (T5) then moves to eth1. Ports keep their
    own MACs (by_active) so each hears the replies to its own requests;
    send_always makes the backup probe too."""
    interval, missed_max = 100 * MS, 2
    data = topology({"name": "activebackup", "hwaddr_policy": "by_active"}, bridge=False,
                    team_extra={"link_watch": arp_ping_watch(send_always=True)},
                    run=[{"at": "1.05s", "link-fault": "kvm1:eth0"}], duration="2s")
    result = simulate(data)
    checks = sorted({s.time for s in result.trace.steps
                     if s.where == "kvm1/team1" and s.port == "eth0" and s.fn == "lw_ap_send"})
    first_after_fault = next(t for t in checks if t > 1_050 * MS)
    # that check still sees the reply to the request sent before the fault;
    # the next missed_max + 1 checks miss
    down_at = first_after_fault + (missed_max + 1) * interval
    assert link_verdicts(result, "eth0")[-1] == (down_at, False)
    assert active_changes(result)[-1] == (down_at, "eth1")
    assert link_verdicts(result, "eth1") == [(link_verdicts(result, "eth1")[0][0], True)]


def test_arp_ping_without_send_always_brings_a_port_up() -> None:
    """T5/T7: with no port enabled every port probes (forced_send); the first to
    hear a reply comes up and becomes active; afterwards the disabled backup
    does not probe (send_always false)."""
    data = topology({"name": "activebackup", "hwaddr_policy": "by_active"}, bridge=False,
                    team_extra={"link_watch": arp_ping_watch()}, duration="2s")
    result = simulate(data)
    team = team_of(result)
    assert team.active is not None
    became_active = active_changes(result)[0][0]
    backup = next(p.name for p in team.ports if p is not team.active)
    late_probes = [s for s in result.trace.steps if s.where == "kvm1/team1"
                   and s.port == backup and s.fn == "lw_ap_send" and s.time > became_active]
    assert late_probes == []


# -- peer notification (T5) -----------------------------------------------------------------

def garps(result: RunResult) -> list[tuple[int, str]]:
    """(time, port) of every gratuitous ARP team1 sent (NETDEV_NOTIFY_PEERS)."""
    uids = {s.uid: s.time for s in result.trace.steps
            if s.where == "kvm1/team1" and s.fn == "inetdev_send_gratuitous_arp"}
    return [(uids[s.uid], s.port) for s in result.trace.steps
            if s.where == "kvm1/team1" and s.action == "forward" and s.uid in uids]


@pytest.mark.parametrize(("count", "interval"), [(None, 0), (0, 0), (3, 50)])
def test_notify_peers_on_a_team_with_its_own_address(count: int | None, interval: int) -> None:
    """T5: on an active port change the team raises NETDEV_NOTIFY_PEERS
    notify_peers.count times (activebackup default 1), notify_peers.interval ms
    apart (team_notify_peers_work); each announces the team's own IPv4 address
    with a gratuitous ARP, sent on the new active port."""
    notify: dict[str, Any] = {"interval": interval}
    if count is not None:
        notify["count"] = count
    data = topology({"name": "activebackup"}, bridge=False, team_extra={"notify_peers": notify},
                    run=[{"at": "1s", "link-down": "kvm1:eth0"}], duration="2s")
    result = simulate(data)
    expected = 1 if count is None else count
    assert active_changes(result)[-1] == (1_000 * MS, "eth1")
    assert garps(result) == [(1_000 * MS + i * interval * MS, "eth1") for i in range(expected)]
    team_mac = mac_str(team_of(result).mac)
    assert result.received("gw1", src=team_mac, dst=BROADCAST, ethertype=ETH_P_ARP) == expected


def test_notify_peers_under_a_bridge_sends_nothing_and_says_why() -> None:
    """T5 (same consequence as BD14): team1 under br1 has no address and the
    bridge does not relay the event: no GARP, a NOTE citing T5."""
    data = topology({"name": "activebackup"}, team_extra={"notify_peers": {"count": 2}},
                    run=[{"at": "1s", "link-down": "kvm1:eth0"}], duration="2s")
    result = simulate(data)
    assert garps(result) == []
    notes = [s for s in result.trace.steps if s.where == "kvm1/team1" and s.action == "note"
             and s.rule == "T5"]
    assert len(notes) == 1 and "NETDEV_NOTIFY_PEERS" in notes[0].note
    assert result.received("gw1", ethertype=ETH_P_ARP) == 0

