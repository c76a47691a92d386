"""NetworkManager keyfiles (``/etc/NetworkManager/system-connections/*.nmconnection``).

A keyfile is a GLib key file, read here with ``configparser`` (interpolation off,
``strict=False`` as GKeyFile tolerates repeated keys: the last wins). Mirrors
``libnm-core-impl/nm-keyfile.c`` for what matters here:

* section names are setting names or their aliases (``[ethernet]`` for
  ``802-3-ethernet``, as NM >= 1.20 writes them);
* ``[ipv4] address1=192.168.10.11/24[,GATEWAY]`` (the optional gateway is the old
  form), ``gateway=``, ``route1=DEST/PLEN,NEXTHOP[,METRIC]``;
* ``[bond]`` holds one key per bonding option (``mode=``, ``miimon=``...);
* MACs as text (``00:50:56:A1:00:01``) or, in old keyfiles, as a decimal byte list;
* values are GKeyFile-escaped (``\\s``, ``\\t``, ``\\n``, ``\\\\``).

Each property keeps its line for the notes. The interpretation is shared with the
other NM readers (``nmprofile.build``).
"""

from __future__ import annotations

import configparser
import re

from vnetlab.importers.base import ImportFailure, Unparsed, read_text
from vnetlab.importers.nmprofile import SETTING_NAMES, Profile

_SECTION = re.compile(r"^\s*\[([^\]]*)\]\s*$")
_KEY = re.compile(r"^\s*([^=#;\[\s][^=]*?)\s*=")
_ESCAPES = {"s": " ", "t": "\t", "n": "\n", "r": "\r", "\\": "\\"}


def _unescape(value: str) -> str:
    """g_key_file_parse_value_as_string's escapes."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), value)


def _lines(text: str) -> dict[tuple[str, str], int]:
    """(section, key) -> 1-based line, the last occurrence (GKeyFile keeps the last)."""
    where: dict[tuple[str, str], int] = {}
    section = ""
    for number, line in enumerate(text.splitlines(), 1):
        match = _SECTION.match(line)
        if match:
            section = match.group(1).strip()
            where[(section, "")] = number
            continue
        key = _KEY.match(line)
        if key:
            where[(section, key.group(1).strip().lower())] = number
    return where


def parse(text: str, file: str) -> tuple[Profile, list[Unparsed]]:
    """One keyfile -> its profile and the notes of reading it."""
    parser = configparser.ConfigParser(interpolation=None, strict=False,
                                       comment_prefixes=("#", ";"), delimiters=("=",))
    try:
        parser.read_string(text, source=file)
    except configparser.MissingSectionHeaderError as exc:
        raise ImportFailure(file, exc.lineno, "", "not a NetworkManager keyfile: a line "
                            "before the first [section]") from None
    except configparser.ParsingError as exc:
        line = exc.errors[0][0] if exc.errors else 0
        raise ImportFailure(file, line, "", "not a NetworkManager keyfile: a line that is "
                            "neither [section] nor key=value") from None
    except configparser.Error as exc:
        raise ImportFailure(file, 0, "", f"not a NetworkManager keyfile: {exc}") from None
    if "connection" not in parser.sections():
        raise ImportFailure(file, 1, "[connection]", "not a NetworkManager keyfile: no "
                            "[connection] section")
    lines = _lines(text)
    notes: list[Unparsed] = []
    profile = Profile(file, lines.get(("connection", ""), 1), "keyfile")
    for section in parser.sections():
        setting = SETTING_NAMES.get(section)
        if setting is None:
            notes.append(Unparsed(file, lines.get((section, ""), 0), f"[{section}]",
                                  "setting not modelled by vnetlab"))
            continue
        for key, raw in parser.items(section):
            value = _unescape(raw.strip())
            line = lines.get((section, key), lines.get((section, ""), 0))
            if setting == "ipv4" and re.fullmatch(r"address(es)?\d*", key):
                address, _, gateway = value.partition(",")
                old = profile.props.get("ipv4.addresses")
                joined = f"{old.value}, {address.strip()}" if old else address.strip()
                profile.set("ipv4.addresses", joined, file, line)
                if gateway.strip() and "ipv4.gateway" not in profile.props:
                    profile.set("ipv4.gateway", gateway.strip(), file, line)
            elif setting == "ipv4" and re.fullmatch(r"routes?\d*", key):
                parts = [p.strip() for p in value.split(",")]
                route = " ".join(p for p in parts[:2] if p)
                old = profile.props.get("ipv4.routes")
                profile.set("ipv4.routes", f"{old.value}, {route}" if old else route, file,
                            line)
            elif setting == "ipv4" and re.fullmatch(r"(address|route)\d+_options|route-data\d*",
                                                    key):
                notes.append(Unparsed(file, line, f"{key}={value}", "not modelled by vnetlab"))
            elif setting == "bond" and key == "options":    # not written by NM; accepted
                for item in value.replace(",", " ").split():
                    option, _, setting_value = item.partition("=")
                    profile.set(f"bond.{option}", setting_value, file, line)
            else:
                profile.set(f"{setting}.{key}", value, file, line)
    if "connection.type" not in profile.props:
        raise ImportFailure(file, profile.line, "connection.type",
                            "missing: a keyfile must name its connection type")
    return profile, notes


def read(path: str) -> tuple[Profile, list[Unparsed]]:
    return parse(read_text(path), path)
