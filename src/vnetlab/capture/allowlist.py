"""THE list of everything ``vnetlab capture`` may run or read on a host.

Nothing else is executed: ``runner.Runner`` builds every argv from a template here
(no shell; parameters are whole arguments, checked against a pattern), and refuses
an id that is not listed. Each entry says why it cannot change the host (shown in
docs/capture.md). With ``--netns NS`` every argv is prefixed with ``ip netns exec NS``,
which runs the command in the namespace's network stack and in a private mount
namespace with the namespace's own sysfs (``netns_switch`` in iproute2's
lib/namespace.c: ``unshare(CLONE_NEWNS)``, then ``mount -t sysfs``): the namespace,
the host's mount table and the namespace's devices are untouched.

Files (``/proc/net/bonding``, sysfs bridge and port attributes, a few sysctls, a compute
host's ``nova.conf`` and Neutron agent ini) are
read by one small stdlib-only Python program, ``READER``, run the same way, so that
``/sys/class/net`` and ``/proc/sys/net`` are the captured namespace's. It opens
only paths matching ``FILE_PATTERNS``, read-only, never follows a path outside
them, skips write-only attributes (``flush``) and reads at most ``MAX_FILE`` bytes
per file (``MAX_CONF`` under ``/etc`` and ``/var/lib``) and ``MAX_FILES`` files.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from vnetlab.capture.openstack import PATTERNS as OPENSTACK_PATTERNS

# -- commands --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    """One command: ``id`` (its name in ``captured.raw`` and in the docs), the argv
    template (``{dev}``, ``{name}``, ``{bridge}`` stand for one whole argument), the
    executable that must be installed, and why it is read-only."""

    id: str
    argv: tuple[str, ...]
    tool: str
    why: str

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(a[1:-1] for a in self.argv if a.startswith("{") and a.endswith("}"))


# an interface name (dev_valid_name: at most IFNAMSIZ-1 bytes, no '/', ':' or space) that
# cannot be taken for an option; a libvirt domain name without spaces or a leading dash
PARAM_PATTERNS = {
    "dev": re.compile(r"[^\s/:\-][^\s/:]{0,14}"),
    "bridge": re.compile(r"[^\s/:\-][^\s/:]{0,14}"),
    "name": re.compile(r"[A-Za-z0-9_.+@][A-Za-z0-9_.+@:-]{0,199}"),
}
NETNS_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")

READER = r"""
import glob, json, os, sys
MAX_FILE, MAX_FILES, MAX_CONF = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
SKIP = {"flush"}
out, count = {}, 0
for pattern in sys.argv[4:]:
    for path in sorted(glob.glob(pattern)):
        if count >= MAX_FILES:
            break
        if os.path.basename(path) in SKIP or os.path.isdir(path):
            continue
        count += 1
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        except OSError:
            continue
        cap = MAX_CONF if path.startswith(("/etc/", "/var/lib/")) else MAX_FILE
        try:
            data = b""
            while len(data) <= cap:
                chunk = os.read(fd, cap + 1 - len(data))
                if not chunk:
                    break
                data += chunk
        except OSError:
            continue
        finally:
            os.close(fd)
        out[path] = data[:cap].decode("utf-8", "replace")
json.dump(out, sys.stdout)
"""

MAX_FILE = 64 * 1024
MAX_FILES = 20_000
MAX_CONF = 1024 * 1024      # a configuration file (a distribution's nova.conf is ~200 KiB)

# what READER may open (glob patterns; nothing outside them is read)
FILE_PATTERNS = (
    "/proc/net/bonding/*",                          # bond_info_show_master/slave
    "/sys/class/net/*/bridge/*",                    # br_sysfs_br.c attributes
    "/sys/class/net/*/brport/*",                    # br_sysfs_if.c attributes
    "/sys/class/net/*/addr_assign_type",            # NET_ADDR_SET: a MAC set by hand
    "/sys/module/br_netfilter/initstate",           # the module is loaded (B22)
    "/proc/sys/net/bridge/bridge-nf-call-*",        # its sysctls (this namespace's)
    "/proc/sys/net/ipv4/ip_forward",
    "/proc/sys/net/ipv4/neigh/default/*",           # neighbour defaults (init_net only)
    # per device (neigh_sysctl_register; a namespace has no "default" directory)
    "/proc/sys/net/ipv4/neigh/*/base_reachable_time_ms",
    "/proc/sys/net/ipv4/neigh/*/retrans_time_ms",
    "/proc/sys/net/ipv4/neigh/*/delay_first_probe_time",
    "/proc/sys/net/ipv4/neigh/*/gc_stale_time",
    "/proc/sys/net/ipv4/neigh/*/ucast_solicit",
    "/proc/sys/net/ipv4/neigh/*/mcast_solicit",
    # a compute host's OpenStack configuration (capture/openstack.py: nova.conf, the L2
    # agent's ini; package, Kolla and TripleO layouts)
    *OPENSTACK_PATTERNS,
)

_WHY_IP = "iproute2 show: an RTM_GET* netlink dump request; show never sends RTM_NEW*/RTM_DEL*"
_WHY_BRIDGE = ("iproute2 bridge show: RTM_GETLINK/RTM_GETNEIGH (AF_BRIDGE) and RTM_GETVLAN "
               "dumps; nothing is set")

COMMANDS: dict[str, Command] = {c.id: c for c in (
    Command("ip -V", ("ip", "-V"), "ip", "prints iproute2's version and exits"),
    Command("ip -j -d link show", ("ip", "-j", "-d", "link", "show"), "ip", _WHY_IP),
    Command("ip -j -d addr show", ("ip", "-j", "-d", "addr", "show"), "ip", _WHY_IP),
    Command("ip -j route show table all", ("ip", "-j", "route", "show", "table", "all"), "ip",
            _WHY_IP),
    Command("ip -j neigh show", ("ip", "-j", "neigh", "show"), "ip", _WHY_IP),
    Command("bridge -j -d link show", ("bridge", "-j", "-d", "link", "show"), "bridge",
            _WHY_BRIDGE),
    Command("bridge -j -s fdb show", ("bridge", "-j", "-s", "fdb", "show"), "bridge",
            _WHY_BRIDGE + " (-s adds each entry's used/updated timers: the age)"),
    Command("bridge -j -d vlan show", ("bridge", "-j", "-d", "vlan", "show"), "bridge",
            _WHY_BRIDGE),
    Command("read files", (sys.executable, "-I", "-S", "-c", READER, str(MAX_FILE),
                           str(MAX_FILES), str(MAX_CONF), *FILE_PATTERNS), sys.executable,
            "READER: open(O_RDONLY) of the FILE_PATTERNS only, bounded; write-only "
            "attributes (flush) skipped"),
    Command("teamdctl state dump", ("teamdctl", "{dev}", "state", "dump"), "teamdctl",
            "teamd's StateDump D-Bus/unix-socket method: a read of teamd's state"),
    Command("teamdctl config dump", ("teamdctl", "{dev}", "config", "dump"), "teamdctl",
            "teamd's ConfigDump method: the running JSON configuration"),
    Command("nft list ruleset", ("nft", "list", "ruleset"), "nft",
            "NFT_MSG_GET* dumps; the text form is what firewall.nftables takes"),
    Command("iptables-save", ("iptables-save",), "iptables-save",
            "dumps the tables (legacy: getsockopt IPT_SO_GET_*; nft: netlink get)"),
    Command("virsh list", ("virsh", "-r", "list", "--all", "--name"), "virsh",
            "-r: a read-only libvirt connection; virConnectListAllDomains"),
    Command("virsh dumpxml", ("virsh", "-r", "dumpxml", "{name}"), "virsh",
            "-r: a read-only connection; virDomainGetXMLDesc (the live XML)"),
    Command("ovs-vsctl list Bridge", ("ovs-vsctl", "--timeout=5", "--format=json", "list",
                                      "Bridge"), "ovs-vsctl",
            "an OVSDB transaction of select operations only (list)"),
    Command("ovs-vsctl list Port", ("ovs-vsctl", "--timeout=5", "--format=json", "list",
                                    "Port"), "ovs-vsctl",
            "an OVSDB transaction of select operations only (list)"),
    Command("ovs-vsctl list Interface", ("ovs-vsctl", "--timeout=5", "--format=json", "list",
                                         "Interface"), "ovs-vsctl",
            "an OVSDB transaction of select operations only (list)"),
    Command("ovs-appctl fdb/show", ("ovs-appctl", "--timeout=5", "fdb/show", "{bridge}"),
            "ovs-appctl", "unixctl fdb/show: prints the MAC learning table"),
    Command("ovs-ofctl dump-flows", ("ovs-ofctl", "--timeout=5", "--no-stats", "--names",
                                     "dump-flows", "{bridge}"), "ovs-ofctl",
            "an OpenFlow flow-stats request (and, for --names, a port-description request) "
            "on the bridge's management socket: requests that read, no flow-mod"),
)}


class NotAllowed(ValueError):
    """A command id that is not in ``COMMANDS``, or a parameter that does not fit."""


def argv(command_id: str, netns: str | None = None, **params: str) -> list[str]:
    """The argv of ``command_id`` with ``params`` filled in, inside ``netns`` if given."""
    command = COMMANDS.get(command_id)
    if command is None:
        raise NotAllowed(f"{command_id!r} is not in vnetlab capture's allowlist")
    if set(params) != set(command.params):
        raise NotAllowed(f"{command_id!r} takes {', '.join(command.params) or 'no'} "
                         f"parameter(s), got {', '.join(sorted(params)) or 'none'}")
    out: list[str] = []
    for part in command.argv:
        if part.startswith("{") and part.endswith("}"):
            key = part[1:-1]
            value = params[key]
            if not PARAM_PATTERNS[key].fullmatch(value):
                raise NotAllowed(f"{value!r} is not a safe {key} for {command_id!r}")
            out.append(value)
        else:
            out.append(part)
    if netns is not None:
        if not NETNS_PATTERN.fullmatch(netns) or netns in (".", ".."):
            raise NotAllowed(f"{netns!r} is not a network namespace name")
        out = ["ip", "netns", "exec", netns, *out]
    return out


def allowed(candidate: list[str] | tuple[str, ...]) -> bool:
    """True when ``candidate`` is an argv ``argv()`` can produce (the test's oracle)."""
    words = list(candidate)
    if words[:3] == ["ip", "netns", "exec"] and len(words) > 4:
        if not NETNS_PATTERN.fullmatch(words[3]):
            return False
        words = words[4:]
    for command in COMMANDS.values():
        if len(command.argv) != len(words):
            continue
        if all(word == part or (part.startswith("{") and part.endswith("}")
                                and PARAM_PATTERNS[part[1:-1]].fullmatch(word) is not None)
               for part, word in zip(command.argv, words, strict=True)):
            return True
    return False
