"""``vnetlab import``: the file it writes, the notes it prints, and hostile input (exit 2,
file:line and key, no traceback, nothing written, bounded time and memory)."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from vnetlab.importers import ImportFailure, import_path
from vnetlab.importers.archive import Limits, open_tar

FIX = Path(__file__).resolve().parent / "fixtures" / "imports"
SOS = FIX / "sosreport-kvm1-2025-03-07-xqzbnde"


def vnetlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vnetlab", *args], capture_output=True,
                          text=True, check=False, timeout=120)


def refused(tmp_path: Path, source: Path, *extra: str) -> str:
    """Run the import of ``source`` into a file: exit 2, no traceback, nothing written."""
    out = tmp_path / "out.yaml"
    proc = vnetlab("import", str(source), "-o", str(out), *extra)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "nothing was written" in proc.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".vnetlab-")] == []
    return proc.stderr


def test_import_writes_a_topology_that_runs(tmp_path: Path) -> None:
    out = tmp_path / "kvm1.yaml"
    proc = vnetlab("import", str(FIX / "seed000-nmcli.txt"), str(FIX / "libvirt" / "vm1.xml"),
                   "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "seed000-nmcli.txt:8: mcli: read as 'nmcli'" in proc.stderr
    assert "vm1.xml:62: <interface type='direct'>" in proc.stderr
    assert f"{out}: 1 host(s), 1 VM(s);" in proc.stderr
    text = out.read_text()
    assert "mac: 52:54:00:12:34:01\n" in text               # unquoted, as written by hand
    assert "      - name: team1\n        type: team\n" in text
    assert vnetlab("run", str(out)).returncode == 0


def test_import_to_stdout_in_chinese() -> None:
    proc = vnetlab("import", str(FIX / "network-scripts"), "--host", "kvm3", "--lang", "zh")
    assert proc.returncode == 0
    assert proc.stdout.startswith("# written by vnetlab import")
    assert "kvm3:" in proc.stdout
    assert "台宿主机" in proc.stderr and "提示：" in proc.stderr


def test_import_of_a_sosreport_tarball(tmp_path: Path) -> None:
    tarball = tmp_path / "sosreport-kvm1.tar.xz"
    with tarfile.open(tarball, "w:xz") as tar:
        tar.add(SOS, arcname=SOS.name)
    out = tmp_path / "kvm1.yaml"
    proc = vnetlab("import", str(tarball), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "captured:" in out.read_text()
    assert "vm3: defined but not running" in proc.stderr


def test_a_document_that_does_not_load_is_written_with_exit_1(tmp_path: Path) -> None:
    # two bridges with one address: each file is fine, the host they make is not
    first = tmp_path / "a.nmcli"
    first.write_text("nmcli con add type bridge ifname br0 ipv4.method manual "
                     "ipv4.addresses 10.0.0.1/24\n"
                     "nmcli con add type bridge ifname br1 ipv4.method manual "
                     "ipv4.addresses 10.0.0.1/24\n")
    out = tmp_path / "out.yaml"
    proc = vnetlab("import", str(first), "-o", str(out))
    assert proc.returncode == 1
    assert "does not load as it is" in proc.stderr
    assert f"{out}:" in proc.stderr and "10.0.0.1" in proc.stderr
    assert out.exists()


# -- hostile and broken input ----------------------------------------------------------------

def test_truncated_xml(tmp_path: Path) -> None:
    xml = tmp_path / "vm1.xml"
    xml.write_text((FIX / "libvirt" / "vm1.xml").read_text()[:1500])
    err = refused(tmp_path, xml)
    assert f"{xml}:" in err and "not well-formed XML" in err


def test_billion_laughs_is_refused_before_parsing(tmp_path: Path) -> None:
    xml = tmp_path / "lol.xml"
    entities = "\n".join(f'  <!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    xml.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE domain [\n  <!ENTITY lol0 "lol">\n'
                   f'{entities}\n]>\n<domain><name>&lol9;</name></domain>\n')
    start = time.monotonic()
    err = refused(tmp_path, xml)
    assert time.monotonic() - start < 30
    assert f"{xml}:2: <!DOCTYPE: a DTD or entity declaration: refused" in err


def test_huge_file(tmp_path: Path) -> None:
    big = tmp_path / "big.nmconnection"
    with big.open("w") as handle:
        handle.write("[connection]\ntype=ethernet\n")
        handle.write("# padding\n" * 200_000)
    err = refused(tmp_path, big)
    assert "larger than 1048576 bytes" in err


def test_binary_garbage_keyfile(tmp_path: Path) -> None:
    garbage = tmp_path / "eth0.nmconnection"
    garbage.write_bytes(b"[connection]\ntype=ethernet\n" + bytes(range(256)) * 4)
    err = refused(tmp_path, garbage)
    assert f"{garbage}:3: binary data" in err


def test_keyfile_without_sections(tmp_path: Path) -> None:
    bad = tmp_path / "eth0.nmconnection"
    bad.write_text("type=ethernet\n")
    assert f"{bad}:1: not a NetworkManager keyfile" in refused(tmp_path, bad)


def test_unterminated_quote_in_ifcfg(tmp_path: Path) -> None:
    bad = tmp_path / "ifcfg-team0"
    bad.write_text("DEVICE=team0\nDEVICETYPE=Team\nTEAM_CONFIG='{\"runner\": {\"name\": "
                   "\"roundrobin\"}}\nONBOOT=yes\n")
    err = refused(tmp_path, bad)
    assert f"{bad}:3: TEAM_CONFIG: No closing quotation" in err


def test_unterminated_quote_in_nmcli(tmp_path: Path) -> None:
    bad = tmp_path / "paste.txt"
    bad.write_text("# nmcli con add type team ifname team1 config '{\"runner\": {}}\n")
    err = refused(tmp_path, bad, "--kind", "nmcli")
    assert f"{bad}:1: nmcli: No closing quotation" in err


def _tar_with(tmp_path: Path, *members: tuple[tarfile.TarInfo, bytes]) -> Path:
    path = tmp_path / "sosreport-evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        top = tarfile.TarInfo("sosreport-evil")
        top.type = tarfile.DIRTYPE
        tar.addfile(top)
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_tar_member_with_dotdot(tmp_path: Path) -> None:
    path = _tar_with(tmp_path, (tarfile.TarInfo("sosreport-evil/../../etc/cron.d/x"), b"x"))
    assert "a member name with '..': refused" in refused(tmp_path, path)


@pytest.mark.parametrize("target", ["/etc/shadow", "../../../etc/shadow"])
def test_tar_symlink_leaving_the_archive(tmp_path: Path, target: str) -> None:
    link = tarfile.TarInfo("sosreport-evil/hostname")
    link.type = tarfile.SYMTYPE
    link.linkname = target
    err = refused(tmp_path, _tar_with(tmp_path, (link, b"")))
    assert "sosreport-evil/hostname" in err and "refused" in err


def test_tar_member_declaring_a_huge_size_stops_at_its_header(tmp_path: Path) -> None:
    """A tar bomb: a header declaring 3 GiB, then nothing; refused without reading."""
    info = tarfile.TarInfo("sosreport-bomb/sos_commands/networking/ip_-d_address")
    info.size = 3 * 1024 ** 3
    path = tmp_path / "sosreport-bomb.tar"
    path.write_bytes(info.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 1024)
    start = time.monotonic()
    err = refused(tmp_path, path)
    assert time.monotonic() - start < 30
    assert "members declare more than" in err and "tar bomb" in err


def test_tar_with_too_many_members_stops_at_the_cap(tmp_path: Path) -> None:
    members = []
    for index in range(500):
        members.append((tarfile.TarInfo(f"sosreport-many/f{index}"), b""))
    path = _tar_with(tmp_path, *members)
    start = time.monotonic()
    with pytest.raises(ImportFailure) as info:
        open_tar(str(path), Limits(max_members=100))
    assert time.monotonic() - start < 5
    assert "more than 100 members" in str(info.value)


def test_not_a_tarball(tmp_path: Path) -> None:
    fake = tmp_path / "sosreport.tar.xz"
    fake.write_bytes(b"\xfd7zXZ\0" + b"garbage" * 100)
    assert "tar archive" in refused(tmp_path, fake)


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    odd = tmp_path / "notes.txt"
    odd.write_text("hello\n")
    assert "cannot tell the format" in refused(tmp_path, odd)
    assert "no such file or directory" in refused(tmp_path, tmp_path / "missing.xml")


def test_a_damaged_file_inside_a_sosreport_is_a_note(tmp_path: Path) -> None:
    import shutil

    copy_dir = tmp_path / SOS.name
    shutil.copytree(SOS, copy_dir, symlinks=True)
    (copy_dir / "etc/sysconfig/network-scripts").mkdir(parents=True)
    (copy_dir / "etc/sysconfig/network-scripts/ifcfg-eth9").write_text("DEVICE='eth9\n")
    (copy_dir / "sos_commands/virsh/virsh_-r_dumpxml_vm2").write_text("<domain><name>vm2")
    result = import_path(str(copy_dir))
    text = [str(n) for n in result.notes]
    assert any("ifcfg-eth9:1: DEVICE: No closing quotation" in n and "file skipped" in n
               for n in text)
    assert any("virsh_-r_dumpxml_vm2:1:" in n and "not well-formed" in n for n in text)
    assert "vm2" not in result.doc["vms"]


@pytest.mark.parametrize("kind,sample", [
    ("keyfile", "keyfiles/bond0.nmconnection"), ("ifcfg", "network-scripts/ifcfg-team0"),
    ("nmcli", "seed000-nmcli.txt"), ("libvirt", "libvirt/vm1.xml"),
    ("nmstate", "nmstate/kvm4.yml")])
def test_whatever_the_file_holds_it_is_a_result_or_a_clear_error(tmp_path: Path, kind: str,
                                                                 sample: str) -> None:
    """Mutated real files: an ImportResult whose document can be checked, or ImportFailure
    (never another exception)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from vnetlab.importers import check, dump

    text = (FIX / sample).read_text()
    path = tmp_path / f"input.{kind}"

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
              HealthCheck.function_scoped_fixture])
    @given(st.lists(st.tuples(st.integers(0, len(text)), st.sampled_from(
        list("[]{}=:'\"\\\n #$-,.019azAZ<>/&;\0é")), st.booleans()), min_size=1, max_size=6))
    def one(edits: list[tuple[int, str, bool]]) -> None:
        chars = list(text)
        for position, char, insert in edits:
            position = min(position, len(chars) - 1)
            if insert:
                chars.insert(position, char)
            else:
                chars[position] = char
        path.write_text("".join(chars))
        try:
            result = import_path(str(path), kind=kind)
        except ImportFailure as exc:
            assert exc.file == str(path) or exc.file.startswith(str(path))
            return
        check(result, "out.yaml")
        dump(result)

    one()
