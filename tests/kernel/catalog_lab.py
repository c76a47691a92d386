"""A catalog case's host, built for real in a namespace, so that ``vnetlab capture`` can read
it as it reads an operator's host.

:func:`build_host` reads the case's ``hosts.HOST`` and its VMs and makes, inside one
namespace: each ``ethernet`` NIC as a veth whose peer sits in a second namespace (the
cable's far end: carrier, nothing else), each ``linux-bridge`` with its STP timers, ageing,
MAC and MTU, bridge ports with their flags, addresses (a DHCP address as dhclient adds it:
with a lifetime, so ``ip addr`` shows it ``dynamic``), the default route, the host's
sysctls, br_netfilter's switch for this namespace and the firewall (the ``docker``
preset and ``iptables:`` text through ``iptables-restore``, ``nftables:`` through
``nft -f``). Each VM NIC is a real tap (``ip tuntap``, libvirt's name and its
0xFE MAC rule or the case's ``tap-mac``) with :mod:`guest` attached to it as QEMU
attaches: carrier up, the guest's DHCPDISCOVERs or gratuitous ARPs written into it, so
the bridge learns the guest's MAC as on a running host.

What this kernel cannot make (no bonding, team, 8021q or bridge VLAN filtering drivers),
:class:`Shim` stands in for, in the tools' own output formats: the bond/team/VLAN device
is a veth of the same name (this kernel has no dummy driver either; it can be a bridge
port, its MAC and MTU are real), and
the capture's ``ip -j -d link`` shows it with the driver's ``linkinfo`` and its ports
with ``master``; a team's ``teamdctl TEAM config dump`` is its teamd JSON (what teamd
prints); a bond's ``/proc/net/bonding/BOND`` is bond_info_show_master/slave's text; a
VLAN-filtering bridge shows ``vlan_filtering 1`` and ``bridge -j vlan show`` the VLANs
the bridge model gives each port (B17). Everything else the capture reads is the kernel's.

OpenStack compute hosts are built as Nova, os-vif and the L2 agent leave them
(:func:`_neutron` for ml2/ovs, :func:`_linuxbridge`), with their ``nova.conf`` and agent ini
under ``/etc/netns/NS/``. Open vSwitch bridges are real: :class:`ovs_oracle.OvsOracle`
runs ``ovsdb-server`` and ``ovs-vswitchd`` (userspace datapath) inside the host's
namespace; bridges, patch ports,
the NICs and VM taps as ports with their VLAN columns, the flows through ``ovs-ofctl
add-flow``, and each VM tap's ``external_ids`` as libvirt's ``virNetDevOpenvswitchAddPort``
writes them (``attached-mac``, ``iface-id``, ``iface-status``, ``vm-id``).
:meth:`BuiltHost.tool_path` puts the OVS tools on ``PATH`` for the capture.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vnetlab.devices.netfilter import DOCKER_PRESET
from vnetlab.devices.openstack import port_prefix
from vnetlab.net.addr import ip4_str, mac_str
from vnetlab.topology.spec import OvsBridgeInterface, OvsPortVlanSpec, TopologySpec

from .netns import HERE, PYTHON, Lab, Netns, _read_ready
from .ovs_oracle import OvsOracle, unavailable_reason

GUEST = HERE / "guest.py"

BOND_MODE_NAMES = {   # bond_main.c bond_mode_name(), as /proc/net/bonding prints it
    "balance-rr": "load balancing (round-robin)",
    "active-backup": "fault-tolerance (active-backup)",
    "balance-xor": "load balancing (xor)",
    "broadcast": "fault-tolerance (broadcast)",
    "802.3ad": "IEEE 802.3ad Dynamic link aggregation",
    "balance-tlb": "transmit load balancing",
    "balance-alb": "adaptive load balancing",
}


def unsupported(spec: TopologySpec, host: str) -> str | None:
    """Why this host cannot be built here (None: it can, with the shim)."""
    if spec.openstack is not None and spec.openstack.agent.type == "linuxbridge":
        return None
    if spec.openstack is not None or any(i.type == "ovs-bridge"
                                         for i in spec.hosts[host].interfaces):
        return unavailable_reason()
    return None


@dataclass
class Shim:
    """The drivers this kernel lacks, as the capture's commands would print them."""

    linkinfo: dict[str, dict[str, Any]] = field(default_factory=dict)   # dev -> linkinfo
    link: dict[str, str] = field(default_factory=dict)                  # VLAN dev -> parent
    masters: dict[str, tuple[str, str]] = field(default_factory=dict)   # port -> (dev, kind)
    teamd: dict[str, str] = field(default_factory=dict)                 # team -> config dump
    bonding: dict[str, str] = field(default_factory=dict)               # bond -> proc text
    filtering: dict[str, int] = field(default_factory=dict)             # bridge -> default pvid
    vlans: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # port -> entries

    def __bool__(self) -> bool:
        return bool(self.linkinfo or self.filtering)

    # -- what the commands print -------------------------------------------------------------
    def links(self, text: str) -> str:
        links = json.loads(text)
        for link in links:
            name = link.get("ifname")
            if name in self.linkinfo:
                info = link.setdefault("linkinfo", {})
                slave = {k: v for k, v in info.items() if k.startswith("info_slave")}
                link["linkinfo"] = {**self.linkinfo[name], **slave}
                if name in self.link:
                    link["link"] = self.link[name]
            if name in self.masters:
                master, kind = self.masters[name]
                link["master"] = master
                link.setdefault("linkinfo", {})["info_slave_kind"] = kind
                link["linkinfo"].setdefault("info_slave_data", {})
                if kind == "bond":
                    link["linkinfo"]["info_slave_data"].update(
                        {"state": "ACTIVE", "mii_status": "UP", "link_failure_count": 0,
                         "perm_hwaddr": link.get("address"), "queue_id": 0})
            if name in self.filtering:
                data = link["linkinfo"]["info_data"]
                data["vlan_filtering"] = 1
                data["vlan_default_pvid"] = self.filtering[name]
        return json.dumps(links)

    def bridge_vlans(self) -> str:
        return json.dumps([{"ifname": dev, "vlans": entries}
                           for dev, entries in self.vlans.items()])

    def files(self, text: str) -> str:
        files = json.loads(text)
        for bond, proc in self.bonding.items():
            files[f"/proc/net/bonding/{bond}"] = proc
        for bridge, pvid in self.filtering.items():
            files[f"/sys/class/net/{bridge}/bridge/vlan_filtering"] = "1\n"
            files[f"/sys/class/net/{bridge}/bridge/default_pvid"] = f"{pvid}\n"
        return json.dumps(files)


def _bonding_proc(mode: str, miimon_ms: int, ports: list[tuple[str, str]]) -> str:
    """/proc/net/bonding/BOND as bond_info_show_master and _slave print it."""
    lines = ["Ethernet Channel Bonding Driver: v6.1.0", "",
             f"Bonding Mode: {BOND_MODE_NAMES[mode]}"]
    if mode == "active-backup":
        lines += ["Primary Slave: None", f"Currently Active Slave: {ports[0][0]}"]
    lines += ["MII Status: up", f"MII Polling Interval (ms): {miimon_ms}",
              "Up Delay (ms): 0", "Down Delay (ms): 0", "Peer Notification Delay (ms): 0"]
    for name, mac in ports:
        lines += ["", f"Slave Interface: {name}", "MII Status: up", "Speed: 10000 Mbps",
                  "Duplex: full", "Link Failure Count: 0", f"Permanent HW addr: {mac}",
                  "Slave queue ID: 0"]
    return "\n".join(lines) + "\n"


def _bond_info(mode: str, options: Any) -> dict[str, Any]:
    """``ip -j -d link``'s info_data of a bond (iplink_bond.c bond_print_opt names)."""
    data: dict[str, Any] = {"mode": mode, "miimon": options.miimon // 1_000_000,
                            "updelay": options.updelay // 1_000_000,
                            "downdelay": options.downdelay // 1_000_000,
                            "peer_notify_delay": 0, "use_carrier": 1,
                            "arp_interval": options.arp_interval // 1_000_000,
                            "arp_missed_max": options.arp_missed_max, "arp_validate": None,
                            "arp_all_targets": options.arp_all_targets,
                            "primary_reselect": "always", "fail_over_mac": "none",
                            "xmit_hash_policy": str(options.xmit_hash_policy),
                            "resend_igmp": 1, "num_peer_notif": options.num_grat_arp,
                            "all_slaves_active": int(options.all_slaves_active),
                            "min_links": options.min_links, "lp_interval": 1,
                            "packets_per_slave": options.packets_per_slave,
                            "lacp_active": "on" if options.lacp_active else "off",
                            "lacp_rate": options.lacp_rate, "ad_select": options.ad_select,
                            "tlb_dynamic_lb": int(options.tlb_dynamic_lb)}
    if options.arp_ip_target:
        data["arp_ip_target"] = [str(t) for t in options.arp_ip_target]
    if options.primary:
        data["primary"] = options.primary
    return data


def _model_vlans(spec: TopologySpec, host: str) -> tuple[dict[str, int], dict[str, list[Any]]]:
    """Per VLAN-filtering bridge its default PVID, per port ``bridge -j vlan show``'s
    entries, as the bridge model sets them up from the case (B17)."""
    from vnetlab.topology.build import build

    lab = build(spec, 0, "off")
    filtering: dict[str, int] = {}
    vlans: dict[str, list[Any]] = {}
    for ref, bridge in lab.bridges.items():
        node, name = ref.split(":", 1)
        if node != host or not bridge.vlan_filtering:
            continue
        filtering[name] = bridge.default_pvid
        for owner, vg in [(name, bridge.vg), *((p.name, p.vg) for p in bridge.ports)]:
            entries = []
            for vid, untagged in sorted(vg.vlans.items()):
                flags = (["PVID"] if vid == vg.pvid else []) + \
                    (["Egress Untagged"] if untagged else [])
                entries.append({"vlan": vid, **({"flags": flags} if flags else {})})
            if entries:
                vlans[owner] = entries
    return filtering, vlans


@dataclass
class BuiltHost:
    ns: Netns
    shim: Shim
    taps: dict[str, tuple[str, str]]     # tap -> (VM, guest MAC)
    ovs: OvsOracle | None = None

    def tool_path(self) -> str | None:
        """The ``PATH`` prefix that makes this host's Open vSwitch tools the installed ones."""
        return str(self.ovs.tool_dir()) if self.ovs is not None else None


def _tap_names(spec: TopologySpec, host: str) -> list[tuple[str, str, int, Any]]:
    """(tap, VM, NIC index, NIC) in libvirt's order: vnet0, vnet1... unless ``target``; a
    Neutron port's tap is ``tap`` + its port id's first 11 characters (Nova's devname)."""
    out, n = [], 0
    for vm_name, vm in spec.vms.items():
        if vm.host != host:
            continue
        for i, nic in enumerate(vm.interfaces):
            if nic.network is not None:
                tap = f"tap{port_prefix(nic.port_id or f'{vm_name}-{i}')}"
            else:
                tap = nic.target or f"vnet{n}"
                n += 1 if nic.target is None else 0
            out.append((tap, vm_name, i, nic))
    return out


def build_host(lab: Lab, spec: TopologySpec, host: str, role: str = "host") -> BuiltHost:
    """Build ``host`` (see the module docstring) in namespace ``role`` (its cables' far
    ends in ``wire`` or ``ROLE-wire``); returns its namespace and the shim."""
    ns = lab.netns(role)
    wire = lab.netns("wire" if role == "host" else f"{role}-wire")
    shim = Shim()
    ifaces = spec.hosts[host].interfaces
    cmds: list[str] = []
    later: list[str] = []                # after every device exists: masters, addresses
    wire_up: list[str] = []
    for n, iface in enumerate(ifaces):
        name = iface.name
        mac = f" address {mac_str(iface.mac_address)}" if iface.mac_address is not None else ""
        if iface.type == "ethernet":
            peer_mac = f"02:00:00:00:{n // 256:02x}:{n % 256:02x}"
            lab.veth(ns, name, mac_str(iface.mac_address) if iface.mac_address is not None
                     else f"02:00:00:01:{n // 256:02x}:{n % 256:02x}", wire, f"w{n}", peer_mac)
            wire.batch([f"link set w{n} up"])
        elif iface.type == "linux-bridge":
            opts = iface.bridge.options
            stp = opts.stp
            timers = f" forward_delay {stp.forward_delay // 10_000_000}" + \
                (f" hello_time {stp.hello_time // 10_000_000}" if stp.hello_time else "") + \
                (f" max_age {stp.max_age // 10_000_000}" if stp.max_age else "") + \
                (f" priority {stp.priority}" if stp.priority is not None else "")
            cmds.append(f"link add {name}{mac} type bridge stp_state {int(stp.enabled)}"
                        f"{timers} ageing_time {opts.mac_ageing_time // 10_000_000}")
        elif iface.type in ("team", "bond", "vlan"):
            # no dummy driver here either: a veth whose peer stays in the wire namespace
            cmds.append(f"link add {name}{mac} type veth peer name d{n} netns {wire.name}")
            wire_up.append(f"link set d{n} up")
            if iface.type == "team":
                shim.linkinfo[name] = {"info_kind": "team"}
                raw = iface.team.model_dump(by_alias=False, exclude_defaults=True,
                                            mode="json")
                config: dict[str, Any] = {"device": name}
                config["runner"] = {"name": str(iface.team.runner.name), **{
                    k: v for k, v in raw.get("runner", {}).items() if k != "name"}}
                if raw.get("link_watch"):
                    config["link_watch"] = raw["link_watch"]
                config["ports"] = {p.name: {k: v for k, v in p.model_dump(
                    by_alias=False, exclude_defaults=True, mode="json").items() if k != "name"}
                    for p in iface.team.ports}
                shim.teamd[name] = json.dumps(config, indent=4)
                for port in iface.team.ports:
                    shim.masters[port.name] = (name, "team")
            elif iface.type == "bond":
                agg = iface.link_aggregation
                mode = str(agg.mode)
                shim.linkinfo[name] = {"info_kind": "bond",
                                       "info_data": _bond_info(mode, agg.options)}
                macs = {i.name: mac_str(i.mac_address) for i in ifaces
                        if i.mac_address is not None}
                shim.bonding[name] = _bonding_proc(mode, agg.options.miimon // 1_000_000,
                                                   [(p, macs.get(p, "")) for p in agg.port])
                for port in agg.port:
                    shim.masters[port] = (name, "bond")
            else:
                shim.linkinfo[name] = {"info_kind": "vlan", "info_data": {
                    "protocol": "802.1Q", "id": iface.vlan.id, "flags": ["REORDER_HDR"]}}
                shim.link[name] = iface.vlan.base_iface
        elif iface.type in ("ovs-bridge", "ovs-interface"):
            continue                      # Open vSwitch's, once every device exists (_ovs)
        else:
            raise NotImplementedError(f"{iface.type} is not built by this lab")
        if iface.mtu is not None and iface.type != "ethernet":
            later.append(f"link set {name} mtu {iface.mtu}")
        elif iface.mtu is not None:
            cmds.append(f"link set {name} mtu {iface.mtu}")
    ns.batch(cmds)
    if wire_up:
        wire.batch(wire_up)
    shim.filtering, shim.vlans = _model_vlans(spec, host)

    # VM taps (the guests attach once every bridge has its ports)
    taps = _tap_names(spec, host)
    tap_cmds, guests = [], []
    for tap, _vm, _, nic in taps:
        tap_mac = mac_str(nic.tap_mac) if nic.tap_mac is not None else \
            "fe" + mac_str(nic.mac)[2:]             # virNetDevTapCreateInBridgePort
        tap_cmds += [f"tuntap add dev {tap} mode tap", f"link set {tap} address {tap_mac}"]
        if nic.mtu is not None:
            tap_cmds.append(f"link set {tap} mtu {nic.mtu}")
        if nic.network is None and \
                not isinstance(_iface(spec, host, nic.source), OvsBridgeInterface):
            later.append(f"link set {tap} master {nic.source}")
        later.append(f"link set {tap} up")
        address = nic.ipv4.address if nic.ipv4 is not None and nic.ipv4.address else ""
        guests.append(f"{tap},{mac_str(nic.mac)},{address}")
    ns.batch(tap_cmds)

    leases = 0
    for iface in ifaces:
        if iface.type == "linux-bridge":
            for port in iface.bridge.port:
                if any(port.name == t for t, *_ in taps):
                    continue
                if port.name not in shim.masters:
                    later.insert(0, f"link set {port.name} master {iface.name}")
                flags = {k: getattr(port, k) for k in ("learning", "flood", "mcast_flood",
                                                       "bcast_flood", "isolated")}
                if port.hairpin is not None:
                    flags["hairpin"] = port.hairpin
                changed = [f"{k} {'on' if v else 'off'}" for k, v in flags.items()
                           if v != (k not in ("isolated", "hairpin"))]
                if changed:
                    later.append(f"link set dev {port.name} type bridge_slave "
                                 f"{' '.join(changed)}")
        ipv4 = iface.ipv4
        if ipv4 is not None and ipv4.enabled:
            for addr in ipv4.address:
                later.append(f"address add {ip4_str(addr.ip)}/{addr.prefix_length} dev {iface.name}")
            if ipv4.dhcp:            # as dhclient/NetworkManager add a lease: "dynamic"
                leases += 1
                later.append(f"address add 192.168.10.{90 + leases}/24 dev {iface.name}"
                             " valid_lft 3600 preferred_lft 3600")
    for iface in ifaces:
        if iface.state == "up" and iface.type not in ("ovs-bridge", "ovs-interface"):
            later.append(f"link set {iface.name} up")
    routes = spec.hosts[host].routes
    for iface in ifaces:
        if iface.ipv4 is not None and iface.ipv4.gateway is not None:
            later.append(f"route add default via {ip4_str(iface.ipv4.gateway)}")
    if routes is not None:
        for route in routes.config:
            later.append(f"route add {route.destination} via {ip4_str(route.next_hop_address)}"
                         + (f" dev {route.next_hop_interface}"
                            if route.next_hop_interface else ""))
    ns.batch(later)

    _firewall(ns, spec, host)
    ovs = None
    if spec.openstack is not None and spec.openstack.agent.type == "linuxbridge":
        _linuxbridge(lab, ns, wire, shim, spec, host,
                     [(tap, vm, i, nic) for tap, vm, i, nic in taps if nic.network is not None])
    elif spec.openstack is not None or any(isinstance(i, OvsBridgeInterface) for i in ifaces):
        ovs = _ovs(lab, ns, spec, host, taps)
    if guests:
        argv = [PYTHON, str(GUEST)]
        for g in guests:
            argv += ["--nic", g]
        proc = ns.spawn(argv)
        _read_ready(proc, "guest")
    return BuiltHost(ns, shim, {tap: (vm, mac_str(nic.mac)) for tap, vm, _, nic in taps}, ovs)


def _iface(spec: TopologySpec, host: str, name: str) -> Any:
    return next((i for i in spec.hosts[host].interfaces if i.name == name), None)


def _ovs_vlan(vlan: OvsPortVlanSpec | None) -> list[str]:
    """A port's ``vlan:`` as the Port columns ``ovs-vsctl add-port`` sets."""
    if vlan is None:
        return []
    mode = "native-untagged" if vlan.enable_native else vlan.mode
    cols = [f"vlan_mode={mode}"] if mode else []
    if vlan.tag is not None:
        cols.append(f"tag={vlan.tag}")
    ids = sorted({v for t in vlan.trunk_tags for v in (
        [t.id] if t.id is not None else
        range(t.id_range.min, t.id_range.max + 1) if t.id_range is not None else [])})
    if ids:
        cols.append(f"trunks=[{','.join(map(str, ids))}]")
    return cols


def _ovs(lab: Lab, ns: Netns, spec: TopologySpec, host: str,
         taps: list[tuple[str, str, int, Any]]) -> OvsOracle:
    """The host's Open vSwitch bridges, for real, in its namespace (the module docstring)."""
    ovs = OvsOracle(lab=lab, ns=ns)
    ovs.__enter__()
    lab.add_cleanup(ovs.close)
    vm_taps = {tap: (vm, nic) for tap, vm, _, nic in taps if nic.network is None}
    ifaces = spec.hosts[host].interfaces
    for iface in ifaces:
        if not isinstance(iface, OvsBridgeInterface):
            continue
        opts = iface.bridge.options
        other = {"mac_aging_time": str(opts.mac_aging_time // 1_000_000_000)} \
            if opts.mac_aging_time != 300_000_000_000 else {}
        ovs.add_bridge(iface.name, **other)
        if opts.fail_mode:
            ovs.vsctl("set-fail-mode", iface.name, opts.fail_mode)
        listed = {p.name: p.vlan for p in iface.bridge.port}
        listed.update({tap: nic.vlan and OvsPortVlanSpec(mode="access", tag=nic.vlan.tag)
                       for tap, (_, nic) in vm_taps.items()
                       if nic.source == iface.name and tap not in listed})
        for name, vlan in listed.items():
            cmd = ["add-port", iface.name, name, *_ovs_vlan(vlan)]
            port_iface = _iface(spec, host, name)
            if port_iface is not None and port_iface.type == "ovs-interface":
                cmd += ["--", "set", "Interface", name]
                cmd += (["type=patch", f"options:peer={port_iface.patch.peer}"]
                        if port_iface.patch is not None else ["type=internal"])
            elif name in vm_taps:                 # virNetDevOpenvswitchAddPort's columns
                vm, nic = vm_taps[name]
                vm_id = uuid.uuid5(uuid.NAMESPACE_DNS, f"{vm}.vnetlab.test")
                iface_id = nic.port_id or str(uuid.uuid5(vm_id, name))
                cmd += ["--", "set", "Interface", name,
                        f'external_ids:attached-mac="{mac_str(nic.mac)}"',
                        f'external_ids:iface-id="{iface_id}"',
                        "external_ids:iface-status=active", f'external_ids:vm-id="{vm_id}"']
            ovs.vsctl(*cmd)
        for flow in iface.bridge.flows:
            ovs.add_flow(iface.name, flow)
    # the bridges' LOCAL ports and internal ports (taps of the userspace datapath) up, as
    # the host's network configuration brings them up
    ns.batch([f"link set {i.name} up" for i in ifaces if i.state == "up" and (
        i.type == "ovs-bridge" or (i.type == "ovs-interface" and i.patch is None))])
    if spec.openstack is not None:
        _neutron(lab, ovs, ns, spec, host, [(tap, vm, i, nic) for tap, vm, i, nic in taps
                                            if nic.network is not None])
    return ovs


def _neutron(lab: Lab, ovs: OvsOracle, ns: Netns, spec: TopologySpec, host: str,
             ports: list[tuple[str, str, int, Any]]) -> None:
    """What Nova, os-vif and the ml2/ovs agent leave on a compute host, the way vnetlab's
    model makes it (devices/openstack.py): br-int with the int-/phy- patch pair and
    ``setup_physical_bridges``' drop flows, per network a local VLAN (1, 2, ... in the
    order of the host's ports) with ``provision_local_vlan``'s translation flows, and per
    port (iptables_hybrid) ``qbrXXX`` with the VM's tap and ``qvbXXX``, its veth peer
    ``qvoXXX`` on br-int tagged with the local VLAN (``port_bound``), or (openvswitch
    firewall) the tap itself on br-int; the Interface's ``external_ids`` as os-vif writes
    them. Real Neutron adds flows in other tables (and fail_mode secure); vnetlab's model
    and this lab run table 0 only. ``nova.conf`` and ``openvswitch_agent.ini`` are
    written to ``/etc/netns/NS/``, which ``ip netns exec`` mounts over ``/etc`` for the
    capture's file reader."""
    assert spec.openstack is not None
    agent = spec.openstack.agent
    names = {i.name for i in spec.hosts[host].interfaces}
    ib = agent.integration_bridge
    if ib not in names:
        ovs.add_bridge(ib)
        ns.batch([f"link set {ib} up"])
    mapped = {physnet: br for physnet, br in agent.bridge_mappings.items() if br in names}
    for bridge in mapped.values():
        ovs.add_patch(ib, f"int-{bridge}", bridge, f"phy-{bridge}")
        ovs.add_flow(ib, f"priority=2,in_port=int-{bridge},actions=drop")
        ovs.add_flow(bridge, f"priority=2,in_port=phy-{bridge},actions=drop")
    lvids: dict[str, int] = {}
    for tap, vm, index, nic in ports:
        net = spec.openstack.networks[nic.network]
        if nic.network not in lvids:
            lvid = lvids[nic.network] = len(lvids) + 1
            bridge = mapped.get(net.physical_network)
            if bridge is not None:
                ovs.add_flow(bridge, f"priority=4,in_port=phy-{bridge},dl_vlan={lvid},"
                                     f"actions=mod_vlan_vid:{net.segmentation_id},NORMAL")
                ovs.add_flow(ib, f"priority=3,in_port=int-{bridge},dl_vlan="
                                 f"{net.segmentation_id},actions=mod_vlan_vid:{lvid},NORMAL")
        suffix = tap[3:]
        port = tap
        if agent.firewall_driver == "iptables_hybrid":        # os-vif's hybrid plug
            port = f"qvo{suffix}"
            ns.batch([f"link add qbr{suffix} type bridge stp_state 0 forward_delay 0",
                      f"link add qvb{suffix} type veth peer name {port}",
                      f"link set qvb{suffix} master qbr{suffix}",
                      f"link set {tap} master qbr{suffix}",
                      *(f"link set {d} up" for d in (f"qbr{suffix}", f"qvb{suffix}", port))])
        vm_id = uuid.uuid5(uuid.NAMESPACE_DNS, f"{vm}.vnetlab.test")
        ovs.vsctl("add-port", ib, port, f"tag={lvids[nic.network]}", "--", "set", "Interface",
                  port, f'external_ids:iface-id="{nic.port_id or f"{vm}-{index}"}"',
                  f'external_ids:attached-mac="{mac_str(nic.mac)}"',
                  "external_ids:iface-status=active", f'external_ids:vm-uuid="{vm_id}"')
    _openstack_files(lab, ns, spec, host)


def _openstack_files(lab: Lab, ns: Netns, spec: TopologySpec, host: str) -> None:
    """``nova.conf`` and the L2 agent's ini of ``host``, from the case's ``openstack:``."""
    assert spec.openstack is not None
    agent, nova = spec.openstack.agent, spec.openstack.nova
    seconds = nova.vif_plugging_timeout // 1_000_000_000
    _etc(lab, ns, "nova/nova.conf", f"""# nova.conf of {host} (the catalog lab)
[DEFAULT]
# Number of seconds to wait for neutron vif plugging events to arrive before
# continuing or failing (see vif_plugging_is_fatal).
vif_plugging_timeout = {seconds}
vif_plugging_is_fatal = {nova.vif_plugging_is_fatal}

[compute]
live_migration_wait_for_vif_plug = {nova.live_migration_wait_for_vif_plug}

[os_vif_ovs]
isolate_vif = {agent.isolate_vif}
""")
    mappings = ",".join(f"{k}:{v}" for k, v in agent.bridge_mappings.items())
    if agent.type == "linuxbridge":
        _etc(lab, ns, "neutron/plugins/ml2/linuxbridge_agent.ini", f"""[linux_bridge]
physical_interface_mappings = {mappings}

[securitygroup]
firewall_driver = iptables
""")
        return
    _etc(lab, ns, "neutron/plugins/ml2/openvswitch_agent.ini", f"""[ovs]
integration_bridge = {agent.integration_bridge}
bridge_mappings = {mappings}

[securitygroup]
firewall_driver = {agent.firewall_driver}
""")


def _linuxbridge(lab: Lab, ns: Netns, wire: Netns, shim: Shim, spec: TopologySpec, host: str,
                 ports: list[tuple[str, str, int, Any]]) -> None:
    """What Nova and the linuxbridge agent leave on a compute host (O7), the way vnetlab's
    model makes it: per network ``brq`` + its id's first 11 characters (STP off, no
    forward delay), the agent's VLAN device ``IFACE.SEG`` on the mapped interface in it
    (``ensure_vlan_bridge``; this kernel has no 8021q: a veth of that name, shimmed as
    802.1Q like the other VLAN devices), and the VM's tap."""
    assert spec.openstack is not None
    agent = spec.openstack.agent
    names = {i.name for i in spec.hosts[host].interfaces}
    cmds: list[str] = []
    wire_up: list[str] = []
    made: set[str] = set()
    for tap, _vm, _index, nic in ports:
        net = spec.openstack.networks[nic.network]
        brq = f"brq{port_prefix(nic.network)}"
        base = agent.bridge_mappings.get(net.physical_network)
        if brq not in made:
            made.add(brq)
            cmds += [f"link add {brq} type bridge stp_state 0 forward_delay 0",
                     f"link set {brq} up"]
            if base in names:
                vlan = f"{base}.{net.segmentation_id}"
                peer = f"v{len(made)}{brq[3:]}"[:15]
                cmds += [f"link add {vlan} type veth peer name {peer} netns {wire.name}",
                         f"link set {vlan} master {brq}", f"link set {vlan} up"]
                wire_up.append(f"link set {peer} up")
                shim.linkinfo[vlan] = {"info_kind": "vlan", "info_data": {
                    "protocol": "802.1Q", "id": net.segmentation_id, "flags": ["REORDER_HDR"]}}
                shim.link[vlan] = base
        cmds.append(f"link set {tap} master {brq}")
    ns.batch(cmds)
    if wire_up:
        wire.batch(wire_up)
    _openstack_files(lab, ns, spec, host)


def _etc(lab: Lab, ns: Netns, rel: str, text: str) -> None:
    """``/etc/REL`` as ``ip netns exec NS`` shows it: ``/etc/netns/NS/REL`` (iproute2's
    ``bind_etc`` bind-mounts each entry of ``/etc/netns/NS`` over ``/etc``; the mount
    point must exist: made here, and removed again if it was made here and is empty)."""
    top = rel.split("/")[0]
    path = Path("/etc/netns") / ns.name / rel
    if not Path("/etc/netns").exists():
        lab.add_cleanup(_rmdir(Path("/etc/netns")))     # runs after the rmtree below
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    point = Path("/etc") / top
    if not point.exists():
        point.mkdir()
        lab.add_cleanup(_rmdir(point))
    lab.add_cleanup(lambda: shutil.rmtree(Path("/etc/netns") / ns.name, ignore_errors=True))


def _rmdir(path: Path) -> Callable[[], None]:
    """A cleanup removing ``path`` if it is empty (not empty: someone else's now)."""
    def remove() -> None:
        with contextlib.suppress(OSError):
            path.rmdir()
    return remove


def _firewall(ns: Netns, spec: TopologySpec, host: str) -> None:
    """The host's sysctls, br_netfilter's switch in this namespace, its rules."""
    hspec = spec.hosts[host]
    fw = hspec.firewall
    sysctls = {f"net.bridge.bridge-nf-call-{t}": int(bool(fw and fw.br_netfilter))
               for t in ("iptables", "ip6tables", "arptables")}
    sysctls.update({k: v for k, v in hspec.sysctl.items()})
    ns.exec(["sysctl", "-qw", *(f"{k}={v}" for k, v in sysctls.items())])
    if fw is None:
        return
    text = ""
    if fw.preset == "docker":
        text += DOCKER_PRESET
    if fw.iptables:
        text += fw.iptables if fw.iptables.endswith("\n") else fw.iptables + "\n"
    if text:
        ns.exec(["sh", "-c", "iptables-restore --noflush <<'EOF'\n" + text + "EOF\n"])
    if fw.nftables:
        ns.exec(["sh", "-c", "nft -f - <<'EOF'\n" + fw.nftables + "\nEOF\n"])
