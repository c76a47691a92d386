"""pcap export: the byte codec re-dissected by scapy (a GPL test oracle, never imported
by vnetlab) and by tshark, the capture points against the trace, and the files.

Frames come from the model: its own constructors and the frames the catalog's runs
put on their links; hypothesis adds random frames of every kind. Every field scapy
reads back is compared with the model's value, and every checksum with the one
scapy computes itself."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.contrib.lacp import LACP, SlowProtocol
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import ICMP, IP, UDP, defragment
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.utils import RawPcapReader

import vnetlab
from vnetlab.catalog import case_paths
from vnetlab.devices.dhcp import BOOTREPLY, BOOTREQUEST, BROADCAST_FLAG, Dhcp, DhcpType, dhcp_frame
from vnetlab.devices.netdev import Link, Nic
from vnetlab.export import capture as capture_mod
from vnetlab.export.capture import CaptureError, captures, file_names, link_ends
from vnetlab.export.pcap import (
    PCAP_MAGIC_NS,
    SNAPLEN,
    TIME_LIMIT_NS,
    FrameEncoder,
    PcapTimeError,
    encode_frame,
    inet_checksum,
    pcap_bytes,
    pcap_header,
    pcap_record,
)
from vnetlab.net.addr import ip4_str, mac_str
from vnetlab.net.frame import (
    LACP_GROUP,
    Arp,
    ArpOp,
    EtherType,
    Frame,
    Icmp,
    IcmpType,
    Ipv4,
    Lacpdu,
    LacpInfo,
    Raw,
    Udp,
    arp_reply,
    arp_request,
    gratuitous_arp,
    ip_fragment,
    lacpdu_frame,
    rarp_announce,
)
from vnetlab.sim.sim import Sim
from vnetlab.sim.time import MS, S
from vnetlab.sim.trace import Action

CASES = case_paths()
VM, GW = 0x5254_0012_3401, 0x001B_210A_0B01
VM_IP, GW_IP = 0xC0A8_0A15, 0xC0A8_0AFE


def in_ci() -> bool:
    """CI=true turns a missing tool from a skip into a failure (tests/kernel/netns.py)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = (f"!!! {name} not installed: the Wireshark oracle did not run (apt-get install "
                   "tshark)")
        if in_ci():
            pytest.fail(message + " (CI=true: not skipping)", pytrace=False)
        pytest.skip(message + " (set CI=true to make this a failure)")
    return path


# -- frames from the model ------------------------------------------------------------------

def constructed_frames() -> list[Frame]:
    """One of each kind, built by the model's own constructors."""
    discover = Dhcp(BOOTREQUEST, DhcpType.DISCOVER, 0x1234_5678, VM, flags=BROADCAST_FLAG, secs=3)
    request = Dhcp(BOOTREQUEST, DhcpType.REQUEST, 0x1234_5678, VM, server_id=GW_IP,
                   requested_ip=VM_IP)
    ack = Dhcp(BOOTREPLY, DhcpType.ACK, 0x1234_5678, VM, yiaddr=VM_IP, siaddr=GW_IP,
               giaddr=0x0A00_0001, hops=1, server_id=GW_IP, lease_time=3600, renewal_time=1800,
               rebinding_time=3150, subnet_mask=0xFFFF_FF00, router=GW_IP)
    nak = Dhcp(BOOTREPLY, DhcpType.NAK, 0x1234_5678, VM, server_id=GW_IP,
               message="address in use by 52:54:00:12:34:02")
    renew = Dhcp(BOOTREQUEST, DhcpType.REQUEST, 7, VM, ciaddr=VM_IP)
    echo = Ipv4(VM_IP, GW_IP, Icmp(IcmpType.ECHO_REQUEST, 1, 1, 56), 77, df=True)
    big = Ipv4(VM_IP, GW_IP, Icmp(IcmpType.ECHO_REQUEST, 1, 2, 3000), 0x1_2345)
    udp_big = Ipv4(VM_IP, GW_IP, Udp(40000, 9, Raw(2000)), 99)
    lacp = Lacpdu(LacpInfo(65535, VM, 9, 255, 1, 0x3D), LacpInfo(32768, GW, 13, 32768, 2, 0x3F))
    frames = [
        arp_request(1, VM, VM_IP, GW_IP), arp_reply(2, GW, GW_IP, VM, VM_IP),
        gratuitous_arp(3, VM, VM_IP), arp_request(4, VM, VM_IP, GW_IP, dst=GW),
        rarp_announce(5, VM),
        Frame(VM, GW, EtherType.RARP, Arp(ArpOp.RARP_REPLY, GW, GW_IP, VM, VM_IP), 6),
        Frame(GW, VM, EtherType.IPV4, echo, 7),
        Frame(VM, GW, EtherType.IPV4, replace(echo, src=GW_IP, dst=VM_IP, payload=Icmp(
            IcmpType.ECHO_REPLY, 1, 1, 56)), 8),
        Frame(GW, VM, EtherType.IPV4, Ipv4(VM_IP, GW_IP, Icmp(IcmpType.ECHO_REQUEST, 9, 1, 0)), 9),
        dhcp_frame(10, VM, 0xFFFF_FFFF_FFFF, 0, 0xFFFF_FFFF, 68, 67, discover),
        dhcp_frame(11, VM, 0xFFFF_FFFF_FFFF, 0, 0xFFFF_FFFF, 68, 67, request),
        dhcp_frame(12, GW, VM, GW_IP, VM_IP, 67, 68, ack),
        dhcp_frame(13, GW, 0xFFFF_FFFF_FFFF, GW_IP, 0xFFFF_FFFF, 67, 68, nak),
        Frame(GW, VM, EtherType.IPV4, Ipv4(VM_IP, GW_IP, Udp(68, 67, renew)), 14),
        lacpdu_frame(15, VM, lacp), lacpdu_frame(16, GW, Lacpdu(lacp.actor, LacpInfo(0, 0, 0, 0,
                                                                                  0, 0))),
        Frame(VM, VM, EtherType.LOOPBACK, Raw(46), 17),
        Frame(0xFFFF_FFFF_FFFF, VM, 0x88B5, Raw(), 18),
        Frame(GW, VM, 0x88B5, Raw(1), 19),
    ]
    frames += [Frame(GW, VM, EtherType.IPV4, piece, 20 + i)
               for i, piece in enumerate(ip_fragment(big, 1500))]
    frames += [Frame(GW, VM, EtherType.IPV4, piece, 30 + i)
               for i, piece in enumerate(ip_fragment(udp_big, 576))]
    frames += [replace(f, vlan=vid) for f, vid in zip(frames[:16], (10, 4094, 1, 100, 2) * 4,
                                                        strict=False)]
    return frames


def run_frames() -> list[Frame]:
    """Frames the catalog's runs put on their links: a few of each kind per case."""
    out: list[Frame] = []
    for name in sorted(CASES):
        result = vnetlab.simulate(vnetlab.load_topology(str(CASES[name])), trace="summary",
                                  capture=True)
        seen: dict[tuple[object, ...], int] = {}
        for records in captures(result.lab).values():
            for _, _, frame in records:
                p = frame.payload
                inner = p.payload if isinstance(p, Ipv4) else None
                key = (type(p), type(inner), getattr(getattr(inner, "data", None), "mtype", None),
                       bool(frame.vlan), isinstance(p, Ipv4) and p.is_fragment)
                if seen.get(key, 0) < 2:
                    seen[key] = seen.get(key, 0) + 1
                    out.append(frame)
    return out


# -- scapy checks -----------------------------------------------------------------------------

def recomputed(pkt: Ether, layer: type) -> int:
    """scapy's own checksum of ``layer`` in ``pkt``."""
    clone = Ether(bytes(pkt))
    del clone[layer].chksum
    return int(Ether(bytes(clone))[layer].chksum)


def check_frame(frame: Frame, data: bytes | None = None) -> Ether:
    """Dissect the frame's bytes with scapy and compare every field with the model."""
    data = encode_frame(frame) if data is None else data
    assert len(data) == frame.length
    pkt = Ether(data)
    assert (pkt.dst, pkt.src) == (mac_str(frame.dst), mac_str(frame.src))
    if frame.vlan:
        assert pkt.type == 0x8100
        tag = pkt[Dot1Q]
        assert (tag.prio, tag.dei, tag.vlan, tag.type) == (0, 0, frame.vlan, frame.ethertype)
        l3 = data[18:]
    else:
        assert pkt.type == frame.ethertype
        l3 = data[14:]
    payload = frame.payload
    if isinstance(payload, Arp):
        arp = pkt[ARP] if ARP in pkt else ARP(l3)       # scapy binds ARP to 0x0806 only
        assert (arp.hwtype, arp.ptype, arp.hwlen, arp.plen) == (1, 0x0800, 6, 4)
        assert (arp.op, arp.hwsrc, arp.psrc, arp.hwdst, arp.pdst) == (
            payload.op, mac_str(payload.sha), ip4_str(payload.spa), mac_str(payload.tha),
            ip4_str(payload.tpa))
        assert not any(l3[28:])                             # the padding is zeros
    elif isinstance(payload, Ipv4):
        check_ipv4(pkt, payload)
    elif isinstance(payload, Lacpdu):
        assert frame.dst == LACP_GROUP
        lacp = pkt[LACP] if LACP in pkt else SlowProtocol(l3)[LACP]   # not bound after Dot1Q
        assert len(l3) == 110 and l3[:2] == b"\x01\x01"
        for side, info in (("actor", payload.actor), ("partner", payload.partner)):
            assert [getattr(lacp, f"{side}_{name}") for name in (
                "system_priority", "system", "key", "port_priority", "port_number", "state")] == [
                info.system_priority, mac_str(info.system), info.key, info.port_priority,
                info.port, info.state]
        assert (lacp.actor_type, lacp.actor_length, lacp.partner_type, lacp.partner_length,
                lacp.collector_type, lacp.collector_length, lacp.terminator_type,
                lacp.terminator_length) == (1, 20, 2, 20, 3, 16, 0, 0)
        assert not any(l3[-50:])
    else:
        assert isinstance(payload, Raw)
        assert len(l3) >= payload.length and not any(l3)
    return pkt


def check_ipv4(pkt: Ether, packet: Ipv4) -> None:
    ip = pkt[IP]
    assert (ip.version, ip.ihl, ip.tos, ip.ttl) == (4, 5, 0, packet.ttl)   # 64, less per router
    assert ip.len == packet.length
    assert ip.id == packet.ident & 0xFFFF
    assert (bool(ip.flags.DF), bool(ip.flags.MF)) == (packet.df, packet.mf)
    assert ip.frag * 8 == packet.frag_off
    assert (ip.src, ip.dst, ip.proto) == (ip4_str(packet.src), ip4_str(packet.dst),
                                          int(packet.proto))
    assert recomputed(pkt, IP) == ip.chksum
    if packet.is_fragment:
        return                                   # the L4 checks run on the reassembled datagram
    check_l4(pkt, packet)


def check_l4(pkt: Ether, packet: Ipv4) -> None:
    inner = packet.payload
    if isinstance(inner, Icmp):
        icmp = pkt[ICMP]
        assert (icmp.type, icmp.code, icmp.id, icmp.seq) == (
            inner.type, 0, inner.ident & 0xFFFF, inner.seq & 0xFFFF)
        data = bytes(icmp.payload)[:inner.size]
        assert data == bytes(i & 0xFF for i in range(inner.size))   # iputils' fill pattern
        assert recomputed(pkt, ICMP) == icmp.chksum
        return
    udp = pkt[UDP]
    assert (udp.sport, udp.dport, udp.len) == (inner.sport, inner.dport, inner.length)
    assert udp.chksum != 0 and recomputed(pkt, UDP) == udp.chksum
    msg = inner.data
    if not isinstance(msg, Dhcp):
        assert not any(bytes(udp.payload)[:inner.length - 8])
        return
    bootp = pkt[BOOTP] if BOOTP in pkt else BOOTP(bytes(udp.payload))   # bound to 67/68 only
    assert len(bootp) == msg.length
    assert (bootp.op, bootp.htype, bootp.hlen, bootp.hops, bootp.xid, bootp.secs,
            bootp.flags) == (msg.op, 1, 6, msg.hops, msg.xid, msg.secs, msg.flags)
    assert (bootp.ciaddr, bootp.yiaddr, bootp.siaddr, bootp.giaddr) == tuple(
        ip4_str(a) for a in (msg.ciaddr, msg.yiaddr, msg.siaddr, msg.giaddr))
    assert bootp.chaddr == msg.chaddr.to_bytes(6, "big") + bytes(10)
    assert not any(bootp.sname) and not any(bootp.file)
    assert bootp.options == b"\x63\x82\x53\x63"
    options = [o for o in bootp[DHCP].options if o != "pad"]
    assert options[-1] == "end"
    expected = [("message-type", int(msg.mtype))]
    for name, value in (("server_id", msg.server_id), ("requested_addr", msg.requested_ip)):
        if value:
            expected.append((name, ip4_str(value)))
    for name, value in (("lease_time", msg.lease_time), ("renewal_time", msg.renewal_time),
                        ("rebinding_time", msg.rebinding_time)):
        if value:
            expected.append((name, value))
    for name, value in (("subnet_mask", msg.subnet_mask), ("router", msg.router)):
        if value:
            expected.append((name, ip4_str(value)))
    if msg.message:
        expected.append(("error_message", msg.message.encode("ascii", "replace")))
    assert options[:-1] == expected


def check_fragments(frames: list[Frame]) -> None:
    """The pieces of one datagram: scapy reassembles them, and the whole datagram's
    checksums and fields hold."""
    pkts = [check_frame(f) for f in frames]
    whole = defragment([IP(bytes(p[IP])[:p[IP].len]) for p in pkts])   # without Ethernet padding
    assert len(whole) == 1
    datagram = frames[0].payload
    assert isinstance(datagram, Ipv4)
    rebuilt = Ether(dst=mac_str(frames[0].dst), src=mac_str(frames[0].src)) / IP(bytes(whole[0]))
    check_l4(Ether(bytes(rebuilt)), replace(datagram, frag_off=0, frag_len=-1, mf=False))


# -- the codec ---------------------------------------------------------------------------------

def test_every_constructed_frame_kind_dissects_to_the_models_values() -> None:
    frames = constructed_frames()
    kinds = set()
    for frame in frames:
        check_frame(frame)
        p = frame.payload
        kinds.add((type(p).__name__, type(getattr(p, "payload", None)).__name__, bool(frame.vlan)))
    assert {("Arp", "NoneType", False), ("Ipv4", "Icmp", True), ("Ipv4", "Udp", True),
            ("Lacpdu", "NoneType", True), ("Raw", "NoneType", False)} <= kinds


def test_fragments_reassemble_with_the_whole_datagrams_checksums() -> None:
    frames = constructed_frames()
    for first_uid in (20, 30):
        pieces = [f for f in frames if first_uid <= f.uid < first_uid + 10 and not f.vlan]
        assert len(pieces) > 1
        check_fragments(pieces)


def test_frames_the_catalog_runs_send_dissect_to_the_models_values() -> None:
    frames = run_frames()
    kinds = {type(f.payload).__name__ for f in frames}
    assert {"Arp", "Ipv4", "Lacpdu", "Raw"} <= kinds, kinds
    dhcp = {f.payload.payload.data.mtype for f in frames if isinstance(f.payload, Ipv4)
            and isinstance(f.payload.payload, Udp) and isinstance(f.payload.payload.data, Dhcp)}
    assert {DhcpType.DISCOVER, DhcpType.OFFER, DhcpType.REQUEST, DhcpType.ACK} <= dhcp
    assert any(f.vlan for f in frames)
    for frame in frames:
        check_frame(frame)


def test_dhcp_length_matches_the_bytes_written() -> None:
    for frame in constructed_frames():
        p = frame.payload
        if isinstance(p, Ipv4) and isinstance(p.payload, Udp) and isinstance(p.payload.data, Dhcp):
            msg = p.payload.data
            assert len(Ether(encode_frame(frame))[BOOTP]) == msg.length >= 300


def test_inet_checksum_against_the_rfc_1071_example_and_edge_cases() -> None:
    # RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2, checksum 220d
    assert inet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    assert inet_checksum(b"") == 0xFFFF
    assert inet_checksum(bytes(8)) == 0xFFFF
    assert inet_checksum(b"\xff\xff") == 0x0000
    assert inet_checksum(b"\x01") == inet_checksum(b"\x01\x00") == 0xFEFF


def test_a_broken_checksum_is_caught_by_the_scapy_oracle() -> None:
    """The oracle has teeth: one flipped byte of the IP checksum is noticed."""
    frame = constructed_frames()[6]
    data = bytearray(encode_frame(frame))
    data[24] ^= 0xFF
    with pytest.raises(AssertionError):
        check_frame(frame, bytes(data))


# -- hypothesis: random frames -----------------------------------------------------------------

macs = st.integers(0, (1 << 48) - 1)
ips = st.integers(0, (1 << 32) - 1)
u16 = st.integers(0, 0xFFFF)
maybe_ip = st.one_of(st.just(0), ips)
maybe_u32 = st.one_of(st.just(0), st.integers(1, (1 << 32) - 1))
arps = st.builds(Arp, st.sampled_from(list(ArpOp)), macs, ips, macs, ips)
icmps = st.builds(Icmp, st.sampled_from(list(IcmpType)), st.integers(0, 1 << 20),
                  st.integers(0, 1 << 20), st.one_of(st.integers(0, 1500), st.integers(0, 9000)))
dhcps = st.builds(
    Dhcp, op=st.sampled_from([BOOTREQUEST, BOOTREPLY]), mtype=st.sampled_from(list(DhcpType)),
    xid=st.integers(0, (1 << 32) - 1), chaddr=macs, flags=st.sampled_from([0, BROADCAST_FLAG]),
    ciaddr=maybe_ip, yiaddr=maybe_ip, siaddr=maybe_ip, giaddr=maybe_ip,
    hops=st.integers(0, 16), secs=u16, server_id=maybe_ip, requested_ip=maybe_ip,
    lease_time=maybe_u32, renewal_time=maybe_u32, rebinding_time=maybe_u32,
    subnet_mask=maybe_ip, router=maybe_ip,
    message=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=255))
udps = st.builds(Udp, u16, u16, st.one_of(dhcps, st.builds(Raw, st.integers(0, 1472))))
packets = st.builds(Ipv4, ips, ips, st.one_of(icmps, udps), ident=st.integers(0, 1 << 24),
                    df=st.booleans())
infos = st.builds(LacpInfo, u16, macs, u16, u16, u16, st.integers(0, 0xFF))


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    kind = draw(st.sampled_from(["arp", "ip", "fragment", "lacp", "raw"]))
    dst, src = draw(macs), draw(macs)
    vlan = draw(st.one_of(st.just(0), st.integers(1, 4094)))
    uid = draw(st.integers(1, 1 << 40))
    if kind == "arp":
        arp = draw(arps)
        etype = EtherType.RARP if arp.op in (ArpOp.RARP_REQUEST, ArpOp.RARP_REPLY) else \
            EtherType.ARP
        return Frame(dst, src, etype, arp, uid, vlan)
    if kind == "ip":
        return Frame(dst, src, EtherType.IPV4, draw(packets), uid, vlan)
    if kind == "fragment":
        packet = replace(draw(packets), df=False)
        pieces = ip_fragment(packet, draw(st.integers(68, 1500)))
        return Frame(dst, src, EtherType.IPV4, draw(st.sampled_from(pieces)), uid, vlan)
    if kind == "lacp":
        return Frame(LACP_GROUP, src, EtherType.SLOW, Lacpdu(draw(infos), draw(infos)), uid, vlan)
    etype = draw(st.sampled_from([0x88B5, 0x88B6, EtherType.LOOPBACK]))
    return Frame(dst, src, etype, Raw(draw(st.integers(0, 1500))), uid, vlan)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_random_frames_dissect_to_their_values(frame: Frame) -> None:
    check_frame(frame)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packets.filter(lambda p: p.length > 68), st.integers(68, 1500))
def test_random_fragmented_datagrams_reassemble(packet: Ipv4, mtu: int) -> None:
    pieces = ip_fragment(replace(packet, df=False), mtu)
    check_fragments([Frame(GW, VM, EtherType.IPV4, piece, i + 1) for i, piece in
                     enumerate(pieces)])


@given(st.integers(0, TIME_LIMIT_NS - 1), st.binary(min_size=1, max_size=64))
def test_record_timestamps_round_trip_below_the_u32_limit(t: int, data: bytes) -> None:
    record = pcap_record(t, data)
    sec, nsec, caplen, length = struct.unpack_from("<IIII", record)
    assert sec * 10**9 + nsec == t and nsec < 10**9
    assert caplen == length == len(data) and record[16:] == data


@given(st.one_of(st.integers(TIME_LIMIT_NS, 1 << 80), st.integers(-(1 << 40), -1)))
def test_times_a_pcap_cannot_hold_are_refused_not_wrapped(t: int) -> None:
    with pytest.raises(PcapTimeError):
        pcap_record(t, b"x")
    with pytest.raises(PcapTimeError):
        pcap_bytes([(t, arp_request(1, VM, VM_IP, GW_IP))])


def test_global_header_and_snaplen() -> None:
    assert pcap_header() == struct.pack("<IHHiIII", PCAP_MAGIC_NS, 2, 4, 0, 0, SNAPLEN, 1)
    huge = b"\x00" * (SNAPLEN + 10)
    sec, nsec, caplen, length = struct.unpack_from("<IIII", pcap_record(5, huge))
    assert (sec, nsec, caplen, length) == (0, 5, SNAPLEN, SNAPLEN + 10)


def test_scapy_reads_the_file_with_nanosecond_times(tmp_path: Path) -> None:
    frames_ = constructed_frames()
    times = [i * 1_000_000_007 + 3 for i in range(len(frames_))]
    path = tmp_path / "all.pcap"
    path.write_bytes(pcap_bytes(zip(times, frames_, strict=True)))
    got = list(RawPcapReader(str(path)))
    assert [data for data, _ in got] == [encode_frame(f) for f in frames_]
    assert [meta.sec * 10**9 + meta.usec for _, meta in got] == times   # usec holds ns here


def test_the_encoder_cache_gives_the_same_bytes() -> None:
    encoder = FrameEncoder()
    for frame in constructed_frames() * 2:
        assert encoder.encode(frame) == encode_frame(frame)


# -- tshark as the oracle ------------------------------------------------------------------------

TSHARK_CHECKS = ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]
# tshark 4.0 has no icmp.check_checksum preference: ICMP checksums are always verified.


def tshark_expert(path: Path) -> str:
    tshark = need_tool("tshark")
    proc = subprocess.run([tshark, "-r", str(path), *TSHARK_CHECKS, "-z", "expert", "-q"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_tshark_finds_nothing_malformed_and_no_bad_checksum(tmp_path: Path) -> None:
    frames_ = constructed_frames()
    path = tmp_path / "all.pcap"
    path.write_bytes(pcap_bytes((i * MS, f) for i, f in enumerate(frames_)))
    report = tshark_expert(path)
    assert "Malformed" not in report and "Checksum" not in report, report
    # and it reads what we meant: every frame, with the protocols we wrote
    proc = subprocess.run([need_tool("tshark"), "-r", str(path), "-T", "fields", "-e",
                           "frame.protocols"], capture_output=True, text=True, check=True)
    protocols = proc.stdout.splitlines()
    assert len(protocols) == len(frames_)
    joined = "\n".join(protocols)
    for proto in ("eth:ethertype:arp", "arp", "vlan", "ip:icmp", "udp:dhcp", "slow:lacp"):
        assert proto in joined, proto


def test_tshark_reports_a_flipped_checksum_byte(tmp_path: Path) -> None:
    """The oracle has teeth: the same check fails on a corrupted UDP and ICMP checksum."""
    frames_ = constructed_frames()
    blobs = [bytearray(encode_frame(f)) for f in (frames_[6], frames_[9])]
    blobs[0][14 + 20 + 2] ^= 0x5A          # ICMP checksum
    blobs[1][14 + 20 + 6] ^= 0x5A          # UDP checksum
    path = tmp_path / "bad.pcap"
    path.write_bytes(pcap_header() + b"".join(pcap_record(i, bytes(b)) for i, b in
                                              enumerate(blobs)))
    report = tshark_expert(path)
    assert "ICMP" in report and "UDP" in report and "Checksum" in report, report


# -- capture points ----------------------------------------------------------------------------

def two_nics(delay: int = 10) -> tuple[Sim, Nic, Nic, Link]:
    sim = Sim(0, "full")
    a, b = Nic(sim, "h1", "eth0", VM), Nic(sim, "h2", "eth0", GW)
    link = Link(sim, a, b, delay)
    a.capture, b.capture = [], []
    return sim, a, b, link


def test_a_frame_lost_on_a_faulty_link_was_still_transmitted() -> None:
    sim, a, b, link = two_nics()
    link.set_fault(True)
    frame = arp_request(sim.new_uid(), VM, VM_IP, GW_IP)
    a.xmit(frame, 0, 0)
    sim.run(S)
    assert a.capture == [(0, True, frame)] and b.capture == []


def test_a_frame_arriving_after_carrier_loss_was_not_received() -> None:
    sim, a, b, link = two_nics(delay=100)
    frame = arp_request(sim.new_uid(), VM, VM_IP, GW_IP)
    a.xmit(frame, 0, 0)
    sim.schedule(50, link.set_up, False)
    sim.run(S)
    assert a.capture == [(0, True, frame)] and b.capture == []
    a.xmit(frame, 0, 0)                        # no carrier now: never reached the tap
    assert a.capture == [(0, True, frame)]


def test_frames_are_recorded_at_both_ends_at_their_times() -> None:
    sim, a, b, _ = two_nics(delay=250)
    request = arp_request(sim.new_uid(), VM, VM_IP, GW_IP)
    reply = arp_reply(sim.new_uid(), GW, GW_IP, VM, VM_IP)
    a.xmit(request, 0, 0)
    sim.schedule(1000, b.xmit, reply, 0, 0)
    sim.run(S)
    assert a.capture == [(0, True, request), (1250, False, reply)]
    assert b.capture == [(250, False, request), (1000, True, reply)]


def test_capture_is_off_by_default_and_changes_nothing_in_the_run() -> None:
    spec = vnetlab.load_topology(str(CASES["bond-802.3ad-lacp"]))
    plain = vnetlab.simulate(spec)
    assert all(dev.capture is None for dev in link_ends(plain.lab).values())
    captured = vnetlab.simulate(spec, capture=True)
    assert captured.to_json() == plain.to_json()


@pytest.mark.parametrize("name", ["team-roundrobin", "mtu-jumbo-vm-1500-uplink",
                                  "vlan-switch-access-match"])
def test_records_are_the_trace_transmit_and_receive_steps_one_to_one(name: str) -> None:
    result = vnetlab.simulate(vnetlab.load_topology(str(CASES[name])), capture=True)
    caps = captures(result.lab)
    ends = link_ends(result.lab)
    assert set(caps) == set(ends)
    for ref, dev in ends.items():
        steps = [(s.time, s.action is Action.TRANSMIT, s.uid) for s in result.trace.steps
                 if s.where == dev.where and s.action in (Action.TRANSMIT, Action.RECEIVE)]
        assert [(t, tx, f.uid) for t, tx, f in caps[ref]] == steps, ref


def test_unknown_capture_ports_are_refused_before_the_run() -> None:
    spec = vnetlab.load_topology(str(CASES["team-roundrobin"]))
    with pytest.raises(CaptureError, match=r"'kvm1:br1'.*not the end of a link.*vm1:eth0"):
        vnetlab.simulate(spec, capture=["vm1:eth0", "kvm1:br1"])
    with pytest.raises(CaptureError, match="'nope'"):
        vnetlab.simulate(spec, capture="nope")
    only = vnetlab.simulate(spec, capture=["sw1:ge3, vm1:eth0"])
    assert list(captures(only.lab)) == ["vm1:eth0", "sw1:ge3"]


def test_file_names_are_safe_and_distinct() -> None:
    names = file_names(["kvm1:eth0", "sw 1:Gi1/0/1", "a_b:c", "a:b_c", ".x:y", "K:E", "k:e"])
    assert names == {"kvm1:eth0": "kvm1_eth0.pcap", "sw 1:Gi1/0/1": "sw_1_Gi1_0_1.pcap",
                     "a_b:c": "a_b_c.pcap", "a:b_c": "a_b_c-2.pcap", ".x:y": "_x_y.pcap",
                     "K:E": "K_E.pcap", "k:e": "k_e-2.pcap"}


# -- files ------------------------------------------------------------------------------------

def test_pcaps_are_byte_identical_run_to_run(tmp_path: Path) -> None:
    spec = vnetlab.load_topology(str(CASES["dhcp-no-relay-fixed"]))
    first = vnetlab.simulate(spec, seed=3, capture=True).write_pcaps(tmp_path / "a")
    second = vnetlab.simulate(spec, seed=3, capture=True).write_pcaps(tmp_path / "b")
    assert [p.name for p in first.values()] == [p.name for p in second.values()]
    for ref in first:
        assert first[ref].read_bytes() == second[ref].read_bytes(), ref
    assert sum(p.stat().st_size for p in first.values()) > 24 * len(first)


def test_a_failed_write_leaves_no_partial_file(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    result = vnetlab.simulate(vnetlab.load_topology(str(CASES["team-roundrobin"])), capture=True)
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "vm1_eth0.pcap").write_bytes(b"old")
    calls = []

    def failing(records, encoder=None):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return pcap_bytes(records, encoder)

    monkeypatch.setattr(capture_mod, "pcap_bytes", failing)
    with pytest.raises(OSError, match="disk full"):
        result.write_pcaps(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["vm1_eth0.pcap"]
    assert (folder / "vm1_eth0.pcap").read_bytes() == b"old"
