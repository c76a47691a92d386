"""The built world and one run of it.

``Lab`` holds the devices wired from a spec and the ``Sim`` they live in;
``simulate()`` builds a lab, schedules the ``run:`` actions, runs the event
loop, checks the ``expect:`` list and returns a ``RunResult``: everything a
caller asks afterwards (pings, FDBs, frames received, the trace) comes from
that one run, never from a lookup table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vnetlab.devices.bond import Bond
from vnetlab.devices.bridge import Bridge
from vnetlab.devices.dhcp import DhcpWorld
from vnetlab.devices.endpoint import Endpoint, PingSession
from vnetlab.devices.netdev import Link as _Link
from vnetlab.devices.netdev import LinkedDevice, NetDevice, Tap, VirtioNic
from vnetlab.devices.ovs import OvsBridge
from vnetlab.devices.qemu import AnnounceParams, Migration, QemuVm
from vnetlab.devices.switch import Switch
from vnetlab.devices.team import Team
from vnetlab.net.addr import Mac, ip4_str, mac_str, parse_mac, tap_mac
from vnetlab.net.frame import Frame
from vnetlab.sim.sim import Sim
from vnetlab.sim.time import Time, format_duration, format_time
from vnetlab.sim.trace import Action

INFINITE = 1 << 62

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable
    from pathlib import Path

    from vnetlab.devices.netdev import Link
    from vnetlab.explain.outage import Outage
    from vnetlab.topology.spec import ActionSpec, ExpectSpec, TopologySpec


@dataclass(frozen=True, slots=True)
class Finding:
    """Something the run showed that the user should know (a forwarding loop)."""

    check: str
    where: str
    summary: str                    # English (JSON); text(lang) for other languages
    step: int = 0
    key: str = ""                   # i18n message key of the summary, with its fields
    fields: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "where": self.where, "summary": self.summary,
                "step": self.step}

    def text(self, lang: str = "en") -> str:
        """The summary in ``lang`` (i18n.t of its key)."""
        from vnetlab.i18n import note, t

        if lang == "en" or not self.key:
            return note(self.summary, lang)
        return t(self.key, lang, **dict(self.fields))


class Lab:
    def __init__(self, spec: TopologySpec, sim: Sim) -> None:
        self.spec = spec
        self.sim = sim
        self.devices: dict[str, NetDevice] = {}
        self.host_devices: dict[str, dict[str, NetDevice]] = {}
        self.bridges: dict[str, Bridge] = {}
        self.ovs: dict[str, OvsBridge] = {}         # Open vSwitch bridges, host:name
        self.switches: dict[str, Switch] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.links: list[Link] = []
        self.findings: list[Finding] = []
        self.default_until: Time = 0
        self.dhcp = DhcpWorld()                     # DHCP clients, servers, relays (§7)
        self.min_until: Time = 0                    # DHCP clients: their first attempt's end
        self._loops_seen: set[str] = set()
        self.qemus: dict[str, QemuVm] = {}         # QEMU processes, made on first use
        self.hotplugged: dict[str, NetDevice] = {}   # taps made by ``migrate`` during the run
        self.openstack: Any = None                  # devices/openstack.OpenStackCloud
        self.vm_host: dict[str, str] = {name: vm.host for name, vm in spec.vms.items()}

    def add_device(self, dev: NetDevice) -> None:
        self.devices[f"{dev.node}:{dev.name}"] = dev

    def device(self, ref: str) -> NetDevice:
        """``node:interface`` -> device (a VM's ``eth0`` is its guest NIC)."""
        return self.devices[ref]

    def table(self, ref: str) -> Bridge | Switch | OvsBridge:
        """``host:bridge`` (Linux or OVS) or a switch name."""
        if ref in self.switches:
            return self.switches[ref]
        return self.ovs[ref] if ref in self.ovs else self.bridges[ref]

    # -- storm guard -------------------------------------------------------------------
    def arm_storm_guard(self) -> None:
        """A copy that crossed more links than a loop-free path can have (each
        link once per direction) is looping: it is dropped where it is, and the
        loop is reported once, with the devices on it taken from the trace."""
        limit = 2 * len(self.links) + 2
        for dev in self.devices.values():
            if isinstance(dev, LinkedDevice):
                dev.loop_limit = limit
                dev.loop_watchers.append(self._loop_found)

    def _loop_found(self, dev: LinkedDevice, frame: Frame, cause: int) -> None:
        cycle = self._cycle_from_trace(cause) or [dev.where]
        key = " ".join(sorted({where.split("/")[0] for where in cycle}))
        if key in self._loops_seen:
            return
        self._loops_seen.add(key)
        from vnetlab.i18n import t

        fields = (("uid", str(frame.uid)), ("frame", frame.describe()),
                  ("cycle", " -> ".join(cycle)))
        self.findings.append(Finding("l2.forwarding-loop", " -> ".join(cycle),
                                     t("finding.loop", "en", **dict(fields)), cause,
                                     "finding.loop", fields))

    def _cycle_from_trace(self, cause: int) -> list[str]:
        seen: dict[str, int] = {}
        path: list[str] = []
        for step in reversed(self.sim.trace.chain(cause)):
            if step.action is not Action.RECEIVE:
                continue
            if step.where in seen:
                return list(reversed(path[seen[step.where]:]))
            seen[step.where] = len(path)
            path.append(step.where)
        return []

    # -- VMs: QEMU, migration (devices/qemu.py) ------------------------------------------
    def qemu(self, vm: str) -> QemuVm:
        if vm not in self.qemus:
            nics = [dev for ref, dev in self.devices.items()
                    if ref.partition(":")[0] == vm and isinstance(dev, VirtioNic)]
            self.qemus[vm] = QemuVm(self.sim, vm, nics, self.endpoints[vm])
        return self.qemus[vm]

    def remove_tap(self, tap: Tap, cause: int) -> None:
        """libvirt deletes the source tap when QEMU exits: br_del_if (B11b)."""
        if isinstance(tap.upper, Bridge):
            tap.upper.remove_port(tap, cause)
        # ``devices`` stays what the build made (diagrams, captures, ``run:`` names);
        # the host's own table no longer has the tap, so a later vnetN may reuse the name
        self.host_devices.get(tap.node, {}).pop(tap.name, None)

    def add_tap(self, nic: VirtioNic, host: str, bridge: str, cause: int) -> Tap:
        """The destination QEMU's tap: libvirt's lowest free vnetN on ``host``, with
        the V1 MAC, added to ``bridge`` (V2, V3)."""
        used = self.host_devices.setdefault(host, {})
        n = 0
        while f"vnet{n}" in used:
            n += 1
        tap = Tap(self.sim, host, f"vnet{n}", tap_mac(nic.mac))
        tap.source = nic.source
        self.hotplugged[f"{host}:{tap.name}"] = tap     # made during the run, not by the build
        used[tap.name] = tap
        link = _Link(self.sim, nic, tap, 0)
        self.links.append(link)
        br = self.bridges[f"{host}:{bridge}"]
        tap.mtu = nic.mtu if nic.mtu != 1500 else br.mtu
        br.add_port(tap)
        br.mtu_auto_adjust()
        self.sim.step(br.where, tap.name, Action.LINK, 0,
                      f"libvirt created {tap.name} for {nic.where} and added it to {br.name}",
                      "virNetDevTapAttachBridge", "V3", cause=cause)
        return tap

    # -- actions -----------------------------------------------------------------------
    def schedule_actions(self, actions: list[ActionSpec]) -> Time:
        """Schedule ``run:``; returns when the last action's own activity ends."""
        cursor: Time = 0
        end: Time = 0
        for index, action in enumerate(actions):
            if action.at is not None:
                cursor = action.at
            if action.wait is not None:
                cursor += action.wait
                end = max(end, cursor)
                continue
            self.sim.schedule(cursor, self._do, index, action)
            busy = (action.ping.count - 1) * action.ping.interval if action.ping else 0
            end = max(end, cursor + busy)
        return end

    def _do(self, index: int, action: ActionSpec) -> None:
        sim = self.sim
        kind = action.kind
        root = sim.step("run", "", Action.NOTE, 0, f"run[{index}]: {kind} "
                        f"{describe_action(action)}", "scenario", data={"action": index})
        if action.ping is not None:
            self.endpoints[action.ping.from_.partition(":")[0]].start_ping(
                action.ping.to, action.ping.count, action.ping.interval, action.ping.size, root,
                action.ping.pmtudisc)
        elif action.garp is not None:
            self.endpoints[action.garp.from_.partition(":")[0]].send_garp(root)
        elif action.send is not None:
            node, _, nic = action.send.from_.partition(":")
            endpoint = self.endpoints[node]
            dev = endpoint.ifaces[0].dev if not nic else self.devices[f"{node}:{nic}"]
            for _ in range(action.send.count):
                endpoint.send_raw(dev, action.send.dst, action.send.src, action.send.ethertype,
                                  root)
        elif action.link_down is not None or action.link_up is not None:
            ref = action.link_down or action.link_up or ""
            dev = self.devices[ref]
            assert isinstance(dev, LinkedDevice) and dev.link is not None
            dev.link.set_up(action.link_up is not None, root)
        elif action.link_fault is not None or action.link_repair is not None:
            dev = self.devices[action.link_fault or action.link_repair or ""]
            assert isinstance(dev, LinkedDevice) and dev.link is not None
            dev.link.set_fault(action.link_fault is not None, root)
        elif action.port_down is not None or action.port_up is not None:
            self.devices[action.port_down or action.port_up or ""].set_admin(
                action.port_up is not None, root)
        elif action.dhcp is not None:
            ref = action.dhcp.from_
            for name, client in self.dhcp.clients.items():
                if ref in (name, name.partition(":")[0]):
                    client.start(root, "restarted by the scenario")
        elif action.announce_self is not None:
            a = action.announce_self
            self.qemu(a.vm).qemu_announce_self(
                AnnounceParams(a.initial, a.max, a.rounds, a.step), root)
        elif action.migrate is not None:
            m = action.migrate
            ann = m.announce
            params = AnnounceParams(ann.initial, ann.max, ann.rounds, ann.step)
            if self.openstack is not None and m.vm in self.openstack.vifs:
                from vnetlab.devices.openstack import NovaLiveMigration

                self.vm_host[m.vm] = m.to
                NovaLiveMigration(self, self.openstack, self.qemu(m.vm), m.to, m.downtime,
                                  params, m.guest_announce, m.transfer,
                                  m.activation_delay).start(root)
                return
            bridge = m.bridge or next(
                (d.peer.upper.name for d in self.qemu(m.vm).nics
                 if d.peer is not None and d.peer.upper is not None), "")
            self.vm_host[m.vm] = m.to
            migration = Migration(self, self.qemu(m.vm), m.to, bridge, m.downtime, params,
                                  m.guest_announce)
            if m.transfer:                  # pre-copy: the guest runs on until the pause
                sim.schedule(m.transfer, migration.start, root)
            else:
                migration.start(root)
        elif action.set_active_port is not None:
            agg = self.devices[action.set_active_port.device]
            port = next(p for p in agg.ports if p.name == action.set_active_port.port) \
                if isinstance(agg, Team | Bond) else None
            if isinstance(agg, Team):
                agg.set_active(port, "set by the scenario (teamdctl port set active)", root)
            elif isinstance(agg, Bond):
                agg.change_active_slave(port, "set by the scenario: ifenslave -c", root)


def describe_action(action: ActionSpec) -> str:
    if action.ping is not None:
        p = action.ping
        return (f"{p.from_} -> {ip4_str(p.to)} count {p.count} interval "
                f"{format_duration(p.interval)} size {p.size}")
    if action.garp is not None:
        return action.garp.from_
    if action.send is not None:
        return f"{action.send.from_} {mac_str(action.send.dst)} type 0x{action.send.ethertype:04x}"
    if action.set_active_port is not None:
        return f"{action.set_active_port.device} -> {action.set_active_port.port}"
    if action.dhcp is not None:
        return action.dhcp.from_
    if action.announce_self is not None:
        a = action.announce_self
        return (f"{a.vm} rounds {a.rounds} initial {format_duration(a.initial)} "
                f"max {format_duration(a.max)} step {format_duration(a.step)}")
    if action.migrate is not None:
        m = action.migrate
        return (f"{m.vm} -> {m.to}{':' + m.bridge if m.bridge else ''} downtime "
                f"{format_duration(m.downtime)} announce rounds {m.announce.rounds}"
                f"{' + guest announce' if m.guest_announce else ''}")
    value = getattr(action, action.kind.replace("-", "_"))
    return str(value)


@dataclass(slots=True)
class ExpectationResult:
    index: int
    kind: str
    ok: bool
    expected: str
    actual: str
    because: str
    line: int

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "kind": self.kind, "ok": self.ok, "expected": self.expected,
                "actual": self.actual, "because": self.because, "line": self.line}


class RunResult:
    """What one run showed."""

    def __init__(self, lab: Lab, seed: int, run_seconds: float, fdb_snapshots: dict[int, str]
                 ) -> None:
        self.lab = lab
        self.spec = lab.spec
        self.sim = lab.sim
        self.trace = lab.sim.trace
        self.seed = seed
        self.stats = {"deliveries": lab.sim.deliveries, "events": lab.sim.events,
                      "run_seconds": run_seconds, "end_ns": lab.sim.now}
        self._snapshots = fdb_snapshots
        self._outages: list[Outage] | None = None
        self.expectations = [self._check(i, e) for i, e in enumerate(lab.spec.expect)]

    # -- questions ---------------------------------------------------------------------
    def sessions(self, src: str, dst: str | int) -> list[PingSession]:
        from vnetlab.net.addr import parse_ip4

        ip = parse_ip4(dst) if isinstance(dst, str) else dst
        endpoint = self.lab.endpoints.get(src.partition(":")[0])
        return [s for s in endpoint.pings if s.dst == ip] if endpoint else []

    def ping_replies(self, src: str, dst: str | int) -> int:
        return sum(s.replies for s in self.sessions(src, dst))

    def ping_sent(self, src: str, dst: str | int) -> int:
        return sum(len(s.records) for s in self.sessions(src, dst))

    def ping_replies_total(self) -> int:
        return sum(s.replies for e in self.lab.endpoints.values() for s in e.pings)

    def fdb(self, table: str) -> dict[str, str]:
        """Learned (dynamic) entries at the end of the run: MAC -> port."""
        fdb = self.lab.table(table).fdb
        return {mac_str(e.mac): fdb.port_name(e.port) for e in fdb.live() if not e.is_local}

    def fdb_port(self, table: str, mac: str | Mac) -> str | None:
        value = parse_mac(mac) if isinstance(mac, str) else mac
        fdb = self.lab.table(table).fdb
        entry = fdb.lookup(value)
        return fdb.port_name(entry.port) if entry is not None else None

    def received(self, node: str, src: str | None = None, dst: str | None = None,
                 ethertype: int | None = None) -> int:
        endpoint = self.lab.endpoints[node]
        want_src = parse_mac(src) if src else None
        want_dst = parse_mac(dst) if dst else None
        return sum(n for (s, d, t), n in endpoint.received.items()
                   if (want_src is None or s == want_src) and (want_dst is None or d == want_dst)
                   and (ethertype is None or t == ethertype))

    def write_pcaps(self, folder: str | os.PathLike[str]) -> dict[str, Path]:
        """One pcap per link end captured (``simulate(..., capture=...)``), written
        atomically into ``folder``: ``node:iface`` -> path (docs/pcap.md)."""
        from vnetlab.export.capture import write_pcaps

        return write_pcaps(self.lab, folder)

    def outages(self, lang: str = "en") -> list[Outage]:
        """Every run of lost probes of every ping flow, with its cause and end (the
        sentences in ``lang``; English ones are computed once and kept)."""
        from vnetlab.explain.outage import outages

        if lang != "en":
            return outages(self, lang=lang)
        if self._outages is None:
            self._outages = outages(self)
        return self._outages

    def expectations_in(self, lang: str = "en") -> list[ExpectationResult]:
        """The expectation results with their texts in ``lang``; a built-in case's
        ``because:`` comes from catalog/zh.yaml (i18n.case_text)."""
        if lang == "en":
            return self.expectations
        from vnetlab.i18n import case_text

        _, because = case_text(self.spec, lang)
        out = [self._check(i, e, lang) for i, e in enumerate(self.spec.expect)]
        for result in out:
            text = because[result.index] if result.index < len(because) else None
            if text and result.because:
                result.because = text
        return out

    @property
    def all_expectations_hold(self) -> bool:
        return all(e.ok for e in self.expectations)

    # -- expectations ------------------------------------------------------------------
    def _check(self, index: int, expect: ExpectSpec, lang: str = "en") -> ExpectationResult:
        from vnetlab.i18n import t

        line = 0
        locator = self.spec.locator
        if locator is not None:
            line = locator.position(("expect", index))[0]
        because = expect.because or ""
        if expect.ping is not None:
            src, dst = expect.ping.from_, expect.ping.to
            sent, replies = self.ping_sent(src, dst), self.ping_replies(src, dst)
            actual = t("expect.ping_actual", lang, replies=replies, sent=sent)
            if expect.result is not None:
                ok = (replies == sent and sent > 0) if expect.result == "ok" else replies == 0
                wanted = t("expect.every_reply" if expect.result == "ok" else "expect.no_reply",
                           lang)
            else:
                ok = replies == expect.replies
                wanted = t("expect.replies", lang, count=expect.replies)
            what = t("expect.ping", lang, src=src, dst=ip4_str(dst), wanted=wanted)
            return ExpectationResult(index, "ping", ok, what, actual, because, line)
        if expect.outage is not None:
            src, dst = expect.outage.from_, expect.outage.to
            gaps = [o for o in self.outages() if o.src == src.partition(":")[0]
                    and o.dst == ip4_str(dst)]
            longest = max((o.duration if o.duration is not None else INFINITE for o in gaps),
                          default=0)
            ok = ((expect.at_most is None or longest <= expect.at_most)
                  and (expect.at_least is None or longest >= expect.at_least))
            bounds = t("expect.and", lang).join(b for b in (
                t("expect.at_most", lang, duration=format_duration(expect.at_most))
                if expect.at_most is not None else "",
                t("expect.at_least", lang, duration=format_duration(expect.at_least))
                if expect.at_least is not None else "") if b)
            actual = (t("expect.no_outage", lang) if not gaps else
                      t("expect.never_recovered", lang) if longest == INFINITE
                      else t("expect.longest", lang, duration=format_duration(longest)))
            return ExpectationResult(index, "outage", ok, t("expect.outage", lang, src=src,
                                                            dst=ip4_str(dst), bounds=bounds),
                                     actual, because, line)
        if expect.fdb is not None:
            sel = expect.fdb
            table = self.lab.table(sel.bridge)
            if sel.at is not None:
                actual_port = self._snapshots.get(index)
            else:
                entry = table.fdb.lookup(sel.mac, sel.vlan)
                actual_port = table.fdb.port_name(entry.port) if entry else None
            when = (t("expect.at_time", lang, time=format_time(sel.at)) if sel.at is not None
                    else t("expect.at_end", lang))
            if expect.absent:
                ok, wanted = actual_port is None, t("expect.no_entry", lang)
            else:
                ok, wanted = actual_port == expect.port, t("expect.on_port", lang,
                                                           port=expect.port)
            what = t("expect.fdb", lang, table=sel.bridge, mac=mac_str(sel.mac), wanted=wanted,
                     when=when)
            actual = (t("expect.on_port", lang, port=actual_port) if actual_port
                      else t("expect.no_entry", lang))
            return ExpectationResult(index, "fdb", ok, what, actual, because, line)
        if expect.dhcp is not None:
            return self._check_dhcp(index, expect, because, line, lang)
        assert expect.frame is not None
        sel_frame = expect.frame
        count = self.received(sel_frame.to,
                              mac_str(sel_frame.src) if sel_frame.src is not None else None,
                              mac_str(sel_frame.dst) if sel_frame.dst is not None else None,
                              sel_frame.ethertype)
        if expect.count is not None:
            ok, wanted = count == expect.count, t("expect.frames", lang, count=expect.count)
        else:
            ok = (count > 0) == bool(expect.delivered)
            wanted = t("expect.delivered" if expect.delivered else "expect.not_delivered", lang)
        filters = " ".join(f"{k} {v}" for k, v in (
            ("src", mac_str(sel_frame.src) if sel_frame.src is not None else None),
            ("dst", mac_str(sel_frame.dst) if sel_frame.dst is not None else None),
            ("type", f"0x{sel_frame.ethertype:04x}" if sel_frame.ethertype is not None
             else None)) if v)
        what = t("expect.frame", lang, to=sel_frame.to, filters=filters,
                 wanted=wanted).replace("  ", " ")
        return ExpectationResult(index, "frame", ok, what, t("expect.received", lang, count=count),
                                 because, line)

    def _check_dhcp(self, index: int, expect: ExpectSpec, because: str, line: int,
                    lang: str = "en") -> ExpectationResult:
        """A client's address at ``within`` (default: the end of the run): ``bound`` (a
        lease, ``address`` if given), ``link-local`` (APIPA) or ``failed`` (none)."""
        assert expect.dhcp is not None
        client = self.lab.dhcp.client(expect.dhcp)
        assert client is not None
        at = expect.within if expect.within is not None else self.sim.now
        status = client.status_at(at)
        kind = {"bound": "bound", "link-local": "link-local"}.get(status.kind, "failed")
        ok = kind == expect.result and (expect.address is None or status.address ==
                                        expect.address)
        from vnetlab.i18n import note, t

        when = (t("expect.by", lang, duration=format_duration(at)) if expect.within is not None
                else t("expect.at_end", lang))
        address = f" {ip4_str(expect.address)}" if expect.address is not None else ""
        return ExpectationResult(index, "dhcp", ok, t("expect.dhcp", lang, ref=client.ref,
                                                      result=_word("expect.dhcp.", expect.result,
                                                                   lang),
                                                      address=address, when=when),
                                 note(client.describe_at(at), lang), because, line)

    # -- output ------------------------------------------------------------------------
    def to_json(self, *, with_trace: bool = True) -> dict[str, Any]:
        """Deterministic: no wall-clock fields (``stats.run_seconds`` is left out)."""
        out: dict[str, Any] = {
            "name": self.spec.name,
            "seed": self.seed,
            "end_ns": self.sim.now,
            "deliveries": self.sim.deliveries,
            "events": self.sim.events,
            "ok": self.all_expectations_hold,
            "expectations": [e.to_json() for e in self.expectations],
            "pings": [{"from": s.src, "to": ip4_str(s.dst), "sent": len(s.records),
                       "replies": s.replies} for e in self.lab.endpoints.values()
                      for s in e.pings],
            "fdb": {name: self.fdb(name) for name in [*self.lab.bridges, *self.lab.ovs,
                                                      *self.lab.switches]},
            "drops": dict(sorted(self.trace.drops.items())),
            "findings": [f.to_json() for f in self.lab.findings],
            "dhcp": [c.to_json() for c in self.lab.dhcp.clients.values()],
        }
        if self.sim.tracing:
            out["outages"] = [o.to_json() for o in self.outages()]
        if with_trace:
            out["trace"] = [s.to_json() for s in self.trace.steps]
        return out


def _word(prefix: str, value: object, lang: str) -> str:
    """``value`` through the message catalog (``prefix + value``), itself if not there."""
    from vnetlab.i18n import MESSAGES, t

    return t(prefix + str(value), lang) if prefix + str(value) in MESSAGES else str(value)


def simulate(spec: TopologySpec, seed: int = 0, trace: str = "full", *,
             measure: bool = False, capture: bool | Iterable[str] = False) -> RunResult:
    """Build, run and check ``spec``. ``measure`` turns on the counters
    measurements read and the per-frame path otherwise skips: frames an endpoint
    receives twice (it remembers every uid), and per aggregate the ports each
    flow left on and the frames per port. ``capture`` records the frames each
    link end sends and receives (True: every one; else ``node:iface`` names,
    checked before the run: ``CaptureError``); ``RunResult.write_pcaps`` writes them."""
    from vnetlab.topology.build import build

    lab = build(spec, seed, trace)
    if capture is not False:
        from vnetlab.export.capture import start_capture

        start_capture(lab, None if capture is True else capture)
    frames_expected = any(e.frame is not None for e in spec.expect)
    for endpoint in lab.endpoints.values():
        endpoint.measure = measure
        # ``frame:`` expectations read the received-frame counters, which the
        # per-frame path otherwise keeps only when a trace is recorded
        endpoint.count_received = endpoint.count_received or frames_expected
    for dev in lab.devices.values():
        if isinstance(dev, Bond | Team):
            dev.measure = measure
    sim = lab.sim
    end = lab.schedule_actions(list(spec.run))
    snapshots: dict[int, str] = {}
    for index, expect in enumerate(spec.expect):
        if expect.fdb is not None and expect.fdb.at is not None:
            sim.schedule(expect.fdb.at, _snapshot, lab, index, expect, snapshots)
    until = spec.duration if spec.duration is not None else max(end + lab.default_until,
                                                                  lab.min_until)
    started = time.perf_counter()
    sim.run(until)
    return RunResult(lab, seed, time.perf_counter() - started, snapshots)


def _snapshot(lab: Lab, index: int, expect: ExpectSpec, out: dict[int, str]) -> None:
    assert expect.fdb is not None
    table = lab.table(expect.fdb.bridge)
    entry = table.fdb.lookup(expect.fdb.mac, expect.fdb.vlan)
    if entry is not None:
        out[index] = table.fdb.port_name(entry.port)
