"""NetworkManager connection profiles -> nmstate-shaped host interfaces.

Keyfiles (``*.nmconnection``), ifcfg files and pasted ``nmcli connection add|modify``
lines are three spellings of one thing, an NM connection profile: settings with
properties (``connection.interface-name``, ``bridge.stp``, ``bond.options``...). Each
reader fills a ``Profile`` with the canonical property names (``setting.property``,
bond options as ``bond.<option>``) and where each value was written; ``build``
turns the profiles of one host into the spec's interfaces, as NetworkManager would
configure the kernel from them:

* a port's controller is the profile whose UUID, interface name or id the
  ``connection.controller`` (old name ``master``) value names, in that order
  (``nmcli``'s ``normalized_controller_for_port``); without ``port-type``
  (``slave-type``) the controller profile's type decides it (``set_connection_controller``);
* property defaults are NetworkManager's (``nm-setting-bridge.c``: ``stp`` on,
  ``forward-delay`` 15 s, ``ageing-time`` 300 s; ``nm-setting-bond.c``: mode
  balance-rr); the ifcfg reader sets ``STP`` off when absent, as NM's
  ``make_bridge_setting`` does, before it gets here;
* ``ethernet.mac-address`` binds the profile to the NIC with that permanent MAC,
  ``cloned-mac-address`` (a MAC) replaces it on the device; ``permanent``/``preserve``
  keep it; ``random``/``stable`` are generated at activation (a note);
* IP settings of a port are ignored (NetworkManager refuses them too);
* an OVS bridge is ``ovs-bridge`` <- ``ovs-port`` <- ``ovs-interface`` (or an ethernet
  profile); the port carries the VLAN (``tag``, ``vlan-mode``, ``trunks``) and becomes
  the bridge's port entry named after its interface; the internal interface named
  like the bridge is the bridge's LOCAL port, which vnetlab's ovs-bridge already is.

Limits: one profile per interface (when several name the same interface, the last
read wins, with a note: NetworkManager would activate one of them); no wifi,
infiniband, dummy, VRF, macvlan, VXLAN, OVS bonds, IPv6, ``match`` settings,
802.1ad VLANs; bridge port VLAN lists that nmstate cannot express (an untagged
non-PVID VLAN) are notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vnetlab.importers.base import Unparsed, norm_mac, to_int
from vnetlab.importers.teamd import parse_json, port_config, team_config

# connection.type spellings -> the canonical NM setting name
TYPE_NAMES = {"802-3-ethernet": "ethernet", "ethernet": "ethernet", "bridge": "bridge",
              "bond": "bond", "team": "team", "vlan": "vlan", "ovs-bridge": "ovs-bridge",
              "ovs-port": "ovs-port", "ovs-interface": "ovs-interface"}
# NM setting names (and their aliases) -> canonical
SETTING_NAMES = {"802-3-ethernet": "ethernet", "ethernet": "ethernet", "connection": "connection",
                 "bridge": "bridge", "bridge-port": "bridge-port", "bond": "bond",
                 "bond-port": "bond-port", "team": "team", "team-port": "team-port",
                 "vlan": "vlan", "ipv4": "ipv4", "ipv6": "ipv6", "ovs-bridge": "ovs-bridge",
                 "ovs-port": "ovs-port", "ovs-interface": "ovs-interface",
                 "ovs-patch": "ovs-patch", "proxy": "proxy", "ethtool": "ethtool",
                 "match": "match", "user": "user", "link": "link", "802-1x": "802-1x",
                 "ovs-dpdk": "ovs-dpdk", "ovs-external-ids": "ovs-external-ids",
                 "ovs-other-config": "ovs-other-config", "hostname": "hostname"}

# properties with no effect on what vnetlab models (addressing of IPv6, DNS, timers of
# activation, bookkeeping): read and dropped without a note
SILENT = {
    "connection.id", "connection.uuid", "connection.type", "connection.interface-name",
    "connection.autoconnect", "connection.autoconnect-priority", "connection.autoconnect-ports",
    "connection.autoconnect-slaves", "connection.autoconnect-retries", "connection.timestamp",
    "connection.permissions", "connection.secondaries", "connection.stable-id",
    "connection.read-only", "connection.wait-device-timeout", "connection.multi-connect",
    "connection.auth-retries", "connection.gateway-ping-timeout", "connection.llmnr",
    "connection.mdns", "connection.metered", "connection.lldp", "connection.zone",
    "connection.dns-over-tls", "connection.mptcp-flags", "connection.wait-activation-delay",
    "connection.down-on-poweroff", "connection.ip-ping-timeout", "connection.ip-ping-addresses",
    "ipv4.dns", "ipv4.dns-search", "ipv4.dns-options", "ipv4.dns-priority", "ipv4.may-fail",
    "ipv4.ignore-auto-dns", "ipv4.ignore-auto-routes", "ipv4.never-default",
    "ipv4.dhcp-client-id", "ipv4.dhcp-hostname", "ipv4.dhcp-send-hostname", "ipv4.dhcp-fqdn",
    "ipv4.dhcp-iaid", "ipv4.dhcp-vendor-class-identifier", "ipv4.route-metric",
    "ipv4.required-timeout", "ipv4.route-table", "ipv4.link-local",
    "ipv4.addr-gen-mode",
    "ethernet.auto-negotiate", "ethernet.duplex", "ethernet.speed", "ethernet.wake-on-lan",
    "ethernet.wake-on-lan-password", "ethernet.mac-address-blacklist",
    "ethernet.mac-address-denylist", "ethernet.generate-mac-address-mask", "ethernet.port",
    "ethernet.s390-nettype", "ethernet.s390-subchannels", "ethernet.s390-options",
    "ethernet.accept-all-mac-addresses", "vlan.flags",
}
SILENT_SETTINGS = {"ipv6", "proxy", "user", "hostname", "ethtool", "link", "ovs-external-ids",
                   "ovs-other-config"}

BRIDGE_DEFAULT_STP = "true"         # nm-setting-bridge.c: NM_BRIDGE_STP_DEF TRUE (B21)


@dataclass(slots=True)
class Prop:
    value: str
    file: str
    line: int


@dataclass
class Profile:
    """One NM connection profile as read: ``props`` maps ``setting.property`` to its
    value as text and where it was written."""

    file: str
    line: int
    reader: str                         # keyfile | ifcfg | nmcli
    props: dict[str, Prop] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def set(self, key: str, value: str, file: str, line: int) -> None:
        self.props[key] = Prop(value, file, line)

    def get(self, key: str) -> str | None:
        prop = self.props.get(key)
        if prop is None:
            return None
        self.used.add(key)
        return prop.value

    def where(self, key: str) -> tuple[str, int]:
        prop = self.props.get(key)
        return (prop.file, prop.line) if prop is not None else (self.file, self.line)

    @property
    def type(self) -> str:
        return TYPE_NAMES.get(self.props["connection.type"].value, "") \
            if "connection.type" in self.props else ""

    @property
    def raw_type(self) -> str:
        return self.props["connection.type"].value if "connection.type" in self.props else ""

    @property
    def id(self) -> str | None:
        return self.props["connection.id"].value if "connection.id" in self.props else None

    @property
    def uuid(self) -> str | None:
        return self.props["connection.uuid"].value if "connection.uuid" in self.props else None

    def ifname(self) -> str | None:
        name = self.props.get("connection.interface-name")
        if name is not None and name.value:
            return name.value
        if self.type == "vlan":              # nm_utils_new_vlan_name: PARENT.ID
            parent, vid = self.props.get("vlan.parent"), self.props.get("vlan.id")
            if parent is not None and vid is not None and to_int(vid.value) is not None:
                return f"{parent.value}.{vid.value}"
        return None


def truthy(value: str | None) -> bool | None:
    """NM's boolean spellings (keyfile true/false, nmcli yes/no/on/off, ifcfg yes/no)."""
    if value is None:
        return None
    text = value.strip().lower()
    if text in ("true", "yes", "on", "1", "y"):
        return True
    if text in ("false", "no", "off", "0", "n"):
        return False
    return None


class Builder:
    """Builds one host's interfaces from its profiles (see the module docstring)."""

    def __init__(self, profiles: list[Profile]) -> None:
        self.notes: list[Unparsed] = []
        self.routes: list[dict[str, Any]] = []
        self.profiles = profiles

    def note(self, profile: Profile, key: str, text: str, why: str) -> None:
        file, line = profile.where(key)
        self.notes.append(Unparsed(file, line, text, why))

    # -- resolution -----------------------------------------------------------------

    def _by_key(self) -> dict[str, Profile]:
        """Profiles by ``GROUP/interface``: kernel devices share one namespace, OVSDB
        bridges and ports have their own (an ovs-bridge, its LOCAL ovs-port and
        ovs-interface all carry the bridge's name)."""
        named: dict[str, Profile] = {}
        for profile in self.profiles:
            kind = profile.type
            if not kind:
                raw = profile.raw_type or "(none)"
                label = profile.id or profile.ifname() or raw
                self.note(profile, "connection.type", f"connection {label}",
                          f"type {raw} is not modelled by vnetlab; profile skipped")
                profile.used.update(profile.props)
                continue
            name = profile.ifname()
            if name is None:
                if profile.id is None:
                    self.note(profile, "connection.type", f"{kind} profile",
                              "no interface-name and no id: skipped")
                    profile.used.update(profile.props)
                    continue
                name = profile.id
                self.note(profile, "connection.id", f"connection {name}",
                          "no interface-name (bound by MAC or match): named after its id")
            key = f"{_group(kind)}/{name}"
            if key in named:
                old = named[key]
                self.note(old, "connection.interface-name", f"interface-name {name}",
                          f"also the interface of a profile in {profile.file}:{profile.line}; "
                          "the last one read is imported")
                old.used.update(old.props)
            named[key] = profile
        return named

    def _controllers(self, named: dict[str, Profile]) -> dict[str, tuple[str, str]]:
        """profile key -> (controller's key, port type)."""
        out: dict[str, tuple[str, str]] = {}
        for key, profile in named.items():
            prop = "connection.controller" if "connection.controller" in profile.props \
                else "connection.master"
            value = profile.get(prop)
            port_type = profile.get("connection.port-type") or \
                profile.get("connection.slave-type")
            if not value:
                if port_type:
                    self.note(profile, "connection.port-type", f"port-type {port_type}",
                              "a port type without a controller: ignored")
                continue
            target = _find(named, value, port_type)
            if target is None:
                self.note(profile, prop, f"controller {value}",
                          "no imported profile has this UUID, interface name or id; "
                          f"{_name(key)} is imported as a standalone interface")
                continue
            implied = _PORT_TYPE.get(named[target].type)
            if port_type is None:
                port_type = implied or ""
            if port_type != implied:
                self.note(profile, prop, f"controller {value}",
                          f"port-type {port_type!r} does not match the controller's type "
                          f"{named[target].type}; not enslaved")
                continue
            out[key] = (target, port_type)
        return out

    # -- per type ---------------------------------------------------------------------

    def _mac(self, profile: Profile, iface: dict[str, Any], *keys: str) -> None:
        for key in keys:
            value = profile.get(key)
            if value is None or not value.strip():
                continue
            if key.endswith("cloned-mac-address") and value.strip().lower() in (
                    "permanent", "preserve"):
                continue
            if key.endswith("cloned-mac-address") and value.strip().lower() in (
                    "random", "stable", "stable-ssid"):
                self.note(profile, key, f"{key} {value}",
                          "a MAC generated at activation is not modelled: the device's own "
                          "MAC is used")
                continue
            mac = norm_mac(value)
            if mac is None:
                self.note(profile, key, f"{key} {value}", "not a MAC address")
                continue
            iface["mac-address"] = mac
            return

    def _mtu(self, profile: Profile, iface: dict[str, Any]) -> None:
        for key in ("ethernet.mtu", "bridge.mtu", "ovs-interface.mtu"):
            value = profile.get(key)
            if value is None or value.strip() in ("", "0", "auto"):
                continue
            mtu = to_int(value)
            if mtu is None or not 68 <= mtu <= 65535:
                self.note(profile, key, f"{key} {value}", "not an MTU (68-65535)")
                continue
            iface["mtu"] = mtu

    def _ipv4(self, profile: Profile, iface: dict[str, Any], is_port: bool) -> None:
        method = profile.get("ipv4.method")
        addresses = profile.get("ipv4.addresses")
        gateway = profile.get("ipv4.gateway")
        routes = profile.get("ipv4.routes")
        if is_port:
            return
        if method is None and not addresses and profile.reader in ("nmcli", "keyfile") and \
                profile.type not in ("ovs-bridge", "ovs-port"):
            # nm_connection_normalize gives a profile without ipv4.method "auto"
            self.note(profile, "connection.type", f"ipv4.method of {iface['name']}",
                      "not given: NetworkManager's default 'auto' (a DHCP client) is imported")
            method = "auto"
        if method is None:
            method = "manual" if addresses else None
        if method in (None, "auto") and not addresses:
            if method == "auto":
                iface["ipv4"] = {"enabled": True, "dhcp": True}
            return
        if method == "disabled":
            iface["ipv4"] = {"enabled": False}
            return
        if method not in ("manual", "auto"):
            self.note(profile, "ipv4.method", f"ipv4.method {method}",
                      "not modelled (vnetlab models manual, auto (DHCP) and disabled)")
            return
        out: list[dict[str, Any]] = []
        for item in (addresses or "").replace(",", " ").split():
            from vnetlab.net.addr import parse_ip4_prefix

            text = item if "/" in item else f"{item}/32"
            try:
                parse_ip4_prefix(text)
            except ValueError as exc:
                self.note(profile, "ipv4.addresses", f"ipv4.addresses {item}", str(exc))
                continue
            ip, _, plen = text.partition("/")
            out.append({"ip": ip, "prefix-length": int(plen)})
        ipv4: dict[str, Any] = {"enabled": True}
        if method == "auto":
            ipv4["dhcp"] = True
            if out:
                self.note(profile, "ipv4.addresses", f"ipv4.addresses {addresses}",
                          "static addresses beside DHCP are not modelled; DHCP is imported")
        elif out:
            ipv4["address"] = out
        if gateway and method == "manual":
            from vnetlab.net.addr import parse_ip4

            try:
                parse_ip4(gateway)
                ipv4["gateway"] = gateway.strip()
            except ValueError as exc:
                self.note(profile, "ipv4.gateway", f"ipv4.gateway {gateway}", str(exc))
        iface["ipv4"] = ipv4
        for route in (routes or "").split(","):
            words = route.split()
            if not words:
                continue
            if len(words) < 2:
                self.note(profile, "ipv4.routes", f"ipv4.routes {route.strip()}",
                          "a route without a next hop is not modelled")
                continue
            self.routes.append({"destination": words[0], "next-hop-address": words[1],
                                "next-hop-interface": iface["name"]})

    def _bond(self, profile: Profile, iface: dict[str, Any]) -> None:
        from vnetlab.topology.spec import BondOptions

        known = set(BondOptions.model_fields)
        mode = profile.get("bond.mode") or "balance-rr"      # the driver's default (BD1)
        options: dict[str, Any] = {}
        for key in sorted(k for k in profile.props if k.startswith("bond.") and k != "bond.mode"):
            option = key[len("bond."):]
            value = profile.get(key)
            if value is None:
                continue
            if option not in known:
                self.note(profile, key, f"{option}={value}",
                          "bonding option not modelled by vnetlab")
                continue
            number = to_int(value)
            options[option] = number if number is not None else value
        iface["link-aggregation"] = {"mode": mode, **({"options": options} if options else {}),
                                     "port": []}

    def _team(self, profile: Profile, iface: dict[str, Any]) -> dict[str, dict[str, Any]]:
        team: dict[str, Any] = {}
        ports: dict[str, dict[str, Any]] = {}
        config = profile.get("team.config")
        if config:
            file, line = profile.where("team.config")
            parsed = parse_json(config, file, line, "team.config", self.notes)
            if parsed is not None:
                team, hwaddr, ports = team_config(parsed, file, line, self.notes)
                if hwaddr:
                    iface["mac-address"] = hwaddr
        # the split properties (NM >= 1.12; nmcli team.runner roundrobin) override
        runner = dict(team.get("runner", {}))
        for prop, key in (("team.runner", "name"), ("team.runner-hwaddr-policy", "hwaddr_policy"),
                          ("team.runner-active", "active"), ("team.runner-fast-rate", "fast_rate"),
                          ("team.runner-sys-prio", "sys_prio"),
                          ("team.runner-min-ports", "min_ports"),
                          ("team.runner-agg-select-policy", "agg_select_policy"),
                          ("team.runner-tx-hash", "tx_hash")):
            value = profile.get(prop)
            if value is None:
                continue
            if key in ("active", "fast_rate"):
                runner[key] = truthy(value)
            elif key in ("sys_prio", "min_ports"):
                runner[key] = to_int(value)
            elif key == "tx_hash":
                runner[key] = value.replace(",", " ").split()
            else:
                runner[key] = value.strip()
        if runner:
            team["runner"] = runner
        for prop, key in (("team.notify-peers-count", "count"),
                          ("team.notify-peers-interval", "interval")):
            value = profile.get(prop)
            if value is not None and to_int(value) is not None:
                team.setdefault("notify_peers", {})[key] = to_int(value)
        watchers = profile.get("team.link-watchers")
        if watchers:
            watch = _nm_link_watcher(watchers)
            if watch:
                team["link_watch"] = watch
        iface["team"] = {"ports": [], **team}
        return ports

    def _bridge(self, profile: Profile, iface: dict[str, Any]) -> None:
        stp_text = profile.get("bridge.stp")
        stp: dict[str, Any] = {"enabled": truthy(stp_text if stp_text is not None
                                                   else BRIDGE_DEFAULT_STP)}
        options: dict[str, Any] = {}
        for prop, key in (("bridge.forward-delay", "forward-delay"),
                          ("bridge.hello-time", "hello-time"), ("bridge.max-age", "max-age"),
                          ("bridge.priority", "priority")):
            value = profile.get(prop)
            if value is None:
                continue
            number = to_int(value)
            if number is None:
                self.note(profile, prop, f"{prop} {value}", "not a number")
                continue
            stp[key] = number
        ageing = profile.get("bridge.ageing-time")
        if ageing is not None:
            if to_int(ageing) is None:
                self.note(profile, "bridge.ageing-time", f"bridge.ageing-time {ageing}",
                          "not a number")
            else:
                options["mac-ageing-time"] = to_int(ageing)
        options["stp"] = stp
        filtering = truthy(profile.get("bridge.vlan-filtering"))
        if filtering is not None:
            options["vlan-filtering"] = filtering
        pvid = profile.get("bridge.vlan-default-pvid")
        if pvid is not None and to_int(pvid) is not None:
            options["vlan-default-pvid"] = to_int(pvid)
        vlans = profile.get("bridge.vlans")
        if vlans:
            options["vlans"] = [v.strip() for v in vlans.split(",") if v.strip()]
        snooping = truthy(profile.get("bridge.multicast-snooping"))
        if snooping is not None:
            options["multicast-snooping"] = snooping
        protocol = profile.get("bridge.vlan-protocol")
        if protocol:
            options["vlan-protocol"] = protocol.strip().lower()
        mask = profile.get("bridge.group-forward-mask")
        if mask is not None and to_int(mask) is not None:
            options["group-forward-mask"] = to_int(mask)
        iface["bridge"] = {"options": options, "port": []}

    def _bridge_port(self, profile: Profile, name: str, filtering: bool | None
                     ) -> dict[str, Any]:
        port: dict[str, Any] = {"name": name}
        hairpin = truthy(profile.get("bridge-port.hairpin-mode"))
        if hairpin:
            port["hairpin"] = True
        for prop, key in (("bridge-port.priority", "stp-priority"),
                          ("bridge-port.path-cost", "stp-path-cost")):
            value = profile.get(prop)
            if value is not None and to_int(value) is not None:
                port[key] = to_int(value)
        vlans = profile.get("bridge-port.vlans")
        if vlans:
            if filtering is False:
                self.note(profile, "bridge-port.vlans", f"bridge-port.vlans {vlans}",
                          "the bridge has vlan-filtering off: the kernel ignores port VLANs")
            else:
                vlan = self._port_vlans(profile, vlans)
                if vlan is not None:
                    port["vlan"] = vlan
        return port

    def _port_vlans(self, profile: Profile, text: str) -> dict[str, Any] | None:
        """NM's ``bridge-port.vlans`` list -> nmstate's port ``vlan:`` (nmstate writes
        the reverse: an access tag is ``TAG pvid untagged``, a trunk's tags plain VIDs,
        its native VLAN ``TAG pvid untagged``)."""
        native: int | None = None
        tagged: list[dict[str, Any]] = []
        for entry in (e.strip() for e in text.split(",") if e.strip()):
            words = entry.split()
            first, _, last = words[0].partition("-")
            flags = set(words[1:])
            start, end = to_int(first), to_int(last) if last else to_int(first)
            if start is None or end is None or not flags <= {"pvid", "untagged"}:
                self.note(profile, "bridge-port.vlans", f"bridge-port.vlans {entry}",
                          "not a bridge VLAN ('VID[-VID] [pvid] [untagged]')")
                continue
            if flags == {"pvid", "untagged"} and start == end:
                native = start
            elif not flags:
                tagged.append({"id": start} if start == end else
                              {"id-range": {"min": start, "max": end}})
            else:
                self.note(profile, "bridge-port.vlans", f"bridge-port.vlans {entry}",
                          "a VLAN that is only pvid or only untagged has no nmstate form; "
                          "not imported")
        if native is not None and not tagged:
            return {"mode": "access", "tag": native}
        if tagged:
            vlan: dict[str, Any] = {"mode": "trunk", "trunk-tags": tagged}
            if native is not None:
                vlan.update({"tag": native, "enable-native": True})
            return vlan
        return None

    def _ovs_vlan(self, profile: Profile) -> dict[str, Any] | None:
        tag = profile.get("ovs-port.tag")
        mode = profile.get("ovs-port.vlan-mode")
        trunks = profile.get("ovs-port.trunks")
        vlan: dict[str, Any] = {}
        if mode:
            vlan["mode"] = mode.strip()
        if tag is not None and to_int(tag) is not None:
            vlan["tag"] = to_int(tag)
        tags: list[dict[str, Any]] = []
        for part in (trunks or "").replace(",", " ").split():
            first, _, last = part.partition("-")
            if to_int(first) is None or (last and to_int(last) is None):
                self.note(profile, "ovs-port.trunks", f"ovs-port.trunks {part}", "not a VLAN")
                continue
            tags.append({"id": to_int(first)} if not last else
                        {"id-range": {"min": to_int(first), "max": to_int(last)}})
        if tags:
            vlan["trunk-tags"] = tags
        return vlan or None

    # -- everything -------------------------------------------------------------------

    def build(self) -> list[dict[str, Any]]:
        named = self._by_key()
        controllers = self._controllers(named)
        ifaces: dict[str, dict[str, Any]] = {}
        team_ports: dict[str, dict[str, dict[str, Any]]] = {}
        for key, profile in named.items():
            kind, name = profile.type, _name(key)
            if kind == "ovs-port":
                continue
            iface: dict[str, Any] = {"name": name, "type": _SPEC_TYPE[kind]}
            if kind == "ethernet":
                self._mac(profile, iface, "ethernet.cloned-mac-address", "ethernet.mac-address")
            elif kind == "bridge":
                self._mac(profile, iface, "bridge.mac-address", "ethernet.cloned-mac-address")
            else:
                self._mac(profile, iface, "ethernet.cloned-mac-address")
            self._mtu(profile, iface)
            if kind == "bond":
                self._bond(profile, iface)
            elif kind == "team":
                team_ports[key] = self._team(profile, iface)
            elif kind == "bridge":
                self._bridge(profile, iface)
            elif kind in ("vlan", "ovs-interface") and not self._typed(kind, profile, iface, named):
                continue
            # a profile with a controller is a port even when the controller was not
            # imported: NetworkManager gives ports no IP configuration
            self._ipv4(profile, iface, key in controllers or any(
                profile.props.get(k) is not None and profile.props[k].value
                for k in ("connection.controller", "connection.master")))
            ifaces[key] = iface
        self._enslave(named, controllers, ifaces, team_ports)
        self._unused()
        order = {"ethernet": 0, "bond": 1, "team": 1, "vlan": 2, "linux-bridge": 3,
                 "ovs-interface": 4, "ovs-bridge": 5}
        return sorted(ifaces.values(), key=lambda i: order.get(i["type"], 9))

    def _typed(self, kind: str, profile: Profile, iface: dict[str, Any],
               named: dict[str, Profile]) -> bool:
        return self._vlan(profile, iface, named) if kind == "vlan" else \
            self._ovs_interface(profile, iface)

    def _vlan(self, profile: Profile, iface: dict[str, Any], named: dict[str, Profile]) -> bool:
        parent = profile.get("vlan.parent")
        vid = to_int(profile.get("vlan.id") or "")
        protocol = profile.get("vlan.protocol")
        if protocol and protocol.lower() != "802.1q":
            self.note(profile, "vlan.protocol", f"vlan.protocol {protocol}",
                      "only 802.1Q VLANs are modelled; interface skipped")
            return False
        if not parent or vid is None:
            self.note(profile, "vlan.id", f"vlan {iface['name']}",
                      "needs vlan.parent and vlan.id; skipped")
            return False
        base = _find(named, parent, None)
        iface["vlan"] = {"base-iface": _name(base) if base is not None else parent, "id": vid}
        return True

    def _ovs_interface(self, profile: Profile, iface: dict[str, Any]) -> bool:
        kind = (profile.get("ovs-interface.type") or "internal").strip()
        if kind == "patch":
            peer = profile.get("ovs-patch.peer")
            if not peer:
                self.note(profile, "ovs-interface.type", "ovs-interface.type patch",
                          "a patch interface without ovs-patch.peer; skipped")
                return False
            iface["patch"] = {"peer": peer}
        elif kind not in ("internal", ""):
            self.note(profile, "ovs-interface.type", f"ovs-interface.type {kind}",
                      "only internal and patch OVS interfaces are modelled; skipped")
            return False
        return True

    def _enslave(self, named: dict[str, Profile], controllers: dict[str, tuple[str, str]],
                 ifaces: dict[str, dict[str, Any]],
                 team_ports: dict[str, dict[str, dict[str, Any]]]) -> None:
        for key, (controller, kind) in controllers.items():
            profile, name = named[key], _name(key)
            target = ifaces.get(controller)
            if kind == "ovs-bridge":
                if target is not None and named[key].type == "ovs-port":
                    self._ovs_port(key, named, controllers, ifaces, target)
                continue
            if target is None or key not in ifaces or kind == "ovs-port":
                continue
            if kind == "bridge":
                filtering = target["bridge"]["options"].get("vlan-filtering")
                target["bridge"]["port"].append(self._bridge_port(profile, name, filtering))
            elif kind == "bond":
                target["link-aggregation"]["port"].append(name)
                for prop in ("bond-port.prio", "bond-port.queue-id"):
                    value = profile.get(prop)
                    if value is not None:
                        self.note(profile, prop, f"{prop} {value}", "not modelled by vnetlab")
            elif kind == "team":
                target["team"]["ports"].append(self._team_port(
                    profile, name, team_ports.get(controller, {})))
        # ports named only in teamd's own "ports" section: teamd adds them itself
        for team, ports in team_ports.items():
            if team not in ifaces:
                continue
            listed = {p["name"] for p in ifaces[team]["team"]["ports"]}
            for name, port in ports.items():
                if name not in listed:
                    ifaces.setdefault(f"netdev/{name}", {"name": name, "type": "ethernet"})
                    ifaces[team]["team"]["ports"].append(port)
        for iface in ifaces.values():
            if iface["type"] == "bond" and not iface["link-aggregation"]["port"]:
                del iface["link-aggregation"]["port"]
            if iface["type"] == "team" and not iface["team"]["ports"]:
                del iface["team"]["ports"]

    def _team_port(self, profile: Profile, name: str, from_team: dict[str, dict[str, Any]]
                   ) -> dict[str, Any]:
        port = dict(from_team.get(name, {"name": name}))
        config = profile.get("team-port.config")
        if config:
            file, line = profile.where("team-port.config")
            parsed = parse_json(config, file, line, "team-port.config", self.notes)
            if parsed is not None:
                port.update(port_config(parsed, name, file, line, self.notes))
        for prop, key in (("team-port.prio", "prio"), ("team-port.sticky", "sticky"),
                          ("team-port.lacp-prio", "lacp_prio"), ("team-port.lacp-key", "lacp_key")):
            value = profile.get(prop)
            if value is not None:
                port[key] = truthy(value) if key == "sticky" else to_int(value)
        return port

    def _ovs_port(self, key: str, named: dict[str, Profile],
                  controllers: dict[str, tuple[str, str]], ifaces: dict[str, dict[str, Any]],
                  bridge: dict[str, Any]) -> None:
        """An ovs-port under ``bridge``: its interfaces become the bridge's ports."""
        port_profile = named[key]
        members = [k for k, (c, kind) in controllers.items() if c == key and kind == "ovs-port"]
        if len(members) > 1:
            self.note(port_profile, "connection.interface-name", f"ovs-port {_name(key)}",
                      f"an OVS bond of {', '.join(_name(m) for m in members)} is not modelled; "
                      "each interface is imported as its own port")
        vlan = self._ovs_vlan(port_profile)
        for member in members:
            if _name(member) == bridge["name"]:
                local = ifaces.pop(member, None)      # the LOCAL port: the bridge itself
                if local is not None and "ipv4" in local:
                    self.note(named[member], "ipv4.method", f"ipv4 of {bridge['name']}",
                              "an address on the bridge's LOCAL port is not modelled")
                continue
            if member not in ifaces:
                continue
            entry: dict[str, Any] = {"name": _name(member)}
            if vlan:
                entry["vlan"] = vlan
            bridge["bridge"]["port"].append(entry)

    def _unused(self) -> None:
        for profile in {id(p): p for p in self.profiles}.values():
            for key, prop in profile.props.items():
                if key in profile.used or key in SILENT:
                    continue
                setting = key.partition(".")[0]
                if setting in SILENT_SETTINGS:
                    continue
                self.notes.append(Unparsed(prop.file, prop.line, f"{key} {prop.value}".strip(),
                                           "not modelled by vnetlab"))


_PORT_TYPE = {"bridge": "bridge", "bond": "bond", "team": "team", "ovs-bridge": "ovs-bridge",
              "ovs-port": "ovs-port"}
_SPEC_TYPE = {"ethernet": "ethernet", "bridge": "linux-bridge", "bond": "bond", "team": "team",
              "vlan": "vlan", "ovs-bridge": "ovs-bridge", "ovs-interface": "ovs-interface"}


def _group(kind: str) -> str:
    return kind if kind in ("ovs-bridge", "ovs-port") else "netdev"


def _name(key: str) -> str:
    return key.partition("/")[2]


def _find(named: dict[str, Profile], value: str, port_type: str | None) -> str | None:
    """The profile a controller/parent value names: by UUID, else interface name, else
    id (``normalized_controller_for_port``); of the port type's kind when given."""
    candidates = [(k, p) for k, p in named.items()
                  if port_type is None or _PORT_TYPE.get(p.type) == port_type]
    for match in (lambda k, p: p.uuid == value, lambda k, p: _name(k) == value,
                  lambda k, p: p.id == value):
        found = [k for k, p in candidates if match(k, p)]
        if found:
            return found[0]
    return None


def _nm_link_watcher(text: str) -> dict[str, Any] | None:
    """``team.link-watchers "name=arp_ping interval=100 target-host=..."`` (the first)."""
    first = text.split(",")[0].split()
    watch: dict[str, Any] = {}
    for word in first:
        key, _, value = word.partition("=")
        key = key.replace("-", "_")
        number = to_int(value)
        watch[key] = number if number is not None else (
            truthy(value) if truthy(value) is not None and key.startswith(("validate", "send"))
            else value)
    return watch or None


def build(profiles: list[Profile]) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                            list[Unparsed]]:
    """The interfaces of one host, its routes, and what was not interpreted."""
    for profile in profiles:
        profile.used.clear()
    builder = Builder(profiles)
    interfaces = builder.build()
    return interfaces, builder.routes, builder.notes
