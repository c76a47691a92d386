"""The built-in cases: topology files with ``expect:``, one per field-report case and fix."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SEEDS = {"000": "team roundrobin under a VM bridge, switch without LAG (seeds/000)",
         "001": "a bridged VM gets no IP: DHCP, firewall, VLAN, MAC conflicts (seeds/001)",
         "002": "which bond modes work under a VM bridge (seeds/002)",
         "003": "live migration, the VM unreachable afterwards (seeds/003)",
         "004": "bridged VM set-up and no connectivity: STP, MTU, VLAN, DHCP (seeds/004)"}


# translations of the cases' texts (vnetlab.i18n), not cases
TEXT_FILES = frozenset({"zh.yaml"})


def case_paths() -> dict[str, Path]:
    folder = resources.files(__package__)
    return {Path(str(p)).stem: Path(str(p)) for p in sorted(folder.iterdir(), key=str)
            if str(p).endswith(".yaml") and Path(str(p)).name not in TEXT_FILES}
