"""Reading one doctor input: a topology file (a capture is one, with a ``captured:``
block), or anything ``vnetlab.importers.import_path`` understands (nmstate, keyfiles,
ifcfg, nmcli, libvirt XML, a sosreport directory or tarball).

Topology files take the fast path (``fastyaml``: libyaml's parser, ruamel's tree);
anything it does not reproduce exactly, and every error, goes through the topology
loader's ruamel path, so errors read as everywhere else in vnetlab: file:line:column,
key path, message. Untrusted input is bounded as the loader bounds it (file size,
alias expansion, node count). A directory is a fleet when it holds topology files
(``*.yaml``, ``*.yml``, ``*.json``) and is not itself an importable configuration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vnetlab.doctor.context import Context, parse_captured
from vnetlab.errors import SpecError, TopologyError

if TYPE_CHECKING:
    from vnetlab.topology.spec import TopologySpec

TOPOLOGY_SUFFIXES = (".yaml", ".yml", ".json")
TOPOLOGY_KEYS = frozenset({"hosts", "vms", "switches", "routers", "links", "captured", "run",
                           "expect", "openstack", "duration", "seed-case"})
MAX_FLEET_FILES = 1_000_000


@dataclass(slots=True)
class BadInput(Exception):
    """An input that cannot be audited: its problems, each at file:line:column."""

    errors: list[SpecError]

    def __str__(self) -> str:
        return "; ".join(str(e) for e in self.errors)


def expand(paths: list[str]) -> list[str]:
    """The inputs behind the command line's paths: a directory of topology files is
    each of its files (sorted, not recursive); any other path is one input."""
    out: list[str] = []
    for path in paths:
        if os.path.isdir(path) and not _importable_dir(path):
            try:
                names = sorted(os.listdir(path))
            except OSError:
                out.append(path)
                continue
            found = [os.path.join(path, n) for n in names if n.endswith(TOPOLOGY_SUFFIXES)
                     and os.path.isfile(os.path.join(path, n))]
            out.extend(found[:MAX_FLEET_FILES] if found else [path])
        else:
            out.append(path)
    return out


def _importable_dir(path: str) -> bool:
    from vnetlab.importers.archive import is_sosreport_dir

    if is_sosreport_dir(path):
        return True
    try:
        names = os.listdir(path)
    except OSError:
        return False
    return not any(n.endswith(TOPOLOGY_SUFFIXES) for n in names)


def load(path: str) -> Context:
    """The context of one input; ``BadInput`` when it cannot be read or loaded."""
    if os.path.isdir(path) or not path.endswith(TOPOLOGY_SUFFIXES):
        if not os.path.exists(path):
            raise BadInput([SpecError(path, 0, 0, "", "no such file or directory")])
        return _imported(path)
    data, locator, text = _parse(path)
    if isinstance(data, dict) and "interfaces" in data and not (TOPOLOGY_KEYS & set(data)):
        return _imported(path)          # nmstatectl show output, not a topology
    try:
        return _topology(data, path, locator)
    except _Relocate:
        # the fast path's tree has no ruamel positions inside load_topology_data: load
        # the file again the usual way, for errors located as everywhere else
        return _topology(_slow(text, path), path, None)


def _parse(path: str) -> tuple[Any, Any, str]:
    """(data, a FastLocator or None for ruamel's tree, the text)."""
    from vnetlab.doctor import fastyaml
    from vnetlab.topology.load import MAX_BYTES, parse_yaml_text

    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise BadInput([SpecError(path, 0, 0, "", f"cannot read: {exc.strerror}")]) from None
    if len(raw) > MAX_BYTES:
        raise BadInput([SpecError(path, 0, 0, "", f"file is larger than {MAX_BYTES} bytes")])
    if b"\0" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\0")) + 1
        raise BadInput([SpecError(path, line, 0, "", "binary data (a NUL byte), not a text "
                                  "file")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput([SpecError(path, raw.count(b"\n", 0, exc.start) + 1, 0, "",
                                  f"not UTF-8 text: {exc.reason}")]) from None
    fast = fastyaml.load(text)
    if fast is not None:
        return fast[0], fastyaml.FastLocator(path, fast[0], fast[1]), text
    try:
        return parse_yaml_text(text, path), None, text
    except TopologyError as exc:
        raise BadInput(list(exc.errors)) from None


class _Relocate(Exception):
    """The fast tree does not load: read the file with ruamel for located errors."""


def _slow(text: str, path: str) -> Any:
    """The ruamel tree of a file the fast path read: for its located errors."""
    from vnetlab.topology.load import parse_yaml_text

    return parse_yaml_text(text, path)


def _topology(data: Any, path: str, locator: Any) -> Context:
    from vnetlab.topology.load import load_topology_data

    try:
        spec = load_topology_data(data, path)
    except TopologyError as exc:
        if locator is not None:
            raise _Relocate from None
        raise BadInput(list(exc.errors)) from None
    if locator is not None:
        spec._locator = locator
    raw_captured = data.get("captured") if isinstance(data, dict) else None
    captured, errors = parse_captured(raw_captured, spec, spec.locator)
    if errors:
        raise BadInput(errors)
    guests: set[tuple[str, int]] = set()
    if captured is not None:
        spec, guests = assume_guest_dhcp(spec)
    return Context(spec, data, path, captured=captured, guests=guests)


def assume_guest_dhcp(spec: TopologySpec) -> tuple[TopologySpec, set[tuple[str, int]]]:
    """A capture or an import sees a VM's NIC from the host (libvirt XML, the tap), never
    the guest's own addressing. Such a NIC (no ``ipv4:``, not a Neutron port) is taken to
    be a DHCP client with NetworkManager's timing, what most guests run at boot; the
    evidence of every finding that rests on it says so (Context.config)."""
    from vnetlab.topology.spec import VmIpv4

    assumed: set[tuple[str, int]] = set()
    vms = dict(spec.vms)
    for name, vm in spec.vms.items():
        nics = list(vm.interfaces)
        for i, nic in enumerate(nics):
            if nic.ipv4 is None and nic.network is None:
                nics[i] = nic.model_copy(update={"ipv4": VmIpv4(dhcp=True)})
                assumed.add((name, i))
        if nics != list(vm.interfaces):
            vms[name] = vm.model_copy(update={"interfaces": nics})
    return (spec.model_copy(update={"vms": vms}) if assumed else spec), assumed


def _imported(path: str) -> Context:
    from vnetlab.importers import ImportFailure, import_path
    from vnetlab.topology.load import Locator, load_topology_data

    try:
        result = import_path(path)
    except ImportFailure as exc:
        raise BadInput([SpecError(exc.file, exc.line, 0, exc.key, exc.message)]) from None
    doc = result.doc
    captured_raw = doc.get("captured")
    try:
        spec = load_topology_data(dict(doc), path)
    except TopologyError as exc:
        raise BadInput(list(exc.errors)) from None
    spec._locator = Locator(path, doc)          # captured: included, for its evidence
    captured, errors = parse_captured(captured_raw, spec, spec.locator)
    if errors:
        raise BadInput(errors)
    sources = dict(result.sources)
    if captured_raw is not None:
        # the file the FDB came from ("fdb: sos_commands/networking/... (runtime)")
        fdb = next((u.split(": ", 1)[1].rsplit(" (", 1)[0] for u in result.used
                    if u.startswith("fdb: ")), "")
        sources.setdefault("captured", os.path.join(path, fdb) if fdb and os.path.isdir(path)
                           else path)
    spec, guests = assume_guest_dhcp(spec)
    return Context(spec, doc, path, kind=result.kind, captured=captured, sources=sources,
                   assumed=set(result.assumed), guests=guests)
