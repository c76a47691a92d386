"""`vnetlab capture --netns NS` of a namespace with 50 VMs' taps in one bridge, timed
(`make bench`).

The bar (brief H5): the capture of such a namespace takes under 1 s. The namespace has
one bridge (STP off), an uplink veth to a peer namespace, 50 taps (`ip tuntap`,
libvirt's fe:... MACs) and FDB entries for a few of the VMs' MACs learned on the uplink
(frames sent into it), so the FDB dump and the VM inference have work to do. Timed: the
capture itself (`vnetlab.capture.capture`, best and median of 5) and the CLI as an
operator runs it (a fresh interpreter, imports and the YAML written included).

Needs root and network namespaces; without them it says why and exits 0 (the bench
suite goes on). Exit 1 under --strict when the capture is over the bar.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BAR_SECONDS = 1.0
TAPS = 50
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "src"))


def sh(*argv: str, stdin: str | None = None) -> None:
    subprocess.run(list(argv), input=stdin, text=True, check=True, capture_output=True)


def build(ns: str, peer: str) -> None:
    sh("ip", "netns", "add", ns)
    sh("ip", "netns", "add", peer)
    lines = ["link add br0 type bridge stp_state 0", "link set br0 up",
             f"link add ens224 address 00:50:56:a1:00:01 type veth peer name up0 netns {peer}",
             "link set ens224 master br0", "link set ens224 up"]
    for i in range(TAPS):
        lines += [f"tuntap add dev vnet{i} mode tap", f"link set vnet{i} address "
                  f"fe:54:00:00:01:{i:02x}", f"link set vnet{i} master br0", f"link set vnet{i} up"]
    sh("ip", "-n", ns, "-batch", "-", stdin="\n".join(lines) + "\n")
    sh("ip", "-n", peer, "link", "set", "up0", "up")
    # five VMs' MACs arrive on the uplink (the seed-000 signature): broadcast frames of
    # the local experimental ethertype, sent from the peer with AF_PACKET
    frames = ("import socket\n"
              "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\ns.bind(('up0', 0))\n"
              "for i in range(5):\n"
              "    s.send(b'\\xff' * 6 + bytes([0x52, 0x54, 0, 0, 1, i]) + b'\\x88\\xb5'"
              " + bytes(46))\n")
    sh("ip", "netns", "exec", peer, sys.executable, "-c", frames)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strict", action="store_true", help="exit 1 when over the bar")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("vnetlab capture bench: skipped (needs root for network namespaces)")
        return 0
    suffix = secrets.token_hex(3)
    ns, peer = f"vnlb-cap-{suffix}", f"vnlb-peer-{suffix}"
    try:
        try:
            build(ns, peer)
        except (subprocess.CalledProcessError, OSError) as exc:
            print(f"vnetlab capture bench: skipped (cannot build the namespace: {exc})")
            return 0
        from vnetlab.capture import capture

        times, result = [], None
        for _ in range(5):
            started = time.perf_counter()
            result = capture(netns=ns, host="kvm1")
            times.append(time.perf_counter() - started)
        assert result is not None
        with tempfile.TemporaryDirectory() as folder:
            out = os.path.join(folder, "kvm1.yaml")
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "vnetlab", "capture", "--netns", ns,
                                   "--host", "kvm1", "-o", out], capture_output=True, text=True,
                                  cwd=REPO_ROOT, check=False)
            wall = time.perf_counter() - started
        if done.returncode != 0:
            print(f"vnetlab capture failed ({done.returncode}):\n{done.stderr[-2000:]}",
                  file=sys.stderr)
            return 1
    finally:
        for name in (ns, peer):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    best, median = min(times), statistics.median(times)
    status = "PASS" if median < BAR_SECONDS else "FAIL"
    counts = result.counts()
    print(f"vnetlab capture: a namespace with {TAPS} taps in one bridge "
          f"({counts['interfaces']} interfaces, {counts['vms']} VMs inferred, "
          f"{counts['fdb']} FDB entries, {len(result.outputs)} commands)")
    print(f"  capture best {best:.3f} s, median {median:.3f} s of 5; bar {BAR_SECONDS:.0f} s: "
          f"{status}")
    print(f"  CLI wall time (fresh interpreter, YAML written): {wall:.2f} s")
    return 1 if args.strict and status == "FAIL" else 0


if __name__ == "__main__":
    sys.exit(main())
