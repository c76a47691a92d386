"""The event loop is deterministic and ordered by (time, sequence)."""

from vnetlab.sim.sim import Sim


def test_same_instant_events_run_in_scheduling_order() -> None:
    sim = Sim()
    seen: list[str] = []
    sim.schedule(5, seen.append, "b")
    sim.schedule(1, seen.append, "a")
    sim.schedule(5, seen.append, "c")
    sim.run(10)
    assert seen == ["a", "b", "c"]
    assert sim.events == 3


def test_run_stops_at_until_and_resumes() -> None:
    sim = Sim()
    seen: list[int] = []
    for t in (1, 2, 3):
        sim.schedule(t, seen.append, t)
    sim.run(2)
    assert seen == [1, 2]
    sim.run(3)
    assert seen == [1, 2, 3]


def test_cancelled_timer_does_not_fire() -> None:
    sim = Sim()
    seen: list[int] = []
    timer = sim.timer(1, seen.append, 1)
    sim.timer(2, seen.append, 2)
    timer.cancel()
    sim.run(5)
    assert seen == [2]


def test_rng_is_seeded_by_the_simulation() -> None:
    assert Sim(7).rng.random() == Sim(7).rng.random()
    assert Sim(7).rng.random() != Sim(8).rng.random()
