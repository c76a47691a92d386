"""Bad bond/team options: each is refused at load time with the file, line and
key path of the offending value (spec.BondOptions, TeamConfig, LinkWatchSpec,
topology/check.py), through the API and through the CLI (exit status 2, no
traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import vnetlab
from vnetlab.errors import SpecError, TopologyError
from vnetlab.topology.load import parse_yaml_text

HOST = """\
hosts:
  kvm1:
    interfaces:
      - {{name: eth0, type: ethernet}}
      - {{name: eth1, type: ethernet}}
      - name: agg0
{body}
"""

AGG = "hosts.kvm1.interfaces[agg0]"

# (case id, the interface body, the marker text on the line the error must point
# at, the key path, words the message must contain)
CASES = [
    ("unknown-bond-option", """\
        type: bond
        link-aggregation:
          mode: active-backup
          options:
            miimon: 100
            colour: red
          port: [eth0, eth1]""",
     "colour: red", f"{AGG}.link-aggregation.options.colour", ["unknown key 'colour'"]),
    ("xmit-hash-policy-layer9", """\
        type: bond
        link-aggregation:
          mode: balance-xor
          options:
            xmit_hash_policy: layer9
          port: [eth0, eth1]""",
     "xmit_hash_policy: layer9", f"{AGG}.link-aggregation.options.xmit_hash_policy",
     ["'layer9'", "layer2", "layer3+4", "vlan+srcmac"]),
    ("lacp-rate-7", """\
        type: bond
        link-aggregation:
          mode: balance-xor
          options:
            lacp_rate: 7
          port: [eth0, eth1]""",
     "lacp_rate: 7", f"{AGG}.link-aggregation.options.lacp_rate", ["7", "slow", "fast"]),
    ("primary-not-a-port", """\
        type: bond
        link-aggregation:
          mode: active-backup
          options:
            primary: eth7
          port: [eth0, eth1]""",
     "primary: eth7", f"{AGG}.link-aggregation.options.primary", ["'eth7'", "not a port"]),
    ("unknown-tx-hash-field", """\
        type: team
        team:
          ports: [{name: eth0}, {name: eth1}]
          runner:
            name: loadbalance
            tx_hash: [eth, l7]""",
     "tx_hash: [eth, l7]", f"{AGG}.team.runner.tx_hash", ["'l7'", "eth", "l4"]),
    ("arp-ping-without-target", """\
        type: team
        team:
          ports: [{name: eth0}, {name: eth1}]
          runner: {name: activebackup}
          link_watch:
            name: arp_ping
            interval: 100""",
     "name: arp_ping", f"{AGG}.team.link_watch", ["arp_ping", "target_host"]),
]

# Two option combinations vnetlab refuses: arp_interval in balance-alb (the
# driver refuses it too: bond_opts unsuppmodes TLB/ALB/802.3ad) and arp_interval
# without arp_ip_target (bond_check_params resets arp_interval to 0 with a
# warning, so the ARP monitor never runs). Reported on the bond's mapping.
CROSS_CASES = [
    ("arp-interval-with-balance-alb", """\
        type: bond
        link-aggregation:
          mode: balance-alb
          options:
            arp_interval: 100
            arp_ip_target: 192.168.10.254
          port: [eth0, eth1]""",
     "arp_interval: 100", f"{AGG}.link-aggregation.options.arp_interval",
     ["arp_interval", "balance-alb"]),
    ("arp-interval-without-target", """\
        type: bond
        link-aggregation:
          mode: active-backup
          options:
            arp_interval: 100
          port: [eth0, eth1]""",
     "arp_interval: 100", f"{AGG}.link-aggregation.options.arp_interval",
     ["arp_interval", "arp_ip_target"]),
]


def text_of(body: str) -> str:
    return HOST.format(body=body)


def line_of(text: str, marker: str) -> int:
    [line] = [i for i, row in enumerate(text.splitlines(), 1) if marker in row]
    return line


def load_errors(text: str) -> list[SpecError]:
    with pytest.raises(TopologyError) as info:
        vnetlab.load_topology_data(parse_yaml_text(text, "t.yaml"), "t.yaml")
    return info.value.errors


@pytest.mark.parametrize(("body", "marker", "path", "words"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_option_is_reported_at_its_line_and_key_path(body: str, marker: str, path: str,
                                                         words: list[str]) -> None:
    """One error, at the offending value's line, with its key path."""
    text = text_of(body)
    [error] = load_errors(text)
    assert (error.file, error.line, error.path) == ("t.yaml", line_of(text, marker), path)
    assert error.column > 0
    for word in words:
        assert word in error.message, (word, error.message)


@pytest.mark.parametrize(("body", "marker", "path", "words"),
                         [c[1:] for c in CROSS_CASES], ids=[c[0] for c in CROSS_CASES])
def test_refused_option_combination_is_reported_in_the_bond(body: str, marker: str, path: str,
                                                           words: list[str]) -> None:
    """Reported once, inside the bond's link-aggregation block, naming the option."""
    text = text_of(body)
    [error] = load_errors(text)
    first = line_of(text, "link-aggregation:")
    last = line_of(text, "port: [eth0, eth1]")
    assert error.file == "t.yaml" and first <= error.line <= last
    assert error.path.startswith(f"{AGG}.link-aggregation")
    for word in words:
        assert word in str(error), (word, str(error))


@pytest.mark.parametrize(("body", "marker", "path", "words"),
                         [c[1:] for c in CROSS_CASES], ids=[c[0] for c in CROSS_CASES])
def test_refused_option_combination_points_at_arp_interval(body: str, marker: str, path: str,
                                                          words: list[str]) -> None:
    """Both refusals are about arp_interval: the error belongs at that key."""
    text = text_of(body)
    [error] = load_errors(text)
    assert (error.line, error.path) == (line_of(text, marker), path)


@pytest.mark.parametrize("body", [c[1] for c in CASES + CROSS_CASES],
                         ids=[c[0] for c in CASES + CROSS_CASES])
def test_cli_exits_2_with_file_and_line(tmp_path: Path, body: str) -> None:
    """``vnetlab run`` reports the same error as the API, as file:line:column: path."""
    text = text_of(body)
    file = tmp_path / "t.yaml"
    file.write_text(text)
    [error] = load_errors(text)                          # where the API puts it
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "run", str(file)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert f"{file}:{error.line}:{error.column}: {error.path}: " in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
