"""Every built-in case's captures, read by Wireshark's own tools, against the trace.

For each case every link end's pcap is written; then, in one process each (one
tshark per file would take a minute): ``capinfos`` opens every file and counts its
frames, ``mergecap -a`` concatenates them in a known order, and ``tshark`` dissects
the concatenation with IP and UDP checksum validation on (ICMP's is always checked)
and prints, per frame, time, MACs, type and expert items. A file is right when it
opens as a nanosecond pcap of Ethernet, no frame of it is malformed or has a bad
checksum, and its frames are the trace's TRANSMIT and RECEIVE steps at that link
end one to one: same count, same times in the same order, the MACs and VLAN tag
the step's sentence names, the type of the frame the step recorded.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

import vnetlab
from vnetlab.catalog import case_paths
from vnetlab.export.capture import captures, link_ends
from vnetlab.sim.trace import Action

CASES = case_paths()
NOTE = re.compile(r"^(?:transmitted|received) ([0-9a-f:]{17}) > ([0-9a-f:]{17})(?: vlan (\d+))?")
EXPERT_CHECKSUM = 0x01000000        # PI_CHECKSUM (epan/proto.h)
EXPERT_MALFORMED = 0x07000000       # PI_MALFORMED
EXPERT_ERROR = 0x00800000           # PI_ERROR severity


def in_ci() -> bool:
    """CI=true turns a missing tool from a skip into a failure (tests/kernel/netns.py)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def need_tools(*names: str) -> None:
    import shutil

    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        message = (f"!!! {', '.join(missing)} not installed: the Wireshark oracle did not run "
                   "(apt-get install tshark)")
        if in_ci():
            pytest.fail(message + " (CI=true: not skipping)", pytrace=False)
        pytest.skip(message + " (set CI=true to make this a failure)")


@dataclass
class LinkEndFile:
    case: str
    ref: str
    path: Path
    expected: list[tuple[int, str, str, int]]       # from the trace: time, src, dst, type
    info: tuple[str, ...] = ()                       # capinfos: type, encapsulation, count
    rows: list[tuple[int, str, str, int]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def expected_rows(result: vnetlab.lab.RunResult) -> dict[str, list[tuple[int, str, str, int]]]:
    """Per link end, from the trace's steps there (the frame's type from the record at
    the same place, once its uid and time are shown to be the step's)."""
    out = {}
    caps = captures(result.lab)
    for ref, dev in link_ends(result.lab).items():
        steps = [s for s in result.trace.steps
                 if s.where == dev.where and s.action in (Action.TRANSMIT, Action.RECEIVE)]
        records = caps[ref]
        assert [(s.time, s.action is Action.TRANSMIT, s.uid) for s in steps] == [
            (t, tx, f.uid) for t, tx, f in records], ref
        rows = []
        for step, (_, _, frame) in zip(steps, records, strict=True):
            match = NOTE.match(step.note)
            assert match, step.note
            etype = 0x8100 if match.group(3) else frame.ethertype
            rows.append((step.time, match.group(1), match.group(2), etype))
        out[ref] = rows
    return out


@pytest.fixture(scope="module")
def catalog_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[LinkEndFile]]:
    need_tools("tshark", "capinfos", "mergecap")
    root = tmp_path_factory.mktemp("pcaps")
    files: dict[str, list[LinkEndFile]] = {}
    for name in sorted(CASES):
        result = vnetlab.simulate(vnetlab.load_topology(str(CASES[name])), capture=True)
        expected = expected_rows(result)
        paths = result.write_pcaps(root / name)
        assert list(paths) == list(link_ends(result.lab))
        files[name] = [LinkEndFile(name, ref, path, expected[ref]) for ref, path in paths.items()]
    every = [f for group in files.values() for f in group]
    info = subprocess.run(["capinfos", "-T", "-t", "-E", "-c", "-r", *(str(f.path) for f in every)],
                          capture_output=True, text=True, check=False)
    assert info.returncode == 0, info.stderr
    lines = info.stdout.splitlines()
    assert len(lines) == len(every)
    for f, line in zip(every, lines, strict=True):
        path, *rest = line.split("\t")
        assert path == str(f.path)
        f.info = tuple(rest)
    merged = root / "all.pcap"
    subprocess.run(["mergecap", "-a", "-F", "nsecpcap", "-w", str(merged),
                    *(str(f.path) for f in every)], check=True, capture_output=True)
    dump = subprocess.run(
        ["tshark", "-r", str(merged), "-o", "ip.check_checksum:TRUE", "-o",
         "udp.check_checksum:TRUE", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,",
         "-e", "frame.time_epoch", "-e", "eth.src", "-e", "eth.dst", "-e", "eth.type",
         "-e", "_ws.expert.group", "-e", "_ws.expert.severity", "-e", "_ws.expert.message",
         "-e", "_ws.malformed"], capture_output=True, text=True, check=False)
    assert dump.returncode == 0, dump.stderr
    frames = dump.stdout.splitlines()
    assert len(frames) == sum(len(f.expected) for f in every)
    at = 0
    for f in every:
        for line in frames[at:at + int(f.info[-1])]:
            cols = line.split("\t")
            when, src, dst, etype = cols[:4]
            f.rows.append((int(Decimal(when) * 10**9), src, dst, int(etype.split(",")[0], 16)))
            groups = [int(g) for g in cols[4].split(",") if g]
            severities = [int(s) for s in cols[5].split(",") if s]
            if (EXPERT_CHECKSUM in groups or EXPERT_MALFORMED in groups or EXPERT_ERROR in
                    severities or cols[7]):
                f.problems.append(f"frame {len(f.rows)}: {cols[6]}")
        at += int(f.info[-1])
    return files


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_pcaps_open_clean_and_match_the_trace(
        name: str, catalog_files: dict[str, list[LinkEndFile]]) -> None:
    for f in catalog_files[name]:
        assert f.info == ("nsecpcap", "ether", str(len(f.expected))), (f.ref, f.info)
        assert not f.problems, (f.ref, f.problems)
        assert f.rows == f.expected, f.ref


def test_the_expert_summary_of_all_captures_has_no_malformed_or_checksum_item(
        catalog_files: dict[str, list[LinkEndFile]]) -> None:
    """The brief's oracle as an operator runs it, on the concatenation of every file."""
    merged = next(iter(catalog_files.values()))[0].path.parent.parent / "all.pcap"
    proc = subprocess.run(["tshark", "-r", str(merged), "-o", "ip.check_checksum:TRUE", "-o",
                           "udp.check_checksum:TRUE", "-z", "expert", "-q"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Malformed" not in proc.stdout and "Checksum" not in proc.stdout, proc.stdout
    assert "Errors" not in proc.stdout, proc.stdout


def test_the_catalog_has_every_frame_kind(catalog_files: dict[str, list[LinkEndFile]]) -> None:
    types = {row[3] for group in catalog_files.values() for f in group for row in f.rows}
    assert {0x0806, 0x0800, 0x8809, 0x8100, 0x9000} <= types


# -- the command line ---------------------------------------------------------------------------

def vnetlab_run(*args: str, hash_seed: str = "0") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run([sys.executable, "-m", "vnetlab", "run", *args], capture_output=True,
                          text=True, env=env, check=False)


def test_cli_writes_one_file_per_link_end(tmp_path: Path) -> None:
    out = tmp_path / "caps"
    proc = vnetlab_run("--case", "team-roundrobin", "--pcap", str(out))
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["gw1_eth0.pcap", "kvm1_ens224.pcap", "kvm1_ens256.pcap", "kvm1_vnet0.pcap",
                     "sw1_ge1.pcap", "sw1_ge2.pcap", "sw1_ge3.pcap", "vm1_eth0.pcap"]
    assert "pcap: 8 capture files" in proc.stdout
    assert all((out / n).read_bytes()[:4] == b"\x4d\x3c\xb2\xa1" for n in names)


def test_cli_pcaps_are_byte_identical_across_processes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert vnetlab_run("--case", "bond-balance-alb", "--pcap", str(a), hash_seed="1").returncode == 0
    assert vnetlab_run("--case", "bond-balance-alb", "--pcap", str(b),
                       hash_seed="random").returncode == 0
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir()) and names
    for n in names:
        assert (a / n).read_bytes() == (b / n).read_bytes(), n


def test_cli_chosen_ports_only_and_json(tmp_path: Path) -> None:
    import json

    out = tmp_path / "caps"
    proc = vnetlab_run("--case", "team-roundrobin", "--pcap", str(out), "--pcap-port", "sw1:ge3",
                       "--pcap-port", "vm1:eth0,kvm1:vnet0", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["pcap"] == {ref: str(out / name) for ref, name in (
        ("vm1:eth0", "vm1_eth0.pcap"), ("kvm1:vnet0", "kvm1_vnet0.pcap"),
        ("sw1:ge3", "sw1_ge3.pcap"))}
    assert sorted(p.name for p in out.iterdir()) == ["kvm1_vnet0.pcap", "sw1_ge3.pcap",
                                                     "vm1_eth0.pcap"]


@pytest.mark.parametrize("ports", [["kvm1:eth7"], ["vm1:eth0", "kvm1:br1"], ["vm1"], [""]])
def test_cli_bad_capture_ports_exit_2_and_write_nothing(tmp_path: Path, ports: list[str]) -> None:
    out = tmp_path / "caps"
    args = [a for p in ports for a in ("--pcap-port", p)]
    proc = vnetlab_run("--case", "team-roundrobin", "--pcap", str(out), *args)
    assert proc.returncode == 2
    assert "error: --pcap-port:" in proc.stderr and "Traceback" not in proc.stderr
    assert "node:iface" in proc.stderr and "nothing was run" in proc.stderr
    assert not out.exists()


def test_cli_capture_port_without_a_folder_is_refused() -> None:
    proc = vnetlab_run("--case", "team-roundrobin", "--pcap-port", "vm1:eth0")
    assert proc.returncode == 2 and "--pcap-port needs --pcap DIR" in proc.stderr


def test_cli_unwritable_folder_exits_2_without_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = vnetlab_run("--case", "team-roundrobin", "--pcap", str(blocker / "sub"))
    assert proc.returncode == 2 and "error: --pcap" in proc.stderr
    assert "Traceback" not in proc.stderr
