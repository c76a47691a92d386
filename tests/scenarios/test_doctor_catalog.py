"""The doctor against the built-in cases: for every cause the catalog has a failing case
and its fix for, the doctor finds the hazard on each failing case (and --prove shows it
failing now and working with the doctor's own fix, in the model) and reports nothing of
that cause on the fixed versions.

Which case is the failing one and which the fix is the catalog's own design (its
``expect:`` says so); the verdicts below come from the checks and from simulation."""

from __future__ import annotations

import pytest

from vnetlab.catalog import case_paths
from vnetlab.doctor import diagnose
from vnetlab.doctor.prove import prove

CASES = case_paths()

# cause -> (failing cases, fixed cases)
PAIRS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "team.roundrobin-without-lag": (
        ("team-roundrobin",),
        ("team-roundrobin-static-lag", "team-roundrobin-learning-off",
         "team-roundrobin-ageing-0", "team-activebackup")),
    "team.runner-needs-lag": (("team-broadcast-no-lag",),
                              ("team-loadbalance-static-lag", "team-random-static-lag")),
    "team.lacp-no-partner": (("team-lacp-no-partner",), ("team-activebackup",)),
    "bond.mode-under-bridge": (
        ("bond-balance-rr", "bond-balance-xor-no-lag", "bond-802.3ad-static-lag",
         "bond-active-backup-static-lag", "lacp-suspend-individual"),
        ("bond-balance-xor-static-lag", "bond-802.3ad-lacp", "bond-active-backup",
         "bond-broadcast-static-lag", "failover-cable-pull")),
    "bridge.stp-delays-dhcp": (("stp-forward-delay-dhcp", "stp-forward-delay-pxe"),
                               ("stp-forward-delay-dhcp-fixed", "stp-forward-delay-pxe-fixed")),
    "bridge.switch-port-not-edge": (("stp-switch-port-not-edge",),
                                    ("stp-switch-port-not-edge-fixed",)),
    "bridge.nf-call-iptables-drops": (("firewall-docker-forward-drop",),
                                      ("firewall-docker-forward-drop-fixed",)),
    "bridge.no-uplink": (("dhcp-windows-apipa",), ("dhcp-windows-apipa-fixed",)),
    "vm.duplicate-mac": (("mac-duplicate-vms",), ("mac-duplicate-vms-fixed",)),
    "vm.mac-conflicts-host": (("mac-equals-host-nic", "mac-tap-equals-guest"),
                              ("mac-equals-host-nic-fixed", "mac-tap-equals-guest-fixed")),
    "mtu.mismatch": (("mtu-jumbo-vm-1500-uplink",), ("mtu-jumbo-vm-1500-uplink-fixed",)),
    "vlan.not-carried": (("vlan-switch-access-mismatch", "vlan-subinterface-bridge-not-allowed",
                          "vlan-bridge-pvid-mismatch"),
                         ("vlan-switch-access-match", "vlan-subinterface-bridge",
                          "vlan-bridge-tap-access")),
    "dhcp.pool-too-small": (("dhcp-pool-exhausted",), ("dhcp-pool-exhausted-fixed",)),
    "dhcp.no-relay": (("dhcp-no-relay",), ("dhcp-no-relay-fixed",)),
}

FAILING = [(cause, case) for cause, (bad, _) in PAIRS.items() for case in bad]
FIXED = [(cause, case) for cause, (_, good) in PAIRS.items() for case in good]


@pytest.mark.parametrize(("cause", "case"), FAILING, ids=[f"{c}:{n}" for c, n in FAILING])
def test_the_doctor_finds_the_cause_and_proves_it_in_the_model(cause: str, case: str) -> None:
    report, ctx = diagnose(str(CASES[case]))
    found = [f for f in report.findings if f.check == cause]
    assert found, f"{case}: {[f.check for f in report.findings]}"
    finding = found[0]
    assert finding.severity in ("error", "warning") and finding.evidence and finding.fixes
    assert all(e.line > 0 for e in finding.evidence if e.kind == "config")
    proof = prove(ctx, finding)
    assert proof["status"] == "proved", (case, proof)
    assert any(p["before"]["verdict"] != "works" and p["before"].get("explain")
               for p in proof["probes"])
    assert all(p["after"]["verdict"] == "works" for p in proof["probes"])


@pytest.mark.parametrize(("cause", "case"), FIXED, ids=[f"{c}:{n}" for c, n in FIXED])
def test_the_fixed_cases_are_quiet_for_that_cause(cause: str, case: str) -> None:
    report, _ = diagnose(str(CASES[case]))
    assert not report.errors
    assert cause not in [f.check for f in report.findings], case
    assert not [f for f in report.findings if f.severity == "error"], case


def test_no_built_in_case_makes_the_doctor_fail() -> None:
    for name, path in CASES.items():
        report, _ = diagnose(str(path))
        assert not report.errors, (name, report.errors)
