"""Shared by the diagram, report and browser tests: a topology whose names are
hostile to HTML, SVG, DOT, Mermaid and JSON, and a dependency-free PNG reader."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import vnetlab
from conftest import LOOP  # noqa: F401  (re-exported for the report tests)
from vnetlab.catalog import case_paths
from vnetlab.lab import RunResult

CASES = case_paths()

# Every kind of name a report writes: node (host, VM, switch, router), interface, tap,
# port, the topology's name, description and an expectation's `because`.
HOSTILE_VM = "<img src=x onerror=alert(1)>"
HOSTILE = """\
name: "hostile </script><script>alert(1)</script>"
description: "a \\"quoted\\" <b>bold</b> & 'single' </script><!-- x"
hosts:
  "kvm<1>":
    interfaces:
      - name: "eth\\"0"
        type: ethernet
        mac-address: 00:50:56:a1:00:01
      - name: "br<b>"
        type: linux-bridge
        bridge:
          options: {stp: {enabled: false}}
          port: [{name: "eth\\"0"}]
vms:
  "<img src=x onerror=alert(1)>":
    host: "kvm<1>"
    interfaces:
      - source: "br<b>"
        target: "tap'</script>"
        mac: 52:54:00:12:34:01
        ipv4: {address: 192.168.10.21/24}
switches:
  "sw&1":
    ports: ["ge1</title>", "ge2 }\\\\"]
routers:
  "gw\\"1":
    interfaces:
      - {name: "e0<svg onload=alert(2)>", mac-address: 00:1b:21:0a:0b:01, ipv4: 192.168.10.254/24}
links:
  - endpoints: ["kvm<1>:eth\\"0", "sw&1:ge1</title>"]
  - endpoints: ["gw\\"1:e0<svg onload=alert(2)>", "sw&1:ge2 }\\\\"]
run:
  - at: 1s
    ping: {from: "<img src=x onerror=alert(1)>", to: 192.168.10.99, count: 1}
expect:
  - ping: {from: "<img src=x onerror=alert(1)>", to: 192.168.10.99}
    result: ok
    because: "it <script>alert(3)</script> should"
"""



def run_case(name: str, seed: int = 0) -> RunResult:
    return vnetlab.simulate(vnetlab.load_topology(str(CASES[name])), seed=seed)


def run_file(path: Path, text: str) -> RunResult:
    path.write_text(text, encoding="utf-8")
    return vnetlab.simulate(vnetlab.load_topology(str(path)))


def read_png(data: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """Width, height and RGB pixels of an 8-bit, non-interlaced PNG (what Chromium
    writes): chunks, zlib and the five scanline filters of the PNG specification."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = depth = colour = interlace = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and interlace == 0 and colour in (2, 6), (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytearray] = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(line)
        prev = line
    pixels = [(row[x], row[x + 1], row[x + 2]) for row in rows for x in range(0, stride, bpp)]
    return width, height, pixels
