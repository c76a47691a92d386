"""DHCP: the server's choices and deliveries (D1), the relay, and each client's
schedule (D3-D6), read from simulated runs. Every assertion is about what the
model did in a run; the bounds come from the sources the clients mirror."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest

from vnetlab.devices.dhcp import (
    BOOTREQUEST,
    Dhcp,
    DhcpClient,
    DhcpType,
    ServerParams,
    sdbm_hash,
)
from vnetlab.lab import RunResult
from vnetlab.net.addr import ip4_str, parse_ip4
from vnetlab.net.frame import Frame, Ipv4, Udp
from vnetlab.sim.time import S
from vnetlab.sim.trace import Action, DropReason, Step

Run = Callable[..., RunResult]

VM1 = "52:54:00:00:00:01"


def lab(*, client: str = "networkmanager", knobs: str = "", stp: bool = False,
        server: str = "{pool: 192.168.10.100-192.168.10.199}", boot: str = "5s",
        extra_vms: str = "", run: str = "", expect: str = "", duration: str = "90s",
        uplink: bool = True) -> str:
    """One host bridge, one VM (vm1), a switch and gw1 running the server."""
    port = "port: [{name: eno1}]" if uplink else "port: []"
    return textwrap.dedent(f"""\
        hosts:
          kvm1:
            interfaces:
              - {{name: eno1, type: ethernet, mac-address: 00:50:56:a1:00:01}}
              - name: br0
                type: linux-bridge
                bridge:
                  options: {{stp: {{enabled: {str(stp).lower()}}}}}
                  {port}
        vms:
          vm1:
            host: kvm1
            boot-delay: {boot}
            interfaces:
              - {{source: br0, mac: "{VM1}", ipv4: {{dhcp: true, client: {client}{knobs}}}}}
        """) + textwrap.indent(textwrap.dedent(extra_vms), "  ") + textwrap.dedent(f"""\
        switches:
          sw1: {{ports: [ge1, ge2]}}
        routers:
          gw1:
            interfaces:
              - name: eth0
                mac-address: 00:1b:21:0a:0b:01
                ipv4: 192.168.10.254/24
                dhcp-server: {server}
        links:
          - endpoints: [kvm1:eno1, sw1:ge1]
          - endpoints: [gw1:eth0, sw1:ge2]
        duration: {duration}
        """) + run + expect


def client_of(result: RunResult, ref: str = "vm1:eth0") -> DhcpClient:
    client = result.lab.dhcp.clients[ref]
    return client


def steps(result: RunResult, where: str, fn: str = "", note: str = "") -> list[Step]:
    return [s for s in result.trace.steps if s.where == where and fn in s.fn and note in s.note]


def sends(client: DhcpClient, mtype: DhcpType = DhcpType.DISCOVER) -> list[float]:
    return [s.time / S for s in client.sends if s.mtype is mtype]


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in pairwise(times)]


def frames_of(result: RunResult, where: str, text: str) -> list[Step]:
    return [s for s in result.trace.steps if s.where == where and s.action is Action.TRANSMIT
            and text in s.note]


# -- D1: delivery ------------------------------------------------------------------------

def test_offer_and_ack_are_unicast_to_chaddr_without_the_broadcast_bit(run: Run) -> None:
    result = run(lab())
    client = client_of(result)
    assert client.lease is not None and client.lease.router == parse_ip4("192.168.10.254")
    offers = frames_of(result, "gw1/eth0", "DHCPOFFER")
    assert offers and all(f"> {VM1} " in s.note for s in offers)
    assert all(f"> {ip4_str(client.lease.address)} UDP 67 > 68" in s.note for s in offers)
    # the address is configured: a ping to the gateway works afterwards
    assert client.lease.address in result.lab.endpoints["vm1"].local_ips


def test_windows_sets_the_broadcast_bit_and_gets_broadcast_replies(run: Run) -> None:
    result = run(lab(client="windows"))
    assert client_of(result).lease is not None
    offers = frames_of(result, "gw1/eth0", "DHCPOFFER")
    acks = frames_of(result, "gw1/eth0", "DHCPACK")
    assert offers and acks
    assert all("> ff:ff:ff:ff:ff:ff " in s.note and "flags B" in s.note for s in offers + acks)


def test_nak_is_broadcast_and_for_a_foreign_address(run: Run) -> None:
    """A REQUEST for an address reserved for another MAC: DHCPNAK, broadcast (D1)."""
    result = run(lab(server="{pool: 192.168.10.100-192.168.10.199, reservations: "
                            "[{mac: '52:54:00:00:00:99', ip: 192.168.10.120}]}"))
    server = result.lab.dhcp.servers[0]
    request = Dhcp(BOOTREQUEST, DhcpType.REQUEST, 0x1234, parse_ip4("0.0.0.0") or 0x5254_0000_0001,
                   requested_ip=parse_ip4("192.168.10.120"), server_id=server.address)
    frame = Frame(0xFFFF_FFFF_FFFF, 0x5254_0000_0001, 0x0800,
                  Ipv4(0, 0xFFFF_FFFF, Udp(68, 67, request)), 99_999)
    before = len(result.trace.steps)
    server.rcv(server.iface, frame, request, 0)
    new = result.trace.steps[before:]
    nak = next(s for s in new if s.action is Action.DHCP and "DHCPNAK" in s.note)
    assert "reserved for 52:54:00:00:00:99" in nak.note and "broadcast" in nak.note
    assert any(s.action is Action.TRANSMIT and "DHCPNAK" in s.note and "> ff:ff:ff:ff:ff:ff" in
               s.note for s in new)


# -- the server (dnsmasq) ----------------------------------------------------------------

def test_reservation_is_offered_without_a_ping(run: Run) -> None:
    result = run(lab(server="{pool: 192.168.10.100-192.168.10.199, reservations: "
                            f"[{{mac: '{VM1}', ip: 192.168.10.50}}]}}"))
    client = client_of(result)
    assert client.lease is not None and ip4_str(client.lease.address) == "192.168.10.50"
    assert not steps(result, "gw1", "do_icmp_ping")


def test_first_offer_waits_for_the_ping_and_a_known_client_gets_its_address_back(run: Run
                                                                                  ) -> None:
    result = run(lab(run="run:\n  - at: 30s\n    dhcp: {from: vm1}\n"))
    client = client_of(result)
    bound = [e for e in client.events if e.kind == "bound"]
    assert len(bound) == 2 and bound[0].address == bound[1].address
    pings = steps(result, "gw1", "do_icmp_ping", "pinging")
    assert len(pings) == 1, "the second time the client's own lease is offered, unpinged"
    first_discover = client.sends[0].time
    offer = next(s for s in result.trace.steps if s.where == "gw1" and "DHCPOFFER" in s.note)
    assert offer.time - first_discover == pytest.approx(3 * S, abs=1e6)   # PING_WAIT


def test_address_choice_starts_at_the_mac_hash_and_skips_an_address_in_use(run: Run) -> None:
    free = run(lab(server="{pool: 192.168.10.100-192.168.10.199}"))
    params = ServerParams(parse_ip4("192.168.10.100"), parse_ip4("192.168.10.199"))
    start = params.pool_start + sdbm_hash(0x5254_0000_0001) % 100
    first = client_of(free).lease
    assert first is not None and first.address == start
    # a static VM on that address: dnsmasq's ping gets an answer, the next one is offered
    taken = run(lab(extra_vms=f"""\
        vm2:
          host: kvm1
          interfaces:
            - {{source: br0, mac: "52:54:00:00:00:02", ipv4: {{address: {ip4_str(start)}/24}}}}
        """))
    lease = client_of(taken).lease
    assert lease is not None and lease.address == start + 1
    assert steps(taken, "gw1", "address_allocate", "answered the ping")


def test_pool_exhaustion_is_a_drop_with_its_reason(run: Run) -> None:
    result = run(lab(server="{pool: 192.168.10.100-192.168.10.100}", extra_vms="""\
        vm2:
          host: kvm1
          boot-delay: 20s
          interfaces:
            - {source: br0, mac: "52:54:00:00:00:02", ipv4: {dhcp: true}}
        """))
    assert client_of(result).lease is not None
    assert client_of(result, "vm2:eth0").lease is None
    drops = [s for s in result.trace.steps if s.reason is DropReason.DHCP_NO_ADDRESS]
    assert drops and all("no address available" in s.note for s in drops)
    assert result.trace.drops[DropReason.DHCP_NO_ADDRESS] == len(drops)


# -- relay -----------------------------------------------------------------------------------

def relay_lab(relay: bool, run: Run) -> RunResult:
    """gw1 routes between the VM's subnet and 10.0.0.0/24, where dhcp1 runs dnsmasq."""
    text = lab(server="{pool: 192.168.10.100-192.168.10.199}")
    text = text.replace("        dhcp-server: {pool: 192.168.10.100-192.168.10.199}\n",
                        ("        dhcp-relay: {server: 10.0.0.2}\n" if relay else "")
                        + "      - {name: eth1, mac-address: 00:1b:21:0a:0b:02, "
                          "ipv4: 10.0.0.1/24}\n")
    text = text.replace("links:\n", """\
  dhcp1:
    gateway: 10.0.0.1
    interfaces:
      - name: eth0
        mac-address: 00:1b:21:0a:0c:01
        ipv4: 10.0.0.2/24
        dhcp-server: {pool: 192.168.10.100-192.168.10.199, netmask: 255.255.255.0,
                      ping-check: false}
links:
  - endpoints: [gw1:eth1, dhcp1:eth0]
""")
    return run(text)


def test_relay_sets_giaddr_and_the_server_answers_through_it(run: Run) -> None:
    result = relay_lab(True, run)
    client = client_of(result)
    assert client.lease is not None and ip4_str(client.lease.address).startswith("192.168.10.")
    assert client.lease.router == parse_ip4("192.168.10.254")     # dnsmasq: giaddr's link
    relayed = steps(result, "gw1", "do_relay4")
    assert any("giaddr 192.168.10.254" in s.note for s in relayed)
    assert any("DHCPOFFER" in s.note and "to relay 192.168.10.254:67" in s.note
               for s in steps(result, "dhcp1", "dhcp_reply"))


def test_without_relay_the_discover_stops_at_the_router(run: Run) -> None:
    from vnetlab.explain.explain import Explainer

    result = relay_lab(False, run)
    assert client_of(result).lease is None
    assert not steps(result, "dhcp1", "dhcp_reply")
    answer = Explainer(result).dhcp("vm1")
    assert answer.decisive is not None and answer.decisive.where == "gw1"
    assert answer.decisive.reason is DropReason.NO_SOCKET
    assert "does not forward the limited broadcast" in " ".join(answer.summary)


# -- clients -------------------------------------------------------------------------------

UNREACHABLE = {"uplink": False}


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_dhclient_schedule_follows_send_discover(run: Run, seed: int) -> None:
    """dhclient.c send_discover(): the first interval is initial-interval (3) plus
    random() % 6; each next one adds random() % (2 x interval), a value over
    backoff-cutoff (15) becomes 7 + random() % 15; the timeout is at whole seconds plus
    random microseconds; after timeout (60) state_panic sleeps retry (300) randomised to
    [150, 450) s."""
    result = run(lab(client="dhclient", duration="600s", **UNREACHABLE), seed=seed)
    client = client_of(result)
    intervals = [int(s.note.split("interval ")[1].split()[0])
                 for s in steps(result, "vm1", "send_discover")]
    assert 3 <= intervals[0] <= 8
    for before, after in pairwise(intervals):
        assert before <= after <= 3 * before - 1 or 7 <= after <= 21 or after <= before
    times = sends(client)
    first = [t for t in times if t < 100]
    assert all(t - 5 <= 61 for t in first) and first[-1] - 5 > 40
    for (t0, t1), interval in zip(pairwise(first), intervals, strict=False):
        assert int(t0) + interval <= t1 < int(t0) + interval + 1
    panic = client.gave_up[0]
    assert 61 <= panic.time / S - 5 < 63
    later = [t for t in times if t > panic.time / S]
    assert later and int(panic.time / S) + 150 <= later[0] < int(panic.time / S) + 450


def test_dhclient_one_try_exits(run: Run) -> None:
    result = run(lab(client="dhclient", knobs=", one-try: true, timeout: 10", duration="200s",
                     **UNREACHABLE))
    client = client_of(result)
    assert len(client.gave_up) == 1 and "exit 2" in client.gave_up[0].why
    assert all(t < 5 + 12 for t in sends(client))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_networkmanager_n_dhcp4_schedule_and_45s_timeout(run: Run, seed: int) -> None:
    """n-dhcp4: resend after 2^n s plus a jitter in [0, 1) s, a fresh xid per DISCOVER;
    NetworkManager fails the activation after ipv4.dhcp-timeout (45 s) and autoconnect
    starts it again; after 4 failures it is blocked 300 s."""
    result = run(lab(duration="520s", **UNREACHABLE), seed=seed)
    client = client_of(result)
    activations = steps(result, "vm1", "_no_lease_timeout_schedule")
    starts = [s.time / S for s in activations]
    assert starts[:4] == pytest.approx([5, 50, 95, 140])
    first = [s for s in client.sends if s.time / S < 50]
    assert len({s.xid for s in first}) == len(first)
    for k, gap in enumerate(gaps([s.time / S for s in first]), start=1):
        assert 2 ** k <= gap < 2 ** k + 1
    give_ups = [g.time / S for g in client.gave_up]
    assert give_ups[:4] == pytest.approx([50, 95, 140, 185])
    assert "ip-config-unavailable" in client.gave_up[0].why
    left = [s.note for s in steps(result, "vm1", "device_state_changed")]
    assert left[:4] == [f"failed to autoconnect; {n} tries left" for n in (3, 2, 1, 0)]
    assert steps(result, "vm1", "_autoconnect_retries_set", "blocked for 300 s")
    assert starts[4] == pytest.approx(185 + 300)


def test_networkmanager_recovers_inside_a_stp_window(run: Run) -> None:
    """D7 with n-dhcp4: 2 + 4 + 8 + 16 s: the fifth DISCOVER comes 30-34 s after the
    first, after a 30 s listening+learning window that opened when the VM started."""
    result = run(lab(stp=True, boot="0s", duration="60s"))
    client = client_of(result)
    times = sends(client)
    assert 30 <= times[4] < 34 and client.lease is not None
    dropped = [s for s in result.trace.steps if s.reason is DropReason.PORT_STATE
               and s.port == "vnet0"]
    assert len(dropped) == 4


@pytest.mark.parametrize("seed", [0, 1])
def test_networkd_schedule_never_gives_up(run: Run, seed: int) -> None:
    """sd-dhcp-client: 2^(attempt+1) s (capped at 64) minus a fuzz in [-1, 1) s, one
    xid per run, no MaxAttempts by default; TRANSIENT_FAILURE after 3 attempts."""
    result = run(lab(client="systemd-networkd", duration="300s", **UNREACHABLE), seed=seed)
    client = client_of(result)
    assert not client.gave_up and len({s.xid for s in client.sends}) == 1
    for attempt, gap in enumerate(gaps(sends(client)), start=1):
        nominal = 2 ** min(attempt + 1, 6)
        assert nominal - 1 < gap <= nominal + 1
    assert steps(result, "vm1", "client_timeout_resend", "TRANSIENT_FAILURE")


@pytest.mark.parametrize("seed", [0, 1])
def test_windows_gives_up_after_a_minute_with_apipa_and_retries_every_5_min(
        run: Run, seed: int) -> None:
    result = run(lab(client="windows", duration="400s", **UNREACHABLE), seed=seed)
    client = client_of(result)
    first = [t for t in sends(client) if t < 100]
    assert len(first) == 4
    for nominal, gap in zip((4, 8, 16), gaps(first), strict=False):
        assert nominal - 1 <= gap <= nominal + 1
    fail = client.gave_up[0].time / S
    assert 4 + 8 + 16 + 32 - 4 <= fail - 5 <= 4 + 8 + 16 + 32 + 4
    status = client.status_at(result.sim.now)
    assert status.kind == "link-local"
    assert parse_ip4("169.254.1.0") <= status.address <= parse_ip4("169.254.254.255")
    assert next(t for t in sends(client) if t > 100) == pytest.approx(fail + 300)


def test_host_interface_as_dhcp_client(run: Run) -> None:
    text = lab().replace("          port: [{name: eno1}]\n",
                         "          port: [{name: eno1}]\n"
                         "        ipv4: {dhcp: true}\n")
    result = run(text)
    host = result.lab.dhcp.clients["kvm1:br0"]
    assert host.lease is not None and host.label == "NetworkManager"
    assert host.sends[0].time == pytest.approx(0, abs=1e6)      # the host starts at 0


def test_renewal_at_t1_is_a_unicast_request(run: Run) -> None:
    result = run(lab(server="{pool: 192.168.10.100-192.168.10.199, lease-time: 2min}",
                     duration="100s"))
    client = client_of(result)
    renew = [s for s in client.sends if s.mtype is DhcpType.REQUEST and s.time / S > 60]
    assert renew, "no renewal"
    bound_at = next(e.time for e in client.events if e.kind == "bound") / S
    assert renew[0].time / S == pytest.approx(bound_at + 60, abs=0.01)   # T1 = lease / 2
    assert steps(result, "vm1", "state_bound", "lease renewed")
    unicast = [s for s in result.trace.steps if s.where == "vm1/eth0" and "DHCPREQUEST" in
               s.note and s.action is Action.TRANSMIT and "ciaddr" in s.note]
    assert unicast and "> 00:1b:21:0a:0b:01" in unicast[0].note


def test_same_seed_same_trace(run: Run) -> None:
    def lines(result: RunResult) -> list[Any]:
        return [(s.time, s.where, s.note) for s in result.trace.steps]
    assert lines(run(lab(client="dhclient"))) == lines(run(lab(client="dhclient")))
    assert lines(run(lab(client="dhclient"), seed=1)) != lines(run(lab(client="dhclient")))


def test_server_in_a_vm_and_on_a_host_bridge(run: Run) -> None:
    """dnsmasq in a guest (vm2) serves vm1 through br0; its default router option is its
    own address (dnsmasq's default for a local range)."""
    text = lab(uplink=False, extra_vms="""\
        vm2:
          host: kvm1
          boot-delay: 0s
          interfaces:
            - {source: br0, mac: "52:54:00:00:00:02", ipv4: {address: 192.168.50.2/24},
               dhcp-server: {pool: 192.168.50.100-192.168.50.110, ping-check: false}}
        """)
    result = run(text)
    lease = client_of(result).lease
    assert lease is not None and ip4_str(lease.address).startswith("192.168.50.1")
    assert lease.router == parse_ip4("192.168.50.2")
    assert steps(result, "vm2", "dhcp_reply", "DHCPACK")
