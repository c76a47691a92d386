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
from vnetlab.devices.endpoint import Endpoint, NeighParams
from vnetlab.devices.netdev import Link, LinkedDevice, NetDevice, Nic, Tap, VirtioNic
from vnetlab.devices.switch import LagConfig, MacMoveConfig, PortConfig, StpConfig, Switch
from vnetlab.devices.team import LinkWatch, Team, TeamParams, TeamPortParams
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
    EthernetInterface,
    LagSpec,
    LinkWatchSpec,
    LinuxBridgeInterface,
    SwitchSpec,
    TeamInterface,
    TopologySpec,
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


def switch_options(sw: SwitchSpec) -> dict[str, Any]:
    """``mac-move``, ``stp`` and ``port-config`` as the switch takes them (S6-S8)."""
    move = sw.mac_move
    ports = {name: PortConfig(cfg.stp_edge,
                              cfg.port_security.max_macs if cfg.port_security else None,
                              cfg.port_security.violation if cfg.port_security else "shutdown")
             for name, cfg in sw.port_config.items()}
    return {"mac_move": MacMoveConfig(move.action, move.threshold, move.window, move.recovery),
            "stp": StpConfig(sw.stp.enabled, sw.stp.forward_delay, sw.stp.edge_default),
            "port_config": ports}


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
                dev = Bridge(sim, host_name, iface.name, iface.mac_address,
                             ageing_time=options.mac_ageing_time, stp=options.stp.enabled,
                             forward_delay=options.stp.forward_delay)
                lab.bridges[f"{host_name}:{iface.name}"] = dev
            elif isinstance(iface, TeamInterface):
                dev = Team(sim, host_name, iface.name, iface.mac_address, team_params(iface))
            else:
                dev = Bond(sim, host_name, iface.name, iface.mac_address, bond_params(iface))
            dev.source = locate.source(("hosts", host_name, "interfaces", i))
            created[iface.name] = dev
            lab.add_device(dev)
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
        for iface in host.interfaces:                       # then bridges
            if isinstance(iface, LinuxBridgeInterface):
                bridge = created[iface.name]
                assert isinstance(bridge, Bridge)
                for bport in iface.bridge.port:
                    if bport.name in created:         # else a VM tap, added when the VM starts
                        apply_port_flags(bridge.add_port(created[bport.name]), bport)
        stack: Endpoint | None = None
        for iface in host.interfaces:
            if iface.ipv4 is not None and iface.ipv4.enabled and iface.ipv4.address:
                if stack is None:
                    stack = Endpoint(sim, host_name, neigh_params(iface.arp),
                                     iface.ipv4.gateway)
                    lab.endpoints[host_name] = stack
                stack.add_iface(created[iface.name],
                                [(a.ip, a.prefix_length) for a in iface.ipv4.address],
                                neigh_params(iface.arp) if iface.arp else None)
        if stack is not None and host.routes is not None:
            for route in host.routes.config:
                if route.destination in ("0.0.0.0/0", "default"):
                    stack.gateway = route.next_hop_address
        lab.host_devices[host_name] = created

    # -- VMs: the guest NIC, the host tap, the tap in the bridge ---------------------
    taps = tap_names(spec)
    port_settings = {(host_name, iface.name, bport.name): bport
                     for host_name, host in spec.hosts.items() for iface in host.interfaces
                     if isinstance(iface, LinuxBridgeInterface) for bport in iface.bridge.port}
    for vm_name, vm in spec.vms.items():
        guest = Endpoint(sim, vm_name, NeighParams())
        lab.endpoints[vm_name] = guest
        for index, nic in enumerate(vm.interfaces):
            virtio = VirtioNic(sim, vm_name, f"eth{index}", nic.mac)
            tap = Tap(sim, vm.host, taps[(vm_name, index)], tap_mac(nic.mac))
            virtio.source = tap.source = locate.source(("vms", vm_name, "interfaces", index))
            lab.add_device(virtio)
            lab.add_device(tap)
            lab.host_devices[vm.host][tap.name] = tap
            lab.links.append(Link(sim, virtio, tap, 0))
            bridge = lab.bridges[f"{vm.host}:{nic.source}"]
            port = bridge.add_port(tap)
            settings = port_settings.get((vm.host, nic.source, tap.name))
            if settings is not None:
                apply_port_flags(port, settings)
            addresses = []
            if nic.ipv4 is not None and nic.ipv4.address:
                addresses.append(parse_ip4_prefix(nic.ipv4.address))
                if nic.ipv4.gateway is not None:
                    guest.gateway = nic.ipv4.gateway
            guest.add_iface(virtio, addresses, neigh_params(nic.arp) if nic.arp else None)

    # -- switches and routers ---------------------------------------------------------
    for sw_name, sw in spec.switches.items():
        switch = Switch(sim, sw_name, sw.mac_ageing_time, **switch_options(sw))
        for i, port_name in enumerate(sw.ports):
            port_nic = Nic(sim, sw_name, port_name, generated_mac(sw_name, port_name))
            port_nic.source = locate.source(("switches", sw_name, "ports", i))
            switch.add_port(port_nic)
            lab.add_device(port_nic)
        switch.build_logical_ports([lag_config(lag) for lag in sw.lags])
        switch.start()
        lab.switches[sw_name] = switch
    for r_name, router in spec.routers.items():
        stack = Endpoint(sim, r_name, NeighParams(), router.gateway)
        lab.endpoints[r_name] = stack
        for i, riface in enumerate(router.interfaces):
            router_nic = Nic(sim, r_name, riface.name, riface.mac_address)
            router_nic.source = locate.source(("routers", r_name, "interfaces", i))
            lab.add_device(router_nic)
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

    lab.arm_storm_guard()
    lab.default_until = 10 * S
    return lab
