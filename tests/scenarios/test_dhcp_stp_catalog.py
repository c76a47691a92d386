"""The STP catalog cases of a PXE-booting VM (host bridge, B18) and of a switch port
without PortFast (S8): each explanation names the port, its STP state and the rule,
read from the run; each fix changes the run."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

import vnetlab
from vnetlab.catalog import case_paths
from vnetlab.devices.dhcp import DhcpType
from vnetlab.explain.explain import Explainer
from vnetlab.lab import RunResult
from vnetlab.sim.trace import Action, DropReason

CASES = case_paths()
NEW_CASES = ["stp-forward-delay-pxe", "stp-forward-delay-pxe-fixed", "stp-switch-port-not-edge",
             "stp-switch-port-not-edge-fixed"]


def load(name: str, edit: tuple[str, str] | None = None, drop_run: bool = False) -> RunResult:
    source = CASES[name].read_text()
    if edit is not None:
        assert edit[0] in source
        source = source.replace(*edit)
    data = YAML(typ="safe", pure=True).load(source)
    if drop_run:
        data.pop("run", None)
    return vnetlab.simulate(vnetlab.load_topology_data(data, name))


def forwarding_from(result: RunResult, where: str, port: str) -> int:
    """When the port entered forwarding (its last state step), read from the trace."""
    return [s.time for s in result.trace.steps if s.action is Action.LINK and s.where == where
            and s.port == port and "forwarding" in s.note][-1]


def test_the_cases_exist_with_their_seed() -> None:
    for name in NEW_CASES:
        spec = vnetlab.load_topology(str(CASES[name]))
        assert spec.seed_case in ("001", "004"), name


def test_pxe_gives_up_before_the_tap_forwards_and_the_explanation_names_it() -> None:
    result = load("stp-forward-delay-pxe", drop_run=True)          # no reset: the failure
    client = result.lab.dhcp.clients["vm1:eth0"]
    assert client.label == "iPXE" and client.lease is None
    [gave_up] = client.gave_up
    forwards = forwarding_from(result, "kvm1/br0", "vnet0")
    assert gave_up.time < forwards
    dropped = [s for s in result.trace.steps if s.reason is DropReason.PORT_STATE]
    assert len(dropped) == len(client.sends) == sum(
        1 for s in client.sends if s.mtype is DhcpType.DISCOVER)
    answer = Explainer(result).dhcp("vm1")
    assert answer.verdict.startswith("NO ADDRESS")
    assert answer.decisive is not None and answer.decisive.reason is DropReason.PORT_STATE
    assert (answer.decisive.where, answer.decisive.port) == ("kvm1/br0", "vnet0")
    story = " ".join(answer.summary)
    assert "vnet0 was listening then" in story and "B18" in story
    assert f"forwards from {forwards / 10**9:.1f} s" in story
    assert "iPXE gave up" in story and "[ifconf, D2]" in story
    step = result.trace.get(gave_up.step)
    assert step is not None and "No configuration methods succeeded" in step.note


def test_pxe_reset_after_the_window_binds_and_the_story_keeps_the_cause() -> None:
    result = load("stp-forward-delay-pxe")
    assert result.all_expectations_hold
    answer = Explainer(result).dhcp("vm1")
    assert answer.verdict.startswith("BOUND")
    assert answer.decisive is not None and answer.decisive.port == "vnet0"
    assert "B18" in " ".join(answer.summary)


def test_switch_port_without_portfast_explanation_names_port_state_and_s8() -> None:
    result = load("stp-switch-port-not-edge")
    client = result.lab.dhcp.clients["vm1:eth0"]
    forwards = forwarding_from(result, "sw1", "ge1")
    answer = Explainer(result).dhcp("vm1")
    assert answer.verdict.startswith("BOUND")                       # late, by the fifth
    assert answer.decisive is not None and answer.decisive.reason is DropReason.PORT_STATE
    assert (answer.decisive.where, answer.decisive.port) == ("sw1", "ge1")
    assert answer.decisive.rule == "S8"
    story = " ".join(answer.summary)
    assert "sw1 port ge1 was learning then (S8)" in story
    assert f"forwards from {forwards / 10**9:.1f} s" in story
    dropped = [s for s in result.trace.steps if s.reason is DropReason.PORT_STATE]
    assert len(dropped) == sum(1 for s in client.sends if s.time < forwards)
    assert client.lease is not None and client.events[0].time > forwards


@pytest.mark.parametrize("name", ["stp-forward-delay-pxe-fixed", "stp-switch-port-not-edge-fixed"])
def test_the_fixes_bind(name: str) -> None:
    result = load(name)
    assert result.all_expectations_hold
    assert all(c.lease is not None for c in result.lab.dhcp.clients.values())
    assert not [s for s in result.trace.steps if s.reason is DropReason.PORT_STATE]


@pytest.mark.parametrize(("fixed", "undo"), [
    ("stp-forward-delay-pxe-fixed", ("stp: {enabled: false}       # the fix",
                                     "stp: {enabled: true}")),
    ("stp-switch-port-not-edge-fixed", ("ge1: {stp-edge: true}", "ge1: {stp-edge: false}")),
])
def test_undoing_the_fix_breaks_its_expectations(fixed: str, undo: tuple[str, str]) -> None:
    assert not load(fixed, undo).all_expectations_hold


def test_forward_delay_2_is_the_alternative_fix() -> None:
    """B19's minimum keeps STP with a 4 s window, which iPXE's second DISCOVER outlasts."""
    result = load("stp-forward-delay-pxe-fixed", ("stp: {enabled: false}       # the fix",
                                                  "stp: {enabled: true, forward-delay: 2}"))
    assert result.all_expectations_hold
