"""Parsers of Open vSwitch's ``ovs-appctl`` texts for the OVS oracle (:mod:`ovs_oracle`).

Pure functions, standard library only (``tests/unit/test_ovs_parse.py`` loads this file by path
and checks it on the real outputs recorded in ``tests/kernel/fixtures/ovs/``, OVS 3.1.0).
Small and defensive: an unknown line is skipped, an unknown datapath action is kept in
``unparsed`` so the comparison can fail loudly instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TraceResult:
    """What ``ofproto/trace`` says a frame does.

    ``outputs``: (output port name, VLAN on the wire or None = untagged) in datapath order;
    ``drop``: the drop reason(s) OVS printed (``>>>> ... <<<<`` / ``>> ...`` lines and
    ``-> ..., dropping`` notes of NORMAL), or
    ``"Datapath actions: drop"`` when nothing is output and no reason was printed; None when
    something is output.  ``learned``: the ``learned that MAC is on port P in VLAN V`` lines.
    """

    outputs: list[tuple[str, int | None]]
    drop: str | None
    datapath_actions: str
    learned: list[str] = field(default_factory=list)
    unparsed: list[str] = field(default_factory=list)  # datapath actions not understood


_FLOW_VLAN = re.compile(r"(?:^|,)dl_vlan=(\d+)")
_PUSH_VLAN = re.compile(r"push_vlan\((?:[^)]*?)vid=(\d+)")


def _split_actions(text: str) -> list[str]:
    """Split datapath actions on the commas outside parentheses."""
    parts: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def parse_datapath_actions(
    actions: str, dp_ports: dict[int, str], in_vlan: int | None
) -> tuple[list[tuple[str, int | None]], list[str]]:
    """Datapath actions -> ([(port name, VLAN or None)], [actions not understood]).

    The actions are relative to the packet as received (``in_vlan``): ``push_vlan(vid=N..)``
    tags it, ``pop_vlan`` untags it, a number outputs it on that *datapath* port.
    """
    vlan, outputs, unparsed = in_vlan, [], []
    for action in _split_actions(actions):
        if action == "drop":
            continue
        if action.isdigit():
            number = int(action)
            outputs.append((dp_ports.get(number, f"dp{number}"), vlan))
        elif action.startswith("push_vlan("):
            match = _PUSH_VLAN.match(action)
            if match is None:
                unparsed.append(action)
            else:
                vlan = int(match.group(1))
        elif action == "pop_vlan":
            vlan = None
        else:
            unparsed.append(action)
    return outputs, unparsed


def parse_trace(text: str, dp_ports: dict[int, str]) -> TraceResult:
    """Parse ``ovs-appctl ofproto/trace`` output (OVS 3.x layout)."""
    in_vlan: int | None = None
    actions = ""
    reasons: list[str] = []
    learned: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Flow:"):
            match = _FLOW_VLAN.search(line[5:].strip())
            in_vlan = int(match.group(1)) if match else None
        elif line.startswith("Datapath actions:"):
            actions = line.partition(":")[2].strip()   # the last one wins
        elif line.startswith(">>>>"):
            reasons.append(line.strip("> <").strip())
        elif line.startswith(">>"):
            reasons.append(line.lstrip("> ").strip())
        elif line.startswith("-> learned that"):
            learned.append(line[3:].strip())
        elif line.startswith("->") and "dropping" in line:   # "learned port is input port, dropping"
            reasons.append(line[2:].strip())
    if not actions:
        raise ValueError("no 'Datapath actions:' line in ofproto/trace output")
    outputs, unparsed = parse_datapath_actions(actions, dp_ports, in_vlan)
    drop = None
    if not outputs:
        drop = "; ".join(reasons) if reasons else f"Datapath actions: {actions}"
    return TraceResult(outputs, drop, actions, learned, unparsed)


@dataclass(frozen=True)
class DpPort:
    """One line of ``ovs-appctl dpif/show``: ``NAME OFPORT/DPPORT: (TYPE...)``."""

    bridge: str
    name: str
    ofport: int                   # OpenFlow port (LOCAL is 65534)
    dpport: int | None            # datapath port; None for a patch port ("none")
    kind: str


_DPIF_LINE = re.compile(r"^\s+(\S+) (\d+)/(\d+|none): \(([^)]*)\)")
_DPIF_BRIDGE = re.compile(r"^  (\S+):$")


def parse_dpif_show(text: str) -> list[DpPort]:
    """Parse ``ovs-appctl dpif/show`` (every bridge of every datapath)."""
    bridge = ""
    ports: list[DpPort] = []
    for line in text.splitlines():
        head = _DPIF_BRIDGE.match(line)
        if head is not None:
            bridge = head.group(1)
            continue
        match = _DPIF_LINE.match(line)
        if match is not None and bridge:
            name, ofport, dpport, kind = match.groups()
            ports.append(DpPort(bridge, name, int(ofport),
                                None if dpport == "none" else int(dpport), kind))
    return ports


_FDB_LINE = re.compile(r"^\s*(\S+)\s+(\d+)\s+([0-9a-fA-F:]{17})\s+(\d+)\s*$")


def parse_fdb_show(text: str, ofports: dict[int, str], bridge: str) -> list[tuple[str, int, str]]:
    """Parse ``ovs-appctl fdb/show BR`` into (port name, VLAN, MAC), sorted.

    Ports are OpenFlow port numbers (``LOCAL`` for the bridge's own port); ages are dropped.
    """
    entries = []
    for line in text.splitlines():
        match = _FDB_LINE.match(line)
        if match is None:
            continue
        port, vlan, mac, _age = match.groups()
        if port == "LOCAL":
            name = bridge
        elif port.isdigit():
            name = ofports.get(int(port), f"of{port}")
        else:
            name = port
        entries.append((name, int(vlan), mac.lower()))
    return sorted(entries)
