"""Importers: each format from its recorded fixtures, into a document that loads (and
simulates), the round trip through YAML, merging, and the runtime parsers."""

from __future__ import annotations

import copy
import re
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest

from vnetlab.importers import ImportFailure, ImportResult, dump, import_path, load, merge, runtime
from vnetlab.importers.sosreport import _vlan_entries
from vnetlab.lab import simulate
from vnetlab.topology.load import load_topology_data, parse_yaml_text

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "imports"
SOS = FIX / "sosreport-kvm1-2025-03-07-xqzbnde"


def iface(result: ImportResult, name: str, host: str | None = None) -> dict[str, Any]:
    hosts = result.doc["hosts"]
    entry = hosts[host] if host else next(iter(hosts.values()))
    return next(i for i in entry["interfaces"] if i["name"] == name)


def notes(result: ImportResult) -> list[str]:
    return [str(n) for n in result.notes]


def pings(result: Any) -> list[Any]:
    return [s for ep in result.lab.endpoints.values() for s in ep.pings]


# -- nmcli (seed 000) ----------------------------------------------------------------------------

def test_seed_000_nmcli_paste_is_read_as_pasted() -> None:
    result = import_path(str(FIX / "seed000-nmcli.txt"))
    assert result.kind == "nmcli"
    team = iface(result, "team1")
    assert team["type"] == "team"
    assert team["team"]["runner"] == {"name": "roundrobin"}
    assert [p["name"] for p in team["team"]["ports"]] == ["ens224", "ens256"]
    bridge = iface(result, "br1")
    # "nmcli c mod team1 master br1": controller found by interface name, port type
    # from the controller's type (set_connection_controller)
    assert [p["name"] for p in bridge["bridge"]["port"]] == ["team1"]
    # nmcli's bridge keeps NetworkManager's STP default (on)
    assert bridge["bridge"]["options"]["stp"] == {"enabled": True}
    text = notes(result)
    assert any("seed000-nmcli.txt:8: mcli: read as 'nmcli'" in n for n in text)
    assert any("ipv4.method of br1" in n and "'auto'" in n for n in text)
    load(result)


def _seed_world(doc: dict[str, Any], lag: bool) -> dict[str, Any]:
    """The outside of seed 000 (switch, gateway, vm1), as the shared example has it."""
    doc = copy.deepcopy(doc)
    br1 = next(i for i in doc["hosts"]["kvm1"]["interfaces"] if i["name"] == "br1")
    br1["ipv4"] = {"enabled": True, "address": [{"ip": "192.168.10.11", "prefix-length": 24}]}
    doc["vms"] = {"vm1": {"host": "kvm1", "interfaces": [{
        "source": "br1", "target": "vnet0", "mac": "52:54:00:12:34:01",
        "ipv4": {"address": "192.168.10.21/24", "gateway": "192.168.10.254"}}]}}
    doc["switches"] = {"sw1": {"ports": ["ge1", "ge2", "ge3"], "lags": [
        {"name": "po1", "ports": ["ge1", "ge2"], "mode": "static"}] if lag else []}}
    doc["routers"] = {"gw1": {"interfaces": [{"name": "eth0", "mac-address": "00:1b:21:0a:0b:01",
                                              "ipv4": "192.168.10.254/24"}]}}
    doc["links"] = [{"endpoints": ["kvm1:ens224", "sw1:ge1"]},
                    {"endpoints": ["kvm1:ens256", "sw1:ge2"]},
                    {"endpoints": ["gw1:eth0", "sw1:ge3"]}]
    # after the 2 x 15 s of STP listening/learning NetworkManager's default bridge has
    doc["run"] = [{"at": "35s", "ping": {"from": "vm1", "to": "192.168.10.254", "count": 3}}]
    return doc


def test_seed_000_import_reproduces_the_field_report_when_simulated() -> None:
    result = import_path(str(FIX / "seed000-nmcli.txt"))
    broken = simulate(load_topology_data(_seed_world(result.doc, lag=False)), seed=0)
    fixed = simulate(load_topology_data(_seed_world(result.doc, lag=True)), seed=0)
    assert [s.replies for s in pings(broken)] == [0]
    assert [s.replies for s in pings(fixed)] == [3]


def test_nmcli_lines_quoting_continuations_and_modify() -> None:
    from vnetlab.importers.nmcli import parse

    text = """\
[root@kvm1 ~]# nmcli con add type bond con-name bond0 ifname bond0 \\
    bond.options "mode=active-backup,miimon=100" ipv4.method manual \\
    ipv4.addresses 10.0.0.11/24 ipv4.gateway 10.0.0.254
$ sudo nmcli connection add type ethernet con-name p1 ifname eno1 master bond0
$ nmcli c a type bond-slave ifname eno2 master bond0
# nmcli connection modify bond0 +ipv4.addresses 10.0.1.11/24 team.runner lacp
systemctl restart NetworkManager
"""
    profiles, read_notes = parse(text, "paste.txt")
    assert [p.ifname() for p in profiles] == ["bond0", "eno1", "eno2"]
    bond = profiles[0]
    assert bond.get("bond.mode") == "active-backup" and bond.get("bond.miimon") == "100"
    assert bond.get("ipv4.addresses") == "10.0.0.11/24, 10.0.1.11/24"
    assert profiles[2].get("connection.port-type") == "bond"       # bond-slave
    assert [n.line for n in read_notes if "not an nmcli command" in n.why] == [7]
    from vnetlab.importers.nmprofile import build

    interfaces, _, built_notes = build(profiles)
    bond_doc = next(i for i in interfaces if i["name"] == "bond0")
    assert bond_doc["link-aggregation"]["port"] == ["eno1", "eno2"]
    assert bond_doc["ipv4"]["address"][1] == {"ip": "10.0.1.11", "prefix-length": 24}
    # team.runner on a bond profile is no bond setting: reported, not applied
    assert any("team.runner" in n.text for n in built_notes)


# -- keyfiles ----------------------------------------------------------------------------------

def test_keyfile_directory() -> None:
    result = import_path(str(FIX / "keyfiles"), host="kvm2")
    assert result.kind == "keyfile"
    bond = iface(result, "bond0")
    # ens256 names its controller by UUID with the pre-1.46 master=/slave-type= keys
    assert bond["link-aggregation"]["port"] == ["ens224", "ens256"]
    assert bond["link-aggregation"]["mode"] == "active-backup"
    assert bond["link-aggregation"]["options"]["primary"] == "ens224"
    assert bond["mtu"] == 9000
    assert iface(result, "ens224")["mac-address"] == "00:50:56:a1:00:01"
    assert iface(result, "bond0.100")["vlan"] == {"base-iface": "bond0", "id": 100}
    assert iface(result, "br100")["bridge"]["options"]["stp"] == {"enabled": True,
                                                                "forward-delay": 2}
    assert iface(result, "br0")["ipv4"]["gateway"] == "192.168.10.254"
    spec = load(result)
    simulate(spec, seed=0, trace="summary")


def test_keyfiles_in_separate_files_resolve_through_merge() -> None:
    files = sorted((FIX / "keyfiles").glob("*.nmconnection"))
    alone = import_path(str(FIX / "keyfiles" / "ens256.nmconnection"), host="kvm2")
    assert any("no imported profile has this UUID" in n for n in notes(alone))
    merged = merge([import_path(str(f), host="kvm2") for f in files])
    whole = import_path(str(FIX / "keyfiles"), host="kvm2")
    assert merged.doc["hosts"] == whole.doc["hosts"]
    assert not any("no imported profile" in n for n in notes(merged))


# -- ifcfg -------------------------------------------------------------------------------------

def test_ifcfg_directory() -> None:
    result = import_path(str(FIX / "network-scripts"), host="kvm3")
    team = iface(result, "team0")
    assert team["team"]["runner"] == {"name": "activebackup"}
    # single-quoted JSON (initscripts) and NetworkManager's escaped double quotes
    assert [(p["name"], p.get("prio")) for p in team["team"]["ports"]] == [
        ("ens224", 100), ("ens256", 50)]
    bridge = iface(result, "br0")
    assert bridge["bridge"]["options"]["stp"] == {"enabled": False}     # STP absent: off
    assert bridge["ipv4"]["address"] == [{"ip": "192.168.20.11", "prefix-length": 24}]
    assert "lo" not in {i["name"] for i in result.doc["hosts"]["kvm3"]["interfaces"]}
    assert any("ifcfg-br0:8: DELAY=0" in n for n in notes(result))
    simulate(load(result), seed=0, trace="summary")


# -- libvirt -----------------------------------------------------------------------------------

def test_libvirt_domains() -> None:
    result = import_path(str(FIX / "libvirt"), host="kvm9")
    vm1 = result.doc["vms"]["vm1"]
    assert vm1["host"] == "kvm9"
    assert [(n["source"], n["target"], n["mac"]) for n in vm1["interfaces"]] == [
        ("br1", "vnet0", "52:54:00:12:34:01"), ("virbr0", "vnet1", "52:54:00:12:34:02")]
    vm2 = result.doc["vms"]["vm2"]["interfaces"][0]
    assert vm2["virtualport"] == "openvswitch" and vm2["vlan"] == {"tag": 100}
    text = notes(result)
    assert any("vm1.xml:62: <interface type='direct'>" in n for n in text)
    assert any("vm2-ovs.xml:21: <link state='down'>" in n for n in text)
    # the bridges the XML names and nothing defines are made up, and said so
    types = {i["name"]: i["type"] for i in result.doc["hosts"]["kvm9"]["interfaces"]}
    assert types == {"br1": "linux-bridge", "virbr0": "linux-bridge", "ovsbr0": "ovs-bridge"}
    assert any("kvm9:br1: vm1's bridge is not in the imported files" in n for n in text)
    simulate(load(result), seed=0, trace="summary")


def test_a_real_bridge_replaces_the_assumed_one_in_merge() -> None:
    merged = merge([import_path(str(FIX / "libvirt" / "vm1.xml")),
                    import_path(str(FIX / "seed000-nmcli.txt"))])
    br1 = iface(merged, "br1")
    assert [p["name"] for p in br1["bridge"]["port"]] == ["team1"]
    assert not any("kvm1:br1" in n for n in notes(merged))
    assert any("kvm1:virbr0" in n for n in notes(merged))
    load(merged)


# -- nmstate -----------------------------------------------------------------------------------

def test_nmstatectl_show() -> None:
    result = import_path(str(FIX / "nmstate" / "kvm4.yml"))
    assert list(result.doc["hosts"]) == ["kvm4"]                        # the file's stem
    bond = iface(result, "bond0")
    assert bond["link-aggregation"]["options"] == {"lacp_rate": "fast",
                                                   "xmit_hash_policy": "layer3+4"}
    # a bond port shows the bond's MAC; the NIC's permanent one is imported
    assert iface(result, "eno2")["mac-address"] == "3c:ec:ef:10:20:02"
    names = {i["name"] for i in result.doc["hosts"]["kvm4"]["interfaces"]}
    assert names == {"bond0", "br0", "eno1", "eno2"}
    assert [p["name"] for p in iface(result, "br0")["bridge"]["port"]] == ["bond0"]
    text = notes(result)
    assert any("kvm4.yml:226: interfaces[vnet2]: type tun" in n for n in text)
    assert any("interfaces[*].min-mtu: not modelled by vnetlab (4 places)" in n for n in text)
    assert result.doc["hosts"]["kvm4"]["routes"]["config"] == [
        {"destination": "0.0.0.0/0", "next-hop-address": "192.168.30.254",
         "next-hop-interface": "br0"}]
    simulate(load(result), seed=0, trace="summary")


def test_nmstate_json_is_read_too(tmp_path: Path) -> None:
    import json

    from ruamel.yaml import YAML

    data = YAML(typ="safe").load((FIX / "nmstate" / "kvm4.yml").read_text())
    path = tmp_path / "kvm5.json"
    path.write_text(json.dumps(data, indent=2))
    assert import_path(str(path)).doc["hosts"]["kvm5"] == \
        import_path(str(FIX / "nmstate" / "kvm4.yml"), host="kvm5").doc["hosts"]["kvm5"]


# -- sosreport ---------------------------------------------------------------------------------

def _tarball(tmp_path: Path, mode: str = "w:xz") -> Path:
    path = tmp_path / f"{SOS.name}.tar.xz"
    with tarfile.open(path, mode) as tar:
        tar.add(SOS, arcname=SOS.name)                      # symlinks stay links
    return path


def test_sosreport_directory() -> None:
    result = import_path(str(SOS))
    assert result.kind == "sosreport"
    assert list(result.doc["hosts"]) == ["kvm1"]                # hostname, short
    team = iface(result, "team1")
    assert team["team"]["runner"] == {"name": "roundrobin"}     # teamdctl config dump
    assert [p["name"] for p in team["team"]["ports"]] == ["ens224", "ens256"]
    # a team port shows the team's MAC; ip's permaddr is the NIC's own
    assert iface(result, "ens256")["mac-address"] == "00:50:56:a1:00:02"
    assert iface(result, "eno2")["mac-address"] == "3c:ec:ef:10:20:02"
    assert iface(result, "bond0")["ipv4"]["gateway"] == "10.0.0.254"
    assert iface(result, "br1")["bridge"]["options"]["stp"] == {"enabled": False}
    ovs = iface(result, "ovsbr0")
    assert ovs["bridge"]["port"] == [{"name": "eno3"}, {"name": "mgmt0", "vlan": {"tag": 30}}]
    assert result.doc["vms"]["vm2"]["interfaces"][0]["vlan"] == {"tag": 100}
    captured = result.doc["captured"]
    assert captured["host"] == "kvm1" and captured["source"] == "sosreport"
    assert {"bridge": "br1", "mac": "52:54:00:12:34:01", "port": "team1"} in captured["fdb"]
    assert captured["bonding"]["bond0"]["active"] == "eno1"
    assert captured["bonding"]["bond0"]["ports"]["eno2"]["link-failure-count"] == 1
    assert any("ip_-d_address (runtime)" in u for u in result.used)
    assert any("vm3: defined but not running" in n for n in notes(result))
    simulate(load(result), seed=0, trace="summary")


def test_sosreport_tarball_equals_its_directory(tmp_path: Path) -> None:
    from_dir = import_path(str(SOS))
    for mode in ("w:xz", "w:gz"):
        from_tar = import_path(str(_tarball(tmp_path, mode)))
        assert from_tar.doc == from_dir.doc


def test_sosreport_config_differing_from_runtime_is_a_note(tmp_path: Path) -> None:
    copy_dir = tmp_path / SOS.name
    shutil.copytree(SOS, copy_dir, symlinks=True)
    keyfile = copy_dir / "etc/NetworkManager/system-connections/br1.nmconnection"
    keyfile.write_text(keyfile.read_text().replace("stp=false", "stp=true"))
    (copy_dir / "sos_commands/teamd/teamdctl_team1_config_dump").unlink()
    result = import_path(str(copy_dir))
    assert iface(result, "br1")["bridge"]["options"]["stp"]["enabled"] is False   # runtime
    assert any("br1 STP: configured True, running False" in n for n in notes(result))
    # without teamdctl output, the profile's team.config gives the runner
    assert iface(result, "team1")["team"]["runner"] == {"name": "roundrobin"}
    assert any("team1 runner: NetworkManager profile (configuration)" in u for u in result.used)


def test_sosreport_without_ip_output_uses_configuration(tmp_path: Path) -> None:
    copy_dir = tmp_path / SOS.name
    shutil.copytree(SOS, copy_dir, symlinks=True)
    for name in ("ip_-d_address", "ip_-o_addr"):
        (copy_dir / "sos_commands/networking" / name).unlink()
    result = import_path(str(copy_dir))
    assert iface(result, "br1")["bridge"]["port"] == [{"name": "team1"}]
    assert iface(result, "bond0")["link-aggregation"]["port"] == ["eno1", "eno2"]
    assert any("no ip output" in u for u in result.used)
    load(result)


# -- round trip, conflicts -----------------------------------------------------------------------

@pytest.mark.parametrize("source", ["seed000-nmcli.txt", "keyfiles", "network-scripts",
                                    "libvirt", "nmstate/kvm4.yml", SOS.name])
def test_round_trip_import_yaml_load(source: str) -> None:
    result = import_path(str(FIX / source))
    text = dump(result)
    assert not re.search(r"mac(-address)?: ['\"]", text)          # MACs unquoted
    data = parse_yaml_text(text, "imported.yaml")
    from_text = load_topology_data(data, "imported.yaml")
    assert from_text.model_dump() == load(result).model_dump()


def test_merge_conflict_names_both_files(tmp_path: Path) -> None:
    other = tmp_path / "kvm4.yml"
    other.write_text((FIX / "nmstate" / "kvm4.yml").read_text().replace(
        "mode: 802.3ad", "mode: active-backup"))
    with pytest.raises(ImportFailure) as info:
        merge([import_path(str(FIX / "nmstate" / "kvm4.yml")), import_path(str(other))])
    message = str(info.value)
    assert "hosts.kvm4.interfaces[bond0]" in message
    assert str(other) in message and "nmstate/kvm4.yml" in message


# -- runtime parsers ---------------------------------------------------------------------------

def test_bridge_timers_in_either_unit() -> None:
    raw = runtime.parse_ip("8: br0: <UP> mtu 1500 state UP\n    link/ether 02:00:00:00:00:01 "
                           "brd ff:ff:ff:ff:ff:ff\n    bridge forward_delay 400 hello_time 200 "
                           "ageing_time 30000 stp_state 1\n")["br0"]
    seconds = runtime.parse_ip("8: br0: <UP> mtu 1500 state UP\n    link/ether 02:00:00:00:00:01\n"
                               "    bridge forward_delay 4 hello_time 2 ageing_time 300 "
                               "stp_state 1\n")["br0"]
    assert runtime.bridge_timer_scale(raw) == 100 and runtime.bridge_timer_scale(seconds) == 1


def test_bridge_vlan_show_to_port_vlans() -> None:
    table = runtime.parse_bridge_vlans(
        "port              vlan-id  \n"
        "ens224            1 PVID Egress Untagged\n"
        "                  100\n"
        "                  200-210\n"
        "                    state forwarding mcast_router 1\n"
        "vnet0             100 PVID Egress Untagged\n")
    assert _vlan_entries(table["ens224"], 1) == {
        "mode": "trunk", "trunk-tags": [{"id": 100}, {"id-range": {"min": 200, "max": 210}}]}
    assert _vlan_entries(table["vnet0"], 1) == {"mode": "access", "tag": 100}


def test_proc_bonding_with_port_wording_and_lacp_partner() -> None:
    bond = runtime.parse_proc_bonding(
        "Bonding Mode: IEEE 802.3ad Dynamic link aggregation\n"
        "Transmit Hash Policy: layer3+4 (1)\n"
        "MII Status: up\n"
        "\n802.3ad info\nLACP rate: fast\n"
        "\nPort Interface: eno1\nMII Status: up\nLink Failure Count: 2\n"
        "Permanent HW addr: 3c:ec:ef:10:20:01\nAggregator ID: 1\n"
        "details partner lacp pdu:\n    system mac address: 00:00:00:00:00:00\n")
    assert bond["mode"] == "802.3ad" and bond["xmit_hash_policy"] == "layer3+4"
    assert bond["lacp_rate"] == "fast"
    assert bond["ports"]["eno1"] == {"mii-status": "up", "link-failure-count": 2,
                                     "perm-hwaddr": "3c:ec:ef:10:20:01", "aggregator-id": 1,
                                     "partner-system": "00:00:00:00:00:00"}
