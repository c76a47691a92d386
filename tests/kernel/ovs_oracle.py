"""Real Open vSwitch (userspace datapath) as an oracle for vnetlab's OVS model.

The Debian packages are *unpacked, not installed* by ``tests/kernel/ovs_fetch.sh`` into
``$OVS_CACHE/root`` (default ``/var/cache/vnetlab/ovs``); when that failed the reason is in
``$OVS_CACHE/unavailable``.  :class:`OvsOracle` starts ``ovsdb-server`` and ``ovs-vswitchd``
(no ``--detach``: they are our children, so they are reaped) inside a fresh network namespace
(:class:`netns.Lab`: IPv6 off, so the kernel sends nothing on the veths), with their own
``OVS_RUNDIR``/``OVS_DBDIR``/``OVS_LOGDIR``/``OVS_SYSCONFDIR`` in a temporary directory, a
database made by ``ovsdb-tool create`` from the unpacked ``vswitch.ovsschema`` and pidfiles.
Bridges use ``datapath_type=netdev`` (no kernel module).  Leaving the ``with`` block (also by
an exception) stops both daemons, checks that no process still uses the run directory,
deletes the namespace and the directory.

Observations go through ``ovs-appctl ofproto/trace BR FLOW -generate`` (``-generate``: the
side effects happen, i.e. MAC learning) and ``ovs-appctl fdb/show``; their text is parsed by
the small functions below (:func:`parse_trace`, :func:`parse_fdb_show`,
:func:`parse_dpif_show`), unit-tested on outputs recorded in ``fixtures/ovs/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from .netns import HarnessError, Lab, Netns, _terminate
from .ovs_parse import DpPort, TraceResult, parse_dpif_show, parse_fdb_show, parse_trace

OVS_CACHE = Path(os.environ.get("OVS_CACHE", "/var/cache/vnetlab/ovs"))
FETCH_SCRIPT = Path(__file__).resolve().parent / "ovs_fetch.sh"
_BINARIES = {
    "ovsdb-server": "usr/sbin/ovsdb-server",
    "ovs-vswitchd": "usr/lib/openvswitch-switch/ovs-vswitchd",
    "ovs-vsctl": "usr/bin/ovs-vsctl",
    "ovs-ofctl": "usr/bin/ovs-ofctl",
    "ovs-appctl": "usr/bin/ovs-appctl",
    "ovsdb-tool": "usr/bin/ovsdb-tool",
}
SCHEMA = "usr/share/openvswitch/vswitch.ovsschema"


def ovs_root(cache: Path | None = None) -> Path:
    """Where the packages are unpacked."""
    return (cache or OVS_CACHE) / "root"


def unavailable_reason(cache: Path | None = None) -> str | None:
    """None when the unpacked OVS is there, else why not (the fetch script's marker text)."""
    cache = cache or OVS_CACHE
    root = ovs_root(cache)
    missing = [b for b, rel in _BINARIES.items() if not (root / rel).is_file()]
    if not (root / SCHEMA).is_file():
        missing.append("vswitch.ovsschema")
    if not missing:
        return None
    marker = cache / "unavailable"
    if marker.is_file():
        text = marker.read_text(errors="replace").strip()[:500]
        return f"Open vSwitch could not be fetched: {text} (see {marker})"
    return (f"Open vSwitch is not unpacked in {root} (missing {', '.join(missing)}): run "
            f"`sh {FETCH_SCRIPT}` as root (`make ovs-oracle` does)")


# --------------------------------------------------------------------------- the oracle


def _port_value(value: object) -> str:
    """A Python value as ``ovs-vsctl`` column syntax."""
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
        return "[" + ",".join(str(v) for v in items) + "]"
    return str(value)


class OvsOracle:
    """``with OvsOracle() as ovs:`` a private Open vSwitch in a fresh network namespace."""

    def __init__(self, cache: Path | None = None, lab: Lab | None = None,
                 ns: Netns | None = None) -> None:
        reason = unavailable_reason(cache)
        if reason:
            raise HarnessError(reason)
        self.root = ovs_root(cache)
        self._own_lab = lab is None
        self.lab = lab or Lab()
        self._given_ns = ns             # run the daemons in this namespace (else a new one)
        self.ns: Netns | None = None
        self.rundir = Path()
        self.daemons: dict[str, subprocess.Popen[str]] = {}
        self._veth_peers: list[str] = []

    # -- life cycle
    def __enter__(self) -> OvsOracle:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def env(self) -> dict[str, str]:
        run = str(self.rundir)
        libs = [str(self.root / "usr/lib/x86_64-linux-gnu"), str(self.root / "lib/x86_64-linux-gnu")]
        return {
            **os.environ,
            "LD_LIBRARY_PATH": ":".join(libs),
            "OVS_RUNDIR": run, "OVS_DBDIR": run, "OVS_LOGDIR": run, "OVS_SYSCONFDIR": run,
            "OVS_PKGDATADIR": str(self.root / "usr/share/openvswitch"),
            "OVS_BINDIR": str(self.root / "usr/bin"),
        }

    def _bin(self, name: str) -> str:
        return str(self.root / _BINARIES[name])

    def _run(self, argv: Sequence[str], timeout: float = 20.0) -> str:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              env=self.env, check=False)
        if proc.returncode != 0:
            raise HarnessError(f"`{' '.join(argv)}` exited {proc.returncode}: {proc.stderr.strip()}")
        return proc.stdout

    def _spawn(self, name: str, args: Sequence[str], ready: Path) -> None:
        assert self.ns is not None
        log = self.rundir / f"{name}.log"
        argv = ["ip", "netns", "exec", self.ns.name, self._bin(name), *args,
                f"--pidfile={self.rundir / (name + '.pid')}", f"--log-file={log}",
                f"--unixctl={self.rundir / (name + '.ctl')}"]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env)
        self.daemons[name] = proc
        deadline = time.monotonic() + 15
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                _out, err = _terminate(proc)
                tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
                raise HarnessError(f"{name} did not start: {err.strip()} {tail}")
            time.sleep(0.02)

    def _start(self) -> None:
        self.rundir = Path(tempfile.mkdtemp(prefix="vnetlab-ovs-"))
        self.ns = self._given_ns or self.lab.netns("ovs")
        db = self.rundir / "conf.db"
        self._run([self._bin("ovsdb-tool"), "create", str(db), str(self.root / SCHEMA)])
        sock = self.rundir / "db.sock"
        self._spawn("ovsdb-server", [str(db), f"--remote=punix:{sock}"], sock)
        self.vsctl("--no-wait", "init")
        self._spawn("ovs-vswitchd", [f"unix:{sock}"], self.rundir / "ovs-vswitchd.ctl")
        # where ovs-appctl looks without -t (OVS_RUNDIR/ovs-vswitchd.PID.ctl, PID from the
        # pidfile), so the tools find both daemons as on an installed host
        pid = self.daemons["ovs-vswitchd"].pid
        (self.rundir / f"ovs-vswitchd.{pid}.ctl").symlink_to(self.rundir / "ovs-vswitchd.ctl")

    def tool_dir(self) -> Path:
        """A directory of ``ovs-vsctl``/``ovs-ofctl``/``ovs-appctl`` wrappers that run the
        unpacked tools with this oracle's environment: on ``PATH``, they are the tools of
        an installed Open vSwitch whose daemons are this oracle's."""
        bindir = self.rundir / "bin"
        if not bindir.is_dir():
            bindir.mkdir()
            keep = ("LD_LIBRARY_PATH", "OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR",
                    "OVS_SYSCONFDIR", "OVS_PKGDATADIR", "OVS_BINDIR")
            env = " ".join(f"{k}='{self.env[k]}'" for k in keep)
            for tool in ("ovs-vsctl", "ovs-ofctl", "ovs-appctl"):
                script = bindir / tool
                script.write_text(f'#!/bin/sh\nexec env {env} {self._bin(tool)} "$@"\n')
                script.chmod(0o755)
        return bindir

    def leftover_processes(self) -> list[str]:
        """``pgrep -af`` for processes still using this oracle's run directory."""
        proc = subprocess.run(["pgrep", "-af", str(self.rundir)], capture_output=True, text=True,
                              check=False)
        return [line for line in proc.stdout.splitlines() if line.strip()]

    def close(self) -> None:
        """Stop the daemons (vswitchd first), delete the namespace and the run directory."""
        errors = []
        for name in ("ovs-vswitchd", "ovsdb-server"):
            proc = self.daemons.pop(name, None)
            if proc is not None:
                _terminate(proc)
        if self.rundir != Path() and self.rundir.exists():
            left = self.leftover_processes()
            if left:
                errors.append(f"processes left behind: {left}")
        if self.ns is not None:
            self.ns = None
            if self._own_lab and self._given_ns is None:
                self.lab.close()
        if self.rundir != Path():
            shutil.rmtree(self.rundir, ignore_errors=True)
        if errors:
            raise HarnessError("; ".join(errors))

    # -- the tools
    def vsctl(self, *args: str) -> str:
        """``ovs-vsctl --db=unix:RUNDIR/db.sock ARGS``."""
        return self._run([self._bin("ovs-vsctl"), f"--db=unix:{self.rundir / 'db.sock'}",
                          "--timeout=15", *args])

    def ofctl(self, *args: str) -> str:
        """``ovs-ofctl ARGS`` (it finds ``RUNDIR/BR.mgmt`` through ``OVS_RUNDIR``)."""
        return self._run([self._bin("ovs-ofctl"), *args])

    def appctl(self, *args: str) -> str:
        """``ovs-appctl -t RUNDIR/ovs-vswitchd.ctl ARGS``."""
        return self._run([self._bin("ovs-appctl"), "-t", str(self.rundir / "ovs-vswitchd.ctl"),
                          *args])

    def version(self) -> str:
        """First line of ``ovs-vswitchd --version``."""
        return self._run([self._bin("ovs-vswitchd"), "--version"]).splitlines()[0]

    # -- configuration
    def add_bridge(self, name: str, **other_config: str) -> None:
        """``add-br NAME -- set Bridge NAME datapath_type=netdev [other_config:K=V]``."""
        extra = [f"other_config:{k.replace('_', '-')}={v}" for k, v in other_config.items()]
        self.vsctl("add-br", name, "--", "set", "Bridge", name, "datapath_type=netdev", *extra)

    def add_port(self, bridge: str, name: str, *, iface_type: str | None = None,
                 peer: str | None = None, columns: dict[str, object] | None = None,
                 **port_columns: object) -> None:
        """Add port ``name`` to ``bridge`` with Port columns (``tag=10``, ``vlan_mode=...``,
        ``trunks=[10, 20]``; or as a ``columns`` dict).

        No ``iface_type``: ``name`` is one end of a new veth pair (the other end stays
        unattached, up); ``"internal"``: an internal port; ``"patch"``: a patch port to
        ``peer``.
        """
        assert self.ns is not None
        if iface_type is None:
            other = f"v{len(self._veth_peers)}-{name}"[:15]
            self.ns.batch([f"link add {name} type veth peer name {other}",
                           f"link set {name} up", f"link set {other} up"])
            self._veth_peers.append(other)
        cols = [f"{k}={_port_value(v)}" for k, v in {**(columns or {}), **port_columns}.items()]
        cmd = ["add-port", bridge, name, *cols]
        if iface_type is not None:
            cmd += ["--", "set", "Interface", name, f"type={iface_type}"]
            if peer is not None:
                cmd.append(f"options:peer={peer}")
        self.vsctl(*cmd)

    def add_patch(self, bridge_a: str, name_a: str, bridge_b: str, name_b: str) -> None:
        """A patch-port pair ``bridge_a:name_a`` <-> ``bridge_b:name_b``."""
        self.add_port(bridge_a, name_a, iface_type="patch", peer=name_b)
        self.add_port(bridge_b, name_b, iface_type="patch", peer=name_a)

    def set_port(self, name: str, *assignments: str, clear: Sequence[str] = ()) -> None:
        """``set Port NAME a=b ...`` then ``clear Port NAME col`` for each of ``clear``."""
        cmd: list[str] = []
        if assignments:
            cmd += ["set", "Port", name, *assignments]
        for column in clear:
            cmd += (["--"] if cmd else []) + ["clear", "Port", name, column]
        self.vsctl(*cmd)

    def add_flow(self, bridge: str, flow: str) -> None:
        """``ovs-ofctl add-flow BR FLOW`` (port names allowed)."""
        self.ofctl("add-flow", bridge, flow)

    # -- observation
    def dp_ports(self) -> list[DpPort]:
        """Every port of every bridge (``dpif/show``)."""
        return parse_dpif_show(self.appctl("dpif/show"))

    def trace(self, bridge: str, flow: str, generate: bool = True) -> TraceResult:
        """``ofproto/trace BR FLOW [-generate]`` parsed (outputs named, VLANs resolved)."""
        text = self.trace_text(bridge, flow, generate)
        names = {p.dpport: p.name for p in self.dp_ports() if p.dpport is not None}
        return parse_trace(text, names)

    def trace_text(self, bridge: str, flow: str, generate: bool = True) -> str:
        """The raw ``ofproto/trace`` text."""
        return self.appctl("ofproto/trace", bridge, flow, *(["-generate"] if generate else []))

    def fdb_show(self, bridge: str) -> list[tuple[str, int, str]]:
        """``fdb/show BR`` as sorted (port name, VLAN, MAC)."""
        ofports = {p.ofport: p.name for p in self.dp_ports()
                   if p.bridge == bridge}
        return parse_fdb_show(self.appctl("fdb/show", bridge), ofports, bridge)
