"""Running the allowlisted commands: a timeout, an output cap, in parallel.

``Runner.run(id, **params)`` asks ``allowlist.argv`` for the argv (so nothing outside
the allowlist can run) and hands it to ``execute``, the one function that starts a
process (tests replace it to record or fake what runs). A tool that is not installed
is not an error: the result says ``missing`` and the capture notes it.
"""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from vnetlab.capture import allowlist

TIMEOUT = 10.0                  # seconds per command
MAX_OUTPUT = 32 * 1024 * 1024   # bytes of stdout per command (ip -j -d link of ~10,000 links)
MAX_STDERR = 64 * 1024
WORKERS = 8


@dataclass(frozen=True, slots=True)
class Output:
    """What one command printed, and how it ended."""

    id: str
    argv: tuple[str, ...]
    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None
    missing: bool = False           # the tool is not installed
    timed_out: bool = False
    truncated: bool = False         # more than MAX_OUTPUT bytes: killed, output unusable
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not (self.missing or self.timed_out or self.truncated)

    def problem(self) -> str:
        """One sentence on why the output is not usable ("" when it is)."""
        if self.missing:
            return f"{self.argv[0] if self.argv else self.id}: not installed"
        if self.timed_out:
            return f"{self.id}: no answer within {TIMEOUT:g} s (killed)"
        if self.truncated:
            return f"{self.id}: more than {MAX_OUTPUT} bytes of output (killed)"
        if self.returncode != 0:
            err = self.stderr.strip().splitlines()
            return f"{self.id}: exit status {self.returncode}" + (f": {err[-1]}" if err else "")
        return ""


def execute(argv: list[str], timeout: float = TIMEOUT, cap: int = MAX_OUTPUT
            ) -> tuple[int | None, bytes, bytes, bool, bool]:
    """Run ``argv`` (no shell, stdin closed, C locale): (returncode, stdout, stderr,
    timed out, truncated). Stops reading and kills the process past ``cap`` bytes or
    ``timeout`` seconds, so memory and time stay bounded whatever the tool prints."""
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LC_ALL": "C"}
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, close_fds=True)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = bytearray(), bytearray()
    timed_out = truncated = False
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            for key, _ in sel.select(left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                buffer: bytearray = key.data
                buffer += chunk
                if buffer is out and len(out) > cap:
                    truncated = True
                elif buffer is err and len(err) > MAX_STDERR:
                    del err[MAX_STDERR:]
            if truncated:
                break
    if timed_out or truncated:
        proc.kill()
    try:
        code: int | None = proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        code = None
    proc.stdout.close()
    proc.stderr.close()
    return (None if timed_out else code), bytes(out[:cap]), bytes(err), timed_out, truncated


class Runner:
    """Runs allowlisted commands, in ``netns`` when given."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        self._which: dict[str, bool] = {}
        self.ran: list[Output] = []

    def installed(self, tool: str) -> bool:
        if tool not in self._which:
            self._which[tool] = (os.path.isabs(tool) and os.access(tool, os.X_OK)) \
                or shutil.which(tool) is not None
        return self._which[tool]

    def run(self, command_id: str, **params: str) -> Output:
        argv = allowlist.argv(command_id, self.netns, **params)
        label = command_id + "".join(f" {v}" for v in params.values())
        tool = allowlist.COMMANDS[command_id].tool
        if not self.installed(tool):
            result = Output(label, tuple(argv), missing=True)
        else:
            start = time.monotonic()
            try:
                code, out, err, timed_out, truncated = execute(argv)
            except OSError as exc:
                result = Output(label, tuple(argv), stderr=str(exc), returncode=127)
            else:
                result = Output(label, tuple(argv), out.decode("utf-8", "replace"),
                                err.decode("utf-8", "replace"), code, False, timed_out,
                                truncated, time.monotonic() - start)
        self.ran.append(result)
        return result

    def run_many(self, jobs: Iterable[tuple[str, dict[str, str]]]) -> list[Output]:
        """Several commands at once (each is a separate process: a thread per wait)."""
        todo = list(jobs)
        if len(todo) <= 1:
            return [self.run(c, **p) for c, p in todo]
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(todo))) as pool:
            return list(pool.map(lambda job: self.run(job[0], **job[1]), todo))
