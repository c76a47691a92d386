"""The topology diagram: every device drawn in each format, problems marked where
the run found them, names escaped, the same bytes for the same input."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from report_fixtures import CASES, HOSTILE, HOSTILE_VM, LOOP, run_case, run_file

from vnetlab.lab import RunResult
from vnetlab.report.diagram import diagram, render, to_dot, to_mermaid, to_svg

SVG = "{http://www.w3.org/2000/svg}"


def devices(result: RunResult) -> set[str]:
    """What the lab built: every NIC, aggregate, bridge, VLAN device, tap, guest NIC,
    switch port and router interface, by its trace name; and the OVS ports that are no
    net_device (patch ports, internal ports other than the bridge's own)."""
    return {dev.where for dev in result.lab.devices.values()} | {
        f"{ovs.node}/{port.name}" for ovs in result.lab.ovs.values()
        for port in ovs.ports.values() if port.dev is None and port.name != ovs.name}


def svg_nodes(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg.split("?>", 1)[1] if svg.startswith("<?xml") else svg)
    return {g.attrib["data-where"]: g for g in root.iter(f"{SVG}g")
            if "node" in g.attrib.get("class", "").split()}


def problems(svg: str) -> tuple[set[str], set[tuple[str, str]]]:
    root = ET.fromstring(svg.split("?>", 1)[1])
    nodes = {g.attrib["data-where"] for g in root.iter(f"{SVG}g")
             if {"node", "problem"} <= set(g.attrib.get("class", "").split())}
    edges = {(p.attrib["data-a"], p.attrib["data-b"]) for p in root.iter(f"{SVG}path")
             if {"edge", "problem"} <= set(p.attrib.get("class", "").split())}
    return nodes, edges


# -- DOT: a structural parse (graphviz is optional) -------------------------------------------

TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<id>[A-Za-z_][A-Za-z0-9_]*|-?\d+(?:\.\d+)?)'
                   r"|(?P<op>--|[{}\[\];,=]))", re.S)


def dot_tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text.rstrip()):
        match = TOKEN.match(text, pos)
        assert match is not None, f"DOT does not tokenize at {text[pos:pos + 40]!r}"
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def check_dot(text: str, result: RunResult) -> None:
    tokens = dot_tokens(text)
    assert tokens[:2] == [("id", "graph"), ("id", "vnetlab")]
    depth = 0
    declared: set[str] = set()
    edges: list[tuple[str, str]] = []
    for i, (kind, value) in enumerate(tokens):
        if value == "{":
            depth += 1
        elif value == "}":
            depth -= 1
            assert depth >= 0
        elif kind == "id" and value.startswith("n_") and tokens[i + 1][1] == "[":
            declared.add(value)
        elif value == "--":
            edges.append((tokens[i - 1][1], tokens[i + 1][1]))
    assert depth == 0
    assert edges and all(a in declared and b in declared for a, b in edges)
    labels = {bytes(v[1:-1], "utf-8").decode("unicode_escape") for k, v in tokens if k == "str"}
    for where in devices(result):
        name = where.split("/", 1)[1]
        assert any(label.startswith(name + "\n") for label in labels), where
    if shutil.which("dot"):
        proc = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True,
                              check=False)
        assert proc.returncode == 0 and "Warning" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("name", ["team-roundrobin", "bond-802.3ad-lacp",
                                  "vlan-subinterface-bridge", "dhcp-no-relay"])
def test_every_device_in_every_format(name: str) -> None:
    result = run_case(name)
    graph = diagram(result)
    wheres = devices(result)
    assert set(svg_nodes(to_svg(graph))) == wheres
    check_dot(to_dot(graph), result)
    mermaid = to_mermaid(graph)
    assert mermaid.startswith("flowchart TB\n")
    for node in graph.nodes.values():
        assert f'    {node.id}["{node.name}<br/>' in mermaid or \
            f'      {node.id}["{node.name}<br/>' in mermaid, node.where
    for edge in graph.edges:
        assert re.search(rf"^  {edge.a} (---|-\.-) {edge.b}$", mermaid, re.M), edge


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_catalog_case_draws_as_well_formed_svg(name: str) -> None:
    result = run_case(name)
    svg = render(result, "svg")
    assert set(svg_nodes(svg)) == devices(result)


def test_seed_case_marks_br1_and_its_port_team1() -> None:
    """The decisive drop of seed 000: br1 drops the gateway's reply to vm1 because the
    FDB says vm1's MAC is on the ingress port team1 (B13)."""
    svg = render(run_case("team-roundrobin"), "svg")
    nodes, edges = problems(svg)
    assert nodes == {"kvm1/br1"}
    assert edges == {("kvm1/br1", "kvm1/team1")}
    title = svg_nodes(svg)["kvm1/br1"].find(f"{SVG}title")
    assert title is not None and title.text is not None
    for needle in ("fdb-says-ingress-port", "52:54:00:12:34:01", "team1", "br_forward, B13",
                   "vm1 -> 192.168.10.254"):
        assert needle in title.text, needle


def test_the_fixed_case_marks_nothing() -> None:
    nodes, edges = problems(render(run_case("team-roundrobin-static-lag"), "svg"))
    assert (nodes, edges) == (set(), set())


def test_a_forwarding_loop_is_marked_on_both_switches(tmp_path: Path) -> None:
    result = run_file(tmp_path / "loop.yaml", LOOP)
    assert [f.check for f in result.lab.findings] == ["l2.forwarding-loop"]
    svg = render(result, "svg")
    nodes, edges = problems(svg)
    assert {w.split("/")[0] for w in nodes} == {"sw1", "sw2"}
    assert edges == {("sw1/a", "sw2/a"), ("sw1/b", "sw2/b")}     # both cables of the loop
    assert "forwarding loop" in svg and "l2.forwarding-loop" in to_dot(diagram(result))


def test_a_mac_used_twice_marks_both_guest_nics() -> None:
    result = run_case("mac-duplicate-vms")
    nodes, _ = problems(render(result, "svg"))
    assert {"vm1/eth0", "vm2/eth0"} <= nodes
    assert "is used 2 times" in svg_nodes(render(result, "svg"))["vm1/eth0"].findtext(
        f"{SVG}title", "")


def test_hostile_names_are_text_in_every_format(tmp_path: Path) -> None:
    result = run_file(tmp_path / "hostile.yaml", HOSTILE)
    svg = render(result, "svg")
    nodes = svg_nodes(svg)                      # parses: nothing broke out of an attribute
    assert set(nodes) == devices(result)
    root = ET.fromstring(svg.split("?>", 1)[1])
    tags = {el.tag.replace(SVG, "") for el in root.iter()}
    assert tags <= {"svg", "title", "rect", "g", "text", "path", "line"}, tags
    assert any(el.text == f"{HOSTILE_VM} (VM)" for el in root.iter(f"{SVG}text"))
    assert "<img" not in svg and "<svg onload" not in svg and "</script>" not in svg
    dot = to_dot(diagram(result))
    check_dot(dot, result)
    mermaid = to_mermaid(diagram(result))
    for line in mermaid.splitlines():
        if not line.lstrip().startswith("%%"):
            assert not re.search(r'[<>&]', line.replace("<br/>", "")), line
            assert line.count('"') in (0, 2), line


def test_same_input_same_bytes(tmp_path: Path) -> None:
    for fmt in ("svg", "dot", "mermaid"):
        assert render(run_case("team-roundrobin"), fmt) == render(run_case("team-roundrobin"), fmt)
    outs = []
    for i, hashseed in enumerate(("0", "12345")):
        out = tmp_path / f"d{i}.svg"
        proc = subprocess.run([sys.executable, "-m", "vnetlab", "diagram", "--case",
                               "team-roundrobin", "-o", str(out), "--lang", "en"],
                              capture_output=True, text=True, check=False,
                              env={"PYTHONHASHSEED": hashseed, "PATH": "/usr/bin:/bin"})
        assert proc.returncode == 0, proc.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_cli_formats_stdout_and_errors(tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "vnetlab", "diagram", *args],
                              capture_output=True, text=True, check=False)

    proc = cli("--case", "team-roundrobin", "--format", "mermaid", "--lang", "zh")
    assert proc.returncode == 0 and proc.stdout.startswith("flowchart TB")
    assert "网桥" in proc.stdout                        # the bridge's kind, in Chinese
    proc = cli("--case", "team-roundrobin", "--format", "png")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = cli("--case", "no-such-case")
    assert proc.returncode == 2 and "no built-in case" in proc.stderr
    proc = cli("--case", "team-roundrobin", "-o", str(tmp_path / "missing" / "x.svg"))
    assert proc.returncode == 2 and "cannot write" in proc.stderr
    assert "Traceback" not in proc.stderr
    if not shutil.which("dot"):
        proc = cli("--case", "team-roundrobin", "--engine", "dot")
        assert proc.returncode == 2 and "dot is not on PATH" in proc.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts:\n  kvm1:\n    interfaces:\n      - {name: e0, type: ethernet, mtu: 5}\n")
    proc = cli(str(bad))
    assert proc.returncode == 2 and "bad.yaml:4:" in proc.stderr and "Traceback" not in proc.stderr
