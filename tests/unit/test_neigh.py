"""The Linux neighbour state machine (semantics N1-N4)."""

SUBNET = """
switches:
  sw1: {ports: [p1, p2]}
routers:
  a: {interfaces: [{name: eth0, mac-address: 02:00:00:00:00:0a, ipv4: 10.0.0.1/24}]}
  b: {interfaces: [{name: eth0, mac-address: 02:00:00:00:00:0b, ipv4: 10.0.0.2/24}]}
links:
  - endpoints: [a:eth0, sw1:p1]
  - endpoints: [b:eth0, sw1:p2]
run:
"""


def test_unresolved_neighbour_sends_three_broadcasts_then_fails(run) -> None:
    """N2: INCOMPLETE sends mcast_solicit requests retrans_time apart, then FAILED."""
    result = run(SUBNET + "  - at: 1s\n    ping: {from: a, to: 10.0.0.9, count: 1}\n")
    requests = [s.time for s in result.trace.steps if s.fn == "arp_solicit"]
    assert requests == [1_000_000_000, 2_000_000_000, 3_000_000_000]
    failed = next(s for s in result.trace.steps if "FAILED" in s.note)
    assert failed.time == 4_000_000_000
    assert result.trace.drops["neigh-failed"] == 1


def test_request_creates_stale_entry_so_the_reply_needs_no_arp(run) -> None:
    """N4: b learns a from a's request; only one ARP exchange for a ping."""
    result = run(SUBNET + "  - at: 1s\n    ping: {from: a, to: 10.0.0.2, count: 2}\n")
    assert result.ping_replies("a", "10.0.0.2") == 2
    assert sum(1 for s in result.trace.steps
               if s.fn == "arp_solicit" and s.note.startswith("broadcast")) == 1
    learned = next(s for s in result.trace.steps if s.where == "b" and s.action == "neigh")
    assert learned.data == {"ip": "10.0.0.1", "mac": "02:00:00:00:00:0a", "state": "STALE"}
    request = next(s for s in result.trace.steps if s.where == "b/eth0" and s.uid == learned.uid)
    assert learned.time == request.time


def test_without_learning_from_requests_the_replier_resolves_too(run) -> None:
    """ns-3's ARP (the benchmark's peer) does not learn from requests."""
    text = SUBNET.replace("ipv4: 10.0.0.2/24}", "ipv4: 10.0.0.2/24, arp: {learn-from-request: "
                          "false}}") + "  - at: 1s\n    ping: {from: a, to: 10.0.0.2, count: 1}\n"
    result = run(text)
    assert result.ping_replies("a", "10.0.0.2") == 1
    assert sum(1 for s in result.trace.steps if s.fn == "arp_solicit") == 2


def test_stale_entry_is_probed_by_unicast_after_delay(run) -> None:
    """N2: STALE -> DELAY on use -> PROBE after delay_first_probe_time, unicast."""
    result = run(SUBNET + "  - at: 1s\n    ping: {from: a, to: 10.0.0.2, count: 1}\n")
    probes = [s for s in result.trace.steps if s.fn == "arp_solicit" and "unicast" in s.note]
    first_use = next(s for s in result.trace.steps if s.where == "b" and "echo request" in s.note)
    assert probes and probes[0].where == "b"
    assert probes[0].time == first_use.time + 5_000_000_000       # delay_first_probe_time
