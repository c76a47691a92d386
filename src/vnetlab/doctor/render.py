"""The doctor's output: per host, findings by severity with their evidence,
consequence, fix and references (and the proof with ``--prove``); then a summary per
check and per host. Text in English or Chinese (``i18n.t``; a step sentence inside a
proof through ``i18n.note``), JSON in English with a stable schema
(``SCHEMA``; docs/doctor.md) and no wall-clock value.
"""

from __future__ import annotations

import textwrap
from typing import Any

from vnetlab.doctor.model import CHECKS, RANK, SEVERITIES
from vnetlab.i18n import note, t

SCHEMA = "vnetlab.doctor/1"
WIDTH = 100
MAX_HOST_LINES = 50


def summary(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts per severity, per check (findings, hosts) and per host."""
    counts = dict.fromkeys(SEVERITIES, 0)
    by_check: dict[str, dict[str, Any]] = {}
    by_host: dict[str, dict[str, int]] = {}
    hosts = 0
    for report in reports:
        hosts += len(report["hosts"])
        for finding in report["findings"]:
            counts[finding["severity"]] += 1
            entry = by_check.setdefault(finding["check"], {"findings": 0, "hosts": set(),
                                                            "severity": finding["severity"]})
            entry["findings"] += 1
            entry["hosts"].add((report["input"], finding["host"]))
            if RANK[finding["severity"]] < RANK[entry["severity"]]:
                entry["severity"] = finding["severity"]
            key = _host_key(report, finding["host"])
            per = by_host.setdefault(key, dict.fromkeys(SEVERITIES, 0))
            per[finding["severity"]] += 1
    return {
        "inputs": len(reports), "hosts": hosts,
        "unreadable": sum(1 for r in reports if r["errors"]),
        "findings": counts,
        "by_check": {cid: {"severity": e["severity"], "findings": e["findings"],
                           "hosts": len(e["hosts"])} for cid, e in sorted(by_check.items())},
        "by_host": dict(sorted(by_host.items())),
    }


def _host_key(report: dict[str, Any], host: str) -> str:
    return f"{report['input']}:{host}" if len(report["hosts"]) > 1 else \
        f"{report['input']}" if host in report["hosts"] else f"{report['input']}:{host}"


def to_json(reports: list[dict[str, Any]], exit_status: int, engine: str) -> dict[str, Any]:
    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in reports]
    return {"schema": SCHEMA, "engine": engine, "exit_status": exit_status,
            "checks": [{"id": c.id, "severity": c.severity, "title": c.title,
                        "rules": list(c.rules), "references": list(c.references)}
                       for c in CHECKS.values()],
            "reports": clean, "summary": summary(reports)}


def text(reports: list[dict[str, Any]], lang: str = "en", *, checks: int = 0) -> str:
    lines: list[str] = []
    for report in reports:
        if report["errors"]:
            lines.extend(t("doctor.input_error", lang, error=e) for e in report["errors"])
            continue
        translated = report.get("_lang")
        indexed = list(enumerate(report["findings"]))
        for host in report["hosts"] or ["-"]:
            mine = [(i, f) for i, f in indexed if f["host"] == host]
            lines.append(t("doctor.host", lang, host=host, input=report["input"],
                           kind=report["kind"]))
            if not mine:
                lines.append(t("doctor.host.clean", lang, checks=checks))
            for i, finding in mine:
                lines.extend(_finding(finding, translated[i] if translated else None, lang))
            if report.get("skipped") and host == (report["hosts"] or ["-"])[-1]:
                lines.append(t("doctor.skipped", lang, count=len(report["skipped"])))
            lines.append("")
    lines.extend(_summary_lines(summary(reports), lang))
    return "\n".join(lines)


def _wrap(sentence: str, indent: str, lang: str) -> list[str]:
    if lang == "zh":
        return [indent + sentence]
    return textwrap.wrap(sentence, WIDTH, initial_indent=indent, subsequent_indent=indent,
                         break_on_hyphens=False) or [indent]


def _finding(f: dict[str, Any], zh: dict[str, Any] | None, lang: str) -> list[str]:
    title = zh["title"] if zh else f["title"]
    out = [t("doctor.finding", lang, severity=t(f"doctor.severity.{f['severity']}", lang),
             check=f["check"], subject=f["subject"], title=title)]
    out.append("  " + t("doctor.evidence", lang))
    for e in f["evidence"]:
        where = f"{e['file']}:{e['line']}:{e['column']}" if e["line"] else e["file"]
        kind = t(f"doctor.evidence.{e['kind']}", lang)
        out.append(f"    {kind:<7} {where}  {e['path']}: {e['text']}")
    out.append("  " + t("doctor.consequence", lang))
    out.extend(_wrap(zh["consequence"] if zh else f["consequence"], "    ", lang))
    if f["fix"]:
        out.append("  " + t("doctor.fix", lang))
        for n, fix in enumerate(f["fix"]):
            where = zh["fix"][n] if zh else fix["where"]
            prefix = f"{t('doctor.fix.or', lang)} " if n else ""
            out.append(f"    {prefix}{where}:")
            out.extend(f"      {command}" for command in fix["commands"])
    for n, remark in enumerate(f["notes"]):
        out.extend(_wrap(f"{t('doctor.note', lang)} {zh['notes'][n] if zh else remark}", "  ",
                         lang))
    out.append("  " + t("doctor.rules", lang, rules=", ".join(f["rules"])))
    out.append("  " + t("doctor.references", lang) + " " + "; ".join(f["references"]))
    if "prove" in f:
        out.extend(_proof(f["prove"], lang))
    return out


def _proof(proof: dict[str, Any], lang: str) -> list[str]:
    out = ["  " + t("doctor.prove", lang, seed=proof["seed"])]
    harness = proof.get("harness")
    if harness:
        dhcp = t("doctor.prove.harness_dhcp", lang, pool=", ".join(harness["dhcp_pools"])) \
            if harness["dhcp_pools"] else ""
        out.extend(_wrap(t("doctor.prove.harness", lang, host=harness["host"],
                           switch=harness["switch"], nics=", ".join(harness["nics"]),
                           endpoint=harness["endpoint"],
                           address=", ".join(harness["addresses"]), dhcp=dhcp), "    ", lang))
    if proof.get("status") == "not-proved":
        key = proof.get("why_key") or {}
        why = t(key["key"], lang, **key["fields"]) if key else proof.get("why", "")
        out.extend(_wrap(t("doctor.prove.not_provable", lang, why=why), "    ", lang))
        return out
    applied = proof.get("applied", [1])
    fix = t("doctor.prove.fix_n", lang, n="+".join(str(n) for n in applied)) if len(applied) == 1 \
        else t("doctor.prove.fixes_n", lang, n="+".join(str(n) for n in applied))
    for probe in proof["probes"]:
        before, after = probe["before"], probe["after"]
        why = ""
        explain = before.get("explain")
        if explain:
            why = t("doctor.prove.explain", lang, where=explain["where"] + (
                f"/{explain['port']}" if explain["port"] and explain["port"] not in
                explain["where"] else ""), note=note(explain["note"], lang), fn=explain["fn"],
                rule=explain["rule"])
        if probe["kind"] == "ping":
            size = t("doctor.prove.size", lang, size=probe["size"]) if probe["size"] != 56 else ""
            line = t("doctor.prove.ping", lang, vm=probe["vm"], dst=probe["dst"], size=size,
                     now=_word(before, lang), why=why, after=_word(after, lang), fix=fix)
        else:
            line = t("doctor.prove.dhcp", lang, vm=probe["vm"], now=_lease(before, probe, lang),
                     why=why, after=_lease(after, probe, lang), fix=fix)
        out.extend(_wrap(line, "    ", lang))
    if proof.get("status") == "unchanged":
        out.append("    " + t("doctor.prove.unchanged", lang))
    return out


def _word(verdict: dict[str, Any], lang: str) -> str:
    if verdict["verdict"] == "partly":
        return t("doctor.prove.partly", lang, replies=verdict["replies"], sent=verdict["sent"])
    return t(f"doctor.prove.{verdict['verdict']}", lang)


def _lease(verdict: dict[str, Any], probe: dict[str, Any], lang: str) -> str:
    from vnetlab.devices.dhcp import secs

    within = probe.get("within_ns")
    if verdict["verdict"] == "works":
        return t("doctor.prove.bound_at", lang, address=verdict["address"],
                 time=secs(verdict["since_ns"]))
    if verdict.get("state") == "link-local":
        return t("doctor.prove.link_local", lang)
    if within is not None:
        return t("doctor.prove.no_lease_by", lang, time=secs(within))
    return t("doctor.prove.unbound", lang)


def _summary_lines(data: dict[str, Any], lang: str) -> list[str]:
    counts = data["findings"]
    out = [t("doctor.summary", lang, inputs=data["inputs"], hosts=data["hosts"],
             errors=counts["error"], warnings=counts["warning"], infos=counts["info"],
             bad=data["unreadable"])]
    if data["by_check"]:
        out.append(t("doctor.summary.by_check", lang))
        out.extend(t("doctor.summary.check_line", lang, check=cid,
                     severity=t(f"doctor.severity.{e['severity']}", lang),
                     findings=e["findings"], hosts=e["hosts"])
                   for cid, e in data["by_check"].items())
    if data["by_host"]:
        out.append(t("doctor.summary.by_host", lang))
        ranked = sorted(data["by_host"].items(),
                        key=lambda kv: (-kv[1]["error"], -kv[1]["warning"], -kv[1]["info"], kv[0]))
        out.extend(t("doctor.summary.host_line", lang, host=host, errors=c["error"],
                     warnings=c["warning"], infos=c["info"])
                   for host, c in ranked[:MAX_HOST_LINES])
        if len(ranked) > MAX_HOST_LINES:
            out.append(t("doctor.summary.more_hosts", lang, count=len(ranked) - MAX_HOST_LINES))
    return out
