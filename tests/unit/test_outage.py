"""Outage measurement per ping session (explain/outage.py), and what runs at --trace off still measure."""

TWO_VMS = """
hosts:
  kvm1:
    interfaces:
      - {name: br0, type: linux-bridge, bridge: {options: {stp: {enabled: false}}}}
vms:
  h1: {host: kvm1, interfaces: [{source: br0, target: tap1, mac: 02:00:00:00:00:01,
                                 ipv4: {address: 10.0.0.1/24}}]}
  h2: {host: kvm1, interfaces: [{source: br0, target: tap2, mac: 02:00:00:00:00:02,
                                 ipv4: {address: 10.0.0.2/24}}]}
run:
  - at: 1s
    ping: {from: h1, to: 10.0.0.2, count: 2}
  - at: 5s
    port-down: kvm1:tap2
  - at: 6s
    ping: {from: h1, to: 10.0.0.2, count: 2}
"""


def test_an_outage_is_explained_by_its_own_session_not_an_earlier_one_to_the_same_host(run) -> None:
    result = run(TWO_VMS)
    [outage] = result.outages()
    assert outage.first_lost_seq == 1 and outage.lost == 2 and outage.end is None
    assert not outage.cause.startswith("DELIVERED"), outage.cause
    assert "tap2" in outage.cause, outage.cause


def test_outages_are_measured_without_a_trace_too() -> None:
    """Sweeps run with the trace off: durations must not need it (they crashed before)."""
    import vnetlab
    from vnetlab.catalog import case_paths

    spec = vnetlab.load_topology(str(case_paths()["failover-cable-pull"]))
    full = vnetlab.simulate(spec, trace="full")
    off = vnetlab.simulate(spec, trace="off")
    assert off.all_expectations_hold
    assert [o.duration for o in off.outages()] == [o.duration for o in full.outages()]
    assert all("trace off" in o.cause for o in off.outages())


def test_frame_expectations_hold_with_the_trace_off() -> None:
    """``frame:`` expectations count received frames; --trace off must not zero them."""
    import vnetlab
    from vnetlab.catalog import case_paths

    spec = vnetlab.load_topology(str(case_paths()["bond-balance-alb"]))
    assert any(e.frame is not None for e in spec.expect)
    assert vnetlab.simulate(spec, trace="off").all_expectations_hold
