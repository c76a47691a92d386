"""What the doctor reports: checks, findings, evidence, fixes, and the registry.

A *check* is a small class with a stable dotted ``id`` (``team.roundrobin-without-lag``),
a ``severity`` (error | warning | info), a ``title`` (English, with its Chinese
``title_zh`` next to it), the semantics ``rules`` it rests on, ``references`` (URLs or
document names) and ``run(ctx) -> list[Finding]``. A check may also offer ``fix(doc,
finding) -> doc`` (the topology document with the fix applied) and ``probe(ctx,
finding) -> Probe`` (the traffic that shows the hazard): ``vnetlab doctor --prove``
simulates the user's topology with and without the fix (doctor/prove.py).

A *finding* is one hazard on one host: the evidence (configuration lines at
file:line, live state from a ``captured:`` block), the consequence in traffic terms,
the fix as concrete commands built from the user's own names, and what it needs to
be proved. Texts that vnetlab writes (titles, consequences, fix labels) are message
keys with fields (``Text``), so they print in English or Chinese; evidence and
commands are what the files and the tools say and are never translated.

Registering: ``@register`` on the class; ``CHECKS`` maps id -> instance in import
order (doctor/checks/__init__.py imports every area). The lead's OVS and migration
checks go in ``checks/ovs.py`` and ``checks/migration.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from vnetlab.doctor.context import Context

SEVERITIES = ("error", "warning", "info")
RANK = {name: index for index, name in enumerate(SEVERITIES)}


@dataclass(frozen=True, slots=True)
class Text:
    """A sentence vnetlab writes: a message key (doctor/strings.py or a check's
    ``texts``) and its fields; ``render(lang)`` formats it."""

    key: str
    fields: tuple[tuple[str, str | Text], ...] = ()

    def render(self, lang: str = "en") -> str:
        """The sentence in ``lang``; a field that is itself a Text is rendered first."""
        from vnetlab.i18n import t

        return t(self.key, lang, **{k: v.render(lang) if isinstance(v, Text) else v
                                    for k, v in self.fields})


def text(key: str, **fields: object) -> Text:
    return Text(key, tuple((k, v if isinstance(v, Text) else str(v))
                           for k, v in fields.items()))


@dataclass(frozen=True, slots=True)
class Evidence:
    """One piece of evidence: a configuration line (``config``: the key path and the
    value as written, or ``not set`` and the default the model applies) or live state
    (``live``: an FDB entry, a port state, as the tool printed it)."""

    kind: str                   # config | live
    file: str
    line: int                   # 1-based; 0 when the input has no lines (an import)
    column: int
    path: str                   # hosts.kvm1.interfaces[team1].team.runner.name
    text: str                   # "roundrobin", "52:54:00:12:34:01 dev team1 master br1"

    def where(self) -> str:
        return f"{self.file}:{self.line}:{self.column}" if self.line else self.file

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "file": self.file, "line": self.line, "column": self.column,
                "path": self.path, "text": self.text}


@dataclass(frozen=True, slots=True)
class Fix:
    """Commands for one place (the host, a switch, nova.conf): ``where`` says which."""

    where: Text
    commands: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Probe:
    """Traffic that shows a hazard, run on the topology with and without its fix:
    ``pings`` (VM, destination IP, payload size, count), ``dhcp`` (VMs whose DHCP
    client must get a lease), ``actions`` (extra ``run:`` items: a cable pulled) and
    the simulated time to run (None: the simulator's default, which covers the DHCP
    clients' first attempt; capped by prove.MAX_RUN). ``start``: when the pings begin
    (after an LACP negotiation settles: 12 s); ``dhcp_within``: a DHCP client must be
    bound by then (a hazard that delays a lease rather than denying it)."""

    pings: tuple[tuple[str, str, int, int], ...] = ()
    dhcp: tuple[str, ...] = ()
    actions: tuple[dict[str, Any], ...] = ()
    duration: str | None = "8s"
    dhcp_clients: bool = False      # the harness needs a DHCP server
    start: str = "1s"
    dhcp_within: str | None = None


@dataclass(slots=True)
class Finding:
    check: str
    severity: str
    host: str
    subject: str                        # the device the hazard is about (team1, br0, vm1)
    evidence: list[Evidence]
    consequence: Text
    fixes: list[Fix]
    affected: list[str] = field(default_factory=list)     # VMs whose traffic suffers
    fixer: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    probe: Probe | None = None
    notes: list[Text] = field(default_factory=list)        # assumptions the finding makes
    applied: tuple[int, ...] = (0,)                        # the fixes ``fixer`` applies
    proof: dict[str, Any] | None = None                    # set by --prove

    def sort_key(self) -> tuple[int, str, str, str]:
        return (RANK[self.severity], self.check, self.host, self.subject)

    def to_json(self, lang: str = "en") -> dict[str, Any]:
        check = CHECKS[self.check]
        out: dict[str, Any] = {
            "check": self.check, "severity": self.severity, "host": self.host,
            "subject": self.subject, "title": check.title_in(lang),
            "evidence": [e.to_json() for e in self.evidence],
            "consequence": self.consequence.render(lang),
            "fix": [{"where": f.where.render(lang), "commands": list(f.commands)}
                    for f in self.fixes],
            "affected": list(self.affected),
            "notes": [n.render(lang) for n in self.notes],
            "rules": list(check.rules), "references": list(check.references),
            "provable": self.fixer is not None and self.probe is not None,
        }
        if self.proof is not None:
            out["prove"] = {**self.proof, "applied": [i + 1 for i in self.applied]}
        return out


class Check:
    """Base of every check (see the module docstring)."""

    id: ClassVar[str] = ""
    severity: ClassVar[str] = "warning"
    title: ClassVar[str] = ""
    title_zh: ClassVar[str] = ""
    rules: ClassVar[tuple[str, ...]] = ()
    references: ClassVar[tuple[str, ...]] = ()
    # message keys this check's findings use: key -> (English, Chinese)
    texts: ClassVar[dict[str, tuple[str, str]]] = {}
    # what it needs: the live ``captured:`` block only (skipped without one)
    needs_capture: ClassVar[bool] = False

    def run(self, ctx: Context) -> list[Finding]:
        raise NotImplementedError

    def title_in(self, lang: str) -> str:
        return self.title_zh if lang == "zh" and self.title_zh else self.title

    def finding(self, ctx: Context, host: str, subject: str, evidence: list[Evidence],
                consequence: Text, fixes: list[Fix], *, severity: str | None = None,
                affected: list[str] | None = None,
                fixer: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                probe: Probe | None = None, notes: list[Text] | None = None,
                applied: tuple[int, ...] = (0,)) -> Finding:
        level = severity or self.severity
        assert level in RANK, (self.id, level)
        return Finding(self.id, level, host, subject, evidence, consequence, fixes,
                       affected or [], fixer, probe, notes or [], applied)


CHECKS: dict[str, Check] = {}


def register(cls: type[Check]) -> type[Check]:
    """Class decorator: one instance per check id, its texts into the message catalog."""
    from vnetlab.i18n import MESSAGES

    assert cls.id and cls.id not in CHECKS, cls.id
    assert cls.severity in RANK, cls.id
    CHECKS[cls.id] = cls()
    for key, (en, zh) in cls.texts.items():
        MESSAGES[key] = {"en": en, "zh": zh}
    return cls
