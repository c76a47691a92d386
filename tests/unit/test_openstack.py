"""OpenStack port wiring and Nova live migration (semantics §6 O1-O7, V3-V7).

Times come from the rules and the file's own parameters: pre_live_migration at the
``migrate`` action, the agent wires ``bind-delay`` after the port appears, Nova waits
for that (``wait-for-vif-plug``) or not, the pause follows ``transfer``, the RARPs the
V5 schedule from the resume."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_qemu_announce import formula_times

import vnetlab
from vnetlab.catalog import case_paths
from vnetlab.cli import main
from vnetlab.devices.qemu import AnnounceParams
from vnetlab.lab import RunResult
from vnetlab.sim.time import MS, S, Time
from vnetlab.topology.load import parse_yaml

LATE = "migration-linuxbridge-agent-late"
MIGRATE_AT = 3 * S
BIND_DELAY = 2 * S
TRANSFER = 500 * MS
DOWNTIME = 100 * MS


def doc(name: str = LATE) -> Any:
    return copy.deepcopy(parse_yaml(str(case_paths()[name])))


def simulate(data: Any) -> RunResult:
    return vnetlab.simulate(vnetlab.load_topology_data(data, "test.yaml"))


def times(result: RunResult, fn: str) -> list[Time]:
    return [s.time for s in result.trace.steps if s.fn == fn]


def test_without_waiting_the_guest_resumes_before_the_agent_wires_the_port() -> None:
    result = simulate(doc())
    assert times(result, "pre_live_migration") == [MIGRATE_AT]
    assert times(result, "_add_tap_interface") == [MIGRATE_AT + BIND_DELAY]        # O7
    resume = MIGRATE_AT + TRANSFER + DOWNTIME
    assert times(result, "vm_start") == [resume]
    rarps = times(result, "qemu_announce_self_iter")
    assert rarps == formula_times(AnnounceParams(), resume)
    assert rarps[-1] < MIGRATE_AT + BIND_DELAY        # every RARP before the wiring
    # none of them left compute2: eth1 transmitted nothing tagged for vm1 then
    sent = [s for s in result.trace.steps if s.where == "compute2/eth1" and s.time < 5 * S
            and s.action.name == "TRANSMIT"]
    assert sent == []


def test_waiting_for_vif_plug_moves_the_transfer_after_the_wiring() -> None:
    data = doc()
    data["openstack"]["nova"]["live-migration-wait-for-vif-plug"] = True
    result = simulate(data)
    wired = MIGRATE_AT + BIND_DELAY
    assert times(result, "_add_tap_interface") == [wired]
    assert times(result, "live_migration_operation") == [wired]                   # O6
    assert times(result, "vm_start") == [wired + TRANSFER + DOWNTIME]
    assert result.fdb_port("sw1", "fa:16:3e:00:00:01") == "ge2"


def test_a_fatal_vif_plugging_timeout_aborts_and_the_vm_stays() -> None:
    data = doc()
    data["openstack"]["nova"].update({"live-migration-wait-for-vif-plug": True,
                                      "vif-plugging-timeout": "1s"})
    result = simulate(data)
    notes = [s.note for s in result.trace.steps if s.fn == "_live_migration"]
    assert any("migration aborted" in n for n in notes)
    assert times(result, "vm_start") == []
    assert result.ping_replies("gw1", "10.0.100.11") == result.ping_sent("gw1", "10.0.100.11")


def test_a_non_fatal_timeout_migrates_anyway() -> None:
    data = doc()
    data["openstack"]["nova"].update({"live-migration-wait-for-vif-plug": True,
                                      "vif-plugging-timeout": "1s",
                                      "vif-plugging-is-fatal": False})
    result = simulate(data)
    assert times(result, "live_migration_operation") == [MIGRATE_AT + 1 * S]


@pytest.mark.parametrize(("edit", "words"), [
    (lambda d: d["vms"]["vm1"]["interfaces"][0].update(network="net9"),
     "'net9' is not a network under openstack.networks (networks: net1)"),
    (lambda d: d.pop("openstack"), "no openstack: section"),
    (lambda d: d["openstack"]["agent"].update({"wiring": "sometimes"}), "wiring"),
])
def test_bad_openstack_input_names_file_line_and_key(tmp_path: Path, edit: Any,
                                                     words: str) -> None:
    from ruamel.yaml import YAML

    data = doc()
    edit(data)
    path = tmp_path / "bad.yaml"
    with path.open("w") as handle:
        YAML().dump(data, handle)
    out = CliRunner().invoke(main, ["run", str(path)])
    assert out.exit_code == 2, out.output
    assert f"{path}:" in out.output and words in out.output
    assert "Traceback" not in out.output


def test_the_outage_names_the_stale_switch_entry_and_the_lost_announcements() -> None:
    result = vnetlab.simulate(vnetlab.load_topology(str(case_paths()["migration-ovs-rarp-lost"])))
    (outage,) = [o for o in result.outages() if o.src == "vm2"]
    # the decision that sent the probe to compute1 is sw1's entry, not compute1's own
    assert "it relied on sw1: learned fa:16:3e:11:11:01 on ge1" in outage.cause
    assert "sw1 moved fa:16:3e:11:11:01 from ge1 to ge3" in outage.recovery
    assert outage.announcements.startswith("0 of vm1's 5 migration announcement(s) reached")
    assert "the dead VLAN" in outage.announcements
    won = vnetlab.simulate(vnetlab.load_topology(str(case_paths()["migration-ovs-rarp-won"])))
    (short,) = [o for o in won.outages() if o.src == "vm2"]
    assert short.announcements.startswith("5 of vm1's 5")


def test_direct_plug_puts_the_tap_itself_on_br_int_on_the_dead_vlan() -> None:
    data = doc("migration-ovs-rarp-lost")
    data["openstack"]["agent"]["firewall-driver"] = "openvswitch"      # no qbr, no veth
    result = simulate(data)
    br_int = result.lab.ovs["compute3:br-int"]
    assert "tap5f1c0b2a-9d" in br_int.ports and not any(
        name.startswith(("qvo", "qbr")) for name in result.lab.host_devices["compute3"])
    drops = [s for s in result.trace.steps if s.action.name == "DROP"
             and s.where == "compute3/br-int" and s.port == "tap5f1c0b2a-9d"]
    assert len(drops) == 5 and all("trunking VLAN 0" in s.note for s in drops)   # O1
    assert br_int.ports["tap5f1c0b2a-9d"].vlan == 1          # bound at 3 s + 3.2 s


def test_isolate_vif_false_leaves_the_port_untagged_and_br_eth1_drops_it() -> None:
    data = doc("migration-ovs-rarp-lost")
    data["openstack"]["agent"]["isolate-vif"] = False
    result = simulate(data)
    rarps = {s.uid for s in result.trace.steps if s.fn == "qemu_announce_self_iter"}
    ends = [s for s in result.trace.steps if s.uid in rarps and s.action.name == "DROP"]
    assert ends and all(s.where == "compute3/br-eth1" and s.reason is not None
                        and s.reason.value == "openflow-drop" for s in ends)
