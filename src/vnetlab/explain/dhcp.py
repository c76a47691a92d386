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
    steps = _without_pings(explainer, explainer.descendants(send.step))
    what = f"the {send.mtype.name} at {secs(send.time)}"
    out = Fate(send)
    replies = [s for s in steps if s.action is Action.DHCP and s.data.get("dhcp") == "client"
               and s.data.get("client") == client.ref and s.data.get("msg") in ("offer", "ack")]
    if replies:
        out.answered = replies[0]
        out.sentence = f"{what} was answered: {replies[0].note}"
        return out
    ignored = [s for s in steps if s.reason is DropReason.DHCP_IGNORED]
    refusals = [s for s in steps if s.reason is DropReason.DHCP_NO_ADDRESS]
    if refusals:
        out.decisive = refusals[0]
        out.sentence = f"{what} reached {refusals[0].where}, which offered nothing: " \
                       f"{refusals[0].note}"
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
            out.sentence = (f"{what} reached {reply.where}; its "
                            f"{str(reply.data.get('msg', 'reply')).upper()} was dropped at "
                            f"{_at(drop)} ({drop.reason}): {drop.note}")
            return out
    if ignored:
        out.decisive = ignored[0]
        out.sentence = f"{what} was answered, but the client discarded the reply: " \
                       f"{ignored[0].note}"
        return out
    if replies_sent:
        out.sentence = f"{what} reached {replies_sent[0].where}, whose reply was not " \
                       "delivered before the run ended"
        return out
    drop = _first_drop(steps)
    if drop is not None:
        out.decisive = drop
        out.sentence = f"{what} was dropped at {_at(drop)} ({drop.reason}): {drop.note}"
        return out
    noise = [s for s in steps if s.action is Action.DROP and s.reason is DropReason.NO_SOCKET]
    if noise:
        endpoints = explainer.result.lab.endpoints
        routers = [s for s in noise if s.where in endpoints and
                   len(endpoints[s.where].ifaces) > 1]
        out.decisive = routers[0] if routers else noise[0]
        reached = ", ".join(dict.fromkeys(s.where for s in noise))
        out.sentence = f"{what} reached only {reached}: no DHCP server or relay there"
        dead_ends = [f.where for f in steps if f.action is Action.FLOOD and not any(
            c.action is Action.TRANSMIT for c in steps if c.cause == f.id)]
        if dead_ends:
            out.sentence += f"; {dead_ends[0]} had no other port to flood it to"
        if routers:
            out.sentence += (f"; {routers[0].where} routes between subnets but does not "
                             "forward the limited broadcast 255.255.255.255 and has no "
                             f"dhcp-relay on {routers[0].port} (D1)")
        return out
    flood = next((s for s in steps if s.action is Action.FLOOD), None)
    out.sentence = f"{what} went nowhere: no drop recorded" + (
        f"; {flood.where} flooded it to no port" if flood is not None and not any(
            s.action is Action.TRANSMIT and s.id > flood.id for s in steps) else "")
    return out


def _first_drop(steps: Iterable[Step]) -> Step | None:
    return next((s for s in steps if s.action is Action.DROP and s.reason not in NOISE
                 and s.reason is not DropReason.DHCP_IGNORED), None)


def _at(step: Step) -> str:
    return f"{step.where} port {step.port}" if step.port and not step.where.endswith(
        "/" + step.port) else step.where


def _port_story(explainer: Explainer, drop: Step) -> str:
    """When did the port that dropped it begin forwarding (B18, S8)?"""
    if drop.reason is not DropReason.PORT_STATE:
        return ""
    states = [s for s in explainer.trace.steps if s.action is Action.LINK
              and s.where == drop.where and s.port == drop.port and "state" in s.note]
    later = next((s for s in states if s.time >= drop.time and "forwarding" in s.note), None)
    before = [s for s in states if s.time <= drop.time]
    found = re.search(r"entered (?:STP )?(\w+) state", before[-1].note) if before else None
    state = f" was {found.group(1)} then ({drop.rule})" if found else ""
    if later is not None:
        return (f"{drop.where} port {drop.port}{state}; it forwards from {secs(later.time)} "
                f"[{later.fn}, {later.rule}]")
    return f"{drop.where} port {drop.port}{state}; it never forwarded during the run"


def explain_dhcp(explainer: Explainer, node: str) -> Explanation:
    from vnetlab.explain.explain import Explanation

    result = explainer.result
    client = result.lab.dhcp.client(node)
    if client is None:
        return Explanation(f"why did {node} get no DHCP address?",
                           f"UNKNOWN: {node} runs no DHCP client")
    now = result.sim.now
    status = client.status_at(now)
    fates = [fate(explainer, client, send) for send in client.sends]
    if status.kind == "bound":
        return _bound(explainer, client, fates, status.address, status.since)
    question = f"why did {client.ref} ({client.label}) get no address?"
    if not fates:
        return Explanation(question, f"NO ADDRESS: {client.label} sent nothing (it starts at "
                           f"{secs(client.params.boot_delay)})")
    unanswered = [f for f in fates if f.answered is None]
    last = unanswered[-1] if unanswered else fates[-1]
    from vnetlab.net.addr import ip4_str

    head = ("LINK-LOCAL " + ip4_str(status.address) if status.kind == "link-local"
            else "NO ADDRESS")
    verdict = f"{head}: {last.sentence}"
    explanation = Explanation(question, verdict, last.decisive,
                              explainer.trace.chain(last.decisive.id) if last.decisive else [])
    explanation.summary = _story(explainer, client, fates, last)
    return explanation


def _story(explainer: Explainer, client: DhcpClient, fates: list[Fate], last: Fate
           ) -> list[str]:
    out = [f"the last unanswered {last.send.mtype.name} was sent at "
           f"{format_time(last.send.time)}: {last.sentence}"]
    same = [f for f in fates if f.answered is None and f.key == last.key]
    if last.decisive is not None and len(same) > 1:
        out.append(f"{len(same)} of the {len(fates)} DISCOVERs/REQUESTs sent "
                   f"({', '.join(secs(f.send.time) for f in same)}) died the same way")
    if last.decisive is not None:
        port = _port_story(explainer, last.decisive)
        if port:
            out.append(port)
    for give_up in client.gave_up:
        step = explainer.trace.get(give_up.step)
        out.append(f"{client.label} gave up at {secs(give_up.time)}: {give_up.why}"
                   + (f" [{step.fn}, {step.rule}]" if step is not None else ""))
    for event in client.events:
        if event.kind == "link-local":
            step = explainer.trace.get(event.step)
            out.append(f"at {secs(event.time)}: {step.note if step else 'link-local address'}")
    return out


def _bound(explainer: Explainer, client: DhcpClient, fates: list[Fate], address: int,
           since: int) -> Explanation:
    from vnetlab.explain.explain import Explanation
    from vnetlab.net.addr import ip4_str

    event = next(e for e in reversed(client.events) if e.kind == "bound")
    question = f"when and how did {client.ref} ({client.label}) get its address?"
    before = [f for f in fates if f.send.time < since and f.answered is None]
    started = client.started_at if client.started_at is not None else 0
    verdict = (f"BOUND: {ip4_str(address)} at {secs(since)}, {secs(since - started)} after "
               f"{client.label} started")
    explanation = Explanation(question, verdict, path=explainer.trace.chain(event.step))
    if before:
        last = before[-1]
        explanation.decisive = last.decisive
        explanation.summary = _story(explainer, client, [f for f in fates
                                                         if f.send.time < since], last)
        explanation.summary.append(f"bound {ip4_str(address)} at {secs(since)}")
    return explanation
