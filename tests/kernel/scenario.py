"""Scenario steps shared by both sides, their vnetlab YAML rendering, and the simulator adapter.

A test lists its steps once (``Send``, ``PortDown``, ``LinkDown``, ``SetActivePort``); the
kernel side executes them in order (:mod:`kernel_topo`), the simulator side gets them as the
``run:`` section of the topology YAML, one step per simulated second.  Keeping a single
list is what makes the two runs the same experiment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .netns import TEST_ETHERTYPE

BROADCAST = "ff:ff:ff:ff:ff:ff"


@dataclass(frozen=True)
class Send:
    """``count`` raw frames out of ``vm``'s NIC (``src`` defaults to the NIC's MAC).

    ``vm`` may also be a router or a host; ``dev`` names the device when it is not the
    node's first interface (``Send("kvm1", ..., dev="br1")``: the host bridge itself)."""

    vm: str
    dst: str
    src: str | None = None
    ethertype: int = TEST_ETHERTYPE
    count: int = 1
    dev: str | None = None

    def yaml(self) -> str:
        """The ``run:`` action."""
        src = f", src: {self.src}" if self.src else ""
        count = f", count: {self.count}" if self.count != 1 else ""
        sender = f"{self.vm}:{self.dev}" if self.dev else self.vm
        return f"send: {{from: {sender}{src}, dst: {self.dst}, ethertype: {self.ethertype:#06x}{count}}}"


@dataclass(frozen=True)
class PortDown:
    """Administrative down of interface ``dev`` on host ``host`` (``ip link set DEV down``)."""

    host: str
    dev: str

    def yaml(self) -> str:
        """The ``run:`` action."""
        return f"port-down: {self.host}:{self.dev}"


@dataclass(frozen=True)
class LinkDown:
    """Unplug the cable at ``node:iface`` (both ends lose carrier)."""

    node: str
    iface: str

    def yaml(self) -> str:
        """The ``run:`` action."""
        return f"link-down: {self.node}:{self.iface}"


@dataclass(frozen=True)
class SetActivePort:
    """Soft failover: ``port`` becomes the active port of ``device`` (``host:aggregate``),
    links untouched (``teamdctl ... runner.active_port``, ``ifenslave -c``)."""

    device: str
    port: str

    def yaml(self) -> str:
        """The ``run:`` action."""
        return f"set-active-port: {{device: {self.device}, port: {self.port}}}"


Step = Send | PortDown | LinkDown | SetActivePort


def render_run(steps: Sequence[Step], start: int = 1) -> str:
    """The ``run:`` section: step *i* at ``start + i`` seconds."""
    lines = ["run:"]
    for i, step in enumerate(steps):
        lines += [f"  - at: {start + i}s", f"    {step.yaml()}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- simulator


class SimResult(Protocol):
    """The part of ``vnetlab``'s RunResult this suite relies on (see docs/validation.md)."""

    @property
    def all_expectations_hold(self) -> bool: ...

    def ping_replies(self, src: str, dst: str) -> int: ...

    def ping_sent(self, src: str, dst: str) -> int: ...

    def fdb_port(self, bridge: str, mac: str) -> str | None: ...

    def fdb(self, bridge: str) -> dict[str, str]: ...

    def received(
        self,
        endpoint: str,
        src: str | None = None,
        dst: str | None = None,
        ethertype: int | None = None,
    ) -> int: ...

    def sessions(self, src: str, dst: str) -> list[Any]:
        """Ping sessions: ``records`` with ``seq`` and ``reply_at`` (None: unanswered)."""
        ...

    @property
    def trace(self) -> Any:
        """``steps`` with ``time``, ``where``, ``port``, ``action``, ``rule``, ``reason``."""
        ...


def parse_yaml(text: str) -> Any:
    """Parse topology YAML the way vnetlab does (ruamel, safe, pure)."""
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(text)


def simulate(text: str, name: str) -> SimResult:
    """Load ``text`` as a vnetlab topology and simulate it with seed 0."""
    import vnetlab

    spec = vnetlab.load_topology_data(parse_yaml(text), name)
    result: SimResult = vnetlab.simulate(spec, seed=0)
    return result


# --------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class Mismatch:
    """One observable on which the kernel and the simulator disagree."""

    what: str
    kernel: object
    simulator: object

    def __str__(self) -> str:
        return f"{self.what}: kernel={self.kernel!r} simulator={self.simulator!r}"


def report(mismatches: Iterable[Mismatch]) -> str:
    """Multi-line assertion message (empty when everything agrees)."""
    lines = [str(m) for m in mismatches]
    return "kernel and simulator disagree:\n  " + "\n  ".join(lines) if lines else ""


def compare(what: str, kernel: object, simulator: object) -> list[Mismatch]:
    """``[Mismatch]`` when the two values differ, else ``[]``."""
    return [] if kernel == simulator else [Mismatch(what, kernel, simulator)]
