"""Open vSwitch bridge (devices/ovs.py, docs/models/ovs.md; semantics O1-O3, S1, S2): port
VLAN modes and admission (input_vid_is_valid), egress tagging (xvlan_output_translate),
the NORMAL action (learning, moves, ageing, "learned port is input port", per-VLAN
flooding), patch ports with Neutron's translation flows, the OpenFlow table, the runtime
API the Neutron agent uses, and the topology keys with their bad-input errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ruamel.yaml import YAML

import vnetlab
from vnetlab.catalog import case_paths
from vnetlab.devices.ovs import (
    FlowError,
    OvsBridge,
    PortVlan,
    connect_patch,
    normalize_idle_time,
    parse_flow,
)
from vnetlab.errors import TopologyError
from vnetlab.explain.explain import Explainer
from vnetlab.lab import RunResult
from vnetlab.net.addr import BROADCAST, parse_mac
from vnetlab.net.frame import Frame, Raw, rarp_announce
from vnetlab.sim.sim import Sim
from vnetlab.sim.time import S
from vnetlab.sim.trace import Action
from vnetlab.topology.build import build

A, B, C = parse_mac("02:00:00:00:00:0a"), parse_mac("02:00:00:00:00:0b"), \
    parse_mac("02:00:00:00:00:0c")
DEAD = PortVlan("trunk", 4095, frozenset({4095}))       # ovs_lib _set_port_dead / replace_port


def frame(src: int, dst: int, vlan: int = 0, uid: int = 1) -> Frame:
    return Frame(dst, src, 0x88B5, Raw(46), uid, vlan)


def bridge(*ports: tuple[str, PortVlan], name: str = "br0", sim: Sim | None = None
           ) -> OvsBridge:
    br = OvsBridge(sim or Sim(), "host1", name)
    for port, vlan in ports:
        br.add_port(None, port, vlan)
    return br


def outputs(br: OvsBridge, port: str, f: Frame) -> list[tuple[str, int | None]]:
    """Where NORMAL sends ``f`` (LOCAL left out), as ofproto/trace lists it."""
    return sorted(o for o in br.xlate(port, f).outputs if o[0] != br.name)


# -- port VLAN configuration (vswitch.xml, bridge.c port_configure, bundle_set) -----------

def test_vlan_mode_defaults_and_native_vlan_forced_into_trunks() -> None:
    assert PortVlan(tag=10).effective() == ("access", 10, None)
    assert PortVlan().effective() == ("trunk", -1, None)
    assert PortVlan("trunk", 10, frozenset({20})).effective() == ("trunk", -1, frozenset({20}))
    mode, vlan, trunks = PortVlan("native-untagged", 10, frozenset({0, 20})).effective()
    assert (mode, vlan, trunks) == ("native-untagged", 10, frozenset({10, 20}))
    assert PortVlan("native-tagged", 0).effective() == ("native-tagged", 0, None)


# -- admission: input_vid_is_valid -----------------------------------------------------------

def test_access_port_takes_untagged_into_its_vlan_and_drops_tagged() -> None:
    br = bridge(("p1", PortVlan(tag=10)), ("p2", PortVlan(tag=10)), ("t", PortVlan()))
    assert outputs(br, "p1", frame(A, BROADCAST)) == [("p2", None), ("t", 10)]
    result = br.xlate("p1", frame(A, BROADCAST, vlan=10))
    assert result.outputs == []
    assert result.drop == ("dropping VLAN 10 tagged packet received on port p1 configured as "
                           "VLAN 10 access port")


def test_trunk_admits_its_vlans_only_untagged_being_vlan_0() -> None:
    br = bridge(("t", PortVlan("trunk", None, frozenset({10, 20}))), ("p10", PortVlan(tag=10)),
                ("all", PortVlan()))
    assert outputs(br, "t", frame(A, BROADCAST, vlan=10)) == [("all", 10), ("p10", None)]
    assert br.xlate("t", frame(A, BROADCAST, vlan=30)).drop == (
        "dropping VLAN 30 packet received on port t not configured for trunking VLAN 30")
    assert br.xlate("t", frame(A, BROADCAST)).drop == (
        "dropping VLAN 0 packet received on port t not configured for trunking VLAN 0")
    # a trunk of every VLAN takes untagged frames as VLAN 0 (and floods them untagged)
    assert outputs(br, "all", frame(B, BROADCAST)) == []     # no other port has VLAN 0
    br.add_port(None, "all2", PortVlan())
    assert outputs(br, "all", frame(B, BROADCAST)) == [("all2", None)]


def test_dead_vlan_port_drops_every_untagged_frame_and_the_rarp() -> None:
    """O1: Neutron's dead VLAN (tag 4095, trunk of 4095 only) refuses VLAN 0."""
    br = bridge(("qvoX", DEAD), ("int-br-eth1", PortVlan()))
    for f in (frame(A, BROADCAST), rarp_announce(7, A)):
        result = br.xlate("qvoX", f)
        assert result.outputs == []
        assert result.drop == ("dropping VLAN 0 packet received on port qvoX not configured "
                               "for trunking VLAN 0")
    assert br.fdb_show() == []                   # the check comes before learning


def test_native_vlans_admit_untagged_as_native_and_tag_per_mode() -> None:
    br = bridge(("nu", PortVlan("native-untagged", 10, frozenset({10, 20}))),
                ("nt", PortVlan("native-tagged", 10, frozenset({10, 20}))),
                ("t", PortVlan()))
    assert outputs(br, "t", frame(A, BROADCAST, vlan=10)) == [("nt", 10), ("nu", None)]
    assert outputs(br, "t", frame(A, BROADCAST, vlan=20, uid=2)) == [("nt", 20), ("nu", 20)]
    assert outputs(br, "nu", frame(B, BROADCAST)) == [("nt", 10), ("t", 10)]
    assert br.xlate("nu", frame(B, BROADCAST, vlan=30)).drop is not None


# -- NORMAL: learning, moves, ageing, same port, per-VLAN flooding ---------------------------

def test_learning_per_vlan_and_known_unicast_to_its_port_only() -> None:
    br = bridge(("p1", PortVlan(tag=10)), ("p2", PortVlan(tag=10)), ("p3", PortVlan(tag=10)),
                ("q1", PortVlan(tag=20)))
    br.xlate("p1", frame(A, BROADCAST))
    assert [(p, v, m) for p, v, m, _ in br.fdb_show()] == [("p1", 10, "02:00:00:00:00:0a")]
    assert outputs(br, "p2", frame(B, A)) == [("p1", None)]
    # the same MAC is unknown in another VLAN: flooded there
    br.add_port(None, "q2", PortVlan(tag=20))
    assert outputs(br, "q1", frame(C, A)) == [("q2", None)]


def test_move_follows_the_last_port_and_ageing_forgets() -> None:
    sim = Sim()
    br = bridge(("p1", PortVlan(tag=10)), ("p2", PortVlan(tag=10)), ("p3", PortVlan(tag=10)),
                sim=sim)
    br.xlate("p1", frame(A, BROADCAST))
    sim.now = 5 * S
    br.xlate("p2", frame(A, BROADCAST))
    assert [(p, age) for p, _, _, age in br.fdb_show()] == [("p2", 0)]
    assert any(s.action is Action.MOVE and "moved 02:00:00:00:00:0a from p1 to p2" in s.note
               for s in sim.trace.steps)
    sim.now = 5 * S + 300 * S - 1                 # MAC_ENTRY_DEFAULT_IDLE_TIME 300 s
    assert outputs(br, "p3", frame(B, A)) == [("p2", None)]
    sim.now = 5 * S + 300 * S
    assert outputs(br, "p3", frame(B, A)) == [("p1", None), ("p2", None)]
    aged = [s for s in sim.trace.steps if s.action is Action.AGE]
    assert aged and aged[0].fn == "mac_learning_run" and aged[0].rule == "S2"


def test_mac_aging_time_is_forced_into_15_to_3600_s() -> None:
    assert normalize_idle_time(1 * S) == 15 * S
    assert normalize_idle_time(86400 * S) == 3600 * S
    assert normalize_idle_time(60 * S) == 60 * S
    assert OvsBridge(Sim(), "h", "br0", ageing_time=5 * S).fdb.ageing_time == 15 * S


def test_learned_port_is_input_port_drops() -> None:
    br = bridge(("p1", PortVlan(tag=10)), ("p2", PortVlan(tag=10)))
    br.xlate("p1", frame(A, BROADCAST))
    result = br.xlate("p1", frame(B, A))
    assert result.outputs == [] and result.drop == "learned port is input port, dropping"


def test_flood_stays_in_the_vlan_and_never_returns_to_the_input_port() -> None:
    br = bridge(("a10", PortVlan(tag=10)), ("b10", PortVlan(tag=10)), ("c20", PortVlan(tag=20)),
                ("t20", PortVlan("trunk", None, frozenset({20}))), ("tall", PortVlan()))
    result = br.xlate("a10", frame(A, BROADCAST))
    assert sorted(result.outputs) == [("b10", None), ("br0", 10), ("tall", 10)]   # LOCAL: trunk
    # multicast floods the same way; the reserved 01:80:c2:00:00:0x group does not
    assert outputs(br, "a10", frame(A, parse_mac("01:00:5e:00:00:01"))) == [("b10", None),
                                                                         ("tall", 10)]
    lldp = br.xlate("a10", frame(A, parse_mac("01:80:c2:00:00:0e")))
    assert lldp.outputs == [] and lldp.drop == "packet has reserved destination MAC, dropping"


def test_xlate_without_generate_does_not_learn() -> None:
    br = bridge(("p1", PortVlan(tag=10)), ("p2", PortVlan(tag=10)))
    br.xlate("p1", frame(A, BROADCAST), learn=False)
    assert br.fdb_show() == []


# -- patch ports and Neutron's translation flows ---------------------------------------------

def neutron_host() -> tuple[OvsBridge, OvsBridge]:
    """br-int (vm port access local VLAN 1) == br-eth1 (eth1 to the provider VLAN 100)."""
    sim = Sim()
    br_int = bridge(("vm-port", PortVlan(tag=1)), name="br-int", sim=sim)
    br_eth1 = bridge(("eth1", PortVlan()), name="br-eth1", sim=sim)
    connect_patch(br_int.add_port(None, "int-br-eth1"), br_eth1.add_port(None, "phy-br-eth1"))
    br_int.add_flow("priority=2,in_port=int-br-eth1,actions=drop")
    br_eth1.add_flow("priority=2,in_port=phy-br-eth1,actions=drop")
    br_eth1.add_flow("priority=4,in_port=phy-br-eth1,dl_vlan=1,actions=mod_vlan_vid:100,NORMAL")
    br_int.add_flow("priority=3,in_port=int-br-eth1,dl_vlan=100,actions=mod_vlan_vid:1,NORMAL")
    return br_int, br_eth1


def test_patch_pair_carries_local_vlan_1_out_as_provider_vlan_100_and_back() -> None:
    br_int, br_eth1 = neutron_host()
    out = br_int.xlate("vm-port", frame(A, BROADCAST))
    assert sorted(out.outputs) == [("br-eth1:br-eth1", 100), ("br-eth1:eth1", 100),
                                   ("br-int", 1)]         # through the patch pair; LOCALs
    back = br_eth1.xlate("eth1", frame(B, A, vlan=100))
    assert back.outputs == [("br-int:vm-port", None)]      # learned, VLAN 1, access strips
    # another provider VLAN floods on br-eth1 (to its LOCAL port) but never crosses the pair
    assert br_eth1.xlate("eth1", frame(B, A, vlan=200)).outputs == [("br-eth1", 200)]
    assert br_int.xlate("vm-port", frame(A, B)).outputs == [("br-eth1:eth1", 100)]


def test_catalog_fixed_case_crosses_the_patch_pair_with_the_neutron_flows() -> None:
    result = vnetlab.simulate(vnetlab.load_topology(str(case_paths()["ovs-dead-vlan-fixed"])))
    assert result.ping_replies("vm1", "1.1.1.254") == 3
    assert result.fdb_port("compute1:br-eth1", "fa:16:3e:11:11:01") == "phy-br-eth1"
    assert result.to_json()["fdb"]["compute1:br-int"] == {"fa:16:3e:11:11:01": "tap5f1c0b2a-9d",
                                                          "00:1b:21:0a:0b:01": "int-br-eth1"}
    rewrites = [s for s in result.trace.steps if s.fn == "rule_dpif_lookup"]
    assert {s.where for s in rewrites} == {"compute1/br-int", "compute1/br-eth1"}


# -- OpenFlow table 0 --------------------------------------------------------------------------

def test_highest_priority_wins_and_an_empty_action_list_drops() -> None:
    br = bridge(("p1", PortVlan(tag=10)), ("p2", PortVlan(tag=10)), ("p3", PortVlan(tag=10)))
    br.add_flow("priority=2,in_port=p1,actions=drop")
    assert br.xlate("p1", frame(A, BROADCAST)).outputs == []
    br.add_flow("priority=5,in_port=p1,dl_dst=02:00:00:00:00:0c,actions=output:p3")
    assert br.xlate("p1", frame(A, C)).outputs == [("p3", None)]      # no VLAN translation
    assert br.xlate("p1", frame(A, B)).outputs == []
    # same match (written in another order) and priority: replaced
    br.add_flow("priority=5,dl_dst=02:00:00:00:00:0c,in_port=p1,actions=output:p2")
    assert br.xlate("p1", frame(A, C)).outputs == [("p2", None)]
    assert br.del_flows("in_port=p1") == 2                # not strict: any priority
    assert outputs(br, "p1", frame(A, BROADCAST)) == [("p2", None), ("p3", None)]


def test_dl_vlan_0xffff_strip_vlan_and_mod_vlan_vid() -> None:
    br = bridge(("t1", PortVlan()), ("t2", PortVlan()))
    br.add_flow("priority=9,in_port=t1,dl_vlan=0xffff,actions=mod_vlan_vid:7,output:t2")
    br.add_flow("priority=9,in_port=t1,dl_vlan=5,actions=strip_vlan,output:t2")
    assert br.xlate("t1", frame(A, B)).outputs == [("t2", 7)]
    assert br.xlate("t1", frame(A, B, vlan=5)).outputs == [("t2", None)]
    local = br.add_flow("priority=9,in_port=LOCAL,actions=drop")
    assert local.match == (("in_port", "br0"),) and local in br.flows


def test_secure_fail_mode_has_no_normal_flow() -> None:
    br = OvsBridge(Sim(), "h", "br0", fail_mode="secure")
    br.add_port(None, "p1")
    assert br.xlate("p1", frame(A, BROADCAST)).drop == "no flow matched (table miss): dropping"


@pytest.mark.parametrize(("text", "token"), [
    ("priority=2,in_port=p1", "no actions="),
    ("priority=70000,actions=drop", "priority=70000 is outside 0-65535"),
    ("priority=1,nw_src=10.0.0.1,actions=drop", "'nw_src=10.0.0.1'"),
    ("priority=1,actions=resubmit(,1)", "'resubmit(' "),
    ("priority=1,dl_src=zz,actions=drop", "dl_src=zz is not a MAC address"),
    ("priority=1,actions=mod_vlan_vid:5000", "mod_vlan_vid=5000 is outside 0-4095"),
    ("table=1,actions=NORMAL", "only table 0 is modelled"),
])
def test_bad_flows_name_the_flow_and_the_token(text: str, token: str) -> None:
    with pytest.raises(FlowError) as info:
        parse_flow(text)
    assert f"flow '{text}'" in str(info.value) and token in str(info.value)


# -- the runtime API the Neutron agent calls -------------------------------------------------

def test_fdb_show_flush_and_del_port_flushes_its_macs_in_every_bridge() -> None:
    br_int, br_eth1 = neutron_host()
    br_int.add_port(None, "vm2", PortVlan(tag=1))
    br_int.xlate("vm2", frame(B, BROADCAST))
    br_eth1.xlate("eth1", frame(B, BROADCAST, vlan=1))   # the same (MAC, VLAN) on br-eth1
    assert ("eth1", 1, "02:00:00:00:00:0b") in [r[:3] for r in br_eth1.fdb_show()]
    br_int.del_port("vm2")                    # bundle_flush_macs(bundle, all_ofprotos=true)
    assert br_int.fdb_show() == []
    assert [r[:3] for r in br_eth1.fdb_show()] == [("phy-br-eth1", 100, "02:00:00:00:00:0b")]
    assert "vm2" not in br_int.ports
    br_int.xlate("vm-port", frame(A, BROADCAST))
    br_int.fdb_flush()
    assert br_int.fdb_show() == []


def test_set_port_vlan_flushes_only_on_a_change() -> None:
    br = bridge(("p1", PortVlan(tag=10)), ("p2", PortVlan(tag=10)))
    br.xlate("p1", frame(A, BROADCAST))
    br.set_port_vlan("p1", PortVlan("access", 10))        # the same settings
    assert len(br.fdb_show()) == 1
    br.set_port_vlan("p1", PortVlan(tag=11))
    assert br.fdb_show() == []


DEAD_TOPO = (Path(__file__).parents[2] / "src/vnetlab/catalog/ovs-dead-vlan.yaml").read_text()


def test_set_port_vlan_from_dead_to_access_lets_the_next_frame_pass() -> None:
    """O2: port_bound -> _set_port_vlan at 4.5 s; pings at 1-5 s. The first three die
    with the ARP resolution (FAILED at 4 s, queue purged); ARP's retry at 5 s passes."""
    text = DEAD_TOPO.replace("count: 3,", "count: 5,").split("\nexpect:")[0]
    spec = vnetlab.load_topology_data(YAML(typ="safe", pure=True).load(text), "dead.yaml")
    lab = build(spec)
    end = lab.schedule_actions(list(spec.run))
    br_int = lab.ovs["compute1:br-int"]
    lab.sim.schedule(4500 * 10**6, br_int.set_port_vlan, "tap5f1c0b2a-9d", PortVlan("access", 1))
    lab.sim.run(end + 2 * S)
    result = RunResult(lab, 0, 0.0, {})
    [session] = lab.endpoints["vm1"].pings
    assert [r.reply_at is not None for r in session.records] == [False] * 3 + [True] * 2
    assert min(r.reply_at or 0 for r in session.records[3:]) > 4500 * 10**6
    bound = next(s for s in result.trace.steps if s.fn == "bundle_set")
    assert "tap5f1c0b2a-9d: trunk of VLAN 4095 -> access, tag 1" in bound.note
    assert result.fdb_port("compute1:br-int", "fa:16:3e:11:11:01") == "tap5f1c0b2a-9d"


# -- the catalog case: explain names the dead-VLAN drop -------------------------------------

def test_explain_finds_the_dead_vlan_admission_drop_at_the_tap() -> None:
    result = vnetlab.simulate(vnetlab.load_topology(str(case_paths()["ovs-dead-vlan"])))
    assert result.all_expectations_hold and result.ping_replies("vm1", "1.1.1.254") == 0
    [answer] = Explainer(result).ping("vm1")
    step = answer.decisive
    assert step is not None
    assert (step.where, step.port, step.fn, step.rule, step.reason) == (
        "compute1/br-int", "tap5f1c0b2a-9d", "input_vid_is_valid", "O1", "vlan-ingress-filtered")
    assert "not configured for trunking VLAN 0 (the dead VLAN" in step.note
    assert not any(s.where.startswith("sw1") for s in result.trace.steps
                   if s.action is Action.RECEIVE)


# -- topology keys --------------------------------------------------------------------------

VM_ON_OVS = """
hosts:
  kvm1:
    interfaces:
      - name: br-int
        type: ovs-bridge
        bridge: {{port: [{ports}]}}
vms:
  vm1:
    host: kvm1
    interfaces: [{{source: br-int, virtualport: openvswitch, mac: "02:00:00:00:00:01"{vlan1}}}]
  vm2:
    host: kvm1
    interfaces: [{{source: br-int, virtualport: openvswitch, mac: "02:00:00:00:00:02"{vlan2}}}]
run:
  - at: 1s
    send: {{from: vm1, dst: ff:ff:ff:ff:ff:ff}}
"""


def test_libvirt_vlan_tag_makes_the_tap_an_access_port(run) -> None:  # type: ignore[no-untyped-def]
    result = run(VM_ON_OVS.format(ports="", vlan1=", vlan: {tag: 5}", vlan2=", vlan: {tag: 6}"))
    br = result.lab.ovs["kvm1:br-int"]
    assert br.ports["vnet0"].vlan_cfg == PortVlan(tag=5)
    assert result.received("vm2", src="02:00:00:00:00:01") == 0
    same = run(VM_ON_OVS.format(ports="", vlan1=", vlan: {tag: 5}", vlan2=", vlan: {tag: 5}"))
    assert same.received("vm2", src="02:00:00:00:00:01") == 1
    assert same.fdb("kvm1:br-int") == {"02:00:00:00:00:01": "vnet0"}


def load_errors(tmp_path: Path, text: str) -> str:
    path = tmp_path / "topo.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(TopologyError) as info:
        vnetlab.load_topology(str(path))
    return str(info.value)


BAD = """\
hosts:
  h1:
    interfaces:
      - {name: eth1, type: ethernet}
      - {name: eth2, type: ethernet}
      - name: br-a
        type: ovs-bridge
        bridge:
          port: [{name: eth1}, {name: pa}, {name: lonely}]
          flows: ["priority=5,in_port=nowhere,actions=NORMAL", "priority=1,actions=output:eth2",
                  "priority=1,tcp,actions=drop"]
      - name: br-b
        type: ovs-bridge
        bridge: {port: [{name: eth1}, {name: pb}, {name: pc}, {name: br-b}]}
      - {name: pa, type: ovs-interface, patch: {peer: pb}}
      - {name: pb, type: ovs-interface, patch: {peer: pc}}
      - {name: pc, type: ovs-interface, patch: {peer: ghost}}
      - {name: stray, type: ovs-interface}
      - {name: lb, type: linux-bridge, bridge: {port: [{name: eth2}]}}
vms:
  vm1:
    host: h1
    interfaces: [{source: lb, virtualport: openvswitch, vlan: {tag: 3}, mac: "02:00:00:00:00:01"}]
"""


def test_ovs_reference_errors_are_reported_at_their_keys(tmp_path: Path) -> None:
    err = load_errors(tmp_path, BAD)
    for needle in [
        "topo.yaml:9:51: hosts.h1.interfaces[br-a].bridge.port[lonely].name: port 'lonely' is not "
        "an interface of h1",
        "topo.yaml:10:19: hosts.h1.interfaces[br-a].bridge.flows[0]: flow "
        "'priority=5,in_port=nowhere,actions=NORMAL' names port 'nowhere', which is not a port "
        "of br-a (its ports: br-a, eth1, lonely, pa)",
        "hosts.h1.interfaces[br-a].bridge.flows[1]: flow 'priority=1,actions=output:eth2' names "
        "port 'eth2'",
        "hosts.h1.interfaces[br-a].bridge.flows[2]: flow 'priority=1,tcp,actions=drop': unknown "
        "or unsupported match field 'tcp'",
        "hosts.h1.interfaces[br-b].bridge.port[eth1].name: interface 'eth1' is already a port of "
        "'br-a'",
        "hosts.h1.interfaces[br-b].bridge.port[br-b].name: 'br-b' is the bridge's own internal port",
        "hosts.h1.interfaces[pa].patch.peer: patch peer 'pb' names 'pc' as its peer, not 'pa'",
        "hosts.h1.interfaces[pc].patch.peer: patch peer 'ghost' is not an interface of h1",
        "hosts.h1.interfaces[stray].name: ovs-interface 'stray' is not a port of any ovs-bridge",
        "vms.vm1.interfaces[0].virtualport: 'lb' is a Linux bridge",
    ]:
        assert needle in err, needle


def test_ovs_type_errors_name_the_key(tmp_path: Path) -> None:
    err = load_errors(tmp_path, """\
        hosts:
          h1:
            interfaces:
              - name: br0
                type: ovs-bridge
                bridge:
                  options: {fail-mode: strict}
                  port: [{name: p, vlan: {mode: trunk, trunk-tags: [{id: 4096}]}}]
              - {name: p, type: ovs-interface, patch: {}}
        """)
    assert "topo.yaml:7:32: hosts.h1.interfaces[br0].bridge.options.fail-mode" in err
    assert "topo.yaml:8:66: hosts.h1.interfaces[br0].bridge.port[p].vlan.trunk-tags[0].id: " \
        "Input should be less than or equal to 4095" in err
    assert "hosts.h1.interfaces[p].patch: missing required key 'peer'" in err


def test_bad_flow_in_a_file_exits_2_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "topo.yaml"
    path.write_text(textwrap.dedent("""\
        hosts:
          h1:
            interfaces:
              - {name: eth1, type: ethernet}
              - name: br0
                type: ovs-bridge
                bridge:
                  port: [{name: eth1}]
                  flows: ["priority=3,in_port=eth1,actions=mod_vlan_vid:x,NORMAL"]
        """))
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "run", str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert ("topo.yaml:9:19: hosts.h1.interfaces[br0].bridge.flows[0]: flow "
            "'priority=3,in_port=eth1,actions=mod_vlan_vid:x,NORMAL': mod_vlan_vid=x is not a "
            "number") in proc.stderr


def test_dead_vlan_is_expressible_and_4095_is_a_valid_ovs_trunk() -> None:
    """``vlan: {mode: trunk, tag: 4095, trunk-tags: [{id: 4095}]}``: what ovs_lib sets."""
    lab = build(vnetlab.load_topology(str(case_paths()["ovs-dead-vlan"])))
    port = lab.ovs["compute1:br-int"].ports["tap5f1c0b2a-9d"]
    assert (port.mode, port.vlan, port.trunks) == ("trunk", -1, frozenset({4095}))
