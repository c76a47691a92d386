"""Command line: ``vnetlab run | explain | catalog``.

Heavy modules (pydantic, ruamel, rich, the simulator) are imported inside the
commands, so ``vnetlab --help`` starts fast. Exit status: 0 all expectations
hold, 1 some fail, 2 bad input (with every error at file:line:column).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from vnetlab.lab import RunResult
    from vnetlab.topology.spec import TopologySpec


def _fail_input(errors: list[Any]) -> NoReturn:
    for error in errors:
        click.echo(f"error: {error}", err=True)
    click.echo(f"{len(errors)} error{'s' if len(errors) != 1 else ''}; nothing was run.",
               err=True)
    sys.exit(2)


def _load(path: str) -> TopologySpec:
    from vnetlab.errors import TopologyError
    from vnetlab.topology.load import load_topology

    try:
        return load_topology(path)
    except TopologyError as exc:
        _fail_input(exc.errors)


def _resolve(file: str | None, case: str | None) -> str:
    if case:
        from vnetlab.catalog import case_paths

        paths = case_paths()
        if case not in paths:
            click.echo(f"error: no built-in case '{case}' (see `vnetlab catalog`)", err=True)
            sys.exit(2)
        return str(paths[case])
    if not file:
        click.echo("error: give a topology FILE or --case NAME", err=True)
        sys.exit(2)
    return file


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def _simulate(path: str, seed: int, trace: str) -> RunResult:
    from vnetlab.lab import simulate

    return simulate(_load(path), seed=seed, trace=trace)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vnetlab")
def main() -> None:
    """Simulate KVM host networking frame by frame and explain what happened.

    \b
    vnetlab run FILE          run a topology's scenario, check its expectations
    vnetlab explain FILE      why a ping failed / why a MAC sits on a port
    vnetlab catalog           the built-in cases from the field reports
    vnetlab matrix            which bond mode / team runner works with which switch
    """


def _print_table(result: RunResult, title: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("line", justify="right")
    table.add_column("expectation")
    table.add_column("observed")
    table.add_column("", justify="center")
    for e in result.expectations:
        table.add_row(str(e.index), str(e.line or ""), escape(e.expected) + (
                      f"\n  because: {escape(e.because)}" if e.because else ""),
                      escape(e.actual), "[green]ok[/]" if e.ok else "[red]FAIL[/]")
    if result.expectations:
        console.print(table)
    for session in (s for ep in result.lab.endpoints.values() for s in ep.pings):
        from vnetlab.net.addr import ip4_str

        console.print(f"ping {session.src} -> {ip4_str(session.dst)}: "
                      f"{len(session.records)} sent, {session.replies} replies")
    if result.sim.tracing:
        for outage in result.outages():
            console.print(escape(outage.describe()), highlight=False, soft_wrap=True)
    for ref, client in result.lab.dhcp.clients.items():
        console.print(f"dhcp {ref} ({client.label}): {escape(client.outcome())}",
                      highlight=False, soft_wrap=True)
    drops = ", ".join(f"{reason} {count}" for reason, count in sorted(result.trace.drops.items())
                      if reason != "not-for-this-host")
    if drops:
        console.print(f"drops: {drops}")
    for finding in result.lab.findings:
        console.print(f"[yellow]finding[/] {finding.check}: {finding.summary}")
    for note in result.spec.notes:
        console.print(f"[dim]note: {escape(note)}[/]")
    verdict = "all expectations hold" if result.all_expectations_hold else \
        f"{sum(not e.ok for e in result.expectations)} expectation(s) FAILED"
    console.print(f"{result.spec.name or 'topology'}: {verdict} "
                  f"({result.sim.deliveries} frame deliveries, {result.sim.events} events)")


@main.command()
@click.argument("file", required=False)
@click.option("--case", help="a built-in case instead of FILE")
@click.option("--seed", default=0, show_default=True, help="RNG seed of the simulation")
@click.option("--trace", "trace_level", type=click.Choice(["full", "summary", "off"]),
              default="full", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output (with the trace)")
def run(file: str | None, case: str | None, seed: int, trace_level: str, as_json: bool) -> None:
    """Run FILE's `run:` actions and check its `expect:` list."""
    result = _simulate(_resolve(file, case), seed, trace_level)
    if as_json:
        _emit_json(result.to_json(with_trace=trace_level != "off"))
    else:
        _print_table(result, result.spec.name)
    sys.exit(0 if result.all_expectations_hold else 1)


@main.command()
@click.argument("file", required=False)
@click.option("--case", help="a built-in case instead of FILE")
@click.option("--ping", "ping_from", help="explain pings from this VM/host/router")
@click.option("--to", "ping_to", help="... to this IPv4 address")
@click.option("--seq", type=int, help="... this sequence number")
@click.option("--frame", "frame_uid", type=int, help="what happened to frame UID")
@click.option("--mac", help="why this MAC sits where it does (with --table)")
@click.option("--table", help="host:bridge or switch whose FDB --mac refers to")
@click.option("--dhcp", "dhcp_node", metavar="NODE[:IFACE]",
              help="why this DHCP client got no address (or got it late)")
@click.option("--matrix", "matrix_cell", metavar="ROW/COLUMN",
              help="a cell of `vnetlab matrix` (e.g. bond:balance-rr/no-lag); FILE is then the "
                   "host file (default: the standard host)")
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def explain(file: str | None, case: str | None, ping_from: str | None, ping_to: str | None,
            seq: int | None, frame_uid: int | None, mac: str | None, table: str | None,
            dhcp_node: str | None, matrix_cell: str | None, seed: int, as_json: bool) -> None:
    """Why a ping failed or a frame did not arrive, step by step to the root cause.

    With no selector: every failed expectation, every ping with no reply and
    every DHCP client that ended without an address or lost requests first.
    """
    from vnetlab.explain.explain import Explainer, Explanation
    from vnetlab.explain.render import text
    from vnetlab.net.addr import parse_ip4, parse_mac

    if matrix_cell:
        result = _matrix_cell_result(file, matrix_cell)
    else:
        result = _simulate(_resolve(file, case), seed, "full")
    explainer = Explainer(result)
    answers: list[Explanation] = []
    try:
        if ping_from:
            answers = explainer.ping(ping_from, parse_ip4(ping_to) if ping_to else None, seq)
            if not answers:
                click.echo(f"error: no ping from '{ping_from}' in this scenario", err=True)
                sys.exit(2)
        elif frame_uid is not None:
            answers = [explainer.frame(frame_uid)]
        elif dhcp_node:
            if result.lab.dhcp.client(dhcp_node) is None:
                click.echo(f"error: '{dhcp_node}' runs no DHCP client in this scenario", err=True)
                sys.exit(2)
            answers = [explainer.dhcp(dhcp_node)]
        elif mac:
            if not table:
                click.echo("error: --mac needs --table host:bridge or a switch name", err=True)
                sys.exit(2)
            if table not in result.lab.bridges and table not in result.lab.switches:
                click.echo(f"error: '{table}' is not a bridge (host:bridge) or switch", err=True)
                sys.exit(2)
            answers = [explainer.fdb_entry(table, parse_mac(mac))]
        else:
            answers = _default_questions(result, explainer)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        _emit_json({"name": result.spec.name, "ok": result.all_expectations_hold,
                    "explanations": [a.to_json() for a in answers]})
    else:
        if not answers:
            click.echo(f"{result.spec.name}: every expectation holds and every ping got its "
                       "replies; nothing to explain (ask with --ping, --frame, --mac or "
                       "--dhcp).")
        for answer in answers:
            click.echo(text(answer))
    sys.exit(0 if result.all_expectations_hold else 1)


def _default_questions(result: RunResult, explainer: Any) -> list[Any]:
    answers: list[Any] = []
    asked: set[str] = set()
    for e in result.expectations:
        spec = result.spec.expect[e.index]
        if e.ok:
            continue
        if spec.ping is not None:
            answers += explainer.ping(spec.ping.from_, spec.ping.to)
            asked.add(spec.ping.from_)
        elif spec.fdb is not None:
            answers.append(explainer.fdb_entry(spec.fdb.bridge, spec.fdb.mac))
        elif spec.dhcp is not None:
            client = result.lab.dhcp.client(spec.dhcp)
            if client is not None and client.ref not in asked:
                answers.append(explainer.dhcp(client.ref))
                asked.add(client.ref)
    for ref, client in result.lab.dhcp.clients.items():
        if ref in asked:
            continue
        answer = explainer.dhcp(ref)
        if client.lease is None or answer.decisive is not None:   # no address, or a late one
            answers.append(answer)
            asked.add(ref)
    for name, endpoint in result.lab.endpoints.items():
        for session in endpoint.pings:
            if session.replies < len(session.records) and name not in asked:
                answers += explainer.ping(name, session.dst)
                asked.add(name)
    return answers


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def catalog(ctx: click.Context, as_json: bool) -> None:
    """The built-in cases, with the field report each comes from."""
    if ctx.invoked_subcommand is not None:
        return
    from vnetlab.catalog import SEEDS, case_paths
    from vnetlab.topology.load import load_topology

    rows = []
    for name, path in case_paths().items():
        spec = load_topology(str(path))
        seed = spec.seed_case or ""
        rows.append({"name": name, "seed": seed, "seed_report": SEEDS.get(seed, ""),
                     "description": " ".join(spec.description.split()), "file": str(path)})
    if as_json:
        _emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['name']:32} seed {row['seed']:4} {row['description'][:90]}")


@catalog.command("run")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True)
def catalog_run(names: tuple[str, ...], as_json: bool) -> None:
    """Run built-in cases (all by default) and print each verdict."""
    from vnetlab.catalog import case_paths
    from vnetlab.lab import simulate
    from vnetlab.topology.load import load_topology

    paths = case_paths()
    unknown = [n for n in names if n not in paths]
    if unknown:
        click.echo(f"error: no built-in case {', '.join(unknown)} (see `vnetlab catalog`)",
                   err=True)
        sys.exit(2)
    rows: list[dict[str, Any]] = []
    for name in names or tuple(paths):
        result = simulate(load_topology(str(paths[name])))
        pings = [f"{s.src}->{s.replies}/{len(s.records)}"
                 for ep in result.lab.endpoints.values() for s in ep.pings]
        rows.append({"name": name, "seed": result.spec.seed_case, "ok":
                     result.all_expectations_hold, "pings": pings,
                     "expectations": [e.to_json() for e in result.expectations]})
    if as_json:
        _emit_json(rows)
    else:
        for row in rows:
            verdicts = "; ".join(f"{e['expected']} -> {e['actual']}" for e in row["expectations"])
            click.echo(f"{'PASS' if row['ok'] else 'FAIL'}  {row['name']:32} {verdicts}")
    sys.exit(0 if all(r["ok"] for r in rows) else 1)


@catalog.command("show")
@click.argument("name")
def catalog_show(name: str) -> None:
    """Print a built-in case's topology file."""
    path = _resolve(None, name)
    with open(path, encoding="utf-8") as handle:
        click.echo(handle.read(), nl=False)


# -- the bond-mode x switch matrix -------------------------------------------------------------

BOND_MODE_NAMES = ("balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad",
                   "balance-tlb", "balance-alb")


def _split_names(value: str | None, known: tuple[str, ...], what: str) -> tuple[str, ...]:
    if not value:
        return known
    out = []
    for name in (v.strip() for v in value.split(",") if v.strip()):
        if name.isdigit() and f"bond:{BOND_MODE_NAMES[int(name) % 7]}" in known:
            name = f"bond:{BOND_MODE_NAMES[int(name)]}" if int(name) < 7 else name
        matches = [k for k in known if k == name or k.partition(":")[2] == name]
        if not matches:
            click.echo(f"error: unknown {what} '{name}' (known: {', '.join(known)})", err=True)
            sys.exit(2)
        out += [m for m in matches if m not in out]
    return tuple(out)


def _matrix_host(path: str | None) -> Any:
    from vnetlab.errors import TopologyError
    from vnetlab.matrix import MatrixError, load_host

    try:
        return load_host(path)
    except TopologyError as exc:
        _fail_input(exc.errors)
    except MatrixError as exc:
        click.echo(f"error: {path or 'standard host'}: {exc}", err=True)
        sys.exit(2)


def _matrix_cell_result(path: str | None, cell: str) -> RunResult:
    from vnetlab.matrix import COLUMNS, ROWS, simulate_cell

    row, _, column = cell.rpartition("/")
    rows = _split_names(row, ROWS, "row")
    columns = _split_names(column, COLUMNS, "column")
    if len(rows) != 1 or len(columns) != 1:
        click.echo(f"error: '{cell}' names more than one cell; write ROW/COLUMN, e.g. "
                   "bond:balance-rr/no-lag", err=True)
        sys.exit(2)
    data, file, target = _matrix_host(path)
    from vnetlab.matrix import _plain

    return simulate_cell(_plain(data), file, target, rows[0], columns[0])


@main.command()
@click.option("--topology", "topology", metavar="FILE",
              help="your host file instead of the standard host")
@click.option("--rows", help="comma-separated rows (bond:MODE, team:RUNNER or a bare name)")
@click.option("--columns", help="comma-separated columns: " + ", ".join(
    ("no-lag", "static-lag", "lacp", "lacp-suspend")))
@click.option("--jobs", "-j", default=0, help="worker processes (0: one per CPU)")
@click.option("--json", "as_json", is_flag=True)
@click.option("--markdown", is_flag=True)
@click.option("--export", "export_dir", metavar="DIR",
              help="also write each cell's topology file there (run or explain them)")
def matrix(topology: str | None, rows: str | None, columns: str | None, jobs: int,
           as_json: bool, markdown: bool, export_dir: str | None) -> None:
    """Which bond mode / teamd runner works under a VM bridge with which switch.

    Every cell is a simulation of the host (2 NICs, bridge, VMs, gateway behind
    the switch) with traffic both ways; open one with
    `vnetlab explain --matrix ROW/COLUMN`.
    """
    import os

    from vnetlab.matrix import COLUMN_TITLES, COLUMNS, ROWS, run_matrix, to_markdown

    row_names = _split_names(rows, ROWS, "row")
    column_names = _split_names(columns, COLUMNS, "column")
    data, file, target = _matrix_host(topology)
    if export_dir:
        _export_cells(data, target, row_names, column_names, export_dir)
    from vnetlab.errors import TopologyError

    try:
        cells = run_matrix(topology, row_names, column_names,
                           jobs=jobs or min(os.cpu_count() or 1, 4))
    except TopologyError as exc:           # a cell the rewritten file makes invalid
        _fail_input(exc.errors)
    if as_json:
        _emit_json({"host": file, "columns": {c: COLUMN_TITLES[c] for c in column_names},
                    "cells": [c.to_json() for c in cells]})
        return
    if markdown:
        click.echo(to_markdown(cells), nl=False)
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    colour = {"works": "green", "degraded": "yellow", "broken": "red"}
    table = Table(title=f"bond mode x switch, host {file}", title_justify="left")
    table.add_column("aggregate")
    for column in column_names:
        table.add_column(COLUMN_TITLES[column])
    by_key = {(c.row, c.column): c for c in cells}
    for row in row_names:
        out = [row]
        for column in column_names:
            c = by_key[(row, column)]
            out.append(f"[{colour[c.verdict]}]{c.verdict}[/] {c.loss_pct:g}% loss\n"
                       f"moves {c.switch_mac_moves}/{c.bridge_mac_moves} dups "
                       f"{c.duplicates_to_vms}")
        table.add_row(*out)
    console = Console()
    console.print(table)
    console.print("moves = MAC moves on the switch / host bridge; dups = duplicate frames to VMs. "
                  "Why: vnetlab explain --matrix ROW/COLUMN")
    for c in cells:
        if c.verdict != "works":
            console.print(f"[{colour[c.verdict]}]{c.row} / {c.column}[/]: {escape(c.reason)}",
                          highlight=False)


def _export_cells(data: Any, target: Any, rows: tuple[str, ...], columns: tuple[str, ...],
                  folder: str) -> None:
    """Write each cell's topology (atomically: a temporary file renamed into place)."""
    import os
    import tempfile

    from ruamel.yaml import YAML

    from vnetlab.matrix import _plain, cell_data

    os.makedirs(folder, exist_ok=True)
    yaml = YAML()
    for row in rows:
        for column in columns:
            name = f"{row.replace(':', '-')}--{column}.yaml"
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                yaml.dump(cell_data(_plain(data), target, row, column), handle)
            os.replace(tmp, os.path.join(folder, name))
