"""Reading a sosreport (a directory, or a ``.tar``/``.tar.gz``/``.tar.xz``) safely.

Only the files the importer needs are read (``wanted``), each capped in size; a tarball
is read once, as a stream (``tarfile.open(mode="r|*")``), and nothing is ever extracted
to disk. Every member header is checked as ``tarfile.data_filter`` would (by hand, so
that the error names the member): no absolute names, no ``..`` component, no symbolic
or hard link pointing outside the archive's top directory, no device or FIFO; and the
stream stops at once past ``max_members`` members or ``max_total`` declared bytes
(a tar bomb fails on the header that crosses the cap, before its data is read).
Links inside the report (sos's ``hostname -> sos_commands/host/hostname``) are
followed when read, at most ``MAX_HOPS`` deep.
"""

from __future__ import annotations

import lzma
import os
import posixpath
import re
import tarfile
import zlib
from dataclasses import dataclass, field

from vnetlab.importers.base import ImportFailure, MiB, Unparsed

MAX_HOPS = 8


@dataclass(frozen=True)
class Limits:
    max_members: int = 200_000          # a big host's report has some 30 000
    max_total: int = 2048 * MiB         # declared bytes of all members (logs included)
    max_file: int = 8 * MiB             # one file the importer reads
    max_read: int = 128 * MiB           # all files the importer reads


_NETWORKING = re.compile(
    r"sos_commands/networking/(ip_-d_address|ip_-s_-d_link|ip_-d_link|ip_link|ip_-o_addr|"
    r"ip_address|ip_addr|ip_route_show_table_all|ip_route|bridge_-s_-s_-d_-t_fdb_show|"
    r"bridge_-s_-s_-d_fdb_show|bridge_-d_-s_fdb_show|bridge_fdb_show|bridge_-d_vlan_show|"
    r"bridge_vlan_show|bridge_-d_vlan_show_-d)")
_WANTED = re.compile(
    r"(hostname|ip_addr|ip_route|etc/hostname|sos_commands/(host|general)/hostname|"
    r"proc/net/bonding/[^/]+|sos_commands/teamd/teamdctl_[^/]+_(config|state)_dump|"
    r"etc/sysconfig/network-scripts/ifcfg-[^/]+|etc/NetworkManager/system-connections/[^/]+|"
    r"sos_commands/openvswitch/ovs-vsctl_-t_5_show|etc/libvirt/qemu/[^/]+\.xml|"
    r"etc/libvirt/qemu/networks/[^/]+\.xml|sos_commands/virsh/virsh_-r_dumpxml_[^/]+|"
    r"sos_commands/virsh/virsh_-r_list_--all)")


def wanted(rel: str) -> bool:
    return bool(_WANTED.fullmatch(rel) or _NETWORKING.fullmatch(rel))


@dataclass
class Archive:
    """The wanted files of a report, by path relative to its top directory."""

    label: str
    files: dict[str, bytes] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    notes: list[Unparsed] = field(default_factory=list)
    names: set[str] = field(default_factory=set)

    def read(self, rel: str) -> bytes | None:
        for _ in range(MAX_HOPS):
            if rel in self.files:
                return self.files[rel]
            if rel not in self.links:
                return None
            rel = self.links[rel]
        return None

    def glob(self, pattern: str) -> list[str]:
        """Wanted paths matching a regex (files and links), sorted."""
        regex = re.compile(pattern)
        return sorted(p for p in {*self.files, *self.links} if regex.fullmatch(p))

    def where(self, rel: str) -> str:
        return f"{self.label}/{rel}"


def _check_name(label: str, name: str) -> None:
    if "\0" in name:
        raise ImportFailure(label, 0, repr(name), "a member name with a NUL byte: refused")
    if name.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", name):
        raise ImportFailure(label, 0, name, "an absolute member name: refused (it would be "
                            "written outside any extraction directory)")
    if ".." in name.replace("\\", "/").split("/"):
        raise ImportFailure(label, 0, name, "a member name with '..': refused (it points "
                            "outside the archive)")


def _top(name: str) -> str:
    return name.strip("/").split("/", 1)[0]


def open_tar(path: str, limits: Limits | None = None) -> Archive:
    """Stream through a tarball once, keeping the wanted files (see module doc)."""
    limits = limits or Limits()
    archive = Archive(path)
    total = read = count = 0
    root: str | None = None
    try:
        stream = tarfile.open(path, mode="r|*")  # noqa: SIM115 (closed by the with below)
    except (tarfile.TarError, OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise ImportFailure(path, 0, "", f"not a readable tar archive: {exc}") from None
    try:
        with stream:
            for member in stream:
                count += 1
                if count > limits.max_members:
                    raise ImportFailure(path, 0, member.name, f"more than {limits.max_members} "
                                        "members: refused (a tar bomb?)")
                _check_name(path, member.name)
                if member.size > limits.max_total or total + member.size > limits.max_total:
                    raise ImportFailure(path, 0, member.name, f"members declare more than "
                                        f"{limits.max_total} bytes: refused (a tar bomb?)")
                total += member.size
                if member.ischr() or member.isblk() or member.isfifo():
                    raise ImportFailure(path, 0, member.name, "a device or FIFO member: refused")
                name = member.name.strip("/")
                if root is None:        # sosreport-HOST-DATE/..., or members at the top
                    root = _top(name) if "/" in name or member.isdir() else ""
                rel = name[len(root) + 1:] if root and name.startswith(root + "/") else \
                    ("" if name == root else name)
                if member.issym() or member.islnk():
                    target = member.linkname
                    if target.startswith("/"):
                        raise ImportFailure(path, 0, member.name, f"a link to the absolute "
                                            f"path {target!r}: refused")
                    base = posixpath.dirname(name) if member.issym() else ""
                    resolved = posixpath.normpath(posixpath.join(base, target))
                    inside = resolved.startswith(root + "/") if root else not (
                        resolved == ".." or resolved.startswith("../"))
                    if not inside:
                        raise ImportFailure(path, 0, member.name, f"a link to {target!r}, "
                                            "outside the archive's directory: refused")
                    archive.links[rel] = resolved[len(root) + 1:] if root else resolved
                    continue
                if not member.isfile():
                    continue
                archive.names.add(rel)
                if not wanted(rel):
                    continue
                if member.size > limits.max_file:
                    archive.notes.append(Unparsed(archive.where(rel), 0, "", f"larger than "
                                                  f"{limits.max_file} bytes: not read"))
                    continue
                read += member.size
                if read > limits.max_read:
                    raise ImportFailure(path, 0, member.name, "the files to read exceed "
                                        f"{limits.max_read} bytes: refused")
                handle = stream.extractfile(member)
                if handle is not None:
                    archive.files[rel] = handle.read(limits.max_file + 1)[:limits.max_file]
    except ImportFailure:
        raise
    except (tarfile.TarError, OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise ImportFailure(path, 0, "", f"a damaged tar archive (after {count} members): "
                            f"{exc}") from None
    return archive


def open_dir(path: str, limits: Limits | None = None) -> Archive:
    """The wanted files of an unpacked report; links leaving it are not followed."""
    limits = limits or Limits()
    archive = Archive(path.rstrip("/"))
    root = os.path.realpath(path)
    read = 0
    candidates = ["hostname", "ip_addr", "ip_route", "etc/hostname", "sos_commands/host/hostname",
                  "sos_commands/general/hostname",
                  "sos_commands/openvswitch/ovs-vsctl_-t_5_show",
                  "sos_commands/virsh/virsh_-r_list_--all"]
    for folder in ("sos_commands/networking", "proc/net/bonding", "sos_commands/teamd",
                   "etc/sysconfig/network-scripts", "etc/NetworkManager/system-connections",
                   "etc/libvirt/qemu", "etc/libvirt/qemu/networks", "sos_commands/virsh"):
        full = os.path.join(root, folder)
        if not os.path.isdir(full):
            continue
        try:
            entries = sorted(os.listdir(full))[:limits.max_members]
        except OSError:
            continue
        candidates += [f"{folder}/{entry}" for entry in entries]
    for rel in candidates:
        if not wanted(rel):
            continue
        full = os.path.join(root, rel)
        real = os.path.realpath(full)
        if not os.path.isfile(real):
            continue
        if os.path.commonpath([root, real]) != root:
            archive.notes.append(Unparsed(archive.where(rel), 0, "", "a link leaving the report: "
                                          "not followed"))
            continue
        size = os.path.getsize(real)
        if size > limits.max_file:
            archive.notes.append(Unparsed(archive.where(rel), 0, "", f"larger than "
                                          f"{limits.max_file} bytes: not read"))
            continue
        read += size
        if read > limits.max_read:
            raise ImportFailure(path, 0, rel, f"the files to read exceed {limits.max_read} bytes")
        try:
            with open(real, "rb") as handle:
                archive.files[rel] = handle.read(limits.max_file + 1)[:limits.max_file]
        except OSError as exc:
            archive.notes.append(Unparsed(archive.where(rel), 0, "", f"cannot read: "
                                          f"{exc.strerror or exc}"))
        archive.names.add(rel)
    return archive


def is_sosreport_dir(path: str) -> bool:
    return os.path.isdir(os.path.join(path, "sos_commands")) or \
        os.path.isfile(os.path.join(path, "sos_reports", "manifest.json"))


def is_tarball(path: str) -> bool:
    return bool(re.search(r"\.(tar|tar\.gz|tgz|tar\.xz|txz|tar\.bz2|tbz2)$", path))
