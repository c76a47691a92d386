"""Randomized parameter sweeps over any topology file (``vnetlab sweep``, docs/sweep.md).

How likely is the outage, and what does each fix buy? A sweep rewrites values of the
topology document (``--vary PATH=SPEC``: a grid of values, a distribution drawn per
run, or both), simulates each run with its own seed, measures it and aggregates per
combination of grid values: P(outage) with its 95 % Wilson interval, and the outage
durations (median, p95, max of the runs with an outage).

    plan = make_plan("case.yaml", ["vms.vm1.boot-delay=uniform(0s,20s)"], runs=500, seed=1)
    result = execute(plan, jobs=2, output="runs.csv")        # streamed, resumable
    table = summarize(result.records, plan.varies, plan.combos, "dhcp")

Modules: ``vary`` (paths, specs, patching), ``measure`` (one run and its record),
``stats`` (metrics, Wilson interval, durations), ``store`` (the streamed output file and
``--resume``), ``engine`` (in-process, process pool, Dask; Ctrl-C and dead workers),
``command`` (the CLI's output).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vnetlab.sweep.measure import RESERVED, RunRecord, SweepContext, columns
from vnetlab.sweep.stats import METRICS, Summary, summarize
from vnetlab.sweep.vary import Value, Vary, VaryError, combinations, parse_vary, resolve

__all__ = ["METRICS", "Plan", "PlanError", "SweepResult", "VaryError", "execute", "make_plan",
           "summarize"]

CRASH_ENV = "VNETLAB_SWEEP_CRASH_AT"     # test hook: "C:R" kills the worker running that run


class PlanError(Exception):
    """A sweep that cannot start (bad option, bad file): exit status 2."""

    def __init__(self, message: str, errors: list[Any] | None = None) -> None:
        self.errors = errors or []
        super().__init__(message)


@dataclass(slots=True)
class Plan:
    path: str
    name: str
    raw: Any                              # the ruamel document (positions, for checks)
    varies: list[Vary]
    combos: list[tuple[Value, ...]]
    runs: int
    seed: int
    paired: bool
    ctx: SweepContext
    header: dict[str, Any]
    has_dhcp: bool = False
    has_pings: bool = False

    @property
    def total(self) -> int:
        return self.runs * len(self.combos)

    def pairs(self) -> list[tuple[int, int]]:
        return [(c, r) for c in range(len(self.combos)) for r in range(self.runs)]


@dataclass(slots=True)
class SweepResult:
    records: list[RunRecord] = field(default_factory=list)
    status: str = "done"                 # done | interrupted | broken
    message: str = ""
    resumed: int = 0                     # records read back from the output file
    dropped_partial: bool = False        # ... after cutting off a truncated last line
    restarts: int = 0
    engine: str = ""

    @property
    def complete(self) -> bool:
        return self.status == "done"




def _set_located(doc: Any, path: tuple[str | int, ...], value: Any) -> None:
    """Set a value in the ruamel document; a key it did not have gets its parent's
    position, so that an error in it is reported where the parent is written."""
    node = doc
    for part in path[:-1]:
        node = node[part]
    key = path[-1]
    lc = getattr(node, "lc", None)
    if lc is not None and isinstance(key, str) and key not in node:
        line, col = getattr(lc, "line", 0) or 0, getattr(lc, "col", 0) or 0
        lc.add_kv_line_col(key, [line, col, line, col])
    node[key] = copy.deepcopy(value)


def make_plan(path: str, options: list[str] | tuple[str, ...], *, runs: int, seed: int,
              paired: bool = False, metric: str = "expect") -> Plan:
    """Parse and check everything before anything runs: the file, every ``--vary``
    (its path against the document) and, for every combination, the document with
    run 0's values (PlanError / VaryError / TopologyError with positions)."""
    from vnetlab.errors import TopologyError
    from vnetlab.topology.load import load_topology_data, parse_yaml

    if runs < 1:
        raise PlanError(f"--runs {runs}: give at least 1 run per combination")
    if metric not in METRICS:
        raise PlanError(f"--metric {metric}: expected one of {', '.join(METRICS)}")
    raw = parse_yaml(path)                                   # TopologyError
    spec = load_topology_data(copy.deepcopy(raw), path)      # the file itself must be valid
    from vnetlab.topology.load import plain

    doc = plain(raw)
    varies = resolve([parse_vary(o) for o in options], doc)
    for vary in varies:
        if vary.path_text in RESERVED:
            raise VaryError(vary.option, f"'{vary.path_text}' is also the name of a result "
                                         "column: write the path differently")
    combos = combinations(varies)
    doc_hash = hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
    canonical = [v.canonical() for v in varies]
    fingerprint = hashlib.sha256(json.dumps(
        {"v": 1, "doc": doc_hash, "vary": canonical, "seed": seed, "runs": runs,
         "paired": paired}, sort_keys=True).encode()).hexdigest()[:32]
    crash = os.environ.get(CRASH_ENV, "")
    crash_at = None
    if crash:
        c, _, r = crash.partition(":")
        if not (c.isdigit() and r.isdigit()):
            raise PlanError(f"{CRASH_ENV}={crash}: write COMBINATION:RUN (a test hook)")
        crash_at = (int(c), int(r))
    ctx = SweepContext(fingerprint, path, doc, tuple(varies), tuple(combos), seed, paired,
                       crash_at)
    header = {"fingerprint": fingerprint, "document_sha256": doc_hash, "vary": canonical,
              "seed": seed, "runs": runs, "paired": paired, "file": path,
              "name": spec.name, "combinations": len(combos), "columns": columns(varies),
              "durations_in_ns": [v.path_text for v in varies
                                  if (v.dist is not None and v.dist.duration)
                                  or any(isinstance(x.record, int) and x.doc != x.record
                                         for x in v.grid)]}
    plan = Plan(path, spec.name, raw, varies, combos, runs, seed, paired, ctx, header)
    from vnetlab.sweep.measure import draw

    for index in _to_check(varies, combos):
        assignments, params, _ = draw(ctx, index, 0)
        located = copy.deepcopy(raw)
        for path_parts, value in assignments:
            _set_located(located, path_parts, value)
        try:
            checked = load_topology_data(located, path)
        except TopologyError as exc:
            values = ", ".join(f"{v.path_text}={_show(params[v.path_text])}" for v in varies)
            raise PlanError(f"--vary: with {values} (combination {index}, run 0) the "
                            "topology is invalid:", exc.errors) from None
        plan.has_dhcp = plan.has_dhcp or _has_dhcp(checked)
        plan.has_pings = plan.has_pings or any(a.ping is not None for a in checked.run)
    if metric == "dhcp" and not plan.has_dhcp:
        raise PlanError(f"--metric dhcp: {path} runs no DHCP client (no interface with "
                        "ipv4: {dhcp: true})")
    if metric == "outage" and not plan.has_pings:
        raise PlanError(f"--metric outage: {path} has no ping in run: (the outage metric "
                        "measures ping flows)")
    return plan


CHECK_ALL = 64


def _to_check(varies: list[Vary], combos: list[tuple[Value, ...]]) -> list[int]:
    """The combinations validated before the sweep: all of a small grid; of a large one,
    the first combination holding each value of each axis (every value is then tried)."""
    if len(combos) <= CHECK_ALL:
        return list(range(len(combos)))
    grid = [v for v in varies if v.is_grid]
    chosen: dict[int, None] = {}
    for axis, vary in enumerate(grid):
        for value in vary.grid:
            chosen.setdefault(next(i for i, c in enumerate(combos) if c[axis] is value))
    return sorted(chosen)


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _has_dhcp(spec: Any) -> bool:
    for host in spec.hosts.values():
        for iface in host.interfaces:
            ipv4 = getattr(iface, "ipv4", None)
            if ipv4 is not None and ipv4.enabled and ipv4.dhcp:
                return True
    return any(nic.ipv4 is not None and nic.ipv4.dhcp for vm in spec.vms.values()
               for nic in vm.interfaces)


def execute(plan: Plan, *, jobs: int = 0, dask: str | None = None, output: str | None = None,
            resume: bool = False,
            progress: Callable[[int, int], Callable[[int], None]] | None = None
            ) -> SweepResult:
    """Run what is missing: everything, or with ``resume`` what ``output`` does not hold
    yet. ``progress(done, total)`` returns a callback given each chunk's size.
    Raises PlanError (output file problems, Dask unreachable)."""
    from vnetlab.sweep import engine
    from vnetlab.sweep.store import StoreError, Writer, read_existing, require_pyarrow

    result = SweepResult()
    try:
        if output is not None:
            require_pyarrow(output)
        existing_records: list[RunRecord] = []
        complete_parquet = False
        if resume:
            if output is None:
                raise PlanError("--resume needs -o FILE (the file to complete)")
            existing = read_existing(output, plan.header, plan.varies)
            existing_records = existing.records
            result.dropped_partial = existing.dropped_partial
            complete_parquet = existing.complete_parquet
        elif output is not None:
            from vnetlab.sweep.store import journal_path

            for candidate in {output, journal_path(output)}:
                if os.path.exists(candidate):
                    raise PlanError(f"-o {output}: {candidate} exists; add --resume to "
                                    "complete it, or remove it to start again")
    except StoreError as exc:
        raise PlanError(str(exc)) from None
    valid = set(plan.pairs())
    result.records = [r for r in existing_records if r.key in valid]
    result.resumed = len(result.records)
    done = {r.key for r in result.records}
    pending = [p for p in plan.pairs() if p not in done]
    if complete_parquet:
        result.engine = "none (already complete)"
        return result
    writer = Writer(output, plan.header, plan.varies, resume=resume) if output else None
    advance = progress(len(done), plan.total) if progress is not None else None

    def on_chunk(records: list[RunRecord]) -> None:
        result.records.extend(records)
        if writer is not None:
            writer.write(records)       # whole; a Ctrl-C meanwhile is raised after it
        if advance is not None:
            advance(len(records))

    client = None
    try:
        if not pending:
            outcome = engine.Outcome()
            result.engine = "none (nothing left to run)"
        elif dask:
            try:
                executor, client, threads = engine.dask_executor(dask)
            except ImportError:
                raise PlanError("--dask needs dask.distributed: pip install 'vnetlab[dask]'"
                                ) from None
            except (OSError, TimeoutError) as exc:
                raise PlanError(f"--dask {dask}: cannot reach the scheduler ({exc})") from None
            size = engine.chunk_size(len(pending), threads)
            result.engine = f"dask {dask} ({threads} threads, chunks of {size})"
            outcome = engine.run_on(lambda: executor, plan.ctx, engine.chunked(pending, size),
                                    on_chunk, limit=2 * threads, restart=False)
        else:
            workers = jobs or engine.default_workers()
            size = engine.chunk_size(len(pending), workers)
            chunks = engine.chunked(pending, size)
            if workers <= 1 or len(chunks) == 1:
                result.engine = "in-process"
                outcome = engine.run_in_process(plan.ctx, chunks, on_chunk)
            else:
                result.engine = f"{workers} worker processes (chunks of {size})"
                outcome = engine.run_on(lambda: engine.local_pool(workers), plan.ctx, chunks,
                                        on_chunk, limit=workers, restart=True)
    finally:
        if writer is not None:
            writer.close()
        if client is not None:
            client.close()
    result.status, result.message, result.restarts = (outcome.status, outcome.message,
                                                      outcome.restarts)
    if result.complete and output is not None and writer is not None:
        writer.finish(result.records)
    return result


def summaries(plan: Plan, result: SweepResult, metric: str, threshold: int | None
              ) -> list[Summary]:
    return summarize(result.records, plan.varies, plan.combos, metric, threshold)
