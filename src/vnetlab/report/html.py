"""One run as a self-contained HTML file to attach to a ticket.

Contents: the topology diagram (``diagram.py``, problems in red), the
expectations and what was observed, pings and DHCP clients, findings and load
warnings, then for each failing flow (what ``vnetlab explain FILE`` explains:
a failed expectation, a ping without reply, a DHCP client without an address
or with a late one) the explanation: question, verdict, the decisive step,
a sequence diagram (``sequence.py``), the causal path and the root-cause
chain; then the FDB and neighbour (ARP) history of the devices involved, and
the trace steps all of these refer to.

The file needs nothing from the network: CSS, script, SVG and data are inline,
and a Content-Security-Policy with the hashes of the one style and the one
script forbids everything else (so even a name that escaped escaping could
not run). Every name from the topology is escaped: Jinja2 autoescape for text
and attributes, ``diagram.xml`` inside the SVGs, and the JSON data has ``</``
and ``<!--`` broken up so it cannot end its ``<script>`` element. The output
is a function of the topology and the seed (no time stamps, sorted keys).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

from vnetlab.i18n import action, case_text, note, reason, t
from vnetlab.report.diagram import diagram, failing_flows, to_svg
from vnetlab.report.sequence import sequence_svg
from vnetlab.sim.time import format_time
from vnetlab.sim.trace import Action, Step

if TYPE_CHECKING:
    from jinja2 import Environment

    from vnetlab.explain.explain import Explanation
    from vnetlab.lab import RunResult

TABLE_ACTIONS = (Action.LEARN, Action.MOVE, Action.AGE, Action.FLUSH)


@dataclass(slots=True)
class StepView:
    id: int
    time: str
    where: str
    port: str
    action: str
    note: str
    ref: str
    reason: str
    classes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class FlowView:
    anchor: str
    title: str
    question: str
    verdict: str
    decisive: StepView | None
    sequence: str
    path: list[StepView]
    cause: list[StepView]
    summary: list[str]
    truncated: str


@dataclass(slots=True)
class HistoryRow:
    step: int
    time: str
    device: str
    event: str
    kind: str
    address: str
    where: str
    note: str


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("vnetlab")
    except PackageNotFoundError:            # pragma: no cover - running from a checkout
        return "dev"


def asset(name: str) -> str:
    return (resources.files("vnetlab.report") / name).read_text(encoding="utf-8")


def environment() -> Environment:
    """Jinja2 (imported here: only the report needs it), autoescaping everything."""
    import jinja2

    return jinja2.Environment(loader=jinja2.FunctionLoader(asset), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True)


def script_json(data: Any) -> str:
    """JSON for a ``<script type="application/json">`` element: nothing in it can
    close the element or open a comment that hides its end."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text.replace("</", "<\\/").replace("<!--", "<\\u0021--")


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def step_view(step: Step, lang: str, *classes: str) -> StepView:
    port = step.port if step.port and not step.where.endswith("/" + step.port) else ""
    return StepView(step.id, format_time(step.time), step.where, port,
                    action(step.action, lang), note(step.note, lang),
                    ", ".join(x for x in (step.fn, step.rule) if x),
                    reason(step.reason, lang) if step.reason else "", [c for c in classes if c])


# -- flows -------------------------------------------------------------------------------------

def flow_view(index: int, flow: Explanation, result: RunResult, lang: str) -> FlowView:
    trace = result.trace
    decisive = flow.decisive
    chain = trace.chain(decisive.id) if decisive is not None else []
    path_ids = {s.id for s in [*flow.path, *chain]}
    cause_ids = {s.id for s in flow.cause_path}
    steps = sorted({s.id: s for s in [*flow.path, *chain, *flow.cause_path]}.values(),
                   key=lambda s: s.id)
    anchor = f"flow-{index}"
    shown = [s for s in steps if s.where != "run"]
    from vnetlab.report.sequence import MAX_ROWS

    truncated = (t("report.flow.truncated", lang, shown=MAX_ROWS, total=len(shown))
                 if len(shown) > MAX_ROWS else "")
    dec_id = decisive.id if decisive is not None else 0

    def mark(step: Step) -> str:
        return "decisive" if step.id == dec_id else ""

    return FlowView(
        anchor, t("report.flow", lang, index=index), flow.question, flow.verdict,
        step_view(decisive, lang, "decisive") if decisive is not None else None,
        sequence_svg(anchor, steps, decisive, path_ids, cause_ids, lang,
                     frozenset(result.lab.switches)),
        [step_view(s, lang, mark(s)) for s in flow.path],
        [step_view(s, lang, "root-cause" if s is flow.cause_step else "") for s in
         flow.cause_path],
        list(flow.summary), truncated)


# -- table history -----------------------------------------------------------------------------

def involved(result: RunResult, flows: list[Explanation]) -> tuple[list[str], list[str]]:
    """The FDBs (bridge ``host/br``, switch name) and IP stacks (node names) the
    failing flows went through; every one when no flow failed."""
    lab = result.lab
    tables = ([b.where for b in lab.bridges.values()] + [o.where for o in lab.ovs.values()]
              + [s.where for s in lab.switches.values()])
    stacks = list(lab.endpoints)
    if not flows:
        return tables, stacks
    seen: set[str] = set()
    for flow in flows:
        chain = result.trace.chain(flow.decisive.id) if flow.decisive is not None else []
        for step in [*flow.path, *chain, *flow.cause_path]:
            seen.add(step.where)
            seen.add(step.where.split("/")[0])
    return [w for w in tables if w in seen], [n for n in stacks if n in seen]


def history(result: RunResult, tables: list[str], stacks: list[str], lang: str
            ) -> list[HistoryRow]:
    trace = result.trace
    want_tables, want_stacks = set(tables), set(stacks)
    rows: list[HistoryRow] = []
    for step in trace.steps:
        data = step.data
        if step.action in TABLE_ACTIONS and step.where in want_tables:
            mac = data.get("mac", "")
            where = data.get("port", step.port)
            if step.action is Action.MOVE:
                where = f"{data.get('from', '?')} -> {where}"
            elif step.action is Action.AGE:
                origin = trace.get(step.ref)
                mac = (origin.data.get("mac", "") if origin is not None else "") or \
                    step.note.split(" ")[0]
            elif step.action is Action.FLUSH:
                mac = ", ".join(data.get("macs", ()))
        elif step.action is Action.NEIGH and step.where in want_stacks:
            mac = data.get("ip", "")
            where = " ".join(x for x in (step.port, data.get("state", ""), data.get("mac", ""))
                             if x)
        else:
            continue
        kind = "neigh" if step.action is Action.NEIGH else str(step.action)
        rows.append(HistoryRow(step.id, format_time(step.time), step.where,
                               t(f"report.event.{kind}", lang), kind, mac, where,
                               note(step.note, lang)))
    return rows


def closure(result: RunResult, ids: set[int]) -> list[Step]:
    """The steps ``ids`` with their causal chains and the chains of the state they used."""
    trace = result.trace
    out: dict[int, Step] = {}
    for step_id in sorted(ids):
        for s in trace.chain(step_id):
            out[s.id] = s
        step = trace.get(step_id)
        if step is not None and step.ref:
            for s in trace.chain(step.ref):
                out[s.id] = s
    return [out[i] for i in sorted(out)]


# -- the page ----------------------------------------------------------------------------------

def build_report(result: RunResult, lang: str = "en", *, source: str = "",
                 flows: list[Explanation] | None = None) -> str:
    """The HTML report of ``result`` (a run with ``trace="full"``); ``flows``: its
    failing flows when the caller already asked for them (``failing_flows(result,
    lang)``). A built-in case's description and ``because:`` texts come from the
    catalog's translations (``i18n.case_text``)."""
    from vnetlab.catalog import SEEDS
    from vnetlab.net.addr import ip4_str

    lab, spec = result.lab, result.spec
    flows = failing_flows(result, lang) if flows is None else flows
    graph = diagram(result, lang, flows)
    flow_views = [flow_view(i, f, result, lang) for i, f in enumerate(flows, 1)]
    tables, stacks = involved(result, flows)
    rows = history(result, tables, stacks, lang)
    decisive_ids = {f.decisive.id for f in flows if f.decisive is not None}
    cause_ids = {f.cause_step.id for f in flows if f.cause_step is not None}
    referenced: set[int] = {r.step for r in rows}
    for flow in flows:
        referenced.update(s.id for s in [*flow.path, *flow.cause_path])
        referenced.update(decisive_ids)
    trace_rows = [step_view(s, lang, "decisive" if s.id in decisive_ids else "",
                            "root-cause" if s.id in cause_ids else "")
                  for s in closure(result, referenced)]
    description, becauses = case_text(spec, lang)
    failed = sum(not e.ok for e in result.expectations)
    total = len(result.expectations)
    verdict = (t("report.verdict.none", lang) if not total else
               t("report.verdict.ok", lang, total=total) if not failed else
               t("report.verdict.fail", lang, failed=failed, total=total))
    seed_case = spec.seed_case or ""
    activity = [t("report.ping", lang, src=s.src, dst=ip4_str(s.dst), sent=len(s.records),
                  replies=s.replies) for e in lab.endpoints.values() for s in e.pings]
    activity += [t("report.dhcp", lang, ref=ref, label=c.label, outcome=note(c.outcome(), lang))
                 for ref, c in lab.dhcp.clients.items()]
    findings = [(t("report.finding", lang), f"{f.check}: {note(f.summary, lang)}")
                for f in lab.findings]
    findings += [(t("report.warning" if n.startswith("WARNING") else "report.note", lang),
                  note(n, lang)) for n in spec.notes]
    data = {
        "steps": {str(s.id): {"c": s.cause, "r": s.ref, "w": s.where, "n": note(s.note, lang),
                              "t": format_time(s.time)} for s in closure(result, referenced)},
        "msg": {"selected": t("js.selected", lang), "count": t("js.count", lang)},
    }
    css, js = asset("report.css"), asset("report.js")
    context = {
        "lang": lang, "html_lang": "zh-CN" if lang == "zh" else "en",
        "T": _Phrases(lang),
        "name": graph.name,
        "description": " ".join((description or spec.description or "").split()),
        "seed_case": (t("report.seed_case", lang, seed=seed_case, report=SEEDS.get(seed_case, ""))
                      if seed_case else ""),
        "generated": t("report.generated", lang, version=version(), file=source or "-",
                       seed=result.seed),
        "verdict": verdict, "ok": failed == 0,
        "stats": t("report.stats", lang, deliveries=result.sim.deliveries,
                   events=result.sim.events, end=format_time(result.sim.now)),
        "topology": _markup(to_svg(graph, standalone=False)),
        "expectations": [{"index": e.index, "line": e.line or "", "expected":
                          note(e.expected, lang), "actual": note(e.actual, lang),
                          "because": _because(e.index, e.because, becauses), "ok": e.ok}
                         for e in result.expectations],
        "activity": activity, "findings": findings,
        "flows": [(f, _markup(f.sequence)) for f in flow_views],
        "history": rows, "history_devices": list(dict.fromkeys(r.device for r in rows)),
        "trace": trace_rows,
        "data": _markup(script_json(data)),
        "css": _markup(css), "js": _markup(js),
        "csp": f"default-src 'none'; style-src {csp_hash(css)}; script-src {csp_hash(js)}; "
               "img-src data:; base-uri 'none'; form-action 'none'",
    }
    return environment().get_template("report.html.j2").render(context)


def _because(index: int, english: str, translated: list[str | None]) -> str:
    text = translated[index] if index < len(translated) else None
    return " ".join(text.split()) if text else english


class _Phrases:
    """``T("report.h.topology")`` in templates: the phrase in the page's language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, key: str, **fields: object) -> str:
        return t(key, self.lang, **fields)


# -- the catalog index -------------------------------------------------------------------------

@dataclass(slots=True)
class IndexEntry:
    name: str
    file: str           # the report's file name, relative to the index
    seed: str
    description: str
    ok: bool
    expectations: int
    failed: int
    flows: int          # failing flows explained in the report


def build_index(entries: list[IndexEntry], lang: str = "en") -> str:
    from vnetlab.catalog import SEEDS

    groups: list[tuple[str, list[IndexEntry]]] = []
    for seed, report in SEEDS.items():
        members = [e for e in entries if e.seed == seed]
        if members:
            groups.append((t("report.index.seed", lang, seed=seed, report=report), members))
    others = [e for e in entries if e.seed not in SEEDS]
    if others:
        groups.append((t("report.index.other", lang), others))
    css = asset("report.css")
    context = {"html_lang": "zh-CN" if lang == "zh" else "en", "T": _Phrases(lang),
               "groups": groups, "generated": t("report.index.generated", lang, version=version()),
               "css": _markup(css),
               "csp": f"default-src 'none'; style-src {csp_hash(css)}; base-uri 'none'; "
                      "form-action 'none'"}
    return environment().get_template("index.html.j2").render(context)


def _markup(text: str) -> Any:
    """Trusted text (our own CSS, script, escaped SVG) that Jinja2 must not escape."""
    from markupsafe import Markup

    return Markup(text)
