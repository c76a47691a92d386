"""A flow's frames across devices as an SVG sequence diagram.

Lifelines are the devices the steps happened at (the trace's ``where``: a
device ``kvm1/br1`` or a node's own stack ``vm1``), grouped by node in order
of first appearance. Each step is a row, in trace order (the order the
simulator decided them, which is time order): an arrow from the lifeline of
the step that caused it (``cause``) when that is another device, solid when a
frame crossed a cable (a transmit followed by a receive), dashed when it was
handed up or down inside a node (an rx_handler, a bridge's flood); a drop is
a cross. The decisive step is highlighted, the root-cause chain (the frame
that set the state the decision used) drawn in orange, and a dotted arc joins
a decision to the step that set the state it used (``ref``).
"""

from __future__ import annotations

from vnetlab.i18n import note, t
from vnetlab.report.diagram import FONT, RED, text_width, xml
from vnetlab.sim.time import format_time
from vnetlab.sim.trace import Action, Step

LANE_W = 68.0
HEAD_H = 52.0
ROW_H = 20.0
TEXT_W = 600.0
MARGIN = 10.0
MAX_ROWS = 300
BLUE = "#1a73e8"
ORANGE = "#e8710a"


def clip(text: str, width: float) -> str:
    """``text`` cut to about ``width`` pixels (with an ellipsis)."""
    if text_width(text) <= width:
        return text
    out, used = [], text_width("...")
    for ch in text:
        used += text_width(ch)
        if used > width:
            break
        out.append(ch)
    return "".join(out) + "..."


def step_text(step: Step, lang: str) -> str:
    port = f" [{step.port}]" if step.port and not step.where.endswith("/" + step.port) else ""
    return f"{step.where}{port}: {note(step.note, lang)}"


def lifelines(steps: list[Step]) -> list[str]:
    """Devices in order of first appearance, grouped by node."""
    nodes: dict[str, list[str]] = {}
    for step in steps:
        node = step.where.split("/")[0]
        lanes = nodes.setdefault(node, [])
        if step.where not in lanes:
            lanes.append(step.where)
    return [lane for lanes in nodes.values() for lane in lanes]


def sequence_svg(flow_id: str, steps: list[Step], decisive: Step | None, path: set[int],
                 cause: set[int], lang: str = "en", switches: frozenset[str] = frozenset()
                 ) -> str:
    """The diagram of ``steps`` (the flow's path, the decisive step's chain and the
    root-cause chain, already in trace order). ``flow_id`` prefixes the SVG ids;
    ``switches`` names the nodes whose own lifeline is a switch, not an IP stack."""
    steps = [s for s in steps if s.where != "run"][:MAX_ROWS]
    lanes = lifelines(steps)
    lane_of = {lane: i for i, lane in enumerate(lanes)}
    row_of = {s.id: i for i, s in enumerate(steps)}
    by_id = {s.id: s for s in steps}
    text_x = MARGIN + len(lanes) * LANE_W + 12
    width = text_x + TEXT_W + MARGIN
    height = HEAD_H + 10 + len(steps) * ROW_H + 12

    def lane_x(where: str) -> float:
        return MARGIN + lane_of[where] * LANE_W + LANE_W / 2

    def row_y(step_id: int) -> float:
        return HEAD_H + 10 + row_of[step_id] * ROW_H + ROW_H / 2

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="vnetlab-sequence" '
           f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
           f'font-family="{FONT}" font-size="11" role="img" '
           f'aria-label="{xml(t("report.flow.sequence", lang))}">',
           f'<defs><marker id="{flow_id}-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
           'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
           '<path d="M0,0 L10,5 L0,10 z" fill="#3c4043"/></marker></defs>']
    # headers: a box per node spanning its lanes, the device under it
    groups: list[tuple[str, int, int]] = []
    for i, lane in enumerate(lanes):
        node = lane.split("/")[0]
        if groups and groups[-1][0] == node:
            groups[-1] = (node, groups[-1][1], i)
        else:
            groups.append((node, i, i))
    out.append('<g class="lifelines">')
    for node, first, last in groups:
        x = MARGIN + first * LANE_W + 2
        w = (last - first + 1) * LANE_W - 4
        out.append(f'<rect x="{x:.1f}" y="4" width="{w:.1f}" height="20" rx="4" fill="#eef2f7" '
                   f'stroke="#9aa5b1"/><text x="{x + w / 2:.1f}" y="18" text-anchor="middle" '
                   f'font-weight="bold">{xml(clip(node, w - 6))}<title>{xml(node)}</title></text>')
    for lane in lanes:
        x = lane_x(lane)
        device = lane.partition("/")[2] or t("diagram.kind.switch" if lane in switches
                                             else "report.seq.stack", lang)
        out.append(f'<text x="{x:.1f}" y="42" text-anchor="middle" fill="#3c4043">'
                   f"{xml(clip(device, LANE_W - 6))}<title>{xml(lane)}</title></text>"
                   f'<line x1="{x:.1f}" y1="{HEAD_H:.1f}" x2="{x:.1f}" y2="{height - 6:.1f}" '
                   'stroke="#b0b8c1" stroke-dasharray="3 3"/>')
    out.append("</g>")
    # the state a decision used: a dotted arc from the step that set it
    if decisive is not None and decisive.ref in by_id and decisive.id in by_id:
        ref = by_id[decisive.ref]
        x1, y1 = lane_x(ref.where) - 6, row_y(ref.id)
        x2, y2 = lane_x(decisive.where) - 6, row_y(decisive.id)
        bend = min(x1, x2) - 30
        out.append(f'<g class="ref-arc"><path d="M{x1:.1f},{y1:.1f} C{bend:.1f},{y1:.1f} '
                   f'{bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}" fill="none" stroke="{ORANGE}" '
                   f'stroke-width="1.5" stroke-dasharray="1 3"/>'
                   f'<text x="{bend + 2:.1f}" y="{(y1 + y2) / 2:.1f}" font-size="10" '
                   f'fill="{ORANGE}" text-anchor="end">{xml(t("report.seq.uses", lang))}</text>'
                   "</g>")
    for step in steps:
        y = row_y(step.id)
        x = lane_x(step.where)
        classes = ["seq-row"]
        if step.id in path:
            classes.append("path")
        if step.id in cause:
            classes.append("cause")
        if decisive is not None and step.id == decisive.id:
            classes.append("decisive")
        is_drop = step.action is Action.DROP
        if is_drop:
            classes.append("drop")
        colour = BLUE if step.id in path or step.id not in cause else ORANGE
        full = f"#{step.id} {format_time(step.time)} {step_text(step, lang)} " \
               f"[{step.fn}{', ' + step.rule if step.rule else ''}]" \
               + (f" ({step.reason})" if step.reason else "")
        band = "#fff3b0" if "decisive" in classes else "#ffffff"
        opacity = "1" if "decisive" in classes else "0"
        row = [f'<g class="{" ".join(classes)}" data-step="{step.id}"><title>{xml(full)}</title>'
               f'<rect class="band" x="0" y="{y - ROW_H / 2:.1f}" width="{width:.0f}" '
               f'height="{ROW_H:.0f}" fill="{band}" fill-opacity="{opacity}"/>']
        parent = by_id.get(step.cause)
        if parent is not None and parent.where != step.where:
            px = lane_x(parent.where)
            cable = step.action is Action.RECEIVE and parent.action is Action.TRANSMIT
            end = x - 5 if px < x else x + 5
            row.append(f'<line class="arrow" x1="{px:.1f}" y1="{y:.1f}" x2="{end:.1f}" '
                       f'y2="{y:.1f}" stroke="#3c4043" stroke-width="{1.6 if cable else 1}"'
                       + ("" if cable else ' stroke-dasharray="4 3"')
                       + f' marker-end="url(#{flow_id}-arrow)"/>')
        if is_drop or step.action is Action.SKIP:
            r = 6.0 if is_drop else 4.0
            stroke = RED if is_drop else "#80868b"
            row.append(f'<path class="cross" d="M{x - r:.1f},{y - r:.1f} L{x + r:.1f},{y + r:.1f} '
                       f'M{x - r:.1f},{y + r:.1f} L{x + r:.1f},{y - r:.1f}" stroke="{stroke}" '
                       f'stroke-width="{2.5 if is_drop else 1.5}"/>')
        else:
            row.append(f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>')
        if "decisive" in classes:
            row.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="9" fill="none" stroke="{RED}" '
                       'stroke-width="2"/>')
        label = f"{format_time(step.time)}  {step_text(step, lang)}"
        weight = ' font-weight="bold"' if "decisive" in classes else ""
        fill = RED if is_drop else (ORANGE if colour == ORANGE else "#202124")
        row.append(f'<text x="{text_x:.1f}" y="{y + 4:.1f}" fill="{fill}"{weight}>'
                   f"{xml(clip(label, TEXT_W))}</text></g>")
        out.append("".join(row))
    out.append("</svg>")
    return "".join(out)
