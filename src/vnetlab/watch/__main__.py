"""``python -m vnetlab.watch``: the watcher of the current network namespace, one JSON
object per line on stdout (what ``vnetlab watch --netns NS`` runs inside NS with ``ip
netns exec``). SIGTERM and SIGINT end it cleanly with an ``end`` record; exit 0."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from types import FrameType
from typing import Any


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    from vnetlab.watch import follow

    parser = argparse.ArgumentParser(prog="python -m vnetlab.watch")
    parser.add_argument("--duration", type=float)
    parser.add_argument("--flap-moves", type=int, default=1)
    parser.add_argument("--flap-window", type=float, default=10.0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)

    def emit(record: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")
        sys.stdout.flush()

    start = time.monotonic()
    try:
        monitor = follow(emit, duration=args.duration, flap_moves=args.flap_moves,
                         flap_window=args.flap_window)
    except OSError as exc:
        emit({"type": "error", "error": f"rtnetlink: {exc.strerror or exc}"})
        return 2
    emit({"type": "end", "events": monitor.events, "findings": monitor.findings,
          "seconds": round(time.monotonic() - start, 3)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
