"""Why did this DHCP client get no address (or get it late)? From the trace.

Every DHCPDISCOVER/REQUEST a client sends is the root of a causal tree: the
frame's hops, the server's decision, its OFFER (caused by the DISCOVER it
answers), the OFFER's hops and the client's reaction. For each send the fate
is read from that tree, in this order:

1. the client got an OFFER or ACK from it: answered;
2. a server or relay handled it: the fate of the reply (its decisive drop), or
   the server's own refusal (no address available);
3. otherwise the first drop on the way that is not noise (a copy reaching a node
   with nothing on UDP 67, a NIC ignoring a frame not addressed to it); if only
   noise is left, the sentence names the nodes the request reached.

The server's ping of a candidate address (dnsmasq's conflict check) is a
descendant too and is left out. The explanation tells the timer story around
the decisive drop: when the port that dropped it began forwarding, when the
client gave up, how many sends died the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vnetlab.i18n import note, reason, t
from vnetlab.sim.time import S, format_time
from vnetlab.sim.trace import Action, DropReason, Step

if TYPE_CHECKING:
    from vnetlab.devices.dhcp import DhcpClient, SendRecord
    from vnetlab.explain.explain import Explainer, Explanation

NOISE = (DropReason.NO_SOCKET, DropReason.OTHERHOST, DropReason.NEIGH_FAILED,
         DropReason.SAME_PORT)


def secs(t: int) -> str:
    return f"{t / S:.1f} s"


@dataclass(slots=True)
class Fate:
    """What became of one DISCOVER/REQUEST."""

    send: SendRecord
    answered: Step | None = None        # the client's OFFER/ACK step
    decisive: Step | None = None        # the drop (or refusal) that ended it
    sentence: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        d = self.decisive
        return (d.where, d.port, str(d.reason)) if d is not None else ("", "", self.sentence)


def _without_pings(explainer: Explainer, steps: list[Step]) -> list[Step]:
    """Drop the subtrees of the server's address pings (dnsmasq do_icmp_ping)."""
    excluded: set[int] = set()
    for step in steps:
        if "ping" in step.data and step.data.get("dhcp") == "server" and step.id not in excluded:
            excluded.update(s.id for s in explainer.descendants(step.id))
    return [s for s in steps if s.id not in excluded]


def fate(explainer: Explainer, client: DhcpClient, send: SendRecord) -> Fate:
    lang = explainer.lang
    steps = _without_pings(explainer, explainer.descendants(send.step))
    what = t("dhcp.what", lang, msg=send.mtype.name, time=secs(send.time))
    out = Fate(send)
    replies = [s for s in steps if s.action is Action.DHCP and s.data.get("dhcp") == "client"
               and s.data.get("client") == client.ref and s.data.get("msg") in ("offer", "ack")]
    if replies:
        out.answered = replies[0]
        out.sentence = t("dhcp.answered", lang, what=what, note=note(replies[0].note, lang))
        return out
    ignored = [s for s in steps if s.reason is DropReason.DHCP_IGNORED]
    refusals = [s for s in steps if s.reason is DropReason.DHCP_NO_ADDRESS]
    if refusals:
        out.decisive = refusals[0]
        out.sentence = t("dhcp.refused", lang, what=what, where=refusals[0].where,
                         note=note(refusals[0].note, lang))
        return out
    handled = [s for s in steps if s.action is Action.DHCP and s.data.get("dhcp") in
               ("server", "relay") and s.data.get("msg") in ("offer", "ack", "nak",
                                                             "discover", "request")]
    replies_sent = [s for s in handled if s.data.get("msg") in ("offer", "ack", "nak")
                    and s.data.get("dhcp") == "server"]
    for reply in replies_sent:
        drop = _first_drop(_without_pings(explainer, explainer.descendants(reply.id)))
        if drop is not None:
            out.decisive = drop
            out.sentence = t("dhcp.reply_dropped", lang, what=what, where=reply.where,
                             msg=str(reply.data.get("msg", "reply")).upper(),
                             at=_at(drop, lang), reason=reason(drop.reason, lang),
                             note=note(drop.note, lang))
            return out
    if ignored:
        out.decisive = ignored[0]
        out.sentence = t("dhcp.discarded", lang, what=what, note=note(ignored[0].note, lang))
        return out
    if replies_sent:
        out.sentence = t("dhcp.reply_late", lang, what=what, where=replies_sent[0].where)
        return out
    drop = _first_drop(steps)
    if drop is not None:
        out.decisive = drop
        out.sentence = t("dhcp.dropped", lang, what=what, at=_at(drop, lang),
                         reason=reason(drop.reason, lang), note=note(drop.note, lang))
        return out
    noise = [s for s in steps if s.action is Action.DROP and s.reason is DropReason.NO_SOCKET]
    if noise:
        endpoints = explainer.result.lab.endpoints
        routers = [s for s in noise if s.where in endpoints and
                   len(endpoints[s.where].ifaces) > 1]
        out.decisive = routers[0] if routers else noise[0]
        reached = ", ".join(dict.fromkeys(s.where for s in noise))
        out.sentence = t("dhcp.reached_only", lang, what=what, reached=reached)
        dead_ends = [f.where for f in steps if f.action is Action.FLOOD and not any(
            c.action is Action.TRANSMIT for c in steps if c.cause == f.id)]
        if dead_ends:
            out.sentence += t("dhcp.dead_end", lang, where=dead_ends[0])
        if routers:
            out.sentence += t("dhcp.router", lang, where=routers[0].where, port=routers[0].port)
        return out
    flood = next((s for s in steps if s.action is Action.FLOOD), None)
    out.sentence = t("dhcp.nowhere", lang, what=what) + (
        t("dhcp.flood_none", lang, where=flood.where) if flood is not None and not any(
            s.action is Action.TRANSMIT and s.id > flood.id for s in steps) else "")
    return out


def _first_drop(steps: Iterable[Step]) -> Step | None:
    return next((s for s in steps if s.action is Action.DROP and s.reason not in NOISE
                 and s.reason is not DropReason.DHCP_IGNORED), None)


def _at(step: Step, lang: str = "en") -> str:
    return t("dhcp.at_port", lang, where=step.where, port=step.port) if step.port and \
        not step.where.endswith("/" + step.port) else step.where


def _port_story(explainer: Explainer, drop: Step) -> str:
    """When did the port that dropped it begin forwarding (B18, S8)?"""
    if drop.reason is not DropReason.PORT_STATE:
        return ""
    lang = explainer.lang
    states = [s for s in explainer.trace.steps if s.action is Action.LINK
              and s.where == drop.where and s.port == drop.port and "state" in s.note]
    later = next((s for s in states if s.time >= drop.time and "forwarding" in s.note), None)
    before = [s for s in states if s.time <= drop.time]
    found = re.search(r"entered (?:STP )?(\w+) state", before[-1].note) if before else None
    state = t("dhcp.was_state", lang, state=_state_word(found.group(1), lang),
              rule=drop.rule) if found else ""
    if later is not None:
        return t("dhcp.forwards_from", lang, where=drop.where, port=drop.port, state=state,
                 time=secs(later.time), fn=later.fn, rule=later.rule)
    return t("dhcp.never_forwarded", lang, where=drop.where, port=drop.port, state=state)


def _state_word(state: str, lang: str) -> str:
    """An STP port state in ``lang`` (i18n.WORDS: 侦听（listening）...)."""
    from vnetlab.i18n import WORDS

    return state if lang == "en" else WORDS.get(state, state)


def explain_dhcp(explainer: Explainer, node: str) -> Explanation:
    from vnetlab.explain.explain import Explanation

    result = explainer.result
    lang = explainer.lang
    client = result.lab.dhcp.client(node)
    if client is None:
        return Explanation(t("dhcp.q.no_client", lang, node=node),
                           t("dhcp.v.no_client", lang, node=node))
    now = result.sim.now
    status = client.status_at(now)
    fates = [fate(explainer, client, send) for send in client.sends]
    if status.kind == "bound":
        return _bound(explainer, client, fates, status.address, status.since)
    question = t("dhcp.q.no_address", lang, ref=client.ref, label=client.label)
    if not fates:
        return Explanation(question, t("dhcp.v.sent_nothing", lang, label=client.label,
                                       time=secs(client.params.boot_delay)))
    unanswered = [f for f in fates if f.answered is None]
    last = unanswered[-1] if unanswered else fates[-1]
    from vnetlab.net.addr import ip4_str

    head = (t("dhcp.v.link_local", lang, address=ip4_str(status.address))
            if status.kind == "link-local" else t("dhcp.v.no_address", lang))
    verdict = t("dhcp.v.head", lang, head=head, sentence=last.sentence)
    explanation = Explanation(question, verdict, last.decisive,
                              explainer.trace.chain(last.decisive.id) if last.decisive else [])
    explanation.summary = _story(explainer, client, fates, last)
    return explanation


def _story(explainer: Explainer, client: DhcpClient, fates: list[Fate], last: Fate
           ) -> list[str]:
    lang = explainer.lang
    out = [t("dhcp.s.last", lang, msg=last.send.mtype.name, time=format_time(last.send.time),
             sentence=last.sentence)]
    same = [f for f in fates if f.answered is None and f.key == last.key]
    if last.decisive is not None and len(same) > 1:
        out.append(t("dhcp.s.same_way", lang, count=len(same), total=len(fates),
                     times=", ".join(secs(f.send.time) for f in same)))
    if last.decisive is not None:
        port = _port_story(explainer, last.decisive)
        if port:
            out.append(port)
    for give_up in client.gave_up:
        step = explainer.trace.get(give_up.step)
        out.append(t("dhcp.s.gave_up", lang, label=client.label, time=secs(give_up.time),
                     why=note(give_up.why, lang))
                   + (f" [{step.fn}, {step.rule}]" if step is not None else ""))
    for event in client.events:
        if event.kind == "link-local":
            step = explainer.trace.get(event.step)
            out.append(t("dhcp.s.at", lang, time=secs(event.time),
                         note=note(step.note, lang) if step else t("dhcp.s.link_local", lang)))
    return out


def _bound(explainer: Explainer, client: DhcpClient, fates: list[Fate], address: int,
           since: int) -> Explanation:
    from vnetlab.explain.explain import Explanation
    from vnetlab.net.addr import ip4_str

    lang = explainer.lang
    event = next(e for e in reversed(client.events) if e.kind == "bound")
    question = t("dhcp.q.bound", lang, ref=client.ref, label=client.label)
    before = [f for f in fates if f.send.time < since and f.answered is None]
    started = client.started_at if client.started_at is not None else 0
    verdict = t("dhcp.v.bound", lang, address=ip4_str(address), time=secs(since),
                after=secs(since - started), label=client.label)
    explanation = Explanation(question, verdict, path=explainer.trace.chain(event.step))
    if before:
        last = before[-1]
        explanation.decisive = last.decisive
        explanation.summary = _story(explainer, client, [f for f in fates
                                                         if f.send.time < since], last)
        explanation.summary.append(t("dhcp.s.bound", lang, address=ip4_str(address),
                                     time=secs(since)))
    return explanation
