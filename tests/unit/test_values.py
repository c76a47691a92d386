"""Addresses and durations parse the way operators write them."""

import pytest

from vnetlab.net.addr import (
    is_link_local,
    is_multicast,
    is_valid_ether_addr,
    mac_str,
    parse_ip4,
    parse_mac,
    tap_mac,
)
from vnetlab.sim.time import MS, US, S, format_time, parse_duration


def test_mac_round_trips_and_classifies() -> None:
    """Multicast is the I/G bit; link-local is 01:80:c2:00:00:0x (etherdevice.h)."""
    mac = parse_mac("52:54:00:12:34:01")
    assert mac_str(mac) == "52:54:00:12:34:01"
    assert not is_multicast(mac) and is_valid_ether_addr(mac)
    assert is_multicast(parse_mac("01:00:5e:00:00:01"))
    assert not is_valid_ether_addr(0)
    assert is_link_local(parse_mac("01:80:c2:00:00:02"))
    assert not is_link_local(parse_mac("01:80:c2:00:00:10"))


def test_tap_mac_replaces_first_byte_with_fe() -> None:
    """libvirt: the host tap is the guest MAC with first byte 0xFE (V1)."""
    assert mac_str(tap_mac(parse_mac("52:54:00:aa:bb:cc"))) == "fe:54:00:aa:bb:cc"


@pytest.mark.parametrize("bad", ["52:54:00:12:34", "zz:54:00:12:34:01", "525400123401", ""])
def test_bad_macs_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_mac(bad)


def test_durations() -> None:
    assert parse_duration("2s") == 2 * S
    assert parse_duration("250ms") == 250 * MS
    assert parse_duration("10us") == 10 * US
    assert parse_duration(300) == 300 * S
    assert format_time(1_000_002_000) == "1.000002000s"
    for bad in ("2 parsecs", "-1s", True, None):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_ipv4() -> None:
    assert parse_ip4("192.168.10.254") == 0xC0A80AFE
    with pytest.raises(ValueError):
        parse_ip4("192.168.10.256")
