"""The OVS oracle's parsers (tests/kernel/ovs_parse.py) on outputs recorded from real Open
vSwitch 3.1.0 (tests/kernel/fixtures/ovs/).  No OVS, no root needed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

KERNEL = Path(__file__).resolve().parents[1] / "kernel"
FIXTURES = KERNEL / "fixtures" / "ovs"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vnetlab_ovs_parse", KERNEL / "ovs_parse.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


P = _load()


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def dp_names(name: str = "dpif-show.txt") -> dict[int, str]:
    return {p.dpport: p.name for p in P.parse_dpif_show(fixture(name)) if p.dpport is not None}


def test_dpif_show_every_bridge_ofport_and_datapath_port() -> None:
    ports = {(p.bridge, p.name): p for p in P.parse_dpif_show(fixture("dpif-show.txt"))}
    assert ports[("br0", "a1")].ofport == 1 and ports[("br0", "a1")].dpport == 2
    assert ports[("br0", "br0")].ofport == 65534 and ports[("br0", "br0")].kind == "tap"
    patch = ports[("br-int", "int-br-eth1")]
    assert patch.dpport is None and patch.kind == "patch: peer=phy-br-eth1"
    assert {b for b, _ in ports} == {"br0", "br-int", "br-eth1"}


def test_flood_from_access_port_tags_for_trunks() -> None:
    """``push_vlan(vid=10),1,4``: the LOCAL port and t1 get VLAN 10."""
    result = P.parse_trace(fixture("trace-flood-access.txt"), dp_names())
    assert result.outputs == [("br0", 10), ("t1", 10)]
    assert result.drop is None and not result.unparsed
    assert result.learned == ["learned that 52:54:00:00:00:01 is on port a1 in VLAN 10"]


def test_input_vlan_is_the_starting_tag_and_pop_untags() -> None:
    """A tagged input (``dl_vlan=10``) output as is keeps VLAN 10; ``pop_vlan`` untags."""
    result = P.parse_trace(fixture("trace-unicast-learned.txt"), dp_names())
    assert result.outputs == [("a1", None)]
    assert P.parse_datapath_actions("4", {4: "t1"}, 10) == ([("t1", 10)], [])


def test_patch_ports_pop_push_across_bridges() -> None:
    result = P.parse_trace(fixture("trace-patch-out.txt"), dp_names())
    assert result.outputs == [("br-int", 1), ("br-eth1", 100), ("eth1", 100)]
    assert len(result.learned) == 2
    assert P.parse_trace(fixture("trace-patch-in.txt"), dp_names()).outputs == [("vm1", None)]


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("trace-tagged-into-access.txt", "configured as VLAN 10 access port"),
        ("trace-trunk-vlan30.txt", "not configured for trunking VLAN 30"),
        ("trace-dead-vlan.txt", "not configured for trunking VLAN 0"),
        ("trace-learned-is-input.txt", "learned port is input port, dropping"),
        ("trace-reserved-mac.txt", "reserved destination MAC"),
    ],
)
def test_drop_reasons(name: str, words: str) -> None:
    result = P.parse_trace(fixture(name), dp_names())
    assert result.outputs == [] and result.datapath_actions == "drop"
    assert words in result.drop


def test_trace_from_local_port() -> None:
    result = P.parse_trace(fixture("trace-from-local.txt"), dp_names("dpif-show-local.txt"))
    assert result.outputs == [("n2", 20)]


def test_fdb_show_ports_by_name_local_and_ages_dropped() -> None:
    ofports = {p.ofport: p.name for p in P.parse_dpif_show(fixture("dpif-show.txt"))
               if p.bridge == "br0"}
    entries = P.parse_fdb_show(fixture("fdb-show-br0.txt"), ofports, "br0")
    assert ("a1", 10, "52:54:00:00:00:01") in entries and entries == sorted(entries)
    assert P.parse_fdb_show(fixture("fdb-show-local.txt"), {}, "br0") == [
        ("br0", 20, "52:54:00:00:00:0e")]


def test_defensive() -> None:
    """Unknown datapath actions are reported, not guessed; a text without actions is an
    error; unknown ports keep their number; garbage lines are skipped."""
    outputs, unparsed = P.parse_datapath_actions("set(eth(src=1)),tnl_pop(3),7", {}, None)
    assert outputs == [("dp7", None)] and unparsed == ["set(eth(src=1))", "tnl_pop(3)"]
    with pytest.raises(ValueError, match="Datapath actions"):
        P.parse_trace("ovs-appctl: cannot connect\n", {})
    assert P.parse_fdb_show("garbage\n 9 1 zz\n 12 5 52:54:00:00:00:01 3\n", {}, "br") == [
        ("of12", 5, "52:54:00:00:00:01")]
    assert P.parse_dpif_show("nonsense\n") == []
