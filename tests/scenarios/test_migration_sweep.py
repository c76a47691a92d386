"""Seed 003 case 2 as a race (issue: live migration and race sweeps): the probability of
the outage under a plausible Neutron agent delay is in the seed's range, each fix takes it
to zero, and a Dask LocalCluster gives the local table for the same seed. Every number
comes from the model running (``vnetlab.sweep``), none is written here but the bounds."""

from __future__ import annotations

import os
from typing import Any

import pytest

from vnetlab.catalog import case_paths
from vnetlab.sweep import execute, make_plan, summaries

# the agent's rpc_loop polls every 2 s, then ~0.3-1.3 s of processing (semantics O2)
AGENT = "agent.bind_delay=uniform(0.3s,3.3s)"
THRESHOLD = 2_000_000_000           # vm2 loses vm1 for more than 2 s


def probability(case: str, options: list[str], runs: int, seed: int = 7) -> list[Any]:
    plan = make_plan(str(case_paths()[case]), options, runs=runs, seed=seed, metric="outage")
    result = execute(plan, jobs=2)
    assert result.complete
    return summaries(plan, result, "outage", THRESHOLD)


def test_the_race_loses_one_or_two_times_in_ten() -> None:
    (row,) = probability("migration-ovs-rarp-lost", [AGENT], 400)
    lo, hi = row.ci95
    assert 0.07 <= row.p <= 0.23, row.to_json()
    assert lo <= 0.2 and hi >= 0.1                 # the seed's "1-2 times in 10" is inside


@pytest.mark.parametrize(("case", "extra"), [
    ("migration-ovs-wait-for-vif-plug", []),                     # O6
    ("migration-ovs-rarp-lost", ["announce.rounds=[10]"]),       # V5: more rounds
])
def test_each_fix_takes_the_probability_to_zero(case: str, extra: list[str]) -> None:
    (row,) = probability(case, [AGENT, *extra], 150)
    assert row.outages == 0, row.to_json()


def test_wiring_after_activation_loses_every_time_and_its_fix_leaves_the_race() -> None:
    (row,) = probability("migration-ovs-wiring-after-activation", [AGENT], 60)
    assert row.outages == row.runs                 # LP#1901707: the RARPs never get through
    # Neutron f8a22c7d4a wires on plug: back to the seed's race, not to zero
    (fixed,) = probability("migration-ovs-wiring-after-activation-fixed", [AGENT], 400)
    (race,) = probability("migration-ovs-rarp-lost", [AGENT], 400)
    assert fixed.to_json() == race.to_json()


def test_a_dask_cluster_gives_the_local_table_for_the_seed_race() -> None:
    if os.environ.get("CI") == "true":
        import distributed
    else:
        distributed = pytest.importorskip("distributed")
    plan = make_plan(str(case_paths()["migration-ovs-rarp-lost"]),
                     [AGENT, "announce.rounds=[1, 5]"], runs=60, seed=11, metric="outage")
    local = execute(plan, jobs=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster:
        remote = execute(plan, dask=cluster.scheduler_address)
    assert remote.complete
    assert [s.to_json() for s in summaries(plan, remote, "outage", THRESHOLD)] == [
        s.to_json() for s in summaries(plan, local, "outage", THRESHOLD)]
    assert sorted(repr(r.to_json()) for r in remote.records) == sorted(
        repr(r.to_json()) for r in local.records)
