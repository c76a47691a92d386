"""Reference checks on a typed spec: every name resolves, nothing is claimed twice.

These run after type validation and before the build, so the build never
meets a dangling name. Each problem is a SpecError at the key that holds the
bad reference.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from ruamel.yaml.scalarstring import LiteralScalarString

from vnetlab.devices.bond import BondMode
from vnetlab.devices.netfilter import build_ruleset
from vnetlab.errors import SpecError
from vnetlab.net.addr import ip4_str, mac_str, netmask, parse_ip4_prefix
from vnetlab.topology.spec import (
    ActionSpec,
    BondInterface,
    HostSpec,
    LinuxBridgeInterface,
    OvsBridgeInterface,
    OvsInterface,
    TeamInterface,
    TopologySpec,
    VlanConfig,
    VlanInterface,
)

if TYPE_CHECKING:
    from vnetlab.topology.load import Locator

NOT_MODELLED = ("ipv6", "lldp", "ethtool", "accept_all_mac_addresses")

Path = tuple[Any, ...]


def tap_names(spec: TopologySpec) -> dict[tuple[str, int], str]:
    """Host-side tap name of each VM NIC: ``target`` or libvirt's lowest free vnetN (V2)."""
    used: dict[str, set[str]] = defaultdict(set)
    for vm in spec.vms.values():
        for nic in vm.interfaces:
            if nic.target:
                used[vm.host].add(nic.target)
    names: dict[tuple[str, int], str] = {}
    for vm_name, vm in spec.vms.items():
        for index, nic in enumerate(vm.interfaces):
            if nic.target:
                names[(vm_name, index)] = nic.target
                continue
            n = 0
            while f"vnet{n}" in used[vm.host]:
                n += 1
            used[vm.host].add(f"vnet{n}")
            names[(vm_name, index)] = f"vnet{n}"
    return names


def check_references(spec: TopologySpec, loc: Locator, tainted: frozenset[str] | set[str] =
                     frozenset()) -> tuple[list[SpecError], list[str]]:
    """Reference problems in ``spec``. ``tainted`` names nodes left out of it
    because they failed type validation: references to them are not reported."""
    errors: list[SpecError] = []
    notes: list[str] = []

    def err(path: Path, message: str) -> None:
        errors.append(loc.error(path, message))

    # -- node names are one namespace --------------------------------------------
    owner: dict[str, str] = {}
    for section in ("hosts", "vms", "switches", "routers"):
        for name in getattr(spec, section):
            if name in owner:
                err((section, name), f"name '{name}' is already used in {owner[name]}")
            else:
                owner[name] = section
            if ":" in name or "/" in name:
                err((section, name), f"name '{name}' may not contain ':' or '/'")

    taps = tap_names(spec)
    mac_users: dict[int, list[tuple[Path, str]]] = {}
    uppers: set[frozenset[str]] = set()       # (upper, lower) pairs that share a MAC legally
    ips: dict[int, str] = {}

    def claim_mac(mac: int | None, path: Path, what: str) -> None:
        """Duplicates are legal (the kernel does not check): a warning, not an error."""
        if mac is not None:
            mac_users.setdefault(mac, []).append((path, what))

    def claim_ip(ip: int, path: Path, what: str) -> None:
        if ip in ips:
            err(path, f"IPv4 address {ip4_str(ip)} is also used by {ips[ip]}")
        else:
            ips[ip] = what

    # -- hosts ---------------------------------------------------------------------
    host_ifaces: dict[str, dict[str, Any]] = {}
    for host_name, host in spec.hosts.items():
        base: Path = ("hosts", host_name, "interfaces")
        by_name: dict[str, Any] = {}
        for i, iface in enumerate(host.interfaces):
            if iface.name in by_name:
                err((*base, i, "name"), f"interface '{iface.name}' is defined twice on "
                    f"{host_name}")
            by_name[iface.name] = iface
            claim_mac(iface.mac_address, (*base, i, "mac-address"), f"{host_name}:{iface.name}")
            if iface.ipv4 is not None and iface.ipv4.enabled:
                for j, addr in enumerate(iface.ipv4.address):
                    claim_ip(addr.ip, (*base, i, "ipv4", "address", j, "ip"),
                             f"{host_name}:{iface.name}")
            for key in NOT_MODELLED:
                if getattr(iface, key) is not None:
                    notes.append(f"{loc.render((*base, i, key))}: accepted, not modelled")
            lowers = ([p.name for p in iface.bridge.port] if isinstance(iface, LinuxBridgeInterface)
                      else [p.name for p in iface.team.ports] if isinstance(iface, TeamInterface)
                      else list(iface.link_aggregation.port) if isinstance(iface, BondInterface)
                      else [iface.vlan.base_iface] if isinstance(iface, VlanInterface) else [])
            uppers.update(frozenset((f"{host_name}:{iface.name}", f"{host_name}:{lower}"))
                          for lower in lowers)
        host_ifaces[host_name] = by_name
        check_firewall(host_name, host, loc, errors, notes)
        for (vm_name, index), tap in taps.items():
            if spec.vms[vm_name].host == host_name and tap in by_name:
                err(("vms", vm_name, "interfaces", index, "target"),
                    f"tap '{tap}' clashes with interface '{tap}' of host {host_name}")
        enslaved: dict[str, str] = {}

        def enslave(port: str, master: str, path: Path, host: str = host_name,
                    names: dict[str, Any] = by_name, claimed: dict[str, str] = enslaved) -> None:
            if port not in names:
                err(path, f"port '{port}' is not an interface of {host}")
                return
            if port == master:
                err(path, f"'{master}' cannot be a port of itself")
                return
            if port in claimed:
                err(path, f"interface '{port}' is already a port of '{claimed[port]}'")
                return
            claimed[port] = master
            if isinstance(names[port], LinuxBridgeInterface):
                err(path, f"a bridge cannot be a port of '{master}' (br_add_if: -ELOOP)")

        for i, iface in enumerate(host.interfaces):
            if isinstance(iface, TeamInterface):
                for j, port in enumerate(iface.team.ports):
                    enslave(port.name, iface.name, (*base, i, "team", "ports", j, "name"))
            elif isinstance(iface, BondInterface):
                bond_cfg = iface.link_aggregation
                for j, port_name in enumerate(bond_cfg.port):
                    enslave(port_name, iface.name, (*base, i, "link-aggregation", "port", j))
                opts = bond_cfg.options
                at = (*base, i, "link-aggregation", "options")
                if opts.arp_interval and bond_cfg.mode in (
                        BondMode.LACP, BondMode.BALANCE_TLB, BondMode.BALANCE_ALB):
                    err((*at, "arp_interval"), f"ARP monitoring cannot be used with mode "
                        f"{bond_cfg.mode}: the driver refuses arp_interval there (use miimon)")
                elif opts.arp_interval and not opts.arp_ip_target:
                    err((*at, "arp_interval"), "arp_interval needs arp_ip_target (the addresses "
                        "the ARP monitor probes; without them every slave would go down)")
                if not opts.tlb_dynamic_lb and bond_cfg.mode is not BondMode.BALANCE_TLB:
                    err((*at, "tlb_dynamic_lb"), "tlb_dynamic_lb applies to mode balance-tlb only")
                primary = bond_cfg.options.primary
                if primary is not None and primary not in bond_cfg.port:
                    err((*base, i, "link-aggregation", "options", "primary"),
                        f"primary '{primary}' is not a port of bond {iface.name}")
                elif primary is not None and bond_cfg.mode not in (
                        BondMode.ACTIVE_BACKUP, BondMode.BALANCE_TLB, BondMode.BALANCE_ALB):
                    notes.append(f"{loc.render((*base, i, 'link-aggregation', 'options', 'primary'))}"
                                 f": primary has no effect in mode {bond_cfg.mode}")
            elif isinstance(iface, LinuxBridgeInterface):
                vm_taps = {t for (vm, k), t in taps.items() if spec.vms[vm].host == host_name
                           and spec.vms[vm].interfaces[k].source == iface.name}
                for j, bport in enumerate(iface.bridge.port):
                    if bport.name in vm_taps:
                        continue            # settings for a VM's tap, applied when it joins
                    enslave(bport.name, iface.name, (*base, i, "bridge", "port", j, "name"))
                options = iface.bridge.options
                if options.vlan_filtering is False:
                    for j, bport in enumerate(iface.bridge.port):
                        if bport.vlan is not None:
                            err((*base, i, "bridge", "port", j, "vlan"),
                                f"port VLANs need VLAN filtering, and {iface.name} has "
                                "'vlan-filtering: false'")
                    if options.vlans:
                        err((*base, i, "bridge", "options", "vlans"),
                            f"the bridge's own VLANs need 'vlan-filtering: true' on {iface.name}")
            elif isinstance(iface, VlanInterface):
                check_vlan_base(iface.vlan, iface.name, by_name, (*base, i, "vlan"), host_name,
                                err, notes, loc)
            elif isinstance(iface, OvsBridgeInterface):
                vm_taps = {t for (vm, k), t in taps.items() if spec.vms[vm].host == host_name
                           and spec.vms[vm].interfaces[k].source == iface.name}
                for j, oport in enumerate(iface.bridge.port):
                    at = (*base, i, "bridge", "port", j, "name")
                    if oport.name in vm_taps:
                        continue            # a VM's tap: added when the VM starts
                    if oport.name == iface.name:
                        err(at, f"'{iface.name}' is the bridge's own internal port (LOCAL), "
                            "which every OVS bridge has: do not list it")
                        continue
                    kind = by_name.get(oport.name)
                    if isinstance(kind, OvsBridgeInterface | LinuxBridgeInterface):
                        err(at, f"a bridge cannot be a port of OVS bridge '{iface.name}' here "
                            "(connect OVS bridges with a pair of patch ports)")
                        continue
                    enslave(oport.name, iface.name, at)
        check_ovs(spec, host_name, host, by_name, enslaved, taps, base, err, notes, loc)

    # -- VMs -------------------------------------------------------------------------
    for vm_name, vm in spec.vms.items():
        if vm.host not in spec.hosts:
            if vm.host not in tainted:
                err(("vms", vm_name, "host"), f"host '{vm.host}' is not defined under hosts:")
            continue
        host_taps: set[str] = set()
        for i, nic in enumerate(vm.interfaces):
            path: Path = ("vms", vm_name, "interfaces", i)
            target = host_ifaces[vm.host].get(nic.source)
            if nic.network is not None:                 # a Neutron port: os-vif plugs it
                check_neutron_port(spec, nic.network, path, err)
            elif not isinstance(target, LinuxBridgeInterface | OvsBridgeInterface):
                err((*path, "source"), f"'{nic.source}' is not a linux-bridge or ovs-bridge on "
                    f"{vm.host}")
            elif isinstance(target, LinuxBridgeInterface) and nic.virtualport is not None:
                err((*path, "virtualport"), f"'{nic.source}' is a Linux bridge: libvirt's "
                    "<virtualport type='openvswitch'/> runs ovs-vsctl add-port, which fails "
                    "(no OVS bridge of that name)")
            elif isinstance(target, LinuxBridgeInterface) and nic.vlan is not None:
                err((*path, "vlan"), "a <vlan> tag needs an Open vSwitch source (libvirt: vlan "
                    "tag not supported for this connection type); on a Linux bridge set the "
                    "tap's VLAN under the bridge's port: list")
            elif isinstance(target, OvsBridgeInterface) and nic.vlan is not None and any(
                    p.name == taps[(vm_name, i)] and p.vlan is not None
                    for p in target.bridge.port):
                err((*path, "vlan"), f"the VLAN of tap '{taps[(vm_name, i)]}' is also set under "
                    f"{nic.source}'s port: list; keep one")
            if nic.mac >> 40 == 0xFE and nic.tap_mac is None:
                err((*path, "mac"), "unsupported configuration: Unable to use MAC address "
                    f"starting with reserved value 0xFE - '{mac_str(nic.mac)}' - (libvirt "
                    "virNetDevTapCreateInBridgePort refuses to start the VM: the tap gets the "
                    "guest MAC with its first byte set to 0xFE, so it would equal the guest's "
                    "MAC; the bridge would hold it as a local entry and never forward to the "
                    "guest, V1, B4.4, B7.3)")
            if nic.mac >> 40 & 1:
                err((*path, "mac"), f"{mac_str(nic.mac)} is a multicast address")
            claim_mac(nic.mac, (*path, "mac"), f"{vm_name} NIC {i}")
            tap = taps[(vm_name, i)]
            if nic.tap_mac is not None:
                if nic.tap_mac >> 40 & 1 or nic.tap_mac == 0:
                    err((*path, "tap-mac"), f"{mac_str(nic.tap_mac)} is not a unicast address "
                        "(br_add_if refuses the tap)")
                claim_mac(nic.tap_mac, (*path, "tap-mac"), f"{vm.host}:{tap} (tap of {vm_name})")
            if tap in host_taps:
                err((*path, "target"), f"tap '{tap}' is used twice")
            host_taps.add(tap)
            if nic.ipv4 is not None and nic.ipv4.address:
                ip, _ = parse_ip4_prefix(nic.ipv4.address)
                claim_ip(ip, (*path, "ipv4", "address"), vm_name)
    all_taps: dict[tuple[str, str], str] = {}
    for (vm_name, index), tap in taps.items():
        vm_host = spec.vms[vm_name].host
        if (vm_host, tap) in all_taps:
            err(("vms", vm_name, "interfaces", index, "target"),
                f"tap '{tap}' on {vm_host} is also used by {all_taps[(vm_host, tap)]}")
        all_taps[(vm_host, tap)] = vm_name

    # -- switches and routers --------------------------------------------------------------
    for sw_name, sw in spec.switches.items():
        seen: set[str] = set()
        for i, port_name in enumerate(sw.ports):
            if port_name in seen:
                err(("switches", sw_name, "ports", i), f"port '{port_name}' is listed twice")
            seen.add(port_name)
        in_lag: dict[str, str] = {}
        for i, lag in enumerate(sw.lags):
            if lag.name in seen:
                err(("switches", sw_name, "lags", i, "name"),
                    f"LAG name '{lag.name}' clashes with a port")
            for j, member in enumerate(lag.ports):
                if member not in seen:
                    err(("switches", sw_name, "lags", i, "ports", j),
                        f"port '{member}' is not a port of {sw_name}")
                elif member in in_lag:
                    err(("switches", sw_name, "lags", i, "ports", j),
                        f"port '{member}' is already in LAG '{in_lag[member]}'")
                else:
                    in_lag[member] = lag.name
            lacp_keys = sorted(k for k in ("lacp_mode", "lacp_rate", "lacp_fallback",
                                           "system_priority") if k in lag.model_fields_set)
            if lag.mode == "static" and lacp_keys:
                err(("switches", sw_name, "lags", i, lacp_keys[0].replace("_", "-")),
                    f"'{lacp_keys[0].replace('_', '-')}' needs 'mode: lacp' (LAG '{lag.name}' "
                    "is static)")
        lag_modes = {lag.name: lag.mode for lag in sw.lags}
        for name in sw.port_config:
            path = ("switches", sw_name, "port-config", name)
            if name in in_lag and lag_modes.get(in_lag[name]) == "static":
                err(path, f"'{name}' is a member of static LAG '{in_lag[name]}': configure the "
                    "LAG instead")
            elif name not in seen and name not in lag_modes:
                err(path, f"'{name}' is neither a port nor a LAG of {sw_name}")
        check_svis(sw_name, sw, err, claim_ip, claim_mac)
    for r_name, router in spec.routers.items():
        seen = set()
        router_by_name = {riface.name: riface for riface in router.interfaces}
        for i, riface in enumerate(router.interfaces):
            if riface.name in seen:
                err(("routers", r_name, "interfaces", i, "name"),
                    f"interface '{riface.name}' is defined twice on {r_name}")
            seen.add(riface.name)
            if riface.vlan is not None:
                check_vlan_base(riface.vlan, riface.name, router_by_name,
                                ("routers", r_name, "interfaces", i, "vlan"), r_name, err,
                                notes, loc)
            claim_mac(riface.mac_address, ("routers", r_name, "interfaces", i, "mac-address"),
                      f"{r_name}:{riface.name}")
            if riface.ipv4 is not None:
                for addr in riface.ipv4.address:
                    claim_ip(addr.ip, ("routers", r_name, "interfaces", i, "ipv4"),
                             f"{r_name}:{riface.name}")
        connected = [(a.ip, a.prefix_length) for riface in router.interfaces
                     if riface.ipv4 is not None for a in riface.ipv4.address]
        for i, route in enumerate(router.routes.config if router.routes is not None else []):
            via = route.next_hop_address
            if not any((via ^ ip) & netmask(plen) == 0 for ip, plen in connected):
                err(("routers", r_name, "routes", "config", i, "next-hop-address"),
                    f"next hop {ip4_str(via)} is on no subnet of {r_name}'s interfaces "
                    "(Nexthop has invalid gateway)")

    # -- links -------------------------------------------------------------------------------
    linked: dict[str, int] = {}
    for i, link in enumerate(spec.links):
        for j, end in enumerate(link.endpoints):
            path = ("links", i, "endpoints", j)
            problem = endpoint_problem(spec, end, host_ifaces, cable=True)
            if problem and end.partition(":")[0] not in tainted:
                err(path, problem)
            elif end in linked:
                err(path, f"'{end}' is already cabled by links[{linked[end]}]")
            else:
                linked[end] = i

    # -- scenario references -------------------------------------------------------------------
    def touches_tainted(refs: list[str | None]) -> bool:
        return any(ref is not None and ref.partition(":")[0] in tainted for ref in refs)

    vm_at = {name: vm.host for name, vm in spec.vms.items()}   # moved by migrate actions
    for i, action in enumerate(spec.run):
        path = ("run", i)
        kind = action.kind
        if touches_tainted(action_refs(action)):
            continue
        if action.announce_self is not None and action.announce_self.vm not in spec.vms:
            err((*path, kind, "vm"), f"'{action.announce_self.vm}' is not a VM")
        elif action.migrate is not None:
            m = action.migrate
            if m.vm not in spec.vms:
                err((*path, kind, "vm"), f"'{m.vm}' is not a VM")
            elif m.to not in spec.hosts:
                err((*path, kind, "to"), f"'{m.to}' is not a host")
            elif m.to == vm_at[m.vm]:
                err((*path, kind, "to"), f"'{m.vm}' already runs on {m.to}: libvirt refuses "
                    "to migrate a guest to the same host")
            else:
                for nic in spec.vms[m.vm].interfaces:
                    if nic.network is not None:         # Nova plugs it on the destination
                        continue
                    name = m.bridge or nic.source
                    if not isinstance(host_ifaces.get(m.to, {}).get(name), LinuxBridgeInterface):
                        err((*path, kind, "bridge" if m.bridge else "to"),
                            f"'{m.to}' has no Linux bridge '{name}' for {m.vm}")
                        break
                else:
                    vm_at[m.vm] = m.to
        if kind in ("ping", "garp", "send"):
            value = getattr(action, kind)
            problem = sender_problem(spec, value.from_)
            if problem:
                err((*path, kind, "from"), problem)
            elif kind == "ping" and not endpoint_has_ip(spec, value.from_, host_ifaces):
                err((*path, kind, "from"), f"'{value.from_}' has no IPv4 address to ping from")
        elif kind in ("link-down", "link-up", "link-fault", "link-repair", "port-down", "port-up"):
            target = getattr(action, kind.replace("-", "_"))
            problem = endpoint_problem(spec, target, host_ifaces, cable=kind.startswith("link"))
            if problem:
                err((*path, kind), problem)
            elif kind.startswith("link") and target not in linked and not vm_nic(spec, target):
                err((*path, kind), f"'{target}' has no cable (it is in no links: entry)")
        elif kind == "set-active-port" and action.set_active_port is not None:
            sap = action.set_active_port
            host_ref, _, dev_ref = sap.device.partition(":")
            agg = host_ifaces.get(host_ref, {}).get(dev_ref)
            if not isinstance(agg, TeamInterface | BondInterface):
                err((*path, kind, "device"), f"'{sap.device}' is not a team or bond")
            else:
                agg_ports = ([p.name for p in agg.team.ports] if isinstance(agg, TeamInterface)
                             else list(agg.link_aggregation.port))
                if sap.port not in agg_ports:
                    err((*path, kind, "port"), f"'{sap.port}' is not a port of {sap.device} "
                        f"(its ports: {', '.join(agg_ports)})")
    for i, expect in enumerate(spec.expect):
        path = ("expect", i)
        if touches_tainted([expect.ping.from_ if expect.ping else None,
                            expect.outage.from_ if expect.outage else None,
                            expect.frame.to if expect.frame else None,
                            expect.fdb.bridge if expect.fdb else None]):
            continue
        for kind, sel in (("ping", expect.ping), ("outage", expect.outage)):
            if sel is not None:
                problem = sender_problem(spec, sel.from_)
                if problem:
                    err((*path, kind, "from"), problem)
        if expect.frame is not None:
            problem = sender_problem(spec, expect.frame.to)
            if problem:
                err((*path, "frame", "to"), problem)
        if expect.fdb is not None:
            table_ports = bridge_ports(spec, expect.fdb.bridge, host_ifaces, taps)
            if table_ports is None and spec.openstack is not None \
                    and expect.fdb.bridge.partition(":")[0] in spec.hosts:
                pass                    # the Neutron agent makes br-int and its qvo/tap ports
            elif table_ports is None:
                err((*path, "fdb", "bridge"), f"'{expect.fdb.bridge}' is neither a switch nor "
                    "a host:bridge")
            elif expect.port is not None and expect.port not in table_ports:
                err((*path, "port"), f"'{expect.port}' is not a port of {expect.fdb.bridge} "
                    f"(its ports: {', '.join(table_ports)})")
    notes.extend(duplicate_macs(mac_users, uppers, loc))
    check_dhcp(spec, loc, errors, notes, tainted)
    captured = spec.captured
    if captured is not None and captured.host not in tainted:
        if captured.host is not None and captured.host not in spec.hosts:
            err(("captured", "host"), f"host {captured.host!r} is not defined under hosts:")
        elif captured.host is None and len(spec.hosts) > 1:
            err(("captured",), "missing required key 'host' (the topology has several hosts)")
    return errors, notes


def check_ovs(spec: TopologySpec, host_name: str, host: HostSpec, by_name: dict[str, Any],
              enslaved: dict[str, str], taps: dict[tuple[str, int], str], base: Path,
              err: Any, notes: list[str], loc: Locator) -> None:
    """Open vSwitch (devices/ovs.py): patch pairs name each other, every ovs-interface is a
    port of one OVS bridge, flows parse and name ports of their bridge, and the option
    values OVS forces into range are reported."""
    from vnetlab.devices.ovs import FlowError, parse_flow

    for i, iface in enumerate(host.interfaces):
        at = (*base, i)
        if isinstance(iface, OvsInterface):
            owner = enslaved.get(iface.name)
            if owner is None or not isinstance(by_name.get(owner), OvsBridgeInterface):
                err((*at, "name"), f"ovs-interface '{iface.name}' is not a port of any ovs-bridge "
                    f"on {host_name} (list it under an ovs-bridge's bridge.port)")
            if iface.ipv4 is not None and iface.ipv4.enabled and iface.ipv4.address:
                notes.append(f"{loc.render((*at, 'ipv4'))}: accepted, not modelled (an OVS "
                             "internal port has no IP stack in vnetlab)")
            if iface.patch is None:
                continue
            peer_name = iface.patch.peer
            peer = by_name.get(peer_name)
            if peer_name == iface.name:
                err((*at, "patch", "peer"), f"patch port '{iface.name}' cannot be its own peer")
            elif peer is None:
                err((*at, "patch", "peer"), f"patch peer '{peer_name}' is not an interface of "
                    f"{host_name}")
            elif not isinstance(peer, OvsInterface) or peer.patch is None:
                err((*at, "patch", "peer"), f"patch peer '{peer_name}' is a {peer.type}"
                    f"{'' if peer.type != 'ovs-interface' else ' without patch:'}, not a patch "
                    "port (an ovs-interface with patch: {peer: ...})")
            elif peer.patch.peer != iface.name:
                err((*at, "patch", "peer"), f"patch peer '{peer_name}' names '{peer.patch.peer}' "
                    f"as its peer, not '{iface.name}': a patch pair names each other")
        elif isinstance(iface, OvsBridgeInterface):
            ports = {iface.name, "LOCAL", *(p.name for p in iface.bridge.port)}
            ports.update(t for (vm, k), t in taps.items() if spec.vms[vm].host == host_name
                         and spec.vms[vm].interfaces[k].source == iface.name)
            aging = iface.bridge.options.mac_aging_time
            if not 15 * 10**9 <= aging <= 3600 * 10**9:
                notes.append(f"{loc.render((*at, 'bridge', 'options', 'mac-aging-time'))}: "
                             "ovs-vswitchd forces mac-aging-time into 15-3600 s "
                             "(normalize_idle_time)")
            for key in ("stp", "rstp", "mcast_snooping_enable"):
                if getattr(iface.bridge.options, key):
                    notes.append(f"{loc.render((*at, 'bridge', 'options', key.replace('_', '-')))}"
                                 ": accepted, not modelled")
            for j, text in enumerate(iface.bridge.flows):
                path = (*at, "bridge", "flows", j)
                try:
                    flow = parse_flow(text)
                except FlowError as exc:
                    err(path, str(exc))
                    continue
                named = [v for k, v in flow.match if k == "in_port"] + \
                        [v for k, v in flow.actions if k == "output"]
                for port in named:
                    if port not in ports:
                        err(path, f"flow '{text}' names port '{port}', which is not a port of "
                            f"{iface.name} (its ports: {', '.join(sorted(ports - {'LOCAL'}))})")
                        break


def check_svis(sw_name: str, sw: Any, err: Any, claim_ip: Any, claim_mac: Any) -> None:
    """SVIs (``interface VlanN``): one per VLAN, subnets that do not overlap (IOS: "%
    A.B.C.D overlaps with VlanN"), addresses unique; ``l3:`` needs an SVI."""
    base: Path = ("switches", sw_name, "svis")
    by_vlan: dict[int, int] = {}
    nets: list[tuple[int, int, int]] = []
    for i, svi in enumerate(sw.svis):
        if svi.vlan in by_vlan:
            err((*base, i, "vlan"), f"VLAN {svi.vlan} already has an SVI (svis[{by_vlan[svi.vlan]}])")
            continue
        by_vlan[svi.vlan] = i
        ip, plen = svi.ipv4
        for j, other, other_plen in nets:
            shortest = min(plen, other_plen)
            if (ip ^ other) & netmask(shortest) == 0:
                err((*base, i, "ipv4"), f"{ip4_str(ip)}/{plen} overlaps with Vlan"
                    f"{sw.svis[j].vlan} ({ip4_str(other)}/{other_plen})")
                break
        nets.append((i, ip, plen))
        if ip & ~netmask(plen) & 0xFFFF_FFFF in (0, ~netmask(plen) & 0xFFFF_FFFF):
            err((*base, i, "ipv4"), f"{ip4_str(ip)}/{plen} is the subnet's network or "
                "broadcast address")
        claim_ip(ip, (*base, i, "ipv4"), f"{sw_name}:Vlan{svi.vlan}")
        claim_mac(svi.mac_address, (*base, i, "mac-address"), f"{sw_name}:Vlan{svi.vlan}")
    if sw.l3 is not None and not sw.svis:
        err(("switches", sw_name, "l3"), "'l3' needs at least one SVI under 'svis' (an "
            "interface VlanN with an address)")


def check_neutron_port(spec: TopologySpec, network: str, path: Path,
                       err: Any) -> None:
    """A VM NIC on a Neutron network needs ``openstack:`` and that network (§6)."""
    if spec.openstack is None:
        err((*path, "network"), f"network '{network}' is a Neutron network, but the file has "
            "no openstack: section (networks, agent)")
    elif network not in spec.openstack.networks:
        known = ", ".join(spec.openstack.networks) or "none"
        err((*path, "network"), f"'{network}' is not a network under openstack.networks "
            f"(networks: {known})")


def duplicate_macs(users: dict[int, list[tuple[Path, str]]], uppers: set[frozenset[str]],
                   loc: Locator) -> list[str]:
    """A warning per MAC used by more than one device (legal, so not an error),
    except an upper device and its own port (a bridge set to its uplink's MAC)."""
    out = []
    for mac, claims in users.items():
        if len(claims) < 2:
            continue
        names = [what for _, what in claims]
        if len(claims) == 2 and frozenset(names) in uppers:
            continue
        where = "; ".join(f"{what} at {loc.file}:{loc.position(path)[0]}:{loc.position(path)[1]}"
                          f" ({loc.render(path)})" for path, what in claims)
        out.append(f"WARNING: MAC {mac_str(mac)} is used {len(claims)} times: {where}. A MAC "
                   "must be unique on its L2 segment: bridges and switches will move it between "
                   "ports (B7.4, S6), and a device's own MAC is a local entry that is never "
                   "forwarded (B4.4, B7.3)")
    return out


def check_firewall(host_name: str, host: HostSpec, loc: Locator, errors: list[SpecError],
                   notes: list[str]) -> None:
    """Parse the host's firewall texts as the real tools would (iptables-restore,
    nft -f), with each problem at its line in the file; the sysctls it reads."""
    base: Path = ("hosts", host_name)
    fw = host.firewall
    loaded = fw is not None and fw.br_netfilter
    for key in host.sysctl:
        path = (*base, "sysctl", key)
        if not loaded:
            notes.append(f"{loc.render(path)}: ignored: br_netfilter is not loaded on "
                         f"{host_name}, so the key does not exist (sysctl: cannot stat "
                         f"/proc/sys/{key.replace('.', '/')})")
        elif key != "net.bridge.bridge-nf-call-iptables":
            notes.append(f"{loc.render(path)}: accepted, not modelled (vnetlab filters IPv4 only)")
    if fw is None:
        return
    built = build_ruleset(fw.preset, fw.iptables, fw.nftables)
    if isinstance(built, tuple):
        _rules, which, exc = built
        key = "preset" if which == "preset" else which
        path = (*base, "firewall", key)
        line, col = text_position(loc, path, exc.line, exc.column)
        tool = "nft" if which == "nftables" else "iptables-restore"
        errors.append(SpecError(loc.file, line, col, loc.render(path),
                                f"{tool}: line {exc.line}: {exc.message}"))
        return
    for note in built.notes:
        notes.append(f"{loc.render((*base, 'firewall'))}: {note}")


def text_position(loc: Locator, path: Path, line: int, column: int) -> tuple[int, int]:
    """Where line ``line``, column ``column`` of a multi-line string value sits
    in the file: a literal block (``|``) starts on the line after the key; any
    other string is reported at its start."""
    key_line, key_col = loc.position(path)
    nodes, _ = loc.walk(path)
    if not isinstance(nodes[-1], LiteralScalarString) or line <= 0:
        return key_line, key_col
    file_line = key_line + line
    indent = None
    try:
        with open(loc.file, encoding="utf-8") as handle:
            for number, text in enumerate(handle, 1):
                if number == file_line:
                    indent = len(text) - len(text.lstrip(" "))
                    break
    except OSError:
        pass
    if indent is None:
        indent = loc.position(path, at_key=True)[1] + 1
    return file_line, indent + max(column, 1)


def check_vlan_base(vlan: VlanConfig, name: str, by_name: dict[str, Any], path: Path, node: str,
                    err: Any, notes: list[str], loc: Locator) -> None:
    """A VLAN interface's ``base-iface`` exists on the same node, is not the
    interface itself, is not a VLAN interface (QinQ is not modelled) and has no
    other VLAN interface with the same id (register_vlan_dev: -EEXIST)."""
    base_name = vlan.base_iface
    base_iface = by_name.get(base_name)
    if base_name == name:
        err((*path, "base-iface"), f"'{name}' cannot be its own base interface")
    elif base_iface is None:
        err((*path, "base-iface"), f"base-iface '{base_name}' is not an interface of {node}")
    elif getattr(base_iface, "type", "") == "vlan":
        err((*path, "base-iface"), f"base-iface '{base_name}' is itself a VLAN interface: "
            "stacked VLANs (QinQ) are not modelled")
    else:
        twins = [other for other in by_name.values() if other is not by_name.get(name)
                 and getattr(other, "vlan", None) is not None
                 and getattr(other.vlan, "base_iface", None) == base_name
                 and getattr(other.vlan, "id", None) == vlan.id]
        if twins:
            err((*path, "id"), f"{base_name} already has VLAN interface '{twins[0].name}' "
                f"for vlan {vlan.id}")
    for key in ("reorder_headers", "loose_binding", "registration_protocol"):
        if getattr(vlan, key) is not None:
            notes.append(f"{loc.render((*path, key))}: accepted, not modelled")


def action_refs(action: ActionSpec) -> list[str | None]:
    """The ``node[:interface]`` names a ``run:`` action refers to."""
    return [action.ping.from_ if action.ping else None,
            action.garp.from_ if action.garp else None,
            action.send.from_ if action.send else None,
            action.link_down, action.link_up, action.link_fault, action.link_repair,
            action.port_down, action.port_up,
            action.set_active_port.device if action.set_active_port else None,
            action.dhcp.from_ if action.dhcp else None,
            action.announce_self.vm if action.announce_self else None,
            action.migrate.vm if action.migrate else None,
            action.migrate.to if action.migrate else None]


def vm_nic(spec: TopologySpec, ref: str) -> bool:
    node, _, iface = ref.partition(":")
    return node in spec.vms and iface in ("eth0", *[f"eth{i}" for i in
                                                    range(len(spec.vms[node].interfaces))])


def endpoint_problem(spec: TopologySpec, ref: str, host_ifaces: dict[str, dict[str, Any]],
                     *, cable: bool) -> str | None:
    """Why ``node:iface`` names nothing that can be cabled or set down, or None."""
    node, sep, iface = ref.partition(":")
    if not sep or not node or not iface:
        return f"'{ref}' is not of the form node:interface"
    if node in spec.hosts:
        found = host_ifaces[node].get(iface)
        if found is None:
            taps = [t for (vm, i), t in tap_names(spec).items() if spec.vms[vm].host == node]
            if not cable and iface in taps:
                return None
            return f"'{iface}' is not an interface of host {node}"
        if cable and found.type != "ethernet":
            return f"{node}:{iface} is a {found.type}, only ethernet interfaces take a cable"
        return None
    if node in spec.switches:
        return None if iface in spec.switches[node].ports else \
            f"'{iface}' is not a port of switch {node}"
    if node in spec.routers:
        kinds = {i.name: i.type for i in spec.routers[node].interfaces}
        if iface not in kinds:
            return f"'{iface}' is not an interface of router {node}"
        if cable and kinds[iface] == "vlan":
            return f"{node}:{iface} is a vlan sub-interface, only ethernet interfaces take a cable"
        return None
    if node in spec.vms:
        if cable:
            return f"{node} is a VM: its NICs are attached with vms.{node}.interfaces, not links"
        return None if vm_nic(spec, ref) else f"'{iface}' is not a NIC of {node} (eth0, eth1...)"
    return f"'{node}' is not a host, switch, router or VM"


def sender_problem(spec: TopologySpec, name: str) -> str | None:
    node = name.partition(":")[0]
    if node in spec.vms or node in spec.hosts or node in spec.routers:
        return None
    return f"'{name}' is not a VM, host or router"


def endpoint_has_ip(spec: TopologySpec, name: str, host_ifaces: dict[str, dict[str, Any]]
                    ) -> bool:
    node = name.partition(":")[0]
    if node in spec.vms:       # a DHCP client gets its address during the run
        return any(n.ipv4 is not None and (n.ipv4.address or n.ipv4.dhcp)
                   for n in spec.vms[node].interfaces)
    if node in spec.routers:
        return any(i.ipv4 is not None and i.ipv4.address for i in spec.routers[node].interfaces)
    return any(i.ipv4 is not None and i.ipv4.enabled and (i.ipv4.address or i.ipv4.dhcp)
               for i in host_ifaces.get(node, {}).values())


def bridge_ports(spec: TopologySpec, ref: str, host_ifaces: dict[str, dict[str, Any]],
                 taps: dict[tuple[str, int], str]) -> list[str] | None:
    """Port names of a switch (logical: LAG names replace static members; a LACP
    member may be an individual port of its own) or a host bridge."""
    if ref in spec.switches:
        sw = spec.switches[ref]
        members = {m for lag in sw.lags if lag.mode == "static" for m in lag.ports}
        return [lag.name for lag in sw.lags] + [p for p in sw.ports if p not in members]
    host, _, bridge = ref.partition(":")
    iface = host_ifaces.get(host, {}).get(bridge)
    if isinstance(iface, OvsBridgeInterface):
        if spec.openstack is not None:
            return None             # the agent adds ports (patches, qvo/tap) during the run
        ports = [iface.name, *(p.name for p in iface.bridge.port)]
    elif isinstance(iface, LinuxBridgeInterface):
        ports = [p.name for p in iface.bridge.port]
    else:
        return None
    for (vm_name, index), tap in taps.items():
        vm = spec.vms[vm_name]
        if vm.host == host and vm.interfaces[index].source == bridge:
            ports.append(tap)
    return ports


# -- DHCP (semantics §7, devices/dhcp.py) ----------------------------------------------------

DHCP_CLIENT_KNOBS = {
    "networkmanager": ("dhcp_timeout", "autoconnect_retries", "dad_timeout"),
    "dhclient": ("timeout", "retry", "select_timeout", "reboot", "backoff_cutoff",
                 "initial_interval", "one_try"),
    "systemd-networkd": (),
    "windows": (),
    "ipxe": (),
}
DHCPCLIENT_SECONDS = ("timeout", "retry", "select_timeout", "reboot", "backoff_cutoff",
                      "initial_interval")


def check_dhcp(spec: TopologySpec, loc: Locator, errors: list[SpecError], notes: list[str],
               tainted: frozenset[str] | set[str]) -> None:
    """DHCP servers, relays and clients: pools inside their subnet (or a ``netmask``
    for a relayed range), reservations inside it, relays with an address, client
    knobs that belong to the chosen client, and ``run``/``expect`` names."""
    from vnetlab.net.addr import netmask

    def err(path: Path, message: str) -> None:
        errors.append(loc.error(path, message))

    clients: list[str] = []
    all_knobs = {k for knobs in DHCP_CLIENT_KNOBS.values() for k in knobs}

    def client(opts: Any, path: Path, has_address: bool, ref: str) -> None:
        given = [k for k in sorted(all_knobs) if getattr(opts, k) is not None]
        if not opts.dhcp:
            for key in (["client"] if "client" in opts.model_fields_set else []) + given:
                err((*path, key), f"'{key.replace('_', '-')}' needs 'dhcp: true'")
            return
        clients.append(ref)
        if has_address:
            err((*path, "dhcp"), "give a static address or 'dhcp: true', not both")
        for key in given:
            if key not in DHCP_CLIENT_KNOBS[opts.client]:
                owner = next(c for c, knobs in DHCP_CLIENT_KNOBS.items() if key in knobs)
                err((*path, key), f"'{key.replace('_', '-')}' is a {owner} option; this "
                    f"interface runs {opts.client}")
            elif key in DHCPCLIENT_SECONDS:
                value = getattr(opts, key)
                if value % 1_000_000_000:
                    err((*path, key), "dhclient.conf takes whole seconds")
                elif value == 0 and key in ("retry", "backoff_cutoff", "initial_interval",
                                            "timeout"):
                    err((*path, key), f"dhclient's {key.replace('_', '-')} must be at least 1 s")
        if opts.dhcp_timeout is not None and opts.dhcp_timeout < 1_000_000_000:
            err((*path, "dhcp_timeout"), "ipv4.dhcp-timeout must be at least 1 s")

    def server(srv: Any, path: Path, addresses: list[tuple[int, int]], what: str) -> None:
        if not addresses:
            err(path, f"a DHCP server needs an IPv4 address on {what}")
            return
        start, end = srv.pool
        if srv.netmask is not None:
            mask = srv.netmask
            inverted = ~mask & 0xFFFF_FFFF
            if inverted & (inverted + 1):
                err((*path, "netmask"), f"{ip4_str(mask)} is not a netmask")
                return
            if (start ^ end) & mask:
                err((*path, "pool"), f"pool {ip4_str(start)}-{ip4_str(end)} crosses netmask "
                    f"{ip4_str(mask)}")
                return
        else:
            own = next(((a, p) for a, p in addresses
                        if (a ^ start) & netmask(p) == 0 and (a ^ end) & netmask(p) == 0), None)
            if own is None:
                subnets = ", ".join(f"{ip4_str(a & netmask(p))}/{p}" for a, p in addresses)
                err((*path, "pool"), f"pool {ip4_str(start)}-{ip4_str(end)} is outside {what}'s "
                    f"subnet {subnets} (a range served through a relay needs 'netmask:')")
                return
            mask = netmask(own[1])
        macs: dict[int, int] = {}
        ips: dict[int, int] = {}
        for j, res in enumerate(srv.reservations):
            at = (*path, "reservations", j)
            if (res.ip ^ start) & mask:
                err((*at, "ip"), f"reservation {ip4_str(res.ip)} is outside the pool's subnet "
                    f"{ip4_str(start & mask)}/{bin(mask).count('1')}")
            if res.mac in macs:
                err((*at, "mac"), f"{mac_str(res.mac)} is already reserved "
                    f"(reservations[{macs[res.mac]}])")
            if res.ip in ips:
                err((*at, "ip"), f"{ip4_str(res.ip)} is already reserved "
                    f"(reservations[{ips[res.ip]}])")
            macs.setdefault(res.mac, j)
            ips.setdefault(res.ip, j)
        if srv.lease_time < 120_000_000_000:
            notes.append(f"{loc.render((*path, 'lease-time'))}: dnsmasq raises a lease shorter "
                         "than 2 minutes to 2 minutes")

    for host_name, host in spec.hosts.items():
        for i, iface in enumerate(host.interfaces):
            path: Path = ("hosts", host_name, "interfaces", i)
            ipv4 = iface.ipv4
            addresses = ([(a.ip, a.prefix_length) for a in ipv4.address]
                         if ipv4 is not None and ipv4.enabled else [])
            if ipv4 is not None:
                client(ipv4, (*path, "ipv4"), bool(ipv4.address), f"{host_name}:{iface.name}")
            if iface.dhcp_server is not None:
                server(iface.dhcp_server, (*path, "dhcp-server"), addresses,
                       f"{host_name}:{iface.name}")
    for vm_name, vm in spec.vms.items():
        for i, nic in enumerate(vm.interfaces):
            path = ("vms", vm_name, "interfaces", i)
            addresses = ([parse_ip4_prefix(nic.ipv4.address)]
                         if nic.ipv4 is not None and nic.ipv4.address else [])
            if nic.ipv4 is not None:
                client(nic.ipv4, (*path, "ipv4"), nic.ipv4.address is not None,
                       f"{vm_name}:eth{i}")
            if nic.dhcp_server is not None:
                server(nic.dhcp_server, (*path, "dhcp-server"), addresses, f"{vm_name}:eth{i}")
    for r_name, router in spec.routers.items():
        for i, riface in enumerate(router.interfaces):
            path = ("routers", r_name, "interfaces", i)
            ipv4 = riface.ipv4
            addresses = [(a.ip, a.prefix_length) for a in ipv4.address] if ipv4 else []
            if ipv4 is not None and ipv4.dhcp:
                err((*path, "ipv4", "dhcp"), "a router takes static addresses ('dhcp: true' is "
                    "for host and VM interfaces)")
            if riface.dhcp_server is not None:
                server(riface.dhcp_server, (*path, "dhcp-server"), addresses,
                       f"{r_name}:{riface.name}")
            if riface.dhcp_relay is not None:
                if not addresses:
                    err((*path, "dhcp-relay"), "a DHCP relay needs an IPv4 address on "
                        f"{r_name}:{riface.name} (it becomes the giaddr)")
                if riface.dhcp_server is not None:
                    err((*path, "dhcp-relay"), "an interface runs a DHCP server or a relay, "
                        "not both")
                if any(a == riface.dhcp_relay.server for a, _ in addresses):
                    err((*path, "dhcp-relay", "server"), "the relay's server is its own address")

    def has_client(ref: str) -> bool:
        return any(ref in (c, c.partition(":")[0]) for c in clients)

    for i, action in enumerate(spec.run):
        if action.dhcp is not None and action.dhcp.from_.partition(":")[0] not in tainted \
                and not has_client(action.dhcp.from_):
            err(("run", i, "dhcp", "from"), f"'{action.dhcp.from_}' has no DHCP client "
                "(an interface with 'ipv4: {dhcp: true}')")
    for i, expect in enumerate(spec.expect):
        if expect.dhcp is None or expect.dhcp.partition(":")[0] in tainted:
            continue
        if not has_client(expect.dhcp):
            err(("expect", i, "dhcp"), f"'{expect.dhcp}' has no DHCP client (an interface "
                "with 'ipv4: {dhcp: true}')")
        if expect.address is not None and expect.result == "failed":
            err(("expect", i, "address"), "'address' goes with 'result: bound' or 'link-local'")
        if (expect.within is not None and spec.duration is not None
                and expect.within > spec.duration):
            err(("expect", i, "within"), "'within' is after the end of the run ('duration')")
