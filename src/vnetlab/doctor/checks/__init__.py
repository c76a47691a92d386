"""Every doctor check, by area; importing this package registers them in order
(``doctor.model.CHECKS``). One module per area:

==============  ===========================================================================
``aggregate``   team.roundrobin-without-lag, team.runner-needs-lag, team.lacp-no-partner,
                bond.mode-under-bridge, bond.no-link-monitor
``bridge``      bridge.vm-mac-on-uplink, bridge.mac-flapping, bridge.port-state,
                bridge.stp-delays-dhcp, bridge.switch-port-not-edge,
                bridge.nf-call-iptables-drops, bridge.host-ip-on-port, bridge.no-uplink
``vm``          vm.duplicate-mac, vm.mac-conflicts-host, mtu.mismatch
``vlan``        vlan.not-carried
``dhcp``        dhcp.pool-too-small, dhcp.no-relay
``ovs``         (the lead: ovs.port-dead-vlan)
``migration``   (the lead: migration.announce-vs-binding)
==============  ===========================================================================
"""

from vnetlab.doctor.checks import aggregate, bridge, dhcp, migration, ovs, vlan, vm

__all__ = ["aggregate", "bridge", "dhcp", "migration", "ovs", "vlan", "vm"]
