"""Configuration imports: turn what operators have into a topology document.

``import_path(path, kind=None, host=None)`` reads one input and returns an
``ImportResult`` (the document, the settings it could not interpret, the kind);
``merge(results)`` combines several (hosts from several files; the same entry
defined differently in two files is an error naming both); ``load(result)`` validates
the document with ``load_topology_data``; ``dump(result)`` renders it as YAML the
way the shared examples are written. One module per format:

=============  =================================================================
``nmstate``    ``nmstatectl show`` (YAML or JSON)
``keyfile``    NetworkManager keyfiles (``*.nmconnection``), a file or a directory
``ifcfg``      RHEL ``ifcfg-*`` files, a file or a directory
``nmcli``      pasted ``nmcli connection add|modify`` lines
``libvirt``    ``virsh dumpxml`` / ``/etc/libvirt/qemu/*.xml`` (and network XMLs)
``sosreport``  a sosreport directory or tarball
=============  =================================================================

Bad or hostile input raises ``ImportFailure`` (file, line, key, message); a setting
that cannot be interpreted is an ``Unparsed`` note and the import goes on. See
docs/import.md.
"""

from __future__ import annotations

import copy
import io
import os
import re
from typing import TYPE_CHECKING, Any

from vnetlab.importers.base import (
    DEFAULT_HOST,
    MAX_FILE_BYTES,
    ImportFailure,
    ImportResult,
    Unparsed,
    decode_text,
    iface_key,
    read_capped,
)

if TYPE_CHECKING:
    from vnetlab.importers.nmprofile import Profile
    from vnetlab.topology.spec import TopologySpec

__all__ = ["KINDS", "ImportFailure", "ImportResult", "Unparsed", "detect", "dump", "import_path",
           "load", "merge"]

KINDS = ("nmstate", "keyfile", "ifcfg", "nmcli", "libvirt", "sosreport")
MAX_DIR_FILES = 4096
_SKIP = re.compile(r"(~|\.bak|\.orig|\.rpmnew|\.rpmsave|\.swp)$")


def _listing(path: str) -> list[str]:
    try:
        names = sorted(os.listdir(path))
    except OSError as exc:
        raise ImportFailure(path, 0, "", f"cannot list: {exc.strerror or exc}") from None
    if len(names) > MAX_DIR_FILES:
        raise ImportFailure(path, 0, "", f"more than {MAX_DIR_FILES} entries: is it the right "
                            "directory?")
    return [n for n in names if os.path.isfile(os.path.join(path, n)) and not _SKIP.search(n)]


def detect(path: str) -> str:
    """The kind of ``path``: by directory layout, file name, then content."""
    from vnetlab.importers.archive import is_sosreport_dir, is_tarball

    if os.path.isdir(path):
        if is_sosreport_dir(path):
            return "sosreport"
        names = _listing(path)
        for suffix, kind in ((".nmconnection", "keyfile"), ("ifcfg-", "ifcfg"),
                             (".xml", "libvirt")):
            if any(n.endswith(suffix) or n.startswith(suffix) for n in names):
                return kind
        raise ImportFailure(path, 0, "", "cannot tell what this directory holds (expected a "
                            "sosreport, *.nmconnection, ifcfg-* or *.xml files); give --kind")
    if is_tarball(path):
        return "sosreport"
    base = os.path.basename(path)
    if base.endswith(".nmconnection"):
        return "keyfile"
    if base.startswith("ifcfg-"):
        return "ifcfg"
    if base.endswith(".xml"):
        return "libvirt"
    head = read_capped(path, MAX_FILE_BYTES * 8)[:65536]
    text = head.decode("utf-8", errors="replace")
    from vnetlab.importers.nmcli import looks_like

    if text.lstrip().startswith("<"):
        return "libvirt"
    if re.search(r"^\s*\[connection\]\s*$", text, re.M):
        return "keyfile"
    if looks_like(text):
        return "nmcli"
    topology = re.search(r"^(hosts|vms|switches)\s*:", text, re.M)
    if topology is not None:
        raise ImportFailure(path, text.count("\n", 0, topology.start()) + 1, topology.group(1),
                            "already a vnetlab topology file: use it as it is (vnetlab run)")
    if re.search(r"^(interfaces\s*:|\{?\s*\"interfaces\"\s*:)", text, re.M) or \
            re.search(r"\"interfaces\"\s*:\s*\[", text):
        return "nmstate"
    if re.search(r"^(DEVICE|TYPE|BOOTPROTO|ONBOOT|DEVICETYPE)=", text, re.M):
        return "ifcfg"
    if base.endswith((".yml", ".yaml", ".json")):
        return "nmstate"
    raise ImportFailure(path, 0, "", "cannot tell the format (nmstate, keyfile, ifcfg, nmcli, "
                        "libvirt or sosreport); give --kind")


def import_path(path: str, kind: str | None = None, host: str | None = None) -> ImportResult:
    """Import one file or directory (see the module docstring)."""
    if not os.path.exists(path):
        raise ImportFailure(path, 0, "", "no such file or directory")
    kind = kind or detect(path)
    if kind not in KINDS:
        raise ImportFailure(path, 0, "--kind", f"unknown kind {kind!r} (expected one of: "
                            f"{', '.join(KINDS)})")
    if kind == "sosreport":
        from vnetlab.importers.sosreport import import_report

        result = import_report(path, host)
    elif kind == "nmstate":
        result = _nmstate(path, host)
    elif kind == "libvirt":
        result = _libvirt(path, host)
    else:
        result = _profiles(path, kind, host)
    return _finish(result, path)


# -- per kind --------------------------------------------------------------------------------

def _nmstate(path: str, host: str | None) -> ImportResult:
    from vnetlab.importers import nmstate

    name, entry, notes = nmstate.read(path, host)
    sources = {iface_key(name, i["name"]): path for i in entry["interfaces"]
               if isinstance(i, dict) and "name" in i}
    return ImportResult({"name": name, "hosts": {name: entry}}, notes, "nmstate", sources=sources,
                        used=[f"host {name}: {path} (nmstatectl show)"])


def _files(path: str, pattern: str) -> list[str]:
    if os.path.isdir(path):
        return [os.path.join(path, n) for n in _listing(path) if re.search(pattern, n)]
    return [path]


def _read_profiles(path: str, kind: str) -> tuple[list[Profile], list[Unparsed]]:
    from vnetlab.importers import ifcfg, keyfile, nmcli

    profiles: list[Profile] = []
    notes: list[Unparsed] = []
    if kind == "keyfile":
        for file in _files(path, r"."):
            if os.path.isdir(path) and not file.endswith(".nmconnection"):
                try:
                    profile, read_notes = keyfile.read(file)
                except ImportFailure as exc:
                    notes.append(Unparsed(file, 0, "", f"not a keyfile ({exc.message}): skipped"))
                    continue
            else:
                profile, read_notes = keyfile.read(file)
            profiles.append(profile)
            notes += read_notes
    elif kind == "ifcfg":
        for file in _files(path, r"^ifcfg-"):
            if os.path.basename(file) == "ifcfg-lo":
                continue
            profile, read_notes = ifcfg.read(file)
            profiles.append(profile)
            notes += read_notes
    else:
        for file in _files(path, r"."):
            found, read_notes = nmcli.read(file)
            profiles += found
            notes += read_notes
    return profiles, notes


def _profiles(path: str, kind: str, host: str | None) -> ImportResult:
    from vnetlab.importers.nmprofile import build

    name = host or DEFAULT_HOST
    profiles, parse_notes = _read_profiles(path, kind)
    if host is None:
        parse_notes.append(Unparsed(path, 0, "", f"the host is called {DEFAULT_HOST} (the "
                                    "files do not say; give --host NAME)"))
    interfaces, routes, notes = build(profiles)
    entry: dict[str, Any] = {"interfaces": interfaces}
    if routes:
        entry["routes"] = {"config": routes}
    return ImportResult({"name": name, "hosts": {name: entry}}, parse_notes + notes, kind,
                        sources=_profile_sources(name, profiles, interfaces),
                        used=[f"host {name}: {path} ({kind})"],
                        profiles={name: profiles}, parse_notes=parse_notes)


def _profile_sources(host: str, profiles: list[Profile], interfaces: list[dict[str, Any]]
                     ) -> dict[str, str]:
    files = {p.ifname(): p.file for p in profiles}
    return {iface_key(host, i["name"]): files.get(i["name"], "") or "" for i in interfaces}


def _libvirt(path: str, host: str | None) -> ImportResult:
    from vnetlab.importers import libvirt

    name = host or DEFAULT_HOST
    notes: list[Unparsed] = []
    trees = [(file, libvirt.read(file)) for file in _files(path, r"\.xml$")]
    networks = dict(found for _, tree in trees if (found := libvirt.network_bridge(tree)))
    vms: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for file, tree in trees:
        if tree.root.tag == "network":
            continue
        vm, nics, vm_notes = libvirt.domain(tree, file, networks)
        notes += vm_notes
        if vm in vms:
            raise ImportFailure(file, 0, f"vms.{vm}", f"a second domain named {vm} (also in "
                                f"{sources[f'vms.{vm}']})")
        vms[vm] = {"host": name, "interfaces": nics}
        sources[f"vms.{vm}"] = file
    if host is None and vms:
        notes.append(Unparsed(path, 0, "", f"the VMs run on host {DEFAULT_HOST} (the XML does "
                              "not say; give --host NAME)"))
    doc: dict[str, Any] = {"name": name, "vms": vms}
    return ImportResult(doc, notes, "libvirt", sources=sources,
                        used=[f"vm {v}: {sources[f'vms.{v}']} (libvirt)" for v in vms])


# -- completing, merging, loading, writing ----------------------------------------------------

def _complete(result: ImportResult, origin: str) -> None:
    """Make up what the document refers to and no input defines, so that it loads: a
    VM's bridge on its host, a VLAN's base NIC. Each is noted and marked ``assumed``
    (a real definition replaces it in ``merge``)."""
    doc = result.doc
    hosts: dict[str, Any] = doc.setdefault("hosts", {})
    for vm_name, vm in doc.get("vms", {}).items():
        entry = hosts.setdefault(vm.get("host", DEFAULT_HOST), {"interfaces": []})
        names = {i.get("name") for i in entry.setdefault("interfaces", [])}
        for nic in vm.get("interfaces", []):
            bridge = nic.get("source")
            if not bridge or bridge in names:
                continue
            ovs = nic.get("virtualport") == "openvswitch"
            stub = {"name": bridge, "type": "ovs-bridge" if ovs else "linux-bridge"}
            entry["interfaces"].append(stub)
            names.add(bridge)
            key = iface_key(vm["host"], bridge)
            result.assumed.add(key)
            result.sources.setdefault(key, result.sources.get(f"vms.{vm_name}", origin))
            result.notes.append(Unparsed(result.sources.get(f"vms.{vm_name}", origin), 0,
                                         f"{vm['host']}:{bridge}", f"{vm_name}'s bridge is not in "
                                         f"the imported files: assumed a{'n OVS' if ovs else ' Linux'}"
                                         " bridge with vnetlab's defaults"))
    for host, entry in hosts.items():
        interfaces = entry.setdefault("interfaces", [])
        names = {i.get("name") for i in interfaces}
        for iface in list(interfaces):
            base = iface.get("vlan", {}).get("base-iface") if iface.get("type") == "vlan" else None
            if base and base not in names:
                interfaces.insert(0, {"name": base, "type": "ethernet"})
                names.add(base)
                key = iface_key(host, base)
                result.assumed.add(key)
                result.sources.setdefault(key, origin)
                result.notes.append(Unparsed(result.sources.get(iface_key(host, iface["name"]),
                                                                origin), 0,
                                             f"{host}:{base}", f"the base of {iface['name']} is "
                                             "not in the imported files: assumed an ethernet NIC"))


def _clean(result: ImportResult, origin: str) -> None:
    """Drop what the spec would refuse (the last safety net; the importers check values
    where they read them, with their lines)."""
    from vnetlab.importers.prune import clean, dotted
    from vnetlab.topology.spec import TopologySpec

    doc = result.doc
    captured = doc.pop("captured", None)

    def drop(path: tuple[Any, ...], why: str) -> None:
        text = dotted(path)
        top = ".".join(text.split(".")[:3])
        file = next((f for k, f in result.sources.items() if text.startswith(k)),
                    result.sources.get(top, origin))
        result.notes.append(Unparsed(file or origin, 0, text, why + ": left out"))

    cleaned = clean(doc, TopologySpec, drop)
    result.doc = cleaned if isinstance(cleaned, dict) else {}
    if captured is not None:
        result.doc["captured"] = captured


_STUB = "is not in the imported files"
_ORDER = ("name", "description", "hosts", "vms", "switches", "routers", "links", "run", "expect",
          "captured")


def _ordered(doc: dict[str, Any]) -> dict[str, Any]:
    return {**{k: doc[k] for k in _ORDER if k in doc},
            **{k: v for k, v in doc.items() if k not in _ORDER}}


def _finish(result: ImportResult, origin: str) -> ImportResult:
    _complete(result, origin)
    _clean(result, origin)
    result.doc = _ordered(result.doc)
    return result


def merge(results: list[ImportResult]) -> ImportResult:
    """One document from several results (see the module docstring). NetworkManager
    profiles of one host are built together, so a port may name its controller in
    another file; every other entry must be defined once, or identically."""
    if not results:
        return ImportResult({}, [], "none")
    if len(results) == 1:
        return results[0]
    from vnetlab.importers.nmprofile import build

    kinds = {r.kind for r in results}
    out = ImportResult({}, [], kinds.pop() if len(kinds) == 1 else "merged")
    profiles: dict[str, list[Profile]] = {}
    for result in results:
        for host, found in result.profiles.items():
            profiles.setdefault(host, []).extend(found)
        out.notes += result.parse_notes if result.profiles else result.notes
        out.used += result.used
    rebuilt: dict[str, dict[str, Any]] = {}
    for host, found in profiles.items():
        interfaces, routes, notes = build(found)
        out.notes += notes
        rebuilt[host] = {"interfaces": interfaces, **({"routes": {"config": routes}}
                                                      if routes else {})}
        out.sources.update(_profile_sources(host, found, interfaces))
    if rebuilt:
        _merge_doc(out, {"hosts": rebuilt}, ImportResult({}, [], "", sources=dict(out.sources)))
    for result in results:
        doc = copy.deepcopy(result.doc)
        for host in result.profiles:
            entry = doc.get("hosts", {}).get(host, {})
            built = {i["name"] for i in rebuilt.get(host, {}).get("interfaces", [])}
            entry["interfaces"] = [i for i in entry.get("interfaces", [])
                                   if iface_key(host, i.get("name", "")) in result.assumed
                                   and i.get("name") not in built]
            entry.pop("routes", None)
        _merge_doc(out, doc, result)
    out.profiles = profiles
    # a made-up entry that a real definition replaced is no longer worth a note
    out.notes = [n for n in out.notes if not (
        _STUB in n.why and ":" in n.text and iface_key(*n.text.split(":", 1)) not in out.assumed)]
    _clean(out, "<merged>")
    out.doc = _ordered(out.doc)
    return out


def _conflict(key: str, first: str, second: str) -> ImportFailure:
    return ImportFailure(second or "<import>", 0, key, f"defined differently in {first or 'another input'}; "
                         "merge refuses to pick one (import them separately, or fix one)")


def _merge_doc(out: ImportResult, doc: dict[str, Any], result: ImportResult) -> None:
    target = out.doc
    for key, value in doc.items():
        if key == "hosts":
            for host, entry in value.items():
                _merge_host(out, host, entry, result)
        elif key in ("vms", "switches", "routers"):
            section = target.setdefault(key, {})
            for name, item in value.items():
                path = f"{key}.{name}"
                if name not in section:
                    section[name] = item
                    out.sources[path] = result.sources.get(path, "")
                elif section[name] != item:
                    raise _conflict(path, out.sources.get(path, ""), result.sources.get(path, ""))
        elif key == "links":
            links = target.setdefault("links", [])
            links += [link for link in value if link not in links]
        elif key == "captured":
            _merge_captured(out, value)
        elif key == "name":
            target.setdefault("name", value)
        elif key not in target:
            target[key] = value
        elif target[key] != value:
            raise _conflict(key, "", "")


def _merge_host(out: ImportResult, host: str, entry: dict[str, Any], result: ImportResult
                ) -> None:
    hosts = out.doc.setdefault("hosts", {})
    current = hosts.setdefault(host, {"interfaces": []})
    interfaces = current.setdefault("interfaces", [])
    for iface in entry.get("interfaces", []):
        key = iface_key(host, iface.get("name", ""))
        index = next((i for i, item in enumerate(interfaces)
                      if item.get("name") == iface.get("name")), None)
        if index is None:
            interfaces.append(iface)
            out.sources[key] = result.sources.get(key, "")
            if key in result.assumed:
                out.assumed.add(key)
        elif interfaces[index] == iface or key in result.assumed:
            continue
        elif key in out.assumed:
            interfaces[index] = iface
            out.assumed.discard(key)
            out.sources[key] = result.sources.get(key, "")
        else:
            raise _conflict(key, out.sources.get(key, ""), result.sources.get(key, ""))
    for key, value in entry.items():
        if key == "interfaces":
            continue
        if key == "routes" and key in current:
            config = current[key].setdefault("config", [])
            config += [r for r in value.get("config", []) if r not in config]
        elif key not in current:
            current[key] = value
        elif current[key] != value:
            raise _conflict(f"hosts.{host}.{key}", "", "")


def _merge_captured(out: ImportResult, captured: dict[str, Any]) -> None:
    current = out.doc.get("captured")
    if current is None:
        out.doc["captured"] = captured
        return
    if current.get("host") != captured.get("host"):
        out.notes.append(Unparsed("<merge>", 0, f"captured ({captured.get('host')})",
                                  f"captured: holds one host ({current.get('host')}); import "
                                  f"{captured.get('host')}'s report separately for the doctor"))
        return
    current.setdefault("fdb", []).extend(e for e in captured.get("fdb", [])
                                         if e not in current["fdb"])
    current.setdefault("bonding", {}).update(captured.get("bonding", {}))


def load(result: ImportResult, file: str = "<import>") -> TopologySpec:
    """The document as a loaded ``TopologySpec`` (TopologyError as for any file)."""
    from vnetlab.topology.load import load_topology_data

    return load_topology_data(copy.deepcopy(result.doc), file)


def dump(result: ImportResult) -> str:
    """The document as YAML, written like the shared examples (kebab keys, unquoted MACs,
    ``- name:`` items indented under their key), with a header naming the inputs."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    stream = io.StringIO()
    header = ["# written by vnetlab import (docs/import.md)"]
    header += [f"#   {line}" for line in result.used[:40]]
    if result.notes:
        header.append(f"# {len(result.notes)} note(s) (settings not interpreted, assumptions "
                      "made): see vnetlab import's output")
    stream.write("\n".join(header) + "\n")
    yaml.dump(result.doc, stream)
    return stream.getvalue()


def check(result: ImportResult, file: str) -> list[Any]:
    """The problems ``load_topology_data`` finds in the document as ``dump`` writes it
    (so that lines and columns are those of the written file); ``[]`` if it loads."""
    from vnetlab.errors import TopologyError
    from vnetlab.topology.load import load_topology_data, parse_yaml_text

    shown = ImportResult(dict(result.doc), result.notes, result.kind, used=result.used)
    try:
        load_topology_data(parse_yaml_text(dump(shown), file), file)
    except TopologyError as exc:
        return list(exc.errors)
    return []


def read_text_file(path: str) -> str:
    """A text input (capped), for callers that sniff content (doctor)."""
    return decode_text(read_capped(path), path)
