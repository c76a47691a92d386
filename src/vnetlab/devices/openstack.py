"""OpenStack port wiring on compute hosts and Nova's live migration (semantics §6).

Mirrors:
  * os-vif ``vif_plug_ovs`` (O3): the *hybrid* plug of the iptables_hybrid firewall
    driver, tap -> ``qbrXXX`` Linux bridge (STP off, forward delay 0) -> veth
    ``qvbXXX``/``qvoXXX`` -> ``br-int``; the *direct* plug (openvswitch firewall driver):
    the tap itself is a port of ``br-int``. XXX is the first 11 characters of the
    Neutron port id (``nova.network.model.VIF.id``; names are 14 characters at most).
  * Neutron ``ovs_lib`` (O1): a port created on ``br-int`` is on the dead VLAN
    (``tag=4095``, ``vlan_mode=trunk``, ``trunks=[4095]``), so OVS drops every untagged
    frame from it (``input_vid_is_valid``) until the agent binds it. ``isolate-vif:
    false`` (os-vif's default, and Nova's own plug before os-vif) leaves the new port
    untagged instead; its frames then reach the physical bridge without a local VLAN and
    die at the agent's ``drop_port`` flow there (``in_port=phy-br-eth1 actions=drop``),
    which is what the seed-003 report saw ("qvo's internal tag not yet set, the frame
    matched no VLAN flow of br-int and was dropped").
  * ``neutron-openvswitch-agent`` (O2): ``provision_local_vlan`` (a host-local VLAN per
    network, from 1 up, as ``available_local_vlans`` pops them; the translation flows
    ``in_port=int-br-eth1,dl_vlan=SEG -> mod_vlan_vid:LVID`` on br-int and
    ``in_port=phy-br-eth1,dl_vlan=LVID -> mod_vlan_vid:SEG`` on the physical bridge),
    ``port_bound`` / ``_set_port_vlan`` (``tag=LVID``, trunks cleared) and the
    ``network-vif-plugged`` notification Nova waits for. The agent's processing delay
    (``rpc_loop`` polling, ``get_devices_details``, ``port_bound``) is ``bind-delay``.
  * The O5 race (LP#1901707): with ``wiring: after-activation`` (Rocky to Wallaby,
    before Neutron f8a22c7d4a) the agent leaves a port whose binding is inactive
    unwired until Nova activates the destination binding in post-live-migration,
    i.e. after the guest already runs on the destination; ``on-plug`` wires it as soon
    as it appears.
  * Nova (O4, O6): ``pre_live_migration`` plugs the VIFs on the destination and the
    destination QEMU starts (incoming: its taps exist, it delivers nothing);
    ``live_migration_wait_for_vif_plug`` makes the source wait for
    ``network-vif-plugged`` before the transfer (``vif_plugging_timeout``, fatal or
    not); the transfer (pre-copy) then the final pause (V3, V6); post-live-migration
    unplugs the source VIFs and activates the destination binding
    (``activation-delay`` after the guest resumes).
  * ml2/linuxbridge (O7): the tap appears on the destination outside any bridge; the
    agent adds it to ``brqXXX`` (with the VLAN sub-interface ``PHYS.SEG``) after
    ``bind-delay``; until then what the tap receives goes to the host's own stack.

Limits: one OVS integration bridge per host and VLAN provider networks only (no VXLAN
or GRE tunnels, no ``br-tun``, no OVN); no security-group rules (the hybrid plug's qbr
bridge filters nothing here); the agent binds each port ``bind-delay`` after it appears,
independently (a real ``rpc_loop`` batches the ports of one poll); the Neutron server and
Nova's event API have no latency of their own; the linuxbridge agent's ``brq`` name
uses the network name, not its UUID.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vnetlab.devices.bridge import Bridge
from vnetlab.devices.netdev import Link, LinkedDevice, NetDevice, Nic, Tap
from vnetlab.devices.qemu import AnnounceParams, Migration, QemuVm
from vnetlab.net.addr import tap_mac
from vnetlab.sim.time import Time, format_duration
from vnetlab.sim.trace import Action, DropReason

if TYPE_CHECKING:
    from vnetlab.devices.ovs import OvsBridge
    from vnetlab.sim.sim import Sim, Timer
    from vnetlab.topology.spec import NeutronAgentSpec, NovaSpec, OsNetworkSpec

DEAD_VLAN_TAG = 4095            # neutron_lib.constants.DEAD_VLAN_TAG = MAX_VLAN_TAG + 1


def port_prefix(port_id: str) -> str:
    """The 11 characters of the port id in its device names (nova VIF ``devname``)."""
    return port_id[:11]


@dataclass(eq=False)
class Vif:
    """One Neutron port plugged on one compute host."""

    vm: str
    index: int
    network: str
    host: str
    port_id: str
    tap: Tap
    ovs_port: str = ""              # the br-int port: qvoXXX (hybrid) or tapXXX (direct)
    qbr: Bridge | None = None       # hybrid plug
    veth: tuple[Nic, Nic] | None = None     # (qvb, qvo)
    bound: bool = False
    binding_active: bool = True
    bind_timer: Timer | None = None


class Agent:
    """The L2 agent on one compute host: ``neutron-openvswitch-agent`` or
    ``neutron-linuxbridge-agent`` (O2, O5, O7)."""

    def __init__(self, sim: Sim, host: str, spec: NeutronAgentSpec,
                 networks: dict[str, OsNetworkSpec], isolate_vif: bool = True) -> None:
        self.sim = sim
        self.host = host
        self.spec = spec
        self.networks = networks
        self.isolate_vif = isolate_vif
        self.local_vlans: dict[str, int] = {}
        self._next_lvid = 1
        self.vif_plugged: list[Callable[[Vif, int], None]] = []     # Nova's event listeners
        self.where = f"{host}:neutron-{spec.type}-agent"

    # -- plugging -------------------------------------------------------------------------
    def port_created(self, vif: Vif, cause: int) -> None:
        """The agent sees a new port (ovsdb monitor / ``rpc_loop`` scan): with
        ``on-plug`` wiring, or an active binding, it binds it ``bind-delay`` later (O5)."""
        if self.spec.wiring == "on-plug" or vif.binding_active:
            self._schedule_bind(vif, cause)
        else:
            self.sim.step(self.where, vif.ovs_port or vif.tap.name, Action.NOTE, 0,
                          f"port {vif.ovs_port or vif.tap.name} of {vif.vm} seen; its binding "
                          f"on {self.host} is inactive, so it is not wired before Nova "
                          "activates it (LP#1901707)", "treat_devices_added_or_updated", "O5",
                          cause=cause)

    def binding_activated(self, vif: Vif, cause: int) -> None:
        vif.binding_active = True
        if not vif.bound and vif.bind_timer is None:
            self._schedule_bind(vif, cause)

    def _schedule_bind(self, vif: Vif, cause: int) -> None:
        delay = self.spec.bind_delay
        step = self.sim.step(self.where, vif.ovs_port or vif.tap.name, Action.NOTE, 0,
                             f"port {vif.ovs_port or vif.tap.name} of {vif.vm} seen; wired "
                             f"in {format_duration(delay)} (bind-delay)", "rpc_loop", "O2",
                             cause=cause)
        vif.bind_timer = self.sim.timer(delay, self._bind, vif, step)

    def _bind(self, vif: Vif, cause: int) -> None:
        vif.bind_timer = None
        if vif.bound or vif.host != self.host or vif.tap.node != self.host:
            return
        self.bind(vif, cause)

    def bind(self, vif: Vif, cause: int) -> None:
        raise NotImplementedError

    def plugged(self, vif: Vif, cause: int) -> None:
        vif.bound = True
        for listener in list(self.vif_plugged):
            listener(vif, cause)


class OvsAgent(Agent):
    """neutron-openvswitch-agent with ``bridge_mappings`` to OVS physical bridges."""

    def __init__(self, sim: Sim, host: str, spec: NeutronAgentSpec,
                 networks: dict[str, OsNetworkSpec], br_int: OvsBridge,
                 phys: dict[str, OvsBridge], isolate_vif: bool = True) -> None:
        super().__init__(sim, host, spec, networks, isolate_vif)
        self.br_int = br_int
        self.phys = phys                # physnet -> physical OVS bridge

    def provision_local_vlan(self, network: str, cause: int) -> int:
        """``provision_local_vlan``: the next free local VLAN and the translation flows
        between it and the segmentation id on the patch ports (O2)."""
        lvid = self.local_vlans.get(network)
        if lvid is not None:
            return lvid
        lvid = self.local_vlans[network] = self._next_lvid
        self._next_lvid += 1
        net = self.networks[network]
        seg = net.segmentation_id
        phys = self.phys.get(net.physical_network)
        step = self.sim.step(self.where, "", Action.NOTE, 0,
                             f"network {network} (VLAN {seg}) gets local VLAN {lvid} on "
                             f"{self.host}", "provision_local_vlan", "O2", cause=cause)
        if phys is not None:
            phy_port = f"phy-{phys.name}"
            int_port = f"int-{phys.name}"
            phys.add_flow(f"priority=4,in_port={phy_port},dl_vlan={lvid},"
                          f"actions=mod_vlan_vid:{seg},NORMAL", step)
            self.br_int.add_flow(f"priority=3,in_port={int_port},dl_vlan={seg},"
                                 f"actions=mod_vlan_vid:{lvid},NORMAL", step)
        return lvid

    def bind(self, vif: Vif, cause: int) -> None:
        """``port_bound`` -> ``_set_port_vlan``: the local VLAN as the port's tag, the dead
        VLAN's trunk settings cleared; then ``network-vif-plugged`` (O2)."""
        from vnetlab.devices.ovs import PortVlan

        lvid = self.provision_local_vlan(vif.network, cause)
        step = self.sim.step(self.where, vif.ovs_port, Action.NOTE, 0,
                             f"port_bound: {vif.ovs_port} of {vif.vm} tagged with local VLAN "
                             f"{lvid} ({vif.network}, VLAN "
                             f"{self.networks[vif.network].segmentation_id})", "port_bound",
                             "O2", cause=cause)
        self.br_int.set_port_vlan(vif.ovs_port, PortVlan(mode="access", tag=lvid), step)
        self.plugged(vif, step)

    def new_port_vlan(self) -> Any:
        """How a freshly plugged port sits on br-int until it is bound (O1)."""
        from vnetlab.devices.ovs import PortVlan

        if self.isolate_vif:
            return PortVlan(mode="trunk", tag=DEAD_VLAN_TAG, trunks=frozenset({DEAD_VLAN_TAG}))
        return PortVlan()


class LinuxBridgeAgent(Agent):
    """neutron-linuxbridge-agent (O7): ``brqXXX`` per network with ``PHYS.SEG``."""

    def __init__(self, sim: Sim, host: str, spec: NeutronAgentSpec,
                 networks: dict[str, OsNetworkSpec],
                 ensure_bridge: Callable[[str, str, int], Bridge]) -> None:
        super().__init__(sim, host, spec, networks)
        self.ensure_bridge = ensure_bridge      # (host, network, cause) -> brq

    def bind(self, vif: Vif, cause: int) -> None:
        """``add_tap_interface`` -> ``ensure_network`` + ``_add_tap_interface``."""
        brq = self.ensure_bridge(self.host, vif.network, cause)
        step = self.sim.step(self.where, vif.tap.name, Action.NOTE, 0,
                             f"add_tap_interface: {vif.tap.name} of {vif.vm} added to "
                             f"{brq.name}", "_add_tap_interface", "O7", cause=cause)
        brq.add_port(vif.tap)
        brq.mtu_auto_adjust()
        self.plugged(vif, step)


class IncomingQemu(LinkedDevice):
    """The destination QEMU's end of a tap during an incoming migration: it exists
    (libvirt started it in the Prepare phase, the tap has carrier) but runs nothing,
    so what the host sends into the tap is not delivered (V3)."""

    kind = "virtio"

    def link_rx(self, frame: Any, cause: int, hops: int) -> None:
        self.drop(frame, cause, DropReason.VM_NOT_RUNNING,
                  f"{self.node}'s QEMU on the destination is still receiving the migration: "
                  "the guest does not run yet", "qemu_can_receive_packet", "V3")


class NovaLiveMigration(Migration):
    """``nova live-migration`` of a VM whose NICs are Neutron ports (O4, O6; V3-V7).

    start -> pre_live_migration (destination VIFs plugged, incoming QEMU started)
    -> [wait for network-vif-plugged] -> transfer -> pause (``downtime``; the source
    QEMU is done: its taps and VIFs go, as ``Migration`` does at the pause) -> the guest
    resumes on the destination and announces -> post-live-migration: the destination
    binding is activated ``activation-delay`` later.
    """

    def __init__(self, lab: Any, cloud: OpenStackCloud, qemu: QemuVm, to: str, downtime: Time,
                 params: AnnounceParams, guest_announce: bool, transfer: Time,
                 activation_delay: Time) -> None:
        super().__init__(lab, qemu, to, "", downtime, params, guest_announce)
        self.cloud = cloud
        nova = cloud.nova
        self.transfer = transfer
        self.activation_delay = activation_delay
        self.nova = nova
        self.source_vifs: list[Vif] = []
        self.dest_vifs: list[Vif] = []
        self.waiting: set[int] = set()
        self.timeout: Timer | None = None
        self.transferring = False
        self.aborted = False

    # -- phases --------------------------------------------------------------------------
    def start(self, cause: int) -> None:
        sim = self.qemu.sim
        lab = self.lab
        self.cause = sim.step(self.qemu.name, "", Action.NOTE, 0,
                              f"nova live-migration of {self.qemu.name} to {self.to}: "
                              "pre_live_migration plugs its VIFs there", "pre_live_migration",
                              "O4", cause=cause)
        self.source_vifs = [v for v in self.cloud.vifs.get(self.qemu.name, []) if v.host != self.to]
        agent = self.cloud.agent(self.to)
        wait = self.nova.live_migration_wait_for_vif_plug
        if wait:
            agent.vif_plugged.append(self._vif_plugged)
        for vif in self.source_vifs:
            dest = self.cloud.plug_vif(self.qemu.name, vif.index, self.to, self.cause,
                                       bound=False)
            nic = self.qemu.nics[vif.index]
            incoming = IncomingQemu(sim, self.qemu.name, nic.name, nic.mac)
            lab.links.append(Link(sim, incoming, dest.tap, 0))    # the tap has carrier
            dest.tap.notify_carrier()
            self.dest_vifs.append(dest)
            self.waiting.add(id(dest))
        for dest in self.dest_vifs:
            agent.port_created(dest, self.cause)
        if wait and self.waiting:
            step = sim.step(self.qemu.name, "", Action.NOTE, 0,
                            f"waiting for network-vif-plugged from {self.to} (at most "
                            f"{format_duration(self.nova.vif_plugging_timeout)})",
                            "_live_migration", "O6", cause=self.cause)
            self.timeout = sim.timer(self.nova.vif_plugging_timeout, self._timed_out, step)
        else:
            self._begin_transfer(self.cause)

    def _vif_plugged(self, vif: Vif, cause: int) -> None:
        if id(vif) not in self.waiting or self.transferring or self.aborted:
            return
        self.waiting.discard(id(vif))
        if not self.waiting:
            step = self.qemu.sim.step(self.qemu.name, "", Action.NOTE, 0,
                                      f"network-vif-plugged received from {self.to}",
                                      "_live_migration", "O6", cause=cause)
            if self.timeout is not None:
                self.timeout.cancel()
            self._begin_transfer(step)

    def _timed_out(self, cause: int) -> None:
        sim = self.qemu.sim
        if self.nova.vif_plugging_is_fatal:
            self.aborted = True
            sim.step(self.qemu.name, "", Action.NOTE, 0,
                     f"no network-vif-plugged from {self.to} within "
                     f"{format_duration(self.nova.vif_plugging_timeout)}: migration aborted, "
                     f"{self.qemu.name} stays on its host", "_live_migration", "O6",
                     cause=cause)
            for dest in self.dest_vifs:
                self.cloud.unplug_vif(dest, cause)
            return
        step = sim.step(self.qemu.name, "", Action.NOTE, 0,
                        "no network-vif-plugged in time; vif_plugging_is_fatal is false: "
                        "migrating anyway", "_live_migration", "O6", cause=cause)
        self._begin_transfer(step)

    def _begin_transfer(self, cause: int) -> None:
        self.transferring = True
        sim = self.qemu.sim
        step = sim.step(self.qemu.name, "", Action.NOTE, 0,
                        f"memory transfer of {self.qemu.name} to {self.to} "
                        f"({format_duration(self.transfer)} before the final pause)",
                        "live_migration_operation", "V3", cause=cause)
        sim.schedule(self.transfer, self._switchover, step)

    def _switchover(self, cause: int) -> None:
        """The final pause: the guest stops on the source (V3)."""
        self.pause(cause)
        for vif in self.source_vifs:            # the source QEMU exits: B11b, os-vif unplug
            self.cloud.unplug_vif(vif, self.cause)
        self.qemu.sim.schedule(self.downtime, self.finish)

    def finish(self) -> None:
        """The guest's NICs now feed the destination taps; RARPs, resume (V6); the
        source QEMU exits (its taps go, B11b) and post-live-migration runs."""
        sim = self.qemu.sim
        lab = self.lab
        for nic, dest in zip(self.qemu.nics, self.dest_vifs, strict=False):
            lab.links.append(Link(sim, nic, dest.tap, 0))
            nic.notify_carrier()
            dest.tap.notify_carrier()
        self.cloud.vifs[self.qemu.name] = list(self.dest_vifs)
        self.resume_on_destination()
        step = sim.step(self.qemu.name, "", Action.NOTE, 0,
                        f"post-live-migration: the binding of {self.qemu.name}'s ports on "
                        f"{self.to} is activated in {format_duration(self.activation_delay)}",
                        "post_live_migration_at_destination", "O4", cause=self.cause)
        sim.schedule(self.activation_delay, self._activate, step)

    def _activate(self, cause: int) -> None:
        agent = self.cloud.agent(self.to)
        step = self.qemu.sim.step(self.qemu.name, "", Action.NOTE, 0,
                                  f"binding of {self.qemu.name}'s ports on {self.to} activated",
                                  "activate_binding", "O4", cause=cause)
        for dest in self.dest_vifs:
            agent.binding_activated(dest, step)


class OpenStackCloud:
    """The compute hosts' Neutron agents and every plugged VIF (built from
    ``openstack:``; ``Lab.openstack``)."""

    def __init__(self, lab: Any, networks: dict[str, OsNetworkSpec], agent: NeutronAgentSpec,
                 nova: NovaSpec, isolate_vif: bool = True) -> None:
        self.lab = lab
        self.sim: Sim = lab.sim
        self.networks = networks
        self.agent_spec = agent
        self.nova = nova
        self.isolate_vif = isolate_vif
        self.agents: dict[str, Agent] = {}
        self.vifs: dict[str, list[Vif]] = {}            # VM -> its VIFs where it runs now
        self.port_ids: dict[tuple[str, int], str] = {}  # (VM, NIC index) -> Neutron port id
        self.networks_of: dict[tuple[str, int], str] = {}
        self.macs: dict[tuple[str, int], int] = {}
        self.started = False                            # set once the build is over
        self.built_taps: dict[tuple[str, int], str] = {}   # the taps the build plugged

    # -- agents ----------------------------------------------------------------------------
    def agent(self, host: str) -> Agent:
        agent = self.agents.get(host)
        if agent is None:
            agent = self.agents[host] = self._make_agent(host)
        return agent

    def _make_agent(self, host: str) -> Agent:
        if self.agent_spec.type == "linuxbridge":
            return LinuxBridgeAgent(self.sim, host, self.agent_spec, self.networks,
                                    self._ensure_brq)
        from vnetlab.devices.ovs import OvsBridge

        name = self.agent_spec.integration_bridge
        br_int = self.lab.ovs.get(f"{host}:{name}")
        if br_int is None:                          # setup_integration_br
            br_int = OvsBridge(self.sim, host, name)
            self.lab.ovs[f"{host}:{name}"] = br_int
            self._register(br_int, host)
        phys: dict[str, OvsBridge] = {}
        for physnet, bridge_name in self.agent_spec.bridge_mappings.items():
            bridge = self.lab.ovs.get(f"{host}:{bridge_name}")
            if bridge is None:
                continue
            phys[physnet] = bridge
            self._setup_physical_bridge(br_int, bridge)
        return OvsAgent(self.sim, host, self.agent_spec, self.networks, br_int, phys,
                        self.isolate_vif)

    def _setup_physical_bridge(self, br_int: OvsBridge, phys: OvsBridge) -> None:
        """``setup_physical_bridges``: the int-/phy- patch pair, with the drop flows that
        block untranslated traffic between the two bridges."""
        from vnetlab.devices.ovs import connect_patch

        int_port, phy_port = f"int-{phys.name}", f"phy-{phys.name}"
        a = br_int.ports.get(int_port) or br_int.add_port(None, int_port)
        b = phys.ports.get(phy_port) or phys.add_port(None, phy_port)
        connect_patch(a, b)
        br_int.add_flow(f"priority=2,in_port={int_port},actions=drop", 0)
        phys.add_flow(f"priority=2,in_port={phy_port},actions=drop", 0)

    def _ensure_brq(self, host: str, network: str, cause: int, *, uplink: bool = True
                    ) -> Bridge:
        """``brq<net>`` on ``host`` (os-vif ``ensure_bridge``: STP off, no forward delay);
        with ``uplink`` also the agent's ``ensure_vlan``: ``PHYS.SEG`` made and added to it
        (``ensure_vlan_bridge``, O7)."""
        name = f"brq{port_prefix(network)}"
        ref = f"{host}:{name}"
        brq: Bridge | None = self.lab.bridges.get(ref)
        if brq is None:
            brq = Bridge(self.sim, host, name, None, stp=False, forward_delay=0)
            self.lab.bridges[ref] = brq
            self._register(brq, host)
            self.sim.step(brq.where, "", Action.LINK, 0, f"{name} created for network "
                          f"{network}", "ensure_bridge", "O7", cause=cause)
        if uplink:
            net = self.networks[network]
            phys_name = self.agent_spec.bridge_mappings.get(net.physical_network, "")
            phys = self.lab.host_devices.get(host, {}).get(phys_name)
            vname = f"{phys_name}.{net.segmentation_id}"
            if phys is not None and vname not in self.lab.host_devices[host]:
                from vnetlab.devices.vlan import VlanDevice

                vdev = VlanDevice(self.sim, host, vname, phys, net.segmentation_id)
                vdev.mtu = phys.mtu
                self._register(vdev, host)
                brq.add_port(vdev)
                brq.mtu_auto_adjust()
                self.sim.step(brq.where, vname, Action.LINK, 0,
                              f"{vname} created and added to {name}: network {network} "
                              f"reaches {phys_name} on VLAN {net.segmentation_id}",
                              "ensure_vlan_bridge", "O7", cause=cause)
        return brq

    def _register(self, dev: NetDevice, host: str) -> None:
        """A device made by the cloud: in ``Lab.devices`` while the build runs (time 0),
        in ``Lab.hotplugged`` once the run has started (as ``migrate``'s taps)."""
        ref = f"{host}:{dev.name}"
        if not self.started:
            self.lab.add_device(dev)
        else:
            self.lab.hotplugged[ref] = dev
        self.lab.host_devices.setdefault(host, {})[dev.name] = dev

    # -- os-vif ----------------------------------------------------------------------------
    def port_id(self, vm: str, index: int) -> str:
        return self.port_ids.get((vm, index)) or f"{vm}-{index}"

    def plug_vif(self, vm: str, index: int, host: str, cause: int, *, bound: bool) -> Vif:
        """os-vif ``plug`` and libvirt's tap on ``host``: hybrid or direct into br-int
        (O3), or the tap in ``brq`` (linuxbridge, O7). ``bound``: the port was wired
        before the run (the agent's tag is set, the VLAN sub-interface exists)."""
        agent = self.agent(host)
        network = self.networks_of[(vm, index)]
        port_id = self.port_id(vm, index)
        pid = port_prefix(port_id)
        tap = Tap(self.sim, host, f"tap{pid}", tap_mac(self.macs[(vm, index)]))
        vif = Vif(vm, index, network, host, port_id, tap, binding_active=bound)
        self._register(tap, host)
        if isinstance(agent, OvsAgent):
            self._plug_ovs(agent, vif, cause, bound)
        else:
            brq = self._ensure_brq(host, network, cause, uplink=bound)
            brq.add_port(tap)
            brq.mtu_auto_adjust()
            vif.bound = bound
            self.sim.step(brq.where, tap.name, Action.LINK, 0,
                          f"libvirt added {tap.name} of {vm} to {brq.name}"
                          + ("" if bound else f"; {network}'s VLAN interface is the agent's "
                             "to add"), "virNetDevTapAttachBridge", "O7", cause=cause)
        if bound:
            self.vifs.setdefault(vm, []).append(vif)
            self.built_taps[(vm, index)] = tap.name
        return vif

    def _plug_ovs(self, agent: OvsAgent, vif: Vif, cause: int, bound: bool) -> None:
        from vnetlab.devices.ovs import PortVlan
        from vnetlab.topology.build import generated_mac

        host, pid, tap = vif.host, port_prefix(vif.port_id), vif.tap
        port_dev: NetDevice = tap
        if self.agent_spec.firewall_driver == "iptables_hybrid":
            qbr = Bridge(self.sim, host, f"qbr{pid}", None, stp=False, forward_delay=0)
            self.lab.bridges[f"{host}:{qbr.name}"] = qbr
            qvb = Nic(self.sim, host, f"qvb{pid}", generated_mac(host, f"qvb{pid}"))
            qvo = Nic(self.sim, host, f"qvo{pid}", generated_mac(host, f"qvo{pid}"))
            for dev in (qbr, qvb, qvo):
                self._register(dev, host)
            self.lab.links.append(Link(self.sim, qvb, qvo, 0))
            qbr.add_port(qvb)
            qbr.add_port(tap)
            vif.qbr, vif.veth = qbr, (qvb, qvo)
            port_dev = qvo
        vif.ovs_port = port_dev.name
        if bound:
            vlan = PortVlan(mode="access", tag=agent.provision_local_vlan(vif.network, cause))
            vif.bound = True
        else:
            vlan = agent.new_port_vlan()
        agent.br_int.add_port(port_dev, vlan=vlan)
        self.sim.step(agent.br_int.where, vif.ovs_port, Action.LINK, 0,
                      f"os-vif plugged {vif.vm}'s port {vif.port_id} into {agent.br_int.name} "
                      f"as {vif.ovs_port}" + (
                          "" if bound else
                          (" on the dead VLAN 4095" if self.isolate_vif else " without a tag")
                          + " until the agent binds it"), "plug", "O3" if bound else "O1",
                      cause=cause)

    def unplug_vif(self, vif: Vif, cause: int) -> None:
        """libvirt deletes the tap when QEMU exits (its bridge port goes: B11b); os-vif
        ``unplug`` deletes the br-int port (and with it its MAC entries)."""
        if vif.bind_timer is not None:
            vif.bind_timer.cancel()
            vif.bind_timer = None
        agent = self.agents.get(vif.host)
        if isinstance(agent, OvsAgent) and vif.ovs_port:
            agent.br_int.del_port(vif.ovs_port, cause)
        self.lab.remove_tap(vif.tap, cause)
        vif.host = ""
