"""Running the chunks of a sweep: in this process, on a local process pool, or on Dask.

Runs are grouped in chunks (consecutive (combination, run) pairs, about 8 chunks per
worker, at most 200 runs each: per-task overhead is then negligible, see
``ecosystem.md`` section 7) and each chunk is one task; its records come back as a
list and go to ``on_chunk`` (the output file) as soon as the chunk finishes, in
whatever order chunks finish. Every run is seeded by its own (seed, combination,
run), so the records do not depend on the engine, the number of workers or the
chunking.

- Local pool: ``concurrent.futures.ProcessPoolExecutor`` on the ``forkserver`` start
  method (the parent runs a progress thread; forking a threaded process is unsafe),
  with ``vnetlab.sweep.measure`` preloaded. Workers ignore SIGINT: Ctrl-C reaches the
  parent, which stops submitting, cancels what has not started, waits for the chunks
  already running (their records are kept) and returns ``interrupted``. A worker whose
  parent died without shutting the pool down exits within a second.
- A worker that dies (OOM killer, a crash) breaks the pool (``BrokenProcessPool``):
  the finished chunks are already written; the unfinished ones go to a fresh pool, at
  most ``MAX_RESTARTS`` times, then the sweep returns ``broken`` (``--resume`` runs
  what is missing).
- Dask: ``distributed.Client(ADDRESS).get_executor()`` is a ``concurrent.futures``
  executor, so the same loop drives it (imported only for ``--dask``). Dask retries a
  task whose worker died on another worker itself; a chunk that still fails (e.g.
  ``KilledWorker``) leaves the sweep ``broken``.
"""

from __future__ import annotations

import math
import os
import signal
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from vnetlab.sweep.measure import RunRecord, SweepContext, run_chunk

MAX_CHUNK = 200
CHUNKS_PER_WORKER = 8
MAX_RESTARTS = 2

Pair = tuple[int, int]


@dataclass(slots=True)
class Outcome:
    status: str = "done"            # done | interrupted | broken
    message: str = ""
    restarts: int = 0


def chunk_size(total: int, workers: int) -> int:
    return max(1, min(MAX_CHUNK, math.ceil(total / max(1, workers * CHUNKS_PER_WORKER))))


def chunked(pairs: list[Pair], size: int) -> list[list[Pair]]:
    return [pairs[i:i + size] for i in range(0, len(pairs), size)]


def _worker_init(sweep_pid: int) -> None:
    """A pool worker: Ctrl-C is the parent's business (it keeps the chunks running), and
    a worker whose sweep died without shutting the pool down (SIGKILL, OOM killer) exits
    instead of waiting for work forever."""
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch, args=(sweep_pid,), daemon=True).start()


def _watch(sweep_pid: int) -> None:
    import time

    while True:
        time.sleep(1.0)
        if not _alive(sweep_pid):
            os._exit(1)


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (dead, not yet reaped by its parent)."""
    try:
        os.kill(pid, 0)
    except OSError:                 # gone (or the pid now belongs to someone else)
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):
        return True                 # no /proc: trust kill(0)


def local_pool(workers: int) -> Executor:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["vnetlab.sweep.measure", "vnetlab.lab"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=_worker_init, initargs=(os.getpid(),))


def dask_executor(address: str) -> tuple[Executor, Any, int]:
    """(executor, client, worker threads) for ``--dask ADDRESS``; ImportError and
    OSError (unreachable) go to the caller."""
    from distributed import Client

    client: Any = Client(address, timeout="10s")  # type: ignore[no-untyped-call]
    threads = sum(client.nthreads().values()) or 1
    executor: Executor = client.get_executor()
    return executor, client, threads


def run_in_process(ctx: SweepContext, chunks: list[list[Pair]],
                   on_chunk: Callable[[list[RunRecord]], None]) -> Outcome:
    try:
        for chunk in chunks:
            on_chunk(run_chunk(ctx, chunk))
    except KeyboardInterrupt:
        return Outcome("interrupted", "interrupted (Ctrl-C or SIGTERM)")
    return Outcome()


def run_on(make_executor: Callable[[], Executor], ctx: SweepContext, chunks: list[list[Pair]],
           on_chunk: Callable[[list[RunRecord]], None], *, limit: int, restart: bool,
           max_restarts: int = MAX_RESTARTS) -> Outcome:
    """Drive ``chunks`` through executors made by ``make_executor``, at most ``limit``
    chunks in flight (so the chunks a dying worker can take down are known);
    ``restart``: a broken pool is replaced (local pools; Dask replaces its own workers).

    After a break the chunks that were in flight are suspects: on the fresh pool the
    others go first, in parallel, then the suspects one at a time, the ones that broke
    the pool last; a run that kills its worker every time then takes only its own
    chunk down with it."""
    from concurrent.futures.process import BrokenProcessPool

    outcome = Outcome()
    queue = deque(chunks)                  # not yet tried, or innocent
    serial: list[list[Pair]] = []          # suspects, one at a time
    errors: list[list[Pair]] = []          # failed without breaking the executor
    while queue or serial:
        executor = make_executor()
        running: dict[Future[list[RunRecord]], list[Pair]] = {}
        broke: list[list[Pair]] = []
        refused = False                    # the pool broke before we saw it in a future
        try:
            while True:
                if not broke and not refused:
                    try:
                        while queue and len(running) < limit:
                            running[executor.submit(run_chunk, ctx, queue[0])] = queue[0]
                            queue.popleft()
                        if not queue and serial and not running:
                            running[executor.submit(run_chunk, ctx, serial[0])] = serial[0]
                            serial.pop(0)
                    except BrokenProcessPool as exc:
                        outcome.message = f"a worker process died ({exc})"
                        refused = True
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    chunk = running.pop(future)
                    try:
                        records = future.result()
                    except BrokenProcessPool as exc:
                        outcome.message = f"a worker process died ({exc})"
                        broke.append(chunk)
                        continue
                    except Exception as exc:      # Dask: KilledWorker, lost connection...
                        outcome.message = f"{type(exc).__name__}: {exc}"
                        errors.append(chunk)
                        continue
                    on_chunk(records)
        except KeyboardInterrupt:
            for future in running:
                future.cancel()
            try:
                for future in [f for f in running if not f.cancelled()]:
                    with suppress(Exception):
                        on_chunk(future.result())        # already running: keep it
            except KeyboardInterrupt:
                pass                                     # a second Ctrl-C: stop waiting
            _shutdown(executor, wait_for=False)
            outcome.status, outcome.message = "interrupted", "interrupted (Ctrl-C or SIGTERM)"
            return outcome
        _shutdown(executor, wait_for=True)
        if not broke and not refused:
            break
        serial = sorted(serial) + sorted(broke)
        if not restart or outcome.restarts >= max_restarts:
            errors += list(queue) + serial
            break
        outcome.restarts += 1
    if errors:
        runs = sum(len(chunk) for chunk in errors)
        first = min(errors)[0]
        outcome.status = "broken"
        outcome.message += (f"; {runs} run(s) not done (the first: combination {first[0]} "
                            f"run {first[1]})")
    return outcome


def _shutdown(executor: Executor, *, wait_for: bool) -> None:
    try:
        if wait_for:
            executor.shutdown(wait=True)
        else:
            executor.shutdown(wait=False, cancel_futures=True)
    except TypeError:                   # Dask's ClientExecutor has no cancel_futures
        executor.shutdown(wait=wait_for)
    except Exception:
        pass


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
