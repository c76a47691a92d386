"""The built-in cases hold, the shared example runs unchanged, and explain
tells the seed-000 story from the trace."""

import json
import subprocess
import sys

import pytest
from ruamel.yaml import YAML

import vnetlab
from conftest import SHARED_EXAMPLE
from vnetlab.catalog import case_paths
from vnetlab.explain.explain import Explainer
from vnetlab.explain.render import text

CASES = case_paths()


def test_catalog_has_the_seed_case_its_five_fixes_and_the_bond_variants() -> None:
    assert set(CASES) >= {"team-roundrobin", "team-roundrobin-static-lag",
                          "team-roundrobin-learning-off", "team-activebackup",
                          "team-roundrobin-port-down", "team-roundrobin-ageing-0",
                          "bond-balance-rr", "bond-active-backup"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_expectations_hold(name: str) -> None:
    result = vnetlab.simulate(vnetlab.load_topology(str(CASES[name])))
    assert result.expectations, "a built-in case must state expectations"
    assert result.all_expectations_hold, [e for e in result.expectations if not e.ok]


def test_shared_example_loads_and_runs_unchanged() -> None:
    if not SHARED_EXAMPLE.exists():
        pytest.fail(f"{SHARED_EXAMPLE} is missing")
    result = vnetlab.simulate(vnetlab.load_topology(str(SHARED_EXAMPLE)))
    assert result.all_expectations_hold
    assert result.ping_replies("vm1", "192.168.10.254") == 0
    assert result.fdb_port("kvm1:br1", "52:54:00:12:34:01") == "team1"


def test_fixes_change_the_outcome_not_the_expectation_table() -> None:
    """Remove the fix from a fixed case and the same expectations fail."""
    fixed = CASES["team-roundrobin-static-lag"].read_text()
    broken = fixed.replace("lags: [{name: po1, ports: [ge1, ge2], mode: static}]", "lags: []")
    assert broken != fixed
    spec = vnetlab.load_topology_data(YAML(typ="safe", pure=True).load(broken), "broken")
    assert not vnetlab.simulate(spec).all_expectations_hold


def test_explain_tells_the_seed_story() -> None:
    result = vnetlab.simulate(vnetlab.load_topology(str(CASES["team-roundrobin"])))
    [answer] = Explainer(result).ping("vm1")
    out = text(answer)
    assert answer.decisive is not None and answer.decisive.reason == "fdb-says-ingress-port"
    assert answer.cause_step is not None and answer.cause_step.action == "move"
    for needle in ("kvm1/br1", "52:54:00:12:34:01", "team1", "sw1", "ge2", "ens256",
                   "1.000002000s", "flooded it out of ge2", f"uid={answer.cause_step.uid}"):
        assert needle in out, needle


def test_explain_cli_json_and_exit_status() -> None:
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "explain", "--case",
                           "team-roundrobin", "--json"], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["explanations"][0]["root_cause"]["step"]["data"]["port"] == "team1"
