"""vnetlab capture without a kernel: the recorded outputs of a namespace (bridge, veths,
taps, FDB, nft) plus bond/team/VLAN/libvirt parts in the tools' own formats
(tests/fixtures/capture/kvm1.json) fed through the runner, the allowlist, the document
(it loads and simulates), the captured: block in the spec, and its bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from vnetlab.capture import CaptureError, allowlist, capture, dump, runner
from vnetlab.capture.convert import Snapshot, convert
from vnetlab.capture.ovsdb import fdb_rows, rows
from vnetlab.lab import simulate
from vnetlab.topology.load import load_topology_data, parse_yaml_text

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "capture" / "kvm1.json"


def _label_argv(label: str) -> list[str]:
    for command in allowlist.COMMANDS.values():
        if label == command.id:
            return allowlist.argv(command.id)
        if label.startswith(command.id + " ") and command.params:
            return allowlist.argv(command.id, **{command.params[0]: label[len(command.id) + 1:]})
    raise AssertionError(f"fixture key {label!r} is no allowlisted command")


class FakeHost:
    """``runner.execute`` replaced: answers from the fixture, records every argv."""

    def __init__(self, outputs: dict[str, Any]) -> None:
        self.by_argv = {tuple(_label_argv(k)): v for k, v in outputs.items()}
        # the tools "installed": those the fixture has an output of
        heads = {_label_argv(k)[0] for k in outputs}
        self.tools = {c.tool for c in allowlist.COMMANDS.values() if c.argv[0] in heads}
        self.ran: list[list[str]] = []

    def execute(self, argv: list[str], timeout: float = 0, cap: int = 0
                ) -> tuple[int | None, bytes, bytes, bool, bool]:
        self.ran.append(list(argv))
        out = self.by_argv.get(tuple(argv))
        if out is None:
            return 1, b"", b"no such device\n", False, False
        return out["returncode"], out["stdout"].encode(), out["stderr"].encode(), False, False


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> FakeHost:
    fake = FakeHost(json.loads(FIX.read_text()))
    monkeypatch.setattr(runner, "execute", fake.execute)
    monkeypatch.setattr(runner.Runner, "installed", lambda self, tool: tool in fake.tools)
    return fake


def iface(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(i for i in doc["hosts"]["kvm1"]["interfaces"] if i["name"] == name)


# -- the allowlist --------------------------------------------------------------------------------

def test_nothing_outside_the_allowlist_runs(host: FakeHost) -> None:
    result = capture(host="kvm1")
    assert host.ran, "the capture ran nothing"
    for argv in host.ran:
        assert allowlist.allowed(argv), f"ran a command outside the allowlist: {argv}"
    # the second wave asked for what the first one found, by name
    assert ["teamdctl", "team1", "config", "dump"] in host.ran
    assert ["virsh", "-r", "dumpxml", "guest1"] in host.ran
    assert result.missing == ["ovs-vsctl"]          # iptables-save: nft gave a ruleset


def test_the_runner_refuses_what_is_not_listed() -> None:
    with pytest.raises(allowlist.NotAllowed):
        runner.Runner().run("ip link set br0 down")
    with pytest.raises(allowlist.NotAllowed):
        allowlist.argv("teamdctl config dump", dev="-v")            # an option, not a device
    with pytest.raises(allowlist.NotAllowed):
        allowlist.argv("virsh dumpxml", name="vm1; reboot")
    with pytest.raises(allowlist.NotAllowed):
        allowlist.argv("ip -V", netns="../etc")
    assert allowlist.argv("ip -V", netns="ns1") == ["ip", "netns", "exec", "ns1", "ip", "-V"]
    assert not allowlist.allowed(["ip", "link", "set", "br0", "down"])
    assert not allowlist.allowed(["ip", "netns", "exec", "ns1", "bridge", "fdb", "flush"])
    for command in allowlist.COMMANDS.values():     # every entry says why it is read-only
        assert command.why and not any(w in command.argv for w in ("set", "add", "del", "flush"))


def test_execute_caps_output_and_time() -> None:
    code, out, _, timed_out, truncated = runner.execute(
        [sys.executable, "-c", "import sys; sys.stdout.write('x' * 100000)"], cap=1000)
    assert truncated and len(out) == 1000
    code, out, _, timed_out, truncated = runner.execute(
        [sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.3)
    assert timed_out and code is None


# -- the document ----------------------------------------------------------------------------------

def test_capture_document_loads_and_simulates(host: FakeHost) -> None:
    result = capture(host="kvm1")
    doc = result.doc
    spec = load_topology_data(parse_yaml_text(dump(result), "cap.yaml"), "cap.yaml")
    assert simulate(spec).to_json()["ok"]
    # the bridge as the kernel holds it (clock_t -> seconds; STP off, MAC set by hand)
    br1 = iface(doc, "br1")
    assert br1["mac-address"] == "02:00:00:00:01:01"
    assert br1["bridge"]["options"] == {"stp": {"enabled": False, "forward-delay": 2},
                                        "mac-ageing-time": 300, "vlan-filtering": False}
    ports = {p["name"]: p for p in br1["bridge"]["port"]}
    assert set(ports) == {"ens224", "vnet0", "tap5f1c0b2a-9d"}   # vnet1: guest1's tap, implied
    assert ports["tap5f1c0b2a-9d"] == {"name": "tap5f1c0b2a-9d", "hairpin": True}
    assert iface(doc, "br100")["bridge"]["options"]["stp"] == {"enabled": True,
                                                                "forward-delay": 15}
    assert iface(doc, "br2")["bridge"]["options"]["mac-ageing-time"] == 0
    assert {"name": "team1", "learning": False} in iface(doc, "br2")["bridge"]["port"]
    # bond: mode and the options that differ from the driver's defaults; permanent MACs
    bond = iface(doc, "bond0")
    assert bond["link-aggregation"] == {"mode": "active-backup", "options": {
        "updelay": 200, "primary": "ens256", "fail_over_mac": "active"}, "port": ["ens256", "ens257"]}
    assert bond["mtu"] == 9000
    assert iface(doc, "ens257")["mac-address"] == "00:50:56:a1:00:03"
    assert iface(doc, "bond0.100")["vlan"] == {"base-iface": "bond0", "id": 100}
    # team: teamd's runner and port options, ports from the kernel
    team = iface(doc, "team1")["team"]
    assert team["runner"] == {"name": "roundrobin"}
    assert team["ports"] == [{"name": "eno1", "prio": 10}, {"name": "eno2"}]
    assert iface(doc, "eno2")["mac-address"] == "3c:ec:ef:00:00:02"
    # VMs from libvirt, their taps implied; the running tap's bridge wins over the XML
    assert doc["vms"]["guest1"] == {"host": "kvm1", "interfaces": [
        {"type": "bridge", "source": "br2", "target": "vnet9", "mac": "52:54:00:00:00:09",
         "model": "virtio"},
        {"type": "bridge", "source": "br1", "target": "vnet1", "mac": "52:54:00:12:34:02",
         "model": "e1000"}]}
    assert "guest2" not in doc["vms"]
    # the veth pair with both ends here is a cable
    assert doc["links"] == [{"endpoints": ["kvm1:guest0", "kvm1:vnet0"]}]
    host_doc = doc["hosts"]["kvm1"]
    assert host_doc["routes"] == {"config": [{"destination": "0.0.0.0/0",
                                              "next-hop-address": "192.168.10.254",
                                              "next-hop-interface": "br1"}]}
    assert host_doc["firewall"]["br-netfilter"] is True
    assert "iifname \"br1\" udp dport { 67, 68 } accept" in host_doc["firewall"]["nftables"]
    notes = "\n".join(result.notes)
    for expected in ("dummy0: kind dummy is not modelled", "VM guest2: no tap of it",
                     "tap5f1c0b2a-9d: a tap no libvirt domain claims"):
        assert expected in notes


def test_captured_block(host: FakeHost) -> None:
    captured = capture(host="kvm1", raw=True).doc["captured"]
    assert captured["host"] == "kvm1" and captured["source"] == "capture"
    assert captured["tool"]["iproute2"] == "6.1.0"
    fdb = {(e["mac"], e["port"]): e for e in captured["fdb"]}
    # the seed-000 signature recorded from the kernel: guest1's MAC on the uplink
    assert fdb[("52:54:00:12:34:02", "ens224")]["flags"] == []
    assert fdb[("52:54:00:12:34:02", "ens224")]["age"] is not None
    assert fdb[("fe:54:00:12:34:01", "vnet0")]["flags"] == ["permanent"]
    assert all(not e["mac"].startswith(("33:33", "01:00:5e")) for e in captured["fdb"])
    assert {"bridge": "br1", "port": "vnet1", "state": "disabled"} in captured["ports"]
    assert captured["neigh"] == [{"dev": "br1", "ip": "192.168.10.254",
                                  "mac": "00:1b:21:0a:0b:01", "state": ["permanent"]}]
    assert captured["sysctl"]["net.ipv4.ip_forward"] == 0
    assert captured["bonding"]["bond0"]["ports"]["ens257"]["link-failure-count"] == 2
    assert captured["teamd"]["team1"]["setup"]["runner_name"] == "roundrobin"
    assert "ip -j -d link show" in captured["raw"]


def test_doctor_reads_the_capture(host: FakeHost, tmp_path: Path) -> None:
    path = tmp_path / "kvm1.yaml"
    path.write_text(dump(capture(host="kvm1")))
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "doctor", "--json", str(path)],
                          capture_output=True, text=True, check=False)
    report = json.loads(proc.stdout)["reports"][0]
    found = {(f["check"], f["subject"]) for f in report["findings"]}
    assert ("bridge.vm-mac-on-uplink", "ens224") in found, found


def test_ovs_tables() -> None:
    def table(heads: list[str], data: list[list[Any]]) -> list[dict[str, Any]]:
        return rows(json.dumps({"headings": heads, "data": data}))

    ovs = {
        "Bridge": table(["_uuid", "name", "ports", "fail_mode", "other_config"], [
            [["uuid", "b1"], "br-int", ["set", [["uuid", "p1"], ["uuid", "p2"], ["uuid", "p3"]]],
             "secure", ["map", [["mac-aging-time", "60"]]]],
            [["uuid", "b2"], "br-eth1", ["set", [["uuid", "p4"], ["uuid", "p5"]]], ["set", []],
             ["map", []]]]),
        "Port": table(["_uuid", "name", "interfaces", "tag", "trunks", "vlan_mode"], [
            [["uuid", "p1"], "br-int", ["uuid", "i1"], ["set", []], ["set", []], ["set", []]],
            [["uuid", "p2"], "tap5f1c0b2a-9d", ["uuid", "i2"], 1, ["set", []], ["set", []]],
            [["uuid", "p3"], "int-br-eth1", ["uuid", "i3"], ["set", []], ["set", []], ["set", []]],
            [["uuid", "p4"], "phy-br-eth1", ["uuid", "i4"], ["set", []], ["set", [100, 200]],
             ["set", []]],
            [["uuid", "p5"], "eth1", ["uuid", "i5"], ["set", []], ["set", []], ["set", []]]]),
        "Interface": table(["_uuid", "name", "type", "options", "ofport"], [
            [["uuid", "i1"], "br-int", "internal", ["map", []], 65534],
            [["uuid", "i2"], "tap5f1c0b2a-9d", "", ["map", []], 7],
            [["uuid", "i3"], "int-br-eth1", "patch", ["map", [["peer", "phy-br-eth1"]]], 1],
            [["uuid", "i4"], "phy-br-eth1", "patch", ["map", [["peer", "int-br-eth1"]]], 1],
            [["uuid", "i5"], "eth1", "", ["map", []], 2]]),
    }
    links = [{"ifindex": 2, "ifname": "eth1", "flags": ["UP"], "mtu": 1500, "link_type": "ether",
              "address": "00:50:56:a1:00:09", "master": "ovs-system"},
             {"ifindex": 3, "ifname": "ovs-system", "flags": [], "mtu": 1500, "link_type": "ether",
              "address": "aa:00:00:00:00:01", "linkinfo": {"info_kind": "openvswitch"}},
             {"ifindex": 4, "ifname": "tap5f1c0b2a-9d", "flags": ["UP"], "mtu": 1450,
              "link_type": "ether", "address": "fe:16:3e:11:11:01", "master": "ovs-system",
              "linkinfo": {"info_kind": "tun", "info_data": {"type": "tap"}}}]
    fdb_text = (" port  VLAN  MAC                Age\n    7     1  fa:16:3e:11:11:01    3\n"
                "LOCAL     0  aa:00:00:00:00:02    0\n")
    snap = Snapshot(links=links, ovs=ovs, ovs_fdb={"br-int": fdb_text},
                    fdb=[{"mac": "fa:16:3e:11:11:01", "ifname": "tap5f1c0b2a-9d",
                          "master": "br-int", "state": ""}])
    converted = convert(snap, "compute1")
    doc = converted.doc
    names = {i["name"]: i for i in doc["hosts"]["compute1"]["interfaces"]}
    assert names["br-int"]["bridge"] == {"options": {"fail-mode": "secure", "mac-aging-time": 60},
                                         "port": [{"name": "int-br-eth1"}]}
    assert names["br-eth1"]["bridge"]["port"] == [
        {"name": "phy-br-eth1", "vlan": {"trunk-tags": [{"id": 100}, {"id": 200}],
                                         "mode": "trunk"}}, {"name": "eth1"}]
    assert names["int-br-eth1"] == {"name": "int-br-eth1", "type": "ovs-interface",
                                    "patch": {"peer": "phy-br-eth1"}}
    assert doc["vms"]["vm-tap5f1c0b2a-9d"]["interfaces"] == [
        {"type": "bridge", "source": "br-int", "target": "tap5f1c0b2a-9d",
         "mac": "fa:16:3e:11:11:01", "mtu": 1450, "virtualport": "openvswitch",
         "vlan": {"tag": 1}}]
    assert fdb_rows(fdb_text, "br-int", ovs) == [
        {"bridge": "br-int", "mac": "fa:16:3e:11:11:01", "port": "tap5f1c0b2a-9d", "vlan": 1,
         "flags": [], "age": 3},
        {"bridge": "br-int", "mac": "aa:00:00:00:00:02", "port": "br-int", "vlan": 0,
         "flags": [], "age": 0}]
    simulate(load_topology_data(doc, "ovs.yaml"))


def test_settle_leaves_out_what_the_spec_refuses(host: FakeHost, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    """A value the spec refuses (here: a bond option the driver would not take in that
    mode) is left out with a note naming it, and the document still loads."""
    from vnetlab.capture import convert as convert_module

    original = convert_module.Converter.bond

    def bond(self: Any, name: str, data: dict[str, Any]) -> dict[str, Any]:
        agg = original(self, name, data)
        agg["options"]["tlb_dynamic_lb"] = 0             # only balance-tlb takes it
        return agg

    monkeypatch.setattr(convert_module.Converter, "bond", bond)
    result = capture(host="kvm1")
    assert "tlb_dynamic_lb" not in iface(result.doc, "bond0")["link-aggregation"]["options"]
    assert any("tlb_dynamic_lb applies to mode balance-tlb only: left out" in n
               for n in result.notes)
    load_topology_data(result.doc, "cap.yaml")


# -- captured: in the spec, and bad input ------------------------------------------------------------

HOST = """\
hosts:
  kvm1:
    interfaces:
      - {name: eth0, type: ethernet, mac-address: 00:50:56:a1:00:01}
      - {name: br0, type: linux-bridge, bridge: {options: {stp: {enabled: false}},
         port: [{name: eth0}]}, ipv4: 192.168.10.11/24}
vms:
  vm1:
    host: kvm1
    interfaces: [{source: br0, target: vnet0, mac: 52:54:00:00:00:01,
                  ipv4: {address: 192.168.10.21/24}}]
run:
  - ping: {from: vm1, to: 192.168.10.11, count: 2}
"""

CAPTURED = """\
captured:
  host: kvm1
  time: 2025-03-07T16:28:18+00:00
  source: capture
  tool: {vnetlab: 0.1.0, iproute2: 6.1.0}
  fdb:
    - {bridge: br0, mac: 52:54:00:00:00:01, port: eth0, vlan: null, flags: [], age: 3}
    - {bridge: br0, mac: fe:54:00:00:00:01, port: vnet0, vlan: null, flags: [permanent]}
  ports:
    - {bridge: br0, port: vnet0, state: forwarding}
  sysctl: {net.ipv4.ip_forward: 0}
  missing-tools: [virsh]
"""


def run_cli(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vnetlab", *args, str(path)],
                          capture_output=True, text=True, check=False)


def test_captured_does_not_change_the_simulation(tmp_path: Path) -> None:
    plain = load_topology_data(parse_yaml_text(HOST, "a.yaml"), "a.yaml")
    live = load_topology_data(parse_yaml_text(HOST + CAPTURED, "b.yaml"), "b.yaml")
    assert live.captured is not None and live.captured.fdb[0].port == "eth0"
    assert simulate(plain).to_json() == simulate(live).to_json()


@pytest.mark.parametrize(("old", "new", "key", "message"), [
    ("mac: 52:54:00:00:00:01, port: eth0", "mac: 52:54:00:01, port: eth0",
     "captured.fdb[0].mac", "'52:54:00:01' is not a MAC address"),
    ("state: forwarding", "state: sleeping", "captured.ports[0].state",
     "'sleeping' is not a bridge port state"),
    ("host: kvm1\n  time", "host: kvm9\n  time", "captured.host",
     "host 'kvm9' is not defined under hosts:"),
    ("time: 2025-03-07T16:28:18+00:00", "time: yesterday", "captured.time",
     "'yesterday' is not an ISO 8601 time"),
    ("flags: [permanent]", "flags: [Permanent!]", "captured.fdb[1].flags[0]",
     "'Permanent!' is not an FDB flag"),
    ("vlan: null, flags: []", "vlan: 5000, flags: []", "captured.fdb[0].vlan",
     "less than or equal to 4095"),
    ("source: capture", "source: guess", "captured.source", "'guess' is not a valid source"),
    ("age: 3", "age: -3", "captured.fdb[0].age", "greater than or equal to 0"),
    ("missing-tools: [virsh]", "missing-tools: virsh", "captured.missing-tools",
     "expected a list"),
])
def test_bad_captured_block(tmp_path: Path, old: str, new: str, key: str, message: str) -> None:
    text = HOST + CAPTURED
    assert old in text
    bad = text.replace(old, new, 1)
    path = tmp_path / "topo.yaml"
    path.write_text(bad)
    proc = run_cli(path, "run")
    assert proc.returncode == 2, proc.stderr
    line = next(i for i, row in enumerate(bad.splitlines(), 1) if new.split("\n")[0] in row)
    assert f"topo.yaml:{line}:" in proc.stderr and f"{key}: " in proc.stderr, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_capture_cli_refuses_a_missing_namespace(tmp_path: Path) -> None:
    out = tmp_path / "cap.yaml"
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "capture", "--netns",
                           "vnetlab-no-such-ns", "-o", str(out)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 2
    assert "network namespace 'vnetlab-no-such-ns' does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()
    with pytest.raises(CaptureError, match="not a network namespace name"):
        capture(netns="../x")


def test_watch_cli_refuses_a_missing_namespace() -> None:
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "watch", "--netns",
                           "vnetlab-no-such-ns"], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_capture_cli_writes_atomically(host: FakeHost, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from vnetlab.cli import main

    out = tmp_path / "kvm1.yaml"
    result = CliRunner().invoke(main, ["capture", "--host", "kvm1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "kvm1: 14 interface(s), 1 VM(s), 8 FDB entries, 7 bridge port(s)" in result.output
    assert "missing tools (their part is not captured): ovs-vsctl" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["kvm1.yaml"]       # no temporary left
    load_topology_data(parse_yaml_text(out.read_text(), str(out)), str(out))
    blocked = tmp_path / "no-such-dir" / "x.yaml"
    result = CliRunner().invoke(main, ["capture", "--host", "kvm1", "-o", str(blocked)])
    assert result.exit_code == 2 and "cannot write" in result.output


def test_capture_docs_list_every_allowlisted_command() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "capture.md").read_text()
    for command in allowlist.COMMANDS.values():
        shown = command.id if command.id != "read files" else "READER"
        assert f"`{shown}`" in docs, command.id
    for pattern in allowlist.FILE_PATTERNS:
        assert f"`{pattern}`" in docs, pattern


def test_dump_is_what_a_person_writes(host: FakeHost) -> None:
    text = dump(capture(host="kvm1"))
    assert text.startswith("# written by vnetlab capture")
    assert "mac-address: 02:00:00:00:01:01" in text                    # unquoted MACs
    assert "      nftables: |\n" in text                                # the ruleset as a block
    assert textwrap.dedent("""\
        - {bridge: br1, mac: 52:54:00:12:34:02, port: ens224, vlan: null, flags: [], age: 0}""") \
        in text


def test_hostile_outputs_are_notes_not_crashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the tools print is untrusted too: an XML entity bomb from virsh, teamd output
    that is not JSON, a truncated ip dump. Each is a note; the rest is captured."""
    outputs = json.loads(FIX.read_text())
    outputs["virsh dumpxml guest1"]["stdout"] = (
        '<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n<domain><name>&b;</name></domain>\n')
    outputs["teamdctl config dump team1"]["stdout"] = "{runner: roundrobin"
    outputs["ip -j neigh show"]["stdout"] = '[{"dst": "192.168.10.254", "dev": '
    fake = FakeHost(outputs)
    monkeypatch.setattr(runner, "execute", fake.execute)
    monkeypatch.setattr(runner.Runner, "installed", lambda self, tool: tool in fake.tools)
    result = capture(host="kvm1")
    notes = "\n".join(result.notes)
    assert "virsh -r dumpxml guest1:2: <!DOCTYPE: a DTD or entity declaration: refused" in notes
    assert "teamdctl team1 config dump" in notes and "not JSON" in notes
    assert "ip -j neigh show: unreadable JSON" in notes
    assert "guest1" not in result.doc.get("vms", {})
    assert iface(result.doc, "team1")["team"] == {"ports": [{"name": "eno1"}, {"name": "eno2"}]}
    load_topology_data(result.doc, "cap.yaml")


def _tap_host(tap_mac: str, fdb: list[dict[str, Any]]) -> dict[str, Any]:
    links = [{"ifindex": 2, "ifname": "eth0", "flags": ["UP"], "mtu": 1500, "link_type": "ether",
              "address": "00:50:56:a1:00:01", "master": "br0"},
             {"ifindex": 3, "ifname": "br0", "flags": ["UP"], "mtu": 1500, "link_type": "ether",
              "address": "00:50:56:a1:00:01", "linkinfo": {"info_kind": "bridge",
                                                           "info_data": {"stp_state": 0}}},
             {"ifindex": 4, "ifname": "vnet0", "flags": ["UP"], "mtu": 1500, "link_type": "ether",
              "address": tap_mac, "master": "br0",
              "linkinfo": {"info_kind": "tun", "info_data": {"type": "tap"}}}]
    return convert(Snapshot(links=links, fdb=fdb), "kvm1").doc


def _entry(mac: str, port: str, permanent: bool) -> dict[str, Any]:
    return {"mac": mac, "ifname": port, "master": "br0", "state": "permanent" if permanent else ""}


def test_a_guest_with_the_hosts_own_mac_is_found_by_its_taps_tail() -> None:
    """The guest's MAC is eth0's: the bridge never learns it (a local entry), libvirt's
    0xFE rule on the tap still names it (seed 004's MAC conflict)."""
    doc = _tap_host("fe:50:56:a1:00:01", [_entry("00:50:56:a1:00:01", "eth0", True),
                                          _entry("fe:50:56:a1:00:01", "vnet0", True)])
    assert doc["vms"]["vm-vnet0"]["interfaces"][0]["mac"] == "00:50:56:a1:00:01"
    # a learned MAC with that tail wins over the local entry
    doc = _tap_host("fe:50:56:a1:00:01", [_entry("00:50:56:a1:00:01", "eth0", True),
                                          _entry("02:50:56:a1:00:01", "vnet0", False)])
    assert doc["vms"]["vm-vnet0"]["interfaces"][0]["mac"] == "02:50:56:a1:00:01"


def test_a_hand_made_tap_in_qemus_oui_is_its_guests_mac() -> None:
    doc = _tap_host("52:54:00:12:34:01", [_entry("52:54:00:12:34:01", "vnet0", True)])
    nic = doc["vms"]["vm-vnet0"]["interfaces"][0]
    assert nic["mac"] == "52:54:00:12:34:01" and nic["tap-mac"] == "52:54:00:12:34:01"
    # any other MAC on a tap nothing explains stays a port of the bridge
    doc = _tap_host("02:00:00:00:00:07", [])
    assert "vms" not in doc or not doc["vms"]
    assert "vnet0" in [i["name"] for i in doc["hosts"]["kvm1"]["interfaces"]]


OVS_FIX = FIX.parent / "compute1-ovs.json"


def test_an_ovs_userspace_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real capture of an Open vSwitch host (userspace datapath: the bridges' LOCAL ports
    and ``ovs-netdev`` are taps), recorded from the catalog's ovs-dead-vlan-fixed host
    with a second VM port still on the dead VLAN and two flows the model does not run.
    VMs come from ``external_ids:attached-mac`` (no virsh), a dead-VLAN port keeps its
    Port columns, the flows are table 0's in add-flow syntax, and fdb/show's port numbers
    are each bridge's own."""
    fake = FakeHost(json.loads(OVS_FIX.read_text()))
    monkeypatch.setattr(runner, "execute", fake.execute)
    monkeypatch.setattr(runner.Runner, "installed", lambda self, tool: tool in fake.tools)
    result = capture(host="compute1")
    assert ["ovs-ofctl", "--timeout=5", "--no-stats", "--names", "dump-flows", "br-int"] \
        in fake.ran
    doc = result.doc
    names = {i["name"]: i for i in doc["hosts"]["compute1"]["interfaces"]}
    assert "ovs-netdev" not in names and set(doc["vms"]) == {"vm-tap5f1c0b2a-9d",
                                                             "vm-tap8c2d7e90-1b"}
    bound, dead = (doc["vms"][f"vm-{t}"]["interfaces"][0]
                   for t in ("tap5f1c0b2a-9d", "tap8c2d7e90-1b"))
    assert (bound["mac"], bound["vlan"]) == ("fa:16:3e:11:11:01", {"tag": 1})
    assert dead["mac"] == "fa:16:3e:22:22:02" and "vlan" not in dead
    assert {"name": "tap8c2d7e90-1b", "vlan": {"mode": "trunk", "tag": 4095,
                                               "trunk-tags": [{"id": 4095}]}} \
        in names["br-int"]["bridge"]["port"]
    assert names["br-eth1"]["bridge"]["flows"] == [
        "priority=4,in_port=phy-br-eth1,dl_vlan=1,actions=mod_vlan_vid:100,NORMAL",
        "priority=2,in_port=phy-br-eth1,actions=drop"]
    assert names["br-int"]["bridge"]["flows"] == [
        "priority=3,in_port=int-br-eth1,dl_vlan=100,actions=mod_vlan_vid:1,NORMAL",
        "priority=10,in_port=int-br-eth1,dl_vlan=200,actions=mod_vlan_vid:2,NORMAL",
        "priority=2,in_port=int-br-eth1,actions=drop"]
    notes = "\n".join(result.notes)
    assert "without idle_timeout=30" in notes and "only table 0 is modelled" in notes
    fdb = {(e["bridge"], e["port"]) for e in doc["captured"]["fdb"]}
    assert fdb == {("br-int", "tap5f1c0b2a-9d"), ("br-eth1", "phy-br-eth1")}
    load_topology_data(doc, "compute1.yaml")


def test_a_vm_mac_behind_a_patch_port_is_where_it_belongs(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    """br-eth1 learns the VM of br-int on its patch port: the way to the VM's bridge, not
    an uplink; the same MAC on eth1 is the seed-000 signature."""
    from vnetlab.doctor import diagnose

    fake = FakeHost(json.loads(OVS_FIX.read_text()))
    monkeypatch.setattr(runner, "execute", fake.execute)
    monkeypatch.setattr(runner.Runner, "installed", lambda self, tool: tool in fake.tools)
    result = capture(host="compute1")

    def uplink_findings() -> list[tuple[str, str]]:
        path = tmp_path / "compute1.yaml"
        path.write_text(dump(result))
        report, _ = diagnose(str(path))
        return [(f.check, f.subject) for f in report.findings
                if f.check == "bridge.vm-mac-on-uplink"]

    assert uplink_findings() == []
    row = next(e for e in result.doc["captured"]["fdb"] if e["bridge"] == "br-eth1")
    row["port"] = "eth1"
    assert uplink_findings() == [("bridge.vm-mac-on-uplink", "eth1")]


def test_ovs_flows_without_the_default_flow() -> None:
    from vnetlab.capture.ovsdb import flows

    notes: list[str] = []
    text = "NXST_FLOW reply (xid=0x4):\n priority=1,dl_src=fa:16:3e:00:00:01 actions=drop\n"
    assert flows(text, "br0", False, notes.append) == [
        "priority=1,dl_src=fa:16:3e:00:00:01,actions=drop"]
    assert notes == ["br0: no 'priority=0 actions=NORMAL' flow (deleted): the model keeps it "
                     "(fail-mode standalone)"]
    assert flows(text, "br0", True, notes.append) and len(notes) == 1   # secure: none wanted
    many = "".join(f" priority={i % 60000},dl_vlan={i % 4000} actions=drop\n"
                   for i in range(12_000))
    assert len(flows(many, "br0", True, notes.append)) == 10_000
    assert notes[-1] == "br0: more than 10000 flows the model runs: the rest left out"


# -- OpenStack: nova.conf, the agent's ini, Neutron's ports ---------------------------------------

NEUTRON_FIX = FIX.parent / "compute1-neutron.json"


def _os_settings(files: dict[str, str]) -> tuple[dict[str, Any] | None, list[str]]:
    from vnetlab.capture.openstack import settings

    notes: list[str] = []
    return settings(files, notes.append), notes


def test_nova_conf_and_the_agent_ini_as_oslo_config_reads_them() -> None:
    nova = textwrap.dedent("""\
        [DEFAULT]
        # vif_plugging_timeout = 300
        vif_plugging_timeout = 600
        vif_plugging_is_fatal = False
        [compute]
        live_migration_wait_for_vif_plug = True
        live_migration_wait_for_vif_plug = false
        [os_vif_ovs]
        isolate_vif = maybe
        """)
    agent = textwrap.dedent("""\
        [ovs]
        integration_bridge = br-int
        bridge_mappings = physnet1:br-eth1, physnet2 : br-ex ,broken
        [securitygroup]
        firewall_driver = neutron.agent.linux.openvswitch_firewall.OVSFirewallDriver
        """)
    block, notes = _os_settings({
        "/etc/nova/nova.conf": nova,
        "/etc/nova/nova.conf.d/50-local.conf": "[DEFAULT]\nvif_plugging_is_fatal = yes\n",
        "/etc/neutron/plugins/ml2/openvswitch_agent.ini": agent})
    assert block == {
        "nova": {"live-migration-wait-for-vif-plug": False,      # the last value wins
                 "vif-plugging-timeout": "600s",
                 "vif-plugging-is-fatal": True},                  # nova.conf.d after nova.conf
        "agent": {"type": "openvswitch", "integration-bridge": "br-int",
                  "firewall-driver": "openvswitch",
                  "bridge-mappings": {"physnet1": "br-eth1", "physnet2": "br-ex"}}}
    assert "/etc/nova/nova.conf:9: [os_vif_ovs] isolate_vif = 'maybe' is not a boolean" \
        in "\n".join(notes)
    assert any("'broken' is not physnet:name" in n for n in notes)
    assert any("bind delay" in n for n in notes)


def test_kolla_and_linuxbridge_layouts_and_no_openstack() -> None:
    block, notes = _os_settings({
        "/etc/kolla/nova-compute/nova.conf": "[compute]\nlive_migration_wait_for_vif_plug=1\n",
        "/etc/kolla/neutron-linuxbridge-agent/linuxbridge_agent.ini":
            "[linux_bridge]\nphysical_interface_mappings = provider:eth1\n"
            "[securitygroup]\nfirewall_driver = iptables\n"})
    assert block == {"nova": {"live-migration-wait-for-vif-plug": True},
                     "agent": {"type": "linuxbridge", "bridge-mappings": {"provider": "eth1"}}}
    assert [n.split(":")[0] for n in notes] == [
        "/etc/kolla/neutron-linuxbridge-agent/linuxbridge_agent.ini"]     # the bind delay
    assert _os_settings({"/proc/net/bonding/bond0": "x"}) == (None, [])


def test_the_reader_takes_configuration_files_whole() -> None:
    """``MAX_FILE`` caps a /proc or /sys file, ``MAX_CONF`` a file under /etc (a real
    distribution nova.conf is about 200 KiB)."""
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", allowlist.READER, "8", "10", "4096",
                           "/etc/passwd", "/proc/sys/kernel/osrelease"],
                          capture_output=True, text=True, check=True)
    files = json.loads(proc.stdout)
    assert len(files["/proc/sys/kernel/osrelease"]) == 8
    assert files["/etc/passwd"] == Path("/etc/passwd").read_text()[:4096]
    assert len(files["/etc/passwd"]) > 8


def _neutron_capture(monkeypatch: pytest.MonkeyPatch, edit: Any = None) -> Any:
    outputs = json.loads(NEUTRON_FIX.read_text())
    if edit is not None:
        edit(outputs)
    fake = FakeHost(outputs)
    monkeypatch.setattr(runner, "execute", fake.execute)
    monkeypatch.setattr(runner.Runner, "installed", lambda self, tool: tool in fake.tools)
    return capture(host="compute1")


def test_a_compute_host_is_written_with_neutron_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real capture of a compute host (ml2/ovs, hybrid plug: tap in qbr, qvb/qvo, qvo on
    br-int tagged with local VLAN 1, the patch pair and the agent's flows; recorded from
    the catalog lab's compute1 of migration-ovs-rarp-lost): the VM is on its Neutron
    network, as the catalog writes it, and the model makes the rest."""
    result = _neutron_capture(monkeypatch)
    doc = result.doc
    names = [i["name"] for i in doc["hosts"]["compute1"]["interfaces"]]
    assert names == ["eth1", "br-eth1"], names
    assert doc["hosts"]["compute1"]["interfaces"][1]["bridge"] == {"port": [{"name": "eth1"}]}
    assert doc["openstack"]["networks"] == {"physnet1-vlan100": {"segmentation-id": 100,
                                                                 "physical-network": "physnet1"}}
    assert doc["openstack"]["nova"]["live-migration-wait-for-vif-plug"] is False
    (vm,) = doc["vms"].values()
    assert vm["interfaces"] == [{"type": "bridge", "source": "br-int", "mac": "fa:16:3e:11:11:01",
                                 "network": "physnet1-vlan100",
                                 "port-id": "5f1c0b2a-9d4e-4c1b-8a77-2e6f0c3d1a01"}]
    kept = {r["port"] for r in doc["captured"]["fdb"]} | {r["port"]
                                                         for r in doc["captured"]["ports"]}
    assert not {p for p in kept if p.startswith(("qbr", "qvb", "qvo", "tap", "phy-", "int-"))}
    spec = load_topology_data(doc, "compute1.yaml")
    assert spec.openstack is not None and spec.openstack.agent.bridge_mappings == {
        "physnet1": "br-eth1"}


def test_an_unbound_neutron_port_keeps_the_host_as_captured(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """qvo on the dead VLAN: no local VLAN, no network: br-int stays as captured."""
    def dead(outputs: dict[str, Any]) -> None:
        table = json.loads(outputs["ovs-vsctl list Port"]["stdout"])
        heads = table["headings"]
        for row in table["data"]:
            if row[heads.index("name")].startswith("qvo"):
                row[heads.index("tag")] = 4095
        outputs["ovs-vsctl list Port"]["stdout"] = json.dumps(table)

    result = _neutron_capture(monkeypatch, dead)
    names = {i["name"] for i in result.doc["hosts"]["compute1"]["interfaces"]}
    assert {"br-int", "qbr5f1c0b2a-9d"} <= names
    assert "networks" not in result.doc["openstack"]
    assert any("on VLAN 4095, which no provision_local_vlan flow" in n for n in result.notes)


def test_a_linuxbridge_compute_host_is_written_with_neutron_ports() -> None:
    """brqnet1 with the agent's eth1.100 and a VM's tap (O7): network net1 = VLAN 100 of
    physnet1, the NIC's port id the tap's; without the VLAN device (not wired yet) the
    brq stays as captured."""
    def links(wired: bool) -> list[dict[str, Any]]:
        out = [{"ifindex": 2, "ifname": "eth1", "flags": ["UP"], "mtu": 1500,
                "link_type": "ether", "address": "00:50:56:a1:00:01"},
               {"ifindex": 3, "ifname": "brqnet1", "flags": ["UP"], "mtu": 1500,
                "link_type": "ether", "address": "00:50:56:a1:00:01",
                "linkinfo": {"info_kind": "bridge", "info_data": {"stp_state": 0}}},
               {"ifindex": 5, "ifname": "tapvm1-0", "flags": ["UP"], "mtu": 1500,
                "link_type": "ether", "address": "fe:16:3e:00:00:01", "master": "brqnet1",
                "linkinfo": {"info_kind": "tun", "info_data": {"type": "tap"}}}]
        if wired:
            out.append({"ifindex": 4, "ifname": "eth1.100", "link": "eth1", "flags": ["UP"],
                        "mtu": 1500, "link_type": "ether", "address": "00:50:56:a1:00:01",
                        "master": "brqnet1", "linkinfo": {"info_kind": "vlan", "info_data": {
                            "protocol": "802.1Q", "id": 100}}})
        return out

    ini = "[linux_bridge]\nphysical_interface_mappings = physnet1:eth1\n"
    for wired in (True, False):
        snap = Snapshot(links=links(wired), files={
            "/etc/neutron/plugins/ml2/linuxbridge_agent.ini": ini},
            fdb=[{"mac": "fa:16:3e:00:00:01", "ifname": "tapvm1-0", "master": "brqnet1",
                  "state": ""}])
        doc = convert(snap, "compute1").doc
        names = [i["name"] for i in doc["hosts"]["compute1"]["interfaces"]]
        (vm,) = doc["vms"].values()
        if wired:
            assert names == ["eth1"], names
            assert doc["openstack"]["networks"] == {
                "net1": {"segmentation-id": 100, "physical-network": "physnet1"}}
            assert vm["interfaces"] == [{"type": "bridge", "source": "brqnet1",
                                         "mac": "fa:16:3e:00:00:01", "port-id": "vm1-0",
                                         "network": "net1"}]
            load_topology_data(doc, "compute1.yaml")
        else:
            assert "brqnet1" in names and "networks" not in doc["openstack"]
            assert vm["interfaces"][0]["target"] == "tapvm1-0"
