"""Shared helpers: build a topology from YAML text and run it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import vnetlab
from vnetlab.lab import RunResult

REPO = Path(__file__).resolve().parent.parent
SHARED_EXAMPLE = REPO.parent / "shared" / "examples" / "team-roundrobin.yaml"


def pytest_configure(config: pytest.Config) -> None:
    """The tests read English output: a machine with a zh_* locale must not change it
    (the CLI picks its language from LC_ALL/LC_MESSAGES/LANG; --lang zh tests ask for it)."""
    import os

    os.environ["LC_ALL"] = "C.UTF-8"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/scenarios/golden/*.trace from the current model")


def run_text(tmp_path: Path, text: str, seed: int = 0, trace: str = "full") -> RunResult:
    path = tmp_path / "topo.yaml"
    path.write_text(textwrap.dedent(text))
    return vnetlab.simulate(vnetlab.load_topology(str(path)), seed=seed, trace=trace)


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    def _run(text: str, seed: int = 0, trace: str = "full") -> RunResult:
        return run_text(tmp_path, text, seed, trace)
    return _run


# One host, one bridge br0 with three VM taps; h1..h3 are the VMs.
THREE_VMS = """
hosts:
  kvm1:
    interfaces:
      - name: br0
        type: linux-bridge
        bridge:
          options: {{mac-ageing-time: {ageing}, stp: {{enabled: false}}}}
          port: []
vms:
  h1: {{host: kvm1, interfaces: [{{source: br0, target: tap1, mac: 02:00:00:00:00:01}}]}}
  h2: {{host: kvm1, interfaces: [{{source: br0, target: tap2, mac: 02:00:00:00:00:02}}]}}
  h3: {{host: kvm1, interfaces: [{{source: br0, target: tap3, mac: 02:00:00:00:00:03}}]}}
"""


def three_vms(run_lines: str, ageing: int = 300) -> str:
    return THREE_VMS.format(ageing=ageing) + "run:\n" + textwrap.indent(
        textwrap.dedent(run_lines), "  ")


# Two switches cabled twice (a loop) and a router that sends one GARP into it.
LOOP = """\
switches:
  sw1: {ports: [a, b, h]}
  sw2: {ports: [a, b]}
routers:
  r1: {interfaces: [{name: eth0, mac-address: 02:00:00:00:01:01, ipv4: 10.0.0.1/24}]}
links:
  - endpoints: [sw1:a, sw2:a]
  - endpoints: [sw1:b, sw2:b]
  - endpoints: [r1:eth0, sw1:h]
run:
  - at: 1s
    garp: {from: r1}
"""
