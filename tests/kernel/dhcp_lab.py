"""DHCP through a Linux bridge in namespaces: dnsmasq as the server, ISC dhclient as the guest.

::

    vm1 (eth0, dhclient) --veth-- vnet0 [br0 in kvm1] ens224 --veth-- dhcp1 (eth0, dnsmasq)

* **dnsmasq** (:class:`Dnsmasq`) runs in ``dhcp1`` in the foreground with no configuration
  file (``--conf-file=/dev/null``), DNS off (``--port=0``), bound to ``eth0`` only, its pid
  and lease files in the lab's temporary directory, ``--log-dhcp --log-facility=-`` so every
  DHCPDISCOVER/OFFER/REQUEST/ACK it handles is a line on stderr, and **``--no-ping``**:
  before offering a new address dnsmasq pings it and waits up to ``PING_WAIT`` (3 s,
  ``config.h``) for an answer (``do_icmp_ping`` in ``dhcp.c``); measured here, the first
  OFFER came 3.0 s after the DISCOVER.  That delay is a property of dnsmasq's conflict
  detection, not of the network path under test, and it would add 3 s to every bound time
  and blur the STP timing, so it is switched off (vnetlab's server then gets
  ``ping-check: false``); one experiment keeps it on to compare that delay
  (``build_dhcp_lab(ping_check=True)``).
* **dhclient** (:class:`Dhclient`) runs in ``vm1`` as ``dhclient -d -v -1 -cf CONF -lf LEASES
  -pf PID -sf SCRIPT eth0``: foreground, verbose (one line per DHCPDISCOVER with its
  ``interval``, per OFFER, REQUEST, ACK and ``bound to``), one attempt (``-1``: when
  ``timeout`` passes without a lease it logs "Unable to obtain a lease on first try" and
  exits 2, ``state_panic``), its own dhclient.conf (``timeout N;`` only) and lease file, and
  a script that only appends ``$reason $interface $new_ip_address`` to a log: no address,
  route or resolv.conf is configured, so nothing outside the namespace changes.
* Every output line of both programs is stamped with ``time.monotonic()`` by a reader
  thread when it arrives (sub-millisecond after the program wrote it; dhclient logs a
  DHCPDISCOVER right before ``send_packet``), so DISCOVER send times and the bound time are
  on the same clock as the harness's port-state observations.

The bridge's ports are enabled only once dnsmasq is listening (:meth:`DhcpLab.enable_ports`),
so with STP on both ports start LISTENING together and the test knows when that happened.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .netns import HarnessError, Lab, Netns, _terminate, in_ci

HOST = "kvm1"
VM = "vm1"
SERVER = "dhcp1"
BRIDGE = "br0"
TAP = "vnet0"  # the VM's tap: host end of the VM's veth
UPLINK = "ens224"  # host end of the veth to the DHCP server
VM_MAC = "52:54:00:dc:00:01"
TAP_MAC = "fe:54:00:dc:00:01"  # libvirt: guest MAC with the first byte 0xfe
UPLINK_MAC = "00:50:56:dc:00:02"
SERVER_MAC = "02:00:00:dc:00:fe"
BRIDGE_MAC = "00:50:56:dc:00:10"
SERVER_IP = "192.168.50.1"
PREFIX_LEN = 24
RANGE_START = "192.168.50.100"
RANGE_END = "192.168.50.150"
LEASE_TIME = "1h"

INIT_NET_INODE = 0xEFFFFFF9  # PROC_NET_INIT_INO (include/linux/proc_ns.h): /proc/self/ns/net of init_net
BRNF_SYSCTL = "net.bridge.bridge-nf-call-iptables"


# --------------------------------------------------------------------------- availability


def dhcp_tools_missing() -> str:
    """"" when dnsmasq, dhclient and iptables are installed, else what is missing."""
    missing = [tool for tool in ("dnsmasq", "dhclient", "iptables") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not installed (make system-deps)"
    if not os.path.isdir("/proc/sys/net/bridge"):
        return "br_netfilter is not loaded (/proc/sys/net/bridge is missing; modprobe br_netfilter)"
    return ""


def require_dhcp_tools() -> None:
    """Skip loudly when the DHCP programs are missing; FAIL instead under CI=true."""
    import pytest

    reason = dhcp_tools_missing()
    if not reason:
        return
    message = f"!!! DHCP KERNEL VALIDATION NOT RUN: {reason}"
    if in_ci():
        pytest.fail(message + " (CI=true: not skipping)", pytrace=False)
    pytest.skip(message + " (set CI=true to make this a failure)")


# --------------------------------------------------------------------------- timed output


@dataclass(frozen=True)
class LogLine:
    """One output line of a program and the ``time.monotonic()`` at which it was read."""

    t: float
    text: str


class TimedProcess:
    """A program running in a namespace; stdout+stderr read line by line by a thread."""

    def __init__(self, ns: Netns, argv: list[str], what: str) -> None:
        self.ns = ns
        self.what = what
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns.name, *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self._lines: list[LogLine] = []
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read, name=f"read-{what}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            for raw in self.proc.stdout:
                line = LogLine(time.monotonic(), raw.rstrip("\n"))
                with self._cond:
                    self._lines.append(line)
                    self._cond.notify_all()
        except (ValueError, OSError):
            pass            # the pipe was closed by the clean-up while we were reading
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    @property
    def lines(self) -> list[LogLine]:
        """Every line read so far."""
        with self._cond:
            return list(self._lines)

    def wait_line(self, pattern: re.Pattern[str], timeout: float) -> LogLine | None:
        """The first line matching ``pattern`` (waits up to ``timeout``; None at EOF/timeout)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines:
                    if pattern.search(line.text):
                        return line
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def wait_exit(self, timeout: float) -> int | None:
        """The exit status once the program exited (None if still running at ``timeout``)."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reader.join(timeout=5)
        return code

    def stop(self) -> int:
        """SIGTERM (SIGKILL after 5 s); wait for the reader; the exit status."""
        if self.proc.poll() is None:
            _terminate(self.proc)
        self._reader.join(timeout=5)
        return self.proc.wait()

    def text(self) -> str:
        """Everything the program printed (for assertion messages)."""
        return "\n".join(f"{line.t:.3f} {line.text}" for line in self.lines)


# --------------------------------------------------------------------------- dnsmasq


DNSMASQ_READY = re.compile(r"DHCP, sockets bound exclusively to interface")
# dnsmasq --log-dhcp: "dnsmasq-dhcp[pid]: <xid> DHCPDISCOVER(eth0) 52:54:00:dc:00:01 "
DNSMASQ_MSG = re.compile(r"\b(?P<xid>\d+) (?P<kind>DHCP[A-Z]+)\((?P<iface>[^)]+)\)(?P<rest>.*)$")


@dataclass(frozen=True)
class ServerEvent:
    """A DHCP message dnsmasq handled: received (DISCOVER, REQUEST ...) or sent (OFFER, ACK ...).

    ``t`` is when dnsmasq logged it: it logs a DISCOVER when it answers it, so with the ping
    check on that is after the ping (3 s later), with ``--no-ping`` on arrival."""

    t: float
    kind: str  # "DISCOVER", "OFFER", "REQUEST", "ACK", "NAK", ...
    xid: int
    detail: str


class Dnsmasq(TimedProcess):
    """dnsmasq as the DHCP server of ``SERVER`` (see the module docstring for the options)."""

    def __init__(self, ns: Netns, workdir: Path, *, ping: bool = False) -> None:
        argv = [
            "dnsmasq",
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--port=0",
            "--interface=eth0",
            "--bind-interfaces",
            f"--dhcp-range={RANGE_START},{RANGE_END},255.255.255.0,{LEASE_TIME}",
            f"--dhcp-leasefile={workdir / 'dnsmasq.leases'}",
            f"--pid-file={workdir / 'dnsmasq.pid'}",
            "--log-dhcp",
            "--log-facility=-",
        ]
        if not ping:
            argv.append("--no-ping")
        super().__init__(ns, argv, f"dnsmasq in {ns.name}")
        if self.wait_line(DNSMASQ_READY, timeout=10.0) is None:
            self.stop()
            raise HarnessError(f"dnsmasq did not start:\n{self.text()}")

    def events(self) -> list[ServerEvent]:
        """The DHCP messages dnsmasq logged, in order."""
        found = []
        for line in self.lines:
            match = DNSMASQ_MSG.search(line.text)
            if match:
                kind = match["kind"].removeprefix("DHCP")
                found.append(ServerEvent(line.t, kind, int(match["xid"]), match["rest"].strip()))
        return found

    def received(self, kind: str) -> list[float]:
        """Times at which dnsmasq logged receiving a ``kind`` message (e.g. "DISCOVER")."""
        return [ev.t for ev in self.events() if ev.kind == kind]


# --------------------------------------------------------------------------- dhclient


DHCLIENT_DISCOVER = re.compile(r"^DHCPDISCOVER on (?P<iface>\S+) to \S+ port \d+ interval (?P<interval>\d+)")
DHCLIENT_OFFER = re.compile(r"^DHCPOFFER of (?P<ip>\S+) from (?P<server>\S+)")
DHCLIENT_REQUEST = re.compile(r"^DHCPREQUEST for (?P<ip>\S+) on \S+ to \S+ port \d+")
DHCLIENT_ACK = re.compile(r"^DHCPACK of (?P<ip>\S+) from (?P<server>\S+)")
DHCLIENT_BOUND = re.compile(r"^bound to (?P<ip>\S+) -- renewal in \d+ seconds")
DHCLIENT_GAVE_UP = re.compile(r"^Unable to obtain a lease on first try")
DHCLIENT_NO_OFFERS = re.compile(r"^No DHCPOFFERS received")


@dataclass(frozen=True)
class ClientEvent:
    """One step dhclient logged: DISCOVER (with the ``interval`` it will wait before the next
    one), OFFER, REQUEST, ACK, BOUND, NO_OFFERS, GAVE_UP."""

    t: float
    kind: str
    interval: int | None = None
    ip: str | None = None


class Dhclient(TimedProcess):
    """ISC dhclient as the guest of ``VM`` (see the module docstring for the options)."""

    def __init__(self, ns: Netns, workdir: Path, *, timeout: int, iface: str = "eth0") -> None:
        self.workdir = workdir
        conf = workdir / "dhclient.conf"
        conf.write_text(f"timeout {timeout};\n")
        self.script_log = workdir / "dhclient-script.log"
        self.script_log.unlink(missing_ok=True)
        script = workdir / "dhclient-script"
        script.write_text(
            "#!/bin/sh\n"
            "# vnetlab kernel test: log the reason only; configure nothing.\n"
            f'echo "$reason $interface ${{new_ip_address:-}}" >> {self.script_log}\n'
            "exit 0\n"
        )
        script.chmod(0o755)
        leases = workdir / "dhclient.leases"
        leases.unlink(missing_ok=True)  # no old lease: start in INIT (DISCOVER), not INIT-REBOOT
        self.started_at = time.monotonic()
        argv = ["dhclient", "-d", "-v", "-1", "-cf", str(conf), "-lf", str(leases)]
        argv += ["-pf", str(workdir / "dhclient.pid"), "-sf", str(script), iface]
        super().__init__(ns, argv, f"dhclient in {ns.name}")

    def events(self) -> list[ClientEvent]:
        """dhclient's DHCP steps, in order."""
        found: list[ClientEvent] = []
        for line in self.lines:
            text = line.text
            if match := DHCLIENT_DISCOVER.search(text):
                found.append(ClientEvent(line.t, "DISCOVER", interval=int(match["interval"])))
            elif match := DHCLIENT_OFFER.search(text):
                found.append(ClientEvent(line.t, "OFFER", ip=match["ip"]))
            elif match := DHCLIENT_REQUEST.search(text):
                found.append(ClientEvent(line.t, "REQUEST", ip=match["ip"]))
            elif match := DHCLIENT_ACK.search(text):
                found.append(ClientEvent(line.t, "ACK", ip=match["ip"]))
            elif match := DHCLIENT_BOUND.search(text):
                found.append(ClientEvent(line.t, "BOUND", ip=match["ip"]))
            elif DHCLIENT_NO_OFFERS.search(text):
                found.append(ClientEvent(line.t, "NO_OFFERS"))
            elif DHCLIENT_GAVE_UP.search(text):
                found.append(ClientEvent(line.t, "GAVE_UP"))
        return found

    def discovers(self) -> list[ClientEvent]:
        """Every DHCPDISCOVER dhclient sent, with its send time and interval."""
        return [ev for ev in self.events() if ev.kind == "DISCOVER"]

    def wait_bound(self, timeout: float) -> ClientEvent | None:
        """The BOUND event (None if dhclient gave up or ``timeout`` passed first)."""
        line = self.wait_line(DHCLIENT_BOUND, timeout)
        if line is None:
            return None
        match = DHCLIENT_BOUND.search(line.text)
        assert match is not None
        return ClientEvent(line.t, "BOUND", ip=match["ip"])

    def script_reasons(self) -> list[tuple[str, str]]:
        """(reason, new_ip_address) for every run of the logging script (PREINIT, BOUND ...)."""
        if not self.script_log.exists():
            return []
        rows = []
        for line in self.script_log.read_text().splitlines():
            parts = line.split()
            rows.append((parts[0], parts[2] if len(parts) > 2 else ""))
        return rows


# --------------------------------------------------------------------------- the lab


@dataclass
class PortTimeline:
    """When the VM's bridge port was seen in each STP state (``time.monotonic()``)."""

    enabled_at: float  # just before ``ip link set ... up`` was issued
    seen: dict[str, float] = field(default_factory=dict)  # state -> first time observed

    def at(self, state: str) -> float:
        """First time the port was observed in ``state``."""
        return self.seen[state]


@dataclass
class DhcpLab:
    """vm1 -- br0 (kvm1) -- dhcp1, with dnsmasq running and the bridge ports still down."""

    lab: Lab
    host: Netns
    vm: Netns
    server: Netns
    workdir: Path
    dnsmasq: Dnsmasq
    clients: list[Dhclient] = field(default_factory=list)

    # -- ports and clients
    def enable_ports(self) -> float:
        """Bring both bridge ports up in one batch; the ``time.monotonic()`` just before."""
        before = time.monotonic()
        self.host.batch([f"link set {TAP} up", f"link set {UPLINK} up"])
        return before

    def watch_port(
        self,
        enabled_at: float,
        until: Callable[[PortTimeline], bool],
        timeout: float,
        poll: float = 0.05,
    ) -> PortTimeline:
        """Poll the VM port's STP state every ``poll`` s until ``until(timeline)``."""
        timeline = PortTimeline(enabled_at)
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            state = self.host.port_states(BRIDGE).get(TAP, "?")
            timeline.seen.setdefault(state, now)
            if until(timeline):
                return timeline
            if now > deadline:
                raise HarnessError(f"{BRIDGE} port {TAP}: timed out, states seen {timeline.seen}")
            time.sleep(poll)

    def start_client(self, timeout: int) -> Dhclient:
        """A fresh dhclient in vm1 (stopped by the lab's cleanup)."""
        client = Dhclient(self.vm, self.workdir, timeout=timeout)
        self.clients.append(client)
        return client

    # -- br_netfilter and iptables in the host namespace
    def iptables(self, *args: str) -> str:
        """``iptables -w ARGS`` in kvm1."""
        return self.host.exec(["iptables", "-w", *args])

    def forward_policy_drops(self) -> int:
        """Packets dropped by kvm1's iptables FORWARD policy (``iptables -L FORWARD -v -x``)."""
        head = self.iptables("-L", "FORWARD", "-v", "-x", "-n").splitlines()[0]
        match = re.search(r"policy \w+ (\d+) packets", head)
        if match is None:
            raise HarnessError(f"cannot parse the FORWARD chain header {head!r}")
        return int(match.group(1))

    def stop_clients(self) -> None:
        """Stop every dhclient started so far."""
        for client in self.clients:
            client.stop()


def sysctl(ns: Netns | None, key: str) -> str:
    """A sysctl's value in ``ns`` (None: the namespace of this process, checked to be init_net)."""
    path = "/proc/sys/" + key.replace(".", "/")
    if ns is None:
        return Path(path).read_text().strip()
    return ns.exec(["cat", path]).strip()


def set_sysctl(ns: Netns, key: str, value: str) -> None:
    """``sysctl -w key=value`` inside ``ns`` (never in init_net)."""
    ns.exec(["sysctl", "-qw", f"{key}={value}"])


def in_init_net() -> bool:
    """True when this process runs in the initial network namespace."""
    return os.readlink("/proc/self/ns/net") == f"net:[{INIT_NET_INODE}]"


def build_dhcp_lab(
    lab: Lab, *, stp: bool = False, forward_delay: float = 15.0, ping_check: bool = False
) -> DhcpLab:
    """Namespaces, veths and br0 (ports enslaved but down), dnsmasq running in dhcp1.

    ``forward_delay`` (seconds) is set before STP is switched on, in the same netlink
    request (``br_changelink`` applies IFLA_BR_FORWARD_DELAY before IFLA_BR_STP_STATE); in a
    non-initial namespace the kernel runs its own STP (``br_stp_start`` calls the user-space
    helper only in init_net), so ``stp_state 1`` is BR_KERNEL_STP here.  ``ping_check``:
    leave dnsmasq's ping before an OFFER on (no ``--no-ping``)."""
    workdir = Path(tempfile.mkdtemp(prefix="vnlk-dhcp-"))
    workdir.chmod(0o755)  # dnsmasq drops to nobody after opening its files
    lab.add_cleanup(lambda: shutil.rmtree(workdir, ignore_errors=True))
    host = lab.netns(HOST)
    vm = lab.netns(VM)
    server = lab.netns(SERVER)
    centis = round(forward_delay * 100)
    host.batch(
        [
            f"link add {BRIDGE} address {BRIDGE_MAC} type bridge forward_delay {centis} stp_state {int(stp)}",
            f"link set {BRIDGE} up",
        ]
    )
    lab.veth(host, TAP, TAP_MAC, vm, "eth0", VM_MAC)
    lab.veth(host, UPLINK, UPLINK_MAC, server, "eth0", SERVER_MAC)
    host.batch([f"link set {TAP} master {BRIDGE}", f"link set {UPLINK} master {BRIDGE}"])
    server.batch([f"address add {SERVER_IP}/{PREFIX_LEN} dev eth0", "link set eth0 up"])
    vm.set_link("eth0", True)
    dnsmasq = Dnsmasq(server, workdir, ping=ping_check)
    dlab = DhcpLab(lab, host, vm, server, workdir, dnsmasq)

    def stop_all() -> None:
        dlab.stop_clients()
        dnsmasq.stop()

    lab.add_cleanup(stop_all)
    return dlab
