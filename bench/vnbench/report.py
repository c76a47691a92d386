"""Closed-form checks, the pass bar, and the printed table / JSON document."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from vnbench.measure import Measurement
from vnbench.workload import Workload

VNETLAB = "vnetlab"
NS3 = "ns-3"
BAR_HOSTS = 1000
BAR_RUN_RATIO = 1 / 3  # vnetlab run time <= 1/3 of ns-3's
BAR_RSS_MB = 300.0  # vnetlab peak RSS
PASS, FAIL, NOT_AVAILABLE = "PASS", "FAIL", "N/A"


@dataclass(frozen=True)
class Check:
    engine: str
    hosts: int
    expected_deliveries: int
    deliveries: int
    expected_replies: int
    echo_replies: int

    @property
    def ok(self) -> bool:
        return (self.deliveries, self.echo_replies) == (
            self.expected_deliveries,
            self.expected_replies,
        )

    def describe(self) -> str:
        diff = self.deliveries - self.expected_deliveries
        return (
            f"{self.engine} N={self.hosts}: frame deliveries {self.deliveries:,} vs closed form "
            f"{self.expected_deliveries:,} ({diff:+,}); echo replies {self.echo_replies:,} "
            f"vs {self.expected_replies:,}"
        )


@dataclass(frozen=True)
class Bar:
    name: str
    status: str
    detail: str


def check(m: Measurement, w: Workload) -> Check:
    return Check(
        engine=m.engine,
        hosts=m.hosts,
        expected_deliveries=w.expected_deliveries(),
        deliveries=m.deliveries,
        expected_replies=w.expected_replies(),
        echo_replies=m.echo_replies,
    )


def _find(results: Sequence[Measurement], engine: str, hosts: int) -> Measurement | None:
    return next((m for m in results if m.engine == engine and m.hosts == hosts), None)


def run_ratio(results: Sequence[Measurement], hosts: int) -> float | None:
    """vnetlab run time / ns-3 run time at one size (None when either is missing)."""
    ours, ref = _find(results, VNETLAB, hosts), _find(results, NS3, hosts)
    if ours is None or ref is None or ref.run_s <= 0:
        return None
    return ours.run_s / ref.run_s


def _run_time_bar(results: Sequence[Measurement]) -> Bar:
    name = f"N={BAR_HOSTS} run time: vnetlab <= 1/3 of ns-3"
    ratio = run_ratio(results, BAR_HOSTS)
    if ratio is None:
        return Bar(name, NOT_AVAILABLE, f"needs both engines at N={BAR_HOSTS}")
    status = PASS if ratio <= BAR_RUN_RATIO else FAIL
    return Bar(name, status, f"ratio {ratio:.3f} (limit {BAR_RUN_RATIO:.3f})")


def _rss_bar(results: Sequence[Measurement]) -> Bar:
    name = f"N={BAR_HOSTS} peak RSS: vnetlab <= {BAR_RSS_MB:.0f} MB"
    ours = _find(results, VNETLAB, BAR_HOSTS)
    if ours is None:
        return Bar(name, NOT_AVAILABLE, f"no vnetlab result at N={BAR_HOSTS}")
    status = PASS if ours.peak_rss_mb <= BAR_RSS_MB else FAIL
    return Bar(name, status, f"{ours.peak_rss_mb:.1f} MB")


def bars(results: Sequence[Measurement]) -> list[Bar]:
    return [_run_time_bar(results), _rss_bar(results)]


def _rate(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1e6:
        return f"{value / 1e6:.2f} M"
    return f"{value / 1e3:.1f} k"


def _row(m: Measurement, results: Sequence[Measurement], ok: bool) -> list[str]:
    ratio = run_ratio(results, m.hosts) if m.engine == VNETLAB else None
    return [
        str(m.hosts),
        m.engine,
        f"{m.setup_s:.3f}",
        f"{m.run_s:.3f}",
        f"{m.deliveries:,}",
        _rate(m.deliveries_per_s),
        f"{m.peak_rss_mb:.1f}",
        "-" if ratio is None else f"{ratio:.3f}",
        f"{m.echo_replies:,}",
        "OK" if ok else "MISMATCH",
    ]


HEADER = [
    "size",
    "engine",
    "setup s",
    "run s",
    "frame deliveries",
    "deliveries/s",
    "peak RSS MB",
    "vnetlab/ns-3 run",
    "echo replies",
    "closed form",
]


def table(results: Sequence[Measurement], checks: Sequence[Check]) -> str:
    """A Markdown table (aligned, so it reads in a terminal and pastes into docs)."""
    ok = {(c.engine, c.hosts): c.ok for c in checks}
    ordered = sorted(results, key=lambda m: (m.hosts, m.engine != VNETLAB))
    rows = [HEADER] + [_row(m, results, ok[(m.engine, m.hosts)]) for m in ordered]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = [
        "| " + " | ".join(c.rjust(wd) for c, wd in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (wd + 1) + ":" for wd in widths) + "|")
    return "\n".join(lines)


def document(
    results: Sequence[Measurement],
    checks: Sequence[Check],
    bar_list: Sequence[Bar],
    notes: Sequence[str],
) -> dict[str, Any]:
    """Everything as one JSON-able document (for --json)."""
    return {
        "results": [
            {
                **asdict(m),
                "deliveries_per_s": m.deliveries_per_s,
                "run_ratio_vs_ns3": run_ratio(results, m.hosts) if m.engine == VNETLAB else None,
            }
            for m in results
        ],
        "checks": [{**asdict(c), "ok": c.ok} for c in checks],
        "bars": [asdict(b) for b in bar_list],
        "notes": list(notes),
    }
