"""The DHCP catalog cases: each failing case's explanation names the decisive
port, rule and timer, read from the run; each fix changes the run, not the table."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from ruamel.yaml import YAML

import vnetlab
from vnetlab.catalog import case_paths
from vnetlab.explain.explain import Explainer
from vnetlab.explain.render import text
from vnetlab.lab import RunResult
from vnetlab.sim.trace import DropReason

CASES = case_paths()
DHCP_CASES = ["bridge-basic-dhcp", "stp-forward-delay-dhcp", "stp-forward-delay-dhcp-fixed",
              "dhcp-pool-exhausted", "dhcp-pool-exhausted-fixed", "dhcp-no-relay",
              "dhcp-no-relay-fixed", "dhcp-windows-apipa", "dhcp-windows-apipa-fixed"]


def simulate(name: str) -> RunResult:
    return vnetlab.simulate(vnetlab.load_topology(str(CASES[name])))


def test_the_dhcp_cases_exist_with_their_seed() -> None:
    for name in DHCP_CASES:
        spec = vnetlab.load_topology(str(CASES[name]))
        assert spec.seed_case in ("001", "004"), name


def test_stp_explanation_names_the_port_the_rule_and_the_timer() -> None:
    result = simulate("stp-forward-delay-dhcp")
    answer = Explainer(result).dhcp("vm1")
    assert answer.decisive is not None
    assert answer.decisive.reason is DropReason.PORT_STATE
    assert (answer.decisive.where, answer.decisive.port) == ("kvm1/br0", "vnet0")
    story = " ".join(answer.summary)
    assert "forwards from 30.0 s" in story and "B18" in story
    assert answer.verdict.startswith("BOUND")        # n-dhcp4's fifth DISCOVER got through
    client = result.lab.dhcp.clients["vm1:eth0"]
    dropped = [s for s in result.trace.steps if s.reason is DropReason.PORT_STATE]
    assert len(dropped) == sum(1 for s in client.sends if s.time < 30 * 10**9)


def test_no_relay_explanation_names_the_router_and_the_give_up() -> None:
    answer = Explainer(simulate("dhcp-no-relay")).dhcp("vm1")
    assert answer.decisive is not None and answer.decisive.where == "gw1"
    assert answer.decisive.port == "eth0" and answer.decisive.reason is DropReason.NO_SOCKET
    story = " ".join(answer.summary)
    assert "no dhcp-relay on eth0 (D1)" in story
    assert "NetworkManager gave up at 55.0 s" in story and "ip-config-unavailable" in story


def test_pool_exhausted_explanation_names_the_server_refusal() -> None:
    answer = Explainer(simulate("dhcp-pool-exhausted")).dhcp("vm3")
    assert answer.decisive is not None and answer.decisive.where == "gw1"
    assert answer.decisive.reason is DropReason.DHCP_NO_ADDRESS
    assert answer.decisive.fn == "dhcp_reply" and answer.decisive.rule == "D1"
    assert "gave up" in " ".join(answer.summary)


def test_windows_apipa_explanation_names_the_dead_end_and_the_fallback() -> None:
    result = simulate("dhcp-windows-apipa")
    answer = Explainer(result).dhcp("vm1")
    assert answer.verdict.startswith("LINK-LOCAL 169.254.")
    assert answer.decisive is not None and answer.decisive.where == "kvm1"
    story = " ".join(answer.summary)
    assert "kvm1/br0 had no other port to flood it to" in story
    assert "[dhcpcsvc, D6]" in story and "APIPA" in story


@pytest.mark.parametrize("name", ["stp-forward-delay-dhcp-fixed", "dhcp-pool-exhausted-fixed",
                                  "dhcp-no-relay-fixed", "dhcp-windows-apipa-fixed",
                                  "bridge-basic-dhcp"])
def test_fixed_cases_bind_every_client(name: str) -> None:
    result = simulate(name)
    assert all(c.lease is not None for c in result.lab.dhcp.clients.values())


@pytest.mark.parametrize(("fixed", "undo"), [
    ("stp-forward-delay-dhcp-fixed", ("stp: {enabled: false}       # the fix",
                                      "stp: {enabled: true}")),
    ("dhcp-no-relay-fixed", ("dhcp-relay: {server: 10.0.0.2}  # the fix", "mtu: 1500")),
    ("dhcp-windows-apipa-fixed", ("- name: eno1                # the fix", "[]")),
])
def test_undoing_the_fix_breaks_the_same_expectations(fixed: str, undo: tuple[str, str]
                                                      ) -> None:
    source = CASES[fixed].read_text()
    assert undo[0] in source
    broken = source.replace(undo[0], undo[1])
    if undo[1] == "[]":
        broken = broken.replace("          port:\n            [] ", "          port: []")
    data = YAML(typ="safe", pure=True).load(broken)
    result = vnetlab.simulate(vnetlab.load_topology_data(data, "broken"))
    assert not result.all_expectations_hold


def test_explain_cli_dhcp_json_and_run_json() -> None:
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "explain", "--case",
                           "dhcp-no-relay", "--dhcp", "vm1", "--json"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["explanations"][0]["decisive"]["where"] == "gw1"
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "explain", "--case",
                           "dhcp-no-relay", "--dhcp", "vm9"], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 2 and "runs no DHCP client" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "run", "--case",
                           "dhcp-pool-exhausted", "--json", "--trace", "off"],
                          capture_output=True, text=True, check=False)
    runs = {c["client"]: c for c in json.loads(proc.stdout)["dhcp"]}
    assert runs["vm3:eth0"]["result"] == "failed" and runs["vm1:eth0"]["result"] == "bound"
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "run", "--case", "dhcp-no-relay"],
                          capture_output=True, text=True, check=False)
    assert "dhcp vm1:eth0 (NetworkManager): no address" in proc.stdout


def test_explain_default_question_covers_a_client_without_address() -> None:
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "explain", "--case",
                           "dhcp-windows-apipa"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert "why did vm1:eth0 (Windows) get no address?" in proc.stdout
    assert "Verdict:  LINK-LOCAL" in proc.stdout


def test_text_rendering_has_the_story() -> None:
    out = text(Explainer(simulate("stp-forward-delay-dhcp")).dhcp("vm1:eth0"))
    assert "kvm1/br0 port vnet0 was learning then (B4.3); it forwards from 30.0 s" in out
