"""`vnetlab matrix`: every cell is a simulation; the verdicts must agree with the
documentation where the documents agree with each other (semantics 2.6, BD16),
and say what decides it where they do not (mode 3)."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from vnetlab.matrix import (
    COLUMNS,
    ROWS,
    SECTION_2_6,
    SOURCES,
    TEAM_EQUIVALENT,
    Cell,
    load_host,
    run_matrix,
    standard_host,
)

# The switch configuration each mode documents as its requirement (BD2).
DOCUMENTED_SWITCH = {"active-backup": "no-lag", "balance-xor": "static-lag", "802.3ad": "lacp"}


@cache
def matrix() -> dict[tuple[str, str], Cell]:
    return {(c.row, c.column): c for c in run_matrix(jobs=2)}


def base_mode(row: str) -> str:
    kind, _, mode = row.partition(":")
    return mode if kind == "bond" else TEAM_EQUIVALENT.get(mode, "")


def claims(mode: str) -> set[str]:
    return {SOURCES[mode][s].split()[0] for s in SECTION_2_6 if s in SOURCES.get(mode, {})}


def test_every_row_and_column_is_simulated() -> None:
    cells = matrix()
    assert set(cells) == {(r, c) for r in ROWS for c in COLUMNS}
    for cell in cells.values():
        assert cell.sent > 0 and cell.verdict in ("works", "degraded", "broken")
        assert cell.reason


@pytest.mark.parametrize("row", ROWS)
def test_verdicts_agree_with_the_sources_where_they_agree(row: str) -> None:
    mode = base_mode(row)
    said = claims(mode)
    cells = [matrix()[(row, column)] for column in COLUMNS]
    if said == {"no"}:
        assert all(c.verdict != "works" for c in cells), \
            f"{row}: every source says no, yet {[c.key for c in cells if c.verdict == 'works']} work"
    elif said == {"ok"}:
        cell = matrix()[(row, DOCUMENTED_SWITCH[mode])]
        assert cell.verdict == "works", f"{cell.key}: documented to work: {cell.reason}"
    elif said == {"ok", "no"}:
        for cell in cells:
            assert "sources disagree" in cell.reason and "what decides it here is" in cell.reason
    else:
        assert not said, f"{row}: unexpected claims {said}"


def test_mode_3_reason_names_the_deciding_behaviour() -> None:
    cell = matrix()[("bond:broadcast", "static-lag")]
    assert cell.duplicates_to_vms > 0
    assert "duplicate delivery of every frame (BD10)" in cell.reason


def test_every_cell_names_its_decisive_frame_and_rule() -> None:
    """A lost probe's drop; else the anomaly's frame; else what kept the host safe."""
    for cell in matrix().values():
        assert cell.decisive is not None, cell.key
        assert cell.decisive["frame"] > 0 and cell.decisive["rule"], (cell.key, cell.decisive)
        assert f"[{cell.decisive['fn']}, {cell.decisive['rule']}]" in cell.reason, cell.key
        assert f"frame {cell.decisive['frame']}" in cell.reason or cell.replies < cell.sent


def test_teamd_lacp_without_partner_differs_from_bonding() -> None:
    """T6 vs BD12: no partner -> teamd enables nothing, bonding keeps one link."""
    assert matrix()[("team:lacp", "no-lag")].verdict == "broken"
    assert matrix()[("bond:802.3ad", "no-lag")].verdict == "works"


def vnetlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vnetlab", *args], capture_output=True,
                          text=True, check=False)


def test_explain_opens_a_cell() -> None:
    done = vnetlab("explain", "--matrix", "bond:balance-rr/no-lag")
    assert "Decisive step" in done.stdout and "[br_forward, B13]" in done.stdout
    assert "Traceback" not in done.stderr


def test_json_markdown_and_selection() -> None:
    done = vnetlab("matrix", "--rows", "1,team:lacp", "--columns", "no-lag", "--json")
    assert done.returncode == 0, done.stderr
    cells = json.loads(done.stdout)["cells"]
    assert [(c["row"], c["column"]) for c in cells] == [("bond:active-backup", "no-lag"),
                                                          ("team:lacp", "no-lag")]
    again = vnetlab("matrix", "--rows", "1,team:lacp", "--columns", "no-lag", "--json",
                    "--jobs", "1")
    assert again.stdout == done.stdout                     # same answer, whatever the engine
    md = vnetlab("matrix", "--rows", "active-backup", "--columns", "no-lag,lacp", "--markdown")
    assert md.stdout.startswith("| aggregate | switch: no LAG | LACP (individual fallback) |")


def test_your_own_host(tmp_path: Path) -> None:
    """--topology: the matrix rewrites the user's aggregate and switch, keeps the rest."""
    text = standard_host().read_text().replace("vm2", "db7").replace("bond0", "team9")
    host = tmp_path / "host.yaml"
    host.write_text(text)
    _, _, target = load_host(str(host))
    assert target.agg_name == "team9" and [v for v, _ in target.vms] == ["vm1", "db7"]
    cells = run_matrix(str(host), rows=("bond:active-backup",), columns=("no-lag",), jobs=1)
    assert {f.src for f in cells[0].flows} == {"vm1", "db7", "gw1"}
    assert cells[0].verdict == "works"


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\nhosts: {h: {interfaces: [{name: e, type: ethernet}]}}\n", "no bond or team"),
    ("name: x\nhosts:\n  h:\n    interfaces:\n      - {name: e, type: ethernt}\n", "host.yaml:5"),
])
def test_bad_host_file(tmp_path: Path, text: str, message: str) -> None:
    host = tmp_path / "host.yaml"
    host.write_text(text)
    done = vnetlab("matrix", "--topology", str(host))
    assert done.returncode == 2 and message in done.stderr
    assert "Traceback" not in done.stderr
