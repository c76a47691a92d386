"""One input as the checks see it: the typed spec, where each key sits, the live
state of a ``captured:`` block, and the questions every check asks of a topology
(which bridge a device is under, which NICs lie behind it, what a cable leads to,
which switch port and LAG that is, which VMs sit on a bridge).

The built lab (``topology.build``, trace off) is made on first use only: most
checks read the spec, and a fleet audit of thousands of hosts builds a lab only
for the hosts whose checks ask a device model (DHCP clients' schedules, bridge
VLAN state).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from vnetlab.doctor.model import Evidence
from vnetlab.net.addr import mac_str, parse_mac
from vnetlab.topology.spec import (
    BondInterface,
    EthernetInterface,
    LinuxBridgeInterface,
    OvsBridgeInterface,
    OvsInterface,
    TeamInterface,
    VlanInterface,
)

if TYPE_CHECKING:
    from vnetlab.lab import Lab
    from vnetlab.topology.load import Locator
    from vnetlab.topology.spec import HostSpec, LagSpec, SwitchSpec, TopologySpec, VmInterfaceSpec

Path = tuple[Any, ...]


# -- the captured: block (written by `vnetlab capture` and by the sosreport import) -----------

@dataclass(frozen=True, slots=True)
class FdbRow:
    """One ``bridge fdb show`` entry of a bridge (``MAC dev PORT [vlan N] master BR``)."""

    index: int
    bridge: str
    mac: int
    port: str
    vlan: int | None
    flags: tuple[str, ...]

    def shown(self) -> str:
        vlan = f" vlan {self.vlan}" if self.vlan else ""
        flags = "".join(f" {f}" for f in self.flags)
        return f"{mac_str(self.mac)} dev {self.port}{vlan} master {self.bridge}{flags}"

    @property
    def local(self) -> bool:
        return "permanent" in self.flags or "local" in self.flags


@dataclass(frozen=True, slots=True)
class PortRow:
    """One bridge port's STP state (``bridge link show``: ``state forwarding``)."""

    index: int
    bridge: str
    port: str
    state: str


@dataclass(slots=True)
class Captured:
    host: str
    source: str
    fdb: list[FdbRow] = field(default_factory=list)
    ports: list[PortRow] = field(default_factory=list)
    bonding: dict[str, Any] = field(default_factory=dict)


PORT_STATES = ("disabled", "listening", "learning", "forwarding", "blocking")


def parse_captured(raw: Any, spec: TopologySpec, locator: Locator) -> tuple[Captured | None,
                                                                             list[Any]]:
    """The ``captured:`` block as the checks read it, and its problems (SpecErrors at
    file:line: a capture is untrusted input like any topology). Keys the doctor does
    not read (``time``, ``tool``, ``raw``, ``sysctl``, ``missing-tools``, ``age``) are
    left alone: the spec's ``CapturedSpec`` checks them where it exists."""
    errors: list[Any] = []
    if raw is None:
        return None, errors
    base: Path = ("captured",)
    if not isinstance(raw, dict):
        return None, [locator.error(base, f"expected a mapping, got {type(raw).__name__}")]
    host = raw.get("host")
    if host is None and len(spec.hosts) == 1:
        host = next(iter(spec.hosts))
    if not isinstance(host, str) or host not in spec.hosts:
        errors.append(locator.error((*base, "host"), f"host {host!r} is not defined under "
                                    "hosts:" if host is not None else "missing required key "
                                    "'host' (the topology has several hosts)"))
        return None, errors
    out = Captured(host, str(raw.get("source") or "capture"))
    fdb = raw.get("fdb") or []
    if not isinstance(fdb, list):
        errors.append(locator.error((*base, "fdb"), f"expected a list, got {type(fdb).__name__}"))
        fdb = []
    for i, entry in enumerate(fdb):
        path = (*base, "fdb", i)
        if not isinstance(entry, dict):
            errors.append(locator.error(path, "expected a mapping (bridge, mac, port, vlan, flags)"))
            continue
        bad = [k for k in ("bridge", "mac", "port") if not isinstance(entry.get(k), str)]
        if bad:
            errors.append(locator.error((*path, bad[0]), f"missing or not a string: '{bad[0]}'"))
            continue
        try:
            mac = parse_mac(entry["mac"])
        except ValueError:
            errors.append(locator.error((*path, "mac"), f"{entry['mac']!r} is not a MAC address"))
            continue
        vlan = entry.get("vlan")
        if vlan is not None and (isinstance(vlan, bool) or not isinstance(vlan, int)
                                 or not 0 <= vlan <= 4095):
            errors.append(locator.error((*path, "vlan"), f"{vlan!r} is not a VLAN id"))
            continue
        flags = entry.get("flags") or []
        if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
            errors.append(locator.error((*path, "flags"), "expected a list of words"))
            continue
        out.fdb.append(FdbRow(i, entry["bridge"], mac, entry["port"], vlan, tuple(flags)))
    ports = raw.get("ports") or []
    if not isinstance(ports, list):
        errors.append(locator.error((*base, "ports"), "expected a list"))
        ports = []
    for i, entry in enumerate(ports):
        path = (*base, "ports", i)
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str)
                                                  for k in ("bridge", "port", "state")):
            errors.append(locator.error(path, "expected {bridge, port, state} strings"))
            continue
        state = entry["state"].lower()
        if state not in PORT_STATES:
            errors.append(locator.error((*path, "state"), f"{entry['state']!r} is not a bridge "
                                        f"port state (expected one of: {', '.join(PORT_STATES)})"))
            continue
        out.ports.append(PortRow(i, entry["bridge"], entry["port"], state))
    bonding = raw.get("bonding")
    if isinstance(bonding, dict):
        out.bonding = dict(bonding)
    return out, errors


GUEST_ASSUMED = ("not captured (the guest's own setting): assumed a DHCP client at boot, "
                 "NetworkManager's timing")


# -- the context ---------------------------------------------------------------------------------

class Context:
    """What a check reads (see the module docstring). ``sources`` maps entries of an
    imported document (``hosts.kvm1.interfaces[team1]``, ``vms.vm1``) to the file they
    came from; for a topology file every position is in ``file`` itself."""

    def __init__(self, spec: TopologySpec, raw: Any, file: str, *, kind: str = "topology",
                 captured: Captured | None = None, sources: dict[str, str] | None = None,
                 assumed: set[str] | None = None,
                 guests: set[tuple[str, int]] | None = None) -> None:
        from vnetlab.topology.load import locator_for

        self.spec = spec
        self.raw = raw
        self.file = file
        self.kind = kind
        self.captured = captured
        self.sources = sources or {}
        # entries an importer made up so that the document loads (a VM's bridge when only
        # the VM's XML was given): checks say nothing about their defaults
        self.assumed = assumed or set()
        # VM NICs whose guest addressing the input cannot show: assumed DHCP clients
        # (inputs.assume_guest_dhcp)
        self.guests = guests or set()
        self.locator = locator_for(spec)
        self._lab: Lab | None = None

    # -- evidence ---------------------------------------------------------------------------
    def _where(self, path: Path) -> tuple[str, int, int, str]:
        rendered = self.locator.render(path)
        line, col = self.locator.position(path) if self.kind == "topology" else (0, 0)
        file = self.file
        if self.sources:
            best = ""
            for key, source in self.sources.items():
                if source and rendered.startswith(key) and len(key) > len(best):
                    best, file = key, source
        return file, line, col, rendered

    def value(self, path: Path) -> Any:
        """The raw value at ``path`` (list items by index), or None if absent."""
        node = self.raw
        for element in path:
            indexable = isinstance(node, list) and isinstance(element, int) \
                and 0 <= element < len(node)
            if indexable or (isinstance(node, dict) and element in node):
                node = node[element]
            else:
                return None
        return node

    def config(self, path: Path, default: str | None = None) -> Evidence:
        """A configuration line: the value as written, or (absent) ``not set (...)``
        with the default the model applies, at the nearest enclosing key."""
        file, line, col, rendered = self._where(path)
        value = self.value(path)
        if value is None and len(path) > 4 and path[0] == "vms" and path[2] == "interfaces" \
                and path[4] == "ipv4" and (path[1], path[3]) in self.guests:
            default = GUEST_ASSUMED         # the NIC is written; its ipv4: never is
            rendered = ".".join([self.locator.render(path[:4]), *map(str, path[4:-1])])
        if value is None and default is not None:
            last = str(path[-1])
            return Evidence("config", file, line, col, rendered if rendered.endswith(last)
                            else f"{rendered}.{last}" if rendered else last,
                            default if default is GUEST_ASSUMED else f"not set: {default}")
        return Evidence("config", file, line, col, rendered, _shown(value))

    def live(self, path: Path, shown: str, needle: str = "") -> Evidence:
        """Live state; for an import, the line of the tool's output that shows it (the
        first line of ``file`` holding ``needle`` and the port, e.g. a MAC in
        ``bridge fdb show``)."""
        file, line, col, rendered = self._where(path)
        if not line and needle:
            line = _line_of(file, needle, shown.split(" dev ", 1)[-1].split()[0])
            col = 1 if line else 0
        return Evidence("live", file, line, col, rendered, shown)

    # -- hosts ------------------------------------------------------------------------------
    def host(self, name: str) -> HostSpec:
        return self.spec.hosts[name]

    @cached_property
    def _ifaces(self) -> dict[str, dict[str, tuple[int, Any]]]:
        return {h: {iface.name: (i, iface) for i, iface in enumerate(host.interfaces)}
                for h, host in self.spec.hosts.items()}

    def iface(self, host: str, name: str) -> tuple[int, Any] | tuple[None, None]:
        return self._ifaces.get(host, {}).get(name, (None, None))

    def is_assumed(self, host: str, name: str) -> bool:
        return f"hosts.{host}.interfaces[{name}]" in self.assumed

    def iface_path(self, host: str, name: str) -> Path:
        index, _ = self.iface(host, name)
        return ("hosts", host, "interfaces", index)

    @cached_property
    def _uppers(self) -> dict[tuple[str, str], str]:
        """(host, interface) -> the bridge, bond or team it is a port of."""
        out: dict[tuple[str, str], str] = {}
        for h, host in self.spec.hosts.items():
            for iface in host.interfaces:
                for port in lower_names(iface):
                    out[(h, port)] = iface.name
        return out

    def upper(self, host: str, name: str) -> str | None:
        return self._uppers.get((host, name))

    def bridge_above(self, host: str, name: str) -> str | None:
        """The bridge (Linux or OVS) ``name`` carries traffic for: its own master, or
        the master of a VLAN device on top of it (``bond0.100`` in ``br100``)."""
        seen = {name}
        todo = [name]
        while todo:
            current = todo.pop()
            master = self.upper(host, current)
            if master is not None:
                _, dev = self.iface(host, master)
                if isinstance(dev, LinuxBridgeInterface | OvsBridgeInterface):
                    return master
                if master not in seen:
                    seen.add(master)
                    todo.append(master)
            for iface in self.spec.hosts[host].interfaces:
                if isinstance(iface, VlanInterface) and iface.vlan.base_iface == current \
                        and iface.name not in seen:
                    seen.add(iface.name)
                    todo.append(iface.name)
        return None

    def nics_below(self, host: str, name: str) -> list[str]:
        """The ethernet NICs traffic of ``name`` leaves on (through bonds, teams and
        VLAN devices), in configuration order."""
        _, dev = self.iface(host, name)
        if isinstance(dev, EthernetInterface):
            return [name]
        if isinstance(dev, VlanInterface):
            return self.nics_below(host, dev.vlan.base_iface)
        if isinstance(dev, TeamInterface | BondInterface):
            return [n for port in lower_names(dev) for n in self.nics_below(host, port)]
        return []

    def uplinks(self, host: str, bridge: str) -> list[str]:
        """The bridge's ports that lead off the host (not VM taps, not OVS internals)."""
        _, dev = self.iface(host, bridge)
        return [p for p in lower_names(dev) if self.iface(host, p)[1] is not None
                and not isinstance(self.iface(host, p)[1], OvsInterface)
                and self.nics_below(host, p)]

    def bridges_behind(self, host: str, bridge: str, port: str) -> set[str]:
        """The bridges of ``host`` that ``port`` of ``bridge`` leads to inside the host:
        through an OVS patch port to its peer's bridge, through a cable between two of
        the host's own interfaces (a veth pair such as Neutron's qvb/qvo) to the other
        end's bridge, and on from there (never back through ``bridge``)."""
        owner: dict[str, str] = {}              # port -> its bridge
        for iface in self.spec.hosts[host].interfaces:
            if isinstance(iface, LinuxBridgeInterface | OvsBridgeInterface):
                for name in lower_names(iface):
                    owner[name] = iface.name

        def across(name: str) -> str | None:
            _, dev = self.iface(host, name)
            if isinstance(dev, OvsInterface) and dev.patch is not None:
                return dev.patch.peer
            far = self.peer(host, name)
            return far[1] if far is not None and far[0] == host else None

        seen, todo = {bridge}, [port]
        while todo:
            far = across(todo.pop())
            nxt = owner.get(far) if far is not None else None
            if nxt is None or nxt in seen:
                continue
            seen.add(nxt)
            todo += [p for p, b in owner.items() if b == nxt and p != far]
        return seen - {bridge}

    # -- VMs ----------------------------------------------------------------------------------
    @cached_property
    def taps(self) -> dict[tuple[str, int], str]:
        from vnetlab.topology.check import tap_names

        return tap_names(self.spec)

    def vm_nics(self, host: str, bridge: str | None = None
                ) -> list[tuple[str, int, VmInterfaceSpec, str]]:
        """(vm, index, NIC, tap) of the VMs on ``host`` (on ``bridge`` if given)."""
        return [(vm_name, i, nic, self.taps[(vm_name, i)])
                for vm_name, vm in self.spec.vms.items() if vm.host == host
                for i, nic in enumerate(vm.interfaces)
                if bridge is None or nic.source == bridge]

    def tap_names_of(self, host: str) -> set[str]:
        return {tap for _, _, _, tap in self.vm_nics(host)}

    # -- cables, switches ------------------------------------------------------------------
    @cached_property
    def _peers(self) -> dict[str, tuple[str, int]]:
        out: dict[str, tuple[str, int]] = {}
        for i, link in enumerate(self.spec.links):
            a, b = link.endpoints
            out[a] = (b, i)
            out[b] = (a, i)
        return out

    def peer(self, node: str, iface: str) -> tuple[str, str] | None:
        found = self._peers.get(f"{node}:{iface}")
        if found is None:
            return None
        other, _ = found
        peer_node, _, peer_iface = other.partition(":")
        return peer_node, peer_iface

    def link_index(self, node: str, iface: str) -> int | None:
        found = self._peers.get(f"{node}:{iface}")
        return found[1] if found else None

    def switch_port(self, host: str, nic: str) -> SwitchFacing | None:
        """The switch port a host NIC is cabled to, and its LAG, if the switch is
        described (``switches:``)."""
        peer = self.peer(host, nic)
        if peer is None or peer[0] not in self.spec.switches:
            return None
        name, port = peer
        sw = self.spec.switches[name]
        lag_index, lag = next(((i, lag) for i, lag in enumerate(sw.lags) if port in lag.ports),
                              (None, None))
        return SwitchFacing(name, sw, port, lag_index, lag)

    # -- the built lab ----------------------------------------------------------------------
    @property
    def lab(self) -> Lab:
        if self._lab is None:
            from vnetlab.topology.build import build

            self._lab = build(self.spec, 0, "off")
        return self._lab


@dataclass(frozen=True, slots=True)
class SwitchFacing:
    switch: str
    spec: SwitchSpec
    port: str
    lag_index: int | None
    lag: LagSpec | None


def lower_names(iface: Any) -> list[str]:
    """The names an interface enslaves: bridge ports, team/bond ports."""
    if isinstance(iface, LinuxBridgeInterface | OvsBridgeInterface):
        return [p.name for p in iface.bridge.port]
    if isinstance(iface, TeamInterface):
        return [p.name for p in iface.team.ports]
    if isinstance(iface, BondInterface):
        return list(iface.link_aggregation.port)
    return []


def _line_of(file: str, needle: str, also: str) -> int:
    """1-based line of ``file`` holding ``needle`` and ``also`` (case-insensitive), or 0."""
    import os

    if not os.path.isfile(file):
        return 0
    try:
        with open(file, "rb") as handle:
            data = handle.read(1 << 20).decode("utf-8", "replace").lower()
    except OSError:
        return 0
    needle, also = needle.lower(), also.lower()
    for number, text in enumerate(data.splitlines(), 1):
        if needle in text and also in text:
            return number
    return 0


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_shown(v)}" for k, v in list(value.items())[:6]) + (
            ", ..." if len(value) > 6 else "") + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value[:8]) + (", ..." if len(value) > 8
                                                                 else "") + "]"
    text = str(value)
    return text if len(text) <= 200 else text[:197] + "..."


def l2_domains(ctx: Context) -> dict[str, int]:
    """``ctx``'s broadcast domains, computed once per input (see ``_l2_domains``)."""
    cached: dict[str, int] | None = getattr(ctx, "_l2_domains", None)
    if cached is None:
        cached = _l2_domains(ctx)
        ctx._l2_domains = cached  # type: ignore[attr-defined]
    return cached


def _l2_domains(ctx: Context) -> dict[str, int]:
    """``node:iface`` -> broadcast domain number: the endpoints a broadcast can reach
    when every VLAN is carried (cables, bridges and their ports, bonds/teams and theirs,
    VLAN devices and their base, every port of a switch; a router joins nothing, a
    host does not route between its bridges). An over-approximation: VLAN membership is
    the vlan check's business, not this one's."""
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb

    spec = ctx.spec
    for host, hspec in spec.hosts.items():
        for iface in hspec.interfaces:
            find(f"{host}:{iface.name}")
            for lower in lower_names(iface):
                union(f"{host}:{iface.name}", f"{host}:{lower}")
            if isinstance(iface, VlanInterface):
                union(f"{host}:{iface.name}", f"{host}:{iface.vlan.base_iface}")
    for vm, vspec in spec.vms.items():
        for i, nic in enumerate(vspec.interfaces):
            union(f"{vm}:eth{i}", f"{vspec.host}:{nic.source}")
    for link in spec.links:
        union(*link.endpoints)
    for sw, sspec in spec.switches.items():
        for port in sspec.ports:
            union(f"{sw}:{port}", f"{sw}:{sspec.ports[0]}")
    for router, rspec in spec.routers.items():
        for riface in rspec.interfaces:
            find(f"{router}:{riface.name}")
            if riface.vlan is not None:
                union(f"{router}:{riface.name}", f"{router}:{riface.vlan.base_iface}")
    roots: dict[str, int] = {}
    return {node: roots.setdefault(find(node), len(roots)) for node in list(parent)}
