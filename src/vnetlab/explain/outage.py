"""Outages of ping flows: when traffic stopped, when it came back, and why.

For every ping session the answered and lost probes form runs; each run of
lost probes is an outage from the send time of its first lost probe to the
send time of the first answered one after it (the resolution is the ping
interval). Its cause is the explanation of the first lost probe (the decisive
drop and the state it used, e.g. a switch FDB entry still on the old port);
its end is what changed the path for the first answered probe: an FDB entry
learned or moved during the gap (the VM transmitted, or a flood after a flush
or ageing re-taught the switch), or an L3 switch's ARP adjacency re-learned,
found through the ``ref`` of the decisions on the recovered probe's path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vnetlab.i18n import note, reason, t
from vnetlab.net.addr import ip4_str
from vnetlab.sim.time import Time, format_duration, format_time
from vnetlab.sim.trace import Action

if TYPE_CHECKING:
    from vnetlab.explain.explain import Explainer
    from vnetlab.lab import RunResult


@dataclass(slots=True)
class Outage:
    src: str
    dst: str
    first_lost_seq: int
    lost: int
    start: Time
    end: Time | None                 # None: not recovered before the run ended
    cause: str
    recovery: str
    announcements: str = ""          # a migration in the gap: what its announcements did

    @property
    def duration(self) -> Time | None:
        return None if self.end is None else self.end - self.start

    def describe(self, lang: str = "en") -> str:
        """The outage as ``vnetlab run`` prints it; ``cause`` and ``recovery`` are in the
        language ``outages()`` was asked for."""
        span = (t("outage.span", lang, duration=format_duration(self.end - self.start),
                  lost=self.lost, start=format_time(self.start), end=format_time(self.end))
                if self.end is not None else
                t("outage.span_open", lang, start=format_time(self.start), lost=self.lost))
        text = t("outage.head", lang, src=self.src, dst=self.dst, span=span, cause=self.cause)
        text += t("outage.recovery", lang, recovery=self.recovery) if self.recovery else ""
        return text + (t("outage.announcements", lang, what=self.announcements)
                       if self.announcements else "")

    def to_json(self) -> dict[str, Any]:
        return {"from": self.src, "to": self.dst, "first_lost_seq": self.first_lost_seq,
                "lost": self.lost, "start_ns": self.start, "end_ns": self.end,
                "duration_ns": self.duration, "cause": self.cause, "recovery": self.recovery,
                "announcements": self.announcements}


def outages(result: RunResult, explainer: Explainer | None = None, lang: str = "en"
            ) -> list[Outage]:
    """``lang``: the language of each outage's cause and recovery sentences (the JSON
    output and ``outage:`` expectations use English)."""
    from vnetlab.explain.explain import Explainer
    from vnetlab.explain.migration import migration_stories

    traced = result.trace.level != "off"
    explainer = explainer or Explainer(result, lang)
    stories = migration_stories(result) if traced else []
    out: list[Outage] = []
    for name, endpoint in result.lab.endpoints.items():
        for session in endpoint.pings:
            records = session.records
            i = 0
            while i < len(records):
                if records[i].reply_at is not None:
                    i += 1
                    continue
                first = records[i]
                j = i
                while j < len(records) and records[j].reply_at is None:
                    j += 1
                recovered = records[j] if j < len(records) else None
                if traced:
                    answers = explainer.ping(name, session.dst, first.seq, ident=session.ident)
                    cause = (_cause(answers[0], lang) if answers
                             else t("outage.no_explanation", lang))
                    recovery = (_recovery(result, first.sent_at, recovered.send_step,
                                          recovered.reply_step, lang)
                                if recovered is not None else "")
                else:                   # durations only: nothing to walk (sweeps run this way)
                    cause, recovery = t("outage.trace_off", lang), ""
                end = recovered.sent_at if recovered is not None else None
                story = next((st for st in reversed(stories) if st.start <= first.sent_at
                              and (end is None or st.start < end)), None)
                out.append(Outage(name, ip4_str(session.dst), first.seq, j - i, first.sent_at,
                                  end, cause, recovery,
                                  _announcements(story, lang) if story else ""))
                i = j
    return out


def _announcements(story: Any, lang: str) -> str:
    """The migration's announcements in one sentence: how many reached a switch, and
    where and why the first lost one died (V4-V7, O1)."""
    total = len(story.announcements)
    if not total:
        return t("outage.ann_none", lang, vm=story.vm)
    useful = sum(1 for a in story.announcements if a.reached_switch)
    lost = next((a for a in story.announcements if not a.reached_switch), None)
    text = t("outage.ann_count", lang, vm=story.vm, useful=useful, total=total)
    if lost is not None:
        text += t("outage.ann_first_lost", lang, kind=lost.kind, fate=lost.fate(lang))
    return text


def _cause(answer: Any, lang: str = "en") -> str:
    decisive = answer.decisive
    if decisive is None:
        return str(answer.verdict)
    text = t("outage.dropped", lang, where=decisive.where, reason=reason(decisive.reason, lang),
             note=note(decisive.note, lang), fn=decisive.fn, rule=decisive.rule)
    if answer.cause_step is not None:
        c = answer.cause_step
        text += t("outage.relied", lang, where=c.where, note=note(c.note, lang),
                  time=format_time(c.time), rule=c.rule)
        if c.data.get("adjacency") and answer.summary:      # an L3 switch's ARP adjacency
            text += t("outage.adjacency", lang, summary=answer.summary[0])
    return text


def _recovery(result: RunResult, gap_start: Time, send_step: int, reply_step: int,
              lang: str = "en") -> str:
    trace = result.trace
    path = trace.chain(reply_step) if reply_step else trace.chain(send_step)
    for step in path:
        ref = trace.get(step.ref) if step.ref else None
        if ref is not None and (ref.action in (Action.LEARN, Action.MOVE)
                                or ref.data.get("adjacency")) and ref.time >= gap_start:
            origin = next((s for s in trace.chain(ref.id)
                           if s.action is Action.TRANSMIT and s.uid == ref.uid), None)
            by = t("outage.from_frame", lang, where=origin.where,
                   note=note(origin.note, lang)) if origin else ""
            return t("outage.learned", lang, where=ref.where, note=note(ref.note, lang),
                     time=format_time(ref.time), uid=ref.uid, by=by, fn=ref.fn, rule=ref.rule)
    for step in path:
        if step.action is Action.FLOOD and "unknown unicast" in step.note:
            cleared = [s for s in trace.steps if s.where == step.where and s.time <= step.time
                       and s.action in (Action.FLUSH, Action.AGE)]
            if cleared:
                c = cleared[-1]
                return t("outage.flushed", lang, where=c.where, note=note(c.note, lang),
                         time=format_time(c.time), rule=c.rule)
            return t("outage.unknown_unicast", lang, where=step.where)
    changes = [s for s in trace.steps if s.action is Action.LINK and s.time >= gap_start
               and s.time <= path[-1].time] if path else []
    if changes:
        c = changes[-1]
        return t("explain.s.change", lang, where=c.where, note=note(c.note, lang),
                 time=format_time(c.time), fn=c.fn, rule=c.rule)
    return ""
