"""The host firewall (devices/netfilter.py; semantics B22-B24, D8): rule texts parsed
as iptables-restore and nft read them, chains evaluated as ipt_do_table/nft_do_chain
do, and br_netfilter handing bridged IPv4 to FORWARD - each checked by running."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import vnetlab
from vnetlab.catalog import case_paths
from vnetlab.devices.netfilter import (
    Chain,
    Conntrack,
    NfError,
    NfPacket,
    Ruleset,
    Table,
    build_ruleset,
    evaluate,
    parse_iptables,
    parse_nft,
)
from vnetlab.explain.explain import Explainer
from vnetlab.explain.render import text
from vnetlab.net.frame import Icmp, IcmpType, Ipv4, Udp
from vnetlab.sim.sim import Sim
from vnetlab.sim.time import S

VM1 = "192.168.10.21"
GW = "192.168.10.254"
HOST = "192.168.10.11"


def topo(firewall: str, run: str, sysctl: str = "") -> str:
    """kvm1 (br0 = eth0 + vnet0, 192.168.10.11) with vm1; sw1; gw1."""
    fw = textwrap.indent(textwrap.dedent(firewall), "      ")
    return f"""
hosts:
  kvm1:
    interfaces:
      - {{name: eth0, type: ethernet, mac-address: "00:50:56:a1:00:01"}}
      - name: br0
        type: linux-bridge
        bridge: {{options: {{stp: {{enabled: false}}}}, port: [{{name: eth0}}]}}
        ipv4: {HOST}/24
{sysctl}    firewall:
{fw}
vms:
  vm1:
    host: kvm1
    interfaces:
      - {{source: br0, mac: "52:54:00:12:34:01", ipv4: {{address: {VM1}/24, gateway: {GW}}}}}
switches:
  sw1: {{ports: [ge1, ge2]}}
routers:
  gw1:
    interfaces: [{{name: eth0, mac-address: "00:1b:21:0a:0b:01", ipv4: {GW}/24}}]
links:
  - endpoints: [kvm1:eth0, sw1:ge1]
  - endpoints: [gw1:eth0, sw1:ge2]
run:
{textwrap.indent(textwrap.dedent(run), "  ")}
"""


PING_VM = """\
- at: 1s
  ping: {from: vm1, to: 192.168.10.254, count: 2, interval: 1s}
"""
FORWARD_DROP = """\
br-netfilter: {loaded}
iptables: |
  *filter
  :FORWARD DROP [0:0]
{rules}  COMMIT
"""


def forward_drop(loaded: bool = True, rules: str = "") -> str:
    return FORWARD_DROP.format(loaded=str(loaded).lower(),
                               rules=textwrap.indent(textwrap.dedent(rules), "  "))


# -- br_netfilter: who sees bridged IPv4 --------------------------------------------------------

def test_loaded_br_netfilter_and_forward_drop_kill_bridged_ipv4_but_not_arp(run) -> None:
    """B22/B24: bridged IPv4 traverses FORWARD (in/out device br0); ARP does not
    (arptables is not iptables)."""
    result = run(topo(forward_drop(), PING_VM))
    assert result.ping_replies("vm1", GW) == 0
    drops = [s for s in result.trace.steps if s.reason == "netfilter-drop"]
    assert drops and all(s.where == "kvm1/br0" and s.port == "eth0" for s in drops)
    assert "filter FORWARD policy DROP" in drops[0].note and drops[0].rule == "B24"
    assert drops[0].fn == "br_nf_forward_ip"
    assert result.received("gw1", ethertype=0x0806) > 0        # ARP crossed br0


def test_without_br_netfilter_iptables_never_sees_bridged_frames(run) -> None:
    """B23: the same ruleset, module not loaded: FORWARD is not consulted."""
    result = run(topo(forward_drop(loaded=False), PING_VM))
    assert result.ping_replies("vm1", GW) == 2
    assert not any(s.fn == "br_nf_forward_ip" for s in result.trace.steps)


def test_bridge_nf_call_iptables_0_turns_it_off(run) -> None:
    """br_nf_pre_routing(): brnf_call_iptables 0 -> NF_ACCEPT without iptables."""
    sysctl = "    sysctl: {net.bridge.bridge-nf-call-iptables: 0}\n"
    result = run(topo(forward_drop(), PING_VM, sysctl))
    assert result.ping_replies("vm1", GW) == 2


def test_physdev_is_bridged_accepts_what_the_bridge_forwards(run) -> None:
    """D8's fix: -m physdev --physdev-is-bridged -j ACCEPT; the in/out device is br0."""
    result = run(topo(forward_drop(rules="-A FORWARD -m physdev --physdev-is-bridged -j ACCEPT\n"),
                      PING_VM))
    assert result.ping_replies("vm1", GW) == 2
    accepts = [s for s in result.trace.steps if s.fn == "br_nf_forward_ip"]
    assert accepts and "rule 1: -A FORWARD -m physdev --physdev-is-bridged -j ACCEPT" in \
        accepts[0].note


def test_in_and_out_device_of_bridged_ipv4_is_the_bridge_not_the_port(run) -> None:
    """br_nf_forward_ip: indev = brnf_get_logical_dev (br0), outdev = bridge_parent (br0)."""
    by_port = run(topo(forward_drop(rules="-A FORWARD -i vnet0 -j ACCEPT\n"), PING_VM))
    assert by_port.ping_replies("vm1", GW) == 0
    by_bridge = run(topo(forward_drop(rules="-A FORWARD -i br0 -o br0 -j ACCEPT\n"), PING_VM))
    assert by_bridge.ping_replies("vm1", GW) == 2


def test_conntrack_established_lets_the_replies_back(run) -> None:
    """Only requests from vnet0 are accepted; gw1's replies pass as ESTABLISHED, and
    without the ctstate rule they are dropped on their way in from eth0."""
    rules = "-A FORWARD -m physdev --physdev-in vnet0 -j ACCEPT\n"
    ct = "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
    with_ct = run(topo(forward_drop(rules=ct + rules), PING_VM))
    assert with_ct.ping_replies("vm1", GW) == 2
    without = run(topo(forward_drop(rules=rules), PING_VM))
    assert without.ping_replies("vm1", GW) == 0
    drop = next(s for s in without.trace.steps if s.reason == "netfilter-drop")
    assert drop.port == "vnet0"                     # the reply, on its way out to vm1


def test_input_hook_filters_what_the_host_receives_whether_loaded_or_not(run) -> None:
    """D8: frames for the host go through INPUT from its own stack; the host's own
    ping is tracked in OUTPUT so its replies are ESTABLISHED."""
    fw = """\
br-netfilter: false
iptables: |
  *filter
  :INPUT DROP [0:0]
  -A INPUT -m state --state ESTABLISHED -j ACCEPT
  COMMIT
"""
    result = run(topo(fw, """\
- at: 1s
  ping: {from: vm1, to: 192.168.10.11, count: 2, interval: 1s}
- at: 1.5s
  ping: {from: kvm1, to: 192.168.10.254, count: 2, interval: 1s}
"""))
    assert result.ping_replies("vm1", HOST) == 0
    assert result.ping_replies("kvm1", GW) == 2
    drop = next(s for s in result.trace.steps if s.reason == "netfilter-drop")
    assert drop.where == "kvm1" and "filter INPUT policy DROP" in drop.note


def test_reject_is_a_drop_that_says_what_the_kernel_would_answer(run) -> None:
    result = run(topo(forward_drop(rules="-A FORWARD -p icmp -j REJECT --reject-with "
                                         "icmp-host-prohibited\n"), PING_VM))
    drop = next(s for s in result.trace.steps if s.reason == "netfilter-drop")
    assert "REJECT" in drop.note and "ICMP error" in drop.note


def test_nft_inet_forward_chain_sees_bridged_ipv4_only_with_br_netfilter(run) -> None:
    nft = """\
br-netfilter: {loaded}
nftables: |
  table inet filter {{
  \tchain forward {{
  \t\ttype filter hook forward priority filter; policy drop;
  \t\tiifname "docker0" accept
  \t}}
  }}
"""
    dropped = run(topo(nft.format(loaded="true"), PING_VM))
    assert dropped.ping_replies("vm1", GW) == 0
    step = next(s for s in dropped.trace.steps if s.reason == "netfilter-drop")
    assert "inet filter forward policy DROP" in step.note
    assert run(topo(nft.format(loaded="false"), PING_VM)).ping_replies("vm1", GW) == 2


def test_nft_bridge_family_filters_every_bridged_frame_with_port_names(run) -> None:
    """A bridge-family forward chain runs at NF_BR_FORWARD without br_netfilter,
    sees ARP too, and iif/oif are the ports."""
    nft = """\
nftables: |
  table bridge filter {
    chain forward {
      type filter hook forward priority filter; policy accept;
      iifname "vnet*" ether type arp drop
    }
  }
"""
    result = run(topo(nft, PING_VM))
    assert result.ping_replies("vm1", GW) == 0
    step = next(s for s in result.trace.steps if s.reason == "netfilter-drop")
    assert step.fn == "nft_do_chain" and "bridge filter forward rule 1" in step.note
    assert result.received("gw1", ethertype=0x0806) == 0


def test_docker_preset_ping_explained_names_the_forward_policy(run) -> None:
    """explain on a ping: the decisive step is br0's FORWARD DROP (B24) and its note
    walks the chains the packet passed."""
    result = run(topo("br-netfilter: true\npreset: docker\n", PING_VM))
    [answer] = Explainer(result).ping("vm1")
    assert answer.decisive is not None and answer.decisive.reason == "netfilter-drop"
    assert answer.decisive.rule == "B24" and answer.decisive.where == "kvm1/br0"
    assert answer.decisive.port == "eth0"
    out = text(answer)
    for needle in ("filter FORWARD policy DROP", "DOCKER-USER", "DOCKER-ISOLATION-STAGE-1",
                   "br_nf_forward_ip"):
        assert needle in out, needle


def test_docker_preset_catalog_case_dhcp_dies_in_forward() -> None:
    """The catalog case (D8): every DISCOVER's copy for eth0 dies in FORWARD."""
    result = vnetlab.simulate(vnetlab.load_topology(
        str(case_paths()["firewall-docker-forward-drop"])))
    answer = Explainer(result).dhcp("vm1")
    assert answer.decisive is not None and answer.decisive.rule == "B24"
    assert answer.decisive.port == "eth0" and "filter FORWARD policy DROP" in text(answer)


def test_a_dhcp_server_on_the_host_still_works_behind_forward_drop(run) -> None:
    """D8: DISCOVER to the host's own dnsmasq goes through INPUT (policy ACCEPT), the
    OFFER is sent by the host (OUTPUT): FORWARD is never consulted."""
    spec = topo("br-netfilter: true\npreset: docker\n", "- wait: 1s\n")
    spec = spec.replace("ipv4: 192.168.10.11/24", "ipv4: 192.168.10.11/24\n        dhcp-server: "
                        "{pool: 192.168.10.100-192.168.10.199}")
    spec = spec.replace("ipv4: {address: 192.168.10.21/24, gateway: 192.168.10.254}",
                        "ipv4: {dhcp: true}")
    result = run(spec + "duration: 30s\n")
    assert "bound" in result.lab.dhcp.clients["vm1:eth0"].outcome()
    drops = [s for s in result.trace.steps if s.reason == "netfilter-drop"]
    assert drops and {s.port for s in drops} == {"eth0"}    # only the broadcasts' bridged copies


# -- evaluation ----------------------------------------------------------------------------------

def _rs(text_: str) -> Ruleset:
    return parse_iptables(textwrap.dedent(text_))


def _verdict(rs: Ruleset, chain: str, **fields: object) -> tuple[str, str]:
    table = rs.tables[0]
    pkt = NfPacket(0x0800, **fields)  # type: ignore[arg-type]
    v = evaluate(table, table.chains[chain], pkt)
    return v.verdict, v.sentence(table, table.chains[chain])


def test_rules_in_order_jump_return_and_policy() -> None:
    """ipt_do_table(): first match decides; RETURN resumes the caller; the end of a
    base chain is its policy."""
    rs = _rs("""\
        *filter
        :FORWARD DROP [0:0]
        :A - [0:0]
        -A FORWARD -j A
        -A FORWARD -p udp --dport 67:68 -j ACCEPT
        -A A -s 10.0.0.0/8 -j RETURN
        -A A -p icmp -j ACCEPT
        COMMIT
        """)
    assert _verdict(rs, "FORWARD", proto=1, src=0x0A000001)[0] == "DROP"
    verdict, sentence = _verdict(rs, "FORWARD", proto=1, src=0xC0A80001)
    assert verdict == "ACCEPT" and "filter A rule 2: -A A -p icmp -j ACCEPT" in sentence
    assert _verdict(rs, "FORWARD", proto=17, src=0x0A000001, sport=68, dport=67)[0] == "ACCEPT"
    assert _verdict(rs, "FORWARD", proto=17, dport=53, sport=1)[0] == "DROP"


def test_goto_does_not_come_back() -> None:
    rs = _rs("""\
        *filter
        :FORWARD ACCEPT [0:0]
        :B - [0:0]
        -A FORWARD -g B
        -A FORWARD -j DROP
        -A B -p udp -j RETURN
        COMMIT
        """)
    # RETURN from a chain reached by -g returns past FORWARD: its policy (ACCEPT)
    assert _verdict(rs, "FORWARD", proto=17, sport=1, dport=2)[0] == "ACCEPT"
    assert _verdict(rs, "FORWARD", proto=1)[0] == "ACCEPT"       # fell off B: policy


def test_negation_and_interface_wildcards() -> None:
    rs = _rs("""\
        *filter
        :FORWARD DROP [0:0]
        -A FORWARD -i vnet+ ! -o eth0 -j ACCEPT
        COMMIT
        """)
    assert _verdict(rs, "FORWARD", indev="vnet3", outdev="vnet4")[0] == "ACCEPT"
    assert _verdict(rs, "FORWARD", indev="vnet3", outdev="eth0")[0] == "DROP"


def test_physdev_without_bridge_info_fails_unless_inverted() -> None:
    """physdev_mt(): no nf_bridge -> every non-inverted option fails, inverted ones pass."""
    rs = _rs("""\
        *filter
        :INPUT DROP [0:0]
        -A INPUT -m physdev ! --physdev-is-bridged -j ACCEPT
        COMMIT
        """)
    assert _verdict(rs, "INPUT")[0] == "ACCEPT"
    assert _verdict(rs, "INPUT", nf_bridge=True, physin="vnet0", physout="eth0")[0] == "DROP"


def test_ports_never_match_a_later_fragment() -> None:
    rs = _rs("""\
        *filter
        :FORWARD DROP [0:0]
        -A FORWARD -p udp ! --dport 53 -j ACCEPT
        COMMIT
        """)
    assert _verdict(rs, "FORWARD", proto=17, sport=1, dport=67)[0] == "ACCEPT"
    assert _verdict(rs, "FORWARD", proto=17, later_fragment=True)[0] == "DROP"


def test_conntrack_states() -> None:
    sim = Sim()
    ct = Conntrack(sim)
    request = Ipv4(1, 2, Icmp(IcmpType.ECHO_REQUEST, 7, 1))
    reply = Ipv4(2, 1, Icmp(IcmpType.ECHO_REPLY, 7, 1))
    assert ct.state(reply)[0] == "INVALID"                # icmp_new: a reply cannot start one
    state, key = ct.state(request)
    assert state == "NEW"
    ct.confirm(request, key)
    state, key = ct.state(reply)
    assert state == "ESTABLISHED"
    ct.confirm(reply, key)
    assert ct.state(request)[0] == "ESTABLISHED"          # seen a reply: both ways
    sim.run(31 * S)
    assert ct.state(request)[0] == "NEW"                  # 30 s ICMP timeout
    dhcp = Ipv4(0, 0xFFFFFFFF, Udp(68, 67, None))
    offer = Ipv4(0xC0A80A01, 0xFFFFFFFF, Udp(67, 68, None))
    ct.confirm(dhcp, ct.state(dhcp)[1])
    assert ct.state(offer)[0] == "NEW"                    # not the reply tuple of DISCOVER


def test_nft_priorities_order_the_base_chains() -> None:
    rs = parse_nft(textwrap.dedent("""\
        table ip a { chain f { type filter hook forward priority filter + 10; } }
        table inet b { chain f { type filter hook forward priority -5; policy drop; } }
        """))
    parse_iptables("*filter\n-A FORWARD -j ACCEPT\nCOMMIT\n", rs)
    order = [(t.source, t.name, c.priority) for t, c in rs.base_chains("forward", ("ip", "inet"))]
    assert order == [("nft", "b", -5), ("iptables", "filter", 0), ("nft", "a", 10)]


# -- parsing -------------------------------------------------------------------------------------

def test_iptables_restore_noflush_on_top_of_a_preset() -> None:
    """-I inserts at the head; ':CHAIN -' of an existing chain flushes it, as
    iptables-restore --noflush does; counters [p:b] are ignored."""
    built = build_ruleset("docker", textwrap.dedent("""\
        *filter
        :DOCKER-ISOLATION-STAGE-2 - [0:0]
        [12:3400] -I DOCKER-USER -i br0 -o br0 -j ACCEPT
        COMMIT
        """), None)
    assert isinstance(built, Ruleset)
    chains = built.tables[0].chains
    assert [r.text for r in chains["DOCKER-USER"].rules] == [
        "[12:3400] -I DOCKER-USER -i br0 -o br0 -j ACCEPT", "-A DOCKER-USER -j RETURN"]
    assert chains["DOCKER-ISOLATION-STAGE-2"].rules == []
    assert chains["FORWARD"].policy == "DROP"
    assert any("table nat: parsed, not evaluated" in n for n in built.notes)


@pytest.mark.parametrize(("rules", "line", "message"), [
    ("*filter\n-A FORWARD -j NOPE\nCOMMIT\n", 2, "Couldn't load target 'NOPE'"),
    ("*filter\n-A INPUT -o br0 -j ACCEPT\nCOMMIT\n", 2, "Can't use -o with INPUT"),
    ("*filter\n-A FORWARD --dport 67 -j ACCEPT\nCOMMIT\n", 2, "ports need '-p udp'"),
    ("*filter\n-A FORWARD -j ACCEPT\n", 2, "COMMIT expected"),
    ("*filter\n:A - [0:0]\n:B - [0:0]\n-A A -j B\n-A B -j A\nCOMMIT\n", 5, "makes a loop"),
    ("*filter\n-A FORWARD -m recent --rcheck -j DROP\nCOMMIT\n", 2, "match 'recent'"),
    ("*filter\n:FORWARD REJECT [0:0]\nCOMMIT\n", 2, "bad policy 'REJECT'"),
    ("-A FORWARD -j ACCEPT\n", 1, "outside a table"),
    ("*mangle\nCOMMIT\n*bogus\n", 3, "table 'bogus' does not exist"),
])
def test_iptables_errors_carry_their_line(rules: str, line: int, message: str) -> None:
    with pytest.raises(NfError) as info:
        parse_iptables(rules)
    assert info.value.line == line and message in info.value.message


@pytest.mark.parametrize(("rules", "line", "message"), [
    ('table inet f {\n chain c {\n  iifname "x" frob 1 accept\n }\n}\n', 3,
     "unknown expression 'frob'"),
    ("table inet f { chain c { jump nowhere } }\n", 1, "no chain nowhere"),
    ("table inet f { chain c { type filter hook sideways priority 0; } }\n", 1,
     "unknown hook 'sideways'"),
    ("table inet f { chain c { type filter hook input priority bogus; } }\n", 1,
     "bad priority 'bogus'"),
    ("table inet f { chain c { policy drop; } }\n", 1, "needs a base chain"),
    ("table inet f { set s { type ipv4_addr; } }\n", 1, "not modelled"),
    ("table inet f { chain c { ct state weird accept } }\n", 1, "bad ct state 'weird'"),
])
def test_nft_errors_carry_their_line(rules: str, line: int, message: str) -> None:
    with pytest.raises(NfError) as info:
        parse_nft(rules)
    assert info.value.line == line and message in info.value.message


def test_nft_other_families_are_noted_not_evaluated() -> None:
    rs = parse_nft("table ip6 f { chain c { type filter hook input priority 0; policy drop; } }\n"
                   "table inet nat { chain p { type nat hook postrouting priority srcnat; } }\n")
    assert any("ip6 f" in n for n in rs.notes) and any("type nat" in n for n in rs.notes)
    assert rs.base_chains("input", ("ip", "inet")) == []


def test_table_labels() -> None:
    chain = Chain("forward")
    assert Table("nft", "inet", "filter").label(chain) == "inet filter forward"
    assert Table("iptables", "ip", "filter").label(Chain("FORWARD")) == "filter FORWARD"


# -- bad input from the topology file --------------------------------------------------------------

def vnetlab_run(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vnetlab", "run", str(path)],
                          capture_output=True, text=True, check=False)


BAD = """\
hosts:
  kvm1:
    interfaces:
      - {name: br0, type: linux-bridge}
    firewall:
      br-netfilter: true
      iptables: |
        *filter
        -A FORWARD -p udp --dpurt 67 -j ACCEPT
        COMMIT
"""


def test_a_bad_iptables_line_is_reported_at_its_line_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "topo.yaml"
    path.write_text(BAD)
    proc = vnetlab_run(path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    col = BAD.splitlines()[8].index("--dpurt") + 1
    assert (f"topo.yaml:9:{col}: hosts.kvm1.firewall.iptables: iptables-restore: line 2: "
            "unknown option '--dpurt'") in proc.stderr


@pytest.mark.parametrize(("fragment", "needle"), [
    ("firewall: {preset: podman}", "firewall.preset: 'podman' is not"),
    ("firewall: {br-netfilter: maybe}", "firewall.br-netfilter: 'maybe' is not a boolean"),
    ("firewall: {ebtables: x}", "firewall.ebtables: unknown key 'ebtables'"),
    ("firewall: {nftables: 'table inet f { chain c { frob } }'}",
     "firewall.nftables: nft: line 1: unknown expression 'frob'"),
    ("sysctl: {net.ipv4.ip_forward: 1}", "sysctl 'net.ipv4.ip_forward' is not modelled"),
    ("sysctl: {net.bridge.bridge-nf-call-iptables: 2}", "takes 0 or 1"),
])
def test_bad_firewall_keys_exit_2_with_position(tmp_path: Path, fragment: str, needle: str
                                               ) -> None:
    path = tmp_path / "topo.yaml"
    path.write_text(f"hosts:\n  kvm1:\n    interfaces: []\n    {fragment}\n")
    proc = vnetlab_run(path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "topo.yaml:4:" in proc.stderr and needle in proc.stderr, proc.stderr


def test_sysctl_without_br_netfilter_is_a_note(run) -> None:
    result = run(topo("br-netfilter: false\n", PING_VM,
                      "    sysctl: {net.bridge.bridge-nf-call-iptables: 0}\n"))
    assert any("br_netfilter is not loaded" in n and "cannot stat" in n
               for n in result.spec.notes)
