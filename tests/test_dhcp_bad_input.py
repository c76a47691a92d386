"""Bad DHCP input: every malformed server, relay, client or scenario key is an
error at file:line:column with its key path, exit status 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

BASE = """\
hosts:
  kvm1:
    interfaces:
      - {name: eno1, type: ethernet, mac-address: 00:50:56:a1:00:01}
      - name: br0
        type: linux-bridge
        bridge: {port: [{name: eno1}]}
        ipv4: {address: [{ip: 192.168.10.11, prefix-length: 24}]}
        dhcp-server: {pool: 192.168.10.100-192.168.10.199}
vms:
  vm1:
    host: kvm1
    interfaces:
      - {source: br0, mac: 52:54:00:00:00:01, ipv4: {dhcp: true}}
routers:
  gw1:
    interfaces:
      - {name: eth0, mac-address: 00:1b:21:0a:0b:01, ipv4: 192.168.20.1/24}
"""


def vnetlab_run(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "topo.yaml"
    path.write_text(textwrap.dedent(text))
    return subprocess.run([sys.executable, "-m", "vnetlab", "run", str(path)],
                          capture_output=True, text=True, check=False)


def position(text: str, needle: str) -> str:
    """``line:column`` (1-based) of the first occurrence of ``needle``."""
    for number, row in enumerate(text.splitlines(), 1):
        if needle in row:
            return f"{number}:{row.index(needle) + 1}"
    raise AssertionError(needle)


def check(tmp_path: Path, text: str, *expected: str) -> str:
    proc = vnetlab_run(tmp_path, text)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    for message in expected:
        assert message in proc.stderr, (message, proc.stderr)
    return proc.stderr


def test_the_base_file_is_valid(tmp_path: Path) -> None:
    proc = vnetlab_run(tmp_path, BASE + "duration: 1s\n")
    assert proc.returncode == 0, proc.stderr


def test_bad_pool_range_and_unknown_client_are_type_errors(tmp_path: Path) -> None:
    text = BASE.replace("192.168.10.100-192.168.10.199", "192.168.10.199-192.168.10.100")
    text = text.replace("ipv4: {dhcp: true}", "ipv4: {dhcp: true, client: dhcpcd}")
    check(tmp_path, text,
          f"topo.yaml:{position(text, '192.168.10.199-')}: "
          "hosts.kvm1.interfaces[br0].dhcp-server.pool: pool '192.168.10.199-192.168.10.100': "
          "the start is after the end",
          f"topo.yaml:{position(text, 'dhcpcd')}: vms.vm1.interfaces[0].ipv4.client: 'dhcpcd' is "
          "not a DHCP client")


def test_pool_without_dash_and_bad_durations(tmp_path: Path) -> None:
    text = BASE.replace("192.168.10.100-192.168.10.199", "192.168.10.100")
    text = text.replace("    host: kvm1\n", "    host: kvm1\n    boot-delay: soon\n")
    check(tmp_path, text, "dhcp-server.pool: '192.168.10.100' is not a pool",
          "vms.vm1.boot-delay: 'soon' is not a duration")


def test_pool_outside_the_subnet_and_reservation_outside(tmp_path: Path) -> None:
    text = BASE.replace("{pool: 192.168.10.100-192.168.10.199}",
                        "{pool: 192.168.30.100-192.168.30.199}")
    check(tmp_path, text, f"topo.yaml:{position(text, '192.168.30.100')}: "
          "hosts.kvm1.interfaces[br0].dhcp-server.pool: pool 192.168.30.100-192.168.30.199 is "
          "outside kvm1:br0's subnet 192.168.10.0/24")
    text = BASE.replace("{pool: 192.168.10.100-192.168.10.199}",
                        "{pool: 192.168.10.100-192.168.10.199, reservations: "
                        "[{mac: 52:54:00:00:00:01, ip: 10.1.1.1}]}")
    check(tmp_path, text, f"topo.yaml:{position(text, '10.1.1.1')}: hosts.kvm1.interfaces[br0]."
          "dhcp-server.reservations[0].ip: reservation 10.1.1.1 is outside the pool's subnet "
          "192.168.10.0/24")


def test_relay_without_address_and_server_and_relay_together(tmp_path: Path) -> None:
    text = BASE + "      - {name: eth1, mac-address: 00:1b:21:0a:0b:02, dhcp-relay: {server: " \
                  "10.0.0.2}}\n"
    check(tmp_path, text, f"topo.yaml:{position(text, '{server: 10.')}: routers.gw1.interfaces"
          "[eth1].dhcp-relay: a DHCP relay needs an IPv4 address on gw1:eth1")
    text = BASE.replace("ipv4: 192.168.20.1/24}", "ipv4: 192.168.20.1/24, dhcp-relay: "
                        "{server: 10.0.0.2}, dhcp-server: {pool: 192.168.20.10-192.168.20.20}}")
    check(tmp_path, text, "routers.gw1.interfaces[eth0].dhcp-relay: an interface runs a DHCP "
          "server or a relay, not both")


def test_client_knobs_must_belong_to_the_client(tmp_path: Path) -> None:
    text = BASE.replace("ipv4: {dhcp: true}",
                        "ipv4: {dhcp: true, client: dhclient, dhcp-timeout: 30s, timeout: 1.5s}")
    check(tmp_path, text,
          f"topo.yaml:{position(text, '30s, timeout')}: vms.vm1.interfaces[0].ipv4.dhcp-timeout:"
          " 'dhcp-timeout' is a networkmanager option; this interface runs dhclient",
          "vms.vm1.interfaces[0].ipv4.timeout: dhclient.conf takes whole seconds")


def test_client_knobs_need_dhcp_and_not_a_static_address(tmp_path: Path) -> None:
    text = BASE.replace("ipv4: {dhcp: true}", "ipv4: {address: 192.168.10.21/24, "
                        "client: windows, dhcp-timeout: 30s}")
    check(tmp_path, text, "vms.vm1.interfaces[0].ipv4.client: 'client' needs 'dhcp: true'",
          "vms.vm1.interfaces[0].ipv4.dhcp-timeout: 'dhcp-timeout' needs 'dhcp: true'")
    text = BASE.replace("ipv4: {dhcp: true}", "ipv4: {dhcp: true, address: 192.168.10.21/24}")
    check(tmp_path, text, "vms.vm1.interfaces[0].ipv4.dhcp: give a static address or "
          "'dhcp: true', not both")


def test_server_needs_an_address_and_a_router_needs_static(tmp_path: Path) -> None:
    text = BASE.replace("        ipv4: {address: [{ip: 192.168.10.11, prefix-length: 24}]}\n", "")
    check(tmp_path, text, "hosts.kvm1.interfaces[br0].dhcp-server: a DHCP server needs an IPv4 "
          "address on kvm1:br0")
    text = BASE.replace("ipv4: 192.168.20.1/24}", "ipv4: {dhcp: true}}")
    check(tmp_path, text, "routers.gw1.interfaces[eth0].ipv4.dhcp: a router takes static "
          "addresses")


def test_bad_netmask(tmp_path: Path) -> None:
    text = BASE.replace("{pool: 192.168.10.100-192.168.10.199}",
                        "{pool: 192.168.10.100-192.168.10.199, netmask: 255.0.255.0}")
    check(tmp_path, text, "dhcp-server.netmask: 255.0.255.0 is not a netmask")


def test_scenario_names_a_dhcp_client(tmp_path: Path) -> None:
    text = BASE + """\
run:
  - dhcp: {from: gw1}
expect:
  - dhcp: vm2
    result: bound
  - dhcp: vm1
    result: failed
    address: 192.168.10.100
  - dhcp: vm1
    result: bound
    within: 2min
duration: 1min
"""
    check(tmp_path, text,
          f"topo.yaml:{position(text, 'gw1}')}: run[0].dhcp.from: 'gw1' has no DHCP client",
          "expect[0].dhcp: 'vm2' has no DHCP client",
          "expect[1].address: 'address' goes with 'result: bound' or 'link-local'",
          "expect[2].within: 'within' is after the end of the run ('duration')")


def test_expectation_shapes(tmp_path: Path) -> None:
    text = BASE + """\
expect:
  - dhcp: vm1
    result: ok
  - ping: {from: vm1, to: 192.168.10.11}
    result: bound
  - ping: {from: vm1, to: 192.168.10.11}
    result: ok
    within: 3s
"""
    check(tmp_path, text,
          "expect[0]: a dhcp expectation needs 'result: bound|failed|link-local'",
          "expect[1]: a ping expectation takes 'result: ok|fail'",
          "expect[2]: 'address' and 'within' belong to a dhcp expectation")


def test_every_dhcp_key_has_a_type_error_at_its_value(tmp_path: Path) -> None:
    text = BASE.replace(
        "dhcp-server: {pool: 192.168.10.100-192.168.10.199}",
        "dhcp-server: {pool: 192.168.10.100-192.168.10.199, lease-time: forever, router: gw, "
        "netmask: /24, ping-check: perhaps, reservations: [{mac: 52:54, ip: 10.1}], "
        "colour: red}")
    text = text.replace("ipv4: {dhcp: true}", "ipv4: {dhcp: true, autoconnect-retries: -1, "
                        "dad-timeout: soon, retry: x1, select-timeout: x2, reboot: x3, "
                        "backoff-cutoff: x4, initial-interval: x5, one-try: maybe}")
    text = text.replace("ipv4: 192.168.20.1/24}", "ipv4: 192.168.20.1/24, dhcp-relay: "
                        "{server: ten}}")
    text += "run:\n  - dhcp: {from: vm1, count: 2}\n"
    check(tmp_path, text,
          f"topo.yaml:{position(text, 'forever')}: hosts.kvm1.interfaces[br0].dhcp-server."
          "lease-time: 'forever' is not a duration",
          "dhcp-server.router: 'gw' is not an IPv4 address",
          "dhcp-server.netmask: '/24' is not an IPv4 address",
          "dhcp-server.ping-check:",
          "dhcp-server.reservations[0].mac: '52:54' is not a MAC address",
          "dhcp-server.reservations[0].ip: 10.1 is not an IPv4 address",
          "dhcp-server.colour: unknown key 'colour'",
          "vms.vm1.interfaces[0].ipv4.autoconnect-retries:",
          "ipv4.dad-timeout: 'soon' is not a duration",
          "ipv4.retry: 'x1' is not a duration", "ipv4.select-timeout: 'x2' is not a duration",
          "ipv4.reboot: 'x3' is not a duration", "ipv4.backoff-cutoff: 'x4' is not a duration",
          "ipv4.initial-interval: 'x5' is not a duration", "ipv4.one-try:",
          "routers.gw1.interfaces[eth0].dhcp-relay.server: 'ten' is not an IPv4 address",
          "run[0].dhcp.count: unknown key 'count'")
