"""VLANs: the VLAN-aware Linux bridge (B16, B17), 802.1Q VLAN devices and their
place in the receive path (VQ1-VQ4, docs/models/vlan.md), switch access/trunk/
native ports (S1), and the topology keys that configure them. Every verdict
comes from running a small topology; frames the file format cannot send (a
guest that tags its own frames) are put on a device with ``xmit``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import vnetlab
from vnetlab.devices.bond import Bond
from vnetlab.devices.bridge import Bridge
from vnetlab.devices.switch import Switch
from vnetlab.devices.vlan import VlanDevice
from vnetlab.devices.xmit_hash import XmitHashPolicy, bond_xmit_hash
from vnetlab.explain.explain import Explainer
from vnetlab.lab import Lab, RunResult
from vnetlab.net.addr import parse_mac
from vnetlab.net.frame import Frame, Raw
from vnetlab.sim.time import S
from vnetlab.sim.trace import Action, Step
from vnetlab.topology.build import build
from vnetlab.topology.load import load_topology_data, parse_yaml_text

H1, H2, H3 = "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"
BCAST = "ff:ff:ff:ff:ff:ff"


# -- helpers ----------------------------------------------------------------------------------

def lab_of(text: str) -> Lab:
    return build(load_topology_data(parse_yaml_text(textwrap.dedent(text), "t.yaml"), "t.yaml"))


def inject(lab: Lab, ref: str, *, src: str, dst: str = BCAST, vlan: int = 0,
           at: int = 1 * S) -> None:
    """Put a raw frame on ``ref`` (``node:dev``) as if its stack sent it."""
    dev = lab.device(ref)
    frame = Frame(parse_mac(dst), parse_mac(src), 0x88B5, Raw(), lab.sim.new_uid(), vlan)
    lab.sim.schedule(at - lab.sim.now, dev.xmit, frame, 0, 0)


def run_lab(lab: Lab, until: int = 3 * S) -> Lab:
    lab.sim.run(until)
    return lab


def steps(lab: Lab, action: Action | None = None, where: str | None = None) -> list[Step]:
    return [s for s in lab.sim.trace.steps if (action is None or s.action is action)
            and (where is None or s.where == where)]


def wire(lab: Lab, where: str) -> list[str]:
    """What ``where`` (``node/dev``) put on its link."""
    return [s.note for s in steps(lab, Action.TRANSMIT, where)]


def got(lab: Lab, where: str) -> list[str]:
    """What arrived at ``where`` (``node/dev``) from its link."""
    return [s.note for s in steps(lab, Action.RECEIVE, where)]


def bridge(lab: Lab, ref: str = "kvm1:br0") -> Bridge:
    return lab.bridges[ref]


def switch(lab: Lab, name: str = "sw1") -> Switch:
    return lab.switches[name]


def vm_bridge(options: str = "{}", ports: str = "[]", extra: str = "") -> str:
    """kvm1 with br0 (``options``, ``ports``) and VMs h1-h3 on taps tap1-tap3."""
    return f"""
hosts:
  kvm1:
    interfaces:
      - name: br0
        type: linux-bridge
        bridge:
          options: {options}
          port: {ports}
{extra}
vms:
  h1: {{host: kvm1, interfaces: [{{source: br0, target: tap1, mac: "{H1}"}}]}}
  h2: {{host: kvm1, interfaces: [{{source: br0, target: tap2, mac: "{H2}"}}]}}
  h3: {{host: kvm1, interfaces: [{{source: br0, target: tap3, mac: "{H3}"}}]}}
"""


FILTERING = "{vlan-filtering: true, stp: {enabled: false}}"
PLAIN = "{stp: {enabled: false}}"


# -- B16: filtering off -------------------------------------------------------------------------

def test_filtering_off_bridges_tagged_frames_unchanged_with_fdb_vid_0() -> None:
    """B16: tags are ignored, the FDB key has VID 0, the tag stays on."""
    lab = lab_of(vm_bridge(PLAIN))
    inject(lab, "h1:eth0", src=H1, vlan=20)
    run_lab(lab)
    entry = bridge(lab).fdb.find(parse_mac(H1), 0)
    assert entry is not None and entry.port is not None and entry.port.name == "tap1"
    assert bridge(lab).fdb.find(parse_mac(H1), 20) is None
    assert any("vlan 20" in n for n in wire(lab, "kvm1/tap2"))
    assert any("vlan 20" in n for n in wire(lab, "kvm1/tap3"))


# -- B17: filtering on --------------------------------------------------------------------------

def test_default_pvid_1_on_every_new_port_and_the_bridge_with_local_entries_per_vid() -> None:
    """B17: br_vlan_init/nbp_vlan_init give VID 1 "PVID untagged"; __vlan_add
    inserts the device's MAC as a local entry in that VLAN."""
    lab = lab_of(vm_bridge(FILTERING))
    br = bridge(lab)
    assert br.vg.vlans == {1: True} and br.vg.pvid == 1
    for port in br.ports:
        assert port.vg.vlans == {1: True} and port.vg.pvid == 1
        local = br.fdb.find(port.dev.mac, 1)
        assert local is not None and local.is_local and local.port is port
    assert br.vg.describe() == "VIDs 1 PVID untagged"


def test_untagged_frame_takes_the_pvid_and_is_learned_in_it() -> None:
    """B17 bullet 1 and per-VID learning (B6)."""
    lab = lab_of(vm_bridge(FILTERING, "[{name: tap1, vlan: {mode: access, tag: 100}}]"))
    inject(lab, "h1:eth0", src=H1)
    run_lab(lab)
    br = bridge(lab)
    assert br.fdb.find(parse_mac(H1), 100) is not None
    assert br.fdb.find(parse_mac(H1), 0) is None and br.fdb.find(parse_mac(H1), 1) is None
    assert any("the PVID of tap1" in s.note for s in steps(lab, Action.NOTE))


def test_untagged_frame_on_a_port_without_pvid_is_dropped_at_that_port() -> None:
    """B17 bullet 1: no PVID -> dropped by br_allowed_ingress."""
    lab = lab_of(vm_bridge("{vlan-filtering: true, vlan-default-pvid: 0, "
                                   "stp: {enabled: false}}"))
    inject(lab, "h1:eth0", src=H1)
    run_lab(lab)
    [drop] = steps(lab, Action.DROP)
    assert drop.reason == "vlan-ingress-filtered" and drop.port == "tap1"
    assert drop.fn == "br_allowed_ingress" and drop.rule == "B17"
    assert "which has no PVID" in drop.note
    assert not wire(lab, "kvm1/tap2")


def test_tagged_frame_with_a_vid_not_on_the_port_is_dropped() -> None:
    """B17 bullet 2, with the port's VLANs named as ``bridge vlan show`` does."""
    lab = lab_of(vm_bridge(FILTERING))
    inject(lab, "h1:eth0", src=H1, vlan=20)
    run_lab(lab)
    [drop] = steps(lab, Action.DROP)
    assert drop.reason == "vlan-ingress-filtered" and drop.port == "tap1"
    assert "tap1 does not carry vlan 20 (VIDs 1 PVID untagged)" in drop.note
    assert bridge(lab).fdb.lookup(parse_mac(H1)) is None      # filtered before learning


def test_egress_only_to_members_tag_popped_where_untagged_kept_where_tagged() -> None:
    """B17 bullet 3: br_allowed_egress in should_deliver, br_handle_vlan per copy."""
    ports = ("[{name: tap1, vlan: {mode: trunk, trunk-tags: [{id: 100}]}},"
             " {name: tap2, vlan: {mode: access, tag: 100}},"
             " {name: tap3, vlan: {mode: access, tag: 200}}]")
    lab = lab_of(vm_bridge(FILTERING, ports))
    inject(lab, "h1:eth0", src=H1, vlan=100)
    run_lab(lab)
    assert any("vlan" not in n for n in wire(lab, "kvm1/tap2"))       # popped: untagged
    assert not wire(lab, "kvm1/tap3")
    [skip] = [s for s in steps(lab, Action.SKIP) if s.port == "tap3"]
    assert skip.reason == "vlan-egress-filtered" and skip.rule == "B17"
    assert "tap3 does not carry vlan 100" in skip.note
    # and back: h2's untagged frame enters VLAN 100 and leaves tap1 tagged
    inject(lab, "h2:eth0", src=H2, at=4 * S)
    run_lab(lab, 5 * S)
    assert any("vlan 100" in n for n in wire(lab, "kvm1/tap1"))
    # a guest without a VLAN device drops what arrives tagged (VQ3)
    assert any(s.reason == "vlan-no-device" for s in steps(lab, Action.DROP, "h1/eth0"))


def test_learning_is_per_vid() -> None:
    """B6: the same MAC in two VLANs is two entries, on two ports."""
    ports = ("[{name: tap1, vlan: {mode: trunk, trunk-tags: [{id: 10}, {id: 20}]}},"
             " {name: tap2, vlan: {mode: trunk, trunk-tags: [{id-range: {min: 10, max: 20}}]}}]")
    lab = lab_of(vm_bridge(FILTERING, ports))
    inject(lab, "h1:eth0", src=H3, vlan=10)
    inject(lab, "h2:eth0", src=H3, vlan=20, at=2 * S)
    run_lab(lab)
    fdb = bridge(lab).fdb
    e10, e20 = fdb.find(parse_mac(H3), 10), fdb.find(parse_mac(H3), 20)
    assert e10 is not None and e10.port is not None and e10.port.name == "tap1"
    assert e20 is not None and e20.port is not None and e20.port.name == "tap2"
    assert not steps(lab, Action.MOVE)


def test_known_unicast_in_another_vlan_is_flooded_not_forwarded() -> None:
    """B6/B17: an entry learned in VLAN 10 is no FDB hit for VLAN 20."""
    ports = ("[{name: tap1, vlan: {mode: trunk, trunk-tags: [{id: 10}, {id: 20}]}},"
             " {name: tap2, vlan: {mode: trunk, trunk-tags: [{id: 10}, {id: 20}]}},"
             " {name: tap3, vlan: {mode: trunk, trunk-tags: [{id: 10}, {id: 20}]}}]")
    lab = lab_of(vm_bridge(FILTERING, ports))
    inject(lab, "h1:eth0", src=H1, vlan=10)
    inject(lab, "h2:eth0", src=H2, dst=H1, vlan=20, at=2 * S)
    run_lab(lab)
    unicast = [s for s in steps(lab, Action.FLOOD) if "unknown unicast" in s.note]
    assert len(unicast) == 1
    assert any("vlan 20" in n for n in wire(lab, "kvm1/tap3"))


def test_networkmanager_keeps_the_default_pvid_vlan_under_port_vlans() -> None:
    """NM (nm-device-bridge.c) adds bridge-port.vlans on top of the default-PVID
    VLAN the kernel gave the new port: an access port keeps VLAN 1 as an
    egress-untagged member, its PVID moves to the tag; a trunk keeps PVID 1."""
    ports = ("[{name: tap1, vlan: {mode: access, tag: 100}},"
             " {name: tap2, vlan: {mode: trunk, trunk-tags: [{id: 100}]}},"
             " {name: tap3, vlan: {mode: trunk, trunk-tags: [{id: 1}, {id: 100}]}}]")
    lab = lab_of(vm_bridge(FILTERING, ports))
    vg = {p.name: p.vg for p in bridge(lab).ports}
    assert vg["tap1"].describe() == "VIDs 1 untagged, 100 PVID untagged"
    assert vg["tap2"].describe() == "VIDs 1 PVID untagged, 100"
    # re-adding VID 1 without flags clears its PVID and untagged flags (__vlan_add_flags)
    assert vg["tap3"].describe() == "VIDs 1, 100"
    inject(lab, "h3:eth0", src=H3)
    run_lab(lab)
    [drop] = steps(lab, Action.DROP)
    assert drop.port == "tap3" and "which has no PVID" in drop.note


def test_vlan_filtering_is_on_when_a_port_has_vlan_and_off_otherwise() -> None:
    """nmstate: vlan_filtering follows the ports' ``vlan:`` unless given."""
    assert bridge(lab_of(vm_bridge(PLAIN, "[{name: tap1, vlan: {tag: 5}}]"))).vlan_filtering
    assert not bridge(lab_of(vm_bridge(PLAIN))).vlan_filtering


HOST_ON_BRIDGE = """
hosts:
  kvm1:
    interfaces:
      - name: br0
        type: linux-bridge
        bridge:
          options: {vlan-filtering: true, stp: {enabled: false}}
          port:
            - {name: tap1}
            - {name: tap2, vlan: {mode: access, tag: 100}}
        ipv4: 192.168.1.1/24
vms:
  h1:
    host: kvm1
    interfaces: [{source: br0, target: tap1, mac: "02:00:00:00:00:01", ipv4: {address: 192.168.1.21/24}}]
  h2:
    host: kvm1
    interfaces: [{source: br0, target: tap2, mac: "02:00:00:00:00:02", ipv4: {address: 192.168.1.22/24}}]
run:
  - {at: 1s, ping: {from: kvm1, to: 192.168.1.21}}
  - {at: 1s, ping: {from: kvm1, to: 192.168.1.22}}
"""


def test_bridge_device_is_a_port_of_its_own_vlan_1_for_xmit_and_pass_up(run) -> None:  # type: ignore[no-untyped-def]
    """B17 for ``self``: br_dev_xmit classifies the host's frames into the bridge's
    PVID 1. h2's tap keeps VLAN 1 egress-untagged (NetworkManager), so h2 hears
    the ARP request, but its reply enters VLAN 100 (tap2's PVID), where the
    bridge's MAC has no local entry: it is flooded as unknown unicast, never
    passed up."""
    result: RunResult = run(HOST_ON_BRIDGE)
    assert result.ping_replies("kvm1", "192.168.1.21") == 1
    assert result.ping_replies("kvm1", "192.168.1.22") == 0
    br = result.lab.bridges["kvm1:br0"]
    assert br.fdb.find(br.mac, 1) is not None and br.fdb.find(br.mac, 100) is None
    assert result.received("h2", dst="ff:ff:ff:ff:ff:ff") >= 1
    assert any(s.action is Action.FLOOD and "unknown unicast" in s.note and s.port == "tap2"
               for s in result.trace.steps)


def test_bridge_self_vlans_from_networkmanager_syntax(run) -> None:  # type: ignore[no-untyped-def]
    """``bridge.vlans: ["100 pvid untagged"]``: the PVID of the bridge itself moves
    to 100, so the host talks in VLAN 100 (NM applies it after the default PVID)."""
    text = HOST_ON_BRIDGE.replace("options: {vlan-filtering: true, stp: {enabled: false}}",
                                  'options: {vlan-filtering: true, stp: {enabled: false}, '
                                  'vlans: ["100 pvid untagged"]}')
    result: RunResult = run(text)
    assert result.lab.bridges["kvm1:br0"].vg.describe() == "VIDs 1 untagged, 100 PVID untagged"
    assert result.ping_replies("kvm1", "192.168.1.22") == 1
    assert result.ping_replies("kvm1", "192.168.1.21") == 0


# -- 802.1Q VLAN devices ----------------------------------------------------------------------

UPLINK = """
hosts:
  kvm1:
    interfaces:
      - {name: ens224, type: ethernet, mac-address: "00:50:56:a1:00:01"}
      - name: ens224.100
        type: vlan
        vlan: {base-iface: ens224, id: 100}
        ipv4: 192.168.100.11/24
      - name: br0
        type: linux-bridge
        bridge: {options: {stp: {enabled: false}}, port: [{name: ens224}]}
vms:
  h1: {host: kvm1, interfaces: [{source: br0, target: tap1, mac: "02:00:00:00:00:01"}]}
switches:
  sw1: {ports: [ge1, ge2], port-config: {ge1: {vlan: {mode: trunk}}, ge2: {vlan: {mode: trunk}}}}
routers:
  gw1:
    interfaces:
      - {name: eth0, mac-address: "00:1b:21:0a:0b:01"}
      - {name: eth0.100, type: vlan, vlan: {base-iface: eth0, id: 100}, ipv4: 192.168.100.254/24}
      - {name: eth0.200, type: vlan, vlan: {base-iface: eth0, id: 200}, ipv4: 192.168.200.254/24}
links:
  - endpoints: [kvm1:ens224, sw1:ge1]
  - endpoints: [gw1:eth0, sw1:ge2]
"""


def test_vlan_do_receive_runs_before_the_bridge_rx_handler() -> None:
    """VQ2: ens224 is a port of br0 *and* has ens224.100: VLAN 100 frames go to
    ens224.100 (the bridge never sees them), VLAN 200 frames, which have no
    VLAN device, go on tagged into br0 and are bridged with their tag (VQ3)."""
    lab = lab_of(UPLINK)
    inject(lab, "gw1:eth0.100", src="00:1b:21:0a:0b:01")
    inject(lab, "gw1:eth0.200", src="00:1b:21:0a:0b:01", at=2 * S)
    run_lab(lab)
    vq2 = [s for s in steps(lab, Action.RECEIVE, "kvm1/ens224.100")]
    assert len(vq2) == 1 and vq2[0].fn == "vlan_do_receive"
    br_steps = steps(lab, None, "kvm1/br0")
    assert all("vlan 100" not in s.note for s in br_steps)
    assert any("vlan 200" in n for n in wire(lab, "kvm1/tap1"))
    assert bridge(lab).fdb.find(parse_mac("00:1b:21:0a:0b:01"), 0) is not None


def test_vlan_device_pings_across_a_trunk_to_a_router_subinterface(run) -> None:  # type: ignore[no-untyped-def]
    """VQ1 and VQ2 end to end, and the S1 trunk carrying VLAN 100 tagged."""
    result: RunResult = run(UPLINK + """
run:
  - {at: 1s, ping: {from: kvm1, to: 192.168.100.254, count: 2}}
""")
    assert result.ping_replies("kvm1", "192.168.100.254") == 2
    sw_fdb = result.lab.switches["sw1"].fdb
    assert sw_fdb.find(parse_mac("00:50:56:a1:00:01"), 100) is not None
    assert any(s.fn == "vlan_dev_hard_start_xmit" for s in result.trace.steps)


def test_tagged_frame_without_vlan_device_or_handler_is_otherhost() -> None:
    """VQ3: no VLAN device, no rx_handler: PACKET_OTHERHOST, dropped."""
    lab = lab_of(UPLINK)
    inject(lab, "kvm1:ens224.100", src="00:50:56:a1:00:01")
    run_lab(lab)
    # gw1:eth0 has VLAN devices for 100 and 200 only; send it VLAN 300 from the switch side
    inject(lab, "sw1:ge2", src="00:50:56:a1:00:09", vlan=300, at=4 * S)
    run_lab(lab, 5 * S)
    [drop] = [s for s in steps(lab, Action.DROP, "gw1/eth0")]
    assert drop.reason == "vlan-no-device" and drop.fn == "__netif_receive_skb_core"
    assert "no VLAN device for vlan 300" in drop.note


def test_vlan_device_that_is_down_drops_its_frames() -> None:
    """VQ2: vlan_do_receive frees the frame when the VLAN device is not up."""
    lab = lab_of(UPLINK)
    lab.device("gw1:eth0.100").set_admin(False)
    inject(lab, "kvm1:ens224.100", src="00:50:56:a1:00:01")
    run_lab(lab)
    [drop] = [s for s in steps(lab, Action.DROP) if s.where == "gw1/eth0.100"]
    assert drop.fn == "vlan_do_receive" and "which is down" in drop.note


def test_vlan_device_mac_and_carrier_follow_the_real_device() -> None:
    """VQ4: the MAC of the lower device, and its carrier."""
    lab = lab_of(UPLINK)
    vdev = lab.device("kvm1:ens224.100")
    assert isinstance(vdev, VlanDevice) and vdev.mac == parse_mac("00:50:56:a1:00:01")
    assert vdev.running
    lower = lab.device("kvm1:ens224")
    assert lower.link is not None                       # type: ignore[attr-defined]
    lower.link.set_up(False)                            # type: ignore[attr-defined]
    assert not vdev.running


BOND = """
hosts:
  kvm1:
    interfaces:
      - {name: ens224, type: ethernet, mac-address: "00:50:56:a1:00:01"}
      - {name: ens256, type: ethernet, mac-address: "00:50:56:a1:00:02"}
      - name: bond0
        type: bond
        link-aggregation:
          {mode: MODE, port: [ens224, ens256], options: {miimon: 100, xmit_hash_policy: vlan+srcmac}}
      - name: bond0.100
        type: vlan
        vlan: {base-iface: bond0, id: 100}
        ipv4: 192.168.100.11/24
switches:
  sw1:
    ports: [ge1, ge2, ge3]
    lags: [{name: po1, ports: [ge1, ge2]}]
    port-config: {po1: {vlan: {mode: trunk, allowed: [100]}}, ge3: {vlan: {access: 100}}}
routers:
  gw1: {interfaces: [{name: eth0, mac-address: "00:1b:21:0a:0b:01", ipv4: 192.168.100.254/24}]}
links:
  - endpoints: [kvm1:ens224, sw1:ge1]
  - endpoints: [kvm1:ens256, sw1:ge2]
  - endpoints: [gw1:eth0, sw1:ge3]
run:
  - {at: 1s, ping: {from: kvm1, to: 192.168.100.254, count: 3}}
"""


@pytest.mark.parametrize("mode", ["active-backup", "balance-xor"])
def test_vlan_device_on_a_bond_over_a_lag_trunk(run, mode: str) -> None:  # type: ignore[no-untyped-def]
    """bond0.100: tagged frames keep their tag through the bond both ways; the
    LAG's VLAN config is given on the LAG name (S1, S3)."""
    result: RunResult = run(BOND.replace("MODE", mode))
    assert result.ping_replies("kvm1", "192.168.100.254") == 3
    bond = result.lab.devices["kvm1:bond0"]
    assert isinstance(bond, Bond)
    vdev = result.lab.devices["kvm1:bond0.100"]
    assert vdev.mac == bond.mac
    sent = [s.note for s in result.trace.steps if s.action is Action.TRANSMIT
            and s.where in ("kvm1/ens224", "kvm1/ens256")]
    assert sent and all("vlan 100" in n for n in sent)
    assert result.lab.switches["sw1"].fdb.find(bond.mac, 100) is not None


def test_bond_failover_notifies_peers_through_its_vlan_devices(run) -> None:  # type: ignore[no-untyped-def]
    """vlan_device_event() propagates NETDEV_NOTIFY_PEERS to bond0.100: its address
    gets a gratuitous ARP, tagged, on the new active slave (BD14)."""
    text = BOND.replace("MODE", "active-backup") + "  - {at: 2s, link-down: kvm1:ens224}\n"
    result: RunResult = run(text)
    sent = [s for s in result.trace.steps if s.action is Action.TRANSMIT]
    garps = [s for s in sent if s.where == "kvm1/bond0.100" and "NETDEV_NOTIFY_PEERS" in s.note]
    assert garps and "192.168.100.11" in garps[0].note
    assert any(s.where == "kvm1/ens256" and "vlan 100 ARP gratuitous 192.168.100.11" in s.note
               for s in sent)


def test_team_carries_tagged_frames_to_team_vlan_device(run) -> None:  # type: ignore[no-untyped-def]
    text = BOND.replace("""      - name: bond0
        type: bond
        link-aggregation:
          {mode: MODE, port: [ens224, ens256], options: {miimon: 100, xmit_hash_policy: vlan+srcmac}}
""", """      - name: team0
        type: team
        team: {ports: [{name: ens224}, {name: ens256}], runner: {name: activebackup}}
""").replace("bond0", "team0")
    result: RunResult = run(text)
    assert result.ping_replies("kvm1", "192.168.100.254") == 3


def test_vlan_srcmac_hash_reads_the_frame_tag() -> None:
    """BD9 bond_vlan_srcmac_hash(): the VID is XORed in when the frame is tagged."""
    src = parse_mac("00:50:56:a1:00:01")
    untagged = Frame(1, src, 0x0800, Raw(), 1)
    tagged = Frame(1, src, 0x0800, Raw(), 1, vlan=100)
    base = bond_xmit_hash(untagged, XmitHashPolicy.VLAN_SRCMAC)
    assert bond_xmit_hash(tagged, XmitHashPolicy.VLAN_SRCMAC) == base ^ 100
    assert bond_xmit_hash(tagged, XmitHashPolicy.LAYER2) == \
        bond_xmit_hash(untagged, XmitHashPolicy.LAYER2)


# -- switch access / trunk / native (S1) ---------------------------------------------------------

def switch_lab(ge1: str, ge2: str, ge3: str = "{vlan: {mode: trunk}}", extra: str = "") -> Lab:
    """Three routers r1-r3 (no IPs) on ge1-ge3 of sw1, with the given port configs."""
    return lab_of(f"""
switches:
  sw1:
    ports: [ge1, ge2, ge3]
    port-config: {{ge1: {ge1}, ge2: {ge2}, ge3: {ge3}}}
    {extra}
routers:
  r1: {{interfaces: [{{name: eth0, mac-address: "{H1}"}}]}}
  r2: {{interfaces: [{{name: eth0, mac-address: "{H2}"}}]}}
  r3: {{interfaces: [{{name: eth0, mac-address: "{H3}"}}]}}
links:
  - endpoints: [r1:eth0, sw1:ge1]
  - endpoints: [r2:eth0, sw1:ge2]
  - endpoints: [r3:eth0, sw1:ge3]
""")


def test_access_port_untagged_in_untagged_out_and_trunk_tags_other_vlans() -> None:
    """S1: access VLAN in, flood in that VLAN, tagged on a trunk (not native)."""
    lab = switch_lab("{vlan: {mode: access, access: 10}}", "{vlan: {mode: access, access: 20}}")
    inject(lab, "r1:eth0", src=H1)
    run_lab(lab)
    assert switch(lab).fdb.find(parse_mac(H1), 10) is not None
    assert not wire(lab, "sw1/ge2")                                   # VLAN 20
    assert any("vlan 10" in n for n in wire(lab, "sw1/ge3"))          # trunk, tagged
    skip = [s for s in steps(lab, Action.SKIP) if s.port == "ge2"]
    assert skip[0].reason == "vlan-egress-filtered" and "not in vlan 10" in skip[0].note


def test_trunk_native_vlan_leaves_untagged_and_untagged_frames_join_it() -> None:
    lab = switch_lab("{vlan: {mode: access, access: 10}}", "{vlan: {mode: access, access: 10}}",
                     "{vlan: {mode: trunk, native: 10}}")
    inject(lab, "r1:eth0", src=H1)
    inject(lab, "r3:eth0", src=H3, at=2 * S)
    run_lab(lab)
    assert wire(lab, "sw1/ge3") and all("vlan" not in n for n in wire(lab, "sw1/ge3"))
    assert switch(lab).fdb.find(parse_mac(H3), 10) is not None


def test_tagged_frame_on_an_access_port_is_dropped_unless_accepted() -> None:
    """S1 vendor choice: Cisco drops; ``access-tagged: accept-access-vlan`` takes
    a frame tagged with the access VLAN."""
    lab = switch_lab("{vlan: {access: 10}}", "{vlan: {access: 10}}")
    inject(lab, "r1:eth0", src=H1, vlan=10)
    run_lab(lab)
    [drop] = steps(lab, Action.DROP)
    assert drop.reason == "vlan-ingress-filtered" and drop.port == "ge1"
    assert "access port ge1" in drop.note
    lab = switch_lab("{vlan: {access: 10}}", "{vlan: {access: 10}}",
                     extra="access-tagged: accept-access-vlan")
    inject(lab, "r1:eth0", src=H1, vlan=10)
    inject(lab, "r2:eth0", src=H2, vlan=11, at=2 * S)
    run_lab(lab)
    assert any("vlan" not in n for n in wire(lab, "sw1/ge2"))
    assert [s.port for s in steps(lab, Action.DROP, "sw1")] == ["ge2"]


def test_trunk_drops_vids_it_does_not_allow_and_untagged_without_native() -> None:
    lab = switch_lab("{vlan: {mode: trunk, allowed: [10, '20-30'], native: none}}",
                     "{vlan: {access: 25}}")
    inject(lab, "r1:eth0", src=H1, vlan=40)
    inject(lab, "r1:eth0", src=H1, at=2 * S)
    inject(lab, "r1:eth0", src=H1, vlan=25, at=3 * S)
    run_lab(lab, 4 * S)
    drops = steps(lab, Action.DROP, "sw1")
    assert [d.reason for d in drops] == ["vlan-ingress-filtered"] * 2
    assert "vlan 40 is not allowed on trunk ge1 (trunk, allowed 10,20-30, native none)" \
        in drops[0].note
    assert "native none" in drops[1].note
    assert any("vlan" not in n for n in wire(lab, "sw1/ge2"))         # 25, untagged on access


def test_native_vlan_not_allowed_drops_untagged_frames() -> None:
    lab = switch_lab("{vlan: {mode: trunk, allowed: [100]}}", "{vlan: {access: 1}}")
    inject(lab, "r1:eth0", src=H1)
    run_lab(lab)
    [drop] = steps(lab, Action.DROP)
    assert "native vlan 1 is not allowed" in drop.note


def test_switch_learns_and_floods_per_vlan() -> None:
    """S1: one MAC in two VLANs is two entries; no move between them."""
    lab = switch_lab("{vlan: {mode: trunk}}", "{vlan: {mode: trunk}}")
    inject(lab, "r1:eth0", src=H3, vlan=10)
    inject(lab, "r2:eth0", src=H3, vlan=20, at=2 * S)
    run_lab(lab)
    fdb = switch(lab).fdb
    assert fdb.find(parse_mac(H3), 10).port.name == "ge1"            # type: ignore[union-attr]
    assert fdb.find(parse_mac(H3), 20).port.name == "ge2"            # type: ignore[union-attr]
    assert switch(lab).mac_moves == 0


def test_switch_defaults_are_access_vlan_1_everywhere() -> None:
    lab = lab_of("""
switches: {sw1: {ports: [ge1, ge2]}}
routers:
  r1: {interfaces: [{name: eth0, mac-address: "02:00:00:00:00:01"}]}
  r2: {interfaces: [{name: eth0, mac-address: "02:00:00:00:00:02"}]}
links: [{endpoints: [r1:eth0, sw1:ge1]}, {endpoints: [r2:eth0, sw1:ge2]}]
""")
    inject(lab, "r1:eth0", src=H1)
    run_lab(lab)
    assert switch(lab).fdb.find(parse_mac(H1), 1) is not None
    assert all("vlan" not in n for n in wire(lab, "sw1/ge2"))
    assert all(p.vlan.describe() == "access vlan 1" for p in switch(lab).logical)


# -- the failing catalog cases: the Explainer names the VLAN rule and the port --------------------

@pytest.mark.parametrize(("case", "where", "port", "rule", "reason"), [
    ("vlan-bridge-pvid-mismatch", "kvm1/br0", "vnet0", "B17", "vlan-ingress-filtered"),
    ("vlan-switch-access-mismatch", "sw1", "ge2", "S1", "vlan-egress-filtered"),
    ("vlan-subinterface-bridge-not-allowed", "sw1", "ge1", "S1", "vlan-ingress-filtered"),
])
def test_explainer_decisive_step_names_the_vlan_rule_and_port(
        case: str, where: str, port: str, rule: str, reason: str) -> None:
    from vnetlab.catalog import case_paths

    result = vnetlab.simulate(vnetlab.load_topology(str(case_paths()[case])))
    [answer] = Explainer(result).ping("vm1")
    decisive = answer.decisive
    assert decisive is not None
    assert (decisive.where, decisive.port, decisive.rule, decisive.reason) == \
        (where, port, rule, reason)
    assert "vlan" in decisive.note.lower()


# -- topology file: malformed VLAN options ------------------------------------------------------

def vnetlab_run(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "topo.yaml"
    path.write_text(textwrap.dedent(text))
    return subprocess.run([sys.executable, "-m", "vnetlab", "run", str(path)],
                          capture_output=True, text=True, check=False)


BAD_HOST = """\
hosts:
  kvm1:
    interfaces:
      - {name: ens224, type: ethernet}
      - name: ens224.0
        type: vlan
        vlan: {base-iface: ens224, id: 0}
      - name: ens224.5000
        type: vlan
        vlan: {base-iface: ens224, id: 5000}
      - name: eth9.100
        type: vlan
        vlan: {base-iface: eth9, id: 100}
      - name: self.100
        type: vlan
        vlan: {base-iface: self.100, id: 100}
      - name: ens224.7
        type: vlan
        vlan: {base-iface: ens224, id: 7}
      - name: q.7
        type: vlan
        vlan: {base-iface: ens224.7, id: 8}
      - name: br0
        type: linux-bridge
        bridge:
          options: {vlan-default-pvid: 4095, vlans: ["100 pvid bogus"]}
          port:
            - {name: ens224, vlan: {mode: access}}
            - {name: vnet0, vlan: {mode: trunk, trunk-tags: [{id-range: {min: 30, max: 20}}]}}
"""


def test_malformed_vlan_options_are_reported_at_their_position(tmp_path: Path) -> None:
    proc = vnetlab_run(tmp_path, BAD_HOST)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr
    for expected in (
        "topo.yaml:7:40: hosts.kvm1.interfaces[ens224.0].vlan.id: VLAN id 0 is out of range 1-4094",
        "topo.yaml:10:40: hosts.kvm1.interfaces[ens224.5000].vlan.id: VLAN id 5000 is out of range",
        "topo.yaml:26:40: hosts.kvm1.interfaces[br0].bridge.options.vlan-default-pvid: 4095 is "
        "not a default PVID (0 for none, or a VLAN id 1-4094)",
        "hosts.kvm1.interfaces[br0].bridge.options.vlans[0]: '100 pvid bogus' is not a bridge "
        "VLAN",
        "hosts.kvm1.interfaces[br0].bridge.port[ens224].vlan: an access port needs 'tag'",
        "hosts.kvm1.interfaces[br0].bridge.port[vnet0].vlan.trunk-tags[0].id-range: id-range "
        "min 30 is greater than max 20",
    ):
        assert expected in err, (expected, err)
    assert "Traceback" not in err


def test_vlan_reference_errors_are_reported_at_their_position(tmp_path: Path) -> None:
    text = BAD_HOST.replace("id: 0}", "id: 1}").replace("id: 5000}", "id: 2}")
    text = text.split("      - name: br0")[0] + textwrap.dedent("""\
              - name: br1
                type: linux-bridge
                bridge:
                  options: {vlan-filtering: false}
                  port: [{name: ens224, vlan: {tag: 3}}]
        routers:
          gw1:
            interfaces:
              - {name: eth0, mac-address: "00:1b:21:0a:0b:01"}
              - {name: eth0.1, type: vlan, vlan: {base-iface: eth7, id: 1}}
              - {name: eth0.2, type: vlan}
        switches:
          sw1:
            ports: [ge1]
            port-config: {ge1: {vlan: {mode: access, native: 5, allowed: [1]}}}
        links:
          - endpoints: [gw1:eth0.1, sw1:ge1]
        """)
    proc = vnetlab_run(tmp_path, text)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr
    for expected in (
        "topo.yaml:13:28: hosts.kvm1.interfaces[eth9.100].vlan.base-iface: base-iface 'eth9' is "
        "not an interface of kvm1",
        "hosts.kvm1.interfaces[self.100].vlan.base-iface: 'self.100' cannot be its own base "
        "interface",
        "hosts.kvm1.interfaces[q.7].vlan.base-iface: base-iface 'ens224.7' is itself a VLAN "
        "interface",
        "hosts.kvm1.interfaces[br1].bridge.port[ens224].vlan: port VLANs need VLAN filtering",
        "routers.gw1.interfaces[eth0.2]: a 'type: vlan' interface needs 'vlan:",
        "switches.sw1.port-config.ge1.vlan: 'allowed' needs 'mode: trunk'",
    ):
        assert expected in err, (expected, err)
    assert "Traceback" not in err


def test_vlan_id_twice_on_one_base_and_cable_to_a_subinterface(tmp_path: Path) -> None:
    proc = vnetlab_run(tmp_path, """\
        hosts:
          kvm1:
            interfaces:
              - {name: ens224, type: ethernet}
              - {name: a, type: vlan, vlan: {base-iface: ens224, id: 9}}
              - {name: b, type: vlan, vlan: {base-iface: ens224, id: 9}}
        routers:
          gw1:
            interfaces:
              - {name: eth0, mac-address: "00:1b:21:0a:0b:01"}
              - {name: eth0.1, type: vlan, vlan: {base-iface: eth0, id: 1}}
              - {name: eth0.3, type: vlan, vlan: {base-iface: eth7, id: 3}}
        switches: {sw1: {ports: [ge1, ge2]}}
        links:
          - endpoints: [gw1:eth0.1, sw1:ge1]
          - endpoints: [kvm1:a, sw1:ge2]
        expect:
          - fdb: {bridge: sw1, mac: "00:1b:21:0a:0b:01", vlan: 4095}
            port: ge1
        """)
    assert proc.returncode == 2
    err = proc.stderr
    for expected in ("hosts.kvm1.interfaces[a].vlan.id: ens224 already has VLAN interface 'b' "
                     "for vlan 9",
                     "links[0].endpoints[0]: gw1:eth0.1 is a vlan sub-interface, only ethernet "
                     "interfaces take a cable",
                     "links[1].endpoints[0]: kvm1:a is a vlan, only ethernet interfaces take a "
                     "cable",
                     "routers.gw1.interfaces[eth0.3].vlan.base-iface: base-iface 'eth7' is "
                     "not an interface of gw1",
                     "expect[0].fdb.vlan: VLAN id 4095 is out of range"):
        assert expected in err, (expected, err)
