"""``vnetlab capture`` reads a real namespace and changes nothing in it.

A namespace is given everything capture reads: a bridge with kernel STP (short timers),
an uplink veth to a peer namespace, a VM-like veth pair (``vnet0``/``guest0``), two taps
(``ip tuntap``: no carrier, disabled ports), per-port flags, an address, a permanent
neighbour, a default route, br_netfilter sysctls (one changed from its default), nft
and iptables rules, and FDB entries learned from frames sent into the bridge (the
seed-000 signature among them: a VM's MAC learned on the uplink). No VLAN devices:
this kernel has no 8021q. The namespace's *full* state is read before and after
``vnetlab capture --netns`` (the CLI, as an operator runs it): ``ip -d -j``
link/addr/route/neigh, ``bridge -d -j`` link/fdb/vlan, every sysfs bridge and brport
attribute, every sysctl under /proc/sys/net, the nft and iptables rulesets, the mount
table seen inside the namespace and the host's own. They must be identical, except for
what the kernel's clocks change by themselves: the ``*_timer`` attributes (STP timers
and the FDB GC) and FDB entries' ``used``/``updated`` ages. The captured topology must
load and simulate.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .netns import PKTOOL, PYTHON, Lab, Netns, in_ci, run

pytestmark = pytest.mark.kernel

VM_MAC = "52:54:00:12:34:01"         # guest0, behind vnet0
TAP1_GUEST = "52:54:00:12:34:02"     # the guest of tap vnet1 (its MAC also seen on the uplink)
GATEWAY = "00:1b:21:0a:0b:01"

_SNAPSHOT_FILES = r"""
import json, os, sys
out = {}
roots = sys.argv[1:]
for root in roots:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            try:
                with open(path, "rb") as f:
                    out[path] = f.read(65536).decode("utf-8", "replace")
            except OSError as exc:
                out[path] = f"<{exc.errno}>"
for dev in sorted(os.listdir("/sys/class/net")):
    for sub in ("bridge", "brport"):
        folder = f"/sys/class/net/{dev}/{sub}"
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isdir(path) or os.path.islink(path):
                continue
            try:
                with open(path, "rb") as f:
                    out[path] = f.read(65536).decode("utf-8", "replace")
            except OSError as exc:
                out[path] = f"<{exc.errno}>"
with open("/proc/self/mountinfo") as f:
    # mount ids differ per `ip netns exec` (a fresh sysfs mount each time): keep the rest
    out["mountinfo"] = sorted(" ".join(line.split()[4:]) for line in f)
json.dump(out, sys.stdout)
"""


def _no_timers(value: Any) -> Any:
    """Drop what the kernel's clocks change on their own (STP and GC timers, FDB ages)."""
    if isinstance(value, dict):
        return {k: _no_timers(v) for k, v in value.items()
                if "timer" not in k and k not in ("used", "updated")}
    if isinstance(value, list):
        return [_no_timers(v) for v in value]
    return value


def _command(ns: Netns, *argv: str) -> dict[str, Any]:
    proc = subprocess.run(["ip", "netns", "exec", ns.name, *argv], capture_output=True,
                          text=True, check=False)
    return {"rc": proc.returncode, "out": proc.stdout, "err": proc.stderr}


def snapshot(ns: Netns) -> dict[str, Any]:
    """Everything capture could conceivably touch, read with tools of our own."""
    state: dict[str, Any] = {}
    for what in (("link", "show"), ("addr", "show"), ("route", "show", "table", "all"),
                 ("neigh", "show")):
        state["ip " + " ".join(what)] = _no_timers(ns.ip_json("-d", *what))
    for what in (("link", "show"), ("fdb", "show")):
        state["bridge " + " ".join(what)] = _no_timers(ns.bridge_json("-d", "-s", *what))
    state["bridge vlan show"] = _command(ns, "bridge", "-d", "-j", "vlan", "show")
    files = json.loads(ns.exec([PYTHON, "-c", _SNAPSHOT_FILES, "/proc/sys/net"]))
    state["files"] = {k: v for k, v in files.items() if "timer" not in k.rsplit("/", 1)[-1]}
    state["nft"] = _command(ns, "nft", "list", "ruleset")
    ipt = _command(ns, "iptables-save")
    ipt["out"] = "\n".join(line for line in ipt["out"].splitlines()
                           if not line.startswith("#"))      # "# Generated ... on <date>"
    state["iptables"] = ipt
    state["host mountinfo"] = sorted(" ".join(line.split()[4:])
                                     for line in Path("/proc/self/mountinfo").read_text()
                                     .splitlines())
    state["netns list"] = sorted(run(["ip", "netns", "list"]).split())
    return state


def _diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    out = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) == after.get(key):
            continue
        if isinstance(before.get(key), dict) and isinstance(after.get(key), dict):
            for sub in sorted(set(before[key]) | set(after[key])):
                if before[key].get(sub) != after[key].get(sub):
                    out.append(f"{key} / {sub}: {before[key].get(sub)!r} -> "
                               f"{after[key].get(sub)!r}")
        else:
            out.append(f"{key}: {str(before.get(key))[:400]} -> {str(after.get(key))[:400]}")
    return out


def send(ns: Netns, dev: str, src: str) -> None:
    ns.exec([PYTHON, str(PKTOOL), "send", "--dev", dev, "--dst", "ff:ff:ff:ff:ff:ff",
             "--src", src])


# br_netfilter cannot be loaded from here (that would change the host): its sysctls are
# part of the test when some other user of the machine loaded it
BR_NETFILTER = os.path.exists("/proc/sys/net/bridge")


def need(tool: str) -> None:
    """The rulesets need nft and iptables (make system-deps); CI=true fails without them."""
    if shutil.which(tool) is None:
        message = f"{tool} is not installed (make system-deps installs it)"
        if in_ci():
            pytest.fail(message + " (CI=true: not skipping)", pytrace=False)
        pytest.skip(message)


def build(lab: Lab) -> tuple[Netns, Netns]:
    for tool in ("nft", "iptables", "iptables-save"):
        need(tool)
    ns, peer = lab.netns("cap"), lab.netns("peer")
    lab.veth(ns, "ens224", "00:50:56:a1:00:01", peer, "up0", "00:50:56:b1:00:01")
    ns.batch([
        # kernel STP with the shortest timers the kernel takes (B19): 2 s per state
        "link add br0 type bridge stp_state 1 forward_delay 200 hello_time 100 max_age 600 "
        "ageing_time 30000",
        "link add vnet0 address fe:54:00:12:34:01 type veth peer name guest0 address "
        f"{VM_MAC}",
        "tuntap add dev vnet1 mode tap", "link set vnet1 address fe:54:00:12:34:02",
        "tuntap add dev vnet2 mode tap", "link set vnet2 address fe:54:00:12:34:03",
        *(f"link set {p} master br0" for p in ("ens224", "vnet0", "vnet1", "vnet2")),
        "link set dev vnet2 type bridge_slave hairpin on flood off",
        *(f"link set {d} up" for d in ("br0", "ens224", "vnet0", "guest0", "vnet1", "vnet2")),
        "addr add 192.168.10.11/24 dev br0",
        "route add default via 192.168.10.254",
        f"neigh add 192.168.10.254 lladdr {GATEWAY} dev br0 nud permanent",
    ])
    peer.batch(["link set up0 up"])
    if BR_NETFILTER:
        ns.exec(["sysctl", "-qw", "net.bridge.bridge-nf-call-arptables=0"])
    subprocess.run(["ip", "netns", "exec", ns.name, "nft", "-f", "-"], check=True, text=True,
                   input="table inet filter {\n chain forward {\n  type filter hook forward "
                   "priority filter; policy accept;\n  iifname \"br0\" udp dport { 67, 68 } "
                   "accept\n }\n}\n")
    ns.exec(["iptables", "-A", "FORWARD", "-p", "udp", "--dport", "67", "-j", "ACCEPT"])
    return ns, peer


def settle_stp(ns: Netns) -> None:
    """Every carrier port forwarding and the topology change over (its timer is
    max_age + forward_delay: 8 s), so nothing moves while we compare."""
    ns.wait_forwarding("br0", ["ens224", "vnet0"], timeout=15)

    def quiet() -> bool:
        return ns.exec(["cat", "/sys/class/net/br0/bridge/topology_change"]).strip() == "0"

    ns.wait_until("br0 topology change over", quiet, timeout=20)


def test_capture_changes_nothing_and_the_result_simulates(lab: Lab, tmp_path: Path) -> None:
    ns, peer = build(lab)
    settle_stp(ns)
    send(ns, "guest0", VM_MAC)
    send(peer, "up0", GATEWAY)
    send(peer, "up0", TAP1_GUEST)          # vnet1's guest MAC seen on the uplink (seed 000)
    ns.wait_until("FDB learned", lambda: ns.fdb("br0").port_of(GATEWAY) == "ens224")
    before = snapshot(ns)
    out = tmp_path / "cap.yaml"
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "capture", "--netns", ns.name,
                           "--host", "kvm1", "--raw", "-o", str(out)], capture_output=True,
                          text=True, check=False, timeout=60)
    after = snapshot(ns)
    assert proc.returncode == 0, proc.stderr
    assert _diff(before, after) == []
    # the capture loads, simulates, and says what the kernel holds
    import vnetlab

    spec = vnetlab.load_topology(str(out))
    vnetlab.simulate(spec)
    captured = spec.captured
    assert captured is not None and captured.host == "kvm1"
    br0 = next(i for i in spec.hosts["kvm1"].interfaces if i.name == "br0")
    options = br0.bridge.options                            # type: ignore[union-attr]
    assert options.stp.enabled and options.stp.forward_delay == 2_000_000_000
    assert options.stp.hello_time == 1_000_000_000 and options.stp.max_age == 6_000_000_000
    ports = {p.name: p for p in br0.bridge.port}            # type: ignore[union-attr]
    assert ports["vnet2"].hairpin and not ports["vnet2"].flood
    assert spec.vms["vm-vnet1"].interfaces[0].mac == int(TAP1_GUEST.replace(":", ""), 16)
    firewall = spec.hosts["kvm1"].firewall
    assert firewall is not None and firewall.nftables is not None
    assert 'iifname "br0" udp dport { 67, 68 } accept' in firewall.nftables
    if BR_NETFILTER:
        assert spec.hosts["kvm1"].sysctl["net.bridge.bridge-nf-call-arptables"] == 0
        assert firewall.br_netfilter
    states = {(p.port, p.state) for p in captured.ports}
    assert {("ens224", "forwarding"), ("vnet0", "forwarding"), ("vnet1", "disabled")} <= states
    fdb = {(f"{e.mac:012x}", e.port) for e in captured.fdb if not e.flags}
    assert ("001b210a0b01", "ens224") in fdb and ("525400123401", "vnet0") in fdb
    assert ("525400123402", "ens224") in fdb
    assert "ip -j -d link show" in captured.raw


def test_capture_of_50_taps_is_complete(lab: Lab, tmp_path: Path) -> None:
    """The benchmark's shape (bench/capture.py times it): 50 VMs' taps in one bridge.
    Every tap is in the document (a VM's target or a port of br0) with its MAC, and in
    captured: (its port state, its permanent FDB entry)."""
    from vnetlab.capture import capture

    ns = lab.netns("taps")
    lines = ["link add br0 type bridge stp_state 0", "link set br0 up"]
    for i in range(50):
        lines += [f"tuntap add dev vnet{i} mode tap", f"link set vnet{i} address "
                  f"fe:54:00:00:01:{i:02x}", f"link set vnet{i} master br0",
                  f"link set vnet{i} up"]
    ns.batch(lines)
    start = time.monotonic()
    result = capture(netns=ns.name, host="kvm1")
    elapsed = time.monotonic() - start
    doc = result.doc
    interfaces = {i["name"]: i for i in doc["hosts"]["kvm1"]["interfaces"]}
    targets = {nic["target"]: nic for vm in doc.get("vms", {}).values()
               for nic in vm["interfaces"]}
    br0_ports = {p["name"] for p in interfaces["br0"]["bridge"]["port"]}
    for i in range(50):
        tap, mac = f"vnet{i}", f"fe:54:00:00:01:{i:02x}"
        assert tap in targets or (tap in br0_ports and interfaces[tap]["mac-address"] == mac), tap
    captured = doc["captured"]
    assert {p["port"] for p in captured["ports"]} == {f"vnet{i}" for i in range(50)}
    assert {e["mac"] for e in captured["fdb"] if e["flags"] == ["permanent"]} >= \
        {f"fe:54:00:00:01:{i:02x}" for i in range(50)}
    import vnetlab

    vnetlab.simulate(vnetlab.load_topology_data(doc, "taps.yaml"))
    print(f"50 taps captured in {elapsed:.3f} s")


def _ovs_state(ovs: Any) -> dict[str, Any]:
    """Open vSwitch's configuration and flows, read through the oracle's own ``--db``/
    socket (not the tools the capture runs); the counters (``statistics``, the MAC
    table) change with traffic on their own and are left out."""
    state: dict[str, Any] = {}
    for table in ("Open_vSwitch", "Bridge", "Port", "Interface", "Mirror", "Controller",
                  "Manager", "QoS", "Queue", "Flow_Table"):
        data = json.loads(ovs.vsctl("--format=json", "list", table))
        heads = data["headings"]
        state[table] = sorted(json.dumps({h: c for h, c in zip(heads, row, strict=True)
                                          if h not in ("statistics", "status")},
                                         sort_keys=True) for row in data["data"])
    for bridge in ovs.vsctl("list-br").split():
        state[f"flows {bridge}"] = ovs.ofctl("--no-stats", "--names", "dump-flows", bridge)
    return state


def test_capture_of_a_compute_host_changes_nothing(lab: Lab, tmp_path: Path) -> None:
    """The same proof on an Open vSwitch compute host of the catalog (migration-ovs-rarp-
    lost's compute1: br-int, the hybrid plug, the agent's flows, nova.conf and the agent's
    ini), with the OVS commands (``ovs-vsctl list``, ``ovs-appctl fdb/show``, ``ovs-ofctl
    dump-flows``) and the configuration files read too."""
    from vnetlab.catalog import case_paths
    from vnetlab.topology.load import load_topology

    from .catalog_lab import build_host, unsupported

    spec = load_topology(str(case_paths()["migration-ovs-rarp-lost"]))
    why = unsupported(spec, "compute1")
    if why:
        (pytest.fail if in_ci() else pytest.skip)(why)
    built = build_host(lab, spec, "compute1", "compute1")
    assert built.ovs is not None
    time.sleep(1.5)                          # the guest's first frames are in
    before = snapshot(built.ns), _ovs_state(built.ovs)
    env = {**os.environ, "PATH": f"{built.tool_path()}:{os.environ['PATH']}"}
    out = tmp_path / "compute1.yaml"
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "capture", "--netns", built.ns.name,
                           "--host", "compute1", "-o", str(out)], capture_output=True,
                          text=True, check=False, timeout=60, env=env)
    after = snapshot(built.ns), _ovs_state(built.ovs)
    assert proc.returncode == 0, proc.stderr
    assert _diff(before[0], after[0]) == []
    assert _diff(before[1], after[1]) == []
    import vnetlab

    captured = vnetlab.load_topology(str(out))
    assert captured.openstack is not None
    assert captured.openstack.nova.live_migration_wait_for_vif_plug is False
    assert [n.network for vm in captured.vms.values() for n in vm.interfaces] == \
        ["physnet1-vlan100"]
