"""What every importer shares: the result, the notes, the error, capped reading.

An importer turns one input (a file, a directory, a tarball) into a topology
*document*: the plain dict a person would write as YAML (kebab-case keys, MACs as
strings), plus the settings it could not interpret as notes (``Unparsed``: reported,
never fatal). Input that cannot be read at all, or that is hostile (an XML entity
bomb, a tarball member that escapes its directory, a file over the size cap, binary
garbage where text belongs, an unterminated quote) raises ``ImportFailure`` naming
the file, line and key; the CLI prints it and exits 2.

Reading is always bounded: ``read_capped`` reads at most ``limit + 1`` bytes and
refuses the file when there are more, so memory never depends on the input's size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

KiB = 1024
MiB = 1024 * KiB

# One configuration file (keyfile, ifcfg, nmcli paste, libvirt XML): real ones are a few
# KiB; 1 MiB leaves room for a host with hundreds of interfaces in one nmcli paste.
MAX_FILE_BYTES = 1 * MiB
# ``nmstatectl show`` of a big host (every bridge and bond option of every interface)
MAX_NMSTATE_BYTES = 8 * MiB
# the host name when the input does not say and ``--host`` is not given
DEFAULT_HOST = "kvm1"


@dataclass(frozen=True, slots=True)
class Unparsed:
    """One setting an importer read but could not interpret (it is left out of the
    document): where it is, its text as written, and why."""

    file: str
    line: int
    text: str
    why: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.text}: {self.why}" if self.text else f"{where}: {self.why}"


class ImportFailure(Exception):
    """Input that cannot be imported at all (unreadable, hostile, malformed beyond
    a single setting): file, 1-based line (0 if unknown), key and a sentence."""

    def __init__(self, file: str, line: int, key: str, message: str) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


@dataclass
class ImportResult:
    """A topology document and what could not be interpreted.

    ``doc`` is the plain dict (``hosts``, ``vms``, ``captured``, ...); ``notes`` the
    settings left out; ``kind`` the input format (``merged`` after ``merge``).
    ``sources`` maps an entry (``hosts.kvm1.interfaces[br1]``, ``vms.vm1``) to the file
    it came from, for merge conflicts; ``assumed`` holds the entries an importer made
    up so that the document loads (a VM's bridge when only the VM's XML was given):
    a real definition replaces them when results are merged. ``used`` says which
    files each part came from (runtime state or configuration). ``profiles`` keeps the
    NetworkManager profiles per host (keyfiles, ifcfg files, nmcli lines) so that
    ``merge`` can resolve a port's controller in another file."""

    doc: dict[str, Any]
    notes: list[Unparsed]
    kind: str
    sources: dict[str, str] = field(default_factory=dict)
    assumed: set[str] = field(default_factory=set)
    used: list[str] = field(default_factory=list)
    profiles: dict[str, list[Any]] = field(default_factory=dict)
    parse_notes: list[Unparsed] = field(default_factory=list)


def read_capped(path: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``path``, refused (ImportFailure) past ``limit``: memory stays
    bounded whatever the file holds (a FIFO or /dev/zero included)."""
    try:
        if not os.path.isfile(path):
            raise ImportFailure(path, 0, "", "not a regular file")
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ImportFailure(path, 0, "", f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise ImportFailure(path, 0, "", f"file is larger than {limit} bytes (the import "
                            "limit for one file); is it the right file?")
    return data


def decode_text(data: bytes, file: str) -> str:
    """UTF-8 text, or ImportFailure naming the line of the first bad byte (binary
    garbage, a NUL, a file in another encoding)."""
    nul = data.find(b"\0")
    if nul >= 0:
        raise ImportFailure(file, data.count(b"\n", 0, nul) + 1, "",
                            "binary data (a NUL byte), not a text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportFailure(file, line, "", f"not UTF-8 text (byte 0x{data[exc.start]:02x} "
                            f"at offset {exc.start})") from None


def read_text(path: str, limit: int = MAX_FILE_BYTES) -> str:
    return decode_text(read_capped(path, limit), path)


def norm_mac(text: str) -> str | None:
    """A MAC as vnetlab writes it (lowercase, colons), or None if ``text`` is not one.
    NetworkManager's old keyfiles store MACs as decimal byte lists (``0;80;86;...``)."""
    from vnetlab.net.addr import mac_str, parse_mac

    text = text.strip()
    if ";" in text:
        parts = [p for p in text.split(";") if p.strip()]
        if len(parts) == 6 and all(p.strip().isdigit() and int(p) < 256 for p in parts):
            text = ":".join(f"{int(p):02x}" for p in parts)
    try:
        return mac_str(parse_mac(text))
    except ValueError:
        return None


def to_int(text: object) -> int | None:
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text
    if isinstance(text, str) and text.strip().lstrip("-").isdigit():
        return int(text.strip())
    return None


def host_doc(doc: dict[str, Any], host: str) -> dict[str, Any]:
    """``doc['hosts'][host]``, created empty with an ``interfaces`` list."""
    hosts: dict[str, Any] = doc.setdefault("hosts", {})
    entry: dict[str, Any] = hosts.setdefault(host, {})
    entry.setdefault("interfaces", [])
    return entry


def iface_key(host: str, name: str) -> str:
    return f"hosts.{host}.interfaces[{name}]"
