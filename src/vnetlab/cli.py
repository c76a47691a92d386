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


def _check_lang(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and value not in ("en", "zh"):
        raise click.BadParameter(f"unknown language {value!r} (expected one of: en, zh)",
                                 ctx, param)
    return value


def _lang_option(func: Any) -> Any:
    """``--lang en|zh`` (i18n.py, docs/i18n.md); without it the locale decides. JSON
    output stays English whatever the language."""
    return click.option("--lang", callback=_check_lang, metavar="en|zh",
                        help="output language (default: zh if LC_ALL, LC_MESSAGES or LANG "
                             "starts with zh, else en); JSON stays English")(func)


def _known_cases(names: tuple[str, ...]) -> dict[str, Any]:
    """The built-in cases by name; exit 2 naming any of ``names`` that is not one."""
    from vnetlab.catalog import case_paths

    paths = case_paths()
    unknown = [n for n in names if n not in paths]
    if unknown:
        click.echo(f"error: no built-in case {', '.join(unknown)} (see `vnetlab catalog`)",
                   err=True)
        sys.exit(2)
    return dict(paths)


def _language(option: str | None, ctx: click.Context | None = None) -> str:
    """``--lang`` of the command, else of its group (``catalog --lang zh run``), else
    the locale."""
    from vnetlab.i18n import pick_lang

    if option is None and ctx is not None and ctx.parent is not None \
            and isinstance(ctx.parent.obj, dict):
        option = ctx.parent.obj.get("lang")
    return pick_lang(option)


def _simulate(path: str, seed: int, trace: str, capture: bool | tuple[str, ...] = False
              ) -> RunResult:
    from vnetlab.lab import simulate

    spec = _load(path)
    if capture is False:
        return simulate(spec, seed=seed, trace=trace)
    from vnetlab.export.capture import CaptureError

    try:                            # capture ports are checked before the run starts
        return simulate(spec, seed=seed, trace=trace, capture=capture)
    except CaptureError as exc:
        click.echo(f"error: --pcap-port: {exc}; nothing was run.", err=True)
        sys.exit(2)


def _write_pcaps(result: RunResult, folder: str) -> dict[str, str]:
    """``run --pcap DIR``: the captures, written atomically (docs/pcap.md)."""
    from vnetlab.export.pcap import PcapTimeError

    try:
        return {ref: str(path) for ref, path in result.write_pcaps(folder).items()}
    except (OSError, PcapTimeError) as exc:
        click.echo(f"error: --pcap {folder}: {exc}; no capture file was written.", err=True)
        sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vnetlab")
def main() -> None:
    """Simulate KVM host networking frame by frame and explain what happened.

    \b
    vnetlab run FILE          run a topology's scenario, check its expectations
    vnetlab explain FILE      why a ping failed / why a MAC sits on a port
    vnetlab diagram FILE      the topology as SVG, DOT or Mermaid, problems in red
    vnetlab report FILE -o X  a self-contained HTML report to attach to a ticket
    vnetlab catalog           the built-in cases from the field reports
    vnetlab matrix            which bond mode / team runner works with which switch
    vnetlab sweep FILE        randomized runs: how likely an outage is, per parameter value
    vnetlab import PATH...    a topology from nmstate, NM keyfiles, ifcfg, nmcli, libvirt, sosreport
    vnetlab doctor PATH...    hazard checks with evidence and fixes; --prove simulates each fix
    """


def _print_table(result: RunResult, title: str, lang: str = "en") -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from vnetlab.i18n import note, reason, t

    console = Console()
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column(t("cli.col.line", lang), justify="right")
    table.add_column(t("cli.col.expectation", lang))
    table.add_column(t("cli.col.observed", lang))
    table.add_column("", justify="center")
    for e in result.expectations_in(lang):
        table.add_row(str(e.index), str(e.line or ""), escape(e.expected) + (
                      t("cli.because", lang, because=escape(e.because)) if e.because else ""),
                      escape(e.actual), f"[green]{t('cli.ok', lang)}[/]" if e.ok else
                      f"[red]{t('cli.fail', lang)}[/]")
    if result.expectations:
        console.print(table)
    for session in (s for ep in result.lab.endpoints.values() for s in ep.pings):
        from vnetlab.net.addr import ip4_str

        console.print(t("cli.ping", lang, src=session.src, dst=ip4_str(session.dst),
                        sent=len(session.records), replies=session.replies))
    if result.sim.tracing:
        for outage in result.outages(lang):
            console.print(escape(outage.describe(lang)), highlight=False, soft_wrap=True)
    for ref, client in result.lab.dhcp.clients.items():
        console.print(t("cli.dhcp", lang, ref=ref, label=client.label,
                        outcome=escape(note(client.outcome(), lang))),
                      highlight=False, soft_wrap=True)
    drops = t("cli.comma", lang).join(t("cli.drop_count", lang, count=count,
                                        reason=reason(token, lang, brackets=True))
                      for token, count in sorted(result.trace.drops.items())
                      if token != "not-for-this-host")
    if drops:
        console.print(t("cli.drops", lang, drops=drops))
    for finding in result.lab.findings:
        console.print(t("cli.finding", lang, check=finding.check, summary=finding.text(lang)))
    for warning in result.spec.notes:
        console.print(t("cli.note", lang, note=escape(note(warning, lang))))
    verdict = t("cli.all_hold", lang) if result.all_expectations_hold else \
        t("cli.failed", lang, count=sum(not e.ok for e in result.expectations))
    console.print(t("cli.summary", lang, name=result.spec.name or t("cli.topology", lang),
                    verdict=verdict, deliveries=result.sim.deliveries, events=result.sim.events))


@main.command()
@click.argument("file", required=False)
@click.option("--case", help="a built-in case instead of FILE")
@click.option("--seed", default=0, show_default=True, help="RNG seed of the simulation")
@click.option("--trace", "trace_level", type=click.Choice(["full", "summary", "off"]),
              default="full", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output (with the trace)")
@click.option("--pcap", "pcap_dir", metavar="DIR",
              help="write the frames each link end sent and received to DIR/<node>_<iface>.pcap")
@click.option("--pcap-port", "pcap_ports", metavar="NODE:IFACE", multiple=True,
              help="with --pcap: only these link ends (repeat the option or separate by commas)")
@_lang_option
def run(file: str | None, case: str | None, seed: int, trace_level: str, as_json: bool,
        pcap_dir: str | None, pcap_ports: tuple[str, ...], lang: str | None) -> None:
    """Run FILE's `run:` actions and check its `expect:` list."""
    if pcap_ports and not pcap_dir:
        click.echo("error: --pcap-port needs --pcap DIR; nothing was run.", err=True)
        sys.exit(2)
    result = _simulate(_resolve(file, case), seed, trace_level,
                       (pcap_ports or True) if pcap_dir else False)
    pcaps = _write_pcaps(result, pcap_dir) if pcap_dir else {}
    if as_json:
        data = result.to_json(with_trace=trace_level != "off")
        if pcap_dir:
            data["pcap"] = pcaps
        _emit_json(data)
    else:
        _print_table(result, result.spec.name, _language(lang))
        if pcap_dir:
            click.echo(f"pcap: {len(pcaps)} capture file{'s' if len(pcaps) != 1 else ''} in "
                       f"{pcap_dir} (open with wireshark or tshark -r)")
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
@_lang_option
def explain(file: str | None, case: str | None, ping_from: str | None, ping_to: str | None,
            seq: int | None, frame_uid: int | None, mac: str | None, table: str | None,
            dhcp_node: str | None, matrix_cell: str | None, seed: int, as_json: bool,
            lang: str | None) -> None:
    """Why a ping failed or a frame did not arrive, step by step to the root cause.

    With no selector: every failed expectation, every ping with no reply and
    every DHCP client that ended without an address or lost requests first.
    """
    from vnetlab.explain.explain import Explainer, Explanation
    from vnetlab.explain.render import text
    from vnetlab.i18n import t
    from vnetlab.net.addr import parse_ip4, parse_mac

    if matrix_cell:
        result = _matrix_cell_result(file, matrix_cell)
    else:
        result = _simulate(_resolve(file, case), seed, "full")
    language = "en" if as_json else _language(lang)
    explainer = Explainer(result, language)
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
            if table not in result.lab.bridges and table not in result.lab.switches \
                    and table not in result.lab.ovs:
                click.echo(f"error: '{table}' is not a bridge (host:bridge) or switch", err=True)
                sys.exit(2)
            answers = [explainer.fdb_entry(table, parse_mac(mac))]
        else:
            answers = explainer.default_questions()
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    from vnetlab.explain.migration import migration_stories

    stories = migration_stories(result) if not (frame_uid or dhcp_node or mac) else []
    if as_json:
        _emit_json({"name": result.spec.name, "ok": result.all_expectations_hold,
                    "migrations": [s.to_json() for s in stories],
                    "explanations": [a.to_json() for a in answers]})
    else:
        for story in stories:                   # the timeline first: the answers refer to it
            click.echo("\n".join(story.lines(language)) + "\n")
        if not answers:
            click.echo(t("cli.nothing", language, name=result.spec.name))
        for answer in answers:
            click.echo(text(answer, language))
    sys.exit(0 if result.all_expectations_hold else 1)


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True)
@_lang_option
@click.pass_context
def catalog(ctx: click.Context, as_json: bool, lang: str | None) -> None:
    """The built-in cases, with the field report each comes from."""
    ctx.ensure_object(dict)["lang"] = lang        # `catalog --lang zh run` (subcommands)
    if ctx.invoked_subcommand is not None:
        return
    from vnetlab.catalog import SEEDS, case_paths
    from vnetlab.i18n import case_description, clip, t
    from vnetlab.topology.load import load_topology

    language = _language(lang)

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
        if language == "en":
            click.echo(f"{row['name']:32} seed {row['seed']:4} {row['description'][:90]}")
        else:
            description = case_description(row["name"], row["description"], language)
            click.echo(t("cli.catalog_row", language, name=f"{row['name']:32}",
                         seed=f"{row['seed']:4}", description=clip(description, 90)))


@catalog.command("run")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True)
@_lang_option
@click.pass_context
def catalog_run(ctx: click.Context, names: tuple[str, ...], as_json: bool,
                lang: str | None) -> None:
    """Run built-in cases (all by default) and print each verdict."""
    from vnetlab.i18n import t
    from vnetlab.lab import simulate
    from vnetlab.topology.load import load_topology

    language = _language(lang, ctx)

    paths = _known_cases(names)
    rows: list[dict[str, Any]] = []
    for name in names or tuple(paths):
        result = simulate(load_topology(str(paths[name])))
        pings = [f"{s.src}->{s.replies}/{len(s.records)}"
                 for ep in result.lab.endpoints.values() for s in ep.pings]
        rows.append({"name": name, "seed": result.spec.seed_case, "ok":
                     result.all_expectations_hold, "pings": pings,
                     "expectations": [e.to_json() for e in result.expectations],
                     "texts": [e.to_json() for e in result.expectations_in(language)]})
    if as_json:
        _emit_json([{k: v for k, v in row.items() if k != "texts"} for row in rows])
    else:
        for row in rows:
            verdicts = t("cli.join", language).join(
                t("cli.expect_arrow", language, expected=e["expected"], actual=e["actual"])
                for e in row["texts"])
            click.echo(t("cli.catalog_run_row", language,
                         verdict=t("cli.pass" if row["ok"] else "cli.catalog_fail", language),
                         name=f"{row['name']:32}", verdicts=verdicts))
    sys.exit(0 if all(r["ok"] for r in rows) else 1)


@catalog.command("show")
@click.argument("name")
@_lang_option
@click.pass_context
def catalog_show(ctx: click.Context, name: str, lang: str | None) -> None:
    """Print a built-in case's topology file (in Chinese, headed by its Chinese
    description as a YAML comment)."""
    path = _resolve(None, name)
    with open(path, encoding="utf-8") as handle:
        content = handle.read()
    language = _language(lang, ctx)
    if language != "en":
        import textwrap

        from vnetlab.i18n import case_description

        description = case_description(name, "", language)
        if description:
            click.echo("".join(f"# {line}\n" for line in textwrap.wrap(description, 50)), nl=False)
    click.echo(content, nl=False)


# -- pictures and reports (src/vnetlab/report, docs/report.md) ------------------------------------

def _write_output(path: str, text: str) -> None:
    from vnetlab.report import write_atomic

    try:
        write_atomic(path, text)
    except OSError as exc:
        click.echo(f"error: cannot write {path}: {exc.strerror or exc}", err=True)
        sys.exit(2)


@main.command("diagram")
@click.argument("file", required=False)
@click.option("--case", help="a built-in case instead of FILE")
@click.option("--format", "fmt", type=click.Choice(["svg", "dot", "mermaid"]), default="svg",
              show_default=True)
@click.option("-o", "--output", metavar="FILE", help="write FILE (atomically) instead of stdout")
@click.option("--engine", type=click.Choice(["builtin", "dot"]), default="builtin",
              show_default=True, help="SVG layout: vnetlab's own, or graphviz's dot (on PATH)")
@click.option("--seed", default=0, show_default=True, help="RNG seed of the run whose "
              "problems are marked")
@_lang_option
def diagram_cmd(file: str | None, case: str | None, fmt: str, output: str | None, engine: str,
                seed: int, lang: str | None) -> None:
    """The topology as a picture (SVG, DOT or Mermaid), with the run's problems in red:
    the decisive drop of each failing flow, forwarding loops, MACs used twice."""
    from vnetlab.report.diagram import EngineError, render

    result = _simulate(_resolve(file, case), seed, "full")
    try:
        text = render(result, fmt, _language(lang), engine)
    except EngineError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if output:
        _write_output(output, text)
    else:
        click.echo(text, nl=False)


@main.command("report")
@click.argument("file", required=False)
@click.option("--case", help="a built-in case instead of FILE")
@click.option("-o", "--output", required=True, metavar="FILE", help="the HTML file to write")
@click.option("--seed", default=0, show_default=True, help="RNG seed of the simulation")
@_lang_option
def report_cmd(file: str | None, case: str | None, output: str, seed: int,
               lang: str | None) -> None:
    """One self-contained HTML file: diagram, expectations, findings, each failing
    flow explained with a sequence diagram, FDB/ARP history. Exit status as `run`."""
    from vnetlab.report.html import build_report

    path = _resolve(file, case)
    result = _simulate(path, seed, "full")
    _write_output(output, build_report(result, _language(lang),
                                       source=f"--case {case}" if case else path))
    sys.exit(0 if result.all_expectations_hold else 1)


@catalog.command("report")
@click.argument("names", nargs=-1)
@click.option("-o", "--output", "folder", default="vnetlab-reports", show_default=True,
              metavar="DIR", help="folder for NAME.html and index.html")
@_lang_option
def catalog_report(names: tuple[str, ...], folder: str, lang: str | None) -> None:
    """An HTML report per built-in case (all by default) and an index.html
    grouping them by field report."""
    import os

    from vnetlab.i18n import case_description
    from vnetlab.lab import simulate
    from vnetlab.report.diagram import failing_flows
    from vnetlab.report.html import IndexEntry, build_index, build_report
    from vnetlab.topology.load import load_topology

    paths = _known_cases(names)
    language = _language(lang, click.get_current_context())
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        click.echo(f"error: cannot create {folder}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    entries = []
    for name in names or tuple(paths):
        result = simulate(load_topology(str(paths[name])))
        flows = failing_flows(result, language)
        _write_output(os.path.join(folder, f"{name}.html"),
                      build_report(result, language, source=f"--case {name}", flows=flows))
        failed = sum(not e.ok for e in result.expectations)
        entries.append(IndexEntry(name, f"{name}.html", result.spec.seed_case or "",
                                  case_description(name, " ".join(
                                      result.spec.description.split()), language), failed == 0,
                                  len(result.expectations), failed, len(flows)))
    _write_output(os.path.join(folder, "index.html"), build_index(entries, language))
    click.echo(f"{len(entries)} report{'s' if len(entries) != 1 else ''} and index.html "
               f"in {folder}")


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
    from vnetlab.topology.load import plain

    return simulate_cell(plain(data), file, target, rows[0], columns[0])


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
@_lang_option
def matrix(topology: str | None, rows: str | None, columns: str | None, jobs: int,
           as_json: bool, markdown: bool, export_dir: str | None, lang: str | None) -> None:
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
    from vnetlab.i18n import note, t

    language = _language(lang)
    if markdown:
        click.echo(to_markdown(cells) if language == "en" else _markdown(cells, language),
                   nl=False)
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    colour = {"works": "green", "degraded": "yellow", "broken": "red"}
    table = Table(title=t("matrix.title", language, file=file), title_justify="left")
    table.add_column(t("matrix.aggregate", language))
    for column in column_names:
        table.add_column(COLUMN_TITLES[column] if language == "en" else
                         t(f"matrix.col.{column}", language))
    by_key = {(c.row, c.column): c for c in cells}
    for row in row_names:
        out = [row]
        for column in column_names:
            c = by_key[(row, column)]
            out.append(t("matrix.cell", language,
                         verdict=f"[{colour[c.verdict]}]{t('matrix.' + c.verdict, language)}[/]",
                         loss=f"{c.loss_pct:g}", switch_moves=c.switch_mac_moves,
                         bridge_moves=c.bridge_mac_moves, dups=c.duplicates_to_vms))
        table.add_row(*out)
    console = Console()
    console.print(table)
    console.print(t("matrix.legend", language))
    for c in cells:
        if c.verdict != "works":
            console.print(t("matrix.reason", language, row=f"[{colour[c.verdict]}]{c.row}",
                            column=f"{c.column}[/]", reason=escape(note(c.reason, language))),
                          highlight=False)


def _markdown(cells: list[Any], lang: str) -> str:
    """``matrix --markdown`` in another language (matrix.to_markdown is the English)."""
    from vnetlab.i18n import note, t

    rows = list(dict.fromkeys(c.row for c in cells))
    columns = list(dict.fromkeys(c.column for c in cells))
    by_key = {(c.row, c.column): c for c in cells}
    lines = [f"| {t('matrix.aggregate', lang)} | "
             + " | ".join(t(f"matrix.col.{c}", lang) for c in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for row in rows:
        out = [f"`{row}`"]
        for column in columns:
            c = by_key[(row, column)]
            out.append(t("matrix.md.cell", lang, verdict=t(f"matrix.{c.verdict}", lang),
                         loss=f"{c.loss_pct:g}", switch_moves=c.switch_mac_moves,
                         bridge_moves=c.bridge_mac_moves, dups=c.duplicates_to_vms))
        lines.append("| " + " | ".join(out) + " |")
    lines += ["", t("matrix.md.legend", lang), ""]
    lines += [t("matrix.md.reason", lang, row=c.row, column=c.column,
                verdict=t(f"matrix.{c.verdict}", lang), reason=note(c.reason, lang))
              for c in cells]
    return "\n".join(lines) + "\n"


def _export_cells(data: Any, target: Any, rows: tuple[str, ...], columns: tuple[str, ...],
                  folder: str) -> None:
    """Write each cell's topology (atomically: a temporary file renamed into place)."""
    import os
    import tempfile

    from ruamel.yaml import YAML

    from vnetlab.matrix import cell_data
    from vnetlab.topology.load import plain as _plain

    os.makedirs(folder, exist_ok=True)
    yaml = YAML()
    for row in rows:
        for column in columns:
            name = f"{row.replace(':', '-')}--{column}.yaml"
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                yaml.dump(cell_data(_plain(data), target, row, column), handle)
            os.replace(tmp, os.path.join(folder, name))


# -- randomized parameter sweeps (docs/sweep.md) ------------------------------------------------

@main.command()
@click.argument("file", required=False)
@click.option("--case", help="a built-in case instead of FILE")
@click.option("--vary", "varies", metavar="PATH=SPEC", multiple=True,
              help="a value to vary: PATH into the document (vms.vm1.boot-delay, "
                   "interfaces[br0]...), SPEC a list [1,3,5] (grid) or a distribution drawn "
                   "per run: uniform(A,B) normal(MU,SIGMA) lognormal(MEDIAN,SHAPE) exp(MEAN) "
                   "randint(A,B) choice([..]); repeatable")
@click.option("--runs", default=100, show_default=True, help="runs per combination")
@click.option("--seed", default=0, show_default=True, help="seed of the whole sweep")
@click.option("--jobs", "-j", default=0, help="worker processes (0: one per CPU; 1: in-process)")
@click.option("--dask", metavar="ADDRESS", help="run on a Dask cluster (tcp://host:8786)")
@click.option("-o", "--output", metavar="FILE.csv|FILE.parquet",
              help="one record per run, streamed as chunks finish")
@click.option("--resume", is_flag=True, help="complete -o FILE: skip the runs it holds")
@click.option("--json", "as_json", is_flag=True, help="the summary as JSON")
@click.option("--metric", type=click.Choice(["expect", "outage", "dhcp"]), default="expect",
              show_default=True, help="what counts as an outage (docs/sweep.md)")
@click.option("--threshold", metavar="DURATION",
              help="outage/dhcp: count a run only when its outage lasts longer")
@click.option("--paired", is_flag=True,
              help="the same draws and seeds in every combination (common random numbers)")
@click.option("--export-run", nargs=2, metavar="COMB:RUN FILE",
              help="write that run's topology to FILE (replay it with run/explain) and stop")
def sweep(file: str | None, case: str | None, varies: tuple[str, ...], runs: int, seed: int,
          jobs: int, dask: str | None, output: str | None, resume: bool, as_json: bool,
          metric: str, threshold: str | None, paired: bool,
          export_run: tuple[str, str] | None) -> None:
    """Run FILE many times with randomized values; P(outage) and durations per combination."""
    from vnetlab.sweep.command import main as sweep_main

    sys.exit(sweep_main(_resolve(file, case), varies, runs=runs, seed=seed, jobs=jobs, dask=dask,
                        output=output, resume=resume, as_json=as_json, metric=metric,
                        threshold=threshold, paired=paired, export_run=export_run))


# -- configuration imports (src/vnetlab/importers, docs/import.md) -------------------------------

@main.command("import")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--kind", type=click.Choice(["nmstate", "keyfile", "ifcfg", "nmcli", "libvirt",
                                           "sosreport"]),
              help="the format of every PATH (default: detected per PATH)")
@click.option("--host", metavar="NAME", help="the host the configuration belongs to (default: "
              "the sosreport's host name, an nmstate file's stem, else kvm1)")
@click.option("-o", "--output", metavar="FILE", help="write FILE (atomically) instead of stdout")
@_lang_option
def import_cmd(paths: tuple[str, ...], kind: str | None, host: str | None, output: str | None,
               lang: str | None) -> None:
    """A topology file from configuration: nmstatectl show, NetworkManager keyfiles, ifcfg
    files, pasted nmcli lines, libvirt domain XML, a sosreport. Settings that cannot be
    interpreted are listed (file:line); exit 0, 1 if the result does not load as it is,
    2 on unreadable or hostile input (nothing is written)."""
    from vnetlab.i18n import t
    from vnetlab.importers import ImportFailure, check, dump, import_path, merge

    language = _language(lang)
    try:
        result = merge([import_path(path, kind, host) for path in paths])
    except ImportFailure as exc:
        click.echo(t("import.error", language, error=exc), err=True)
        click.echo(t("import.nothing", language), err=True)
        sys.exit(2)
    for note in result.notes:
        click.echo(t("import.note", language, note=note), err=True)
    problems = check(result, output or "<stdout>")
    if output:
        _write_output(output, dump(result))
    else:
        click.echo(dump(result), nl=False)
    click.echo(t("import.summary", language, path=output or "-",
                 hosts=len(result.doc.get("hosts", {})), vms=len(result.doc.get("vms", {})),
                 notes=len(result.notes)), err=True)
    if problems:
        click.echo(t("import.invalid", language, count=len(problems)), err=True)
        for problem in problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)


# -- hazard checks, proof by simulation, fleet audits (src/vnetlab/doctor, docs/doctor.md) -----

@main.command("doctor")
@click.argument("paths", nargs=-1, required=True, metavar="FILE_OR_DIR...")
@click.option("--prove", is_flag=True,
              help="simulate the topology as is and with each fix (a harness for host captures)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output (schema "
              "vnetlab.doctor/1)")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default="error",
              show_default=True, help="exit status 1 when a finding reaches this severity")
@click.option("--jobs", "-j", default=0, help="worker processes (0: one per CPU for many "
              "inputs; 1: in-process)")
@click.option("--dask", metavar="ADDRESS", help="audit on a Dask cluster (tcp://host:8786)")
@click.option("--only", multiple=True, metavar="ID",
              help="only these checks (an id, or a prefix such as bond.); repeatable")
@_lang_option
def doctor_cmd(paths: tuple[str, ...], prove: bool, as_json: bool, fail_on: str, jobs: int,
               dask: str | None, only: tuple[str, ...], lang: str | None) -> None:
    """What will break on these hosts: topology files, captures (a captured: block),
    configuration imports or sosreports; a directory of topology files is a fleet.
    Exit 0, 1 when a finding reaches --fail-on, 2 on unreadable input."""
    from vnetlab.doctor.command import main as doctor_main

    sys.exit(doctor_main(paths, prove=prove, as_json=as_json, fail_on=fail_on, jobs=jobs,
                         dask=dask, only=only, lang=_language(lang)))


# -- live hosts: read-only capture and FDB/link events (src/vnetlab/capture, watch; docs/capture.md)

@main.command("capture")
@click.option("-o", "--output", metavar="FILE", help="write FILE (atomically) instead of stdout")
@click.option("--netns", metavar="NS", help="capture this network namespace (ip netns exec)")
@click.option("--host", metavar="NAME", help="the host's name in the document (default: the "
              "namespace's name, else the host name)")
@click.option("--raw", is_flag=True, help="keep every command's output under captured.raw")
@_lang_option
def capture_cmd(output: str | None, netns: str | None, host: str | None, raw: bool,
                lang: str | None) -> None:
    """Read this host (or --netns NS) without changing it: a topology file of its
    interfaces, bridges, bonds, teams, VMs and firewall, with a captured: block of live
    state (FDB, port states, sysctls). Only the commands of docs/capture.md run. Exit 0,
    2 when the capture cannot be made (nothing is written)."""
    from vnetlab.capture.command import main as capture_main

    sys.exit(capture_main(output, netns, host, raw, _language(lang)))


@main.command("watch")
@click.option("--netns", metavar="NS", help="watch this network namespace")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
@click.option("--duration", type=float, metavar="S", help="stop after S seconds")
@click.option("--flap-moves", default=1, show_default=True, metavar="N",
              help="bridge.mac-flapping: a MAC that moves more than N times ...")
@click.option("--flap-window", default=10.0, show_default=True, metavar="S",
              help="... within S seconds")
@_lang_option
def watch_cmd(netns: str | None, as_json: bool, duration: float | None, flap_moves: int,
              flap_window: float, lang: str | None) -> None:
    """Follow the bridges' FDB and link events live (rtnetlink, read-only) and report the
    doctor's live checks as they happen: bridge.vm-mac-on-uplink, bridge.mac-flapping,
    bridge.port-state. Ctrl-C ends. Exit 0, 2 when it cannot watch."""
    from vnetlab.watch.command import main as watch_main

    sys.exit(watch_main(netns, as_json=as_json, duration=duration, flap_moves=flap_moves,
                        flap_window=flap_window, lang=_language(lang)))
