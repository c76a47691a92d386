"""The simulation: clock, event queue, RNG, trace and counters.

Every device gets the ``Sim`` it lives in (no globals). The event loop is a
heap of ``(time, seq, fn, args)``: events at the same instant run in the
order they were scheduled, so a run is reproducible (simpy's Environment and
ns-3's Simulator::Schedule work the same way). Inside one host the stack is
synchronous, as in the kernel; only links and timers schedule events.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from typing import Any

from vnetlab.sim.time import Time
from vnetlab.sim.trace import SUMMARY_ACTIONS, Action, DropReason, Step, Trace


class Timer:
    """A cancellable one-shot event (the kernel's timer_list / delayed_work)."""

    __slots__ = ("active",)

    def __init__(self) -> None:
        self.active = True

    def cancel(self) -> None:
        self.active = False


class Sim:
    def __init__(self, seed: int = 0, trace: str = "full") -> None:
        self.now: Time = 0
        self.seed = seed
        # str seeds are hashed with SHA-512 by random.Random: stable across
        # processes and whatever PYTHONHASHSEED is.
        self.rng = random.Random(f"vnetlab:{seed}")
        self.trace = Trace(trace)
        self.tracing = trace == "full"          # record per-hop steps
        self.recording = trace != "off"         # record summary steps
        self.queue: list[tuple[Time, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = itertools.count(1)
        self._batch: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        self._batch_when: Time = -1
        self._uid = 0
        self.events = 0
        self.deliveries = 0                     # frames delivered over links

    # -- identifiers --------------------------------------------------------
    def new_uid(self) -> int:
        self._uid += 1
        return self._uid

    # -- scheduling -----------------------------------------------------------
    def schedule(self, delay: Time, fn: Callable[..., None], /, *args: Any) -> None:
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        self._batch_when = -1
        heapq.heappush(self.queue, (self.now + delay, next(self._seq), fn, args))

    def push(self, when: Time, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        """schedule() for the per-frame path: absolute time, args as a tuple.

        Consecutive pushes for the same instant share one heap entry (a flood
        to 24 ports is one event, not 24). This keeps the (time, seq) order
        exactly: had they been separate entries their sequence numbers would
        have been consecutive, so no other event could run between them; any
        other insertion into the heap closes the batch.
        """
        if when == self._batch_when:
            self._batch.append((fn, args))
            self.events += 1            # counted as the separate event it stands for
            return
        batch = [(fn, args)]
        self._batch = batch
        self._batch_when = when
        heapq.heappush(self.queue, (when, next(self._seq), self._run_batch, (batch,)))

    @staticmethod
    def _run_batch(batch: list[tuple[Callable[..., None], tuple[Any, ...]]]) -> None:
        for fn, args in batch:      # items appended while running are run too
            fn(*args)

    def timer(self, delay: Time, fn: Callable[..., None], /, *args: Any) -> Timer:
        handle = Timer()
        self.schedule(delay, self._fire, handle, fn, args)
        return handle

    @staticmethod
    def _fire(handle: Timer, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        if handle.active:
            handle.active = False
            fn(*args)

    def run(self, until: Time) -> None:
        """Run events up to and including time ``until``, or until none are left."""
        queue = self.queue
        pop = heapq.heappop
        events = 0
        while queue and queue[0][0] <= until:
            when, _, fn, args = pop(queue)
            self.now = when
            fn(*args)
            events += 1
        self.events += events
        self.now = until                # time passes to the end, whether or not events remain

    # -- trace ----------------------------------------------------------------
    def step(self, where: str, port: str, action: Action, uid: int, note: str, fn: str,
             rule: str = "", *, reason: DropReason | None = None, cause: int = 0,
             ref: int = 0, data: dict[str, Any] | None = None) -> int:
        """Record a step and return its id (0 when the level drops it)."""
        if reason is not None and action is Action.DROP:
            self.trace.drops[reason] += 1
        if not self.tracing and not (self.recording and action in SUMMARY_ACTIONS):
            return 0
        steps = self.trace.steps
        step_id = len(steps) + 1
        steps.append(Step(step_id, self.now, where, port, action, uid, note, fn, rule,
                          reason, cause, ref, data or {}))
        return step_id
