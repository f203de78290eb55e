"""Domain values as JSON-ready data: the one encoding rule of results, without the protocol stack.

Every dataclass field, camelCased, always present (``null`` when there is no value). The sidecar
sends results in this form (:mod:`pluginary.server.wire` re-exports it), and the ``pluginary``
command prints the same form for ``--json`` without importing the server's dependencies.
"""

from __future__ import annotations

import dataclasses
import math
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
    names = _wire_names(kind) if hasattr(kind, "__dataclass_fields__") else None
    if names is not None:
        encoded = {wire_name: to_wire(getattr(value, name)) for name, wire_name in names}
        for name in EXACT_PATHS.get(kind, ()):
            encoded[f"{camel(name)}Bytes"] = exact_bytes(getattr(value, name))
        return encoded
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


_WIRE_NAMES: dict[type[Any], tuple[tuple[str, str], ...]] = {}


def _wire_names(cls: type[Any]) -> tuple[tuple[str, str], ...]:
    """A dataclass's (field name, wire name) pairs, worked out once per class."""
    names = _WIRE_NAMES.get(cls)
    if names is None:
        names = _WIRE_NAMES[cls] = tuple((f.name, camel(f.name)) for f in dataclasses.fields(cls))
    return names
