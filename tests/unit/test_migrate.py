"""The ``migrate`` action between Linux-bridge hosts (semantics V3-V7, B11b).
Expected values come from the rules: the pause lasts ``downtime``; RARPs (V4)
and guest GARPs (V7) follow the V5 schedule from the end of the incoming
migration; the source tap's port and its FDB entries go (B11b)."""

from __future__ import annotations

from pathlib import Path

from test_qemu_announce import formula_times

import vnetlab
from vnetlab.catalog import case_paths
from vnetlab.devices.qemu import AnnounceParams
from vnetlab.lab import RunResult
from vnetlab.sim.time import MS, S, Time
from vnetlab.sim.trace import Action

VM1 = "52:54:00:12:34:01"
MIGRATE_AT = 3050 * MS
DOWNTIME = 100 * MS
RESUME = MIGRATE_AT + DOWNTIME
PING_INTERVAL = 100 * MS


def run(name: str) -> RunResult:
    return vnetlab.simulate(vnetlab.load_topology(str(case_paths()[name])))


def tx_times(result: RunResult, where: str, fn: str) -> list[Time]:
    return [s.time for s in result.trace.steps if s.where == where and s.fn == fn and s.uid]


def test_rarps_and_garps_follow_v5_from_migration_end() -> None:
    result = run("migration-linux-bridge")
    expected = formula_times(AnnounceParams(), RESUME)
    assert tx_times(result, "vm1", "qemu_announce_self_iter") == expected      # V4-V6
    assert tx_times(result, "vm1", "netdev_notify_peers") == expected               # V7, 1 addr


def test_source_tap_removed_and_its_entries_deleted() -> None:
    result = run("migration-linux-bridge")
    lab = result.lab
    assert "vnet0" not in lab.host_devices["kvm1"]
    assert "kvm2:vnet0" in lab.hotplugged
    assert "vnet0" not in [p.name for p in lab.bridges["kvm1:br0"].ports]
    assert "vnet0" in [p.name for p in lab.bridges["kvm2:br0"].ports]
    dels = [s for s in result.trace.steps if s.fn == "del_nbp"]
    assert len(dels) == 1 and dels[0].rule == "B11b" and dels[0].time == MIGRATE_AT
    assert dels[0].where == "kvm1/br0" and "fe:54:00:12:34:01" in dels[0].note   # local entry
    table = lab.bridges["kvm1:br0"].fdb
    assert all(getattr(e.port, "name", "") != "vnet0" for e in table.entries.values())


def test_guest_sends_nothing_while_paused() -> None:
    result = run("migration-linux-bridge")
    sent = [s for s in result.trace.steps if s.where == "vm1/eth0" and s.action is Action.TRANSMIT
            and MIGRATE_AT <= s.time < RESUME]
    assert sent == []


def test_outage_bounded_by_downtime() -> None:
    result = run("migration-linux-bridge")
    assert result.all_expectations_hold
    (outage,) = [o for o in result.outages() if o.src == "gw1"]
    assert outage.duration is not None and outage.duration <= DOWNTIME + PING_INTERVAL
    assert result.fdb_port("sw1", VM1) == "ge2"


def test_arp_cache_moves_with_the_guest() -> None:
    """vm1 answers gw1 right after resuming with no ARP request of its own: its
    neighbour entry for gw1 came along (the Endpoint is the guest's memory)."""
    result = run("migration-linux-bridge")
    asks = [s for s in result.trace.steps if s.where == "vm1" and "who-has" in s.note
            and RESUME <= s.time < RESUME + PING_INTERVAL]
    assert asks == []


def test_no_announce_leaves_stale_switch_entry() -> None:
    result = run("migration-no-announce")
    assert result.all_expectations_hold
    assert tx_times(result, "vm1", "qemu_announce_self_iter") == []
    assert tx_times(result, "vm1", "netdev_notify_peers") == []
    (outage,) = [o for o in result.outages() if o.src == "gw1"]
    assert outage.duration is not None and outage.duration >= 1 * S     # vs ~100ms announced


def test_bad_migrate_input_is_reported_with_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from vnetlab.cli import main

    head = ("hosts:\n  kvm1:\n    interfaces:\n      - {name: br0, type: linux-bridge}\n"
            "  kvm2: {}\n"
            "vms:\n  vm1:\n    host: kvm1\n    interfaces:\n"
            "      - {type: bridge, source: br0, mac: '52:54:00:12:34:01'}\n")
    path = tmp_path / "bad.yaml"
    path.write_text(head + "run:\n  - migrate: {vm: vm1, to: kvm2}\n"
                    "  - migrate: {vm: vm9, to: kvm2}\n"
                    "  - migrate: {vm: vm1, to: kvm1, bridge: br7}\n")
    out = CliRunner().invoke(main, ["run", str(path)])
    assert out.exit_code == 2
    assert f"{path}:12:" in out.output and "no Linux bridge 'br0'" in out.output
    assert f"{path}:13:" in out.output and "'vm9' is not a VM" in out.output
    assert f"{path}:14:" in out.output and "already runs on kvm1" in out.output
    path.write_text(head + "run:\n  - announce-self: {vm: vm1, step: -1ms}\n")
    out = CliRunner().invoke(main, ["run", str(path)])
    assert out.exit_code == 2 and f"{path}:12:" in out.output and "not a duration" in out.output


def test_explain_names_the_stale_switch_entry_after_a_migration_without_announce() -> None:
    """The lost ping ends at the old host's bridge (br_flood found no port) and the
    explanation blames sw1's entry for vm1 on the old port, learned before the move."""
    import vnetlab
    from vnetlab.catalog import case_paths
    from vnetlab.explain.explain import Explainer

    result = vnetlab.simulate(vnetlab.load_topology(str(case_paths()["migration-no-announce"])))
    lost = [e for e in Explainer(result).ping("gw1") if e.decisive is not None]
    assert lost, "the case loses pings"
    answer = lost[0]
    assert answer.decisive is not None and answer.decisive.reason == "flood-found-no-port"
    assert answer.decisive.where == "kvm1/br0"
    assert answer.cause_step is not None and answer.cause_step.where == "sw1"
    assert answer.cause_step.data["port"] == "ge1" and answer.cause_step.time < answer.decisive.time
    assert "stale entry" in answer.summary[0]


def test_the_story_tells_the_timeline_and_each_announcements_fate() -> None:
    from vnetlab.explain.migration import migration_stories

    (story,) = migration_stories(run("migration-linux-bridge"))
    assert story.vm == "vm1" and story.start == MIGRATE_AT
    assert [s.fn for s in story.timeline][:2] == ["migration_completion",
                                                  "virNetDevTapAttachBridge"]
    expected = formula_times(AnnounceParams(), RESUME)
    rarps = [a for a in story.announcements if a.kind == "RARP"]
    assert [a.time for a in rarps] == expected
    assert "sw1 ge2" in rarps[0].taught                 # the first RARP moved sw1's entry
    assert all(a.refreshed == ["sw1"] and not a.taught for a in rarps[1:])
    text = "\n".join(story.lines())
    assert "+100ms  RARP" in text and "10 of 10 announcement(s)" in text

    (silent,) = migration_stories(run("migration-no-announce"))
    assert silent.announcements == []
    assert "no announcement was sent" in "\n".join(silent.lines())
