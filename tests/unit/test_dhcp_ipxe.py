"""iPXE's DHCP client (a PXE-booting VM): its send times come from running the model
and are checked against the retry-timer rule of net/retry.c with config/dhcp.h's limits,
computed here, not copied from a run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from vnetlab.devices.dhcp import DhcpClient, DhcpType, IpxeClient
from vnetlab.lab import RunResult
from vnetlab.sim.time import S
from vnetlab.sim.trace import Action, Step

Run = Callable[..., RunResult]

# config/dhcp.h and include/ipxe/retry.h (the constants, not the schedule they make)
DHCP_DISC_START_TIMEOUT_SEC = 1
DHCP_DISC_END_TIMEOUT_SEC = 10
DHCP_DISC_PROXY_TIMEOUT_SEC = 2
DHCP_REQ_END_TIMEOUT_SEC = 10
DEFAULT_MIN_TIMEOUT_SEC = 1 / 4          # DHCP_REQ_START_TIMEOUT_SEC 0 means this


def retry_timer(minimum: float, maximum: float) -> tuple[list[float], float]:
    """Offsets of the sends from the state's start, and of the failure: the first send
    at once (start_timer_nodelay); the timeout starts at the minimum and doubles on each
    expiry; the expiry whose doubled timeout exceeds the maximum fails instead."""
    sends, t, timeout = [0.0], 0.0, minimum
    while True:
        t += timeout
        timeout *= 2
        if timeout > maximum:
            return sends, t
        sends.append(t)


def lab(*, boot: str = "", uplink: bool = True, reserve: bool = True, vms: int = 1,
        pool: str = "192.168.10.100-192.168.10.199", run: str = "", duration: str = "40s"
        ) -> str:
    boot_line = f"    boot-delay: {boot}\n" if boot else ""
    guests = "".join(
        f"  vm{i}:\n    host: kvm1\n{boot_line}    interfaces:\n"
        f"      - {{source: br0, mac: \"52:54:00:00:00:0{i}\", ipv4: {{dhcp: true, client: ipxe}}}}\n"
        for i in range(1, vms + 1))
    reservation = ("\n          reservations: [{mac: 52:54:00:00:00:01, ip: 192.168.10.50}]"
                   if reserve else "")
    return textwrap.dedent(f"""\
        hosts:
          kvm1:
            interfaces:
              - {{name: eno1, type: ethernet, mac-address: 00:50:56:a1:00:01}}
              - name: br0
                type: linux-bridge
                bridge:
                  options: {{stp: {{enabled: false}}}}
                  port: {"[{name: eno1}]" if uplink else "[]"}
        vms:
        """) + guests + textwrap.dedent(f"""\
        switches:
          sw1: {{ports: [ge1, ge2]}}
        routers:
          gw1:
            interfaces:
              - name: eth0
                mac-address: 00:1b:21:0a:0b:01
                ipv4: 192.168.10.254/24
                dhcp-server:
                  pool: {pool}""") + reservation + textwrap.dedent(f"""
        links:
          - endpoints: [kvm1:eno1, sw1:ge1]
          - endpoints: [gw1:eth0, sw1:ge2]
        duration: {duration}
        """) + run


def client_of(result: RunResult, vm: str = "vm1") -> DhcpClient:
    return result.lab.dhcp.clients[f"{vm}:eth0"]


def times(client: DhcpClient, mtype: DhcpType) -> list[float]:
    return [s.time / S for s in client.sends if s.mtype is mtype]


def steps(result: RunResult, where: str, fn: str) -> list[Step]:
    return [s for s in result.trace.steps if s.where == where and s.fn == fn]


def test_discover_schedule_is_the_retry_timer_and_ends_in_no_configuration(run: Run) -> None:
    """No server reachable: DISCOVERs at the retry timer's sends from 1 s doubling, the
    failure at the expiry past 10 s, one xid, then "No configuration methods
    succeeded" and the BIOS after the 3 s Ctrl-B prompt; nothing is sent afterwards."""
    result = run(lab(uplink=False))
    client = client_of(result)
    start = client.started_at
    assert start == IpxeClient.default_boot_delay          # no boot-delay: the firmware's
    offsets, fail = retry_timer(DHCP_DISC_START_TIMEOUT_SEC, DHCP_DISC_END_TIMEOUT_SEC)
    assert times(client, DhcpType.DISCOVER) == pytest.approx([start / S + o for o in offsets])
    assert len({s.xid for s in client.sends}) == 1
    [gave_up] = client.gave_up
    assert gave_up.time / S == pytest.approx(start / S + fail)
    step = result.trace.get(gave_up.step)
    assert step is not None and "No configuration methods succeeded" in step.note
    assert step.fn == "ifconf" and step.rule == "D2"
    [bios] = steps(result, "vm1", "ipxe")
    assert bios.time - gave_up.time == IpxeClient.BANNER_TIMEOUT
    assert max(s.time for s in client.sends) < gave_up.time
    assert client.to_json()["result"] == "failed"


def test_offers_are_held_for_proxydhcp_then_the_request_goes_at_the_next_expiry(run: Run
                                                                               ) -> None:
    """A reserved address is offered at once (no ping), but without a PXEClient vendor
    class iPXE keeps the OFFER and resends until an expiry finds more than 2 s passed;
    the DHCPREQUEST keeps the session's xid, and the replies are unicast (no broadcast
    flag on the requests)."""
    result = run(lab(boot="5s"))
    client = client_of(result)
    assert client.started_at == 5 * S
    offsets, _ = retry_timer(DHCP_DISC_START_TIMEOUT_SEC, DHCP_DISC_END_TIMEOUT_SEC)
    request_at = next(o for o in offsets if o > DHCP_DISC_PROXY_TIMEOUT_SEC)
    assert times(client, DhcpType.DISCOVER) == pytest.approx(
        [5 + o for o in offsets if o < request_at])
    assert times(client, DhcpType.REQUEST) == pytest.approx([5 + request_at])
    held = [s for s in steps(result, "vm1", "dhcp_discovery_rx") if "held" in s.note]
    assert len(held) == len(times(client, DhcpType.DISCOVER))
    assert client.lease is not None and len({s.xid for s in client.sends}) == 1
    sent = [s for s in result.trace.steps if s.where == "vm1/eth0" and s.action is
            Action.TRANSMIT]
    assert sent and not any("flags B" in s.note for s in sent)
    assert all("unicast to 52:54:00:00:00:01" in s.note for s in steps(result, "gw1", "dhcp_reply")
               if "DHCPOFFER" in s.note or "DHCPACK" in s.note)
    assert client.renew_timer is None                       # iPXE does not renew


def test_an_offer_after_the_proxy_wait_is_requested_at_once(run: Run) -> None:
    """Without a reservation dnsmasq pings the address for 3 s first, so the OFFER
    arrives after the 2 s ProxyDHCP wait and dhcp_discovery_rx moves on at once."""
    result = run(lab(boot="5s", reserve=False))
    client = client_of(result)
    [moved] = [s for s in steps(result, "vm1", "dhcp_discovery_rx") if "requesting" in s.note]
    assert (moved.time - 5 * S) / S > DHCP_DISC_PROXY_TIMEOUT_SEC
    assert times(client, DhcpType.REQUEST)[0] == moved.time / S
    assert client.lease is not None


def test_request_schedule_is_the_retry_timer_from_a_quarter_second(run: Run) -> None:
    """The uplink is pulled after the OFFERs: DHCPREQUESTs follow the retry timer from
    DEFAULT_MIN_TIMEOUT (DHCP_REQ_START_TIMEOUT_SEC is 0) to the failure past 10 s."""
    result = run(lab(boot="5s", run="run:\n  - {at: 6.5s, link-down: kvm1:eno1}\n"))
    client = client_of(result)
    requests = times(client, DhcpType.REQUEST)
    offsets, fail = retry_timer(DEFAULT_MIN_TIMEOUT_SEC, DHCP_REQ_END_TIMEOUT_SEC)
    assert requests == pytest.approx([requests[0] + o for o in offsets])
    [gave_up] = client.gave_up
    assert gave_up.time / S == pytest.approx(requests[0] + fail)
    assert "no DHCPACK" in gave_up.why and client.lease is None


def test_a_nak_returns_to_discovery_one_second_later(run: Run) -> None:
    """Two PXE clients, one address: dnsmasq offers it to both (an OFFER reserves
    nothing) and NAKs the second REQUEST; dhcp_defer() goes back to discovery with
    the first DISCOVER after DHCP_DISC_START_TIMEOUT_SEC."""
    result = run(lab(boot="5s", vms=2, reserve=False,
                     pool="192.168.10.100-192.168.10.100"))
    naks = [s for s in steps(result, "vm1", "dhcp_request_rx") + steps(result, "vm2",
                                                                       "dhcp_request_rx")
            if "DHCPNAK" in s.note]
    assert naks
    nak = naks[0]
    loser = client_of(result, nak.where)
    after = [t for t in times(loser, DhcpType.DISCOVER) if t > nak.time / S]
    assert after[0] == pytest.approx(nak.time / S + DHCP_DISC_START_TIMEOUT_SEC)
    assert steps(result, nak.where, "dhcp_defer")


def test_ipxe_takes_no_client_knobs_and_a_misspelt_name_is_refused(tmp_path: Path) -> None:
    """`client: ipxe` has no knobs (its timeouts are compile-time); a knob of another
    client or a misspelt client name is an error at file:line:column, exit 2."""
    for nic, needle, message in (
            ("{dhcp: true, client: ipxe, dhcp-timeout: 60s}", "dhcp-timeout",
             "'dhcp-timeout' is a networkmanager option; this interface runs ipxe"),
            ("{dhcp: true, client: pxe}", "client", "'pxe'")):
        text = lab(uplink=False).replace("{dhcp: true, client: ipxe}", nic, 1)
        path = tmp_path / "topo.yaml"
        path.write_text(text)
        proc = subprocess.run([sys.executable, "-m", "vnetlab", "run", str(path)],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        row = next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)
        assert f"topo.yaml:{row}:" in proc.stderr and message in proc.stderr, proc.stderr
