"""IP forwarding on routers (Endpoint.forwarding, ip_forward): route by longest prefix over
connected subnets and static routes, TTL - 1, TTL expiry, DF against the egress MTU, the
egress neighbour machinery (queued while INCOMPLETE), ``forwarding: false``; and the bad
input of ``routes:``. Verdicts come from the runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import vnetlab
from vnetlab.net.frame import Ipv4
from vnetlab.sim.trace import Action, DropReason

# h1 (10.0.1.0/24) -- r1 -- h2 (10.0.2.0/24); r2 (10.0.2.3) -- h3 (10.0.3.0/24); cables only
ROUTED = """
routers:
  h1: {{forwarding: false, gateway: 10.0.1.1,
       interfaces: [{{name: eth0, mac-address: "02:00:00:00:01:02", ipv4: 10.0.1.2/24}}]}}
  h2: {{forwarding: false, gateway: 10.0.2.1,
       interfaces: [{{name: eth0, mac-address: "02:00:00:00:02:02", ipv4: 10.0.2.2/24}}]}}
  h3: {{forwarding: false, gateway: 10.0.3.1,
       interfaces: [{{name: eth0, mac-address: "02:00:00:00:03:02", ipv4: 10.0.3.2/24}}]}}
  r1:
{r1}
    interfaces:
      - {{name: eth0, mac-address: "02:00:00:00:01:01", ipv4: 10.0.1.1/24}}
      - {{name: eth1, mac-address: "02:00:00:00:02:01", ipv4: 10.0.2.1/24{mtu}}}
  r2:
    gateway: 10.0.2.1
    interfaces:
      - {{name: eth0, mac-address: "02:00:00:00:02:03", ipv4: 10.0.2.3/24}}
      - {{name: eth1, mac-address: "02:00:00:00:03:01", ipv4: 10.0.3.1/24}}
switches:
  lan2: {{ports: [p1, p2, p3]}}
links:
  - endpoints: [h1:eth0, r1:eth0]
  - endpoints: [r1:eth1, lan2:p1]
  - endpoints: [h2:eth0, lan2:p2]
  - endpoints: [r2:eth0, lan2:p3]
  - endpoints: [h3:eth0, r2:eth1]
run:
{run}
duration: 20s
"""


def topo(run: str, r1: str = "", mtu: str = "") -> str:
    return ROUTED.format(run=textwrap.indent(textwrap.dedent(run), "  "),
                         r1=textwrap.indent(textwrap.dedent(r1), "    "), mtu=mtu)


def test_a_router_forwards_between_its_subnets_and_lowers_the_ttl(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(topo("""\
        - at: 1s
          ping: {from: h1, to: 10.0.2.2, count: 3, interval: 1s}
        """))
    result = vnetlab.simulate(vnetlab.load_topology(str(path)), capture=["h2:eth0", "h1:eth0"])
    # the first request waits in r1's queue while 10.0.2.2 resolves (N2): nothing lost
    assert result.ping_replies("h1", "10.0.2.2") == 3
    assert [s for s in result.trace.steps if s.where == "r1" and s.action is Action.NEIGH
            and "INCOMPLETE" in s.note]
    at_h2 = [f.payload.ttl for _, sent, f in result.lab.devices["h2:eth0"].capture
             if not sent and isinstance(f.payload, Ipv4)]
    at_h1 = [f.payload.ttl for _, sent, f in result.lab.devices["h1:eth0"].capture
             if not sent and isinstance(f.payload, Ipv4)]
    assert set(at_h2) == {63} and set(at_h1) == {63}
    routed = [s for s in result.trace.steps if s.where == "r1" and s.action is Action.FORWARD]
    assert routed[0].fn == "ip_forward" and "from eth0 to eth1 on-link (TTL 63)" in routed[0].note


def test_forwarding_false_is_an_end_host(run: Callable) -> None:
    result = run(topo("""\
        - at: 1s
          ping: {from: h1, to: 10.0.2.2}
        """, r1="forwarding: false"))
    assert result.ping_replies("h1", "10.0.2.2") == 0
    drop = next(s for s in result.trace.steps if s.where == "r1" and s.action is Action.DROP)
    assert drop.reason is DropReason.NO_ROUTE and "(no forwarding)" in drop.note


def test_static_routes_reach_a_subnet_behind_another_router(run: Callable) -> None:
    no_route = run(topo("""\
        - at: 1s
          ping: {from: h1, to: 10.0.3.2}
        """))
    drop = next(s for s in no_route.trace.steps if s.where == "r1" and s.action is Action.DROP)
    assert drop.reason is DropReason.NO_ROUTE and drop.fn == "ip_route_input_slow"
    routed = run(topo("""\
        - at: 1s
          ping: {from: h1, to: 10.0.3.2, count: 2, interval: 1s}
        """, r1="""\
        routes:
          config:
            - {destination: 10.0.3.0/24, next-hop-address: 10.0.2.3}
        """))
    assert routed.ping_replies("h1", "10.0.3.2") == 2
    first = next(s for s in routed.trace.steps if s.where == "r1" and s.action is Action.FORWARD)
    assert "via 10.0.2.3" in first.note


def test_a_routing_loop_ends_when_the_ttl_runs_out(run: Callable) -> None:
    # r1's default points at r2 and r2's at r1: the packet bounces until TTL 1
    result = run(topo("""\
        - at: 1s
          ping: {from: h1, to: 192.0.2.9}
        """, r1="gateway: 10.0.2.3"))
    forwards = [s for s in result.trace.steps if s.action is Action.FORWARD and s.fn == "ip_forward"]
    assert len(forwards) == 63                     # TTL 64 at h1, one less per router
    drop = next(s for s in result.trace.steps if s.reason is DropReason.TTL_EXPIRED)
    assert "TTL 1 expires here" in drop.note and drop.fn == "ip_forward"


def test_df_packets_larger_than_the_egress_mtu_are_not_forwarded(run: Callable) -> None:
    big = """\
        - at: 1s
          ping: {from: h1, to: 10.0.2.2, size: 1400, pmtudisc: %s}
        """
    refused = run(topo(big % "do", mtu=", mtu: 1280"))
    drop = next(s for s in refused.trace.steps if s.where == "r1" and s.action is Action.DROP)
    assert drop.reason is DropReason.PKT_TOO_BIG and "MTU 1280" in drop.note
    fragmented = run(topo(big % "dont", mtu=", mtu: 1280"))     # ip_fragment at r1
    assert fragmented.ping_replies("h1", "10.0.2.2") == 1


def test_bad_routes_are_errors_at_their_line(tmp_path: Path) -> None:
    path = tmp_path / "topo.yaml"
    path.write_text(textwrap.dedent("""\
        routers:
          r1:
            forwarding: maybe
            routes:
              config:
                - {destination: 10.0.3.1/24, next-hop-address: 10.0.2.3}
                - {destination: 10.0.4.0/24, next-hop-address: 192.0.2.1}
            interfaces:
              - {name: eth0, mac-address: "02:00:00:00:01:01", ipv4: 10.0.2.1/24}
        """))
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "run", str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    err = proc.stderr
    assert "topo.yaml:3:17: routers.r1.forwarding: 'maybe' is not a boolean" in err
    assert ("topo.yaml:6:25: routers.r1.routes.config[0].destination: '10.0.3.1/24': host bits "
            "set") in err
    assert "Traceback" not in err
    # with the type errors fixed, the next hop is checked against r1's subnets
    path.write_text(path.read_text().replace("maybe", "true").replace("10.0.3.1/24", "10.0.3.0/24"))
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "run", str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert ("topo.yaml:7:56: routers.r1.routes.config[1].next-hop-address: next hop 192.0.2.1 is "
            "on no subnet of r1's interfaces") in proc.stderr
