"""``nmcli connection add|modify`` lines as operators paste them.

A paste from a ticket or a blog: one command per line, ``\\`` continuations, shell
prompts (``#``, ``$``, ``[root@kvm1 ~]#``), ``sudo``, other commands in between.
Each line is split with ``shlex.split(posix=True)`` (the shell's quoting, so
``config '{"runner": {"name": "roundrobin"}}'`` is one word) and read as nmcli reads
its arguments (``src/nmcli/connections.c``):

* ``nmcli`` object and command words match by prefix, the first in nmcli's own table
  order winning (``matches()``: ``c`` = connection, ``mod`` = modify, ``a`` = add);
* ``add`` takes ``PROPERTY VALUE`` pairs; ``type``, ``controller``/``master`` and
  ``port-type``/``slave-type`` are applied first (``_copy_connection_properties``);
  ``type team-slave`` (``bond-slave``, ``bridge-slave``) is an ethernet profile with
  that port type; properties are ``setting.property`` (setting aliases such as
  ``ethernet`` accepted, property names by unique prefix) or nmcli's short aliases
  (``con-name``, ``ifname``, ``config``, ``mode``, ``miimon``, ``stp``, ``dev``,
  ``id``, ``ip4``, ``gw4``...), which belong to the connection's own type first, then
  to its port type (``nm-meta-setting-desc.c`` ``property_alias``);
* ``bond.options "mode=active-backup,miimon=100"`` sets each bonding option; ``+``
  before a property appends (``+ipv4.addresses``);
* ``modify ID`` (``id``/``uuid`` keywords accepted) changes the profile added earlier
  under that name; ``delete ID`` removes it; ``up``/``down``/``show``/``reload`` change
  no setting and are skipped.

``mcli`` (a typo seen in field reports, seed 000) is read as ``nmcli`` with a note.
An unterminated quote is an error naming the line. A ``modify`` of a profile the
paste did not create is a note: its type is unknown.
"""

from __future__ import annotations

import re
import shlex

from vnetlab.importers.base import ImportFailure, Unparsed, read_text
from vnetlab.importers.nmprofile import SETTING_NAMES, Profile

_PROMPT = re.compile(r"^\s*(?:\[[^\]]*\]\s*[#$]|[\w.-]+@[\w.-]+(?::\S*?)?\s*[#$]|[#$>%])\s*")
_OBJECTS = ("general", "monitor", "networking", "radio", "connection", "device", "agent")
_COMMANDS = ("show", "up", "down", "add", "edit", "delete", "reload", "load", "modify", "clone",
             "import", "export", "migrate", "monitor")
_TYPES = ("ethernet", "802-3-ethernet", "bridge", "bond", "team", "vlan", "bond-slave",
          "bridge-slave", "team-slave", "ovs-bridge", "ovs-port", "ovs-interface", "wifi",
          "802-11-wireless", "dummy", "loopback", "infiniband", "vrf", "vxlan", "macvlan",
          "ip-tunnel", "generic", "veth", "tun")
_GLOBAL_WITH_ARG = {"-w", "--wait", "-f", "--fields", "-g", "--get-values", "-e", "--escape",
                    "-c", "--colors", "-m", "--mode", "-a"}
_SEPARATORS = {"&&", ";", "||", "|"}

# nmcli's short option aliases (nm-meta-setting-desc.c property_alias), by setting
_ALIASES: dict[str, dict[str, str]] = {
    "connection": {"type": "connection.type", "con-name": "connection.id",
                   "ifname": "connection.interface-name", "autoconnect": "connection.autoconnect",
                   "controller": "connection.controller", "master": "connection.controller",
                   "port-type": "connection.port-type", "slave-type": "connection.port-type"},
    "ipv4": {"ip4": "+ipv4.addresses", "gw4": "ipv4.gateway"},
    "ipv6": {"ip6": "+ipv6.addresses", "gw6": "ipv6.gateway"},
    "bond": {"mode": "bond.mode", "primary": "bond.primary", "miimon": "bond.miimon",
             "downdelay": "bond.downdelay", "updelay": "bond.updelay",
             "arp-interval": "bond.arp_interval", "arp-ip-target": "bond.arp_ip_target",
             "lacp-rate": "bond.lacp_rate"},
    "bond-port": {"queue-id": "bond-port.queue-id", "prio": "bond-port.prio"},
    "bridge": {"mac": "bridge.mac-address", "stp": "bridge.stp", "priority": "bridge.priority",
               "forward-delay": "bridge.forward-delay", "hello-time": "bridge.hello-time",
               "max-age": "bridge.max-age", "ageing-time": "bridge.ageing-time",
               "group-forward-mask": "bridge.group-forward-mask",
               "multicast-snooping": "bridge.multicast-snooping"},
    "bridge-port": {"priority": "bridge-port.priority", "path-cost": "bridge-port.path-cost",
                    "hairpin": "bridge-port.hairpin-mode"},
    "team": {"config": "team.config"},
    "team-port": {"config": "team-port.config"},
    "vlan": {"dev": "vlan.parent", "id": "vlan.id", "flags": "vlan.flags",
             "ingress": "vlan.ingress-priority-map", "egress": "vlan.egress-priority-map"},
}
# the property names vnetlab reads, for nmcli's unique-prefix matching
_PROPERTIES: dict[str, tuple[str, ...]] = {
    "connection": ("id", "uuid", "type", "interface-name", "autoconnect", "controller", "master",
                   "port-type", "slave-type", "zone"),
    "ethernet": ("mac-address", "cloned-mac-address", "mtu", "auto-negotiate", "duplex", "speed",
                 "wake-on-lan"),
    "bridge": ("stp", "forward-delay", "hello-time", "max-age", "priority", "ageing-time",
               "mac-address", "vlan-filtering", "vlan-default-pvid", "vlans",
               "multicast-snooping", "group-forward-mask"),
    "bridge-port": ("hairpin-mode", "priority", "path-cost", "vlans"),
    "bond": ("options",),
    "team": ("config", "runner", "runner-hwaddr-policy", "runner-tx-hash", "runner-active",
             "runner-fast-rate", "runner-sys-prio", "runner-min-ports",
             "runner-agg-select-policy", "link-watchers", "notify-peers-count",
             "notify-peers-interval"),
    "team-port": ("config", "prio", "sticky", "lacp-prio", "lacp-key", "queue-id"),
    "vlan": ("parent", "id", "protocol", "flags"),
    "ipv4": ("method", "addresses", "gateway", "routes", "dns"),
    "ovs-port": ("tag", "vlan-mode", "trunks"),
    "ovs-interface": ("type",),
    "ovs-patch": ("peer",),
}


def _first_match(word: str, table: tuple[str, ...]) -> str | None:
    """nmcli's ``matches()``: the first entry ``word`` is a prefix of."""
    return next((entry for entry in table if word and entry.startswith(word)), None)


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first physical line, text) with ``\\`` continuations joined."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending.append(line.rstrip()[:-1])
            continue
        pending.append(line)
        out.append((start, " ".join(pending)))
        pending = []
    if pending:
        out.append((start, " ".join(pending)))
    return out


class Paste:
    """The profiles a paste creates, in order."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.profiles: list[Profile] = []
        self.notes: list[Unparsed] = []

    def note(self, line: int, text: str, why: str) -> None:
        self.notes.append(Unparsed(self.file, line, text, why))

    def find(self, name: str) -> Profile | None:
        for profile in reversed(self.profiles):
            if name in (profile.id, profile.uuid):
                return profile
        for profile in reversed(self.profiles):
            if profile.ifname() == name:
                return profile
        return None

    def line(self, number: int, text: str) -> None:
        stripped = text
        while True:
            match = _PROMPT.match(stripped)
            if match is None or match.end() == 0:
                break
            stripped = stripped[match.end():]
        if not stripped.strip():
            return
        try:
            words = shlex.split(stripped, posix=True)
        except ValueError as exc:
            raise ImportFailure(self.file, number, stripped.split()[0] if stripped.split()
                                else "", f"{exc}: an unterminated quote (the shell would wait "
                                "for more input)") from None
        command: list[str] = []
        for word in [*words, ";"]:
            if word in _SEPARATORS:
                if command:
                    self.command(number, command)
                command = []
            elif word.startswith("#") and not command:
                break
            elif word.startswith("#"):
                self.command(number, command)
                command = []
                break
            else:
                command.append(word)

    def command(self, number: int, words: list[str]) -> None:
        while words and words[0] in ("sudo", "command", "exec"):
            words = words[1:]
        if not words:
            return
        program = words[0].rsplit("/", 1)[-1]
        if program == "mcli":
            self.note(number, "mcli", "read as 'nmcli' (a typo in the paste)")
        elif program != "nmcli":
            if re.match(r"^[A-Za-z0-9_./-]+$", words[0]):
                self.note(number, " ".join(words)[:60], "not an nmcli command: ignored")
            return
        args = words[1:]
        while args and args[0].startswith("-"):
            option = args.pop(0)
            if option in _GLOBAL_WITH_ARG and args:
                args.pop(0)
        obj = _first_match(args[0], _OBJECTS) if args else None
        if obj != "connection":
            if obj == "device" and args[1:2] and _first_match(args[1], ("modify",)):
                self.note(number, " ".join(words)[:60], "nmcli device modify changes the "
                          "running device only: ignored")
            return
        verb = _first_match(args[1], _COMMANDS) if len(args) > 1 else "show"
        rest = args[2:]
        if verb == "add":
            self.add(number, rest)
        elif verb == "modify":
            self.modify(number, rest)
        elif verb == "delete":
            for name in (w for w in rest if w not in ("id", "uuid", "path", "apath")):
                profile = self.find(name)
                if profile is not None:
                    self.profiles.remove(profile)
        elif verb == "clone":
            names = [w for w in rest if not w.startswith("-") and w not in ("id", "uuid")]
            source = self.find(names[0]) if len(names) == 2 else None
            if source is not None:
                clone = Profile(self.file, number, "nmcli", dict(source.props))
                clone.set("connection.id", names[1], self.file, number)
                clone.props.pop("connection.uuid", None)
                self.profiles.append(clone)
        elif verb in ("edit", "load", "import", "migrate"):
            self.note(number, " ".join(words)[:60], f"nmcli connection {verb} cannot be read "
                      "from a paste: ignored")

    def add(self, number: int, args: list[str]) -> None:
        profile = Profile(self.file, number, "nmcli")
        pairs = self._pairs(number, args)
        # type, controller and port type first (nmcli's _copy_connection_properties)
        first = [p for p in pairs if self._resolve(p[0], profile) in (
            "connection.type", "connection.controller", "connection.port-type")]
        for name, value in first + [p for p in pairs if p not in first]:
            self._set(number, profile, name, value)
        if "connection.type" not in profile.props:
            self.note(number, "nmcli connection add", "no type: nmcli refuses it; ignored")
            return
        if "connection.id" not in profile.props:
            ifname = profile.ifname() or "connection"
            given = profile.props["connection.type"].value
            profile.set("connection.id", f"{given}-{ifname}", self.file, number)
        self.profiles.append(profile)

    def modify(self, number: int, args: list[str]) -> None:
        while args and args[0].startswith("--"):
            args = args[1:]
        if args and args[0] in ("id", "uuid", "path", "apath") and len(args) > 1:
            args = args[1:]
        if not args:
            return
        name, args = args[0], args[1:]
        profile = self.find(name)
        if profile is None:
            self.note(number, f"nmcli connection modify {name}", "no connection of that name "
                      "was added earlier in this paste (its type is unknown): ignored")
            return
        for prop, value in self._pairs(number, args):
            self._set(number, profile, prop, value)

    def _pairs(self, number: int, args: list[str]) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        index = 0
        while index < len(args):
            name = args[index]
            if name in ("--", "save", "--save"):
                index += 2 if name != "--" else 1
                continue
            if index + 1 >= len(args):
                self.note(number, name, "a property without a value: ignored")
                break
            pairs.append((name, args[index + 1]))
            index += 2
        return pairs

    def _resolve(self, name: str, profile: Profile) -> str | None:
        """``name`` as ``setting.property`` (``+`` kept in front), or None."""
        plus = "+" if name.startswith("+") else "-" if name.startswith("-") else ""
        bare = name.lstrip("+-")
        if "." in bare:
            setting, _, prop = bare.partition(".")
            canonical = SETTING_NAMES.get(setting)
            if canonical is None:
                return None
            known = _PROPERTIES.get(canonical, ())
            if prop not in known:
                prop = _first_match(prop, known) or prop
            return f"{plus}{canonical}.{prop}"
        kind = profile.type if "connection.type" in profile.props else ""
        port = profile.props["connection.port-type"].value \
            if "connection.port-type" in profile.props else ""
        port_setting = {"bridge": "bridge-port", "team": "team-port", "bond": "bond-port"}.get(
            port, "")
        for setting in ("connection", kind, "ipv4", "ipv6", port_setting):
            target = _ALIASES.get(setting, {}).get(bare)
            if target is not None:
                return target if target.startswith("+") else f"{plus}{target}"
        return None

    def _set(self, number: int, profile: Profile, name: str, value: str) -> None:
        target = self._resolve(name, profile)
        if target is None:
            self.note(number, f"{name} {value}", "not an nmcli property vnetlab knows: ignored")
            return
        if target.startswith("-"):
            self.note(number, f"{name} {value}", "removing a value is not modelled: ignored")
            return
        append = target.startswith("+")
        key = target.lstrip("+")
        if key == "connection.type":
            given = _first_match(value, _TYPES) or value
            port_type = {"bond-slave": "bond", "bridge-slave": "bridge",
                         "team-slave": "team"}.get(given)
            if port_type is not None:
                profile.set("connection.port-type", port_type, self.file, number)
                profile.set("connection.type", "ethernet", self.file, number)
                return
            profile.set("connection.type", given, self.file, number)
            return
        if key == "connection.interface-name" and value == "*":
            return
        if key == "bond.options":
            for item in value.replace(",", " ").split():
                option, _, setting_value = item.partition("=")
                if option:
                    profile.set(f"bond.{option}", setting_value, self.file, number)
            return
        if key == "ipv4.addresses" and "ipv4.method" not in profile.props:
            profile.set("ipv4.method", "manual", self.file, number)
        old = profile.props.get(key)
        if append and old is not None and old.value:
            value = f"{old.value}, {value}"
        profile.set(key, value, self.file, number)


def parse(text: str, file: str) -> tuple[list[Profile], list[Unparsed]]:
    paste = Paste(file)
    for number, line in logical_lines(text):
        paste.line(number, line)
    return paste.profiles, paste.notes


def read(path: str) -> tuple[list[Profile], list[Unparsed]]:
    return parse(read_text(path), path)


def looks_like(text: str) -> bool:
    """True when a text holds an nmcli connection command (for kind detection)."""
    return re.search(r"(^|[\s#$])n?mcli\s+(-\S+\s+)*c[a-z]*\s+[a-z]+", text, re.M) is not None
