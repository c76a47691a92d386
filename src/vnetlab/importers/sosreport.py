"""A sosreport (directory or tarball) -> one host, its running VMs, a ``captured:`` block.

What exists comes from runtime state, what was meant from configuration:

* interfaces, their kinds, ports, MACs, MTUs, link state and addresses from the
  networking plugin's ``ip -d address`` (else ``ip -s -d link`` / ``ip -d link`` with
  ``ip -o addr``); bridge timers and flags from the same lines, port VLANs from
  ``bridge -d vlan show``; bonds also from ``/proc/net/bonding/*``; a team's runner
  from ``teamdctl TEAM config dump``; OVS bridges, ports, VLAN tags and patch peers from
  ``ovs-vsctl -t 5 show``; the default gateway from ``ip route show table all``;
* configuration (``etc/NetworkManager/system-connections/*``,
  ``etc/sysconfig/network-scripts/ifcfg-*``, read as the keyfile/ifcfg importers read
  them) fills what runtime does not say (a team's runner without ``teamdctl`` output)
  and, with no ``ip`` output at all, gives the interfaces; where configuration and the
  running system disagree (a bridge's STP, a bond's mode, a port's controller) the
  running state is imported and the difference is a note;
* VMs from ``virsh -r dumpxml`` (live XML: tap names, network bridges), else from
  ``etc/libvirt/qemu/*.xml``; a tap in a bridge that no domain claims is a note;
* ``bridge fdb show`` (the bridge's own entries), ``/proc/net/bonding`` and teamd's
  state go to ``captured:`` for the doctor; ``captured.raw.sources`` says which file
  each part came from (also in ``ImportResult.used``).

A damaged file inside the report (an ifcfg with an unterminated quote, an XML that
does not parse) is a note naming it, not a failure of the whole import; a hostile
archive (see ``archive.py``) is.

Limits: one network namespace (``ip netns`` outputs are ignored); no OVS bonds, DPDK or
tunnels; Neutron's hybrid veths (qvb/qvo) are notes; timers of the bridge are read
in the unit iproute2 printed (see ``runtime.bridge_timer_scale``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from vnetlab.importers import ifcfg, keyfile, libvirt, nmprofile, runtime
from vnetlab.importers.archive import Archive, Limits, is_tarball, open_dir, open_tar
from vnetlab.importers.base import (
    DEFAULT_HOST,
    ImportFailure,
    ImportResult,
    Unparsed,
    decode_text,
    iface_key,
    to_int,
)
from vnetlab.importers.teamd import team_config

NET = "sos_commands/networking"


def _text(archive: Archive, rel: str) -> str | None:
    data = archive.read(rel)
    if data is None:
        return None
    try:
        return decode_text(data, archive.where(rel))
    except ImportFailure as exc:
        archive.notes.append(Unparsed(exc.file, exc.line, "", exc.message + ": not read"))
        return None


def _first(archive: Archive, *rels: str) -> tuple[str, str] | None:
    for rel in rels:
        text = _text(archive, rel)
        if text is not None and text.strip():
            return rel, text
    return None


class Report:
    """Assembles the document of one report."""

    def __init__(self, archive: Archive, host: str | None) -> None:
        self.archive = archive
        self.notes: list[Unparsed] = list(archive.notes)
        self.used: list[str] = []
        self.sources: dict[str, str] = {}
        self.hostname = self._hostname()
        self.host = host or self.hostname or DEFAULT_HOST
        if host is None and self.hostname is None:
            self.notes.append(Unparsed(archive.label, 0, "hostname", f"not in the report: the "
                                       f"host is called {DEFAULT_HOST} (give --host NAME)"))

    def note(self, rel: str, line: int, text: str, why: str) -> None:
        self.notes.append(Unparsed(self.archive.where(rel), line, text, why))

    def use(self, what: str, rel: str, kind: str) -> None:
        self.used.append(f"{what}: {rel} ({kind})")

    def _hostname(self) -> str | None:
        found = _first(self.archive, "hostname", "sos_commands/host/hostname",
                       "sos_commands/general/hostname", "etc/hostname")
        if found is None:
            return None
        name = found[1].strip().splitlines()[0].strip() if found[1].strip() else ""
        short = name.split(".")[0]
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}", short):
            self.note(found[0], 1, name[:60], "not a host name: ignored")
            return None
        self.use("host name", found[0], "runtime")
        return short

    # -- configuration ------------------------------------------------------------------

    def profiles(self) -> list[nmprofile.Profile]:
        out: list[nmprofile.Profile] = []
        sources = [(rel, keyfile.parse) for rel in
                   self.archive.glob(r"etc/NetworkManager/system-connections/[^/]+")]
        sources += [(rel, ifcfg.parse) for rel in
                    self.archive.glob(r"etc/sysconfig/network-scripts/ifcfg-[^/]+")
                    if not rel.endswith(("ifcfg-lo", ".bak", "~", ".orig", ".rpmsave",
                                         ".rpmnew"))]
        for rel, parse in sources:
            text = _text(self.archive, rel)
            if text is None:
                continue
            try:
                profile, notes = parse(text, self.archive.where(rel))
            except ImportFailure as exc:
                self.notes.append(Unparsed(exc.file, exc.line, exc.key, exc.message +
                                           ": file skipped"))
                continue
            out.append(profile)
            self.notes += notes
        return out

    # -- runtime ------------------------------------------------------------------------

    def links(self) -> tuple[str, dict[str, runtime.Link]] | None:
        found = _first(self.archive, f"{NET}/ip_-d_address", f"{NET}/ip_-s_-d_link",
                       f"{NET}/ip_-d_link", f"{NET}/ip_address", f"{NET}/ip_link")
        if found is None:
            return None
        rel, text = found
        links = runtime.parse_ip(text)
        if not links:
            return None
        self.use("interfaces", rel, "runtime")
        if not any(link.addresses for link in links.values()):
            oneline = _first(self.archive, f"{NET}/ip_-o_addr", "ip_addr", f"{NET}/ip_addr")
            if oneline is not None:
                runtime.parse_ip_oneline(oneline[1], links)
                self.use("addresses", oneline[0], "runtime")
        return rel, links


def _port_flags(link: runtime.Link) -> dict[str, Any]:
    """``bridge_slave`` flags that differ from the kernel's defaults (B15)."""
    flags: dict[str, Any] = {}
    for key, name, default in (("learning", "learning", "on"), ("flood", "flood", "on"),
                               ("mcast_flood", "mcast-flood", "on"),
                               ("bcast_flood", "bcast-flood", "on"),
                               ("hairpin", "hairpin", "off"), ("isolated", "isolated", "off")):
        value = link.port_value(key)
        if value in ("on", "off") and value != default:
            flags[name] = value == "on"
    return flags


def _bond_options(link: runtime.Link) -> dict[str, Any]:
    """Options of ``ip -d`` ``bond ...`` that differ from the driver's defaults (BD1)."""
    from pydantic import ValidationError

    from vnetlab.topology.spec import BondOptions

    defaults = BondOptions()
    out: dict[str, Any] = {}
    names = {"peer_notify_delay": "peer_notif_delay"}
    for index, word in enumerate(link.info[:-1]):
        option = names.get(word, word)
        if option not in BondOptions.model_fields or option in out:
            continue
        value: Any = link.info[index + 1]
        if option == "ad_actor_system" and value == "00:00:00:00:00:00":
            continue
        number = to_int(value)
        value = number if number is not None else value
        try:
            parsed = BondOptions.model_validate({option: value})
        except ValidationError:
            continue
        if getattr(parsed, option) != getattr(defaults, option):
            out[option] = value
    return out


def _vlan_entries(entries: list[tuple[int, int, bool, bool]], default_pvid: int
                  ) -> dict[str, Any] | None:
    """``bridge vlan show`` of one port -> nmstate's port ``vlan:`` (what NetworkManager
    would have been given); the default-PVID VLAN the kernel adds is not repeated."""
    native = next((s for s, e, pvid, untagged in entries if pvid and untagged and s == e), None)
    tagged = [{"id": s} if s == e else {"id-range": {"min": s, "max": e}}
              for s, e, pvid, untagged in entries if not pvid and not untagged]
    if tagged:
        vlan: dict[str, Any] = {"mode": "trunk", "trunk-tags": tagged}
        if native is not None and native != default_pvid:
            vlan.update({"tag": native, "enable-native": True})
        return vlan
    if native is not None and native != default_pvid:
        return {"mode": "access", "tag": native}
    return None


class Runtime:
    """The running host as ``ip``/``bridge``/``/proc``/``ovs-vsctl`` recorded it."""

    def __init__(self, report: Report, rel: str, links: dict[str, runtime.Link],
                 config: dict[str, dict[str, Any]]) -> None:
        self.report = report
        self.rel = rel
        self.links = links
        self.config = config
        self.taps: dict[str, str] = {}          # tap -> bridge (linux or OVS)
        self.tap_vlans: dict[str, int] = {}
        self.bonding: dict[str, Any] = {}
        self.teamd: dict[str, Any] = {}
        archive = report.archive
        self.vlans: dict[str, list[tuple[int, int, bool, bool]]] = {}
        found = _first(archive, f"{NET}/bridge_-d_vlan_show", f"{NET}/bridge_vlan_show",
                       f"{NET}/bridge_-d_vlan_show_-d")
        if found is not None:
            self.vlans = runtime.parse_bridge_vlans(found[1])
            report.use("bridge port VLANs", found[0], "runtime")
        self.ovs: list[runtime.OvsBridgeState] = []
        ovs = _first(archive, "sos_commands/openvswitch/ovs-vsctl_-t_5_show")
        if ovs is not None:
            self.ovs = runtime.parse_ovs_show(ovs[1])
            report.use("Open vSwitch", ovs[0], "runtime")
        self.ovs_names = {b.name for b in self.ovs}
        self.route = None
        route = _first(archive, f"{NET}/ip_route_show_table_all", "ip_route", f"{NET}/ip_route")
        if route is not None:
            self.route = runtime.parse_default_route(route[1])

    def interfaces(self) -> list[dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        report = self.report
        for name, link in self.links.items():
            iface = self._interface(link)
            if iface is not None:
                out[name] = iface
        for name, link in self.links.items():           # ports, in ifindex order
            if link.master is None:
                continue
            if link.kind == "tun":
                self.taps[name] = link.master
                continue
            target = out.get(link.master)
            if target is None or name not in out:
                continue                        # OVS ports come from ovs-vsctl show
            if target["type"] == "linux-bridge":
                port: dict[str, Any] = {"name": name, **_port_flags(link)}
                vlan = self._port_vlan(name, target)
                if vlan is not None:
                    port["vlan"] = vlan
                target["bridge"]["port"].append(port)
            elif target["type"] == "bond":
                target["link-aggregation"].setdefault("port", []).append(name)
            elif target["type"] == "team":
                ports = target["team"].setdefault("ports", [])
                configured = self.teamd.get(link.master, {}).get("ports", {}).get(name)
                ports.append(configured or {"name": name})
        for bridge in self.ovs:
            self._ovs_bridge(bridge, out)
        for name, master in self.taps.items():
            vlan = self._port_vlan(name, out.get(master))
            if vlan is not None and master in out and out[master]["type"] == "linux-bridge":
                out[master]["bridge"]["port"].append({"name": name, "vlan": vlan})
        if self.route is not None:
            gateway, device = self.route
            ipv4 = out.get(device, {}).get("ipv4")
            if isinstance(ipv4, dict) and ipv4.get("address") and not ipv4.get("dhcp"):
                ipv4["gateway"] = gateway
        self._compare(out)
        order = {"ethernet": 0, "bond": 1, "team": 1, "vlan": 2, "linux-bridge": 3,
                 "ovs-interface": 4, "ovs-bridge": 5}
        for name in out:
            report.sources[iface_key(report.host, name)] = report.archive.where(self.rel)
        return sorted(out.values(), key=lambda i: order.get(i["type"], 9))

    def _port_vlan(self, name: str, bridge: dict[str, Any] | None) -> dict[str, Any] | None:
        if bridge is None or bridge.get("type") != "linux-bridge" or name not in self.vlans:
            return None
        options = bridge["bridge"]["options"]
        if not options.get("vlan-filtering"):
            return None
        return _vlan_entries(self.vlans[name], options.get("vlan-default-pvid", 1))

    def _interface(self, link: runtime.Link) -> dict[str, Any] | None:
        report, rel = self.report, self.rel
        if link.link_type == "loopback" or link.kind == "tun":
            return None
        if link.kind == "openvswitch":
            return None                         # the datapath and internal ports: ovs-vsctl
        kind = {None: "ethernet", "bridge": "linux-bridge", "bond": "bond", "team": "team",
                "vlan": "vlan"}.get(link.kind)
        if kind is None or (link.kind is None and link.link_type not in ("ether", "")):
            what = link.kind or f"link/{link.link_type}"
            hint = " (a Neutron hybrid-plug veth)" if link.name.startswith(("qvb", "qvo")) else ""
            report.note(rel, link.line, link.name, f"kind {what} is not modelled by vnetlab"
                        f"{hint}: left out")
            return None
        iface: dict[str, Any] = {"name": link.name, "type": kind}
        if not link.up:
            iface["state"] = "down"
        mac = link.permaddr or (norm(link.port_value("perm_hwaddr")) if link.port_kind == "bond"
                                else None) or link.mac
        if kind == "ethernet" and link.master in self.bonding:
            mac = self.bonding[link.master].get("ports", {}).get(link.name, {}).get(
                "perm-hwaddr") or mac
        if kind == "ethernet" and mac:
            iface["mac-address"] = mac
        if link.mtu is not None and link.mtu != 1500:
            iface["mtu"] = link.mtu
        if kind == "linux-bridge":
            iface["bridge"] = {"options": self._bridge_options(link), "port": []}
        elif kind == "bond":
            mode = link.value("mode") or self.bonding.get(link.name, {}).get("mode")
            if mode is None:
                report.note(rel, link.line, link.name, "bond mode not recorded: balance-rr "
                            "(the driver's default) assumed")
                mode = "balance-rr"
            agg: dict[str, Any] = {"mode": mode}
            options = _bond_options(link)
            if options:
                agg["options"] = options
            iface["link-aggregation"] = agg
        elif kind == "team":
            iface["team"] = self._team(link)
        elif kind == "vlan":
            vid = to_int(link.value("id") or "")
            protocol = (link.value("protocol") or "802.1Q").lower()
            if link.parent is None or vid is None or protocol != "802.1q":
                report.note(rel, link.line, link.name, "a VLAN without parent or id, or not "
                            "802.1Q: left out")
                return None
            iface["vlan"] = {"base-iface": link.parent, "id": vid}
        if link.master is None:
            self._addresses(link, iface)
        return iface

    def _bridge_options(self, link: runtime.Link) -> dict[str, Any]:
        scale = runtime.bridge_timer_scale(link)
        stp_state = to_int(link.value("stp_state") or "0") or 0
        stp: dict[str, Any] = {"enabled": stp_state != 0}
        delay = to_int(link.value("forward_delay") or "")
        if delay is not None and delay // scale != 15:
            stp["forward-delay"] = delay // scale
        options: dict[str, Any] = {"stp": stp}
        ageing = to_int(link.value("ageing_time") or "")
        if ageing is not None and ageing // scale != 300:
            options["mac-ageing-time"] = ageing // scale
        filtering = link.value("vlan_filtering")
        options["vlan-filtering"] = filtering == "1"
        pvid = to_int(link.value("vlan_default_pvid") or "")
        if filtering == "1" and pvid is not None and pvid != 1:
            options["vlan-default-pvid"] = pvid
        own = self.vlans.get(link.name)
        if filtering == "1" and own:
            options["vlans"] = [f"{s}" + (f"-{e}" if e != s else "") + (" pvid" if p else "") +
                                (" untagged" if u else "") for s, e, p, u in own
                                if not (p and u and s == (pvid or 1))]
            if not options["vlans"]:
                del options["vlans"]
        return options

    def _team(self, link: runtime.Link) -> dict[str, Any]:
        report, archive = self.report, self.report.archive
        rel = f"sos_commands/teamd/teamdctl_{link.name}_config_dump"
        text = _text(archive, rel)
        if text is not None:
            from vnetlab.importers.teamd import parse_json

            parsed = parse_json(text, archive.where(rel), 1, "config dump", report.notes)
            if parsed is not None:
                team, _, ports = team_config(parsed, archive.where(rel), 1, report.notes)
                self.teamd[link.name] = {"ports": ports}
                report.use(f"{link.name} runner", rel, "runtime")
                return team
        configured = self.config.get(link.name, {}).get("team")
        if isinstance(configured, dict):
            report.use(f"{link.name} runner", "NetworkManager profile", "configuration")
            team = {k: v for k, v in configured.items() if k != "ports"}
            self.teamd[link.name] = {"ports": {p["name"]: p for p in configured.get("ports", [])
                                               if isinstance(p, dict) and "name" in p}}
            return team
        report.note(self.rel, link.line, link.name, "no teamd configuration in the report "
                    "(teamdctl config dump, NetworkManager profile): teamd's default runner "
                    "roundrobin assumed")
        return {}

    def _addresses(self, link: runtime.Link, iface: dict[str, Any]) -> None:
        static = [(a, p) for a, p, dynamic in link.addresses if not dynamic]
        if any(dynamic for _, _, dynamic in link.addresses):
            iface["ipv4"] = {"enabled": True, "dhcp": True}
        elif static:
            iface["ipv4"] = {"enabled": True, "address": [{"ip": a, "prefix-length": p}
                                                          for a, p in static]}

    def _ovs_bridge(self, state: runtime.OvsBridgeState, out: dict[str, dict[str, Any]]) -> None:
        report = self.report
        rel = "sos_commands/openvswitch/ovs-vsctl_-t_5_show"
        bridge: dict[str, Any] = {"name": state.name, "type": "ovs-bridge",
                                  "bridge": {"port": []}}
        if state.name in out:
            report.note(rel, state.line, state.name, "an OVS bridge with the name of another "
                        "interface: left out")
            return
        out[state.name] = bridge
        for port in state.ports:
            if len(port.interfaces) > 1:
                report.note(rel, state.line, f"Port {port.name}", "an OVS bond is not "
                            "modelled: its interfaces are left out")
                continue
            vlan: dict[str, Any] = {}
            if port.tag is not None:
                vlan["tag"] = port.tag
            if port.trunks:
                vlan["trunk-tags"] = [{"id": t} for t in port.trunks]
                if port.tag is None:
                    vlan["mode"] = "trunk"
            for name, kind, options in port.interfaces:
                if name == state.name:
                    continue                        # the LOCAL port: the bridge itself
                link = self.links.get(name)
                if link is not None and link.kind == "tun":
                    self.taps[name] = state.name
                    if port.tag is not None:
                        self.tap_vlans[name] = port.tag
                    continue
                if kind == "patch":
                    peer = options.get("peer")
                    if not peer:
                        report.note(rel, state.line, name, "a patch port without a peer: left out")
                        continue
                    out.setdefault(name, {"name": name, "type": "ovs-interface",
                                          "patch": {"peer": peer}})
                elif kind == "internal":
                    entry: dict[str, Any] = {"name": name, "type": "ovs-interface"}
                    if link is not None:
                        self._addresses(link, entry)
                        if link.mtu is not None and link.mtu != 1500:
                            entry["mtu"] = link.mtu
                    out.setdefault(name, entry)
                elif kind not in ("", "system"):
                    report.note(rel, state.line, name, f"OVS interface type {kind} is not "
                                "modelled: left out")
                    continue
                elif name not in out:
                    if link is None:
                        report.note(rel, state.line, name, "an OVS port whose device is not "
                                    "in the ip output: left out")
                        continue
                    if link.kind in ("veth",):
                        continue                    # noted with the links already
                    continue
                entry_port: dict[str, Any] = {"name": name}
                if vlan:
                    entry_port["vlan"] = dict(vlan)
                bridge["bridge"]["port"].append(entry_port)

    def _compare(self, out: dict[str, dict[str, Any]]) -> None:
        """Notes where configuration and the running state disagree."""
        report = self.report
        for name, configured in self.config.items():
            actual = out.get(name)
            where = configured.get("__source__", ("", 0))
            if actual is None:
                if name not in self.taps:
                    report.notes.append(Unparsed(where[0], where[1], name, "configured but not "
                                                 "in the running system: not imported"))
                continue
            checks = [("type", configured.get("type"), actual.get("type"))]
            if actual.get("type") == "linux-bridge" and configured.get("type") == "linux-bridge":
                checks.append(("STP", configured["bridge"]["options"]["stp"].get("enabled"),
                               actual["bridge"]["options"]["stp"].get("enabled")))
            if actual.get("type") == "bond" and configured.get("type") == "bond":
                checks.append(("bond mode", configured["link-aggregation"].get("mode"),
                               actual["link-aggregation"].get("mode")))
            if actual.get("type") == "team" and configured.get("type") == "team":
                checks.append(("runner", configured["team"].get("runner", {}).get("name"),
                               actual["team"].get("runner", {}).get("name")))
            for what, want, have in checks:
                if want is not None and have is not None and str(want) != str(have):
                    report.notes.append(Unparsed(where[0], where[1], f"{name} {what}",
                                                 f"configured {want}, running {have}: the "
                                                 "running state is imported"))


def norm(value: str | None) -> str | None:
    from vnetlab.importers.base import norm_mac

    return norm_mac(value) if value else None


def _vms(report: Report, taps: dict[str, str], tap_vlans: dict[str, int],
         interfaces: list[dict[str, Any]]) -> dict[str, Any]:
    archive = report.archive
    networks: dict[str, str] = {}
    for rel in archive.glob(r"etc/libvirt/qemu/networks/[^/]+\.xml"):
        data = archive.read(rel)
        try:
            tree = libvirt.parse_xml(data or b"", archive.where(rel))
        except ImportFailure as exc:
            report.notes.append(Unparsed(exc.file, exc.line, exc.key, exc.message))
            continue
        found = libvirt.network_bridge(tree)
        if found:
            networks[found[0]] = found[1]
    live = archive.glob(r"sos_commands/virsh/virsh_-r_dumpxml_[^/]+")
    defined = archive.glob(r"etc/libvirt/qemu/[^/]+\.xml")
    vms: dict[str, Any] = {}
    claimed: set[str] = set()
    seen: set[str] = set()
    for rel, kind in [(r, "runtime") for r in live] + [(r, "configuration") for r in defined]:
        data = archive.read(rel)
        try:
            tree = libvirt.parse_xml(data or b"", archive.where(rel))
            name, nics, notes = libvirt.domain(tree, archive.where(rel), networks)
        except ImportFailure as exc:
            report.notes.append(Unparsed(exc.file, exc.line, exc.key, exc.message +
                                         ": file skipped"))
            continue
        if name in seen:
            continue                        # the live XML came first
        seen.add(name)
        if kind == "configuration" and live:
            report.note(rel, 0, name, "defined but not running (no live XML from virsh): "
                        "not imported")
            continue
        report.notes += notes
        for nic in nics:
            target = nic.get("target")
            if target:
                claimed.add(target)
                if target in tap_vlans and "vlan" not in nic:
                    nic["vlan"] = {"tag": tap_vlans[target]}
        vms[name] = {"host": report.host, "interfaces": nics}
        report.use(f"vm {name}", rel, kind)
        report.sources[f"vms.{name}"] = archive.where(rel)
    for tap, bridge in taps.items():
        if tap not in claimed:
            report.note(f"{NET}/ip_-d_address", 0, tap, f"a tap in {bridge} that no domain XML "
                        "of the report claims: its VM is not imported")
    return vms


def _captured(report: Report, bonding: dict[str, Any], teamd_state: dict[str, Any]
              ) -> dict[str, Any]:
    archive = report.archive
    captured: dict[str, Any] = {"host": report.host, "source": "sosreport"}
    found = _first(archive, f"{NET}/bridge_-s_-s_-d_-t_fdb_show", f"{NET}/bridge_-s_-s_-d_fdb_show",
                   f"{NET}/bridge_-d_-s_fdb_show", f"{NET}/bridge_fdb_show")
    if found is not None:
        entries, _ = runtime.parse_fdb(found[1], archive.where(found[0]))
        captured["fdb"] = entries
        report.use("fdb", found[0], "runtime")
    if bonding:
        captured["bonding"] = bonding
    raw: dict[str, Any] = {"sources": list(report.used)}
    if teamd_state:
        raw["teamd"] = teamd_state
    captured["raw"] = raw
    return captured


def _teamd_state(report: Report) -> dict[str, Any]:
    """``teamdctl TEAM state dump`` -> runner, active port and each port's link."""
    archive = report.archive
    out: dict[str, Any] = {}
    for rel in archive.glob(r"sos_commands/teamd/teamdctl_[^/]+_state_dump"):
        team = rel[len("sos_commands/teamd/teamdctl_"):-len("_state_dump")]
        text = _text(archive, rel)
        if text is None:
            continue
        try:
            state = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            report.note(rel, 1, "state dump", "not JSON: not read")
            continue
        if not isinstance(state, dict):
            continue
        entry: dict[str, Any] = {}
        setup = state.get("setup")
        if isinstance(setup, dict) and "runner_name" in setup:
            entry["runner"] = setup["runner_name"]
        runner = state.get("runner")
        if isinstance(runner, dict) and runner.get("active_port"):
            entry["active-port"] = runner["active_port"]
        ports = state.get("ports")
        if isinstance(ports, dict):
            entry["ports"] = {name: {"link-up": bool(p.get("link", {}).get("up"))}
                              for name, p in ports.items() if isinstance(p, dict)}
        out[team] = entry
        report.use(f"{team} state", rel, "runtime")
    return out


def import_report(path: str, host: str | None = None, limits: Limits | None = None
                  ) -> ImportResult:
    limits = limits or Limits()
    archive = open_tar(path, limits) if is_tarball(path) else open_dir(path, limits)
    report = Report(archive, host)
    bonding: dict[str, Any] = {}
    for rel in archive.glob(r"proc/net/bonding/[^/]+"):
        text = _text(archive, rel)
        if text is not None:
            bonding[rel.rsplit("/", 1)[1]] = runtime.parse_proc_bonding(text)
            report.use(f"{rel.rsplit('/', 1)[1]} state", rel, "runtime")
    profiles = report.profiles()
    config_ifaces, config_routes, config_notes = nmprofile.build(profiles)
    by_name = {p.ifname(): p for p in profiles}
    config: dict[str, dict[str, Any]] = {}
    for iface in config_ifaces:
        profile = by_name.get(iface["name"])
        config[iface["name"]] = {**iface, "__source__": (profile.file, profile.line)
                                 if profile is not None else ("", 0)}
    found = report.links()
    taps: dict[str, str] = {}
    tap_vlans: dict[str, int] = {}
    if found is not None:
        rel, links = found
        state = Runtime(report, rel, links, config)
        state.bonding = bonding
        interfaces = state.interfaces()
        taps, tap_vlans = state.taps, state.tap_vlans
        # configuration notes only for what configuration still decides (team runners)
        report.notes += [n for n in config_notes if "team" in n.text or "runner" in n.text]
    else:
        interfaces = config_ifaces
        report.notes += config_notes
        if profiles:
            report.used.append("interfaces: NetworkManager/ifcfg profiles (configuration; no "
                               "ip output in the report)")
        for iface in interfaces:
            report.sources[iface_key(report.host, iface["name"])] = archive.label
    entry: dict[str, Any] = {"interfaces": interfaces}
    if config_routes and found is None:
        entry["routes"] = {"config": config_routes}
    doc: dict[str, Any] = {"name": report.host, "hosts": {report.host: entry}}
    vms = _vms(report, taps, tap_vlans, interfaces)
    if vms:
        doc["vms"] = vms
    doc["captured"] = _captured(report, bonding, _teamd_state(report))
    return ImportResult(doc, report.notes, "sosreport", sources=report.sources,
                        used=report.used)
