"""Same input and seed: byte-identical JSON whatever the process or hash seed;
the CLI starts without importing the heavy modules."""

import os
import subprocess
import sys

from conftest import SHARED_EXAMPLE


def _run_json(hash_seed: str, *args: str) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "run", *args, "--json"],
                          capture_output=True, env=env, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout


def test_run_json_is_byte_identical_across_processes_and_hash_seeds() -> None:
    first = _run_json("1", str(SHARED_EXAMPLE))
    assert b'"trace"' in first and b"br_fdb_update" in first
    assert _run_json("2", str(SHARED_EXAMPLE)) == first
    assert _run_json("random", str(SHARED_EXAMPLE)) == first


def test_seed_is_part_of_the_output() -> None:
    assert _run_json("0", str(SHARED_EXAMPLE), "--seed", "3") != _run_json(
        "0", str(SHARED_EXAMPLE))


def test_help_does_not_import_heavy_modules() -> None:
    code = ("import sys, vnetlab.cli; "
            "heavy = [m for m in ('pydantic', 'ruamel', 'rich', 'vnetlab.lab') if m in sys.modules];"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_catalog_commands() -> None:
    listing = subprocess.run([sys.executable, "-m", "vnetlab", "catalog"], capture_output=True,
                             text=True, check=True).stdout
    assert "team-roundrobin" in listing and "seed 000" in listing
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "catalog", "run"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.count("PASS") >= 8
    bad = subprocess.run([sys.executable, "-m", "vnetlab", "catalog", "run", "nope"],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "no built-in case" in bad.stderr


def test_failing_expectation_exits_1(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = SHARED_EXAMPLE.read_text().replace("result: fail", "result: ok")
    path = tmp_path / "t.yaml"
    path.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "run", str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "FAIL" in proc.stdout
