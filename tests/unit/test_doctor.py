"""`vnetlab doctor`: each check fires on a hazard and stays quiet without it (small
hand-written topologies; the catalog's failing/fixed pairs are in
tests/scenarios/test_doctor_catalog.py), --prove verdicts from the model, --fail-on exit
statuses, the JSON schema, hostile inputs, the fast YAML path against ruamel, and a
small fleet run locally and on a Dask LocalCluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from conftest import SHARED_EXAMPLE
from vnetlab.catalog import case_paths
from vnetlab.doctor import CHECKS, diagnose
from vnetlab.doctor.fleet import Task, run
from vnetlab.doctor.prove import prove
from vnetlab.i18n import MESSAGES

CASES = case_paths()

TEAM_HOST = """\
name: seed000-host
hosts:
  kvm1:
    interfaces:
      - {name: ens224, type: ethernet, mac-address: "00:50:56:a1:00:01"}
      - {name: ens256, type: ethernet, mac-address: "00:50:56:a1:00:02"}
      - name: team1
        type: team
        team:
          ports: [{name: ens224}, {name: ens256}]
          runner: {name: RUNNER}
      - name: br1
        type: linux-bridge
        bridge:
          options: {stp: {enabled: false}}
          port: [{name: team1}]
vms:
  vm1:
    host: kvm1
    interfaces:
      - {source: br1, target: vnet0, mac: "52:54:00:12:34:01",
         ipv4: {address: 192.168.10.21/24, gateway: 192.168.10.254}}
"""

CAPTURED = """\
captured:
  host: kvm1
  source: capture
  fdb:
FDB
  ports:
PORTS
"""


def write(tmp_path: Path, text: str, name: str = "host.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def capture(tmp_path: Path, runner: str = "activebackup", fdb: list[str] | None = None,
            ports: list[str] | None = None) -> str:
    rows = fdb if fdb is not None else ['{bridge: br1, mac: "52:54:00:12:34:01", port: vnet0}']
    states = ports if ports is not None else ["{bridge: br1, port: vnet0, state: forwarding}"]
    text = TEAM_HOST.replace("RUNNER", runner) + CAPTURED.replace(
        "FDB", "\n".join(f"    - {r}" for r in rows)).replace(
        "PORTS", "\n".join(f"    - {p}" for p in states))
    return write(tmp_path, text)


def ids(path: str, only: tuple[str, ...] = ()) -> list[str]:
    report, _ = diagnose(path, only)
    assert not report.errors, report.errors
    return [f.check for f in report.findings]


def doctor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vnetlab", "doctor", *args],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "LC_ALL": "C.UTF-8"})


# -- each check: a firing and a quiet case ------------------------------------------------

def test_every_check_has_a_stable_id_texts_in_both_languages_and_references() -> None:
    assert len(CHECKS) >= 19
    for cid, check in CHECKS.items():
        assert cid == check.id and cid.count(".") == 1 and cid == cid.lower()
        assert check.severity in ("error", "warning", "info")
        assert check.title and check.title_zh and check.rules and check.references
        for key in check.texts:
            assert MESSAGES[key]["en"] and MESSAGES[key]["zh"], key
    import re

    field = re.compile(r"\{(\w+)")
    for key in (k for k in MESSAGES if k.startswith("doctor.")):
        entry = MESSAGES[key]
        assert entry.get("zh"), key
        assert set(field.findall(entry["zh"])) == set(field.findall(entry["en"])), key


def test_seed000_host_capture_roundrobin_fires_activebackup_is_quiet(tmp_path: Path) -> None:
    hazard = capture(tmp_path, "roundrobin")
    report, _ = diagnose(hazard)
    (finding,) = report.findings
    assert finding.check == "team.roundrobin-without-lag"
    # no switch described: the host side alone, one level lower, with the assumption said
    assert finding.severity == "warning" and finding.notes
    assert ids(capture(tmp_path, "activebackup")) == []


def test_live_fdb_evidence_restores_the_severity_and_fires_vm_mac_on_uplink(
        tmp_path: Path) -> None:
    path = capture(tmp_path, "roundrobin",
                   ['{bridge: br1, mac: "52:54:00:12:34:01", port: team1, flags: []}'])
    report, _ = diagnose(path)
    found = {f.check: f for f in report.findings}
    assert set(found) == {"team.roundrobin-without-lag", "bridge.vm-mac-on-uplink"}
    assert found["team.roundrobin-without-lag"].severity == "error"
    live = found["bridge.vm-mac-on-uplink"].evidence[0]
    assert live.kind == "live" and live.path == "captured.fdb[0]"
    assert live.text == "52:54:00:12:34:01 dev team1 master br1"
    assert live.line == len(TEAM_HOST.splitlines()) + 5
    # the same MAC on its own tap: nothing to report
    assert ids(capture(tmp_path, "activebackup")) == []


@pytest.mark.parametrize("runner", ["broadcast", "random", "loadbalance"])
def test_runners_that_receive_on_every_port_need_a_lag(tmp_path: Path, runner: str) -> None:
    assert ids(capture(tmp_path, runner)) == ["team.runner-needs-lag"]


def test_team_lacp_without_partner_fires_and_an_lacp_lag_silences_it(tmp_path: Path) -> None:
    text = TEAM_HOST.replace("RUNNER", "lacp") + textwrap.dedent("""\
        switches:
          sw1: {ports: [ge1, ge2], lags: LAGS}
        links:
          - endpoints: [kvm1:ens224, sw1:ge1]
          - endpoints: [kvm1:ens256, sw1:ge2]
        """)
    assert ids(write(tmp_path, text.replace("LAGS", "[]"))) == ["team.lacp-no-partner"]
    lacp = "[{name: po1, ports: [ge1, ge2], mode: lacp}]"
    assert ids(write(tmp_path, text.replace("LAGS", lacp))) == []
    static = "[{name: po1, ports: [ge1, ge2], mode: static}]"
    assert ids(write(tmp_path, text.replace("LAGS", static))) == ["team.lacp-no-partner"]


BOND_HOST = """\
hosts:
  kvm1:
    interfaces:
      - {name: eth0, type: ethernet}
      - {name: eth1, type: ethernet}
      - name: bond0
        type: bond
        link-aggregation: {mode: MODE, options: OPTIONS, port: [eth0, eth1]}
      - name: br0
        type: linux-bridge
        bridge: {options: {stp: {enabled: false}}, port: [{name: bond0}]}
vms:
  vm1: {host: kvm1, interfaces: [{source: br0, mac: "52:54:00:00:00:01"}]}
"""


def bond(tmp_path: Path, mode: str, options: str = "{}") -> str:
    return write(tmp_path, BOND_HOST.replace("MODE", mode).replace("OPTIONS", options))


def test_bond_modes_under_a_bridge_are_judged_by_the_bonding_model(tmp_path: Path) -> None:
    for mode in ("balance-rr", "balance-xor", "broadcast"):
        report, _ = diagnose(bond(tmp_path, mode))
        assert [(f.check, f.severity) for f in report.findings] == [
            ("bond.mode-under-bridge", "warning")], mode      # switch not described
    assert ids(bond(tmp_path, "active-backup")) == []
    report, _ = diagnose(bond(tmp_path, "balance-alb"))
    assert [(f.check, f.severity) for f in report.findings] == [
        ("bond.mode-under-bridge", "warning")]                # BD11 source rewriting


def test_bond_without_link_monitor(tmp_path: Path) -> None:
    assert ids(bond(tmp_path, "active-backup", "{miimon: 0}")) == ["bond.no-link-monitor"]
    assert ids(bond(tmp_path, "active-backup", "{miimon: 100}")) == []
    assert ids(bond(tmp_path, "active-backup",
                    "{miimon: 0, arp_interval: 100, arp_ip_target: 10.0.0.1}")) == []


def test_mac_flapping_and_port_state_fire_on_live_evidence_only(tmp_path: Path) -> None:
    rows = ['{bridge: br1, mac: "52:54:00:12:34:01", port: vnet0, vlan: 10}',
            '{bridge: br1, mac: "52:54:00:12:34:01", port: team1, vlan: 20}']
    assert "bridge.mac-flapping" in ids(capture(tmp_path, fdb=rows))
    assert "bridge.mac-flapping" not in ids(capture(tmp_path, fdb=rows[:1]))
    listening = ["{bridge: br1, port: vnet0, state: listening}"]
    report, _ = diagnose(capture(tmp_path, ports=listening))
    assert [(f.check, f.severity, f.subject) for f in report.findings] == [
        ("bridge.port-state", "warning", "vnet0")]
    assert ids(capture(tmp_path)) == []
    # without a captured: block the live checks are skipped, not failed
    report, _ = diagnose(write(tmp_path, TEAM_HOST.replace("RUNNER", "activebackup")))
    assert set(report.skipped) == {c.id for c in CHECKS.values() if c.needs_capture}


HOST_IP = """\
hosts:
  kvm1:
    interfaces:
      - {name: eth0, type: ethernet, mac-address: "00:50:56:a1:00:01"ETH_IP}
      - name: br0
        type: linux-bridge
        bridge: {options: {stp: {enabled: false}}, port: [{name: eth0}]}BR_IP
switches:
  sw1: {ports: [ge1, ge2]}
routers:
  gw1: {interfaces: [{name: eth0, mac-address: "00:1b:21:0a:0b:01", ipv4: 192.168.10.254/24}]}
links:
  - endpoints: [kvm1:eth0, sw1:ge1]
  - endpoints: [gw1:eth0, sw1:ge2]
"""


def test_an_address_on_an_enslaved_nic_fires_and_is_proved(tmp_path: Path) -> None:
    bad = write(tmp_path, HOST_IP.replace("ETH_IP", ", ipv4: 192.168.10.11/24")
                .replace("BR_IP", ""))
    report, ctx = diagnose(bad)
    (finding,) = report.findings
    assert finding.check == "bridge.host-ip-on-port" and finding.subject == "eth0"
    proof = prove(ctx, finding)
    assert proof["status"] == "proved"
    (probe,) = proof["probes"]
    assert probe["before"]["verdict"] == "fails" and probe["after"]["verdict"] == "works"
    assert probe["before"]["explain"]["rule"] == "N2"     # the neighbour never resolves
    good = write(tmp_path, HOST_IP.replace("ETH_IP", "")
                 .replace("BR_IP", "\n        ipv4: 192.168.10.11/24"))
    assert ids(good) == []


# -- --prove ---------------------------------------------------------------------------------

def test_prove_on_the_seed_000_topology_fails_now_and_works_with_the_fix() -> None:
    proc = doctor(str(SHARED_EXAMPLE), "--prove")
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "team.roundrobin-without-lag" in out
    assert ("vm1 -> 192.168.10.254: fails now (explain: kvm1/br1/team1: FDB says "
            "52:54:00:12:34:01 is on") in out.replace("\n    ", " ")
    assert "works with fix 1 above" in out.replace("\n    ", " ")
    data = json.loads(doctor(str(SHARED_EXAMPLE), "--prove", "--json").stdout)
    (finding,) = data["reports"][0]["findings"]
    proof = finding["prove"]
    assert proof["status"] == "proved" and proof["harness"] is None and proof["applied"] == [1]
    (probe,) = proof["probes"]
    assert probe["before"] == {"verdict": "fails", "sent": 4, "replies": 0, "explain": {
        "where": "kvm1/br1", "port": "team1", "fn": "br_forward", "rule": "B13",
        "note": "FDB says 52:54:00:12:34:01 is on ingress port team1",
        "time_ns": probe["before"]["explain"]["time_ns"]}}
    assert probe["after"]["verdict"] == "works"


def test_prove_adds_a_stated_harness_to_a_host_capture(tmp_path: Path) -> None:
    path = capture(tmp_path, "roundrobin")
    report, ctx = diagnose(path)
    proof = prove(ctx, report.findings[0])
    assert proof["harness"]["nics"] == ["ens224", "ens256"]
    assert proof["harness"]["addresses"] == ["192.168.10.254/24"]
    assert proof["status"] == "proved"
    # the harness switch has no LAG, so the fix is the host's: the second one listed
    assert report.findings[0].applied == (1,)
    text = doctor(path, "--prove").stdout.replace("\n    ", " ")
    assert "plain ports, no LAG: an assumption" in text and "works with fix 2 above" in text


def test_prove_dhcp_delay_uses_the_clients_own_schedule() -> None:
    report, ctx = diagnose(str(CASES["stp-forward-delay-dhcp"]))
    (finding,) = report.findings
    proof = prove(ctx, finding)
    (probe,) = proof["probes"]
    assert probe["kind"] == "dhcp" and proof["status"] == "proved"
    assert probe["before"]["verdict"] == "fails" and probe["after"]["verdict"] == "works"
    assert probe["before"]["explain"]["rule"] in ("B3", "B4.3")


# -- exit status, --only, --json ----------------------------------------------------------------

def test_fail_on_exit_statuses(tmp_path: Path) -> None:
    assert doctor(str(SHARED_EXAMPLE)).returncode == 1
    warning_only = str(CASES["stp-forward-delay-dhcp"])
    assert doctor(warning_only).returncode == 0
    assert doctor(warning_only, "--fail-on", "warning").returncode == 1
    info_only = str(CASES["bond-802.3ad-no-lacp"])
    assert doctor(info_only, "--fail-on", "warning").returncode == 0
    assert doctor(info_only, "--fail-on", "info").returncode == 1
    assert doctor(str(CASES["bridge-basic-dhcp"]), "--fail-on", "info").returncode == 0
    proc = doctor(str(SHARED_EXAMPLE), "--only", "bond.")
    assert proc.returncode == 0 and "no hazard found" in proc.stdout
    bad = doctor(str(SHARED_EXAMPLE), "--only", "nonsense.check")
    assert bad.returncode == 2 and "--only nonsense.check" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_json_schema_is_stable() -> None:
    proc = doctor(str(SHARED_EXAMPLE), str(CASES["stp-forward-delay-dhcp"]), "--json", "--prove")
    data = json.loads(proc.stdout)
    assert set(data) == {"schema", "engine", "exit_status", "checks", "reports", "summary"}
    assert data["schema"] == "vnetlab.doctor/1" and data["exit_status"] == proc.returncode == 1
    assert {"id", "severity", "title", "rules", "references"} == set(data["checks"][0])
    report = data["reports"][0]
    assert set(report) == {"input", "kind", "hosts", "findings", "errors", "skipped"}
    finding = report["findings"][0]
    assert set(finding) == {"check", "severity", "host", "subject", "title", "evidence",
                            "consequence", "fix", "affected", "notes", "rules", "references",
                            "provable", "prove"}
    assert set(finding["evidence"][0]) == {"kind", "file", "line", "column", "path", "text"}
    assert set(finding["fix"][0]) == {"where", "commands"}
    assert set(finding["prove"]) >= {"seed", "harness", "probes", "status", "applied"}
    assert set(data["summary"]) == {"inputs", "hosts", "unreadable", "findings", "by_check",
                                    "by_host"}
    assert data["summary"]["by_check"]["team.roundrobin-without-lag"] == {
        "severity": "error", "findings": 1, "hosts": 1}


def test_chinese_output_translates_the_doctors_own_words() -> None:
    proc = doctor(str(SHARED_EXAMPLE), "--prove", "--lang", "zh")
    assert proc.returncode == 1
    assert "网桥下的 team 使用 roundrobin" in proc.stdout and "当前失败" in proc.stdout
    assert "consequence:" not in proc.stdout and "channel-group 1 mode on" in proc.stdout
    data = json.loads(doctor(str(SHARED_EXAMPLE), "--json", "--lang", "zh").stdout)
    assert data["reports"][0]["findings"][0]["title"].startswith("team roundrobin")


# -- hostile and bad input ------------------------------------------------------------------------

def test_bad_inputs_exit_2_with_file_line_and_key(tmp_path: Path) -> None:
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"hosts:\n  kvm1: \x00\x01\x02\n")
    proc = doctor(str(binary))
    assert proc.returncode == 2 and f"{binary}:2" in proc.stdout + proc.stderr
    syntax = write(tmp_path, "hosts: [\n", "syntax.yaml")
    proc = doctor(syntax)
    assert proc.returncode == 2 and "YAML syntax" in proc.stdout
    bad_mac = capture(tmp_path, fdb=['{bridge: br1, mac: "zz:54", port: vnet0}'])
    proc = doctor(bad_mac)
    line = len(TEAM_HOST.splitlines()) + 5
    assert proc.returncode == 2
    assert f"host.yaml:{line}:" in proc.stdout and "captured.fdb[0].mac: 'zz:54' is not a MAC" \
        in proc.stdout
    bad_state = capture(tmp_path, ports=["{bridge: br1, port: vnet0, state: sleeping}"])
    proc = doctor(bad_state)
    assert proc.returncode == 2 and "captured.ports[0].state: 'sleeping' is not a bridge port" \
        in proc.stdout
    spec_error = write(tmp_path, TEAM_HOST.replace("RUNNER", "round-robin"), "spec.yaml")
    proc = doctor(spec_error)
    runner_line = next(i for i, row in enumerate(TEAM_HOST.splitlines(), 1) if "RUNNER" in row)
    assert proc.returncode == 2 and f"spec.yaml:{runner_line}:" in proc.stdout
    assert "team.runner.name: 'round-robin' is not a team runner" in proc.stdout
    proc = doctor(str(tmp_path / "missing.yaml"))
    assert proc.returncode == 2 and "No such file" in proc.stdout + proc.stderr
    for result in (proc,):
        assert "Traceback" not in result.stdout + result.stderr


def test_hostile_yaml_is_bounded(tmp_path: Path) -> None:
    bomb = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        bomb.append(f"{chr(97 + i)}: &{chr(97 + i)} " + "[" + ", ".join(
            [f"*{chr(96 + i)}"] * 9) + "]")
    proc = doctor(write(tmp_path, "\n".join(bomb) + "\n", "bomb.yaml"))
    assert proc.returncode == 2 and "aliases are expanded" in proc.stdout
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (16 * 1024 * 1024 + 10) + "\n")
    proc = doctor(str(big))
    assert proc.returncode == 2 and "larger than" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_fleet_with_one_bad_file_reports_the_rest_and_exits_2(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    (fleet / "a.yaml").write_text(SHARED_EXAMPLE.read_text())
    (fleet / "b.yaml").write_text("hosts: {kvm1: {interfaces: [{name: x, type: nope}]}}\n")
    proc = doctor(str(fleet), "--json")
    data = json.loads(proc.stdout)
    assert proc.returncode == 2 and data["exit_status"] == 2
    good, bad = data["reports"]
    assert good["findings"] and bad["errors"] and "b.yaml:1:" in bad["errors"][0]


def test_a_json_capture_reads_like_the_yaml_one(tmp_path: Path) -> None:
    from vnetlab.topology.load import parse_yaml

    yaml_path = capture(tmp_path, "roundrobin",
                        ['{bridge: br1, mac: "52:54:00:12:34:01", port: team1}'])
    data = json.loads(json.dumps(parse_yaml(yaml_path)))
    json_path = tmp_path / "host.json"
    json_path.write_text(json.dumps(data, indent=1))
    report, _ = diagnose(str(json_path))
    assert sorted(ids(yaml_path)) == sorted(f.check for f in report.findings)
    live = next(e for f in report.findings for e in f.evidence if e.kind == "live")
    assert json_path.read_text().splitlines()[live.line - 1].strip().startswith("{")


# -- the fast YAML path ---------------------------------------------------------------------------

def test_fast_yaml_gives_the_same_spec_and_positions_as_ruamel() -> None:
    from vnetlab.doctor import fastyaml
    from vnetlab.topology.load import load_topology

    paths = [p for name, p in sorted(CASES.items())] + [SHARED_EXAMPLE]
    for path in paths:
        text = path.read_text()
        fast = fastyaml.load(text)
        assert fast is not None, path
        report, ctx = diagnose(str(path))
        slow = load_topology(str(path))
        assert ctx.spec.model_dump() == slow.model_dump(), path
        for finding in report.findings:
            for evidence in finding.evidence:
                if evidence.kind != "config" or evidence.text.startswith("not set"):
                    continue
                line = text.splitlines()[evidence.line - 1]
                assert line[evidence.column - 1:].startswith(evidence.text.split(",")[0][:6]) \
                    or evidence.text.startswith(("{", "[")), (path, evidence)
    assert fastyaml.load("a: 2026-01-01\n") is None     # ruamel's timestamp: fall back
    assert fastyaml.load("a: 1_000\n") is None
    assert fastyaml.load("a: &x 1\nb: *x\n") is None     # aliases: fall back
    assert fastyaml.load("a: 1\na: 2\n") is None         # duplicate key: ruamel's error
    data, _ = fastyaml.load("mac: 52:54:00:12:34:01\nyes: no\nn: 1.5\nt: 0x0800\n") \
        or (None, None)
    assert data == {"mac": "52:54:00:12:34:01", "yes": "no", "n": 1.5, "t": 0x800}


# -- fleets ---------------------------------------------------------------------------------------

def _fleet(tmp_path: Path, count: int) -> list[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    try:
        from fleet import host_file  # bench/fleet.py: the benchmark's generator
    finally:
        sys.path.pop(0)
    paths = []
    for index in range(count):
        path = tmp_path / f"host{index:04d}.yaml"
        path.write_text(host_file(index))
        paths.append(str(path))
    return paths


def _strip(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "_lang"} for r in reports]


def test_fleet_local_pool_equals_in_process(tmp_path: Path) -> None:
    paths = _fleet(tmp_path, 120)
    local = run(paths, Task(), jobs=2)
    alone = run(paths, Task(), jobs=1)
    assert local.engine.startswith("local pool") and alone.engine == "in-process"
    assert _strip(local.reports) == _strip(alone.reports)
    checks = {f["check"] for r in local.reports for f in r["findings"]}
    assert {"team.roundrobin-without-lag", "bridge.vm-mac-on-uplink", "bond.mode-under-bridge",
            "bridge.stp-delays-dhcp", "vm.duplicate-mac"} <= checks


def test_fleet_on_a_dask_local_cluster_equals_the_local_pool(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    paths = _fleet(tmp_path, 200)
    local = run(paths, Task(), jobs=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster:
        remote = run(paths, Task(), dask=cluster.scheduler_address)
    assert remote.engine.startswith(f"dask {cluster.scheduler_address}")
    assert _strip(remote.reports) == _strip(local.reports)


# -- imports ----------------------------------------------------------------------------------

IMPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


def test_a_sosreport_is_audited_with_its_own_files_as_evidence() -> None:
    report_dir = next(IMPORTS.glob("sosreport-*"), None)
    if report_dir is None:
        pytest.skip("the import fixtures are not there")
    report, _ = diagnose(str(report_dir))
    assert report.kind == "sosreport" and not report.errors
    found = {f.check: f for f in report.findings}
    assert "team.roundrobin-without-lag" in found
    live = [e for f in report.findings for e in f.evidence if e.kind == "live"]
    assert live and all("fdb_show" in e.file and e.line > 0 for e in live)


def test_entries_an_importer_made_up_are_not_judged() -> None:
    libvirt = IMPORTS / "libvirt"
    if not libvirt.is_dir():
        pytest.skip("the import fixtures are not there")
    report, ctx = diagnose(str(libvirt))
    assert ctx.assumed and not report.findings      # the VMs' bridges are stubs


STP_CAPTURE = """\
hosts:
  kvm1:
    interfaces:
      - {name: eno1, type: ethernet, mac-address: "00:50:56:a1:00:01"}
      - name: br0
        type: linux-bridge
        bridge:
          options: {stp: {enabled: true, forward-delay: 15}}
          port: [{name: eno1}]
vms:
  vm-vnet0:
    host: kvm1
    interfaces:
      - {source: br0, target: vnet0, mac: "52:54:00:12:34:01"}
"""


def test_a_capture_cannot_see_guest_addressing_and_says_what_it_assumes(tmp_path: Path) -> None:
    """A captured VM NIC (no ipv4:) is assumed a DHCP client: the STP check fires with
    evidence that says so, and --prove simulates that client (fails now, a lease with the
    fix). A hand-written topology's NIC without ipv4: is taken as written: no client."""
    captured = write(tmp_path, STP_CAPTURE + CAPTURED.replace(
        "FDB", '    - {bridge: br0, mac: "52:54:00:12:34:01", port: vnet0}').replace(
        "PORTS", "    - {bridge: br0, port: vnet0, state: forwarding}"), "cap.yaml")
    report, ctx = diagnose(captured)
    (finding,) = [f for f in report.findings if f.check == "bridge.stp-delays-dhcp"]
    assert any(e.path == "vms.vm-vnet0.interfaces[0].ipv4.dhcp" and "not captured" in e.text
               and "assumed a DHCP client" in e.text for e in finding.evidence)
    proof = prove(ctx, finding)
    assert proof["status"] == "proved"
    (probe,) = proof["probes"]
    assert probe["before"]["verdict"] == "fails" and probe["after"]["verdict"] == "works"
    written = write(tmp_path, STP_CAPTURE, "written.yaml")
    assert "bridge.stp-delays-dhcp" not in ids(written)
