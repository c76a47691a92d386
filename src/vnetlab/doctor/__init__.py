"""``vnetlab doctor``: hazard checks with stable ids over a host's configuration,
proof by simulation, fleet audits (docs/doctor.md).

``diagnose(path, only=...) -> Report`` reads one input (doctor/inputs.py), runs every
registered check (doctor/checks/) and returns its findings per host; ``prove`` (doctor/
prove.py) simulates the topology with and without each fix; ``fleet`` (doctor/fleet.py)
audits many inputs on a process pool or a Dask cluster. Importing this package
registers the doctor's phrases (doctor/strings.py) and checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vnetlab.doctor import strings as _strings
from vnetlab.doctor.checks import aggregate as _aggregate  # noqa: F401 (registers the checks)
from vnetlab.doctor.inputs import BadInput, expand, load
from vnetlab.doctor.model import CHECKS, RANK, SEVERITIES, Check, Evidence, Finding, Fix, Probe

_strings.register()

__all__ = ["CHECKS", "RANK", "SEVERITIES", "BadInput", "Check", "Evidence", "Finding", "Fix",
           "Probe", "Report", "diagnose", "expand", "load"]


@dataclass(slots=True)
class Report:
    """One input's result: its hosts, findings (sorted: severity, check, host), or the
    errors that made it unreadable (exit status 2)."""

    input: str
    kind: str = "topology"
    hosts: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)      # checks that need a capture

    def to_json(self, lang: str = "en") -> dict[str, Any]:
        return {"input": self.input, "kind": self.kind, "hosts": list(self.hosts),
                "findings": [f.to_json(lang) for f in self.findings],
                "errors": list(self.errors)}


def diagnose(path: str, only: tuple[str, ...] = (), ctx: Any = None) -> tuple[Report, Any]:
    """Run the checks (``only``: these ids, or ids under a prefix like ``bond.``) on one
    input; returns the report and the context (for --prove)."""
    report = Report(path)
    if ctx is None:
        try:
            ctx = load(path)
        except BadInput as exc:
            report.errors = [str(e) for e in exc.errors]
            return report, None
    report.kind = ctx.kind
    report.hosts = list(ctx.spec.hosts)
    for check in selected(only):
        if check.needs_capture and ctx.captured is None:
            report.skipped.append(check.id)
            continue
        report.findings.extend(check.run(ctx))
    report.findings.sort(key=lambda f: f.sort_key())
    return report, ctx


def selected(only: tuple[str, ...] = ()) -> list[Check]:
    if not only:
        return list(CHECKS.values())
    return [c for cid, c in CHECKS.items()
            if any(cid == o or (o.endswith(".") and cid.startswith(o)) or cid.startswith(o + ".")
                   for o in only)]
