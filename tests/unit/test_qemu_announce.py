"""QEMU self-announce (semantics V4, V5): the times the model sends its RARPs
equal the schedule of net/announce.c, computed here from the formula, and each
frame has the V4 content."""

from __future__ import annotations

import pytest

from vnetlab.devices.endpoint import Endpoint, NeighParams
from vnetlab.devices.netdev import Link, Tap, VirtioNic
from vnetlab.devices.qemu import AnnounceParams, QemuVm
from vnetlab.net.addr import BROADCAST, parse_ip4_prefix, parse_mac, tap_mac
from vnetlab.net.frame import Arp, ArpOp, EtherType, Frame
from vnetlab.sim.sim import Sim
from vnetlab.sim.time import MS, Time

MAC = parse_mac("52:54:00:12:34:01")


def formula_times(p: AnnounceParams, start: Time = 0) -> list[Time]:
    """V5: round 1 at once; with ``left`` rounds remaining after a round the next
    one is ``initial + (rounds - left - 1) * step`` later, ``max`` if that is
    negative or above ``max``."""
    if p.rounds == 0:
        return []
    times = [start]
    for left in range(p.rounds - 1, 0, -1):
        delay = p.initial + (p.rounds - left - 1) * p.step
        if delay < 0 or delay > p.max:
            delay = p.max
        times.append(times[-1] + delay)
    return times


class Recorder:
    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self.got: list[tuple[Time, Frame]] = []

    def rx(self, dev: object, frame: Frame, cause: int) -> None:
        self.got.append((self.sim.now, frame))


def run_announce(params: AnnounceParams, at: Time = 0, nics: int = 1
                 ) -> list[list[tuple[Time, Frame]]]:
    sim = Sim()
    guest = Endpoint(sim, "vm1", NeighParams())
    recorders, virtios = [], []
    for i in range(nics):
        virtio = VirtioNic(sim, "vm1", f"eth{i}", MAC + i)
        tap = Tap(sim, "kvm1", f"vnet{i}", tap_mac(MAC + i))
        Link(sim, virtio, tap, 0)
        guest.add_iface(virtio, [parse_ip4_prefix(f"192.168.10.{21 + i}/24")])
        rec = Recorder(sim)
        tap.stack = rec
        recorders.append(rec)
        virtios.append(virtio)
    qemu = QemuVm(sim, "vm1", virtios, guest)
    sim.schedule(at, qemu.qemu_announce_self, params, 0)
    sim.run(at + 60_000 * MS)
    return [rec.got for rec in recorders]


def test_default_schedule_is_0_50_200_450_800_ms() -> None:
    p = AnnounceParams()
    assert (p.initial, p.max, p.rounds, p.step) == (50 * MS, 550 * MS, 5, 100 * MS)
    assert formula_times(p) == [0, 50 * MS, 200 * MS, 450 * MS, 800 * MS]   # V5 text
    got = run_announce(p)[0]
    assert [t for t, _ in got] == formula_times(p)


@pytest.mark.parametrize("params", [
    AnnounceParams(),
    AnnounceParams(initial=10 * MS, max=1000 * MS, rounds=8, step=200 * MS),   # capped at max
    AnnounceParams(initial=100 * MS, max=100 * MS, rounds=3, step=0),
    AnnounceParams(initial=50 * MS, max=550 * MS, rounds=1, step=100 * MS),
    AnnounceParams(initial=50 * MS, max=550 * MS, rounds=0, step=100 * MS),
    AnnounceParams(initial=700 * MS, max=550 * MS, rounds=4, step=100 * MS),   # initial > max
])
def test_model_times_equal_formula(params: AnnounceParams) -> None:
    at = 1234 * MS
    for got in run_announce(params, at, nics=2):      # one RARP per NIC per round
        assert [t for t, _ in got] == formula_times(params, at)


def test_frame_is_v4_rarp() -> None:
    for got in run_announce(AnnounceParams(rounds=2), nics=2):
        for _, frame in got:
            mac = frame.src
            assert frame.dst == BROADCAST
            assert frame.ethertype == EtherType.RARP == 0x8035
            assert frame.payload == Arp(ArpOp.RARP_REQUEST, sha=mac, spa=0, tha=mac, tpa=0)
            assert int(ArpOp.RARP_REQUEST) == 3
            assert frame.length == 60                 # 42 bytes + 18 zero padding, no FCS
    assert {f.src for g in run_announce(AnnounceParams(rounds=1), nics=2) for _, f in g} \
        == {MAC, MAC + 1}


# -- golden timelines --------------------------------------------------------------------------

GOLDEN = __import__("pathlib").Path(__file__).parent / "golden" / "announce-timelines.txt"
TIMELINE_PARAMS = [
    AnnounceParams(),                                            # migration defaults (V5)
    AnnounceParams(rounds=10),                                   # migrate-set-parameters
    AnnounceParams(rounds=1),
    AnnounceParams(initial=100 * MS, max=1000 * MS, rounds=6, step=300 * MS),
    AnnounceParams(initial=600 * MS, max=550 * MS, rounds=4, step=100 * MS),   # initial > max
    AnnounceParams(initial=50 * MS, max=550 * MS, rounds=4, step=0),
]


def timeline_text() -> str:
    lines = ["# QEMU self-announce send times (ms after the start) per parameter set, as the",
             "# model sends them (each also checked against net/announce.c's formula).",
             "# Regenerate: pytest --update-golden."]
    for p in TIMELINE_PARAMS:
        (got,) = run_announce(p)
        assert [t for t, _ in got] == formula_times(p)           # net/announce.c
        times = " ".join(f"{t // MS}" for t, _ in got)
        lines.append(f"initial={p.initial // MS}ms max={p.max // MS}ms rounds={p.rounds} "
                     f"step={p.step // MS}ms: {times}")
    return "\n".join(lines) + "\n"


def test_announce_timelines_match_the_golden_file(request: pytest.FixtureRequest) -> None:
    text = timeline_text()
    if request.config.getoption("--update-golden"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert GOLDEN.read_text() == text
    assert "rounds=5 step=100ms: 0 50 200 450 800\n" in text     # the V5 defaults
