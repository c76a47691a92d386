"""Seed 003 case 1 on the L3 switch: the explanation of the failing case names the stale ARP
adjacency with its port and age, the two fixes lose nothing routed, and S9's flood is told
as an unknown-unicast flood. Everything is read from the runs."""

from __future__ import annotations

import pytest

import vnetlab
from vnetlab.catalog import case_paths
from vnetlab.explain.explain import Explainer
from vnetlab.lab import RunResult
from vnetlab.net.addr import parse_ip4
from vnetlab.sim.trace import Action


def run_case(name: str) -> RunResult:
    return vnetlab.simulate(vnetlab.load_topology(str(case_paths()[name])))


@pytest.fixture(scope="module")
def keep() -> RunResult:
    return run_case("migration-l3-switch-keeps-adjacency")


def test_the_kept_adjacency_is_the_root_cause_with_its_port_and_age(keep: RunResult) -> None:
    answer = Explainer(keep).ping("vm3", parse_ip4("1.1.1.1"))[0]
    assert answer.cause_step is not None
    assert answer.cause_step.where == "sw1" and answer.cause_step.data["adjacency"] is True
    assert answer.cause_step.data["port"] == "ge1"
    routed = next(s for s in answer.path if s.data.get("mode") == "keep")
    summary = answer.summary[0]
    assert "ARP adjacency for 1.1.1.1" in summary and "out of ge1" in summary
    assert f"ARP entry {routed.data['age_ns'] / 1e9:.1f}s old" in summary
    assert "on ge2 since" in summary and "on-fdb-move keep" in summary
    # the same story in the outage, and the recovery is the ARP entry re-learned on ge2
    outage = next(o for o in keep.outages() if o.src == "vm3")
    assert "ARP adjacency for 1.1.1.1" in outage.cause and "via ge1" in outage.cause
    assert "adjacency via ge2" in outage.recovery
    # the recovery comes when the entry timed out: its removal precedes the first answer
    removed = next(s for s in keep.trace.steps if s.where == "sw1" and s.action is Action.NEIGH
                   and "removed" in s.note)
    assert outage.end is not None and removed.time < outage.end
    assert not [o for o in keep.outages() if o.src == "vm2"]


def test_the_rarp_moved_the_mac_table_but_not_the_arp_entry(keep: RunResult) -> None:
    notes = [s.note for s in keep.trace.steps if s.where == "sw1"]
    assert any(n.startswith("RARP from fa:16:3e:00:00:01 on ge2: it carries no IP") for n in notes)
    assert any("adjacency 1.1.1.1 stays on ge1" in n for n in notes)


def test_the_explanation_reads_in_chinese(keep: RunResult) -> None:
    answer = Explainer(keep, "zh").ping("vm3", parse_ip4("1.1.1.1"))[0]
    assert "ARP 邻接" in answer.summary[0] and "ge1" in answer.summary[0]


@pytest.mark.parametrize("name", ["migration-l3-switch-refreshes-adjacency",
                                  "migration-l3-switch-guest-garp"])
def test_the_fixes_lose_no_routed_ping(name: str) -> None:
    result = run_case(name)
    assert result.all_expectations_hold
    assert result.ping_replies("vm3", "1.1.1.1") == result.ping_sent("vm3", "1.1.1.1") == 60
    adjacency = [s for s in result.trace.steps if s.where == "sw1" and s.action is Action.NEIGH
                 and s.data.get("ip") == "1.1.1.1" and s.data.get("port") == "ge2"]
    first = adjacency[0]
    if name.endswith("refreshes-adjacency"):       # followed the MAC table's move (the RARP)
        assert "follows" in first.note
    else:                                          # re-learned from the guest's GARP
        assert "updated by gratuitous ARP" in first.note


def test_stale_arp_flood_is_an_unknown_unicast_flood() -> None:
    result = run_case("stale-arp-unicast-flood")
    flood = [s for s in result.trace.steps if s.where == "sw1" and s.action is Action.FLOOD
             and s.rule == "S9"]
    assert len(flood) == 1 and flood[0].note.startswith("flooding unknown unicast")
    sent = [s.port for s in result.trace.steps if s.where == "sw1/" + s.port
            and s.action is Action.TRANSMIT and s.cause == flood[0].id]
    assert sent == ["ge1", "ge2", "ge3"]
