"""The doctor's OVS and live-migration checks (semantics O1-O7, V5, V6; seed 003): each
fires on the catalog's failing cases and is quiet on their fixes, and --prove shows the
hazard and the fix from the model running."""

from __future__ import annotations

import pytest

from vnetlab.catalog import case_paths
from vnetlab.doctor import diagnose
from vnetlab.doctor.prove import prove


def ids(case: str, check: str) -> list[str]:
    report, _ = diagnose(str(case_paths()[case]), only=(check,))
    assert not report.errors, report.errors
    return [f.check for f in report.findings]


@pytest.mark.parametrize(("case", "fires"), [
    ("ovs-dead-vlan", True), ("ovs-dead-vlan-fixed", False),
    ("migration-ovs-rarp-won", False),              # a bound port: tag = local VLAN
])
def test_dead_vlan_port(case: str, fires: bool) -> None:
    assert ids(case, "ovs.port-dead-vlan") == (["ovs.port-dead-vlan"] if fires else [])


@pytest.mark.parametrize(("case", "fires"), [
    ("migration-ovs-rarp-lost", True),              # wait-for-vif-plug false
    ("migration-ovs-wiring-after-activation", True),
    ("migration-linuxbridge-agent-late", True),
    ("migration-ovs-wait-for-vif-plug", False),
    ("migration-linuxbridge-agent-late-fixed", False),
    ("migration-linux-bridge", False),              # no Neutron ports
])
def test_announce_vs_binding(case: str, fires: bool) -> None:
    want = ["migration.announce-vs-binding"] if fires else []
    assert ids(case, "migration.announce-vs-binding") == want


@pytest.mark.parametrize(("case", "check"), [
    ("ovs-dead-vlan", "ovs.port-dead-vlan"),
    ("migration-ovs-rarp-lost", "migration.announce-vs-binding"),
])
def test_prove_fails_now_and_works_with_the_fix(case: str, check: str) -> None:
    report, ctx = diagnose(str(case_paths()[case]), only=(check,))
    (finding,) = report.findings
    proof = prove(ctx, finding)
    (probe,) = proof["probes"]
    assert probe["before"]["verdict"] != "works", probe
    assert probe["after"]["verdict"] == "works", probe
    assert "O1" in str(probe["before"])             # the dead VLAN decided it
