"""YAML text -> TopologySpec, with every error located.

YAML is parsed by ruamel.yaml in YAML 1.2 mode, so an unquoted MAC stays a
string (a YAML 1.1 loader reads ``52:54:00:12:34:01`` as a base-60 number).
Each error carries file:line:column and a key path in which list items with
a ``name`` are written by name: ``hosts.kvm1.interfaces[team1].team.runner.name``.
Type errors (pydantic) and reference errors (a port that does not exist, a
duplicate MAC, ...) are collected and reported together.

Untrusted input: files over ``MAX_BYTES`` are refused, and alias expansion is
bounded (a "billion laughs" document fails fast instead of exhausting memory).
"""

from __future__ import annotations

import io
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from vnetlab.errors import Source, SpecError, TopologyError
from vnetlab.topology.spec import TopologySpec

MAX_BYTES = 16 * 1024 * 1024
MAX_NODES = 2_000_000

# What the user is told an enum or literal is, by the key that holds it.
NOUNS = {"type": "an interface type", "mode": "a bond mode", "hash": "a LAG hash",
         "result": "an expected result", "state": "an interface state",
         "hwaddr-policy": "a hwaddr policy", "client": "a DHCP client"}


# Alternative spellings the spec accepts (spec._alias): errors follow them back.
KEY_ALIASES = {"port": ("ports", "slaves"), "ports": ("port",), "link-aggregation": ("bond",)}


def _raw_key(node: dict[Any, Any], key: Any) -> Any:
    """The key as written in the file: itself, its kebab-case form, or an alias."""
    if key in node or not isinstance(key, str):
        return key
    kebab = key.replace("_", "-")
    for candidate in (kebab, *KEY_ALIASES.get(kebab, ())):
        if candidate in node:
            return candidate
    return key


class Locator:
    """Maps raw key paths to positions in the YAML text and renders them."""

    def __init__(self, file: str, root: Any) -> None:
        self.file = file
        self.root = root

    def walk(self, path: tuple[Any, ...]) -> tuple[list[Any], list[str]]:
        """Follow ``path`` through the raw data: the nodes visited and the
        rendered path parts. Elements that are not keys of the data (pydantic's
        union tags) are skipped."""
        node = self.root
        nodes = [node]
        parts: list[str] = []
        for element in path:
            if isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node):
                item = node[element]
                name = item.get("name") if isinstance(item, dict) else None
                parts.append(f"[{name}]" if isinstance(name, str) else f"[{element}]")
                node = item
            elif isinstance(node, dict) and _raw_key(node, element) in node:
                key = _raw_key(node, element)
                parts.append(f".{key}" if parts else str(key))
                node = node[key]
            else:
                continue
            nodes.append(node)
        return nodes, parts

    def position(self, path: tuple[Any, ...], *, at_key: bool = False) -> tuple[int, int]:
        """1-based line and column of the value at ``path`` (of its key with
        ``at_key``); the nearest enclosing node when the path runs out."""
        node = self.root
        best = (0, 0)
        for element in path:
            try:
                if isinstance(node, CommentedSeq) and isinstance(element, int) \
                        and 0 <= element < len(node):
                    line, col = node.lc.item(element)
                    best = (line + 1, col + 1)
                    node = node[element]
                    continue
                key = _raw_key(node, element) if isinstance(node, CommentedMap) else element
                if isinstance(node, CommentedMap) and key in node:
                    line, col = node.lc.key(key) if at_key else node.lc.value(key)
                    best = (line + 1, col + 1)
                    node = node[key]
                    continue
            except KeyError:
                break       # a value added after parsing (a sweep's --vary): no position
            if isinstance(node, CommentedMap | CommentedSeq) and best == (0, 0):
                best = (node.lc.line + 1, node.lc.col + 1)
        return best

    def render(self, path: tuple[Any, ...]) -> str:
        return "".join(self.walk(path)[1])

    def source(self, path: tuple[Any, ...]) -> Source:
        line, col = self.position(path)
        return Source(self.file, line, col, self.render(path))

    def error(self, path: tuple[Any, ...], message: str, *, at_key: bool = False) -> SpecError:
        line, col = self.position(path, at_key=at_key)
        return SpecError(self.file, line, col, self.render(path), message)


def _count_nodes(data: Any) -> int:
    """Nodes in the tree with aliases expanded, stopping past the limit."""
    count = 0
    stack = [data]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_NODES:
            break
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return count


def plain(data: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists (picklable, for
    worker processes: the matrix and sweeps)."""
    if isinstance(data, dict):
        return {str(k): plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [plain(v) for v in data]
    return data


def parse_yaml(path: str) -> Any:
    """Read and parse; TopologyError (with position) on any failure."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise TopologyError([SpecError(path, 0, 0, "", f"cannot read: {exc.strerror}")]) from None
    if len(raw) > MAX_BYTES:
        raise TopologyError([SpecError(path, 0, 0, "", f"file is larger than {MAX_BYTES} bytes")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TopologyError([SpecError(path, 0, 0, "", f"not UTF-8 text: {exc}")]) from None
    return parse_yaml_text(text, path)


def parse_yaml_text(text: str, file: str) -> Any:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        data = yaml.load(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        problem = problem.split("\n")[0]
        raise TopologyError([SpecError(file, line, col, "", f"YAML syntax: {problem}")]) from None
    except YAMLError as exc:
        first = str(exc).strip().splitlines()
        raise TopologyError([SpecError(file, 0, 0, "", f"YAML: {first[0] if first else exc}")]
                            ) from None
    if _count_nodes(data) > MAX_NODES:
        raise TopologyError([SpecError(file, 0, 0, "", f"more than {MAX_NODES} nodes once "
                                       "aliases are expanded")])
    return data


def _message(error: dict[str, Any], locator: Locator) -> tuple[str, bool]:
    """A sentence for one pydantic error; True if it points at a key, not a value."""
    kind = error["type"]
    loc = error["loc"]
    value = error.get("input")
    key = str(loc[-1]).replace("_", "-") if loc else ""
    if kind == "extra_forbidden":
        return f"unknown key '{key}'", True
    if kind == "missing":
        return f"missing required key '{key}'", False
    if kind in ("literal_error", "enum"):
        expected = error.get("ctx", {}).get("expected", "")
        noun = "a team runner" if key == "name" and "runner" in loc else \
            NOUNS.get(key, f"a valid {key}")
        return f"{value!r} is not {noun} (expected one of: {expected.replace(' or ', ', ')})", \
            False
    if kind == "union_tag_invalid":
        expected = error.get("ctx", {}).get("expected_tags", "")
        tag = error.get("ctx", {}).get("tag", value)
        return f"'{tag}' is not an interface type (expected one of: {expected})", False
    if kind == "union_tag_not_found":
        return "missing required key 'type'", False
    if kind == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"])), False
    if kind == "bool_parsing" or kind == "bool_type":
        return f"{value!r} is not a boolean (true or false)", False
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{value!r} is not an integer", False
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping, got {type(value).__name__} {value!r}", False
    if kind == "list_type":
        return f"expected a list, got {type(value).__name__} {value!r}", False
    if kind == "string_type":
        return f"expected a string, got {type(value).__name__} {value!r}", False
    return f"{error['msg']} (got {value!r})", False


def load_topology_data(data: Any, file: str = "<data>") -> TopologySpec:
    """Validate already-parsed data (a dict); TopologyError with every problem."""
    locator = Locator(file, data)
    if not isinstance(data, dict):
        raise TopologyError([SpecError(file, 1, 1, "", "the file must be a mapping "
                                       "(name:, hosts:, vms:, switches:, links:, ...)")])
    from vnetlab.topology.check import check_references

    try:
        spec = TopologySpec.model_validate(data)
    except ValidationError as exc:
        errors = []
        for error in exc.errors():
            message, at_key = _message(dict(error), locator)
            loc = tuple(error["loc"])
            if error["type"] == "union_tag_invalid":
                loc = (*loc, "type")           # point at the bad tag, not the whole item
            errors.append(locator.error(loc, message, at_key=at_key))
        partial, tainted = _valid_part(data)
        if partial is not None:                # reference errors too, all at once
            errors += check_references(partial, locator, tainted)[0]
        raise TopologyError(_sorted(errors)) from None
    problems, notes = check_references(spec, locator)
    if problems:
        raise TopologyError(_sorted(problems))
    spec._locator = locator
    spec._notes.extend(notes)
    return spec


NODE_SECTIONS = ("hosts", "vms", "switches", "routers")
LIST_SECTIONS = ("links", "run", "expect")


def _valid_part(data: dict[str, Any]) -> tuple[TopologySpec | None, set[str]]:
    """The entries of a file that are valid on their own, and the names of the
    nodes that are not (references to those are not reported as dangling).
    A list section with an invalid item is left out whole, so that the
    indexes in error paths stay those of the file."""
    keep: dict[str, Any] = {}
    tainted: set[str] = set()
    for key, value in data.items():
        if key in NODE_SECTIONS and isinstance(value, dict):
            good = {}
            for name, item in value.items():
                try:
                    TopologySpec.model_validate({key: {name: item}})
                    good[name] = item
                except ValidationError:
                    tainted.add(str(name))
            keep[key] = good
        elif key in LIST_SECTIONS:
            try:
                TopologySpec.model_validate({key: value})
                keep[key] = value
            except ValidationError:
                tainted.add(f"<{key}>")
    try:
        return TopologySpec.model_validate(keep), tainted
    except ValidationError:
        return None, tainted


def _sorted(errors: list[SpecError]) -> list[SpecError]:
    unique = list(dict.fromkeys(errors))
    return sorted(unique, key=lambda e: (e.line, e.column, e.path, e.message))


def load_topology(path: str) -> TopologySpec:
    return load_topology_data(parse_yaml(path), path)


def locator_for(spec: TopologySpec) -> Locator:
    locator = spec.locator
    return locator if isinstance(locator, Locator) else Locator("<data>", {})
