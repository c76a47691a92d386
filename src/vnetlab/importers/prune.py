"""Keep what the topology spec models, report the rest.

Real configuration carries many keys vnetlab does not model (``nmstatectl show``
lists every bridge timer, multicast knob and DHCP option). ``prune`` walks a value
against the pydantic annotation that will load it and drops the keys the spec does
not know; ``clean`` then validates, and drops every value the spec refuses (one
error at a time, since a removal can change the next error), so that a document
always loads as far as single settings go. Every drop is reported through a
callback with the key path and the reason; nothing is dropped silently.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union

from pydantic import BaseModel, TypeAdapter, ValidationError

# the alternative spellings the spec accepts (spec._alias)
KEY_ALIASES = {"port": ("ports", "slaves"), "ports": ("port",), "link_aggregation": ("bond",)}

Drop = Callable[[tuple[Any, ...], str], None]


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _members(annotation: Any) -> list[Any]:
    """The alternatives of a union (``X | None``, ``Union[A, B]``), else the annotation."""
    annotation = _strip(annotation)
    origin = typing.get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        return [_strip(a) for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _field_keys(model: type[BaseModel]) -> dict[str, Any]:
    """Every key a model accepts (field name, alias, spec alias) -> its annotation."""
    keys: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation: Any = info.annotation
        if info.metadata:
            annotation = typing.Annotated[(annotation, *info.metadata)]
        for key in (name, info.alias, name.replace("_", "-"), *KEY_ALIASES.get(name, ())):
            if key:
                keys[key] = annotation
    return keys


def _discriminated(models: list[Any], data: dict[Any, Any]) -> Any:
    """The member of a ``type``-discriminated union that ``data`` names, or None."""
    tag = data.get("type")
    for model in models:
        field = model.model_fields.get("type")
        if field is None:
            continue
        allowed = typing.get_args(_strip(field.annotation)) \
            if typing.get_origin(_strip(field.annotation)) is Literal else ()
        if tag in allowed:
            return model
    return None


def prune(value: Any, annotation: Any, path: tuple[Any, ...], drop: Drop) -> Any:
    """``value`` without the keys ``annotation`` does not accept (recursively); list
    items of a union type nobody accepts are removed. ``drop(path, why)`` hears each."""
    members = _members(annotation)
    models = [m for m in members if _is_model(m)]
    if isinstance(value, dict) and models:
        model = models[0] if len(models) == 1 else _discriminated(models, value)
        if model is None:
            return value            # validation reports the bad tag
        keys = _field_keys(model)
        out = {}
        for key, item in value.items():
            if key not in keys:
                drop((*path, key), "not modelled by vnetlab")
                continue
            out[key] = prune(item, keys[key], (*path, key), drop)
        return type(value)(out) if type(value) is not dict else out
    for member in members:
        origin = typing.get_origin(member)
        if origin is list and isinstance(value, list):
            (inner,) = typing.get_args(member) or (Any,)
            inner_models = [m for m in _members(inner) if _is_model(m)]
            kept = []
            for index, item in enumerate(value):
                if len(inner_models) > 1 and isinstance(item, dict) \
                        and _discriminated(inner_models, item) is None:
                    drop((*path, f"[{_label(item, index)}]"),
                         f"type {item.get('type')!r} is not modelled by vnetlab")
                    continue
                kept.append(prune(item, inner, (*path, f"[{_label(item, index)}]"), drop))
            return kept
        if origin is dict and isinstance(value, dict):
            args = typing.get_args(member)
            inner = args[1] if len(args) == 2 else Any
            return {k: prune(v, inner, (*path, k), drop) for k, v in value.items()}
    return value


def _label(item: Any, index: int) -> Any:
    return item["name"] if isinstance(item, dict) and isinstance(item.get("name"), str) \
        else index


def _locate(data: Any, loc: tuple[Any, ...]) -> list[tuple[Any, Any]]:
    """The (container, key) pairs along ``loc`` in ``data``; elements that are not keys
    (pydantic's union tags) are skipped."""
    chain: list[tuple[Any, Any]] = []
    node = data
    for element in loc:
        in_list = isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node)
        if in_list or (isinstance(node, dict) and element in node):
            chain.append((node, element))
            node = node[element]
    return chain


def _path_of(chain: list[tuple[Any, Any]]) -> tuple[Any, ...]:
    return tuple(f"[{_label(container[key], key)}]" if isinstance(container, list) else key
                 for container, key in chain)


def dotted(path: tuple[Any, ...]) -> str:
    """``('interfaces', '[br0]', 'bridge')`` -> ``interfaces[br0].bridge``."""
    text = ""
    for part in path:
        part = str(part)
        text += part if part.startswith("[") or not text else f".{part}"
    return text


def clean(data: Any, annotation: Any, drop: Drop, *, limit: int = 200) -> Any | None:
    """``prune``, then validate and drop each refused value until ``data`` validates
    against ``annotation``; None when the value as a whole is refused."""
    data = prune(data, annotation, (), drop)
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    for _ in range(limit):
        try:
            adapter.validate_python(data)
            return data
        except ValidationError as exc:
            error = exc.errors()[0]
        loc = tuple(error["loc"])
        chain = _locate(data, loc)
        why = str(error.get("ctx", {}).get("error", error["msg"]))
        if error["type"] == "missing":       # the object that lacks the key goes
            why = f"missing required key '{loc[-1]}'"
            if not chain:
                drop((), why)
                return None
            container, key = chain[-1]
            drop(_path_of(chain), why)
            del container[key]
            continue
        if not chain:
            drop((), why)
            return None
        container, key = chain[-1]
        drop(_path_of(chain), f"{why} (got {error.get('input')!r})")
        del container[key]
    return None
