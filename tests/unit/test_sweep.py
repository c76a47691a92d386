"""`vnetlab sweep` pieces: --vary paths and specs, drawing, patching, statistics, the
per-run records and the streamed file (truncated last line, mismatched header)."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from vnetlab.catalog import case_paths
from vnetlab.sweep import execute, make_plan
from vnetlab.sweep.measure import NEVER, RunRecord, from_row, run_chunk, to_row
from vnetlab.sweep.stats import judge, nearest_rank, summarize, wilson
from vnetlab.sweep.store import StoreError, Writer, read_existing
from vnetlab.sweep.vary import (
    Sel,
    VaryError,
    combinations,
    parse_path,
    parse_vary,
    patched,
    resolve,
    resolve_path,
)

STP_DHCP = str(case_paths()["stp-forward-delay-dhcp"])
FD = "hosts.kvm1.interfaces[br0].bridge.options.stp.forward-delay"

DOC: dict[str, Any] = {
    "vms": {"vm1": {"host": "kvm1", "interfaces": [{"source": "br0"}]}},
    "hosts": {"kvm1": {"interfaces": [{"name": "eno1"}, {"name": "br0", "bridge": {
        "options": {"stp": {"forward-delay": 15}}}}]}},
    "run": [{"at": "1s", "ping": {"count": 3}}],
}


# -- paths ------------------------------------------------------------------------------------

def test_paths_select_keys_list_items_by_name_and_by_index() -> None:
    assert parse_path("o", FD) == ("hosts", "kvm1", "interfaces", Sel("br0"), "bridge",
                                   "options", "stp", "forward-delay")
    assert parse_path("o", "run[0].at") == ("run", 0, "at")
    assert resolve_path("o", parse_path("o", FD), DOC) == (
        "hosts", "kvm1", "interfaces", 1, "bridge", "options", "stp", "forward-delay")
    assert resolve_path("o", parse_path("o", "run[0].ping.count"), DOC) == (
        "run", 0, "ping", "count")
    # the last key of a mapping may be new: boot-delay is added to vm1
    assert resolve_path("o", parse_path("o", "vms.vm1.boot-delay"), DOC) == (
        "vms", "vm1", "boot-delay")


def test_a_path_not_from_the_top_names_every_place_it_ends() -> None:
    doc = copy.deepcopy(DOC)
    doc["run"].append({"at": "2s", "migrate": {"vm": "vm1", "announce": {"rounds": 5}}})
    doc["openstack"] = {"agent": {"bind-delay": "1s"}}
    doc["hosts"]["kvm2"] = copy.deepcopy(doc["hosts"]["kvm1"])
    rounds, bind, delay, count = resolve([parse_vary("announce.rounds=[1, 10]"),
                                          parse_vary("agent.bind_delay=uniform(0ms,3s)"),
                                          parse_vary("stp.forward_delay=[2]"),
                                          parse_vary("ping.count=[7]")], doc)
    assert rounds.paths == (("run", 1, "migrate", "announce", "rounds"),)
    assert bind.paths == (("openstack", "agent", "bind-delay"),)       # _ read as -
    assert delay.paths == tuple(("hosts", h, "interfaces", 1, "bridge", "options", "stp",
                                 "forward-delay") for h in ("kvm1", "kvm2"))  # both hosts
    out = patched(doc, [(p, v.grid[0].doc) for v in (rounds, delay) for p in v.paths])
    assert [out["hosts"][h]["interfaces"][1]["bridge"]["options"]["stp"]["forward-delay"]
            for h in ("kvm1", "kvm2")] == [2, 2]
    assert count.paths == (("run", 0, "ping", "count"),)
    with pytest.raises(VaryError, match="nor the end of any path"):
        resolve([parse_vary("agent.nothing.here=[1]")], doc)


@pytest.mark.parametrize(("option", "words"), [
    ("vms.vm9.boot-delay=[1s]", "no key 'vm9' in vms (keys: vm1)"),
    ("hosts.kvm1.interfaces[br9].mtu=[1500]", "no item named 'br9' in hosts.kvm1.interfaces "
                                              "(names: eno1, br0"),
    ("run[3].at=[1s]", "run[3]: index out of range (run has 1 item)"),
    ("vms.vm1.host.x=[1]", "vms.vm1.host is the value 'kvm1', not a mapping"),
    ("vms[0].host=[1]", "vms is a mapping, not a list"),
    ("vms.vm1.interfaces[eth0].mac=[1]", "its items have no name; select by index"),
    ("vms.vm1.nothing.boot-delay=[1s]", "no key 'nothing' in vms.vm1"),
])
def test_a_path_that_does_not_resolve_names_the_missing_step(option: str, words: str) -> None:
    with pytest.raises(VaryError) as info:
        resolve([parse_vary(option)], DOC)
    assert words in str(info.value)
    assert str(info.value).startswith(f"--vary '{option}': ")


@pytest.mark.parametrize(("option", "words"), [
    ("vms.vm1.boot-delay", "expected PATH=SPEC"),
    ("=[1]", "empty PATH"),
    ("vms.vm1.boot-delay=", "empty SPEC"),
    ("vms..x=[1]", "expected a key at character 5"),
    ("run[0.at=[1]", "'[' without ']'"),
    ("run[].at=[1]", "empty []"),
    ("vms.vm1.boot-delay=[]", "is not a non-empty list"),
    ("vms.vm1.boot-delay=[1, 2", "cannot read"),
    ("vms.vm1.boot-delay=gauss(1s,2s)", "unknown distribution 'gauss' (known: uniform, normal"),
    ("vms.vm1.boot-delay=3s", "neither a list like [1, 3, 5] nor a distribution"),
    ("vms.vm1.boot-delay=uniform(3s)", "uniform() takes 2 arguments: uniform(A, B)"),
    ("vms.vm1.boot-delay=uniform(5s,1s)", "uniform(A, B) needs A <= B"),
    ("vms.vm1.boot-delay=uniform(1s,abc)", "'abc' is not a duration"),
    ("vms.vm1.boot-delay=uniform(1,abc)", "'abc' is not a number"),
    ("vms.vm1.boot-delay=normal(1s,-2s)", "'-2s' is not a duration"),
    ("vms.vm1.boot-delay=normal(1,-2)", "needs SIGMA >= 0"),
    ("vms.vm1.boot-delay=lognormal(2s,1s)", "SHAPE is the spread of the logarithm"),
    ("vms.vm1.boot-delay=lognormal(0s,1)", "needs MEDIAN > 0"),
    ("vms.vm1.boot-delay=exp(0s)", "exp(MEAN) needs MEAN > 0"),
    ("vms.vm1.boot-delay=exp(1s,2s)", "exp() takes 1 argument: exp(MEAN)"),
    ("vms.vm1.boot-delay=randint(1s,2s)", "randint() draws integers"),
    ("vms.vm1.boot-delay=randint(1.5,2)", "randint(A, B) needs whole numbers"),
    ("vms.vm1.boot-delay=choice([])", "choice() needs a non-empty list"),
])
def test_a_malformed_option_says_what_is_wrong(option: str, words: str) -> None:
    with pytest.raises(VaryError) as info:
        parse_vary(option)
    assert words in info.value.message, info.value.message


def test_two_options_on_one_value_or_nested_paths_are_refused() -> None:
    with pytest.raises(VaryError, match="names the same value"):
        resolve([parse_vary(f"{FD}=[15]"), parse_vary(f"{FD}=uniform(1,2)")], DOC)
    with pytest.raises(VaryError, match="overlaps"):
        resolve([parse_vary("run[0].ping=[{count: 1}]"), parse_vary("run[0].ping.count=[2]")],
                DOC)


# -- specs ------------------------------------------------------------------------------------

def test_grid_values_go_into_the_document_as_written_and_durations_are_recorded_in_ns() -> None:
    vary = parse_vary("vms.vm1.boot-delay=[0s, 250ms, 3]")
    assert [(v.doc, v.record) for v in vary.grid] == [("0s", 0), ("250ms", 250_000_000),
                                                      (3, 3)]
    names = parse_vary("hosts.kvm1.interfaces[bond0].link-aggregation.mode=[active-backup, 4]")
    assert [v.doc for v in names.grid] == ["active-backup", 4]


def test_the_grid_is_the_cartesian_product_with_the_first_axis_slowest() -> None:
    varies = resolve([parse_vary(f"{FD}=[15, 18]"), parse_vary("vms.vm1.boot-delay=uniform(0s,1s)"),
                      parse_vary("run[0].ping.count=[1, 2, 3]")], DOC)
    combos = combinations(varies)
    assert [[v.doc for v in c] for c in combos] == [[15, 1], [15, 2], [15, 3], [18, 1], [18, 2],
                                                    [18, 3]]
    assert combinations(resolve([parse_vary("vms.vm1.boot-delay=exp(1s)")], DOC)) == [()]


def draws(option: str, n: int = 4000, seed: str = "t") -> list[Any]:
    vary = parse_vary(option)
    assert vary.dist is not None
    rng = random.Random(seed)
    return [vary.dist.draw(rng).record for _ in range(n)]


def test_duration_distributions_draw_whole_nanoseconds_within_their_support() -> None:
    values = draws("x=uniform(2s, 4500ms)")
    assert all(isinstance(v, int) and 2_000_000_000 <= v <= 4_500_000_000 for v in values)
    mean = sum(values) / len(values)
    assert abs(mean - 3.25e9) < 0.05e9
    # normal() durations are clipped at 0: with MU = 0 half the draws are exactly 0
    clipped = draws("x=normal(0s, 1s)")
    assert min(clipped) == 0 and 0.4 < clipped.count(0) / len(clipped) < 0.6
    # a bare number is seconds as in the topology format once any argument has a unit
    assert all(0 <= v <= 2_000_000_000 for v in draws("x=uniform(0, 2s)"))


def test_exp_lognormal_randint_and_choice_draw_what_they_say() -> None:
    exp = draws("x=exp(2s)", 20000)
    assert abs(sum(exp) / len(exp) - 2e9) < 0.1e9
    logn = sorted(draws("x=lognormal(3s, 0.5)", 20001))
    assert abs(logn[10000] - 3e9) < 0.1e9               # MEDIAN is the median
    ints = draws("x=randint(1, 3)")
    assert set(ints) == {1, 2, 3} and all(isinstance(v, int) for v in ints)
    picked = draws("x=choice([100ms, fast, 7])")
    assert set(picked) == {100_000_000, "fast", 7}
    plain = draws("x=normal(10, 3)", 10000)              # numbers are not clipped
    assert all(isinstance(v, float) for v in plain) and abs(sum(plain) / len(plain) - 10) < 0.2


def test_patching_copies_only_the_way_to_each_value() -> None:
    doc = copy.deepcopy(DOC)
    before = json.dumps(doc, sort_keys=True)
    varies = resolve([parse_vary(f"{FD}=[20]"), parse_vary("vms.vm1.boot-delay=[3s]")], doc)
    out = patched(doc, [(p, v.grid[0].doc) for v in varies for p in v.paths])
    assert json.dumps(doc, sort_keys=True) == before          # untouched
    assert out["hosts"]["kvm1"]["interfaces"][1]["bridge"]["options"]["stp"]["forward-delay"] == 20
    assert out["vms"]["vm1"]["boot-delay"] == "3s"
    assert out["run"] is doc["run"]                            # shared, not copied
    assert out["hosts"]["kvm1"]["interfaces"][0] is doc["hosts"]["kvm1"]["interfaces"][0]


def test_runs_leave_the_workers_document_as_it_was() -> None:
    plan = make_plan(STP_DHCP, ["vms.vm1.boot-delay=uniform(0s,20s)", f"{FD}=[15, 21]"],
                     runs=5, seed=3)
    before = json.dumps(plan.ctx.doc, sort_keys=True)
    first = run_chunk(plan.ctx, plan.pairs())
    assert json.dumps(plan.ctx.doc, sort_keys=True) == before
    assert [r.to_json() for r in run_chunk(plan.ctx, plan.pairs())] == [r.to_json()
                                                                         for r in first]


# -- statistics -------------------------------------------------------------------------------

def test_wilson_interval_matches_newcombes_published_examples() -> None:
    # Newcombe, "Two-sided confidence intervals for the single proportion" (Stat Med 1998),
    # table I, method 3 (score interval without continuity correction)
    for (k, n), (lo, hi) in {(81, 263): (0.2553, 0.3662), (15, 148): (0.0624, 0.1605),
                             (0, 20): (0.0, 0.1611), (1, 29): (0.0061, 0.1718)}.items():
        got = wilson(k, n)
        assert (round(got[0], 4), round(got[1], 4)) == (lo, hi)
    assert wilson(20, 20) == pytest.approx((1 - 0.1611, 1.0), abs=1e-4)   # mirror image
    assert wilson(0, 0) == (0.0, 1.0)


def test_nearest_rank_returns_a_sample_value_and_never_ranks_last() -> None:
    values = sorted([5, 1, 4, 2, 3, NEVER])
    assert nearest_rank(values, 0.5) == 3
    assert nearest_rank(values, 0.95) == NEVER
    assert nearest_rank([7], 0.95) == 7


def record(**kw: Any) -> RunRecord:
    return RunRecord(0, kw.pop("run", 0), 1, {}, **kw)


def test_metrics_decide_outage_and_duration_from_the_record() -> None:
    ok = record(ok=True)
    assert judge(ok, "expect") == (False, None)
    assert judge(record(ok=False, failed=[1]), "expect") == (True, None)
    pinged = record(ok=True, outage_ns=300_000_000)
    assert judge(pinged, "outage") == (True, 300_000_000)
    assert judge(pinged, "outage", 500_000_000) == (False, 300_000_000)
    assert judge(record(ok=True, outage_never=True), "outage", 500_000_000) == (True, NEVER)
    assert judge(ok, "outage") == (False, None)
    slow = record(ok=True, dhcp_wait_ns=31_000_000_000, dhcp_failed=False)
    assert judge(slow, "dhcp") == (False, 31_000_000_000)      # bound in its first attempt
    assert judge(slow, "dhcp", 20_000_000_000) == (True, 31_000_000_000)
    assert judge(record(ok=True, dhcp_never=True, dhcp_failed=True), "dhcp") == (True, NEVER)


def test_summary_counts_outages_of_measured_runs_and_durations_of_those_runs() -> None:
    plan = make_plan(STP_DHCP, [f"{FD}=[15, 21]"], runs=1, seed=0)
    records = [record(run=0, ok=True, outage_ns=100), record(run=1, ok=True),
               record(run=2, ok=True, outage_never=True), record(run=3, error="bad value")]
    for r in records[::-1]:
        r.combination = 1
    summary = summarize(records, plan.varies, plan.combos, "outage")[1]
    assert (summary.runs, summary.errors, summary.outages, summary.never) == (3, 1, 2, 1)
    assert summary.median_ns == 100 and summary.max_ns == NEVER
    assert summary.first_error == "run 3: bad value"
    assert summarize(records, plan.varies, plan.combos, "outage")[0].runs == 0


# -- records and the file ---------------------------------------------------------------------

def test_records_survive_the_csv_row_round_trip() -> None:
    plan = make_plan(STP_DHCP, ["vms.vm1.boot-delay=uniform(0s,20s)", f"{FD}=[15, 21]",
                                "name=choice(['15', x y, 'true', ' pad', ''])"], runs=8, seed=1)
    records = run_chunk(plan.ctx, plan.pairs())
    assert len({r.params["name"] for r in records}) > 2
    for r in records:
        assert from_row(to_row(r, plan.varies), plan.varies).to_json() == r.to_json()
    varies = [parse_vary("a=[1]"), parse_vary("b=[1]")]
    for a, b in ((15, "15"), (1.5, "null"), (None, "[1]"), (True, "fast")):
        r = RunRecord(0, 0, 1, {"a": a, "b": b}, ok=True)
        assert from_row(to_row(r, varies), varies).params == {"a": a, "b": b}


def _plan_and_file(tmp_path: Path) -> tuple[Any, Path, list[RunRecord]]:
    plan = make_plan(STP_DHCP, ["vms.vm1.boot-delay=uniform(0s,20s)"], runs=12, seed=2)
    out = tmp_path / "runs.csv"
    result = execute(plan, jobs=1, output=str(out))
    return plan, out, result.records


def test_a_truncated_last_line_is_dropped_and_cut_off_the_file(tmp_path: Path) -> None:
    plan, out, records = _plan_and_file(tmp_path)
    data = out.read_bytes()
    out.write_bytes(data[:-25])                          # a crash in the middle of a record
    existing = read_existing(str(out), plan.header, plan.varies)
    assert existing.dropped_partial
    assert [r.to_json() for r in existing.records] == [r.to_json() for r in records[:-1]]
    assert out.read_bytes() == data[:data.rstrip(b"\n").rfind(b"\n") + 1]


def test_a_damaged_line_before_the_last_is_refused(tmp_path: Path) -> None:
    plan, out, _ = _plan_and_file(tmp_path)
    lines = out.read_text().splitlines(keepends=True)
    lines[4] = lines[4][:30] + "\n"
    out.write_text("".join(lines))
    with pytest.raises(StoreError, match=r"runs.csv:5: damaged record"):
        read_existing(str(out), plan.header, plan.varies)


def test_another_sweeps_file_is_refused_and_says_what_differs(tmp_path: Path) -> None:
    _, out, _ = _plan_and_file(tmp_path)
    other = make_plan(STP_DHCP, ["vms.vm1.boot-delay=uniform(0s,10s)"], runs=12, seed=3)
    with pytest.raises(StoreError) as info:
        read_existing(str(out), other.header, other.varies)
    assert "--seed: the file has 2, this command 3" in str(info.value)
    assert "uniform(0.0ns,20000000000.0ns)" in str(info.value)
    (tmp_path / "x.csv").write_text("combination,run\n")
    with pytest.raises(StoreError, match="not a vnetlab sweep file"):
        read_existing(str(tmp_path / "x.csv"), other.header, other.varies)


def test_the_writer_appends_whole_lines(tmp_path: Path) -> None:
    plan, out, records = _plan_and_file(tmp_path)
    out.unlink()
    writer = Writer(str(out), plan.header, plan.varies, resume=False)
    writer.write(records[:5])
    writer.write(records[5:])
    writer.close()
    lines = out.read_text().split("\n")
    assert lines[0].startswith("# vnetlab-sweep 1 {") and lines[-1] == ""
    assert len(lines) == 2 + len(records) + 1


def test_a_worker_sees_its_sweep_die_even_as_an_unreaped_zombie() -> None:
    import os
    import subprocess
    import sys
    import time

    from vnetlab.sweep.engine import _alive

    assert _alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while _alive(child.pid) and time.monotonic() < deadline:   # exited, not yet waited for
        time.sleep(0.02)
    assert not _alive(child.pid)
    child.wait()
    assert not _alive(child.pid)


def test_a_ctrl_c_during_a_chunk_write_waits_for_the_write() -> None:
    import signal

    from vnetlab.sweep.store import _sigint_deferred

    done = []
    with pytest.raises(KeyboardInterrupt), _sigint_deferred():
        signal.raise_signal(signal.SIGINT)
        done.append("the whole chunk")          # still written
    assert done == ["the whole chunk"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_parquet_without_pyarrow_is_a_clear_error_before_anything_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from vnetlab.sweep import PlanError

    monkeypatch.setitem(sys.modules, "pyarrow", None)        # as if not installed
    plan = make_plan(STP_DHCP, [], runs=2, seed=0)
    with pytest.raises(PlanError, match=r"writing Parquet needs pyarrow \(pip install pyarrow\)"):
        execute(plan, jobs=1, output=str(tmp_path / "runs.parquet"))
    assert list(tmp_path.iterdir()) == []
