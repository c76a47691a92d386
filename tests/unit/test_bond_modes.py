"""Linux bonding, mode by mode (devices/bond.py, semantics BD1-BD17).

Every verdict comes from a simulation run. Where a test names the slave a
frame must leave on, the expected slave is computed here from the kernel's
formula (bond_main.c / bond_alb.c, as quoted in semantics BD7, BD9, BD11), not
copied from the simulator's output.

The host in every test: kvm1 with NICs eth0, eth1 (, eth2) (MACs
00:50:56:a1:00:01, :02, :03) enslaved in that order to bond0, cabled to
sw1:ge1, ge2 (, ge3); routers gw1 (192.168.10.254), gw2 (.253), gw3 (.252)
behind sw1. bond0 is either a port of br1 with VMs vm1.. (52:54:00:12:34:0N;
192.168.10.21, .38, .57) or carries 192.168.10.11 itself.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from aggregate_host import BROADCAST, GW_IPS, GW_MACS, NIC_MACS, host_topology, simulate, vm_mac
from aggregate_host import HOST_IP as BOND_IP
from aggregate_host import port_of_uid as _port_of_uid
from aggregate_host import tx_ports as _tx_ports

from vnetlab.devices.bond import Bond
from vnetlab.lab import RunResult
from vnetlab.net.addr import mac_str, parse_mac
from vnetlab.net.frame import Frame, Raw
from vnetlab.sim.time import MS, S

ETH_P_ARP, ETH_P_IP, ETH_P_LOOPBACK = 0x0806, 0x0800, 0x9000


def vm_ip(i: int) -> str:
    return ("192.168.10.21", "192.168.10.38", "192.168.10.57")[i]


def topology(mode: str, options: dict[str, Any] | None = None, *, nics: int = 2,
             bridge: bool = True, vms: int = 1, routers: int = 1, lag: bool = False,
             run: list[dict[str, Any]] | None = None, duration: str | None = None,
             bridge_ip: bool = False) -> dict[str, Any]:
    """The host of aggregate_host.py with bond0 in ``mode``."""
    bond: dict[str, Any] = {"name": "bond0", "type": "bond",
                            "link-aggregation": {"mode": mode, "options": options or {},
                                                 "port": [f"eth{i}" for i in range(nics)]}}
    return host_topology(bond, nics=nics, bridge=bridge, vms=vms, routers=routers, lag=lag,
                         run=run, duration=duration, bridge_ip=bridge_ip)


def bond_of(result: RunResult) -> Bond:
    bond = result.lab.devices["kvm1:bond0"]
    assert isinstance(bond, Bond)
    return bond


def tx_ports(result: RunResult) -> list[str]:
    """The slave of every frame bond0 transmitted, in order (bond_dev_queue_xmit)."""
    return _tx_ports(result, "kvm1/bond0")


def port_of_uid(result: RunResult) -> dict[int, set[str]]:
    return _port_of_uid(result, "kvm1/bond0")


def active_changes(result: RunResult) -> list[tuple[int, str]]:
    """(time, new active slave) of every bond_change_active_slave (BD8)."""
    return [(s.time, s.port) for s in result.trace.steps
            if s.where == "kvm1/bond0" and s.fn == "bond_change_active_slave"
            and s.action == "link"]


def send(src: str, dst: str, count: int, at: str = "1s") -> dict[str, Any]:
    return {"at": at, "send": {"from": src, "dst": dst, "count": count}}


def ping(src: str, dst: str, count: int, at: str = "1s", interval: str = "1s") -> dict[str, Any]:
    return {"at": at, "ping": {"from": src, "to": dst, "count": count, "interval": interval}}


# -- the kernel's hashes, written from bond_main.c (semantics BD9) ----------------------------

def le32(ip: int) -> int:
    """A __be32 address loaded by a little-endian CPU (flow_get_u32_src/dst)."""
    return int.from_bytes(ip.to_bytes(4, "big"), "little")


def eth_hash(src: int, dst: int, ethertype: int) -> int:
    """bond_eth_hash(): h_dest[5] ^ h_source[5] ^ ntohs(h_proto)."""
    return (dst & 0xFF) ^ (src & 0xFF) ^ ethertype


def ip_fold(value: int) -> int:
    """bond_ip_hash() after the address XOR: hash ^= hash >> 16; hash ^= hash >> 8 (u32)."""
    value &= 0xFFFF_FFFF
    value ^= value >> 16
    value ^= value >> 8
    return value


def layer23_hash(src: int, dst: int, ethertype: int, sip: int, dip: int) -> int:
    return ip_fold(eth_hash(src, dst, ethertype) ^ le32(dip) ^ le32(sip))


def layer34_icmp_hash(icmp_type: int, ident: int, sip: int, dip: int) -> int:
    """layer3+4 for an ICMP echo: memcpy(&hash, &flow.icmp, 4) with flow.icmp =
    {u8 type; u8 code; u16 id} and id = ntohs(echo.id) (skb_flow_get_icmp_tci,
    0 replaced by 1), read on a little-endian CPU; then bond_ip_hash, and the
    lowest bit is discarded for layer3+4."""
    word = icmp_type | 0 << 8 | (ident or 1) << 16
    return ip_fold(word ^ le32(dip) ^ le32(sip)) >> 1


def vlan_srcmac_hash(src: int, vlan: int = 0) -> int:
    """bond_vlan_srcmac_hash(): vlan ^ h_source[0..2] ^ h_source[3..5] (as 24-bit ints)."""
    return vlan ^ (src >> 24) ^ (src & 0xFF_FFFF)


# -- balance-rr (BD7) ---------------------------------------------------------------------

def rr_run(pps: int, seed: int = 0, frames: int = 12) -> list[str]:
    data = topology("balance-rr", {"miimon": 100, "packets_per_slave": pps}, nics=3, lag=True,
                    run=[send("vm1", GW_MACS[0], frames)])
    return tx_ports(simulate(data, seed))


def test_balance_rr_counter_starts_at_slave_id_one() -> None:
    """BD7 bond_rr_gen_slave_id(): slave_id = this_cpu_inc_return(rr_tx_counter),
    incremented before use, so the first frame goes to slave id 1 % 3 (eth1),
    then 2, 0, 1, ... (bond_get_slave_by_id, all slaves up)."""
    expected = [f"eth{n % 3}" for n in range(1, 13)]
    assert rr_run(1) == expected


@pytest.mark.parametrize("pps", [2, 3])
def test_balance_rr_packets_per_slave_divides_the_counter(pps: int) -> None:
    """BD7: with packets_per_slave N > 1 the incremented counter is divided by N
    (reciprocal_divide(counter, N)): ids 0,1,1,2,2,... for N=2, 0,0,1,1,1,2,... for N=3."""
    expected = [f"eth{(n // pps) % 3}" for n in range(1, 13)]
    assert rr_run(pps) == expected


def test_balance_rr_packets_per_slave_zero_is_random_but_seeded() -> None:
    """BD7: packets_per_slave 0 picks a random slave id (get_random_u32) per frame;
    the simulator's RNG is seeded, so one seed gives one sequence."""
    runs = {seed: rr_run(0, seed) for seed in range(6)}
    assert runs[3] == rr_run(0, 3)                         # same seed, same sequence
    assert len({tuple(r) for r in runs.values()}) > 1     # seeds differ somewhere
    assert all(set(r) <= {"eth0", "eth1", "eth2"} for r in runs.values())
    assert set().union(*map(set, runs.values())) == {"eth0", "eth1", "eth2"}


# -- balance-xor (BD9) --------------------------------------------------------------------

def xor_run(policy: str, nics: int) -> RunResult:
    """Three VMs under br1 each ping the three gateways 3 times through a static LAG."""
    run = [ping(f"vm{i + 1}", GW_IPS[j], 3, at=f"{1 + i / 10 + j / 100}s")
           for i in range(3) for j in range(3)]
    data = topology("balance-xor", {"miimon": 100, "xmit_hash_policy": policy}, nics=nics,
                    vms=3, routers=3, lag=True, run=run)
    return simulate(data)


def expected_slave(result: RunResult, policy: str, nics: int,
                   flow: tuple[int, int, int, tuple[int, int] | None]) -> str:
    """usable_slaves[hash % count] with the hash of BD9 (all slaves up, in enslave order)."""
    src, dst, ethertype, ips = flow
    if policy == "vlan+srcmac":
        value = vlan_srcmac_hash(src)
    elif policy == "layer2" or ips is None:            # no IPv4 header: bond_eth_hash()
        value = eth_hash(src, dst, ethertype)
    elif policy == "layer2+3":
        value = layer23_hash(src, dst, ethertype, *ips)
    else:                                              # layer3+4: the VMs' echo requests
        vm = next(i for i in range(3) if parse_mac(vm_mac(i)) == src)
        session = result.sessions(f"vm{vm + 1}", ips[1])[0]
        value = layer34_icmp_hash(8, session.ident, *ips)
    return f"eth{value % nics}"


def check_xor(policy: str, nics: int) -> None:
    result = xor_run(policy, nics)
    flows = bond_of(result).flow_ports
    assert result.ping_replies_total() == 27
    ip_flows = [f for f in flows if f[3] is not None]
    assert len(ip_flows) == 9 and any(f[2] == ETH_P_ARP for f in flows)
    for flow, (last_port, changes, _) in flows.items():
        assert changes == 0, flow                      # a flow never changes slave
        assert last_port == expected_slave(result, policy, nics, flow), (policy, flow)


@pytest.mark.parametrize("policy", ["layer2", "layer2+3", "vlan+srcmac"])
def test_balance_xor_flow_sticks_to_the_hashed_slave(policy: str) -> None:
    """BD9 bond_xmit_3ad_xor_slave_get(): slave = usable_slaves[bond_xmit_hash() %
    count]; one MAC pair (layer2), IP pair (layer2+3) or source MAC (vlan+srcmac)
    always maps to one slave; ARP has no IP header and falls back to layer2."""
    check_xor(policy, nics=3)


def test_balance_xor_layer34_icmp_flow_sticks_to_the_hashed_slave() -> None:
    """BD9 layer3+4 for ICMP echo (flow.icmp type/code/id XOR the addresses, >> 1),
    two slaves (hash % 2 is bit 1 of the folded word, which the byte order of the
    echo id cannot change; the three-slave case below can tell)."""
    check_xor("layer3+4", nics=2)


def test_balance_xor_layer34_icmp_id_byte_order_three_slaves() -> None:
    """BD9 layer3+4 with three slaves: the ICMP id enters the hash as a host-order
    u16 in the upper half of the word (type | code << 8 | id << 16)."""
    check_xor("layer3+4", nics=3)


# -- broadcast (BD10) ---------------------------------------------------------------------

def test_broadcast_copies_every_frame_to_every_slave_and_the_gateway_answers_twice() -> None:
    """BD10 bond_xmit_broadcast(): every frame on every slave that is up. A static
    LAG forwards both copies to gw1 (S3), which answers each: ping counts a DUP."""
    data = topology("broadcast", {"miimon": 100}, lag=True, run=[ping("vm1", GW_IPS[0], 3)])
    result = simulate(data)
    sent = port_of_uid(result)
    assert sent and all(ports == {"eth0", "eth1"} for ports in sent.values())
    [session] = result.sessions("vm1", GW_IPS[0])
    assert session.replies == 3
    assert [r.duplicates for r in session.records] == [1, 1, 1]


def test_broadcast_skips_a_slave_that_is_down() -> None:
    """BD10: only slaves that are up get a copy (bond_slave_can_tx)."""
    data = topology("broadcast", {"miimon": 100}, lag=True,
                    run=[{"at": "500ms", "link-down": "kvm1:eth1"}, send("vm1", GW_MACS[0], 3)])
    sent = port_of_uid(simulate(data))
    assert sent and all(ports == {"eth0"} for ports in sent.values())


# -- active-backup (BD4, BD8, BD13, BD14) -------------------------------------------------

@pytest.mark.parametrize(("reselect", "after_recovery"),
                         [("always", "eth0"), ("better", "eth1"), ("failure", "eth1")])
def test_primary_reselect_decides_whether_the_primary_takes_over_again(
        reselect: str, after_recovery: str) -> None:
    """BD8 bond_choose_primary_or_current(): when the primary (eth0) comes back,
    always -> primary; better -> the current one unless the primary is faster
    (equal speeds here: stays); failure -> the current one."""
    data = topology("active-backup", {"miimon": 100, "primary": "eth0",
                                      "primary_reselect": reselect},
                    run=[{"at": "1s", "link-down": "kvm1:eth0"},
                         {"at": "2s", "link-up": "kvm1:eth0"}], duration="3s")
    result = simulate(data)
    changes = active_changes(result)
    assert changes[0][1] == "eth0"
    assert (1_100 * MS, "eth1") in changes             # next miimon tick after the pull
    assert bond_of(result).curr_active is not None
    assert bond_of(result).curr_active.name == after_recovery
    if after_recovery == "eth0":
        assert changes[-1] == (2_100 * MS, "eth0")


@pytest.mark.parametrize("reselect", ["better", "failure"])
def test_primary_becomes_active_when_it_first_comes_up(reselect: str) -> None:
    """BD5/BD8: the primary named in the options (eth1, enslaved second) is the
    first active slave even with primary_reselect better/failure (force_primary)."""
    data = topology("active-backup", {"miimon": 100, "primary": "eth1",
                                      "primary_reselect": reselect}, duration="1s")
    result = simulate(data)
    active = bond_of(result).curr_active
    assert active is not None and active.name == "eth1"


@pytest.mark.parametrize(("policy", "before", "after"), [
    # (bond, eth0, eth1) MACs before and after eth0 fails
    ("none", (0, 0, 0), (0, 0, 0)),
    ("active", (0, 0, 1), (1, 0, 1)),
    ("follow", (0, 0, 1), (0, 1, 0)),
])
def test_fail_over_mac(policy: str, before: tuple[int, int, int],
                       after: tuple[int, int, int]) -> None:
    """BD3/BD4: none: every slave carries the bond MAC (eth0's, the first slave);
    active: slaves keep their own MACs and the bond takes the active slave's;
    follow: the bond MAC stays, the new active slave takes it and the old one
    takes the new one's former MAC. Numbers index NIC_MACS."""
    def macs(duration: str) -> tuple[str, ...]:
        data = topology("active-backup", {"miimon": 100, "fail_over_mac": policy},
                        bridge=False, run=[{"at": "1s", "link-down": "kvm1:eth0"}],
                        duration=duration)
        devices = simulate(data).lab.devices
        return tuple(mac_str(devices[f"kvm1:{n}"].mac) for n in ("bond0", "eth0", "eth1"))

    assert macs("500ms") == tuple(NIC_MACS[i] for i in before)
    assert macs("2s") == tuple(NIC_MACS[i] for i in after)


def test_downdelay_and_updelay_are_rounded_to_miimon_and_delay_the_commit() -> None:
    """BD13 bond_miimon_inspect(): a carrier change is seen at the next miimon
    tick; the slave is declared down downdelay later and up updelay later, both
    rounded down to a multiple of miimon (250 ms -> 200 ms)."""
    miimon, down, up = 100 * MS, 250 * MS, 300 * MS
    data = topology("active-backup", {"miimon": 100, "downdelay": 250, "updelay": 300,
                                      "primary": "eth0"}, bridge=False,
                    run=[{"at": "1.03s", "link-down": "kvm1:eth0"},
                         {"at": "2.05s", "link-up": "kvm1:eth0"}], duration="3s")
    result = simulate(data)
    tick_after_pull = (1_030 * MS // miimon + 1) * miimon
    tick_after_plug = (2_050 * MS // miimon + 1) * miimon
    assert (tick_after_pull + down // miimon * miimon, "eth1") in active_changes(result)
    assert active_changes(result)[-1] == (tick_after_plug + up // miimon * miimon, "eth0")


def test_downdelay_flap_shorter_than_the_delay_changes_nothing() -> None:
    """BD13: carrier back before downdelay expired -> "link status up again", no failover."""
    data = topology("active-backup", {"miimon": 100, "downdelay": 500}, bridge=False,
                    run=[{"at": "1s", "link-down": "kvm1:eth0"},
                         {"at": "1.2s", "link-up": "kvm1:eth0"}], duration="3s")
    result = simulate(data)
    assert [name for _, name in active_changes(result)] == ["eth0"]
    assert any("up again" in s.note for s in result.trace.steps if s.where == "kvm1/bond0")


def test_updelay_is_ignored_when_no_slave_is_active() -> None:
    """BD13 + bond_miimon_inspect(ignore_updelay): both slaves down, eth1's link
    returns at 2.0 s: with no active slave its updelay (500 ms) is skipped, so
    it is active at the 2.1 s tick."""
    data = topology("active-backup", {"miimon": 100, "updelay": 500}, bridge=False,
                    run=[{"at": "2s", "link-down": "kvm1:eth0"},
                         {"at": "2s", "link-down": "kvm1:eth1"},
                         {"at": "3s", "link-up": "kvm1:eth1"}], duration="4s")
    assert active_changes(simulate(data))[-1] == (3_100 * MS, "eth1")


def garp_steps(result: RunResult) -> list[int]:
    return [s.time for s in result.trace.steps
            if s.where == "kvm1/bond0" and s.fn == "inetdev_send_gratuitous_arp"]


@pytest.mark.parametrize("count", [0, 1, 3])
def test_num_grat_arp_on_a_bond_with_its_own_address(count: int) -> None:
    """BD14: on failover NETDEV_NOTIFY_PEERS is raised num_grat_arp times, spaced
    by peer_notif_delay (0: the miimon interval); the bond's own IPv4 address
    is announced each time (inetdev_send_gratuitous_arp), on the new active slave."""
    data = topology("active-backup", {"miimon": 100, "num_grat_arp": count}, bridge=False,
                    run=[{"at": "1.03s", "link-down": "kvm1:eth0"}], duration="3s")
    result = simulate(data)
    failover = active_changes(result)[-1]
    assert failover == (1_100 * MS, "eth1")
    assert garp_steps(result) == [failover[0] + i * 100 * MS for i in range(count)]
    assert result.received("gw1", src=NIC_MACS[0], dst=BROADCAST, ethertype=ETH_P_ARP) == count


def test_num_grat_arp_under_a_bridge_sends_nothing_and_says_why() -> None:
    """BD14 under a bridge: bond0 has no address and br1 does not relay
    NETDEV_NOTIFY_PEERS, so no GARP leaves (not even for br1's address); the
    trace carries a NOTE at the failover citing BD14."""
    data = topology("active-backup", {"miimon": 100, "num_grat_arp": 3}, bridge_ip=True,
                    run=[{"at": "1.03s", "link-down": "kvm1:eth0"}], duration="3s")
    result = simulate(data)
    assert garp_steps(result) == []
    notes = [s for s in result.trace.steps if s.where == "kvm1/bond0" and s.action == "note"
             and s.rule == "BD14"]
    assert len(notes) == 1 and "NETDEV_NOTIFY_PEERS" in notes[0].note
    assert notes[0].time == active_changes(result)[-1][0]
    assert result.received("gw1", ethertype=ETH_P_ARP) == 0


# -- ARP monitor (BD13) ---------------------------------------------------------------------

def soft_failure(options: dict[str, Any]) -> RunResult:
    """kvm1 pings gw1 every 100 ms; at 2.03 s eth0's cable starts losing every
    frame while its carrier stays up (link-fault)."""
    data = topology("active-backup", options, bridge=False,
                    run=[ping("kvm1", GW_IPS[0], 40, interval="100ms"),
                         {"at": "2.03s", "link-fault": "kvm1:eth0"}], duration="6s")
    return simulate(data)


def test_arp_monitor_fails_over_after_missed_max_intervals() -> None:
    """BD13 bond_ab_arp_inspect(): the active slave goes down at the first ARP
    monitor tick (every arp_interval from the start) at which its last receive
    is no longer within arp_missed_max intervals (bond_time_in_interval: last_rx
    + missed_max * delta + delta / 2); then eth1 takes over and pings recover."""
    interval, missed = 100 * MS, 3
    result = soft_failure({"arp_interval": 100, "arp_ip_target": GW_IPS[0],
                           "arp_missed_max": missed})
    fault = 2_030 * MS
    last_rx = max(s.time for s in result.trace.steps
                  if s.where == "kvm1/eth0" and s.action == "receive" and s.time < fault)
    deadline = last_rx + missed * interval + interval // 2
    expected = (deadline // interval + 1) * interval
    assert active_changes(result)[-1] == (expected, "eth1")
    [outage] = [o for o in result.outages() if o.src == "kvm1"]
    assert outage.duration is not None and outage.duration <= (missed + 2) * interval


def test_miimon_alone_does_not_see_a_soft_failure() -> None:
    """BD13: the MII monitor polls carrier only; the faulty link keeps carrier,
    so eth0 stays active and every ping after the fault is lost."""
    result = soft_failure({"miimon": 100})
    assert [name for _, name in active_changes(result)] == ["eth0"]
    [session] = result.sessions("kvm1", GW_IPS[0])
    after = [r for r in session.records if r.sent_at > 2_030 * MS]
    assert after and all(r.reply_at is None for r in after)


# -- balance-tlb (BD11) ---------------------------------------------------------------------

def tlb_run(lp_interval: int = 2) -> RunResult:
    run = [ping("vm1", GW_IPS[0], 20, at="1.05s"), ping("vm2", GW_IPS[0], 20, at="1.25s")]
    data = topology("balance-tlb", {"miimon": 100, "lp_interval": lp_interval}, vms=2, run=run,
                    duration="21s")
    return simulate(data)


def test_tlb_first_rebalance_interval_uses_the_first_slave_only() -> None:
    """BD11 tlb_get_least_loaded_slave(): every slave's load is 0 until the
    first rebalance (BOND_TLB_REBALANCE_INTERVAL = 10 s), the largest gap is a
    tie and the first slave wins; eth0 is also the active slave, so before 10 s
    every frame leaves eth0 and no source MAC is rewritten."""
    result = tlb_run()
    early = [s for s in result.trace.steps if s.where == "kvm1/bond0" and s.time < 10 * S]
    assert {s.port for s in early if s.action == "forward"} == {"eth0"}
    assert not [s for s in early if s.fn == "bond_do_alb_xmit"]


def test_tlb_after_rebalance_frames_on_the_other_slave_carry_its_mac() -> None:
    """BD11: at 10 s each bucket keeps its load history, the active slave's load
    becomes unbalanced_load / 10 (> 0: the VMs' ARP broadcasts were not
    balanced) and eth1's is 0, so the next bucket assigned goes to eth1; a frame
    sent on a slave other than the active one gets that slave's MAC as source
    (bond_do_alb_xmit), which is what gw1 sees."""
    result = tlb_run()
    first_after = min((r for vm in ("vm1", "vm2") for r in result.sessions(vm, GW_IPS[0])[0].records
                       if r.sent_at >= 10 * S), key=lambda r: r.sent_at)
    assert port_of_uid(result)[first_after.uid] == {"eth1"}
    assert bond_of(result).src_rewrites > 0
    assert result.received("gw1", src=NIC_MACS[1], ethertype=ETH_P_IP) > 0
    assert result.received("gw1", src=vm_mac(0), ethertype=ETH_P_IP) > 0
    assert result.ping_replies("vm1", GW_IPS[0]) + result.ping_replies("vm2", GW_IPS[0]) == 40


def learning_packets(result: RunResult) -> dict[str, list[int]]:
    times: dict[str, list[int]] = defaultdict(list)
    for s in result.trace.steps:
        if s.where == "kvm1/bond0" and s.fn == "alb_send_learning_packets":
            times[s.port].append(s.time)
    return times


def test_tlb_learning_packets_every_lp_interval_with_the_slave_mac() -> None:
    """BD11 alb_send_learning_packets(): every lp_interval (here 2 s) each slave
    sends frames with src = dst = its own MAC and ethertype ETH_P_LOOPBACK
    (0x9000), so the switch keeps the slave MACs learned on their ports."""
    result = tlb_run(lp_interval=2)
    times = learning_packets(result)
    for port in ("eth0", "eth1"):
        assert sorted(set(times[port])) == [k * 2 * S for k in range(1, 11)]
    for i, ge in enumerate(("ge1", "ge2")):
        mac = parse_mac(NIC_MACS[i])
        learning = f"received {Frame(mac, mac, ETH_P_LOOPBACK, Raw(46), 0).describe()}"
        arrived = [s for s in result.trace.steps if s.where == f"sw1/{ge}" and s.action == "receive"
                   and s.note == learning]
        assert sorted({s.time for s in arrived}) == [k * 2 * S + 1_000 for k in range(1, 11)]
    assert result.fdb_port("sw1", NIC_MACS[1]) == "ge2"


def test_tlb_one_learning_packet_per_slave_per_interval() -> None:
    """BD11: one untagged learning packet per slave per lp_interval (no VLANs here)."""
    times = learning_packets(tlb_run(lp_interval=2))
    for port in ("eth0", "eth1"):
        assert times[port] == sorted(set(times[port]))


# -- balance-alb (BD6, BD11) ------------------------------------------------------------------

def alb_run(run: list[dict[str, Any]], duration: str = "3s", **kw: Any) -> RunResult:
    return simulate(topology("balance-alb", {"miimon": 100}, run=run, duration=duration, **kw))


def test_alb_non_active_slave_delivers_unicast_but_drops_broadcast() -> None:
    """BD6 table, balance-alb: curr_active_slave delivers everything; another
    slave delivers unicast only (RLB steers peers to it). sw1 has not learned
    vm1's MAC, so it floods gw1's unicast and broadcast to ge1 and ge2: vm1 gets
    the unicast twice (both slaves) and the broadcast once (eth0)."""
    result = alb_run([{"at": "1.5s", "send": {"from": "gw1", "dst": vm_mac(0)}},
                      {"at": "1.6s", "send": {"from": "gw1", "dst": BROADCAST}}])
    assert result.received("vm1", src=GW_MACS[0], dst=vm_mac(0)) == 2
    assert result.received("vm1", src=GW_MACS[0], dst=BROADCAST) == 1
    drops = [s for s in result.trace.steps if s.where == "kvm1/bond0" and s.action == "drop"
             and s.time >= 1_500 * MS]
    assert [(d.port, d.reason) for d in drops] == [("eth1", "inactive-port")]


def test_alb_frame_to_a_slave_mac_is_rewritten_to_the_bond_mac_under_a_bridge() -> None:
    """BD6.4: balance-alb, bond0 a bridge port, a frame to eth1's own MAC
    (PACKET_HOST on eth1) gets the bond MAC as destination before br1 sees it,
    so br1 delivers it locally (bond0's MAC is a local FDB entry)."""
    result = alb_run([{"at": "1.5s", "send": {"from": "gw1", "dst": NIC_MACS[1]}}],
                     bridge_ip=True)
    assert result.fdb_port("sw1", NIC_MACS[1]) == "ge2"  # from eth1's learning packets
    assert result.received("kvm1", src=GW_MACS[0], dst=NIC_MACS[0]) == 1
    assert result.received("kvm1", dst=NIC_MACS[1]) == 0
    assert result.received("vm1", src=GW_MACS[0]) == 0
    notes = [s for s in result.trace.steps if s.where == "kvm1/bond0" and s.rule == "BD6"
             and s.action == "note"]
    assert [n.port for n in notes] == ["eth1"]


def test_alb_rlb_client_on_the_second_slave_is_answered() -> None:
    """BD11 RLB: a bond with its own address answers gw2's ARP from eth1 with
    eth1's MAC (rlb_arp_xmit, second client -> next slave); gw2's echo requests
    then arrive on eth1 addressed to eth1's MAC and must be answered."""
    result = alb_run([ping("gw1", BOND_IP, 3), ping("gw2", BOND_IP, 3, at="1.1s")],
                     duration="5s", bridge=False, routers=2)
    assert result.received("gw2", src=NIC_MACS[1], ethertype=ETH_P_ARP) >= 1
    assert result.ping_replies("gw1", BOND_IP) == 3
    assert result.ping_replies("gw2", BOND_IP) == 3
