"""The trace: every decision the devices make, as a causal tree of steps.

A step is recorded where the code decides, negative decisions included (a
skipped flood port, a drop), with the reference function it mirrors and the
semantics rule id. ``cause`` links a step to the step that produced the frame
or event it acts on; ``ref`` links it to the step that established the state
it used (for a forwarding decision, the step that learned the FDB entry).
Following ``cause`` walks a frame back to where it was sent; following
``ref`` walks a decision back to the frame that poisoned a table.

Levels (ARCHITECTURE decision 7): ``full`` keeps every step, ``summary``
keeps table changes, drops and deliveries, ``off`` keeps none. Counters
(frames delivered over links, drops by reason) are kept at every level.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    TRANSMIT = "transmit"      # a frame leaves a device onto a link
    RECEIVE = "receive"        # a frame arrives from a link
    FORWARD = "forward"        # a bridge/switch/aggregate picks one egress port
    FLOOD = "flood"            # a bridge/switch floods
    SKIP = "skip"              # a port a flood did not go to, with the reason
    DELIVER = "deliver"        # handed to a local IP stack / endpoint
    LEARN = "learn"            # new FDB entry
    MOVE = "move"              # FDB entry moved to another port
    AGE = "age"                # FDB entry expired
    FLUSH = "flush"            # FDB entries removed (port down)
    DROP = "drop"
    NEIGH = "neigh"            # neighbour (ARP cache) state change
    PING = "ping"              # ping application events
    LINK = "link"              # carrier / admin state changes
    NOTE = "note"              # configuration facts worth showing (warnings)
    DHCP = "dhcp"              # a DHCP client, server or relay decision (semantics §7)


class DropReason(StrEnum):
    """Why a frame went no further. Names follow the kernel's skb_drop_reason
    where one exists (include/net/dropreason-core.h)."""

    LOOP_DETECTED = "loop-detected"
    SAME_PORT = "fdb-says-ingress-port"            # br_forward: to == ingress port
    PORT_STATE = "port-not-forwarding"             # BR_STATE != FORWARDING
    ISOLATED = "port-isolated"                     # both ports isolated (br_skb_isolated)
    INVALID_SRC_MAC = "invalid-source-mac"         # MAC_INVALID_SOURCE
    NO_CARRIER = "no-carrier"                      # link down / device down
    CABLE_FAULT = "cable-fault"                    # carrier up, frames lost (soft failure)
    INACTIVE_PORT = "inactive-port"                # RX_HANDLER_EXACT on a bond/team port
    NO_TX_PORT = "no-usable-port"                  # aggregate has no port to send on
    OTHERHOST = "not-for-this-host"                # PACKET_OTHERHOST at the IP stack
    LINK_LOCAL = "link-local-not-forwarded"        # 01:80:c2:00:00:0x
    NEIGH_FAILED = "neigh-failed"                  # ARP resolution failed, queue purged
    NO_ROUTE = "no-route"
    UNHANDLED = "unhandled-protocol"
    # physical switch (S4-S8); STP listening/learning uses PORT_STATE
    PORT_SUSPENDED = "lag-member-not-bundled"      # LACP waiting / suspend-individual (S4, S5)
    ERR_DISABLED = "port-err-disabled"             # mac-flap / port-security shutdown (S6, S7)
    PORT_SECURITY = "port-security-violation"      # restrict / protect / shutdown (S7)
    FLOOD_NO_PORT = "flood-found-no-port"          # br_flood: no port took an unknown unicast
    VM_NOT_RUNNING = "vm-not-running"              # incoming migration: QEMU delivers nothing
    FLOW_DROP = "openflow-drop"                    # OVS: a flow with no actions / table miss
    # VLANs (B17, S1, docs/models/vlan.md)
    VLAN_INGRESS = "vlan-ingress-filtered"         # br_allowed_ingress / switch ingress rules
    VLAN_EGRESS = "vlan-egress-filtered"           # br_allowed_egress / switch egress member set
    VLAN_NO_DEVICE = "vlan-no-device"              # __netif_receive_skb_core: tagged, no VLAN
                                                   #   device for the VID: PACKET_OTHERHOST
    # DHCP (D1-D12, docs/models/dhcp.md)
    NO_SOCKET = "no-socket"                        # __udp4_lib_rcv: SKB_DROP_REASON_NO_SOCKET
    DHCP_NO_ADDRESS = "dhcp-no-address"            # dnsmasq dhcp_reply: "no address available"
    DHCP_IGNORED = "dhcp-not-expected"             # a client discards a reply: wrong xid/state
                                                   #   (dhclient dhcpoffer, n-dhcp4 verify_incoming)
    # firewall, MTU, MAC conflicts (B22-B24, D8, B4.4/B7.3, docs/models/netfilter.md)
    NETFILTER = "netfilter-drop"                   # nf_hook_slow: NF_DROP (NETFILTER_DROP)
    PKT_TOO_BIG = "pkt-too-big"                    # is_skb_forwardable, br_nf_ip_fragment and
                                                   #   ip_fragment with DF (PKT_TOO_BIG)
    GIANT = "giant"                                # switch port: frame over its MTU (giants)
    FRAG_TIMEOUT = "frag-reasm-timeout"            # ip_expire (FRAG_REASM_TIMEOUT)
    OWN_ADDRESS = "dst-is-local-address"           # br_handle_frame_finish: BR_FDB_LOCAL dst
                                                   #   -> br_pass_frame_up, never br_forward
    # IP forwarding (routers, L3 switches: docs/models/l3-switch.md)
    TTL_EXPIRED = "ttl-expired"                    # ip_forward: ttl <= 1 -> too_many_hops
                                                   #   (SKB_DROP_REASON_IP_INHDR)
    ARP_GLEAN = "arp-glean-drop"                   # L3 switch: no ARP entry for the next hop,
                                                   #   request sent, packet dropped (glean)


# Actions a ``summary`` trace keeps.
SUMMARY_ACTIONS = frozenset({Action.LEARN, Action.MOVE, Action.AGE, Action.FLUSH, Action.DROP,
                             Action.DELIVER, Action.NEIGH, Action.PING, Action.LINK, Action.NOTE,
                             Action.DHCP})


@dataclass(slots=True)
class Step:
    id: int
    time: int
    where: str            # "kvm1/br1", "sw1", "vm1"
    port: str             # the port or device concerned, "" if none
    action: Action
    uid: int              # Frame.uid, 0 if no frame
    note: str             # human sentence in the manner of ofproto/trace
    fn: str               # reference function: "br_forward", "802.1Q 8.7"
    rule: str = ""        # semantics rule id: "B13"
    reason: DropReason | None = None
    cause: int = 0        # parent step in the causal tree (0: a root)
    ref: int = 0          # step that established the state this decision used
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "time_ns": self.time, "where": self.where, "port": self.port,
            "action": str(self.action), "uid": self.uid, "note": self.note, "fn": self.fn,
            "rule": self.rule,
        }
        if self.reason is not None:
            out["reason"] = str(self.reason)
        if self.cause:
            out["cause"] = self.cause
        if self.ref:
            out["ref"] = self.ref
        if self.data:
            out["data"] = self.data
        return out


class Trace:
    """Append-only list of steps; step ids are 1-based indexes (0 means none)."""

    def __init__(self, level: str = "full") -> None:
        if level not in ("full", "summary", "off"):
            raise ValueError(f"trace level must be full, summary or off, not {level!r}")
        self.level = level
        self.steps: list[Step] = []
        self.drops: Counter[str] = Counter()

    def get(self, step_id: int) -> Step | None:
        return self.steps[step_id - 1] if 0 < step_id <= len(self.steps) else None

    def chain(self, step_id: int) -> list[Step]:
        """The causal chain from the root down to ``step_id``."""
        out: list[Step] = []
        step = self.get(step_id)
        while step is not None:
            out.append(step)
            step = self.get(step.cause)
        out.reverse()
        return out
