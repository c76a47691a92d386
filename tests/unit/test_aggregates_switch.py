"""Team runners, bond modes, the switch and its LAGs, the storm guard."""

from pathlib import Path

import vnetlab
from conftest import LOOP

CATALOG = Path(vnetlab.__file__).parent / "catalog"


def _case(run, name: str, edit=lambda text: text, seed: int = 0):  # type: ignore[no-untyped-def]
    return run(edit((CATALOG / f"{name}.yaml").read_text()), seed=seed)


def _tx_ports(result, where: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.port for s in result.trace.steps if s.where == where and s.action == "forward"]


def test_team_roundrobin_alternates_ports_from_index_zero(run) -> None:
    """T3: port_index = sent_packets++ % en_port_count."""
    result = _case(run, "team-roundrobin")
    assert _tx_ports(result, "kvm1/team1")[:3] == ["ens224", "ens256", "ens224"]


def test_bond_balance_rr_first_frame_uses_slave_id_one(run) -> None:
    """BD7: this_cpu_inc_return() makes the first slave id 1."""
    result = _case(run, "bond-balance-rr")
    assert _tx_ports(result, "kvm1/bond0")[:3] == ["ens256", "ens224", "ens256"]


def test_activebackup_drops_frames_on_the_inactive_port(run) -> None:
    """T2 ab_receive: RX_HANDLER_EXACT on any port but the active one."""
    result = _case(run, "team-activebackup")
    drops = [s for s in result.trace.steps if s.action == "drop" and s.where == "kvm1/team1"]
    assert drops and all(s.port == "ens256" and s.reason == "inactive-port" for s in drops)


def test_set_active_port_moves_transmission(run) -> None:
    text = (CATALOG / "team-activebackup.yaml").read_text().replace(
        "run:\n", "run:\n  - at: 500ms\n    set-active-port: {device: kvm1:team1, port: ens256}\n")
    result = run(text)
    assert set(_tx_ports(result, "kvm1/team1")) == {"ens256"}
    assert result.all_expectations_hold


def test_bond_active_backup_fails_over_at_the_next_miimon_tick(run) -> None:
    """BD13: the MII monitor commits a carrier change at its next tick."""
    text = (CATALOG / "bond-active-backup.yaml").read_text().replace(
        "run:\n", "run:\n  - at: 250ms\n    link-down: kvm1:ens224\n")
    result = run(text)
    change = next(s for s in result.trace.steps if "active slave is now ens256" in s.note)
    assert change.time == 300_000_000
    assert result.all_expectations_hold


def test_static_lag_is_one_port_never_flooded_back_into(run) -> None:
    """S1/S3: the LAG is skipped as the ingress port of a flood."""
    result = _case(run, "team-roundrobin-static-lag")
    skips = [s for s in result.trace.steps if s.where == "sw1" and s.action == "skip"]
    assert skips and all(s.port == "po1" for s in skips)
    assert result.fdb("sw1")["52:54:00:12:34:01"] == "po1"


def test_switch_flushes_a_port_that_goes_down(run) -> None:
    """S2: entries of a port that loses link are removed."""
    text = (CATALOG / "team-roundrobin.yaml").read_text().replace(
        "run:\n", "run:\n  - at: 5s\n    link-down: gw1:eth0\n")
    result = run(text)
    assert "00:1b:21:0a:0b:01" not in result.fdb("sw1")




def test_storm_guard_drops_looping_copies_and_reports_the_loop(run) -> None:
    """Two switches joined by two cables and no STP: a broadcast circulates
    until the storm guard drops it; the run ends and the loop is named."""
    result = run(LOOP)
    assert result.trace.drops["loop-detected"] >= 1
    assert [f.check for f in result.lab.findings] == ["l2.forwarding-loop"]
    assert "sw1" in result.lab.findings[0].where and "sw2" in result.lab.findings[0].where
