"""libvirt domain XML (``virsh dumpxml``, ``/etc/libvirt/qemu/*.xml``) -> one VM.

Each ``<interface>`` of ``<devices>`` becomes a VM NIC in libvirt's own shape
(``docs/formatdomain``, "Network interfaces"):

* ``type='bridge'`` with ``<source bridge='br1'/>``: a tap in that bridge; with
  ``<virtualport type='openvswitch'/>`` the bridge is an OVS bridge (``ovs-vsctl
  add-port``), and ``<vlan><tag id='N'/></vlan>`` its access VLAN;
* ``type='network'``: the network's bridge, from ``<source ... bridge='virbr0'/>`` (the
  live XML of a running guest carries it) or from the network's own XML
  (``<network><bridge name=.../>``) when one is imported too; otherwise a note;
* ``<mac address>``, ``<target dev>`` (the tap, ``vnetN``: only in live XML),
  ``<model type>``, ``<mtu size>``;
* ``type='direct'`` (macvtap), ``user``, ``ethernet``, ``vhostuser``, ``hostdev`` and
  ``<vlan trunk='yes'>`` are not modelled: notes; ``<link state='down'/>``,
  ``<filterref>`` and ``<bandwidth>`` too.

Which host runs the guest is not in the XML: ``--host`` (or, in a sosreport, the
report's host). Parsing is defensive: at most 1 MiB per file, a document with
``<!DOCTYPE`` or ``<!ENTITY`` is refused before parsing (no entity expansion, no
"billion laughs"), and a syntax error is reported at its line and column.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import xml.parsers.expat as expat
from typing import Any

from vnetlab.importers.base import ImportFailure, Unparsed, norm_mac, read_capped

_DANGEROUS = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)


class Tree:
    """An ElementTree root with the line of each element."""

    def __init__(self, root: ET.Element, lines: dict[int, int]) -> None:
        self.root = root
        self._lines = lines

    def line(self, element: ET.Element) -> int:
        return self._lines.get(id(element), 0)


def parse_xml(data: bytes, file: str) -> Tree:
    """Bytes -> tree, refusing DTDs and entities (before and during parsing)."""
    match = _DANGEROUS.search(data)
    if match is not None:
        line = data.count(b"\n", 0, match.start()) + 1
        raise ImportFailure(file, line, f"<!{match.group(1).decode().upper()}",
                            "a DTD or entity declaration: refused (libvirt never writes one; "
                            "entities can expand without bound)")
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    lines: dict[int, int] = {}

    def start(tag: str, attrs: dict[str, str]) -> None:
        element = builder.start(tag, attrs)
        lines[id(element)] = parser.CurrentLineNumber

    def refuse(*_: Any) -> None:
        raise ImportFailure(file, parser.CurrentLineNumber, "<!DOCTYPE",
                            "a DTD or entity declaration: refused")

    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(data, True)
        root = builder.close()
    except expat.ExpatError as exc:
        raise ImportFailure(file, exc.lineno, f"column {exc.offset + 1}",
                            f"not well-formed XML: {expat.ErrorString(exc.code)}") from None
    except AssertionError:
        raise ImportFailure(file, 0, "", "not well-formed XML (truncated?)") from None
    # keep the tree alive with its ids valid: the lines map is only read while it is
    return Tree(root, lines)


def network_bridge(tree: Tree) -> tuple[str, str] | None:
    """``<network><name>default</name><bridge name='virbr0'/>`` -> (name, bridge)."""
    root = tree.root
    if root.tag != "network":
        return None
    name = root.findtext("name")
    bridge = root.find("bridge")
    if name and bridge is not None and bridge.get("name"):
        return name.strip(), str(bridge.get("name"))
    return None


def domain(tree: Tree, file: str, networks: dict[str, str]
           ) -> tuple[str, list[dict[str, Any]], list[Unparsed]]:
    """(VM name, its interfaces in the spec's shape, notes)."""
    root = tree.root
    if root.tag != "domain":
        raise ImportFailure(file, tree.line(root), f"<{root.tag}>",
                            "not a libvirt domain XML (expected <domain>)")
    name = (root.findtext("name") or "").strip()
    if not name:
        raise ImportFailure(file, tree.line(root), "<name>", "a domain without a name")
    notes: list[Unparsed] = []
    nics: list[dict[str, Any]] = []
    devices = root.find("devices")
    for element in devices.findall("interface") if devices is not None else []:
        nic = _interface(element, tree, file, networks, notes)
        if nic is not None:
            nics.append(nic)
    return name, nics, notes


def _interface(element: ET.Element, tree: Tree, file: str, networks: dict[str, str],
               notes: list[Unparsed]) -> dict[str, Any] | None:
    line = tree.line(element)
    kind = element.get("type", "")
    source = element.find("source")
    mac_el = element.find("mac")
    mac = norm_mac(mac_el.get("address", "")) if mac_el is not None else None
    label = f"<interface type='{kind}'>" + (f" {mac}" if mac else "")
    if kind not in ("bridge", "network"):
        notes.append(Unparsed(file, line, label, f"interface type '{kind}' is not modelled by "
                              "vnetlab (only bridge and network): left out"))
        return None
    if mac is None:
        notes.append(Unparsed(file, line, label, "no <mac address=...>: libvirt would generate "
                              "one at start; left out"))
        return None
    bridge = source.get("bridge") if source is not None else None
    if kind == "network":
        network = source.get("network") if source is not None else None
        bridge = bridge or networks.get(network or "")
        if not bridge:
            notes.append(Unparsed(file, line, f"<source network='{network}'/>",
                                  "the network's bridge is not known (import the network's XML "
                                  "or the guest's live XML): left out"))
            return None
    if not bridge:
        notes.append(Unparsed(file, line, label, "no <source bridge=...>: left out"))
        return None
    nic: dict[str, Any] = {"type": "bridge", "source": bridge}
    target = element.find("target")
    if target is not None and target.get("dev"):
        nic["target"] = target.get("dev")
    nic["mac"] = mac
    model = element.find("model")
    if model is not None and model.get("type"):
        nic["model"] = model.get("type")
    mtu = element.find("mtu")
    if mtu is not None:
        size = mtu.get("size", "")
        if size.isdigit() and 68 <= int(size) <= 65535:
            nic["mtu"] = int(size)
        else:
            notes.append(Unparsed(file, tree.line(mtu), f"<mtu size='{size}'/>", "not an MTU"))
    port = element.find("virtualport")
    if port is not None:
        if port.get("type") == "openvswitch":
            nic["virtualport"] = "openvswitch"
        else:
            notes.append(Unparsed(file, tree.line(port), f"<virtualport type="
                                  f"'{port.get('type')}'>", "not modelled by vnetlab"))
    vlan = element.find("vlan")
    if vlan is not None:
        tags = [t.get("id", "") for t in vlan.findall("tag")]
        if vlan.get("trunk") == "yes" or len(tags) != 1 or not tags[0].isdigit():
            notes.append(Unparsed(file, tree.line(vlan), "<vlan>", "only one access tag is "
                                  "modelled (no trunk, no native mode): left out"))
        else:
            nic["vlan"] = {"tag": int(tags[0])}
    for tag, why in (("link", "a link state set by libvirt is not modelled"),
                     ("filterref", "libvirt's nwfilter is not modelled"),
                     ("bandwidth", "QoS is not modelled"),
                     ("ip", "an address libvirt gives the guest is not modelled")):
        child = element.find(tag)
        if child is not None and not (tag == "link" and child.get("state") == "up"):
            attrs = " ".join(f"{k}='{v}'" for k, v in child.attrib.items())
            notes.append(Unparsed(file, tree.line(child), f"<{tag} {attrs}>".replace(" >", ">"),
                                  why))
    return nic


def read(path: str) -> Tree:
    return parse_xml(read_capped(path), path)
