"""Domain values as JSON-ready data: the one encoding rule of results, without the protocol stack.

Every dataclass field, camelCased, always present (``null`` when there is no value). The sidecar
sends results in this form (:mod:`pluginary.server.wire` re-exports it), and the ``pluginary``
command prints the same form for ``--json`` without importing the server's dependencies.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from pluginary.fsnames import display, exact_bytes
from pluginary.models import PluginRecord, PluginSummary

# Result fields holding a path a host may open: sent as text (``display``) plus ``<name>Bytes``,
# the exact bytes in base64 when the path is not UTF-8, else null. See protocol/README.md.
EXACT_PATHS: dict[type[Any], tuple[str, ...]] = {PluginSummary: ("path",), PluginRecord: ("path",)}


def camel(name: str) -> str:
    """``timed_out`` -> ``timedOut``."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def to_wire(value: Any) -> Any:
    """Encode a domain value as JSON-ready data: dataclasses become camelCase objects."""
    kind = type(value)
    if kind is str:
        # Text is sent as valid Unicode, always: many JSON parsers refuse a lone surrogate (a
        # byte of a file name that is not UTF-8), and would lose the whole message over it.
        return value if value.isascii() else display(value)
    if kind in _AS_IS:
        return value
    if kind is float:
        return value if math.isfinite(value) else None  # JSON has no NaN; plugins report them.
    if hasattr(kind, "__dataclass_fields__"):
        return _encode_dataclass(value, kind)
    if isinstance(value, list | tuple):
        return [to_wire(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): to_wire(item) for key, item in value.items()}
    if isinstance(value, PurePath):
        return display(str(value))
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


# Encoded as they are: a page of results is mostly these, so they skip every other test.
_AS_IS = frozenset({int, bool, type(None)})


class _Shape:
    """How one dataclass is encoded, worked out once per class: a page of 1,000 plugins is
    15,000 field values, most of them plain, so they are read in one call and tested inline."""

    def __init__(self, cls: type[Any]) -> None:
        names = [f.name for f in dataclasses.fields(cls)]
        self.wire_names = tuple(camel(name) for name in names)
        self.values = operator.attrgetter(*names) if len(names) > 1 else _one(names[0])
        self.exact = tuple((name, f"{camel(name)}Bytes") for name in EXACT_PATHS.get(cls, ()))


def _one(name: str) -> Any:
    getter = operator.attrgetter(name)
    return lambda value: (getter(value),)


_SHAPES: dict[type[Any], _Shape] = {}


def _encode_dataclass(value: Any, kind: type[Any]) -> dict[str, Any]:
    shape = _SHAPES.get(kind)
    if shape is None:
        shape = _SHAPES[kind] = _Shape(kind)
    encoded = {}
    for wire_name, item in zip(shape.wire_names, shape.values(value), strict=True):
        plain = type(item) in _AS_IS or (type(item) is str and item.isascii())
        encoded[wire_name] = item if plain else to_wire(item)
    for name, wire_name in shape.exact:
        encoded[wire_name] = exact_bytes(getattr(value, name))
    return encoded
