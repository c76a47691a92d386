"""``vnetlab watch``: the bridges' FDB and link events as the kernel announces them, with
the doctor's live checks decided on the spot (docs/capture.md "watch").

``follow()`` subscribes a netlink socket to RTNLGRP_LINK and RTNLGRP_NEIGH first, then
dumps the links, the bridge ports (AF_BRIDGE) and the FDB (RTM_GETNEIGH, AF_BRIDGE), so
that nothing that happens meanwhile is missed; ``monitor.Monitor`` decides. In another
network namespace (Python 3.11 has no ``os.setns``) the same code runs as a child,
``ip netns exec NS python -m vnetlab.watch``, streaming JSON lines to the parent.

Read-only: the only messages sent are RTM_GETLINK/RTM_GETNEIGH dump requests.
Limits: bridges' FDBs only (not OVS: its MAC table has no netlink events); a socket
overflow (ENOBUFS) loses events: it is reported and the tables are read again.
"""

from __future__ import annotations

import contextlib
import errno
import select
import time
from collections.abc import Callable
from typing import Any

from vnetlab.watch.monitor import Monitor, Record
from vnetlab.watch.netlink import (
    AF_BRIDGE,
    AF_UNSPEC,
    RTM_GETLINK,
    RTM_GETNEIGH,
    RTMGRP_LINK,
    RTMGRP_NEIGH,
    FdbMsg,
    LinkMsg,
    dump,
    open_socket,
    parse,
)

__all__ = ["Monitor", "follow"]


def _load(monitor: Monitor) -> Record:
    links = [m for m in dump(RTM_GETLINK, AF_UNSPEC, 1) if isinstance(m, LinkMsg)]
    ports = [m for m in dump(RTM_GETLINK, AF_BRIDGE, 2) if isinstance(m, LinkMsg)]
    fdb = [m for m in dump(RTM_GETNEIGH, AF_BRIDGE, 3) if isinstance(m, FdbMsg)]
    return monitor.load(links, ports, fdb)


def follow(emit: Callable[[Record], Any], *, duration: float | None = None,
           flap_moves: int = 1, flap_window: float = 10.0) -> Monitor:
    """Watch until ``duration`` seconds have passed or Ctrl-C (KeyboardInterrupt, which
    ends it cleanly); every record goes to ``emit``. Returns the monitor (its counters)."""
    monitor = Monitor(flap_moves, flap_window)
    start = time.monotonic()
    with open_socket(RTMGRP_LINK | RTMGRP_NEIGH) as sock:
        ready = _load(monitor)
        emit({**ready, "t": 0.0})
        with contextlib.suppress(KeyboardInterrupt):
            monitor = _loop(sock, monitor, emit, start, duration)
    return monitor


def _loop(sock: Any, monitor: Monitor, emit: Callable[[Record], Any], start: float,
          duration: float | None) -> Monitor:
    while True:
        now = time.monotonic() - start
        if duration is not None and now >= duration:
            return monitor
        wait = 0.5 if duration is None else max(0.0, min(0.5, duration - now))
        readable, _, _ = select.select([sock], [], [], wait)
        if not readable:
            continue
        try:
            data = sock.recv(1 << 20)
        except OSError as exc:
            if exc.errno != errno.ENOBUFS:
                raise
            emit({"type": "lost", "t": round(time.monotonic() - start, 3)})
            fresh = Monitor(monitor.flap_moves, monitor.flap_window)
            fresh.events, fresh.findings = monitor.events, monitor.findings
            fresh.home = monitor.home
            _load(fresh)
            monitor = fresh
            continue
        for msg in parse(data):
            if isinstance(msg, int):
                continue
            for record in monitor.handle(msg, time.monotonic() - start):
                emit(record)
