"""Simulated time: integer nanoseconds, so runs never drift and always compare equal."""

from __future__ import annotations

import re

Time = int

NS: Time = 1
US: Time = 1_000
MS: Time = 1_000_000
S: Time = 1_000_000_000


def us(value: float) -> Time:
    return round(value * US)


def ms(value: float) -> Time:
    return round(value * MS)


def s(value: float) -> Time:
    return round(value * S)


_UNITS = {"ns": NS, "us": US, "µs": US, "ms": MS, "s": S, "m": 60 * S, "min": 60 * S, "h": 3600 * S}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|min|m|h)?\s*$")


def parse_duration(value: object) -> Time:
    """``2s``, ``250ms``, ``10us``, ``1.5s``; a bare number is seconds. ValueError if malformed."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (write it like 2s, 250ms or 10us)")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{value!r}: a duration cannot be negative")
        return round(value * S)
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match:
            number, unit = match.groups()
            return round(float(number) * _UNITS[unit or "s"])
    raise ValueError(f"{value!r} is not a duration (write it like 2s, 250ms or 10us)")


def format_time(t: Time) -> str:
    """Seconds with nanosecond precision, fixed width: ``1.000002000s``."""
    return f"{t // S}.{t % S:09d}s"


def format_duration(t: Time) -> str:
    """The shortest exact unit: ``1s``, ``250ms``, ``10us``, ``7ns``."""
    for unit, size in (("s", S), ("ms", MS), ("us", US)):
        if t % size == 0:
            return f"{t // size}{unit}"
    return f"{t}ns"
