"""The L3 switch (devices/l3switch.py, docs/models/l3-switch.md): SVIs answer ARP and
ping, route between VLANs, the vendor ARP cache (glean, timeout, unicast refresh polls),
on-fdb-move refresh | keep, S9 stale-ARP flooding, and the bad input of the new keys.
Every verdict comes from a run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from vnetlab.net.addr import parse_ip4, parse_mac
from vnetlab.net.frame import Ipv4
from vnetlab.sim.time import S
from vnetlab.sim.trace import Action, DropReason

A_MAC = "02:00:00:00:00:0a"

# a and b in VLAN 100 (access p1, p2), c in VLAN 200 (access p3); end hosts, no forwarding
L3_SWITCH = """
switches:
  sw1:
    ports: [p1, p2, p3]
{switch}
    port-config:
      p1: {{vlan: {{mode: access, access: 100}}}}
      p2: {{vlan: {{mode: access, access: 100}}}}
      p3: {{vlan: {{mode: access, access: 200}}}}
    svis:
      - {{vlan: 100, ipv4: 1.1.1.254/24}}
      - {{vlan: 200, ipv4: 2.1.1.254/24}}
{l3}
routers:
  a: {{forwarding: false, gateway: 1.1.1.254,
      interfaces: [{{name: eth0, mac-address: "{a_mac}", ipv4: 1.1.1.1/24}}]}}
  b: {{forwarding: false, gateway: 1.1.1.254,
      interfaces: [{{name: eth0, mac-address: "02:00:00:00:00:0b", ipv4: 1.1.1.2/24}}]}}
  c: {{forwarding: false, gateway: 2.1.1.254,
      interfaces: [{{name: eth0, mac-address: "02:00:00:00:00:0c", ipv4: 2.1.1.2/24}}]}}
links:
  - endpoints: [a:eth0, sw1:p1]
  - endpoints: [b:eth0, sw1:p2]
  - endpoints: [c:eth0, sw1:p3]
run:
{run}
duration: {duration}
"""


def topo(run: str, l3: str = "", switch: str = "", duration: str = "30s") -> str:
    return L3_SWITCH.format(run=textwrap.indent(textwrap.dedent(run), "  "),
                            l3=f"    l3: {l3}" if l3 else "", switch=switch,
                            duration=duration, a_mac=A_MAC)


def sw1_steps(result, action: Action | None = None):  # type: ignore[no-untyped-def]
    return [s for s in result.trace.steps if s.where == "sw1"
            and (action is None or s.action is action)]


# -- SVIs: ARP and ICMP for the SVI address ----------------------------------------------------

def test_the_svi_answers_arp_and_ping_and_learns_the_requester(run: Callable) -> None:
    result = run(topo("""\
        - at: 1s
          ping: {from: a, to: 1.1.1.254, count: 3, interval: 1s}
        """))
    assert result.ping_replies("a", "1.1.1.254") == 3
    entry = result.lab.switches["sw1"].l3.arp[parse_ip4("1.1.1.1")]
    assert (entry.mac, entry.port.name, entry.vid) == (parse_mac(A_MAC), "p1", 100)
    learned = [s for s in sw1_steps(result, Action.NEIGH) if "learned from ARP request" in s.note]
    assert len(learned) == 1 and learned[0].port == "Vlan100" and learned[0].rule == "S10"
    # the SVI's MAC is the switch's base MAC (its LACP system MAC too)
    sw = result.lab.switches["sw1"]
    assert sw.l3.svis[100].mac == sw.system_mac == sw.l3.svis[200].mac


def test_a_frame_to_the_svi_mac_in_another_vlan_is_not_routed(run: Callable) -> None:
    # c (VLAN 200) sends to the SVI MAC: it reaches Vlan200, never Vlan100's stack
    result = run(topo("""\
        - at: 1s
          ping: {from: c, to: 1.1.1.254}
        """))
    assert result.ping_replies("c", "1.1.1.254") == 1      # any SVI address answers
    assert not [s for s in sw1_steps(result) if s.port == "Vlan100"]


# -- routing and the glean adjacency -------------------------------------------------------------

def test_routed_packets_lose_one_ttl_and_the_first_is_gleaned(run: Callable, tmp_path: Path
                                                              ) -> None:
    import vnetlab

    path = tmp_path / "t.yaml"
    path.write_text(topo("""\
        - at: 1s
          ping: {from: c, to: 1.1.1.1, count: 3, interval: 1s}
        """))
    result = vnetlab.simulate(vnetlab.load_topology(str(path)), capture=["a:eth0"])
    # no ARP entry for 1.1.1.1 yet: one broadcast request, the packet dropped (IOS glean)
    glean = [s for s in sw1_steps(result, Action.DROP) if s.reason is DropReason.ARP_GLEAN]
    assert len(glean) == 1 and 1 * S < glean[0].time < 1 * S + 10_000
    assert result.ping_replies("c", "1.1.1.1") == 2
    received = [f for _, sent, f in result.lab.devices["a:eth0"].capture
                if not sent and isinstance(f.payload, Ipv4)]
    assert received and {f.payload.ttl for f in received} == {63}


def test_no_route_beyond_the_svi_subnets(run: Callable) -> None:
    result = run(topo("""\
        - at: 1s
          ping: {from: c, to: 9.9.9.9}
        """))
    drop = next(s for s in sw1_steps(result, Action.DROP))
    assert drop.reason is DropReason.NO_ROUTE and drop.port == "Vlan200"


# -- on-fdb-move: refresh follows the MAC table, keep does not ------------------------------------

MOVE = """\
- at: 1s
  ping: {from: a, to: 1.1.1.254}
- at: 2s
  send: {from: b, dst: "ff:ff:ff:ff:ff:ff", src: "A_MAC", ethertype: 0x8035}
- at: 3s
  ping: {from: c, to: 1.1.1.1}
""".replace("A_MAC", A_MAC)


@pytest.mark.parametrize(("mode", "port", "replies"), [("refresh", "p2", 0), ("keep", "p1", 1)])
def test_a_mac_move_moves_routed_traffic_only_with_refresh(run: Callable, mode: str, port: str,
                                                           replies: int) -> None:
    # a frame from a's MAC enters on p2 (a RARP-like announce from b's port): the MAC table
    # moves a's MAC to p2; a itself never left p1
    result = run(topo(MOVE, l3=f"{{on-fdb-move: {mode}}}"))
    moved = [s for s in sw1_steps(result, Action.MOVE) if s.data.get("mac") == A_MAC]
    assert moved and moved[0].data["port"] == "p2"
    routed = next(s for s in sw1_steps(result, Action.FORWARD) if "routed 2.1.1.2 > 1.1.1.1"
                  in s.note)
    assert routed.port == port
    assert result.ping_replies("c", "1.1.1.1") == replies
    if mode == "keep":
        kept = [s for s in sw1_steps(result, Action.NOTE) if "on-fdb-move keep" in s.note]
        learned = next(s for s in sw1_steps(result, Action.NEIGH) if "learned from" in s.note)
        assert kept and kept[0].ref == learned.id == routed.ref
        assert routed.data["fdb_port"] == "p2" and routed.data["mode"] == "keep"
    else:
        follows = [s for s in sw1_steps(result, Action.NEIGH) if "follows" in s.note]
        assert follows and follows[0].data["port"] == "p2"


def test_an_arp_from_the_ip_relearns_a_kept_adjacency(run: Callable) -> None:
    # keep: after the move, a's own broadcast ARP (here its gratuitous ARP, from p1) is an
    # ARP from 1.1.1.1: it re-learns the adjacency on the port it came in on
    result = run(topo(MOVE.replace("- at: 3s", "- at: 2.5s\n  garp: {from: a}\n- at: 3s"),
                      l3="{on-fdb-move: keep}"))
    updated = [s for s in sw1_steps(result, Action.NEIGH) if "gratuitous ARP" in s.note]
    assert updated and "via p1" in updated[0].note
    assert result.ping_replies("c", "1.1.1.1") == 1


# -- ARP timeout and refresh (S9, RFC 1122 2.3.2.1) ----------------------------------------------

def test_a_refresh_poll_that_is_answered_keeps_the_entry(run: Callable) -> None:
    result = run(topo("""\
        - at: 1s
          ping: {from: a, to: 1.1.1.254}
        """, l3="{arp-timeout: 5s}", duration="8s"))
    polls = [s for s in sw1_steps(result, Action.TRANSMIT) if "unicast refresh request" in s.note]
    assert [p.time // S for p in polls] == [6]
    assert parse_ip4("1.1.1.1") in result.lab.switches["sw1"].l3.arp
    assert not [s for s in sw1_steps(result, Action.NEIGH) if "removed" in s.note]


def test_unanswered_refresh_polls_remove_the_entry(run: Callable) -> None:
    # a unplugged after its ping: two unicast polls 1 s apart, then the entry goes
    result = run(topo("""\
        - at: 1s
          ping: {from: a, to: 1.1.1.254}
        - at: 2s
          link-down: a:eth0
        """, l3="{arp-timeout: 5s}", duration="10s"))
    polls = [s for s in sw1_steps(result, Action.TRANSMIT) if "unicast refresh request" in s.note]
    assert [round(p.time / S, 3) for p in polls] == [6.0, 7.0]
    removed = [s for s in sw1_steps(result, Action.NEIGH) if "removed" in s.note]
    assert len(removed) == 1 and removed[0].time // S == 8
    assert parse_ip4("1.1.1.1") not in result.lab.switches["sw1"].l3.arp


def test_arp_refresh_off_removes_the_entry_at_the_timeout(run: Callable) -> None:
    result = run(topo("""\
        - at: 1s
          ping: {from: a, to: 1.1.1.254}
        """, l3="{arp-timeout: 5s, arp-refresh: false}", duration="8s"))
    assert not [s for s in sw1_steps(result, Action.TRANSMIT) if "refresh request" in s.note]
    removed = [s for s in sw1_steps(result, Action.NEIGH) if "timed out" in s.note]
    assert len(removed) == 1 and removed[0].time // S == 6


# -- S9: the ARP entry outlives the MAC table entry -----------------------------------------------

def test_stale_arp_entry_floods_the_routed_packet_to_the_vlan(run: Callable) -> None:
    result = run(topo("""\
        - at: 1s
          ping: {from: a, to: 1.1.1.254}
        - at: 30s
          ping: {from: c, to: 1.1.1.1}
        """, switch="    mac-ageing-time: 10s", duration="35s"))
    flood = [s for s in sw1_steps(result, Action.FLOOD) if s.rule == "S9"]
    assert len(flood) == 1 and "unknown unicast" in flood[0].note
    assert result.ping_replies("c", "1.1.1.1") == 1              # flooded, not lost
    assert result.received("b", dst=A_MAC) == 1                  # b's port got the flood
    assert result.received("c", dst=A_MAC) == 0                  # not VLAN 200


def test_keep_uses_its_cached_port_even_after_the_mac_aged_out(run: Callable) -> None:
    result = run(topo("""\
        - at: 1s
          ping: {from: a, to: 1.1.1.254}
        - at: 30s
          ping: {from: c, to: 1.1.1.1}
        """, l3="{on-fdb-move: keep}", switch="    mac-ageing-time: 10s", duration="35s"))
    assert not [s for s in sw1_steps(result, Action.FLOOD) if s.rule == "S9"]
    assert result.received("b", dst=A_MAC) == 0
    assert result.ping_replies("c", "1.1.1.1") == 1


# -- bad input ---------------------------------------------------------------------------------------

def _vnetlab_run(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "topo.yaml"
    path.write_text(textwrap.dedent(text))
    return subprocess.run([sys.executable, "-m", "vnetlab", "run", str(path)],
                          capture_output=True, text=True, check=False)


def test_bad_svi_and_l3_values_are_errors_at_their_line(tmp_path: Path) -> None:
    proc = _vnetlab_run(tmp_path, """\
        switches:
          sw1:
            ports: [p1]
            svis:
              - {vlan: 4095, ipv4: 1.1.1.254/24}
              - {vlan: 200, ipv4: 2.1.1.254}
              - {vlan: 300, ipv4: 3.1.1.254/31, mac-address: 02:00:zz:00:00:01}
            l3: {arp-timeout: 0s, on-fdb-move: flood, arp-refresh: sometimes}
        """)
    assert proc.returncode == 2
    err = proc.stderr
    for expected in ("topo.yaml:5:16: switches.sw1.svis[0].vlan: VLAN id 4095 is out of range",
                     "topo.yaml:6:27: switches.sw1.svis[1].ipv4: '2.1.1.254' is not an IPv4 "
                     "address with prefix length",
                     "topo.yaml:7:27: switches.sw1.svis[2].ipv4: '3.1.1.254/31': an SVI takes a "
                     "prefix length of 8 to 30",
                     "topo.yaml:7:54: switches.sw1.svis[2].mac-address:",
                     "topo.yaml:8:23: switches.sw1.l3.arp-timeout: arp-timeout '0s' is out of "
                     "range 1s-2147483s",
                     "topo.yaml:8:40: switches.sw1.l3.on-fdb-move: 'flood' is not a valid on-fdb-move",
                     "topo.yaml:8:60: switches.sw1.l3.arp-refresh:"):
        assert expected in err, (expected, err)
    assert "Traceback" not in err


def test_svi_references_are_checked(tmp_path: Path) -> None:
    proc = _vnetlab_run(tmp_path, """\
        switches:
          sw1:
            ports: [p1]
            svis:
              - {vlan: 100, ipv4: 1.1.1.254/24}
              - {vlan: 100, ipv4: 9.1.1.254/24}
              - {vlan: 200, ipv4: 1.1.1.1/16}
              - {vlan: 300, ipv4: 3.1.1.0/24}
          sw2:
            ports: [p1]
            l3: {on-fdb-move: keep}
        routers:
          r1: {interfaces: [{name: eth0, mac-address: "02:00:00:00:00:01", ipv4: 1.1.1.254/24}]}
        """)
    assert proc.returncode == 2
    err = proc.stderr
    for expected in ("topo.yaml:6:16: switches.sw1.svis[1].vlan: VLAN 100 already has an SVI "
                     "(svis[0])",
                     "switches.sw1.svis[2].ipv4: 1.1.1.1/16 overlaps with Vlan100 "
                     "(1.1.1.254/24)",
                     "switches.sw1.svis[3].ipv4: 3.1.1.0/24 is the subnet's network or broadcast "
                     "address",
                     "topo.yaml:11:9: switches.sw2.l3: 'l3' needs at least one SVI",
                     "IPv4 address 1.1.1.254 is also used by sw1:Vlan100"):
        assert expected in err, (expected, err)
    assert "Traceback" not in err
