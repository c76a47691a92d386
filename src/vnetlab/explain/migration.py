"""A live migration told as a story with times (``vnetlab explain``).

The timeline is the migration's own steps (Nova, the Neutron agent, libvirt, QEMU:
the steps whose rule is one of V3/V5/V6 or O1-O7), each at its time relative to the
``migrate`` action; then every announcement the migrated VM's MAC made (QEMU's RARPs,
V4, and the guest's gratuitous ARPs, V7) with its fate: the tables it taught (an FDB
entry learned or moved, with the port) or, when it taught none, where it died and why
(e.g. the dead VLAN on ``br-int``, O1). An announcement that taught no switch is the
usual reason a migrated VM stays unreachable (seed 003).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vnetlab.i18n import note, reason, t
from vnetlab.sim.time import Time, format_duration, format_time
from vnetlab.sim.trace import Action

if TYPE_CHECKING:
    from vnetlab.lab import RunResult
    from vnetlab.sim.trace import Step

STORY_RULES = {"V3", "V6", "O1", "O2", "O4", "O5", "O6", "O7"}
ANNOUNCE_FNS = {"qemu_announce_self_iter": "RARP", "netdev_notify_peers": "GARP"}


@dataclass(slots=True)
class Announcement:
    time: Time
    kind: str                   # RARP (QEMU, V4) or GARP (the guest, V7)
    uid: int
    taught: list[str]           # "sw1 ge2" for each table that learned or moved the MAC
    refreshed: list[str]        # switches it reached that already had the MAC right
    died: Step | None           # the first drop when it reached no switch
    last: Step | None = None    # where it ended when it reached no switch and no drop

    @property
    def reached_switch(self) -> bool:
        return bool(self.refreshed) or any("/" not in where.split()[0]
                                           for where in self.taught)

    def fate(self, lang: str = "en") -> str:
        if self.taught and self.reached_switch:
            return t("migration.taught", lang, tables=", ".join(self.taught))
        if self.taught:
            return t("migration.taught_local", lang, tables=", ".join(self.taught),
                     where=self.last.where if self.last else "",
                     note=note(self.last.note, lang) if self.last else "")
        if self.refreshed:
            return t("migration.refreshed", lang, tables=", ".join(self.refreshed))
        if self.died is not None:
            return t("migration.died", lang, where=self.died.where,
                     reason=reason(self.died.reason, lang) if self.died.reason else "",
                     note=note(self.died.note, lang), rule=self.died.rule or self.died.fn)
        if self.last is not None:
            return t("migration.ended", lang, where=self.last.where,
                     note=note(self.last.note, lang))
        return t("migration.lost", lang)

    def to_json(self) -> dict[str, Any]:
        return {"time_ns": self.time, "kind": self.kind, "uid": self.uid,
                "taught": self.taught, "refreshed": self.refreshed,
                "dropped": None if self.died is None else {
                    "where": self.died.where, "port": self.died.port,
                    "reason": str(self.died.reason), "note": self.died.note,
                    "rule": self.died.rule}}


@dataclass(slots=True)
class MigrationStory:
    vm: str
    start: Time
    timeline: list[Step]
    announcements: list[Announcement]

    def lines(self, lang: str = "en") -> list[str]:
        """The timeline and the announcements, in time order."""
        events: list[tuple[Time, int, str]] = []
        for step in self.timeline:
            events.append((step.time, 0, t("migration.event", lang,
                                            offset=_offset(step.time - self.start),
                                            where=step.where, note=note(step.note, lang),
                                            fn=step.fn, rule=step.rule)))
        for a in self.announcements:
            events.append((a.time, 1, t("migration.announce", lang,
                                        offset=_offset(a.time - self.start), kind=a.kind,
                                        uid=a.uid, fate=a.fate(lang))))
        events.sort(key=lambda e: (e[0], e[1]))
        out = [t("migration.head", lang, vm=self.vm, time=format_time(self.start))]
        out += [text for _, _, text in events]
        if not self.announcements:
            out.append(t("migration.no_announce", lang))
        useful = sum(1 for a in self.announcements if a.reached_switch)
        out.append(t("migration.summary", lang, useful=useful, total=len(self.announcements)))
        return out

    def to_json(self) -> dict[str, Any]:
        return {"vm": self.vm, "start_ns": self.start,
                "timeline": [{"time_ns": s.time, "where": s.where, "note": s.note, "fn": s.fn,
                              "rule": s.rule} for s in self.timeline],
                "announcements": [a.to_json() for a in self.announcements]}


def _offset(ns: Time) -> str:
    return ("+" if ns >= 0 else "-") + format_duration(abs(ns))


def migration_stories(result: RunResult) -> list[MigrationStory]:
    """One story per ``migrate`` action of the run (needs a full trace)."""
    trace = result.trace
    if trace.level != "full":
        return []
    stories: list[MigrationStory] = []
    for index, action in enumerate(result.spec.run):
        if action.migrate is None:
            continue
        vm = action.migrate.vm
        root = next((s for s in trace.steps if s.data.get("action") == index), None)
        if root is None:
            continue
        following = [s for s in trace.steps if s.time >= root.time]
        timeline = [s for s in following if s.rule in STORY_RULES
                    and s.action in (Action.NOTE, Action.LINK)
                    and (s.where.partition(":")[0] in (vm, action.migrate.to)
                         or s.where.startswith(vm) or vm in s.note)]
        macs = {nic.mac for nic in result.lab.qemu(vm).nics}
        stories.append(MigrationStory(vm, root.time, timeline,
                                      _announcements(result, following, macs)))
    return stories


def _announcements(result: RunResult, steps: list[Step], macs: set[int]) -> list[Announcement]:
    from vnetlab.net.addr import mac_str

    texts = {mac_str(m) for m in macs}
    switches = set(result.lab.switches)
    by_uid: dict[int, list[Step]] = {}
    for step in steps:
        if step.uid:
            by_uid.setdefault(step.uid, []).append(step)
    out: list[Announcement] = []
    for step in steps:
        kind = ANNOUNCE_FNS.get(step.fn)
        if kind is None or not step.uid:
            continue
        frame_steps = by_uid.get(step.uid, [])
        taught = [f"{s.where} {s.port}".strip() for s in frame_steps
                  if s.action in (Action.LEARN, Action.MOVE) and s.data.get("mac") in texts]
        refreshed = sorted({s.where.partition("/")[0] for s in frame_steps
                            if s.action is Action.RECEIVE
                            and s.where.partition("/")[0] in switches})
        died = next((s for s in frame_steps if s.action is Action.DROP), None)
        reached = bool(refreshed) or any(where in switches for where in
                                         (x.split()[0] for x in taught))
        out.append(Announcement(step.time, kind, step.uid, taught, refreshed,
                                None if reached else died,
                                frame_steps[-1] if frame_steps else None))
    return out
