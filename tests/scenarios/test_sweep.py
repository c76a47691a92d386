"""`vnetlab sweep` end to end: the same records whatever the engine or number of workers,
a Dask cluster gives the local table, a killed worker or Ctrl-C loses no finished run and
--resume completes the file, bad input exits 2, and the STP/DHCP race of the catalog
measured as a probability that moves with the bridge's forward delay."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from vnetlab.catalog import case_paths
from vnetlab.sweep import execute, make_plan, summaries
from vnetlab.sweep.measure import run_chunk
from vnetlab.sweep.store import read_existing

STP_DHCP = str(case_paths()["stp-forward-delay-dhcp"])
FD = "hosts.kvm1.interfaces[br0].bridge.options.stp.forward-delay"
BOOT = "vms.vm1.boot-delay=uniform(0s,20s)"
RACE = ["--case", "stp-forward-delay-dhcp", "--vary", BOOT, "--vary", f"{FD}=[15, 18, 21]",
        "--metric", "dhcp", "--seed", "7", "--json"]


def sweep(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vnetlab", "sweep", *args], capture_output=True,
                          text=True, check=False, env={**os.environ, **(env or {})}, cwd=cwd)


def cli(*args: str) -> Any:
    """In this process (faster) for what exits before any run: stderr, exit code."""
    from click.testing import CliRunner

    from vnetlab.cli import main

    result = CliRunner().invoke(main, ["sweep", *args])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception,
                                                                     SystemExit), result.output
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def records(path: Path) -> list[str]:
    """The record lines of a sweep file, in (combination, run) order."""
    lines = path.read_text().splitlines()[2:]
    return sorted(lines, key=lambda line: tuple(int(x) for x in line.split(",", 2)[:2]))


@cache
def reference(tmp: str) -> tuple[dict[str, Any], list[str]]:
    """The race sweep, uninterrupted: its JSON summary and its records."""
    out = Path(tmp) / "reference.csv"
    proc = sweep(*RACE, "--runs", "60", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""                    # no progress bar when stderr is not a terminal
    return json.loads(proc.stdout), records(out)


@pytest.fixture(scope="module")
def ref(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[str]]:
    return reference(str(tmp_path_factory.mktemp("reference")))


def table(summary: dict[str, Any]) -> list[Any]:
    return summary["combinations"]


# -- determinism ------------------------------------------------------------------------------

def test_same_seed_same_records_with_one_and_two_workers() -> None:
    plan = make_plan(STP_DHCP, [BOOT, f"{FD}=[15, 21]"], runs=60, seed=11, metric="dhcp")
    one = execute(plan, jobs=1)
    two = execute(plan, jobs=2)
    assert one.engine == "in-process" and two.engine.startswith("2 worker processes")
    by_key = sorted((r.to_json() for r in one.records), key=lambda r: (r["combination"], r["run"]))
    assert sorted((r.to_json() for r in two.records),
                  key=lambda r: (r["combination"], r["run"])) == by_key
    assert [s.to_json() for s in summaries(plan, one, "dhcp", None)] == [
        s.to_json() for s in summaries(plan, two, "dhcp", None)]
    other = execute(make_plan(STP_DHCP, [BOOT, f"{FD}=[15, 21]"], runs=60, seed=12), jobs=1)
    assert sorted(r.seed for r in other.records) != sorted(r.seed for r in one.records)
    # each combination draws its own values; --paired gives every combination the same
    assert one.records[0].params[BOOT.partition("=")[0]] != next(
        r for r in one.records if r.key == (1, 0)).params[BOOT.partition("=")[0]]
    paired = execute(make_plan(STP_DHCP, [BOOT, f"{FD}=[15, 21]"], runs=5, seed=11,
                               paired=True), jobs=1)
    first = {r.run: (r.seed, r.params[BOOT.partition("=")[0]]) for r in paired.records
             if r.combination == 0}
    assert first == {r.run: (r.seed, r.params[BOOT.partition("=")[0]]) for r in paired.records
                     if r.combination == 1}


def _distributed() -> Any:
    if os.environ.get("CI") == "true":          # CI installs the dev extras: no skipping there
        import distributed

        return distributed
    return pytest.importorskip("distributed")


def test_a_dask_cluster_gives_the_same_table_as_the_local_pool() -> None:
    distributed = _distributed()
    plan = make_plan(STP_DHCP, [BOOT, f"{FD}=[15, 18, 21]"], runs=70, seed=5, metric="dhcp")
    local = execute(plan, jobs=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster:
        remote = execute(plan, dask=cluster.scheduler_address)
    assert remote.complete and remote.engine.startswith(f"dask {cluster.scheduler_address}")
    assert [s.to_json() for s in summaries(plan, remote, "dhcp", None)] == [
        s.to_json() for s in summaries(plan, local, "dhcp", None)]
    assert sorted(repr(r.to_json()) for r in remote.records) == sorted(
        repr(r.to_json()) for r in local.records)


# -- robustness -------------------------------------------------------------------------------

def test_a_killed_worker_loses_no_finished_run_and_resume_completes_it(
        tmp_path: Path, ref: tuple[dict[str, Any], list[str]]) -> None:
    summary, full = ref
    out = tmp_path / "runs.csv"
    proc = sweep(*RACE, "--runs", "60", "-o", str(out), "--jobs", "2",
                 env={"VNETLAB_SWEEP_CRASH_AT": "1:30"})          # that run SIGKILLs its worker
    assert proc.returncode == 3, proc.stderr
    assert "a worker process died" in proc.stderr and "--resume runs the rest" in proc.stderr
    kept = records(out)
    assert kept and set(kept) < set(full)                 # every finished run, as it should be
    assert not any(line.startswith("1,30,") for line in kept)
    # the pool was restarted and only the chunk of the killing run is missing
    assert len(full) - len(kept) <= 200
    done = sweep(*RACE, "--runs", "60", "-o", str(out), "--resume")
    assert done.returncode == 0, done.stderr
    assert table(json.loads(done.stdout)) == table(summary)
    assert records(out) == full


def test_a_truncated_last_line_is_run_again_on_resume(
        tmp_path: Path, ref: tuple[dict[str, Any], list[str]]) -> None:
    summary, full = ref
    out = tmp_path / "runs.csv"
    assert sweep(*RACE, "--runs", "60", "-o", str(out)).returncode == 0
    data = out.read_bytes()
    out.write_bytes(data[:-40])                          # killed in the middle of a write
    plain = [a for a in RACE if a != "--json"]
    done = sweep(*plain, "--runs", "60", "-o", str(out), "--resume")
    assert done.returncode == 0, done.stderr
    assert "a truncated last line was dropped and run again" in done.stdout
    assert "179 runs read back" in done.stdout
    assert records(out) == full
    again = sweep(*RACE, "--runs", "60", "-o", str(out), "--resume")   # nothing left: re-read
    assert table(json.loads(again.stdout)) == table(summary)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_ctrl_c_stops_cleanly_keeping_finished_runs(tmp_path: Path, how: str) -> None:
    out = tmp_path / "runs.csv"
    args = ["--case", "stp-forward-delay-dhcp", "--vary", BOOT, "--runs", "40000", "--seed", "3",
            "-o", str(out), "--jobs", "2"]
    proc = subprocess.Popen([sys.executable, "-m", "vnetlab", "sweep", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or
                                           out.read_text().count("\n") < 400):
        time.sleep(0.05)
    if how == "ctrl-c":             # a terminal sends it to the whole process group
        os.killpg(proc.pid, signal.SIGINT)
    else:                           # kill, a batch system's end of job: the parent only
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted:" in err and "--resume runs the rest" in err and "Traceback" not in err
    kept = records(out)
    assert 400 <= len(kept) < 40000
    plan = make_plan(STP_DHCP, [BOOT], runs=40000, seed=3)
    existing = read_existing(str(out), plan.header, plan.varies)
    assert not existing.dropped_partial                  # whole lines only
    again = run_chunk(plan.ctx, [r.key for r in existing.records[:50]])
    assert [r.to_json() for r in again] == [r.to_json() for r in existing.records[:50]]


def test_resume_refuses_another_sweeps_file(tmp_path: Path) -> None:
    out = tmp_path / "runs.csv"
    assert sweep(*RACE, "--runs", "3", "-o", str(out)).returncode == 0
    for change, words in ((["--runs", "4"], "--runs: the file has 3, this command 4"),
                          (["--runs", "3", "--seed", "8"], "--seed: the file has 7"),
                          (["--runs", "3", "--vary", "run[0].at=[36s]"], "--vary: the file has")):
        proc = cli(*RACE, *change, "-o", str(out), "--resume")
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    proc = cli(*RACE, "--runs", "3", "-o", str(out))
    assert proc.returncode == 2 and "exists; add --resume" in proc.stderr


def test_parquet_streams_to_a_partial_file_and_resume_writes_it(
        tmp_path: Path, ref: tuple[dict[str, Any], list[str]]) -> None:
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    summary, full = ref
    out = tmp_path / "runs.parquet"
    proc = sweep(*RACE, "--runs", "60", "-o", str(out), env={"VNETLAB_SWEEP_CRASH_AT": "2:5"})
    assert proc.returncode == 3 and not out.exists()
    assert (tmp_path / "runs.parquet.part.csv").exists()
    done = sweep(*RACE, "--runs", "60", "-o", str(out), "--resume")
    assert done.returncode == 0, done.stderr
    assert table(json.loads(done.stdout)) == table(summary)
    assert not (tmp_path / "runs.parquet.part.csv").exists()
    rows = pq.read_table(out).to_pylist()
    assert len(rows) == len(full) and rows[0]["combination"] == 0
    assert [r["seed"] for r in rows] == [int(line.split(",")[2]) for line in full]
    again = sweep(*RACE, "--runs", "60", "-o", str(out), "--resume", "--metric", "outage")
    assert again.returncode == 0 and json.loads(again.stdout)["metric"] == "outage"


# -- bad input --------------------------------------------------------------------------------

def test_bad_options_exit_2_with_the_option_named(tmp_path: Path) -> None:
    case = ["--case", "stp-forward-delay-dhcp", "--runs", "2"]
    for args, words in (
            (["--vary", "vms.vm1.boot-delay=uniform(3s)"],
             "--vary 'vms.vm1.boot-delay=uniform(3s)': uniform() takes 2 arguments"),
            (["--vary", "vms.vm2.boot-delay=[1s]"], "no key 'vm2' in vms (keys: vm1)"),
            (["--vary", "vms.vm1.boot-delay=[3s, soon]"],
             "stp-forward-delay-dhcp.yaml:37:5: vms.vm1.boot-delay: 'soon' is not a duration"),
            (["--vary", f"{FD}=[15, -3]"], f"yaml:31:49: {FD}: -3: a duration cannot be negative"),
            (["--resume"], "--resume needs -o FILE"),
            (["--threshold", "5s"], "--threshold applies to --metric outage or dhcp"),
            (["--metric", "dhcp", "--threshold", "soon"], "--threshold soon: 'soon' is not a"),
            (["-o", str(tmp_path / "x.txt")], "write FILE.csv or FILE.parquet"),
            (["--runs", "0"], "--runs 0: give at least 1 run"),
            (["--export-run", "5:0", str(tmp_path / "x.yaml")], "--export-run 5:0: write")):
        proc = cli(*case, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert words in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr and "nothing was run." in proc.stderr
    no_dhcp = cli("--case", "failover-cable-pull", "--metric", "dhcp")
    assert no_dhcp.returncode == 2 and "runs no DHCP client" in no_dhcp.stderr
    no_ping = sweep("--case", "dhcp-no-relay", "--metric", "outage")      # and as a process
    assert no_ping.returncode == 2 and "has no ping in run:" in no_ping.stderr


def test_an_exported_run_replays_its_record(tmp_path: Path) -> None:
    plan = make_plan(STP_DHCP, [BOOT, f"{FD}=[15, 21]"], runs=10, seed=4, metric="dhcp")
    target = execute(plan, jobs=1).records[13]
    path = tmp_path / "run.yaml"
    proc = sweep("--case", "stp-forward-delay-dhcp", "--vary", BOOT, "--vary", f"{FD}=[15, 21]",
                 "--runs", "10", "--seed", "4", "--export-run", "1:3", str(path))
    assert proc.returncode == 0 and f"--seed {target.seed}" in proc.stdout
    run = subprocess.run([sys.executable, "-m", "vnetlab", "run", str(path), "--seed",
                          str(target.seed), "--json", "--trace", "off"],
                         capture_output=True, text=True, check=False)
    dhcp = json.loads(run.stdout)["dhcp"][0]
    assert dhcp["since_ns"] == target.dhcp["vm1:eth0"]["bound_ns"]


# -- the race, measured ----------------------------------------------------------------------

def test_the_stp_dhcp_race_moves_with_the_forward_delay(
        ref: tuple[dict[str, Any], list[str]]) -> None:
    """NetworkManager's DISCOVERs at 0, 2, 6, 14, 30 s (+ jitter) after the guest starts
    against a tap that forwards 2 x forward-delay after the VM starts: with 15 s the fifth
    always passes; the longer the delay, the more boot times leave every DISCOVER inside
    the window and NM's 45 s timeout fails the first activation."""
    plan = make_plan(STP_DHCP, [BOOT, f"{FD}=[15, 18, 21]"], runs=200, seed=7, metric="dhcp")
    result = execute(plan, jobs=2)
    rows = {row.records[FD]: row for row in summaries(plan, result, "dhcp", None)}
    p = {fd: row.p for fd, row in rows.items()}
    assert p[15] <= p[18] <= p[21] and p[15] < p[21]
    assert 0 < p[18] < 1 and 0 < p[21] < 1
    assert rows[21].ci95[0] > rows[15].ci95[1]               # the intervals do not overlap
    # "no address within 20 s of the guest starting": a race even at NM's default 15 s
    rows = {row.records[FD]: row for row in summaries(plan, result, "dhcp", 20_000_000_000)}
    assert 0 < rows[15].p < 1 and rows[15].p <= rows[21].p
    assert rows[15].median_ns is not None and rows[15].median_ns > 20_000_000_000
