"""teamd's JSON configuration (teamd.conf(5), semantics §3 T1-T7) -> the spec's ``team:``.

The same JSON arrives as NetworkManager's ``team.config`` (keyfile ``[team] config=``,
ifcfg ``TEAM_CONFIG``, ``nmcli ... config '{...}'``), as ``teamdctl team0 config dump``
in a sosreport, and per port as ``team-port.config`` / ``TEAM_PORT_CONFIG`` (the
object of one port, as in teamd's ``ports`` section). Keys keep teamd's spelling
(``hwaddr_policy``), which the spec accepts. What teamd has and vnetlab does not
model (``debug_level``, a second link watcher, ``queue_id``) is a note.
"""

from __future__ import annotations

import json
from typing import Any

from vnetlab.importers.base import Unparsed, norm_mac
from vnetlab.importers.prune import clean, dotted
from vnetlab.topology.spec import LinkWatchSpec, TeamPortSpec, TeamRunnerSpec

MAX_JSON = 256 * 1024

# keys of teamd's top level that say nothing about forwarding
_SILENT = {"device", "debug_level", "daemonize"}


def parse_json(text: str, file: str, line: int, key: str, notes: list[Unparsed]
               ) -> dict[str, Any] | None:
    """A teamd JSON object, or None (with a note) when it is not one."""
    if len(text) > MAX_JSON:
        notes.append(Unparsed(file, line, key, f"JSON longer than {MAX_JSON} characters"))
        return None
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        notes.append(Unparsed(file, line, f"{key} {text[:60]}", f"not JSON: {why}"))
        return None
    if not isinstance(value, dict):
        notes.append(Unparsed(file, line, key, "teamd's configuration must be a JSON object"))
        return None
    return value


def _drop(file: str, line: int, prefix: str, notes: list[Unparsed]) -> Any:
    def drop(path: tuple[Any, ...], why: str) -> None:
        notes.append(Unparsed(file, line, dotted((prefix, *path)) if prefix else dotted(path),
                              why))
    return drop


def _watch(value: Any, file: str, line: int, where: str, notes: list[Unparsed]) -> Any:
    if isinstance(value, list):
        if not value:
            return None
        if len(value) > 1:
            notes.append(Unparsed(file, line, f"{where}.link_watch",
                                  f"{len(value)} link watchers: vnetlab models one per port; "
                                  "the first is used"))
        value = value[0]
    if not isinstance(value, dict):
        notes.append(Unparsed(file, line, f"{where}.link_watch", "not a JSON object"))
        return None
    return clean(dict(value), LinkWatchSpec, _drop(file, line, f"{where}.link_watch", notes))


def port_config(value: dict[str, Any], name: str, file: str, line: int,
                notes: list[Unparsed]) -> dict[str, Any]:
    """One port's teamd object (``prio``, ``sticky``, ``lacp_prio``, ``link_watch``...)."""
    out: dict[str, Any] = {"name": name}
    for key, item in value.items():
        if key == "link_watch":
            watch = _watch(item, file, line, f"ports.{name}", notes)
            if watch is not None:
                out["link_watch"] = watch
        else:
            out[key] = item
    cleaned = clean(out, TeamPortSpec, _drop(file, line, f"ports.{name}", notes))
    return cleaned if isinstance(cleaned, dict) else {"name": name}


def team_config(value: dict[str, Any], file: str, line: int, notes: list[Unparsed]
                ) -> tuple[dict[str, Any], str | None, dict[str, dict[str, Any]]]:
    """teamd's object -> (the spec's ``team:`` without ports, the ``hwaddr`` MAC if
    set, the ports of its ``ports`` section by name)."""
    team: dict[str, Any] = {}
    hwaddr: str | None = None
    ports: dict[str, dict[str, Any]] = {}
    for key, item in value.items():
        if key in _SILENT:
            continue
        if key == "runner":
            if isinstance(item, str):           # a bare name is not teamd's form, but clear
                item = {"name": item}
            if not isinstance(item, dict):
                notes.append(Unparsed(file, line, "runner", "not a JSON object"))
                continue
            runner = clean(dict(item), TeamRunnerSpec, _drop(file, line, "runner", notes))
            if isinstance(runner, dict) and runner:
                team["runner"] = runner
        elif key == "link_watch":
            watch = _watch(item, file, line, "", notes)
            if watch is not None:
                team["link_watch"] = watch
        elif key in ("notify_peers", "mcast_rejoin") and isinstance(item, dict):
            team[key] = dict(item)
        elif key == "hwaddr" and isinstance(item, str):
            hwaddr = norm_mac(item)
            if hwaddr is None:
                notes.append(Unparsed(file, line, f"hwaddr {item}", "not a MAC address"))
        elif key == "ports" and isinstance(item, dict):
            for port, config in item.items():
                if isinstance(config, dict):
                    ports[str(port)] = port_config(config, str(port), file, line, notes)
        else:
            notes.append(Unparsed(file, line, key, "teamd option not modelled by vnetlab"))
    return team, hwaddr, ports
