"""``vnetlab watch`` against a real bridge: the seed-000 signature as the kernel announces it.

Namespace ``host``: bridge ``br0`` (STP off) with a tap-like port ``vnet0`` (a veth whose
peer ``eth0`` is the VM, in namespace ``vm``) and an uplink ``ens224`` (peer ``up0`` in
namespace ``sw``, the switch). The VM broadcasts: br0 learns its MAC on vnet0. The switch
floods a frame with the VM's source MAC back into the uplink (what the switch does with a
roundrobin team's broadcast, seed 000): br0 moves the entry to ens224 and watch must say
``bridge.vm-mac-on-uplink`` naming ens224 and vnet0. The VM talks again: the entry moves
back, a second move within the window: ``bridge.mac-flapping``. The switch side goes
down: ens224 loses carrier and is disabled: ``bridge.port-state``. Ctrl-C (SIGINT) ends
the watch cleanly with its summary.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from .netns import PKTOOL, PYTHON, Lab, Netns

pytestmark = pytest.mark.kernel

VM_MAC = "52:54:00:12:34:01"


def send(ns: Netns, dev: str, src: str) -> None:
    ns.exec([PYTHON, str(PKTOOL), "send", "--dev", dev, "--dst", "ff:ff:ff:ff:ff:ff",
             "--src", src])


class Watch:
    def __init__(self, netns: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "vnetlab", "watch", "--netns", netns,
                                      "--json", "--duration", "60"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.records: list[dict[str, Any]] = []
        self.seen = 0
        self.pending = b""

    def _read(self, timeout: float) -> bool:
        """Read what the pipe holds (os.read: no buffer hiding lines from select)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
        if not ready:
            return False
        chunk = os.read(fd, 65536)
        if not chunk:
            return False
        self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        self.records += [json.loads(line) for line in lines if line.strip()]
        return True

    def until(self, what: str, predicate: Any, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for record in self.records[self.seen:]:
                self.seen += 1
                if predicate(record):
                    return record
            if time.monotonic() >= deadline or not self._read(deadline - time.monotonic()):
                raise AssertionError(f"watch never reported {what}: {self.records}")

    def stop(self) -> tuple[int, list[dict[str, Any]]]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)            # Ctrl-C
        out, _ = self.proc.communicate(timeout=15)
        self.pending += out.encode() if isinstance(out, str) else out
        self.records += [json.loads(line) for line in self.pending.splitlines() if line.strip()]
        return self.proc.returncode, self.records


def finding(check: str) -> Any:
    return lambda r: r.get("type") == "finding" and r.get("check") == check


def test_watch_reports_the_seed_000_signature(lab: Lab) -> None:
    host, vm, sw = lab.netns("host"), lab.netns("vm"), lab.netns("sw")
    lab.veth(host, "vnet0", "fe:54:00:12:34:01", vm, "eth0", VM_MAC)
    lab.veth(host, "ens224", "00:50:56:a1:00:01", sw, "up0", "00:50:56:b1:00:01")
    host.add_bridge("br0")
    host.enslave("vnet0", "br0")
    host.enslave("ens224", "br0")
    vm.batch(["link set eth0 up"])
    sw.batch(["link set up0 up"])
    host.wait_forwarding("br0", ["vnet0", "ens224"])
    watch = Watch(host.name)
    lab.add_cleanup(lambda: watch.proc.kill() if watch.proc.poll() is None else None)
    try:
        ready = watch.until("ready", lambda r: r.get("type") == "ready")
        assert ready["bridges"] == ["br0"]
        send(vm, "eth0", VM_MAC)
        watch.until("the VM's MAC learned on vnet0", lambda r: r.get("event") == "fdb-learn"
                    and r.get("mac") == VM_MAC and r.get("port") == "vnet0")
        send(sw, "up0", VM_MAC)                     # the VM's broadcast, back from the switch
        uplink = watch.until("bridge.vm-mac-on-uplink", finding("bridge.vm-mac-on-uplink"))
        assert (uplink["bridge"], uplink["mac"], uplink["port"], uplink["tap"]) == \
            ("br0", VM_MAC, "ens224", "vnet0")
        assert host.fdb("br0").port_of(VM_MAC) == "ens224"          # the kernel agrees
        send(vm, "eth0", VM_MAC)                    # the VM talks again
        flap = watch.until("bridge.mac-flapping", finding("bridge.mac-flapping"))
        assert (flap["mac"], flap["moves"], flap["ports"]) == (VM_MAC, 2, ["vnet0", "ens224"])
        sw.set_link("up0", False)                   # the switch port goes away
        state = watch.until("bridge.port-state", finding("bridge.port-state"))
        assert state["port"] == "ens224" and state["state"] in ("disabled", "lowerlayerdown")
    finally:
        code, records = watch.stop()
    assert code == 0
    end = records[-1]
    assert end["type"] == "end" and end["findings"] >= 3
