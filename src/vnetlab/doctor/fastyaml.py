"""A fast YAML reader for the doctor: libyaml's C parser, plain containers, positions
on the side.

``vnetlab doctor`` reads thousands of captures; ruamel.yaml's pure-Python round-trip
loader spends ~30 ms on a 20-VM host. This module walks libyaml's *events* (PyYAML's
``CSafeLoader`` used as a parser only: no YAML 1.1 construction, so an unquoted MAC
never becomes a base-60 number) and builds plain dicts and lists (what pydantic
validates fastest), resolving plain scalars with the YAML 1.2 core schema as ruamel
does (null, bool, decimal int, float, string). Where each key and item sits is kept in
a side table, which ``FastLocator`` (a ``topology.load.Locator``) reads, so evidence and
errors carry file:line:column exactly as with ruamel.

Anything this module does not reproduce exactly returns ``None`` and the caller falls
back to ruamel, which then also produces the located error message: a syntax error, an
anchor or alias, an explicit tag, a merge key, a duplicate key, a non-scalar key, several
documents, or a plain scalar ruamel would read as a number with underscores, a timestamp,
``.inf`` or ``.nan``. Hex, octal (``0o``) and binary ints are ints, as ruamel's are.
"""

from __future__ import annotations

import re
from typing import Any

from vnetlab.topology.load import Locator

try:                                        # PyYAML with libyaml (a dependency of dask)
    import yaml as _yaml  # type: ignore[import-untyped]

    _LOADER: Any = _yaml.CSafeLoader if getattr(_yaml, "__with_libyaml__", False) else None
except ImportError:                         # pragma: no cover - depends on the installation
    _yaml = None
    _LOADER = None

AVAILABLE = _LOADER is not None

_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
# what ruamel reads as something this module does not build: fall back
_EXOTIC = re.compile(r"[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)$|.*_|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}")
_BASED = re.compile(r"[-+]?0(?:x[0-9a-fA-F]+|o[0-7]+|b[01]+)")

Positions = dict[int, tuple[int, int, Any]]
"""id(container) -> (line, column, per key [kl, kc, vl, vc] | per item [l, c]), 0-based."""


class _Fallback(Exception):
    pass


def _scalar(value: str) -> Any:
    if value in _NULL:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    first = value[0]
    if first.isdigit() or first in "+-.":
        if _EXOTIC.match(value):
            raise _Fallback
        if _BASED.fullmatch(value):             # ruamel's HexInt/OctalInt/BinaryInt
            return int(value, 0)
        if _INT.fullmatch(value):
            return int(value)
        if _FLOAT.fullmatch(value):
            return float(value)
    return value


def load(text: str) -> tuple[Any, Positions] | None:
    """(document, positions), or None: use ruamel."""
    if _LOADER is None:
        return None
    assert _yaml is not None
    loader = _LOADER(text)
    try:
        return _build(loader.get_event, _yaml)
    except (_Fallback, _yaml.YAMLError, ValueError, RecursionError):
        return None
    finally:
        loader.dispose()


def _build(get: Any, y: Any) -> tuple[Any, Positions]:
    scalar_ev, map_start = y.ScalarEvent, y.MappingStartEvent
    seq_start, stream_end, doc_start = y.SequenceStartEvent, y.StreamEndEvent, y.DocumentStartEvent
    ends = (y.MappingEndEvent, y.SequenceEndEvent)
    quiet = (y.StreamStartEvent, y.DocumentEndEvent)
    positions: Positions = {}
    # open containers: [container, side table, is_map, pending key, key line, key column]
    stack: list[list[Any]] = []
    root: Any = None
    documents = 0
    nokey = _NOKEY
    while True:
        event = get()
        kind = type(event)
        if kind is scalar_ev:
            if event.anchor is not None or event.tag is not None:
                raise _Fallback
            mark = event.start_mark
            value = _scalar(event.value) if not event.style else event.value
            if not stack:
                root = value
                continue
            top = stack[-1]
            if top[2]:
                if top[3] is nokey:
                    if value in top[0] or value == "<<" or not isinstance(value, str | int):
                        raise _Fallback     # duplicate or merge key: ruamel's message
                    top[3], top[4], top[5] = value, mark.line, mark.column
                    continue
                top[0][top[3]] = value
                top[1][top[3]] = (top[4], top[5], mark.line, mark.column)
                top[3] = nokey
            else:
                top[0].append(value)
                top[1].append((mark.line, mark.column))
            continue
        if kind is map_start or kind is seq_start:
            if event.anchor is not None or event.tag is not None:
                raise _Fallback
            mark = event.start_mark
            is_map = kind is map_start
            new: Any = {} if is_map else []
            side: Any = {} if is_map else []
            positions[id(new)] = (mark.line, mark.column, side)
            if stack:
                top = stack[-1]
                if top[2]:
                    if top[3] is nokey:
                        raise _Fallback     # a mapping or list as a key
                    top[0][top[3]] = new
                    top[1][top[3]] = (top[4], top[5], mark.line, mark.column)
                    top[3] = nokey
                else:
                    top[0].append(new)
                    top[1].append((mark.line, mark.column))
            else:
                root = new
            stack.append([new, side, is_map, nokey, 0, 0])
            continue
        if kind in ends:
            stack.pop()
            continue
        if kind is doc_start:
            documents += 1
            if documents > 1:
                raise _Fallback             # several documents: ruamel's error
            continue
        if kind is stream_end:
            return root, positions
        if kind not in quiet:
            raise _Fallback                 # an alias


class _NoKey:
    __slots__ = ()


_NOKEY = _NoKey()


class FastLocator(Locator):
    """``topology.load.Locator`` over plain containers and the side table of ``load``."""

    def __init__(self, file: str, root: Any, positions: Positions) -> None:
        super().__init__(file, root)
        self.positions = positions

    def position(self, path: tuple[Any, ...], *, at_key: bool = False) -> tuple[int, int]:
        from vnetlab.topology.load import _raw_key

        node = self.root
        best = (0, 0)
        for element in path:
            entry = self.positions.get(id(node))
            if entry is None:
                break
            side = entry[2]
            if isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node):
                line, col = side[element]
                best = (line + 1, col + 1)
                node = node[element]
                continue
            key = _raw_key(node, element) if isinstance(node, dict) else element
            if isinstance(node, dict) and key in node:
                kl, kc, vl, vc = side[key]
                best = (kl + 1, kc + 1) if at_key else (vl + 1, vc + 1)
                node = node[key]
                continue
            if best == (0, 0):
                best = (entry[0] + 1, entry[1] + 1)
        return best
