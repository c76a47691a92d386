"""Linux bridge rules (semantics B3-B15, B19), each checked by running a small topology."""

import pytest

from conftest import three_vms

H1, H2, H3 = "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"


def test_learns_source_and_floods_broadcast_to_all_but_ingress(run) -> None:
    """B4.2 learning; B12/B13 a flood skips the ingress port."""
    result = run(three_vms("""
        - at: 1s
          send: {from: h1, dst: ff:ff:ff:ff:ff:ff}
    """))
    assert result.fdb("kvm1:br0") == {H1: "tap1"}
    assert result.received("h2", src=H1) == 1
    assert result.received("h3", src=H1) == 1
    assert result.received("h1", src=H1) == 0


def test_known_unicast_goes_only_to_its_port(run) -> None:
    """B4.4: an FDB hit is forwarded to that port alone."""
    result = run(three_vms(f"""
        - at: 1s
          send: {{from: h1, dst: ff:ff:ff:ff:ff:ff}}
        - at: 2s
          send: {{from: h2, dst: "{H1}"}}
    """))
    assert result.received("h1", src=H2) == 1
    assert result.received("h3", src=H2) == 0


def test_unknown_unicast_is_flooded(run) -> None:
    result = run(three_vms("""
        - at: 1s
          send: {from: h1, dst: "02:00:00:00:00:99"}
    """))
    assert result.received("h2", src=H1) == 1 and result.received("h3", src=H1) == 1


def test_entry_moves_to_the_port_the_mac_was_last_seen_on(run) -> None:
    """B7.4: last seen wins, no damping."""
    result = run(three_vms(f"""
        - at: 1s
          send: {{from: h1, dst: ff:ff:ff:ff:ff:ff}}
        - at: 2s
          send: {{from: h2, src: "{H1}", dst: ff:ff:ff:ff:ff:ff}}
    """))
    assert result.fdb_port("kvm1:br0", H1) == "tap2"


def test_own_address_as_source_keeps_local_entry_and_still_forwards(run) -> None:
    """B7.3: a frame from a port's own MAC does not move the local entry,
    and is still flooded."""
    tap2 = "fe:00:00:00:00:02"
    result = run(three_vms(f"""
        - at: 1s
          send: {{from: h1, src: "{tap2}", dst: ff:ff:ff:ff:ff:ff}}
    """))
    assert result.fdb_port("kvm1:br0", tap2) == "tap2"
    assert tap2 not in result.fdb("kvm1:br0")          # still local, not learned
    assert result.received("h3", src=tap2) == 1
    assert any("own address as source" in s.note for s in result.trace.steps)


def test_frame_to_the_ingress_port_is_dropped(run) -> None:
    """B13: an FDB entry naming the ingress port drops the frame."""
    result = run(three_vms(f"""
        - at: 1s
          send: {{from: h1, dst: ff:ff:ff:ff:ff:ff}}
        - at: 2s
          send: {{from: h1, src: "{H2}", dst: "{H1}"}}
    """))
    assert result.received("h2", src=H2) == 0 and result.received("h3", src=H2) == 0
    assert result.trace.drops["fdb-says-ingress-port"] == 1


def test_ageing_zero_learns_nothing_and_floods_unicast(run) -> None:
    """B9: ageing_time 0 -> hold time 0 -> br_fdb_update returns early."""
    result = run(three_vms(f"""
        - at: 1s
          send: {{from: h1, dst: ff:ff:ff:ff:ff:ff}}
        - at: 2s
          send: {{from: h2, dst: "{H1}"}}
    """, ageing=0))
    assert result.fdb("kvm1:br0") == {}
    assert result.received("h3", src=H2) == 1


def test_entry_expires_exactly_at_ageing_time(run) -> None:
    """B8: expired when updated + ageing_time <= now."""
    result = run(three_vms("""
        - at: 1s
          send: {from: h1, dst: ff:ff:ff:ff:ff:ff}
    """, ageing=10) + f"""
expect:
  - fdb: {{bridge: kvm1:br0, mac: "{H1}", at: 10999ms}}
    port: tap1
  - fdb: {{bridge: kvm1:br0, mac: "{H1}", at: 11s}}
    absent: true
""")
    assert [e.ok for e in result.expectations] == [True, True]


def test_port_down_flushes_its_dynamic_entries(run) -> None:
    """B11a: br_fdb_delete_by_port on carrier loss."""
    result = run(three_vms("""
        - at: 1s
          send: {from: h1, dst: ff:ff:ff:ff:ff:ff}
        - at: 1s
          send: {from: h2, dst: ff:ff:ff:ff:ff:ff}
        - at: 2s
          port-down: kvm1:tap1
    """))
    assert result.fdb("kvm1:br0") == {H2: "tap2"}
    assert result.fdb_port("kvm1:br0", "fe:00:00:00:00:01") == "tap1"   # local entry kept


def test_learning_off_on_a_port(run) -> None:
    """B15: learning off -> frames to that MAC are flooded."""
    text = three_vms(f"""
        - at: 1s
          send: {{from: h1, dst: ff:ff:ff:ff:ff:ff}}
        - at: 2s
          send: {{from: h2, dst: "{H1}"}}
    """).replace("port: []", "port: [{name: tap1, learning: false}]")
    result = run(text)
    assert H1 not in result.fdb("kvm1:br0")
    assert result.received("h3", src=H2) == 1


def test_hairpin_floods_back_out_of_the_ingress_port(run) -> None:
    """B14: hairpin mode lets a flood include the ingress port."""
    text = three_vms("""
        - at: 1s
          send: {from: h1, dst: ff:ff:ff:ff:ff:ff}
    """).replace("port: []", "port: [{name: tap1, hairpin: true}]")
    assert run(text).received("h1", src=H1) == 1


def test_stp_port_forwards_after_two_forward_delays(run) -> None:
    """B18: listening -> learning -> forwarding, forward_delay each."""
    text = three_vms("""
        - at: 3s
          send: {from: h1, dst: ff:ff:ff:ff:ff:ff}
        - at: 5s
          send: {from: h1, dst: ff:ff:ff:ff:ff:ff}
    """).replace("stp: {enabled: false}", "stp: {enabled: true, forward-delay: 2}")
    result = run(text)
    assert result.received("h2", src=H1) == 1          # only the frame sent after 4 s
    assert result.trace.drops["port-not-forwarding"] >= 1


@pytest.mark.parametrize("delay", [0, 1, 45])
def test_stp_on_clamps_forward_delay_to_2_to_30_seconds(run, delay: int) -> None:
    """B19: with STP on, br_stp_start clamps forward_delay into 2-30 s, so a
    0 delay (libvirt's stp='on' delay='0') still listens and learns for 2 s each."""
    clamped = min(max(delay, 2), 30)
    text = three_vms(f"""
        - at: {2 * clamped - 0.5}s
          send: {{from: h1, dst: ff:ff:ff:ff:ff:ff}}
        - at: {2 * clamped + 0.5}s
          send: {{from: h1, dst: ff:ff:ff:ff:ff:ff}}
    """).replace("stp: {enabled: false}", f"stp: {{enabled: true, forward-delay: {delay}}}")
    result = run(text)
    assert result.received("h2", src=H1) == 1          # only the frame after 2 x clamped delay
    note = next(s for s in result.trace.steps if s.fn == "br_stp_start")
    assert note.rule == "B19" and f"clamps it to {clamped}" in note.note


def test_link_local_frames_are_not_forwarded_but_their_source_is_learned(run) -> None:
    """B3.2 with __br_handle_local_finish(): an LLDP frame (01:80:c2:00:00:0e)
    stays on its port, yet the bridge learns its source there."""
    result = run(three_vms("""
        - at: 1s
          send: {from: h1, dst: "01:80:c2:00:00:0e", ethertype: 0x88cc}
    """))
    assert result.fdb("kvm1:br0") == {H1: "tap1"}
    assert result.received("h2", src=H1) == 0 and result.received("h3", src=H1) == 0


def test_isolated_ports_do_not_talk_to_each_other(run) -> None:
    """B13: no delivery between two isolated ports; the skip says why."""
    text = three_vms("""
        - at: 1s
          send: {from: h1, dst: ff:ff:ff:ff:ff:ff}
    """).replace("port: []", "port: [{name: tap1, isolated: true}, {name: tap2, isolated: true}]")
    result = run(text)
    assert result.received("h2", src=H1) == 0 and result.received("h3", src=H1) == 1
    skip = next(s for s in result.trace.steps if s.action == "skip" and s.port == "tap2")
    assert skip.reason == "port-isolated"
