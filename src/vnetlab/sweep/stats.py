"""What a sweep says per combination: how likely the outage is, and how long it lasts.

A metric decides, from one run's record, whether the run had an outage and how long
it lasted (``--metric``):

- ``expect`` (default): the run fails when one of the file's ``expect:`` does not
  hold. Write the expectations of a working network (what the ``-fixed`` catalog
  cases expect); no duration.
- ``outage``: a ping flow lost probes: a run of lost probes, from the first lost
  probe to the first answered one (``explain/outage.py``); the run's duration is its
  longest outage over all flows, "never" if it had not ended when the run did.
- ``dhcp``: a DHCP client's first attempt failed: the program gave up (NetworkManager's
  ``ipv4.dhcp-timeout``, dhclient's ``timeout``, iPXE's 15 s...), fell back to a
  link-local address, or had no lease at the end of the run. The duration is the time
  the guest's network waited for its address: client start (``boot-delay``) to first
  lease, "never" if it got none; the slowest client counts.

``--threshold D`` (outage, dhcp): the run counts only when its duration exceeds ``D``
(one that never recovered always counts); with ``dhcp`` this replaces the
first-attempt rule: "no address within D of the guest starting its client".

Per combination: the runs (runs that could not be made, ``error``, are counted apart
and left out), the runs with an outage, P(outage) = outages / runs with its 95 %
Wilson score interval (Wilson 1927; right at 0 and 1 and for small samples, where the
normal approximation is not), and the median, p95 and max of the durations **of the
runs with an outage** (nearest rank: each is a duration some run had; "never" ranks
above every duration).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vnetlab.sweep.measure import NEVER, RunRecord

if TYPE_CHECKING:
    from vnetlab.sweep.vary import Value, Vary

METRICS = ("expect", "outage", "dhcp")
Z95 = 1.959963984540054          # the 97.5th percentile of N(0,1)

DEFINITIONS = {
    "expect": "a run fails when one of the file's expect: does not hold",
    "outage": "outage = a ping flow lost probes (first lost -> first answered probe); "
              "duration = the run's longest outage",
    "dhcp": "outage = a DHCP client's first attempt failed (gave up, link-local, or no lease "
            "at the end); duration = client start -> first lease, slowest client",
}


def definition(metric: str, threshold: int | None) -> str:
    from vnetlab.sim.time import format_duration

    if threshold is None:
        return DEFINITIONS[metric]
    limit = format_duration(threshold)
    if metric == "outage":
        return (f"outage = a ping flow's longest outage (first lost -> first answered probe) "
                f"exceeds {limit}, or it never recovered")
    return (f"outage = a DHCP client had no lease within {limit} of starting (boot-delay); "
            "duration = client start -> first lease, slowest client")


def judge(record: RunRecord, metric: str, threshold: int | None = None
          ) -> tuple[bool, int | None]:
    """(had an outage, its duration: ns, ``NEVER``, or None when the metric has none)."""
    if metric == "expect":
        return (not record.ok, None)
    if metric == "outage":
        duration = NEVER if record.outage_never else record.outage_ns
        if duration is None:
            return (False, None)
        return (duration > threshold if threshold is not None else True, duration)
    duration = NEVER if record.dhcp_never else record.dhcp_wait_ns
    if duration is None:
        return (False, None)
    if threshold is not None:
        return (duration > threshold, duration)
    return (record.dhcp_failed, duration)


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion k/n (0..1 when n = 0)."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return (max(0.0, centre - half) if k else 0.0, min(1.0, centre + half) if k < n else 1.0)


def nearest_rank(sorted_values: list[int], q: float) -> int:
    """The q-quantile by nearest rank (a value of the sample)."""
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(slots=True)
class Summary:
    """One combination."""

    index: int
    values: dict[str, str]                 # grid axis path -> the value's label
    records: dict[str, Any] = field(default_factory=dict)   # path -> value as recorded
    runs: int = 0
    errors: int = 0
    outages: int = 0
    p: float = 0.0
    ci95: tuple[float, float] = (0.0, 1.0)
    median_ns: int | None = None
    p95_ns: int | None = None
    max_ns: int | None = None
    never: int = 0
    first_error: str = ""

    def to_json(self) -> dict[str, Any]:
        def ns(value: int | None) -> int | str | None:
            return "never" if value == NEVER else value

        return {"combination": self.index, "values": self.records, "labels": self.values,
                "runs": self.runs, "errors": self.errors, "outages": self.outages,
                "p": self.p, "ci95": list(self.ci95),
                "duration": {"of": "runs with an outage", "median_ns": ns(self.median_ns),
                             "p95_ns": ns(self.p95_ns), "max_ns": ns(self.max_ns),
                             "never": self.never},
                "first_error": self.first_error}


def summarize(records: list[RunRecord], varies: list[Vary] | tuple[Vary, ...],
              combos: list[tuple[Value, ...]] | tuple[tuple[Value, ...], ...], metric: str,
              threshold: int | None = None) -> list[Summary]:
    """One summary per combination, from the records sorted by (combination, run):
    the same whatever order or engine produced them."""
    grid = [v for v in varies if v.is_grid]
    out = [Summary(i, {v.path_text: value.label for v, value in zip(grid, combo, strict=True)},
                   {v.path_text: value.record for v, value in zip(grid, combo, strict=True)})
           for i, combo in enumerate(combos)]
    durations: list[list[int]] = [[] for _ in combos]
    for record in sorted(records, key=lambda r: r.key):
        summary = out[record.combination]
        if record.error:
            summary.errors += 1
            summary.first_error = summary.first_error or f"run {record.run}: {record.error}"
            continue
        summary.runs += 1
        outage, duration = judge(record, metric, threshold)
        if outage:
            summary.outages += 1
            if duration is not None:
                durations[record.combination].append(duration)
    for summary, values in zip(out, durations, strict=True):
        summary.p = summary.outages / summary.runs if summary.runs else 0.0
        summary.ci95 = wilson(summary.outages, summary.runs)
        if values:
            values.sort()
            summary.median_ns = nearest_rank(values, 0.5)
            summary.p95_ns = nearest_rank(values, 0.95)
            summary.max_ns = values[-1]
            summary.never = sum(1 for v in values if v == NEVER)
    return out


def format_ns(value: int | None) -> str:
    from vnetlab.sim.time import format_duration

    if value is None:
        return "-"
    if value == NEVER:
        return "never"
    if value >= 1_000_000_000:
        return f"{value / 1e9:.3g}s" if value % 1_000_000 else format_duration(value)
    if value >= 1_000_000:
        return f"{value / 1e6:.3g}ms"
    return format_duration(value)


def format_p(summary: Summary) -> str:
    lo, hi = summary.ci95
    return f"{100 * summary.p:.1f}% [{100 * lo:.1f}-{100 * hi:.1f}]"
