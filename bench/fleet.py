"""`vnetlab doctor DIR --json`: a fleet audit of 10,000 host captures, timed in a fresh
process as a CI job runs it (`make bench`).

The bar (issue: doctor and fleet audits) is 10,000 captures of 20-VM hosts audited in
under 60 s on this 2-core machine. The files are written the way `vnetlab capture`
writes a host: nmstate-shaped interfaces, the VMs from libvirt, and a `captured:` block
with the bridge's FDB (each VM's MAC on its tap, the tap's own permanent entry, the
gateway's MAC on the uplink) and the ports' STP states. Five host shapes, in turn:

* team0 (roundrobin) under br0, and the seed-000 signature in the FDB: one VM's MAC
  learned on team0 (hazard: team.roundrobin-without-lag, bridge.vm-mac-on-uplink);
* bond0 in balance-rr under br0 (hazard: bond.mode-under-bridge, switch not described);
* bond0 in active-backup under br0 (healthy);
* eth0 under br0 with NetworkManager's STP defaults and DHCP guests (hazard:
  bridge.stp-delays-dhcp);
* eth0 under br0, STP off, static guests (healthy; every 50th host has two VMs with one
  MAC: vm.duplicate-mac).

Prints the wall time (interpreter start, imports, the pool's start and the JSON written
included), the files per second, and the findings per check. Exit 0 with the report; 1
if the audit failed or, under --strict, went over the bar.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BAR_SECONDS = 60.0
BAR_FILES = 10_000
VMS = 20
REPO_ROOT = Path(__file__).resolve().parent.parent


def host_file(index: int) -> str:
    """One capture-like topology file (YAML, as `vnetlab capture` writes it)."""
    shape = index % 5
    host = f"kvm{index:05d}"
    def mac(oui: str, n: int) -> str:
        return f"{oui}:{(index >> 8) & 0xff:02x}:{index & 0xff:02x}:{n:02x}"

    lines = [f"name: {host}", "hosts:", f"  {host}:", "    interfaces:"]
    if shape in (0, 1, 2):
        agg = "team0" if shape == 0 else "bond0"
        for n, nic in enumerate(("ens1f0", "ens1f1")):
            lines += [f"      - name: {nic}", "        type: ethernet",
                      f"        mac-address: {mac('00:50:56', n)}", "        mtu: 1500"]
        lines += [f"      - name: {agg}"]
        if shape == 0:
            lines += ["        type: team", "        team:", "          ports:",
                      "            - name: ens1f0", "            - name: ens1f1",
                      "          runner:", "            name: roundrobin"]
        else:
            mode = "balance-rr" if shape == 1 else "active-backup"
            lines += ["        type: bond", "        link-aggregation:", f"          mode: {mode}",
                      "          options:", "            miimon: 100",
                      "          port: [ens1f0, ens1f1]"]
        uplink = agg
    else:
        lines += ["      - name: eth0", "        type: ethernet",
                  f"        mac-address: {mac('00:50:56', 0)}"]
        uplink = "eth0"
    stp = "true" if shape == 3 else "false"
    lines += ["      - name: br0", "        type: linux-bridge", "        bridge:",
              "          options:", f"            stp: {{enabled: {stp}, forward-delay: 15}}",
              "            mac-ageing-time: 300", "          port:", f"            - name: {uplink}",
              "        ipv4:", "          enabled: true", "          address:",
              f"            - {{ip: 10.{index % 250}.{index // 250 % 250}.2, prefix-length: 24}}",
              "    sysctl:", "      net.bridge.bridge-nf-call-iptables: 0", "vms:"]
    fdb = []
    for v in range(VMS):
        vm_mac = mac("52:54:00", v if not (shape == 4 and index % 50 == 4 and v == 1) else 0)
        lines += [f"  vm{v:02d}:", f"    host: {host}", "    interfaces:",
                  "      - type: bridge", "        source: br0", f"        target: vnet{v}",
                  f"        mac: {vm_mac}", "        model: virtio"]
        if shape == 3:
            lines += ["        ipv4: {dhcp: true}"]
        else:
            lines += [f"        ipv4: {{address: 10.{index % 250}.{index // 250 % 250}.{10 + v}/24,"
                      f" gateway: 10.{index % 250}.{index // 250 % 250}.1}}"]
        port = uplink if shape == 0 and v == 3 else f"vnet{v}"
        fdb.append(f"    - {{bridge: br0, mac: '{vm_mac}', port: {port}, vlan: null, "
                   "flags: [master], age: 12}")
        fdb.append(f"    - {{bridge: br0, mac: 'fe{vm_mac[2:]}', port: vnet{v}, vlan: 1, "
                   "flags: [master, permanent], age: null}")
    fdb.append(f"    - {{bridge: br0, mac: '00:1b:21:0a:0b:01', port: {uplink}, vlan: null, "
               "flags: [master], age: 3}")
    ports = [f"    - {{bridge: br0, port: {p}, state: forwarding}}"
             for p in [uplink, *(f"vnet{v}" for v in range(VMS))]]
    lines += ["captured:", f"  host: {host}", "  time: '2026-03-01T10:00:00Z'",
              "  source: capture", "  fdb:", *fdb, "  ports:", *ports]
    return "\n".join(lines) + "\n"


def write_fleet(folder: str, count: int) -> None:
    for index in range(count):
        with open(os.path.join(folder, f"host{index:05d}.yaml"), "w") as handle:
            handle.write(host_file(index))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strict", action="store_true", help="exit 1 when over the bar")
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (0: per CPU)")
    parser.add_argument("--files", type=int, default=BAR_FILES, help="hosts in the fleet")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        fleet = os.path.join(folder, "fleet")
        os.mkdir(fleet)
        write_fleet(fleet, args.files)
        size = sum(os.path.getsize(os.path.join(fleet, n)) for n in os.listdir(fleet))
        command = [sys.executable, "-m", "vnetlab", "doctor", fleet, "--json", "--jobs",
                   str(args.jobs)]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT,
                              check=False)
        wall = time.perf_counter() - started
    if done.returncode not in (0, 1) or not done.stdout.startswith("{"):
        print(f"vnetlab doctor failed ({done.returncode}):\n{done.stderr[-3000:]}",
              file=sys.stderr)
        return 1
    report = json.loads(done.stdout)
    summary = report["summary"]
    scaled = wall * BAR_FILES / args.files
    status = "PASS" if scaled < BAR_SECONDS else "FAIL"
    print(f"vnetlab doctor fleet audit: {args.files} captures of {VMS}-VM hosts "
          f"({size / 1e6:.0f} MB of YAML), {report['engine']}")
    print(f"  wall time {wall:.1f} s ({args.files / wall:.0f} files/s); "
          f"{BAR_FILES} files: {scaled:.1f} s; bar {BAR_SECONDS:.0f} s: {status}")
    print(f"  {summary['hosts']} hosts, findings {summary['findings']}, "
          f"{summary['unreadable']} unreadable")
    for check, entry in summary["by_check"].items():
        print(f"    {check:<34} {entry['severity']:<8} {entry['findings']:>6} on "
              f"{entry['hosts']} hosts")
    print(f"  {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ''}")
    return 1 if args.strict and status == "FAIL" else 0


if __name__ == "__main__":
    sys.exit(main())
