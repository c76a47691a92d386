"""Why did this ping fail, why is this MAC where it is: answers from the trace.

An explanation is found by walking the causal tree the devices recorded:

1. the question picks a root step (a ping request, a frame, an FDB entry);
2. the decisive step is the first drop among the root's descendants that is
   not a mere symptom (an unresolved neighbour's queue purge points, through
   ``ref``, at the resolution that failed, whose descendants are searched in
   turn; frames a NIC ignores as not addressed to it are noise);
3. the path is the causal chain from the root down to the decisive step;
4. the root cause is the state the decisive step relied on (its ``ref``, e.g.
   the FDB move), told with the chain of the frame that set it, and a summary
   of the hops where that frame went astray (a switch flooding it back, an
   aggregate delivering it up).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vnetlab.i18n import action, note, reason, t
from vnetlab.sim.time import format_time
from vnetlab.sim.trace import Action, DropReason, Step, Trace

if TYPE_CHECKING:
    from vnetlab.lab import RunResult

SYMPTOMS = (DropReason.NEIGH_FAILED, DropReason.OTHERHOST)


@dataclass(slots=True)
class Explanation:
    question: str
    verdict: str
    decisive: Step | None = None
    path: list[Step] = field(default_factory=list)
    cause_step: Step | None = None
    cause_path: list[Step] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "verdict": self.verdict,
            "decisive": self.decisive.to_json() if self.decisive else None,
            "path": [s.to_json() for s in self.path],
            "root_cause": ({"step": self.cause_step.to_json(),
                            "path": [s.to_json() for s in self.cause_path]}
                           if self.cause_step else None),
            "summary": self.summary,
        }


class Explainer:
    """Answers questions about one run. ``lang`` is the language of the questions,
    verdicts and summaries it writes (i18n; step sentences inside them translated by
    pattern); JSON output uses an English Explainer."""

    def __init__(self, result: RunResult, lang: str = "en") -> None:
        self.result = result
        self.lang = lang
        self.trace: Trace = result.trace
        self._children: dict[int, list[int]] = {}
        for step in self.trace.steps:
            if step.cause:
                self._children.setdefault(step.cause, []).append(step.id)

    def descendants(self, root: int) -> list[Step]:
        out: list[int] = []
        stack = [root]
        while stack:
            current = stack.pop()
            out.append(current)
            stack.extend(self._children.get(current, ()))
        steps = [self.trace.steps[i - 1] for i in sorted(out)]
        return steps

    def decisive_drop(self, root: int, depth: int = 0) -> Step | None:
        steps = self.descendants(root)
        drops = [s for s in steps if s.action is Action.DROP]
        real = [s for s in drops if s.reason not in SYMPTOMS]
        if real:
            first = real[0]
            if first.reason is DropReason.FLOOD_NO_PORT:
                # a flood that reached nobody: a port it skipped for a reason of its
                # own (down, blocking, another VLAN) says more than "no port"
                why = next((s for s in steps if s.action is Action.SKIP and s.cause == first.cause
                            and s.reason is not None and s.reason is not DropReason.SAME_PORT),
                           None)
                if why is not None:
                    return why
            return first
        for symptom in drops:
            if symptom.reason is DropReason.NEIGH_FAILED and symptom.ref and depth < 3:
                failed = self.trace.get(symptom.ref)
                if failed is not None and failed.cause:
                    found = self.decisive_drop(failed.cause, depth + 1)
                    if found is not None:
                        return found
        # a flood that reached nobody: the ports it skipped, and why (a suspended
        # LAG member, a port without carrier, a blocked STP state...)
        skipped = [s for s in steps if s.action is Action.SKIP and s.reason is not None
                   and s.reason is not DropReason.SAME_PORT]
        if skipped and depth > 0:
            return skipped[0]
        return drops[0] if drops else (skipped[0] if skipped else None)

    # -- questions ---------------------------------------------------------------------
    def ping(self, src: str, dst: int | None = None, seq: int | None = None, *,
             ident: int | None = None) -> list[Explanation]:
        """Why the first lost probe of each matching ping session was lost (or,
        with ``seq``, what happened to that probe). ``ident`` picks one session
        when several ran to the same destination."""
        from vnetlab.net.addr import ip4_str

        out: list[Explanation] = []
        endpoint = self.result.lab.endpoints.get(src)
        if endpoint is None:
            return out
        for session in endpoint.pings:
            if (dst is not None and session.dst != dst) or (ident is not None
                                                            and session.ident != ident):
                continue
            for record in session.records:
                if seq is not None and record.seq != seq:
                    continue
                if record.reply_at is not None and seq is None:
                    continue
                question = t("explain.q.ping_reply" if record.reply_at is not None else
                             "explain.q.ping_no_reply", self.lang, src=src,
                             dst=ip4_str(session.dst), seq=record.seq,
                             sent=format_time(record.sent_at))
                if record.reply_at is not None:
                    out.append(Explanation(question, t("explain.v.reply_at", self.lang,
                                                       time=format_time(record.reply_at)),
                                           path=self.trace.chain(record.reply_step)))
                    continue
                out.append(self.from_root(question, record.send_step))
                if seq is None:
                    break       # later sequence numbers fail the same way; ask with --seq
        return out

    def default_questions(self) -> list[Explanation]:
        """What ``vnetlab explain FILE`` (and the report) explains with no selector:
        every failed expectation, every DHCP client that ended without an address or
        lost requests first, and every ping flow with a lost probe."""
        result = self.result
        explainer = self        # the same calls as a caller with questions of its own
        answers: list[Explanation] = []
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

    def frame(self, uid: int) -> Explanation:
        steps = [s for s in self.trace.steps if s.uid == uid]
        question = t("explain.q.frame", self.lang, uid=uid)
        if not steps:
            return Explanation(question, t("explain.v.no_frame", self.lang))
        return self.from_root(question, steps[0].id)

    def fdb_entry(self, table: str, mac: int) -> Explanation:
        from vnetlab.net.addr import mac_str

        name = mac_str(mac)
        moves = [s for s in self.trace.steps
                 if s.action in (Action.LEARN, Action.MOVE, Action.AGE, Action.FLUSH)
                 and (s.data.get("mac") == name or name in s.data.get("macs", ()))
                 and s.where == table.replace(":", "/")]
        port = self.result.fdb_port(table, mac)
        question = (t("explain.q.fdb_on", self.lang, mac=name, port=port, table=table) if port
                    else t("explain.q.fdb_not", self.lang, mac=name, table=table))
        if not moves:
            return Explanation(question, t("explain.v.not_learned", self.lang))
        last = moves[-1]
        explanation = Explanation(question, t("explain.v.fdb_last", self.lang,
                                              action=action(last.action, self.lang),
                                              note=note(last.note, self.lang)),
                                  decisive=last, path=[*moves[:-1]])
        self._root_cause(explanation, last)
        return explanation

    def dhcp(self, node: str) -> Explanation:
        """Why ``node`` (a VM, host or ``node:iface``) got no DHCP address, or how late
        it got one: the fate of each DISCOVER/REQUEST, the decisive drop of the last
        unanswered one and the timers around it (explain/dhcp.py)."""
        from vnetlab.explain.dhcp import explain_dhcp

        return explain_dhcp(self, node)

    def from_root(self, question: str, root: int) -> Explanation:
        decisive = self.decisive_drop(root)
        if decisive is None:
            delivered = [s for s in self.descendants(root) if s.action is Action.DELIVER]
            return Explanation(question, t("explain.v.no_drop", self.lang) if not delivered else
                               t("explain.v.delivered_at", self.lang,
                                 where=delivered[-1].where),
                               path=self.trace.chain(delivered[-1].id) if delivered else [])
        verdict = t("explain.v.not_delivered", self.lang, where=decisive.where,
                    reason=reason(decisive.reason, self.lang),
                    note=note(decisive.note, self.lang))
        explanation = Explanation(question, verdict, decisive, self.trace.chain(decisive.id))
        if self._stale_adjacency(explanation):
            return explanation
        cause = self.trace.get(decisive.ref)
        if (cause is None or cause.action not in (Action.LEARN, Action.MOVE)) \
                and decisive.reason in (DropReason.NO_ROUTE, DropReason.FLOOD_NO_PORT):
            # the frame reached a host that does not own its address (two stations with
            # one MAC), or a bridge that no longer has the station (a VM migrated away
            # while a switch still points at this host): the forwarding decision that
            # sent it there, and the entry it used, are the root cause
            # (the decision that sent it to this host: a table on another node first, the
            # switch's rather than a stale entry of the host's own bridges)
            here = decisive.where.split("/")[0]
            used = [c for s in reversed(explanation.path)
                    if (c := self.trace.get(s.ref)) is not None
                    and (c.action in (Action.LEARN, Action.MOVE) or c.data.get("adjacency"))]
            cause = next((c for c in used if c.where.split("/")[0] != here),
                         used[0] if used else None)
        if cause is not None and cause.action is Action.NEIGH and cause.data.get("adjacency"):
            self._root_cause(explanation, cause)        # an L3 switch's ARP adjacency
        elif cause is not None and cause.action in (Action.LEARN, Action.MOVE):
            self._root_cause(explanation, cause)
            if decisive.reason is DropReason.FLOOD_NO_PORT:
                # the entry is stale, not poisoned: say so instead of a flood-back story
                explanation.summary = [t("explain.stale_entry", self.lang, where=cause.where,
                                         note=note(cause.note, self.lang),
                                         time=format_time(cause.time), uid=cause.uid,
                                         bridge=decisive.where)]
        elif decisive.reason in (DropReason.PORT_STATE, DropReason.NO_CARRIER) and decisive.port:
            # a port that does not forward: the last state change of the device behind
            # it (a team whose runner enabled no port, a bond without a slave...)
            node = decisive.where.split("/")[0]
            behind = f"{node}/{decisive.port}"
            change = next((s for s in reversed(self.trace.steps[:decisive.id - 1])
                           if s.where == behind and s.action is Action.LINK), None)
            if change is not None:
                explanation.cause_step = change
                explanation.cause_path = self.trace.chain(change.id)
                explanation.summary = [t("explain.s.change", self.lang, where=change.where,
                                         note=note(change.note, self.lang),
                                         time=format_time(change.time), fn=change.fn,
                                         rule=change.rule)]
        return explanation

    def _stale_adjacency(self, explanation: Explanation) -> bool:
        """An L3 switch routed the frame by an adjacency that kept its port (on-fdb-move
        keep) while the MAC table had moved the MAC elsewhere (S10, docs/models/
        l3-switch.md): that ARP entry is the root cause, told with its port and age."""
        routed = next((s for s in reversed(explanation.path) if s.data.get("mode") == "keep"
                       and s.data.get("fdb_port") not in (None, "", s.data.get("port"))), None)
        adjacency = self.trace.get(routed.ref) if routed is not None else None
        if routed is None or adjacency is None:
            return False
        data = routed.data
        moved = next((s for s in reversed(self.trace.steps[:routed.id - 1])
                      if s.where == routed.where and s.action in (Action.LEARN, Action.MOVE)
                      and s.data.get("mac") == data["mac"]), None)
        explanation.cause_step = adjacency
        explanation.cause_path = self.trace.chain(adjacency.id)
        explanation.summary = [t("explain.stale_adjacency", self.lang, where=routed.where,
                                 ip=data["adjacency"], mac=data["mac"], port=data["port"],
                                 age=f"{data['age_ns'] / 1e9:.1f}s",
                                 port_age=f"{data['port_age_ns'] / 1e9:.1f}s",
                                 fdb_port=data["fdb_port"],
                                 moved=format_time(moved.time) if moved is not None else "?"),
                               *self.summarize(adjacency, explanation.cause_path)]
        return True

    def _root_cause(self, explanation: Explanation, cause: Step) -> None:
        explanation.cause_step = cause
        explanation.cause_path = self.trace.chain(cause.id)
        explanation.summary = self.summarize(cause, explanation.cause_path)

    def summarize(self, cause: Step, chain: list[Step]) -> list[str]:
        """Sentences for the hops where the poisoning frame went astray."""
        lang = self.lang
        out = [t("explain.s.cause", lang, where=cause.where, note=note(cause.note, lang),
                 time=format_time(cause.time), uid=cause.uid, fn=cause.fn, rule=cause.rule)]
        origin = next((s for s in chain if s.action is Action.TRANSMIT), None)
        if origin is not None:
            out.append(t("explain.s.sent_by", lang, where=origin.where,
                         note=note(origin.note, lang)))
        left: dict[str, Step] = {}
        for index, step in enumerate(chain):
            node = step.where.split("/")[0]
            if step.action is Action.FORWARD and step.fn.endswith(("_transmit", "slave_get")):
                why = step.note.split("(")[-1]
                out.append(t("explain.s.sent_out", lang, where=step.where, port=step.port,
                             why=why).rstrip(")") if lang == "en" else
                           t("explain.s.sent_out", lang, where=step.where, port=step.port,
                             why=note(why.rstrip(")"), lang)))
            if step.action is Action.TRANSMIT and node not in left:
                left[node] = step
            if step.action is Action.FLOOD and "/" not in step.where:
                nxt = next((s for s in chain[index + 1:] if s.action is Action.TRANSMIT), None)
                if nxt is not None:
                    out.append(t("explain.s.flooded_back", lang, where=step.where,
                                 port=step.port, out=nxt.port))
            if step.action is Action.RECEIVE and step.fn.startswith(("team_", "bond_")):
                out.append(t("explain.s.delivered_up", lang, where=step.where,
                             note=note(step.note, lang), fn=step.fn, rule=step.rule))
            if step.action is Action.RECEIVE and node in left and left[node].id < step.id \
                    and step.where.split("/")[0] == node and "/" in step.where \
                    and step.fn == "netif_receive_skb":
                out.append(t("explain.s.came_back", lang, node=node, port=step.port))
        return out
