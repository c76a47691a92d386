"""One run of a sweep: draw, patch, load, simulate, measure; and the record it leaves.

The run's RNG is ``random.Random("vnetlab-sweep:<seed>:<combination>:<run>")`` (a
string seed, hashed with SHA-512 by ``random``: the same in every process, whatever
``PYTHONHASHSEED``); with ``--paired`` the combination is left out (``*``), so every
combination sees the same draws and simulator seeds (common random numbers). The
distributions are drawn in the order of the ``--vary`` options, then the simulator's
seed (32 bits): ``vnetlab run FILE --seed SEED`` on the run's patched document
(``vnetlab sweep ... --export-run C:R``) replays it exactly.

What a run measures (every record holds all of it; ``--metric`` only chooses the
view, see ``stats.py``):

- ``ok``: every ``expect:`` holds; ``failed``: the indexes of those that do not.
- ping flows (``run: ping``), per ``src->dst``: probes sent and lost, the longest
  outage and whether the last one never recovered. An outage is a run of lost probes
  from the send time of the first lost probe to the send time of the first answered
  one after it: the definition of ``explain/outage.py`` (and of ``outage:``
  expectations), measured from the ping records alone, so it needs no trace.
- DHCP clients: when the client started (the guest's ``boot-delay``), its first
  lease, whether its first attempt failed (it gave up, fell back to link-local, or
  had no lease when the run ended) and the address state at the end.

Trace level: ``off`` (outages are measured from the ping records, causes are not
needed), except for files with ``frame:`` expectations: an endpoint counts the frames
it receives only from trace level ``summary`` up (``Endpoint.count_received``), so at
``off`` those expectations would fail for want of a count; those files run at
``summary``, which costs about the same.
"""

from __future__ import annotations

import json
import os
import random
import signal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vnetlab.sweep.vary import Value, Vary, patched

if TYPE_CHECKING:
    from vnetlab.lab import RunResult
    from vnetlab.topology.spec import TopologySpec

NEVER = 1 << 62            # an outage that had not ended when the run did

# The columns every record has, in file order; the --vary paths come after "seed".
HEAD_COLUMNS = ("combination", "run", "seed")
TAIL_COLUMNS = ("ok", "failed", "outage_ns", "outage_never", "outage_flow", "dhcp_wait_ns",
                "dhcp_never", "dhcp_failed", "dhcp_client", "flows", "dhcp", "error")
RESERVED = frozenset(HEAD_COLUMNS + TAIL_COLUMNS)


@dataclass(frozen=True, slots=True)
class SweepContext:
    """Everything a worker needs for any run of the sweep (pickled with each chunk)."""

    fingerprint: str
    source: str                               # the file, for messages
    doc: Any                                  # the topology document, plain dicts/lists
    varies: tuple[Vary, ...]
    combos: tuple[tuple[Value, ...], ...]
    seed: int
    paired: bool = False
    crash_at: tuple[int, int] | None = None   # test hook: that run kills its worker


@dataclass(slots=True)
class RunRecord:
    combination: int
    run: int
    seed: int
    params: dict[str, Any] = field(default_factory=dict)   # --vary path -> value
    ok: bool | None = None                  # None: the run could not be made (``error``)
    failed: list[int] = field(default_factory=list)
    outage_ns: int | None = None            # the longest outage of any ping flow
    outage_never: bool = False              # ... that one never recovered
    outage_flow: str = ""
    dhcp_wait_ns: int | None = None         # the longest client start -> first lease
    dhcp_never: bool = False                # some client had no lease at the end
    dhcp_failed: bool = False               # some client's first attempt failed
    dhcp_client: str = ""
    flows: dict[str, Any] = field(default_factory=dict)
    dhcp: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def key(self) -> tuple[int, int]:
        return (self.combination, self.run)

    @property
    def had_outage(self) -> bool:
        return self.outage_ns is not None or self.outage_never

    def to_json(self) -> dict[str, Any]:
        return {"combination": self.combination, "run": self.run, "seed": self.seed,
                "params": self.params, "ok": self.ok, "failed": self.failed,
                "outage_ns": self.outage_ns, "outage_never": self.outage_never,
                "outage_flow": self.outage_flow, "dhcp_wait_ns": self.dhcp_wait_ns,
                "dhcp_never": self.dhcp_never, "dhcp_failed": self.dhcp_failed,
                "dhcp_client": self.dhcp_client, "flows": self.flows, "dhcp": self.dhcp,
                "error": self.error}


def run_seed_text(ctx: SweepContext, combination: int, run: int) -> str:
    return f"vnetlab-sweep:{ctx.seed}:{'*' if ctx.paired else combination}:{run}"


def draw(ctx: SweepContext, combination: int, run: int
         ) -> tuple[list[tuple[tuple[str | int, ...], Any]], dict[str, Any], int]:
    """The run's assignments (path, value for the document), its recorded parameters
    and its simulator seed."""
    rng = random.Random(run_seed_text(ctx, combination, run))
    grid = iter(ctx.combos[combination])
    assignments: list[tuple[tuple[str | int, ...], Any]] = []
    params: dict[str, Any] = {}
    for vary in ctx.varies:
        value = next(grid) if vary.dist is None else vary.dist.draw(rng)
        assignments.extend((path, value.doc) for path in vary.paths)
        params[vary.path_text] = value.record
    return assignments, params, rng.getrandbits(32)


def trace_level(spec: TopologySpec) -> str:
    """``off`` unless an expectation needs what ``off`` does not keep (module docstring)."""
    if any(e.frame is not None for e in spec.expect):
        return "summary"
    return "off"


def run_one(ctx: SweepContext, combination: int, run: int) -> RunRecord:
    from vnetlab.errors import TopologyError
    from vnetlab.lab import simulate
    from vnetlab.topology.load import load_topology_data

    assignments, params, sim_seed = draw(ctx, combination, run)
    record = RunRecord(combination, run, sim_seed, params)
    if ctx.crash_at == (combination, run) and _in_worker():
        os.kill(os.getpid(), signal.SIGKILL)
    try:
        spec = load_topology_data(patched(ctx.doc, assignments), ctx.source)
        measure(simulate(spec, seed=sim_seed, trace=trace_level(spec)), record)
    except TopologyError as exc:        # a drawn value the topology refuses
        record.error = "; ".join(f"{e.path}: {e.message}" if e.path else e.message
                                 for e in exc.errors)
    except Exception as exc:            # a simulator bug for these values: keep the sweep going
        record.error = f"{type(exc).__name__}: {exc}"
    if record.error:                    # nothing measured; one record, one line
        return RunRecord(combination, run, sim_seed, params,
                         error=" | ".join(record.error.splitlines()))
    return record


def _in_worker() -> bool:
    import multiprocessing

    return multiprocessing.parent_process() is not None


def run_chunk(ctx: SweepContext, pairs: list[tuple[int, int]]) -> list[RunRecord]:
    """A worker's task: the runs of one chunk, in order."""
    return [run_one(ctx, c, r) for c, r in pairs]


def measure(result: RunResult, record: RunRecord) -> None:
    from vnetlab.devices.dhcp import DhcpType
    from vnetlab.net.addr import ip4_str

    record.ok = result.all_expectations_hold
    record.failed = [e.index for e in result.expectations if not e.ok]
    worst: tuple[int, str] | None = None
    for name, endpoint in result.lab.endpoints.items():
        for session in endpoint.pings:
            flow = record.flows.setdefault(f"{name}->{ip4_str(session.dst)}", {
                "sent": 0, "lost": 0, "outages": 0, "longest_ns": None, "never": False})
            records = session.records
            flow["sent"] += len(records)
            i = 0
            while i < len(records):
                if records[i].reply_at is not None:
                    i += 1
                    continue
                j = i
                while j < len(records) and records[j].reply_at is None:
                    j += 1
                flow["lost"] += j - i
                flow["outages"] += 1
                if j < len(records):
                    length = records[j].sent_at - records[i].sent_at
                    if flow["longest_ns"] is None or length > flow["longest_ns"]:
                        flow["longest_ns"] = length
                else:
                    flow["never"] = True
                    length = NEVER
                if worst is None or length > worst[0]:
                    worst = (length, f"{name}->{ip4_str(session.dst)}")
                i = j
    if worst is not None:
        record.outage_never = worst[0] == NEVER
        record.outage_ns = None if record.outage_never else worst[0]
        record.outage_flow = worst[1]
    slowest: tuple[int, str] | None = None
    for ref, client in result.lab.dhcp.clients.items():
        start = client.params.boot_delay            # build_dhcp: client.boot(boot_delay)
        bound = next((e.time for e in client.events if e.kind == "bound"), None)
        fell_back = any(e.kind == "link-local" and (bound is None or e.time < bound)
                        for e in client.events)
        gave_up = [g.time for g in client.gave_up if bound is None or g.time < bound]
        status = client.status_at(result.sim.now)
        first_failed = bound is None or bool(gave_up) or fell_back
        wait = NEVER if bound is None else bound - start
        record.dhcp[ref] = {
            "client": client.label, "start_ns": start, "bound_ns": bound,
            "first_attempt": "failed" if first_failed else "bound",
            "gave_up": len(client.gave_up),
            "discovers": sum(1 for s in client.sends if s.mtype is DhcpType.DISCOVER),
            "end": {"bound": "bound", "link-local": "link-local"}.get(status.kind, "none")}
        record.dhcp_failed = record.dhcp_failed or first_failed
        if slowest is None or wait > slowest[0]:
            slowest = (wait, ref)
    if slowest is not None:
        record.dhcp_never = slowest[0] == NEVER
        record.dhcp_wait_ns = None if record.dhcp_never else slowest[0]
        record.dhcp_client = slowest[1]


# -- records as table rows -----------------------------------------------------------------

def columns(varies: tuple[Vary, ...] | list[Vary]) -> list[str]:
    return [*HEAD_COLUMNS, *(v.path_text for v in varies), *TAIL_COLUMNS]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int | str):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def to_row(record: RunRecord, varies: tuple[Vary, ...] | list[Vary]) -> list[str]:
    return [str(record.combination), str(record.run), str(record.seed),
            *(_param_text(record.params.get(v.path_text)) for v in varies),
            _text(record.ok), _text(record.failed), _text(record.outage_ns),
            _text(record.outage_never), record.outage_flow, _text(record.dhcp_wait_ns),
            _text(record.dhcp_never), _text(record.dhcp_failed), record.dhcp_client,
            _text(record.flows), _text(record.dhcp), record.error]


def _param_text(value: Any) -> str:
    """A parameter as JSON text when it is not a plain number (so that ``"15"`` and
    ``15`` stay apart), strings bare when they cannot be read as anything else."""
    if isinstance(value, str) and _reads_back_as_str(value):
        return value
    return json.dumps(value, default=str) if not isinstance(value, float) else repr(value)


def _reads_back_as_str(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return text.strip() == text and text != ""
    return False


def _param_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _bool(text: str, column: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError(f"{column}: {text!r} is not true/false")
    return text == "true"


def _opt_int(text: str) -> int | None:
    return int(text) if text else None


def from_row(row: list[str], varies: tuple[Vary, ...] | list[Vary]) -> RunRecord:
    """The inverse of ``to_row``; ValueError on anything malformed."""
    want = len(HEAD_COLUMNS) + len(varies) + len(TAIL_COLUMNS)
    if len(row) != want:
        raise ValueError(f"{len(row)} fields, expected {want}")
    combination, run, seed = (int(x) for x in row[:3])
    params = {v.path_text: _param_value(text) for v, text in zip(varies, row[3:3 + len(varies)],
                                                                strict=True)}
    tail = dict(zip(TAIL_COLUMNS, row[3 + len(varies):], strict=True))
    flows = json.loads(tail["flows"]) if tail["flows"] else {}
    dhcp = json.loads(tail["dhcp"]) if tail["dhcp"] else {}
    failed = json.loads(tail["failed"]) if tail["failed"] else []
    if not isinstance(flows, dict) or not isinstance(dhcp, dict) or not isinstance(failed, list):
        raise ValueError("flows/dhcp/failed are not JSON of the expected shape")
    return RunRecord(
        combination, run, seed, params,
        ok=None if tail["ok"] == "" else _bool(tail["ok"], "ok"), failed=failed,
        outage_ns=_opt_int(tail["outage_ns"]),
        outage_never=_bool(tail["outage_never"], "outage_never"),
        outage_flow=tail["outage_flow"], dhcp_wait_ns=_opt_int(tail["dhcp_wait_ns"]),
        dhcp_never=_bool(tail["dhcp_never"], "dhcp_never"),
        dhcp_failed=_bool(tail["dhcp_failed"], "dhcp_failed"), dhcp_client=tail["dhcp_client"],
        flows=flows, dhcp=dhcp, error=tail["error"])
