"""The topology file, as typed values (the "spec" layer: no behaviour).

Hosts use nmstate's interface schema, VMs libvirt's ``<interface>``, and the
outside world (switches, routers, links) containerlab's shape; ``run:`` and
``expect:`` make a file a self-checking scenario. YAML keys are kebab-case
(``mac-address``); Python fields are snake_case. MACs and IPv4 addresses are
ints once loaded (see net.addr), durations integer nanoseconds.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator

from vnetlab.devices.bond import BondMode
from vnetlab.devices.switch import LagHash
from vnetlab.devices.team import TeamRunner
from vnetlab.devices.xmit_hash import XmitHashPolicy
from vnetlab.net.addr import netmask, parse_ip4, parse_ip4_prefix, parse_mac
from vnetlab.sim.time import parse_duration


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=_kebab, populate_by_name=True,
                              frozen=True, use_enum_values=False)


def _mac(value: object) -> int:
    if isinstance(value, str):
        return parse_mac(value)
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"{value} is a number, not a MAC address: a YAML 1.1 loader reads an "
                         "unquoted MAC as base 60; quote it or drop the %YAML 1.1 directive")
    raise ValueError(f"{value!r} is not a MAC address")


def _ip(value: object) -> int:
    if isinstance(value, str):
        return parse_ip4(value)
    raise ValueError(f"{value!r} is not an IPv4 address")


def _duration(value: object) -> int:
    return parse_duration(value)


def _seconds(value: object) -> int:
    """nmstate writes bridge timers as integer seconds; ``300`` and ``300s`` both work."""
    return parse_duration(value)


def _vlan_id(value: object) -> int:
    """An 802.1Q VID: 1-4094 (0 is a priority tag, 4095 reserved)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} is not a VLAN id")
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise ValueError(f"{value!r} is not a VLAN id")
        value = int(value)
    if not 1 <= value <= 4094:
        raise ValueError(f"VLAN id {value} is out of range 1-4094 (0 means a priority tag, "
                         "4095 is reserved: 802.1Q)")
    return value


Mac = Annotated[int, BeforeValidator(_mac)]
# ETH_MIN_MTU .. ETH_MAX_MTU (include/uapi/linux/if_ether.h)
Mtu = Annotated[int, Field(ge=68, le=65535)]
VlanId = Annotated[int, BeforeValidator(_vlan_id)]
Ip = Annotated[int, BeforeValidator(_ip)]
Duration = Annotated[int, BeforeValidator(_duration)]
Seconds = Annotated[int, BeforeValidator(_seconds)]


def _alias(data: Any, canonical: str, *aliases: str) -> Any:
    """Accept nmstate's alternative spellings of a key (``ports`` for ``port``...)."""
    if isinstance(data, dict) and canonical not in data:
        for alias in aliases:
            if alias in data:
                return {(canonical if k == alias else k): v for k, v in data.items()}
    return data


def _bond_mode(value: object) -> object:
    aliases = {"0": "balance-rr", "1": "active-backup", "2": "balance-xor", "3": "broadcast",
               "4": "802.3ad", "5": "balance-tlb", "6": "balance-alb", "lacp": "802.3ad"}
    return aliases.get(str(value), value) if not isinstance(value, bool) else value


# -- host interfaces (nmstate) ----------------------------------------------------

class Ipv4Address(Model):
    ip: Ip
    prefix_length: Annotated[int, Field(ge=0, le=32)]


def _ipv4_shorthand(value: object) -> object:
    """``ipv4: 192.168.10.254/24`` is shorthand for nmstate's long form."""
    if isinstance(value, str):
        ip, plen = parse_ip4_prefix(value)
        return {"enabled": True, "address": [{"ip": value.partition("/")[0],
                                              "prefix-length": plen}]} if ip or plen else value
    return value


# -- DHCP (semantics §7, docs/models/dhcp.md) ----------------------------------------

DhcpClientName = Literal["networkmanager", "dhclient", "systemd-networkd", "windows", "ipxe"]


def _pool(value: object) -> object:
    """``192.168.10.100-192.168.10.199``: dnsmasq's dhcp-range start and end."""
    if not isinstance(value, str) or "-" not in value:
        raise ValueError(f"{value!r} is not a pool (write it START-END, like "
                         "192.168.10.100-192.168.10.199)")
    first, _, last = value.partition("-")
    start, end = parse_ip4(first), parse_ip4(last)
    if start > end:
        raise ValueError(f"pool '{value}': the start is after the end")
    return (start, end)


class DhcpReservationSpec(Model):
    """dnsmasq ``dhcp-host=MAC,IP``."""

    mac: Mac
    ip: Ip


class DhcpServerSpec(Model):
    """dnsmasq on this interface: one ``dhcp-range`` and its options."""

    pool: Annotated[tuple[int, int], BeforeValidator(_pool)]
    lease_time: Duration = 3_600_000_000_000        # dnsmasq's default: 1 h
    router: Ip | None = None                        # option 3; default: this interface
    netmask: Ip | None = None                       # a range served through a relay
    reservations: list[DhcpReservationSpec] = []
    ping_check: bool = True                         # dnsmasq's default; false: --no-ping


class DhcpRelaySpec(Model):
    """A BOOTP relay agent on a router interface (dhcrelay, RFC 1542)."""

    server: Ip


class DhcpClientOptions(Model):
    """Which DHCP client runs (with ``dhcp: true``) and its knobs."""

    client: DhcpClientName = "networkmanager"
    # NetworkManager
    dhcp_timeout: Duration | None = None            # ipv4.dhcp-timeout (45 s)
    autoconnect_retries: Annotated[int, Field(ge=0, le=1000)] | None = None   # 4; 0 = forever
    dad_timeout: Duration | None = None             # ipv4.dad-timeout (200 ms)
    # dhclient.conf (seconds) and dhclient -1
    timeout: Seconds | None = None
    retry: Seconds | None = None
    select_timeout: Seconds | None = None
    reboot: Seconds | None = None
    backoff_cutoff: Seconds | None = None
    initial_interval: Seconds | None = None
    one_try: bool | None = None


class Ipv4(DhcpClientOptions):
    enabled: bool = True
    address: list[Ipv4Address] = []
    dhcp: bool = False
    gateway: Ip | None = None       # vnetlab shorthand for a default route


class ArpOptions(Model):
    """vnetlab extension: neighbour-table knobs (net.ipv4.neigh.* sysctls)."""

    learn_from_request: bool = True
    base_reachable_time: Duration | None = None
    retrans_time: Duration | None = None


class BaseInterface(Model):
    name: str
    state: Literal["up", "down"] = "up"
    mac_address: Mac | None = None
    ipv4: Annotated[Ipv4 | None, BeforeValidator(_ipv4_shorthand)] = None
    arp: ArpOptions | None = None
    mtu: Mtu | None = None              # nmstate ``mtu`` (ip link set mtu); default 1500
    dhcp_server: DhcpServerSpec | None = None   # dnsmasq on this interface (vnetlab)
    # nmstate keys accepted and reported as not modelled
    description: str | None = None
    ipv6: Any = None
    lldp: Any = None
    ethtool: Any = None
    controller: str | None = None
    profile_name: str | None = None
    accept_all_mac_addresses: bool | None = None


class EthernetInterface(BaseInterface):
    type: Literal["ethernet"]
    ethernet: Any = None


class StpOptions(Model):
    enabled: bool = True                # NetworkManager's default (B21)
    forward_delay: Seconds = 15_000_000_000
    hello_time: Seconds | None = None
    max_age: Seconds | None = None
    priority: int | None = None


def _default_pvid(value: object) -> int:
    """``vlan-default-pvid``: a VLAN id, or 0 for none (IFLA_BR_VLAN_DEFAULT_PVID)."""
    if value in (0, "0", "none"):
        return 0
    try:
        return _vlan_id(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a default PVID (0 for none, or a VLAN id "
                         "1-4094)") from None


def _nm_bridge_vlan(value: object) -> object:
    """NetworkManager's ``bridge.vlans`` syntax: ``"100"``, ``"100 pvid untagged"``,
    ``"200-210"``; a number stands for itself."""
    if isinstance(value, int) and not isinstance(value, bool):
        return {"vid": value}
    if not isinstance(value, str):
        return value
    words = value.split()
    if not words or any(w not in ("pvid", "untagged") for w in words[1:]):
        raise ValueError(f"{value!r} is not a bridge VLAN ('VID[-VID] [pvid] [untagged]', "
                         "as NetworkManager's bridge.vlans)")
    first, _, last = words[0].partition("-")
    return {"vid": first, "vid-end": last or None, "pvid": "pvid" in words[1:],
            "untagged": "untagged" in words[1:]}


class BridgeVlanSpec(Model):
    """One entry of the bridge device's own VLANs (``bridge vlan add ... self``)."""

    vid: VlanId
    vid_end: VlanId | None = None
    pvid: bool = False
    untagged: bool = False

    @model_validator(mode="after")
    def _range(self) -> BridgeVlanSpec:
        if self.vid_end is not None and self.vid_end < self.vid:
            raise ValueError(f"VLAN range {self.vid}-{self.vid_end}: the end is below the start")
        if self.pvid and self.vid_end is not None and self.vid_end != self.vid:
            raise ValueError("a PVID is one VLAN, not a range")
        return self


class BridgeOptions(Model):
    mac_ageing_time: Seconds = 300_000_000_000
    stp: StpOptions = StpOptions()
    # VLAN filtering (B16, B17): NetworkManager's bridge.vlan-filtering,
    # bridge.vlan-default-pvid and bridge.vlans; None: on when a port has ``vlan:``
    # (what nmstate does)
    vlan_filtering: bool | None = None
    vlan_default_pvid: Annotated[int, BeforeValidator(_default_pvid)] = 1
    vlans: list[Annotated[BridgeVlanSpec, BeforeValidator(_nm_bridge_vlan)]] = []
    multicast_snooping: bool | None = None
    group_forward_mask: int | None = None
    group_fwd_mask: int | None = None
    vlan_protocol: str | None = None
    hash_max: int | None = None


class VlanRangeSpec(Model):
    min: VlanId
    max: VlanId

    @model_validator(mode="after")
    def _ordered(self) -> VlanRangeSpec:
        if self.min > self.max:
            raise ValueError(f"id-range min {self.min} is greater than max {self.max}")
        return self


class TrunkTagSpec(Model):
    """nmstate ``trunk-tags`` item: ``{id: N}`` or ``{id-range: {min: A, max: B}}``."""

    id: VlanId | None = None
    id_range: VlanRangeSpec | None = None

    @model_validator(mode="after")
    def _one(self) -> TrunkTagSpec:
        if (self.id is None) == (self.id_range is None):
            raise ValueError("a trunk tag needs exactly one of 'id' or 'id-range'")
        return self

    def vids(self) -> range:
        if self.id is not None:
            return range(self.id, self.id + 1)
        assert self.id_range is not None
        return range(self.id_range.min, self.id_range.max + 1)


class BridgePortVlanSpec(Model):
    """nmstate's bridge port ``vlan:`` (BridgePortVlanConfig): ``access`` with
    ``tag`` (the PVID, untagged), or ``trunk`` with ``trunk-tags`` (tagged) and,
    with ``enable-native``, ``tag`` as the native (PVID, untagged) VLAN."""

    mode: Literal["access", "trunk"] = "access"     # nmstate's default mode
    tag: VlanId | None = None
    enable_native: bool = False
    trunk_tags: list[TrunkTagSpec] = []

    @model_validator(mode="after")
    def _shape(self) -> BridgePortVlanSpec:
        if self.mode == "access":
            if self.tag is None:
                raise ValueError("an access port needs 'tag' (its VLAN)")
            if self.trunk_tags:
                raise ValueError("'trunk-tags' needs 'mode: trunk'")
            if self.enable_native:
                raise ValueError("'enable-native' needs 'mode: trunk'")
        else:
            if not self.trunk_tags:
                raise ValueError("a trunk port needs 'trunk-tags'")
            if self.enable_native and self.tag is None:
                raise ValueError("'enable-native: true' needs 'tag' (the native VLAN)")
            if self.tag is not None and not self.enable_native:
                raise ValueError("'tag' on a trunk port is its native VLAN: set "
                                 "'enable-native: true'")
        return self


class BridgePortSpec(Model):
    name: str
    # iproute2 ``bridge link set`` flags (vnetlab extension of nmstate, B15)
    learning: bool = True
    flood: bool = True
    mcast_flood: bool = True
    bcast_flood: bool = True
    hairpin: bool | None = None
    isolated: bool = False
    # nmstate's names
    stp_hairpin_mode: bool | None = None
    stp_path_cost: int | None = None
    stp_priority: int | None = None
    vlan: BridgePortVlanSpec | None = None


class BridgeConfig(Model):
    options: BridgeOptions = BridgeOptions()
    port: list[BridgePortSpec] = []

    @model_validator(mode="before")
    @classmethod
    def _ports_alias(cls, data: Any) -> Any:
        return _alias(data, "port", "ports")


class LinuxBridgeInterface(BaseInterface):
    type: Literal["linux-bridge"]
    bridge: BridgeConfig = BridgeConfig()


def _ms(value: object) -> int:
    """teamd and bonding write intervals as integer milliseconds."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} is not a number of milliseconds")
    number = int(value) if isinstance(value, int) or value.strip().isdigit() else None
    if number is None:
        return parse_duration(value)
    if number < 0:
        raise ValueError(f"{value!r} is negative")
    return number * 1_000_000


Millis = Annotated[int, BeforeValidator(_ms)]


class LinkWatchSpec(Model):
    """teamd ``link_watch`` (teamd.conf(5), T7): ethtool or arp_ping."""

    name: Literal["ethtool", "arp_ping", "nsna_ping"] = "ethtool"
    delay_up: Millis = 0
    delay_down: Millis = 0
    interval: Millis = 1_000_000_000
    init_wait: Millis = 0
    missed_max: Annotated[int, Field(ge=0, le=1000)] = 3
    source_host: Ip | None = None
    target_host: Ip | None = None
    validate_active: bool = False
    validate_inactive: bool = False
    send_always: bool = False
    vlanid: int | None = None

    @model_validator(mode="after")
    def _needs_target(self) -> LinkWatchSpec:
        if self.name == "arp_ping" and self.target_host is None:
            raise ValueError("link_watch arp_ping needs target_host")
        if self.name == "nsna_ping":
            raise ValueError("link_watch nsna_ping (IPv6) is not modelled; use ethtool or arp_ping")
        return self


def _one_watch(value: object) -> object:
    """teamd accepts one watcher or a list; vnetlab models one per port."""
    if isinstance(value, list):
        if len(value) != 1:
            raise ValueError("several link watchers on one port are not modelled; give one")
        return value[0]
    return value


OneWatch = Annotated[LinkWatchSpec | None, BeforeValidator(_one_watch)]


class TeamPortSpec(Model):
    name: str
    prio: int = 0
    sticky: bool = False
    lacp_prio: Annotated[int, Field(ge=0, le=65535)] = 255
    lacp_key: Annotated[int, Field(ge=0, le=65535)] = 0
    link_watch: OneWatch = None
    queue_id: int | None = None


def _tx_hash(value: object) -> object:
    from vnetlab.devices.xmit_hash import TEAMD_TX_HASH_FIELDS

    if isinstance(value, list):
        for item in value:
            if item not in TEAMD_TX_HASH_FIELDS:
                raise ValueError(f"unknown tx_hash field {item!r} (teamd knows: "
                                 f"{', '.join(TEAMD_TX_HASH_FIELDS)})")
    return value


class TxBalancerSpec(Model):
    name: Literal["basic"] = "basic"
    balancing_interval: int = 50


class TeamRunnerSpec(Model):
    name: TeamRunner = TeamRunner.ROUNDROBIN      # teamd's default (T1)
    hwaddr_policy: Literal["same_all", "by_active", "only_active"] = "same_all"
    tx_hash: Annotated[list[str], BeforeValidator(_tx_hash)] = ["eth", "ipv4", "ipv6"]
    tx_balancer: TxBalancerSpec | None = None
    # lacp runner (teamd.conf(5), T6)
    active: bool = True
    fast_rate: bool = False
    sys_prio: Annotated[int, Field(ge=0, le=65535)] = 65535
    min_ports: Annotated[int, Field(ge=1, le=255)] = 1
    agg_select_policy: Literal["lacp_prio", "lacp_prio_stable", "bandwidth", "count",
                               "port_config"] = "lacp_prio"


class NotifyPeersSpec(Model):
    count: Annotated[int, Field(ge=0, le=255)] | None = None
    interval: Millis = 0


class TeamConfig(Model):
    ports: list[TeamPortSpec] = []
    runner: TeamRunnerSpec = TeamRunnerSpec()
    link_watch: OneWatch = None
    notify_peers: NotifyPeersSpec = NotifyPeersSpec()
    mcast_rejoin: Any = None

    @model_validator(mode="before")
    @classmethod
    def _port_alias(cls, data: Any) -> Any:
        return _alias(data, "ports", "port")


class TeamInterface(BaseInterface):
    type: Literal["team"]
    team: TeamConfig


def _numbered(*names: str) -> Any:
    """Bonding options take a name or its number (``mode=4``, ``lacp_rate=1``)."""
    def convert(value: object) -> object:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            index = int(value)
            if 0 <= index < len(names):
                return names[index]
            raise ValueError(f"{value} is not one of 0-{len(names) - 1} ({', '.join(names)})")
        return value
    return BeforeValidator(convert)


def _on_off(value: object) -> object:
    if isinstance(value, str) and value.lower() in ("on", "off", "0", "1"):
        return value.lower() in ("on", "1")
    return value


def _targets(value: object) -> object:
    """``arp_ip_target`` as a list or the kernel's comma-separated string."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


OnOff = Annotated[bool, BeforeValidator(_on_off)]


class BondOptions(Model):
    """bonding driver options with the driver's defaults (BD1); keys as in
    sysfs/nmstate (``miimon``, ``xmit_hash_policy``); times in milliseconds
    except ``lp_interval`` (seconds)."""

    model_config = ConfigDict(extra="forbid", alias_generator=None, populate_by_name=True,
                              frozen=True)
    miimon: Millis = 100_000_000
    updelay: Millis = 0
    downdelay: Millis = 0
    arp_interval: Millis = 0
    arp_ip_target: Annotated[list[Ip], BeforeValidator(_targets)] = []
    arp_validate: Annotated[Literal["none", "active", "backup", "all", "filter",
                                    "filter_active", "filter_backup"],
                            _numbered("none", "active", "backup", "all", "filter",
                                      "filter_active", "filter_backup")] = "none"
    arp_all_targets: Annotated[Literal["any", "all"], _numbered("any", "all")] = "any"
    arp_missed_max: Annotated[int, Field(ge=1, le=255)] = 2
    primary: str | None = None
    primary_reselect: Annotated[Literal["always", "better", "failure"],
                                _numbered("always", "better", "failure")] = "always"
    fail_over_mac: Annotated[Literal["none", "active", "follow"],
                             _numbered("none", "active", "follow")] = "none"
    xmit_hash_policy: Annotated[XmitHashPolicy, _numbered(
        "layer2", "layer3+4", "layer2+3", "encap2+3", "encap3+4", "vlan+srcmac")] = \
        XmitHashPolicy.LAYER2
    packets_per_slave: Annotated[int, Field(ge=0, le=65535)] = 1
    lacp_rate: Annotated[Literal["slow", "fast"], _numbered("slow", "fast")] = "slow"
    lacp_active: OnOff = True
    ad_select: Annotated[Literal["stable", "bandwidth", "count"],
                         _numbered("stable", "bandwidth", "count")] = "stable"
    ad_actor_sys_prio: Annotated[int, Field(ge=1, le=65535)] = 65535
    ad_user_port_key: Annotated[int, Field(ge=0, le=1023)] = 0
    ad_actor_system: Mac | None = None
    min_links: Annotated[int, Field(ge=0)] = 0
    all_slaves_active: OnOff = False
    num_grat_arp: Annotated[int, Field(ge=0, le=255)] = 1
    num_unsol_na: Annotated[int, Field(ge=0, le=255)] = 1
    peer_notif_delay: Millis = 0
    lp_interval: Annotated[int, Field(ge=1, le=0x7FFFFFFF)] = 1
    tlb_dynamic_lb: OnOff = True
    resend_igmp: Annotated[int, Field(ge=0, le=255)] = 1
    use_carrier: OnOff = True


def _port_names(value: object) -> object:
    if isinstance(value, list):
        return [v["name"] if isinstance(v, dict) and "name" in v else v for v in value]
    return value


class BondConfig(Model):
    mode: Annotated[BondMode, BeforeValidator(_bond_mode)]
    options: BondOptions = BondOptions()
    port: Annotated[list[str], BeforeValidator(_port_names)] = []

    @model_validator(mode="before")
    @classmethod
    def _port_alias(cls, data: Any) -> Any:
        return _alias(data, "port", "ports", "slaves")

    # combinations the driver refuses are checked in topology/check.py, where the
    # error can point at the option itself


class BondInterface(BaseInterface):
    type: Literal["bond"]
    link_aggregation: BondConfig

    @model_validator(mode="before")
    @classmethod
    def _bond_alias(cls, data: Any) -> Any:
        return _alias(data, "link-aggregation", "bond")


class VlanConfig(Model):
    """nmstate's ``vlan:`` of a ``type: vlan`` interface (8021q)."""

    base_iface: str
    id: VlanId
    protocol: Literal["802.1q"] = "802.1q"     # 802.1ad (QinQ) is not modelled
    # nmstate keys accepted, not modelled
    reorder_headers: bool | None = None
    loose_binding: bool | None = None
    registration_protocol: str | None = None


class VlanInterface(BaseInterface):
    """``{name: ens224.100, type: vlan, vlan: {base-iface: ens224, id: 100}}``."""

    type: Literal["vlan"]
    vlan: VlanConfig


# -- Open vSwitch (nmstate's ovs-bridge / ovs-interface; devices/ovs.py) -------------------

OvsVlanId = Annotated[int, Field(ge=0, le=4095)]   # the Port columns tag/trunks: 0-4095


class OvsVlanRangeSpec(VlanRangeSpec):
    min: OvsVlanId
    max: OvsVlanId


class OvsTrunkTagSpec(TrunkTagSpec):
    """A ``trunk-tags`` item of an OVS port: the Port column ``trunks`` takes 0-4095
    (vswitch.xml), so Neutron's dead VLAN 4095 can be trunked."""

    id: OvsVlanId | None = None
    id_range: OvsVlanRangeSpec | None = None


class OvsPortVlanSpec(Model):
    """nmstate's OVS port ``vlan:`` (``mode``, ``tag``, ``trunk-tags``, ``enable-native``)
    and the Port column names of OVS itself: ``mode`` may also be ``native-tagged`` or
    ``native-untagged`` (``vlan_mode``). A trunk without ``trunk-tags`` trunks every VLAN;
    a trunk's ``tag`` is ignored unless ``enable-native`` (then native-untagged), as OVS
    does; Neutron's dead VLAN is ``{mode: trunk, tag: 4095, trunk-tags: [{id: 4095}]}``."""

    mode: Literal["access", "trunk", "native-tagged", "native-untagged"] | None = None
    tag: OvsVlanId | None = None
    enable_native: bool = False
    trunk_tags: list[OvsTrunkTagSpec] = []

    @model_validator(mode="after")
    def _shape(self) -> OvsPortVlanSpec:
        if self.mode == "access" and self.trunk_tags:
            raise ValueError("'trunk-tags' needs 'mode: trunk' (an access port has one VLAN)")
        if self.enable_native and self.tag is None:
            raise ValueError("'enable-native: true' needs 'tag' (the native VLAN)")
        return self


class OvsPortSpec(Model):
    name: str
    vlan: OvsPortVlanSpec | None = None


class OvsBridgeOptions(Model):
    stp: Any = None                         # nmstate: bool or {enabled: ..}; not modelled
    rstp: Any = None
    mcast_snooping_enable: Any = None
    fail_mode: Literal["standalone", "secure", ""] | None = None   # secure: no NORMAL flow
    mac_aging_time: Seconds = 300_000_000_000   # other_config:mac-aging-time (vnetlab)


class OvsBridgeConfig(Model):
    options: OvsBridgeOptions = OvsBridgeOptions()
    port: list[OvsPortSpec] = []
    flows: list[str] = []                   # ovs-ofctl add-flow syntax, table 0 (vnetlab)

    @model_validator(mode="before")
    @classmethod
    def _ports_alias(cls, data: Any) -> Any:
        return _alias(data, "port", "ports")


class OvsBridgeInterface(BaseInterface):
    type: Literal["ovs-bridge"]
    bridge: OvsBridgeConfig = OvsBridgeConfig()


class OvsPatchSpec(Model):
    peer: str


class OvsInterface(BaseInterface):
    """An OVS internal port, or a patch port (``patch: {peer: NAME}``)."""

    type: Literal["ovs-interface"]
    patch: OvsPatchSpec | None = None


Interface = Annotated[EthernetInterface | LinuxBridgeInterface | TeamInterface | BondInterface
                      | VlanInterface | OvsBridgeInterface | OvsInterface,
                      Field(discriminator="type")]


def _destination(value: object) -> object:
    """A route's ``destination``: ``default`` or a prefix (``10.1.0.0/16``); host bits
    must be zero, as ``ip route add`` insists ("Invalid prefix for given prefix length")."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a route destination (a prefix like 10.1.0.0/16, "
                         "or default)")
    if value == "default":
        return value
    net, plen = parse_ip4_prefix(value)
    if net & ~netmask(plen) & 0xFFFF_FFFF:
        raise ValueError(f"'{value}': host bits set (invalid prefix for the prefix length)")
    return value


def _ip_prefix(value: object) -> object:
    """``1.1.1.254/24`` -> (address, prefix length)."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an IPv4 address with prefix length (like "
                         "1.1.1.254/24)")
    ip, plen = parse_ip4_prefix(value)
    if not 8 <= plen <= 30:
        raise ValueError(f"'{value}': an SVI takes a prefix length of 8 to 30")
    return (ip, plen)


IpPrefix = Annotated[tuple[int, int], BeforeValidator(_ip_prefix)]


class RouteSpec(Model):
    destination: Annotated[str, BeforeValidator(_destination)]
    next_hop_address: Ip
    next_hop_interface: str | None = None


class RoutesSpec(Model):
    config: list[RouteSpec] = []


# sysctls vnetlab reads (the net.bridge.* ones exist only while br_netfilter is loaded)
SYSCTLS = ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables",
           "net.bridge.bridge-nf-call-arptables")


def _sysctls(value: object) -> object:
    if isinstance(value, dict):
        for key, setting in value.items():
            if key not in SYSCTLS:
                raise ValueError(f"sysctl '{key}' is not modelled (vnetlab reads: "
                                 f"{', '.join(SYSCTLS)})")
            if setting not in (0, 1) or isinstance(setting, bool):
                raise ValueError(f"{key} takes 0 or 1, not {setting!r}")
    return value


class FirewallSpec(Model):
    """The host's netfilter (docs/models/netfilter.md, B22-B24): br_netfilter
    loaded or not, an optional preset (what ``docker`` installs), and rules as
    ``iptables-save`` text (applied as ``iptables-restore --noflush``) and
    ``nft list ruleset`` text."""

    br_netfilter: bool = False
    preset: Literal["docker"] | None = None
    iptables: str | None = None
    nftables: str | None = None


class HostSpec(Model):
    interfaces: list[Interface] = []
    routes: RoutesSpec | None = None
    sysctl: Annotated[dict[str, int], BeforeValidator(_sysctls)] = {}
    firewall: FirewallSpec | None = None


# -- VMs (libvirt <interface>) --------------------------------------------------------

class VmIpv4(DhcpClientOptions):
    address: str | None = None          # "192.168.10.21/24"
    gateway: Ip | None = None
    dhcp: bool = False

    @model_validator(mode="after")
    def _check_address(self) -> VmIpv4:
        if self.address is not None:
            parse_ip4_prefix(self.address)
        return self


def _source(value: object) -> object:
    """libvirt's ``<source bridge='br1'/>`` may be written ``source: {bridge: br1}``."""
    if isinstance(value, dict) and set(value) == {"bridge"}:
        return value["bridge"]
    return value


class VmVlanSpec(Model):
    tag: VlanId


class VmInterfaceSpec(Model):
    type: Literal["bridge"] = "bridge"
    source: Annotated[str, BeforeValidator(_source)]
    target: str | None = None           # host-side tap name; libvirt's vnetN by default
    mac: Mac
    model: str = "virtio"
    ipv4: VmIpv4 | None = None
    arp: ArpOptions | None = None
    mtu: Mtu | None = None              # libvirt <mtu size=.../>: the tap and the guest NIC
    tap_mac: Mac | None = None          # a hand-made tap's MAC (default: libvirt's 0xFE rule)
    dhcp_server: DhcpServerSpec | None = None   # dnsmasq in the guest
    virtualport: Literal["openvswitch"] | None = None   # libvirt <virtualport type=..>
    vlan: VmVlanSpec | None = None      # libvirt <vlan><tag id=../></vlan> (OVS source)
    network: str | None = None          # a Neutron port on this network (``openstack:``)
    port_id: str | None = None          # its Neutron port id (names tapXXX/qbrXXX/qvbXXX/qvoXXX)


class VmSpec(Model):
    host: str
    boot_delay: Duration | None = None  # VM start -> the guest's network (DHCP client) starts
    interfaces: list[VmInterfaceSpec] = []


# -- the outside: switches, routers, links -----------------------------------------------

class LagSpec(Model):
    """A port-channel: ``static`` ("mode on", S3) or ``lacp`` (802.1AX, S4/S5)."""

    name: str
    ports: list[str]
    mode: Literal["static", "lacp"] = "static"
    hash: LagHash = LagHash.SRC_DST_MAC
    # LACP only (S4, S5): the switch's LACP mode and rate, and what a member
    # whose far end never speaks LACP does: forward as an individual port
    # (NX-OS 5000, many campus switches) or stay suspended (NX-OS 7000/9000
    # ``lacp suspend-individual``)
    lacp_mode: Literal["active", "passive"] = "active"
    lacp_rate: Literal["slow", "fast"] = "slow"
    lacp_fallback: Literal["individual", "suspend"] = "individual"
    system_priority: Annotated[int, Field(ge=0, le=65535)] = 32768


class MacMoveSpec(Model):
    """MAC-move (flap) detection (S6): ``log`` only reports (Cisco
    MACFLAP_NOTIF), ``block-port`` err-disables the port a MAC moved to once
    it moved ``threshold`` times within ``window`` (Huawei's default: 10)."""

    action: Literal["none", "log", "block-port"] = "none"
    threshold: Annotated[int, Field(ge=1, le=1_000_000)] = 10
    window: Duration = 10_000_000_000
    recovery: Duration | None = None        # errdisable recovery interval; None: stays down


class PortSecuritySpec(Model):
    """Port security (S7): at most ``max-macs`` source MACs per port; the
    violation mode decides what happens to the next one."""

    max_macs: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    violation: Literal["shutdown", "restrict", "protect"] = "shutdown"


def _vlan_list(value: object) -> object:
    """``allowed: [10, 20, "30-40"]`` (or one such string, comma-separated)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        return value
    out: list[int] = []
    for item in items:
        if isinstance(item, str) and "-" in item:
            low, _, high = item.partition("-")
            first, last = _vlan_id(low.strip()), _vlan_id(high.strip())
            if first > last:
                raise ValueError(f"VLAN range {item!r}: {first} is greater than {last}")
            out.extend(range(first, last + 1))
        else:
            out.append(_vlan_id(item.strip() if isinstance(item, str) else item))
    return out


def _native(value: object) -> object:
    return 0 if value in ("none", None) else _vlan_id(value)


class SwitchVlanSpec(Model):
    """A port's VLAN mode (S1): ``access`` in VLAN ``access``, or ``trunk`` carrying
    ``allowed`` VLANs (default all) with ``native`` sent untagged (default 1;
    ``none``: every frame tagged, untagged frames dropped)."""

    mode: Literal["access", "trunk"] = "access"
    access: VlanId = 1
    allowed: Annotated[list[int], BeforeValidator(_vlan_list)] | None = None
    native: Annotated[int, BeforeValidator(_native)] = 1

    @model_validator(mode="after")
    def _shape(self) -> SwitchVlanSpec:
        trunk_keys = {"allowed", "native"} & self.model_fields_set
        if self.mode == "access" and trunk_keys:
            raise ValueError(f"'{sorted(trunk_keys)[0]}' needs 'mode: trunk'")
        if self.mode == "trunk" and "access" in self.model_fields_set:
            raise ValueError("'access' needs 'mode: access'")
        return self


class SwitchPortConfig(Model):
    """Per-port settings (``port-config: {ge1: {...}}``)."""

    stp_edge: bool | None = None            # None: the switch's ``stp.edge-default``
    port_security: PortSecuritySpec | None = None
    vlan: SwitchVlanSpec | None = None      # None: access VLAN 1


class SwitchStpSpec(Model):
    """802.1D port states after link up (S8): a non-edge port listens and learns
    for 2 x forward-delay before it forwards; an edge (PortFast) port forwards at once."""

    enabled: bool = False
    forward_delay: Seconds = 15_000_000_000
    edge_default: bool = False              # ``spanning-tree portfast default``


def _arp_timeout(value: object) -> int:
    """``arp timeout``: 1 s to 2147483 s (Cisco IOS's range; its 0, never, is not taken)."""
    ns = parse_duration(value)
    if not 1_000_000_000 <= ns <= 2_147_483_000_000_000:
        raise ValueError(f"arp-timeout {value!r} is out of range 1s-2147483s")
    return ns


class SviSpec(Model):
    """``interface VlanN`` with ``ip address A.B.C.D/LEN`` (and optionally ``mac-address``:
    default the switch's base MAC, one MAC for every SVI as on most vendors)."""

    vlan: VlanId
    ipv4: IpPrefix
    mac_address: Mac | None = None


class SwitchL3Spec(Model):
    """The switch's ARP cache and adjacencies (S9, S10, docs/models/l3-switch.md):
    ``arp-timeout`` (``arp timeout``, Cisco IOS 4 h); ``on-fdb-move`` (refresh: routed
    traffic follows the MAC table, keep: the adjacency keeps the port it was learned on
    until an ARP from that IP or the timeout); ``arp-refresh`` (unicast ARP requests to
    the cached MAC when an entry times out, removed without a reply)."""

    arp_timeout: Annotated[int, BeforeValidator(_arp_timeout)] = 14_400_000_000_000
    on_fdb_move: Literal["refresh", "keep"] = "refresh"
    arp_refresh: bool = True


class SwitchSpec(Model):
    ports: list[str]
    lags: list[LagSpec] = []
    mac_ageing_time: Seconds = 300_000_000_000
    mac_move: MacMoveSpec = MacMoveSpec()
    stp: SwitchStpSpec = SwitchStpSpec()
    port_config: dict[str, SwitchPortConfig] = {}
    # what an access port does with a frame tagged with its own access VLAN: drop
    # (Cisco: an access port accepts untagged frames only) or accept it
    access_tagged: Literal["drop", "accept-access-vlan"] = "drop"
    # the largest payload a port takes (``system mtu``; jumbo frames off: 1500);
    # a bigger frame is dropped on receipt as a giant
    mtu: Mtu = 1500
    # L3 switch: SVIs route between their VLANs (docs/models/l3-switch.md)
    svis: list[SviSpec] = []
    l3: SwitchL3Spec | None = None


class RouterInterfaceSpec(Model):
    """A router port (``type: ethernet``, needs ``mac-address``) or a VLAN
    sub-interface of one (``{name: eth0.100, type: vlan, vlan: {base-iface: eth0,
    id: 100}}``, nmstate's shape; the MAC is the base interface's)."""

    name: str
    type: Literal["ethernet", "vlan"] = "ethernet"
    mac_address: Mac | None = None
    vlan: VlanConfig | None = None
    ipv4: Annotated[Ipv4 | None, BeforeValidator(_ipv4_shorthand)] = None
    arp: ArpOptions | None = None
    mtu: Mtu | None = None
    dhcp_server: DhcpServerSpec | None = None
    dhcp_relay: DhcpRelaySpec | None = None

    @model_validator(mode="after")
    def _shape(self) -> RouterInterfaceSpec:
        if self.type == "ethernet" and self.mac_address is None:
            raise ValueError("missing required key 'mac-address'")
        if self.type == "ethernet" and self.vlan is not None:
            raise ValueError("'vlan' needs 'type: vlan'")
        if self.type == "vlan" and self.vlan is None:
            raise ValueError("a 'type: vlan' interface needs 'vlan: {base-iface: ..., id: ...}'")
        return self


class RouterSpec(Model):
    interfaces: list[RouterInterfaceSpec]
    gateway: Ip | None = None
    # net.ipv4.ip_forward: a router routes what is sent to its MAC but not to its
    # addresses (false: an end host that answers for its own addresses only)
    forwarding: bool = True
    routes: RoutesSpec | None = None        # static routes (nmstate's routes.config)


class LinkSpec(Model):
    endpoints: Annotated[list[str], Field(min_length=2, max_length=2)]
    delay: Duration = 1_000                   # 1 us, as the ns-3 reference's CSMA links


# -- scenario: run and expect ---------------------------------------------------------

class PingAction(Model):
    from_: str = Field(alias="from")
    to: Ip
    count: Annotated[int, Field(ge=1, le=100_000)] = 1
    interval: Duration = 1_000_000_000
    size: Annotated[int, Field(ge=0, le=65507)] = 56
    # ping -M: path MTU discovery of the socket; iputils sets none by default, so the
    # kernel's IP_PMTUDISC_WANT applies (DF when the packet fits the route's MTU)
    pmtudisc: Literal["want", "do", "dont"] = "want"


class GarpAction(Model):
    from_: str = Field(alias="from")


class SendAction(Model):
    from_: str = Field(alias="from")
    dst: Mac
    src: Mac | None = None
    ethertype: Annotated[int, Field(ge=0, le=0xFFFF)] = 0x88B5
    count: Annotated[int, Field(ge=1, le=10_000)] = 1


class AnnounceSpec(Model):
    """QEMU announce parameters (migration parameters ``announce-*`` / QMP
    ``announce-self`` arguments, semantics V5; defaults DEFAULT_MIGRATE_ANNOUNCE_*)."""

    initial: Duration = 50_000_000
    max: Duration = 550_000_000
    rounds: Annotated[int, Field(ge=0, le=1000)] = 5
    step: Duration = 100_000_000


class AnnounceSelfAction(AnnounceSpec):
    """QMP ``announce-self`` for every NIC of ``vm`` (V5, V6)."""

    vm: str


class MigrateAction(Model):
    """Live (pre-copy) migration of ``vm`` to host ``to``: paused for ``downtime``,
    its tap leaves the source bridge (B11b) and a new tap joins ``bridge`` on ``to``
    (V3, V6); RARPs (V4/V5) and, with ``guest-announce``, guest GARPs (V7)."""

    vm: str
    to: str
    bridge: str | None = None           # the destination bridge; default: same name as now
    # live migration: pre-copy of memory before the final pause (0: stop-and-copy at once)
    transfer: Duration = 0
    downtime: Duration = 100_000_000
    # OpenStack: the guest resumes -> Nova activates the destination binding (O4)
    activation_delay: Duration = 1_000_000_000
    announce: AnnounceSpec = AnnounceSpec()
    guest_announce: bool = True


class SetActivePort(Model):
    device: str                     # "kvm1:team1"
    port: str


class DhcpAction(Model):
    """(Re)start a DHCP client now (``nmcli con up``, ``dhclient eth0``)."""

    from_: str = Field(alias="from")


ACTION_KEYS = ("ping", "garp", "send", "link-down", "link-up", "link-fault", "link-repair",
               "port-down", "port-up", "set-active-port", "dhcp", "wait", "announce-self",
               "migrate")


class ActionSpec(Model):
    at: Duration | None = None
    ping: PingAction | None = None
    garp: GarpAction | None = None
    send: SendAction | None = None
    link_down: str | None = None    # "kvm1:ens256": unplug the cable at this end
    link_up: str | None = None
    link_fault: str | None = None   # "kvm1:ens224": carrier stays up, frames are lost
    link_repair: str | None = None
    port_down: str | None = None    # admin down of an interface or switch port
    port_up: str | None = None
    set_active_port: SetActivePort | None = None
    dhcp: DhcpAction | None = None
    wait: Duration | None = None
    announce_self: AnnounceSelfAction | None = None
    migrate: MigrateAction | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ActionSpec:
        given = [k for k in ACTION_KEYS if getattr(self, k.replace("-", "_")) is not None]
        if len(given) != 1:
            raise ValueError(f"an action needs exactly one of: {', '.join(ACTION_KEYS)} "
                             f"(got {', '.join(given) or 'none'})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ACTION_KEYS if getattr(self, k.replace("-", "_")) is not None)


class PingSelector(Model):
    from_: str = Field(alias="from")
    to: Ip


class FdbSelector(Model):
    bridge: str                     # "kvm1:br1" or a switch name
    mac: Mac
    at: Duration | None = None
    vlan: VlanId | None = None      # the entry of this VLAN; default: any (VID 0 first)


class FrameSelector(Model):
    to: str
    src: Mac | None = None
    dst: Mac | None = None
    ethertype: int | None = None


class ExpectSpec(Model):
    ping: PingSelector | None = None
    result: Literal["ok", "fail", "bound", "failed", "link-local"] | None = None
    replies: Annotated[int, Field(ge=0)] | None = None
    outage: PingSelector | None = None      # the longest gap of a ping flow
    at_most: Duration | None = None
    at_least: Duration | None = None
    fdb: FdbSelector | None = None
    port: str | None = None
    absent: bool = False
    frame: FrameSelector | None = None
    delivered: bool | None = None
    count: Annotated[int, Field(ge=0)] | None = None
    dhcp: str | None = None                 # a DHCP client: "vm1" or "vm1:eth0"
    address: Ip | None = None               # ... its address (with result: bound)
    within: Duration | None = None          # ... checked at this time (default: the end)
    because: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> ExpectSpec:
        kinds = [k for k in ("ping", "fdb", "frame", "outage", "dhcp")
                 if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("an expectation needs exactly one of: ping, fdb, frame, outage, "
                             f"dhcp (got {', '.join(kinds) or 'none'})")
        if self.dhcp is not None and self.result not in ("bound", "failed", "link-local"):
            raise ValueError("a dhcp expectation needs 'result: bound|failed|link-local'")
        if self.dhcp is None and (self.address is not None or self.within is not None):
            raise ValueError("'address' and 'within' belong to a dhcp expectation")
        if self.ping is not None and self.result not in (None, "ok", "fail"):
            raise ValueError("a ping expectation takes 'result: ok|fail'")
        if self.outage is not None and self.at_most is None and self.at_least is None:
            raise ValueError("an outage expectation needs 'at-most: DURATION' and/or "
                             "'at-least: DURATION'")
        if self.ping is not None and (self.result is None) == (self.replies is None):
            raise ValueError("a ping expectation needs 'result: ok|fail' or 'replies: N'")
        if self.fdb is not None and self.port is None and not self.absent:
            raise ValueError("an fdb expectation needs 'port: NAME' or 'absent: true'")
        if self.frame is not None and self.delivered is None and self.count is None:
            raise ValueError("a frame expectation needs 'delivered: true|false' or 'count: N'")
        return self


# -- OpenStack (Neutron ml2/ovs or ml2/linuxbridge, Nova live migration; semantics §6) ------

class OsNetworkSpec(Model):
    """A provider VLAN network (``openstack network create --provider-network-type vlan``)."""

    segmentation_id: VlanId
    physical_network: str = "physnet1"


class NeutronAgentSpec(Model):
    """The L2 agent on every compute host (O1, O2, O5, O7)."""

    type: Literal["openvswitch", "linuxbridge"] = "openvswitch"
    # a new port seen -> the agent has wired it (rpc_loop polling 2 s + get_devices_details
    # + port_bound); a sweep draws it from a distribution
    bind_delay: Duration = 1_000_000_000
    # on-plug: wire a port as soon as it appears (before Rocky; after Neutron f8a22c7d4a);
    # after-activation: only once Nova activates the binding (LP#1901707, Rocky..Wallaby)
    wiring: Literal["on-plug", "after-activation"] = "on-plug"
    firewall_driver: Literal["iptables_hybrid", "openvswitch"] = "iptables_hybrid"
    integration_bridge: str = "br-int"
    # os-vif [os_vif_ovs] isolate_vif: a new br-int port on the dead VLAN 4095 (O1);
    # false: untagged until bound (os-vif's default; Nova's own plug before os-vif)
    isolate_vif: bool = True
    # physnet -> OVS bridge (ml2/ovs bridge_mappings) or interface (linuxbridge
    # physical_interface_mappings)
    bridge_mappings: dict[str, str] = {"physnet1": "br-eth1"}


class NovaSpec(Model):
    """nova.conf options read during a live migration (O4, O6)."""

    live_migration_wait_for_vif_plug: bool = True      # [compute]; True in current Nova
    vif_plugging_timeout: Duration = 300_000_000_000    # [DEFAULT]
    vif_plugging_is_fatal: bool = True                  # [DEFAULT]


class OpenStackSpec(Model):
    networks: dict[str, OsNetworkSpec] = {}
    agent: NeutronAgentSpec = NeutronAgentSpec()
    nova: NovaSpec = NovaSpec()


# -- captured: live state of one host (vnetlab capture, the sosreport import; docs/capture.md) --
# Read by vnetlab doctor and never by the simulation.

BRIDGE_PORT_STATES = ("disabled", "listening", "learning", "forwarding", "blocking")


def _port_state(value: object) -> object:
    """``bridge link show``'s ``state`` word (br_port_state_names[], lowercase)."""
    if isinstance(value, str) and value.lower() in BRIDGE_PORT_STATES:
        return value.lower()
    raise ValueError(f"{value!r} is not a bridge port state (expected one of: "
                     f"{', '.join(BRIDGE_PORT_STATES)})")


def _word(value: object) -> object:
    """An FDB flag as iproute2 prints it (``permanent``, ``extern_learn``, ...)."""
    if isinstance(value, str) and value and len(value) <= 32 and \
            value.replace("_", "").isalpha() and value.islower():
        return value
    raise ValueError(f"{value!r} is not an FDB flag (a lowercase word such as permanent, "
                     "static, self, master, extern_learn)")


def _iso_time(value: object) -> object:
    from datetime import datetime

    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return value
    raise ValueError(f"{value!r} is not an ISO 8601 time (like 2025-03-07T16:28:18+00:00)")


class CapturedFdbEntry(Model):
    """One entry of a bridge's forwarding table (``bridge -s fdb show``, ``ovs-appctl
    fdb/show``): the MAC, the port it points at, its VLAN (None: VID 0) and flags."""

    bridge: str
    mac: Mac
    port: str
    vlan: Annotated[int, Field(ge=0, le=4095)] | None = None
    flags: list[Annotated[str, BeforeValidator(_word)]] = []
    age: Annotated[float, Field(ge=0)] | None = None     # seconds since last seen as a source


class CapturedPortState(Model):
    """A bridge port's STP state (``bridge link show``)."""

    bridge: str
    port: str
    state: Annotated[str, BeforeValidator(_port_state)]


class CapturedNeighbour(Model):
    """One IPv4 neighbour entry of the host (``ip neigh show``)."""

    dev: str
    ip: Ip
    mac: Mac | None = None
    state: list[Annotated[str, BeforeValidator(lambda v: str(v).lower())]] = []


class CapturedSpec(Model):
    """``captured:``: what the host's kernel held when it was read (vnetlab capture,
    the sosreport import). Evidence for the doctor and vnetlab watch; the simulation
    never reads it, so the same document simulates with or without it."""

    host: str | None = None             # a key of hosts:; default the only host
    time: Annotated[str, BeforeValidator(_iso_time)] | None = None
    source: Literal["capture", "sosreport"] = "capture"
    tool: dict[str, str] = {}           # versions: vnetlab, iproute2, kernel, ...
    fdb: list[CapturedFdbEntry] = []
    ports: list[CapturedPortState] = []
    neigh: list[CapturedNeighbour] = []
    sysctl: dict[str, int | str] = {}   # net.ipv4.ip_forward, net.ipv4.neigh.default.*, ...
    bonding: dict[str, Any] = {}        # /proc/net/bonding/BOND, per bond
    teamd: dict[str, Any] = {}          # teamdctl TEAM state dump, per team
    missing_tools: list[str] = []       # commands not installed: their part is absent
    notes: list[str] = []               # what the capture could not write as topology
    raw: dict[str, Any] = {}            # command -> output (capture --raw), bounded


class TopologySpec(Model):
    name: str = ""
    description: str = ""
    seed_case: str | None = None            # the field report a built-in case comes from
    hosts: dict[str, HostSpec] = {}
    vms: dict[str, VmSpec] = {}
    switches: dict[str, SwitchSpec] = {}
    routers: dict[str, RouterSpec] = {}
    links: list[LinkSpec] = []
    openstack: OpenStackSpec | None = None
    run: list[ActionSpec] = []
    expect: list[ExpectSpec] = []
    duration: Duration | None = None        # run until; default: last action + 10 s
    captured: CapturedSpec | None = None    # live state (docs/capture.md); not simulated
    # Set by the loader: where each key sits in the file, and notes on keys
    # accepted but not modelled.
    _locator: Any = PrivateAttr(default=None)
    _notes: list[str] = PrivateAttr(default_factory=list)

    @property
    def locator(self) -> Any:
        return self._locator

    @property
    def notes(self) -> list[str]:
        return self._notes
