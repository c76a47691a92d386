"""MAC conflicts (semantics V1, B2c/B2d, B4.4, B7.3, B7.4): duplicate MACs are a load
warning and make FDBs flap; a VM using a local address of its bridge (a host NIC's,
or its own tap's) is cut off; libvirt refuses guest MACs starting with 0xFE."""

import subprocess
import sys
from pathlib import Path

import vnetlab
from vnetlab.catalog import case_paths
from vnetlab.explain.explain import Explainer
from vnetlab.explain.render import text
from vnetlab.sim.trace import Action

GW = "192.168.10.254"


def topo(vms: str, host_extra: str = "", run: str = "", kvm2: str = "") -> str:
    return f"""
hosts:
  kvm1:
    interfaces:
      - {{name: eth0, type: ethernet, mac-address: "00:50:56:a1:00:01"}}
      - name: br0
        type: linux-bridge
        bridge: {{options: {{stp: {{enabled: false}}}}, port: [{{name: eth0}}]}}{host_extra}
{kvm2}
vms:
{vms}
switches:
  sw1: {{ports: [ge1, ge2, ge3]}}
routers:
  gw1:
    interfaces: [{{name: eth0, mac-address: "00:1b:21:0a:0b:01", ipv4: {GW}/24}}]
links:
  - endpoints: [kvm1:eth0, sw1:ge1]
  - endpoints: [gw1:eth0, sw1:ge2]
  - endpoints: [kvm2:eth0, sw1:ge3]
run:
{run}
"""


KVM2 = """\
  kvm2:
    interfaces:
      - {name: eth0, type: ethernet, mac-address: "00:50:56:a2:00:01"}
      - name: br0
        type: linux-bridge
        bridge: {options: {stp: {enabled: false}}, port: [{name: eth0}]}
"""


def vm(name: str, host: str, mac: str, ip: str, extra: str = "") -> str:
    return (f"  {name}:\n    host: {host}\n    interfaces:\n      - {{source: br0, mac: \"{mac}\", "
            f"ipv4: {{address: {ip}/24}}{extra}}}\n")


def pings(*senders: tuple[str, str]) -> str:
    return "".join(f"  - at: {at}\n    ping: {{from: {who}, to: {GW}, count: 3, interval: 1s}}\n"
                   for who, at in senders)


def test_duplicate_macs_are_a_warning_with_every_position(run) -> None:
    result = run(topo(vm("vm1", "kvm1", "52:54:00:12:34:01", "192.168.10.21")
                      + vm("vm2", "kvm2", "52:54:00:12:34:01", "192.168.10.22"), kvm2=KVM2,
                      run="  - wait: 1s\n"))
    [warning] = [n for n in result.spec.notes if n.startswith("WARNING")]
    assert "52:54:00:12:34:01 is used 2 times" in warning
    assert "topo.yaml:" in warning and "vms.vm1.interfaces[0].mac" in warning
    assert "vms.vm2.interfaces[0].mac" in warning


def test_a_bridge_with_its_ports_mac_is_not_a_duplicate(run) -> None:
    """nmstate often sets br0's MAC to its uplink's: an upper and its own port."""
    result = run(topo(vm("vm1", "kvm1", "52:54:00:12:34:01", "192.168.10.21"),
                      host_extra='\n        mac-address: "00:50:56:a1:00:01"', kvm2=KVM2,
                      run="  - wait: 1s\n"))
    assert not [n for n in result.spec.notes if n.startswith("WARNING")]


def test_two_vms_with_one_mac_on_one_bridge_make_its_fdb_flap(run) -> None:
    """B7.4: last seen wins, no damping: every frame of either VM moves the entry."""
    result = run(topo(vm("vm1", "kvm1", "52:54:00:12:34:01", "192.168.10.21")
                      + vm("vm2", "kvm1", "52:54:00:12:34:01", "192.168.10.22"), kvm2=KVM2,
                      run=pings(("vm1", "1s"), ("vm2", "1.5s"))))
    moves = [s for s in result.trace.steps if s.action is Action.MOVE and s.where == "kvm1/br0"]
    assert len(moves) >= 4
    assert {s.data["port"] for s in moves} == {"vnet0", "vnet1"}


def test_two_vms_with_one_mac_on_two_hosts_make_the_switch_flap(run) -> None:
    result = run(topo(vm("vm1", "kvm1", "52:54:00:12:34:01", "192.168.10.21")
                      + vm("vm2", "kvm2", "52:54:00:12:34:01", "192.168.10.22"), kvm2=KVM2,
                      run=pings(("vm1", "1s"), ("vm2", "1.5s"))))
    moves = [s for s in result.trace.steps if s.action is Action.MOVE and s.where == "sw1"]
    assert {s.data["port"] for s in moves} == {"ge1", "ge3"}


def test_vm_with_a_host_nic_mac_sends_with_own_address_and_receives_nothing(run) -> None:
    """B7.3 on vnet0 for every frame the VM sends; B4.4: frames to it are passed up."""
    result = run(topo(vm("vm1", "kvm1", "00:50:56:a1:00:01", "192.168.10.21"), kvm2=KVM2,
                      run=pings(("vm1", "1s"))))
    warnings = [s for s in result.trace.steps if s.rule == "B7.3"]
    assert warnings and all(s.port == "vnet0" and "own address as source address" in s.note
                            for s in warnings)
    assert result.fdb_port("kvm1:br0", "00:50:56:a1:00:01") == "eth0"   # local entry kept
    lost = [s for s in result.trace.steps if s.reason == "dst-is-local-address"]
    assert lost and lost[0].ref == warnings[0].id and "eth0's own address" in lost[0].note
    assert result.ping_replies("vm1", GW) == 0


def test_a_tap_with_the_guests_mac_becomes_the_bridge_mac_and_cuts_the_guest_off(run) -> None:
    """V1: what libvirt's 0xFE rule prevents; B2d: the lowest port MAC is the bridge's."""
    result = run(topo(vm("vm1", "kvm1", "00:11:22:33:44:55", "192.168.10.21",
                         ', tap-mac: "00:11:22:33:44:55"'), kvm2=KVM2, run=pings(("vm1", "1s"))))
    assert result.lab.bridges["kvm1:br0"].mac == 0x001122334455
    assert any(s.rule == "B7.3" and s.port == "vnet0" for s in result.trace.steps)
    assert result.ping_replies("vm1", GW) == 0


def test_libvirts_tap_mac_keeps_the_guest_reachable(run) -> None:
    result = run(topo(vm("vm1", "kvm1", "00:11:22:33:44:55", "192.168.10.21"), kvm2=KVM2,
                      run=pings(("vm1", "1s"))))
    assert result.lab.devices["kvm1:vnet0"].mac == 0xFE1122334455
    assert result.ping_replies("vm1", GW) == 3


def test_a_guest_mac_starting_with_fe_is_refused_as_libvirt_does(tmp_path: Path) -> None:
    path = tmp_path / "topo.yaml"
    path.write_text(topo(vm("vm1", "kvm1", "fe:54:00:12:34:01", "192.168.10.21"), kvm2=KVM2,
                         run="  - wait: 1s\n"))
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "run", str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = next(i for i, row in enumerate(path.read_text().splitlines(), 1) if "fe:54" in row)
    assert (f"topo.yaml:{line}:") in proc.stderr
    assert ("vms.vm1.interfaces[0].mac: unsupported configuration: Unable to use MAC address "
            "starting with reserved value 0xFE - 'fe:54:00:12:34:01' -") in proc.stderr
    assert "it would equal the guest's MAC" in proc.stderr


def test_a_hand_made_tap_may_carry_any_guest_mac_but_not_a_multicast_one(tmp_path: Path,
                                                                         run) -> None:
    result = run(topo(vm("vm1", "kvm1", "fe:54:00:12:34:01", "192.168.10.21",
                         ', tap-mac: "02:00:00:00:00:09"'), kvm2=KVM2, run="  - wait: 1s\n"))
    assert result.lab.devices["kvm1:vnet0"].mac == 0x020000000009
    path = tmp_path / "bad.yaml"
    path.write_text(topo(vm("vm1", "kvm1", "52:54:00:12:34:01", "192.168.10.21",
                            ', tap-mac: "01:00:5e:00:00:01"'), kvm2=KVM2, run="  - wait: 1s\n"))
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "run", str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "vms.vm1.interfaces[0].tap-mac: 01:00:5e:00:00:01 is not " \
        "a unicast address" in proc.stderr
    path.write_text(path.read_text().replace('tap-mac: "01:00:5e:00:00:01"', "tap-mac: 17"))
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "run", str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "tap-mac: 17 is a number, not a MAC" in proc.stderr


# -- the catalog cases, explained ----------------------------------------------------------------

def explain(case: str) -> tuple[Explainer, str]:
    result = vnetlab.simulate(vnetlab.load_topology(str(case_paths()[case])))
    [answer] = Explainer(result).ping("vm1")
    assert answer.decisive is not None
    return Explainer(result), text(answer)


def test_mac_equals_host_nic_is_explained_by_b44_and_b73() -> None:
    explainer, out = explain("mac-equals-host-nic")
    [answer] = explainer.ping("vm1")
    assert answer.decisive is not None and answer.decisive.rule == "B4.4"
    assert answer.decisive.port == "vnet0"
    warning = explainer.trace.get(answer.decisive.ref)
    assert warning is not None and warning.rule == "B7.3"
    assert "eth0's own address" in out and "(B7.3)" in out


def test_mac_tap_equals_guest_is_explained_by_the_taps_local_entry() -> None:
    explainer, out = explain("mac-tap-equals-guest")
    [answer] = explainer.ping("vm1")
    assert answer.decisive is not None and answer.decisive.rule == "B4.4"
    assert "vnet0's own address" in out


def test_mac_duplicate_vms_is_explained_by_the_move_to_the_other_tap() -> None:
    explainer, out = explain("mac-duplicate-vms")
    [answer] = explainer.ping("vm1")
    assert answer.decisive is not None and answer.decisive.where == "vm2"
    forward = next(s for s in answer.path if s.action is Action.FORWARD and s.port == "vnet1")
    move = explainer.trace.get(forward.ref)
    assert move is not None and move.action is Action.MOVE and move.data["port"] == "vnet1"
    assert "forwarded to vnet1" in out
    # the explanation names that move as the root cause, with the frame that made it
    assert answer.cause_step is not None and answer.cause_step.id == move.id
    assert "moved 52:54:00:12:34:01 from vnet0 to vnet1" in out and "sent by vm2" in out
