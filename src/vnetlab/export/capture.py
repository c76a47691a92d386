"""Capture points: what ``tcpdump -i IFACE`` would record at each link end, and the
pcap files of a run.

A link end is every ``LinkedDevice`` of the lab: host NICs, taps, the guests'
virtio NICs, switch ports and router NICs (``node:iface``, as ``lab.devices``
names them; a VM's ``eth0`` is its guest NIC). Capturing one sets its
``capture`` list; ``LinkedDevice.xmit`` and ``link_rx`` append ``(time,
transmitted, frame)`` exactly where they record their TRANSMIT and RECEIVE
steps, which is where Linux's packet taps run:

* transmit: ``dev_hard_start_xmit`` -> ``xmit_one`` -> ``dev_queue_xmit_nit``, after
  the carrier check (a frame dropped for no carrier never reached the tap) and
  before the medium: a frame a faulty link loses was still transmitted (L1);
* receive: ``__netif_receive_skb_core``'s ``ptype_all`` taps, before
  ``vlan_do_receive`` and any rx_handler: a bond's inactive slave or a
  non-forwarding bridge port still shows the frame (BD6: "tcpdump on eth1"), a
  frame that arrived after carrier loss was not received (L1), nor one a
  switch port dropped as a giant (MTU4) or the storm guard cut.

So per link end the records are the device's TRANSMIT and RECEIVE steps of a
``full`` trace, one to one and in order; capture works at every trace level.
With capture off the per-frame path pays one ``is not None`` test.

Limits: the frame is recorded as it is on the wire (tag in the frame, padded
to 60 bytes); a real sender's own tcpdump sees the frame before the NIC pads
it, and one with VLAN offload sees the tag from the packet's metadata. No
direction in the file (classic pcap has none; pcapng would).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from vnetlab.devices.netdev import LinkedDevice
from vnetlab.export.pcap import FrameEncoder, PcapTimeError, check_time, pcap_bytes
from vnetlab.net.frame import Frame
from vnetlab.sim.time import Time

if TYPE_CHECKING:
    from vnetlab.lab import Lab

CaptureRecord = tuple[Time, bool, Frame]      # (time in ns, transmitted?, frame)

__all__ = ["CaptureError", "CaptureRecord", "PcapTimeError", "captures", "file_names",
           "link_ends", "start_capture", "write_pcaps"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class CaptureError(ValueError):
    """A capture port that names no link end of the lab."""


def link_ends(lab: Lab) -> dict[str, LinkedDevice]:
    """Every link end, ``node:iface`` -> device, in the lab's build order."""
    return {ref: dev for ref, dev in lab.devices.items() if isinstance(dev, LinkedDevice)}


def start_capture(lab: Lab, ports: Iterable[str] | None = None) -> list[str]:
    """Turn capture on at ``ports`` (``node:iface``; None: every link end) before the
    run starts. Unknown names raise ``CaptureError`` naming them and the valid ones,
    and then nothing is captured."""
    ends = link_ends(lab)
    chosen: list[str] = []
    if isinstance(ports, str):
        ports = [ports]
    if ports is None:
        chosen = list(ends)
    else:
        for port in ports:
            for ref in (p.strip() for p in port.split(",")):
                if ref and ref not in chosen:
                    chosen.append(ref)
    unknown = [ref for ref in chosen if ref not in ends]
    if unknown:
        others = [ref for ref in unknown if ref in lab.devices]   # a bridge, bond, VLAN device
        why = f" ({', '.join(others)}: not the end of a link)" if others else ""
        raise CaptureError(
            f"no link end {', '.join(repr(u) for u in unknown)}{why}; capture ports are "
            f"node:iface, one of: {', '.join(ends)}")
    if not chosen:
        raise CaptureError(f"no capture port given; capture ports are node:iface, one of: "
                           f"{', '.join(ends)}")
    for ref in chosen:
        ends[ref].capture = []
    return chosen


def captures(lab: Lab) -> dict[str, list[CaptureRecord]]:
    """The records of every capturing link end (empty lists included)."""
    return {ref: dev.capture for ref, dev in link_ends(lab).items() if dev.capture is not None}


def file_names(refs: Iterable[str]) -> dict[str, str]:
    """``node:iface`` -> ``node_iface.pcap``: characters other than letters, digits,
    ``.``, ``_`` and ``-`` become ``_``, a leading dot too; a name two refs would
    share gets ``-2``, ``-3``... in the order given."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for ref in refs:
        node, _, iface = ref.partition(":")
        stem = _UNSAFE.sub("_", f"{node}_{iface}")
        if stem.startswith("."):
            stem = "_" + stem[1:]
        name, n = f"{stem}.pcap", 1
        while name.lower() in taken:            # also distinct on case-insensitive disks
            n += 1
            name = f"{stem}-{n}.pcap"
        taken.add(name.lower())
        out[ref] = name
    return out


def write_pcaps(lab: Lab, folder: str | os.PathLike[str]) -> dict[str, Path]:
    """Write one pcap per capturing link end into ``folder`` (created if missing);
    returns ``node:iface`` -> path. Atomic: each file is written to a temporary file
    in ``folder``, and the files are renamed into place only once all are complete;
    on a failure the temporary files are removed, so a name holds either its old
    content or a complete new capture, never a partial one."""
    records = captures(lab)
    for recs in records.values():             # refuse before any file is touched
        if recs:
            check_time(recs[0][0])            # records are in time order
            check_time(recs[-1][0])
    names = file_names(records)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    encoder = FrameEncoder()
    done: list[tuple[str, Path]] = []
    try:
        for ref, recs in records.items():
            fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{names[ref]}.", suffix=".tmp")
            done.append((tmp, out / names[ref]))
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), 0o644)
                handle.write(pcap_bytes(((t, frame) for t, _, frame in recs), encoder))
        for tmp, final in done:
            os.replace(tmp, final)
    except BaseException:
        for tmp, _ in done:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise
    return {ref: out / names[ref] for ref in records}
