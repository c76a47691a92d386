"""IEEE 802.1AX LACP (devices/lacp.py) and the switch's LACP port-channels
(S4, S5): every verdict comes from the machines running."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vnetlab.devices.lacp import (
    BONDING,
    TEAMD,
    LacpPort,
    LacpState,
    MuxState,
    RxState,
)
from vnetlab.devices.netdev import Link, Nic
from vnetlab.net.frame import Frame
from vnetlab.sim.sim import Sim
from vnetlab.sim.time import US, S

# -- two LacpPorts wired through a fake owner ---------------------------------------------


class Wire:
    """Two ports on one cable; ``cut`` drops every LACPDU in flight (a hub, a
    partner whose LACP died) while carrier stays up."""

    def __init__(self, sim: Sim, *, fast_a: bool = False, fast_b: bool = False,
                 active_a: bool = True, active_b: bool = True, flavor=BONDING) -> None:  # type: ignore[no-untyped-def]
        self.sim = sim
        self.cut = False
        self.changes: list[tuple[int, str, bool]] = []       # (time, port, c/d)
        nic_a = Nic(sim, "a", "eth0", 0x02_00_00_00_00_01)
        nic_b = Nic(sim, "b", "eth0", 0x02_00_00_00_00_02)
        Link(sim, nic_a, nic_b, 1 * US)
        self.a = self._port(nic_a, 0x02_00_00_00_0A_0A, fast_a, active_a, flavor)
        self.b = self._port(nic_b, 0x02_00_00_00_0B_0B, fast_b, active_b, flavor)
        nic_a.notify_carrier()
        nic_b.notify_carrier()
        self.a.start()
        self.b.start()

    def _port(self, nic: Nic, system: int, fast: bool, active: bool, flavor) -> LacpPort:  # type: ignore[no-untyped-def]
        def send(port: LacpPort, frame: Frame, cause: int) -> None:
            if not self.cut:
                port.dev.xmit(frame, cause, 0)

        def changed(port: LacpPort, cause: int) -> None:
            # the simplest selection logic: one aggregator, selected while there is a partner
            port.select(port.partner is not None and port.partner_aggregatable, cause)
            mine = [c for _, n, c in self.changes if n == nic.node]
            if not mine or mine[-1] != port.collecting_distributing:
                self.changes.append((self.sim.now, nic.node, port.collecting_distributing))

        port = LacpPort(self.sim, nic.node, nic, system=system, system_priority=65535, key=1,
                        port_number=1, active=active, fast=fast, send=send, changed=changed,
                        flavor=flavor)
        nic.rx_handler = lambda dev, frame, cause, hops: port.rx(frame, cause)
        nic.carrier_watchers.append(lambda dev: port.link_changed(dev.running))
        return port


def _when(changes: list[tuple[int, str, bool]], node: str, cd: bool) -> int:
    """When ``node``'s port last became (not) collecting/distributing."""
    return [t for t, n, c in changes if n == node and c is cd][-1]


@pytest.mark.parametrize("fast", [False, True])
def test_two_active_ports_reach_collecting_distributing_after_wait_while(fast: bool) -> None:
    """Both sides answer at once (NTT), then wait_while (2 s) -> ATTACHED with
    SYNC -> COLLECTING_DISTRIBUTING when the partner's SYNC arrives: the
    rate does not change the time to aggregate, only the periodic traffic."""
    sim = Sim()
    wire = Wire(sim, fast_a=fast)
    sim.run(1 * S)
    assert wire.a.rx_state is RxState.CURRENT and wire.a.mux_state is MuxState.WAITING
    sim.run(3 * S)
    for port in (wire.a, wire.b):
        assert port.collecting_distributing
        assert port.actor_state & LacpState.SYNCHRONIZATION
        assert port.partner is not None and port.partner_in_sync
    t_a = _when(wire.changes, "a", True)
    assert 2 * S <= t_a <= 2 * S + 10 * US
    # periodic: the side whose partner asked for the short timeout sends every second
    sent_a, sent_b = wire.a.pdus_sent, wire.b.pdus_sent
    sim.run(63 * S)
    b_rate = wire.b.pdus_sent - sent_b
    a_rate = wire.a.pdus_sent - sent_a
    assert a_rate == 2                              # b asked for long timeouts: every 30 s
    assert b_rate == (60 if fast else 2)            # a asked fast: every 1 s


@pytest.mark.parametrize(("fast", "timeout"), [(True, 3 * S), (False, 90 * S)])
def test_partner_silence_expires_then_defaults(fast: bool, timeout: int) -> None:
    """current_while = 3 s (short, actor TIMEOUT set) or 90 s: CURRENT -> EXPIRED
    (partner out of sync: c/d stops) -> 3 s later DEFAULTED (partner gone)."""
    sim = Sim()
    wire = Wire(sim, fast_a=fast, fast_b=fast)
    sim.run(10 * S)
    assert wire.a.collecting_distributing
    wire.cut = True
    sim.run(sim.now + timeout + 10 * S)
    last_rx = max(s.time for s in sim.trace.steps       # the last one was in flight at the cut
                  if s.where == "a" and "LACPDU from partner" in s.note)
    steps = [s for s in sim.trace.steps if s.where == "a" and "receive machine" in s.note]
    expired = next(s.time for s in steps if "current -> expired" in s.note)
    defaulted = next(s.time for s in steps if "expired -> defaulted" in s.note)
    assert expired == last_rx + timeout
    assert defaulted == expired + 3 * S
    assert _when(wire.changes, "a", False) == expired       # out of sync at EXPIRED
    assert wire.a.rx_state is RxState.DEFAULTED and wire.a.partner is None
    assert wire.a.actor_state & LacpState.DEFAULTED
    assert wire.a.mux_state is MuxState.DETACHED


def test_passive_ports_stay_silent_and_never_aggregate() -> None:
    """6.4.13: no periodic transmission when both ends are passive, so no
    LACPDU ever leaves; both end DEFAULTED after the 3 s EXPIRED period."""
    sim = Sim()
    wire = Wire(sim, active_a=False, active_b=False)
    sim.run(100 * S)
    assert wire.a.pdus_sent == wire.b.pdus_sent == 0
    assert wire.a.defaulted and wire.b.defaulted
    assert not wire.a.collecting_distributing


def test_a_passive_port_answers_an_active_partner() -> None:
    sim = Sim()
    wire = Wire(sim, active_a=True, active_b=False)
    sim.run(5 * S)
    assert wire.b.pdus_sent > 0
    assert wire.a.collecting_distributing and wire.b.collecting_distributing


def test_teamd_flavour_has_no_wait_while() -> None:
    """teamd_runner_lacp.c: no Mux machine; a port is enabled as soon as it is
    selected and the partner says SYNC; COLLECTING|DISTRIBUTING always advertised."""
    sim = Sim()
    wire = Wire(sim, flavor=TEAMD)
    sim.run(1 * S)
    assert wire.a.collecting_distributing and wire.b.collecting_distributing
    assert _when(wire.changes, "a", True) < 10 * US
    assert wire.a.actor_state & LacpState.COLLECTING


def test_link_down_forgets_the_partner_and_stops_sending() -> None:
    sim = Sim()
    wire = Wire(sim)
    sim.run(5 * S)
    link = wire.a.dev.link
    assert link is not None
    link.set_up(False)
    assert wire.a.rx_state is RxState.PORT_DISABLED and wire.a.partner is None
    assert not wire.a.collecting_distributing
    sent = wire.a.pdus_sent
    sim.run(100 * S)
    assert wire.a.pdus_sent == sent
    link.set_up(True)
    sim.run(sim.now + 3 * S)
    assert wire.a.collecting_distributing


# -- switches with LACP port-channels ----------------------------------------------------------------

TWO_SWITCHES = """
switches:
  sw1:
    ports: [a, b, h]
    lags: [{{name: po1, ports: [a, b], mode: lacp, {sw1}}}]
  sw2:
    ports: [a, b, h]
    lags: [{{name: po1, ports: [a, b], {sw2}}}]
routers:
  r1: {{interfaces: [{{name: eth0, mac-address: 02:00:00:00:01:01, ipv4: 10.0.0.1/24}}]}}
  r2: {{interfaces: [{{name: eth0, mac-address: 02:00:00:00:01:02, ipv4: 10.0.0.2/24}}]}}
links:
  - endpoints: [sw1:a, sw2:a]
  - endpoints: [sw1:b, sw2:b]
  - endpoints: [r1:eth0, sw1:h]
  - endpoints: [r2:eth0, sw2:h]
run: {run}
duration: {duration}
"""

PING = """
  - at: 5s
    ping: {from: r1, to: 10.0.0.2, count: 3}
"""


def two_switches(sw1: str = "", sw2: str = "mode: lacp", run: str = PING,
                 duration: str = "20s") -> str:
    return TWO_SWITCHES.format(sw1=sw1 or "lacp-mode: active", sw2=sw2, run=run,
                               duration=duration)


def _roles(result, switch: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {name: str(p.role) for name, p in result.lab.switches[switch].phys.items()
            if p.lag is not None}


def _role_time(result, switch: str, port: str, words: str) -> int:  # type: ignore[no-untyped-def]
    return next(s.time for s in result.trace.steps
                if s.where == switch and s.port == port and s.action == "link"
                and s.note.startswith(f"{port}: {words}"))


@pytest.mark.parametrize("rate", ["slow", "fast"])
def test_lacp_lag_bundles_both_members_and_is_one_logical_port(run: Callable, rate: str
                                                               ) -> None:
    result = run(two_switches(sw1=f"lacp-rate: {rate}", sw2=f"mode: lacp, lacp-rate: {rate}"))
    assert _roles(result, "sw1") == {"a": "bundled", "b": "bundled"}
    assert _roles(result, "sw2") == {"a": "bundled", "b": "bundled"}
    bundled = _role_time(result, "sw1", "a", "bundled in po1")
    assert 2 * S <= bundled <= 2 * S + 10 * US
    assert result.ping_replies("r1", "10.0.0.2") == 3
    assert result.fdb("sw1")["02:00:00:00:01:02"] == "po1"
    assert result.fdb("sw2")["02:00:00:00:01:01"] == "po1"
    # one logical port: the broadcast never comes back into the LAG
    assert not [s for s in result.trace.steps if s.action == "move"]
    # LACPDUs every 30 s (slow) or every second (fast) from sw2, as sw1 asks
    sw2_port = result.lab.switches["sw2"].phys["a"].lacp
    assert sw2_port.pdus_sent > (15 if rate == "fast" else 0)
    assert sw2_port.pdus_sent < (30 if rate == "fast" else 8)


@pytest.mark.parametrize("fallback", ["individual", "suspend"])
def test_lacp_against_a_static_lag_falls_back_after_the_expired_period(
        run: Callable, fallback: str) -> None:
    """S5: no LACPDU from the far end -> DEFAULTED at 3 s; individual ports
    forward on their own (ping works), suspended ports pass only LACPDUs."""
    garp = PING + "  - at: 8s\n    garp: {from: r2}\n"
    result = run(two_switches(sw1=f"lacp-fallback: {fallback}", sw2="mode: static", run=garp))
    expected = "individual port" if fallback == "individual" else "suspended"
    assert _role_time(result, "sw1", "a", expected) == 3 * S
    assert _role_time(result, "sw1", "a", "waiting to be aggregated") == 0
    role = "individual" if fallback == "individual" else "suspended"
    assert _roles(result, "sw1") == {"a": role, "b": role}
    if fallback == "individual":
        assert result.ping_replies("r1", "10.0.0.2") == 3
        assert result.fdb("sw1")["02:00:00:00:01:02"] in ("a", "b")
    else:
        assert result.ping_replies("r1", "10.0.0.2") == 0
        dropped = [s for s in result.trace.steps if s.where == "sw1" and s.action == "drop"
                   and s.reason == "lag-member-not-bundled"]
        assert dropped and all("suspended" in s.note and s.rule == "S5" for s in dropped)
        assert "02:00:00:00:01:02" not in result.fdb("sw1")


def test_passive_switches_never_aggregate(run: Callable) -> None:
    result = run(two_switches(sw1="lacp-mode: passive", sw2="mode: lacp, lacp-mode: passive"))
    sw1 = result.lab.switches["sw1"]
    assert all(p.lacp.pdus_sent == 0 for p in sw1.phys.values() if p.lacp)
    assert _roles(result, "sw1") == {"a": "individual", "b": "individual"}
    assert not any("bundled in" in s.note for s in result.trace.steps)


def test_passive_switch_aggregates_with_an_active_one(run: Callable) -> None:
    result = run(two_switches(sw1="lacp-mode: passive", sw2="mode: lacp"))
    assert _roles(result, "sw1") == {"a": "bundled", "b": "bundled"}
    assert result.ping_replies("r1", "10.0.0.2") == 3


def test_member_with_another_partner_falls_back(run: Callable) -> None:
    """Only members sharing the aggregator's partner (system, key) bundle;
    a member cabled to another LACP system follows lacp-fallback."""
    text = """
switches:
  sw1:
    ports: [a, b, c]
    lags: [{name: po1, ports: [a, b, c], mode: lacp, lacp-fallback: suspend}]
  sw2:
    ports: [a, b]
    lags: [{name: po1, ports: [a, b], mode: lacp}]
  sw3:
    ports: [a]
    lags: [{name: po9, ports: [a], mode: lacp}]
links:
  - endpoints: [sw1:a, sw2:a]
  - endpoints: [sw1:b, sw2:b]
  - endpoints: [sw1:c, sw3:a]
duration: 10s
"""
    result = run(text)
    assert _roles(result, "sw1") == {"a": "bundled", "b": "bundled", "c": "suspended"}
    note = next(s.note for s in result.trace.steps if s.where == "sw1" and s.port == "c"
                and s.note.startswith("c: suspended"))
    assert "is not po1's partner" in note
    # sw3's own member never sees SYNC from sw1: it stays out of collecting/distributing
    assert _roles(result, "sw3") == {"a": "waiting"}


def test_member_link_down_keeps_the_lag_until_the_last_one(run: Callable) -> None:
    """S2: entries stay while the LAG has a bundled member; the last one
    leaving flushes them."""
    ping = PING + "  - at: 10s\n    link-down: sw1:a\n  - at: 12s\n    ping: {from: r1, to: 10.0.0.2}\n" \
        "  - at: 14s\n    link-down: sw1:b\n"
    result = run(two_switches(run=ping))
    assert result.ping_replies("r1", "10.0.0.2") == 4
    flushes = [s for s in result.trace.steps if s.where == "sw1" and s.action == "flush"]
    assert [s.port for s in flushes] == ["po1"] and flushes[0].time == 14 * S
    assert "02:00:00:00:01:02" not in result.fdb("sw1")


def test_lacpdus_to_a_port_without_lacp_are_consumed(run: Callable) -> None:
    result = run(two_switches(sw2="mode: static", run="[]"))
    consumed = [s for s in result.trace.steps if s.where == "sw2" and s.action == "note"
                and "reserved group 01:80:c2:00:00:02 consumed" in s.note]
    assert consumed
    assert not [s for s in result.trace.steps if s.where == "sw2" and s.action == "flood"]


def test_lacp_fast_path_is_untouched_for_bundled_members(run: Callable) -> None:
    """A bundled member and a plain port receive through the plain forwarding
    handler; only unbundled members go through the checked one."""
    result = run(two_switches(run="[]", duration="5s"))
    sw1 = result.lab.switches["sw1"]
    for name in ("a", "b", "h"):
        assert sw1.ports[name].rx_handler == sw1.handle_frame
