"""QEMU's self-announce and a live migration between Linux-bridge hosts.

Mirrors (semantics §5):
  * ``net/announce.c``: ``AnnounceTimer``, ``qemu_announce_timer_step``,
    ``qemu_announce_self``, ``qemu_announce_self_once``, ``announce_self_create``
    (V4 frame, V5 schedule). The first round goes out at once; after each round
    ``round`` (the rounds remaining) is decremented and, if rounds remain, the next
    one is ``initial + (rounds - round - 1) * step`` later, capped at ``max`` (a
    negative value also takes ``max``). Defaults (``migration/options.c``,
    DEFAULT_MIGRATE_ANNOUNCE_*): 50/550/5/100 ms -> rounds at 0, 50, 200, 450, 800 ms.
    The timer is on QEMU_CLOCK_REALTIME: it runs while the guest is paused.
  * ``hw/net/virtio-net.c``: with VIRTIO_NET_F_GUEST_ANNOUNCE negotiated,
    ``virtio_net_post_load_device`` arms a second announce timer on
    QEMU_CLOCK_VIRTUAL with the same parameters, firing as soon as the guest runs;
    each round (``virtio_net_announce_timer``) asks the guest to announce
    (VIRTIO_NET_S_ANNOUNCE + config interrupt), the guest sends one gratuitous ARP
    per IPv4 address (``netdev_notify_peers``) and ACKs, and on the ACK
    (``virtio_net_handle_announce``) the next round is stepped (V7).
  * ``migration/migration.c :: process_incoming_migration_bh``: the RARPs go out
    when the incoming migration ends, then the guest runs (V6).

The RARP is injected with ``qemu_send_packet_raw`` on the NIC's queue: it
leaves through the tap backend, so the host sees it arrive on the tap as if
the guest had sent it (V4).

Limitations: pre-copy only (no post-copy); the migration is one stop-and-copy
pause of ``downtime`` (no dirty-page iterations, no bandwidth); the guest's
virtual clock equals the real one once it runs; the guest ACKs an announce at
once; the QMP ``announce-self`` does not call virtio-net's own ``announce``
hook (the guest is not asked to announce); Linux-bridge hosts only (no OVS,
no Neutron port wiring delay); ``interfaces``/``id`` of announce-self are not
modelled (every NIC of the VM announces).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Protocol

from vnetlab.devices.netdev import Link, Tap, VirtioNic
from vnetlab.net.addr import mac_str
from vnetlab.net.frame import Frame, gratuitous_arp, rarp_announce
from vnetlab.sim.time import MS, Time, format_duration
from vnetlab.sim.trace import Action, DropReason

if TYPE_CHECKING:
    from vnetlab.devices.endpoint import Endpoint
    from vnetlab.sim.sim import Sim, Timer


@dataclass(frozen=True, slots=True)
class AnnounceParams:
    """struct AnnounceParameters (qapi/net.json), defaults DEFAULT_MIGRATE_ANNOUNCE_*
    of migration/options.c (V5)."""

    initial: Time = 50 * MS
    max: Time = 550 * MS
    rounds: int = 5
    step: Time = 100 * MS


class AnnounceTimer:
    """struct AnnounceTimer (net/announce.h): parameters, ``round`` = rounds left."""

    def __init__(self, sim: Sim, clock: str) -> None:
        self.sim = sim
        self.clock = clock                  # "realtime" or "virtual" (QEMUClockType)
        self.params = AnnounceParams()
        self.round = 0
        self.tm: Timer | None = None
        self.cb: Callable[[], None] = lambda: None

    def reset(self, params: AnnounceParams, cb: Callable[[], None]) -> None:
        """qemu_announce_timer_reset()."""
        self.delete()
        self.params = params
        self.round = params.rounds
        self.cb = cb

    def step(self) -> Time:
        """qemu_announce_timer_step(): arm the timer for the next round (V5)."""
        p = self.params
        step = p.initial + (p.rounds - self.round - 1) * p.step
        if step < 0 or step > p.max:
            step = p.max
        self.tm = self.sim.timer(step, self.cb)
        return step

    def delete(self) -> None:
        """qemu_announce_timer_del()."""
        if self.tm is not None:
            self.tm.cancel()
            self.tm = None


def inject_from_nic(nic: VirtioNic, frame: Frame, cause: int) -> None:
    """qemu_send_packet_raw() on the NIC's queue: the frame leaves through the
    tap backend and arrives on the host tap as if the guest had sent it (V4)."""
    tap = nic.peer
    if tap is None:
        return
    nic.sim.push(nic.sim.now + nic.delay, tap.link_rx, (frame, cause, 1))


class QemuVm:
    """The QEMU process of one VM: its NICs and the self-announce timer."""

    def __init__(self, sim: Sim, name: str, nics: list[VirtioNic], guest: Endpoint) -> None:
        self.sim = sim
        self.name = name
        self.nics = nics
        self.guest = guest
        self.announce_timer = AnnounceTimer(sim, "realtime")
        self.root = 0
        self.running = True
        self.guest_announce = False         # VIRTIO_NET_F_GUEST_ANNOUNCE negotiated (V7)
        self.virtio_timers: dict[VirtioNic, AnnounceTimer] = {}

    # -- net/announce.c ---------------------------------------------------------------
    def qemu_announce_self(self, params: AnnounceParams, cause: int) -> None:
        """qemu_announce_self(): reset the REALTIME timer, first round at once (V5)."""
        self.root = self.sim.step(
            self.name, "", Action.NOTE, 0,
            f"announce: {params.rounds} round(s), initial {format_duration(params.initial)}, "
            f"step {format_duration(params.step)}, max {format_duration(params.max)} "
            "(QEMU_CLOCK_REALTIME)", "qemu_announce_self", "V5", cause=cause)
        self.announce_timer.reset(params, self.qemu_announce_self_once)
        if params.rounds:
            self.qemu_announce_self_once()
        else:
            self.announce_timer.delete()

    def qemu_announce_self_once(self) -> None:
        """qemu_announce_self_once(): one RARP per NIC, then step or stop (V5)."""
        timer = self.announce_timer
        left = timer.round
        cause = self.sim.step(self.name, "", Action.NOTE, 0,
                              f"announce round {timer.params.rounds - left + 1} of "
                              f"{timer.params.rounds}", "qemu_announce_self_once", "V5",
                              cause=self.root)
        for nic in self.nics:                            # qemu_foreach_nic
            self.qemu_announce_self_iter(nic, cause)
        timer.round -= 1
        if timer.round:
            timer.step()
        else:
            timer.delete()

    def qemu_announce_self_iter(self, nic: VirtioNic, cause: int) -> None:
        """announce_self_create() + qemu_send_packet_raw() (V4)."""
        frame = rarp_announce(self.sim.new_uid(), nic.mac)
        # not a transmit of the guest NIC (a capture in the guest would not see it):
        # QEMU writes the frame to the tap backend directly
        step = self.sim.step(self.name, nic.name, Action.NOTE, frame.uid,
                             f"QEMU sent RARP announce for {mac_str(nic.mac)} into the tap "
                             f"of {nic.name}", "qemu_announce_self_iter", "V4", cause=cause)
        inject_from_nic(nic, frame, step)

    # -- hw/net/virtio-net.c (V7) -------------------------------------------------------
    def virtio_net_post_load_device(self, params: AnnounceParams) -> None:
        """Arm the per-NIC QEMU_CLOCK_VIRTUAL announce timer when the guest
        negotiated GUEST_ANNOUNCE; it fires as soon as the guest runs."""
        if not self.guest_announce:
            return
        for nic in self.nics:
            timer = AnnounceTimer(self.sim, "virtual")
            timer.reset(params, partial(self.virtio_net_announce_timer, nic))
            self.virtio_timers[nic] = timer

    def start_virtual_timers(self) -> None:
        """vm_start(): QEMU_CLOCK_VIRTUAL runs; due timers fire at once."""
        for timer in self.virtio_timers.values():
            if timer.round:
                timer.tm = self.sim.timer(0, timer.cb)

    def virtio_net_announce_timer(self, nic: VirtioNic) -> None:
        """virtio_net_announce_timer(): round--, VIRTIO_NET_S_ANNOUNCE, config
        interrupt; the guest's virtnet_config_changed_work -> netdev_notify_peers
        sends one gratuitous ARP per IPv4 address, then ACKs (V7)."""
        timer = self.virtio_timers[nic]
        timer.round -= 1
        cause = self.sim.step(nic.where, nic.name, Action.NOTE, 0,
                              "VIRTIO_NET_S_ANNOUNCE: guest asked to announce (round "
                              f"{timer.params.rounds - timer.round} of {timer.params.rounds})",
                              "virtio_net_announce_timer", "V7", cause=self.root)
        iface = self.guest.iface_of.get(nic)
        for addr, _ in (iface.addresses if iface is not None else []):
            frame = gratuitous_arp(self.sim.new_uid(), nic.mac, addr)
            step = self.sim.step(self.guest.where, nic.name, Action.TRANSMIT, frame.uid,
                                 f"sent {frame.payload.describe()}", "netdev_notify_peers",
                                 "V7", cause=cause)
            nic.xmit(frame, step, 0)
        self.virtio_net_handle_announce(nic)

    def virtio_net_handle_announce(self, nic: VirtioNic) -> None:
        """VIRTIO_NET_CTRL_ANNOUNCE_ACK: step the timer if rounds remain (V7)."""
        timer = self.virtio_timers[nic]
        if timer.round:
            timer.step()


class Migration:
    """One ``migrate`` action (V3, V6, V7, B11b). ``lab`` provides devices,
    bridges and the bookkeeping of the build."""

    def __init__(self, lab: MigrationLab, qemu: QemuVm, to: str, bridge: str, downtime: Time,
                 params: AnnounceParams, guest_announce: bool) -> None:
        self.lab = lab
        self.qemu = qemu
        self.to = to
        self.bridge = bridge
        self.downtime = downtime
        self.params = params
        self.guest_announce = guest_announce
        self.cause = 0

    def start(self, cause: int) -> None:
        """Stop-and-copy on the source: the guest pauses (sends nothing, frames to
        it are lost), QEMU exits and libvirt deletes its taps: br_del_if (B11b)."""
        sim = self.qemu.sim
        self.pause(cause)
        for nic in self.qemu.nics:
            tap = nic.peer
            if isinstance(tap, Tap):
                self.lab.remove_tap(tap, self.cause)
        sim.schedule(self.downtime, self.finish)

    def pause(self, cause: int) -> None:
        """migration_completion: the guest stops; what it would send is lost (V3, V6)."""
        self.cause = self.qemu.sim.step(self.qemu.name, "", Action.NOTE, 0,
                                        f"{self.qemu.name} paused for migration to {self.to} "
                                        f"(downtime {format_duration(self.downtime)})",
                                        "migration_completion", "V6", cause=cause)
        self.qemu.running = False
        for nic in self.qemu.nics:
            nic.peer_rx = self._paused_tx(nic)

    def _paused_tx(self, nic: VirtioNic) -> Callable[[Frame, int, int], None]:
        def lost(frame: Frame, cause: int, hops: int) -> None:
            nic.drop(frame, cause, DropReason.NO_CARRIER,
                     f"{self.qemu.name} is paused for migration: nothing leaves the guest",
                     "migration_completion", "V3")
        return lost

    def finish(self) -> None:
        """The destination: taps join ``bridge`` (V3), process_incoming_migration_bh
        sends the RARPs at once (V6, V5), the guest resumes; with GUEST_ANNOUNCE
        its GARPs follow on the virtual clock (V7)."""
        for nic in self.qemu.nics:
            self.lab.add_tap(nic, self.to, self.bridge, self.cause)
        self.resume_on_destination()

    def resume_on_destination(self) -> None:
        """process_incoming_migration_bh: the RARPs at once (V6, V5), the guest runs,
        its GUEST_ANNOUNCE timers start (V7)."""
        sim = self.qemu.sim
        qemu = self.qemu
        qemu.guest_announce = self.guest_announce
        qemu.virtio_net_post_load_device(self.params)        # during the device-state load
        step = sim.step(qemu.name, "", Action.NOTE, 0,
                        f"incoming migration of {qemu.name} on {self.to} complete",
                        "process_incoming_migration_bh", "V6", cause=self.cause)
        qemu.qemu_announce_self(self.params, step)
        qemu.running = True
        sim.step(qemu.name, "", Action.NOTE, 0, f"{qemu.name} resumed on {self.to}",
                 "vm_start", "V6", cause=step)
        qemu.start_virtual_timers()


class MigrationLab(Protocol):
    """What a migration needs from the lab (``Lab``)."""

    links: list[Link]

    def remove_tap(self, tap: Tap, cause: int) -> None: ...

    def add_tap(self, nic: VirtioNic, host: str, bridge: str, cause: int) -> Tap: ...
