"""An Open vSwitch bridge: port VLAN modes, a small OpenFlow table 0, the NORMAL action,
patch ports (semantics §6 O1-O3; S1/S2 for learning and ageing).

Mirrors (Open vSwitch ``ofproto/ofproto-dpif.c``, ``ofproto/ofproto-dpif-xlate.c``,
``lib/mac-learning.c``, ``vswitchd/bridge.c``, ``vswitchd/vswitch.xml``):

* Port VLAN configuration as ``bridge.c :: port_configure`` and ``ofproto-dpif.c ::
  bundle_set`` compute it: no ``vlan_mode`` means ``access`` when ``tag`` is set, else
  ``trunk``; a trunk port's ``tag`` is ignored; ``trunks`` empty means every VLAN; a
  native-tagged/-untagged port always trunks its native VLAN and never VLAN 0.
* ``xlate_normal`` in its order: ``input_vid_is_valid`` (an access port drops tagged
  frames; a trunk drops a VLAN it does not trunk, VLAN 0 being an untagged frame: so the
  dead-VLAN port of Neutron, ``tag=4095 vlan_mode=trunk trunks=[4095]``, drops every
  untagged frame, O1), ``xvlan_input_translate`` (access: the port's VLAN; native: an
  untagged frame gets the native VLAN), ``is_admissible`` (a reserved destination MAC,
  ``eth_addr_is_reserved``: STP/LACP/LLDP/CDP..., is dropped unless forward-bpdu),
  ``update_learning_table`` (key (VLAN, MAC), moves follow the latest port, no multicast
  sources; ``mac-aging-time`` 300 s, ``MAC_ENTRY_DEFAULT_IDLE_TIME``, forced into 15-3600 s
  by ``normalize_idle_time``; expiry by ``mac_learning_run``), then the destination
  (``mac_learning_lookup``, never for a multicast one): a learned port that is the input
  port drops ("learned port is input port, dropping"), a learned port is the output, else
  ``xlate_normal_flood`` to every other port that includes the VLAN
  (``xbundle_includes_vlan``; the LOCAL port too), in port order (OVS's own order is
  its bundle list's, rebuilt in hash order on reconfiguration: compare floods as sets);
  ``xvlan_output_translate`` per output port (access: untagged; trunk and native-tagged:
  tag kept; native-untagged: the native VLAN leaves untagged).
* MAC table flushes as ``ofproto-dpif.c`` does them: ``del_port`` (``bundle_destroy`` ->
  ``bundle_flush_macs(bundle, true)``) forgets the port's (MAC, VLAN) entries in every
  bridge of the vswitchd (here: every bridge reachable through patch ports);
  ``set_port_vlan`` (``bundle_set``) flushes the port's entries only when its mode, VLAN
  or trunks changed (``need_flush``).
* OpenFlow table 0 (``ovs-ofctl add-flow`` syntax): the highest-priority match wins
  (ties: the first added); actions run in order: ``mod_vlan_vid:N`` (push or rewrite),
  ``strip_vlan``, ``output:PORT`` (never back to the input port), ``NORMAL``; no action is
  a drop; ``LOCAL`` names the bridge's own port. A new bridge has
  ``priority=0,actions=NORMAL`` (fail_mode standalone, the default), as Neutron's bridges
  behave after its own base flows; ``fail_mode=secure`` with no controller has no flow,
  so every frame is a table miss (vswitch.xml ``fail_mode``).
* Patch ports (``type=patch options:peer=``): what is output to one enters the peer's
  bridge at once, in the same datapath pass (``patch_port_output``), at most
  ``MAX_PATCH_DEPTH`` bridges deep (a recorded ``xlate_recursion_too_deep`` drop).
* ``xlate()`` is ``ofproto/trace``: ``Xlate.outputs`` are (port, VLAN on the wire or None)
  in output order, a port of a patch peer's bridge written ``BRIDGE:PORT``, the LOCAL port
  by the bridge's name; ``Xlate.drop`` is OVS's own sentence (the trace note may add why).

Limits: one table (no ``resubmit``/``goto_table``, ``learn``, conntrack, ``set_field``
beyond the VLAN id); no OVS bonds (``bond_mode``, SLB and its gratuitous-ARP lock of
``is_mac_learning_update_needed``), tunnels, mirrors, STP/RSTP, multicast snooping,
``mac-table-size`` eviction (8192 entries), ``dot1q-tunnel`` mode, flood/no-flood port
flags, QinQ, priority tags/PCP, static FDB entries, ``other_config:forward-bpdu`` as a
topology key, OpenFlow port numbers (flows name ports); the bridge's LOCAL internal port is
a port named like the bridge that receives floods and has no IP stack of its own; port
``other_config``/``external_ids``/interface options other than ``peer`` are not modelled.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from vnetlab.devices.fdb import DEFAULT_AGEING, Fdb, FdbEntry
from vnetlab.devices.netdev import NetDevice
from vnetlab.net.addr import Mac, is_multicast, mac_str, parse_mac
from vnetlab.net.frame import Frame, with_vlan
from vnetlab.sim.sim import Sim
from vnetlab.sim.time import S, Time, format_duration
from vnetlab.sim.trace import Action, DropReason

MODES = ("access", "trunk", "native-tagged", "native-untagged")
VLAN_NONE = 0xFFFF                  # dl_vlan=0xffff: no 802.1Q header
MAX_PATCH_DEPTH = 8                 # patch hops in one pass (OVS: MAX_DEPTH 64 resubmits)

# lib/packets.c eth_addr_is_reserved(): STP, pause, LACP, 802.1X, LLDP (01:80:c2:00:00:0x),
# Extreme EDP/EAPS, Cisco ISL/CDP/VTP/PVST+/UplinkFast and CFM. NORMAL drops frames to
# these unless other_config:forward-bpdu=true (is_admissible).
RESERVED_MACS = frozenset([*range(0x0180C2000000, 0x0180C2000010),
                           0x00E02B000000, 0x00E02B000004, 0x00E02B000006,
                           0x01000C000000, 0x01000CCCCCCC, 0x01000CCCCCCD, 0x01000CCDCDCD,
                           *range(0x01000CCCCCC0, 0x01000CCCCCC8)])


def normalize_idle_time(ageing: Time) -> Time:
    """``mac-learning.c :: normalize_idle_time``: ``mac-aging-time`` is forced into
    15-3600 s (vswitch.xml: "forced into a reasonable range")."""
    return min(max(ageing, 15 * S), 3600 * S)


@dataclass(frozen=True, slots=True)
class PortVlan:
    """The Port columns ``vlan_mode``, ``tag``, ``trunks`` as written."""

    mode: str | None = None
    tag: int | None = None
    trunks: frozenset[int] = frozenset()

    def effective(self) -> tuple[str, int, frozenset[int] | None]:
        """``bundle_set``: (mode, the bundle's VLAN, the trunked VLANs; None = all)."""
        mode = self.mode or ("access" if self.tag is not None else "trunk")
        if mode == "trunk":
            return mode, -1, self.trunks or None
        vlan = self.tag if self.tag is not None and 0 <= self.tag <= 4095 else 0
        if mode == "access":
            return mode, vlan, None
        if vlan == 0 or (self.trunks and vlan in self.trunks and 0 not in self.trunks):
            return mode, vlan, self.trunks or None
        trunks = set(self.trunks) if self.trunks else set(range(4096))
        trunks.add(vlan)                    # force trunking the native VLAN, never VLAN 0
        trunks.discard(0)
        return mode, vlan, frozenset(trunks)

    def describe(self) -> str:
        mode, vlan, trunks = self.effective()
        if mode == "access":
            return f"access, tag {vlan}"
        span = "all VLANs" if trunks is None else _vlans(trunks)
        if mode == "trunk":
            return f"trunk of {span}"
        return f"{mode} (native VLAN {vlan}), trunk of {span}"


def _vlans(vids: frozenset[int]) -> str:
    if len(vids) > 8:
        return f"{len(vids)} VLANs"
    return "VLAN " + ",".join(str(v) for v in sorted(vids)) if vids else "no VLAN"


class OvsPort:
    """A Port (one Interface: no bonds) of an OVS bridge."""

    __slots__ = ("bridge", "dev", "mode", "name", "ofport", "peer", "trunks", "vlan",
                 "vlan_cfg")

    def __init__(self, bridge: OvsBridge, name: str, dev: NetDevice | None, vlan: PortVlan,
                 ofport: int) -> None:
        self.bridge = bridge
        self.name = name
        self.dev = dev                              # None: a patch port or LOCAL
        self.peer: OvsPort | None = None            # a patch port's peer
        self.ofport = ofport
        self.set_vlan(vlan)

    def set_vlan(self, vlan: PortVlan) -> None:
        self.vlan_cfg = vlan
        self.mode, self.vlan, self.trunks = vlan.effective()

    def trunks_vlan(self, vid: int) -> bool:
        """``xbundle_trunks_vlan``."""
        return self.mode != "access" and (self.trunks is None or vid in self.trunks)

    def includes_vlan(self, vid: int) -> bool:
        """``xbundle_includes_vlan``."""
        return vid == self.vlan if self.mode == "access" else self.trunks_vlan(vid)


# -- OpenFlow table 0 ---------------------------------------------------------------------

class FlowError(ValueError):
    """A flow that ``ovs-ofctl add-flow`` would refuse (or vnetlab cannot run)."""


@dataclass(frozen=True, slots=True)
class Flow:
    priority: int
    match: tuple[tuple[str, Any], ...]              # (field, value), fields as written
    actions: tuple[tuple[str, Any], ...]            # (action, argument)
    text: str
    order: int = 0

    def matches(self, in_port: str, frame: Frame) -> bool:
        for name, value in self.match:
            if name == "in_port" and in_port != value:
                return False
            if name == "dl_vlan" and (frame.vlan or VLAN_NONE) != value:
                return False
            if name == "dl_src" and frame.src != value:
                return False
            if name == "dl_dst" and frame.dst != value:
                return False
            if name == "dl_type" and frame.ethertype != value:
                return False
        return True


_MATCH_FIELDS = ("in_port", "dl_vlan", "dl_src", "dl_dst", "dl_type")
_DEFAULT_FLOW = "priority=0,actions=NORMAL"


def _split_top(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@functools.lru_cache(maxsize=4096)
def parse_flow(text: str, order: int = 0, *, strict_priority: bool = True) -> Flow:
    """One flow in ``ovs-ofctl add-flow`` syntax, limited to the fields and actions this
    model runs (the module docstring)."""
    body = text.strip()
    head, sep, actions_text = body.partition("actions=")
    if not sep and strict_priority:
        raise FlowError(f"flow '{text}': no actions= (write e.g. "
                        "'priority=2,in_port=qvo1,actions=drop')")
    priority = 32768                                 # OFP_DEFAULT_PRIORITY
    match: list[tuple[str, Any]] = []
    for part in _split_top(head):
        key, eq, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if key == "priority" and eq:
            priority = _int(text, key, value, 0, 65535)
        elif key in ("table", "cookie") and eq:
            if key == "table" and _int(text, key, value, 0, 254) != 0:
                raise FlowError(f"flow '{text}': only table 0 is modelled")
        elif key == "in_port" and eq and value:
            match.append((key, value))
        elif key == "dl_vlan" and eq:
            match.append((key, _int(text, key, value, 0, 0xFFFF)))
        elif key in ("dl_src", "dl_dst") and eq:
            try:
                match.append((key, parse_mac(value)))
            except ValueError:
                raise FlowError(f"flow '{text}': {key}={value} is not a MAC address") from None
        elif key == "dl_type" and eq:
            match.append((key, _int(text, key, value, 0, 0xFFFF)))
        elif key in ("arp", "rarp", "ip"):
            match.append(("dl_type", {"arp": 0x0806, "rarp": 0x8035, "ip": 0x0800}[key]))
        else:
            raise FlowError(f"flow '{text}': unknown or unsupported match field '{part}' "
                            f"(modelled: priority, {', '.join(_MATCH_FIELDS)}, arp, rarp, ip)")
    actions: list[tuple[str, Any]] = []
    for part in _split_top(actions_text):
        name, colon, arg = part.partition(":")
        lowered = name.strip().lower()
        if lowered == "normal" and not colon:
            actions.append(("NORMAL", None))
        elif lowered == "drop" and not colon:
            continue
        elif lowered == "strip_vlan" and not colon:
            actions.append(("strip_vlan", None))
        elif lowered == "mod_vlan_vid" and colon:
            actions.append(("mod_vlan_vid", _int(text, "mod_vlan_vid", arg, 0, 4095)))
        elif lowered == "output" and colon and arg.strip():
            actions.append(("output", arg.strip()))
        else:
            raise FlowError(f"flow '{text}': unknown or unsupported action '{part}' "
                            "(modelled: NORMAL, drop, mod_vlan_vid:N, strip_vlan, output:PORT)")
    return Flow(priority, tuple(match), tuple(actions), body, order)


def _int(text: str, key: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value, 0)
    except ValueError:
        raise FlowError(f"flow '{text}': {key}={value} is not a number") from None
    if not low <= number <= high:
        raise FlowError(f"flow '{text}': {key}={value} is outside {low}-{high}")
    return number


# -- the bridge -----------------------------------------------------------------------------

class MacTable(Fdb["OvsPort"]):
    """``struct mac_learning`` on the lab's FDB: key (MAC, VLAN), no local entries, an entry
    expires ``mac-aging-time`` after its MAC was last seen as a source
    (``mac_learning_run``: ``time_now() >= e->expires``)."""

    def _expire(self, entry: FdbEntry[OvsPort], cause: int) -> None:
        del self.entries[entry.mac | (entry.vid << 48)]
        self.sim.step(self.where, self.port_name(entry.port), Action.AGE, 0,
                      f"{mac_str(entry.mac)} aged out of {self.port_name(entry.port)} "
                      f"(not seen as a source for {format_duration(self.ageing_time)})",
                      "mac_learning_run", "S2", cause=cause, ref=entry.step)


@dataclass(slots=True)
class Xlate:
    """What one frame entering ``in_port`` does (``ofproto/trace``): the final outputs
    as (port, VLAN on the wire or None when untagged), ports of a patch peer's bridge
    written ``bridge:port``; ``drop`` OVS's reason when nothing is output."""

    outputs: list[tuple[str, int | None]] = field(default_factory=list)
    drop: str | None = None
    notes: list[str] = field(default_factory=list)


class OvsBridge(NetDevice):
    """An OVS bridge (``type: ovs-bridge``) in the datapath of one host."""

    kind = "ovs-bridge"

    def __init__(self, sim: Sim, node: str, name: str, mac: Mac | None = None, *,
                 ageing_time: Time = DEFAULT_AGEING, fail_mode: str | None = None) -> None:
        super().__init__(sim, node, name, mac or 0)
        self.ports: dict[str, OvsPort] = {}
        self.port_of: dict[NetDevice, OvsPort] = {}
        self.fdb: Fdb[OvsPort] = MacTable(sim, self.where, normalize_idle_time(ageing_time),
                                          fn="update_learning_table", rule="S1")
        self.fdb.show_vid = True
        self.forward_bpdu = False               # other_config:forward-bpdu (is_admissible)
        self._ofport = 0
        self._flow_order = 0
        self._flows: list[Flow] = []
        self._by_port: dict[str, list[Flow]] = {}      # in_port -> the flows it can match
        if fail_mode != "secure":               # secure, no controller: no flow of its own
            self.add_flow(_DEFAULT_FLOW, 0, record=False)
        self.add_local_port()

    # -- configuration (ovs-vsctl / ovs-ofctl) -------------------------------------------
    def add_local_port(self) -> OvsPort:
        """The bridge's LOCAL internal port (``ofport`` 65534), named like the bridge."""
        port = OvsPort(self, self.name, None, PortVlan(), 0xFFFE)
        self.ports[self.name] = port
        return port

    def add_port(self, dev: NetDevice | None, name: str | None = None,
                 vlan: PortVlan | None = None) -> OvsPort:
        """``ovs-vsctl add-port BR NAME [tag=..]``; ``dev`` None: a patch port."""
        port_name = name or (dev.name if dev is not None else "")
        if port_name in self.ports:
            raise ValueError(f"{port_name} is already a port of {self.name}")
        self._ofport += 1
        port = OvsPort(self, port_name, dev, vlan or PortVlan(), self._ofport)
        self.ports[port_name] = port
        if dev is not None:
            self.port_of[dev] = port
            dev.upper = self
            dev.rx_handler = self.handle_frame
        return port

    def del_port(self, name: str, cause: int = 0) -> None:
        """``ovs-vsctl del-port``: the port and its MAC entries go."""
        port = self.ports.pop(name)
        if port.dev is not None:
            self.port_of.pop(port.dev, None)
            if port.dev.upper is self:
                port.dev.upper = None
                port.dev.rx_handler = None
        gone = [k for k, e in self.fdb.entries.items() if e.port is port]
        for key in gone:
            del self.fdb.entries[key]
        for other in self.vswitchd():           # bundle_flush_macs(bundle, all_ofprotos=true)
            if other is not self:
                for key in gone:
                    other.fdb.entries.pop(key, None)
        self.sim.step(self.where, name, Action.LINK, 0,
                      f"port {name} deleted from {self.name}"
                      + (f" with its {len(gone)} MAC entr{'y' if len(gone) == 1 else 'ies'}"
                         if gone else ""), "bridge_reconfigure", "O3", cause=cause)

    def set_port_vlan(self, name: str, vlan: PortVlan, cause: int = 0) -> None:
        """``ovs-vsctl set Port NAME tag=.. [vlan_mode=..] [trunks=..]``: a change of the
        port's VLAN mode, VLAN or trunks flushes the MAC entries learned on it (``bundle_set``
        with ``need_flush`` -> ``bundle_flush_macs``); the same settings flush nothing."""
        port = self.ports[name]
        before = port.vlan_cfg.describe()
        old = (port.mode, port.vlan, port.trunks)
        port.set_vlan(vlan)
        if (port.mode, port.vlan, port.trunks) != old:
            for key in [k for k, e in self.fdb.entries.items() if e.port is port]:
                del self.fdb.entries[key]
        self.sim.step(self.where, name, Action.NOTE, 0,
                      f"port {name}: {before} -> {vlan.describe()}", "bundle_set", "O2",
                      cause=cause)

    def add_flow(self, text: str, cause: int = 0, *, record: bool = True) -> Flow:
        """``ovs-ofctl add-flow``: a flow with the same match and priority is replaced
        (the order the fields are written in does not matter); ``LOCAL`` names the
        bridge's internal port."""
        self._flow_order += 1
        flow = self._local(parse_flow(text, self._flow_order))
        same = frozenset(flow.match)
        self.flows = sorted([f for f in self.flows if not (f.priority == flow.priority
                                                          and frozenset(f.match) == same)]
                            + [flow], key=lambda f: (-f.priority, f.order))
        if record:
            self.sim.step(self.where, "", Action.NOTE, 0, f"flow added: {flow.text}",
                          "ovs-ofctl add-flow", "O2", cause=cause)
        return flow

    def _local(self, flow: Flow) -> Flow:
        """``in_port=LOCAL`` / ``output:LOCAL``: the bridge's own port (OFPP_LOCAL)."""
        def fix(items: tuple[tuple[str, Any], ...], key: str) -> tuple[tuple[str, Any], ...]:
            return tuple((k, self.name if k == key and v == "LOCAL" else v) for k, v in items)
        return Flow(flow.priority, fix(flow.match, "in_port"), fix(flow.actions, "output"),
                    flow.text, flow.order)

    def del_flows(self, text: str, cause: int = 0) -> int:
        """``ovs-ofctl del-flows BR MATCH`` (not strict: every flow whose match includes
        the given fields with those values, whatever its priority; no match: every flow)."""
        wanted = set(self._local(parse_flow(
            text + ",actions=drop" if "actions=" not in text else text,
            strict_priority=False)).match)
        kept = [f for f in self.flows if not wanted <= set(f.match)]
        removed = len(self.flows) - len(kept)
        self.flows = kept
        self.sim.step(self.where, "", Action.NOTE, 0,
                      f"flows deleted ({removed}): {text}", "ovs-ofctl del-flows", "O2",
                      cause=cause)
        return removed

    def fdb_show(self) -> list[tuple[str, int, str, int]]:
        """``ovs-appctl fdb/show``: (port, VLAN, MAC, age in seconds)."""
        now = self.sim.now
        return [(e.port.name, e.vid, mac_str(e.mac), (now - e.updated) // 1_000_000_000)
                for e in self.fdb.live()]

    def fdb_flush(self) -> None:
        """``ovs-appctl fdb/flush BR``."""
        self.fdb.entries.clear()

    def vswitchd(self) -> list[OvsBridge]:
        """The bridges of this ovs-vswitchd that the model knows of: those reachable
        through patch ports (on a Neutron host: br-int and every bridge patched to it)."""
        seen: list[OvsBridge] = [self]
        for bridge in seen:
            for port in bridge.ports.values():
                if port.peer is not None and port.peer.bridge not in seen:
                    seen.append(port.peer.bridge)
        return seen

    # -- the datapath ----------------------------------------------------------------------
    def handle_frame(self, dev: NetDevice, frame: Frame, cause: int, hops: int) -> None:
        port = self.port_of.get(dev)
        if port is None:
            return
        self._process(port, frame, cause, True, None, 0, hops)

    @property
    def flows(self) -> list[Flow]:
        """Table 0 in lookup order (priority, then the order added)."""
        return self._flows

    @flows.setter
    def flows(self, flows: list[Flow]) -> None:
        self._flows = flows
        self._by_port = {}

    def _candidates(self, in_port: str) -> list[Flow]:
        """The flows an ``in_port`` can match, in lookup order (cached per port: the
        classifier's work done once per table change)."""
        found = self._by_port.get(in_port)
        if found is None:
            found = self._by_port[in_port] = [
                f for f in self._flows
                if all(value == in_port for name, value in f.match if name == "in_port")]
        return found

    def _process(self, port: OvsPort, frame: Frame, cause: int, learn: bool,
                 xlate: Xlate | None, depth: int = 0, hops: int = 0) -> None:
        """Table 0, then its actions; patch outputs continue in the peer's bridge."""
        sim = self.sim
        flow = next((f for f in self._candidates(port.name) if f.matches(port.name, frame)),
                    None)
        if flow is None:                                  # table miss: no default flow left
            self._drop(xlate, frame, cause, port.name, DropReason.FLOW_DROP,
                       "no flow matched (table miss): dropping", "xlate_table_action")
            return
        if sim.tracing and xlate is None and flow.text != _DEFAULT_FLOW:
            cause = sim.step(self.where, port.name, Action.NOTE, frame.uid,
                             f"flow priority={flow.priority}: {flow.text}", "rule_dpif_lookup",
                             cause=cause)
        if xlate is not None:
            xlate.notes.append(f"{self.name}: {flow.text}")
        if not flow.actions:
            self._drop(xlate, frame, cause, port.name, DropReason.FLOW_DROP,
                       f"flow {flow.text} drops it (no actions)", "xlate_actions", "O2")
            return
        for action, arg in flow.actions:
            if action == "mod_vlan_vid":
                frame = with_vlan(frame, arg)
            elif action == "strip_vlan":
                frame = with_vlan(frame, 0)
            elif action == "output":
                out = self.ports.get(arg)
                if out is not None and out is not port:
                    self._emit(out, frame, cause, learn, xlate, depth, hops)
            else:
                self._normal(port, frame, cause, learn, xlate, depth, hops)

    def _emit(self, out: OvsPort, frame: Frame, cause: int, learn: bool, xlate: Xlate | None,
              depth: int, hops: int) -> None:
        peer = out.peer
        if peer is not None:                              # patch_port_output
            if depth >= MAX_PATCH_DEPTH:
                self._drop(xlate, frame, cause, out.name, DropReason.LOOP_DETECTED,
                           f"over max translation depth: {depth} patch ports in one pass "
                           f"(a loop of patch ports through {out.name})",
                           "xlate_recursion_too_deep")
                return
            peer.bridge._process(peer, frame, cause, learn, xlate, depth + 1, hops)
            return
        if xlate is not None:
            name = out.name if depth == 0 else f"{self.name}:{out.name}"
            xlate.outputs.append((name, frame.vlan or None))
            return
        if out.dev is not None:
            out.dev.xmit(frame, cause, hops)

    def _normal(self, port: OvsPort, frame: Frame, cause: int, learn: bool,
                xlate: Xlate | None, depth: int, hops: int) -> None:
        """``xlate_normal``."""
        sim = self.sim
        vid = frame.vlan
        if not self._input_vid_is_valid(port, vid, frame, cause, xlate):
            return
        # xvlan_input_translate
        if port.mode == "access" or (port.mode.startswith("native") and not vid):
            vid = port.vlan
        if frame.dst in RESERVED_MACS and not self.forward_bpdu:     # is_admissible
            self._drop(xlate, frame, cause, port.name, DropReason.LINK_LOCAL,
                       f"packet has reserved destination MAC {mac_str(frame.dst)}, dropping "
                       "(forward-bpdu is off)", "is_admissible", "S1",
                       ovs="packet has reserved destination MAC, dropping")
            return
        if learn and not is_multicast(frame.src):        # update_learning_table
            self.fdb.update(frame.src, vid, port, port.name, frame.uid, cause)
        entry: FdbEntry[OvsPort] | None = None
        if not is_multicast(frame.dst):
            entry = self.fdb.find(frame.dst, vid, cause)
        if entry is not None and entry.port.name in self.ports:
            out = entry.port
            if out is port:
                self._drop(xlate, frame, cause, port.name, DropReason.SAME_PORT,
                           f"learned port is input port, dropping ({mac_str(frame.dst)} on "
                           f"{port.name} in VLAN {vid})", "xlate_normal", "S1", ref=entry.step,
                           ovs="learned port is input port, dropping")
                return
            if sim.tracing and xlate is None:
                cause = sim.step(self.where, out.name, Action.FORWARD, frame.uid,
                                 f"forwarding to learned port {out.name} ({mac_str(frame.dst)} "
                                 f"in VLAN {vid})", "xlate_normal", "S1", cause=cause,
                                 ref=entry.step)
            self._output_normal(out, frame, vid, cause, learn, xlate, depth, hops)
            return
        targets = [p for p in self.ports.values() if p is not port and p.includes_vlan(vid)]
        if sim.tracing and xlate is None:
            what = "broadcast" if frame.dst == 0xFFFF_FFFF_FFFF else (
                "multicast" if is_multicast(frame.dst) else "unknown unicast")
            cause = sim.step(self.where, port.name, Action.FLOOD, frame.uid,
                             f"no learned MAC for {what} {mac_str(frame.dst)} in VLAN {vid}, "
                             f"flooding to {', '.join(p.name for p in targets) or 'no port'}",
                             "xlate_normal_flood", "S1", cause=cause)
        if xlate is None and not is_multicast(frame.dst) \
                and all(p.name == self.name for p in targets):
            self._drop(xlate, frame, cause, port.name, DropReason.FLOOD_NO_PORT,
                       f"unknown unicast {mac_str(frame.dst)} flooded to no port: no other "
                       f"port of {self.name} is in VLAN {vid}", "xlate_normal_flood", "S1")
            return
        for out in targets:
            self._output_normal(out, frame, vid, cause, learn, xlate, depth, hops)

    def _output_normal(self, out: OvsPort, frame: Frame, vid: int, cause: int, learn: bool,
                       xlate: Xlate | None, depth: int, hops: int) -> None:
        """``output_normal`` -> ``xvlan_output_translate``."""
        strip = out.mode == "access" or (out.mode == "native-untagged" and vid == out.vlan)
        wire = 0 if strip else vid
        if wire != frame.vlan:
            frame = with_vlan(frame, wire)
        self._emit(out, frame, cause, learn, xlate, depth, hops)

    def _input_vid_is_valid(self, port: OvsPort, vid: int, frame: Frame, cause: int,
                            xlate: Xlate | None) -> bool:
        """``input_vid_is_valid`` (VLAN 0: no 802.1Q header), O1."""
        if port.mode == "access":
            if vid:
                self._drop(xlate, frame, cause, port.name, DropReason.VLAN_INGRESS,
                           f"dropping VLAN {vid} tagged packet received on port {port.name} "
                           f"configured as VLAN {port.vlan} access port", "input_vid_is_valid",
                           "O1")
                return False
            return True
        if port.mode.startswith("native") and not vid:
            return True
        if not port.trunks_vlan(vid):
            ovs = (f"dropping VLAN {vid} packet received on port {port.name} not "
                   f"configured for trunking VLAN {vid}")
            dead = port.trunks == frozenset({4095})
            self._drop(xlate, frame, cause, port.name, DropReason.VLAN_INGRESS,
                       ovs + (" (the dead VLAN: the port is not bound yet)" if dead else ""),
                       "input_vid_is_valid", "O1", ovs=ovs)
            return False
        return True

    def _drop(self, xlate: Xlate | None, frame: Frame, cause: int, port: str,
              reason: DropReason, note: str, fn: str, rule: str = "", ref: int = 0,
              ovs: str | None = None) -> None:
        """A drop where it is decided; ``ovs`` is OVS's own wording for ``Xlate.drop``
        when the trace note says more."""
        if xlate is not None:
            xlate.drop = xlate.drop or ovs or note
            return
        self.drop(frame, cause, reason, note, fn, rule, port=port, ref=ref)

    # -- ofproto/trace ---------------------------------------------------------------------
    def xlate(self, in_port: str, frame: Frame, *, learn: bool = True) -> Xlate:
        """``ovs-appctl ofproto/trace BR in_port=..,dl_src=..,dl_dst=..[,dl_vlan=..]
        [-generate]``: ``learn`` is ``-generate`` (side effects: MAC learning)."""
        port = self.ports[in_port]
        result = Xlate()
        self._process(port, frame, 0, learn, result)
        if not result.outputs and result.drop is None:
            result.drop = "no output"
        return result


def connect_patch(a: OvsPort, b: OvsPort) -> None:
    """``options:peer`` on both Interfaces of a patch pair."""
    a.peer, b.peer = b, a
