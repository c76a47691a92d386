"""Auditing many inputs: in this process, on a local process pool, or on Dask.

Each input is audited on its own (read, checked, proved with ``--prove``) and comes
back as its JSON report (``Report.to_json``), so the results do not depend on where
they ran. Inputs go in chunks (``sweep.engine.chunk_size``: about 8 chunks per worker,
at most 200 inputs each) to the executors the sweep uses: ``sweep.engine.local_pool``
(a ``forkserver`` process pool whose workers ignore Ctrl-C and exit when the parent
dies) or ``sweep.engine.dask_executor`` (``distributed.Client(ADDRESS).get_executor()``;
the workers read the inputs by path, so they must see the same files: a shared
filesystem). A chunk whose worker died (``BrokenProcessPool``, a Dask ``KilledWorker``)
is audited again in this process: a doctor task is pure and short.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from typing import Any

LOCAL_THRESHOLD = 64            # fewer inputs than this: no pool (its start costs more)


@dataclass(frozen=True, slots=True)
class Task:
    """What every worker needs besides the paths (picklable)."""

    only: tuple[str, ...] = ()
    prove: bool = False
    lang: str = "en"


@dataclass(slots=True)
class Outcome:
    reports: list[dict[str, Any]] = field(default_factory=list)
    engine: str = "in-process"
    seconds: float = 0.0
    retried: int = 0


def audit(path: str, task: Task) -> dict[str, Any]:
    """One input's JSON report; with ``task.lang`` other than English, the translated
    texts ride along under ``_lang`` (the text output reads them; JSON drops them)."""
    from vnetlab.doctor import diagnose
    from vnetlab.doctor.prove import prove

    report, ctx = diagnose(path, task.only)
    if task.prove and ctx is not None:
        for finding in report.findings:
            if finding.fixer is not None and finding.probe is not None:
                finding.proof = prove(ctx, finding)
    out = report.to_json("en")
    out["skipped"] = report.skipped
    if task.lang != "en":
        out["_lang"] = [{"title": f["title"], "consequence": f["consequence"],
                         "fix": [x["where"] for x in f["fix"]], "notes": f["notes"]}
                        for f in report.to_json(task.lang)["findings"]]
    return out


def audit_chunk(task: Task, chunk: list[tuple[int, str]]) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for index, path in chunk:
        try:
            out.append((index, audit(path, task)))
        except Exception as exc:            # a crash in one input must not lose the others
            out.append((index, {"input": path, "kind": "?", "hosts": [], "findings": [],
                                "skipped": [], "errors": [f"{path}: internal error: "
                                                          f"{type(exc).__name__}: {exc}"]}))
    return out


def run(paths: list[str], task: Task, *, jobs: int = 0, dask: str | None = None,
        on_progress: Callable[[int], None] | None = None) -> Outcome:
    """Audit ``paths``; the reports come back in the order of ``paths``."""
    from vnetlab.sweep.engine import chunk_size, chunked, default_workers, local_pool

    started = time.perf_counter()
    numbered = list(enumerate(paths))
    results: dict[int, dict[str, Any]] = {}
    outcome = Outcome()

    def take(items: list[tuple[int, dict[str, Any]]]) -> None:
        for index, report in items:
            results[index] = report
        if on_progress is not None:
            on_progress(len(results))

    if dask is not None:
        from vnetlab.sweep.engine import dask_executor

        executor, client, threads = dask_executor(dask)
        outcome.engine = f"dask {dask} ({threads} threads)"
        try:
            chunks = chunked(numbered, chunk_size(len(numbered), threads))  # type: ignore[arg-type]
            outcome.retried = _drive(executor, task, chunks, take)
        finally:
            client.close()
    elif jobs == 1 or (len(paths) < LOCAL_THRESHOLD and jobs == 0):
        take(audit_chunk(task, numbered))
    else:
        workers = jobs or default_workers()
        outcome.engine = f"local pool ({workers} workers)"
        chunks = chunked(numbered, chunk_size(len(numbered), workers))  # type: ignore[arg-type]
        executor = local_pool(workers)
        outcome.retried = _drive(executor, task, chunks, take)
    outcome.reports = [results[i] for i in range(len(paths))]
    outcome.seconds = time.perf_counter() - started
    return outcome


def _drive(executor: Executor, task: Task, chunks: list[list[Any]],
           take: Callable[[list[tuple[int, dict[str, Any]]]], None]) -> int:
    """Submit every chunk, take the results as they come; a chunk that failed with
    the executor (a dead worker) is audited here. Returns how many were."""
    running: dict[Future[list[tuple[int, dict[str, Any]]]], list[Any]] = {}
    failed: list[list[Any]] = []
    try:
        for chunk in chunks:
            try:
                running[executor.submit(audit_chunk, task, chunk)] = chunk
            except Exception:               # a broken pool refuses new work
                failed.append(chunk)
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                chunk = running.pop(future)
                try:
                    take(future.result())
                except Exception:
                    failed.append(chunk)
    finally:
        with contextlib.suppress(Exception):
            executor.shutdown(wait=True)
    for chunk in failed:
        take(audit_chunk(task, chunk))
    return len(failed)
