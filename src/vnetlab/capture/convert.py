"""A host's live state (the parsed outputs of the allowlisted commands) -> one topology
document, written as a person would write it (docs/topology.md, docs/capture.md).

Interfaces in nmstate's shape, from ``ip -j -d link`` (``linkinfo.info_kind``):

* no kind (a NIC), ``veth`` -> ``ethernet`` (its permanent MAC: ``permaddr``, a bond
  port's ``perm_hwaddr``); a veth pair with both ends in the namespace is a cable,
  ``links: [{endpoints: [HOST:a, HOST:b]}]``;
* ``bridge`` -> ``linux-bridge``: STP (``stp_state``, ``forward_delay``, ``hello_time``,
  ``max_age``, ``priority``), ``ageing_time``, ``vlan_filtering``,
  ``vlan_default_pvid``, ``group_fwd_mask`` from ``info_data`` (clock_t, 1/100 s: the
  unit of IFLA_BR_* and of the sysfs attributes, which are read too and win), the MAC
  only when it was set by hand (``addr_assign_type`` 3, NET_ADDR_SET: else the bridge
  takes its lowest port MAC, B2d); ports with ``bridge -d link``'s learning, flood,
  mcast_flood, bcast_flood, hairpin and isolated flags where they differ from
  ``new_nbp``'s defaults (B2b, B15) and, with VLAN filtering, their VLANs from
  ``bridge -d vlan show`` (B17);
* ``bond`` -> ``bond``: ``info_data``'s mode and options (bond_print_opt's names:
  ``num_peer_notif`` is num_grat_arp, ``ad_lacp_rate`` lacp_rate...) where they differ
  from the driver's defaults (BD1); ``/proc/net/bonding`` goes to ``captured.bonding``;
* ``team`` -> ``team``: the runner and port options from ``teamdctl TEAM config dump``
  (teamd.conf(5)), the ports from ``master``; without teamdctl teamd's default runner
  (roundrobin) is assumed, with a note;
* ``vlan`` -> ``vlan`` (802.1Q; ``base-iface`` from ``link``, ``id``);
* ``tun`` type ``tap`` -> a VM's tap: the VM goes under ``vms:`` (libvirt's shape) and the
  tap is implied by it, as a person writes it. The VM comes from ``virsh -r dumpxml``
  when a domain's ``<target dev>`` names the tap; else it is inferred from libvirt's
  tap MAC rule (``virNetDevTapCreateInBridgePort``: the tap's MAC is the guest's with
  the first byte 0xFE) against the FDB (a MAC with the same last five bytes, on any
  port: the seed-000 signature puts it on the uplink), else from the one MAC learned
  on the tap. A tap none of these explains is written as an ``ethernet`` port (a note
  says so);
* OVS (``ovs-vsctl list Bridge/Port/Interface``): ``ovs-bridge`` with its ports and
  their VLAN columns (tag, trunks, vlan_mode), ``ovs-interface`` for internal and patch
  ports; ``ovs-system`` and internal devices (kind ``openvswitch``) are not interfaces
  of their own.

Addresses (``ip -j addr``: ``dynamic`` ones mean DHCP), MTU (when not 1500), admin state
(``UP`` flag), the main table's IPv4 routes with a gateway (``routes.config``), the
br_netfilter sysctls and the ruleset (``firewall``) complete the host. Anything else
(a dummy, a macvlan, a wireguard device, a route without a gateway) is a note.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from vnetlab.net.addr import mac_str, parse_mac

# -- the parsed inputs -------------------------------------------------------------------------


@dataclass
class Snapshot:
    """The commands' outputs, parsed (``None``: the command gave nothing usable)."""

    links: list[dict[str, Any]] = field(default_factory=list)
    addrs: list[dict[str, Any]] = field(default_factory=list)
    routes: list[dict[str, Any]] = field(default_factory=list)
    neigh: list[dict[str, Any]] = field(default_factory=list)
    bridge_links: list[dict[str, Any]] = field(default_factory=list)
    fdb: list[dict[str, Any]] = field(default_factory=list)
    vlans: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    teamd_config: dict[str, str] = field(default_factory=dict)
    teamd_state: dict[str, str] = field(default_factory=dict)
    domains: dict[str, str] = field(default_factory=dict)       # name -> live XML
    ovs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)   # table -> rows
    ovs_fdb: dict[str, str] = field(default_factory=dict)      # bridge -> fdb/show text
    ovs_flows: dict[str, str] = field(default_factory=dict)    # bridge -> dump-flows text
    nft: str | None = None
    iptables: str | None = None
    notes: list[str] = field(default_factory=list)

    def sysfs(self, dev: str, kind: str, attr: str) -> int | None:
        """An integer sysfs attribute (``/sys/class/net/DEV/KIND/ATTR``), or None."""
        text = self.files.get(f"/sys/class/net/{dev}/{kind}/{attr}" if kind else
                              f"/sys/class/net/{dev}/{attr}")
        return _int(text.strip()) if text is not None else None

    def sysctl(self, path: str) -> int | None:
        text = self.files.get(path)
        return _int(text.strip()) if text is not None else None

    @property
    def br_netfilter(self) -> bool:
        """br_netfilter is loaded (its sysctls exist here only then, B22)."""
        return any(p.startswith("/proc/sys/net/bridge/") for p in self.files) or \
            self.files.get("/sys/module/br_netfilter/initstate", "").strip() == "live"


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if re.fullmatch(r"0x[0-9a-fA-F]+", text):
            return int(text, 16)
    return None


def json_list(text: str) -> list[dict[str, Any]]:
    """iproute2's ``-j`` output: a JSON list (empty output: []). ValueError if not one."""
    text = text.strip()
    if not text:
        return []
    value = json.loads(text)
    if not isinstance(value, list):
        raise ValueError("not a JSON list")
    return [v for v in value if isinstance(v, dict)]


# -- small helpers ------------------------------------------------------------------------------

KIND_ORDER = {"ethernet": 0, "bond": 1, "team": 1, "vlan": 2, "linux-bridge": 3,
              "ovs-interface": 4, "ovs-bridge": 5}
TAP_NAME = re.compile(r"(vnet\d+|tap.*|macvtap\d+)")


def seconds(centis: int) -> int | str:
    """clock_t (1/100 s) -> the spec's seconds: ``15`` or ``1500ms``."""
    return centis // 100 if centis % 100 == 0 else f"{centis * 10}ms"


def norm(mac: object) -> str | None:
    if not isinstance(mac, str):
        return None
    try:
        return mac_str(parse_mac(mac))
    except ValueError:
        return None


def libvirt_tap_mac(guest: str) -> str:
    """virNetDevTapCreateInBridgePort: the tap's MAC is the guest's with byte 0 = 0xFE."""
    return "fe" + guest[2:]


@dataclass
class Converted:
    doc: dict[str, Any]
    notes: list[str]
    taps: dict[str, str]                 # tap -> the VM that owns it
    inferred: list[str]                  # VMs made up from the FDB (named vm-TAP)
    neutron_made: set[str] = field(default_factory=set)   # devices written as Neutron ports


class Converter:
    def __init__(self, snap: Snapshot, host: str) -> None:
        self.snap = snap
        self.host = host
        self.notes: list[str] = list(snap.notes)
        self.links = {str(link["ifname"]): link for link in snap.links
                      if isinstance(link.get("ifname"), str)}
        self.kind = {name: (link.get("linkinfo") or {}).get("info_kind")
                     for name, link in self.links.items()}
        self.bports = {str(b["ifname"]): b for b in snap.bridge_links
                       if isinstance(b.get("ifname"), str)}
        self.ifaces: dict[str, dict[str, Any]] = {}
        self.vms: dict[str, dict[str, Any]] = {}
        self.taps: dict[str, str] = {}          # tap -> VM name
        self.inferred: list[str] = []
        self.ovs_taps: dict[str, tuple[str, dict[str, Any] | None]] = {}   # tap -> (br, vlan)
        self.ovs_own: set[str] = set()          # OVS's own devices (netdev: taps)
        self.neutron_made: set[str] = set()     # devices the model makes from openstack:
        self._team_ports: dict[str, dict[str, dict[str, Any]]] = {}

    def note(self, text: str) -> None:
        self.notes.append(text)

    # -- entry point ----------------------------------------------------------------------
    def convert(self) -> Converted:
        for name, link in self.links.items():
            iface = self.interface(name, link)
            if iface is not None:
                self.ifaces[name] = iface
        self.ovs_bridges()
        self.ports()
        self.vms_from_libvirt()
        self.unclaimed_taps()
        self.tap_ports()
        openstack = self.openstack()
        host: dict[str, Any] = {"interfaces": sorted(
            self.ifaces.values(), key=lambda i: (KIND_ORDER.get(i["type"], 9),
                                                 self._index(i["name"])))}
        routes = self.routes()
        if routes:
            host["routes"] = {"config": routes}
        sysctl, firewall = self.firewall()
        if sysctl:
            host["sysctl"] = sysctl
        if firewall:
            host["firewall"] = firewall
        doc: dict[str, Any] = {"name": f"capture-{self.host}",
                               "description": f"live state of {self.host} (vnetlab capture)",
                               "hosts": {self.host: host}}
        if openstack is not None:
            doc["openstack"] = openstack
        if self.vms:
            doc["vms"] = self.vms
        cables = self.cables()
        if cables:
            doc["links"] = cables
        return Converted(doc, self.notes, dict(self.taps), self.inferred, self.neutron_made)

    def _index(self, name: str) -> int:
        index = self.links.get(name, {}).get("ifindex")
        return index if isinstance(index, int) else 1 << 30

    # -- one device ---------------------------------------------------------------------------
    def interface(self, name: str, link: dict[str, Any]) -> dict[str, Any] | None:
        info = link.get("linkinfo") or {}
        kind = info.get("info_kind")
        link_type = link.get("link_type")
        if link_type == "loopback":
            return None
        if kind == "openvswitch":
            return None                 # ovs-system and internal ports: from ovs-vsctl
        if kind == "tun":
            if (info.get("info_data") or {}).get("type") != "tap":
                self.note(f"{name}: a tun (layer 3) device is not modelled: left out")
            return None                 # taps: VMs (see vms_from_libvirt)
        types = {None: "ethernet", "veth": "ethernet", "bridge": "linux-bridge", "bond": "bond",
                 "team": "team", "vlan": "vlan"}
        if kind not in types or link_type not in ("ether", None):
            what = kind or f"link/{link_type}"
            self.note(f"{name}: kind {what} is not modelled by vnetlab: left out")
            return None
        iface: dict[str, Any] = {"name": name, "type": types[kind]}
        flags = link.get("flags") or []
        if "UP" not in flags:
            iface["state"] = "down"
        mtu = link.get("mtu")
        if isinstance(mtu, int) and mtu != 1500:
            iface["mtu"] = mtu
        slave = info.get("info_slave_data") or {}
        if iface["type"] == "ethernet":
            mac = norm(link.get("permaddr")) or norm(slave.get("perm_hwaddr")) or \
                norm(link.get("address"))
            if mac:
                iface["mac-address"] = mac
        elif self.snap.sysfs(name, "", "addr_assign_type") == 3:     # NET_ADDR_SET
            mac = norm(link.get("address"))
            if mac:
                iface["mac-address"] = mac
        data = info.get("info_data") or {}
        if kind == "bridge":
            iface["bridge"] = {"options": self.bridge_options(name, data), "port": []}
        elif kind == "bond":
            iface["link-aggregation"] = self.bond(name, data)
        elif kind == "team":
            iface["team"] = self.team(name)
        elif kind == "vlan":
            parent = link.get("link")
            protocol = str(data.get("protocol", "802.1Q")).lower()
            vid = _int(data.get("id"))
            if not isinstance(parent, str) or parent not in self.links or vid is None \
                    or protocol != "802.1q":
                self.note(f"{name}: a VLAN whose parent is in another namespace, or not "
                          "802.1Q: left out")
                return None
            iface["vlan"] = {"base-iface": parent, "id": vid}
        self.addresses(name, iface)
        return iface

    def addresses(self, name: str, iface: dict[str, Any]) -> None:
        entry = next((a for a in self.snap.addrs if a.get("ifname") == name), None)
        if entry is None:
            return
        v4 = [a for a in entry.get("addr_info") or [] if a.get("family") == "inet"
              and isinstance(a.get("local"), str) and isinstance(a.get("prefixlen"), int)]
        if any(a.get("dynamic") for a in v4):
            iface["ipv4"] = {"enabled": True, "dhcp": True}
        elif v4:
            iface["ipv4"] = {"enabled": True, "address": [
                {"ip": a["local"], "prefix-length": a["prefixlen"]} for a in v4]}
        if v4:
            # the neighbour knobs of this device's ARP table (N1, section 10)
            arp: dict[str, Any] = {}
            for key, spec_key, default in (("base_reachable_time_ms", "base-reachable-time",
                                            30000), ("retrans_time_ms", "retrans-time", 1000)):
                value = self.snap.sysctl(f"/proc/sys/net/ipv4/neigh/{name}/{key}")
                if value is not None and value != default and value >= 0:
                    arp[spec_key] = f"{value}ms"
            if arp:
                iface["arp"] = arp

    def bridge_options(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        snap = self.snap

        def timer(attr: str) -> int | None:
            value = snap.sysfs(name, "bridge", attr)
            return value if value is not None else _int(data.get(attr))

        stp: dict[str, Any] = {"enabled": (_int(data.get("stp_state")) or
                                           snap.sysfs(name, "bridge", "stp_state") or 0) != 0}
        delay = timer("forward_delay")
        if delay is not None:
            stp["forward-delay"] = seconds(delay)
        hello, max_age = timer("hello_time"), timer("max_age")
        if hello is not None and hello != 200:
            stp["hello-time"] = seconds(hello)
        if max_age is not None and max_age != 2000:
            stp["max-age"] = seconds(max_age)
        priority = timer("priority")
        if priority is not None and priority != 32768:
            stp["priority"] = priority
        options: dict[str, Any] = {"stp": stp}
        ageing = timer("ageing_time")
        if ageing is not None:
            options["mac-ageing-time"] = seconds(ageing)
        filtering = _int(data.get("vlan_filtering"))
        if filtering is None:
            filtering = snap.sysfs(name, "bridge", "vlan_filtering")
        options["vlan-filtering"] = bool(filtering)
        pvid = _int(data.get("vlan_default_pvid"))
        if filtering and pvid is not None and pvid != 1:
            options["vlan-default-pvid"] = pvid
        mask = _int(data.get("group_fwd_mask"))
        if mask:
            options["group-fwd-mask"] = mask
        if filtering:
            own = self.vlan_entries(name)
            default = pvid if pvid is not None else 1
            vlans = [_vlan_text(s, e, p, u) for s, e, p, u in own
                     if not (p and u and s == e == default)]
            if vlans:
                options["vlans"] = vlans
        return options

    def bond(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        mode = data.get("mode")
        if not isinstance(mode, str):
            self.note(f"{name}: bond mode not shown by ip -d link: balance-rr (the driver's "
                      "default) assumed")
            mode = "balance-rr"
        options: dict[str, Any] = {}
        for key, default, spec_key in BOND_OPTIONS:
            value = data.get(key)
            if key == "arp_validate" and value is None and key in data:
                value = "none"              # bond_print_opt prints 0 as null in JSON
            if value is None or value == default:
                continue
            if key == "arp_ip_target":
                if isinstance(value, list) and value:
                    options[spec_key] = ",".join(str(v) for v in value)
                continue
            if key == "ad_actor_system" and norm(value) in (None, "00:00:00:00:00:00"):
                continue
            options[spec_key] = value
        agg: dict[str, Any] = {"mode": mode}
        if options:
            agg["options"] = options
        return agg

    def team(self, name: str) -> dict[str, Any]:
        from vnetlab.importers.base import Unparsed
        from vnetlab.importers.teamd import parse_json, team_config

        text = self.snap.teamd_config.get(name)
        if text is None:
            self.note(f"{name}: no teamd configuration (teamdctl {name} config dump): teamd's "
                      "default runner roundrobin assumed")
            return {}
        notes: list[Unparsed] = []
        where = f"teamdctl {name} config dump"
        parsed = parse_json(text, where, 0, "config", notes)
        team: dict[str, Any] = {}
        if parsed is not None:
            team, _, ports = team_config(parsed, where, 0, notes)
            self._team_ports[name] = ports
        self.notes += [str(n) for n in notes]
        return team

    # -- ports of bridges, bonds, teams ---------------------------------------------------------
    def ports(self) -> None:
        for name, link in sorted(self.links.items(), key=lambda kv: self._index(kv[0])):
            master = link.get("master")
            if not isinstance(master, str) or master not in self.ifaces:
                continue
            target = self.ifaces[master]
            if self.kind.get(name) == "tun" or name not in self.ifaces:
                continue
            if target["type"] == "linux-bridge":
                target["bridge"]["port"].append(self.bridge_port(name, target))
            elif target["type"] == "bond":
                target["link-aggregation"].setdefault("port", []).append(name)
            elif target["type"] == "team":
                configured = self._team_ports.get(master, {}).get(name)
                target["team"].setdefault("ports", []).append(configured or {"name": name})

    def tap_ports(self) -> None:
        """Taps in Linux bridges: a VM's tap is listed only for flags or VLANs that differ
        from the defaults; a tap written as an ethernet port always is."""
        for tap in sorted(self.tap_names(), key=self._index):
            master = self.links[tap].get("master")
            target = self.ifaces.get(master) if isinstance(master, str) else None
            if target is None or target["type"] != "linux-bridge":
                continue
            port = self.bridge_port(tap, target)
            if tap in self.ifaces or len(port) > 1:
                target["bridge"]["port"].append(port)

    def bridge_port(self, name: str, bridge: dict[str, Any]) -> dict[str, Any]:
        port: dict[str, Any] = {"name": name}
        shown = self.bports.get(name) or \
            ((self.links[name].get("linkinfo") or {}).get("info_slave_data") or {})
        for key, spec_key, default in PORT_FLAGS:
            value = shown.get(key)
            if isinstance(value, bool) and value != default:
                port[spec_key] = value
        if bridge["bridge"]["options"].get("vlan-filtering"):
            vlan = self.port_vlan(name, bridge["bridge"]["options"].get("vlan-default-pvid", 1))
            if vlan is not None:
                port["vlan"] = vlan
        return port

    def vlan_entries(self, dev: str) -> list[tuple[int, int, bool, bool]]:
        """``bridge -j -d vlan show`` of ``dev``: (vid, vid_end, pvid, untagged)."""
        out: list[tuple[int, int, bool, bool]] = []
        for entry in self.snap.vlans:
            if entry.get("ifname") != dev:
                continue
            for v in entry.get("vlans") or []:
                vid = _int(v.get("vlan"))
                if vid is None:
                    continue
                end = _int(v.get("vlanEnd")) or vid
                flags = v.get("flags") or []
                out.append((vid, end, "PVID" in flags, "Egress Untagged" in flags))
        return out

    def port_vlan(self, name: str, default_pvid: int) -> dict[str, Any] | None:
        """A port's VLANs in nmstate's shape (as NetworkManager applies them on top of
        the default PVID, docs/topology.md "VLANs")."""
        entries = self.vlan_entries(name)
        if not entries:
            return None
        native = next((s for s, _, pvid, _ in entries if pvid), None)
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

    # -- VMs --------------------------------------------------------------------------------
    def tap_names(self) -> list[str]:
        return [n for n, k in self.kind.items() if k == "tun" and n not in self.ovs_own and
                ((self.links[n].get("linkinfo") or {}).get("info_data") or {}).get("type")
                == "tap"]

    def tap_bridge(self, tap: str) -> str | None:
        if tap in self.ovs_taps:
            return self.ovs_taps[tap][0]
        master = self.links[tap].get("master")
        if isinstance(master, str) and master in self.ifaces and \
                self.ifaces[master]["type"] == "linux-bridge":
            return master
        return None

    def vms_from_libvirt(self) -> None:
        from vnetlab.importers.base import MAX_FILE_BYTES, ImportFailure, Unparsed
        from vnetlab.importers.libvirt import domain, parse_xml

        taps = set(self.tap_names())
        for name, xml in sorted(self.snap.domains.items()):
            where = f"virsh -r dumpxml {name}"
            if len(xml) > MAX_FILE_BYTES:           # the import's cap for one libvirt XML
                self.note(f"{where}: larger than {MAX_FILE_BYTES} bytes: VM left out")
                continue
            try:
                tree = parse_xml(xml.encode("utf-8"), where)
                vm, nics, notes = domain(tree, where, {})
            except ImportFailure as exc:
                self.note(f"{exc}: VM left out")
                continue
            self.notes += [str(n) for n in notes if isinstance(n, Unparsed)]
            kept = []
            for nic in nics:
                tap = nic.get("target")
                if tap not in taps or tap in self.taps:
                    continue
                bridge = self.tap_bridge(tap)
                if bridge is None:
                    self.note(f"{tap} of VM {vm} is in no bridge this capture models: left out")
                    continue
                if nic.get("source") != bridge:
                    self.note(f"{tap} of VM {vm}: the domain XML says bridge {nic.get('source')}"
                              f", the running tap is in {bridge}: {bridge} written")
                    nic["source"] = bridge
                self.tap_details(tap, nic)
                kept.append(nic)
                self.taps[tap] = vm
            if not kept:
                self.note(f"VM {vm}: no tap of it is in this capture (shut off, or in "
                          "another namespace): left out")
                continue
            if vm in self.ifaces or vm == self.host:
                self.note(f"VM {vm}: its name is taken by the host or an interface: "
                          f"written as vm-{vm}")
                vm = f"vm-{vm}"
            self.vms[vm] = {"host": self.host, "interfaces": kept}

    def tap_details(self, tap: str, nic: dict[str, Any]) -> None:
        """The tap's MAC when libvirt's rule does not give it, its MTU, OVS VLAN."""
        link = self.links[tap]
        actual = norm(link.get("address"))
        if actual and actual != libvirt_tap_mac(nic["mac"]):
            nic["tap-mac"] = actual
        mtu = link.get("mtu")
        if isinstance(mtu, int) and mtu != 1500 and "mtu" not in nic:
            nic["mtu"] = mtu
        if tap in self.ovs_taps:
            nic["virtualport"] = "openvswitch"
            bridge, vlan = self.ovs_taps[tap]
            if vlan and vlan.get("mode") in (None, "access") and vlan.get("tag") is not None:
                nic["vlan"] = {"tag": vlan["tag"]}          # libvirt's <vlan><tag id/>
            elif vlan:
                # a trunk (Neutron's dead VLAN: trunks=[4095]) has no libvirt form: the
                # tap is listed as a port of its bridge with the Port columns
                self.ifaces[bridge]["bridge"]["port"].append({"name": tap, "vlan": vlan})

    def unclaimed_taps(self) -> None:
        """Taps no domain claims: a VM from libvirt's MAC rule or the FDB, else a port."""
        learned: dict[str, list[str]] = {}
        by_tail: dict[str, str] = {}
        local: dict[str, tuple[str, str]] = {}      # tail -> (MAC, port) of local entries
        for entry in self.snap.fdb:
            mac = norm(entry.get("mac"))
            if mac is None or not entry.get("master"):
                continue
            if entry.get("state") == "permanent":
                if not mac.startswith("fe:"):
                    local.setdefault(mac[2:], (mac, str(entry.get("ifname"))))
                continue
            learned.setdefault(str(entry.get("ifname")), []).append(mac)
            by_tail.setdefault(mac[2:], mac)
        for entry in self.ovs_learned():
            learned.setdefault(entry["port"], []).append(entry["mac"])
            by_tail.setdefault(entry["mac"][2:], entry["mac"])
        for tap in sorted(self.tap_names(), key=self._index):
            if tap in self.taps:
                continue
            bridge = self.tap_bridge(tap)
            if bridge is None:
                self.note(f"{tap}: a tap in no bridge: left out")
                continue
            tap_mac = norm(self.links[tap].get("address")) or ""
            guest = by_tail.get(tap_mac[2:]) if tap_mac.startswith("fe:") else None
            how = "libvirt's tap MAC rule (fe + the guest's last five bytes) and the FDB"
            attached = self.ovs_attached_mac(tap)
            if attached is not None:
                # the one that plugged the VIF (libvirt's virNetDevOpenvswitchAddPort,
                # os-vif's ovs plug) wrote the guest's MAC into the Interface row: this
                # holds on a port nothing was learned on (Neutron's dead VLAN drops
                # every frame before learning, O1)
                guest, how = attached, ("Open vSwitch's Interface external_ids:attached-mac "
                                        "(written by libvirt/os-vif when it plugged the port)")
            if guest is None and tap_mac.startswith("fe:") and tap_mac[2:] in local:
                # the guest's MAC is one of the host's own (a local entry): br_fdb_update
                # never learns it from the guest, the tail is all there is (B3)
                guest, port = local[tap_mac[2:]]
                how = (f"libvirt's tap MAC rule and the FDB's local entry of {port}: the guest "
                       "has the host's own address, so the bridge never learns it")
            if guest is None and len(set(learned.get(tap, []))) == 1:
                guest, how = learned[tap][0], "the one MAC the bridge learned on the tap"
            if guest is None and tap_mac.startswith("52:54:00:") and not learned.get(tap):
                # not libvirt's rule: a tap made by hand (a qemu-ifup script) given its
                # guest's MAC, the one MAC QEMU's OUI says it is; the bridge holds it as
                # the tap's own address and learns nothing from the guest
                guest, how = tap_mac, ("the tap's own MAC, in QEMU's OUI 52:54:00: a tap made "
                                       "by hand and given its guest's MAC (not libvirt's fe "
                                       "rule); nothing is learned on it")
            if guest is None or guest.startswith("fe:"):
                self.note(f"{tap}: a tap no libvirt domain claims and no FDB entry explains: "
                          "written as an ethernet port of " + bridge)
                iface: dict[str, Any] = {"name": tap, "type": "ethernet"}
                if tap_mac:
                    iface["mac-address"] = tap_mac
                self.ifaces[tap] = iface
                if tap in self.ovs_taps:
                    vlan = self.ovs_taps[tap][1]
                    self.ifaces[bridge]["bridge"]["port"].append(
                        {"name": tap, **({"vlan": vlan} if vlan else {})})
                continue
            name = f"vm-{tap}"
            nic: dict[str, Any] = {"type": "bridge", "source": bridge, "target": tap,
                                   "mac": guest}
            self.tap_details(tap, nic)
            self.vms[name] = {"host": self.host, "interfaces": [nic]}
            self.taps[tap] = name
            self.inferred.append(name)
            self.note(f"{tap}: no libvirt domain claims it; VM {name} with MAC {guest} "
                      f"inferred from {how}")

    # -- Open vSwitch ---------------------------------------------------------------------------
    def ovs_learned(self) -> list[dict[str, Any]]:
        """The dynamic entries of every OVS bridge's MAC table (port names)."""
        from vnetlab.capture.ovsdb import fdb_rows

        return [row for bridge, text in sorted(self.snap.ovs_fdb.items())
                for row in fdb_rows(text, bridge, self.snap.ovs)
                if "static" not in row["flags"] and row["port"] != bridge]

    def ovs_attached_mac(self, tap: str) -> str | None:
        """``external_ids:attached-mac`` of ``tap``'s Interface row, when it is a MAC."""
        if tap not in self.ovs_taps:
            return None
        for row in self.snap.ovs.get("Interface", []):
            ids = row.get("external_ids")
            if row.get("name") == tap and isinstance(ids, dict):
                return norm(ids.get("attached-mac"))
        return None

    def ovs_bridges(self) -> None:
        from vnetlab.capture.ovsdb import ovs_topology, own_devices

        if not self.snap.ovs:
            return
        self.ovs_own = own_devices(self.snap.ovs)
        for iface, taps in ovs_topology(self.snap.ovs, self.links, self.kind, self.note,
                                        self.snap.ovs_flows):
            if iface["name"] in self.ifaces and iface["type"] == "ovs-bridge":
                self.note(f"{iface['name']}: an OVS bridge with the name of another "
                          "interface: left out")
                continue
            self.ifaces.setdefault(iface["name"], iface)
            self.ovs_taps.update(taps)

    # -- OpenStack ---------------------------------------------------------------------------------
    def openstack(self) -> dict[str, Any] | None:
        """``openstack:`` from nova.conf and the agent's ini (capture/openstack.py); on an
        ml2/ovs compute host, the Neutron ports written as a person writes them."""
        from vnetlab.capture.openstack import settings

        block = settings(self.snap.files, self.note)
        if block is not None and block.get("agent", {}).get("type") == "openvswitch":
            self.neutron_ports(block)
        elif block is not None and block.get("agent", {}).get("type") == "linuxbridge":
            self.linuxbridge_ports(block)
        return block

    def linuxbridge_ports(self, block: dict[str, Any]) -> None:
        """The linuxbridge agent's ``brqXXX`` bridges as Neutron networks (O7): a brq with
        the agent's VLAN device on a mapped interface (``physical_interface_mappings``,
        ``ensure_vlan_bridge``: ``IFACE.SEG``) is the provider VLAN SEG; its VMs' NICs get
        ``network:`` (named ``XXX``, the 11 characters the brq name keeps of the network
        id, so the model names the bridge the same) and ``port-id:`` (the tap's ``XXX``);
        the brq and its VLAN device are the model's. A brq without that VLAN device (not
        wired yet, a flat network) or with another port is written as captured."""
        by_iface = {iface: physnet for physnet, iface in
                    block.get("agent", {}).get("bridge-mappings", {}).items()}
        written: list[str] = []
        for name in [n for n, i in self.ifaces.items()
                     if i["type"] == "linux-bridge" and n.startswith("brq")]:
            members = [n for n, link in self.links.items() if link.get("master") == name]
            vlans = [m for m in members if self.ifaces.get(m, {}).get("type") == "vlan"
                     and self.ifaces[m]["vlan"]["base-iface"] in by_iface]
            others = [m for m in members if m not in vlans and m not in self.taps]
            if len(vlans) != 1 or others:
                self.note(f"{name}: not a brq the linuxbridge agent has wired to a VLAN of a "
                          "mapped interface (no VLAN device yet, a flat network, or other "
                          f"ports: {', '.join(others) or 'none'}): written as captured")
                continue
            vlan = self.ifaces[vlans[0]]["vlan"]
            network = name[3:]
            block.setdefault("networks", {})[network] = {
                "segmentation-id": vlan["id"], "physical-network": by_iface[vlan["base-iface"]]}
            for vm in self.vms.values():
                for nic in vm["interfaces"]:
                    if nic.get("source") != name:
                        continue
                    tap = str(nic.pop("target", ""))
                    if tap.startswith("tap"):
                        nic["port-id"] = tap[3:]
                    nic["network"] = network
            self.neutron_made.update({name, vlans[0]})
            self.ifaces.pop(name)
            self.ifaces.pop(vlans[0])
            written.append(name)
        if written:
            self.note(f"{', '.join(written)}: the linuxbridge agent's bridges written as Neutron "
                      "networks of their VMs' NICs (network names: the 11 characters of the "
                      "network id the bridge's name keeps); the bridges and VLAN devices are "
                      "the model's")

    def neutron_ports(self, block: dict[str, Any]) -> None:
        """The integration bridge's ports that Neutron made (Interface ``external_ids:
        iface-id``) as VM NICs on a Neutron network (``network:``, ``port-id:``, docs/
        topology.md), the way the catalog's cases are written; the model makes br-int,
        qbr/qvb/qvo, the patch pair and the agent's flows again (O2, O3). A network is a
        provider VLAN known from the local VLAN the agent tagged the port with and the
        physical bridge's translation flow (``provision_local_vlan``: ``in_port=phy-BR,
        dl_vlan=LVID actions=mod_vlan_vid:SEG``). Unless every port of the integration
        bridge is explained this way the host is written as captured, with a note."""
        from vnetlab.capture.ovsdb import bridge_ports, port_tag
        from vnetlab.topology.spec import NeutronAgentSpec

        agent = block.get("agent", {})
        default = NeutronAgentSpec()                # what the document then means
        ib = str(agent.get("integration-bridge", default.integration_bridge))
        mappings: dict[str, str] = agent.get("bridge-mappings", default.bridge_mappings)
        if ib not in self.ifaces or self.ifaces[ib]["type"] != "ovs-bridge":
            return
        lvids: dict[int, tuple[int, str]] = {}
        for physnet, bridge in mappings.items():
            phys = self.ifaces.get(bridge, {}).get("bridge", {})
            for flow in phys.get("flows", []):
                match = re.fullmatch(rf"priority=4,in_port=phy-{re.escape(bridge)},dl_vlan="
                                     r"(\d+),actions=mod_vlan_vid:(\d+),NORMAL", flow)
                if match:
                    lvids[int(match.group(1))] = (int(match.group(2)), physnet)
        plan: list[tuple[str, str, int, str, dict[str, Any]]] = []  # port, id, seg, physnet, nic
        made = {ib}
        for port, iface in bridge_ports(self.snap.ovs, ib):
            name, kind = str(iface.get("name")), iface.get("type") or ""
            raw_ids = iface.get("external_ids")
            ids: dict[str, Any] = raw_ids if isinstance(raw_ids, dict) else {}
            if name == ib:
                continue
            if kind == "patch":
                made.add(name)
                continue
            port_id, tag = ids.get("iface-id"), port_tag(port)
            if not isinstance(port_id, str) or not name.startswith(("qvo", "tap")):
                self.note(f"{ib}: port {name} is not a Neutron VM port: {ib} written as "
                          "captured")
                return
            if tag not in lvids:
                self.note(f"{ib}: Neutron port {name} is on VLAN {tag}, which no "
                          "provision_local_vlan flow of a mapped bridge translates (not "
                          f"bound yet, or a tunnel network): {ib} written as captured")
                return
            tap = "tap" + name[3:]
            nic = next((n for vm in self.vms.values() for n in vm["interfaces"]
                        if n.get("target") == tap), None)
            if nic is None:
                self.note(f"{ib}: no VM of this capture has the tap {tap} of Neutron port "
                          f"{name}: {ib} written as captured")
                return
            plan.append((name, port_id, *lvids[tag], nic))
        for name, port_id, seg, physnet, nic in plan:
            network = f"{physnet}-vlan{seg}"
            block.setdefault("networks", {})[network] = {"segmentation-id": seg,
                                                         "physical-network": physnet}
            suffix = name[3:]
            made.update({name, f"qbr{suffix}", f"qvb{suffix}", f"qvo{suffix}"})
            for key in ("target", "virtualport", "vlan"):
                nic.pop(key, None)
            nic.update({"source": ib, "network": network, "port-id": port_id})
        for bridge in mappings.values():        # setup_physical_bridges' side of the pair
            phys = self.ifaces.get(bridge, {}).get("bridge")
            if phys is None:
                continue
            patch = f"phy-{bridge}"
            made.add(patch)
            phys["port"] = [p for p in phys.get("port", []) if p["name"] != patch]
            phys["flows"] = [f for f in phys.get("flows", []) if f"in_port={patch}," not in f]
            if not phys["flows"]:
                del phys["flows"]
        for name in made:
            self.ifaces.pop(name, None)
        self.neutron_made = made
        if plan:
            self.note(f"{ib}: {len(plan)} Neutron port(s) written as VM NICs on their networks "
                      f"({', '.join(sorted(block['networks']))}); {ib}, the qbr/qvb/qvo devices, the "
                      "patch ports and the agent's flows are the model's (the network names "
                      "are made up: Neutron's are not on the host)")

    # -- routes, firewall, cables -----------------------------------------------------------------
    def routes(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for route in self.snap.routes:
            dst, gateway, dev = route.get("dst"), route.get("gateway"), route.get("dev")
            if route.get("table") not in (None, "main") or route.get("type") not in \
                    (None, "unicast") or not isinstance(dst, str) or ":" in dst:
                continue
            if not isinstance(gateway, str) or ":" in gateway:
                continue                        # connected routes: from the addresses
            destination = "0.0.0.0/0" if dst == "default" else dst if "/" in dst else f"{dst}/32"
            entry: dict[str, Any] = {"destination": destination, "next-hop-address": gateway}
            if isinstance(dev, str) and dev in self.ifaces:
                entry["next-hop-interface"] = dev
            if entry not in out:
                out.append(entry)
        return out

    def firewall(self) -> tuple[dict[str, int], dict[str, Any]]:
        from vnetlab.devices.netfilter import NfError, parse_iptables, parse_nft

        snap = self.snap
        sysctl: dict[str, int] = {}
        firewall: dict[str, Any] = {}
        if snap.br_netfilter:
            firewall["br-netfilter"] = True
            for key in ("iptables", "ip6tables", "arptables"):
                value = snap.sysctl(f"/proc/sys/net/bridge/bridge-nf-call-{key}")
                if value in (0, 1):
                    sysctl[f"net.bridge.bridge-nf-call-{key}"] = value
        if snap.nft and snap.nft.strip():
            try:
                parse_nft(snap.nft)
            except NfError as exc:
                self.note(f"nft list ruleset: vnetlab's nft reader refuses it ({exc}): "
                          "the ruleset is left out of firewall:" + (
                              " iptables-save's rules are used" if snap.iptables and
                              re.search(r"^-A ", snap.iptables, re.M) else ""))
            else:
                firewall["nftables"] = snap.nft
        if "nftables" not in firewall and snap.iptables and re.search(r"^-A ", snap.iptables,
                                                                      re.M):
            try:
                parse_iptables(snap.iptables)
            except NfError as exc:
                self.note(f"iptables-save: vnetlab's iptables reader refuses it ({exc}): "
                          "the rules are left out of firewall:")
            else:
                firewall["iptables"] = snap.iptables
        return sysctl, firewall

    def cables(self) -> list[dict[str, Any]]:
        """veth pairs with both ends here (``link`` names the peer)."""
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        for name, link in self.links.items():
            peer = link.get("link")
            if self.kind.get(name) != "veth" or not isinstance(peer, str) or \
                    "link_netnsid" in link or self.kind.get(peer) != "veth":
                continue
            if name in seen or peer in seen or name not in self.ifaces or \
                    peer not in self.ifaces:
                continue
            seen.update((name, peer))
            first, second = sorted((name, peer), key=self._index)
            out.append({"endpoints": [f"{self.host}:{first}", f"{self.host}:{second}"]})
        return out


# bond_print_opt's JSON key, the driver's default as printed, the spec's option name (BD1)
BOND_OPTIONS: tuple[tuple[str, Any, str], ...] = (
    ("miimon", 100, "miimon"), ("updelay", 0, "updelay"), ("downdelay", 0, "downdelay"),
    ("peer_notify_delay", 0, "peer_notif_delay"), ("use_carrier", 1, "use_carrier"),
    ("arp_interval", 0, "arp_interval"), ("arp_missed_max", 2, "arp_missed_max"),
    ("arp_ip_target", None, "arp_ip_target"), ("arp_validate", "none", "arp_validate"),
    ("arp_all_targets", "any", "arp_all_targets"), ("primary", None, "primary"),
    ("primary_reselect", "always", "primary_reselect"),
    ("fail_over_mac", "none", "fail_over_mac"),
    ("xmit_hash_policy", "layer2", "xmit_hash_policy"), ("resend_igmp", 1, "resend_igmp"),
    ("num_peer_notif", 1, "num_grat_arp"), ("all_slaves_active", 0, "all_slaves_active"),
    ("min_links", 0, "min_links"), ("lp_interval", 1, "lp_interval"),
    ("packets_per_slave", 1, "packets_per_slave"), ("ad_lacp_active", "on", "lacp_active"),
    ("ad_lacp_rate", "slow", "lacp_rate"), ("ad_select", "stable", "ad_select"),
    ("ad_actor_sys_prio", 65535, "ad_actor_sys_prio"),
    ("ad_user_port_key", 0, "ad_user_port_key"), ("ad_actor_system", None, "ad_actor_system"),
    ("tlb_dynamic_lb", 1, "tlb_dynamic_lb"),
)

# ``bridge -j -d link show`` key, the spec's key, new_nbp's default (B2b, B15)
PORT_FLAGS = (("learning", "learning", True), ("flood", "flood", True),
              ("mcast_flood", "mcast-flood", True), ("bcast_flood", "bcast-flood", True),
              ("hairpin", "hairpin", False), ("isolated", "isolated", False))


def _vlan_text(start: int, end: int, pvid: bool, untagged: bool) -> str:
    return f"{start}" + (f"-{end}" if end != start else "") + (" pvid" if pvid else "") + \
        (" untagged" if untagged else "")


def convert(snap: Snapshot, host: str) -> Converted:
    return Converter(snap, host).convert()
