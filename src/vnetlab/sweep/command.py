"""``vnetlab sweep``: options in, table or JSON out, exit status.

Exit status: 0 the sweep is complete; 1 complete, but some runs could not be made
(a drawn value the topology refuses, or a simulator error: see the ``error`` column);
2 bad input (option, file, mismatched ``--resume``); 3 incomplete because workers died
(finished runs are in the output file: ``--resume`` completes it); 130 interrupted by
Ctrl-C or SIGTERM (likewise).
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from typing import Any

import click

from vnetlab.sweep import Plan, PlanError, SweepResult, VaryError, execute, make_plan, summaries
from vnetlab.sweep.stats import Summary, definition, format_ns, format_p
from vnetlab.sweep.store import file_mode, journal_path


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def fail(message: str, errors: list[Any] | None = None) -> int:
    click.echo(f"error: {message}", err=True)
    for error in errors or []:
        click.echo(f"error: {error}", err=True)
    click.echo("nothing was run.", err=True)
    return 2


def main(path: str, options: tuple[str, ...], *, runs: int, seed: int, jobs: int,
         dask: str | None, output: str | None, resume: bool, as_json: bool, metric: str,
         threshold: str | None, paired: bool, export_run: tuple[str, str] | None) -> int:
    from vnetlab.errors import TopologyError
    from vnetlab.sim.time import parse_duration

    limit: int | None = None
    if threshold is not None:
        if metric == "expect":
            return fail("--threshold applies to --metric outage or dhcp (expect: has no "
                        "duration)")
        try:
            limit = parse_duration(threshold)
        except ValueError as exc:
            return fail(f"--threshold {threshold}: {exc}")
    if output is not None and not output.lower().endswith((".csv", ".parquet", ".pq")):
        return fail(f"-o {output}: write FILE.csv or FILE.parquet")
    if jobs < 0:
        return fail(f"--jobs {jobs}: give 0 (one per CPU) or more")
    try:
        plan = make_plan(path, options, runs=runs, seed=seed, paired=paired, metric=metric)
    except TopologyError as exc:
        return fail(f"{path} is not a valid topology", exc.errors)
    except VaryError as exc:
        return fail(str(exc))
    except PlanError as exc:
        return fail(str(exc), exc.errors)
    if export_run is not None:
        return _export(plan, *export_run)
    bar = _Bar() if sys.stderr.isatty() else None
    previous = signal.signal(signal.SIGTERM, _terminate)     # kill, a batch job's end: as Ctrl-C
    try:
        result = execute(plan, jobs=jobs, dask=dask, output=output, resume=resume,
                         progress=bar.start if bar is not None else None)
    except PlanError as exc:
        return fail(str(exc), exc.errors)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if bar is not None:
            bar.stop()
    table = summaries(plan, result, metric, limit)
    if as_json:
        click.echo(json.dumps(to_json(plan, result, table, metric, limit, output), indent=2,
                              sort_keys=True))
    else:
        print_table(plan, result, table, metric, limit, output)
    errors = sum(s.errors for s in table)
    saved = journal_path(output) if output else ""
    if result.status == "interrupted":
        click.echo(f"interrupted: {len(result.records)} of {plan.total} runs done"
                   + (f" and saved in {saved}; the same command with --resume runs the "
                      "rest" if output else " (nothing saved: add -o FILE to keep results)"),
                   err=True)
        return 130
    if result.status == "broken":
        click.echo(f"incomplete: {result.message}; {len(result.records)} of {plan.total} "
                   "runs done" + (f", saved in {saved}: the same command with --resume "
                                  "runs the rest" if output else ""), err=True)
        return 3
    if errors:
        first = next(s.first_error for s in table if s.first_error)
        click.echo(f"warning: {errors} run(s) could not be made (left out of the table); "
                   f"first: {first}", err=True)
        return 1
    return 0


class _Bar:
    """A rich progress bar on stderr (runs done, elapsed, remaining)."""

    def __init__(self) -> None:
        self.progress: Any = None

    def start(self, done: int, total: int) -> Callable[[int], None]:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=Console(stderr=True), transient=True)
        task = self.progress.add_task("runs", total=total, completed=done)
        self.progress.start()
        return lambda n: self.progress.update(task, advance=n)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _grid(plan: Plan) -> list[Any]:
    return [v for v in plan.varies if v.is_grid]


def print_table(plan: Plan, result: SweepResult, table: list[Summary], metric: str,
                limit: int | None, output: str | None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)   # a file gets whole rows
    durations = metric != "expect"
    title = (f"sweep {plan.name or plan.path}: {plan.runs} runs x {len(plan.combos)} "
             f"combination{'s' if len(plan.combos) != 1 else ''}, seed {plan.seed}"
             + (", paired" if plan.paired else "") + f", metric {metric}")
    out = Table(title=escape(title), title_justify="left",
                caption=escape(definition(metric, limit)), caption_justify="left")
    out.add_column("#", justify="right")
    for vary in _grid(plan):
        out.add_column(escape(vary.path_text))
    out.add_column("runs", justify="right")
    out.add_column("outages", justify="right")
    out.add_column("P(outage) [95% CI]", justify="right")
    if durations:
        for name in ("median", "p95", "max"):
            out.add_column(name, justify="right")
        out.add_column("never", justify="right")
    if any(s.errors for s in table):
        out.add_column("errors", justify="right")
    for s in table:
        row = [str(s.index), *(escape(s.values[v.path_text]) for v in _grid(plan)),
               str(s.runs), str(s.outages), format_p(s)]
        if durations:
            row += [format_ns(s.median_ns), format_ns(s.p95_ns), format_ns(s.max_ns),
                    str(s.never)]
        if any(x.errors for x in table):
            row.append(str(s.errors))
        out.add_row(*row)
    console.print(out)
    drawn = [v for v in plan.varies if not v.is_grid]
    if drawn:
        console.print("drawn per run: " + escape(", ".join(f"{v.path_text} ~ {v.describe()}"
                                                           for v in drawn)),
                      highlight=False, soft_wrap=True)
    if durations:
        console.print("durations: of the runs with an outage (nearest rank; never = not "
                      "recovered by the end of the run)", highlight=False)
    tail = f"engine: {result.engine}"
    if result.resumed:
        tail += f"; {result.resumed} runs read back from {output}"
        if result.dropped_partial:
            tail += " (a truncated last line was dropped and run again)"
    if result.restarts:
        tail += f"; the worker pool was restarted {result.restarts} time(s)"
    if output and result.complete:
        tail += f"; {len(result.records)} per-run records in {output}"
    console.print(escape(tail), highlight=False, soft_wrap=True)


def to_json(plan: Plan, result: SweepResult, table: list[Summary], metric: str,
            limit: int | None, output: str | None) -> dict[str, Any]:
    return {"file": plan.path, "name": plan.name, "metric": metric,
            "definition": definition(metric, limit), "threshold_ns": limit,
            "seed": plan.seed, "runs": plan.runs, "paired": plan.paired,
            "vary": [{"path": v.path_text, "spec": v.describe(),
                      "kind": "grid" if v.is_grid else "distribution"} for v in plan.varies],
            "combinations": [s.to_json() for s in table], "status": result.status,
            "complete": result.complete, "records": len(result.records), "output": output,
            "errors": sum(s.errors for s in table)}


def _export(plan: Plan, which: str, target: str) -> int:
    """``--export-run C:R FILE``: the run's topology as it was simulated."""
    import os
    import tempfile

    from ruamel.yaml import YAML

    from vnetlab.sweep.measure import draw
    from vnetlab.sweep.vary import patched

    c, _, r = which.partition(":")
    if not (c.isdigit() and r.isdigit()) or int(c) >= len(plan.combos) or int(r) >= plan.runs:
        return fail(f"--export-run {which}: write COMBINATION:RUN within 0..{len(plan.combos) - 1}"
                    f":0..{plan.runs - 1}")
    assignments, params, seed = draw(plan.ctx, int(c), int(r))
    doc = patched(plan.ctx.doc, assignments)
    folder = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    os.fchmod(fd, file_mode())
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"# vnetlab sweep {plan.path}, combination {c}, run {r}: "
                     + ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in params.items())
                     + f"\n# replay: vnetlab run {target} --seed {seed}\n")
        YAML().dump(doc, handle)
    os.replace(tmp, target)
    click.echo(f"wrote {target}; replay with: vnetlab run {target} --seed {seed} "
               f"(or vnetlab explain {target} --seed {seed})")
    return 0
