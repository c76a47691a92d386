"""Harness for the real-kernel validation suite: network namespaces, veths, bridges, taps.

Every namespace is named ``vnlk-<role>-<suffix>`` with a random per-test suffix and is
owned by a :class:`Lab`; :meth:`Lab.close` (run by the ``lab`` fixture's finalizer, also on
failure) stops every process started inside and deletes every namespace.  Python 3.11 has no
``os.setns``, so code that must run inside a namespace is a subprocess started with
``ip netns exec`` (:mod:`pktool` for frames and pings, :mod:`aggregator` for team/bond
emulation); configuration goes through ``ip -n NS -batch -``.

IPv6 is disabled in every namespace before any interface exists, so the kernel emits no
DAD/MLD/router-solicitation frames, and IGMP reports for link-local groups are off (a bridge
with multicast snooping joins 224.0.0.106 and would report it): the only frames on the wires
are the ones a test sends, which keeps the FDBs comparable with the simulator's.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PKTOOL = HERE / "pktool.py"
AGGREGATOR = HERE / "aggregator.py"
PREFIX = "vnlk-"
PYTHON = sys.executable
TEST_ETHERTYPE = 0x88B5  # IEEE 802 "local experimental ethertype 1": never sent by the kernel

_LIVE_NAMESPACES: set[str] = set()


class HarnessError(RuntimeError):
    """A command of the harness failed (the message carries the command and its stderr)."""


def run(argv: Sequence[str], *, stdin: str | None = None, timeout: float = 30.0) -> str:
    """Run ``argv``; return stdout; raise :class:`HarnessError` with stderr on failure."""
    proc = subprocess.run(
        list(argv), input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        shown = " ".join(argv) + (f" <<< {stdin.strip()!r}" if stdin else "")
        raise HarnessError(f"`{shown}` exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


# --------------------------------------------------------------------------- availability


@functools.cache
def _unavailable_reason() -> str | None:
    """None when namespaces, veths, bridges and taps all work here, else why not."""
    if os.geteuid() != 0:
        return "not running as root (network namespaces need CAP_SYS_ADMIN/CAP_NET_ADMIN)"
    for tool in ("ip", "bridge"):
        if shutil.which(tool) is None:
            return f"`{tool}` (iproute2) is not installed"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (tap devices are needed to emulate team/bond)"
    name = f"{PREFIX}probe-{secrets.token_hex(3)}"
    try:
        run(["ip", "netns", "add", name])
    except (HarnessError, OSError) as exc:
        return f"cannot create a network namespace: {exc}"
    try:
        run(
            ["ip", "-n", name, "-batch", "-"],
            stdin="link add p0 type veth peer name p1\n"
            "link add b0 type bridge\n"
            "link set p0 master b0\n"
            "tuntap add dev t0 mode tap\n",
        )
    except HarnessError as exc:
        return f"veth/bridge/tap creation failed in a namespace: {exc}"
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    return None


def kernel_available() -> bool:
    """True when the real-kernel validation suite can run on this machine."""
    return _unavailable_reason() is None


def unavailable_reason() -> str:
    """Why :func:`kernel_available` is False ("" when it is True)."""
    return _unavailable_reason() or ""


def in_ci() -> bool:
    """CI=true turns "kernel unavailable" from a skip into a failure."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_kernel() -> None:
    """Skip the calling test LOUDLY when namespaces are unavailable; FAIL instead in CI."""
    import pytest

    reason = unavailable_reason()
    if not reason:
        return
    message = (
        f"!!! KERNEL VALIDATION NOT RUN: {reason}. These tests compare vnetlab with real "
        "Linux bridges in network namespaces; run them as root on a kernel with netns, "
        "veth, bridge and tun support."
    )
    if in_ci():
        pytest.fail(message + " (CI=true: not skipping)", pytrace=False)
    pytest.skip(message + " (set CI=true to make this a failure)")


# --------------------------------------------------------------------------- value types


@dataclass(frozen=True, order=True)
class Frame:
    """What a capture reports about one received frame."""

    src: str
    dst: str
    ethertype: int


@dataclass(frozen=True)
class FdbSnapshot:
    """A bridge's FDB (``bridge -j fdb show br X``) normalised to ``{mac: port}`` maps.

    ``dynamic``: learned entries (B7); ``local``: the bridge's and its ports' own addresses
    (flags LOCAL+STATIC, shown as *permanent*, B2c); ``static``: user-added static entries.
    Entries of the ports' own RX filters (``self`` flag, no master) are not FDB entries.
    """

    dynamic: dict[str, str]
    local: dict[str, str]
    static: dict[str, str] = field(default_factory=dict)

    def port_of(self, mac: str) -> str | None:
        """Port of a dynamic, static or local entry for ``mac`` (None when unknown)."""
        mac = mac.lower()
        return self.dynamic.get(mac) or self.static.get(mac) or self.local.get(mac)


def parse_fdb(entries: list[dict[str, object]], bridge: str) -> FdbSnapshot:
    """Normalise the JSON of ``bridge -j fdb show br <bridge>`` (VLAN 0 entries only)."""
    dynamic: dict[str, str] = {}
    local: dict[str, str] = {}
    static: dict[str, str] = {}
    for entry in entries:
        if entry.get("master") != bridge or entry.get("vlan") not in (None, 0):
            continue
        mac, port, state = str(entry["mac"]).lower(), str(entry["ifname"]), entry.get("state")
        flags = entry.get("flags") or []
        if state == "permanent":
            local[mac] = port
        elif state == "static" or (isinstance(flags, list) and "sticky" in flags):
            static[mac] = port
        else:
            dynamic[mac] = port
    return FdbSnapshot(dynamic, local, static)


@dataclass(frozen=True)
class PingResult:
    """Outcome of :meth:`Netns.ping`: counts, and per request its send time and answer."""

    sent: int
    received: int
    sent_at: tuple[float, ...] = ()  # time.monotonic() of request seq 1..sent
    replied: frozenset[int] = frozenset()  # sequence numbers answered

    @property
    def ok(self) -> bool:
        """Every echo request was answered."""
        return self.sent > 0 and self.received == self.sent

    @property
    def lost(self) -> list[int]:
        """Sequence numbers (1-based) of the requests never answered."""
        return [seq for seq in range(1, self.sent + 1) if seq not in self.replied]


def parse_ping(out: str) -> PingResult:
    """The JSON printed by ``pktool.py ping``."""
    data = json.loads(out.strip().splitlines()[-1])
    return PingResult(
        int(data["sent"]),
        int(data["received"]),
        tuple(float(t) for t in data.get("sent_at", ())),
        frozenset(int(seq) for seq in data.get("replied", ())),
    )


# --------------------------------------------------------------------------- processes


def _read_ready(proc: subprocess.Popen[str], what: str, timeout: float = 10.0) -> None:
    """Wait until ``proc`` prints ``READY`` (its socket is bound); raise if it dies first."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        readable, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
        if not readable:
            break
        line = proc.stdout.readline()
        if line.strip() == "READY":
            return
        if line == "":
            break
    _terminate(proc)
    err = proc.stderr.read() if proc.stderr else ""
    raise HarnessError(f"{what} did not become ready: {err.strip()}")


def _terminate(proc: subprocess.Popen[str], timeout: float = 5.0) -> tuple[str, str]:
    """SIGTERM ``proc`` (SIGKILL after ``timeout``); return its remaining stdout/stderr."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out or "", err or ""


@dataclass
class Capture:
    """An AF_PACKET listener (pktool ``capture``) running on one device of one namespace."""

    ns: str
    dev: str
    proc: subprocess.Popen[str]
    frames: list[Frame] | None = None
    times: list[float] = field(default_factory=list)  # time.monotonic() each frame was read

    def stop(self) -> list[Frame]:
        """Stop listening; return the frames received on the device (not sent by it)."""
        if self.frames is None:
            out, err = _terminate(self.proc)
            if self.proc.returncode not in (0, -signal.SIGTERM):
                raise HarnessError(f"capture on {self.ns}:{self.dev} failed: {err.strip()}")
            records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
            self.frames = [Frame(r["src"], r["dst"], int(r["ethertype"])) for r in records]
            self.times = [float(r.get("t", 0.0)) for r in records]
        return self.frames

    def frames_until(self, t: float) -> list[Frame]:
        """Frames read no later than monotonic time ``t`` (after :meth:`stop`)."""
        return [f for f, when in zip(self.stop(), self.times, strict=True) if when <= t]

    def count(self, src: str | None = None, dst: str | None = None, ethertype: int | None = None) -> int:
        """Frames received that match every given filter (after :meth:`stop`)."""
        return sum(
            1
            for f in self.stop()
            if (src is None or f.src == src.lower())
            and (dst is None or f.dst == dst.lower())
            and (ethertype is None or f.ethertype == ethertype)
        )


@dataclass
class AggregatorProc:
    """A running :mod:`aggregator` (emulated team/bond/LAG): control lines, exit report.

    ``stats`` (per-port counters) and ``final`` (the whole exit report: counters, link and
    active-port events with ``time.monotonic()`` timestamps, active port) are set by
    :meth:`stop`.
    """

    ns: str
    tap: str
    mode: str
    proc: subprocess.Popen[str]
    stats: dict[str, int] | None = None
    final: dict[str, Any] | None = None

    def control(self, line: str, timeout: float = 5.0) -> dict[str, Any]:
        """Send one control line (see aggregator.py) and return its JSON answer.

        The aggregator prints nothing unsolicited between READY and its exit report, so the
        answer is the next line on its stdout (select() is safe: nothing stays buffered).
        """
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        readable, _, _ = select.select([self.proc.stdout], [], [], timeout)
        answer = self.proc.stdout.readline() if readable else ""
        if not answer.startswith("{"):
            raise HarnessError(f"aggregator {self.ns}:{self.tap}: no answer to {line!r} ({answer!r})")
        return dict(json.loads(answer))

    def state(self) -> dict[str, Any]:
        """Active port, enabled ports, counters and events so far."""
        return self.control("state")

    def set_active(self, port: str) -> None:
        """Soft failover: ``port`` becomes the active port, links untouched."""
        answer = self.control(f"active {port}")
        if not answer.get("ok") or answer.get("active") != port:
            raise HarnessError(f"aggregator {self.ns}:{self.tap} refused active port {port}: {answer}")

    def wait_state(
        self, what: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        """Poll :meth:`state` every 2 ms until ``predicate(state)``; return that state."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.state()
            if predicate(state):
                return state
            if time.monotonic() > deadline:
                raise HarnessError(f"aggregator {self.ns}:{self.tap}: timed out waiting for {what}: {state}")
            time.sleep(0.002)

    def stop(self) -> dict[str, int]:
        """SIGTERM the aggregator; it must exit 0 and report its per-port counters."""
        if self.stats is None:
            out, err = _terminate(self.proc)
            if self.proc.returncode != 0:
                raise HarnessError(f"aggregator {self.ns}:{self.tap} exited {self.proc.returncode}: {err}")
            lines = [line for line in out.splitlines() if line.startswith("{")]
            self.final = json.loads(lines[-1]) if lines else {}
            self.stats = dict(self.final.get("counters", {}))
        return self.stats


@dataclass
class PingProc:
    """A ``pktool.py ping`` running in the background (:meth:`Netns.start_ping`)."""

    ns: str
    dst: str
    proc: subprocess.Popen[str]
    timeout: float

    def result(self) -> PingResult:
        """Wait for the ping to finish; its result."""
        try:
            out, err = self.proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _terminate(self.proc)
            raise HarnessError(f"ping {self.ns} -> {self.dst} did not finish") from None
        if self.proc.returncode != 0:
            raise HarnessError(f"ping {self.ns} -> {self.dst} exited {self.proc.returncode}: {err.strip()}")
        return parse_ping(out)


# --------------------------------------------------------------------------- one namespace


@dataclass
class Netns:
    """One network namespace; every method runs ``ip``/``bridge``/tools inside it."""

    name: str
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    # -- raw command access
    def batch(self, lines: Iterable[str]) -> None:
        """Apply ``ip`` commands in one ``ip -n NS -batch -`` call (fast)."""
        text = "".join(line.rstrip("\n") + "\n" for line in lines)
        if text:
            run(["ip", "-n", self.name, "-batch", "-"], stdin=text)

    def ip_json(self, *args: str) -> list[dict[str, object]]:
        """``ip -n NS -j <args>`` parsed."""
        out = run(["ip", "-n", self.name, "-j", *args])
        return list(json.loads(out or "[]"))

    def bridge_json(self, *args: str) -> list[dict[str, object]]:
        """``bridge -n NS -j <args>`` parsed."""
        out = run(["bridge", "-n", self.name, "-j", *args])
        return list(json.loads(out or "[]"))

    def exec(self, argv: Sequence[str], timeout: float = 30.0) -> str:
        """Run ``argv`` inside the namespace and return its stdout."""
        return run(["ip", "netns", "exec", self.name, *argv], timeout=timeout)

    def spawn(self, argv: Sequence[str], *, stdin: bool = False) -> subprocess.Popen[str]:
        """Start ``argv`` inside the namespace (``stdin``: give it a pipe); killed by
        :meth:`Lab.close`."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.name, *argv],
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(proc)
        return proc

    # -- configuration
    def add_bridge(
        self, name: str, *, ageing_time: float = 300.0, stp: bool = False, mac: str | None = None
    ) -> None:
        """A bridge (B1); ``ageing_time`` in seconds (0 = learn nothing, B9); brought up."""
        centis = round(ageing_time * 100)  # iproute2 takes clock_t (1/100 s)
        addr = f" address {mac}" if mac else ""
        self.batch(
            [
                f"link add {name}{addr} type bridge stp_state {int(stp)} ageing_time {centis}",
                f"link set {name} up",
            ]
        )

    def set_ageing_time(self, bridge: str, seconds: float) -> None:
        """Change a bridge's ageing time at run time (also triggers an FDB GC, B9)."""
        self.batch([f"link set {bridge} type bridge ageing_time {round(seconds * 100)}"])

    def add_tap(self, name: str, mac: str) -> None:
        """A persistent tap (no carrier until a process attaches to it)."""
        self.batch([f"tuntap add dev {name} mode tap", f"link set {name} address {mac}"])

    def enslave(self, port: str, bridge: str) -> None:
        """Add ``port`` to ``bridge`` and bring it up (B2)."""
        self.batch([f"link set {port} master {bridge}", f"link set {port} up"])

    def set_port(self, port: str, **flags: bool) -> None:
        """Per-port bridge flags (B15): learning, flood, mcast_flood, bcast_flood, hairpin."""
        opts = " ".join(f"{key} {'on' if val else 'off'}" for key, val in flags.items())
        self.batch([f"link set dev {port} type bridge_slave {opts}"])

    def set_link(self, dev: str, up: bool) -> None:
        """Administrative up/down (``ip link set DEV up|down``)."""
        self.batch([f"link set {dev} {'up' if up else 'down'}"])

    def set_promisc(self, dev: str) -> None:
        """Promiscuous mode (bond/team members under a bridge are promiscuous)."""
        self.batch([f"link set {dev} promisc on"])

    def set_mac(self, dev: str, mac: str) -> None:
        """Change ``dev``'s MAC address."""
        self.batch([f"link set {dev} address {mac}"])

    def add_address(self, dev: str, cidr: str) -> None:
        """An IPv4 address on ``dev``."""
        self.batch([f"address add {cidr} dev {dev}"])

    # -- observation
    def fdb(self, bridge: str) -> FdbSnapshot:
        """The bridge's FDB, normalised (see :class:`FdbSnapshot`)."""
        return parse_fdb(self.bridge_json("fdb", "show", "br", bridge), bridge)

    def port_states(self, bridge: str) -> dict[str, str]:
        """STP state of each port of ``bridge`` (``forwarding``, ``disabled`` ...)."""
        return {
            str(link["ifname"]): str(link.get("state"))
            for link in self.bridge_json("link", "show")
            if link.get("master") == bridge
        }

    def operstate(self, dev: str) -> str:
        """Operational state of ``dev`` (``UP``, ``DOWN``, ``LOWERLAYERDOWN`` ...)."""
        return str(self.ip_json("link", "show", "dev", dev)[0].get("operstate"))

    def wait_until(self, what: str, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Poll ``predicate()`` every 20 ms until true; raise with ``what`` on timeout."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise HarnessError(f"{self.name}: timed out waiting for {what}")
            time.sleep(0.02)

    def wait_forwarding(self, bridge: str, ports: Iterable[str], timeout: float = 5.0) -> None:
        """Wait until every port is FORWARDING (carrier reaches the bridge via link watch, L1)."""
        wanted = list(ports)

        def ready() -> bool:
            states = self.port_states(bridge)
            return all(states.get(p) == "forwarding" for p in wanted)

        self.wait_until(f"{bridge} ports {wanted} forwarding", ready, timeout)

    def wait_port_state(self, bridge: str, port: str, state: str, timeout: float = 5.0) -> None:
        """Wait until ``port`` of ``bridge`` is in STP state ``state`` (e.g. ``disabled``)."""

        def reached() -> bool:
            return self.port_states(bridge).get(port) == state

        self.wait_until(f"{bridge} port {port} {state}", reached, timeout)

    def wait_carrier_lost(self, dev: str, timeout: float = 5.0) -> None:
        """Wait until ``dev`` is no longer operationally up (e.g. its veth peer went down)."""

        def lost() -> bool:
            return self.operstate(dev) != "UP"

        self.wait_until(f"{dev} carrier lost", lost, timeout)

    def wait_operstate(self, dev: str, state: str, timeout: float = 5.0) -> None:
        """Wait until ``dev`` reaches operstate ``state``."""
        self.wait_until(f"{dev} operstate {state}", lambda: self.operstate(dev) == state, timeout)

    # -- traffic
    def send(
        self,
        dev: str,
        dst: str,
        src: str | None = None,
        ethertype: int = TEST_ETHERTYPE,
        count: int = 1,
    ) -> None:
        """Write ``count`` crafted frames out of ``dev``; ``src`` defaults to its own MAC."""
        argv = [PYTHON, str(PKTOOL), "send", "--dev", dev, "--dst", dst]
        argv += ["--ethertype", hex(ethertype), "--count", str(count)]
        if src:
            argv += ["--src", src]
        self.exec(argv)

    def capture(self, dev: str, timeout: float = 60.0) -> Capture:
        """Start an AF_PACKET listener on ``dev``; returns once it is bound."""
        proc = self.spawn([PYTHON, str(PKTOOL), "capture", "--dev", dev, "--timeout", str(timeout)])
        _read_ready(proc, f"capture on {self.name}:{dev}")
        return Capture(self.name, dev, proc)

    def ping(self, dst: str, count: int = 3, interval: float = 0.2, wait: float = 1.5) -> PingResult:
        """ICMP echo from this namespace (pktool ``ping``; no ping binary needed)."""
        argv = [PYTHON, str(PKTOOL), "ping", "--dst", dst, "--count", str(count)]
        argv += ["--interval", str(interval), "--wait", str(wait)]
        return parse_ping(self.exec(argv, timeout=count * interval + wait + 10))

    def start_ping(self, dst: str, count: int, interval: float, wait: float, start_at: float) -> PingProc:
        """:meth:`ping` in the background; the first request leaves at monotonic ``start_at``."""
        argv = [PYTHON, str(PKTOOL), "ping", "--dst", dst, "--count", str(count)]
        argv += ["--interval", str(interval), "--wait", str(wait), "--start-at", repr(start_at)]
        timeout = max(0.0, start_at - time.monotonic()) + count * interval + wait + 10
        return PingProc(self.name, dst, self.spawn(argv), timeout)

    def start_aggregator(
        self, tap: str, ports: Sequence[str], mode: str, link_watch_ms: float = 10.0
    ) -> AggregatorProc:
        """Run :mod:`aggregator` on an existing ``tap`` over member ``ports`` (stdin: control)."""
        argv = [PYTHON, str(AGGREGATOR), "--tap", tap, "--ports", ",".join(ports), "--mode", mode]
        proc = self.spawn([*argv, "--link-watch-ms", str(link_watch_ms), "--control"], stdin=True)
        _read_ready(proc, f"aggregator {self.name}:{tap}")
        return AggregatorProc(self.name, tap, mode, proc)


# --------------------------------------------------------------------------- the lab


def _delete_namespace(name: str) -> None:
    subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    _LIVE_NAMESPACES.discard(name)


def cleanup_all() -> None:
    """Delete every namespace this process created and still holds (safety net)."""
    for name in sorted(_LIVE_NAMESPACES):
        _delete_namespace(name)


@dataclass
class Lab:
    """A set of namespaces sharing one random suffix; :meth:`close` removes everything."""

    suffix: str = field(default_factory=lambda: secrets.token_hex(3))
    namespaces: dict[str, Netns] = field(default_factory=dict)
    aggregators: list[AggregatorProc] = field(default_factory=list)
    cleanups: list[Callable[[], None]] = field(default_factory=list)  # run first by close()

    def netns(self, role: str) -> Netns:
        """Create namespace ``vnlk-<role>-<suffix>``: IPv6 off, ``lo`` up."""
        if role in self.namespaces:
            return self.namespaces[role]
        name = f"{PREFIX}{role}-{self.suffix}"
        run(["ip", "netns", "add", name])
        _LIVE_NAMESPACES.add(name)
        ns = Netns(name)
        self.namespaces[role] = ns
        ns.exec(
            [
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
                "net.ipv4.igmp_link_local_mcast_reports=0",
            ]
        )
        ns.batch(["link set lo up"])
        return ns

    def veth(self, a: Netns, a_dev: str, a_mac: str, b: Netns, b_dev: str, b_mac: str) -> None:
        """A veth pair ``a:a_dev`` <-> ``b:b_dev`` with the given MACs (both ends down)."""
        a.batch(
            [f"link add {a_dev} address {a_mac} type veth peer name {b_dev} address {b_mac} netns {b.name}"]
        )

    def start_aggregator(
        self, ns: Netns, tap: str, ports: Sequence[str], mode: str, link_watch_ms: float = 10.0
    ) -> AggregatorProc:
        """Start an aggregator (stopped, and its exit code checked, by :meth:`close`)."""
        agg = ns.start_aggregator(tap, ports, mode, link_watch_ms)
        self.aggregators.append(agg)
        return agg

    def add_cleanup(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` when the lab closes (before the namespaces go; last added, first run)."""
        self.cleanups.append(fn)

    def close(self) -> None:
        """Run the cleanups, stop aggregators (clean SIGTERM exit), kill helpers, delete the
        namespaces."""
        errors: list[str] = []
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as exc:  # a failing cleanup must not leak namespaces
                errors.append(f"cleanup {fn!r}: {exc}")
        self.cleanups.clear()
        for agg in self.aggregators:
            try:
                agg.stop()
            except HarnessError as exc:
                errors.append(str(exc))
        for ns in self.namespaces.values():
            for proc in ns.processes:
                _terminate(proc)
        for ns in self.namespaces.values():
            _delete_namespace(ns.name)
        self.namespaces.clear()
        if errors:
            raise HarnessError("; ".join(errors))
