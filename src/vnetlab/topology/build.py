"""Spec -> Lab: create the devices, enslave ports, wire links (ns-3's helpers,
containerlab's resolve step). The only module that reads both spec and devices.

Order mirrors how a host comes up: NICs, then bonds/teams take their ports
(ports get the aggregate's MAC), then bridges take their ports (local FDB
entries for the final MACs), then VMs start and libvirt adds their taps to
the bridges, then cables are plugged in.
"""

from __future__ import annotations

import hashlib
from typing import Any

from vnetlab.devices.bond import Bond, BondParams
from vnetlab.devices.bridge import Bridge, BridgePort
from vnetlab.devices.dhcp import (
    ClientParams,
    DhcpRelay,
    DhcpServer,
    ServerParams,
    default_boot_delay,
    make_client,
)
from vnetlab.devices.endpoint import Endpoint, NeighParams
from vnetlab.devices.l3switch import L3Config, SviConfig, SwitchL3
from vnetlab.devices.netdev import Link, LinkedDevice, NetDevice, Nic, Tap, VirtioNic
from vnetlab.devices.netfilter import Netfilter, build_ruleset
from vnetlab.devices.openstack import OpenStackCloud
from vnetlab.devices.ovs import OvsBridge, OvsPort, PortVlan, connect_patch
from vnetlab.devices.switch import (
    LagConfig,
    MacMoveConfig,
    PortConfig,
    StpConfig,
    Switch,
    VlanPortConfig,
)
from vnetlab.devices.team import LinkWatch, Team, TeamParams, TeamPortParams
from vnetlab.devices.vlan import VlanDevice
from vnetlab.lab import Lab
from vnetlab.net.addr import Mac, parse_ip4_prefix, tap_mac
from vnetlab.sim.sim import Sim
from vnetlab.sim.time import S
from vnetlab.topology.check import tap_names
from vnetlab.topology.load import locator_for
from vnetlab.topology.spec import (
    ArpOptions,
    BondInterface,
    BridgePortSpec,
    DhcpClientOptions,
    DhcpServerSpec,
    EthernetInterface,
    HostSpec,
    LagSpec,
    LinkWatchSpec,
    LinuxBridgeInterface,
    OvsBridgeInterface,
    OvsInterface,
    OvsPortSpec,
    RoutesSpec,
    SwitchL3Spec,
    SwitchSpec,
    SwitchVlanSpec,
    TeamInterface,
    TopologySpec,
    VlanInterface,
    VmInterfaceSpec,
)


def generated_mac(node: str, name: str) -> Mac:
    """A stable, locally administered unicast MAC for a device given none."""
    digest = hashlib.sha256(f"{node}:{name}".encode()).digest()
    return (0x02 << 40) | int.from_bytes(digest[:5], "big")


def neigh_params(options: ArpOptions | None) -> NeighParams:
    if options is None:
        return NeighParams()
    params: dict[str, Any] = {"learn_from_request": options.learn_from_request}
    if options.base_reachable_time is not None:
        params["base_reachable_time"] = options.base_reachable_time
    if options.retrans_time is not None:
        params["retrans_time"] = options.retrans_time
    return NeighParams(**params)


def apply_port_flags(port: BridgePort, spec: BridgePortSpec) -> None:
    """``bridge link set dev X learning|flood|mcast_flood|bcast_flood|hairpin|isolated``."""
    port.learning = spec.learning
    port.flood = spec.flood
    port.mcast_flood = spec.mcast_flood
    port.bcast_flood = spec.bcast_flood
    port.hairpin = bool(spec.hairpin or spec.stp_hairpin_mode)
    port.isolated = spec.isolated


def bridge_vlan_filtering(iface: LinuxBridgeInterface) -> bool:
    """``vlan-filtering`` as given, else on when a port has ``vlan:`` (nmstate)."""
    given = iface.bridge.options.vlan_filtering
    return given if given is not None else any(p.vlan is not None for p in iface.bridge.port)


def apply_bridge_vlans(bridge: Bridge, iface: LinuxBridgeInterface) -> None:
    """NetworkManager's bridge_set_vlan_options(): the default PVID first, then
    ``bridge.vlans`` on the bridge itself, so a ``pvid`` entry overrides it."""
    for entry in iface.bridge.options.vlans:
        for vid in range(entry.vid, (entry.vid_end or entry.vid) + 1):
            bridge.vlan_add(None, vid, pvid=entry.pvid, untagged=entry.untagged)


def apply_port_vlans(bridge: Bridge, port: BridgePort, spec: BridgePortSpec) -> None:
    """NetworkManager's enslave (and nmstate's nmstate_port_vlans_to_nm_vlan_range):
    the port already has the bridge's default-PVID VLAN (nbp_vlan_init, kept, as
    NM documents); trunk tags are added tagged, an access or native ``tag`` as
    PVID untagged (B17)."""
    vlan = spec.vlan
    if vlan is None or not bridge.vlan_filtering:
        return
    if vlan.mode == "trunk":
        for tag in vlan.trunk_tags:
            for vid in tag.vids():
                bridge.vlan_add(port, vid, pvid=False, untagged=False)
    if vlan.tag is not None:
        bridge.vlan_add(port, vlan.tag, pvid=True, untagged=True)


def bond_params(iface: BondInterface) -> BondParams:
    agg = iface.link_aggregation
    o = agg.options
    return BondParams(
        mode=agg.mode, miimon=o.miimon, updelay=o.updelay, downdelay=o.downdelay,
        arp_interval=o.arp_interval, arp_ip_target=tuple(o.arp_ip_target),
        arp_validate=o.arp_validate, arp_missed_max=o.arp_missed_max, primary=o.primary,
        primary_reselect=o.primary_reselect, fail_over_mac=o.fail_over_mac,
        xmit_hash_policy=o.xmit_hash_policy, packets_per_slave=o.packets_per_slave,
        lacp_rate=o.lacp_rate, lacp_active=o.lacp_active, ad_select=o.ad_select,
        ad_actor_sys_prio=o.ad_actor_sys_prio, ad_user_port_key=o.ad_user_port_key,
        ad_actor_system=o.ad_actor_system,
        min_links=o.min_links, all_slaves_active=o.all_slaves_active,
        num_grat_arp=o.num_grat_arp, peer_notif_delay=o.peer_notif_delay,
        lp_interval=o.lp_interval * S, tlb_dynamic_lb=o.tlb_dynamic_lb)


def link_watch(spec: LinkWatchSpec) -> LinkWatch:
    return LinkWatch(name=spec.name, delay_up=spec.delay_up, delay_down=spec.delay_down,
                     interval=spec.interval, init_wait=spec.init_wait, missed_max=spec.missed_max,
                     source_host=spec.source_host or 0, target_host=spec.target_host or 0,
                     validate_active=spec.validate_active,
                     validate_inactive=spec.validate_inactive, send_always=spec.send_always)


def team_params(iface: TeamInterface) -> TeamParams:
    team = iface.team
    runner = team.runner
    return TeamParams(
        runner=runner.name, hwaddr_policy=runner.hwaddr_policy, tx_hash=tuple(runner.tx_hash),
        link_watch=link_watch(team.link_watch) if team.link_watch else LinkWatch(),
        notify_peers_count=team.notify_peers.count,
        notify_peers_interval=team.notify_peers.interval, active=runner.active,
        fast_rate=runner.fast_rate, sys_prio=runner.sys_prio, min_ports=runner.min_ports,
        agg_select_policy=runner.agg_select_policy)


def lag_config(lag: LagSpec) -> LagConfig:
    """A ``lags:`` entry as the switch takes it (S3-S5)."""
    return LagConfig(lag.name, list(lag.ports), lag.hash, lag.mode,
                     lacp_active=lag.lacp_mode == "active", lacp_fast=lag.lacp_rate == "fast",
                     fallback=lag.lacp_fallback, system_priority=lag.system_priority)


def switch_vlan(spec: SwitchVlanSpec | None) -> VlanPortConfig | None:
    """A port's ``vlan:`` as the switch takes it (S1)."""
    if spec is None:
        return None
    allowed = frozenset(spec.allowed) if spec.allowed is not None else None
    return VlanPortConfig(spec.mode, spec.access, allowed, spec.native)


def switch_options(sw: SwitchSpec) -> dict[str, Any]:
    """``mac-move``, ``stp``, ``port-config`` and ``access-tagged`` as the switch
    takes them (S1, S6-S8)."""
    move = sw.mac_move
    ports = {name: PortConfig(cfg.stp_edge,
                              cfg.port_security.max_macs if cfg.port_security else None,
                              cfg.port_security.violation if cfg.port_security else "shutdown",
                              switch_vlan(cfg.vlan))
             for name, cfg in sw.port_config.items()}
    return {"mac_move": MacMoveConfig(move.action, move.threshold, move.window, move.recovery),
            "stp": StpConfig(sw.stp.enabled, sw.stp.forward_delay, sw.stp.edge_default),
            "port_config": ports, "access_tagged": sw.access_tagged}


def add_routes(stack: Endpoint, routes: RoutesSpec) -> None:
    """nmstate ``routes.config``: the default route is the gateway, the others static
    routes looked up by longest prefix (``next-hop-interface`` is not read)."""
    for route in routes.config:
        if route.destination in ("0.0.0.0/0", "default"):
            stack.gateway = route.next_hop_address
        else:
            net, plen = parse_ip4_prefix(route.destination)
            stack.routes.append((net, plen, route.next_hop_address))


def switch_l3(switch: Switch, sw: SwitchSpec) -> SwitchL3:
    """``svis:`` and ``l3:`` as the switch takes them; an SVI without ``mac-address``
    uses the switch's base MAC (the one its LACP system id shows too)."""
    svis = [SviConfig(svi.vlan, svi.ipv4[0], svi.ipv4[1],
                      svi.mac_address if svi.mac_address is not None else switch.system_mac)
            for svi in sw.svis]
    opts = sw.l3 if sw.l3 is not None else SwitchL3Spec()
    return SwitchL3(switch, svis, L3Config(opts.arp_timeout, opts.on_fdb_move, opts.arp_refresh))


def build(spec: TopologySpec, seed: int = 0, trace: str = "full") -> Lab:
    sim = Sim(seed, trace)
    lab = Lab(spec, sim)
    locate = locator_for(spec)

    # -- hosts ------------------------------------------------------------------
    for host_name, host in spec.hosts.items():
        created: dict[str, NetDevice] = {}
        for i, iface in enumerate(host.interfaces):
            dev: NetDevice
            if isinstance(iface, EthernetInterface):
                dev = Nic(sim, host_name, iface.name,
                          iface.mac_address or generated_mac(host_name, iface.name))
            elif isinstance(iface, LinuxBridgeInterface):
                options = iface.bridge.options
                bridge_dev = Bridge(sim, host_name, iface.name, iface.mac_address,
                                    ageing_time=options.mac_ageing_time,
                                    stp=options.stp.enabled,
                                    forward_delay=options.stp.forward_delay,
                                    vlan_filtering=bridge_vlan_filtering(iface),
                                    default_pvid=options.vlan_default_pvid)
                apply_bridge_vlans(bridge_dev, iface)
                lab.bridges[f"{host_name}:{iface.name}"] = dev = bridge_dev
            elif isinstance(iface, OvsBridgeInterface):
                ovs_dev = OvsBridge(sim, host_name, iface.name, iface.mac_address,
                                    ageing_time=iface.bridge.options.mac_aging_time,
                                    fail_mode=iface.bridge.options.fail_mode)
                for flow in iface.bridge.flows:
                    ovs_dev.add_flow(flow, record=False)
                lab.ovs[f"{host_name}:{iface.name}"] = dev = ovs_dev
            elif isinstance(iface, OvsInterface):
                continue                        # a port of an OVS bridge (below)
            elif isinstance(iface, TeamInterface):
                dev = Team(sim, host_name, iface.name, iface.mac_address, team_params(iface))
            elif isinstance(iface, BondInterface):
                dev = Bond(sim, host_name, iface.name, iface.mac_address, bond_params(iface))
            else:
                continue                        # VLAN devices: once their base exists
            dev.source = locate.source(("hosts", host_name, "interfaces", i))
            created[iface.name] = dev
            lab.add_device(dev)
        for i, iface in enumerate(host.interfaces):         # ip link add ... type vlan
            if isinstance(iface, VlanInterface):
                vdev = VlanDevice(sim, host_name, iface.name, created[iface.vlan.base_iface],
                                  iface.vlan.id, iface.mac_address)
                vdev.source = locate.source(("hosts", host_name, "interfaces", i))
                created[iface.name] = vdev
                lab.add_device(vdev)
        for iface in host.interfaces:                       # ip link set dev X mtu N
            if iface.mtu is not None:
                created[iface.name].mtu = iface.mtu
            elif isinstance(iface, VlanInterface):      # vlan_dev_init: the real device's MTU
                created[iface.name].mtu = created[iface.vlan.base_iface].mtu
        for iface in host.interfaces:                       # aggregates take their ports
            if isinstance(iface, TeamInterface):
                team = created[iface.name]
                assert isinstance(team, Team)
                for tport in iface.team.ports:
                    team.add_port(created[tport.name], TeamPortParams(
                        prio=tport.prio, sticky=tport.sticky, lacp_prio=tport.lacp_prio,
                        lacp_key=tport.lacp_key,
                        link_watch=link_watch(tport.link_watch) if tport.link_watch else None))
            elif isinstance(iface, BondInterface):
                bond = created[iface.name]
                assert isinstance(bond, Bond)
                for name in iface.link_aggregation.port:
                    bond.enslave(created[name])
        for iface in host.interfaces:   # bond_enslave / team_port_add: dev_set_mtu(port, agg)
            if isinstance(iface, TeamInterface | BondInterface):
                for port_name in ([p.name for p in iface.team.ports]
                                  if isinstance(iface, TeamInterface)
                                  else iface.link_aggregation.port):
                    created[port_name].mtu = created[iface.name].mtu
        for iface in host.interfaces:                       # then bridges
            if isinstance(iface, LinuxBridgeInterface):
                bridge = created[iface.name]
                assert isinstance(bridge, Bridge)
                for bport in iface.bridge.port:
                    if bport.name in created:         # else a VM tap, added when the VM starts
                        host_port = bridge.add_port(created[bport.name])
                        apply_port_flags(host_port, bport)
                        apply_port_vlans(bridge, host_port, bport)
                bridge.mtu_set_by_user = iface.mtu is not None
                bridge.mtu_auto_adjust()                     # br_add_if -> br_mtu_auto_adjust
        build_ovs_ports(lab, host_name, host, created)
        stack: Endpoint | None = None
        for iface in host.interfaces:
            if isinstance(iface, OvsInterface | OvsBridgeInterface):
                continue                        # no IP stack on OVS internal ports here
            if iface.ipv4 is not None and iface.ipv4.enabled and (iface.ipv4.address
                                                                 or iface.ipv4.dhcp):
                if stack is None:
                    stack = Endpoint(sim, host_name, neigh_params(iface.arp),
                                     iface.ipv4.gateway)
                    lab.endpoints[host_name] = stack
                stack.add_iface(created[iface.name],
                                [(a.ip, a.prefix_length) for a in iface.ipv4.address],
                                neigh_params(iface.arp) if iface.arp else None)
        if stack is not None and host.routes is not None:
            add_routes(stack, host.routes)
        if host.firewall is not None:                       # B22-B24, D8
            netfilter = host_netfilter(sim, host_name, host)
            if stack is not None:
                stack.firewall = netfilter
            for dev in created.values():
                if isinstance(dev, Bridge):
                    dev.netfilter = netfilter
        lab.host_devices[host_name] = created

    # -- VMs: the guest NIC, the host tap, the tap in the bridge ---------------------
    taps = tap_names(spec)
    port_settings = {(host_name, iface.name, bport.name): bport
                     for host_name, host in spec.hosts.items() for iface in host.interfaces
                     if isinstance(iface, LinuxBridgeInterface) for bport in iface.bridge.port}
    ovs_port_settings = {(host_name, iface.name, port.name): port
                         for host_name, host in spec.hosts.items() for iface in host.interfaces
                         if isinstance(iface, OvsBridgeInterface) for port in iface.bridge.port}
    cloud = build_openstack(spec, lab)
    for vm_name, vm in spec.vms.items():
        guest = Endpoint(sim, vm_name, NeighParams())
        lab.endpoints[vm_name] = guest
        for index, nic in enumerate(vm.interfaces):
            virtio = VirtioNic(sim, vm_name, f"eth{index}", nic.mac)
            if cloud is not None and nic.network is not None:      # a Neutron port (O3, O7)
                vif = cloud.plug_vif(vm_name, index, vm.host, 0, bound=True)
                virtio.source = vif.tap.source = locate.source(("vms", vm_name, "interfaces",
                                                                index))
                lab.add_device(virtio)
                lab.links.append(Link(sim, virtio, vif.tap, 0))
                virtio.notify_carrier()
                vif.tap.notify_carrier()            # its bridge port comes up (B2)
                if nic.mtu is not None:
                    virtio.mtu = vif.tap.mtu = nic.mtu
                _guest_addresses(guest, virtio, nic)
                continue
            tap = Tap(sim, vm.host, taps[(vm_name, index)],
                      tap_mac(nic.mac) if nic.tap_mac is None else nic.tap_mac)
            virtio.source = tap.source = locate.source(("vms", vm_name, "interfaces", index))
            lab.add_device(virtio)
            lab.add_device(tap)
            lab.host_devices[vm.host][tap.name] = tap
            lab.links.append(Link(sim, virtio, tap, 0))
            ovs = lab.ovs.get(f"{vm.host}:{nic.source}")
            if ovs is not None:         # <virtualport type='openvswitch'/>: ovs-vsctl add-port
                configured = ovs_port_settings.get((vm.host, nic.source, tap.name))
                vlan = (ovs_port_vlan(configured) if configured is not None
                        else PortVlan(tag=nic.vlan.tag) if nic.vlan is not None else PortVlan())
                if nic.mtu is not None:
                    virtio.mtu = tap.mtu = nic.mtu
                ovs.add_port(tap, vlan=vlan)
                virtio.notify_carrier()
                tap.notify_carrier()
                _guest_addresses(guest, virtio, nic)
                continue
            bridge = lab.bridges[f"{vm.host}:{nic.source}"]
            # libvirt virNetDevTapAttachBridge: <mtu> on tap and guest (host_mtu), else the
            # tap takes the bridge's MTU and the guest keeps virtio-net's 1500
            if nic.mtu is not None:
                virtio.mtu = nic.mtu
            tap.mtu = nic.mtu if nic.mtu is not None else bridge.mtu
            port = bridge.add_port(tap)
            bridge.mtu_auto_adjust()
            settings = port_settings.get((vm.host, nic.source, tap.name))
            if settings is not None:
                apply_port_flags(port, settings)
                apply_port_vlans(bridge, port, settings)
            _guest_addresses(guest, virtio, nic)

    if cloud is not None:
        cloud.started = True        # later plugs (a migration's) are hot-plugged devices

    # -- switches and routers ---------------------------------------------------------
    for sw_name, sw in spec.switches.items():
        switch = Switch(sim, sw_name, sw.mac_ageing_time, **switch_options(sw))
        for i, port_name in enumerate(sw.ports):
            port_nic = Nic(sim, sw_name, port_name, generated_mac(sw_name, port_name))
            port_nic.source = locate.source(("switches", sw_name, "ports", i))
            port_nic.mtu = port_nic.giant_limit = sw.mtu      # larger frames are giants
            switch.add_port(port_nic)
            lab.add_device(port_nic)
        switch.build_logical_ports([lag_config(lag) for lag in sw.lags])
        if sw.svis:                             # an L3 switch (devices/l3switch.py)
            switch.l3 = switch_l3(switch, sw)
        switch.start()
        lab.switches[sw_name] = switch
    for r_name, router in spec.routers.items():
        stack = Endpoint(sim, r_name, NeighParams(), router.gateway)
        stack.forwarding = router.forwarding    # net.ipv4.ip_forward
        if router.routes is not None:
            add_routes(stack, router.routes)
        lab.endpoints[r_name] = stack
        router_devs: dict[str, NetDevice] = {}
        # ports first, then their sub-interfaces
        order = [(i, r) for i, r in enumerate(router.interfaces) if r.vlan is None]
        order += [(i, r) for i, r in enumerate(router.interfaces) if r.vlan is not None]
        for i, riface in order:
            router_nic: NetDevice
            if riface.vlan is not None:             # a sub-interface: eth0.100
                router_nic = VlanDevice(sim, r_name, riface.name,
                                        router_devs[riface.vlan.base_iface], riface.vlan.id,
                                        riface.mac_address)
            else:
                assert riface.mac_address is not None
                router_nic = Nic(sim, r_name, riface.name, riface.mac_address)
            router_devs[riface.name] = router_nic
            if riface.mtu is not None:
                router_nic.mtu = riface.mtu
            elif riface.vlan is not None:
                router_nic.mtu = router_devs[riface.vlan.base_iface].mtu
            router_nic.source = locate.source(("routers", r_name, "interfaces", i))
            lab.add_device(router_nic)
        for riface in router.interfaces:
            router_nic = router_devs[riface.name]
            router_addresses = ([(a.ip, a.prefix_length) for a in riface.ipv4.address]
                                if riface.ipv4 is not None else [])
            stack.add_iface(router_nic, router_addresses, neigh_params(riface.arp) if riface.arp else None)

    # -- cables --------------------------------------------------------------------------
    for i, link_spec in enumerate(spec.links):
        a, b = (lab.device(ref) for ref in link_spec.endpoints)
        assert isinstance(a, LinkedDevice) and isinstance(b, LinkedDevice)
        link = Link(sim, a, b, link_spec.delay)
        link.source = locate.source(("links", i))
        lab.links.append(link)
        a.notify_carrier()
        b.notify_carrier()

    # interfaces configured down (nmstate ``state: down``)
    for host_name, host in spec.hosts.items():
        for iface in host.interfaces:
            if iface.state == "down":
                lab.host_devices[host_name][iface.name].set_admin(False)

    for bridge in lab.bridges.values():
        bridge.note_mtus()

    lab.arm_storm_guard()
    lab.default_until = 10 * S
    build_dhcp(spec, lab)
    return lab


def ovs_port_vlan(port: OvsPortSpec) -> PortVlan:
    """nmstate's OVS port ``vlan:`` as the Port columns (``vlan_mode``, ``tag``, ``trunks``)."""
    v = port.vlan
    if v is None:
        return PortVlan()
    trunks = frozenset(vid for tag in v.trunk_tags for vid in tag.vids())
    mode = v.mode
    if mode == "trunk" and v.enable_native:
        mode = "native-untagged"
    return PortVlan(mode, v.tag, trunks)


def build_ovs_ports(lab: Lab, host_name: str, host: HostSpec,
                    created: dict[str, NetDevice]) -> None:
    """``ovs-vsctl add-port`` for the ports the host's OVS bridges list (a VM's tap is
    added when the VM starts), and ``options:peer`` of the patch pairs."""
    patches = {iface.name: iface.patch.peer for iface in host.interfaces
               if isinstance(iface, OvsInterface) and iface.patch is not None}
    made: dict[str, OvsPort] = {}
    for iface in host.interfaces:
        if not isinstance(iface, OvsBridgeInterface):
            continue
        bridge = lab.ovs[f"{host_name}:{iface.name}"]
        for port in iface.bridge.port:
            vlan = ovs_port_vlan(port)
            if port.name in patches or port.name not in created:
                if port.name in patches or not _is_vm_tap(lab, host_name, port.name):
                    made[port.name] = bridge.add_port(None, port.name, vlan)
                continue
            made[port.name] = bridge.add_port(created[port.name], vlan=vlan)
    for name, peer in patches.items():
        if name in made and peer in made and made[name].peer is None:
            connect_patch(made[name], made[peer])


def _is_vm_tap(lab: Lab, host: str, name: str) -> bool:
    from vnetlab.topology.check import tap_names

    return name in {tap for (vm, _), tap in tap_names(lab.spec).items()
                    if lab.spec.vms[vm].host == host}


def _guest_addresses(guest: Endpoint, virtio: VirtioNic, nic: VmInterfaceSpec) -> None:
    addresses = []
    if nic.ipv4 is not None and nic.ipv4.address:
        addresses.append(parse_ip4_prefix(nic.ipv4.address))
        if nic.ipv4.gateway is not None:
            guest.gateway = nic.ipv4.gateway
    guest.add_iface(virtio, addresses, neigh_params(nic.arp) if nic.arp else None)


def build_openstack(spec: TopologySpec, lab: Lab) -> OpenStackCloud | None:
    """The Neutron agents and the VIF plugging of ``openstack:`` (semantics §6)."""
    if spec.openstack is None:
        return None
    os_spec = spec.openstack
    cloud = OpenStackCloud(lab, os_spec.networks, os_spec.agent, os_spec.nova,
                           os_spec.agent.isolate_vif)
    for vm_name, vm in spec.vms.items():
        for index, nic in enumerate(vm.interfaces):
            if nic.network is not None:
                cloud.networks_of[(vm_name, index)] = nic.network
                cloud.macs[(vm_name, index)] = nic.mac
                if nic.port_id is not None:
                    cloud.port_ids[(vm_name, index)] = nic.port_id
    for host_name, host in spec.hosts.items():     # the agents run from boot
        names = {iface.name for iface in host.interfaces}
        if names & set(os_spec.agent.bridge_mappings.values()) \
                or os_spec.agent.integration_bridge in names:
            cloud.agent(host_name)
    lab.openstack = cloud
    return cloud


# -- DHCP (semantics §7, devices/dhcp.py) ----------------------------------------------------

def dhcp_client_params(opts: DhcpClientOptions, boot_delay: int) -> ClientParams:
    """A ``dhcp: true`` interface's knobs over each program's defaults."""
    given: dict[str, Any] = {"client": opts.client, "boot_delay": boot_delay}
    for key in ("dhcp_timeout", "dad_timeout", "autoconnect_retries", "one_try"):
        if getattr(opts, key) is not None:
            given[key] = getattr(opts, key)
    for key in ("timeout", "retry", "select_timeout", "reboot", "backoff_cutoff",
                "initial_interval"):
        if getattr(opts, key) is not None:
            given[key] = getattr(opts, key) // S           # dhclient.conf: whole seconds
    return ClientParams(**given)


def dhcp_server_params(server: DhcpServerSpec) -> ServerParams:
    """dnsmasq raises a lease shorter than two minutes to two minutes (option.c)."""
    return ServerParams(server.pool[0], server.pool[1], max(server.lease_time // S, 120),
                        server.router, server.netmask,
                        tuple((r.mac, r.ip) for r in server.reservations), server.ping_check)


def build_dhcp(spec: TopologySpec, lab: Lab) -> None:
    """Servers and relays on their interfaces, a client per ``dhcp: true`` interface
    started at boot (VMs: after ``boot-delay``; hosts: at 0)."""
    world = lab.dhcp
    servers_on: dict[str, int] = {}

    def serve(node: str, dev: str, server: DhcpServerSpec) -> None:
        endpoint = lab.endpoints[node]
        iface = endpoint.iface_of[lab.devices[f"{node}:{dev}"]]
        index = servers_on.get(node, 0)
        servers_on[node] = index + 1
        dhcp_server = DhcpServer(endpoint, iface, dhcp_server_params(server), index)
        world.agent(endpoint).servers[iface.dev] = dhcp_server
        world.servers.append(dhcp_server)

    horizon = 0
    for host_name, host in spec.hosts.items():
        for iface in host.interfaces:
            if iface.dhcp_server is not None:
                serve(host_name, iface.name, iface.dhcp_server)
            if iface.ipv4 is not None and iface.ipv4.enabled and iface.ipv4.dhcp:
                endpoint = lab.endpoints[host_name]
                ip_iface = endpoint.iface_of[lab.host_devices[host_name][iface.name]]
                ref = f"{host_name}:{iface.name}"
                client = make_client(endpoint, ip_iface, ref, dhcp_client_params(iface.ipv4, 0))
                world.clients[ref] = client
                client.boot(0)
                horizon = max(horizon, client.horizon())
    for vm_name, vm in spec.vms.items():
        for index, nic in enumerate(vm.interfaces):
            if nic.dhcp_server is not None:
                serve(vm_name, f"eth{index}", nic.dhcp_server)
            if nic.ipv4 is not None and nic.ipv4.dhcp:
                # the client's own default (iPXE: the firmware's few seconds)
                boot = (vm.boot_delay if vm.boot_delay is not None
                        else default_boot_delay(nic.ipv4.client))
                endpoint = lab.endpoints[vm_name]
                ip_iface = endpoint.iface_of[lab.devices[f"{vm_name}:eth{index}"]]
                ref = f"{vm_name}:eth{index}"
                client = make_client(endpoint, ip_iface, ref, dhcp_client_params(nic.ipv4, boot))
                world.clients[ref] = client
                client.boot(boot)
                horizon = max(horizon, boot + client.horizon())
    for r_name, router in spec.routers.items():
        for riface in router.interfaces:
            if riface.dhcp_server is not None:
                serve(r_name, riface.name, riface.dhcp_server)
            if riface.dhcp_relay is not None:
                endpoint = lab.endpoints[r_name]
                ip_iface = endpoint.iface_of[lab.devices[f"{r_name}:{riface.name}"]]
                relay = DhcpRelay(endpoint, ip_iface, riface.dhcp_relay.server)
                world.agent(endpoint).relays[ip_iface.dev] = relay
                world.relays.append(relay)
    within = [e.within for e in spec.expect if e.dhcp is not None and e.within is not None]
    lab.min_until = max([horizon, *within]) if world.clients else 0


def host_netfilter(sim: Sim, host_name: str, host: HostSpec) -> Netfilter:
    """The host's netfilter: its ruleset (checked at load time), br_netfilter and
    net.bridge.bridge-nf-call-iptables (1 once the module is loaded, B22)."""
    fw = host.firewall
    assert fw is not None
    built = build_ruleset(fw.preset, fw.iptables, fw.nftables)
    assert not isinstance(built, tuple), "firewall texts are checked at load time"
    call = host.sysctl.get("net.bridge.bridge-nf-call-iptables", 1)
    return Netfilter(sim, host_name, built, br_netfilter=fw.br_netfilter,
                     call_iptables=bool(call))
