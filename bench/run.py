"""vnetlab vs ns-3 on the bridged-LAN ping reference workload (`make bench`).

Runs the workload of ns-3's `bridged_ping.py` (N hosts, 24 per access bridge, one core bridge,
host i pings host i+N/2 three times) in vnetlab and in ns-3, checks vnetlab's frame deliveries and
echo replies against the closed form, and prints a table plus the pass bar for N=1000.

Exit status: 0 report printed; 1 a bar FAILed under --strict; 2 a closed-form MISMATCH;
3 vnetlab could not run.  ns-3 being unavailable is reported but never fails the run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from vnbench.measure import EngineError, Measurement, combine, log
from vnbench.ns3 import Ns3Unavailable, ensure_venv, ns3_script, run_ns3
from vnbench.report import FAIL, Bar, Check, bars, check, document, table
from vnbench.vnetlab_engine import run_vnetlab
from vnbench.workload import Workload

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = (100, 1000)
EXIT_OK, EXIT_BAR_FAILED, EXIT_MISMATCH, EXIT_VNETLAB_ERROR = 0, 1, 2, 3


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
        for n in sizes:
            Workload(n)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return sizes


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default = ",".join(map(str, DEFAULT_SIZES))
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=list(DEFAULT_SIZES),
        help=f"comma-separated even host counts (default {default})",
    )
    parser.add_argument("--no-ns3", action="store_true", help="skip the ns-3 reference runs")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a bar FAILs")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per engine and size; median times, max RSS (default 1)",
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds allowed per engine run (default 900)"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    return args


def _repeated(run: Callable[[], Measurement], times: int) -> Measurement:
    return combine([run() for _ in range(times)])


def measure_vnetlab(
    workloads: Sequence[Workload], args: argparse.Namespace
) -> tuple[list[Measurement], list[str]]:
    results, errors = [], []
    for w in workloads:
        log(f"vnetlab N={w.hosts} ({args.repeat} run(s), fresh process each)")
        try:
            results.append(_repeated(partial(run_vnetlab, w, args.timeout), args.repeat))
        except EngineError as exc:
            errors.append(str(exc))
            log(f"vnetlab FAILED: {str(exc).splitlines()[0]} (details in the report)")
    return results, errors


def measure_ns3(
    workloads: Sequence[Workload], args: argparse.Namespace
) -> tuple[list[Measurement], list[str]]:
    try:
        script = ns3_script(REPO_ROOT)
        python = ensure_venv()
    except Ns3Unavailable as exc:
        note = f"ns-3 not available, reporting vnetlab only: {exc}"
        log(note)
        return [], [note]
    results, notes = [], []
    for w in workloads:
        log(f"ns-3 N={w.hosts} ({args.repeat} run(s); each pays a ~10-20 s cppyy import)")
        try:
            results.append(
                _repeated(partial(run_ns3, python, script, w, args.timeout), args.repeat)
            )
        except EngineError as exc:
            notes.append(f"ns-3 failed: {exc}")
            log(f"ns-3 FAILED: {str(exc).splitlines()[0]} (details in the report)")
    return results, notes


def _mismatch_banner(bad: Sequence[Check]) -> str:
    lines = ["", "!" * 72, "MISMATCH against the closed form F = N*L + N*d + 2*COUNT*N*d:"]
    lines += [f"  {c.describe()}" for c in bad]
    return "\n".join([*lines, "!" * 72])


def _print_report(
    results: Sequence[Measurement],
    checks: Sequence[Check],
    bar_list: Sequence[Bar],
    notes: Sequence[str],
) -> None:
    print(table(results, checks) if results else "(no results)")
    print(
        "\nrun s = event loop wall time; setup s = load + build (ns-3: excl. its ~10 s import);"
        " peak RSS = whole process (MB = MiB)."
    )
    print("\nBar (reported only; --strict makes FAIL exit 1):")
    for b in bar_list:
        print(f"  {b.status:4}  {b.name}: {b.detail}")
    for note in notes:
        print(f"\nNOTE: {note}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workloads = {n: Workload(n) for n in args.sizes}
    results, errors = measure_vnetlab(list(workloads.values()), args)
    notes = [f"vnetlab failed: {e}" for e in errors]
    if args.no_ns3:
        notes.append("ns-3 skipped (--no-ns3)")
    else:
        ns3_results, ns3_notes = measure_ns3(list(workloads.values()), args)
        results += ns3_results
        notes += ns3_notes
    checks = [check(m, workloads[m.hosts]) for m in results]
    bar_list = bars(results)
    bad = [c for c in checks if not c.ok]
    if args.json:
        print(json.dumps(document(results, checks, bar_list, notes), indent=2))
    else:
        _print_report(results, checks, bar_list, notes)
    if bad:
        print(_mismatch_banner(bad), file=sys.stderr if args.json else sys.stdout)
    if errors:
        return EXIT_VNETLAB_ERROR
    if bad:
        return EXIT_MISMATCH
    if args.strict and any(b.status == FAIL for b in bar_list):
        return EXIT_BAR_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
