"""vnetlab's Open vSwitch model (``devices/ovs.py``) against real Open vSwitch, frame by frame.

Each scenario is ONE topology YAML (nmstate's ``ovs-bridge``/``ovs-interface`` shape, see
``docs/topology.md``).  It is built twice: by ``vnetlab.topology.build`` (the model) and, from
the same parsed spec, in a private ``ovs-vswitchd`` with ``datapath_type=netdev`` in a network
namespace (:mod:`ovs_oracle`; ethernet ports are veths, patch ports ``type=patch``, flows
``ovs-ofctl add-flow``).  The steps then run on both: every frame is traced by
``ovs-appctl ofproto/trace BR FLOW -generate`` (which learns, like a real frame) and by
``OvsBridge.xlate(in_port, frame, learn=True)``; port reconfigurations are ``ovs-vsctl set
Port`` / ``OvsBridge.set_port_vlan``.

Each test first asserts what the cited rule predicts on REAL OVS (so a broken harness cannot
pass vacuously), then that the model agrees: the set of (output port, VLAN on the wire) of
every frame (flood order is not compared), drop vs. forward (drop texts are recorded, not
compared: they are phrased differently), and after every step each bridge's MAC table
(port, VLAN, MAC; ages are not compared).

Optional (the issue says so): when the OVS packages could not be fetched the tests are
skipped with the reason ``tests/kernel/ovs_fetch.sh`` wrote.  Nothing else skips them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest

from vnetlab.devices.ovs import OvsBridge, PortVlan
from vnetlab.lab import Lab as SimLab
from vnetlab.net.addr import parse_mac
from vnetlab.net.frame import Frame, Raw, rarp_announce, with_vlan
from vnetlab.topology.build import build
from vnetlab.topology.load import load_topology_data, parse_yaml_text
from vnetlab.topology.spec import OvsBridgeInterface, OvsInterface, OvsPortSpec, TopologySpec

from .netns import TEST_ETHERTYPE, Lab
from .ovs_oracle import OvsOracle, unavailable_reason
from .ovs_parse import TraceResult

pytestmark = pytest.mark.kernel

BROADCAST = "ff:ff:ff:ff:ff:ff"
RARP = 0x8035
HOST = "kvm1"


@pytest.fixture
def ovs(lab: Lab) -> Iterator[OvsOracle]:
    """A private ovs-vswitchd in a namespace of ``lab``; stopped (and checked for leftover
    processes) after the test, also when it fails."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"!!! OVS ORACLE NOT RUN: {reason}. It is optional; run "
                    "`sh tests/kernel/ovs_fetch.sh` as root to enable it.")
    with OvsOracle(lab=lab) as oracle:
        yield oracle
    assert not oracle.leftover_processes()


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Send:
    """A frame entering ``port`` of ``bridge`` (``vlan``: its 802.1Q tag, None untagged)."""

    bridge: str
    port: str
    src: str
    dst: str
    vlan: int | None = None
    ethertype: int = TEST_ETHERTYPE

    def flow(self) -> str:
        """The ``ofproto/trace`` flow."""
        text = f"in_port={self.port},dl_src={self.src},dl_dst={self.dst}"
        if self.vlan is not None:
            text += f",dl_vlan={self.vlan}"
        return text + f",dl_type={self.ethertype:#06x}"

    def frame(self, uid: int) -> Frame:
        """The model's frame."""
        src, dst = parse_mac(self.src), parse_mac(self.dst)
        if self.ethertype == RARP and dst == parse_mac(BROADCAST):
            frame = rarp_announce(uid, src)
        else:
            frame = Frame(dst, src, self.ethertype, Raw(46), uid)
        return with_vlan(frame, self.vlan) if self.vlan is not None else frame

    def __str__(self) -> str:
        tag = f" VLAN {self.vlan}" if self.vlan is not None else " untagged"
        return f"{self.bridge}:{self.port} <- {self.src} > {self.dst}{tag} {self.ethertype:#06x}"


@dataclass(frozen=True)
class SetPort:
    """``ovs-vsctl set Port NAME tag=T [vlan_mode=M] [trunks=..]``, then ``clear`` columns
    (the Neutron agent's ``_set_port_vlan`` clears ``vlan_mode`` and ``trunks``, O2)."""

    bridge: str
    port: str
    tag: int | None = None
    mode: str | None = None
    trunks: tuple[int, ...] = ()
    clear: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"set Port {self.port} tag={self.tag} mode={self.mode} trunks={list(self.trunks)}" + (
            f" clear {','.join(self.clear)}" if self.clear else "")


Step = Send | SetPort


@dataclass
class Observed:
    """One ``Send`` on both sides."""

    send: Send
    real: TraceResult
    model_outputs: list[tuple[str, int | None]]
    model_drop: str | None

    @property
    def real_set(self) -> set[tuple[str, int | None]]:
        return set(self.real.outputs)

    @property
    def model_set(self) -> set[tuple[str, int | None]]:
        return set(self.model_outputs)


@dataclass
class Run:
    """Everything both sides did; ``mismatches`` lists every disagreement."""

    observed: list[Observed] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    drops: list[tuple[str, str, str]] = field(default_factory=list)   # (step, real, model)

    def check(self) -> None:
        """simulator == real OVS, every disagreement listed."""
        assert not self.mismatches, "vnetlab OVS model != real OVS:\n  " + "\n  ".join(self.mismatches)


# --------------------------------------------------------------------------- the two builds


def load(text: str, name: str) -> TopologySpec:
    """The scenario's YAML as vnetlab parses it (the same spec builds both sides)."""
    return load_topology_data(parse_yaml_text(text, name), name)


def port_columns(port: OvsPortSpec) -> dict[str, object]:
    """nmstate's OVS port ``vlan:`` as Port columns, written out independently of
    ``topology/build.py``: ``mode`` -> ``vlan_mode`` (``trunk`` + ``enable-native`` ->
    ``native-untagged``), ``tag``, ``trunk-tags`` -> ``trunks``."""
    vlan = port.vlan
    if vlan is None:
        return {}
    cols: dict[str, object] = {}
    mode = "native-untagged" if vlan.mode == "trunk" and vlan.enable_native else vlan.mode
    if mode is not None:
        cols["vlan_mode"] = mode
    if vlan.tag is not None:
        cols["tag"] = vlan.tag
    trunks = sorted({vid for tag in vlan.trunk_tags for vid in tag.vids()})
    if trunks:
        cols["trunks"] = trunks
    return cols


def realize(ovs: OvsOracle, spec: TopologySpec, host: str = HOST) -> list[str]:
    """Build ``host``'s OVS bridges of ``spec`` in the real OVS; return the bridge names."""
    ifaces = spec.hosts[host].interfaces
    patches = {i.name: i.patch.peer for i in ifaces if isinstance(i, OvsInterface) and i.patch}
    internal = {i.name for i in ifaces if isinstance(i, OvsInterface) and i.patch is None}
    bridges = [i for i in ifaces if isinstance(i, OvsBridgeInterface)]
    for br in bridges:
        ageing = br.bridge.options.mac_aging_time // 1_000_000_000
        ovs.add_bridge(br.name, mac_aging_time=str(ageing))
    for br in bridges:
        for port in br.bridge.port:
            cols = port_columns(port)
            if port.name in patches:
                ovs.add_port(br.name, port.name, iface_type="patch", peer=patches[port.name], columns=cols)
            elif port.name in internal:
                ovs.add_port(br.name, port.name, iface_type="internal", columns=cols)
            else:
                ovs.add_port(br.name, port.name, columns=cols)
    for br in bridges:
        for flow in br.bridge.flows:
            ovs.add_flow(br.name, flow)
    return [br.name for br in bridges]


def model_bridges(lab: SimLab, names: Sequence[str], host: str = HOST) -> dict[str, OvsBridge]:
    return {name: lab.ovs[f"{host}:{name}"] for name in names}


def _short(port: str) -> str:
    """The model names a patch peer's ports ``bridge:port``; OVS names are global."""
    return port.rpartition(":")[2]


def run_both(ovs: OvsOracle, yaml_text: str, name: str, steps: Sequence[Step]) -> Run:
    """Build the YAML on both sides, run ``steps`` on both, compare after every step."""
    spec = load(yaml_text, name)
    names = realize(ovs, spec)
    model = model_bridges(build(spec), names)
    run = Run()
    for index, step in enumerate(steps, 1):
        label = f"step {index} ({step})"
        if isinstance(step, Send):
            real = ovs.trace(step.bridge, step.flow())
            assert not real.unparsed, f"{label}: datapath actions not understood: {real.unparsed}"
            xl = model[step.bridge].xlate(step.port, step.frame(index), learn=True)
            obs = Observed(step, real, [(_short(p), v) for p, v in xl.outputs], xl.drop)
            run.observed.append(obs)
            if obs.real_set != obs.model_set:
                run.mismatches.append(f"{label}: outputs real={sorted(obs.real_set, key=str)} "
                                      f"model={sorted(obs.model_set, key=str)}")
            if len(obs.real.outputs) != len(obs.model_outputs):
                run.mismatches.append(f"{label}: output count real={len(obs.real.outputs)} "
                                      f"model={len(obs.model_outputs)}")
            if real.drop is not None or xl.drop is not None:
                run.drops.append((label, str(real.drop), str(xl.drop)))
        else:
            cols = [f"tag={step.tag}"] if step.tag is not None else []
            if step.mode is not None:
                cols.append(f"vlan_mode={step.mode}")
            if step.trunks:
                cols.append("trunks=" + ",".join(str(t) for t in step.trunks))
            ovs.set_port(step.port, *cols, clear=step.clear)
            mode = None if "vlan_mode" in step.clear else step.mode
            trunks = frozenset() if "trunks" in step.clear else frozenset(step.trunks)
            model[step.bridge].set_port_vlan(step.port, PortVlan(mode, step.tag, trunks))
        for bridge in names:
            real_fdb = ovs.fdb_show(bridge)
            model_fdb = sorted((p, v, m) for p, v, m, _age in model[bridge].fdb_show())
            if real_fdb != model_fdb:
                run.mismatches.append(f"{label}: fdb/show {bridge} real={real_fdb} model={model_fdb}")
    return run


# --------------------------------------------------------------------------- scenarios

M1, M2, M3, M4, MT = (f"52:54:00:00:00:{n:02x}" for n in (1, 2, 3, 4, 0xA0))

ACCESS_TRUNK = """\
# a: access ports tag 10 (a1, a3) and 20 (a2; internal port mgmt0), a trunk of VLANs 10
# and 20 (t1)
hosts:
  kvm1:
    interfaces:
      - {name: a1, type: ethernet}
      - {name: a2, type: ethernet}
      - {name: a3, type: ethernet}
      - {name: t1, type: ethernet}
      - {name: mgmt0, type: ovs-interface}
      - name: br0
        type: ovs-bridge
        bridge:
          port:
            - {name: a1, vlan: {mode: access, tag: 10}}
            - {name: a2, vlan: {mode: access, tag: 20}}
            - {name: a3, vlan: {mode: access, tag: 10}}
            - {name: t1, vlan: {mode: trunk, trunk-tags: [{id: 10}, {id: 20}]}}
            - {name: mgmt0, vlan: {mode: access, tag: 20}}
"""


def test_access_and_trunk_ports(ovs: OvsOracle) -> None:
    """Scenario a (``xlate_normal``: ``input_vid_is_valid``, flood to ``xbundle_includes_vlan``
    ports, ``xvlan_output_translate``; S1 learning)."""
    steps: list[Step] = [
        Send("br0", "a1", M1, BROADCAST),             # 1 flood in VLAN 10
        Send("br0", "t1", MT, M1, vlan=10),           # 2 learned: only a1, untagged
        Send("br0", "a2", M2, BROADCAST),             # 3 flood in VLAN 20
        Send("br0", "a1", M1, MT),                    # 4 known unicast back to the trunk, tagged
        Send("br0", "a1", M1, BROADCAST, vlan=10),    # 5 tagged into an access port: drop
        Send("br0", "t1", MT, BROADCAST, vlan=30),    # 6 VLAN 30 into the trunk: drop
        Send("br0", "t1", MT, BROADCAST),             # 7 untagged (VLAN 0) into the trunk: drop
    ]
    run = run_both(ovs, ACCESS_TRUNK, "ovs-oracle-access-trunk.yaml", steps)
    o = run.observed
    # real OVS behaves as the rules say (the harness is sound)
    assert o[0].real_set == {("a3", None), ("t1", 10), ("br0", 10)}
    assert o[1].real_set == {("a1", None)}
    assert o[2].real_set == {("t1", 20), ("br0", 20), ("mgmt0", None)}
    assert o[3].real_set == {("t1", 10)}
    assert [x.real.outputs for x in o[4:]] == [[], [], []]
    assert "access port" in str(o[4].real.drop) and "trunking VLAN 30" in str(o[5].real.drop)
    # the model agrees
    run.check()


DEAD_VLAN = """\
# b: Neutron's dead VLAN on a new port (O1): tag 4095, vlan_mode trunk, trunks [4095]
hosts:
  kvm1:
    interfaces:
      - {name: qvo1, type: ethernet}
      - {name: qvo2, type: ethernet}
      - {name: eth1, type: ethernet}
      - name: br-int
        type: ovs-bridge
        bridge:
          port:
            - {name: qvo1, vlan: {mode: trunk, tag: 4095, trunk-tags: [{id: 4095}]}}
            - {name: qvo2, vlan: {mode: access, tag: 1}}
            - {name: eth1}
"""


def test_dead_vlan_then_bound(ovs: OvsOracle) -> None:
    """Scenario b (O1, O2): an untagged RARP from the dead-VLAN port is dropped
    (``input_vid_is_valid``: a trunk of VLAN 4095 does not trunk VLAN 0); after the agent
    binds it (``tag=1``, ``vlan_mode``/``trunks`` cleared) the same frame is forwarded."""
    steps: list[Step] = [
        Send("br-int", "qvo1", M1, BROADCAST, ethertype=RARP),     # 1 dead: dropped
        Send("br-int", "qvo1", M1, BROADCAST, vlan=4095, ethertype=RARP),  # 2 tagged 4095
        SetPort("br-int", "qvo1", tag=1, clear=("vlan_mode", "trunks")),
        Send("br-int", "qvo1", M1, BROADCAST, ethertype=RARP),     # 4 bound: flooded in VLAN 1
        Send("br-int", "qvo2", M2, M1),                             # 5 learned on qvo1
    ]
    run = run_both(ovs, DEAD_VLAN, "ovs-oracle-dead-vlan.yaml", steps)
    o = run.observed
    assert o[0].real.outputs == [] and "VLAN 0" in str(o[0].real.drop)
    assert o[2].real_set == {("qvo2", None), ("eth1", 1), ("br-int", 1)}
    assert o[3].real_set == {("qvo1", None)}
    run.check()


LEARNING = """\
# c: three access ports of VLAN 10 and a trunk (t1)
hosts:
  kvm1:
    interfaces:
      - {name: pa, type: ethernet}
      - {name: pb, type: ethernet}
      - {name: pc, type: ethernet}
      - {name: t1, type: ethernet}
      - name: br0
        type: ovs-bridge
        bridge:
          port:
            - {name: pa, vlan: {mode: access, tag: 10}}
            - {name: pb, vlan: {mode: access, tag: 10}}
            - {name: pc, vlan: {mode: access, tag: 10}}
            - {name: t1}
"""


def test_learning_moves_and_input_port_drop(ovs: OvsOracle) -> None:
    """Scenario c (S1, ``update_learning_table``, ``xlate_normal``): a MAC learned on pa,
    then seen on pb, moves; a frame to a MAC learned on its own input port is dropped
    ("learned port is input port"); a multicast source is not learned; a port's new tag
    flushes what it learned (``bundle_set``); 01:80:c2:00:00:00 is not forwarded
    (``is_admissible``, ``forward-bpdu`` false)."""
    steps: list[Step] = [
        Send("br0", "pa", M1, BROADCAST),             # 1 M1 on pa
        Send("br0", "pc", M3, M1),                    # 2 -> pa
        Send("br0", "pb", M1, BROADCAST),             # 3 M1 moves to pb
        Send("br0", "pc", M3, M1),                    # 4 -> pb
        Send("br0", "pb", M4, M1),                    # 5 learned port is input port
        Send("br0", "t1", "01:00:5e:00:00:01", M3, vlan=10),  # 6 multicast source
        Send("br0", "t1", MT, M3, vlan=10),           # 7 -> pc untagged
        Send("br0", "pa", M2, "01:80:c2:00:00:00"),   # 8 STP group address
        SetPort("br0", "pc", tag=20),                 # 9 pc's entries are flushed
        Send("br0", "t1", MT, M3, vlan=10),           # 10 M3 unknown now: flood VLAN 10
    ]
    run = run_both(ovs, LEARNING, "ovs-oracle-learning.yaml", steps)
    o = run.observed
    assert o[1].real_set == {("pa", None)} and o[3].real_set == {("pb", None)}
    assert o[4].real.outputs == [] and "input port" in str(o[4].real.drop)
    assert o[6].real_set == {("pc", None)}
    assert ("pc", None) not in o[8].real_set and ("pa", None) in o[8].real_set
    run.check()


PATCH = """\
# d: br-int (VM port on local VLAN 1) patched to br-eth1 (eth1: provider VLAN 100), with
# the Neutron OVS agent's VLAN translation and drop flows (provision_local_vlan,
# setup_physical_bridges)
hosts:
  kvm1:
    interfaces:
      - {name: eth1, type: ethernet}
      - {name: vm1, type: ethernet}
      - {name: int-br-eth1, type: ovs-interface, patch: {peer: phy-br-eth1}}
      - {name: phy-br-eth1, type: ovs-interface, patch: {peer: int-br-eth1}}
      - name: br-eth1
        type: ovs-bridge
        bridge:
          port: [{name: eth1}, {name: phy-br-eth1}]
          flows:
            - "priority=4,in_port=phy-br-eth1,dl_vlan=1,actions=mod_vlan_vid:100,NORMAL"
            - "priority=2,in_port=phy-br-eth1,actions=drop"
      - name: br-int
        type: ovs-bridge
        bridge:
          port:
            - {name: int-br-eth1}
            - {name: vm1, vlan: {mode: access, tag: 1}}
          flows:
            - "priority=3,in_port=int-br-eth1,dl_vlan=100,actions=mod_vlan_vid:1,NORMAL"
            - "priority=2,in_port=int-br-eth1,actions=drop"
"""


def test_patch_ports_with_vlan_translation(ovs: OvsOracle) -> None:
    """Scenario d (``patch_port_output``; O2 local VLAN <-> provider VLAN): out of the VM
    the frame leaves eth1 tagged 100; in from eth1 on VLAN 100 it reaches the VM untagged;
    another provider VLAN dies at br-int's drop flow."""
    steps: list[Step] = [
        Send("br-int", "vm1", M1, BROADCAST),                 # 1 out: eth1 VLAN 100
        Send("br-eth1", "eth1", M2, M1, vlan=100),            # 2 in: vm1 untagged
        Send("br-int", "vm1", M1, M2),                        # 3 known unicast out
        Send("br-eth1", "eth1", M3, BROADCAST, vlan=100),     # 4 broadcast in
        Send("br-eth1", "eth1", M4, BROADCAST, vlan=200),     # 5 other VLAN: dropped at br-int
        Send("br-eth1", "eth1", M4, BROADCAST),               # 6 untagged: dropped at br-int
    ]
    run = run_both(ovs, PATCH, "ovs-oracle-patch.yaml", steps)
    o = run.observed
    assert ("eth1", 100) in o[0].real_set and ("vm1", None) not in o[0].real_set
    assert o[1].real_set == {("vm1", None)}
    assert o[2].real_set == {("eth1", 100)}
    assert ("vm1", None) in o[3].real_set
    assert ("vm1", None) not in o[4].real_set and ("vm1", None) not in o[5].real_set
    run.check()


NATIVE = """\
# e: native-untagged (n1, native VLAN 10) and native-tagged (n2, native VLAN 20) ports,
# trunking 10 and 20; n3 native-untagged (trunk + enable-native) of every VLAN
hosts:
  kvm1:
    interfaces:
      - {name: a1, type: ethernet}
      - {name: a2, type: ethernet}
      - {name: n1, type: ethernet}
      - {name: n2, type: ethernet}
      - {name: n3, type: ethernet}
      - name: br0
        type: ovs-bridge
        bridge:
          port:
            - {name: a1, vlan: {mode: access, tag: 10}}
            - {name: a2, vlan: {mode: access, tag: 20}}
            - {name: n1, vlan: {mode: native-untagged, tag: 10, trunk-tags: [{id: 10}, {id: 20}]}}
            - {name: n2, vlan: {mode: native-tagged, tag: 20, trunk-tags: [{id: 10}, {id: 20}]}}
            - {name: n3, vlan: {mode: trunk, enable-native: true, tag: 30}}
"""


def test_native_untagged_and_native_tagged(ovs: OvsOracle) -> None:
    """Scenario e (``xvlan_input_translate``/``xvlan_output_translate``): an untagged frame
    gets the native VLAN; the native VLAN leaves a native-untagged port untagged and a
    native-tagged port tagged; other trunked VLANs leave tagged."""
    steps: list[Step] = [
        Send("br0", "n1", M1, BROADCAST),             # 1 VLAN 10 (native of n1)
        Send("br0", "n1", M1, BROADCAST, vlan=20),    # 2 VLAN 20 tagged
        Send("br0", "n2", M2, BROADCAST),             # 3 VLAN 20 (native of n2)
        Send("br0", "a1", M3, M1),                    # 4 to n1 in VLAN 10: untagged
        Send("br0", "a2", M4, M2),                    # 5 to n2 in VLAN 20: tagged
        Send("br0", "a2", M4, M1),                    # 6 M1 in VLAN 20 (learned from step 2)
        Send("br0", "n3", MT, BROADCAST),             # 7 VLAN 30 (native of n3)
        Send("br0", "n1", M1, BROADCAST, vlan=30),    # 8 n1 does not trunk 30: drop
        Send("br0", "n3", MT, BROADCAST, vlan=10),    # 9 n3 trunks every VLAN
    ]
    run = run_both(ovs, NATIVE, "ovs-oracle-native.yaml", steps)
    o = run.observed
    assert ("a1", None) in o[0].real_set and ("n2", 10) in o[0].real_set
    assert ("a2", None) in o[2].real_set and ("n1", 20) in o[2].real_set
    assert o[3].real_set == {("n1", None)}
    assert o[4].real_set == {("n2", 20)}
    assert o[7].real.outputs == []
    run.check()


EDGES = """\
# f: corners of bundle_set and xlate_normal: a native-tagged port whose trunks lack its native
# VLAN (n1), a trunk that trunks VLAN 0 (t0), a tag without vlan_mode (t2: access), a VLAN
# pushed by a flow before NORMAL on an access port, strip_vlan + output
hosts:
  kvm1:
    interfaces:
      - {name: a1, type: ethernet}
      - {name: a2, type: ethernet}
      - {name: n1, type: ethernet}
      - {name: t0, type: ethernet}
      - {name: t2, type: ethernet}
      - name: br0
        type: ovs-bridge
        bridge:
          port:
            - {name: a1, vlan: {mode: access, tag: 10}}
            - {name: a2, vlan: {mode: access, tag: 20}}
            - {name: n1, vlan: {mode: native-tagged, tag: 30, trunk-tags: [{id: 10}]}}
            - {name: t0, vlan: {mode: trunk, trunk-tags: [{id: 0}, {id: 10}]}}
            - {name: t2, vlan: {tag: 40, trunk-tags: [{id: 10}]}}
          flows:
            - "priority=5,in_port=a2,dl_type=0x88b6,actions=mod_vlan_vid:10,NORMAL"
            - "priority=5,in_port=t0,dl_type=0x88b6,actions=strip_vlan,output:a1"
"""


def test_port_vlan_corners_and_flow_actions(ovs: OvsOracle) -> None:
    """Scenario f: ``bundle_set`` forces a native VLAN into the trunks and VLAN 0 out; a
    trunk of VLAN 0 takes untagged frames; ``tag`` alone makes an access port (its
    ``trunks`` ignored, ``port_configure``); NORMAL checks the VLAN as the flow's actions left
    it (``mod_vlan_vid`` before NORMAL on an access port: dropped by ``input_vid_is_valid``);
    unknown unicast with only the LOCAL port in its VLAN; reserved and other multicast
    destinations; a priority-tagged (VID 0) frame on an access port."""
    m1, m2, m3, m4, m5, m6, m7, m8 = (f"52:54:00:00:01:{n:02x}" for n in range(1, 9))
    unknown = "52:54:00:00:00:99"
    steps: list[Step] = [
        Send("br0", "a1", m1, unknown),                               # 1
        Send("br0", "a2", m2, unknown),                               # 2 only LOCAL in VLAN 20
        Send("br0", "n1", m3, BROADCAST),                             # 3 native VLAN 30
        Send("br0", "n1", m3, BROADCAST, vlan=30),                    # 4
        Send("br0", "t0", m4, BROADCAST),                             # 5 VLAN 0 trunked
        Send("br0", "t2", m5, BROADCAST),                             # 6 access 40
        Send("br0", "a2", m6, BROADCAST, ethertype=0x88B6),           # 7 pushed VLAN 10
        Send("br0", "t0", m7, BROADCAST, vlan=10, ethertype=0x88B6),  # 8 strip_vlan,output:a1
        Send("br0", "a1", "01:02:03:04:05:06", BROADCAST),            # 9 multicast source
        Send("br0", "a1", m8, "01:80:c2:00:00:0e"),                   # 10 reserved (LLDP)
        Send("br0", "a1", m8, "01:80:c2:00:00:10"),                   # 11 not reserved
        Send("br0", "a1", m8, "33:33:00:00:00:01"),                   # 12 IPv6 multicast
        Send("br0", "a1", m8, BROADCAST, vlan=0),                     # 13 priority tag
    ]
    run = run_both(ovs, EDGES, "ovs-oracle-edges.yaml", steps)
    o = run.observed
    assert o[1].real_set == {("br0", 20)}
    assert o[2].real_set == {("br0", 30)} and ("n1", 10) in o[0].real_set
    assert o[4].real_set == {("br0", None)} and o[5].real_set == {("br0", 40)}
    assert o[6].real.outputs == [] and "VLAN 20 access port" in str(o[6].real.drop)
    assert o[7].real_set == {("a1", None)}
    assert o[9].real.outputs == [] and o[10].real.outputs != []
    run.check()
