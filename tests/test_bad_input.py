"""Bad input: every error at once, at file:line:column with its key path, exit
status 2, no traceback, whatever the file holds."""

import subprocess
import sys
import textwrap
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED_EXAMPLE


def vnetlab_run(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vnetlab", "run", str(path)],
                          capture_output=True, text=True, check=False)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topo.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_the_issue_example_error_is_reported_at_its_position(tmp_path: Path) -> None:
    text = SHARED_EXAMPLE.read_text().replace("name: roundrobin", "name: round-robin")
    proc = vnetlab_run(write(tmp_path, text))
    assert proc.returncode == 2
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "round-robin" in row)
    col = text.splitlines()[line - 1].index("round-robin") + 1
    assert (f"topo.yaml:{line}:{col}: hosts.kvm1.interfaces[team1].team.runner.name: "
            "'round-robin' is not a team runner (expected one of: 'roundrobin'") in proc.stderr
    assert "Traceback" not in proc.stderr


def test_all_reference_errors_are_reported_together(tmp_path: Path) -> None:
    proc = vnetlab_run(write(tmp_path, """\
        hosts:
          kvm1:
            interfaces:
              - {name: eth0, type: ethernet, mac-address: 02:00:00:00:00:01}
              - {name: eth0, type: ethernet, mac-address: 02:00:00:00:00:01}
              - name: bond0
                type: bond
                link-aggregation: {mode: active-backup, port: [eth0, eth9]}
              - name: br0
                type: linux-bridge
                bridge: {port: [{name: eth0}]}
        vms:
          vm1: {host: kvm1, interfaces: [{source: br7, mac: "fe:54:00:00:00:01"}]}
          vm2: {host: kvm9, interfaces: []}
        switches:
          kvm1: {ports: [p1]}
        links:
          - endpoints: [kvm1:eth0, sw9:p1]
          - endpoints: [kvm1:br0, kvm1:eth0]
        """))
    assert proc.returncode == 2
    err = proc.stderr
    for expected in (
        "topo.yaml:5:16: hosts.kvm1.interfaces[eth0].name: interface 'eth0' is defined twice",
        "link-aggregation.port[1]: port 'eth9' is not an interface of kvm1",
        "interface 'eth0' is already a port of 'bond0'",
        "vms.vm1.interfaces[0].source: 'br7' is not a linux-bridge or ovs-bridge on kvm1",
        "Unable to use MAC address starting with reserved value 0xFE - 'fe:54:00:00:00:01'",
        "vms.vm2.host: host 'kvm9' is not defined",
        "switches.kvm1: name 'kvm1' is already used in hosts",
        "links[0].endpoints[1]: 'sw9' is not a host, switch, router or VM",
        "links[1].endpoints[0]: kvm1:br0 is a linux-bridge, only ethernet interfaces take a cable",
        "links[1].endpoints[1]: 'kvm1:eth0' is already cabled by links[0]",
    ):
        assert expected in err, expected
    assert "Traceback" not in err


def test_type_errors_name_the_key(tmp_path: Path) -> None:
    proc = vnetlab_run(write(tmp_path, """\
        hosts:
          kvm1:
            interfaces:
              - {name: e1, type: ethernet, mac-address: 52:54:00:12:34, colour: red}
              - {name: b1, type: bridge}
        links:
          - {endpoints: [a:b], delay: 3 parsecs}
        run:
          - {at: soon, ping: {from: vm1, to: 1.2.3.4}}
        """))
    assert proc.returncode == 2
    # line 4, column of the value (1-based): the position a user's editor shows
    for expected in ("topo.yaml:4:49: hosts.kvm1.interfaces[e1].mac-address: '52:54:00:12:34' "
                     "is not a MAC address",
                     "hosts.kvm1.interfaces[e1].colour: unknown key 'colour'",
                     "hosts.kvm1.interfaces[b1].type: 'bridge' is not an interface type",
                     "links[0].endpoints: List should have at least 2 items",
                     "links[0].delay: '3 parsecs' is not a duration",
                     "run[0].at: 'soon' is not a duration"):
        assert expected in proc.stderr, expected


def test_type_and_reference_errors_come_together(tmp_path: Path) -> None:
    """A type error in one host does not hide a dangling reference elsewhere,
    and references into the broken host are not reported as dangling."""
    proc = vnetlab_run(write(tmp_path, """\
        hosts:
          kvm1:
            interfaces:
              - {name: e1, type: ethernet, mtu: abc}
          kvm2:
            interfaces:
              - {name: br0, type: linux-bridge, bridge: {port: [{name: e9}]}}
        vms:
          vm1: {host: kvm1, interfaces: [{source: br0, mac: 52:54:00:00:00:01}]}
        links:
          - endpoints: [kvm1:e1, sw1:p1]
        """))
    assert proc.returncode == 2
    assert "hosts.kvm1.interfaces[e1].mtu: 'abc' is not an integer" in proc.stderr
    assert "bridge.port[e9].name: port 'e9' is not an interface of kvm2" in proc.stderr
    assert "links[0].endpoints[1]: 'sw1' is not a host" in proc.stderr
    assert "vms.vm1" not in proc.stderr and "kvm1:e1" not in proc.stderr
    assert "3 errors" in proc.stderr


def test_yaml_syntax_error_has_a_position(tmp_path: Path) -> None:
    proc = vnetlab_run(write(tmp_path, "hosts:\n  kvm1: [1,\n"))
    assert proc.returncode == 2 and "topo.yaml:3:1: YAML syntax" in proc.stderr


def test_unquoted_macs_stay_macs(tmp_path: Path) -> None:
    """YAML 1.2: 52:54:00:12:34:01 is a string, not a base-60 number."""
    import vnetlab

    spec = vnetlab.load_topology(str(SHARED_EXAMPLE))
    assert spec.vms["vm1"].interfaces[0].mac == 0x525400123401


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, "
              f"*a{i-1}, *a{i-1}, *a{i-1}]" for i in range(1, 9)]
    proc = vnetlab_run(write(tmp_path, "\n".join(lines) + "\n"))
    assert proc.returncode == 2 and "aliases are expanded" in proc.stderr


def test_missing_file(tmp_path: Path) -> None:
    proc = vnetlab_run(tmp_path / "nope.yaml")
    assert proc.returncode == 2 and "cannot read" in proc.stderr


EXAMPLE_LINES = SHARED_EXAMPLE.read_text().splitlines() if SHARED_EXAMPLE.exists() else [""]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(line=st.integers(0, len(EXAMPLE_LINES) - 1),
       junk=st.sampled_from(["", "x", ":", "- ", "[", "{a: 1}", "-1", "0", "true", "null",
                             "ff:ff", "  ", "&a", "*b", "'", "999999999999999999999"]),
       cut=st.integers(0, 40))
def test_mutated_example_never_crashes(tmp_path: Path, line: int, junk: str, cut: int) -> None:
    """Any mutation of the example either runs (0/1) or is refused cleanly (2)."""
    import vnetlab
    from vnetlab.errors import TopologyError

    lines = list(EXAMPLE_LINES)
    lines[line] = lines[line][:cut] + junk
    path = tmp_path / "mutant.yaml"
    path.write_text("\n".join(lines))
    try:
        spec = vnetlab.load_topology(str(path))
    except TopologyError as exc:
        assert exc.errors and all(str(e).startswith(str(path)) for e in exc.errors)
        return
    vnetlab.simulate(spec)


def test_an_error_in_a_value_added_after_parsing_points_at_its_parent() -> None:
    """A document changed in memory (sweep --vary) has keys without positions: the
    error names the nearest node that has one instead of crashing."""
    import vnetlab
    from vnetlab.catalog import case_paths
    from vnetlab.errors import TopologyError
    from vnetlab.topology.load import parse_yaml

    doc = parse_yaml(str(case_paths()["team-roundrobin"]))
    doc["vms"]["vm1"]["boot-delay"] = "banana"
    try:
        vnetlab.load_topology_data(doc, "x.yaml")
    except TopologyError as exc:
        message = str(exc)
    else:
        raise AssertionError("a bad boot-delay was accepted")
    assert "x.yaml:" in message and "vms.vm1.boot-delay" in message
