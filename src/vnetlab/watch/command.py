"""``vnetlab watch [--netns NS] [--json] [--duration S]``: the command behind cli.py's
``watch``. Human lines (English or Chinese, ``i18n.t``) or the records as JSON lines;
with ``--netns`` the watcher runs inside the namespace as ``ip netns exec NS python -m
vnetlab.watch`` and its JSON lines are rendered here. Ctrl-C ends cleanly (exit 0); 2
when it cannot watch (no such namespace, no netlink)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import Any

import click


def render(record: dict[str, Any], as_json: bool, lang: str, where: str) -> None:
    from vnetlab.i18n import t

    if as_json:
        click.echo(json.dumps(record, sort_keys=True))
        return
    kind = record.get("type")
    stamp = f"{float(record.get('t', 0.0)):8.3f}s"
    vlan = f" vlan {record['vlan']}" if record.get("vlan") else ""
    fields = {**record, "time": stamp, "vlan": vlan}
    if kind == "ready":
        click.echo(t("watch.ready", lang, where=where, fdb=record.get("fdb", 0),
                     ports=record.get("ports", 0)))
    elif kind == "event":
        key = {"fdb-learn": "watch.learn", "fdb-move": "watch.move",
               "fdb-delete": "watch.delete", "port-state": "watch.port_state",
               "oper-state": "watch.oper_state"}.get(str(record.get("event")))
        if key is not None:
            click.echo(t(key, lang, **fields))
    elif kind == "finding":
        check = record.get("check")
        if check == "bridge.vm-mac-on-uplink":
            click.echo(t("watch.vm_mac_on_uplink", lang, **fields))
        elif check == "bridge.mac-flapping":
            click.echo(t("watch.flapping", lang, **{**fields, "ports": ", ".join(
                record.get("ports", []))}))
        else:
            click.echo(t("watch.port_finding", lang, **fields))
    elif kind == "lost":
        click.echo(t("watch.lost", lang, time=stamp), err=True)
    elif kind == "end":
        click.echo(t("watch.end", lang, events=record.get("events", 0),
                     findings=record.get("findings", 0),
                     seconds=f"{float(record.get('seconds', 0.0)):.1f}"), err=True)
    elif kind == "error":
        click.echo(t("watch.error", lang, error=record.get("error")), err=True)


def _child(netns: str, duration: float | None, flap_moves: int, flap_window: float
           ) -> list[str]:
    argv = ["ip", "netns", "exec", netns, sys.executable, "-m", "vnetlab.watch",
            "--flap-moves", str(flap_moves), "--flap-window", str(flap_window)]
    if duration is not None:
        argv += ["--duration", str(duration)]
    return argv


def main(netns: str | None, *, as_json: bool, duration: float | None, flap_moves: int,
         flap_window: float, lang: str) -> int:
    from vnetlab.capture.strings import register
    from vnetlab.i18n import t

    register()
    if flap_moves < 1 or flap_window <= 0 or (duration is not None and duration < 0):
        click.echo(t("watch.error", lang, error="--flap-moves takes 1 or more, --flap-window "
                     "and --duration a positive number of seconds"), err=True)
        return 2
    where = t("watch.netns", lang, netns=netns) if netns else t("watch.here", lang)
    if netns is None:
        from vnetlab.watch import follow

        start = time.monotonic()
        try:
            monitor = follow(lambda r: render(r, as_json, lang, where), duration=duration,
                             flap_moves=flap_moves, flap_window=flap_window)
        except OSError as exc:
            click.echo(t("watch.error", lang, error=f"rtnetlink: {exc.strerror or exc}"),
                       err=True)
            return 2
        render({"type": "end", "events": monitor.events, "findings": monitor.findings,
                "seconds": round(time.monotonic() - start, 3)}, as_json, lang, where)
        return 0
    from vnetlab.capture import CaptureError, check_netns

    try:
        check_netns(netns)
    except CaptureError as exc:
        click.echo(t("watch.error", lang, error=exc), err=True)
        return 2
    proc = subprocess.Popen(_child(netns, duration, flap_moves, flap_window),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    code = 0
    try:
        for line in proc.stdout:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                code = 2 if record.get("type") == "error" else code
                render(record, as_json, lang, where)
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGTERM)
        for line in proc.stdout:             # the child's end record
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                render(record, as_json, lang, where)
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return code or (2 if proc.returncode not in (0, None) else 0)
