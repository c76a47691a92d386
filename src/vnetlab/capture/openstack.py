"""A compute host's OpenStack settings, from its configuration files -> ``openstack:``
(docs/topology.md "OpenStack"; semantics O1, O4-O7; seed 003).

What the files say (oslo.config INI: ``[section]``, ``key = value``, ``#``/``;`` comments,
the last value of a repeated key wins, ``nova.conf.d/*.conf`` after ``nova.conf`` in name
order, as ``--config-dir`` reads them):

* ``nova.conf``: ``[compute] live_migration_wait_for_vif_plug`` (True since Rocky),
  ``[DEFAULT] vif_plugging_timeout`` (s) and ``vif_plugging_is_fatal``, ``[os_vif_ovs]
  isolate_vif`` -> ``nova:`` and ``agent.isolate-vif``;
* ``openvswitch_agent.ini``: ``[ovs] integration_bridge``, ``bridge_mappings``
  (``physnet:bridge,...``), ``[securitygroup] firewall_driver`` -> ``agent:`` of type
  ``openvswitch``; ``linuxbridge_agent.ini``: ``[linux_bridge]
  physical_interface_mappings`` -> ``agent:`` of type ``linuxbridge``.

Where they are: the package layout (``/etc/nova``, ``/etc/neutron``), Kolla's
(``/etc/kolla/<service>/``) and TripleO's puppet-generated configuration; the first
layout that has the file is read. What no file holds is not written and the doctor
uses the model's defaults: the L2 agent's bind delay (how long it takes to wire a new
port) and whether the Neutron release wires an inactive binding (LP#1901707) are the
release's and the load's, not configuration (a note says so).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Note = Callable[[str], None]

_TRIPLEO = "/var/lib/config-data/puppet-generated"
NOVA_FILES = (f"{_TRIPLEO}/nova_libvirt/etc/nova/nova.conf", "/etc/kolla/nova-compute/nova.conf",
              "/etc/nova/nova.conf")
NOVA_DIR = "/etc/nova/nova.conf.d/*.conf"
AGENT_FILES = {
    "openvswitch": (f"{_TRIPLEO}/neutron/etc/neutron/plugins/ml2/openvswitch_agent.ini",
                    "/etc/kolla/neutron-openvswitch-agent/openvswitch_agent.ini",
                    "/etc/neutron/plugins/ml2/openvswitch_agent.ini"),
    "linuxbridge": ("/etc/kolla/neutron-linuxbridge-agent/linuxbridge_agent.ini",
                    "/etc/neutron/plugins/ml2/linuxbridge_agent.ini"),
}
PATTERNS = (*NOVA_FILES, NOVA_DIR, *AGENT_FILES["openvswitch"], *AGENT_FILES["linuxbridge"])

_SECTION = re.compile(r"^\[([^\]]+)\]\s*$")
_OPTION = re.compile(r"^([A-Za-z0-9_.-]+)\s*[=:]\s*(.*?)\s*$")
_TRUE = {"true", "1", "yes", "on", "y", "t"}          # oslo_config.types.Boolean
_FALSE = {"false", "0", "no", "off", "n", "f"}
_FIREWALLS = {   # neutron.agent.firewall entry points and their class paths
    "iptables_hybrid": "iptables_hybrid", "openvswitch": "openvswitch",
    "neutron.agent.linux.iptables_firewall.OVSHybridIptablesFirewallDriver": "iptables_hybrid",
    "neutron.agent.linux.openvswitch_firewall.OVSFirewallDriver": "openvswitch",
}

Ini = dict[str, dict[str, tuple[str, str]]]       # section -> key -> (value, "file:line")


def parse_ini(text: str, where: str, into: Ini | None = None) -> Ini:
    """oslo.config's INI, each value with its ``file:line`` (section names are
    case-sensitive, ``DEFAULT`` as written; keys lowercase)."""
    out: Ini = into if into is not None else {}
    section = "DEFAULT"
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        match = _SECTION.match(stripped)
        if match:
            section = match.group(1).strip()
            continue
        match = _OPTION.match(stripped)
        if match and not line[:1].isspace():
            out.setdefault(section, {})[match.group(1).lower()] = (match.group(2),
                                                                   f"{where}:{number}")
    return out


def _bool(ini: Ini, section: str, key: str, note: Note) -> bool | None:
    value, where = ini.get(section, {}).get(key, (None, ""))
    if value is None:
        return None
    if value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    note(f"{where}: [{section}] {key} = {value!r} is not a boolean: left out")
    return None


def _mappings(ini: Ini, section: str, key: str, note: Note) -> dict[str, str] | None:
    value, where = ini.get(section, {}).get(key, (None, ""))
    if value is None:
        return None
    out: dict[str, str] = {}
    for item in filter(None, (v.strip() for v in value.split(","))):
        physnet, sep, target = item.partition(":")
        if not sep or not physnet.strip() or not target.strip():
            note(f"{where}: [{section}] {key}: {item!r} is not physnet:name: left out")
            continue
        out[physnet.strip()] = target.strip()
    return out


def _first(files: dict[str, str], paths: tuple[str, ...]) -> str | None:
    return next((p for p in paths if p in files), None)


def settings(files: dict[str, str], note: Note) -> dict[str, Any] | None:
    """The ``openstack:`` block the files give (None: no Nova or agent file here)."""
    nova_path = _first(files, NOVA_FILES)
    agent_type = next((t for t, paths in AGENT_FILES.items() if _first(files, paths)), None)
    if nova_path is None and agent_type is None:
        return None
    block: dict[str, Any] = {}
    agent: dict[str, Any] = {}
    if nova_path is not None:
        nova_ini = parse_ini(files[nova_path], nova_path)
        if nova_path == "/etc/nova/nova.conf":
            for path in sorted(p for p in files if p.startswith("/etc/nova/nova.conf.d/")):
                parse_ini(files[path], path, nova_ini)
        nova: dict[str, Any] = {}
        wait = _bool(nova_ini, "compute", "live_migration_wait_for_vif_plug", note)
        if wait is not None:
            nova["live-migration-wait-for-vif-plug"] = wait
        timeout, where = nova_ini.get("DEFAULT", {}).get("vif_plugging_timeout", (None, ""))
        if timeout is not None:
            if timeout.isdigit():
                nova["vif-plugging-timeout"] = f"{int(timeout)}s"
            else:
                note(f"{where}: [DEFAULT] vif_plugging_timeout = {timeout!r} is not a number "
                     "of seconds: left out")
        fatal = _bool(nova_ini, "DEFAULT", "vif_plugging_is_fatal", note)
        if fatal is not None:
            nova["vif-plugging-is-fatal"] = fatal
        isolate = _bool(nova_ini, "os_vif_ovs", "isolate_vif", note)
        if isolate is not None:
            agent["isolate-vif"] = isolate
        block["nova"] = nova
    else:
        note("no nova.conf: Nova's live-migration settings are the model's defaults "
             "(current Nova: live_migration_wait_for_vif_plug = True)")
    if agent_type is not None:
        agent_path = _first(files, AGENT_FILES[agent_type])
        assert agent_path is not None
        ini = parse_ini(files[agent_path], agent_path)
        agent["type"] = agent_type
        if agent_type == "openvswitch":
            bridge, _ = ini.get("ovs", {}).get("integration_bridge", (None, ""))
            if bridge:
                agent["integration-bridge"] = bridge
            mappings = _mappings(ini, "ovs", "bridge_mappings", note)
            driver, where = ini.get("securitygroup", {}).get("firewall_driver", (None, ""))
            if driver is not None:
                if driver in _FIREWALLS:
                    agent["firewall-driver"] = _FIREWALLS[driver]
                else:
                    note(f"{where}: [securitygroup] firewall_driver = {driver!r} is not "
                         "modelled (iptables_hybrid, openvswitch): the model's "
                         "iptables_hybrid plugging is used")
        else:
            mappings = _mappings(ini, "linux_bridge", "physical_interface_mappings", note)
        if mappings is not None:
            agent["bridge-mappings"] = mappings
        note(f"{agent_path}: the agent's bind delay and whether this Neutron release wires an "
             "inactive binding (LP#1901707) are not configuration: the model's defaults "
             "(1 s, on-plug) are used")
    if agent:
        block["agent"] = agent
    return block
