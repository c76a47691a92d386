"""MTU (docs/models/mtu-and-mac-conflicts.md, MTU1-MTU5): senders fragment to their device's MTU,
bridges drop what is longer than the egress port's (is_skb_forwardable) or, with
br_netfilter, refragment it; switch ports drop giants; receivers reassemble."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import vnetlab
from vnetlab.catalog import case_paths
from vnetlab.explain.explain import Explainer
from vnetlab.lab import RunResult
from vnetlab.net.frame import EtherType, Frame, Icmp, IcmpType, Ipv4, ip_fragment

VM1 = "192.168.10.21"
GW = "192.168.10.254"


def topo(*, vm_mtu: str = "", eth0_mtu: str = "", switch_mtu: str = "", gw_mtu: str = "",
         bridge_mtu: str = "", firewall: str = "", run: str = "") -> str:
    """kvm1: br0 = eth0 + vnet0 (vm1); sw1; gw1 - with MTUs where given."""
    return f"""
hosts:
  kvm1:
    interfaces:
      - {{name: eth0, type: ethernet, mac-address: "00:50:56:a1:00:01"{eth0_mtu}}}
      - name: br0
        type: linux-bridge
        bridge: {{options: {{stp: {{enabled: false}}}}, port: [{{name: eth0}}]}}
        ipv4: 192.168.10.11/24{bridge_mtu}
{firewall}
vms:
  vm1:
    host: kvm1
    interfaces:
      - {{source: br0, mac: "52:54:00:12:34:01", ipv4: {{address: {VM1}/24}}{vm_mtu}}}
switches:
  sw1: {{ports: [ge1, ge2]{switch_mtu}}}
routers:
  gw1:
    interfaces: [{{name: eth0, mac-address: "00:1b:21:0a:0b:01", ipv4: {GW}/24{gw_mtu}}}]
links:
  - endpoints: [kvm1:eth0, sw1:ge1]
  - endpoints: [gw1:eth0, sw1:ge2]
run:
{textwrap.indent(textwrap.dedent(run), "  ")}
"""


def ping(size: int, frm: str = "vm1", to: str = GW, extra: str = "") -> str:
    return f"- at: 1s\n  ping: {{from: {frm}, to: {to}, count: 2, interval: 1s, size: {size}{extra}}}\n"


JUMBO = ", mtu: 9000"


def fragments_sent(result: RunResult, where: str) -> int:
    return sum(1 for s in result.trace.steps if s.where == where and s.fn == "ip_finish_output2"
               and " frag " in s.note)


def test_ip_fragment_cuts_at_multiples_of_8_and_only_the_last_has_no_mf() -> None:
    packet = Ipv4(1, 2, Icmp(IcmpType.ECHO_REQUEST, 1, 1, 8000), ident=9)   # 8008 bytes of data
    pieces = ip_fragment(packet, 1500)
    assert [p.frag_len for p in pieces] == [1480] * 5 + [608]
    assert [p.frag_off for p in pieces] == [0, 1480, 2960, 4440, 5920, 7400]
    assert [p.mf for p in pieces] == [True] * 5 + [False]
    assert all(p.length <= 1500 and p.ident == 9 and not p.df for p in pieces)
    again = ip_fragment(pieces[0], 576)                  # a fragment cut again keeps its offsets
    assert [(p.frag_off, p.mf) for p in again] == [(0, True), (552, True), (1104, True)]


def test_a_1500_vm_fragments_a_big_ping_and_the_far_end_reassembles_it(run) -> None:
    """MTU2/MTU5: ping -s 8000 from a 1500-byte guest leaves in 6 fragments (DF clear:
    it does not fit, IP_PMTUDISC_WANT); gw1 answers only the whole packet."""
    result = run(topo(run=ping(8000)))
    assert result.ping_replies("vm1", GW) == 2
    assert fragments_sent(result, "vm1") == 12
    assert any(s.where == "gw1" and s.fn == "ip_defrag" and "reassembled 6 fragments" in s.note
               for s in result.trace.steps)


def test_a_9000_vm_sends_the_ping_whole(run) -> None:
    """The guest's MTU fits: one 8028-byte packet with DF, no fragment."""
    result = run(topo(vm_mtu=JUMBO, eth0_mtu=JUMBO, switch_mtu=", mtu: 9216", gw_mtu=JUMBO,
                      run=ping(8000)))
    assert result.ping_replies("vm1", GW) == 2
    assert fragments_sent(result, "vm1") == 0


def test_bridge_drops_a_frame_longer_than_the_egress_port_and_names_both_mtus(run) -> None:
    """MTU3: is_skb_forwardable on eth0 (1500); the guest and its tap are 9000."""
    result = run(topo(vm_mtu=JUMBO, run=ping(8000)))
    assert result.ping_replies("vm1", GW) == 0
    drop = next(s for s in result.trace.steps if s.reason == "pkt-too-big")
    assert drop.where == "kvm1/br0" and drop.port == "eth0" and drop.rule == "MTU3"
    assert "eth0's MTU 1500" in drop.note and "vnet0 (MTU 9000)" in drop.note
    assert "no ICMP" in drop.note


def test_is_skb_forwardable_allows_4_bytes_over_the_mtu(run) -> None:
    """len <= mtu + hard_header_len + VLAN_HLEN: a 1504-byte packet passes a 1500 port
    (and the switch, set to 1504, takes it)."""
    result = run(topo(vm_mtu=", mtu: 1504", switch_mtu=", mtu: 1504", gw_mtu=", mtu: 1504",
                      run=ping(1476)))
    assert result.ping_replies("vm1", GW) == 2
    result = run(topo(vm_mtu=", mtu: 1505", switch_mtu=", mtu: 1505", gw_mtu=", mtu: 1505",
                      run=ping(1477)))
    assert result.ping_replies("vm1", GW) == 0


def test_bridge_mtu_is_the_lowest_port_mtu_unless_set(run) -> None:
    """MTU1: br_mtu_auto_adjust; libvirt gives a tap without <mtu> the bridge's MTU and
    the guest keeps 1500; with <mtu> both get it."""
    lab = run(topo(eth0_mtu=JUMBO, run="- wait: 1s\n")).lab
    br0 = lab.bridges["kvm1:br0"]
    assert br0.mtu == 9000 and lab.devices["kvm1:vnet0"].mtu == 9000
    assert lab.devices["vm1:eth0"].mtu == 1500
    lab = run(topo(eth0_mtu=JUMBO, vm_mtu=", mtu: 1400", run="- wait: 1s\n")).lab
    assert lab.bridges["kvm1:br0"].mtu == 1400 and lab.devices["vm1:eth0"].mtu == 1400
    note = next(s for s in lab.sim.trace.steps if s.fn == "br_mtu_auto_adjust")
    assert "eth0 9000, vnet0 1400" in note.note
    lab = run(topo(bridge_mtu="\n        mtu: 9000", run="- wait: 1s\n")).lab
    assert lab.bridges["kvm1:br0"].mtu == 9000 and lab.devices["kvm1:eth0"].mtu == 1500


def test_host_traffic_fragments_at_the_bridge_mtu(run) -> None:
    result = run(topo(run=ping(3000, frm="kvm1")))
    assert result.ping_replies("kvm1", GW) == 2
    assert fragments_sent(result, "kvm1") == 6


def test_switch_drops_giants(run) -> None:
    """MTU4: a 9000-byte host uplink, a switch at its default 1500."""
    result = run(topo(eth0_mtu=JUMBO, vm_mtu=JUMBO, run=ping(8000)))
    drop = next(s for s in result.trace.steps if s.reason == "giant")
    assert drop.where == "sw1/ge1" and "MTU 1500" in drop.note
    assert result.ping_replies("vm1", GW) == 0


BRNF = """\
    firewall:
      br-netfilter: true
      iptables: "*filter\\n-A FORWARD -j ACCEPT\\nCOMMIT\\n"
"""


def test_br_netfilter_drops_a_df_packet_and_refragments_one_without_df(run) -> None:
    """br_nf_dev_queue_xmit -> br_nf_ip_fragment: DF -> dropped (FRAGFAILS); no DF ->
    cut again at the egress MTU, so the ping works."""
    with_df = run(topo(vm_mtu=JUMBO, firewall=BRNF, run=ping(8000)))
    drop = next(s for s in with_df.trace.steps if s.reason == "pkt-too-big")
    assert drop.fn == "br_nf_ip_fragment" and with_df.ping_replies("vm1", GW) == 0
    no_df = run(topo(vm_mtu=JUMBO, firewall=BRNF, run=ping(8000, extra=", pmtudisc: dont")))
    assert no_df.ping_replies("vm1", GW) == 2
    assert any(s.fn == "br_nf_dev_queue_xmit" and "into 6 fragments" in s.note
               for s in no_df.trace.steps)


def test_ping_m_do_refuses_to_send_a_packet_over_the_mtu(run) -> None:
    """iputils -M do: IP_PMTUDISC_DO; sendmsg fails with EMSGSIZE."""
    result = run(topo(run=ping(2000, extra=", pmtudisc: do")))
    drop = next(s for s in result.trace.steps if s.reason == "pkt-too-big")
    assert drop.where == "vm1" and "message too long, mtu=1500" in drop.note
    assert result.ping_replies("vm1", GW) == 0


def test_an_incomplete_datagram_is_dropped_after_ipfrag_time(run) -> None:
    """MTU5: ip_expire after 30 s with what arrived."""
    result = run(topo(run="- wait: 1s\n"))
    lab = result.lab
    gw = lab.endpoints["gw1"]
    dev = lab.devices["gw1:eth0"]
    whole = Ipv4(0xC0A80A15, 0xC0A80AFE, Icmp(IcmpType.ECHO_REQUEST, 1, 1, 3000), ident=77)
    first = ip_fragment(whole, 1500)[0]
    gw.rx(dev, Frame(dev.mac, 0x525400123401, EtherType.IPV4, first, 999), 0)
    lab.sim.run(lab.sim.now + 31_000_000_000)
    drop = next(s for s in lab.sim.trace.steps if s.reason == "frag-reasm-timeout")
    assert "1480 bytes arrived in 1 fragments" in drop.note and drop.fn == "ip_expire"
    assert gw.frag_queues == {}


def test_catalog_case_explains_the_mtu_drop() -> None:
    result = vnetlab.simulate(vnetlab.load_topology(str(case_paths()["mtu-jumbo-vm-1500-uplink"])))
    [answer] = Explainer(result).ping("vm1")
    assert answer.decisive is not None and answer.decisive.rule == "MTU3"
    assert answer.decisive.port == "eth0" and "MTU 1500" in answer.decisive.note


@pytest.mark.parametrize(("where", "text_", "needle"), [
    ("host", "      - {name: eth0, type: ethernet, mtu: 10}",
     "hosts.kvm1.interfaces[eth0].mtu: Input should be greater than or equal to 68"),
    ("vm", "      - {source: br0, mac: '52:54:00:00:00:01', mtu: 70000}",
     "vms.vm1.interfaces[0].mtu: Input should be less than or equal to 65535"),
    ("switch", "  sw1: {ports: [ge1], mtu: jumbo}", "switches.sw1.mtu: 'jumbo' is not an integer"),
    ("ping", "  - ping: {from: vm1, to: 10.0.0.1, pmtudisc: probe}",
     "run[0].ping.pmtudisc: 'probe' is not"),
])
def test_bad_mtu_values_exit_2(tmp_path: Path, where: str, text_: str, needle: str) -> None:
    base = {"host": "hosts:\n  kvm1:\n    interfaces:\n{x}\n",
            "vm": "hosts:\n  kvm1:\n    interfaces: [{{name: br0, type: linux-bridge}}]\n"
                  "vms:\n  vm1:\n    host: kvm1\n    interfaces:\n{x}\n",
            "switch": "switches:\n{x}\n",
            "ping": "vms:\n  vm1: {{host: kvm1}}\nrun:\n{x}\n"}[where]
    path = tmp_path / "topo.yaml"
    path.write_text(base.format(x=text_))
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "run", str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert needle in proc.stderr, proc.stderr
