"""RHEL ifcfg files (``/etc/sysconfig/network-scripts/ifcfg-*``).

Shell-style ``KEY=value`` lines with shell quoting, split with ``shlex`` (POSIX rules:
``'...'`` literal, ``"..."`` with backslash escapes), as initscripts source them and as
NetworkManager's ifcfg-rh plugin writes them (``svEscape``: double quotes with
backslashes, e.g. ``TEAM_CONFIG="{\\"runner\\": ...}"``) or as operators write them
(single quotes around JSON). Mirrors ``nms-ifcfg-rh-reader.c``:

* the type: ``DEVICETYPE=Team|TeamPort`` first, then ``TEAM_CONFIG`` present means a
  team, then ``TYPE`` (Ethernet, Bridge, Bond, Vlan, ...), then ``BONDING_MASTER=yes``
  or ``VLAN=yes``; an Ethernet with ``BONDING_OPTS`` is a bond (initscripts' rule);
  ``DEVICE`` defaults to the file name's suffix;
* ``STP`` missing or invalid means off (``make_bridge_setting``: "Missing or invalid
  STP property means 'no'"), unlike a keyfile where NM's default (on) applies;
  ``DELAY`` (forward delay, seconds) and ``BRIDGING_OPTS`` ``priority``, ``hello_time``,
  ``max_age`` only count with STP on (``handle_bridge_option``'s ``only_with_stp``);
* ``BRIDGE``/``BRIDGE_UUID``, ``MASTER``/``MASTER_UUID`` (+ ``SLAVE=yes``),
  ``TEAM_MASTER``/``TEAM_MASTER_UUID`` name the controller; ``BONDING_OPTS`` is
  space-separated ``key=value`` (``make_bond_setting``);
* a VLAN's parent is ``PHYSDEV``, else ``DEVICE``'s part before the dot; its id
  ``VLAN_ID``, else the part after the dot (``make_vlan_setting``);
* ``HWADDR`` is the NIC's permanent MAC, ``MACADDR`` the one set on it;
  ``BOOTPROTO=dhcp`` is DHCP, ``none``/``static`` with ``IPADDR``/``PREFIX`` or
  ``NETMASK`` a static address (``IPADDR0``... ``IPADDRn`` too).

Open vSwitch's own ifcfg flavour (``DEVICETYPE=ovs``, ``TYPE=OVSBridge|OVSPort|
OVSIntPort``, ``OVS_BRIDGE``, ``OVS_OPTIONS="tag=N"``) is read for bridges, ports and
internal ports. An unterminated quote is an error (the shell would refuse the file).
"""

from __future__ import annotations

import os
import re
import shlex

from vnetlab.importers.base import ImportFailure, Unparsed, read_text
from vnetlab.importers.nmprofile import Profile

_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")

# keys with no effect on what vnetlab models
_SILENT = {"NAME", "UUID", "DEFROUTE", "IPV4_FAILURE_FATAL", "PROXY_METHOD", "BROWSER_ONLY",
           "NM_CONTROLLED", "USERCTL", "PEERDNS", "PEERROUTES", "ZONE", "BONDING_MASTER",
           "DEVICETYPE", "SLAVE", "DNS1", "DNS2", "DNS3", "DOMAIN", "AUTOCONNECT_PRIORITY",
           "AUTOCONNECT_SLAVES", "AUTOCONNECT_PORTS", "IPV4_DHCP_TIMEOUT", "DHCP_CLIENT_ID",
           "DHCP_HOSTNAME", "ETHTOOL_OPTS", "LLDP", "REORDER_HDR", "GVRP", "MVRP",
           "VLAN_FLAGS", "NETWORKING", "HOTPLUG", "ARPCHECK", "LINKDELAY", "PERSISTENT_DHCLIENT",
           "IPV4_ROUTE_METRIC", "METRIC", "DHCP_SEND_HOSTNAME", "IPV6_PRIVACY", "TYPE", "DEVICE",
           "ONBOOT", "VLAN", "STP", "DELAY", "BRIDGING_OPTS", "BRIDGE", "BRIDGE_UUID", "MASTER",
           "MASTER_UUID", "TEAM_MASTER", "TEAM_MASTER_UUID", "TEAM_CONFIG", "TEAM_PORT_CONFIG",
           "BONDING_OPTS", "PHYSDEV", "VLAN_ID", "BOOTPROTO", "HWADDR", "MACADDR", "MTU",
           "GATEWAY", "OVS_BRIDGE", "OVS_OPTIONS", "OVS_EXTRA", "OVS_PATCH_PEER",
           "BRIDGE_MACADDR", "BRIDGE_VLANS", "BRIDGE_PORT_VLANS", "VLAN_PROTOCOL",
           "BOND_PORT_QUEUE_ID", "BOND_PORT_PRIO"}

_TYPES = {"ethernet": "ethernet", "bridge": "bridge", "bond": "bond", "vlan": "vlan",
          "team": "team", "ovsbridge": "ovs-bridge", "ovsintport": "ovs-interface",
          "ovsport": "ethernet", "ovspatchport": "ovs-interface"}

_BRIDGE_OPTS = {"priority": "bridge.priority", "hello_time": "bridge.hello-time",
                "max_age": "bridge.max-age", "ageing_time": "bridge.ageing-time",
                "multicast_snooping": "bridge.multicast-snooping",
                "group_fwd_mask": "bridge.group-forward-mask",
                "vlan_filtering": "bridge.vlan-filtering", "default_pvid": "bridge.vlan-default-pvid"}
_PORT_OPTS = {"priority": "bridge-port.priority", "path_cost": "bridge-port.path-cost",
              "hairpin_mode": "bridge-port.hairpin-mode"}
_STP_ONLY = {"priority", "hello_time", "max_age"}


def assignments(text: str, file: str) -> dict[str, tuple[str, int]]:
    """KEY -> (value, line); the last assignment wins, as when the shell sources it."""
    values: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ASSIGN.match(line)
        if match is None:
            raise ImportFailure(file, number, stripped[:40], "not a KEY=value line of an "
                                "ifcfg file")
        key, rest = match.group(1), match.group(2)
        try:
            words = shlex.split(rest, comments=True, posix=True)
        except ValueError as exc:
            raise ImportFailure(file, number, key, f"{exc} (an unterminated quote: the shell "
                                "would refuse this file)") from None
        values[key] = (" ".join(words), number)
    return values


def parse(text: str, file: str) -> tuple[Profile, list[Unparsed]]:
    values = assignments(text, file)
    notes: list[Unparsed] = []
    profile = Profile(file, 1, "ifcfg")

    def get(key: str) -> str | None:
        return values[key][0] if key in values and values[key][0] != "" else None

    def line(key: str) -> int:
        return values[key][1] if key in values else 1

    def put(prop: str, key: str, value: str | None = None) -> None:
        text_value = value if value is not None else get(key)
        if text_value is not None:
            profile.set(prop, text_value, file, line(key))

    device = get("DEVICE") or _suffix(file)
    kind = _kind(values, device)
    if kind is None:
        raw = get("TYPE") or get("DEVICETYPE") or "(none)"
        profile.set("connection.type", raw, file, line("TYPE"))
    else:
        profile.set("connection.type", kind, file, line("TYPE"))
    profile.set("connection.interface-name", device, file, line("DEVICE"))
    put("connection.id", "NAME")
    put("connection.uuid", "UUID")
    if (get("ONBOOT") or "yes").lower() in ("no", "false"):
        notes.append(Unparsed(file, line("ONBOOT"), "ONBOOT=no", "the profile is not "
                              "activated at boot; imported as if it were up"))
    for key, setting in (("BRIDGE_UUID", "bridge"), ("BRIDGE", "bridge"),
                         ("TEAM_MASTER_UUID", "team"), ("TEAM_MASTER", "team"),
                         ("MASTER_UUID", "bond"), ("MASTER", "bond")):
        if get(key) and "connection.controller" not in profile.props:
            put("connection.controller", key)
            profile.set("connection.port-type", setting, file, line(key))
    if get("OVS_BRIDGE") and kind != "ovs-bridge":
        put("connection.controller", "OVS_BRIDGE")
        profile.set("connection.port-type", "ovs-port", file, line("OVS_BRIDGE"))
    if kind == "bridge":
        _bridge(values, profile, notes, file)
    elif kind == "bond":
        opts = get("BONDING_OPTS") or ""
        for item in opts.split():
            option, _, value = item.partition("=")
            if option and value:
                profile.set(f"bond.{option}", value, file, line("BONDING_OPTS"))
    elif kind == "team":
        put("team.config", "TEAM_CONFIG")
    elif kind == "vlan":
        parent = get("PHYSDEV") or (device.partition(".")[0] if "." in device else None)
        vid = get("VLAN_ID") or (device.rpartition(".")[2] if "." in device else
                                 device[4:] if device.startswith("vlan") else None)
        if parent:
            profile.set("vlan.parent", parent, file, line("PHYSDEV") if get("PHYSDEV")
                        else line("DEVICE"))
        if vid:
            profile.set("vlan.id", vid, file, line("VLAN_ID") if get("VLAN_ID")
                        else line("DEVICE"))
        put("vlan.protocol", "VLAN_PROTOCOL")
    elif kind == "ovs-interface" and get("OVS_PATCH_PEER"):
        profile.set("ovs-interface.type", "patch", file, line("TYPE"))
        put("ovs-patch.peer", "OVS_PATCH_PEER")
    if get("TEAM_MASTER") or get("TEAM_MASTER_UUID"):
        put("team-port.config", "TEAM_PORT_CONFIG")
    if get("BRIDGE") or get("BRIDGE_UUID"):
        _bridge_port(values, profile, file)
    if get("OVS_BRIDGE") and get("OVS_OPTIONS"):
        _ovs_options(values, profile, notes, file)
    put("ethernet.mac-address", "HWADDR")
    put("ethernet.cloned-mac-address", "MACADDR")
    put("ethernet.mtu", "MTU")
    _ipv4(values, profile, notes, file)
    for key, (value, number) in values.items():
        if key in _SILENT or re.fullmatch(r"(IPADDR|PREFIX|NETMASK|GATEWAY)\d*", key) \
                or key.startswith(("IPV6", "DHCPV6", "DNS", "NM_", "ACD_", "IPV4_DNS")):
            continue
        notes.append(Unparsed(file, number, f"{key}={value}", "not modelled by vnetlab"))
    return profile, notes


def _suffix(file: str) -> str:
    base = os.path.basename(file)
    return base[len("ifcfg-"):] if base.startswith("ifcfg-") else base


def _kind(values: dict[str, tuple[str, int]], device: str) -> str | None:
    """The connection type, in ``connection_from_file_full``'s order."""
    def get(key: str) -> str:
        return values[key][0] if key in values else ""

    devtype = get("DEVICETYPE").lower()
    if devtype == "team":
        return "team"
    if devtype == "ovs" and get("TYPE"):
        return _TYPES.get(get("TYPE").lower())
    if get("TEAM_CONFIG") and devtype != "teamport":
        return "team"
    kind = get("TYPE").lower()
    if kind == "ethernet" and get("BONDING_OPTS"):
        return "bond"                                   # initscripts' rule
    if kind:
        return _TYPES.get(kind)
    if get("BONDING_MASTER").lower() in ("yes", "true", "1"):
        return "bond"
    if get("VLAN").lower() in ("yes", "true", "1"):
        return "vlan"
    return "ethernet"


def _bridge(values: dict[str, tuple[str, int]], profile: Profile, notes: list[Unparsed],
            file: str) -> None:
    stp_text, stp_line = values.get("STP", ("", 1))
    stp = stp_text.lower() in ("on", "yes")
    if stp_text and stp_text.lower() not in ("on", "yes", "off", "no"):
        notes.append(Unparsed(file, stp_line, f"STP={stp_text}", "invalid STP value: "
                              "NetworkManager reads it as off"))
    profile.set("bridge.stp", "true" if stp else "false", file, stp_line)
    if "DELAY" in values:
        value, number = values["DELAY"]
        if stp:
            profile.set("bridge.forward-delay", value, file, number)
        else:
            notes.append(Unparsed(file, number, f"DELAY={value}", "only applies with STP on "
                                  "(NetworkManager ignores it)"))
    if "BRIDGE_MACADDR" in values:
        profile.set("bridge.mac-address", values["BRIDGE_MACADDR"][0], file,
                    values["BRIDGE_MACADDR"][1])
    if "BRIDGE_VLANS" in values:
        profile.set("bridge.vlans", values["BRIDGE_VLANS"][0], file, values["BRIDGE_VLANS"][1])
    if "BRIDGING_OPTS" in values:
        text, number = values["BRIDGING_OPTS"]
        for item in text.split():
            key, _, value = item.partition("=")
            prop = _BRIDGE_OPTS.get(key)
            if prop is None:
                notes.append(Unparsed(file, number, f"BRIDGING_OPTS {item}",
                                      "bridge option not modelled by vnetlab"))
            elif key in _STP_ONLY and not stp:
                notes.append(Unparsed(file, number, f"BRIDGING_OPTS {item}",
                                      "only applies with STP on (NetworkManager ignores it)"))
            else:
                profile.set(prop, value, file, number)


def _bridge_port(values: dict[str, tuple[str, int]], profile: Profile, file: str) -> None:
    if "BRIDGING_OPTS" in values:
        text, number = values["BRIDGING_OPTS"]
        for item in text.split():
            key, _, value = item.partition("=")
            prop = _PORT_OPTS.get(key)
            if prop is not None:
                profile.set(prop, "true" if key == "hairpin_mode" and value == "1" else value,
                            file, number)
            else:
                profile.set(f"bridge-port.{key}", value, file, number)
    if "BRIDGE_PORT_VLANS" in values:
        profile.set("bridge-port.vlans", values["BRIDGE_PORT_VLANS"][0], file,
                    values["BRIDGE_PORT_VLANS"][1])


def _ovs_options(values: dict[str, tuple[str, int]], profile: Profile, notes: list[Unparsed],
                 file: str) -> None:
    text, number = values["OVS_OPTIONS"]
    for item in text.split():
        key, _, value = item.partition("=")
        if key == "tag":
            profile.set("ovs-port.tag", value, file, number)
        elif key == "vlan_mode":
            profile.set("ovs-port.vlan-mode", value, file, number)
        elif key == "trunks":
            profile.set("ovs-port.trunks", value, file, number)
        else:
            notes.append(Unparsed(file, number, f"OVS_OPTIONS {item}", "not modelled by vnetlab"))


def _ipv4(values: dict[str, tuple[str, int]], profile: Profile, notes: list[Unparsed],
          file: str) -> None:
    from vnetlab.net.addr import parse_ip4

    proto, proto_line = values.get("BOOTPROTO", ("none", 1))
    proto = proto.lower()
    addresses: list[str] = []
    first_line = 0
    for suffix in ("", *map(str, range(0, 256))):
        if f"IPADDR{suffix}" not in values:
            continue
        address, number = values[f"IPADDR{suffix}"]
        first_line = first_line or number
        prefix = values.get(f"PREFIX{suffix}", ("", 0))[0]
        if not prefix and f"NETMASK{suffix}" in values:
            try:
                mask = parse_ip4(values[f"NETMASK{suffix}"][0])
                prefix = str(bin(mask).count("1"))
            except ValueError:
                notes.append(Unparsed(file, values[f"NETMASK{suffix}"][1],
                                      f"NETMASK{suffix}={values[f'NETMASK{suffix}'][0]}",
                                      "not a netmask"))
                continue
        addresses.append(f"{address}/{prefix or 32}")
    if proto in ("dhcp", "bootp"):
        profile.set("ipv4.method", "auto", file, proto_line)
    elif addresses:
        profile.set("ipv4.method", "manual", file, proto_line)
    if addresses:
        profile.set("ipv4.addresses", ", ".join(addresses), file, first_line)
    for key in ("GATEWAY", "GATEWAY0"):
        if key in values and values[key][0]:
            profile.set("ipv4.gateway", values[key][0], file, values[key][1])
            break


def read(path: str) -> tuple[Profile, list[Unparsed]]:
    return parse(read_text(path), path)
