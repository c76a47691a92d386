"""Result records and a subprocess runner that reports the child's own peak RSS (wait4)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

KIB_PER_MB = 1024  # ru_maxrss is in KiB on Linux; "MB" in reports means MiB


class EngineError(RuntimeError):
    """An engine ran but did not produce a usable result."""


@dataclass(frozen=True)
class Measurement:
    """One engine at one size (median over repeats for the timings)."""

    engine: str
    hosts: int
    count: int
    setup_s: float
    run_s: float
    deliveries: int
    echo_replies: int
    events: int
    peak_rss_mb: float
    repeats: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def deliveries_per_s(self) -> float | None:
        return self.deliveries / self.run_s if self.run_s > 0 else None


@dataclass(frozen=True)
class ChildResult:
    returncode: int
    stdout: str
    stderr: str
    peak_rss_kb: int
    wall_s: float
    timed_out: bool

    def tail(self, lines: int = 15) -> str:
        return "\n".join((self.stderr.strip() or self.stdout.strip()).splitlines()[-lines:])


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _kill_after(pid: int, timeout_s: float, done: threading.Event) -> threading.Timer:
    def kill() -> None:
        if not done.is_set():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    timer = threading.Timer(timeout_s, kill)
    timer.daemon = True
    timer.start()
    return timer


def _read(f: IO[bytes]) -> str:
    f.seek(0)
    return f.read().decode(errors="replace")


def run_child(
    argv: Sequence[str],
    *,
    timeout_s: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> ChildResult:
    """Run argv to completion; peak RSS comes from wait4() on that child only."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd, env=env)
        done = threading.Event()
        timer = _kill_after(proc.pid, timeout_s, done)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            done.set()
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen quiet
        timed_out = proc.returncode == -signal.SIGKILL and time.perf_counter() - t0 >= timeout_s
        return ChildResult(
            returncode=proc.returncode,
            stdout=_read(out),
            stderr=_read(err),
            peak_rss_kb=usage.ru_maxrss,
            wall_s=time.perf_counter() - t0,
            timed_out=timed_out,
        )


def last_json_line(text: str) -> dict[str, Any]:
    """The last stdout line that parses as a JSON object (engines may print other lines)."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                return obj
    raise EngineError("no JSON result line in the engine's output")


def check_child(result: ChildResult, what: str) -> dict[str, Any]:
    if result.timed_out:
        raise EngineError(f"{what} timed out after {result.wall_s:.0f} s")
    if result.returncode != 0:
        raise EngineError(f"{what} exited with {result.returncode}:\n{result.tail()}")
    try:
        return last_json_line(result.stdout)
    except EngineError as exc:
        raise EngineError(f"{what}: {exc}:\n{result.tail()}") from None


def combine(runs: Sequence[Measurement]) -> Measurement:
    """Median setup/run time, max RSS; counts must agree between repeats (runs are seeded)."""
    first = runs[0]
    for other in runs[1:]:
        counts = (other.deliveries, other.echo_replies, other.events)
        if counts != (first.deliveries, first.echo_replies, first.events):
            raise EngineError(f"{first.engine} N={first.hosts}: counts differ between repeats")
    return Measurement(
        engine=first.engine,
        hosts=first.hosts,
        count=first.count,
        setup_s=statistics.median(r.setup_s for r in runs),
        run_s=statistics.median(r.run_s for r in runs),
        deliveries=first.deliveries,
        echo_replies=first.echo_replies,
        events=first.events,
        peak_rss_mb=max(r.peak_rss_mb for r in runs),
        repeats=len(runs),
        extra={**first.extra, "run_s_all": [r.run_s for r in runs]},
    )
