"""``--vary PATH=SPEC``: what a sweep changes in the topology document, and how.

PATH is a dotted path into the YAML document as written (kebab-case keys; ``_`` is read
as ``-``); a list item is chosen by index or by its ``name``: ``vms.vm1.boot-delay``,
``hosts.kvm1.interfaces[br0].bridge.options.stp.forward-delay``, ``run[3].at``.
Every step must exist in the file except the last key of a mapping, which is added
(``boot-delay`` on a VM that relies on the default).

A PATH whose first key is not a top-level key of the document is a *suffix*: it names
every place in the document whose path ends that way, and all of them take the value
(``announce.rounds`` is ``run[4].migrate.announce.rounds``; ``agent.bind-delay`` is
``openstack.agent.bind-delay``). Every step of a suffix must exist in the document but
its last key, when it has two or more steps.

SPEC is either a grid axis, a YAML flow list (``[1, 3, 5]``, ``[0s, 2s]``,
``[active-backup, balance-xor]``): one combination per value, the cartesian product
over every list axis; or a distribution drawn afresh for each run:

- ``uniform(A, B)``, ``normal(MU, SIGMA)`` (durations clipped at 0),
  ``lognormal(MEDIAN, SHAPE)`` (MEDIAN x e^(SHAPE x N(0,1)); SHAPE has no unit),
  ``exp(MEAN)``, ``randint(A, B)`` (integers, both ends included),
  ``choice([a, b, ...])`` (one of the values, equally likely).

A number with a unit (``250ms``, ``3s``: the topology format's durations) makes the
axis a duration axis: every argument is then a duration (a bare number is seconds,
as in the topology format), a drawn value is a whole number of nanoseconds and goes
into the document as ``<N>ns``. Without a unit the values are plain numbers.

Patching never copies the whole document: ``patched`` copies the containers on the
way to each changed value and shares the rest (the loader does not mutate its input).
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from vnetlab.sim.time import parse_duration

_DURATION_WITH_UNIT = re.compile(r"^\s*\d+(?:\.\d+)?\s*(ns|us|µs|ms|s|min|m|h)\s*$")
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_CALL = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*$", re.S)
DISTRIBUTIONS = ("uniform", "normal", "lognormal", "exp", "randint", "choice")


class VaryError(Exception):
    """A ``--vary`` option that cannot be used: the message names the option."""

    def __init__(self, option: str, message: str) -> None:
        self.option = option
        self.message = message
        super().__init__(f"--vary '{option}': {message}")


@dataclass(frozen=True, slots=True)
class Sel:
    """A list item chosen by its ``name``."""

    name: str


Part = str | int | Sel


@dataclass(frozen=True, slots=True)
class Value:
    """One value of an axis: what goes into the document, what the per-run record
    holds (nanoseconds for a duration) and how the table shows it."""

    doc: Any
    record: Any
    label: str


def is_duration_text(value: object) -> bool:
    return isinstance(value, str) and _DURATION_WITH_UNIT.match(value) is not None


def _label_ns(ns: int) -> str:
    """A duration for the table: 15s, 250ms, 12.345s."""
    if ns % 1_000_000_000 == 0:
        return f"{ns // 1_000_000_000}s"
    if ns % 1_000_000 == 0 and ns < 1_000_000_000:
        return f"{ns // 1_000_000}ms"
    return f"{ns / 1e9:.4g}s"


def _label(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def literal_value(raw: Any) -> Value:
    """A value written in a list (grid or ``choice``): as written into the document;
    a duration is recorded in nanoseconds."""
    if is_duration_text(raw):
        ns = parse_duration(raw)
        return Value(raw, ns, _label_ns(ns))
    return Value(raw, raw, _label(raw))


# -- paths -----------------------------------------------------------------------------------

def parse_path(option: str, text: str) -> tuple[Part, ...]:
    """``a.b[c][0].d`` -> ("a", "b", Sel("c"), 0, "d")."""
    parts: list[Part] = []
    i = 0
    n = len(text)
    if not text:
        raise VaryError(option, "empty PATH (write e.g. vms.vm1.boot-delay=uniform(0s,20s))")
    while i < n:
        if parts and text[i] == ".":
            i += 1
        elif parts and text[i] != "[":
            raise VaryError(option, f"PATH '{text}': expected '.' or '[' at character {i + 1}")
        if i < n and text[i] != "[":
            match = _KEY.match(text, i)
            if match is None:
                raise VaryError(option, f"PATH '{text}': expected a key at character {i + 1}")
            parts.append(match.group(0))
            i = match.end()
        while i < n and text[i] == "[":
            end = text.find("]", i)
            if end < 0:
                raise VaryError(option, f"PATH '{text}': '[' without ']'")
            inner = text[i + 1:end].strip()
            if not inner:
                raise VaryError(option, f"PATH '{text}': empty [] (write an index or a name)")
            parts.append(int(inner) if inner.isdigit() else Sel(inner))
            i = end + 1
    return tuple(parts)


def render_path(parts: tuple[Part, ...]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, Sel):
            out += f"[{part.name}]"
        elif isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def resolve_path(option: str, parts: tuple[Part, ...], doc: Any) -> tuple[str | int, ...]:
    """The path as keys and indexes of ``doc``; every step must exist but the last key
    of a mapping. VaryError says which step is missing and what is there instead."""
    node = doc
    out: list[str | int] = []
    for position, part in enumerate(parts):
        last = position == len(parts) - 1
        where = render_path(parts[:position]) or "the document"
        if isinstance(part, str):
            if not isinstance(node, dict):
                raise VaryError(option, f"{where} is {_kind(node)}, not a mapping: '{part}' "
                                        "cannot be looked up in it")
            if part not in node and not last:
                keys = ", ".join(str(k) for k in node) or "none"
                raise VaryError(option, f"no key '{part}' in {where} (keys: {keys})")
            out.append(part)
            node = node.get(part)
            continue
        if not isinstance(node, list):
            raise VaryError(option, f"{where} is {_kind(node)}, not a list: "
                                    f"[{part.name if isinstance(part, Sel) else part}] "
                                    "selects a list item")
        if isinstance(part, int):
            if part >= len(node):
                raise VaryError(option, f"{where}[{part}]: index out of range ({where} has "
                                        f"{len(node)} item{'s' if len(node) != 1 else ''})")
            index = part
        else:
            names = [item.get("name") if isinstance(item, dict) else None for item in node]
            matches = [i for i, name in enumerate(names) if name is not None
                       and str(name) == part.name]
            if not matches:
                known = ", ".join(str(m) for m in names if m is not None)
                raise VaryError(option, f"no item named '{part.name}' in {where} "
                                        f"({'names: ' + known if known else 'its items have no name'}"
                                        "; select by index, e.g. [0])")
            if len(matches) > 1:
                raise VaryError(option, f"{len(matches)} items named '{part.name}' in {where}: "
                                        "select by index")
            index = matches[0]
        out.append(index)
        node = node[index]
    return tuple(out)


def _kind(node: Any) -> str:
    if node is None:
        return "empty"
    if isinstance(node, dict):
        return "a mapping"
    if isinstance(node, list):
        return "a list"
    return f"the value {node!r}"


# -- specs -----------------------------------------------------------------------------------

def _yaml_flow(option: str, text: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        first = str(exc).strip().splitlines()
        raise VaryError(option, f"cannot read {text!r}: {first[0] if first else exc}") from None


@dataclass(frozen=True, slots=True)
class Distribution:
    """A distribution drawn per run; ``duration``: the args are nanoseconds and so is
    every drawn value."""

    name: str
    args: tuple[float, ...] = ()
    duration: bool = False
    choices: tuple[Value, ...] = ()

    def draw(self, rng: Any) -> Value:
        name, a = self.name, self.args
        if name == "choice":
            chosen: Value = self.choices[rng.randrange(len(self.choices))]
            return chosen
        if name == "randint":
            value: float = rng.randint(int(a[0]), int(a[1]))
        elif name == "uniform":
            value = a[0] + (a[1] - a[0]) * rng.random()
        elif name == "normal":
            value = rng.normalvariate(a[0], a[1])
        elif name == "lognormal":
            value = a[0] * math.exp(a[1] * rng.normalvariate(0.0, 1.0))
        else:                                    # exp
            value = rng.expovariate(1.0 / a[0])
        if self.duration:
            ns = max(0, round(value))            # a duration cannot be negative
            return Value(f"{ns}ns", ns, _label_ns(ns))
        if name == "randint":
            return Value(int(value), int(value), str(int(value)))
        return Value(value, value, f"{value:.6g}")

    def canonical(self) -> str:
        if self.name == "choice":
            return "choice(" + json.dumps([v.doc for v in self.choices], default=str) + ")"
        unit = "ns" if self.duration else ""
        return f"{self.name}(" + ",".join(f"{x!r}{unit}" for x in self.args) + ")"


def _number(option: str, name: str, text: str, duration: bool) -> float:
    text = text.strip()
    if duration:
        try:
            return float(parse_duration(text))
        except ValueError:
            raise VaryError(option, f"{name}(): {text!r} is not a duration (write it like "
                                    "250ms, 3s or 1.5s)") from None
    try:
        return float(text)
    except ValueError:
        raise VaryError(option, f"{name}(): {text!r} is not a number") from None


def parse_distribution(option: str, text: str) -> Distribution:
    match = _CALL.match(text)
    if match is None:
        raise VaryError(option, f"SPEC '{text}' is neither a list like [1, 3, 5] nor a "
                                f"distribution ({', '.join(d + '(...)' for d in DISTRIBUTIONS)})")
    name, inner = match.group(1), match.group(2).strip()
    if name not in DISTRIBUTIONS:
        raise VaryError(option, f"unknown distribution '{name}' (known: "
                                f"{', '.join(DISTRIBUTIONS)})")
    if name == "choice":
        raw = _yaml_flow(option, inner if inner.startswith("[") else f"[{inner}]")
        if not isinstance(raw, list) or not raw:
            raise VaryError(option, "choice() needs a non-empty list, e.g. choice([1s, 2s])")
        return Distribution("choice", choices=tuple(literal_value(v) for v in raw))
    args = [a for a in (x.strip() for x in inner.split(","))]
    if args == [""]:
        args = []
    want = 1 if name == "exp" else 2
    if len(args) != want:
        shape = {"uniform": "uniform(A, B)", "normal": "normal(MU, SIGMA)",
                 "lognormal": "lognormal(MEDIAN, SHAPE)", "exp": "exp(MEAN)",
                 "randint": "randint(A, B)"}[name]
        raise VaryError(option, f"{name}() takes {want} argument{'s' if want > 1 else ''}: "
                                f"{shape}")
    measured = args[:1] if name == "lognormal" else args
    duration = any(is_duration_text(a) for a in measured)
    if name == "lognormal" and is_duration_text(args[1]):
        raise VaryError(option, "lognormal(MEDIAN, SHAPE): SHAPE is the spread of the "
                                "logarithm and has no unit (e.g. lognormal(2s, 0.5))")
    if name == "randint" and duration:
        raise VaryError(option, "randint() draws integers; for durations use uniform(A, B)")
    values = [_number(option, name, a, duration) for a in measured]
    if name == "lognormal":
        values.append(_number(option, name, args[1], False))
    if name in ("uniform", "randint"):
        if values[0] > values[1]:
            raise VaryError(option, f"{name}(A, B) needs A <= B")
        if name == "randint" and not all(v.is_integer() for v in values):
            raise VaryError(option, "randint(A, B) needs whole numbers")
    elif name == "normal":
        if values[1] < 0:
            raise VaryError(option, "normal(MU, SIGMA) needs SIGMA >= 0")
    elif name == "lognormal":
        if values[0] <= 0 or values[1] < 0:
            raise VaryError(option, "lognormal(MEDIAN, SHAPE) needs MEDIAN > 0 and SHAPE >= 0")
    elif values[0] <= 0:
        raise VaryError(option, "exp(MEAN) needs MEAN > 0")
    return Distribution(name, tuple(values), duration)


@dataclass(frozen=True, slots=True)
class Vary:
    """One ``--vary`` option: a grid axis (``grid``) or a distribution (``dist``)."""

    option: str
    path_text: str
    parts: tuple[Part, ...]
    grid: tuple[Value, ...] = ()
    dist: Distribution | None = None
    paths: tuple[tuple[str | int, ...], ...] = field(default=())   # resolved: one or more

    @property
    def is_grid(self) -> bool:
        return self.dist is None

    def canonical(self) -> str:
        spec = (self.dist.canonical() if self.dist is not None else
                json.dumps([v.doc for v in self.grid], default=str))
        return f"{render_path(self.parts)}={spec}"

    def describe(self) -> str:
        return self.option.partition("=")[2].strip()


def parse_vary(option: str) -> Vary:
    """``PATH=SPEC`` -> Vary (its path not yet resolved); VaryError if malformed."""
    path_text, sep, spec = option.partition("=")
    if not sep:
        raise VaryError(option, "expected PATH=SPEC, e.g. vms.vm1.boot-delay=uniform(0s,20s)")
    path_text, spec = path_text.strip(), spec.strip()
    parts = parse_path(option, path_text)
    if not spec:
        raise VaryError(option, "empty SPEC after '='")
    if spec.startswith("["):
        raw = _yaml_flow(option, spec)
        if not isinstance(raw, list) or not raw:
            raise VaryError(option, f"SPEC '{spec}' is not a non-empty list")
        return Vary(option, path_text, parts, grid=tuple(literal_value(v) for v in raw))
    return Vary(option, path_text, parts, dist=parse_distribution(option, spec))


def _kebab(parts: tuple[Part, ...]) -> tuple[Part, ...]:
    return tuple(p.replace("_", "-") if isinstance(p, str) else p for p in parts)


def _matches_here(parts: tuple[Part, ...], node: Any) -> bool:
    """Whether ``parts`` can be followed from ``node``: every step present, but the last
    key of a mapping when there are at least two steps (it is then added)."""
    for position, part in enumerate(parts):
        if isinstance(part, str):
            if not isinstance(node, dict):
                return False
            if part not in node:
                return position == len(parts) - 1 and position > 0
            node = node[part]
        elif isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return False
            node = node[part]
        else:
            if not isinstance(node, list):
                return False
            named = [i for i in node if isinstance(i, dict) and str(i.get("name")) == part.name]
            if len(named) != 1:
                return False
            node = named[0]
    return True


def find_suffix(parts: tuple[Part, ...], doc: Any) -> list[tuple[Part, ...]]:
    """Every full path of ``doc`` (as parts, in document order) that ends with ``parts``."""
    found: list[tuple[Part, ...]] = []

    def walk(node: Any, prefix: tuple[Part, ...]) -> None:
        if _matches_here(parts, node):
            found.append(prefix + parts)
        if isinstance(node, dict):
            for key, child in node.items():
                if isinstance(child, dict | list):
                    walk(child, (*prefix, str(key)))
        elif isinstance(node, list):
            for index, child in enumerate(node):
                if isinstance(child, dict | list):
                    walk(child, (*prefix, index))

    if isinstance(doc, dict):
        for key, child in doc.items():
            if isinstance(child, dict | list):
                walk(child, (str(key),))
    return found


def _full_parts(vary: Vary, doc: Any) -> list[tuple[Part, ...]]:
    """The option's path as one or more full paths: as written when its first key is a
    top-level key of ``doc`` (or is not a key at all), else every place it is a suffix of."""
    parts = vary.parts
    if not parts or not isinstance(parts[0], str) or not isinstance(doc, dict):
        return [parts]
    if parts[0] in doc:
        return [parts]
    kebab = _kebab(parts)
    if kebab[0] in doc:
        return [kebab]
    for candidate in (kebab, parts):
        found = find_suffix(candidate, doc)
        if found:
            return found
    keys = ", ".join(str(k) for k in doc) or "none"
    raise VaryError(vary.option, f"'{vary.path_text}' is neither a path from the top (keys: "
                                 f"{keys}) nor the end of any path in the document")


def resolve(varies: list[Vary], doc: Any) -> list[Vary]:
    """Each option's path(s) resolved against ``doc``; two options may not name one value."""
    out: list[Vary] = []
    seen: dict[tuple[str | int, ...], str] = {}
    for vary in varies:
        paths = []
        for parts in _full_parts(vary, doc):
            try:
                path = resolve_path(vary.option, parts, doc)
            except VaryError:
                kebab = _kebab(parts)
                if kebab == parts:
                    raise
                path = resolve_path(vary.option, kebab, doc)
            if path in seen:
                raise VaryError(vary.option, f"names the same value as --vary '{seen[path]}'")
            for other, option in seen.items():
                shorter, longer = sorted((other, path), key=len)
                if longer[:len(shorter)] == shorter:
                    raise VaryError(vary.option, f"overlaps --vary '{option}' (one path is "
                                                 "inside the other)")
            seen[path] = vary.option
            paths.append(path)
        out.append(Vary(vary.option, vary.path_text, vary.parts, vary.grid, vary.dist,
                        tuple(paths)))
    return out


def combinations(varies: list[Vary]) -> list[tuple[Value, ...]]:
    """The grid: one tuple of values (one per list axis, in option order) per
    combination, the first axis varying slowest. No list axis: one empty combination."""
    axes = [v.grid for v in varies if v.is_grid]
    return [tuple(c) for c in itertools.product(*axes)]


def patched(doc: Any, assignments: list[tuple[tuple[str | int, ...], Any]]) -> Any:
    """``doc`` with each path set to its value: the containers on the way are copied,
    everything else is shared with ``doc`` (which is left untouched)."""
    root = copy.copy(doc)
    copied = {id(root)}
    for path, value in assignments:
        node = root
        for part in path[:-1]:
            child = node[part]
            if id(child) not in copied:
                child = copy.copy(child)
                copied.add(id(child))
                node[part] = child
            node = child
        node[path[-1]] = copy.deepcopy(value) if isinstance(value, dict | list) else value
    return root
